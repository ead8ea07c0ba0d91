//! Cutting a message into blobs (on worker threads) and putting it back together.

use std::borrow::Cow;

use arkiv_crypto::{DataKey, KeyedHasher, Sealer};
use arkiv_message::{ParsedMessage, base64lines, large_bodies};
use arkiv_types::ContentHash;

use crate::blob::{self, SealedBlob};
use crate::error::{Result, StoreError};
use crate::records::{ContentRecord, Insert, Transform};

/// The keys of one store, shareable with worker threads.
#[derive(Clone)]
pub struct StoreKeys {
    pub(crate) blob_sealer: Sealer,
    pub(crate) record_sealer: Sealer,
    pub(crate) recovery_sealer: Sealer,
    pub(crate) content_ids: KeyedHasher,
    pub(crate) blob_ids: KeyedHasher,
    pub(crate) placement_ids: KeyedHasher,
    pub(crate) source_ids: KeyedHasher,
}

impl StoreKeys {
    pub(crate) fn new(dk: &DataKey) -> Self {
        StoreKeys {
            blob_sealer: dk.sealer("blob"),
            record_sealer: dk.sealer("record"),
            recovery_sealer: dk.sealer("recovery"),
            content_ids: dk.hasher("content"),
            blob_ids: dk.hasher("blob"),
            placement_ids: dk.hasher("placement"),
            source_ids: dk.hasher("source"),
        }
    }

    /// The store's lookup id of a content hash.
    pub fn content_key(&self, hash: &ContentHash) -> [u8; 32] {
        self.content_ids.hash(&hash.0)
    }
}

/// A message cut into blobs and sealed, ready for the single writer.
#[derive(Clone, Debug)]
pub struct PreparedContent {
    pub hash: ContentHash,
    pub content_key: [u8; 32],
    pub size: u64,
    pub record: ContentRecord,
    /// Sealed blobs not known to exist when prepared (the writer skips any that exist by then).
    pub blobs: Vec<SealedBlob>,
}

/// Cuts `raw` into a skeleton plus large part bodies of at least `threshold` bytes.
/// `exists` tells whether a blob id is already stored (to skip compressing and sealing it).
pub fn prepare(
    keys: &StoreKeys,
    raw: &[u8],
    hash: ContentHash,
    parsed: &ParsedMessage,
    threshold: usize,
    exists: &dyn Fn(&[u8; 32]) -> bool,
) -> Result<PreparedContent> {
    let mut skeleton = Vec::with_capacity(raw.len().min(64 * 1024));
    let mut inserts = Vec::new();
    let mut blobs = Vec::new();
    let mut pos = 0usize;
    for span in large_bodies(parsed, threshold.max(1)) {
        let body = &raw[span.range.clone()];
        // Prefer the parser's decoded bytes (decoding once); else decode here.
        let as_base64 = match (span.base64, span.decoded) {
            (false, _) => None,
            (true, Some(d)) => base64lines::layout_for(body, d).map(|l| (Cow::Borrowed(d), l)),
            (true, None) => base64lines::analyze(body).map(|(d, l)| (Cow::Owned(d), l)),
        };
        let (data, transform) = match as_base64 {
            Some((decoded, layout)) => (decoded, Transform::Base64(layout)),
            None => (Cow::Borrowed(body), Transform::Raw),
        };
        let id = keys.blob_ids.hash(&data);
        if !exists(&id) && !blobs.iter().any(|b: &SealedBlob| b.key == id) {
            blobs.push(blob::seal(&keys.blob_sealer, id, &data)?);
        }
        skeleton.extend_from_slice(&raw[pos..span.range.start]);
        inserts.push(Insert {
            at: skeleton.len() as u64,
            blob: id,
            transform,
        });
        pos = span.range.end;
    }
    skeleton.extend_from_slice(&raw[pos..]);
    let skel_id = keys.blob_ids.hash(&skeleton);
    if !exists(&skel_id) && !blobs.iter().any(|b| b.key == skel_id) {
        blobs.push(blob::seal(&keys.blob_sealer, skel_id, &skeleton)?);
    }
    Ok(PreparedContent {
        hash,
        content_key: keys.content_key(&hash),
        size: raw.len() as u64,
        record: ContentRecord {
            hash,
            size: raw.len() as u64,
            skeleton: skel_id,
            inserts,
        },
        blobs,
    })
}

/// Rebuilds the message bytes; `read` fetches a blob's data by id.
pub(crate) fn reconstruct(
    record: &ContentRecord,
    read: &mut dyn FnMut(&[u8; 32]) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    let skeleton = read(&record.skeleton)?;
    let mut out = Vec::with_capacity(record.size as usize);
    let mut pos = 0usize;
    for ins in &record.inserts {
        let at = ins.at as usize;
        if at < pos || at > skeleton.len() {
            return Err(StoreError::Malformed {
                what: "content recipe".into(),
                detail: "insert out of order".into(),
            });
        }
        out.extend_from_slice(&skeleton[pos..at]);
        let data = read(&ins.blob)?;
        match ins.transform {
            Transform::Raw => out.extend_from_slice(&data),
            Transform::Base64(layout) => out.extend_from_slice(&base64lines::encode(&data, layout)),
        }
        pos = at;
    }
    out.extend_from_slice(&skeleton[pos..]);
    Ok(out)
}
