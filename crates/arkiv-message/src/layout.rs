//! Which part bodies of a message become separate, shared blobs.

use std::ops::Range;

use crate::summary::ParsedMessage;

/// A large part body to store on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodySpan<'a> {
    pub range: Range<usize>,
    pub base64: bool,
    /// The body as the MIME parser decoded it (binary base64 parts), to avoid decoding twice.
    pub decoded: Option<&'a [u8]>,
}

/// The part bodies of at least `threshold` bytes (as stored in the message), in byte order.
pub fn large_bodies(parsed: &ParsedMessage, threshold: usize) -> Vec<BodySpan<'_>> {
    parsed
        .bodies
        .iter()
        .filter(|b| b.range.len() >= threshold)
        .map(|b| BodySpan {
            range: b.range.clone(),
            base64: b.base64,
            decoded: b.decoded.as_deref(),
        })
        .collect()
}
