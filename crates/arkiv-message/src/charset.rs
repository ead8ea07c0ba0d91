//! Charsets: one table of labels and one set of decoders for every text Arkiv shows or indexes.
//!
//! Mail names its charsets with labels, and mail in the wild mislabels. The rules, in order:
//!
//! 1. **Labels** are looked up in the WHATWG Encoding Standard's table (`encoding_rs`, the
//!    table browsers use), after trimming quotes, white space and a `3D` left over from a
//!    quoted-printable `=3D`, and trying `_` and `-` both ways. On top of it, [`lookup`] knows
//!    the labels mail uses that browsers do not: the `iso-2022-jp` variants (`-1`, `-2`, `-3`,
//!    `cp50220`..`cp50222`), `iso-2022-kr`, `hz-gb-2312`, `utf-7`, Windows and IBM code pages
//!    by number (`cp932`, `cp949`, `windows-874`, `ms950`, ...), `euc-cn`, `tis620`, and more.
//!    Outlook's Windows-31J extensions (NEC and IBM rows) are part of the WHATWG Shift_JIS,
//!    EUC-JP and ISO-2022-JP tables.
//! 2. **Declared and right**: the text is decoded with the declared charset.
//! 3. **Declared but wrong** (the bytes are malformed in that charset, or `us-ascii` with
//!    8-bit bytes): the bytes are read as UTF-8 if they are valid UTF-8, else as the encoding
//!    [`chardetng`] (Firefox's detector) guesses; if the guess does not read them cleanly
//!    either, the declared decoding stands with U+FFFD for what it cannot read.
//! 4. **Unknown label or none**: valid UTF-8 is UTF-8; otherwise the guess of rule 3.
//!
//! Rules 3 and 4 (except valid UTF-8 without a label) leave a note: the message is flagged
//! (its `problem`), never dropped, and its bytes stay as they came.

use std::borrow::Cow;

use encoding_rs::{
    BIG5, EUC_JP, EUC_KR, Encoding, GB18030, GBK, IBM866, ISO_2022_JP, SHIFT_JIS, UTF_8, UTF_16BE,
    UTF_16LE, WINDOWS_874, WINDOWS_1252,
};

use crate::iso2022;

/// Version of Arkiv's text decoding (charsets and header decoding). An index built with an
/// older version is marked "please rebuild": mail archived before may have been decoded
/// differently. 1: mail-parser without its multi-byte decoders; 2: this module.
pub const DECODER_VERSION: u32 = 2;

/// A charset Arkiv can decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    /// One of the WHATWG encodings (`encoding_rs`).
    Whatwg(&'static Encoding),
    /// ISO-2022-JP with the sets of ISO-2022-JP-1/-2/-3 (JIS X 0212, GB 2312, KS C 5601,
    /// the ISO 8859 upper halves by single shift) and the CP5022x half-width katakana.
    Iso2022JpExt,
    /// ISO-2022-KR (RFC 1557).
    Iso2022Kr,
    /// HZ-GB-2312 (RFC 1843).
    Hz,
    /// UTF-7 (RFC 2152).
    Utf7,
}

impl Charset {
    /// The canonical name (as the WHATWG standard spells it, or the RFC for the others).
    pub fn name(self) -> &'static str {
        match self {
            Charset::Whatwg(e) => e.name(),
            Charset::Iso2022JpExt => "ISO-2022-JP-2",
            Charset::Iso2022Kr => "ISO-2022-KR",
            Charset::Hz => "HZ-GB-2312",
            Charset::Utf7 => "UTF-7",
        }
    }

    /// Decodes `bytes`; the flag says whether some could not be decoded (they became U+FFFD).
    pub fn decode(self, bytes: &[u8]) -> (String, bool) {
        match self {
            Charset::Whatwg(e) if e == UTF_16LE || e == UTF_16BE => {
                // A byte-order mark overrides the label; RFC 2781 reads unmarked "utf-16" as
                // big endian, but mail labelled so is written by Windows: little endian.
                let (text, _, errors) = e.decode(bytes);
                (text.into_owned(), errors)
            }
            Charset::Whatwg(e) => {
                let (text, errors) = e.decode_without_bom_handling(bytes);
                (text.into_owned(), errors)
            }
            Charset::Iso2022JpExt => iso2022::decode_jp(bytes),
            Charset::Iso2022Kr => iso2022::decode_kr(bytes),
            Charset::Hz => iso2022::decode_hz(bytes),
            Charset::Utf7 => {
                let utf7 = mail_parser::decoders::charsets::map::charset_decoder(b"utf-7")
                    .expect("mail-parser decodes UTF-7");
                let text = utf7(bytes);
                let errors = text.contains('\u{FFFD}');
                (text, errors)
            }
        }
    }

    /// Stateful 7-bit charsets whose ASCII bytes are not plain ASCII text.
    fn is_7bit_stateful(self) -> bool {
        matches!(
            self,
            Charset::Iso2022JpExt | Charset::Iso2022Kr | Charset::Hz | Charset::Utf7
        ) || self == Charset::Whatwg(ISO_2022_JP)
            || self == Charset::Whatwg(UTF_16LE)
            || self == Charset::Whatwg(UTF_16BE)
    }
}

/// Labels mail uses beyond the WHATWG table (already lower case, `-` as separator).
const EXTRA: &[(&str, Extra)] = &[
    ("iso-2022-jp-1", Extra::Jp),
    ("iso-2022-jp-2", Extra::Jp),
    ("iso-2022-jp-3", Extra::Jp),
    ("iso-2022-jp-2004", Extra::Jp),
    ("iso-2022-jp-ext", Extra::Jp),
    ("iso-2022-jp-ms", Extra::Jp),
    ("csiso2022jp2", Extra::Jp),
    ("x-windows-iso2022jp", Extra::Jp),
    ("cp50220", Extra::Jp),
    ("cp50221", Extra::Jp),
    ("cp50222", Extra::Jp),
    ("iso-2022-kr", Extra::Kr),
    ("csiso2022kr", Extra::Kr),
    ("cp50225", Extra::Kr),
    ("hz-gb-2312", Extra::Hz),
    ("hz", Extra::Hz),
    ("cp52936", Extra::Hz),
    ("utf-7", Extra::Utf7),
    ("utf7", Extra::Utf7),
    ("csutf7", Extra::Utf7),
    ("unicode-1-1-utf-7", Extra::Utf7),
    ("csunicode11utf7", Extra::Utf7),
    ("x-unicode-2-0-utf-7", Extra::Utf7),
    ("cp65000", Extra::Utf7),
    // Python's email package writes its codec names: `big5_tw`, `eucgb2312_cn`, `iso2022_jp`.
    ("big5-tw", Extra::W(BIG5)),
    ("eucgb2312-cn", Extra::W(GBK)),
    ("euc-gb2312-cn", Extra::W(GBK)),
    ("iso2022-jp", Extra::W(ISO_2022_JP)),
    ("iso2022-jp-1", Extra::Jp),
    ("iso2022-jp-2", Extra::Jp),
    ("iso2022-jp-3", Extra::Jp),
    ("iso2022-jp-2004", Extra::Jp),
    ("iso2022-jp-ext", Extra::Jp),
    ("iso2022-kr", Extra::Kr),
    ("cp932", Extra::W(SHIFT_JIS)),
    ("ibm-943", Extra::W(SHIFT_JIS)),
    ("ibm943", Extra::W(SHIFT_JIS)),
    ("x-ms-cp932", Extra::W(SHIFT_JIS)),
    ("sjis-open", Extra::W(SHIFT_JIS)),
    ("sjis-win", Extra::W(SHIFT_JIS)),
    ("shift-jis", Extra::W(SHIFT_JIS)),
    ("shiftjis", Extra::W(SHIFT_JIS)),
    ("x-shift-jis", Extra::W(SHIFT_JIS)),
    ("shift-jisx0213", Extra::W(SHIFT_JIS)),
    ("shift-jis-2004", Extra::W(SHIFT_JIS)),
    ("eucjp", Extra::W(EUC_JP)),
    ("eucjp-ms", Extra::W(EUC_JP)),
    ("eucjp-open", Extra::W(EUC_JP)),
    ("eucjp-win", Extra::W(EUC_JP)),
    ("euc-jis-2004", Extra::W(EUC_JP)),
    ("x-eucjp", Extra::W(EUC_JP)),
    ("cp51932", Extra::W(EUC_JP)),
    ("cp20932", Extra::W(EUC_JP)),
    ("euc-cn", Extra::W(GBK)),
    ("euccn", Extra::W(GBK)),
    ("x-euc-cn", Extra::W(GBK)),
    ("gb2312-80", Extra::W(GBK)),
    ("gb2312-1980", Extra::W(GBK)),
    ("x-gb2312", Extra::W(GBK)),
    ("cp51936", Extra::W(GBK)),
    ("gb18030-2000", Extra::W(GB18030)),
    ("gb18030-2005", Extra::W(GB18030)),
    ("gb-18030", Extra::W(GB18030)),
    ("cp54936", Extra::W(GB18030)),
    ("cp950", Extra::W(BIG5)),
    ("ms950", Extra::W(BIG5)),
    ("windows-950", Extra::W(BIG5)),
    ("big5hkscs", Extra::W(BIG5)),
    ("big-5", Extra::W(BIG5)),
    ("big-five", Extra::W(BIG5)),
    ("bigfive", Extra::W(BIG5)),
    ("x-big5", Extra::W(BIG5)),
    ("cp949", Extra::W(EUC_KR)),
    ("ms949", Extra::W(EUC_KR)),
    ("uhc", Extra::W(EUC_KR)),
    ("x-windows-949", Extra::W(EUC_KR)),
    ("ks-c-5601", Extra::W(EUC_KR)),
    ("ksc5601-1987", Extra::W(EUC_KR)),
    ("ks-c-5601-1992", Extra::W(EUC_KR)),
    ("euckr", Extra::W(EUC_KR)),
    ("cp51949", Extra::W(EUC_KR)),
    ("tis620", Extra::W(WINDOWS_874)),
    ("tis-620-2533", Extra::W(WINDOWS_874)),
    ("iso-ir-166", Extra::W(WINDOWS_874)),
    ("cp874", Extra::W(WINDOWS_874)),
    ("ibm874", Extra::W(WINDOWS_874)),
    ("x-windows-874", Extra::W(WINDOWS_874)),
    ("cp65001", Extra::W(UTF_8)),
    ("x-unicode20utf8", Extra::W(UTF_8)),
    ("utf-8-sig", Extra::W(UTF_8)),
    ("cp1200", Extra::W(UTF_16LE)),
    ("cp1201", Extra::W(UTF_16BE)),
    ("cp866", Extra::W(IBM866)),
    ("koi8r", Extra::Label("koi8-r")),
    ("koi8u", Extra::Label("koi8-u")),
    ("cp20866", Extra::Label("koi8-r")),
    ("cp21866", Extra::Label("koi8-u")),
    ("cp10000", Extra::Label("macintosh")),
    ("mac-roman", Extra::Label("macintosh")),
    ("cp10007", Extra::Label("x-mac-cyrillic")),
];

#[derive(Clone, Copy)]
enum Extra {
    W(&'static Encoding),
    Label(&'static str),
    Jp,
    Kr,
    Hz,
    Utf7,
}

/// The charset a label names, or `None` for a label no table knows.
pub fn lookup(label: &str) -> Option<Charset> {
    // The common case first, without allocating: a WHATWG label (encoding_rs ignores case
    // and surrounding white space), unless mail means something else by it.
    if let Some(e) = Encoding::for_label_no_replacement(label.as_bytes())
        && e != ISO_2022_JP
    {
        return Some(Charset::Whatwg(e));
    }
    let mut l = label
        .trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .trim()
        .to_ascii_lowercase();
    if l.is_empty() {
        return None;
    }
    if let Some(c) = lookup_exact(&l) {
        return Some(c);
    }
    // `charset=3Diso-8859-1`: a quoted-printable `=3D` read as it stands.
    if let Some(rest) = l.strip_prefix("3d")
        && let Some(c) = lookup_exact(rest)
    {
        return Some(c);
    }
    l = l.replace('_', "-");
    if let Some(c) = lookup_exact(&l) {
        return Some(c);
    }
    // Code pages by number: cp1252, windows-1252, win-1251, ms932, ibm-866, x-cp1250.
    let digits = l
        .trim_start_matches("x-")
        .trim_start_matches("windows")
        .trim_start_matches("win")
        .trim_start_matches("cp")
        .trim_start_matches("ms")
        .trim_start_matches("ibm")
        .trim_start_matches('-');
    if digits.len() < l.len()
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(cp) = digits.parse::<u16>()
    {
        return codepage(cp);
    }
    // iso8859-1, iso-8859-1:1987, iso_8859-15-foo.
    if let Some(rest) = l
        .strip_prefix("iso-8859-")
        .or_else(|| l.strip_prefix("iso8859-"))
        .or_else(|| l.strip_prefix("iso8859"))
    {
        let n: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !n.is_empty() {
            return lookup_exact(&format!("iso-8859-{n}"));
        }
    }
    None
}

fn lookup_exact(l: &str) -> Option<Charset> {
    if let Some((_, x)) = EXTRA.iter().find(|(name, _)| *name == l) {
        return Some(match *x {
            Extra::W(e) => Charset::Whatwg(e),
            Extra::Label(w) => Charset::Whatwg(Encoding::for_label(w.as_bytes())?),
            Extra::Jp => Charset::Iso2022JpExt,
            Extra::Kr => Charset::Iso2022Kr,
            Extra::Hz => Charset::Hz,
            Extra::Utf7 => Charset::Utf7,
        });
    }
    let e = Encoding::for_label_no_replacement(l.as_bytes())?;
    Some(Charset::Whatwg(e))
}

/// The charset of a Windows code page number (`\ansicpg` of RTF, PR_INTERNET_CPID of MSG).
pub fn codepage(cp: u16) -> Option<Charset> {
    let label = match cp {
        65001 => "utf-8",
        65000 => return Some(Charset::Utf7),
        1200 => "utf-16le",
        1201 => "utf-16be",
        866 => "ibm866",
        874 => "windows-874",
        932 => "shift_jis",
        936 => "gbk",
        949 => "euc-kr",
        950 => "big5",
        1250..=1258 => return lookup_exact(&format!("windows-{cp}")),
        10000 => "macintosh",
        10007 => "x-mac-cyrillic",
        20127 => "us-ascii",
        20866 => "koi8-r",
        21866 => "koi8-u",
        20932 | 51932 => "euc-jp",
        28591..=28599 => return lookup_exact(&format!("iso-8859-{}", cp - 28590)),
        28603 => "iso-8859-13",
        28605 => "iso-8859-15",
        38598 => "iso-8859-8-i",
        50220..=50222 => return Some(Charset::Iso2022JpExt),
        50225 => return Some(Charset::Iso2022Kr),
        51936 => "gbk",
        51949 => "euc-kr",
        52936 => return Some(Charset::Hz),
        54936 => "gb18030",
        _ => return None,
    };
    lookup_exact(label)
}

/// Labels that promise 7-bit ASCII.
pub(crate) fn is_ascii_label(l: &str) -> bool {
    matches!(
        l.trim()
            .trim_matches(|c| c == '"' || c == '\'')
            .to_ascii_lowercase()
            .replace('_', "-")
            .as_str(),
        "us-ascii" | "ascii" | "ansi-x3.4-1968" | "iso646-us" | "us" | "csascii" | "cp367"
    )
}

/// Decoded text and, when Arkiv had to guess, why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    pub note: Option<String>,
}

/// Decodes bytes declared (or not) to be in `label`, by the rules of this module. `hint` is
/// another charset the same message declares, tried before the detector when guessing.
pub fn decode(label: Option<&str>, bytes: &[u8], hint: Option<Charset>) -> Decoded {
    let label = label.map(str::trim).filter(|l| !l.is_empty());
    let charset = label.and_then(lookup);
    if bytes.is_ascii() && !charset.is_some_and(Charset::is_7bit_stateful) {
        let text = String::from_utf8(bytes.to_vec()).unwrap_or_default();
        return Decoded { text, note: None };
    }
    match (label, charset) {
        (Some(l), Some(_)) if is_ascii_label(l) => {
            let (text, used) = guess(bytes, hint);
            Decoded {
                text,
                note: Some(format!(
                    "declared {l} but has 8-bit bytes: read as {} (a guess)",
                    used.name()
                )),
            }
        }
        (Some(l), Some(cs)) => {
            if is_single_byte(cs)
                && let Ok(s) = std::str::from_utf8(bytes)
            {
                return Decoded {
                    text: s.to_string(),
                    note: Some(format!(
                        "declared {l} but the bytes are UTF-8: read as UTF-8 (a guess)"
                    )),
                };
            }
            let (text, errors) = cs.decode(bytes);
            if !errors {
                return Decoded { text, note: None };
            }
            // Escape sequences of the ISO-2022-JP-1/-2 sets under a plain `iso-2022-jp`.
            if cs == Charset::Whatwg(ISO_2022_JP) {
                let (ext, errors) = Charset::Iso2022JpExt.decode(bytes);
                if !errors {
                    return Decoded {
                        text: ext,
                        note: None,
                    };
                }
            }
            let (g, used) = guess(bytes, hint.filter(|h| *h != cs));
            if used != cs && !used.decode(bytes).1 {
                Decoded {
                    text: g,
                    note: Some(format!(
                        "declared {l} but the bytes are not {}: read as {} (a guess)",
                        cs.name(),
                        used.name()
                    )),
                }
            } else {
                Decoded {
                    text,
                    note: Some(format!(
                        "declared {l}: some bytes are not {} and were replaced",
                        cs.name()
                    )),
                }
            }
        }
        (l, _) => {
            if let Ok(s) = std::str::from_utf8(bytes) {
                return Decoded {
                    text: s.to_string(),
                    note: l.map(|l| format!("unknown charset '{l}': read as UTF-8")),
                };
            }
            let (text, used) = guess(bytes, hint);
            let why = match l {
                Some(l) => format!("unknown charset '{l}'"),
                None => "no charset declared".to_string(),
            };
            Decoded {
                text,
                note: Some(format!("{why}: read as {} (a guess)", used.name())),
            }
        }
    }
}

/// A one-byte-per-character charset (Latin, Cyrillic, Greek, ...): every byte decodes, so
/// mislabelled UTF-8 would turn into mojibake unnoticed.
fn is_single_byte(cs: Charset) -> bool {
    matches!(cs, Charset::Whatwg(e) if e.is_single_byte())
}

/// Whether reading `bytes` as `cs` (declared as `label`) would be wrong in a way
/// [`decode`] mends: malformed bytes, 8-bit bytes under an ASCII label, or UTF-8 under a
/// one-byte charset.
pub(crate) fn is_suspect(label: &str, cs: Charset, bytes: &[u8]) -> bool {
    if bytes.is_ascii() {
        return cs.is_7bit_stateful() && cs.decode(bytes).1;
    }
    if is_utf8(Some(cs)) {
        return std::str::from_utf8(bytes).is_err();
    }
    if is_single_byte(cs) {
        return is_ascii_label(label) || std::str::from_utf8(bytes).is_ok() || cs.decode(bytes).1;
    }
    cs.decode(bytes).1
}

/// Whether text a one-byte charset decoded was really UTF-8 (its bytes, encoded back, are
/// valid multi-byte UTF-8). Cheap: no transfer decoding, one pass.
pub(crate) fn single_byte_text_was_utf8(cs: Charset, text: &str) -> bool {
    let Charset::Whatwg(e) = cs else {
        return false;
    };
    if !e.is_single_byte() || text.is_ascii() {
        return false;
    }
    let (bytes, _, unmappable) = e.encode(text);
    !unmappable && std::str::from_utf8(&bytes).is_ok()
}

/// Composes the Hangul syllables that EUC-KR writes as KS X 1001 make-up sequences (the
/// filler U+3164 and three jamo; CPython's `euc_kr` codec writes syllables outside KS X 1001
/// so), which the WHATWG decoder leaves as jamo.
pub fn compose_hangul_makeup(s: &str) -> Cow<'_, str> {
    const FILLER: char = '\u{3164}';
    if !s.contains(FILLER) {
        return Cow::Borrowed(s);
    }
    const INITIAL: &str = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ";
    const FINAL: &str = "ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ";
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == FILLER && i + 3 < chars.len() {
            let l = INITIAL.chars().position(|c| c == chars[i + 1]);
            let v = ('\u{314F}'..='\u{3163}')
                .contains(&chars[i + 2])
                .then(|| chars[i + 2] as u32 - 0x314F);
            let t = if chars[i + 3] == FILLER {
                Some(0)
            } else {
                FINAL.chars().position(|c| c == chars[i + 3]).map(|p| p + 1)
            };
            if let (Some(l), Some(v), Some(t)) = (l, v, t)
                && let Some(c) = char::from_u32(0xAC00 + (l as u32 * 21 + v) * 28 + t as u32)
            {
                out.push(c);
                i += 4;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    Cow::Owned(out)
}

/// Longest stretch of bytes the detector looks at.
const DETECT_BYTES: usize = 64 * 1024;

/// Reads bytes of unknown charset: 7-bit bytes with escapes as ISO-2022-JP (or -KR) if they
/// read cleanly so, else UTF-8 if valid, else the hint if it reads them cleanly, else what
/// `chardetng` guesses.
pub fn guess(bytes: &[u8], hint: Option<Charset>) -> (String, Charset) {
    if bytes.contains(&0x1b) && bytes.is_ascii() {
        for cs in [Charset::Iso2022JpExt, Charset::Iso2022Kr] {
            let (text, errors) = cs.decode(bytes);
            if !errors {
                return (text, cs);
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return (s.to_string(), Charset::Whatwg(UTF_8));
    }
    if let Some(h) = hint {
        let (text, errors) = h.decode(bytes);
        if !errors {
            return (text, h);
        }
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    let head = &bytes[..bytes.len().min(DETECT_BYTES)];
    detector.feed(head, head.len() == bytes.len());
    let enc = detector.guess(None, chardetng::Utf8Detection::Allow);
    let cs = Charset::Whatwg(enc);
    (cs.decode(bytes).0, cs)
}

/// Decodes text whose charset is unknown and that must be read anyway (text attachments):
/// a byte-order mark decides, else the rules of [`guess`]. Never fails.
pub fn decode_unlabelled(bytes: &[u8]) -> Cow<'_, str> {
    if let Some((enc, bom)) = Encoding::for_bom(bytes) {
        return Cow::Owned(
            enc.decode_without_bom_handling(&bytes[bom..])
                .0
                .into_owned(),
        );
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(guess(bytes, None).0),
    }
}

/// The charset to use for 8-bit text in a code page when nothing better is known.
pub fn windows_1252() -> Charset {
    Charset::Whatwg(WINDOWS_1252)
}

/// True for labels that name UTF-8 (which `mail-parser` decodes without a table).
pub(crate) fn is_utf8(cs: Option<Charset>) -> bool {
    cs == Some(Charset::Whatwg(UTF_8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let name = |l: &str| lookup(l).map(|c| c.name());
        assert_eq!(name("ISO-2022-JP"), Some("ISO-2022-JP"));
        assert_eq!(name("iso-2022-jp-2"), Some("ISO-2022-JP-2"));
        assert_eq!(name("CP50220"), Some("ISO-2022-JP-2"));
        assert_eq!(name("cp932"), Some("Shift_JIS"));
        assert_eq!(name("Windows-31J"), Some("Shift_JIS"));
        assert_eq!(name("shift-jis"), Some("Shift_JIS"));
        assert_eq!(name("gb2312"), Some("GBK"));
        assert_eq!(name("GB_2312-80"), Some("GBK"));
        assert_eq!(name("big5-hkscs"), Some("Big5"));
        assert_eq!(name("ks_c_5601-1987"), Some("EUC-KR"));
        assert_eq!(name("cp949"), Some("EUC-KR"));
        assert_eq!(name("tis-620"), Some("windows-874"));
        assert_eq!(name("\"utf-8\""), Some("UTF-8"));
        assert_eq!(name("3Diso-8859-1"), Some("windows-1252"));
        assert_eq!(name("iso8859-15"), Some("ISO-8859-15"));
        assert_eq!(name("iso-8859-2:1987"), Some("ISO-8859-2"));
        assert_eq!(name("win-1251"), Some("windows-1251"));
        assert_eq!(name("x-cp1250"), Some("windows-1250"));
        assert_eq!(name("koi8r"), Some("KOI8-R"));
        assert_eq!(name("unicode-1-1-utf-7"), Some("UTF-7"));
        assert_eq!(name("iso-2022-kr"), Some("ISO-2022-KR"));
        assert_eq!(name("hz-gb-2312"), Some("HZ-GB-2312"));
        assert_eq!(name("x-unknown"), None);
        assert_eq!(name("us-asii"), None);
        assert_eq!(name(""), None);
    }

    #[test]
    fn declared_right_and_wrong() {
        let sjis = b"\x83n\x83\x8D\x81[\x81E\x83\x8F\x81[\x83\x8B\x83h";
        let d = decode(Some("shift_jis"), sjis, None);
        assert_eq!(d.text, "ハロー・ワールド");
        assert!(d.note.is_none());
        let d = decode(Some("cp932"), sjis, None);
        assert_eq!((d.text.as_str(), d.note), ("ハロー・ワールド", None));
        // Latin-1 labelled UTF-8.
        let d = decode(Some("utf-8"), b"Gr\xfc\xdfe aus K\xf6ln", None);
        assert_eq!(d.text, "Grüße aus Köln");
        assert!(d.note.unwrap().contains("a guess"));
        // UTF-8 labelled Latin-1.
        let d = decode(Some("iso-8859-1"), "Grüße".as_bytes(), None);
        assert_eq!(d.text, "Grüße");
        assert!(d.note.is_some());
        // UTF-8 labelled us-ascii.
        let d = decode(Some("us-ascii"), "Grüße".as_bytes(), None);
        assert_eq!(d.text, "Grüße");
        assert!(d.note.is_some());
        // An unknown label with valid UTF-8, and one without.
        let d = decode(Some("x-foo"), "Grüße".as_bytes(), None);
        assert_eq!(d.text, "Grüße");
        assert!(d.note.unwrap().contains("unknown charset 'x-foo'"));
        let d = decode(None, "plain".as_bytes(), None);
        assert_eq!((d.text.as_str(), d.note), ("plain", None));
        // The hint wins over the detector for short text.
        let d = decode(Some("x-foo"), sjis, Some(Charset::Whatwg(SHIFT_JIS)));
        assert_eq!(d.text, "ハロー・ワールド");
    }

    #[test]
    fn hangul_makeup() {
        // CPython: "똠방".encode("euc_kr") == b"\xa4\xd4\xa4\xa8\xa4\xc7\xa4\xb1\xb9\xe6".
        let (t, _) = Charset::Whatwg(EUC_KR).decode(b"\xa4\xd4\xa4\xa8\xa4\xc7\xa4\xb1\xb9\xe6");
        assert_eq!(compose_hangul_makeup(&t), "똠방");
        assert_eq!(compose_hangul_makeup("ㅤ alone"), "ㅤ alone");
    }

    #[test]
    fn codepages() {
        assert_eq!(codepage(1251).unwrap().name(), "windows-1251");
        assert_eq!(codepage(932).unwrap().name(), "Shift_JIS");
        assert_eq!(codepage(28592).unwrap().name(), "ISO-8859-2");
        assert_eq!(codepage(50221), Some(Charset::Iso2022JpExt));
        assert_eq!(codepage(437), None);
    }

    #[test]
    fn unlabelled() {
        assert_eq!(decode_unlabelled("Grüße".as_bytes()), "Grüße");
        let mut bom = vec![0xff, 0xfe];
        bom.extend("Grüße".encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert_eq!(decode_unlabelled(&bom), "Grüße");
    }
}
