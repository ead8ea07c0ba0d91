//! Multi-user assignment by addresses (SPEC A5).

use crate::support::Env;

#[test]
fn messages_go_to_the_archives_of_their_senders_and_recipients() {
    let env = Env::new();
    env.ok(&[
        "user",
        "add",
        "bob",
        "--email",
        "bob@example.com",
        "--email",
        "Robert@Example.com",
    ]);
    env.ok(&["user", "add", "carol", "--email", "carol@example.com"]);
    env.ok(&["user", "add", "catchall"]);
    let src = env.path("drop");
    std::fs::create_dir_all(&src).unwrap();
    let m1 = b"From: Alice <alice@example.com>\nTo: bob@example.com\nCc: \"C\" <CAROL@example.com>\nSubject: hello\n\nhi\n".to_vec();
    let m2 = b"From: stranger@else.org\nTo: robert@example.com\nSubject: to bob's alias\n\nhi\n"
        .to_vec();
    let m3 = b"From: x@else.org\nTo: y@else.org\nDelivered-To: carol@example.com\nSubject: delivered\n\nhi\n".to_vec();
    let m4 = b"From: x@else.org\nTo: y@else.org\nSubject: nobody\n\nhi\n".to_vec();
    for (i, m) in [&m1, &m2, &m3, &m4].iter().enumerate() {
        std::fs::write(src.join(format!("{i}.eml")), m).unwrap();
    }
    // Without an unknown-user archive the last message is skipped (not failed).
    let r = env.import(&["eml", src.to_str().unwrap(), "--multi-user"]);
    assert_eq!(r["skipped"], 1, "{r}");
    assert_eq!(r["failed"].as_array().unwrap().len(), 0);
    let alice = env.contents("alice");
    assert_eq!(
        alice["Sent"].iter().map(|x| &x.1).collect::<Vec<_>>(),
        vec![&m1]
    );
    let bob = env.contents("bob");
    let mut got: Vec<_> = bob["Received"].iter().map(|x| x.1.clone()).collect();
    got.sort();
    let mut want = vec![m1.clone(), m2.clone()];
    want.sort();
    assert_eq!(got, want);
    let carol = env.contents("carol");
    assert_eq!(carol["Received"].len(), 2);
    // m1 is in three archives but stored once.
    let stats = env.json(&["stats", "--json"]);
    assert_eq!(stats["stores"][0]["messages"], 5);
    assert_eq!(stats["stores"][0]["unique_messages"], 3);

    // With an unknown-user archive and custom folder names.
    let r = env.import(&[
        "eml",
        src.to_str().unwrap(),
        "--multi-user",
        "--unknown-user",
        "catchall",
        "--sent-folder",
        "Gesendet",
        "--received-folder",
        "Posteingang",
    ]);
    assert_eq!(r["skipped"], 0);
    let c = env.contents("catchall");
    assert_eq!(
        c["drop"].iter().map(|x| &x.1).collect::<Vec<_>>(),
        vec![&m4]
    );
    assert_eq!(env.contents("alice")["Gesendet"].len(), 1);
}

#[test]
fn multi_user_needs_known_addresses_and_users() {
    let env = Env::new();
    let src = env.path("x");
    std::fs::create_dir_all(&src).unwrap();
    let out = env.run(&[
        "import",
        "eml",
        src.to_str().unwrap(),
        "--multi-user",
        "--unknown-user",
        "ghost",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("user 'ghost' does not exist"));
}
