//! Store and master-database maintenance (manual §5.15 "Maintenance of Archive Stores"; API
//! `CompactStore`, `CompactMasterDatabase`, `MaintainFileSystemDatabases`,
//! `RefreshAllStoreStatistics`, `RepairStoreDatabase`, `MergeStore`, `SetStoreProperties`).
//!
//! The work on one store's files is in `arkiv-store` (`maintain.rs`); here it is applied to
//! the registered stores, with the store taken out of service while redb needs it alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use arkiv_store::{CompactReport, DatabaseMaintenance, RepairReport};
use arkiv_store::{Store, StoreDirs};
use arkiv_types::{StoreId, StoreStatus, Timestamp};
use redb::{ReadableTable, TableDefinition};
use serde::Serialize;

use crate::error::{ArchiveError, Result, invalid};
use crate::master::{Archive, MasterDb};
use crate::stores::{MAINTENANCE, StoreSlot};

/// (destination, source) → when the merge started: merges not finished yet.
pub(crate) const PENDING_MERGES: TableDefinition<(u32, u32), i64> =
    TableDefinition::new("pending_merges");

/// How long maintenance waits for running work (a search, an import) to let go of a store.
const ALONE_WAIT: Duration = Duration::from_secs(60);

/// What `CompactStore` did: the packs, then the database file.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreCompaction {
    pub store: u32,
    pub packs: CompactReport,
    pub database: DatabaseMaintenance,
}

/// What `MergeStore` did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeReport {
    /// Messages copied into the destination.
    pub copied: u64,
    /// Messages the destination already held in the same folder (an earlier, interrupted merge,
    /// or the same message archived twice): not copied again.
    pub already_there: u64,
    /// Damaged messages of the source (unreadable bytes): left where they are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub damaged: Vec<String>,
}

impl Archive {
    /// Runs `f` with a store nobody else holds: it is marked unavailable ("maintenance"),
    /// running work is given [`ALONE_WAIT`] to let go, and it is put back afterwards.
    fn with_store_alone<T>(
        &self,
        id: StoreId,
        f: impl FnOnce(&mut Store) -> Result<T>,
    ) -> Result<T> {
        let store = {
            let mut slots = self.stores.lock().unwrap_or_else(|p| p.into_inner());
            match slots.get(&id) {
                Some(StoreSlot::Open { entry, store }) => {
                    let (entry, store) = (entry.clone(), store.clone());
                    slots.insert(
                        id,
                        StoreSlot::Closed {
                            entry,
                            why: MAINTENANCE.into(),
                        },
                    );
                    store
                }
                Some(StoreSlot::Closed { why, .. }) => {
                    return Err(ArchiveError::StoreUnavailable {
                        id: id.0,
                        why: why.clone(),
                    });
                }
                None => return Err(ArchiveError::NoSuchStore(id.0)),
            }
        };
        // The store's search index keeps no handle on it; only running work does.
        let deadline = Instant::now() + ALONE_WAIT;
        let mut arc = store;
        // Back with the registry's entry as it is now (its status may have changed meanwhile).
        let put_back = |store: Arc<Store>| {
            let mut slots = self.stores.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(StoreSlot::Closed { why, entry: now }) = slots.get(&id)
                && why == MAINTENANCE
            {
                let now = now.clone();
                let slot = if now.status == StoreStatus::Disabled {
                    StoreSlot::Closed {
                        entry: now,
                        why: "the store is disabled".into(),
                    }
                } else {
                    StoreSlot::Open { entry: now, store }
                };
                slots.insert(id, slot);
            }
        };
        let mut alone = loop {
            match Arc::try_unwrap(arc) {
                Ok(s) => break s,
                Err(a) if Instant::now() < deadline => {
                    arc = a;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(a) => {
                    put_back(a);
                    return Err(invalid(
                        "store",
                        format!(
                            "#{} is busy (an import or another task holds it); try again later",
                            id.0
                        ),
                    ));
                }
            }
        };
        let r = f(&mut alone);
        put_back(Arc::new(alone));
        r
    }

    fn writable_store(&self, id: StoreId, what: &str) -> Result<Arc<Store>> {
        let store = self.store(id)?;
        if self.is_read_only() {
            return Err(self.dberr("the archive was opened read-only"));
        }
        if !self.store_status(id).is_some_and(|s| s.is_writable()) {
            return Err(invalid(
                "store",
                format!("#{} is write-protected: {what} would change it", id.0),
            ));
        }
        Ok(store)
    }

    /// Rebuilds a store's database from its packs' recovery records (API `RecoverStore`,
    /// `arkiv store recover`). As the manual says, the store must be disabled or in error
    /// (not open): a working store's database is not to be replaced under running work. The
    /// old database is kept beside (`store.redb.broken-<time>`), the search index is rebuilt,
    /// and the store is opened again unless it is disabled.
    pub fn recover_store(
        &self,
        id: StoreId,
        recover_deleted: bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<arkiv_store::RecoverReport> {
        if self.is_read_only() {
            return Err(self.dberr("the archive was opened read-only"));
        }
        let entry = self
            .read_entries()?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or(ArchiveError::NoSuchStore(id.0))?;
        if let Some(StoreSlot::Open { .. }) = self
            .stores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            return Err(invalid(
                "store",
                format!(
                    "#{} is open and working: RecoverStore rebuilds the database of a store that is disabled or cannot be opened (set it to disabled first)",
                    id.0
                ),
            ));
        }
        self.indexes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        let dirs = self.dirs_of(&entry);
        let report = Store::recover(id, &dirs, &self.master(), recover_deleted, progress)?;
        // The index described the old database: rebuilt from the recovered one.
        let index = dirs.meta.join("index");
        if index.exists() {
            std::fs::remove_dir_all(&index).map_err(|e| crate::error::io_err(&index, e))?;
        }
        self.retry_open_stores()?;
        if let Ok(store) = self.store(id) {
            self.catch_up_index(&mut |_| {})?;
            self.sync_store_folders(&store)?;
        }
        Ok(report)
    }

    /// Writes a store's recovery records anew (API `RecreateRecoveryRecords`): a snapshot
    /// of its whole state, so that `RecoverStore` needs nothing older.
    pub fn recreate_recovery_records(&self, id: StoreId) -> Result<arkiv_store::RecreateReport> {
        let store = self.store(id)?;
        if self.is_read_only() {
            return Err(self.dberr("the archive was opened read-only"));
        }
        let _steady = self.compaction.read().unwrap_or_else(|p| p.into_inner());
        Ok(store.recreate_recovery_records()?)
    }

    /// Whether a compaction waits for the running imports to end.
    pub(crate) fn compaction_waiting(&self) -> bool {
        self.compaction_wanted
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Compacts one store (API `CompactStore`): frees what deleted messages left behind, then
    /// compacts its database file.
    pub fn compact_store(
        &self,
        id: StoreId,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<StoreCompaction> {
        let store = self.writable_store(id, "compacting")?;
        // Not while an import runs (see `Archive::compaction`); imports wait for this one.
        // The journal's import ends its run when it sees a compaction waiting, so wait a
        // little for that (never queued on the lock: see ARCHITECTURE.md).
        let _alone = {
            use std::sync::atomic::Ordering;
            self.compaction_wanted.store(true, Ordering::SeqCst);
            let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let taken = loop {
                match self.compaction.try_write() {
                    Ok(g) => break Some(g),
                    Err(std::sync::TryLockError::Poisoned(p)) => break Some(p.into_inner()),
                    Err(std::sync::TryLockError::WouldBlock)
                        if std::time::Instant::now() < until =>
                    {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    Err(std::sync::TryLockError::WouldBlock) => break None,
                }
            };
            self.compaction_wanted.store(false, Ordering::SeqCst);
            taken.ok_or_else(|| {
                invalid(
                    "store",
                    "an import, merge or verification is running; compact when it has finished",
                )
            })?
        };
        let packs = store.compact(progress)?;
        drop(store);
        let database = self.with_store_alone(id, |s| Ok(s.maintain_database()?))?;
        Ok(StoreCompaction {
            store: id.0,
            packs,
            database,
        })
    }

    /// Checks and compacts the master database file (API `CompactMasterDatabase`). Waits for
    /// running transactions to end; nothing else touches the master database meanwhile.
    pub fn compact_master(&self) -> Result<DatabaseMaintenance> {
        let path = self.dir.join(crate::master::MASTER_DB);
        let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let bytes_before = size();
        let deadline = Instant::now() + ALONE_WAIT;
        loop {
            // Polled, never queued: a waiting writer would block new readers, and a thread that
            // holds a write transaction may still need a read one to finish it.
            let mut db = match self.db.try_write() {
                Ok(db) => db,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    return Err(self.dberr("busy: the master database stayed in use for 60 s"));
                }
            };
            let MasterDb::Rw(d) = &mut *db else {
                return Err(self.dberr("the archive was opened read-only"));
            };
            let ok = match d.check_integrity() {
                Ok(ok) => ok,
                Err(redb::DatabaseError::TransactionInProgress) if Instant::now() < deadline => {
                    drop(db);
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Err(e) => return Err(self.dberr(e)),
            };
            loop {
                match d.compact() {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => return Err(self.dberr(e)),
                }
            }
            return Ok(DatabaseMaintenance {
                repaired: !ok,
                bytes_before,
                bytes_after: size(),
            });
        }
    }

    /// Checks and compacts the database files of every open store and of the master database
    /// (API `MaintainFileSystemDatabases`; MailStore's "Maintain All FDB Files").
    pub fn maintain_databases(
        &self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Vec<(String, DatabaseMaintenance)>> {
        let ids: Vec<StoreId> = self.open_stores().iter().map(|s| s.id()).collect();
        let total = ids.len() as u64 + 1;
        let mut out = vec![("master".to_string(), self.compact_master()?)];
        progress(1, total);
        for (i, id) in ids.into_iter().enumerate() {
            let m = self.with_store_alone(id, |s| Ok(s.maintain_database()?))?;
            out.push((format!("store #{}", id.0), m));
            progress(i as u64 + 2, total);
        }
        Ok(out)
    }

    /// Recounts the statistics of every open store (API `RefreshAllStoreStatistics`); returns
    /// the stores whose figures were wrong.
    pub fn refresh_store_statistics(&self) -> Result<Vec<u32>> {
        let mut fixed = Vec::new();
        for store in self.open_stores() {
            if self.is_read_only() {
                return Err(self.dberr("the archive was opened read-only"));
            }
            if store.refresh_statistics()?.1 {
                fixed.push(store.id().0);
            }
        }
        Ok(fixed)
    }

    /// Repairs one store's database (API `RepairStoreDatabase`): redb's integrity check and
    /// repair, then the derived tables rebuilt from the message records, then the search index
    /// brought up to date with whatever moved.
    pub fn repair_store(&self, id: StoreId) -> Result<(DatabaseMaintenance, RepairReport)> {
        if self.is_read_only() {
            return Err(self.dberr("the archive was opened read-only"));
        }
        let db = self.with_store_alone(id, |s| Ok(s.maintain_database()?))?;
        let report = self.store(id)?.repair_tables()?;
        Ok((db, report))
    }

    /// Copies every message of `source` into `dest` (API `MergeStore`). As in MailStore, the
    /// source store stays unchanged: the administrator detaches it afterwards (until then,
    /// searches find the messages in both). Messages are copied in durable batches; running
    /// the merge again after a crash or a cancel copies only what is missing (a message the
    /// destination holds in that folder already is skipped). `cancelled` is asked between
    /// batches.
    pub fn merge_store(
        &self,
        dest: StoreId,
        source: StoreId,
        progress: &mut dyn FnMut(u64, u64),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<MergeReport> {
        if dest == source {
            return Err(invalid("store", "a store cannot be merged into itself"));
        }
        let to = self.writable_store(dest, "merging into it")?;
        let from = self.store(source)?;
        if self.store_status(source) == Some(StoreStatus::Current) {
            return Err(invalid(
                "store",
                format!(
                    "#{} is the current store: make another one current before merging it",
                    source.0
                ),
            ));
        }
        // It stores content: not while a compaction decides what is garbage.
        let _steady = self.compaction.read().unwrap_or_else(|p| p.into_inner());
        // Until it ends, the merge is noted in the master database: one cut short by a crash
        // is resumed at the next writable open (`resume_merges`), so a half-copied store
        // does not stay behind for an administrator to notice.
        self.note_merge(dest, source, true)?;
        let report = self.copy_store(&to, &from, progress, cancelled);
        if matches!(&report, Ok(_) | Err(ArchiveError::Cancelled)) {
            // Finished, or stopped on purpose: nothing to resume.
            self.note_merge(dest, source, false)?;
        }
        drop((to, from));
        let report = report?;
        self.catch_up_index(&mut |_| {})?;
        self.sync_store_folders(&self.store(dest)?)?;
        Ok(report)
    }

    fn note_merge(&self, dest: StoreId, source: StoreId, pending: bool) -> Result<()> {
        let txn = self.write_txn()?;
        {
            let mut t = txn.open_table(PENDING_MERGES).map_err(|e| self.dberr(e))?;
            if pending {
                t.insert((dest.0, source.0), Timestamp::now().0)
                    .map_err(|e| self.dberr(e))?;
            } else {
                t.remove((dest.0, source.0)).map_err(|e| self.dberr(e))?;
            }
        }
        txn.commit().map_err(|e| self.dberr(e))
    }

    /// Merges that a crash cut short: (destination, source).
    pub fn pending_merges(&self) -> Result<Vec<(StoreId, StoreId)>> {
        let t = self.read_txn()?;
        let Some(table) = self.optional_table(&t, PENDING_MERGES)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for r in table.iter().map_err(|e| self.dberr(e))? {
            let (k, _) = r.map_err(|e| self.dberr(e))?;
            let (d, s) = k.value();
            out.push((StoreId(d), StoreId(s)));
        }
        Ok(out)
    }

    /// Finishes the merges a crash cut short (at every writable open). Copying again skips
    /// what the destination already holds, so a resumed merge copies only what is missing.
    /// One that cannot go on now (a store unavailable) stays noted and is said on stderr.
    pub(crate) fn resume_merges(&self) -> Result<()> {
        for (dest, source) in self.pending_merges()? {
            eprintln!(
                "arkiv: resuming the merge of archive store #{} into #{} that was interrupted",
                source.0, dest.0
            );
            let outcome = match self.merge_store(dest, source, &mut |_, _| {}, &|| false) {
                Ok(r) => format!(
                    "succeeded: {} copied, {} were there already",
                    r.copied, r.already_there
                ),
                Err(e) => {
                    eprintln!("arkiv: the merge cannot be resumed now: {e}");
                    format!("failed: {e}")
                }
            };
            self.audit(&crate::audit::Entry {
                user: "operator",
                client: "local",
                via: "Service",
                function: "MergeStore resumed",
                args: &[
                    ("id".into(), dest.0.to_string()),
                    ("sourceId".into(), source.0.to_string()),
                ],
                outcome: &outcome,
            })?;
        }
        Ok(())
    }

    fn copy_store(
        &self,
        to: &Arc<Store>,
        from: &Arc<Store>,
        progress: &mut dyn FnMut(u64, u64),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<MergeReport> {
        let threshold = self.config.storage.large_part_bytes as usize;
        let nums = from.message_nums()?;
        let total = nums.len() as u64;
        let mut report = MergeReport::default();
        const BATCH: usize = 200;
        const BATCH_BYTES: usize = 64 << 20;
        let mut i = 0;
        while i < nums.len() {
            if cancelled() {
                return Err(ArchiveError::Cancelled);
            }
            let mut batch = Vec::new();
            let mut bytes = 0usize;
            while i < nums.len() && batch.len() < BATCH && bytes < BATCH_BYTES {
                let num = nums[i];
                i += 1;
                let rec = from.message(num)?;
                // A damaged message stays in the source, named in the report: it costs only
                // itself, not the merge.
                let raw = match from.read_message(num) {
                    Ok(raw) => raw,
                    Err(arkiv_store::StoreError::Damaged { id, .. }) => {
                        report.damaged.push(id);
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                let envelope = from.envelope(num)?;
                bytes += raw.len();
                batch.push((rec, raw, envelope));
            }
            let mut w = to.write()?;
            for (rec, raw, envelope) in &batch {
                if w.find_placement(rec.folder, &rec.hash)?.is_some() {
                    report.already_there += 1;
                    continue;
                }
                let parsed = arkiv_message::parse(raw);
                let prepared = to.prepare(raw, rec.hash, &parsed, threshold)?;
                w.store_content(&prepared, raw, &parsed, threshold)?;
                let mut copy = rec.clone();
                copy.content_key = prepared.content_key;
                let id = w.add_message(&copy)?;
                if let Some(e) = envelope {
                    w.set_envelope(id.num, e)?;
                }
                report.copied += 1;
            }
            w.commit()?;
            progress(i as u64, total);
        }
        Ok(report)
    }

    /// Moves a disabled store's registration to new directories (API `SetStoreProperties`;
    /// manual §5.15 "Editing": after its files were moved, e.g. to another disk). The new place
    /// must hold this store: its database opens with this archive's key.
    pub fn set_store_dirs(
        &self,
        id: StoreId,
        meta: Option<&str>,
        content: Option<&str>,
    ) -> Result<()> {
        let info = self
            .stores()
            .into_iter()
            .find(|s| s.entry.id == id)
            .ok_or(ArchiveError::NoSuchStore(id.0))?;
        let mut entry = info.entry;
        if entry.status != StoreStatus::Disabled {
            return Err(invalid(
                "store",
                format!(
                    "#{} is {}: set it to disabled before changing its directories",
                    id.0, entry.status
                ),
            ));
        }
        let old = self.dirs_of(&entry);
        let dirs = StoreDirs {
            meta: meta.map(|m| self.resolve(m)).unwrap_or(old.meta),
            content: content.map(|c| self.resolve(c)).unwrap_or(old.content),
        };
        drop(Store::open_read_only(
            StoreId(0),
            dirs.clone(),
            &self.master(),
        )?);
        entry.meta_dir = self.relativize(&dirs.meta);
        entry.content_dir = self.relativize(&dirs.content);
        let txn = self.write_txn()?;
        self.write_entry(&txn, &entry)?;
        txn.commit().map_err(|e| self.dberr(e))?;
        self.load_stores()
    }
}
