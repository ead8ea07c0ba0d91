//! IMAP's modified UTF-7 for mailbox names (RFC 3501 §5.1.3): printable ASCII stands for
//! itself, `&` is written `&-`, and other characters are UTF-16 in base64 (with `,` for `/`)
//! between `&` and `-`. Hand-written: the rule is twenty lines and no maintained crate
//! covers both directions with the strictness wanted here.

use base64::Engine;
use base64::alphabet::Alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

fn engine() -> GeneralPurpose {
    let alphabet =
        Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")
            .expect("a valid alphabet");
    GeneralPurpose::new(
        &alphabet,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    )
}

/// Decodes a mailbox name. `None` when it is not valid modified UTF-7 (then the server sent
/// raw bytes, e.g. UTF-8, and the caller uses them as they are).
pub fn decode(name: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        if b == b'&' {
            let end = i + 1 + name[i + 1..].iter().position(|c| *c == b'-')?;
            let chunk = &name[i + 1..end];
            if chunk.is_empty() {
                out.push('&');
            } else {
                let bytes = engine().decode(chunk).ok()?;
                if bytes.len() % 2 != 0 {
                    return None;
                }
                let units: Vec<u16> = bytes
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                let s = String::from_utf16(&units).ok()?;
                // Printable ASCII must not be encoded (it would make two spellings).
                if s.chars().any(|c| (' '..='~').contains(&c)) {
                    return None;
                }
                out.push_str(&s);
            }
            i = end + 1;
        } else if (0x20..=0x7e).contains(&b) {
            out.push(b as char);
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

/// Encodes a mailbox name for a command.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if !pending.is_empty() {
            let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&engine().encode(bytes));
            out.push('-');
            pending.clear();
        }
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_example_and_friends() {
        // RFC 3501 §5.1.3.
        assert_eq!(
            decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(),
            "~peter/mail/台北/日本語"
        );
        assert_eq!(decode(b"Entw&APw-rfe").unwrap(), "Entwürfe");
        assert_eq!(decode(b"Tom &- Jerry").unwrap(), "Tom & Jerry");
        assert_eq!(decode(b"&2D3eAA-").unwrap(), "😀");
        for s in [
            "~peter/mail/台北/日本語",
            "Entwürfe",
            "Tom & Jerry",
            "😀 x",
            "Gesendete Objekte",
        ] {
            assert_eq!(decode(encode(s).as_bytes()).unwrap(), s);
        }
        assert_eq!(
            encode("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
    }

    #[test]
    fn invalid_forms_are_refused() {
        assert_eq!(decode(b"&U,BTFw"), None, "unterminated");
        assert_eq!(decode(b"&AGE-"), None, "ASCII 'a' encoded");
        assert_eq!(decode("Entwürfe".as_bytes()), None, "raw UTF-8");
        assert_eq!(decode(b"&2D0-"), None, "a lone surrogate");
    }
}
