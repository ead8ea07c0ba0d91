//! Fuzzes `RecoverStore` (`arkiv_store::Store::recover`) on damaged packs: at start the target
//! builds a real store (messages with attachments, a move, a deletion: blobs and recovery
//! records), keeps its pack, and for each input applies the input's damage to a copy of that
//! pack (a cut length, then overwritten bytes), removes the database and recovers.
//!
//! Invariants: no panic; recovery succeeds or fails with an error; when it succeeds, every
//! message the recovered store lists either reads back as exactly the bytes it was archived
//! with, or fails with an error: never other bytes.
#![no_main]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use arkiv_crypto::MasterKey;
use arkiv_store::{MessageRecord, Store, StoreDirs};
use arkiv_types::{ContentHash, FolderId, StoreId, Timestamp, UserId};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    dir: PathBuf,
    master: MasterKey,
    pack: Vec<u8>,
    keys: Vec<u8>,
    /// Content hash → the archived bytes.
    originals: HashMap<ContentHash, Vec<u8>>,
}

fn message(i: u32) -> Vec<u8> {
    let body: String = (0..(i * 997 % 40_000 + 2_000))
        .map(|k| (b'A' + ((k * 7 + i) % 26) as u8) as char)
        .collect::<Vec<_>>()
        .chunks(76)
        .map(|c| c.iter().collect::<String>() + "\r\n")
        .collect();
    format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: m{i}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n\
         hello {i}\r\n--B\r\nContent-Type: application/octet-stream\r\n\r\n{body}--B--\r\n"
    )
    .into_bytes()
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("arkiv-fuzz-recover-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let master = MasterKey::generate().expect("key");
        let store = Arc::new(
            Store::create(StoreId(1), StoreDirs::single(&dir), &master, 1 << 30).expect("store"),
        );
        let mut originals = HashMap::new();
        let mut nums = Vec::new();
        for i in 0..6u32 {
            let raw = message(i);
            let parsed = arkiv_message::parse(&raw);
            let hash = ContentHash::of(&raw);
            let p = store.prepare(&raw, hash, &parsed, 1024).expect("prepare");
            let mut s = store.write().expect("session");
            s.store_content(&p, &raw, &parsed, 1024).expect("content");
            let id = s
                .add_message(&MessageRecord {
                    content_key: p.content_key,
                    hash,
                    size: raw.len() as u64,
                    user: UserId(1),
                    folder: FolderId(1 + u64::from(i % 2)),
                    archived_at: Timestamp::now(),
                    source: None,
                    summary: parsed.summary.clone(),
                    problem: None,
                })
                .expect("add");
            s.commit().expect("commit");
            nums.push(id.num);
            originals.insert(hash, raw);
        }
        let mut s = store.write().expect("session");
        s.move_message(nums[0], FolderId(9)).expect("move");
        s.remove_message(nums[3]).expect("remove");
        s.commit().expect("commit");
        drop(store);
        let pack = std::fs::read(dir.join("packs/000001.pack")).expect("pack");
        let keys = std::fs::read(dir.join("store.keys")).expect("keys");
        Fixture {
            dir,
            master,
            pack,
            keys,
            originals,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut pack = f.pack.clone();
    // Damage: the first 4 bytes cut the pack (modulo its length + 1), then 5-byte groups
    // overwrite one byte each (offset u32 LE, value).
    if data.len() >= 4 {
        let cut = u32::from_le_bytes(data[..4].try_into().unwrap()) as usize % (pack.len() + 1);
        pack.truncate(cut);
        for g in data[4..].chunks_exact(5) {
            if pack.is_empty() {
                break;
            }
            let off = u32::from_le_bytes(g[..4].try_into().unwrap()) as usize % pack.len();
            pack[off] = g[4];
        }
    }
    let dir = f.dir.join("case");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("packs")).expect("dir");
    std::fs::write(dir.join("packs/000001.pack"), &pack).expect("pack");
    std::fs::write(dir.join("store.keys"), &f.keys).expect("keys");
    let dirs = StoreDirs::single(&dir);
    if Store::recover(StoreId(1), &dirs, &f.master, data.first() == Some(&1), &mut |_, _| {})
        .is_err()
    {
        return;
    }
    let Ok(store) = Store::open(StoreId(1), dirs, &f.master, 1 << 30) else {
        return;
    };
    for num in store.message_nums().expect("nums") {
        let Ok(rec) = store.message(num) else {
            continue;
        };
        if let Ok(bytes) = store.read_message(num) {
            let original = f.originals.get(&rec.hash).expect("a message of the fixture");
            assert_eq!(&bytes, original, "message {num} read back other bytes");
        }
    }
});
