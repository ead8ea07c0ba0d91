//! Store maintenance on a real archive: merge, compaction, repair, statistics, database
//! housekeeping, moving a store's directories; and the user settings kept for directory
//! services and POP3.

use std::path::Path;

use arkiv_archive::access::Caller;
use arkiv_archive::search::SearchQuery;
use arkiv_archive::users::Authentication;
use arkiv_archive::{Archive, Assignment, Config, ImportOptions, InitOptions};
use arkiv_sources::{SourceKind, SourceOptions};
use arkiv_types::{FolderPath, MessageId, StoreId, StoreStatus};

const PASSWORD: &str = "Quartz-Pass-2026";

fn attachment(seed: u32, len: usize) -> String {
    // Base64 of pseudo-random bytes, so each attachment is a large part of its own.
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for (i, c) in bytes.chunks(3).enumerate() {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                s.push(T[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
        if i % 19 == 18 {
            s.push('\n');
        }
    }
    s.push('\n');
    s
}

fn write_mail(dir: &Path, word: &str, from: u32, n: u32) {
    std::fs::create_dir_all(dir).unwrap();
    for i in from..from + n {
        std::fs::write(
            dir.join(format!("{i}.eml")),
            format!(
                "From: a@example.com\nTo: b@example.com\nSubject: {word} {i}\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\n{word} body {i}\n--B\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"f{i}.bin\"\n\n{}--B--\n",
                attachment(i, 60_000)
            ),
        )
        .unwrap();
    }
}

fn import(archive: &Archive, dir: &Path) -> u64 {
    let source = arkiv_sources::open(SourceKind::Eml, dir, &SourceOptions::default()).unwrap();
    let opts = ImportOptions {
        assignment: Assignment::Single {
            user: "admin".into(),
            folder: FolderPath::parse("Inbox"),
        },
        source_id: source.source_id(),
        workers: 1,
        index: true,
        present: Vec::new(),
        sent_folders: Vec::new(),
    };
    archive.import(source, &opts, &mut |_| {}).unwrap().archived
}

fn search(archive: &Archive, text: &str) -> Vec<String> {
    let page = archive
        .search(
            &Caller::operator(),
            &SearchQuery {
                text: text.into(),
                limit: 500,
                ..Default::default()
            },
        )
        .unwrap();
    page.hits.into_iter().map(|h| h.id).collect()
}

fn init(dir: &Path) -> Archive {
    Archive::init(
        &dir.join("data"),
        InitOptions {
            admin_password: PASSWORD.into(),
            config: Config::default(),
            key_file: None,
        },
    )
    .unwrap()
    .0
}

fn clean(archive: &Archive, id: u32) {
    let r = archive
        .store(StoreId(id))
        .unwrap()
        .verify(&mut |_, _| {})
        .unwrap();
    assert!(r.is_clean(), "store #{id}: {:?}", r.problems);
    assert_eq!(r.unreferenced_blobs, 0, "store #{id}");
}

#[test]
fn merge_copies_everything_and_leaves_the_source_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let archive = init(dir.path());
    write_mail(&dir.path().join("old"), "older", 0, 12);
    assert_eq!(import(&archive, &dir.path().join("old")), 12);
    let second = archive
        .create_store(Some("second".into()), None, StoreStatus::Current)
        .unwrap();
    write_mail(&dir.path().join("new"), "newer", 100, 5);
    assert_eq!(import(&archive, &dir.path().join("new")), 5);
    // As if an earlier merge died after its destination commit: one message in both stores.
    {
        let from = archive.store(StoreId(1)).unwrap();
        let to = archive.store(second.id).unwrap();
        let rec = from.message(1).unwrap();
        let raw = from.read_message(1).unwrap();
        let parsed = arkiv_message::parse(&raw);
        let p = to.prepare(&raw, rec.hash, &parsed, 32 * 1024).unwrap();
        let mut w = to.write().unwrap();
        w.store_content(&p, &raw, &parsed, 32 * 1024).unwrap();
        let mut copy = rec.clone();
        copy.content_key = p.content_key;
        w.add_message(&copy).unwrap();
        w.commit().unwrap();
    }
    archive.catch_up_index(&mut |_| {}).unwrap();
    assert_eq!(search(&archive, "older").len(), 13, "the duplicate shows");

    // The current store cannot be merged away; a store cannot merge into itself.
    assert!(
        archive
            .merge_store(StoreId(1), second.id, &mut |_, _| {}, &|| false)
            .is_err()
    );
    assert!(
        archive
            .merge_store(second.id, second.id, &mut |_, _| {}, &|| false)
            .is_err()
    );
    // Cancelled before the first batch: nothing moves.
    let e = archive
        .merge_store(second.id, StoreId(1), &mut |_, _| {}, &|| true)
        .unwrap_err();
    assert!(e.to_string().contains("cancelled"), "{e}");
    assert_eq!(
        archive
            .store(StoreId(1))
            .unwrap()
            .counters()
            .unwrap()
            .messages,
        12
    );

    let r = archive
        .merge_store(second.id, StoreId(1), &mut |_, _| {}, &|| false)
        .unwrap();
    assert_eq!((r.copied, r.already_there), (11, 1), "{r:?}");
    // As in MailStore: the source stays as it was, to be detached by the administrator.
    assert_eq!(
        archive
            .store(StoreId(1))
            .unwrap()
            .counters()
            .unwrap()
            .messages,
        12
    );
    clean(&archive, 1);
    // Running it again copies nothing twice.
    let again = archive
        .merge_store(second.id, StoreId(1), &mut |_, _| {}, &|| false)
        .unwrap();
    assert_eq!((again.copied, again.already_there), (0, 12));
    archive.detach_store(StoreId(1)).unwrap();
    let older = search(&archive, "older");
    assert_eq!(older.len(), 12, "{older:?}");
    assert!(
        older
            .iter()
            .all(|id| id.starts_with(&format!("{}:", second.id.0)))
    );
    assert_eq!(search(&archive, "newer").len(), 5);
    let to = archive.store(second.id).unwrap();
    assert_eq!(to.counters().unwrap().messages, 17);
    for id in &older {
        let id: MessageId = id.parse().unwrap();
        let raw = to.read_message(id.num).unwrap();
        let subject = String::from_utf8_lossy(&raw)
            .lines()
            .find(|l| l.starts_with("Subject:"))
            .unwrap()
            .to_string();
        let n: u32 = subject.rsplit(' ').next().unwrap().parse().unwrap();
        let original = std::fs::read(dir.path().join("old").join(format!("{n}.eml"))).unwrap();
        assert_eq!(
            raw, original,
            "message {n} is not byte for byte what was archived"
        );
    }
    clean(&archive, second.id.0);
}

#[test]
fn compaction_repair_statistics_and_database_upkeep() {
    let dir = tempfile::tempdir().unwrap();
    let archive = init(dir.path());
    write_mail(&dir.path().join("m"), "quartz", 0, 20);
    assert_eq!(import(&archive, &dir.path().join("m")), 20);
    let store = archive.store(StoreId(1)).unwrap();
    let before = store.counters().unwrap();
    for num in 1..=8 {
        let m = archive
            .deletable(&Caller::operator(), MessageId::new(StoreId(1), num))
            .unwrap();
        archive.delete_message(&m).unwrap();
    }
    drop(store);
    let c = archive.compact_store(StoreId(1), &mut |_, _| {}).unwrap();
    assert_eq!(c.packs.contents_removed, 8, "{c:?}");
    assert_eq!(c.packs.blobs_removed, 16, "{c:?}");
    assert!(
        c.packs.pack_bytes_after < c.packs.pack_bytes_before * 3 / 4,
        "{c:?}"
    );
    let store = archive.store(StoreId(1)).unwrap();
    let after = store.counters().unwrap();
    assert_eq!(after.messages, 12);
    assert!(after.stored_bytes < before.stored_bytes * 3 / 4);
    assert_eq!(search(&archive, "quartz").len(), 12);
    drop(store);
    clean(&archive, 1);

    assert!(
        archive.refresh_store_statistics().unwrap().is_empty(),
        "nothing was wrong"
    );
    let (db, repair) = archive.repair_store(StoreId(1)).unwrap();
    assert!(!db.repaired);
    assert_eq!(repair.messages, 12);
    assert_eq!(
        repair.placements_fixed + repair.folder_entries_fixed + repair.source_entries_fixed,
        0,
        "{repair:?}"
    );
    let m = archive.compact_master().unwrap();
    assert!(!m.repaired && m.bytes_after > 0);
    let all = archive.maintain_databases(&mut |_, _| {}).unwrap();
    assert_eq!(all.len(), 2, "master and one store");
    // Everything still works after the database files were compacted.
    assert_eq!(search(&archive, "quartz").len(), 12);
    write_mail(&dir.path().join("m2"), "later", 50, 2);
    assert_eq!(import(&archive, &dir.path().join("m2")), 2);
    assert!(archive.user("admin").is_ok());
    clean(&archive, 1);
}

#[test]
fn a_disabled_stores_directories_can_be_moved() {
    let dir = tempfile::tempdir().unwrap();
    let archive = init(dir.path());
    write_mail(&dir.path().join("m"), "granite", 0, 3);
    import(&archive, &dir.path().join("m"));
    let second = archive
        .create_store(Some("second".into()), None, StoreStatus::Current)
        .unwrap();
    let old = archive.store(StoreId(1)).unwrap().dirs().meta.clone();
    let moved = dir.path().join("elsewhere");
    let e = archive
        .set_store_dirs(StoreId(1), Some(moved.to_str().unwrap()), None)
        .unwrap_err();
    assert!(e.to_string().contains("disabled"), "{e}");
    archive
        .set_store_status(StoreId(1), StoreStatus::Disabled)
        .unwrap();
    std::fs::rename(&old, &moved).unwrap();
    // A place that does not hold the store is refused.
    assert!(
        archive
            .set_store_dirs(
                StoreId(1),
                Some(dir.path().join("nothing").to_str().unwrap()),
                None
            )
            .is_err()
    );
    let m = moved.to_str().unwrap();
    // The packs of another store are refused for it: a writer would cut them to its lengths.
    write_mail(&dir.path().join("m2"), "gneiss", 50, 2);
    import(&archive, &dir.path().join("m2"));
    let other = archive.store(second.id).unwrap().dirs().content.clone();
    let e = archive
        .set_store_dirs(StoreId(1), Some(m), Some(other.to_str().unwrap()))
        .unwrap_err();
    assert!(e.to_string().contains("do not belong"), "{e}");
    archive
        .set_store_dirs(StoreId(1), Some(m), Some(m))
        .unwrap();
    archive
        .set_store_status(StoreId(1), StoreStatus::Normal)
        .unwrap();
    assert_eq!(search(&archive, "granite").len(), 3);
    assert_ne!(second.id, StoreId(1));
    clean(&archive, 1);
}

#[test]
fn directory_and_pop3_settings_of_users() {
    let dir = tempfile::tempdir().unwrap();
    let archive = init(dir.path());
    for name in ["alice", "bob"] {
        archive
            .add_user(arkiv_archive::users::NewUser {
                name: name.into(),
                password: Some(PASSWORD.into()),
                ..Default::default()
            })
            .unwrap();
    }
    assert!(archive.check_password("alice", PASSWORD).unwrap());
    archive
        .set_user_authentication("alice", Authentication::DirectoryServices)
        .unwrap();
    // Logged on through the directory: the local password no longer opens the account.
    assert!(!archive.check_password("alice", PASSWORD).unwrap());
    archive
        .set_user_distinguished_name(
            "alice",
            Some(r"CN=Doe\, Alice,OU=Staff,DC=example,DC=com".into()),
        )
        .unwrap();
    assert!(
        archive
            .set_user_distinguished_name("alice", Some("not a dn".into()))
            .is_err()
    );
    archive
        .set_user_pop3_user_names("alice", &["alice.pop".into(), "a2".into(), "A2".into()])
        .unwrap();
    let a = archive.user("alice").unwrap();
    assert_eq!(a.pop3_user_names, vec!["alice.pop", "a2"]);
    assert_eq!(
        a.distinguished_name.as_deref(),
        Some(r"CN=Doe\, Alice,OU=Staff,DC=example,DC=com")
    );
    let e = archive
        .set_user_pop3_user_names("bob", &["ALICE.pop".into()])
        .unwrap_err();
    assert!(e.to_string().contains("alice"), "{e}");
    archive.set_user_distinguished_name("alice", None).unwrap();
    assert_eq!(archive.user("alice").unwrap().distinguished_name, None);
}

fn import_to(archive: &Archive, dir: &Path, user: &str, folder: &str) -> u64 {
    let source = arkiv_sources::open(SourceKind::Eml, dir, &SourceOptions::default()).unwrap();
    let opts = ImportOptions {
        assignment: Assignment::Single {
            user: user.into(),
            folder: FolderPath::parse(folder),
        },
        source_id: source.source_id(),
        workers: 1,
        index: true,
        present: Vec::new(),
        sent_folders: Vec::new(),
    };
    archive.import(source, &opts, &mut |_| {}).unwrap().archived
}

#[test]
fn a_store_from_another_installation_is_unlocked_with_its_recovery_key() {
    let dir = tempfile::tempdir().unwrap();
    // Installation B archives bob's mail, then is shut down; its store is copied away.
    let (b, b_outcome) = Archive::init(
        &dir.path().join("b"),
        InitOptions {
            admin_password: PASSWORD.into(),
            config: Config::default(),
            key_file: None,
        },
    )
    .unwrap();
    b.add_user(arkiv_archive::users::NewUser {
        name: "bob".into(),
        ..Default::default()
    })
    .unwrap();
    write_mail(&dir.path().join("mail"), "basalt", 0, 6);
    assert_eq!(
        import_to(&b, &dir.path().join("mail"), "bob", "Projects/Rock"),
        6
    );
    let b_store = b.store(StoreId(1)).unwrap().dirs().meta.clone();
    drop(b);
    let moved = dir.path().join("carried");
    std::fs::rename(&b_store, &moved).unwrap();

    // Installation A has other folders, so B's folder ids mean other things here.
    let (a, a_outcome) = Archive::init(
        &dir.path().join("data"),
        InitOptions {
            admin_password: PASSWORD.into(),
            config: Config::default(),
            key_file: None,
        },
    )
    .unwrap();
    for f in ["x", "y", "z"] {
        a.ensure_folder("admin", &FolderPath::parse(f)).unwrap();
    }
    let entry = a
        .attach_store(
            "from-b",
            arkiv_archive::stores::StoreDirs::single(&moved),
            StoreStatus::Normal,
        )
        .unwrap();
    let info = a
        .stores()
        .into_iter()
        .find(|s| s.entry.id == entry.id)
        .unwrap();
    assert!(
        info.error.as_deref().unwrap_or("").contains("locked"),
        "{info:?}"
    );
    assert!(search(&a, "basalt").is_empty());
    // Not a recovery key; this installation's own; then B's.
    assert!(a.unlock_store(entry.id, "hello").is_err());
    let e = a
        .unlock_store(entry.id, &a_outcome.recovery_key)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("not the recovery key of the installation"),
        "{e}"
    );
    let r = a.unlock_store(entry.id, &b_outcome.recovery_key).unwrap();
    assert_eq!(r.moved + r.duplicates_removed, 6, "{r:?}");
    assert!(
        r.folders_created.contains(&"bob/Projects/Rock".to_string()),
        "{r:?}"
    );
    let hits = a
        .search(
            &Caller::operator(),
            &SearchQuery {
                text: "basalt".into(),
                limit: 50,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(hits.total, 6);
    assert!(
        hits.hits
            .iter()
            .all(|h| h.archive == "bob" && h.folder == "Projects/Rock"),
        "{:?}",
        hits.hits[0]
    );
    clean(&a, entry.id.0);
    // The store now belongs to A: it opens again after a restart, no unlock needed.
    drop(a);
    let a = Archive::open(&dir.path().join("data"), None).unwrap();
    assert_eq!(search(&a, "basalt").len(), 6);
}

#[test]
fn a_reattached_store_finds_folders_deleted_while_it_was_away() {
    let dir = tempfile::tempdir().unwrap();
    let archive = init(dir.path());
    write_mail(&dir.path().join("m"), "marble", 0, 4);
    assert_eq!(
        import_to(&archive, &dir.path().join("m"), "admin", "Old/Deep"),
        4
    );
    write_mail(&dir.path().join("n"), "onyx", 10, 2);
    assert_eq!(
        import_to(&archive, &dir.path().join("n"), "admin", "Kept"),
        2
    );
    archive
        .create_store(Some("second".into()), None, StoreStatus::Current)
        .unwrap();
    let dirs = archive.store(StoreId(1)).unwrap().dirs().clone();
    archive.detach_store(StoreId(1)).unwrap();
    // While the store is away its folders look empty: they are deleted, one renamed.
    archive
        .move_folder(&Caller::operator(), "admin/Kept", "admin/Renamed")
        .unwrap();
    let gone = archive.delete_empty_folders(None).unwrap();
    assert!(gone.iter().any(|g| g.contains("Old")), "{gone:?}");
    assert!(
        archive
            .find_folder("admin", &FolderPath::parse("Renamed"))
            .unwrap()
            .is_none()
    );
    archive
        .ensure_folder("admin", &FolderPath::parse("Renamed"))
        .ok();
    let back = archive
        .attach_store("back", dirs, StoreStatus::Normal)
        .unwrap();
    let hits = archive
        .search(
            &Caller::operator(),
            &SearchQuery {
                text: "marble".into(),
                limit: 50,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(hits.total, 4);
    assert!(
        hits.hits.iter().all(|h| h.folder == "Old/Deep"),
        "{:?}",
        hits.hits
    );
    assert_eq!(search(&archive, "onyx").len(), 2);
    clean(&archive, back.id.0);
}

/// Issue 15: a merge cut short between two batches (a crash: here the operation dies in the
/// middle, without any cleanup) left part of the source copied, searches finding those
/// messages twice and nothing to finish it. The next writable open now finishes it.
#[test]
fn a_merge_cut_short_is_finished_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let archive = init(dir.path());
    write_mail(&dir.path().join("old"), "older", 0, 450);
    assert_eq!(import(&archive, &dir.path().join("old")), 450);
    let second = archive
        .create_store(Some("second".into()), None, StoreStatus::Current)
        .unwrap();
    // The "cancelled" question comes before each batch: the second one dies.
    let asked = std::sync::atomic::AtomicU32::new(0);
    let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        archive.merge_store(second.id, StoreId(1), &mut |_, _| {}, &|| {
            if asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
                panic!("crash between two batches");
            }
            false
        })
    }));
    assert!(died.is_err());
    let partial = archive
        .store(second.id)
        .unwrap()
        .counters()
        .unwrap()
        .messages;
    assert_eq!(partial, 200, "one batch was copied before the crash");
    assert_eq!(
        archive.pending_merges().unwrap(),
        vec![(second.id, StoreId(1))]
    );
    drop(archive);

    let archive = Archive::open(&data, None).unwrap();
    assert!(archive.pending_merges().unwrap().is_empty());
    let to = archive.store(second.id).unwrap();
    assert_eq!(
        to.counters().unwrap().messages,
        450,
        "the merge was finished"
    );
    clean(&archive, second.id.0);
    let audit = std::fs::read_to_string(data.join("audit.log")).unwrap();
    assert!(
        audit.contains("MergeStore resumed"),
        "the resumption is audited"
    );
}

/// Issue 15: a store creation cut short before its registration left a directory that
/// nothing reported or removed; the next writable open removes one that holds no message and
/// verify reports one that does (a detached store is never deleted).
#[test]
fn orphan_store_directories_are_cleaned_or_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let archive = init(dir.path());
    write_mail(&dir.path().join("old"), "older", 0, 3);
    assert_eq!(import(&archive, &dir.path().join("old")), 3);
    let kept = archive
        .create_store(Some("kept".into()), None, StoreStatus::Current)
        .unwrap();
    write_mail(&dir.path().join("new"), "newer", 10, 2);
    assert_eq!(import(&archive, &dir.path().join("new")), 2);
    archive
        .set_store_status(StoreId(1), StoreStatus::Current)
        .unwrap();
    archive.detach_store(kept.id).unwrap();
    drop(archive);
    // What a creation cut short leaves: a database and an empty pack directory.
    let half = data.join("stores/half");
    std::fs::create_dir_all(half.join("packs")).unwrap();
    std::fs::write(half.join("store.redb"), b"").unwrap();
    std::fs::create_dir_all(data.join("stores/empty")).unwrap();

    let archive = Archive::open(&data, None).unwrap();
    assert!(
        !half.exists(),
        "the half-created store directory was removed"
    );
    assert!(!data.join("stores/empty").exists());
    assert!(
        data.join("stores/kept").exists(),
        "a detached store is kept"
    );
    let report = archive.verify(&mut |_, _, _| {}).unwrap();
    assert_eq!(
        report.unregistered_store_dirs,
        vec![data.join("stores/kept").display().to_string()]
    );
    assert!(report.clean, "information, not a problem: {report:?}");
    let audit = std::fs::read_to_string(data.join("audit.log")).unwrap();
    assert!(audit.contains("orphan store directory removed"));
}
