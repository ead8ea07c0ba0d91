//! The registry of archive stores (manual §5.15) and the stores opened from it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arkiv_store::Store;
pub use arkiv_store::StoreDirs;
use arkiv_types::{StoreId, StoreStatus, Timestamp};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::error::{ArchiveError, Result, invalid};
use crate::master::{Archive, STORES};

/// A store as registered in the master database.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoreEntry {
    pub id: StoreId,
    pub name: String,
    /// Directory of the metadata database; relative paths are inside the data directory.
    pub meta_dir: String,
    /// Directory of the pack files.
    pub content_dir: String,
    pub status: StoreStatus,
    pub created_at: Timestamp,
}

/// Why a store is closed while maintenance has it to itself.
pub(crate) const MAINTENANCE: &str = "under maintenance";

pub(crate) enum StoreSlot {
    Open {
        entry: StoreEntry,
        store: Arc<Store>,
    },
    /// Registered but not usable (disabled, missing directory, wrong key...).
    Closed { entry: StoreEntry, why: String },
}

impl StoreSlot {
    fn entry(&self) -> &StoreEntry {
        match self {
            StoreSlot::Open { entry, .. } | StoreSlot::Closed { entry, .. } => entry,
        }
    }
}

/// A registered store that cannot be used now, and why. Disabled stores are not listed: they
/// are off on purpose. Whatever lists or counts messages says these are missing from it, so a
/// closed store never looks like an empty one.
#[derive(Clone, Debug, Serialize)]
pub struct UnavailableStore {
    pub store: u32,
    pub name: String,
    pub reason: String,
}

impl std::fmt::Display for UnavailableStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "archive store {} ({}) is unavailable, its messages are not included: {}",
            self.store, self.name, self.reason
        )
    }
}

/// A store and whether it could be opened.
#[derive(Clone, Debug, Serialize)]
pub struct StoreInfo {
    #[serde(flatten)]
    pub entry: StoreEntry,
    /// Why the store is not available (`None` when it is open).
    pub error: Option<String>,
}

impl Archive {
    pub(crate) fn resolve(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.dir.join(path)
        }
    }

    pub(crate) fn relativize(&self, p: &Path) -> String {
        p.strip_prefix(&self.dir)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.display().to_string())
    }

    pub(crate) fn dirs_of(&self, e: &StoreEntry) -> StoreDirs {
        StoreDirs {
            meta: self.resolve(&e.meta_dir),
            content: self.resolve(&e.content_dir),
        }
    }

    /// Opens the registered stores again: one that failed (a missing disk, since mounted)
    /// is retried (API `RetryOpenStores`).
    /// Open stores are left as they are (work in progress keeps them).
    pub fn retry_open_stores(&self) -> Result<()> {
        let closed: Vec<StoreEntry> = {
            let slots = self.stores.lock().unwrap_or_else(|p| p.into_inner());
            slots
                .values()
                .filter_map(|s| match s {
                    StoreSlot::Closed { entry, .. } => Some(entry.clone()),
                    StoreSlot::Open { .. } => None,
                })
                .collect()
        };
        for entry in closed {
            let slot = self.open_slot(entry);
            self.stores
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(slot.entry().id, slot);
        }
        Ok(())
    }

    /// (Re)reads the registry. A store that is open stays open (work in progress keeps its
    /// handle; reopening it would fail while that runs) unless it was disabled or moved; one
    /// under maintenance stays with its maintenance.
    pub(crate) fn load_stores(&self) -> Result<()> {
        let entries = self.read_entries()?;
        let mut slots = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        let mut old = std::mem::take(&mut *slots);
        for e in entries {
            let slot = match old.remove(&e.id) {
                Some(StoreSlot::Open { entry, store })
                    if e.status != StoreStatus::Disabled
                        && entry.meta_dir == e.meta_dir
                        && entry.content_dir == e.content_dir =>
                {
                    StoreSlot::Open { entry: e, store }
                }
                Some(StoreSlot::Closed { why, .. }) if why == MAINTENANCE => {
                    StoreSlot::Closed { entry: e, why }
                }
                _ => self.open_slot(e),
            };
            // Read-only, a store that was not closed cleanly cannot be repaired: the caller
            // opens the archive writably instead.
            if let StoreSlot::Closed { why, .. } = &slot
                && self.is_read_only()
                && why.contains("repair aborted")
            {
                return Err(self.dberr(format!("a store needs repair: {why}")));
            }
            slots.insert(slot.entry().id, slot);
        }
        Ok(())
    }

    pub(crate) fn open_slot(&self, entry: StoreEntry) -> StoreSlot {
        if entry.status == StoreStatus::Disabled {
            return StoreSlot::Closed {
                entry,
                why: "the store is disabled".into(),
            };
        }
        let opened = if self.is_read_only() {
            Store::open_read_only(entry.id, self.dirs_of(&entry), &self.master())
        } else {
            Store::open(
                entry.id,
                self.dirs_of(&entry),
                &self.master(),
                self.config.storage.pack_segment_bytes,
            )
        };
        match opened {
            Ok(s) => {
                let store = Arc::new(s);
                // A store written before recovery records existed gets its first snapshot
                // (and `store.keys`) at its first writable open.
                if !self.is_read_only()
                    && let Err(e) = self.first_recovery_records(&store)
                {
                    eprintln!(
                        "arkiv: archive store {} has no recovery records and they could not be written: {e}",
                        entry.id.0
                    );
                }
                StoreSlot::Open { entry, store }
            }
            Err(e) => StoreSlot::Closed {
                entry,
                why: e.to_string(),
            },
        }
    }

    /// Whether this master database was made anew by master recovery.
    pub(crate) fn master_rebuilt(&self) -> Result<bool> {
        let t = self.read_txn()?;
        let meta = t
            .open_table(crate::master::META)
            .map_err(|e| self.dberr(e))?;
        Ok(meta.get("rebuilt").map_err(|e| self.dberr(e))?.is_some())
    }

    fn first_recovery_records(&self, store: &Arc<Store>) -> Result<()> {
        if !store.has_recovery_records()? {
            eprintln!(
                "arkiv: writing the first recovery records of archive store {}",
                store.id().0
            );
            store.recreate_recovery_records()?;
        }
        Ok(())
    }

    pub(crate) fn read_entries(&self) -> Result<Vec<StoreEntry>> {
        let t = self.read_txn()?;
        let s = t.open_table(STORES).map_err(|e| self.dberr(e))?;
        let mut out = Vec::new();
        for r in s.iter().map_err(|e| self.dberr(e))? {
            let (_, v) = r.map_err(|e| self.dberr(e))?;
            out.push(postcard::from_bytes(v.value()).map_err(|e| self.dberr(e))?);
        }
        Ok(out)
    }

    pub(crate) fn write_entry(&self, txn: &redb::WriteTransaction, e: &StoreEntry) -> Result<()> {
        let v = postcard::to_stdvec(e).map_err(|e| self.dberr(e))?;
        txn.open_table(STORES)
            .map_err(|e| self.dberr(e))?
            .insert(e.id.0, v.as_slice())
            .map_err(|e| self.dberr(e))?;
        Ok(())
    }

    /// Creates a store. Without a name it is named `YYYY-MM` (manual §5.15) and placed under the
    /// configured base directory. A new current store demotes the old one to `normal`.
    pub fn create_store(
        &self,
        name: Option<String>,
        dirs: Option<StoreDirs>,
        status: StoreStatus,
    ) -> Result<StoreEntry> {
        let existing = self.read_entries()?;
        let name = match name {
            Some(n) if n.trim().is_empty() || n.contains(['/', '\\']) => {
                return Err(invalid(
                    "store name",
                    format!("'{n}' must be non-empty and contain no slashes"),
                ));
            }
            Some(n) => n,
            None => {
                let base = Timestamp::now().year_month();
                let mut n = base.clone();
                let mut i = 2;
                while existing.iter().any(|e| e.name == n)
                    || self
                        .resolve(&self.config.storage.base_directory)
                        .join(&n)
                        .exists()
                {
                    n = format!("{base}-{i}");
                    i += 1;
                }
                n
            }
        };
        if existing.iter().any(|e| e.name == name) {
            return Err(invalid(
                "store name",
                format!("a store named '{name}' exists"),
            ));
        }
        let dirs = dirs.unwrap_or_else(|| {
            StoreDirs::single(
                &self
                    .resolve(&self.config.storage.base_directory)
                    .join(&name),
            )
        });
        let _keys = self.key_lock.read().unwrap_or_else(|p| p.into_inner());
        let txn = self.write_txn()?;
        let id = StoreId(self.next_id(&txn, "next_store")? as u32);
        Store::create(
            id,
            dirs.clone(),
            &self.master(),
            self.config.storage.pack_segment_bytes,
        )?;
        let entry = StoreEntry {
            id,
            name,
            meta_dir: self.relativize(&dirs.meta),
            content_dir: self.relativize(&dirs.content),
            status,
            created_at: Timestamp::now(),
        };
        let mut demoted = Vec::new();
        if status == StoreStatus::Current {
            for mut e in existing
                .into_iter()
                .filter(|e| e.status == StoreStatus::Current)
            {
                e.status = StoreStatus::Normal;
                self.write_entry(&txn, &e)?;
                demoted.push(e);
            }
        }
        self.write_entry(&txn, &entry)?;
        txn.commit().map_err(|e| self.dberr(e))?;
        let mut slots = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        for e in demoted {
            if let Some(slot) = slots.get_mut(&e.id) {
                match slot {
                    StoreSlot::Open { entry, .. } | StoreSlot::Closed { entry, .. } => *entry = e,
                }
            }
        }
        let slot = self.open_slot(entry.clone());
        slots.insert(id, slot);
        Ok(entry)
    }

    /// Every registered store with its availability.
    pub fn stores(&self) -> Vec<StoreInfo> {
        let slots = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .values()
            .map(|s| match s {
                StoreSlot::Open { entry, .. } => StoreInfo {
                    entry: entry.clone(),
                    error: None,
                },
                StoreSlot::Closed { entry, why } => StoreInfo {
                    entry: entry.clone(),
                    error: Some(why.clone()),
                },
            })
            .collect()
    }

    /// The registered stores that are not disabled but cannot be used (see
    /// [`UnavailableStore`]).
    pub fn unavailable_stores(&self) -> Vec<UnavailableStore> {
        self.stores()
            .into_iter()
            .filter(|s| s.entry.status != StoreStatus::Disabled)
            .filter_map(|s| {
                s.error.map(|reason| UnavailableStore {
                    store: s.entry.id.0,
                    name: s.entry.name,
                    reason,
                })
            })
            .collect()
    }

    /// Directories under the stores' base directory that no registered store uses: each
    /// with whether it holds messages (a detached store, or one whose registration was lost)
    /// or nothing (left by a store creation that a crash cut short).
    pub fn unregistered_store_dirs(&self) -> Result<Vec<(PathBuf, bool)>> {
        let base = self.resolve(&self.config.storage.base_directory);
        let Ok(entries) = std::fs::read_dir(&base) else {
            return Ok(Vec::new());
        };
        let used: Vec<PathBuf> = self
            .read_entries()?
            .iter()
            .flat_map(|e| {
                let d = self.dirs_of(e);
                [d.meta, d.content]
            })
            .collect();
        let mut out = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            let looks_like_store = path.join("store.redb").exists()
                || path.join("packs").is_dir()
                || std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none());
            if !path.is_dir() || !looks_like_store || used.iter().any(|u| u.starts_with(&path)) {
                continue;
            }
            out.push((path.clone(), !self.holds_nothing(&path)));
        }
        out.sort();
        Ok(out)
    }

    /// Whether a store directory holds no message: nothing but a store database, its keys
    /// file and a pack directory without data. Anything else counts as holding something.
    fn holds_nothing(&self, dir: &Path) -> bool {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return false;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            match name.to_str() {
                Some("packs") => {
                    let Ok(packs) = std::fs::read_dir(e.path()) else {
                        return false;
                    };
                    if packs
                        .flatten()
                        .any(|p| p.metadata().map_or(true, |m| m.len() > 0))
                    {
                        return false;
                    }
                }
                // A message needs blobs in a pack: with no pack data there is none, whatever
                // the database (perhaps half created) says.
                Some("store.redb" | "store.keys" | "store.keys.tmp") => {}
                _ => return false,
            }
        }
        true
    }

    /// Removes the store directories a crash left empty (a store creation cut short before
    /// its registration), at every writable open; ones that hold messages are only reported
    /// (by `verify`): they may be detached stores kept on purpose.
    pub(crate) fn clean_orphan_store_dirs(&self) -> Result<()> {
        let mut removed = false;
        for (dir, holds) in self.unregistered_store_dirs()? {
            if holds {
                continue;
            }
            std::fs::remove_dir_all(&dir).map_err(|e| crate::error::io_err(&dir, e))?;
            removed = true;
            self.audit(&crate::audit::Entry {
                user: "operator",
                client: "local",
                via: "Service",
                function: "orphan store directory removed",
                args: &[("path".into(), dir.display().to_string())],
                outcome: "succeeded: it held no message and no store used it",
            })?;
        }
        if removed {
            crate::files::sync_dir(&self.resolve(&self.config.storage.base_directory))?;
        }
        Ok(())
    }

    /// Sets a store's status. Setting `current` demotes the previous current store to `normal`.
    pub fn set_store_status(&self, id: StoreId, status: StoreStatus) -> Result<()> {
        let entries = self.read_entries()?;
        let mut target = entries
            .iter()
            .find(|e| e.id == id)
            .cloned()
            .ok_or(ArchiveError::NoSuchStore(id.0))?;
        let txn = self.write_txn()?;
        if status == StoreStatus::Current {
            for mut e in entries
                .into_iter()
                .filter(|e| e.status == StoreStatus::Current && e.id != id)
            {
                e.status = StoreStatus::Normal;
                self.write_entry(&txn, &e)?;
            }
        }
        target.status = status;
        self.write_entry(&txn, &target)?;
        txn.commit().map_err(|e| self.dberr(e))?;
        self.load_stores()
    }

    /// Detaches a store (API `DetachStore`): it leaves the registry, its files stay where they
    /// are, and `attach_store` can bring it back. The current store cannot be detached.
    pub fn detach_store(&self, id: StoreId) -> Result<StoreEntry> {
        let entry = self
            .read_entries()?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or(ArchiveError::NoSuchStore(id.0))?;
        if entry.status == StoreStatus::Current {
            return Err(invalid(
                "store",
                format!(
                    "#{} is the current store: make another one current first",
                    id.0
                ),
            ));
        }
        // The detached store leaves with the names of its folders.
        if let Ok(store) = self.store(id) {
            self.sync_store_folders(&store)?;
        }
        let txn = self.write_txn()?;
        txn.open_table(STORES)
            .map_err(|e| self.dberr(e))?
            .remove(id.0)
            .map_err(|e| self.dberr(e))?;
        txn.commit().map_err(|e| self.dberr(e))?;
        // Close it: its database and its index are free for a later attach.
        self.stores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.indexes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        Ok(entry)
    }

    /// Attaches an existing store of this archive (API `AttachStore`), e.g. one detached
    /// before or moved to another disk. It gets a new id. A store of another data directory
    /// is refused: its key is not wrapped by this archive's master key.
    pub fn attach_store(
        &self,
        name: &str,
        dirs: StoreDirs,
        status: StoreStatus,
    ) -> Result<StoreEntry> {
        self.attach_store_with(name, dirs, status, false)
    }

    /// [`Archive::attach_store`] placing every message by the folder names the store keeps
    /// (master recovery: no folder id of the store means anything in a new master database).
    pub(crate) fn attach_store_by_name(
        &self,
        name: &str,
        dirs: StoreDirs,
        status: StoreStatus,
    ) -> Result<StoreEntry> {
        self.attach_store_with(name, dirs, status, true)
    }

    fn attach_store_with(
        &self,
        name: &str,
        dirs: StoreDirs,
        status: StoreStatus,
        by_name: bool,
    ) -> Result<StoreEntry> {
        let _keys = self.key_lock.read().unwrap_or_else(|p| p.into_inner());
        // After master recovery no folder id of an older store means anything here.
        let by_name = by_name || self.master_rebuilt()?;
        let existing = self.read_entries()?;
        if name.trim().is_empty() || name.contains(['/', '\\']) {
            return Err(invalid(
                "store name",
                format!("'{name}' must be non-empty and contain no slashes"),
            ));
        }
        if existing.iter().any(|e| e.name == name) {
            return Err(invalid(
                "store name",
                format!("a store named '{name}' exists"),
            ));
        }
        let (meta, content) = (self.relativize(&dirs.meta), self.relativize(&dirs.content));
        if existing.iter().any(|e| e.meta_dir == meta) {
            return Err(invalid(
                "store",
                format!("{} is attached already", dirs.meta.display()),
            ));
        }
        // Proves it is an Arkiv store before registering it: of this installation, or of
        // another one (registered locked, for UnlockStore).
        match Store::open_read_only(StoreId(0), dirs.clone(), &self.master()) {
            Ok(s) => drop(s),
            Err(arkiv_store::StoreError::Locked { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let txn = self.write_txn()?;
        let id = StoreId(self.next_id(&txn, "next_store")? as u32);
        let entry = StoreEntry {
            id,
            name: name.to_string(),
            meta_dir: meta,
            content_dir: content,
            status: if status == StoreStatus::Current {
                StoreStatus::Normal
            } else {
                status
            },
            created_at: Timestamp::now(),
        };
        self.write_entry(&txn, &entry)?;
        txn.commit().map_err(|e| self.dberr(e))?;
        let slot = self.open_slot(entry.clone());
        let open = matches!(slot, StoreSlot::Open { .. });
        self.stores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, slot);
        if open {
            // Its messages go back to the folders the store recorded (ids may differ here).
            self.replace_store_messages(id, by_name)?;
            if status == StoreStatus::Current {
                self.set_store_status(id, StoreStatus::Current)?;
            }
        }
        Ok(entry)
    }

    /// Renames a store (names are for people; ids stay).
    pub fn rename_store(&self, id: StoreId, name: &str) -> Result<()> {
        let name = name.trim();
        if name.is_empty() || name.contains(['/', '\\']) {
            return Err(invalid(
                "store name",
                format!("'{name}' must be non-empty and contain no slashes"),
            ));
        }
        let entries = self.read_entries()?;
        if entries.iter().any(|e| e.id != id && e.name == name) {
            return Err(invalid("store name", format!("'{name}' is taken")));
        }
        let mut target = entries
            .into_iter()
            .find(|e| e.id == id)
            .ok_or(ArchiveError::NoSuchStore(id.0))?;
        target.name = name.to_string();
        let txn = self.write_txn()?;
        self.write_entry(&txn, &target)?;
        txn.commit().map_err(|e| self.dberr(e))?;
        self.load_stores()
    }

    /// An open store by id.
    pub fn store(&self, id: StoreId) -> Result<Arc<Store>> {
        let slots = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        match slots.get(&id) {
            Some(StoreSlot::Open { store, .. }) => Ok(store.clone()),
            Some(StoreSlot::Closed { why, .. }) => Err(ArchiveError::StoreUnavailable {
                id: id.0,
                why: why.clone(),
            }),
            None => Err(ArchiveError::NoSuchStore(id.0)),
        }
    }

    pub(crate) fn store_status(&self, id: StoreId) -> Option<StoreStatus> {
        let slots = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        slots.get(&id).map(|s| s.entry().status)
    }

    /// The store new messages go to; an error if it is missing or cannot be opened.
    pub fn current_store(&self) -> Result<Arc<Store>> {
        let slots = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        for slot in slots.values() {
            match slot {
                StoreSlot::Open { entry, store } if entry.status == StoreStatus::Current => {
                    return Ok(store.clone());
                }
                StoreSlot::Closed { entry, why } if entry.status == StoreStatus::Current => {
                    return Err(ArchiveError::StoreUnavailable {
                        id: entry.id.0,
                        why: why.clone(),
                    });
                }
                _ => {}
            }
        }
        Err(ArchiveError::NoCurrentStore)
    }

    /// Every open, readable store (all statuses but disabled), by id.
    pub fn open_stores(&self) -> Vec<Arc<Store>> {
        let slots = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .values()
            .filter_map(|s| match s {
                StoreSlot::Open { store, .. } => Some(store.clone()),
                StoreSlot::Closed { .. } => None,
            })
            .collect()
    }
}
