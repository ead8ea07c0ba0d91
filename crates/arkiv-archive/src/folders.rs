//! The folder tree of every user archive. A root folder is a user archive, named after its user.

use arkiv_types::{FolderId, FolderPath};
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::error::{ArchiveError, Result};
use crate::master::{Archive, FOLDER_CHILDREN, FOLDERS};

/// parent id (0 for archives) and child id, for listing children (ids only, nothing revealing).
pub(crate) const FOLDER_TREE: TableDefinition<(u64, u64), ()> = TableDefinition::new("folder_tree");

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FolderRecord {
    pub parent: Option<FolderId>,
    pub name: String,
}

/// A folder and where it is.
#[derive(Clone, Debug, Serialize)]
pub struct FolderView {
    pub id: u64,
    pub archive: String,
    pub path: String,
}

impl Archive {
    fn child_key(&self, parent: Option<FolderId>, name: &str) -> [u8; 32] {
        self.names.hash_parts(&[
            b"folder",
            &parent.map_or(0, |p| p.0).to_le_bytes(),
            name.as_bytes(),
        ])
    }

    /// Finds (and creates, inside `txn`) the folder `path` of `archive`.
    pub(crate) fn ensure_folder_in(
        &self,
        txn: &WriteTransaction,
        archive: &str,
        path: &FolderPath,
    ) -> Result<FolderId> {
        let mut parent: Option<FolderId> = None;
        for name in std::iter::once(archive).chain(path.names().iter().map(String::as_str)) {
            let key = self.child_key(parent, name);
            let found = txn
                .open_table(FOLDER_CHILDREN)
                .map_err(|e| self.dberr(e))?
                .get(key.as_slice())
                .map_err(|e| self.dberr(e))?
                .map(|v| v.value());
            let id = match found {
                Some(id) => FolderId(id),
                None => {
                    let id = FolderId(self.next_id(txn, "next_folder")?);
                    let rec = FolderRecord {
                        parent,
                        name: name.to_string(),
                    };
                    let sealed = self.seal("folders", id.0, &rec)?;
                    txn.open_table(FOLDERS)
                        .map_err(|e| self.dberr(e))?
                        .insert(id.0, sealed.as_slice())
                        .map_err(|e| self.dberr(e))?;
                    txn.open_table(FOLDER_CHILDREN)
                        .map_err(|e| self.dberr(e))?
                        .insert(key.as_slice(), id.0)
                        .map_err(|e| self.dberr(e))?;
                    txn.open_table(FOLDER_TREE)
                        .map_err(|e| self.dberr(e))?
                        .insert((parent.map_or(0, |p| p.0), id.0), ())
                        .map_err(|e| self.dberr(e))?;
                    id
                }
            };
            parent = Some(id);
        }
        Ok(parent.expect("at least the archive root"))
    }

    /// The folder `path` of `archive`, created if missing.
    pub fn ensure_folder(&self, archive: &str, path: &FolderPath) -> Result<FolderId> {
        let txn = self.write_txn()?;
        let id = self.ensure_folder_in(&txn, archive, path)?;
        txn.commit().map_err(|e| self.dberr(e))?;
        Ok(id)
    }

    /// The folder `path` of `archive`, if it exists.
    pub fn find_folder(&self, archive: &str, path: &FolderPath) -> Result<Option<FolderId>> {
        let t = self.read_txn()?;
        let children = t.open_table(FOLDER_CHILDREN).map_err(|e| self.dberr(e))?;
        let mut parent: Option<FolderId> = None;
        for name in std::iter::once(archive).chain(path.names().iter().map(String::as_str)) {
            match children
                .get(self.child_key(parent, name).as_slice())
                .map_err(|e| self.dberr(e))?
            {
                Some(v) => parent = Some(FolderId(v.value())),
                None => return Ok(None),
            }
        }
        Ok(parent)
    }

    pub fn folder_record(&self, id: FolderId) -> Result<FolderRecord> {
        let t = self.read_txn()?;
        let f = t.open_table(FOLDERS).map_err(|e| self.dberr(e))?;
        let v = f
            .get(id.0)
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| ArchiveError::NoSuchFolder(format!("#{}", id.0)))?;
        self.open_sealed("folders", id.0, v.value())
    }

    /// (archive name, path inside the archive) of a folder.
    pub fn folder_location(&self, id: FolderId) -> Result<(String, FolderPath)> {
        let mut names = Vec::new();
        let mut cur = Some(id);
        let mut guard = 0;
        while let Some(c) = cur {
            let rec = self.folder_record(c)?;
            names.push(rec.name);
            cur = rec.parent;
            guard += 1;
            if guard > 10_000 {
                return Err(self.dberr("folder tree has a cycle"));
            }
        }
        names.reverse();
        let archive = names.remove(0);
        Ok((archive, FolderPath::from_names(names)))
    }

    /// [`Archive::folder_location`] of many folders at once: one read transaction, each
    /// folder record opened once however many of the folders lie below it (the folder list of
    /// a page names every folder a user may read).
    pub fn folder_locations(
        &self,
        ids: &[FolderId],
    ) -> Result<std::collections::HashMap<FolderId, (String, FolderPath)>> {
        let t = self.read_txn()?;
        let f = t.open_table(FOLDERS).map_err(|e| self.dberr(e))?;
        let mut records: std::collections::HashMap<u64, FolderRecord> = Default::default();
        let mut out = std::collections::HashMap::new();
        for &id in ids {
            let mut names = Vec::new();
            let mut cur = Some(id);
            while let Some(c) = cur {
                let rec = match records.entry(c.0) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        let v = f
                            .get(c.0)
                            .map_err(|e| self.dberr(e))?
                            .ok_or_else(|| ArchiveError::NoSuchFolder(format!("#{}", c.0)))?;
                        e.insert(self.open_sealed("folders", c.0, v.value())?)
                    }
                };
                names.push(rec.name.clone());
                cur = rec.parent;
                if names.len() > 10_000 {
                    return Err(self.dberr("folder tree has a cycle"));
                }
            }
            names.reverse();
            let archive = names.remove(0);
            out.insert(id, (archive, FolderPath::from_names(names)));
        }
        Ok(out)
    }

    /// Children of a folder (or, for `None`, every user archive), sorted by name.
    pub fn child_folders(&self, parent: Option<FolderId>) -> Result<Vec<(FolderId, String)>> {
        let t = self.read_txn()?;
        let Some(tree) = self.optional_table(&t, FOLDER_TREE)? else {
            return Ok(Vec::new());
        };
        let p = parent.map_or(0, |p| p.0);
        let mut out = Vec::new();
        for r in tree
            .range((p, 0)..=(p, u64::MAX))
            .map_err(|e| self.dberr(e))?
        {
            let id = FolderId(r.map_err(|e| self.dberr(e))?.0.value().1);
            out.push((id, self.folder_record(id)?.name));
        }
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// A folder and all folders below it.
    pub fn folder_subtree(&self, root: FolderId) -> Result<Vec<FolderId>> {
        // Ids only, in one read transaction: no folder record needs opening.
        let t = self.read_txn()?;
        let mut out = vec![root];
        let Some(tree) = self.optional_table(&t, FOLDER_TREE)? else {
            return Ok(out);
        };
        let mut i = 0;
        while i < out.len() {
            let p = out[i].0;
            for r in tree
                .range((p, 0)..=(p, u64::MAX))
                .map_err(|e| self.dberr(e))?
            {
                out.push(FolderId(r.map_err(|e| self.dberr(e))?.0.value().1));
            }
            i += 1;
            if out.len() > 10_000_000 {
                return Err(self.dberr("folder tree has a cycle"));
            }
        }
        Ok(out)
    }
}

impl Archive {
    /// Moves (or renames) a folder inside the archives (API `MoveFolder`): `from` and `to` are
    /// `archive/path` specs. A user archive itself is not moved; the destination must not
    /// exist; missing parents of it are created; messages keep their folder.
    pub fn move_folder(&self, caller: &crate::access::Caller, from: &str, to: &str) -> Result<()> {
        let id = self.folder_by_spec(from)?;
        let rec = self.folder_record(id)?;
        let Some(old_parent) = rec.parent else {
            return Err(crate::error::invalid(
                "fromFolder",
                format!("'{from}' is a user archive; archives are renamed with their user"),
            ));
        };
        let dest = FolderPath::parse(to);
        let Some((new_name, parent_names)) = dest.names().split_last() else {
            return Err(crate::error::invalid("toFolder", "an empty folder name"));
        };
        let Some((archive, parent_path)) = parent_names.split_first() else {
            return Err(crate::error::invalid(
                "toFolder",
                format!("'{to}' would be a user archive; give archive/folder"),
            ));
        };
        self.check_move(caller, id, archive)?;
        if self
            .find_folder(archive, &FolderPath::from_names(&dest.names()[1..]))?
            .is_some()
        {
            return Err(crate::error::invalid(
                "toFolder",
                format!("'{to}' exists already"),
            ));
        }
        let txn = self.write_txn()?;
        let new_parent =
            self.ensure_folder_in(&txn, archive, &FolderPath::from_names(parent_path))?;
        // Not into itself or below itself.
        let mut cur = Some(new_parent);
        while let Some(c) = cur {
            if c == id {
                return Err(crate::error::invalid(
                    "toFolder",
                    "a folder cannot move into itself",
                ));
            }
            cur = self.folder_record_in(&txn, c)?.parent;
        }
        {
            let mut children = txn.open_table(FOLDER_CHILDREN).map_err(|e| self.dberr(e))?;
            children
                .remove(self.child_key(Some(old_parent), &rec.name).as_slice())
                .map_err(|e| self.dberr(e))?;
            children
                .insert(self.child_key(Some(new_parent), new_name).as_slice(), id.0)
                .map_err(|e| self.dberr(e))?;
            let mut tree = txn.open_table(FOLDER_TREE).map_err(|e| self.dberr(e))?;
            tree.remove((old_parent.0, id.0))
                .map_err(|e| self.dberr(e))?;
            tree.insert((new_parent.0, id.0), ())
                .map_err(|e| self.dberr(e))?;
            let moved = FolderRecord {
                parent: Some(new_parent),
                name: new_name.clone(),
            };
            let sealed = self.seal("folders", id.0, &moved)?;
            txn.open_table(FOLDERS)
                .map_err(|e| self.dberr(e))?
                .insert(id.0, sealed.as_slice())
                .map_err(|e| self.dberr(e))?;
        }
        txn.commit().map_err(|e| self.dberr(e))?;
        // The stores keep their folders' names: they follow.
        self.sync_all_store_folders()
    }

    /// Renames a user archive (its root folder), inside `txn`.
    pub(crate) fn rename_root_folder(
        &self,
        txn: &WriteTransaction,
        root: FolderId,
        old: &str,
        new: &str,
    ) -> Result<()> {
        let mut children = txn.open_table(FOLDER_CHILDREN).map_err(|e| self.dberr(e))?;
        children
            .remove(self.child_key(None, old).as_slice())
            .map_err(|e| self.dberr(e))?;
        children
            .insert(self.child_key(None, new).as_slice(), root.0)
            .map_err(|e| self.dberr(e))?;
        let rec = FolderRecord {
            parent: None,
            name: new.to_string(),
        };
        let sealed = self.seal("folders", root.0, &rec)?;
        txn.open_table(FOLDERS)
            .map_err(|e| self.dberr(e))?
            .insert(root.0, sealed.as_slice())
            .map_err(|e| self.dberr(e))?;
        Ok(())
    }

    fn folder_record_in(&self, txn: &WriteTransaction, id: FolderId) -> Result<FolderRecord> {
        let f = txn.open_table(FOLDERS).map_err(|e| self.dberr(e))?;
        let v = f
            .get(id.0)
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| ArchiveError::NoSuchFolder(format!("#{}", id.0)))?;
        self.open_sealed("folders", id.0, v.value())
    }

    /// Removes the folders below `start` (or in every archive) that hold no message, directly
    /// or below them (API `DeleteEmptyFolders`). User archives themselves stay. Refused while
    /// a store is not open, since its messages' folders would be unknown. Returns the removed
    /// folders.
    pub fn delete_empty_folders(&self, start: Option<&str>) -> Result<Vec<String>> {
        if let Some(bad) = self.stores().into_iter().find(|s| s.error.is_some()) {
            return Err(crate::error::invalid(
                "folders",
                format!(
                    "archive store #{} is not open, so its messages' folders are unknown",
                    bad.entry.id.0
                ),
            ));
        }
        let mut counts: std::collections::HashMap<FolderId, u64> = Default::default();
        for store in self.open_stores() {
            for (f, (n, _)) in store.folder_counts()? {
                *counts.entry(f).or_default() += n;
            }
        }
        let roots: Vec<FolderId> = match start {
            Some(spec) => vec![self.folder_by_spec(spec)?],
            None => self
                .child_folders(None)?
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
        };
        // Post-order: children before their parent.
        let mut order = Vec::new();
        let mut stack: Vec<(FolderId, bool)> = roots.iter().map(|r| (*r, false)).collect();
        while let Some((f, seen)) = stack.pop() {
            if seen {
                order.push(f);
                continue;
            }
            stack.push((f, true));
            for (c, _) in self.child_folders(Some(f))? {
                stack.push((c, false));
            }
        }
        let mut keep: std::collections::HashSet<FolderId> = Default::default();
        let mut gone = Vec::new();
        for f in order {
            let rec = self.folder_record(f)?;
            let kids_kept = self
                .child_folders(Some(f))?
                .iter()
                .any(|(c, _)| keep.contains(c));
            if rec.parent.is_none() || kids_kept || counts.get(&f).copied().unwrap_or(0) > 0 {
                keep.insert(f);
                continue;
            }
            let (archive, path) = self.folder_location(f)?;
            gone.push(format!("{archive}/{}", path.names().join("/")));
            let parent = rec.parent.expect("not a root");
            let txn = self.write_txn()?;
            {
                txn.open_table(FOLDER_CHILDREN)
                    .map_err(|e| self.dberr(e))?
                    .remove(self.child_key(Some(parent), &rec.name).as_slice())
                    .map_err(|e| self.dberr(e))?;
                txn.open_table(FOLDER_TREE)
                    .map_err(|e| self.dberr(e))?
                    .remove((parent.0, f.0))
                    .map_err(|e| self.dberr(e))?;
                txn.open_table(FOLDERS)
                    .map_err(|e| self.dberr(e))?
                    .remove(f.0)
                    .map_err(|e| self.dberr(e))?;
                let mut grants = txn
                    .open_table(crate::grants::FOLDER_GRANTS)
                    .map_err(|e| self.dberr(e))?;
                let stale: Vec<(u64, u64)> = grants
                    .iter()
                    .map_err(|e| self.dberr(e))?
                    .filter_map(|r| r.ok().map(|(k, _)| k.value()))
                    .filter(|(_, folder)| *folder == f.0)
                    .collect();
                for k in stale {
                    grants.remove(k).map_err(|e| self.dberr(e))?;
                }
            }
            txn.commit().map_err(|e| self.dberr(e))?;
        }
        gone.sort();
        Ok(gone)
    }
}
