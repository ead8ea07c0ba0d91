//! A message as a person reads it (Web Access, D1): the headers of [`crate::parse`], the
//! plain text, the HTML part as it was sent (to be sanitized by whoever shows it), the
//! attachments with their sizes, and the inline images an HTML part refers to by `cid:`.
//! The same parser, charset re-reading and panic guard as indexing.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::summary::{Attachment, Summary};
use crate::text;

/// One attachment as listed under a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Its position among the message's attachments (for [`attachment`]).
    pub index: usize,
    pub name: String,
    /// `type/subtype`, lower case.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: usize,
    /// `Content-ID` without its angle brackets, when the part has one.
    pub content_id: Option<String>,
}

/// What a message view shows.
#[derive(Clone, Debug, Default)]
pub struct Display {
    pub summary: Summary,
    /// The plain text (the text parts; for a message with only HTML, the HTML's text).
    pub text: String,
    /// The first HTML body, decoded to UTF-8 and unsanitized: hostile input.
    pub html: Option<String>,
    pub attachments: Vec<Listed>,
    /// Why the message could not be fully understood (shown; the source is still there).
    pub problem: Option<String>,
}

/// Inline images at most this large (each) are offered for `cid:` references.
pub const MAX_INLINE_IMAGE: usize = 2 * 1024 * 1024;

/// Reads a message for display. Never panics.
pub fn display(raw: &[u8]) -> Display {
    let parsed = crate::parse(raw);
    let mut d = Display {
        summary: parsed.summary,
        problem: parsed.problem,
        ..Default::default()
    };
    let bodies = catch_unwind(AssertUnwindSafe(|| bodies(raw)));
    match bodies {
        Ok(Some((text, html, attachments))) => {
            d.text = text;
            d.html = html;
            d.attachments = attachments;
        }
        Ok(None) => {}
        Err(_) => {
            d.problem
                .get_or_insert_with(|| "the MIME parser failed on this message".into());
        }
    }
    d
}

type Bodies = (String, Option<String>, Vec<Listed>);

fn bodies(raw: &[u8]) -> Option<Bodies> {
    let mut msg = MessageParser::default().parse(raw)?;
    let mut notes = text::Notes::default();
    text::reread_bodies(&mut msg, raw, &mut notes);
    let hint = text::hint(&msg);
    let mut plain = String::new();
    for i in 0..msg.text_body_count() {
        if let Some(t) = msg.body_text(i) {
            if !plain.is_empty() {
                plain.push('\n');
            }
            plain.push_str(&t);
        }
    }
    let html = msg
        .html_body
        .iter()
        .find_map(|&i| match &msg.parts.get(i as usize)?.body {
            PartType::Html(h) => Some(h.to_string()),
            _ => None,
        });
    let mut listed = Vec::new();
    for (index, part) in msg.attachments().enumerate() {
        let name = text::attachment_name(part, raw, hint, &mut notes)
            .or_else(|| match &part.body {
                PartType::Message(m) => m.subject().map(|s| format!("{s}.eml")),
                _ => None,
            })
            .unwrap_or_else(|| format!("attachment-{}", index + 1));
        listed.push(Listed {
            index,
            name: name.chars().filter(|c| !c.is_control()).collect(),
            content_type: content_type(part),
            size: part.contents().len(),
            content_id: part
                .content_id()
                .map(|c| c.trim().trim_matches(['<', '>']).to_string())
                .filter(|c| !c.is_empty()),
        });
    }
    Some((plain, html, listed))
}

fn content_type(part: &mail_parser::MessagePart<'_>) -> String {
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

/// The decoded contents of attachment `index` (as numbered by [`display`]).
pub fn attachment(raw: &[u8], index: usize) -> Option<Attachment> {
    let listed = display(raw).attachments.into_iter().nth(index)?;
    catch_unwind(AssertUnwindSafe(|| {
        let msg = MessageParser::default().parse(raw)?;
        let part = msg.attachments().nth(index)?;
        Some(Attachment {
            name: Some(listed.name.clone()),
            content_type: listed.content_type.clone(),
            data: part.contents().to_vec(),
        })
    }))
    .ok()
    .flatten()
}

/// The images a message carries for `cid:` references: (content id, content type, bytes),
/// each at most [`MAX_INLINE_IMAGE`].
pub fn inline_images(raw: &[u8]) -> Vec<(String, String, Vec<u8>)> {
    catch_unwind(AssertUnwindSafe(|| {
        let Some(msg) = MessageParser::default().parse(raw) else {
            return Vec::new();
        };
        msg.attachments()
            .filter_map(|part| {
                let cid = part
                    .content_id()?
                    .trim()
                    .trim_matches(['<', '>'])
                    .to_string();
                let ct = content_type(part);
                let data = part.contents();
                (ct.starts_with("image/") && !cid.is_empty() && data.len() <= MAX_INLINE_IMAGE)
                    .then(|| (cid, ct, data.to_vec()))
            })
            .collect()
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: multipart/alternative; boundary=Y\r\n\r\n--Y\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n--Y\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Gr\xc3\xbc\xc3\x9fe <img src=\"cid:logo@x\"><script>alert(1)</script></p>\r\n--Y--\r\n--X\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--X\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n%PDF-1.4\r\n--X--\r\n";

    #[test]
    fn text_html_and_attachments() {
        let d = display(MIXED);
        assert!(d.problem.is_none());
        assert_eq!(d.summary.subject.as_deref(), Some("Hi"));
        assert_eq!(d.text.trim(), "Grüße");
        let html = d.html.unwrap();
        assert!(html.contains("<script>"), "unsanitized: {html}");
        assert_eq!(d.attachments.len(), 2);
        assert_eq!(d.attachments[0].content_id.as_deref(), Some("logo@x"));
        assert_eq!(d.attachments[1].name, "report.pdf");
        assert_eq!(d.attachments[1].content_type, "application/pdf");
        let a = attachment(MIXED, 1).unwrap();
        assert_eq!(a.data, b"%PDF-1.4");
        assert!(attachment(MIXED, 2).is_none());
        let imgs = inline_images(MIXED);
        assert_eq!(imgs.len(), 1);
        assert_eq!(imgs[0].0, "logo@x");
        assert_eq!(&imgs[0].2[..4], b"\x89PNG");
    }

    #[test]
    fn garbage_is_shown_not_panicked_on() {
        for raw in [
            &b""[..],
            b"\xff\xfe",
            b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n",
        ] {
            let d = display(raw);
            assert!(d.html.is_none());
            let _ = attachment(raw, 0);
        }
    }
}
