//! Attachment contents in the index (C4, manual §5.16), and the state of each index.
//!
//! `[attachments]` of `arkiv.toml` says which file types are read ([`arkiv_extract`]). The
//! import workers and the index rebuild read them through an [`Extractor`], in the sandbox
//! process when the binary has set one up ([`Archive::set_extraction_sandbox`]).
//!
//! Each index remembers the settings it was built with (`<index>/attachments`). After a
//! change, new messages follow the new settings at once; the messages already indexed keep
//! the old ones until the index is rebuilt, and until then the index reports
//! **please rebuild** ([`IndexInfo`]), as the manual's Search Indexes list does.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use arkiv_extract::{Extractor, Settings};
use arkiv_message::ParsedMessage;
use arkiv_types::StoreId;
use serde::Serialize;

use crate::error::{Result, io_err};
use crate::master::Archive;

/// The most attachment text kept for one message.
pub const MAX_MESSAGE_ATTACHMENT_TEXT: usize = 4 << 20;

const BUILT_WITH: &str = "attachments";
/// The marker of the text version an index was built with (see [`text_version`]).
const TEXT_BUILT_WITH: &str = "text";

/// The attachment text of one message, and the attachments that could not be read.
#[derive(Debug, Default)]
pub(crate) struct AttachmentText {
    pub text: String,
    pub read: u64,
    /// `(file name, reason)`.
    pub failures: Vec<(String, String)>,
}

/// One search index, as the manual's Search Indexes list shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexInfo {
    pub store_id: StoreId,
    pub store_name: String,
    pub size_bytes: u64,
    /// `ok`, or `please rebuild` when the attachment settings changed since it was built, or
    /// it was built by an older text decoding or word analysis.
    pub status: String,
    /// The attachment settings it was built with.
    pub built_with: String,
    /// Why it should be rebuilt (`None` when its status is `ok`).
    pub rebuild_reason: Option<String>,
}

impl Archive {
    /// Attachment text is read in a sandbox process started with this command (program and
    /// arguments; it must run [`arkiv_extract::sandbox::serve`]). Without it, in this process.
    pub fn set_extraction_sandbox(&self, command: Vec<OsString>) {
        *self.sandbox.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(command));
    }

    /// Which attachments have their contents indexed.
    pub fn extraction_settings(&self) -> &Settings {
        &self.extraction
    }

    /// An extractor for one thread, or `None` when only file names are indexed.
    pub(crate) fn extractor(&self) -> Option<Extractor> {
        if self.extraction.is_off() {
            return None;
        }
        let cmd = self
            .sandbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Some(Extractor::new(self.extraction.clone(), cmd))
    }

    /// Every open store's index with its size and status.
    pub fn indexes(&self) -> Result<Vec<IndexInfo>> {
        let now = self.extraction.fingerprint();
        let names: std::collections::BTreeMap<StoreId, String> = self
            .stores()
            .into_iter()
            .map(|s| (s.entry.id, s.entry.name))
            .collect();
        let mut out = Vec::new();
        for store in self.open_stores() {
            let dir = store.dirs().meta.join("index");
            // A store whose index was never made (a new, empty store) gets one made with
            // today's settings: nothing to rebuild.
            let (built, text) = if dir.exists() {
                (built_with(&dir), built_text(&dir))
            } else {
                (now.clone(), text_version())
            };
            let mut reasons = Vec::new();
            if built != now {
                reasons.push(format!(
                    "built with other attachment settings ({built}; now {now})"
                ));
            }
            if text != text_version() {
                reasons.push(format!(
                    "built by an older text decoding ({text}; now {}): mail in some charsets \
                     was not decoded, or not analysed, as it is now",
                    text_version()
                ));
            }
            let reason = (!reasons.is_empty()).then(|| reasons.join("; "));
            out.push(IndexInfo {
                store_id: store.id(),
                store_name: names.get(&store.id()).cloned().unwrap_or_default(),
                size_bytes: dir_size(&dir),
                status: if reason.is_none() {
                    "ok"
                } else {
                    "please rebuild"
                }
                .into(),
                built_with: built,
                rebuild_reason: reason,
            });
        }
        Ok(out)
    }
}

/// Reads the attachments that `parse_with` kept, then drops their bytes.
pub(crate) fn read_attachments(ex: &mut Extractor, parsed: &mut ParsedMessage) -> AttachmentText {
    let mut out = AttachmentText::default();
    for a in std::mem::take(&mut parsed.attachments) {
        let Some(kind) = ex.settings().kind_of(a.name.as_deref(), &a.content_type) else {
            continue;
        };
        let name = a.name.clone().unwrap_or_else(|| a.content_type.clone());
        if out.text.len() >= MAX_MESSAGE_ATTACHMENT_TEXT {
            break;
        }
        match ex.extract(kind, &a.data) {
            Ok(x) => {
                for p in x.problems {
                    out.failures.push((name.clone(), p));
                }
                let t = x.text;
                out.read += 1;
                if !out.text.is_empty() {
                    out.text.push('\n');
                }
                let room =
                    MAX_MESSAGE_ATTACHMENT_TEXT - out.text.len().min(MAX_MESSAGE_ATTACHMENT_TEXT);
                let mut cut = t.len().min(room);
                while !t.is_char_boundary(cut) {
                    cut -= 1;
                }
                out.text.push_str(&t[..cut]);
            }
            Err(f) => out.failures.push((name, f.0)),
        }
    }
    out
}

/// The filter for `parse_with`: keep the attachments these settings read.
pub(crate) fn wanted(settings: &Settings) -> impl Fn(Option<&str>, &str) -> bool + '_ {
    move |name, ctype| settings.kind_of(name, ctype).is_some()
}

/// The attachment settings an index was built with ("names-only" for indexes made before
/// attachment contents existed).
pub(crate) fn built_with(index_dir: &Path) -> String {
    std::fs::read_to_string(index_dir.join(BUILT_WITH))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "names-only".into())
}

/// Records that an index holds every message as the current settings, decoder and analyzer
/// make it.
pub(crate) fn set_built_with(index_dir: &Path, fingerprint: &str) -> Result<()> {
    let p = index_dir.join(BUILT_WITH);
    std::fs::write(&p, format!("{fingerprint}\n")).map_err(|e| io_err(&p, e))?;
    let p = index_dir.join(TEXT_BUILT_WITH);
    std::fs::write(&p, format!("{}\n", text_version())).map_err(|e| io_err(&p, e))
}

/// The version of the text an index is made of: the charset decoding
/// (`arkiv_message::charset::DECODER_VERSION`) and the word analysis
/// (`arkiv_index::ANALYZER_VERSION`). When either changes, mail archived before may be
/// indexed (and its headers recorded) differently from what they give now.
pub fn text_version() -> String {
    format!(
        "decoder {}, analyzer {}",
        arkiv_message::charset::DECODER_VERSION,
        arkiv_index::ANALYZER_VERSION
    )
}

/// The text version an index was built with (indexes from before the marker: version 1).
fn built_text(index_dir: &Path) -> String {
    std::fs::read_to_string(index_dir.join(TEXT_BUILT_WITH))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "decoder 1, analyzer 1".into())
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
