//! The store on its own: round trips, single-instance storage, rollback, corruption.

use std::sync::Arc;

use arkiv_crypto::MasterKey;
use arkiv_store::{MessageRecord, Store, StoreDirs};
use arkiv_types::{ContentHash, FolderId, StoreId, Timestamp, UserId};

const THRESHOLD: usize = 32 * 1024;

fn attachment(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn b64(data: &[u8], eol: &str) -> String {
    // A small independent encoder so the test does not trust the code under test.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        s.push(T[(n >> 18) as usize & 63] as char);
        s.push(T[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    s.as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(eol)
        + eol
}

fn message(subject: &str, att: &[u8], eol: &str) -> Vec<u8> {
    format!(
        "From: a@example.com{e}To: b@example.com{e}Subject: {subject}{e}MIME-Version: 1.0{e}Content-Type: multipart/mixed; boundary=\"XX\"{e}{e}--XX{e}Content-Type: text/plain{e}{e}Hello {subject}{e}--XX{e}Content-Type: application/octet-stream{e}Content-Transfer-Encoding: base64{e}Content-Disposition: attachment; filename=\"a.bin\"{e}{e}{}--XX--{e}",
        b64(att, eol),
        e = eol
    )
    .into_bytes()
}

fn archive(store: &Arc<Store>, raw: &[u8], folder: u64) -> arkiv_types::MessageId {
    let parsed = arkiv_message::parse(raw);
    let hash = ContentHash::of(raw);
    let prepared = store.prepare(raw, hash, &parsed, THRESHOLD).unwrap();
    let mut s = store.write().unwrap();
    s.store_content(&prepared, raw, &parsed, THRESHOLD).unwrap();
    let id = s
        .add_message(&MessageRecord {
            content_key: prepared.content_key,
            hash,
            size: raw.len() as u64,
            user: UserId(1),
            folder: FolderId(folder),
            archived_at: Timestamp::now(),
            source: None,
            summary: parsed.summary.clone(),
            problem: parsed.problem.clone(),
        })
        .unwrap();
    s.commit().unwrap();
    id
}

#[test]
fn same_attachment_in_different_messages_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let mk = MasterKey::generate().unwrap();
    let store =
        Arc::new(Store::create(StoreId(1), StoreDirs::single(dir.path()), &mk, 1 << 30).unwrap());
    let att = attachment(7, 300_000);
    let m1 = message("one", &att, "\r\n");
    let m2 = message("two", &att, "\n");
    let id1 = archive(&store, &m1, 10);
    let id2 = archive(&store, &m2, 10);
    let id3 = archive(&store, &m1, 11); // same bytes, another folder: content once
    assert_eq!(store.read_message(id1.num).unwrap(), m1);
    assert_eq!(store.read_message(id2.num).unwrap(), m2);
    assert_eq!(store.read_message(id3.num).unwrap(), m1);
    let c = store.counters().unwrap();
    assert_eq!(c.messages, 3);
    assert_eq!(c.contents, 2);
    // Two skeletons + one attachment, stored decoded: well under one base64 copy.
    assert_eq!(c.blobs, 3);
    assert!(c.stored_bytes < 320_000, "stored {}", c.stored_bytes);
    assert!(store.verify(&mut |_, _| {}).unwrap().is_clean());
    // The data directory does not contain the subject in the clear.
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(6).any(|w| w == b"Hello "),
            "{} leaks content",
            entry.display()
        );
    }
}

#[test]
fn dropped_session_leaves_nothing_and_packs_are_cut_back() {
    let dir = tempfile::tempdir().unwrap();
    let mk = MasterKey::generate().unwrap();
    let store =
        Arc::new(Store::create(StoreId(1), StoreDirs::single(dir.path()), &mk, 1 << 30).unwrap());
    let kept = message("kept", &attachment(1, 50_000), "\n");
    archive(&store, &kept, 1);
    let before = store.counters().unwrap();
    {
        let raw = message("lost", &attachment(2, 80_000), "\n");
        let parsed = arkiv_message::parse(&raw);
        let p = store
            .prepare(&raw, ContentHash::of(&raw), &parsed, THRESHOLD)
            .unwrap();
        let mut s = store.write().unwrap();
        s.store_content(&p, &raw, &parsed, THRESHOLD).unwrap();
        // dropped without commit
    }
    assert_eq!(store.counters().unwrap(), before);
    let again = message("after", &attachment(3, 40_000), "\n");
    let id = archive(&store, &again, 1);
    assert_eq!(store.read_message(id.num).unwrap(), again);
    let report = store.verify(&mut |_, _| {}).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

#[test]
fn corruption_is_detected_and_never_returns_wrong_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mk = MasterKey::generate().unwrap();
    let store =
        Arc::new(Store::create(StoreId(4), StoreDirs::single(dir.path()), &mk, 1 << 30).unwrap());
    let a = archive(&store, &message("a", &attachment(1, 60_000), "\n"), 1);
    let b = archive(&store, &message("b", &attachment(2, 60_000), "\n"), 1);
    drop(store);
    let pack = dir.path().join("packs/000001.pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    let at = bytes.len() - 1000; // inside the last blob written (b's skeleton or attachment)
    bytes[at] ^= 0x40;
    std::fs::write(&pack, &bytes).unwrap();
    let store =
        Arc::new(Store::open(StoreId(4), StoreDirs::single(dir.path()), &mk, 1 << 30).unwrap());
    assert!(store.read_message(a.num).is_ok());
    let err = store.read_message(b.num).unwrap_err().to_string();
    assert!(err.contains("4:"), "{err}");
    let report = store.verify(&mut |_, _| {}).unwrap();
    let named: Vec<_> = report
        .problems
        .iter()
        .filter_map(|p| p.message.clone())
        .collect();
    assert_eq!(named, vec![b.to_string()]);
}

#[test]
fn wrong_master_key_and_missing_directory_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mk = MasterKey::generate().unwrap();
    Store::create(StoreId(1), StoreDirs::single(dir.path()), &mk, 1 << 30).unwrap();
    let other = MasterKey::generate().unwrap();
    let e = Store::open(StoreId(1), StoreDirs::single(dir.path()), &other, 1 << 30)
        .err()
        .unwrap();
    assert!(e.to_string().contains("decryption failed"), "{e}");
    let gone = dir.path().join("nope");
    let e = Store::open(StoreId(1), StoreDirs::single(&gone), &mk, 1 << 30)
        .err()
        .unwrap();
    assert!(e.to_string().contains("is missing"), "{e}");
    assert!(
        Store::create(StoreId(2), StoreDirs::single(dir.path()), &mk, 1 << 30).is_err(),
        "not empty"
    );
}

#[test]
fn packs_roll_over_at_the_segment_size() {
    let dir = tempfile::tempdir().unwrap();
    let mk = MasterKey::generate().unwrap();
    let store =
        Arc::new(Store::create(StoreId(1), StoreDirs::single(dir.path()), &mk, 200_000).unwrap());
    let ids: Vec<_> = (0..6)
        .map(|i| {
            (
                i,
                archive(
                    &store,
                    &message(&format!("m{i}"), &attachment(i, 90_000), "\n"),
                    1,
                ),
            )
        })
        .collect();
    for (i, id) in ids {
        assert_eq!(
            store.read_message(id.num).unwrap(),
            message(&format!("m{i}"), &attachment(i, 90_000), "\n")
        );
    }
    assert!(dir.path().join("packs/000003.pack").exists());
    assert!(store.verify(&mut |_, _| {}).unwrap().is_clean());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

fn remove(store: &Arc<Store>, num: u64) {
    let mut s = store.write().unwrap();
    s.remove_message(num).unwrap();
    s.commit().unwrap();
}

fn packs(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("packs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn compaction_frees_what_deleted_messages_left_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mk = MasterKey::generate().unwrap();
    let store =
        Arc::new(Store::create(StoreId(1), StoreDirs::single(dir.path()), &mk, 200_000).unwrap());
    let shared = attachment(100, 90_000);
    let msgs: Vec<Vec<u8>> = (0..6)
        .map(|i| message(&format!("m{i}"), &attachment(i, 90_000), "\n"))
        .chain([message("shares m6's attachment", &shared, "\n")])
        .chain([message("m6", &shared, "\r\n")])
        .collect();
    let ids: Vec<_> = msgs.iter().map(|m| archive(&store, m, 1)).collect();
    let before = store.counters().unwrap();
    let packs_before = packs(dir.path());
    // Delete m1, m2, m3 and one of the two messages sharing an attachment.
    for i in [1, 2, 3, 6] {
        remove(&store, ids[i].num);
    }
    let report = store.compact(&mut |_, _| {}).unwrap();
    assert_eq!(report.contents_removed, 4, "{report:?}");
    // Four skeletons and three attachments; the shared attachment stays.
    assert_eq!(report.blobs_removed, 7, "{report:?}");
    assert!(
        report.pack_bytes_after < report.pack_bytes_before / 2 + 100_000,
        "{report:?}"
    );
    let after = store.counters().unwrap();
    assert_eq!(after.messages, 4);
    assert_eq!(after.contents, 4);
    assert!(after.stored_bytes < before.stored_bytes / 2 + 100_000);
    for i in [0, 4, 5, 7] {
        assert_eq!(store.read_message(ids[i].num).unwrap(), msgs[i]);
    }
    let v = store.verify(&mut |_, _| {}).unwrap();
    assert!(v.is_clean(), "{:?}", v.problems);
    assert_eq!(v.unreferenced_blobs, 0);
    // The rewritten packs are gone from the disk.
    let packs_after = packs(dir.path());
    assert!(
        packs_before.iter().any(|p| !packs_after.contains(p)),
        "{packs_before:?} -> {packs_after:?}"
    );
    // Nothing left to do the second time.
    let again = store.compact(&mut |_, _| {}).unwrap();
    assert_eq!(again.contents_removed + again.blobs_removed, 0);
    // Archiving goes on after it, and a reopened store reads everything.
    let late = message("late", &attachment(77, 90_000), "\n");
    let late_id = archive(&store, &late, 1);
    drop(store);
    let store =
        Arc::new(Store::open(StoreId(1), StoreDirs::single(dir.path()), &mk, 200_000).unwrap());
    assert_eq!(store.read_message(late_id.num).unwrap(), late);
    for i in [0, 4, 5, 7] {
        assert_eq!(store.read_message(ids[i].num).unwrap(), msgs[i]);
    }
    assert!(store.verify(&mut |_, _| {}).unwrap().is_clean());
}

#[test]
fn a_compaction_cut_short_after_its_commit_leaves_only_an_orphan_the_next_writer_removes() {
    let dir = tempfile::tempdir().unwrap();
    let mk = MasterKey::generate().unwrap();
    let store =
        Arc::new(Store::create(StoreId(1), StoreDirs::single(dir.path()), &mk, 200_000).unwrap());
    let kept = message("kept", &attachment(1, 90_000), "\n");
    let kept_id = archive(&store, &kept, 1);
    let gone = archive(&store, &message("gone", &attachment(2, 90_000), "\n"), 1);
    let old_pack = std::fs::read(dir.path().join("packs/000001.pack")).unwrap();
    remove(&store, gone.num);
    store.compact(&mut |_, _| {}).unwrap();
    drop(store);
    // As if the process died between the commit and deleting the old pack.
    assert!(!dir.path().join("packs/000001.pack").exists());
    std::fs::write(dir.path().join("packs/000001.pack"), &old_pack).unwrap();
    let store =
        Arc::new(Store::open(StoreId(1), StoreDirs::single(dir.path()), &mk, 200_000).unwrap());
    assert_eq!(store.read_message(kept_id.num).unwrap(), kept);
    archive(&store, &message("next", &attachment(3, 1000), "\n"), 1);
    assert!(!dir.path().join("packs/000001.pack").exists());
    assert!(store.verify(&mut |_, _| {}).unwrap().is_clean());
}

#[test]
fn repair_rebuilds_lost_derived_tables_and_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let mk = MasterKey::generate().unwrap();
    let store =
        Arc::new(Store::create(StoreId(1), StoreDirs::single(dir.path()), &mk, 1 << 30).unwrap());
    let ids: Vec<_> = (0..5)
        .map(|i| {
            archive(
                &store,
                &message(&format!("r{i}"), &attachment(i, 1000), "\n"),
                2 + i as u64 % 2,
            )
        })
        .collect();
    let good = store.counters().unwrap();
    let folders = store.folder_counts().unwrap();
    drop(store);
    // Damage what is derived from the message records: placements and folder lists emptied,
    // folder counts and the running totals wrong.
    {
        let db = redb::Database::open(dir.path().join("store.redb")).unwrap();
        let t = db.begin_write().unwrap();
        {
            use redb::{ReadableTable, TableDefinition};
            let p: TableDefinition<&[u8], u64> = TableDefinition::new("placements");
            t.open_table(p).unwrap().retain(|_, _| false).unwrap();
            let fm: TableDefinition<(u64, u64), ()> = TableDefinition::new("folder_messages");
            t.open_table(fm)
                .unwrap()
                .retain(|k, _| k.1 != ids[0].num)
                .unwrap();
            let fc: TableDefinition<u64, (u64, u64)> = TableDefinition::new("folder_counts");
            t.open_table(fc).unwrap().insert(2, (99, 99)).unwrap();
            let info: TableDefinition<&str, &[u8]> = TableDefinition::new("info");
            let mut info = t.open_table(info).unwrap();
            let (next, mut c): (u64, arkiv_store::StoreCounters) =
                postcard::from_bytes(info.get("counters").unwrap().unwrap().value()).unwrap();
            c.messages = 42;
            let bytes = postcard::to_stdvec(&(next, c)).unwrap();
            info.insert("counters", bytes.as_slice()).unwrap();
        }
        t.commit().unwrap();
    }
    let store =
        Arc::new(Store::open(StoreId(1), StoreDirs::single(dir.path()), &mk, 1 << 30).unwrap());
    assert!(!store.verify(&mut |_, _| {}).unwrap().is_clean());
    let r = store.repair_tables().unwrap();
    assert_eq!(r.messages, 5);
    assert_eq!(r.placements_fixed, 5, "{r:?}");
    assert_eq!(r.folder_entries_fixed, 1, "{r:?}");
    assert!(r.folder_counts_fixed >= 1, "{r:?}");
    assert!(r.statistics_fixed);
    assert!(r.unreadable_messages.is_empty());
    assert_eq!(store.counters().unwrap(), good);
    assert_eq!(store.folder_counts().unwrap(), folders);
    let v = store.verify(&mut |_, _| {}).unwrap();
    assert!(v.is_clean(), "{:?}", v.problems);
    // Statistics alone: nothing wrong now, so nothing changes.
    let (c, changed) = store.refresh_statistics().unwrap();
    assert_eq!(c, good);
    assert!(!changed);
    // The database file checks clean and compacts with the store to itself.
    let mut store = Arc::try_unwrap(store).ok().unwrap();
    let m = store.maintain_database().unwrap();
    assert!(!m.repaired);
    assert!(m.bytes_after <= m.bytes_before, "{m:?}");
    let store = Arc::new(store);
    assert!(store.verify(&mut |_, _| {}).unwrap().is_clean());
}

/// Issue 15: a lost or broken `store.redb` is rebuilt from the packs alone (recovery records
/// and `store.keys`): every message with its number, folder, summary and bytes; deleted ones
/// only when asked; a damaged range of a pack costs only what was in it; after a compaction
/// too (its snapshot carries what older records said).
#[test]
fn a_lost_database_is_rebuilt_from_the_packs() {
    let dir = tempfile::tempdir().unwrap();
    let mk = MasterKey::generate().unwrap();
    let dirs = StoreDirs::single(dir.path());
    let store = Arc::new(Store::create(StoreId(1), dirs.clone(), &mk, 300_000).unwrap());
    let msgs: Vec<Vec<u8>> = (0..8)
        .map(|i| message(&format!("m{i}"), &attachment(i, 60_000), "\n"))
        .collect();
    let ids: Vec<_> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| archive(&store, m, 1 + (i as u64 % 2)))
        .collect();
    {
        let mut s = store.write().unwrap();
        s.move_message(ids[0].num, FolderId(7)).unwrap();
        s.set_folder_name(
            FolderId(7),
            &arkiv_store::StoreFolder {
                archive: "alice".into(),
                path: vec!["Moved".into()],
            },
        )
        .unwrap();
        s.commit().unwrap();
    }
    remove(&store, ids[3].num);
    let before = store.verify(&mut |_, _| {}).unwrap();
    assert!(before.is_clean(), "{:?}", before.problems);
    drop(store);

    let rebuild = |recover_deleted: bool| {
        std::fs::remove_file(dir.path().join("store.redb")).ok();
        let r = Store::recover(StoreId(1), &dirs, &mk, recover_deleted, &mut |_, _| {}).unwrap();
        let store = Arc::new(Store::open(StoreId(1), dirs.clone(), &mk, 300_000).unwrap());
        (r, store)
    };
    let (r, store) = rebuild(false);
    assert_eq!(r.messages, 7, "{r:?}");
    assert_eq!(store.message_nums().unwrap().len(), 7);
    for (i, id) in ids.iter().enumerate() {
        if i == 3 {
            assert!(store.message(id.num).is_err(), "deleted message came back");
            continue;
        }
        assert_eq!(store.read_message(id.num).unwrap(), msgs[i]);
    }
    assert_eq!(store.message(ids[0].num).unwrap().folder, FolderId(7));
    assert_eq!(
        store.folder_messages(FolderId(7)).unwrap(),
        vec![ids[0].num]
    );
    assert_eq!(
        store.folder_names().unwrap()[&FolderId(7)].path,
        vec!["Moved".to_string()]
    );
    let v = store.verify(&mut |_, _| {}).unwrap();
    assert!(v.is_clean(), "{:?}", v.problems);
    // Archiving goes on with new numbers.
    let late = archive(&store, &message("late", &attachment(50, 1000), "\n"), 1);
    assert!(late.num > ids[7].num);
    drop(store);

    let (r, store) = rebuild(true);
    assert_eq!((r.messages, r.undeleted_messages), (9, 1), "{r:?}");
    assert_eq!(store.read_message(ids[3].num).unwrap(), msgs[3]);
    drop(store);

    // Zeroed bytes in the middle of the first pack: only the records there are lost.
    let pack = dir.path().join("packs/000001.pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 2000].fill(0);
    std::fs::write(&pack, &bytes).unwrap();
    let (r, store) = rebuild(false);
    assert_eq!(r.unreadable_ranges.len(), 1, "{r:?}");
    let readable = ids
        .iter()
        .filter(|id| store.read_message(id.num).is_ok())
        .count();
    assert!(
        readable >= 5,
        "only {readable} readable after a 2 KB hole: {r:?}"
    );
    let v = store.verify(&mut |_, _| {}).unwrap();
    assert!(!v.is_clean());
    drop(store);

    // After a compaction the snapshot carries the state.
    let dir2 = tempfile::tempdir().unwrap();
    let dirs2 = StoreDirs::single(dir2.path());
    let store = Arc::new(Store::create(StoreId(2), dirs2.clone(), &mk, 200_000).unwrap());
    let ids: Vec<_> = msgs.iter().map(|m| archive(&store, m, 1)).collect();
    for i in [1, 2, 5] {
        remove(&store, ids[i].num);
    }
    let c = store.compact(&mut |_, _| {}).unwrap();
    assert!(c.packs_rewritten > 0, "{c:?}");
    let v = store.verify(&mut |_, _| {}).unwrap();
    assert!(v.is_clean(), "{:?}", v.problems);
    drop(store);
    std::fs::remove_file(dir2.path().join("store.redb")).unwrap();
    let r = Store::recover(StoreId(2), &dirs2, &mk, true, &mut |_, _| {}).unwrap();
    assert!(r.from_snapshot, "{r:?}");
    let store = Arc::new(Store::open(StoreId(2), dirs2, &mk, 200_000).unwrap());
    let mut nums = store.message_nums().unwrap();
    nums.sort();
    let want: Vec<u64> = [0, 3, 4, 6, 7].iter().map(|i| ids[*i].num).collect();
    assert_eq!(nums, want, "compacted: deleted messages cannot come back");
    for i in [0, 3, 4, 6, 7] {
        assert_eq!(store.read_message(ids[i].num).unwrap(), msgs[i]);
    }
    assert!(store.verify(&mut |_, _| {}).unwrap().is_clean());
}

/// Review findings on recovery records: a store whose packs hold only recovery records (empty,
/// or every message deleted and compacted) opens again; a recovered store never gives a
/// number twice (the newest message deleted before the loss); a recovery with
/// `recoverDeletedMessages` verifies clean.
#[test]
fn recovery_records_edge_cases() {
    let mk = MasterKey::generate().unwrap();
    // Empty, snapshot written: reopens.
    let dir = tempfile::tempdir().unwrap();
    let dirs = StoreDirs::single(dir.path());
    let store = Arc::new(Store::create(StoreId(1), dirs.clone(), &mk, 1 << 20).unwrap());
    store.recreate_recovery_records().unwrap();
    drop(store);
    let store = Arc::new(Store::open(StoreId(1), dirs.clone(), &mk, 1 << 20).unwrap());
    // Every message deleted and compacted: reopens, verifies clean.
    let m = message("only", &attachment(1, 50_000), "\n");
    let id = archive(&store, &m, 1);
    remove(&store, id.num);
    store.compact(&mut |_, _| {}).unwrap();
    drop(store);
    let store = Arc::new(Store::open(StoreId(1), dirs.clone(), &mk, 1 << 20).unwrap());
    let v = store.verify(&mut |_, _| {}).unwrap();
    assert!(v.is_clean(), "{:?}", v.problems);
    // Numbers are not given twice after a recovery.
    let a = archive(&store, &message("a", &attachment(2, 1000), "\n"), 1);
    let b = archive(&store, &message("b", &attachment(3, 1000), "\n"), 1);
    remove(&store, b.num);
    drop(store);
    std::fs::remove_file(dir.path().join("store.redb")).unwrap();
    let r = Store::recover(StoreId(1), &dirs, &mk, true, &mut |_, _| {}).unwrap();
    assert_eq!(r.undeleted_messages, 1, "{r:?}");
    let store = Arc::new(Store::open(StoreId(1), dirs.clone(), &mk, 1 << 20).unwrap());
    let v = store.verify(&mut |_, _| {}).unwrap();
    assert!(
        v.is_clean(),
        "after recovering deleted messages: {:?}",
        v.problems
    );
    remove(&store, b.num);
    drop(store);
    std::fs::remove_file(dir.path().join("store.redb")).unwrap();
    Store::recover(StoreId(1), &dirs, &mk, false, &mut |_, _| {}).unwrap();
    let store = Arc::new(Store::open(StoreId(1), dirs, &mk, 1 << 20).unwrap());
    let c = archive(&store, &message("c", &attachment(4, 1000), "\n"), 1);
    assert!(
        c.num > b.num && c.num > a.num,
        "number {} given again",
        c.num
    );
}
