//! Search over real messages, with the expected hits computed independently by Python.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::{Env, cpython_email_data, mail_parser_resources};

fn ids(v: &serde_json::Value) -> BTreeSet<String> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn subject_words_match_what_python_finds() {
    let env = Env::new();
    env.import(&[
        "eml",
        cpython_email_data().to_str().unwrap(),
        "--user",
        "alice",
        "--extensions",
        "txt,eml",
        "--folder",
        "py",
    ]);
    env.import(&[
        "eml",
        mail_parser_resources()
            .join("eml/thirdparty")
            .to_str()
            .unwrap(),
        "--user",
        "alice",
        "--folder",
        "mp",
    ]);
    let dir = env.path("msgs");
    std::fs::create_dir_all(&dir).unwrap();
    for (_, msgs) in env.contents("alice") {
        for (id, bytes) in msgs {
            std::fs::write(dir.join(id.replace(':', "_")), bytes).unwrap();
        }
    }
    // Python's email package decodes each subject; its words (letters and digits) are the oracle.
    let script = r#"
import sys, os, json, re, email, email.policy, collections
d = sys.argv[1]
words = collections.defaultdict(set)
for f in os.listdir(d):
    try:
        s = email.message_from_bytes(open(os.path.join(d, f), 'rb').read(), policy=email.policy.default)['subject']
    except Exception:
        continue
    if s is None:
        continue
    for w in set(re.findall(r'[a-z0-9]+', str(s).lower())):
        if len(w) >= 3 and w.isascii():
            words[w].add(f.replace('_', ':'))
common = sorted(words, key=lambda w: (-len(words[w]), w))[:25]
print(json.dumps({w: sorted(words[w]) for w in common}))
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&dir)
        .output()
        .expect("python3");
    let expected: BTreeMap<String, Vec<String>> =
        serde_json::from_slice(&out.stdout).expect("python output");
    assert!(expected.len() >= 20);
    let mut exact = 0;
    for (word, want) in &expected {
        let got = ids(&env.json(&[
            "search",
            &format!("subject:{word}"),
            "--json",
            "--limit",
            "1000",
        ]));
        let want: BTreeSet<String> = want.iter().cloned().collect();
        // Python and mail-parser decode a few malformed subjects differently; the rest agree exactly.
        let diff = got.symmetric_difference(&want).count();
        assert!(
            diff * 10 <= want.len().max(10),
            "subject:{word}: arkiv {got:?} python {want:?}"
        );
        if diff == 0 {
            exact += 1;
        }
    }
    assert!(
        exact * 10 >= expected.len() * 9,
        "{exact}/{} words match exactly",
        expected.len()
    );
}

#[test]
fn a_user_never_sees_another_users_mail() {
    let env = Env::new();
    env.ok(&["user", "add", "bob"]);
    let a = env.path("a.eml");
    let b = env.path("b.eml");
    std::fs::write(
        &a,
        b"Subject: quarterly figures for alice\n\nsecret numbers\n",
    )
    .unwrap();
    std::fs::write(&b, b"Subject: quarterly figures for bob\n\nother numbers\n").unwrap();
    env.import(&["eml", a.to_str().unwrap(), "--user", "alice"]);
    env.import(&["eml", b.to_str().unwrap(), "--user", "bob"]);
    let all = env.json(&["search", "quarterly", "--json"]);
    assert_eq!(all["total"], 2, "the local operator sees every archive");
    let bob = env.json(&["search", "quarterly", "--json", "--user", "bob"]);
    assert_eq!(bob["total"], 1);
    assert_eq!(bob["hits"][0]["archive"], "bob");
    assert_eq!(
        bob["hits"][0]["highlights"]["subject"],
        serde_json::json!([[0, 9]]),
        "'quarterly' is marked"
    );
    let bob_secret = env.json(&["search", "secret", "--json", "--user", "bob"]);
    assert_eq!(bob_secret["total"], 0);
    let sneaky = env.json(&[
        "search",
        "quarterly",
        "--json",
        "--user",
        "bob",
        "--folder",
        "alice",
    ]);
    assert_eq!(
        sneaky["total"], 0,
        "a folder outside the user's archive yields nothing"
    );
    let out = env.run(&["search", "x", "--user", "mallory"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("user 'mallory' does not exist"));
}

#[test]
fn unindexed_messages_are_found_after_a_crash_or_no_wait() {
    let env = Env::new();
    let corpus = env.path("corpus");
    let spec = arkiv_corpus::CorpusSpec {
        messages: 400,
        seed: 3,
        users: 1,
        duplicate_ratio: 0.0,
        profile: arkiv_corpus::Profile::TextOnly,
    };
    arkiv_corpus::write_mbox_tree(&spec, &corpus).unwrap();
    let r = env.import(&[
        "mbox",
        corpus.to_str().unwrap(),
        "--user",
        "alice",
        "--no-wait",
    ]);
    assert_eq!(r["indexed"], 0);
    // The next search indexes what the import left and finds everything.
    let everything = env.json(&["search", "--json", "--limit", "1", "--", "-zzzqqqxxx"]);
    assert_eq!(everything["total"], r["archived"]);
    // A crash in the middle of an import: whatever is archived is searchable afterwards.
    let env = Env::new();
    let corpus = env.path("bigger");
    let spec = arkiv_corpus::CorpusSpec {
        messages: 4000,
        seed: 4,
        users: 1,
        duplicate_ratio: 0.0,
        profile: arkiv_corpus::Profile::TextOnly,
    };
    arkiv_corpus::write_mbox_tree(&spec, &corpus).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_arkiv"))
        .arg("--data")
        .arg(env.data())
        .args([
            "import",
            "mbox",
            corpus.to_str().unwrap(),
            "--user",
            "alice",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    child.kill().unwrap();
    child.wait().unwrap();
    let listed: usize = env
        .json(&["ls", "alice", "--recursive", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["messages"].as_array().unwrap().len())
        .sum();
    let found = env.json(&["search", "--json", "--limit", "1", "--", "-zzzqqqxxx"]);
    assert_eq!(found["total"].as_u64().unwrap() as usize, listed);
}

#[test]
fn malformed_queries_are_clear_errors() {
    let env = Env::new();
    for (q, msg) in [
        ("\"open", "never closed"),
        ("?x", "first or last"),
        ("nofield:x", "unknown field"),
        ("(a", "never closed"),
    ] {
        let out = env.run(&["search", q]);
        assert_eq!(out.status.code(), Some(1), "{q}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("character") && err.contains(msg), "{q}: {err}");
    }
    let long = "x".repeat(5000);
    let out = env.run(&["search", &long]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most"));
}

#[test]
fn write_protected_stores_are_indexed_too() {
    let env = Env::new();
    let f = env.path("m.eml");
    std::fs::write(&f, b"Subject: protected words\n\nbody\n").unwrap();
    env.import(&["eml", f.to_str().unwrap(), "--user", "alice", "--no-wait"]);
    env.ok(&["store", "set-status", "1", "writeProtected"]);
    assert_eq!(env.json(&["search", "protected", "--json"])["total"], 1);
    env.ok(&["reindex"]);
    assert_eq!(env.json(&["search", "subject:words", "--json"])["total"], 1);
}

#[test]
fn saved_searches_are_kept_per_user() {
    let env = Env::new();
    env.ok(&["user", "add", "bob"]);
    let f = env.path("m.eml");
    std::fs::write(&f, b"Subject: project zephyr kickoff\n\nagenda\n").unwrap();
    env.import(&["eml", f.to_str().unwrap(), "--user", "alice"]);
    env.ok(&[
        "search",
        "zephyr",
        "--user",
        "alice",
        "--save",
        "Zephyr mail",
    ]);
    let list = env.json(&["saved", "list", "--user", "alice", "--json"]);
    assert_eq!(list[0]["name"], "Zephyr mail");
    assert_eq!(list[0]["criteria"]["text"], "zephyr");
    assert_eq!(
        env.json(&["saved", "list", "--user", "bob", "--json"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let run = env.json(&["saved", "run", "Zephyr mail", "--user", "alice", "--json"]);
    assert_eq!(run["total"], 1);
    env.ok(&[
        "saved",
        "rename",
        "Zephyr mail",
        "Project Z",
        "--user",
        "alice",
    ]);
    assert_eq!(
        env.json(&["saved", "run", "Project Z", "--user", "alice", "--json"])["total"],
        1
    );
    let missing = env.run(&["saved", "run", "Zephyr mail", "--user", "alice"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("is not a saved search"));
    let bad = env.run(&["search", "\"open", "--save", "broken"]);
    assert_eq!(bad.status.code(), Some(1));
    env.ok(&["saved", "delete", "Project Z", "--user", "alice"]);
    assert_eq!(
        env.json(&["saved", "list", "--user", "alice", "--json"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
