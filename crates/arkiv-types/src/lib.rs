//! Arkiv's shared vocabulary: the small value types every other crate speaks in.
//!
//! * [`MessageId`] — `<store_id>:<message_num>`, exactly the form the MailStore manual's
//!   `DeleteMessage` uses. A message id names one *placement* of content in an archive folder;
//!   the content itself is shared (single-instance) and named by its [`ContentHash`].
//! * [`StoreId`], [`UserId`], [`FolderId`] — numeric ids allocated by the master database.
//! * [`FolderPath`] — a folder inside a user archive, shown as `Inbox/Projects`.
//! * [`StoreStatus`] — the manual's archive store statuses (§5.15).
//! * [`Timestamp`] — seconds since the Unix epoch, UTC, with RFC 3339 formatting.
//! * [`Envelope`] — the SMTP envelope a journaled message arrived with.
//!
//! This crate does no I/O and holds no key material.

mod envelope;
mod ids;
mod time;

pub use envelope::Envelope;

pub use ids::{
    ContentHash, FolderId, FolderPath, MessageId, ParseIdError, StoreId, StoreStatus, UserId,
};
pub use time::Timestamp;
