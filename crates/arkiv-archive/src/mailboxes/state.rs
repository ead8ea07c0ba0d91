//! Checkpoints of mailbox runs, in the master database.
//!
//! Per (source, folder): the folder's UIDVALIDITY, UIDNEXT and message count when it was
//! last read completely; per archived message: its UID (IMAP) or unique id (POP3), the hash
//! of its bytes, when it was archived and its date. A row is written only after the message
//! it describes is durable in a store (`Archive::import_with` says when), so a run killed at
//! any point reads again what was not recorded, and the pipeline recognises by hash what it
//! already has: no loss, no duplicate.
//!
//! Keys are keyed hashes (folder names are not readable in the file) and values are sealed
//! like every master-database record that reveals something about mail.

use std::collections::HashMap;

use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::master::Archive;

/// folder key (32 bytes) → sealed [`FolderState`].
pub(crate) const MBX_FOLDERS: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("mailbox_folders");
/// folder key (32 bytes) ‖ item id → sealed [`ItemState`].
pub(crate) const MBX_ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("mailbox_items");

/// What was known of a folder after its last complete read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderState {
    pub uid_validity: u32,
    pub uid_next: u32,
    pub messages: u32,
    /// Messages left for later by a filter (unread, too young): the folder must be looked at
    /// again even when nothing new arrived.
    pub waiting: u32,
}

/// An archived message of a mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemState {
    pub hash: [u8; 32],
    /// When it became durable in the archive (seconds since 1970).
    pub archived_at: i64,
    /// The server's date for it (IMAP INTERNALDATE), if known.
    pub date: Option<i64>,
    /// Placed in an archive. `false`: read, but no archive took it (a multidrop message for
    /// no known address); it is not read again, and never deleted at the server.
    pub placed: bool,
}

pub(crate) type FolderKey = [u8; 32];

fn ad(table: &str, key: &[u8]) -> Vec<u8> {
    let mut v = table.as_bytes().to_vec();
    v.push(0);
    v.extend_from_slice(key);
    v
}

impl Archive {
    /// The key of a folder of a source.
    pub(crate) fn mailbox_folder_key(&self, source: &str, folder: &[u8]) -> FolderKey {
        self.names
            .hash_parts(&[b"mailbox folder", source.as_bytes(), b"\0", folder])
    }

    /// The item id of a POP3 unique id (hashed: the ids can be long).
    pub(crate) fn mailbox_pop3_item(&self, uidl: &str) -> Vec<u8> {
        self.names.hash_parts(&[b"pop3 uidl", uidl.as_bytes()])[..16].to_vec()
    }

    pub(crate) fn mailbox_folder_state(&self, key: &FolderKey) -> Result<Option<FolderState>> {
        let t = self.read_txn()?;
        let Some(table) = self.optional_table(&t, MBX_FOLDERS)? else {
            return Ok(None);
        };
        let Some(v) = table.get(key.as_slice()).map_err(|e| self.dberr(e))? else {
            return Ok(None);
        };
        let plain = self.sealer.open(
            &ad("mailbox_folders", key),
            v.value(),
            "mailbox folder state",
        )?;
        Ok(Some(
            postcard::from_bytes(&plain).map_err(|e| self.dberr(e))?,
        ))
    }

    pub(crate) fn set_mailbox_folder_state(&self, key: &FolderKey, st: &FolderState) -> Result<()> {
        let plain = postcard::to_stdvec(st).map_err(|e| self.dberr(e))?;
        let sealed = self.sealer.seal(&ad("mailbox_folders", key), &plain)?;
        let txn = self.write_txn()?;
        txn.open_table(MBX_FOLDERS)
            .map_err(|e| self.dberr(e))?
            .insert(key.as_slice(), sealed.as_slice())
            .map_err(|e| self.dberr(e))?;
        txn.commit().map_err(|e| self.dberr(e))
    }

    /// Every recorded item of a folder: item id → state.
    pub(crate) fn mailbox_items(&self, key: &FolderKey) -> Result<HashMap<Vec<u8>, ItemState>> {
        let t = self.read_txn()?;
        let Some(table) = self.optional_table(&t, MBX_ITEMS)? else {
            return Ok(HashMap::new());
        };
        let mut out = HashMap::new();
        for r in table.range(key.as_slice()..).map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let k = k.value();
            if !k.starts_with(key) {
                break;
            }
            let plain =
                self.sealer
                    .open(&ad("mailbox_items", k), v.value(), "mailbox item state")?;
            let st: ItemState = postcard::from_bytes(&plain).map_err(|e| self.dberr(e))?;
            out.insert(k[32..].to_vec(), st);
        }
        Ok(out)
    }

    /// Records items (in one transaction).
    pub(crate) fn record_mailbox_items(
        &self,
        items: &[(FolderKey, Vec<u8>, ItemState)],
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let txn = self.write_txn()?;
        {
            let mut table = txn.open_table(MBX_ITEMS).map_err(|e| self.dberr(e))?;
            for (fk, id, st) in items {
                let mut k = fk.to_vec();
                k.extend_from_slice(id);
                let plain = postcard::to_stdvec(st).map_err(|e| self.dberr(e))?;
                let sealed = self.sealer.seal(&ad("mailbox_items", &k), &plain)?;
                table
                    .insert(k.as_slice(), sealed.as_slice())
                    .map_err(|e| self.dberr(e))?;
            }
        }
        txn.commit().map_err(|e| self.dberr(e))
    }

    /// Forgets items (deleted on the server).
    pub(crate) fn forget_mailbox_items(&self, key: &FolderKey, ids: &[Vec<u8>]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let txn = self.write_txn()?;
        {
            let mut table = txn.open_table(MBX_ITEMS).map_err(|e| self.dberr(e))?;
            for id in ids {
                let mut k = key.to_vec();
                k.extend_from_slice(id);
                table.remove(k.as_slice()).map_err(|e| self.dberr(e))?;
            }
        }
        txn.commit().map_err(|e| self.dberr(e))
    }

    /// Forgets a folder and all its items (its UIDVALIDITY changed: the UIDs mean nothing
    /// any more; the content hashes keep the archive free of duplicates).
    pub(crate) fn reset_mailbox_folder(&self, key: &FolderKey) -> Result<()> {
        let txn = self.write_txn()?;
        {
            let mut items = txn.open_table(MBX_ITEMS).map_err(|e| self.dberr(e))?;
            let doomed: Vec<Vec<u8>> = items
                .range(key.as_slice()..)
                .map_err(|e| self.dberr(e))?
                .map_while(|r| {
                    let k = r.ok()?.0.value().to_vec();
                    k.starts_with(key).then_some(k)
                })
                .collect();
            for k in doomed {
                items.remove(k.as_slice()).map_err(|e| self.dberr(e))?;
            }
            txn.open_table(MBX_FOLDERS)
                .map_err(|e| self.dberr(e))?
                .remove(key.as_slice())
                .map_err(|e| self.dberr(e))?;
        }
        txn.commit().map_err(|e| self.dberr(e))
    }
}
