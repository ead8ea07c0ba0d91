use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{Address, HeaderName, MessageParser, MimeHeaders, PartType};

use crate::text;
use serde::{Deserialize, Serialize};

/// A mailbox: display name (decoded) and address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addr {
    pub name: Option<String>,
    pub address: String,
}

/// X-Priority / Importance, normalised; a missing header means `Normal`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
}

/// What the headers say, decoded to UTF-8. Everything is optional: real mail lacks anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub subject: Option<String>,
    pub from: Vec<Addr>,
    pub to: Vec<Addr>,
    pub cc: Vec<Addr>,
    pub bcc: Vec<Addr>,
    /// Delivered-To and X-Original-To: where the mail system delivered the message.
    pub delivered_to: Vec<String>,
    /// The Date header as seconds since the epoch (UTC).
    pub date: Option<i64>,
    pub message_id: Option<String>,
    pub priority: Priority,
    pub attachment_names: Vec<String>,
    pub has_attachments: bool,
}

impl Summary {
    /// Every recipient address (To, Cc, Bcc, Delivered-To, X-Original-To), lower-cased, unique.
    pub fn recipient_addresses(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .to
            .iter()
            .chain(&self.cc)
            .chain(&self.bcc)
            .map(|a| a.address.to_lowercase())
            .chain(self.delivered_to.iter().map(|a| a.to_lowercase()))
            .filter(|a| !a.is_empty())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub fn sender_addresses(&self) -> Vec<String> {
        self.from
            .iter()
            .map(|a| a.address.to_lowercase())
            .filter(|a| !a.is_empty())
            .collect()
    }
}

/// One MIME part body as a byte range of the raw message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartBody {
    pub range: Range<usize>,
    /// Content-Transfer-Encoding: base64.
    pub base64: bool,
    /// The decoded bytes of a large binary base64 body (see [`KEEP_DECODED`]).
    pub decoded: Option<Vec<u8>>,
}

/// Binary base64 bodies at least this large keep the parser's decoded bytes.
pub const KEEP_DECODED: usize = 16 * 1024;

/// The parser's view of a message.
#[derive(Clone, Debug, Default)]
pub struct ParsedMessage {
    pub summary: Summary,
    /// Leaf part bodies of the top-level message, in byte order, non-overlapping.
    pub bodies: Vec<PartBody>,
    /// Why the message could not be fully understood (it is still archived).
    pub problem: Option<String>,
    /// Where its text had to be guessed: an unknown or wrong charset label, raw 8-bit header
    /// bytes (see [`crate::charset`]). The message is archived and flagged with these.
    pub charset_notes: Vec<String>,
    /// The readable text of the message body (text parts, or the text of the HTML part),
    /// decoded to UTF-8, at most [`MAX_BODY_TEXT`] bytes: what the search index sees.
    pub body_text: String,
    /// The decoded contents of the attachments a [`parse_with`] filter asked for, in order.
    pub attachments: Vec<Attachment>,
}

/// How a flag for charset guesses starts (see [`ParsedMessage::flag`]).
pub const CHARSET_FLAG: &str = "charset: ";

impl ParsedMessage {
    /// What an archived message is flagged with: the parser's problem, else where its text
    /// had to be guessed (starting with [`CHARSET_FLAG`]), else nothing.
    pub fn flag(&self) -> Option<String> {
        self.problem.clone().or_else(|| {
            (!self.charset_notes.is_empty())
                .then(|| format!("{CHARSET_FLAG}{}", self.charset_notes.join("; ")))
        })
    }
}

/// An attachment's decoded contents, for text extraction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attachment {
    /// The file name, if the part has one (an attached message without one is named
    /// after its subject, `<subject>.eml`, as in [`Summary::attachment_names`]).
    pub name: Option<String>,
    /// `type/subtype`, lower case; `application/octet-stream` when the part does not say.
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Longest body text kept for the index.
pub const MAX_BODY_TEXT: usize = 4 * 1024 * 1024;

/// Parses a message. Never panics; an unparseable message yields a `problem`.
pub fn parse(raw: &[u8]) -> ParsedMessage {
    parse_with(raw, &|_, _| false)
}

/// Like [`parse`], and also keeps the decoded contents of every attachment for which
/// `want(file name, content type)` says yes (in [`ParsedMessage::attachments`]).
pub fn parse_with(raw: &[u8], want: &dyn Fn(Option<&str>, &str) -> bool) -> ParsedMessage {
    if raw.is_empty() {
        return ParsedMessage {
            problem: Some("empty message".into()),
            ..Default::default()
        };
    }
    match catch_unwind(AssertUnwindSafe(|| parse_inner(raw, want))) {
        Ok(Some(p)) => p,
        Ok(None) => ParsedMessage {
            problem: Some("no RFC 5322 header found".into()),
            ..Default::default()
        },
        Err(_) => ParsedMessage {
            problem: Some("the MIME parser failed on this message".into()),
            ..Default::default()
        },
    }
}

fn parse_inner(raw: &[u8], want: &dyn Fn(Option<&str>, &str) -> bool) -> Option<ParsedMessage> {
    let mut msg = MessageParser::default().parse(raw)?;
    let mut notes = text::Notes::default();
    let hint = text::hint(&msg);
    text::reread_bodies(&mut msg, raw, &mut notes);
    let mut summary = Summary {
        subject: text::subject(&msg, raw, hint, &mut notes).map(|s| clean(&s)),
        from: text::addresses(&msg, raw, HeaderName::From, hint, &mut notes, addrs),
        to: text::addresses(&msg, raw, HeaderName::To, hint, &mut notes, addrs),
        cc: text::addresses(&msg, raw, HeaderName::Cc, hint, &mut notes, addrs),
        bcc: text::addresses(&msg, raw, HeaderName::Bcc, hint, &mut notes, addrs),
        date: msg.date().map(|d| d.to_timestamp()),
        message_id: msg.message_id().map(|s| s.to_string()),
        ..Default::default()
    };
    for (name, value) in msg.headers_raw() {
        if name.eq_ignore_ascii_case("Delivered-To") || name.eq_ignore_ascii_case("X-Original-To") {
            let v = value
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim();
            if !v.is_empty() {
                summary.delivered_to.push(v.to_string());
            }
        }
        if name.eq_ignore_ascii_case("X-Priority") {
            summary.priority = match value.trim().chars().next() {
                Some('1') | Some('2') => Priority::High,
                Some('4') | Some('5') => Priority::Low,
                _ => summary.priority,
            };
        }
        if name.eq_ignore_ascii_case("Importance") || name.eq_ignore_ascii_case("Priority") {
            let v = value.trim().to_ascii_lowercase();
            if v.starts_with("high") || v.starts_with("urgent") {
                summary.priority = Priority::High;
            } else if v.starts_with("low") || v.starts_with("non-urgent") {
                summary.priority = Priority::Low;
            }
        }
    }
    let mut attachments = Vec::new();
    for part in msg.attachments() {
        summary.has_attachments = true;
        let name = if let Some(name) = text::attachment_name(part, raw, hint, &mut notes) {
            Some(clean(&name))
        } else if let PartType::Message(m) = &part.body
            && let Some(s) = text::subject(m, &m.raw_message, text::hint(m), &mut notes)
        {
            Some(format!("{}.eml", clean(&s)))
        } else {
            None
        };
        if let Some(n) = &name {
            summary.attachment_names.push(n.clone());
        }
        let content_type = content_type(part);
        if want(name.as_deref(), &content_type) {
            attachments.push(Attachment {
                name,
                content_type,
                data: part.contents().to_vec(),
            });
        }
    }
    let mut body_text = String::new();
    for i in 0..msg.text_body_count() {
        if let Some(t) = msg.body_text(i) {
            if !body_text.is_empty() {
                body_text.push('\n');
            }
            body_text.push_str(&crate::charset::compose_hangul_makeup(&t));
            if body_text.len() > MAX_BODY_TEXT {
                let mut cut = MAX_BODY_TEXT;
                while !body_text.is_char_boundary(cut) {
                    cut -= 1;
                }
                body_text.truncate(cut);
                break;
            }
        }
    }
    let mut bodies: Vec<PartBody> = msg
        .parts
        .iter_mut()
        .filter(|p| !matches!(p.body, PartType::Multipart(_)))
        .filter_map(|p| {
            let (start, end) = (p.offset_body as usize, p.offset_end as usize);
            if start >= end || end > raw.len() {
                return None;
            }
            let base64 = p
                .content_transfer_encoding()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case("base64"));
            let decoded = match &mut p.body {
                PartType::Binary(b) | PartType::InlineBinary(b)
                    if base64 && end - start >= KEEP_DECODED =>
                {
                    Some(std::mem::take(b).into_owned())
                }
                _ => None,
            };
            Some(PartBody {
                range: start..end,
                base64,
                decoded,
            })
        })
        .collect();
    bodies.sort_by_key(|b| b.range.start);
    let mut last_end = 0;
    bodies.retain(|b| {
        let ok = b.range.start >= last_end;
        if ok {
            last_end = b.range.end;
        }
        ok
    });
    Some(ParsedMessage {
        summary,
        bodies,
        problem: None,
        charset_notes: notes.0,
        body_text,
        attachments,
    })
}

/// A part's `type/subtype`, lower case (`message/rfc822` for an attached message;
/// `application/octet-stream` when the part does not say).
pub(crate) fn content_type(part: &mail_parser::MessagePart<'_>) -> String {
    match (part.content_type(), &part.body) {
        (_, PartType::Message(_)) => "message/rfc822".to_string(),
        (Some(ct), _) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        (None, PartType::Text(_)) => "text/plain".to_string(),
        (None, PartType::Html(_)) => "text/html".to_string(),
        (None, _) => "application/octet-stream".to_string(),
    }
}

fn clean(s: &str) -> String {
    crate::charset::compose_hangul_makeup(s)
        .chars()
        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

fn addrs(a: Option<&Address<'_>>) -> Vec<Addr> {
    let Some(a) = a else { return Vec::new() };
    a.iter()
        .map(|x| Addr {
            name: x.name().map(clean).filter(|n| !n.is_empty()),
            address: x.address().map(clean).unwrap_or_default(),
        })
        .filter(|x| !x.address.is_empty() || x.name.is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMPLE: &[u8] = b"From: =?UTF-8?B?SsO8cmdlbg==?= <j@example.com>\r\nTo: a@example.com, B <b@example.org>\r\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\nMessage-ID: <1@x>\r\nX-Priority: 1 (Highest)\r\nDelivered-To: c@example.com\r\n\r\nbody\r\n";

    #[test]
    fn decodes_headers() {
        let p = parse(SIMPLE);
        assert!(p.problem.is_none());
        assert_eq!(p.body_text.trim(), "body");
        let s = p.summary;
        assert_eq!(s.subject.as_deref(), Some("Grüße"));
        assert_eq!(s.from[0].name.as_deref(), Some("Jürgen"));
        assert_eq!(s.to.len(), 2);
        assert_eq!(s.date, Some(1_057_049_557));
        assert_eq!(s.priority, Priority::High);
        assert_eq!(s.message_id.as_deref(), Some("1@x"));
        assert_eq!(
            s.recipient_addresses(),
            ["a@example.com", "b@example.org", "c@example.com"]
        );
    }

    #[test]
    fn attached_message_and_segmented_names_read_again() {
        // An attached message whose subject uses a label only Arkiv knows (cp932), and a file
        // name in RFC 2231 segments (cut inside a character) under that label.
        let m = b"From: a@example.com\r\nSubject: outer\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: b@example.com\r\n\
Subject: =?cp932?B?g26DjYFbgUWDj4Fbg4uDaA==?=\r\n\r\ninner\r\n\
--b\r\nContent-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename*0*=cp932''%83n%83; filename*1*=%8D.txt\r\n\r\nx\r\n--b--\r\n";
        let p = parse(m);
        assert_eq!(
            p.summary.attachment_names,
            ["ハロー・ワールド.eml", "ハロ.txt"]
        );
        assert!(p.charset_notes.is_empty(), "{:?}", p.charset_notes);
    }

    #[test]
    fn garbage_is_flagged_not_fatal() {
        assert!(parse(b"").problem.is_some());
        let junk: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let _ = parse(&junk);
        let _ = parse(b"\0\0\0\r\n\r\n");
    }

    #[test]
    fn finds_part_bodies() {
        let m = b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhello\n--b\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=a.pdf\n\nAAAA\nBBBB\n--b--\n";
        let p = parse(m);
        assert!(p.summary.has_attachments);
        assert_eq!(p.summary.attachment_names, ["a.pdf"]);
        let b64: Vec<_> = p.bodies.iter().filter(|b| b.base64).collect();
        assert_eq!(b64.len(), 1);
        assert!(
            std::str::from_utf8(&m[b64[0].range.clone()])
                .unwrap()
                .starts_with("AAAA\nBBBB")
        );
    }
}
