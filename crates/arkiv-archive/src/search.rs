//! Search: the per-store indexes, keeping them complete, and queries with permissions.
//!
//! Every message added to or moved in a store is listed in the store's `unindexed` table in the
//! same transaction. The import pipeline indexes each committed batch on its own thread and
//! clears those entries once the index commit is durable; whatever a crash leaves listed is
//! indexed by [`Archive::catch_up_index`] before the next search or import. So a message is
//! never archived yet invisible to search for longer than that.

use std::sync::Arc;

pub use arkiv_index::SortBy;
use arkiv_index::{IndexDoc, SearchRequest, StoreIndex};
use arkiv_store::{MessageRecord, Store};
use arkiv_types::{FolderId, FolderPath, MessageId, StoreId};
use serde::Serialize;

use crate::access::Caller;
use crate::error::{ArchiveError, Result};
use crate::master::Archive;
use crate::stats::{MessageView, show_addrs};

/// A search as a user asks it (and as a saved search keeps it).
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct SearchQuery {
    /// Quick-search text (manual §3.2).
    pub text: String,
    /// For a saved search: the user whose permissions it runs with when the local operator
    /// runs it (`arkiv saved run`). A search itself runs as its [`Caller`].
    pub user: Option<String>,
    /// Only this folder (`archive/path`), with its subfolders unless `no_subfolders`.
    pub folder: Option<String>,
    pub no_subfolders: bool,
    pub sort: SortBy,
    pub ascending: bool,
    pub offset: usize,
    pub limit: usize,
    /// The advanced search form's criteria (manual §3.2), combined with `text`.
    pub criteria: crate::advanced::Criteria,
}

/// One page of results.
#[derive(Clone, Debug, Serialize)]
pub struct SearchPage {
    /// Every match the query has (that the user may see), not only this page.
    pub total: usize,
    pub offset: usize,
    pub hits: Vec<MessageView>,
    /// Stores whose messages could not be searched (never silently: a closed store is not an
    /// empty one).
    #[serde(rename = "unavailableStores", skip_serializing_if = "Vec::is_empty")]
    pub unavailable_stores: Vec<crate::stores::UnavailableStore>,
}

impl Archive {
    /// The search index of a store, opened on first use (in `<store metadata>/index`).
    pub fn index_of(&self, store: &Arc<Store>) -> Result<Arc<StoreIndex>> {
        let mut map = self.indexes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = map.get(&store.id()) {
            return Ok(i.clone());
        }
        let dir = store.dirs().meta.join("index");
        let now = self.extraction.fingerprint();
        let new = !dir.exists();
        let idx = match StoreIndex::open(&dir) {
            Ok(i) => {
                if new {
                    crate::attachments::set_built_with(&dir, &now)?;
                }
                i
            }
            // Built by an older version with other fields: the index is derived data, so it is
            // started afresh and every message is listed for the catch-up to index again.
            // Read-only: the caller must open the archive writably to rebuild it.
            Err(e @ arkiv_index::IndexError::SchemaChanged { .. }) if self.is_read_only() => {
                return Err(e.into());
            }
            Err(arkiv_index::IndexError::SchemaChanged { .. }) => {
                std::fs::remove_dir_all(&dir).map_err(|e| crate::error::io_err(&dir, e))?;
                let fresh = StoreIndex::open(&dir)?;
                crate::attachments::set_built_with(&dir, &now)?;
                let mut s = store.write()?;
                s.mark_all_unindexed()?;
                s.commit()?;
                fresh
            }
            Err(e) => return Err(e.into()),
        };
        let idx = Arc::new(idx);
        map.insert(store.id(), idx.clone());
        Ok(idx)
    }

    /// The index document of a message; `body` is its body text.
    pub(crate) fn index_doc(num: u64, rec: &MessageRecord, body: String) -> IndexDoc {
        let s = &rec.summary;
        IndexDoc {
            num,
            folder: rec.folder.0,
            subject: s.subject.clone().unwrap_or_default(),
            from: show_addrs(&s.from),
            to: show_addrs(&s.to),
            cc: show_addrs(&s.cc),
            bcc: show_addrs(&s.bcc),
            body,
            attachment_names: s.attachment_names.clone(),
            attachment_text: String::new(),
            date: s.date.unwrap_or(0),
            archived_at: rec.archived_at.0,
            size: rec.size,
            has_attachments: s.has_attachments,
            attachment_unread: false,
            priority: match s.priority {
                arkiv_message::Priority::Low => 0,
                arkiv_message::Priority::Normal => 1,
                arkiv_message::Priority::High => 2,
            },
        }
    }

    /// Builds index documents for messages from what the store holds (reading attachment
    /// contents with `ex` when they are switched on). Each message's bytes are read again by
    /// the current decoder; a record whose headers it reads differently (mail archived by an
    /// older [`arkiv_message::charset::DECODER_VERSION`]) is brought up to date in the same
    /// pass, so what a listing shows and what search finds never disagree.
    fn docs_from_store(
        store: &Arc<Store>,
        nums: &[u64],
        ex: &mut Option<arkiv_extract::Extractor>,
    ) -> Result<Vec<IndexDoc>> {
        let mut docs = Vec::with_capacity(nums.len());
        let mut refreshed = Vec::new();
        for &num in nums {
            let mut rec = match store.message(num) {
                Ok(r) => r,
                // Listed but gone (deleted since): nothing to index.
                Err(arkiv_store::StoreError::NoSuchMessage(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            let mut atext = crate::attachments::AttachmentText::default();
            let body = match store.read_message(num) {
                Ok(raw) => {
                    let mut p = match ex {
                        Some(ex) => {
                            let mut p = arkiv_message::parse_with(
                                &raw,
                                &crate::attachments::wanted(ex.settings()),
                            );
                            atext = crate::attachments::read_attachments(ex, &mut p);
                            p
                        }
                        None => arkiv_message::parse(&raw),
                    };
                    let flag = p.flag();
                    if p.summary != rec.summary || flag != rec.problem {
                        rec.summary = std::mem::take(&mut p.summary);
                        rec.problem = flag;
                        refreshed.push((num, rec.summary.clone(), rec.problem.clone()));
                    }
                    p.body_text
                }
                // A damaged message is still found by its headers; verify reports the damage.
                Err(_) => String::new(),
            };
            let mut doc = Archive::index_doc(num, &rec, body);
            doc.attachment_unread = !atext.failures.is_empty();
            doc.attachment_text = atext.text;
            docs.push(doc);
        }
        if !refreshed.is_empty() {
            let mut s = store.write()?;
            for (num, summary, problem) in refreshed {
                s.refresh_summary(num, &summary, problem)?;
            }
            s.commit()?;
        }
        Ok(docs)
    }

    /// Deletes a message (API `DeleteMessage`) the caller may delete (`Archive::deletable`):
    /// from its store and from the search index. The reason goes to the audit log of the
    /// caller. Write-protected stores refuse.
    pub fn delete_message(&self, m: &crate::access::Deletable) -> Result<()> {
        let id = m.id();
        let store = self.store(id.store)?;
        if !self.store_status(id.store).is_some_and(|s| s.is_writable()) {
            return Err(crate::error::invalid(
                "message",
                format!("archive store #{} is write-protected", id.store.0),
            ));
        }
        let mut s = store.write()?;
        s.remove_message(id.num)?;
        s.commit()?;
        let index = self.index_of(&store)?;
        index.delete(id.num)?;
        index.commit()?;
        let mut s = store.write()?;
        s.mark_indexed(&[id.num])?;
        s.commit()?;
        Ok(())
    }

    /// True if some store has messages not yet indexed, or an index that must be rebuilt:
    /// then [`Archive::catch_up_index`] (on a writable archive) has work to do.
    pub fn index_needs_work(&self) -> Result<bool> {
        for store in self.open_stores() {
            if !store.unindexed(1)?.is_empty() {
                return Ok(true);
            }
            match self.index_of(&store) {
                Ok(_) => {}
                Err(ArchiveError::Index(arkiv_index::IndexError::SchemaChanged { .. })) => {
                    return Ok(true);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// Indexes every message a store lists as not yet indexed (after a crash, or an import
    /// that did not wait). Returns how many were indexed.
    pub fn catch_up_index(&self, progress: &mut dyn FnMut(u64)) -> Result<u64> {
        let mut done = 0;
        let mut ex = self.extractor();
        // Write-protected stores too: their messages are fixed, but index bookkeeping is no change
        // to them (the manual keeps a write-protected store's directory writable for upkeep).
        for store in self.open_stores() {
            let index = self.index_of(&store)?;
            loop {
                let nums = store.unindexed(1000)?;
                if nums.is_empty() {
                    break;
                }
                let docs = Archive::docs_from_store(&store, &nums, &mut ex)?;
                // Listed but gone (deleted): its document must leave the index too.
                for n in nums.iter().filter(|n| !docs.iter().any(|d| d.num == **n)) {
                    index.delete(*n)?;
                }
                index.add(&docs)?;
                index.commit()?;
                let mut s = store.write()?;
                s.mark_indexed(&nums)?;
                s.commit()?;
                done += nums.len() as u64;
                progress(done);
            }
        }
        Ok(done)
    }

    /// Rebuilds the index of one store, or of all, from the stored messages.
    pub fn reindex(
        &self,
        only: Option<StoreId>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64> {
        let stores: Vec<Arc<Store>> = match only {
            Some(id) => vec![self.store(id)?],
            None => self.open_stores(),
        };
        let total: u64 = stores
            .iter()
            .filter_map(|s| s.counters().ok())
            .map(|c| c.messages)
            .sum();
        let mut done = 0;
        let mut ex = self.extractor();
        for store in stores {
            let index = self.index_of(&store)?;
            index.clear()?;
            let nums = store.message_nums()?;
            for chunk in nums.chunks(1000) {
                index.add(&Archive::docs_from_store(&store, chunk, &mut ex)?)?;
                done += chunk.len() as u64;
                progress(done, total);
            }
            index.commit()?;
            crate::attachments::set_built_with(
                &store.dirs().meta.join("index"),
                &self.extraction.fingerprint(),
            )?;
            let pending = store.unindexed(usize::MAX)?;
            let mut s = store.write()?;
            s.mark_indexed(&pending)?;
            s.commit()?;
        }
        Ok(done)
    }

    /// The folders a search may look in: what the caller may read (`crate::access`), within
    /// the folder asked for. A folder the caller may not read answers as one that does not
    /// exist (names of other users' folders are not to be probed).
    fn search_scope(&self, caller: &Caller, q: &SearchQuery) -> Result<Option<Vec<u64>>> {
        let scope = self.scope(caller)?;
        let folder_scope = match &q.folder {
            Some(spec) => {
                let path = FolderPath::parse(spec);
                let missing = || ArchiveError::NoSuchFolder(spec.clone());
                let (archive, rest) = path.names().split_first().ok_or_else(missing)?;
                let id = self
                    .find_folder(archive, &FolderPath::from_names(rest))?
                    .filter(|id| scope.contains(*id))
                    .ok_or_else(missing)?;
                Some(if q.no_subfolders {
                    vec![id]
                } else {
                    self.folder_subtree(id)?
                })
            }
            None => None,
        };
        let ids = |v: Vec<FolderId>| v.into_iter().map(|f| f.0).collect::<Vec<u64>>();
        Ok(match (scope.ids(), folder_scope) {
            (None, None) => None,
            (Some(u), None) => Some(ids(u)),
            (None, Some(f)) => Some(ids(f)),
            (Some(u), Some(f)) => Some(ids(f.into_iter().filter(|x| u.contains(x)).collect())),
        })
    }

    /// Every message of one folder (not its subfolders) that matches `node`, for `caller`:
    /// all of them, in no order (IMAP SEARCH answers with the whole set). A folder the caller
    /// may not read answers as one that does not exist. As every search, it sees what the
    /// indexer has committed: mail archived a moment ago appears once its batch is indexed.
    pub fn search_folder(
        &self,
        caller: &Caller,
        folder: FolderId,
        node: &arkiv_index::Node,
    ) -> Result<Vec<MessageId>> {
        if !self.scope(caller)?.contains(folder) {
            return Err(ArchiveError::NoSuchFolder(format!("folder {}", folder.0)));
        }
        let budget = arkiv_index::Budget::new(node)?;
        let mut out = Vec::new();
        for store in self.open_stores() {
            let index = self.index_of(&store)?;
            out.extend(
                index
                    .matching(node, &[folder.0], store.id().0, &budget)?
                    .into_iter()
                    .map(|num| MessageId::new(store.id(), num)),
            );
        }
        Ok(out)
    }

    /// Runs a search for `caller` over every readable store and returns one page of results.
    pub fn search(&self, caller: &Caller, q: &SearchQuery) -> Result<SearchPage> {
        let node = q.criteria.compile(&q.text)?;
        let budget = arkiv_index::Budget::new(&node)?;
        let folders = self.search_scope(caller, q)?;
        let want = q.offset.saturating_add(q.limit.max(1));
        let mut all: Vec<(arkiv_index::SortValue, MessageId)> = Vec::new();
        let mut total = 0;
        for store in self.open_stores() {
            let index = self.index_of(&store)?;
            let r = index.search(&SearchRequest {
                query: &node,
                folders: folders.as_deref(),
                store: store.id().0,
                sort: q.sort,
                descending: !q.ascending,
                limit: want,
                budget: &budget,
            })?;
            total += r.total;
            all.extend(
                r.hits
                    .into_iter()
                    .map(|h| (h.key, MessageId::new(store.id(), h.num))),
            );
        }
        all.sort_by(|a, b| {
            if q.ascending {
                a.0.cmp(&b.0).then(a.1.cmp(&b.1))
            } else {
                b.0.cmp(&a.0).then(b.1.cmp(&a.1))
            }
        });
        let marker = arkiv_index::Highlighter::new(&node);
        let hits = all
            .into_iter()
            .skip(q.offset)
            .take(q.limit.max(1))
            .filter_map(|(_, id)| {
                let mut v = match self.message_view(id) {
                    Ok(v) => v,
                    // Gone between the index lookup and now (deleted, merged away): the index
                    // learns it at its next catch-up; the hit is left out.
                    Err(ArchiveError::Store(arkiv_store::StoreError::NoSuchMessage(_))) => {
                        return None;
                    }
                    Err(e) => return Some(Err(e)),
                };
                v.highlights = Some(crate::stats::Highlights {
                    subject: marker.ranges(arkiv_index::Shown::Subject, &v.subject),
                    from: marker.ranges(arkiv_index::Shown::From, &v.from),
                    to: marker.ranges(arkiv_index::Shown::To, &v.to),
                });
                Some(Ok(v))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SearchPage {
            total,
            offset: q.offset,
            hits,
            unavailable_stores: self.unavailable_stores(),
        })
    }
}
