//! Where mail comes from when it is imported from files (SPEC capability A1).
//!
//! This crate reads messages out of the file formats that mail clients and servers leave
//! behind, and hands them to the archive layer as exact original bytes together with the
//! folder they were found in. It does not parse messages and it does not store anything.
//!
//! * [`open`] takes a [`SourceKind`] (EML folder, mbox, Maildir, Thunderbird profile), a path
//!   and [`SourceOptions`], and returns a [`FileSource`].
//! * [`FileSource`] is an [`Iterator`] of [`SourceItem`]s: either a [`SourceMessage`]
//!   (folder path, bytes, a human-readable origin, input bytes consumed for progress) or a
//!   [`SourceFailure`] (an unreadable file, a file that is not an mbox, a message above
//!   [`SourceOptions::max_message_bytes`]). Failures never stop the iteration.
//! * [`mbox::MboxReader`] is the streaming mbox splitter used for mbox and Thunderbird
//!   sources; it can be used on its own on any [`std::io::BufRead`].
//!
//! Everything is streamed: directories are listed one at a time (entries sorted by name so
//! the order is deterministic), mbox files are split as they are read, and no message larger
//! than the limit is ever held in memory.

mod error;
mod maildir;
pub mod mbox;
mod source;
mod thunderbird;
mod walk;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

pub use arkiv_types::Envelope;
pub use error::{Error, Result};
pub use source::FileSource;

/// One message read from a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceMessage {
    /// Folder path relative to the source root, e.g. `["Projects", "Alpha"]`; empty = the root
    /// folder.
    pub folder: Vec<String>,
    /// The exact original bytes of the message.
    pub bytes: Vec<u8>,
    /// Human-readable origin for reports, e.g. `/x/a.eml` or
    /// `/x/Inbox (message 12 at byte 3456)`.
    pub origin: String,
    /// Input bytes consumed for this item (for a progress bar in bytes).
    pub input_len: u64,
    /// The SMTP envelope it arrived with (journaling); `None` for files and mailboxes.
    pub envelope: Option<Envelope>,
}

/// A file or message that could not be read; the import goes on without it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFailure {
    /// Folder the item would have gone to.
    pub folder: Vec<String>,
    /// Where it is: a path, or a path with message number and byte offset.
    pub origin: String,
    /// What went wrong and what to do about it.
    pub reason: String,
    /// Input bytes consumed for this item (for a progress bar in bytes).
    pub input_len: u64,
}

/// What a [`FileSource`] yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceItem {
    /// A message.
    Message(SourceMessage),
    /// A file or message that could not be read.
    Failed(SourceFailure),
}

/// The kind of file source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A folder tree of `.eml` files, or one such file.
    Eml,
    /// One mbox file or a folder tree of mbox files.
    Mbox,
    /// A Maildir with Maildir++ (`.Sub.Folder`) or fs-layout subfolders.
    Maildir,
    /// A Thunderbird/SeaMonkey profile, account mail folder, or one of its mbox files.
    Thunderbird,
}

impl SourceKind {
    /// The name used in configuration and in [`FileSource::source_id`].
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Eml => "eml",
            SourceKind::Mbox => "mbox",
            SourceKind::Maildir => "maildir",
            SourceKind::Thunderbird => "thunderbird",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "eml" => Ok(SourceKind::Eml),
            "mbox" => Ok(SourceKind::Mbox),
            "maildir" => Ok(SourceKind::Maildir),
            "thunderbird" => Ok(SourceKind::Thunderbird),
            _ => Err(Error::UnknownKind(s.to_owned())),
        }
    }
}

/// The mbox variant, which decides how `>From ` quoting and `Content-Length:` are treated.
/// See [`mbox`] for the exact rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MboxFormat {
    /// From_ splitting with mboxrd unquoting, which is also right for mboxo files.
    #[default]
    Auto,
    /// `>From ` → `From ` only.
    Mboxo,
    /// `>+From ` loses one `>`.
    Mboxrd,
    /// `Content-Length:` plus mboxo unquoting.
    Mboxcl,
    /// `Content-Length:` and no unquoting.
    Mboxcl2,
}

impl MboxFormat {
    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            MboxFormat::Auto => "auto",
            MboxFormat::Mboxo => "mboxo",
            MboxFormat::Mboxrd => "mboxrd",
            MboxFormat::Mboxcl => "mboxcl",
            MboxFormat::Mboxcl2 => "mboxcl2",
        }
    }
}

impl fmt::Display for MboxFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MboxFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(MboxFormat::Auto),
            "mboxo" => Ok(MboxFormat::Mboxo),
            "mboxrd" => Ok(MboxFormat::Mboxrd),
            "mboxcl" => Ok(MboxFormat::Mboxcl),
            "mboxcl2" => Ok(MboxFormat::Mboxcl2),
            _ => Err(Error::UnknownMboxFormat(s.to_owned())),
        }
    }
}

/// How a file source is read.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    /// Walk subfolders of EML and mbox folders ("include subfolders"). Default `true`.
    pub recursive: bool,
    /// File extensions of EML files, case-insensitive, with or without the leading dot.
    /// Default `["eml"]`.
    pub extensions: Vec<String>,
    /// How mbox files are split and unquoted. Default [`MboxFormat::Auto`].
    pub mbox_format: MboxFormat,
    /// Larger messages become a [`SourceFailure`] without being buffered whole.
    /// Default 256 MiB.
    pub max_message_bytes: u64,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            recursive: true,
            extensions: vec!["eml".to_owned()],
            mbox_format: MboxFormat::Auto,
            max_message_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Opens the file source of `kind` at `path`.
///
/// Fails when `path` does not exist or cannot be inspected, or when it clearly is not that
/// kind of source (e.g. a Maildir without `cur`/`new`). Problems with single files inside the
/// source are reported later as [`SourceItem::Failed`].
pub fn open(kind: SourceKind, path: &Path, opts: &SourceOptions) -> Result<FileSource> {
    FileSource::open(kind, path, opts)
}
