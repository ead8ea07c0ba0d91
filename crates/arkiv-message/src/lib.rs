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
//! * [`charset`] is the one table of charset labels and the one set of decoders for all text
//!   (headers, bodies, attachment names, attachment files): WHATWG's, plus what mail uses
//!   beyond it, with documented guesses for unknown and wrong labels. Where the parser's own
//!   reading falls short, `text` reads headers and bodies again with it, and the message
//!   carries a note ([`ParsedMessage::charset_notes`]).
//!
//! The parser is `mail-parser` 0.11 (1.x needs a newer Rust). It runs under `catch_unwind`,
//! because 0.11 can panic on malformed input in debug builds.

pub mod base64lines;
pub mod charset;
pub mod display;
mod iso2022;
pub mod journal;
pub mod layout;
mod summary;
mod text;

pub use layout::{BodySpan, large_bodies};
pub use summary::{
    Addr, Attachment, CHARSET_FLAG, KEEP_DECODED, MAX_BODY_TEXT, ParsedMessage, PartBody, Priority,
    Summary, parse, parse_with,
};
