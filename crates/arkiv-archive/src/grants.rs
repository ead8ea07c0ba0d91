//! Folder privileges (manual §5.1, API `SetUserPrivilegesOnFolder`) and who may read what.
//!
//! A user always reads their own archive. Other archives or folders only where a `read`
//! privilege was granted on them (a grant covers the folder and its subfolders).
//! Administrators are no exception: by default they cannot read other users' archives
//! (manual §5.11, "Archive Access"), not even through grants they could give themselves;
//! `[compliance] admin_archive_access = true` unblocks it.
//! Every search, listing and read that acts for a user goes through [`Archive::readable_folders`].

use std::collections::BTreeSet;

use arkiv_types::{FolderId, FolderPath};
use redb::{ReadableTable, TableDefinition};

use crate::error::{ArchiveError, Result, invalid};
use crate::master::Archive;

/// (user id, folder id) → privilege bits. Ids only: nothing revealing.
pub(crate) const FOLDER_GRANTS: TableDefinition<(u64, u64), u8> =
    TableDefinition::new("folder_grants");

pub const READ: u8 = 1;
pub const WRITE: u8 = 2;
pub const DELETE: u8 = 4;

/// Parses the API's folder privileges: `none`, or any of `read`, `write`, `delete`.
pub fn parse_folder_privileges(list: &str) -> Result<u8> {
    let mut bits = 0;
    let items = crate::users::list_items(list);
    if items.is_empty() {
        return Err(invalid(
            "privileges",
            "empty: give none, or read, write, delete",
        ));
    }
    for it in &items {
        bits |= match *it {
            "none" if items.len() == 1 => 0,
            "none" => return Err(invalid("privileges", "'none' must be the only value")),
            "read" => READ,
            "write" => WRITE,
            "delete" => DELETE,
            other => {
                return Err(invalid(
                    "privileges",
                    format!("unknown folder privilege '{other}'; known: none, read, write, delete"),
                ));
            }
        };
    }
    Ok(bits)
}

pub fn folder_privileges_text(bits: u8) -> String {
    let names: Vec<&str> = [(READ, "read"), (WRITE, "write"), (DELETE, "delete")]
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

impl Archive {
    /// The folder `archive[/path...]`, which must exist.
    pub fn folder_by_spec(&self, spec: &str) -> Result<FolderId> {
        let path = FolderPath::parse(spec);
        let (archive, rest) = path
            .names()
            .split_first()
            .ok_or_else(|| ArchiveError::NoSuchFolder(spec.to_string()))?;
        self.find_folder(archive, &FolderPath::from_names(rest))?
            .ok_or_else(|| ArchiveError::NoSuchFolder(spec.to_string()))
    }

    /// Sets a user's privileges on a folder (`0` removes the grant).
    pub fn set_folder_privileges(&self, user: &str, folder: &str, bits: u8) -> Result<()> {
        let u = self.user(user)?;
        let f = self.folder_by_spec(folder)?;
        let txn = self.write_txn()?;
        {
            let mut t = txn.open_table(FOLDER_GRANTS).map_err(|e| self.dberr(e))?;
            if bits == 0 {
                t.remove((u.id.0, f.0)).map_err(|e| self.dberr(e))?;
            } else {
                t.insert((u.id.0, f.0), bits).map_err(|e| self.dberr(e))?;
            }
        }
        txn.commit().map_err(|e| self.dberr(e))
    }

    /// Removes every folder privilege of a user.
    pub fn clear_folder_privileges(&self, user: &str) -> Result<()> {
        let u = self.user(user)?;
        let txn = self.write_txn()?;
        {
            let mut t = txn.open_table(FOLDER_GRANTS).map_err(|e| self.dberr(e))?;
            let keys: Vec<(u64, u64)> = t
                .range((u.id.0, 0)..=(u.id.0, u64::MAX))
                .map_err(|e| self.dberr(e))?
                .filter_map(|r| r.ok().map(|(k, _)| k.value()))
                .collect();
            for k in keys {
                t.remove(k).map_err(|e| self.dberr(e))?;
            }
        }
        txn.commit().map_err(|e| self.dberr(e))
    }

    /// A user's folder grants: (folder, privilege bits).
    pub fn folder_grants(&self, user: &str) -> Result<Vec<(String, u8)>> {
        let u = self.user(user)?;
        let t = self.read_txn()?;
        let Some(grants) = self.optional_table(&t, FOLDER_GRANTS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for r in grants
            .range((u.id.0, 0)..=(u.id.0, u64::MAX))
            .map_err(|e| self.dberr(e))?
        {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let (archive, path) = self.folder_location(FolderId(k.value().1))?;
            let name = if path.is_root() {
                archive
            } else {
                format!("{archive}/{}", path.names().join("/"))
            };
            out.push((name, v.value()));
        }
        Ok(out)
    }

    /// Whether `user` may delete messages in `folder` (manual §5.1): the global `delete`
    /// privilege and, on the folder or a folder above it, a `delete` folder privilege; users
    /// have read and write on their own archive by default, not delete. An administrator may
    /// delete where they may read.
    pub fn may_delete_in(&self, user: &str, folder: FolderId) -> Result<bool> {
        let u = self.user(user)?;
        if u.admin {
            return Ok(self.readable_folders(user)?.contains(&folder));
        }
        if !u.privileges.iter().any(|p| p == "delete") {
            return Ok(false);
        }
        let (archive, path) = self.folder_location(folder)?;
        let names = path.names();
        let t = self.read_txn()?;
        let Some(grants) = self.optional_table(&t, FOLDER_GRANTS)? else {
            return Ok(false);
        };
        for depth in 0..=names.len() {
            let prefix = FolderPath::from_names(names[..depth].to_vec());
            if let Some(id) = self.find_folder(&archive, &prefix)?
                && grants
                    .get((u.id.0, id.0))
                    .map_err(|e| self.dberr(e))?
                    .is_some_and(|g| g.value() & DELETE != 0)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Every folder `user` may read: their own archive, folders granted `read` (with their
    /// subfolders), and everything for an administrator when compliance allows it.
    pub fn readable_folders(&self, user: &str) -> Result<Vec<FolderId>> {
        let u = self.user(user)?;
        let mut set = BTreeSet::new();
        let mut roots = Vec::new();
        if u.admin && self.config.compliance.admin_archive_access {
            roots.extend(self.child_folders(None)?.into_iter().map(|(id, _)| id));
        } else {
            if let Some(own) = self.find_folder(&u.name, &FolderPath::root())? {
                roots.push(own);
            }
            // An administrator could grant themselves anything: while compliance blocks
            // archive access, grants do not open other archives to administrators.
            if u.admin {
                return match roots.first() {
                    Some(own) => self.folder_subtree(*own),
                    None => Ok(Vec::new()),
                };
            }
            let t = self.read_txn()?;
            if let Some(grants) = self.optional_table(&t, FOLDER_GRANTS)? {
                for r in grants
                    .range((u.id.0, 0)..=(u.id.0, u64::MAX))
                    .map_err(|e| self.dberr(e))?
                {
                    let (k, v) = r.map_err(|e| self.dberr(e))?;
                    if v.value() & READ != 0 {
                        roots.push(FolderId(k.value().1));
                    }
                }
            }
        }
        for r in roots {
            set.extend(self.folder_subtree(r)?);
        }
        Ok(set.into_iter().collect())
    }
}
