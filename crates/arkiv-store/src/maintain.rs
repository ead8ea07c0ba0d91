//! Store maintenance (manual §5.15, "Maintenance of Archive Stores"; API `CompactStore`,
//! `RefreshAllStoreStatistics`, `RepairStoreDatabase`, `MaintainFileSystemDatabases`).
//!
//! * **Compaction** frees what deleted messages left behind. Deleting a message removes its
//!   record at once, but its content may be shared, so content records and blobs stay until
//!   compaction finds nothing refers to them. One transaction drops the dead content records;
//!   then each pack holding a dead blob is rewritten in a transaction of its own: its live
//!   blobs are copied, byte for byte (a blob is sealed to its id, not to its place), into the
//!   pack being appended to, the blob index is pointed at the copies and the old pack is
//!   retired; only after that commit is its file deleted. A crash before a commit leaves the
//!   copies as an uncommitted tail (cut off by the next writable open); a crash after it
//!   leaves a retired file (deleted by the next writable open). Each pack is as before or as
//!   after, never between, and a transaction never holds more than one pack's changes.
//! * **Statistics** are recounted from the records themselves.
//! * **Repair** rebuilds the derived tables (placements, folder lists, folder counts, source
//!   items, counters) from the message records, the store's primary data.
//! * **Database maintenance** checks the redb file (repairing its allocator state if needed) and
//!   compacts it; it needs the store to itself ([`Store::maintain_database`] takes `&mut`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use arkiv_types::MessageId;
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::Serialize;

use crate::blob::{self, HEADER_LEN};
use crate::error::{Result, StoreError};
use crate::pack;
use crate::records::{self, BlobLoc, ContentRecord, MessageRecord, StoreCounters};
use crate::store::{
    BLOBS, CONTENTS, FOLDER_COUNTS, FOLDER_MESSAGES, MESSAGES, PLACEMENTS, RETIRED, SEGMENTS,
    SOURCE_ITEMS, Store, WriteSession,
};

/// What a compaction did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompactReport {
    /// Content records no message refers to any more, removed.
    pub contents_removed: u64,
    /// Blobs no content refers to any more, removed.
    pub blobs_removed: u64,
    /// Packs rewritten (each held at least one removed blob).
    pub packs_rewritten: u64,
    /// Live blobs copied out of those packs.
    pub blobs_moved: u64,
    /// Bytes of all committed packs before and after.
    pub pack_bytes_before: u64,
    pub pack_bytes_after: u64,
}

/// What a repair of the derived tables found and fixed.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepairReport {
    pub messages: u64,
    /// Entries that were missing, wrong or left over, per table.
    pub placements_fixed: u64,
    pub folder_entries_fixed: u64,
    pub source_entries_fixed: u64,
    pub folder_counts_fixed: u64,
    /// Whether the running totals had to be corrected.
    pub statistics_fixed: bool,
    /// Messages whose sealed record cannot be opened: kept as they are (verify names them).
    pub unreadable_messages: Vec<String>,
}

/// What the redb housekeeping did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseMaintenance {
    /// The file failed redb's integrity check and was repaired.
    pub repaired: bool,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// What one pass over the message records gathers: small per message, so that maintenance
/// of a store of millions of messages stays within a few hundred MB (the records themselves,
/// with their summaries, are read one at a time and dropped).
#[derive(Default)]
struct Tally {
    messages: u64,
    original_bytes: u64,
    /// Folder → (messages, original bytes).
    folders: BTreeMap<u64, (u64, u64)>,
    /// Content keys some message refers to.
    live_contents: HashSet<[u8; 32]>,
    /// Message records that cannot be opened.
    unreadable: Vec<u64>,
}

impl Tally {
    fn count(&mut self, rec: &MessageRecord) {
        self.messages += 1;
        self.original_bytes += rec.size;
        let f = self.folders.entry(rec.folder.0).or_default();
        f.0 += 1;
        f.1 += rec.size;
        self.live_contents.insert(rec.content_key);
    }
}

impl WriteSession {
    fn open_message(&self, num: u64, sealed: &[u8]) -> Result<MessageRecord> {
        records::open(
            &self.store().keys().record_sealer,
            &records::message_ad(num),
            sealed,
            "a message record",
        )
    }

    /// One pass over the message records: `each` sees every readable one; the tally counts.
    fn scan_messages(&self, mut each: impl FnMut(u64, &MessageRecord)) -> Result<Tally> {
        let m = self.tx().open_table(MESSAGES).map_err(|e| self.e(e))?;
        let mut t = Tally::default();
        for r in m.iter().map_err(|e| self.e(e))? {
            let (k, v) = r.map_err(|e| self.e(e))?;
            match self.open_message(k.value(), v.value()) {
                Ok(rec) => {
                    t.count(&rec);
                    each(k.value(), &rec);
                }
                Err(_) => t.unreadable.push(k.value()),
            }
        }
        Ok(t)
    }

    /// Recounts the running totals and the per-folder counts from the tables; returns whether
    /// anything differed from what was recorded.
    fn recount(&mut self, tally: &Tally) -> Result<(bool, u64)> {
        let mut c = StoreCounters {
            messages: tally.messages,
            original_bytes: tally.original_bytes,
            ..Default::default()
        };
        let folders = &tally.folders;
        {
            let ct = self.tx().open_table(CONTENTS).map_err(|e| self.e(e))?;
            for r in ct.iter().map_err(|e| self.e(e))? {
                let (k, v) = r.map_err(|e| self.e(e))?;
                let key: [u8; 32] = k.value().try_into().unwrap_or([0; 32]);
                c.contents += 1;
                if let Ok(rec) = records::open::<ContentRecord>(
                    &self.store().keys().record_sealer,
                    &records::content_ad(&key),
                    v.value(),
                    "a content record",
                ) {
                    c.content_bytes += rec.size;
                }
            }
            let bt = self.tx().open_table(BLOBS).map_err(|e| self.e(e))?;
            for r in bt.iter().map_err(|e| self.e(e))? {
                let (_, v) = r.map_err(|e| self.e(e))?;
                c.blobs += 1;
                if let Ok(loc) = postcard::from_bytes::<BlobLoc>(v.value()) {
                    c.blob_bytes += loc.raw_len;
                    c.stored_bytes += HEADER_LEN as u64 + loc.len as u64;
                }
            }
        }
        let mut folder_fixes = 0u64;
        {
            let mut fc = self.tx().open_table(FOLDER_COUNTS).map_err(|e| self.e(e))?;
            let mut recorded: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
            for r in fc.iter().map_err(|e| self.e(e))? {
                let (k, v) = r.map_err(|e| self.e(e))?;
                recorded.insert(k.value(), v.value());
            }
            for (k, v) in &recorded {
                if folders.get(k) != Some(v) {
                    folder_fixes += 1;
                    fc.remove(*k).map_err(|e| self.e(e))?;
                }
            }
            for (k, v) in folders {
                if recorded.get(k) != Some(v) {
                    if !recorded.contains_key(k) {
                        folder_fixes += 1;
                    }
                    fc.insert(*k, *v).map_err(|e| self.e(e))?;
                }
            }
        }
        let changed = c != self.counters;
        self.counters = c;
        Ok((changed, folder_fixes))
    }

    /// Compaction, first step: drops the content records no message refers to and finds the
    /// blobs no remaining content refers to, by pack. The packs are left for
    /// [`WriteSession::rewrite_pack`] (one transaction each).
    fn plan_compaction(&mut self) -> Result<CompactPlan> {
        let tally = self.scan_messages(|_, _| {})?;
        if let Some(num) = tally.unreadable.first() {
            // Its content cannot be told apart from garbage: refuse rather than lose it.
            return Err(StoreError::Damaged {
                id: MessageId::new(self.store().id(), *num).to_string(),
                detail: format!(
                    "{} message record(s) cannot be opened; nothing was compacted (run verify)",
                    tally.unreadable.len()
                ),
            });
        }
        let mut live_blobs: HashSet<[u8; 32]> = HashSet::new();
        let mut dead_contents = Vec::new();
        {
            let ct = self.tx().open_table(CONTENTS).map_err(|e| self.e(e))?;
            for r in ct.iter().map_err(|e| self.e(e))? {
                let (k, v) = r.map_err(|e| self.e(e))?;
                let key: [u8; 32] = k.value().try_into().unwrap_or([0; 32]);
                if !tally.live_contents.contains(&key) {
                    dead_contents.push(key);
                    continue;
                }
                let rec: ContentRecord = records::open(
                    &self.store().keys().record_sealer,
                    &records::content_ad(&key),
                    v.value(),
                    "a content record",
                )
                .map_err(|e| StoreError::Damaged {
                    id: format!("store #{}", self.store().id().0),
                    detail: format!("{e}; nothing was compacted (run verify)"),
                })?;
                live_blobs.insert(rec.skeleton);
                live_blobs.extend(rec.inserts.iter().map(|i| i.blob));
            }
        }
        let mut plan = CompactPlan::default();
        {
            let bt = self.tx().open_table(BLOBS).map_err(|e| self.e(e))?;
            for r in bt.iter().map_err(|e| self.e(e))? {
                let (k, v) = r.map_err(|e| self.e(e))?;
                let key: [u8; 32] = k.value().try_into().unwrap_or([0; 32]);
                let loc: BlobLoc =
                    postcard::from_bytes(v.value()).map_err(|e| StoreError::Malformed {
                        what: "blob location".into(),
                        detail: e.to_string(),
                    })?;
                let pack = plan.packs.entry(loc.seg).or_default();
                if live_blobs.contains(&key) {
                    pack.live.push((key, loc));
                } else {
                    pack.dead.push((key, loc));
                }
            }
        }
        drop(live_blobs);
        // Packs without a dead blob stay as they are.
        plan.packs.retain(|_, p| !p.dead.is_empty());
        {
            let s = self.tx().open_table(SEGMENTS).map_err(|e| self.e(e))?;
            for r in s.iter().map_err(|e| self.e(e))? {
                plan.pack_bytes_before += r.map_err(|e| self.e(e))?.1.value();
            }
            let mut ct = self.tx().open_table(CONTENTS).map_err(|e| self.e(e))?;
            for k in &dead_contents {
                ct.remove(k.as_slice()).map_err(|e| self.e(e))?;
            }
        }
        plan.contents_removed = dead_contents.len() as u64;
        self.recount(&tally)?;
        Ok(plan)
    }

    /// Compaction, one pack: its dead blobs leave the index, its live ones are copied byte for
    /// byte into the pack being appended to (never one that is to be rewritten), and the pack
    /// moves from `segments` to `retired_packs`; all in this session's one commit.
    #[allow(clippy::too_many_arguments)]
    fn rewrite_pack(
        &mut self,
        seg: u32,
        pack: &mut PackPlan,
        retiring: &BTreeSet<u32>,
        snapshot: u64,
        done: &mut u64,
        total: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<()> {
        let store = self.store().clone();
        let path = pack::pack_path(&store.dirs().pack_dir(), seg);
        let file = store.pack_file(seg)?;
        let writer = self.pack_mut();
        if retiring.contains(&writer.current_segment()) {
            writer.start_fresh_segment()?;
        }
        pack.live.sort_by_key(|(_, l)| l.off);
        let mut moved = Vec::with_capacity(pack.live.len());
        for (key, loc) in &pack.live {
            let rec = pack::read_at(&file, &path, loc.off, HEADER_LEN + loc.len as usize)?;
            match blob::parse_header(&rec) {
                Some((k, len)) if &k == key && len == loc.len => {}
                _ => {
                    return Err(StoreError::Malformed {
                        what: format!("blob at {}:{}", path.display(), loc.off),
                        detail: "record header does not match the index; this pack was not compacted (run verify)".into(),
                    });
                }
            }
            let (nseg, off) = writer.append(&rec)?;
            moved.push((
                *key,
                BlobLoc {
                    seg: nseg,
                    off,
                    ..*loc
                },
            ));
            *done += 1;
            progress(*done, total);
        }
        // Recovery records: those of the snapshot written before this compaction and after it
        // are copied like live blobs; older ones go (deleted messages they could bring back
        // cannot be, once compacted, as in MailStore).
        let mut kept_records = Vec::new();
        let mut dropped_records = Vec::new();
        {
            let rt = self
                .tx()
                .open_table(crate::recovery::RECOVERY)
                .map_err(|e| self.e(e))?;
            for r in rt.iter().map_err(|e| self.e(e))? {
                let (k, v) = r.map_err(|e| self.e(e))?;
                let Ok(loc) = postcard::from_bytes::<BlobLoc>(v.value()) else {
                    continue;
                };
                if loc.seg != seg {
                    continue;
                }
                if k.value().0 >= snapshot {
                    kept_records.push((k.value(), loc));
                } else {
                    dropped_records.push(k.value());
                }
            }
        }
        let writer = self.pack_mut();
        let mut moved_records = Vec::with_capacity(kept_records.len());
        for (key, loc) in kept_records {
            let rec = pack::read_at(&file, &path, loc.off, HEADER_LEN + loc.len as usize)?;
            let (nseg, off) = writer.append(&rec)?;
            moved_records.push((
                key,
                BlobLoc {
                    seg: nseg,
                    off,
                    ..loc
                },
            ));
        }
        let (cur, cur_len) = (writer.current_segment(), writer.current_len());
        writer.lengths.insert(cur, cur_len);
        {
            let mut rt = self
                .tx()
                .open_table(crate::recovery::RECOVERY)
                .map_err(|e| self.e(e))?;
            for k in dropped_records {
                rt.remove(k).map_err(|e| self.e(e))?;
            }
            for (k, loc) in moved_records {
                let v = postcard::to_stdvec(&loc).expect("serializes");
                rt.insert(k, v.as_slice()).map_err(|e| self.e(e))?;
            }
        }
        for (_, loc) in &pack.dead {
            let c = &mut self.counters;
            c.blobs = c.blobs.saturating_sub(1);
            c.blob_bytes = c.blob_bytes.saturating_sub(loc.raw_len);
            c.stored_bytes = c
                .stored_bytes
                .saturating_sub(HEADER_LEN as u64 + loc.len as u64);
        }
        {
            let mut bt = self.tx().open_table(BLOBS).map_err(|e| self.e(e))?;
            for (key, _) in &pack.dead {
                bt.remove(key.as_slice()).map_err(|e| self.e(e))?;
            }
            for (key, loc) in &moved {
                let v = postcard::to_stdvec(loc).expect("serializes");
                bt.insert(key.as_slice(), v.as_slice())
                    .map_err(|e| self.e(e))?;
            }
            self.tx()
                .open_table(SEGMENTS)
                .map_err(|e| self.e(e))?
                .remove(seg)
                .map_err(|e| self.e(e))?;
            self.tx()
                .open_table(RETIRED)
                .map_err(|e| self.e(e))?
                .insert(seg, ())
                .map_err(|e| self.e(e))?;
        }
        Ok(())
    }
}

/// What compaction found to do.
#[derive(Default)]
struct CompactPlan {
    contents_removed: u64,
    pack_bytes_before: u64,
    /// Packs holding at least one dead blob: their dead and live blobs.
    packs: BTreeMap<u32, PackPlan>,
}

#[derive(Default)]
struct PackPlan {
    dead: Vec<([u8; 32], BlobLoc)>,
    live: Vec<([u8; 32], BlobLoc)>,
}

impl Store {
    /// Compacts the store: removes content and blobs no message refers to and rewrites the
    /// packs that held them (see the module documentation). One transaction drops the dead
    /// content records, then one per pack rewrites it, so the memory a transaction needs is
    /// bounded by a pack, not by the store. The caller keeps anything that could store content
    /// (imports, merges) from running meanwhile: a blob found dead must stay dead.
    /// `progress(done, total)` counts blobs copied.
    pub fn compact(
        self: &std::sync::Arc<Self>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<CompactReport> {
        let plan = {
            let mut s = self.write()?;
            let plan = s.plan_compaction()?;
            if plan.contents_removed > 0 {
                s.commit()?;
            }
            plan
        };
        let mut report = CompactReport {
            contents_removed: plan.contents_removed,
            pack_bytes_before: plan.pack_bytes_before,
            ..Default::default()
        };
        let retiring: BTreeSet<u32> = plan.packs.keys().copied().collect();
        let total: u64 = plan.packs.values().map(|p| p.live.len() as u64).sum();
        let mut done = 0;
        let dir = self.dirs().pack_dir();
        // Recovery records older than a snapshot are dropped from the packs rewritten: the
        // snapshot, committed first, describes everything they did.
        let snapshot = if retiring.is_empty() {
            0
        } else {
            let mut s = self.write()?;
            let (seq, _) = s.write_snapshot()?;
            s.commit()?;
            seq
        };
        for (seg, mut pack) in plan.packs {
            let mut s = self.write()?;
            s.rewrite_pack(
                seg, &mut pack, &retiring, snapshot, &mut done, total, progress,
            )?;
            s.commit()?;
            report.packs_rewritten += 1;
            report.blobs_removed += pack.dead.len() as u64;
            report.blobs_moved += pack.live.len() as u64;
            // Committed: nothing refers to the old pack any more. Delete it first, then drop
            // its cached handle: a reader that cached one in between would keep a deleted
            // file's space for as long as the store stays open.
            let p = pack::pack_path(&dir, seg);
            let removed = std::fs::remove_file(&p);
            self.forget_packs(&[seg]);
            if let Err(e) = removed
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(crate::error::io_err(&p, e));
            }
        }
        if report.packs_rewritten > 0
            && let Ok(d) = std::fs::File::open(&dir)
        {
            let _ = d.sync_all();
        }
        report.pack_bytes_after = {
            let t = self.read_txn()?;
            let segs = t.open_table(SEGMENTS).map_err(|e| self.dberr(e))?;
            let mut sum = 0;
            for r in segs.iter().map_err(|e| self.dberr(e))? {
                sum += r.map_err(|e| self.dberr(e))?.1.value();
            }
            sum
        };
        Ok(report)
    }

    /// Recounts the store's statistics (messages, sizes, per folder) from its records; returns
    /// the corrected counters and whether they had been wrong.
    pub fn refresh_statistics(self: &std::sync::Arc<Self>) -> Result<(StoreCounters, bool)> {
        let mut s = self.write()?;
        let tally = s.scan_messages(|_, _| {})?;
        let (changed, folder_fixes) = s.recount(&tally)?;
        let c = s.counters.clone();
        s.commit()?;
        Ok((c, changed || folder_fixes > 0))
    }

    /// Rebuilds the derived tables from the message records (API `RepairStoreDatabase`).
    pub fn repair_tables(self: &std::sync::Arc<Self>) -> Result<RepairReport> {
        let mut s = self.write()?;
        // Placements: one per (folder, content); the lowest number wins, as the import would.
        let mut placements: HashMap<[u8; 32], u64> = HashMap::new();
        let mut folder_entries: HashSet<(u64, u64)> = HashSet::new();
        let mut sources: HashMap<[u8; 32], Vec<u64>> = HashMap::new();
        let tally = s.scan_messages(|num, rec| {
            placements
                .entry(self.placement_key(rec.folder, &rec.hash))
                .or_insert(num);
            folder_entries.insert((rec.folder.0, num));
            if let Some(src) = &rec.source {
                sources
                    .entry(self.source_key(src, rec.user, &rec.hash))
                    .or_default()
                    .push(num);
            }
        })?;
        let mut report = RepairReport {
            messages: tally.messages,
            unreadable_messages: tally
                .unreadable
                .iter()
                .map(|n| MessageId::new(self.id(), *n).to_string())
                .collect(),
            ..Default::default()
        };
        report.placements_fixed = rebuild_bytes_u64(s.tx(), self, &placements)?;
        report.folder_entries_fixed = rebuild_folder_entries(s.tx(), self, &folder_entries)?;
        report.source_entries_fixed = rebuild_sources(s.tx(), self, &sources)?;
        let (changed, folder_fixes) = s.recount(&tally)?;
        report.statistics_fixed = changed;
        report.folder_counts_fixed = folder_fixes;
        s.commit()?;
        Ok(report)
    }

    /// Checks the database file (repairing redb's allocator state if it must) and compacts
    /// it. Needs the store to itself: the caller closes it to everyone else first.
    pub fn maintain_database(&mut self) -> Result<DatabaseMaintenance> {
        let path = self.db_path();
        let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let bytes_before = size();
        let db = self.database_mut()?;
        let ok = db
            .check_integrity()
            .map_err(|e| crate::error::db_err(&path, e))?;
        while db.compact().map_err(|e| crate::error::db_err(&path, e))? {}
        Ok(DatabaseMaintenance {
            repaired: !ok,
            bytes_before,
            bytes_after: size(),
        })
    }
}

fn rebuild_bytes_u64(
    txn: &WriteTransaction,
    store: &Store,
    want: &HashMap<[u8; 32], u64>,
) -> Result<u64> {
    let mut t = txn.open_table(PLACEMENTS).map_err(|e| store.dberr(e))?;
    let mut fixed = 0u64;
    let mut extra = Vec::new();
    for r in t.iter().map_err(|e| store.dberr(e))? {
        let (k, v) = r.map_err(|e| store.dberr(e))?;
        let key: [u8; 32] = k.value().try_into().unwrap_or([0; 32]);
        if want.get(&key) != Some(&v.value()) {
            extra.push(k.value().to_vec());
        }
    }
    for k in &extra {
        t.remove(k.as_slice()).map_err(|e| store.dberr(e))?;
    }
    fixed += extra.len() as u64;
    for (k, v) in want {
        if t.get(k.as_slice()).map_err(|e| store.dberr(e))?.is_none() {
            t.insert(k.as_slice(), *v).map_err(|e| store.dberr(e))?;
            fixed += 1;
        }
    }
    Ok(fixed)
}

fn rebuild_folder_entries(
    txn: &WriteTransaction,
    store: &Store,
    want: &HashSet<(u64, u64)>,
) -> Result<u64> {
    let mut t = txn
        .open_table(FOLDER_MESSAGES)
        .map_err(|e| store.dberr(e))?;
    let mut extra = Vec::new();
    for r in t.iter().map_err(|e| store.dberr(e))? {
        let (k, _) = r.map_err(|e| store.dberr(e))?;
        if !want.contains(&k.value()) {
            extra.push(k.value());
        }
    }
    for k in &extra {
        t.remove(*k).map_err(|e| store.dberr(e))?;
    }
    let mut fixed = extra.len() as u64;
    if t.len().map_err(|e| store.dberr(e))? < want.len() as u64 {
        for k in want {
            if t.get(*k).map_err(|e| store.dberr(e))?.is_none() {
                t.insert(*k, ()).map_err(|e| store.dberr(e))?;
                fixed += 1;
            }
        }
    }
    Ok(fixed)
}

fn rebuild_sources(
    txn: &WriteTransaction,
    store: &Store,
    want: &HashMap<[u8; 32], Vec<u64>>,
) -> Result<u64> {
    let mut t = txn.open_table(SOURCE_ITEMS).map_err(|e| store.dberr(e))?;
    let mut wrong = Vec::new();
    for r in t.iter().map_err(|e| store.dberr(e))? {
        let (k, v) = r.map_err(|e| store.dberr(e))?;
        let key: [u8; 32] = k.value().try_into().unwrap_or([0; 32]);
        let have: Vec<u64> = postcard::from_bytes(v.value()).unwrap_or_default();
        if want.get(&key) != Some(&have) {
            wrong.push(k.value().to_vec());
        }
    }
    for k in &wrong {
        t.remove(k.as_slice()).map_err(|e| store.dberr(e))?;
    }
    let mut fixed = wrong.len() as u64;
    for (k, v) in want {
        if t.get(k.as_slice()).map_err(|e| store.dberr(e))?.is_none() {
            let bytes = postcard::to_stdvec(v).expect("serializes");
            t.insert(k.as_slice(), bytes.as_slice())
                .map_err(|e| store.dberr(e))?;
            fixed += 1;
        }
    }
    Ok(fixed)
}
