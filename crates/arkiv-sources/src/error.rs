//! The error type of `arkiv-sources`.
//!
//! Only problems that stop a whole source from being opened are errors. Problems with single
//! files or messages (unreadable file, not an mbox, oversized message) are reported as
//! [`crate::SourceItem::Failed`] so that one bad file never aborts an import.

use std::io;
use std::path::PathBuf;

/// A failure to open a file source or to parse a source setting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The root path given to [`crate::open`] does not exist.
    #[error(
        "source path {} does not exist ({err}); check the spelling and that the path is \
         mounted and visible to the Arkiv server",
        path.display()
    )]
    NotFound {
        /// The path that was asked for.
        path: PathBuf,
        /// The OS error (part of the message, not a `source`, so it is not printed twice).
        err: io::Error,
    },

    /// The root path exists but could not be inspected or listed.
    #[error(
        "cannot access source path {} ({err}); check that the Arkiv server's user may read it",
        path.display()
    )]
    Access {
        /// The path that failed.
        path: PathBuf,
        /// The OS error (part of the message, not a `source`, so it is not printed twice).
        err: io::Error,
    },

    /// The root path exists but does not look like the chosen kind of source.
    #[error("{} is not a {kind} source: {reason}", path.display())]
    WrongKind {
        /// The kind that was asked for.
        kind: crate::SourceKind,
        /// The path that was asked for.
        path: PathBuf,
        /// What is wrong and what to do instead.
        reason: String,
    },

    /// A source kind name that is not one of `eml`, `mbox`, `maildir`, `thunderbird`.
    #[error("unknown source kind {0:?}; use one of: eml, mbox, maildir, thunderbird")]
    UnknownKind(String),

    /// An mbox format name that is not one of the supported variants.
    #[error("unknown mbox format {0:?}; use one of: auto, mboxo, mboxrd, mboxcl, mboxcl2")]
    UnknownMboxFormat(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
