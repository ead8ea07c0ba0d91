//! The on-disk form of one blob.
//!
//! ```text
//! record    = "AKB1" ‖ blob id (32) ‖ sealed length (u32 LE) ‖ sealed
//! sealed    = XChaCha20-Poly1305(blob sealer, ad = blob id, plaintext)
//! plaintext = codec (0 = stored, 1 = zstd) ‖ raw length (u64 LE) ‖ data
//! ```
//! The blob id in the clear header lets `verify` walk a pack without the index; the AEAD binds
//! the ciphertext to that id, so a record copied to another place is detected.

use arkiv_crypto::Sealer;

use crate::error::{Result, StoreError};

pub(crate) const MAGIC: &[u8; 4] = b"AKB1";
/// A recovery record (`recovery.rs`): same layout, its own sealer.
pub(crate) const MAGIC_RECOVERY: &[u8; 4] = b"AKR1";
pub(crate) const HEADER_LEN: usize = 4 + 32 + 4;
const CODEC_STORED: u8 = 0;
const CODEC_ZSTD: u8 = 1;
const ZSTD_LEVEL: i32 = 3;

/// A blob ready to append to a pack.
#[derive(Clone, Debug)]
pub struct SealedBlob {
    pub key: [u8; 32],
    pub record: Vec<u8>,
    pub raw_len: u64,
}

pub(crate) fn seal(sealer: &Sealer, key: [u8; 32], data: &[u8]) -> Result<SealedBlob> {
    seal_as(MAGIC, sealer, key, data)
}

/// [`seal`] with another record magic (recovery records).
pub(crate) fn seal_as(
    magic: &[u8; 4],
    sealer: &Sealer,
    key: [u8; 32],
    data: &[u8],
) -> Result<SealedBlob> {
    let mut plain = Vec::with_capacity(9 + data.len() / 2);
    let compressed = if data.len() >= 64 && looks_compressible(data) {
        zstd::bulk::compress(data, ZSTD_LEVEL).ok()
    } else {
        None
    };
    match compressed {
        // Keep the compressed form only when it saves at least 3%.
        Some(c) if c.len() + c.len() / 32 < data.len() => {
            plain.push(CODEC_ZSTD);
            plain.extend_from_slice(&(data.len() as u64).to_le_bytes());
            plain.extend_from_slice(&c);
        }
        _ => {
            plain.push(CODEC_STORED);
            plain.extend_from_slice(&(data.len() as u64).to_le_bytes());
            plain.extend_from_slice(data);
        }
    }
    let sealed = sealer.seal(&key, &plain)?;
    let mut record = Vec::with_capacity(HEADER_LEN + sealed.len());
    record.extend_from_slice(magic);
    record.extend_from_slice(&key);
    record.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
    record.extend_from_slice(&sealed);
    Ok(SealedBlob {
        key,
        record,
        raw_len: data.len() as u64,
    })
}

/// Large blobs are probed on a 32 KiB sample first: JPEGs, ZIPs and PDFs' image streams do not
/// compress, and compressing megabytes of them for nothing costs a tenth of an import's CPU.
fn looks_compressible(data: &[u8]) -> bool {
    const SAMPLE: usize = 32 * 1024;
    if data.len() < 4 * SAMPLE {
        return true;
    }
    let mid = data.len() / 2;
    let sample = &data[mid..mid + SAMPLE];
    match zstd::bulk::compress(sample, 1) {
        Ok(c) => c.len() < SAMPLE * 95 / 100,
        Err(_) => true,
    }
}

/// Parses a blob record header: the blob id and the sealed length.
pub(crate) fn parse_header(h: &[u8]) -> Option<([u8; 32], u32)> {
    match parse_any(h)? {
        (false, key, len) => Some((key, len)),
        (true, ..) => None,
    }
}

/// Parses any record header: whether it is a recovery record, its id and sealed length.
pub(crate) fn parse_any(h: &[u8]) -> Option<(bool, [u8; 32], u32)> {
    if h.len() < HEADER_LEN {
        return None;
    }
    let recovery = match &h[..4] {
        m if m == MAGIC => false,
        m if m == MAGIC_RECOVERY => true,
        _ => return None,
    };
    let key: [u8; 32] = h[4..36].try_into().ok()?;
    let len = u32::from_le_bytes(h[36..40].try_into().ok()?);
    Some((recovery, key, len))
}

/// Opens the sealed part of a record and returns the original data.
pub(crate) fn open(sealer: &Sealer, key: &[u8; 32], sealed: &[u8], what: &str) -> Result<Vec<u8>> {
    let plain = sealer.open(key, sealed, what)?;
    let bad = |d: &str| StoreError::Malformed {
        what: what.to_string(),
        detail: d.to_string(),
    };
    if plain.len() < 9 {
        return Err(bad("too short"));
    }
    let raw_len = u64::from_le_bytes(plain[1..9].try_into().expect("8 bytes")) as usize;
    let data = &plain[9..];
    match plain[0] {
        CODEC_STORED if data.len() == raw_len => Ok(data.to_vec()),
        CODEC_ZSTD => {
            let out = zstd::bulk::decompress(data, raw_len).map_err(|e| bad(&e.to_string()))?;
            if out.len() != raw_len {
                return Err(bad("decompressed length differs"));
            }
            Ok(out)
        }
        _ => Err(bad("unknown codec or length")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arkiv_crypto::DataKey;

    #[test]
    fn seal_and_open_both_codecs() {
        let s = DataKey::generate().unwrap().sealer("t");
        let text =
            b"hello hello hello hello hello hello hello hello hello hello hello hello".repeat(10);
        let noise: Vec<u8> = (0..10_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for data in [&text[..], &noise[..], b"", b"x"] {
            let b = seal(&s, [9; 32], data).unwrap();
            let (k, len) = parse_header(&b.record).unwrap();
            assert_eq!(k, [9; 32]);
            assert_eq!(len as usize, b.record.len() - HEADER_LEN);
            assert_eq!(open(&s, &k, &b.record[HEADER_LEN..], "t").unwrap(), data);
            assert!(open(&s, &[8; 32], &b.record[HEADER_LEN..], "t").is_err());
        }
        assert!(seal(&s, [1; 32], &text).unwrap().record.len() < text.len() / 2);
    }
}
