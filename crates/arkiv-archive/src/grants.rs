//! Folder privileges (manual §5.1, API `SetUserPrivilegesOnFolder`): kept in the master
//! database as (user id, folder id) → [`FolderRights`]. What they allow is decided in
//! [`crate::access`].

use arkiv_types::{FolderId, FolderPath};
use redb::{ReadableTable, TableDefinition};

use crate::access::{Caller, FolderRights};
use crate::error::{ArchiveError, Result};
use crate::master::Archive;

/// (user id, folder id) → privilege bits. Ids only: nothing revealing.
pub(crate) const FOLDER_GRANTS: TableDefinition<(u64, u64), u8> =
    TableDefinition::new("folder_grants");

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

    /// Sets a user's rights on a folder (`FolderRights::NONE` removes the grant), if the
    /// caller may (`access` rule 6).
    pub fn set_folder_privileges(
        &self,
        caller: &Caller,
        user: &str,
        folder: &str,
        rights: FolderRights,
    ) -> Result<()> {
        let u = self.user(user)?;
        let f = self.folder_by_spec(folder)?;
        self.check_grant(caller, f, rights)?;
        let txn = self.write_txn()?;
        {
            let mut t = txn.open_table(FOLDER_GRANTS).map_err(|e| self.dberr(e))?;
            if rights.is_none() {
                t.remove((u.id.0, f.0)).map_err(|e| self.dberr(e))?;
            } else {
                t.insert((u.id.0, f.0), rights.bits())
                    .map_err(|e| self.dberr(e))?;
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

    /// A user's folder grants: (folder as `archive/path`, rights).
    pub fn folder_grants(&self, user: &str) -> Result<Vec<(String, FolderRights)>> {
        let u = self.user(user)?;
        let mut out = Vec::new();
        for (folder, rights) in self.grants_of(u.id)? {
            let (archive, path) = self.folder_location(folder)?;
            let name = if path.is_root() {
                archive
            } else {
                format!("{archive}/{}", path.names().join("/"))
            };
            out.push((name, rights));
        }
        Ok(out)
    }

    /// A user's grants by id.
    pub(crate) fn grants_of(
        &self,
        user: arkiv_types::UserId,
    ) -> Result<Vec<(FolderId, FolderRights)>> {
        let t = self.read_txn()?;
        let Some(grants) = self.optional_table(&t, FOLDER_GRANTS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for r in grants
            .range((user.0, 0)..=(user.0, u64::MAX))
            .map_err(|e| self.dberr(e))?
        {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            out.push((FolderId(k.value().1), FolderRights::from_bits(v.value())));
        }
        Ok(out)
    }

    /// The folder above `folder` (`None` for an archive root).
    pub(crate) fn parent_folder(&self, folder: FolderId) -> Result<Option<FolderId>> {
        Ok(self.folder_record(folder)?.parent)
    }
}
