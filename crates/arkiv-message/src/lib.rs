//! From raw RFC 5322 bytes to what Arkiv needs to know about a message.
//!
//! * [`parse`] turns bytes into a [`ParsedMessage`]: a [`Summary`] of the headers (decoded
//!   subject, addresses, date, message id, attachment names) and the byte spans of the MIME part
//!   bodies. It never panics and never refuses: a message the parser cannot understand gets a
//!   `problem` and an empty summary, and is still archived with its exact bytes.
//! * [`layout`] picks the large part bodies that the store keeps as separate, shared blobs
//!   (so the same attachment in different messages is stored once), and [`base64lines`]
//!   proves that a base64 body can be rebuilt byte for byte from its decoded bytes plus a tiny
//!   layout, so the store can keep the binary (a quarter smaller) instead of the text.
//!
//! The parser is `mail-parser` 0.11 (1.x needs a newer Rust). It runs under `catch_unwind`,
//! because 0.11 can panic on malformed input in debug builds.

pub mod base64lines;
pub mod layout;
mod summary;

pub use layout::{BodySpan, large_bodies};
pub use summary::{
    Addr, Attachment, KEEP_DECODED, MAX_BODY_TEXT, ParsedMessage, PartBody, Priority, Summary,
    parse, parse_with,
};
