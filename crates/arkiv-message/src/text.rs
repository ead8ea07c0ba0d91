//! Headers and text bodies read again where `mail-parser`'s own reading falls short.
//!
//! `mail-parser` (with its `full_encoding` decoders, the same `encoding_rs` tables as
//! [`charset`]) reads almost all mail right, and Arkiv keeps its reading then. It falls short
//! on labels it does not know (`cp932`, `iso-2022-jp-2`, `x-unknown`), on bytes malformed for
//! their label (Latin-1 labelled UTF-8), on 8-bit or ISO-2022 escape bytes written raw into a
//! header, and on the charsets only [`charset`] decodes. There Arkiv steps in:
//!
//! * a header value is rewritten into a form `mail-parser` reads exactly (raw bytes decoded
//!   to UTF-8, an encoded word it would misread replaced by a UTF-8 encoded word of the
//!   decoded text, an RFC 2231 charset renamed to one it knows) and parsed again by
//!   `mail-parser`'s own header parsers, so addresses, groups, quoting and continuations are
//!   read by one parser;
//! * a text body is transfer-decoded again (by `mail-parser`) and decoded by
//!   [`charset::decode`].
//!
//! Whatever needed a guess leaves a note; the message is flagged with it.

use std::borrow::Cow;

use base64::Engine;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::parsers::MessageStream;
use mail_parser::{
    Address, GetHeader, HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders,
    PartType,
};

use crate::charset::{self, Charset};

/// The notes of one message (at most a few, each once).
#[derive(Debug, Default)]
pub(crate) struct Notes(pub Vec<String>);

impl Notes {
    fn add(&mut self, what: &str, note: String) {
        let line = format!("{what}: {note}");
        if self.0.len() < 8 && !self.0.contains(&line) {
            self.0.push(line);
        }
    }
}

/// What [`charset`] decodes as `mail-parser` does: a label it knows, or UTF-8 (which it
/// decodes without a table); not the charsets only Arkiv decodes.
fn parser_reads(label: &str, cs: Option<Charset>) -> bool {
    matches!(cs, Some(Charset::Whatwg(_)) | Some(Charset::Utf7))
        && (charset::is_utf8(cs) || charset_decoder(label.trim().as_bytes()).is_some())
}

/// The charset a message declares for its text, if it is a legacy one: raw 8-bit header
/// bytes are most likely in it.
pub(crate) fn hint(msg: &Message<'_>) -> Option<Charset> {
    msg.parts
        .iter()
        .filter_map(|p| p.content_type()?.attribute("charset"))
        .filter(|l| !charset::is_ascii_label(l))
        .filter_map(charset::lookup)
        .find(|c| !charset::is_utf8(Some(*c)))
}

fn raw_value<'a>(raw: &'a [u8], h: &mail_parser::Header<'_>) -> &'a [u8] {
    raw.get(h.offset_start as usize..h.offset_end as usize)
        .unwrap_or_default()
}

/// The Subject of `msg`, read again where needed.
pub(crate) fn subject(
    msg: &Message<'_>,
    raw: &[u8],
    hint: Option<Charset>,
    notes: &mut Notes,
) -> Option<String> {
    let Some(h) = msg.parts.first()?.headers.header(HeaderName::Subject) else {
        return msg.subject().map(str::to_string);
    };
    match normalize(raw_value(raw, h), hint, "Subject", notes) {
        Some(v) => MessageStream::new(v.as_bytes())
            .parse_unstructured()
            .into_text()
            .map(Cow::into_owned),
        None => msg.subject().map(str::to_string),
    }
}

/// An address header of `msg` (From, To, Cc, Bcc), read again where needed; `f` maps the
/// addresses found.
pub(crate) fn addresses<T>(
    msg: &Message<'_>,
    raw: &[u8],
    name: HeaderName<'static>,
    hint: Option<Charset>,
    notes: &mut Notes,
    f: impl Fn(Option<&Address<'_>>) -> T,
) -> T {
    let label = name.as_str().to_string();
    let current = || f(msg.header(name.clone()).and_then(HeaderValue::as_address));
    let Some(h) = msg
        .parts
        .first()
        .and_then(|p| p.headers.header(name.clone()))
    else {
        return current();
    };
    match normalize(raw_value(raw, h), hint, &label, notes) {
        Some(v) => f(MessageStream::new(v.as_bytes())
            .parse_address()
            .as_address()),
        None => current(),
    }
}

/// A part's file name (Content-Disposition `filename`, else Content-Type `name`), read again
/// where needed.
pub(crate) fn attachment_name(
    part: &MessagePart<'_>,
    raw: &[u8],
    hint: Option<Charset>,
    notes: &mut Notes,
) -> Option<String> {
    let reread = |name: HeaderName<'static>, attr: &str, notes: &mut Notes| {
        let h = part.headers.header(name)?;
        let v = normalize(raw_value(raw, h), hint, "attachment name", notes)?;
        let ct = MessageStream::new(v.as_bytes()).parse_content_type();
        Some(ct.as_content_type()?.attribute(attr).map(str::to_string))
    };
    let cd = reread(HeaderName::ContentDisposition, "filename", notes);
    let ct = reread(HeaderName::ContentType, "name", notes);
    if cd.is_none() && ct.is_none() {
        return part.attachment_name().map(str::to_string);
    }
    let from_cd = match cd {
        Some(v) => v,
        None => part
            .content_disposition()
            .and_then(|c| c.attribute("filename"))
            .map(str::to_string),
    };
    from_cd.or_else(|| match ct {
        Some(v) => v,
        None => part
            .content_type()
            .and_then(|c| c.attribute("name"))
            .map(str::to_string),
    })
}

/// A raw header value rewritten so that `mail-parser` reads it right, or `None` when its
/// own reading of the raw value stands.
pub(crate) fn normalize(
    raw: &[u8],
    hint: Option<Charset>,
    what: &str,
    notes: &mut Notes,
) -> Option<String> {
    let eight_bit = raw.iter().any(|&b| b >= 0x80);
    let escapes = raw.contains(&0x1b);
    if !eight_bit && !escapes && !raw.windows(2).any(|w| w == b"=?" || w == b"*=") {
        return None;
    }
    let mut changed = false;
    // Raw bytes: ISO-2022 escapes, or 8-bit bytes that are not UTF-8.
    let text: Cow<'_, str> = match std::str::from_utf8(raw) {
        Ok(s) if !escapes => Cow::Borrowed(s),
        _ => {
            changed = true;
            let (text, used) = charset::guess(raw, hint);
            if eight_bit && !charset::is_utf8(Some(used)) {
                notes.add(
                    what,
                    format!(
                        "8-bit bytes without a charset: read as {} (a guess)",
                        used.name()
                    ),
                );
            }
            Cow::Owned(text)
        }
    };
    // Encoded words the parser would misread, with their replacements (most headers have
    // none: then nothing is copied).
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut pos = 0;
    while let Some(at) = text[pos..].find("=?") {
        let start = pos + at;
        match encoded_word(&text[start..]) {
            Some(w) => {
                if let Some(utf8) = reread_word(&w, hint, what, notes) {
                    edits.push((start..start + w.len, utf8));
                }
                pos = start + w.len;
            }
            None => pos = start + 2,
        }
    }
    changed |= !edits.is_empty();
    let mut out = if edits.is_empty() {
        text.into_owned()
    } else {
        let mut out = String::with_capacity(text.len() + 16);
        let mut last = 0;
        for (r, utf8) in &edits {
            out.push_str(&text[last..r.start]);
            out.push_str(utf8);
            last = r.end;
        }
        out.push_str(&text[last..]);
        out
    };
    if out.contains("*=") {
        let (fixed, c) = rfc2231(&out, hint, what, notes);
        out = fixed;
        changed |= c;
    }
    if !changed {
        return None;
    }
    if !out.starts_with([' ', '\t']) {
        out.insert(0, ' ');
    }
    if !out.ends_with('\n') {
        out.push_str("\r\n");
    }
    Some(out)
}

/// An RFC 2047 encoded word at the start of `s`: `=?charset[*lang]?B|Q?payload?=`.
struct Word<'a> {
    label: &'a str,
    base64: bool,
    payload: &'a str,
    /// Its length in `s`.
    len: usize,
}

fn encoded_word(s: &str) -> Option<Word<'_>> {
    let body = s.strip_prefix("=?")?;
    let q1 = body.find('?')?;
    let charset = &body[..q1];
    if charset.is_empty() || charset.len() > 64 || charset.contains(char::is_whitespace) {
        return None;
    }
    let after = &body[q1 + 1..];
    let base64 = match after.as_bytes() {
        [b'b' | b'B', b'?', ..] => true,
        [b'q' | b'Q', b'?', ..] => false,
        _ => return None,
    };
    let payload_and_rest = &after[2..];
    let end = payload_and_rest.find("?=")?;
    let payload = &payload_and_rest[..end];
    if payload.contains(char::is_whitespace) {
        return None;
    }
    let label = charset.split('*').next().unwrap_or(charset);
    Some(Word {
        label,
        base64,
        payload,
        len: 2 + q1 + 1 + 2 + end + 2,
    })
}

/// The decoded bytes of an encoded word's payload (lenient, as mail readers are).
fn word_bytes(w: &Word<'_>) -> Option<Vec<u8>> {
    if w.base64 {
        let clean: String = w
            .payload
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
            .collect();
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(clean.as_bytes())
            .ok()
            .or_else(|| {
                // A stray last character: drop it.
                let cut = clean.len() - clean.len() % 4;
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(&clean.as_bytes()[..cut])
                    .ok()
            })
    } else {
        let b = w.payload.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'_' => out.push(b' '),
                b'=' if b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit) =>
                {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        Some(out)
    }
}

/// The replacement of an encoded word `mail-parser` would misread: a UTF-8 encoded word of
/// its text. `None` when its own reading is right.
fn reread_word(
    w: &Word<'_>,
    hint: Option<Charset>,
    what: &str,
    notes: &mut Notes,
) -> Option<String> {
    let bytes = word_bytes(w)?;
    let cs = charset::lookup(w.label);
    if parser_reads(w.label, cs) && cs.is_some_and(|c| !charset::is_suspect(w.label, c, &bytes)) {
        return None;
    }
    let d = charset::decode(Some(w.label), &bytes, hint);
    if let Some(n) = d.note {
        notes.add(what, n);
    }
    Some(format!(
        "=?utf-8?b?{}?=",
        base64::engine::general_purpose::STANDARD.encode(d.text.as_bytes())
    ))
}

/// One `name=value` parameter of a structured header (Content-Type, Content-Disposition).
struct Param<'a> {
    /// The name as written, with any `*N` and `*`.
    name: &'a str,
    /// The value without its quotes.
    value: &'a str,
    quoted: bool,
}

/// Splits `type/subtype; a=1; b="x; y"` into the part before the first `;` and the
/// parameters (quotes respected; a malformed piece is kept as a name without value).
fn params(s: &str) -> (&str, Vec<Param<'_>>) {
    let mut pieces = Vec::new();
    let (mut start, mut in_quote, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            ';' if !in_quote => {
                pieces.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&s[start..]);
    let head = pieces.remove(0);
    let list = pieces
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            let value = value.trim();
            let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
            Param {
                name: name.trim(),
                value: if quoted {
                    &value[1..value.len() - 1]
                } else {
                    value
                },
                quoted,
            }
        })
        .collect();
    (head, list)
}

/// One piece of an RFC 2231 value: its segment number (`None`: not segmented), whether it is
/// extended (`name*=` / `name*N*=`: percent-encoded, the first with `charset'lang'`), and the
/// value as written.
type Segment<'a> = (Option<u32>, bool, &'a str);

/// RFC 2231 parameters `mail-parser` would misread, as one `name*=utf-8''...` each: values
/// in a charset it does not read (or that do not fit their label), and values split into
/// segments (`name*0*=...; name*1*=...`), which it decodes one by one, breaking a character
/// cut between two segments and losing the charset after the first.
fn rfc2231(s: &str, hint: Option<Charset>, what: &str, notes: &mut Notes) -> (String, bool) {
    let (head, list) = params(s);
    let mut groups: Vec<(&str, Vec<Segment<'_>>)> = Vec::new();
    let mut plain: Vec<(&str, &Param<'_>)> = Vec::new();
    for p in &list {
        let (base, extended) = match p.name.strip_suffix('*') {
            Some(b) => (b, true),
            None => (p.name, false),
        };
        let (base, seg) = match base.rsplit_once('*') {
            Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
                (b, n.parse().ok())
            }
            _ => (base, None),
        };
        if !extended && seg.is_none() {
            plain.push((p.name, p));
            continue;
        }
        let key = base.to_ascii_lowercase();
        match groups
            .iter_mut()
            .find(|(b, _)| b.eq_ignore_ascii_case(&key))
        {
            Some((_, v)) => v.push((seg, extended, p.value)),
            None => groups.push((base, vec![(seg, extended, p.value)])),
        }
    }
    let mut changed = false;
    let mut rewritten: Vec<(String, String)> = Vec::new();
    for (base, mut segs) in groups {
        segs.sort_by_key(|s| s.0);
        let segmented = segs.len() > 1 || segs[0].0.is_some();
        // The charset and language lead the first extended segment: `utf-8'en'%E2%82%AC`.
        let (label, lang, first) = match segs[0] {
            (_, true, v) => match v.splitn(3, '\'').collect::<Vec<_>>()[..] {
                [l, lang, rest] => (l, lang, rest),
                _ => ("", "", v),
            },
            (_, false, v) => ("", "", v),
        };
        let mut bytes = if segs[0].1 {
            percent_bytes(first)
        } else {
            first.as_bytes().to_vec()
        };
        for &(_, ext, v) in &segs[1..] {
            if ext {
                bytes.extend(percent_bytes(v));
            } else {
                bytes.extend_from_slice(v.as_bytes());
            }
        }
        let cs = charset::lookup(label);
        let parser_right = !segmented
            && (label.is_empty()
                || (parser_reads(label, cs)
                    && cs.is_some_and(|c| !charset::is_suspect(label, c, &bytes))));
        if parser_right {
            // Keep it as written.
            let v = segs[0].2;
            rewritten.push((format!("{base}*"), v.to_string()));
            continue;
        }
        let label = (!label.is_empty()).then_some(label);
        let d = charset::decode(label, &bytes, hint);
        if let Some(n) = d.note {
            notes.add(what, n);
        }
        let mut v = format!("utf-8'{lang}'");
        for b in d.text.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                v.push(b as char);
            } else {
                v.push_str(&format!("%{b:02X}"));
            }
        }
        rewritten.push((format!("{base}*"), v));
        changed = true;
    }
    if !changed {
        return (s.to_string(), false);
    }
    let mut out = head.to_string();
    for (name, p) in plain {
        if p.quoted {
            out.push_str(&format!(";\r\n {name}=\"{}\"", p.value));
        } else {
            out.push_str(&format!(";\r\n {name}={}", p.value));
        }
    }
    for (name, v) in rewritten {
        out.push_str(&format!(";\r\n {name}={v}"));
    }
    out.push_str("\r\n");
    (out, true)
}

fn percent_bytes(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = b.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(h).unwrap_or("x"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Decodes again the text parts of `msg` that `mail-parser` could not read right: a charset
/// it does not know, or bytes malformed for the declared one (U+FFFD in its text).
pub(crate) fn reread_bodies(msg: &mut Message<'_>, raw: &[u8], notes: &mut Notes) {
    for i in 0..msg.parts.len() {
        let part = &msg.parts[i];
        let (text, html) = match &part.body {
            PartType::Text(t) => (t, false),
            PartType::Html(t) => (t, true),
            _ => continue,
        };
        let label = part
            .content_type()
            .and_then(|ct| ct.attribute("charset"))
            .map(str::to_string);
        let cs = label.as_deref().and_then(charset::lookup);
        // Read by the parser as declared: right unless the text shows it was not (U+FFFD),
        // or 8-bit text came out of a label that cannot be trusted with it (an ASCII label,
        // or a one-byte charset that would turn UTF-8 into mojibake unnoticed).
        let parser_right = match (&label, cs) {
            (None, _) => true,
            (Some(l), Some(c)) if parser_reads(l, cs) => {
                text.is_ascii()
                    || !(charset::is_ascii_label(l) || charset::single_byte_text_was_utf8(c, text))
            }
            _ => false,
        };
        if parser_right && !text.contains('\u{FFFD}') {
            continue;
        }
        let Some(bytes) = transfer_decoded(part, raw) else {
            continue;
        };
        let label = label.or_else(|| html.then(|| meta_charset(&bytes)).flatten());
        let d = charset::decode(label.as_deref(), &bytes, None);
        if let Some(n) = d.note {
            notes.add(&format!("part {}", i + 1), n);
        }
        msg.parts[i].body = if html {
            PartType::Html(d.text.into())
        } else {
            PartType::Text(d.text.into())
        };
    }
}

/// A part's body with its transfer encoding undone (by `mail-parser`, as it did the first
/// time), before any charset decoding.
fn transfer_decoded(part: &MessagePart<'_>, raw: &[u8]) -> Option<Vec<u8>> {
    let span = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    let cte = part
        .content_transfer_encoding()
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if cte != "base64" && cte != "quoted-printable" {
        return Some(span.to_vec());
    }
    let mut mini = format!(
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
    )
    .into_bytes();
    mini.extend_from_slice(span);
    let m = MessageParser::default().parse(&mini)?;
    Some(m.parts.first()?.contents().to_vec())
}

/// The charset an HTML document declares in a `<meta>` element near its start.
fn meta_charset(html: &[u8]) -> Option<String> {
    let head = &html[..html.len().min(4096)];
    let lower: Vec<u8> = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(p) = find(&lower[from..], b"<meta") {
        let start = from + p;
        let end = find(&lower[start..], b">").map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        if let Some(c) = find(tag, b"charset=") {
            let v: String = tag[c + 8..]
                .iter()
                .skip_while(|b| **b == b'"' || **b == b'\'')
                .take_while(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
                .map(|b| *b as char)
                .collect();
            if !v.is_empty() {
                return Some(v);
            }
        }
        from = end;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &[u8]) -> (Option<String>, Vec<String>) {
        let mut n = Notes::default();
        let v = normalize(raw, None, "h", &mut n);
        (v, n.0)
    }

    #[test]
    fn leaves_what_the_parser_reads() {
        assert_eq!(norm(b" plain ascii\r\n").0, None);
        assert_eq!(norm(b" =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n").0, None);
        assert_eq!(norm(b" =?iso-2022-jp?B?GyRCJU8lbSE8GyhC?=\r\n").0, None);
        assert_eq!(norm(" Grüße raw UTF-8\r\n".as_bytes()).0, None);
    }

    #[test]
    fn rewrites_what_it_would_misread() {
        // A label only Arkiv knows.
        let (v, notes) = norm(b" =?cp932?B?g26DjYFbgUWDj4Fbg4uDaA==?=\r\n");
        let v = v.unwrap();
        let t = MessageStream::new(v.as_bytes()).parse_unstructured();
        assert_eq!(t.as_text(), Some("ハロー・ワールド"));
        assert!(notes.is_empty());
        // Raw ISO-2022-JP in a header.
        let (v, _) = norm(b" \x1b$B%O%m!<\x1b(B\r\n");
        assert!(v.unwrap().contains("ハロー"));
        // Raw Shift_JIS with the message's charset as the hint.
        let mut n = Notes::default();
        let v = normalize(
            b" \x83n\x83\x8D\x81[\r\n",
            charset::lookup("shift_jis"),
            "Subject",
            &mut n,
        );
        assert_eq!(v.unwrap().trim(), "ハロー");
        assert!(n.0[0].starts_with("Subject: 8-bit bytes without a charset"));
        // An RFC 2231 name in a charset the parser does not know.
        let (v, _) = norm(b" attachment; filename*=cp932''%83n%83%8D.txt\r\n");
        let v = v.unwrap();
        let ct = MessageStream::new(v.as_bytes()).parse_content_type();
        assert_eq!(
            ct.as_content_type().unwrap().attribute("filename"),
            Some("ハロ.txt")
        );
    }

    #[test]
    fn meta() {
        assert_eq!(
            meta_charset(b"<html><head><META http-equiv=Content-Type content=\"text/html; charset=Shift_JIS\">"),
            Some("shift_jis".into())
        );
        assert_eq!(meta_charset(b"<meta charset='gbk'>"), Some("gbk".into()));
        assert_eq!(meta_charset(b"<p>no</p>"), None);
    }
}
