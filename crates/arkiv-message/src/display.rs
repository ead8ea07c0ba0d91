//! A message as a person reads it (Web Access, D1): the headers of [`crate::parse`], the
//! plain text, the HTML part as it was sent (to be sanitized by whoever shows it), the
//! attachments with their sizes, and the inline images an HTML part refers to by `cid:`.
//! The same parser, charset re-reading and panic guard as indexing.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::summary::{Attachment, Summary, content_type};
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
    /// The images an HTML body may refer to by `cid:` (each at most [`MAX_INLINE_IMAGE`];
    /// empty without an HTML body).
    pub inline_images: Vec<InlineImage>,
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
        Ok(Some((text, html, attachments, inline))) => {
            d.text = text;
            d.html = html;
            d.attachments = attachments;
            d.inline_images = inline;
        }
        Ok(None) => {}
        Err(_) => {
            d.problem
                .get_or_insert_with(|| "the MIME parser failed on this message".into());
        }
    }
    d
}

/// An inline image: (content id, content type, bytes).
pub type InlineImage = (String, String, Vec<u8>);

type Bodies = (String, Option<String>, Vec<Listed>, Vec<InlineImage>);

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
    let mut all = Vec::new();
    let mut inline = Vec::new();
    for (index, part) in msg.attachments().enumerate() {
        let l = listed(part, index, raw, hint, &mut notes);
        // Only an HTML body refers to images by `cid:`.
        if html.is_some()
            && let Some(cid) = &l.content_id
            && l.content_type.starts_with("image/")
            && l.size <= MAX_INLINE_IMAGE
        {
            inline.push((
                cid.clone(),
                l.content_type.clone(),
                part.contents().to_vec(),
            ));
        }
        all.push(l);
    }
    Some((plain, html, all, inline))
}

/// How an attachment is listed: its name (the file name, an attached message's subject, or
/// `attachment-N`), type, decoded size and content id.
fn listed(
    part: &mail_parser::MessagePart<'_>,
    index: usize,
    raw: &[u8],
    hint: Option<crate::charset::Charset>,
    notes: &mut text::Notes,
) -> Listed {
    let name = text::attachment_name(part, raw, hint, notes)
        .or_else(|| match &part.body {
            PartType::Message(m) => m.subject().map(|s| format!("{s}.eml")),
            _ => None,
        })
        .unwrap_or_else(|| format!("attachment-{}", index + 1));
    Listed {
        index,
        name: name.chars().filter(|c| !c.is_control()).collect(),
        content_type: content_type(part),
        size: part.contents().len(),
        content_id: part
            .content_id()
            .map(|c| c.trim().trim_matches(['<', '>']).to_string())
            .filter(|c| !c.is_empty()),
    }
}

/// The decoded contents of attachment `index` (as numbered by [`display`]), from one parse.
pub fn attachment(raw: &[u8], index: usize) -> Option<Attachment> {
    catch_unwind(AssertUnwindSafe(|| {
        let msg = MessageParser::default().parse(raw)?;
        let part = msg.attachments().nth(index)?;
        let l = listed(
            part,
            index,
            raw,
            text::hint(&msg),
            &mut text::Notes::default(),
        );
        Some(Attachment {
            name: Some(l.name),
            content_type: l.content_type,
            data: part.contents().to_vec(),
        })
    }))
    .ok()
    .flatten()
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
        let imgs = display(MIXED).inline_images;
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
