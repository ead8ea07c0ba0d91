//! The 7-bit ISO 2022 charsets of East Asian mail that the WHATWG standard does not decode
//! (or decodes only in part): ISO-2022-JP-1/-2/-3 and CP5022x (RFC 1468, 2237, 1554),
//! ISO-2022-KR (RFC 1557) and HZ-GB-2312 (RFC 1843).
//!
//! Hand-rolled because no maintained crate decodes them; only the shift states are done
//! here. The character tables are `encoding_rs`'s: a run of double-byte characters is turned
//! into the EUC form of its set (both bytes + 0x80; JIS X 0212 behind 0x8F) and decoded by
//! the EUC-JP, GBK or EUC-KR decoder, so the JIS X 0208 rows of NEC and IBM (Outlook's
//! Windows-31J extensions) come out as they do in Shift_JIS.

use encoding_rs::{EUC_JP, EUC_KR, Encoding, GBK, ISO_8859_7, WINDOWS_1252};

const ESC: u8 = 0x1b;
const SO: u8 = 0x0e;
const SI: u8 = 0x0f;

/// What the bytes between escapes are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Set {
    Ascii,
    /// JIS X 0201 Roman: ASCII with ¥ and ‾.
    Roman,
    /// JIS X 0201 katakana (half width).
    Katakana,
    Jis0208,
    Jis0212,
    Gb2312,
    Ksc5601,
    /// A set Arkiv does not know (e.g. JIS X 0213 plane 2): its bytes are replaced.
    Unknown,
}

/// Collects the output and the current run of double-byte characters.
struct Out {
    text: String,
    run: Vec<u8>,
    run_enc: Option<&'static Encoding>,
    errors: bool,
}

impl Out {
    fn new(len: usize) -> Out {
        Out {
            text: String::with_capacity(len * 2),
            run: Vec::new(),
            run_enc: None,
            errors: false,
        }
    }

    fn flush(&mut self) {
        if let Some(enc) = self.run_enc.take() {
            let (t, errors) = enc.decode_without_bom_handling(&self.run);
            self.text.push_str(&t);
            self.errors |= errors;
            self.run.clear();
        }
    }

    /// Adds one double-byte character (7-bit bytes) of `set` to the run.
    fn double(&mut self, set: Set, b1: u8, b2: u8) {
        let enc = match set {
            Set::Jis0208 | Set::Jis0212 => EUC_JP,
            Set::Gb2312 => GBK,
            _ => EUC_KR,
        };
        if self.run_enc != Some(enc) {
            self.flush();
            self.run_enc = Some(enc);
        }
        if set == Set::Jis0212 {
            self.run.push(0x8f);
        }
        self.run.extend([b1 | 0x80, b2 | 0x80]);
    }

    fn push(&mut self, c: char) {
        self.flush();
        self.text.push(c);
    }

    fn bad(&mut self) {
        self.push('\u{FFFD}');
        self.errors = true;
    }

    fn finish(mut self) -> (String, bool) {
        self.flush();
        (self.text, self.errors)
    }
}

/// ISO-2022-JP and its extensions. Returns the text and whether anything was malformed.
pub(crate) fn decode_jp(bytes: &[u8]) -> (String, bool) {
    let mut out = Out::new(bytes.len());
    let mut g0 = Set::Ascii;
    // The 96-character set of G2 (ISO-2022-JP-2: ESC . A Latin-1, ESC . F Greek).
    let mut g2: Option<&'static Encoding> = None;
    let mut shifted_out = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == ESC {
            let rest = &bytes[i + 1..];
            let (set, len) = match rest {
                [b'(', b'B', ..] => (Some(Set::Ascii), 2),
                [b'(', b'J', ..] | [b'(', b'H', ..] => (Some(Set::Roman), 2),
                [b'(', b'I', ..] => (Some(Set::Katakana), 2),
                [b'$', b'@', ..] | [b'$', b'B', ..] => (Some(Set::Jis0208), 2),
                [b'&', b'@', ESC, b'$', b'B', ..] => (Some(Set::Jis0208), 5),
                [b'$', b'A', ..] => (Some(Set::Gb2312), 2),
                [b'$', b'(', b'B', ..] | [b'$', b'(', b'O', ..] | [b'$', b'(', b'Q', ..] => {
                    (Some(Set::Jis0208), 3)
                }
                [b'$', b'(', b'D', ..] => (Some(Set::Jis0212), 3),
                [b'$', b'(', b'C', ..] => (Some(Set::Ksc5601), 3),
                [b'$', b'(', _, ..] => (Some(Set::Unknown), 3),
                [b'.', b'A', ..] => {
                    g2 = Some(WINDOWS_1252);
                    (None, 2)
                }
                [b'.', b'F', ..] => {
                    g2 = Some(ISO_8859_7);
                    (None, 2)
                }
                [b'N', c, ..] if g2.is_some() && (0x20..0x80).contains(c) => {
                    let enc = g2.unwrap_or(WINDOWS_1252);
                    let high = [c | 0x80];
                    let (t, errors) = enc.decode_without_bom_handling(&high);
                    out.flush();
                    out.text.push_str(&t);
                    out.errors |= errors;
                    (None, 2)
                }
                _ => {
                    out.bad();
                    i += 1;
                    continue;
                }
            };
            if let Some(s) = set {
                g0 = s;
                shifted_out = false;
            }
            i += 1 + len;
            continue;
        }
        match b {
            SO => shifted_out = true,
            SI => shifted_out = false,
            b'\n' | b'\r' if !matches!(g0, Set::Ascii | Set::Roman) => {
                // A line break ends double-byte mode (RFC 1468 wants ASCII at line ends).
                g0 = Set::Ascii;
                out.push(b as char);
            }
            0x21..=0x5f if shifted_out => out.push(katakana(b)),
            0x80.. => out.bad(),
            _ => match g0 {
                Set::Ascii => out.push(b as char),
                Set::Roman => out.push(match b {
                    0x5c => '¥',
                    0x7e => '‾',
                    _ => b as char,
                }),
                Set::Katakana => match b {
                    0x21..=0x5f => out.push(katakana(b)),
                    _ => out.push(b as char),
                },
                Set::Jis0208 | Set::Jis0212 | Set::Gb2312 | Set::Ksc5601 | Set::Unknown => {
                    if !(0x21..0x7f).contains(&b) {
                        out.push(b as char);
                    } else if let Some(&b2) = bytes.get(i + 1).filter(|c| (0x21..0x7f).contains(*c))
                    {
                        if g0 == Set::Unknown {
                            out.bad();
                        } else {
                            out.double(g0, b, b2);
                        }
                        i += 1;
                    } else {
                        out.bad();
                    }
                }
            },
        }
        i += 1;
    }
    out.finish()
}

fn katakana(b: u8) -> char {
    char::from_u32(0xff61 + u32::from(b - 0x21)).unwrap_or('\u{FFFD}')
}

/// ISO-2022-KR: SO shifts to KS C 5601, SI back; a line break returns to ASCII.
pub(crate) fn decode_kr(bytes: &[u8]) -> (String, bool) {
    let mut out = Out::new(bytes.len());
    let mut korean = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            ESC if bytes[i + 1..].starts_with(b"$)C") => i += 3,
            SO => korean = true,
            SI => korean = false,
            b'\n' | b'\r' => {
                korean = false;
                out.push(b as char);
            }
            0x80.. => out.bad(),
            0x21..=0x7e if korean => match bytes.get(i + 1) {
                Some(&b2) if (0x21..0x7f).contains(&b2) => {
                    out.double(Set::Ksc5601, b, b2);
                    i += 1;
                }
                _ => out.bad(),
            },
            _ => out.push(b as char),
        }
        i += 1;
    }
    out.finish()
}

/// HZ: `~{` to GB 2312, `~}` back, `~~` a tilde, `~` before a line break joins lines.
pub(crate) fn decode_hz(bytes: &[u8]) -> (String, bool) {
    let mut out = Out::new(bytes.len());
    let mut gb = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'~' {
            match bytes.get(i + 1) {
                Some(b'{') => gb = true,
                Some(b'}') => gb = false,
                Some(b'~') if !gb => out.push('~'),
                Some(b'\n') => {}
                Some(b'\r') if bytes.get(i + 2) == Some(&b'\n') => i += 1,
                _ => {
                    out.bad();
                    i += 1;
                    continue;
                }
            }
            i += 2;
            continue;
        }
        match b {
            0x80.. => out.bad(),
            b'\n' | b'\r' => {
                gb = false;
                out.push(b as char);
            }
            0x21..=0x7e if gb => match bytes.get(i + 1) {
                Some(&b2) if (0x21..0x7f).contains(&b2) => {
                    out.double(Set::Gb2312, b, b2);
                    i += 1;
                }
                _ => out.bad(),
            },
            _ => out.push(b as char),
        }
        i += 1;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected texts are what CPython's codecs give for the same bytes.

    #[test]
    fn jp_and_its_extensions() {
        // `iso2022_jp`: "ハロー・ワールド".
        let (t, e) = decode_jp(b"\x1b$B%O%m!<!&%o!<%k%I\x1b(B");
        assert_eq!((t.as_str(), e), ("ハロー・ワールド", false));
        // `iso2022_jp_1`, JIS X 0212: "丂" (U+4E02).
        let (t, e) = decode_jp(b"\x1b$(D0!\x1b(B");
        assert_eq!((t.as_str(), e), ("丂", false));
        // `iso2022_jp_2`: Korean "안녕" and GB 2312 "中文" in one line.
        let (t, e) = decode_jp(b"\x1b$(C>H3g\x1b$AVPND\x1b(B");
        assert_eq!((t.as_str(), e), ("안녕中文", false));
        // `iso2022_jp_2`: G2 Latin-1 by single shift: "café".
        let (t, e) = decode_jp(b"caf\x1b.A\x1bNi");
        assert_eq!((t.as_str(), e), ("café", false));
        // ... and as CPython writes it, by JIS X 0212.
        let (t, e) = decode_jp(b"caf\x1b$(D+1\x1b(B");
        assert_eq!((t.as_str(), e), ("café", false));
        // NEC row 13 (Outlook/CP50220): "①"; CPython writes it under ESC $ ( Q (JIS X 0213).
        let (t, e) = decode_jp(b"\x1b$B-!\x1b(B");
        assert_eq!((t.as_str(), e), ("①", false));
        assert_eq!(decode_jp(b"\x1b$(Q-!\x1b(B").0, "①");
        // Half-width katakana by ESC ( I and by SO/SI (CP50222): "ｱｲ".
        assert_eq!(decode_jp(b"\x1b(I12\x1b(B").0, "ｱｲ");
        assert_eq!(decode_jp(b"\x0e12\x0f").0, "ｱｲ");
        // JIS X 0201 Roman.
        assert_eq!(decode_jp(b"\x1b(J\\100\x1b(B").0, "¥100");
        // Garbage is replaced and reported, never a panic.
        assert!(decode_jp(b"\x1b$B%\x1b").1);
        assert!(decode_jp(b"\xff").1);
    }

    #[test]
    fn kr_and_hz() {
        // `iso2022_kr`: "안녕하세요".
        let (t, e) = decode_kr(b"\x1b$)C\x0e>H3gGO<<?d\x0f");
        assert_eq!((t.as_str(), e), ("안녕하세요", false));
        // `hz`: "中文 ok ~".
        let (t, e) = decode_hz(b"~{VPND~} ok ~~");
        assert_eq!((t.as_str(), e), ("中文 ok ~", false));
        assert!(decode_hz(b"~x").1);
        assert!(decode_kr(b"\x0e>").1);
    }
}
