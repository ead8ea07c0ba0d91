//! `verify`: every hash, every blob, every record and the links between them.

use std::collections::{BTreeMap, HashMap, HashSet};

use arkiv_types::{ContentHash, MessageId, StoreId};
use redb::{ReadableTable, ReadableTableMetadata};
use serde::Serialize;

use crate::blob::{self, HEADER_LEN};
use crate::error::Result;
use crate::pack;
use crate::recipe;
use crate::records::{self, BlobLoc, ContentRecord, MessageRecord};
use crate::store::{BLOBS, CONTENTS, FOLDER_MESSAGES, MESSAGES, PLACEMENTS, SEGMENTS, Store};

/// One thing found wrong.
#[derive(Clone, Debug, Serialize)]
pub struct StoreProblem {
    /// The affected message, when the problem touches one.
    pub message: Option<String>,
    pub detail: String,
}

/// What `verify` found in one store.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StoreVerifyReport {
    pub store: u32,
    pub messages: u64,
    pub contents: u64,
    pub blobs: u64,
    /// Blobs no content refers to (harmless: left by an interrupted import; compaction frees them).
    pub unreferenced_blobs: u64,
    pub problems: Vec<StoreProblem>,
}

impl StoreVerifyReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Checks the whole store. `progress(done, total)` is called as messages are checked.
    pub fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<StoreVerifyReport> {
        self.verify_until(progress, &|| false)
    }

    /// [`Store::verify`] that gives up with [`StoreError::Cancelled`] when `stop` says so
    /// (asked every few hundred records; a verification changes nothing, so stopping is safe).
    pub fn verify_until(
        &self,
        progress: &mut dyn FnMut(u64, u64),
        stop: &dyn Fn() -> bool,
    ) -> Result<StoreVerifyReport> {
        let mut report = StoreVerifyReport {
            store: self.id().0,
            ..Default::default()
        };
        let t = self.read_txn()?;
        let blobs_t = t.open_table(BLOBS).map_err(|e| self.dberr(e))?;
        let mut index: HashMap<[u8; 32], BlobLoc> = HashMap::new();
        for r in blobs_t.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let key: [u8; 32] = k.value().try_into().unwrap_or([0; 32]);
            match postcard::from_bytes::<BlobLoc>(v.value()) {
                Ok(loc) => {
                    index.insert(key, loc);
                }
                Err(e) => report.problems.push(StoreProblem {
                    message: None,
                    detail: format!("blob index entry unreadable: {e}"),
                }),
            }
        }
        report.blobs = index.len() as u64;
        self.scan_packs(&t, &index, &mut report)?;

        // Contents: rebuild each and compare with its hash.
        let contents_t = t.open_table(CONTENTS).map_err(|e| self.dberr(e))?;
        let mut bad_content: HashMap<[u8; 32], String> = HashMap::new();
        let mut good_content: HashSet<[u8; 32]> = HashSet::new();
        let mut referenced: HashSet<[u8; 32]> = HashSet::new();
        let mut blob_cache: HashMap<[u8; 32], std::result::Result<(), String>> = HashMap::new();
        let total = t
            .open_table(MESSAGES)
            .map_err(|e| self.dberr(e))?
            .len()
            .map_err(|e| self.dberr(e))?;
        for (i, r) in contents_t.iter().map_err(|e| self.dberr(e))?.enumerate() {
            if i % 256 == 255 && stop() {
                return Err(crate::StoreError::Cancelled);
            }
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let key: [u8; 32] = k.value().try_into().unwrap_or([0; 32]);
            report.contents += 1;
            let rec: ContentRecord = match records::open(
                &self.keys().record_sealer,
                &records::content_ad(&key),
                v.value(),
                "content record",
            ) {
                Ok(r) => r,
                Err(e) => {
                    bad_content.insert(key, format!("content record unreadable ({e})"));
                    continue;
                }
            };
            referenced.insert(rec.skeleton);
            referenced.extend(rec.inserts.iter().map(|i| i.blob));
            let mut read = |id: &[u8; 32]| -> Result<Vec<u8>> {
                let loc = index.get(id).ok_or_else(|| crate::StoreError::Malformed {
                    what: "blob".into(),
                    detail: "a blob of this message is missing from the index".into(),
                })?;
                let r = self.read_blob(id, loc);
                blob_cache.insert(*id, r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
                r
            };
            match recipe::reconstruct(&rec, &mut read) {
                Ok(bytes)
                    if bytes.len() as u64 == rec.size && ContentHash::of(&bytes) == rec.hash =>
                {
                    good_content.insert(key);
                }
                Ok(_) => {
                    bad_content.insert(key, "content does not match its hash".into());
                }
                Err(e) => {
                    bad_content.insert(key, e.to_string());
                }
            }
        }
        report.unreferenced_blobs =
            index.keys().filter(|k| !referenced.contains(*k)).count() as u64;

        let bad_blobs: HashSet<[u8; 32]> = blob_cache
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(k, _)| *k)
            .collect();
        let mut damaged: BTreeMap<u64, (String, Option<[u8; 32]>)> = BTreeMap::new();

        // Messages: each record readable, its content good, its placement indexed.
        let msgs = t.open_table(MESSAGES).map_err(|e| self.dberr(e))?;
        let placements = t.open_table(PLACEMENTS).map_err(|e| self.dberr(e))?;
        let folder_msgs = t.open_table(FOLDER_MESSAGES).map_err(|e| self.dberr(e))?;
        for r in msgs.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let num = k.value();
            let id = MessageId::new(StoreId(self.id().0), num).to_string();
            report.messages += 1;
            progress(report.messages, total);
            if report.messages.is_multiple_of(256) && stop() {
                return Err(crate::StoreError::Cancelled);
            }
            let rec: MessageRecord = match records::open(
                &self.keys().record_sealer,
                &records::message_ad(num),
                v.value(),
                "message record",
            ) {
                Ok(r) => r,
                Err(e) => {
                    let detail = format!("message record unreadable: {e}");
                    damaged.insert(num, (detail.clone(), None));
                    report.problems.push(StoreProblem {
                        message: Some(id),
                        detail,
                    });
                    continue;
                }
            };
            if let Some(why) = bad_content.get(&rec.content_key) {
                let detail = format!("content damaged: {why}");
                damaged.insert(num, (detail.clone(), Some(rec.content_key)));
                report.problems.push(StoreProblem {
                    message: Some(id.clone()),
                    detail,
                });
            } else if !good_content.contains(&rec.content_key) {
                let detail = "content record missing".to_string();
                damaged.insert(num, (detail.clone(), Some(rec.content_key)));
                report.problems.push(StoreProblem {
                    message: Some(id.clone()),
                    detail,
                });
            }
            let pkey = self.placement_key(rec.folder, &rec.hash);
            if placements
                .get(pkey.as_slice())
                .map_err(|e| self.dberr(e))?
                .map(|g| g.value())
                != Some(num)
            {
                report.problems.push(StoreProblem {
                    message: Some(id.clone()),
                    detail: "placement index does not point to this message".into(),
                });
            }
            if folder_msgs
                .get((rec.folder.0, num))
                .map_err(|e| self.dberr(e))?
                .is_none()
            {
                report.problems.push(StoreProblem {
                    message: Some(id),
                    detail: "message missing from its folder's list".into(),
                });
            }
        }
        let bad_contents = bad_content.into_keys().collect();
        self.record_findings(damaged, bad_contents, bad_blobs);
        for detail in self.check_recovery(&t)? {
            report.problems.push(StoreProblem {
                message: None,
                detail,
            });
        }
        let counters = self.counters()?;
        if counters.messages != report.messages {
            report.problems.push(StoreProblem {
                message: None,
                detail: format!(
                    "statistics count {} messages, the store holds {}",
                    counters.messages, report.messages
                ),
            });
        }
        Ok(report)
    }

    /// Walks each pack record by record, checking headers against the index.
    fn scan_packs(
        &self,
        t: &redb::ReadTransaction,
        index: &HashMap<[u8; 32], BlobLoc>,
        report: &mut StoreVerifyReport,
    ) -> Result<()> {
        let segs = t.open_table(SEGMENTS).map_err(|e| self.dberr(e))?;
        let mut seen: HashSet<[u8; 32]> = HashSet::new();
        for r in segs.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let (seg, committed) = (k.value(), v.value());
            let path = pack::pack_path(&self.dirs().pack_dir(), seg);
            let file = match self.pack_file(seg) {
                Ok(f) => f,
                Err(e) => {
                    report.problems.push(StoreProblem {
                        message: None,
                        detail: format!("pack {} unreadable: {e}", path.display()),
                    });
                    continue;
                }
            };
            let actual = file.metadata().map(|m| m.len()).unwrap_or(0);
            if actual < committed {
                report.problems.push(StoreProblem {
                    message: None,
                    detail: format!(
                        "pack {} is {actual} bytes, {committed} were committed",
                        path.display()
                    ),
                });
            }
            let mut off = 0u64;
            while off + HEADER_LEN as u64 <= committed.min(actual) {
                let head = pack::read_at(&file, &path, off, HEADER_LEN)?;
                // Recovery records are checked against their own table (check_recovery).
                if let Some((true, _, len)) = blob::parse_any(&head) {
                    off += (HEADER_LEN as u64) + len as u64;
                    continue;
                }
                let Some((key, len)) = blob::parse_header(&head) else {
                    report.problems.push(StoreProblem {
                        message: None,
                        detail: format!("pack {} damaged at byte {off}: unreadable record header (the records after it are still checked through the index)", path.display()),
                    });
                    break;
                };
                match index.get(&key) {
                    Some(loc) if loc.seg == seg && loc.off == off && loc.len == len => {
                        seen.insert(key);
                    }
                    // A copy superseded by a later one (a damaged blob stored again): the
                    // index names the good copy; this one is left for compaction.
                    Some(_) => {}
                    None => report.problems.push(StoreProblem {
                        message: None,
                        detail: format!(
                            "pack {} byte {off}: record not in the blob index",
                            path.display()
                        ),
                    }),
                }
                off += (HEADER_LEN as u64) + len as u64;
            }
        }
        let unseen = index.keys().filter(|k| !seen.contains(*k)).count();
        if unseen > 0 {
            report.problems.push(StoreProblem {
                message: None,
                detail: format!("{unseen} indexed blobs were not found while walking the packs"),
            });
        }
        Ok(())
    }
}
