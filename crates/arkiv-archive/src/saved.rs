//! Saved searches ("search folders", SPEC C3): a user's named search criteria.

use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use arkiv_types::{Timestamp, UserId};

use crate::error::{ArchiveError, Result, invalid};
use crate::master::Archive;
use crate::search::SearchQuery;

pub(crate) const SAVED: TableDefinition<u64, &[u8]> = TableDefinition::new("saved_searches");

/// A saved search, sealed in the master database like everything that reveals content.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedSearch {
    /// Whose list it is on.
    pub owner: String,
    pub name: String,
    /// The criteria; `criteria.user` is whose permissions it runs with.
    pub criteria: SearchQuery,
    pub created_at: Timestamp,
    /// The owner by id (the name above is only what it was when saved). Searches saved before
    /// it was kept get it from their owner's name when read.
    pub owner_id: UserId,
}

/// A saved search as written before its owner was kept by id.
#[derive(Deserialize)]
struct SavedSearchV1 {
    owner: String,
    name: String,
    criteria: SearchQuery,
    created_at: Timestamp,
}

impl Archive {
    pub(crate) fn saved_all(&self) -> Result<Vec<(u64, SavedSearch)>> {
        let t = self.read_txn()?;
        let Some(table) = self.optional_table(&t, SAVED)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for r in table.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            // Newest layout first: an older record is shorter, so it fails the newer decoder.
            let saved =
                match self.open_sealed::<SavedSearch>("saved_searches", k.value(), v.value()) {
                    Ok(s) => s,
                    Err(e) => {
                        let old = self
                            .open_sealed::<SavedSearchV1>("saved_searches", k.value(), v.value())
                            .map_err(|_| e)?;
                        let owner_id = self.user(&old.owner).map(|u| u.id).unwrap_or(UserId(0));
                        SavedSearch {
                            owner: old.owner,
                            name: old.name,
                            criteria: old.criteria,
                            created_at: old.created_at,
                            owner_id,
                        }
                    }
                };
            out.push((k.value(), saved));
        }
        Ok(out)
    }

    /// A user's saved searches, by name.
    pub fn saved_searches(&self, owner: &str) -> Result<Vec<SavedSearch>> {
        let id = self.user(owner)?.id;
        let mut v: Vec<SavedSearch> = self
            .saved_all()?
            .into_iter()
            .map(|x| x.1)
            .filter(|s| s.owner_id == id)
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    fn find_saved(&self, owner: &str, name: &str) -> Result<Option<(u64, SavedSearch)>> {
        let id = self.user(owner)?.id;
        Ok(self
            .saved_all()?
            .into_iter()
            .find(|(_, s)| s.owner_id == id && s.name == name))
    }

    pub fn saved_search(&self, owner: &str, name: &str) -> Result<SavedSearch> {
        self.find_saved(owner, name)?.map(|x| x.1).ok_or_else(|| {
            invalid(
                "saved search",
                format!("'{name}' is not a saved search of {owner}"),
            )
        })
    }

    /// Saves (or replaces) a search under a name. The query is checked first.
    pub fn save_search(
        &self,
        owner: &str,
        name: &str,
        criteria: SearchQuery,
    ) -> Result<SavedSearch> {
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err(invalid(
                "saved search name",
                format!("'{name}' must be non-empty, without control characters"),
            ));
        }
        criteria.criteria.compile(&criteria.text)?;
        let existing = self.find_saved(owner, name)?;
        let user = self.user(owner)?;
        let saved = SavedSearch {
            owner: user.name,
            name: name.to_string(),
            criteria,
            created_at: Timestamp::now(),
            owner_id: user.id,
        };
        let txn = self.write_txn()?;
        let id = match existing {
            Some((id, _)) => id,
            None => self.next_id(&txn, "next_saved")?,
        };
        let sealed = self.seal("saved_searches", id, &saved)?;
        txn.open_table(SAVED)
            .map_err(|e| self.dberr(e))?
            .insert(id, sealed.as_slice())
            .map_err(|e| self.dberr(e))?;
        txn.commit().map_err(|e| self.dberr(e))?;
        Ok(saved)
    }

    pub fn rename_saved_search(&self, owner: &str, name: &str, new_name: &str) -> Result<()> {
        if self.find_saved(owner, new_name)?.is_some() {
            return Err(invalid(
                "saved search name",
                format!("{owner} already has a saved search '{new_name}'"),
            ));
        }
        let (id, mut s) = self.find_saved(owner, name)?.ok_or_else(|| {
            invalid(
                "saved search",
                format!("'{name}' is not a saved search of {owner}"),
            )
        })?;
        s.name = new_name.to_string();
        let txn = self.write_txn()?;
        let sealed = self.seal("saved_searches", id, &s)?;
        txn.open_table(SAVED)
            .map_err(|e| self.dberr(e))?
            .insert(id, sealed.as_slice())
            .map_err(|e| self.dberr(e))?;
        txn.commit().map_err(|e| self.dberr(e))
    }

    pub fn delete_saved_search(&self, owner: &str, name: &str) -> Result<()> {
        let (id, _) = self
            .find_saved(owner, name)?
            .ok_or_else(|| ArchiveError::Invalid {
                what: "saved search".into(),
                detail: format!("'{name}' is not a saved search of {owner}"),
            })?;
        let txn = self.write_txn()?;
        txn.open_table(SAVED)
            .map_err(|e| self.dberr(e))?
            .remove(id)
            .map_err(|e| self.dberr(e))?;
        txn.commit().map_err(|e| self.dberr(e))
    }
}
