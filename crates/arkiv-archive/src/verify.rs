//! `arkiv verify`: every store, every message, and the links to the master database.

use arkiv_store::StoreVerifyReport;
use serde::Serialize;

use crate::error::Result;
use crate::master::Archive;

pub use crate::stores::UnavailableStore;

#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    pub clean: bool,
    pub stores: Vec<StoreVerifyReport>,
    pub unavailable: Vec<UnavailableStore>,
    /// Problems between stores and the master database (e.g. a folder that does not exist).
    pub master_problems: Vec<String>,
    /// Directories under the stores' base directory that hold messages but no registered
    /// store uses (detached stores, or a registration lost): information, not a problem.
    pub unregistered_store_dirs: Vec<String>,
}

impl VerifyReport {
    /// Ids of every message named in a problem.
    pub fn broken_messages(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .stores
            .iter()
            .flat_map(|s| s.problems.iter().filter_map(|p| p.message.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

impl Archive {
    /// Checks one store. Not while a compaction runs (and none starts meanwhile): its packs
    /// would move under the check's snapshot and look damaged.
    /// `stop` cancels it (`CancelJobAsync`).
    pub fn verify_store(
        &self,
        store: &arkiv_store::Store,
        progress: &mut dyn FnMut(u64, u64),
        stop: &dyn Fn() -> bool,
    ) -> Result<arkiv_store::StoreVerifyReport> {
        let _steady = self.compaction.read().unwrap_or_else(|p| p.into_inner());
        Ok(store.verify_until(progress, stop)?)
    }

    /// Checks every store. `progress(store, done, total)`.
    pub fn verify(&self, progress: &mut dyn FnMut(u32, u64, u64)) -> Result<VerifyReport> {
        let mut report = VerifyReport {
            clean: true,
            stores: Vec::new(),
            unavailable: Vec::new(),
            master_problems: Vec::new(),
            unregistered_store_dirs: self
                .unregistered_store_dirs()?
                .into_iter()
                .filter(|(_, holds)| *holds)
                .map(|(d, _)| d.display().to_string())
                .collect(),
        };
        report.unavailable = self.unavailable_stores();
        for info in self.stores() {
            if info.error.is_some() {
                continue;
            }
            let store = self.store(info.entry.id)?;
            let id = store.id().0;
            let r = self.verify_store(&store, &mut |d, t| progress(id, d, t), &|| false)?;
            for f in store.folder_counts()?.keys() {
                if self.folder_record(*f).is_err() {
                    report.master_problems.push(format!("store {id} has messages in folder #{} which the master database does not know", f.0));
                }
            }
            report.stores.push(r);
        }
        report.clean = report.unavailable.is_empty()
            && report.master_problems.is_empty()
            && report.stores.iter().all(|s| s.is_clean());
        Ok(report)
    }
}
