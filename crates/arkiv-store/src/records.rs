//! What the store database holds, and how each value is sealed.

use arkiv_crypto::Sealer;
use arkiv_message::Summary;
use arkiv_message::base64lines::Layout;
use arkiv_types::{ContentHash, FolderId, Timestamp, UserId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// Where a blob lives (kept in the clear: it reveals sizes only).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct BlobLoc {
    pub seg: u32,
    pub off: u64,
    /// Length of the sealed part (after the header).
    pub len: u32,
    pub raw_len: u64,
}

/// How an inserted blob turns back into message bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transform {
    Raw,
    Base64(Layout),
}

/// A large part body cut out of the skeleton.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Insert {
    /// Position in the skeleton where the body goes.
    pub at: u64,
    pub blob: [u8; 32],
    pub transform: Transform,
}

/// How to rebuild one message's exact bytes: the skeleton with the large bodies put back.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContentRecord {
    pub hash: ContentHash,
    pub size: u64,
    pub skeleton: [u8; 32],
    pub inserts: Vec<Insert>,
}

/// One archived message: content placed in a folder of a user archive.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MessageRecord {
    pub content_key: [u8; 32],
    pub hash: ContentHash,
    pub size: u64,
    /// The archive (its owner's user id at archiving time) and folder.
    pub user: UserId,
    pub folder: FolderId,
    pub archived_at: Timestamp,
    /// Where it came from, e.g. `mbox:/srv/old/alice.mbox`.
    pub source: Option<String>,
    pub summary: Summary,
    /// Why the parser could not fully understand the message (it is archived all the same).
    pub problem: Option<String>,
}

/// The name of a folder the store has messages in, kept in the store itself (sealed), so that
/// a store read without its master database (attached elsewhere, or after a disaster) can put
/// its messages back in place: the folder ids of the records mean something only next to the
/// master database they came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreFolder {
    /// The user archive (its root folder's name).
    pub archive: String,
    /// The path below the archive root.
    pub path: Vec<String>,
}

/// The store's running totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCounters {
    /// Messages (placements) in the store.
    pub messages: u64,
    /// Sum of the original sizes of all messages.
    pub original_bytes: u64,
    /// Distinct message contents.
    pub contents: u64,
    /// Sum of the original sizes of the distinct contents.
    pub content_bytes: u64,
    pub blobs: u64,
    /// Bytes of blob data before compression.
    pub blob_bytes: u64,
    /// Bytes the pack files hold (what the disk stores).
    pub stored_bytes: u64,
}

pub(crate) fn seal<T: Serialize>(sealer: &Sealer, ad: &[u8], value: &T) -> Result<Vec<u8>> {
    let plain = postcard::to_stdvec(value).map_err(|e| StoreError::Malformed {
        what: "record".into(),
        detail: e.to_string(),
    })?;
    Ok(sealer.seal(ad, &plain)?)
}

pub(crate) fn open<T: DeserializeOwned>(
    sealer: &Sealer,
    ad: &[u8],
    sealed: &[u8],
    what: &str,
) -> Result<T> {
    let plain = sealer.open(ad, sealed, what)?;
    postcard::from_bytes(&plain).map_err(|e| StoreError::Malformed {
        what: what.to_string(),
        detail: e.to_string(),
    })
}

pub(crate) fn message_ad(num: u64) -> Vec<u8> {
    let mut ad = b"message ".to_vec();
    ad.extend_from_slice(&num.to_le_bytes());
    ad
}

pub(crate) fn envelope_ad(num: u64) -> Vec<u8> {
    let mut ad = b"envelope ".to_vec();
    ad.extend_from_slice(&num.to_le_bytes());
    ad
}

pub(crate) fn folder_ad(id: u64) -> Vec<u8> {
    let mut ad = b"folder ".to_vec();
    ad.extend_from_slice(&id.to_le_bytes());
    ad
}

pub(crate) fn content_ad(key: &[u8; 32]) -> Vec<u8> {
    let mut ad = b"content ".to_vec();
    ad.extend_from_slice(key);
    ad
}
