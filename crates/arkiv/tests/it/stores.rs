//! Archive stores: rollover, separate directories, statuses.

use crate::support::Env;

#[test]
fn a_new_store_is_created_every_n_messages() {
    let env = Env::with_init(&["--rollover-messages", "100"]);
    let corpus = env.path("corpus");
    let spec = arkiv_corpus::CorpusSpec {
        messages: 250,
        seed: 7,
        users: 1,
        duplicate_ratio: 0.0,
        profile: arkiv_corpus::Profile::TextOnly,
    };
    arkiv_corpus::write_mbox_tree(&spec, &corpus).unwrap();
    let r = env.import(&["mbox", corpus.to_str().unwrap(), "--user", "alice"]);
    assert_eq!(r["archived"], 250, "{r}");
    assert_eq!(r["stores_created"].as_array().unwrap().len(), 2);
    let stores = env.json(&["store", "list", "--json"]);
    let statuses: Vec<&str> = stores
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["normal", "normal", "current"]);
    let stats = env.json(&["stats", "--json"]);
    let per_store: Vec<u64> = stats["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["messages"].as_u64().unwrap())
        .collect();
    assert_eq!(per_store, [100, 100, 50]);
    // Every message is readable whatever store holds it; ids name the store.
    let all = env.contents("alice");
    let ids: Vec<&String> = all.values().flatten().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 250);
    assert!(ids.iter().any(|i| i.starts_with("3:")));
    let expected: std::collections::HashSet<Vec<u8>> =
        arkiv_corpus::generate(&spec).map(|m| m.bytes).collect();
    for (_, bytes) in all.values().flatten() {
        assert!(expected.contains(bytes));
    }
    assert!(env.run(&["verify"]).status.success());
    // Re-running over all stores still finds everything.
    let r = env.import(&["mbox", corpus.to_str().unwrap(), "--user", "alice"]);
    assert_eq!(r["already_archived"], 250);
}

#[test]
fn stores_with_separate_directories_and_statuses() {
    let env = Env::new();
    let meta = env.path("fast/meta");
    let content = env.path("slow/content");
    env.ok(&[
        "store",
        "create",
        "--name",
        "split",
        "--meta-path",
        meta.to_str().unwrap(),
        "--content-path",
        content.to_str().unwrap(),
        "--current",
    ]);
    assert!(meta.join("store.redb").exists());
    assert!(content.join("packs").is_dir());
    let f = env.path("m.eml");
    std::fs::write(&f, b"Subject: x\n\nbody\n").unwrap();
    env.import(&["eml", f.to_str().unwrap(), "--user", "alice"]);
    let got = env.contents("alice");
    assert!(
        got["m"][0].0.starts_with("2:"),
        "archived into the new current store"
    );

    // No current store: a clear error, nothing archived.
    env.ok(&["store", "set-status", "2", "writeProtected"]);
    let out = env.run(&[
        "import",
        "eml",
        f.to_str().unwrap(),
        "--user",
        "alice",
        "--folder",
        "again",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no archive store has status 'current'"));
    // A write-protected store is still readable.
    assert_eq!(env.contents("alice")["m"][0].1, b"Subject: x\n\nbody\n");
    // A disabled store is not part of the archive.
    env.ok(&["store", "set-status", "2", "disabled"]);
    assert!(env.contents("alice")["m"].is_empty());
    env.ok(&["store", "set-status", "2", "current"]);
    assert_eq!(env.contents("alice")["m"].len(), 1);
    let bad = env.run(&["store", "set-status", "2", "sideways"]);
    assert_eq!(bad.status.code(), Some(1));
    // A new store refuses a directory that is not empty.
    let out = env.run(&["store", "create", "--path", content.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}
