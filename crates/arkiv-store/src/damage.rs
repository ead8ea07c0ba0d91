//! Damage containment: a store whose packs were cut short or overwritten outside Arkiv (a disk
//! that lied, a backup restored cut short) still opens, serves every message whose bytes are
//! intact, and names the ones that are not.
//!
//! * At open, [`Store::check_packs`] tells *this store's damaged packs* from *a wrong
//!   directory*: a pack shorter than its committed length is damage, recorded in
//!   [`Store::short_packs`]; only when records can be read and none of them is where this
//!   database put it are the packs someone else's.
//! * With short packs, [`Store::assess_damage`] finds the blobs that lie (partly) past a pack's
//!   end and the messages whose content needs them: those are listed as damaged at once,
//!   before anyone runs `verify`.
//! * `verify` adds what it finds (zeroed or overwritten ranges) and keeps its findings in the
//!   `damaged` table, so listings show them after a restart too.
//! * A blob known to be damaged counts as missing for new content: a message archived later
//!   that shares an attachment with a damaged one stores that attachment again instead of
//!   pointing at the damaged copy.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;

use redb::{ReadableTable, TableDefinition};

use crate::blob::{self, HEADER_LEN};
use crate::error::{Result, StoreError, io_err};
use crate::pack;
use crate::records::{self, BlobLoc, ContentRecord, MessageRecord};
use crate::store::{BLOBS, CONTENTS, MESSAGES, SEGMENTS, Store};

/// Message num → postcard (what `verify` found wrong with it, its content key): kept across
/// restarts, so listings flag it and new mail does not share its content.
pub(crate) const DAMAGED: TableDefinition<u64, &[u8]> = TableDefinition::new("damaged");
/// Blobs `verify` found unreadable: new content stores them again rather than share them.
pub(crate) const DAMAGED_BLOBS: TableDefinition<&[u8], ()> = TableDefinition::new("damaged_blobs");

/// How many blob index entries are read to decide whether packs belong to the database when
/// no pack starts with the expected record (the first bytes of a pack may be overwritten).
const SAMPLES: usize = 64;

/// A pack shorter than the length the store committed for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShortPack {
    pub seg: u32,
    pub committed: u64,
    /// Its length on disk (0 when the file is gone).
    pub actual: u64,
}

/// What is known to be damaged in an open store.
#[derive(Default)]
pub(crate) struct Damage {
    pub(crate) short: BTreeMap<u32, ShortPack>,
    /// Blobs whose record is (partly) gone or unreadable.
    pub(crate) blobs: HashSet<[u8; 32]>,
    /// Contents that cannot be rebuilt (a blob or the record itself is damaged).
    pub(crate) contents: HashSet<[u8; 32]>,
    /// Message num → why it cannot be read (and its content, when known).
    pub(crate) messages: BTreeMap<u64, (String, Option<[u8; 32]>)>,
}

impl Store {
    /// Checks that the content directory holds this database's packs. Short or missing packs
    /// are damage (the store opens and names what they cost); packs whose records can be read
    /// but none of which is where this database put it belong to another store (a wrong
    /// directory after a move), and are refused before a writer could cut them to this
    /// database's lengths.
    pub(crate) fn check_packs(&self) -> Result<BTreeMap<u32, ShortPack>> {
        let t = self.read_txn()?;
        let segs = t.open_table(SEGMENTS).map_err(|e| self.dberr(e))?;
        let blobs = t.open_table(BLOBS).map_err(|e| self.dberr(e))?;
        let recovery_table = self.optional_table(&t, crate::recovery::RECOVERY)?;
        let dir = self.dirs().pack_dir();
        let mut short = BTreeMap::new();
        let mut sizes: HashMap<u32, (File, u64)> = HashMap::new();
        for r in segs.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let (seg, len) = (k.value(), v.value());
            if len == 0 {
                continue;
            }
            let path = pack::pack_path(&dir, seg);
            let (file, size) = match File::open(&path) {
                Ok(f) => {
                    let size = f.metadata().map_err(|e| io_err(&path, e))?.len();
                    (Some(f), size)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, 0),
                Err(e) => return Err(io_err(&path, e)),
            };
            if size < len {
                short.insert(
                    seg,
                    ShortPack {
                        seg,
                        committed: len,
                        actual: size,
                    },
                );
            }
            if let Some(f) = file {
                sizes.insert(seg, (f, size.min(len)));
            }
        }
        if sizes.is_empty() {
            return Ok(short);
        }
        // Does a record sit where the blob index says? First each pack's start, then a sample
        // of the index (its keys are keyed hashes: an even spread over the packs).
        // `None`: nothing to read there; else whether the expected record is there.
        let probe = |seg: u32, off: u64, expect: Option<[u8; 32]>| -> Result<Option<bool>> {
            let Some((file, size)) = sizes.get(&seg) else {
                return Ok(None);
            };
            if off.saturating_add(HEADER_LEN as u64) > *size {
                return Ok(None);
            }
            let path = pack::pack_path(&dir, seg);
            let head = pack::read_at(file, &path, off, HEADER_LEN)?;
            let Some((recovery, key, _)) = blob::parse_any(&head) else {
                return Ok(Some(false));
            };
            let at = |v: Option<redb::AccessGuard<'_, &[u8]>>| {
                v.and_then(|v| postcard::from_bytes::<BlobLoc>(v.value()).ok())
                    .is_some_and(|l| l.seg == seg && l.off == off)
            };
            Ok(Some(match (expect, recovery) {
                (Some(k), _) => k == key,
                (None, false) => at(blobs.get(key.as_slice()).ok().flatten()),
                // A recovery record (a pack may start with one): where its table puts it?
                (None, true) => crate::recovery::record_key(&key).is_some_and(|k| {
                    recovery_table
                        .as_ref()
                        .is_some_and(|t| at(t.get(k).ok().flatten()))
                }),
            }))
        };
        let (mut readable, mut matched) = (0, 0);
        let mut count = |r: Option<bool>| {
            readable += usize::from(r.is_some());
            matched += usize::from(r == Some(true));
            matched > 0
        };
        let mut segs_sorted: Vec<u32> = sizes.keys().copied().collect();
        segs_sorted.sort_unstable();
        let mut found = false;
        for seg in segs_sorted {
            found |= count(probe(seg, 0, None)?);
        }
        if !found {
            for r in blobs.iter().map_err(|e| self.dberr(e))?.take(SAMPLES) {
                let (k, v) = r.map_err(|e| self.dberr(e))?;
                let (Ok(key), Ok(loc)) = (
                    <[u8; 32]>::try_from(k.value()),
                    postcard::from_bytes::<BlobLoc>(v.value()),
                ) else {
                    continue;
                };
                if count(probe(loc.seg, loc.off, Some(key))?) {
                    found = true;
                    break;
                }
            }
        }
        if !found && let Some(rt) = &recovery_table {
            for r in rt.iter().map_err(|e| self.dberr(e))?.take(SAMPLES) {
                let (_, v) = r.map_err(|e| self.dberr(e))?;
                let Ok(loc) = postcard::from_bytes::<BlobLoc>(v.value()) else {
                    continue;
                };
                if count(probe(loc.seg, loc.off, None)?) {
                    break;
                }
            }
        }
        if readable > 0 && matched == 0 {
            return Err(StoreError::ForeignPacks {
                path: dir.display().to_string(),
                detail: "no record is where this store's database put it".into(),
            });
        }
        Ok(short)
    }

    /// With short packs: the blobs past a pack's end, the contents that need them and the
    /// messages of those contents. One pass over the blob index, the contents and the message
    /// records (only for a damaged store).
    pub(crate) fn assess_damage(&self, short: &BTreeMap<u32, ShortPack>) -> Result<Damage> {
        let mut damage = Damage {
            short: short.clone(),
            ..Damage::default()
        };
        let t = self.read_txn()?;
        if let Some(table) = self.optional_table(&t, DAMAGED)? {
            for r in table.iter().map_err(|e| self.dberr(e))? {
                let (k, v) = r.map_err(|e| self.dberr(e))?;
                let (why, content) = postcard::from_bytes::<(String, Option<[u8; 32]>)>(v.value())
                    .unwrap_or_else(|_| ("damaged".into(), None));
                damage.contents.extend(content);
                damage.messages.insert(k.value(), (why, content));
            }
        }
        if let Some(table) = self.optional_table(&t, DAMAGED_BLOBS)? {
            for r in table.iter().map_err(|e| self.dberr(e))? {
                let (k, _) = r.map_err(|e| self.dberr(e))?;
                if let Ok(b) = <[u8; 32]>::try_from(k.value()) {
                    damage.blobs.insert(b);
                }
            }
        }
        if short.is_empty() {
            return Ok(damage);
        }
        let blobs = t.open_table(BLOBS).map_err(|e| self.dberr(e))?;
        for r in blobs.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let (Ok(key), Ok(loc)) = (
                <[u8; 32]>::try_from(k.value()),
                postcard::from_bytes::<BlobLoc>(v.value()),
            ) else {
                continue;
            };
            if short.get(&loc.seg).is_some_and(|s| {
                loc.off
                    .saturating_add(HEADER_LEN as u64)
                    .saturating_add(loc.len as u64)
                    > s.actual
            }) {
                damage.blobs.insert(key);
            }
        }
        if damage.blobs.is_empty() {
            return Ok(damage);
        }
        let bad_contents = &mut damage.contents;
        let contents = t.open_table(CONTENTS).map_err(|e| self.dberr(e))?;
        for r in contents.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let Ok(key) = <[u8; 32]>::try_from(k.value()) else {
                continue;
            };
            let rec: ContentRecord = match records::open(
                &self.keys().record_sealer,
                &records::content_ad(&key),
                v.value(),
                "a content record",
            ) {
                Ok(r) => r,
                Err(_) => {
                    bad_contents.insert(key);
                    continue;
                }
            };
            if damage.blobs.contains(&rec.skeleton)
                || rec.inserts.iter().any(|i| damage.blobs.contains(&i.blob))
            {
                bad_contents.insert(key);
            }
        }
        let messages = t.open_table(MESSAGES).map_err(|e| self.dberr(e))?;
        for r in messages.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let num = k.value();
            let why = match records::open::<MessageRecord>(
                &self.keys().record_sealer,
                &records::message_ad(num),
                v.value(),
                "a message record",
            ) {
                Ok(rec) if bad_contents.contains(&rec.content_key) => (
                    "its content lies in a pack that is shorter than it was written".to_string(),
                    Some(rec.content_key),
                ),
                Ok(_) => continue,
                Err(e) => (format!("its record cannot be read: {e}"), None),
            };
            damage.messages.insert(num, why);
        }
        Ok(damage)
    }

    /// Packs shorter than committed (data lost outside Arkiv), found at open.
    pub fn short_packs(&self) -> Vec<ShortPack> {
        self.damage().short.values().copied().collect()
    }

    /// Why message `num` cannot be read, when that is known (found at open or by `verify`).
    pub fn damaged_message(&self, num: u64) -> Option<String> {
        self.damage().messages.get(&num).map(|m| m.0.clone())
    }

    /// Every message known to be damaged, with the reason.
    pub fn damaged_messages(&self) -> BTreeMap<u64, String> {
        self.damage()
            .messages
            .iter()
            .map(|(n, m)| (*n, m.0.clone()))
            .collect()
    }

    /// Whether a blob is known to be damaged (new content stores it again).
    pub(crate) fn blob_is_damaged(&self, id: &[u8; 32]) -> bool {
        self.damage().blobs.contains(id)
    }

    /// Whether a content is known to be damaged (it is stored again when archived again).
    pub(crate) fn content_is_damaged(&self, key: &[u8; 32]) -> bool {
        self.damage().contents.contains(key)
    }

    /// What a verification found: the damaged messages, contents and blobs replace what was
    /// known (a damage repaired since, by a restored pack, is forgotten), and the messages are
    /// kept in the `damaged` table when the store is writable.
    pub(crate) fn record_findings(
        &self,
        messages: BTreeMap<u64, (String, Option<[u8; 32]>)>,
        contents: HashSet<[u8; 32]>,
        blobs: HashSet<[u8; 32]>,
    ) {
        // Keeping the findings is a convenience for listings: a full disk must not turn a
        // verification into a failure (the report says everything all the same).
        if let Some(db) = self.rw_db() {
            let keep = || -> Result<()> {
                let txn = db.begin_write().map_err(|e| self.dberr(e))?;
                {
                    let mut t = txn.open_table(DAMAGED).map_err(|e| self.dberr(e))?;
                    t.retain(|_, _| false).map_err(|e| self.dberr(e))?;
                    for (num, found) in &messages {
                        let v = postcard::to_stdvec(found).expect("serializes");
                        t.insert(*num, v.as_slice()).map_err(|e| self.dberr(e))?;
                    }
                    let mut b = txn.open_table(DAMAGED_BLOBS).map_err(|e| self.dberr(e))?;
                    b.retain(|_, _| false).map_err(|e| self.dberr(e))?;
                    for blob in &blobs {
                        b.insert(blob.as_slice(), ()).map_err(|e| self.dberr(e))?;
                    }
                }
                txn.commit().map_err(|e| self.dberr(e))
            };
            if let Err(e) = keep() {
                eprintln!("warning: verify's findings are not kept for listings: {e}");
            }
        }
        let mut d = self.damage();
        d.messages = messages;
        d.contents = contents;
        d.blobs = blobs;
    }

    /// After a commit: deleted messages, and blobs and contents stored again whole, are no
    /// longer damaged (messages of a content stored again read whole again).
    pub(crate) fn forget_damage(&self, nums: &[u64], contents: &[[u8; 32]], blobs: &[[u8; 32]]) {
        let mut d = self.damage();
        for n in nums {
            d.messages.remove(n);
        }
        for b in blobs {
            d.blobs.remove(b);
        }
        for c in contents {
            d.contents.remove(c);
        }
        d.messages
            .retain(|_, (_, c)| !c.is_some_and(|c| contents.contains(&c)));
    }
}
