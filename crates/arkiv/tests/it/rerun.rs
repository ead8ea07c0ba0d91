//! Re-runs are safe: nothing new is archived twice; moves in the source are reproduced.

use std::fs;

use crate::support::Env;

fn maildir(root: &std::path::Path, folders: &[&str]) {
    for f in folders {
        for s in ["cur", "new", "tmp"] {
            fs::create_dir_all(root.join(f).join(s)).unwrap();
        }
    }
}

#[test]
fn rerun_archives_nothing_new_and_follows_moves() {
    let env = Env::new();
    let md = env.path("Maildir");
    maildir(&md, &["", ".Archive", ".Projects"]);
    let sync = || {
        env.import(&[
            "maildir",
            md.to_str().unwrap(),
            "--user",
            "alice",
            "--folder",
            "Server",
        ])
    };
    let msg = |i: usize| {
        format!("From: x@example.com\nSubject: message {i}\nMessage-ID: <{i}@x>\n\nbody {i}\n")
            .into_bytes()
    };
    for i in 0..5 {
        fs::write(md.join(format!("cur/{i}.host:2,S")), msg(i)).unwrap();
    }
    fs::write(md.join(".Projects/cur/p.host:2,S"), msg(9)).unwrap();
    let r = sync();
    assert_eq!(r["archived"], 6);
    let r = sync();
    assert_eq!(
        (r["archived"].as_u64(), r["already_archived"].as_u64()),
        (Some(0), Some(6)),
        "{r}"
    );

    // Move message 0 into Archive, copy message 1 into Projects.
    fs::rename(
        md.join("cur/0.host:2,S"),
        md.join(".Archive/cur/0.host:2,S"),
    )
    .unwrap();
    fs::copy(
        md.join("cur/1.host:2,S"),
        md.join(".Projects/cur/1.host:2,S"),
    )
    .unwrap();
    let before = env.json(&["stats", "--json"]);
    let r = sync();
    assert_eq!(r["moved"], 1, "{r}");
    assert_eq!(r["archived"], 1, "the copy is a new placement: {r}");
    let got = env.contents("alice");
    assert_eq!(got["Server"].len(), 4);
    assert_eq!(
        got["Server/Archive"]
            .iter()
            .map(|x| &x.1)
            .collect::<Vec<_>>(),
        vec![&msg(0)]
    );
    assert_eq!(got["Server/Projects"].len(), 2);
    let after = env.json(&["stats", "--json"]);
    assert_eq!(
        before["stores"][0]["unique_messages"], after["stores"][0]["unique_messages"],
        "a copy stores no new content"
    );
    assert!(env.run(&["verify"]).status.success());

    // A message deleted from the source stays in the archive.
    fs::remove_file(md.join("cur/2.host:2,S")).unwrap();
    let r = sync();
    assert_eq!(
        (r["archived"].as_u64(), r["moved"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(env.contents("alice")["Server"].len(), 4);
}

#[test]
fn the_same_message_for_another_user_is_stored_once() {
    let env = Env::new();
    env.ok(&["user", "add", "bob"]);
    let f = env.path("a.eml");
    let big: String = (0..4000)
        .map(|i| format!("line {i} of a long body\n"))
        .collect();
    fs::write(&f, format!("Subject: shared\n\n{big}")).unwrap();
    env.import(&["eml", f.to_str().unwrap(), "--user", "alice"]);
    let s1 = env.json(&["stats", "--json"]);
    env.import(&["eml", f.to_str().unwrap(), "--user", "bob"]);
    let s2 = env.json(&["stats", "--json"]);
    assert_eq!(s2["messages"], 2);
    assert_eq!(s2["stores"][0]["unique_messages"], 1);
    assert_eq!(
        s1["stored_bytes"], s2["stored_bytes"],
        "no new content stored"
    );
}
