//! Real messages written by others come back byte for byte.

use std::collections::BTreeMap;
use std::io::Write;

use crate::support::{Env, cpython_email_data, distinct, files_by_folder, mail_parser_resources};

fn assert_same(env: &Env, archive: &str, expected: BTreeMap<String, Vec<Vec<u8>>>) -> usize {
    let got = env.contents(archive);
    let mut n = 0;
    for (folder, want) in expected {
        let have = got.get(&folder).unwrap_or_else(|| {
            panic!(
                "folder '{folder}' missing; have {:?}",
                got.keys().collect::<Vec<_>>()
            )
        });
        let have: Vec<Vec<u8>> = distinct(have.iter().map(|(_, b)| b.clone()).collect());
        let want = distinct(want);
        assert_eq!(have.len(), want.len(), "message count in '{folder}'");
        for (h, w) in have.iter().zip(&want) {
            assert!(
                h == w,
                "a message in '{folder}' differs from its source file"
            );
        }
        n += want.len();
    }
    n
}

#[test]
fn cpython_email_test_messages_come_back_byte_for_byte() {
    let env = Env::new();
    let dir = cpython_email_data();
    let report = env.import(&[
        "eml",
        dir.to_str().unwrap(),
        "--user",
        "alice",
        "--extensions",
        "txt,eml",
        "--folder",
        "cpython",
    ]);
    let files = files_by_folder(&dir, &["txt", "eml"]);
    let expected: BTreeMap<_, _> = files
        .into_iter()
        .map(|(k, v)| {
            (
                if k.is_empty() {
                    "cpython".to_string()
                } else {
                    format!("cpython/{k}")
                },
                v,
            )
        })
        .collect();
    let n = assert_same(&env, "alice", expected);
    assert!(n >= 40, "expected the ~47 CPython messages, got {n}");
    assert_eq!(report["failed"].as_array().unwrap().len(), 0, "{report}");
    let v = env.run(&["verify"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn mail_parser_corpus_comes_back_byte_for_byte() {
    let env = Env::new();
    let res = mail_parser_resources();
    let eml = res.join("eml");
    env.import(&[
        "eml",
        eml.to_str().unwrap(),
        "--user",
        "alice",
        "--folder",
        "mp",
    ]);
    let expected: BTreeMap<_, _> = files_by_folder(&eml, &["eml"])
        .into_iter()
        .map(|(k, v)| (format!("mp/{k}"), v))
        .collect();
    let n = assert_same(&env, "alice", expected);
    assert!(n >= 90, "mail-parser ships ~100+ messages, got {n}");

    let md = res.join("maildir");
    env.import(&[
        "maildir",
        md.to_str().unwrap(),
        "--user",
        "alice",
        "--folder",
        "md",
    ]);
    let read_dir = |d: &std::path::Path| -> Vec<Vec<u8>> {
        ["cur", "new"]
            .iter()
            .filter_map(|s| std::fs::read_dir(d.join(s)).ok())
            .flatten()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect()
    };
    let mut expected = BTreeMap::new();
    expected.insert("md".to_string(), read_dir(&md));
    expected.insert("md/My Folder".to_string(), read_dir(&md.join(".My Folder")));
    expected.insert(
        "md/My Folder/Nested Folder".to_string(),
        read_dir(&md.join(".My Folder.Nested Folder")),
    );
    assert_same(&env, "alice", expected);
    assert!(env.run(&["verify"]).status.success());
}

#[test]
fn decoded_subjects_agree_with_pythons_email_package() {
    // Subjects are computed independently by CPython's `email` package (policy=default).
    let env = Env::new();
    let res = mail_parser_resources().join("eml");
    env.import(&[
        "eml",
        res.to_str().unwrap(),
        "--user",
        "alice",
        "--folder",
        "mp",
    ]);
    let listing = env.json(&["ls", "alice/mp", "--recursive", "--json"]);
    let msgs: Vec<&serde_json::Value> = listing
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["folder"].as_str().unwrap().contains("malformed"))
        .flat_map(|f| f["messages"].as_array().unwrap())
        .collect();
    assert!(msgs.len() > 50, "{}", msgs.len());
    let tmp = env.path("subjects");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut ours = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let bytes = env.ok(&["cat", m["id"].as_str().unwrap()]);
        std::fs::File::create(tmp.join(format!("{i:04}.eml")))
            .unwrap()
            .write_all(&bytes)
            .unwrap();
        ours.push(m["subject"].as_str().unwrap().to_string());
    }
    let script = r#"
import sys, os, json, email, email.policy
d = sys.argv[1]
out = []
for f in sorted(os.listdir(d)):
    b = open(os.path.join(d, f), 'rb').read()
    try:
        s = email.message_from_bytes(b, policy=email.policy.default)['subject']
        out.append(' '.join(str(s).split()) if s is not None else '')
    except Exception:
        out.append(None)
print(json.dumps(out))
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&tmp)
        .output()
        .expect("python3");
    let theirs: Vec<Option<String>> = serde_json::from_slice(&out.stdout).expect("python output");
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut agree = 0;
    let mut differ = Vec::new();
    for (o, t) in ours.iter().zip(&theirs) {
        match t {
            Some(t) if norm(o) == norm(t) => agree += 1,
            Some(t) => differ.push(format!("ours {o:?} python {t:?}")),
            None => agree += 1,
        }
    }
    assert!(
        agree * 100 >= ours.len() * 90,
        "{agree}/{} subjects agree; differences:\n{}",
        ours.len(),
        differ.join("\n")
    );
}
