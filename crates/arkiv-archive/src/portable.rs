//! Stores that travel (manual §5.15 "Attaching", "Unlocking"; API `AttachStore`,
//! `UnlockStore`).
//!
//! A message record names its folder by the id the master database gave it, which means
//! nothing next to another master database (a store attached to another installation) or to
//! this one after the folder was deleted while the store was detached. So each store also
//! keeps, sealed, the *names* of the folders it has messages in ([`StoreFolder`]):
//!
//! * [`Archive::sync_store_folders`] writes them: when the archive is opened for writing, after
//!   every import, after folders or users are renamed, and before a store is detached;
//! * [`Archive::replace_store_messages`] reads them after an attach or unlock. A store of this
//!   installation keeps the folders whose ids still exist here (renamed or moved meanwhile,
//!   they are still its folders; ids are never reused), and only messages of folders deleted
//!   while it was away go back to a folder of the recorded name, created if missing. A store of
//!   another installation is placed by name throughout: its ids mean nothing here;
//! * each store keeps the installation's master key sealed by its recovery key, so a store
//!   brought from another installation can be unlocked here with that installation's recovery
//!   key ([`Archive::unlock_store`]): its data key is re-wrapped with this master key.

use std::collections::BTreeMap;
use std::sync::Arc;

use arkiv_store::{Store, StoreError, StoreFolder};
use arkiv_types::{FolderId, FolderPath, StoreId};
use serde::Serialize;

use crate::error::{ArchiveError, Result, invalid};
use crate::master::{Archive, KEYRING};
use crate::stores::StoreSlot;

/// What re-placing a store's messages did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replacement {
    /// Messages moved to the folder their store recorded.
    pub moved: u64,
    /// Messages that were in that folder already (the same content): the duplicate removed.
    pub duplicates_removed: u64,
    /// Folders created for them (`archive/path`).
    pub folders_created: Vec<String>,
    /// Messages in folders the store has no name for (an old store): placed in
    /// `Recovered/<store>/folder-<id>` of the `admin` archive.
    pub unnamed: u64,
}

fn spec(archive: &str, path: &FolderPath) -> String {
    if path.is_root() {
        archive.to_string()
    } else {
        format!("{archive}/{}", path.names().join("/"))
    }
}

impl Archive {
    /// The installation's recovery wrap (the master key sealed by the recovery key).
    pub(crate) fn recovery_wrap(&self) -> Result<Vec<u8>> {
        Ok(arkiv_crypto::Keyring::recovery_wrap(
            &self.dir.join(KEYRING),
        )?)
    }

    /// Writes into a store the names of the folders it has messages in (and the recovery
    /// wrap, if it lacks it). Folders this master database does not know are left as recorded.
    pub fn sync_store_folders(&self, store: &Arc<Store>) -> Result<()> {
        if self.is_read_only() {
            return Ok(());
        }
        let wrap = self.recovery_wrap()?;
        if !store.has_recovery_wrap(&wrap)? {
            store.set_recovery_wrap(&wrap)?;
        }
        let known = store.folder_names()?;
        let mut changes = Vec::new();
        for folder in store.folder_counts()?.keys() {
            let Ok((archive, path)) = self.folder_location(*folder) else {
                continue;
            };
            let name = StoreFolder {
                archive,
                path: path.names().to_vec(),
            };
            if known.get(folder) != Some(&name) {
                changes.push((*folder, name));
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        let mut s = store.write()?;
        for (f, name) in &changes {
            s.set_folder_name(*f, name)?;
        }
        s.commit()?;
        Ok(())
    }

    /// [`Archive::sync_store_folders`] for every open store. Write-protected ones too: the
    /// names are upkeep, like their index bookkeeping, not a change to their messages.
    pub fn sync_all_store_folders(&self) -> Result<()> {
        for store in self.open_stores() {
            self.sync_store_folders(&store)?;
        }
        Ok(())
    }

    /// Puts a store's messages into the folders the store recorded (see the module
    /// documentation): with `by_name` (a store of another installation) every folder is
    /// matched by name; without, only folders whose ids do not exist here.
    pub fn replace_store_messages(&self, id: StoreId, by_name: bool) -> Result<Replacement> {
        let store = self.store(id)?;
        let names = store.folder_names()?;
        let counts = store.folder_counts()?;
        let mut report = Replacement::default();
        // Where each folder id of the store must go (only those that move).
        let mut target: BTreeMap<FolderId, FolderId> = BTreeMap::new();
        let store_name = self
            .stores()
            .into_iter()
            .find(|s| s.entry.id == id)
            .map(|s| s.entry.name)
            .unwrap_or_else(|| format!("store {}", id.0));
        for folder in counts.keys() {
            let here = self.folder_location(*folder).ok();
            if here.is_some() && !by_name {
                continue;
            }
            let (archive, path) = match names.get(folder) {
                Some(n) => (n.archive.clone(), FolderPath::from_names(n.path.clone())),
                None if here.is_some() => continue, // an old store: trust the id
                None => (
                    "admin".to_string(),
                    FolderPath::from_names([
                        "Recovered".to_string(),
                        store_name.clone(),
                        format!("folder-{}", folder.0),
                    ]),
                ),
            };
            if here
                .as_ref()
                .is_some_and(|(a, p)| *a == archive && *p == path)
            {
                continue;
            }
            let existed = self.find_folder(&archive, &path)?;
            let to = match existed {
                Some(f) => f,
                None => {
                    report.folders_created.push(spec(&archive, &path));
                    self.ensure_folder(&archive, &path)?
                }
            };
            if to != *folder {
                target.insert(*folder, to);
            }
        }
        if target.is_empty() {
            self.sync_store_folders(&store)?;
            return Ok(report);
        }
        // Each message once, by the folder it had before any move.
        let mut work: Vec<(u64, FolderId)> = Vec::new();
        for from in target.keys() {
            for num in store.folder_messages(*from)? {
                work.push((num, *from));
            }
        }
        for chunk in work.chunks(500) {
            let mut s = store.write()?;
            for (num, from) in chunk {
                let to = target[from];
                let rec = store.message(*num)?;
                if !names.contains_key(from) {
                    report.unnamed += 1;
                }
                match s.find_placement(to, &rec.hash)? {
                    Some(other) if other != *num => {
                        s.remove_message(*num)?;
                        report.duplicates_removed += 1;
                    }
                    _ => {
                        s.move_message(*num, to)?;
                        report.moved += 1;
                    }
                }
            }
            s.commit()?;
        }
        self.sync_store_folders(&store)?;
        drop(store);
        self.catch_up_index(&mut |_| {})?;
        Ok(report)
    }

    /// Unlocks a store of another installation (API `UnlockStore`) with that installation's
    /// recovery key, then puts its messages into the folders they had there.
    pub fn unlock_store(&self, id: StoreId, passphrase: &str) -> Result<Replacement> {
        let entry = {
            let slots = self.stores.lock().unwrap_or_else(|p| p.into_inner());
            match slots.get(&id) {
                Some(StoreSlot::Closed { entry, why }) if why.contains("is locked") => {
                    entry.clone()
                }
                Some(StoreSlot::Closed { why, .. }) => {
                    return Err(invalid(
                        "store",
                        format!("#{} is not locked but unavailable: {why}", id.0),
                    ));
                }
                Some(StoreSlot::Open { .. }) => {
                    return Err(invalid("store", format!("#{} is not locked", id.0)));
                }
                None => return Err(ArchiveError::NoSuchStore(id.0)),
            }
        };
        let recovery = arkiv_crypto::RecoveryKey::parse(passphrase)?;
        let keys = self.key_lock.read().unwrap_or_else(|p| p.into_inner());
        Store::unlock(
            &self.dirs_of(&entry),
            &recovery,
            &self.master(),
            &self.recovery_wrap()?,
        )
        .map_err(|e| match e {
            StoreError::Crypto(arkiv_crypto::CryptoError::WrongRecoveryKey) => invalid(
                "passphrase",
                "this is not the recovery key of the installation the store comes from",
            ),
            e => e.into(),
        })?;
        drop(keys);
        self.reopen_store(id)?;
        self.replace_store_messages(id, true)
    }

    /// Opens one registered store again (after it was unlocked or repaired).
    pub(crate) fn reopen_store(&self, id: StoreId) -> Result<()> {
        let entry = self
            .read_entries()?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or(ArchiveError::NoSuchStore(id.0))?;
        let slot = self.open_slot(entry);
        let why = match &slot {
            StoreSlot::Closed { why, .. } => Some(why.clone()),
            StoreSlot::Open { .. } => None,
        };
        self.stores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, slot);
        match why {
            Some(why) => Err(ArchiveError::StoreUnavailable { id: id.0, why }),
            None => Ok(()),
        }
    }
}
