//! IMAP UIDs of the archive's folders (D3): stable across restarts, strictly ascending in
//! archive order, never reused.
//!
//! Each folder gets a UIDVALIDITY (the time its first UID was given) and a next UID; a
//! message gets its UID the first time the folder is looked at with it in it: messages found
//! together are numbered in archive order (store, then the store's own number, which grows as
//! mail is archived), and anything archived later gets a higher UID because it is found
//! later. A message that leaves the folder (deleted, moved) loses its UID for good; should it
//! come back, it is new to the folder and gets a new, higher one. The messages of a store that
//! is not open keep their UIDs (hidden until it is back). UIDs live in the master
//! database: `imap_folders` (folder → validity, next) and `imap_uids` ((folder, store,
//! number) → UID).

use arkiv_types::{FolderId, MessageId, StoreId};
use redb::{ReadableTable, TableDefinition};

use crate::Archive;
use crate::error::Result;

pub(crate) const IMAP_FOLDERS: TableDefinition<u64, (u32, u32)> =
    TableDefinition::new("imap_folders");
pub(crate) const IMAP_UIDS: TableDefinition<(u64, u32, u64), u32> =
    TableDefinition::new("imap_uids");

/// A folder as an IMAP mailbox sees it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UidView {
    pub uid_validity: u32,
    /// The UID the next message will get.
    pub uid_next: u32,
    /// (UID, message), ascending by UID: the mailbox's sequence numbers are the positions.
    pub messages: Vec<(u32, MessageId)>,
}

impl Archive {
    /// The folder's messages with their UIDs, giving UIDs to messages seen for the first time
    /// and dropping those of messages gone (one write transaction, only when something
    /// changed). Access is the caller's business: the folder must be one they may read.
    pub fn uid_view(&self, folder: FolderId) -> Result<UidView> {
        let mut present: Vec<(u32, u64)> = Vec::new();
        let mut open = std::collections::BTreeSet::new();
        for store in self.open_stores() {
            open.insert(store.id().0);
            for num in store.folder_messages(folder)? {
                present.push((store.id().0, num));
            }
        }
        present.sort_unstable();
        // A store that is not open now (damaged, disabled, detached for a while) keeps its
        // messages' UIDs for when it is back; they are only not shown.
        let (head, known) = self.known_uids(folder)?;
        let shown: Vec<((u32, u64), u32)> = known
            .into_iter()
            .filter(|((s, _), _)| open.contains(s))
            .collect();
        let unchanged = shown.len() == present.len()
            && shown.iter().map(|(k, _)| *k).eq(present.iter().copied());
        if let (Some((validity, next)), true) = (head, unchanged) {
            return Ok(view(validity, next, shown));
        }
        let txn = self.write_txn()?;
        let out = {
            let mut folders = txn.open_table(IMAP_FOLDERS).map_err(|e| self.dberr(e))?;
            let mut uids = txn.open_table(IMAP_UIDS).map_err(|e| self.dberr(e))?;
            let (validity, mut next) = match folders.get(folder.0).map_err(|e| self.dberr(e))? {
                Some(v) => v.value(),
                None => {
                    let now = arkiv_types::Timestamp::now().0.clamp(1, u32::MAX as i64) as u32;
                    (now, 1)
                }
            };
            // What the table holds now (another session may have numbered meanwhile).
            let mut have: std::collections::BTreeMap<(u32, u64), u32> = Default::default();
            for r in uids
                .range((folder.0, 0, 0)..=(folder.0, u32::MAX, u64::MAX))
                .map_err(|e| self.dberr(e))?
            {
                let (k, v) = r.map_err(|e| self.dberr(e))?;
                let (_, s, n) = k.value();
                have.insert((s, n), v.value());
            }
            let wanted: std::collections::BTreeSet<(u32, u64)> = present.iter().copied().collect();
            let gone: Vec<(u32, u64)> = have
                .keys()
                .filter(|k| open.contains(&k.0) && !wanted.contains(k))
                .copied()
                .collect();
            for gone in gone {
                uids.remove((folder.0, gone.0, gone.1))
                    .map_err(|e| self.dberr(e))?;
                have.remove(&gone);
            }
            for k in &present {
                if !have.contains_key(k) {
                    if next == u32::MAX {
                        return Err(
                            self.dberr(format!("folder #{} has used up its IMAP UIDs", folder.0))
                        );
                    }
                    uids.insert((folder.0, k.0, k.1), next)
                        .map_err(|e| self.dberr(e))?;
                    have.insert(*k, next);
                    next += 1;
                }
            }
            folders
                .insert(folder.0, (validity, next))
                .map_err(|e| self.dberr(e))?;
            view(
                validity,
                next,
                have.into_iter()
                    .filter(|((s, _), _)| open.contains(s))
                    .collect(),
            )
        };
        txn.commit().map_err(|e| self.dberr(e))?;
        Ok(out)
    }

    /// (validity and next UID, if the folder has them; the numbered messages by key).
    #[allow(clippy::type_complexity)]
    fn known_uids(&self, folder: FolderId) -> Result<(Option<(u32, u32)>, Vec<((u32, u64), u32)>)> {
        let t = self.read_txn()?;
        let Some(folders) = self.optional_table(&t, IMAP_FOLDERS)? else {
            return Ok((None, Vec::new()));
        };
        let head = folders
            .get(folder.0)
            .map_err(|e| self.dberr(e))?
            .map(|v| v.value());
        let mut out = Vec::new();
        if let Some(uids) = self.optional_table(&t, IMAP_UIDS)? {
            for r in uids
                .range((folder.0, 0, 0)..=(folder.0, u32::MAX, u64::MAX))
                .map_err(|e| self.dberr(e))?
            {
                let (k, v) = r.map_err(|e| self.dberr(e))?;
                let (_, s, n) = k.value();
                out.push(((s, n), v.value()));
            }
        }
        Ok((head, out))
    }
}

fn view(validity: u32, next: u32, by_key: Vec<((u32, u64), u32)>) -> UidView {
    let mut messages: Vec<(u32, MessageId)> = by_key
        .into_iter()
        .map(|((s, n), uid)| (uid, MessageId::new(StoreId(s), n)))
        .collect();
    messages.sort_unstable_by_key(|(uid, _)| *uid);
    UidView {
        uid_validity: validity,
        uid_next: next,
        messages,
    }
}
