//! Search over real messages, with the expected hits computed independently by Python.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::{Env, cpython_email_data, mail_parser_resources, sorted_subjects};

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
    let sneaky = env.run(&[
        "search",
        "quarterly",
        "--json",
        "--user",
        "bob",
        "--folder",
        "alice",
    ]);
    assert_eq!(sneaky.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&sneaky.stderr).contains("folder 'alice' does not exist"),
        "a folder outside the user's archive answers as one that does not exist"
    );
    assert!(sneaky.stdout.is_empty());
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

/// The advanced search form (manual §3.2) as `arkiv search` options, on messages built by
/// Python's `email` package.
#[test]
fn advanced_search_criteria() {
    let env = Env::new();
    let dir = env.path("adv");
    std::fs::create_dir_all(&dir).unwrap();
    let script = r#"
import sys, os, email.message
def msg(n, frm, to, subj, date, body, cc=None, prio=None, att=None):
    m = email.message.EmailMessage()
    m['From'] = frm; m['To'] = to; m['Subject'] = subj; m['Date'] = date
    if cc: m['Cc'] = cc
    for k, v in (prio or {}).items(): m[k] = v
    m.set_content(body)
    if att: m.add_attachment(att[1], maintype='application', subtype='octet-stream', filename=att[0])
    open(os.path.join(sys.argv[1], n + '.eml'), 'wb').write(bytes(m))
msg('1', 'Billing <billing@example.com>', 'alice@example.com', 'Invoice March', 'Tue, 05 Mar 2024 10:00:00 +0000',
    'please pay', prio={'X-Priority': '1 (Highest)'}, att=('invoice.pdf', os.urandom(6000)))
msg('2', 'bob@example.org', 'alice@example.com', 'Lunch', 'Wed, 10 Jul 2024 12:00:00 +0000',
    'the invoice came up at lunch', cc='carol@example.net')
msg('3', 'carol@example.net', 'alice@example.com', 'Report', 'Thu, 02 Jan 2025 09:00:00 +0000',
    'see the report', prio={'Importance': 'low'}, att=('report.txt', b'quarterly totals'))
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&dir)
        .output()
        .expect("python3 is needed: apt-get install -y python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.import(&[
        "eml",
        dir.to_str().unwrap(),
        "--user",
        "alice",
        "--folder",
        "Inbox",
    ]);
    let subjects = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["search", "--json"];
        a.extend_from_slice(args);
        sorted_subjects(&env.json(&a))
    };
    assert_eq!(subjects(&["invoice"]), ["Invoice March", "Lunch"]);
    assert_eq!(subjects(&["--in", "subject", "invoice"]), ["Invoice March"]);
    assert_eq!(subjects(&["--in", "body", "invoice"]), ["Lunch"]);
    assert_eq!(
        subjects(&["--in", "filenames", "invoice"]),
        ["Invoice March"]
    );
    assert_eq!(
        subjects(&["--in", "subject,body", "invoice"]),
        ["Invoice March", "Lunch"]
    );
    assert_eq!(
        subjects(&["--from", "billing@example.com"]),
        ["Invoice March"]
    );
    assert_eq!(subjects(&["--from", "example.net"]), ["Report"]);
    assert_eq!(
        subjects(&["--to", "carol"]),
        ["Lunch"],
        "Cc counts as To/Cc/Bcc"
    );
    assert_eq!(
        subjects(&["--date-from", "2024-06-01", "--date-to", "2024-12-31"]),
        ["Lunch"]
    );
    assert_eq!(
        subjects(&["--date-to", "2024-03"]),
        ["Invoice March"],
        "the end day is included"
    );
    assert_eq!(subjects(&["--date-from", "2025"]), ["Report"]);
    assert_eq!(subjects(&["--archived-from", "2000-01-01"]).len(), 3);
    assert!(subjects(&["--archived-to", "2000-01-01"]).is_empty());
    assert_eq!(
        subjects(&["--with-attachments"]),
        ["Invoice March", "Report"]
    );
    assert_eq!(subjects(&["--without-attachments"]), ["Lunch"]);
    assert_eq!(subjects(&["--priority", "high"]), ["Invoice March"]);
    assert_eq!(subjects(&["--priority", "low,normal"]), ["Lunch", "Report"]);
    assert_eq!(subjects(&["--min-size", "5K"]), ["Invoice March"]);
    assert_eq!(subjects(&["--max-size", "5K"]), ["Lunch", "Report"]);
    assert_eq!(
        subjects(&["--store", "1", "--without-attachments"]),
        ["Lunch"]
    );
    assert!(subjects(&["--store", "2"]).is_empty());
    assert_eq!(
        subjects(&["--folder", "alice/Inbox"]).len(),
        3,
        "a folder alone lists it"
    );
    assert_eq!(
        subjects(&[
            "report",
            "--from",
            "carol",
            "--with-attachments",
            "--priority",
            "low"
        ]),
        ["Report"]
    );
    // Saved with its criteria, run again the same.
    env.ok(&[
        "search", "--from", "billing", "--user", "alice", "--save", "bills",
    ]);
    let run = env.json(&["saved", "run", "bills", "--user", "alice", "--json"]);
    assert_eq!(run["total"], 1);
    assert_eq!(run["hits"][0]["subject"], "Invoice March");
    // Bad values: a clear error naming the field, exit 1.
    for (args, field) in [
        (&["--date-from", "yesterday"][..], "date from"),
        (&["--priority", "urgent"][..], "priority"),
        (&["--min-size", "big"][..], "minimum size"),
        (&["--in", "subject", "--from", "x"][..], "search in"),
    ] {
        let mut a = vec!["search"];
        a.extend_from_slice(args);
        let out = env.run(&a);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(field), "{args:?}: {err}");
    }
    let out = env.run(&["search"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no query and no criteria: usage error"
    );
}

/// Commands that only read open the databases read-only: they change no byte of them.
#[test]
fn reading_commands_write_nothing() {
    let env = Env::new();
    let f = env.path("m.eml");
    std::fs::write(&f, b"Subject: quiet reading\nFrom: a@example.com\n\nbody\n").unwrap();
    env.import(&["eml", f.to_str().unwrap(), "--user", "alice", "--no-wait"]);
    // The first search indexes what --no-wait left (a writable open), then searches read-only.
    assert_eq!(env.json(&["search", "--json", "quiet"])["total"], 1);
    let snapshot = || -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let mut v = Vec::new();
        let mut dirs = vec![env.data()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    if !p.ends_with("index") {
                        dirs.push(p);
                    }
                } else if p.extension().is_some_and(|x| x == "redb" || x == "pack") {
                    v.push((p.clone(), std::fs::read(&p).unwrap()));
                }
            }
        }
        v.sort();
        v
    };
    let before = snapshot();
    assert!(before.len() >= 3, "master, store and a pack");
    env.ok(&["search", "quiet"]);
    env.ok(&["search", "--from", "a@example.com"]);
    env.ok(&["ls", "alice", "--recursive"]);
    env.ok(&["cat", "1:1"]);
    env.ok(&["stats"]);
    env.ok(&["verify"]);
    env.ok(&["indexes"]);
    assert!(
        before == snapshot(),
        "a reading command changed a database or pack"
    );
}
