//! One archive store: the unit of storage (manual §5.15).
//!
//! A store is two directories (they may live on different disks):
//!
//! * **metadata** — `store.redb`, a redb database (ACID, copy-on-write, fsync on commit) with
//!   the message records, content recipes, the blob index and the counters;
//! * **content** — `packs/NNNNNN.pack`, append-only pack files of sealed blobs.
//!
//! Content is single-instance twice over: a message's exact bytes are stored once per store
//! however many folders and users it is archived for ([`ContentRecord`]), and large MIME part
//! bodies are cut out into their own blobs, so the same attachment in different messages is
//! stored once ([`recipe`]). A base64 body that re-encodes to exactly itself is stored decoded
//! (a quarter smaller); reconstruction always yields the original bytes, checked against the
//! BLAKE3 hash on every read and by [`Store::verify`].
//!
//! Every blob is zstd-compressed (when that helps) and sealed with XChaCha20-Poly1305 under the
//! store's data key, bound to its blob id; every record in the database that reveals content
//! (subjects, addresses, file names, folder ownership) is sealed too. Lookup keys are keyed
//! BLAKE3, so the data directory alone does not even tell whether a known message is in it.
//!
//! **Durability.** A write session appends blobs to the pack, then on commit `fdatasync`s the
//! pack and commits the redb transaction, which records each pack's committed length. A crash
//! before the commit leaves bytes past the committed length; they are cut off when the store is
//! next opened for writing. So a message is either fully archived or not at all, never half.
//!
//! **Invariants.** Blobs are immutable and never rewritten in place; a content record only
//! refers to blobs committed in the same or an earlier transaction; a message record only refers
//! to a content record committed with it or before it.

mod blob;
mod damage;
mod error;
mod maintain;
mod pack;
pub mod recipe;
mod records;
mod recovery;
mod store;
mod verify;

pub use damage::ShortPack;
pub use error::{Result, StoreError};
pub use maintain::{CompactReport, DatabaseMaintenance, RepairReport};
pub use recipe::{PreparedContent, StoreKeys};
pub use records::{ContentRecord, MessageRecord, StoreCounters, StoreFolder};
pub use recovery::{RecoverReport, RecreateReport};
pub use store::{Store, StoreDirs, WriteSession};
pub use verify::{StoreProblem, StoreVerifyReport};
