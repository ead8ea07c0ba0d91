//! Statistics (manual §5.2 "Archives") and listings.

use std::collections::{BTreeMap, HashMap};

use arkiv_types::{FolderId, MessageId, StoreId};
use serde::Serialize;

use crate::error::Result;
use crate::master::Archive;

/// One user archive's share of the archive.
#[derive(Clone, Debug, Serialize)]
pub struct ArchiveStats {
    pub archive: String,
    pub messages: u64,
    /// Sum of the original sizes of its messages.
    pub bytes: u64,
    /// Share of the total size, in percent.
    pub share_percent: f64,
}

/// One store's totals.
#[derive(Clone, Debug, Serialize)]
pub struct StoreStats {
    pub id: u32,
    pub name: String,
    pub status: String,
    pub messages: u64,
    pub original_bytes: u64,
    pub unique_messages: u64,
    pub unique_bytes: u64,
    pub blobs: u64,
    pub stored_bytes: u64,
    /// Messages known to be damaged (found when the store opened, or by `verify`).
    pub damaged_messages: u64,
    /// Packs shorter than the store wrote them, as `"000001.pack: 1234 of 5678 bytes"`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub short_packs: Vec<String>,
    pub error: Option<String>,
}

/// The whole archive's statistics.
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub archives: Vec<ArchiveStats>,
    pub stores: Vec<StoreStats>,
    pub messages: u64,
    pub original_bytes: u64,
    pub stored_bytes: u64,
    /// stored ÷ original bytes.
    pub stored_ratio: f64,
    /// Stores not counted because they cannot be opened.
    pub unavailable_stores: Vec<crate::stores::UnavailableStore>,
}

/// A message as listed.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: String,
    pub archive: String,
    pub folder: String,
    pub date: Option<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub size: u64,
    pub archived_at: String,
    pub attachments: Vec<String>,
    /// Set when the parser could not understand the message (its bytes are archived all the same).
    pub problem: Option<String>,
    /// Set when the message's stored bytes are damaged (it cannot be read; `verify` tells more).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damaged: Option<String>,
    /// In search results: byte ranges of `subject`, `from` and `to` that matched the query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highlights: Option<Highlights>,
}

/// Matched byte ranges per shown field (`[start, end)` into the field's text).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Highlights {
    pub subject: Vec<[usize; 2]>,
    pub from: Vec<[usize; 2]>,
    pub to: Vec<[usize; 2]>,
}

/// Addresses as people read them: `Name <address>`, comma-separated.
pub fn show_addrs(a: &[arkiv_message::Addr]) -> String {
    a.iter()
        .map(|x| match &x.name {
            Some(n) if !x.address.is_empty() => format!("{n} <{}>", x.address),
            Some(n) => n.clone(),
            None => x.address.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Archive {
    pub fn stats(&self) -> Result<Stats> {
        let mut per_folder: HashMap<FolderId, (u64, u64)> = HashMap::new();
        let mut stores = Vec::new();
        let open: BTreeMap<StoreId, _> = self
            .open_stores()
            .into_iter()
            .map(|s| (s.id(), s))
            .collect();
        for info in self.stores() {
            let mut st = StoreStats {
                id: info.entry.id.0,
                name: info.entry.name.clone(),
                status: info.entry.status.to_string(),
                messages: 0,
                original_bytes: 0,
                unique_messages: 0,
                unique_bytes: 0,
                blobs: 0,
                stored_bytes: 0,
                damaged_messages: 0,
                short_packs: Vec::new(),
                error: info.error.clone(),
            };
            if let Some(store) = open.get(&info.entry.id) {
                let c = store.counters()?;
                st.messages = c.messages;
                st.original_bytes = c.original_bytes;
                st.unique_messages = c.contents;
                st.unique_bytes = c.content_bytes;
                st.blobs = c.blobs;
                st.stored_bytes = c.stored_bytes;
                st.damaged_messages = store.damaged_messages().len() as u64;
                st.short_packs = store
                    .short_packs()
                    .iter()
                    .map(|p| format!("{:06}.pack: {} of {} bytes", p.seg, p.actual, p.committed))
                    .collect();
                for (f, (n, b)) in store.folder_counts()? {
                    let e = per_folder.entry(f).or_default();
                    e.0 += n;
                    e.1 += b;
                }
            }
            stores.push(st);
        }
        let mut by_archive: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (root, name) in self.child_folders(None)? {
            let mut sum = (0, 0);
            for f in self.folder_subtree(root)? {
                if let Some((n, b)) = per_folder.get(&f) {
                    sum.0 += n;
                    sum.1 += b;
                }
            }
            by_archive.insert(name, sum);
        }
        let total_bytes: u64 = by_archive.values().map(|v| v.1).sum();
        let archives = by_archive
            .into_iter()
            .map(|(archive, (messages, bytes))| ArchiveStats {
                archive,
                messages,
                bytes,
                share_percent: if total_bytes == 0 {
                    0.0
                } else {
                    bytes as f64 * 100.0 / total_bytes as f64
                },
            })
            .collect();
        let messages = stores.iter().map(|s| s.messages).sum();
        let original_bytes = stores.iter().map(|s| s.original_bytes).sum();
        let stored_bytes = stores.iter().map(|s| s.stored_bytes).sum();
        Ok(Stats {
            archives,
            stores,
            messages,
            original_bytes,
            stored_bytes,
            stored_ratio: if original_bytes == 0 {
                0.0
            } else {
                stored_bytes as f64 / original_bytes as f64
            },
            unavailable_stores: self.unavailable_stores(),
        })
    }

    /// The messages directly in a folder, oldest first by date.
    pub fn folder_messages(&self, folder: FolderId) -> Result<Vec<MessageView>> {
        let mut out = Vec::new();
        for store in self.open_stores() {
            for num in store.folder_messages(folder)? {
                out.push(self.message_view(MessageId::new(store.id(), num))?);
            }
        }
        out.sort_by(|a, b| a.date.cmp(&b.date).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    pub fn message_view(&self, id: MessageId) -> Result<MessageView> {
        let store = self.store(id.store)?;
        let rec = store.message(id.num)?;
        let (archive, folder) = self.folder_location(rec.folder)?;
        let s = &rec.summary;
        Ok(MessageView {
            id: id.to_string(),
            archive,
            folder: folder.to_string(),
            date: s.date.map(|d| arkiv_types::Timestamp(d).to_rfc3339()),
            from: show_addrs(&s.from),
            to: show_addrs(&s.to),
            subject: s.subject.clone().unwrap_or_default(),
            size: rec.size,
            archived_at: rec.archived_at.to_rfc3339(),
            attachments: s.attachment_names.clone(),
            problem: rec.problem.clone(),
            damaged: store.damaged_message(id.num),
            highlights: None,
        })
    }

    /// The original bytes of a message to show it to a caller who may read it
    /// (`Archive::readable`): Web Access renders the text, the sanitized HTML, the source and
    /// the attachments from them. Handing out the whole `.eml` is exporting it
    /// ([`Archive::message_bytes`]).
    pub fn message_bytes_to_show(&self, m: &crate::access::Readable) -> Result<Vec<u8>> {
        Ok(self.store(m.id.store)?.read_message(m.id.num)?)
    }

    /// The SMTP envelope a journaled message arrived with (`None` for messages archived from
    /// files and mailboxes): who the mail server says sent and received it, Bcc included.
    pub fn envelope(&self, m: &crate::access::Readable) -> Result<Option<arkiv_types::Envelope>> {
        Ok(self.store(m.id.store)?.envelope(m.id.num)?)
    }

    /// The exact original bytes of a message (checked against its hash), for a caller who
    /// may export it (`Archive::exportable`).
    pub fn message_bytes(&self, m: &crate::access::Exportable) -> Result<Vec<u8>> {
        let id = m.id();
        Ok(self.store(id.store)?.read_message(id.num)?)
    }
}
