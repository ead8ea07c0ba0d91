//! Hand-rolled encoders: base64 (MIME, 76-character lines), quoted-printable, RFC 2047 encoded
//! words, RFC 2231 parameter values, and the legacy charsets the corpus uses.
//!
//! Each is a few dozen lines; owning them keeps the output stable and the crate dependency-free.

use crate::tables::{CP1252_TABLE, JIS_TABLE, KOI8R_TABLE};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 digits for every 12-bit value, two at a time.
static B64_PAIRS: [[u8; 2]; 4096] = {
    let mut t = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = [B64[i >> 6], B64[i & 63]];
        i += 1;
    }
    t
};

/// Appends `data` as MIME base64: lines of 76 characters, each ended by `\n` (the last too).
pub(crate) fn base64_lines(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len() / 57 * 77 + 80);
    let mut chunks = data.chunks_exact(57);
    let mut line = [0u8; 77];
    line[76] = b'\n';
    for chunk in &mut chunks {
        // Two lookups of 12 bits each per 3 input bytes.
        for (i, t) in chunk.chunks_exact(3).enumerate() {
            let n = (usize::from(t[0]) << 16) | (usize::from(t[1]) << 8) | usize::from(t[2]);
            line[i * 4..i * 4 + 2].copy_from_slice(&B64_PAIRS[n >> 12]);
            line[i * 4 + 2..i * 4 + 4].copy_from_slice(&B64_PAIRS[n & 0xFFF]);
        }
        out.extend_from_slice(&line);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        base64_plain(rest, out);
        out.push(b'\n');
    }
}

/// Appends `data` as base64 without line breaks (for encoded words).
pub(crate) fn base64_plain(data: &[u8], out: &mut Vec<u8>) {
    let mut chunks = data.chunks_exact(3);
    for t in &mut chunks {
        let n = (u32::from(t[0]) << 16) | (u32::from(t[1]) << 8) | u32::from(t[2]);
        out.extend_from_slice(&[
            B64[(n >> 18) as usize],
            B64[((n >> 12) & 63) as usize],
            B64[((n >> 6) & 63) as usize],
            B64[(n & 63) as usize],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[B64[(n >> 18) as usize], B64[((n >> 12) & 63) as usize]]);
            out.extend_from_slice(b"==");
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.extend_from_slice(&[
                B64[(n >> 18) as usize],
                B64[((n >> 12) & 63) as usize],
                B64[((n >> 6) & 63) as usize],
                b'=',
            ]);
        }
        _ => {}
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `data` (lines separated by `\n`) as quoted-printable: lines of at most 76
/// characters with `=\n` soft breaks, `=XX` for `=`, non-ASCII bytes and trailing blanks.
/// Ends with `\n`.
pub(crate) fn quoted_printable(data: &[u8], out: &mut Vec<u8>) {
    for line in data.split(|&b| b == b'\n') {
        // Fast path: a short line of printable ASCII without '=' and trailing blank.
        if line.len() <= 76
            && line.iter().all(|&b| (32..=126).contains(&b) && b != b'=')
            && line.last().is_none_or(|&b| b != b' ')
        {
            out.extend_from_slice(line);
            out.push(b'\n');
            continue;
        }
        let mut col = 0;
        for (i, &b) in line.iter().enumerate() {
            let last = i + 1 == line.len();
            let plain =
                ((b == b' ' || b == b'\t') && !last) || ((33..=126).contains(&b) && b != b'=');
            let width = if plain { 1 } else { 3 };
            // Keep room for a soft break "=" unless this is the line's last character.
            if col + width > if last { 76 } else { 75 } {
                out.extend_from_slice(b"=\n");
                col = 0;
            }
            if plain {
                out.push(b);
            } else {
                out.extend_from_slice(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            }
            col += width;
        }
        out.push(b'\n');
    }
    // `split` yields an empty last piece for data ending in '\n': drop its extra newline.
    if data.last() == Some(&b'\n') {
        out.pop();
    }
}

/// RFC 2047 "B" encoded words for `text` in UTF-8, split at character boundaries so that each
/// word stays under 75 characters; words are joined by `sep` (folding whitespace).
pub(crate) fn encoded_words_b(text: &str, sep: &str, out: &mut String) {
    let mut buf = Vec::new();
    let mut first = true;
    for chunk in utf8_chunks(text, 45) {
        if !first {
            out.push_str(sep);
        }
        first = false;
        buf.clear();
        buf.extend_from_slice(b"=?UTF-8?B?");
        base64_plain(chunk.as_bytes(), &mut buf);
        buf.extend_from_slice(b"?=");
        out.push_str(std::str::from_utf8(&buf).expect("base64 is ASCII"));
    }
}

/// RFC 2047 "Q" encoded words (phrase rules) for `text` in `charset` (`"UTF-8"` or
/// `"ISO-8859-1"`; the latter only for text that is Latin-1).
pub(crate) fn encoded_words_q(text: &str, charset: &str, sep: &str, out: &mut String) {
    let bytes: Vec<u8> = if charset.eq_ignore_ascii_case("ISO-8859-1") {
        text.chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect()
    } else {
        text.as_bytes().to_vec()
    };
    let prefix = format!("=?{charset}?Q?");
    let mut word = String::new();
    let mut i = 0;
    while i < bytes.len() {
        // Never split a UTF-8 sequence across encoded words.
        let mut end = i + 1;
        if charset.eq_ignore_ascii_case("UTF-8") {
            while end < bytes.len() && bytes[end] & 0xC0 == 0x80 {
                end += 1;
            }
        }
        let mut piece = String::new();
        for &b in &bytes[i..end] {
            match b {
                b' ' => piece.push('_'),
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'!' | b'*' | b'+' | b'-' | b'/' => {
                    piece.push(b as char)
                }
                _ => {
                    piece.push('=');
                    piece.push(HEX[(b >> 4) as usize] as char);
                    piece.push(HEX[(b & 15) as usize] as char);
                }
            }
        }
        if !word.is_empty() && prefix.len() + word.len() + piece.len() + 2 > 72 {
            push_word(out, &prefix, &word, sep);
            word.clear();
        }
        word.push_str(&piece);
        i = end;
    }
    if !word.is_empty() {
        push_word(out, &prefix, &word, sep);
    }
}

fn push_word(out: &mut String, prefix: &str, word: &str, sep: &str) {
    if !out.is_empty() && !out.ends_with(' ') && !out.ends_with('\t') {
        out.push_str(sep);
    }
    out.push_str(prefix);
    out.push_str(word);
    out.push_str("?=");
}

/// Splits `text` into pieces of at most `max` bytes at character boundaries.
fn utf8_chunks(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (head, tail) = rest.split_at(end);
        rest = tail;
        Some(head)
    })
}

/// RFC 2231 extended value: `UTF-8''` followed by percent-encoded bytes.
pub(crate) fn rfc2231_value(text: &str) -> String {
    let mut s = String::from("UTF-8''");
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(b as char);
        } else {
            s.push('%');
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 15) as usize] as char);
        }
    }
    s
}

/// The charsets the corpus writes text parts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Charset {
    UsAscii,
    Utf8,
    Latin1,
    Windows1252,
    Koi8R,
    Iso2022Jp,
}

impl Charset {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Charset::UsAscii => "us-ascii",
            Charset::Utf8 => "utf-8",
            Charset::Latin1 => "iso-8859-1",
            Charset::Windows1252 => "windows-1252",
            Charset::Koi8R => "koi8-r",
            Charset::Iso2022Jp => "iso-2022-jp",
        }
    }

    /// `text` in this charset, or `None` when a character cannot be represented.
    pub(crate) fn encode(self, text: &str, out: &mut Vec<u8>) -> bool {
        match self {
            Charset::Utf8 => out.extend_from_slice(text.as_bytes()),
            Charset::UsAscii => {
                if !text.is_ascii() {
                    return false;
                }
                out.extend_from_slice(text.as_bytes());
            }
            Charset::Latin1 | Charset::Windows1252 | Charset::Koi8R => {
                for c in text.chars() {
                    let cp = u32::from(c);
                    let b = if cp < 0x80 {
                        Some(cp as u8)
                    } else {
                        match self {
                            Charset::Latin1 => u8::try_from(cp).ok().filter(|&b| b >= 0xA0),
                            Charset::Windows1252 => u8::try_from(cp)
                                .ok()
                                .filter(|&b| b >= 0xA0)
                                .or_else(|| lookup(CP1252_TABLE, cp)),
                            _ => lookup(KOI8R_TABLE, cp),
                        }
                    };
                    match b {
                        Some(b) => out.push(b),
                        None => return false,
                    }
                }
            }
            Charset::Iso2022Jp => return iso2022jp(text, out),
        }
        true
    }
}

fn lookup<T: Copy>(table: &[(u32, T)], cp: u32) -> Option<T> {
    table
        .binary_search_by_key(&cp, |e| e.0)
        .ok()
        .map(|i| table[i].1)
}

/// ISO-2022-JP: ASCII, with `ESC $ B` switching to JIS X 0208 and `ESC ( B` back before every
/// line end and at the end.
fn iso2022jp(text: &str, out: &mut Vec<u8>) -> bool {
    let mut jis = false;
    for c in text.chars() {
        if c.is_ascii() {
            if jis {
                out.extend_from_slice(b"\x1b(B");
                jis = false;
            }
            out.push(c as u8);
        } else {
            let Some(code) = lookup(JIS_TABLE, u32::from(c)) else {
                return false;
            };
            if !jis {
                out.extend_from_slice(b"\x1b$B");
                jis = true;
            }
            out.extend_from_slice(&code.to_be_bytes());
        }
    }
    if jis {
        out.extend_from_slice(b"\x1b(B");
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = Vec::new();
            base64_plain(input.as_bytes(), &mut out);
            assert_eq!(out, expected.as_bytes());
        }
    }

    #[test]
    fn base64_lines_are_76_wide() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut out = Vec::new();
        base64_lines(&data, &mut out);
        let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
        assert!(lines[..lines.len() - 2].iter().all(|l| l.len() == 76));
        assert!(out.ends_with(b"\n"));
    }

    #[test]
    fn quoted_printable_wraps_and_escapes() {
        let text = "Grüße = schön ".repeat(20) + "\nline two \n";
        let mut out = Vec::new();
        quoted_printable(text.as_bytes(), &mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(s.lines().all(|l| l.len() <= 76), "{s}");
        assert!(s.contains("Gr=C3=BC=C3=9Fe =3D"));
        assert!(s.ends_with("two=20\n"), "{s}");
    }

    #[test]
    fn encoded_words_stay_short() {
        let mut s = String::new();
        encoded_words_b(&"Überprüfung der Änderungen ".repeat(5), "\n ", &mut s);
        assert!(
            s.split("\n ")
                .all(|w| w.len() <= 75 && w.starts_with("=?UTF-8?B?"))
        );
        let mut q = String::new();
        encoded_words_q("Jörg Müller", "ISO-8859-1", " ", &mut q);
        assert_eq!(q, "=?ISO-8859-1?Q?J=F6rg_M=FCller?=");
    }

    #[test]
    fn legacy_charsets() {
        let mut out = Vec::new();
        assert!(Charset::Koi8R.encode("Ёлка", &mut out));
        assert_eq!(out, [0xB3, 0xCC, 0xCB, 0xC1]);
        out.clear();
        assert!(Charset::Iso2022Jp.encode("会議 a", &mut out));
        assert!(out.starts_with(b"\x1b$B") && out.ends_with(b"\x1b(B a"));
        out.clear();
        assert!(Charset::Windows1252.encode("€ “x”", &mut out));
        assert_eq!(out, [0x80, b' ', 0x93, b'x', 0x94]);
        assert!(!Charset::Latin1.encode("€", &mut out));
    }
}
