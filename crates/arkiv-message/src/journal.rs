//! Exchange / Microsoft 365 envelope journal reports, unwrapped.
//!
//! Exchange (2007 and later) and Microsoft 365 journal a message by sending the journal
//! address a **journal report**: a new message, marked with the header `X-MS-Journal-Report:`
//! (usually empty), whose `multipart/mixed` body holds
//!
//! 1. a `text/plain` part, the envelope ("Envelope-Part" in [MS-XJRNL]): one field per line,
//!    CRLF-terminated, in this order as Exchange's journaling agent writes them —
//!    `Sender:` the sender's SMTP address (`Unspecified Address` when there is none),
//!    `On-Behalf-Of:` the From address when it differs from the sender, `Subject:`,
//!    `Message-Id:` (Exchange 2007 documents it as `Message-ID:`), then one line per envelope
//!    recipient: `To:`, `Cc:`, `Bcc:` when Exchange could verify how the recipient was
//!    addressed, `Recipient:` when it could not (mail from outside, from an Edge server or
//!    Exchange 2003), each `<type>: address[, Expanded|Forwarded: address]`. [MS-XJRNL] adds
//!    optional `Label:`, `Mailbox:`, `SentUtc:`, `ReceivedUtc:` lines and allows Message-Id
//!    before Subject. The part is 7bit, or quoted-printable in the subject's charset when the
//!    subject has 8-bit characters;
//! 2. a `message/rfc822` part: the original message, "included unaltered" (Microsoft 365
//!    sends it with `Content-Transfer-Encoding: binary`, as reports quoted in piler's issue
//!    1141 show; the journaling agent can add the Bcc recipients it knows as a `Bcc:` header
//!    of the embedded copy).
//!
//! Sources: Microsoft, "Understanding Journal Reports" (Exchange 2007,
//! <https://technet.microsoft.com/en-us/library/bb331962(EXCHG.80).aspx>; Exchange 2010,
//! <https://learn.microsoft.com/en-us/previous-versions/exchange-server/exchange-140/bb331962(v=exchg.140)>),
//! "White Paper: Exchange 2007 Transport Journaling", section "Journal Report Format" (the
//! ABNF, <http://technet.microsoft.com/en-us/library/bb738122.aspx>), [MS-XJRNL] 2.1
//! "Envelope-Part Structure"
//! (<https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-xjrnl/1972c2c4-edcc-467c-a3ee-199ff0a2342d>);
//! the journaling agent's own writer (decompiled Exchange `JournalReport.WriteTo`, public on
//! GitHub) confirms the order and the `, Expanded: ` / `, Forwarded: ` suffixes.
//!
//! # What counts as a recipient
//!
//! The archive gives a journaled message to every user whose address is among its
//! recipients (`arkiv-archive`'s journal assignment), so [`JournalReport::recipients`] holds
//! every address the report names as having been sent the message:
//!
//! * the address of each `To:`, `Cc:`, `Bcc:` and `Recipient:` line — the mailbox the copy
//!   was delivered to, Bcc and list members included (the headers show neither);
//! * `Expanded: list@...` — the distribution group the sender addressed, which Exchange
//!   expanded into the member on that line. Kept: the sender did send to that address (it is
//!   what the original's To/Cc show, and what an ordinary import would match), and a group
//!   address only reaches a user the administrator gave it to, who then wants the list's mail;
//! * `Forwarded: user@...` — the mailbox the sender addressed, whose mail Exchange redirected
//!   (forwarding or an alternate recipient) to the address on that line. Kept: the message
//!   was sent to that user, and the redirect was the user's own mailbox setting.
//!
//! Addresses are taken as Exchange writes them (bare `user@domain`), and as the ABNF allows
//! (`<user@domain>`), also in `"Name" <user@domain>` form and several to a line separated by
//! commas; a `Label: address` item (`Expanded:`, `Forwarded:`, `SMTP:`, or a label a later
//! version may add) gives its address. Everything is lower-cased and deduplicated, in report
//! order. Items without an `@` (X.400 / `EX:` addresses, `Unspecified Address`) are skipped.
//!
//! Recipient lines count only **after the (last) `Message-Id:` line**: Exchange writes the
//! subject before it, and a subject that smuggles in a line break (an encoded word decoding
//! to CRLF) must not add a recipient. [MS-XJRNL]'s other order (Message-Id, then Subject)
//! cannot be told apart from such an injection; no generator found writes it.
//!
//! # When the answer is `None`
//!
//! Whenever the bytes are not plainly a report Arkiv can unwrap completely — no
//! `X-MS-Journal-Report` header among the top-level headers; no `multipart` body; no
//! `text/plain` envelope with a `Message-Id:` line and at least one recipient before a
//! non-empty `message/rfc822` (or `message/global`) part; a part not closed by a boundary
//! (a truncated report); a transfer encoding that does not decode. Then the caller archives
//! the report itself, exact bytes and all, so nothing is lost. This covers the reports Arkiv
//! cannot read: TNEF ones (`application/ms-tnef`, `winmail.dat`, when a remote domain or the
//! journal mailbox uses Exchange rich text: the original is inside the TNEF blob), Exchange
//! 2003 ones (`Content-Identifier: ExJournalReport`, an older, incompatible format), "GCC"
//! reports without the original (`X-MS-Gcc-Journal-Report`), and reports returned inside a
//! non-delivery report by an alternate journaling mailbox.
//!
//! Whether a report is genuine is not this module's question: anyone who can send to the
//! journal receiver can write `X-MS-Journal-Report:`; the receiver decides whom to accept.
//!
//! The parser is Arkiv's own (no `mail-parser`): one pass over the top-level headers and
//! the top-level parts, never descending into the original, linear in the input, no
//! recursion, no panics.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::charset;

/// An Exchange / Microsoft 365 envelope journal report, unwrapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalReport {
    /// The original message's envelope sender (lower-cased address), from `Sender:`.
    pub sender: Option<String>,
    /// Every envelope recipient (lower-cased, deduplicated, in report order): To, Cc, Bcc,
    /// Recipient lines, and the addresses of expanded distribution lists / forwards
    /// (`Expanded:`, `Forwarded:`) — see the module documentation.
    pub recipients: Vec<String>,
    /// The original message, byte for byte as attached (the message/rfc822 part's body;
    /// decoded if that part has a base64/quoted-printable Content-Transfer-Encoding).
    pub original: Vec<u8>,
}

/// `Some` when `bytes` is a journal report with an attached original; `None` otherwise
/// (an ordinary message, or a report without the attachment: the caller then archives the
/// report itself as an ordinary message).
pub fn journal_report(bytes: &[u8]) -> Option<JournalReport> {
    let (head, body) = split_head(bytes);
    let fields = header_fields(head);
    if !fields.iter().any(|f| f.is("x-ms-journal-report")) {
        return None;
    }
    let content_type = ContentType::parse(&fields.iter().find(|f| f.is("content-type"))?.value());
    let subtype = content_type.mime.strip_prefix("multipart/")?;
    let boundary = content_type.param("boundary")?;
    if boundary.is_empty() || boundary.len() > MAX_BOUNDARY {
        return None;
    }
    let default_type = if subtype == "digest" {
        "message/rfc822"
    } else {
        "text/plain"
    };

    let mut envelope: Option<Option<Envelope>> = None;
    for range in parts(body, boundary.as_bytes()) {
        let part = Part::parse(&body[range], default_type);
        match part.mime.as_str() {
            "text/plain" if envelope.is_none() => {
                let text = transfer_decode(part.encoding.as_deref(), part.body)?;
                let text = charset::decode(part.charset.as_deref(), &text, None).text;
                envelope = Some(read_envelope(&text));
            }
            "message/rfc822" | "message/global" => {
                let Envelope { sender, recipients } = envelope.flatten()?;
                let original = transfer_decode(part.encoding.as_deref(), part.body)?;
                if original.is_empty() {
                    return None;
                }
                return Some(JournalReport {
                    sender,
                    recipients,
                    original: original.into_owned(),
                });
            }
            _ => {}
        }
    }
    None
}

/// Longest boundary accepted (RFC 2046 allows 70 characters).
const MAX_BOUNDARY: usize = 256;
/// Longest address kept (RFC 5321 allows 254 in a path).
const MAX_ADDRESS: usize = 512;

/// One line of `bytes` starting at `start`: the end of its text (before CR LF or LF) and
/// where the next line starts.
fn line_at(bytes: &[u8], start: usize) -> (usize, usize) {
    match bytes[start..].iter().position(|&b| b == b'\n') {
        Some(i) => {
            let nl = start + i;
            let end = if nl > start && bytes[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            (end, nl + 1)
        }
        None => (bytes.len(), bytes.len()),
    }
}

/// Splits an entity into its header block and its body at the first empty line. Without
/// one, it is all header and the body is empty.
fn split_head(bytes: &[u8]) -> (&[u8], &[u8]) {
    let mut pos = 0;
    while pos < bytes.len() {
        let (end, next) = line_at(bytes, pos);
        if end == pos && next > pos {
            return (&bytes[..pos], &bytes[next..]);
        }
        pos = next;
    }
    (bytes, &[])
}

/// A header field: its name and its raw (folded) value.
struct Field<'a> {
    name: &'a [u8],
    raw: &'a [u8],
}

impl Field<'_> {
    fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The value unfolded (line breaks removed), as text.
    fn value(&self) -> String {
        let v: Vec<u8> = self
            .raw
            .iter()
            .copied()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect();
        String::from_utf8_lossy(&v).trim().to_string()
    }
}

/// The fields of a header block; lines that are neither a field nor a continuation are
/// skipped.
fn header_fields(head: &[u8]) -> Vec<Field<'_>> {
    // (name, where the value starts, where it ends so far)
    let mut found: Vec<(&[u8], usize, usize)> = Vec::new();
    let mut pos = 0;
    while pos < head.len() {
        let (end, next) = line_at(head, pos);
        let line = &head[pos..end];
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some(last) = found.last_mut() {
                last.2 = end; // the value runs on to the end of this continuation line
            }
        } else if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = line[..colon].trim_ascii_end();
            if !name.is_empty() && name.iter().all(|&b| b.is_ascii_graphic()) {
                found.push((name, pos + colon + 1, end));
            }
        }
        pos = next;
    }
    found
        .into_iter()
        .map(|(name, start, end)| Field {
            name,
            raw: &head[start..end],
        })
        .collect()
}

/// A Content-Type value: `type/subtype` (lower case) and its parameters.
struct ContentType {
    mime: String,
    params: Vec<(String, String)>,
}

impl ContentType {
    fn parse(value: &str) -> ContentType {
        let mut items = split_outside_quotes(value, ';').into_iter();
        let mime = items.next().unwrap_or_default().trim().to_ascii_lowercase();
        let params = items
            .filter_map(|item| {
                let (name, v) = item.split_once('=')?;
                Some((name.trim().to_ascii_lowercase(), unquote(v.trim())))
            })
            .collect();
        ContentType { mime, params }
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `"a \"b\""` → `a "b"`; a token stays as it is.
fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"') else {
        return v.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Splits at `sep` where it is outside quoted strings and angle brackets.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut escaped, mut angle) = (false, false, false);
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted {
            match c {
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
        } else if c == '"' {
            quoted = true;
        } else if c == '<' {
            angle = true;
        } else if c == '>' {
            angle = false;
        } else if c == sep && !angle {
            out.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&s[start..]);
    out
}

/// The byte ranges of the parts of a multipart `body`: every part closed by a delimiter
/// line (RFC 2046: the line break before a delimiter belongs to it). The preamble, the
/// epilogue and a part not closed by a delimiter (a truncated message) are left out.
fn parts(body: &[u8], boundary: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut current: Option<usize> = None;
    let mut pos = 0;
    while pos < body.len() {
        let (end, next) = line_at(body, pos);
        if let Some(close) = delimiter(&body[pos..end], boundary) {
            if let Some(start) = current {
                let mut stop = pos;
                if stop > start && body[stop - 1] == b'\n' {
                    stop -= 1;
                    if stop > start && body[stop - 1] == b'\r' {
                        stop -= 1;
                    }
                }
                out.push(start..stop);
            }
            if close {
                return out;
            }
            current = Some(next);
        }
        pos = next;
    }
    out
}

/// `Some(is_close)` when `line` is `--boundary` or `--boundary--`, with optional trailing
/// white space (transport padding).
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    rest.iter()
        .all(|&b| matches!(b, b' ' | b'\t' | b'\r'))
        .then_some(close)
}

/// One body part: its type, charset, transfer encoding, and body bytes.
struct Part<'a> {
    mime: String,
    charset: Option<String>,
    encoding: Option<String>,
    body: &'a [u8],
}

impl<'a> Part<'a> {
    fn parse(bytes: &'a [u8], default_type: &str) -> Part<'a> {
        let (head, body) = split_head(bytes);
        let fields = header_fields(head);
        let content_type = fields
            .iter()
            .find(|f| f.is("content-type"))
            .map(|f| ContentType::parse(&f.value()));
        let encoding = fields
            .iter()
            .find(|f| f.is("content-transfer-encoding"))
            .map(|f| f.value());
        let (mime, charset) = match content_type {
            Some(ct) if ct.mime.contains('/') => {
                let charset = ct.param("charset").map(str::to_string);
                (ct.mime, charset)
            }
            _ => (default_type.to_string(), None),
        };
        Part {
            mime,
            charset,
            encoding,
            body,
        }
    }
}

/// Undoes a Content-Transfer-Encoding; `None` for one Arkiv does not know or a base64 body
/// that does not decode.
fn transfer_decode<'a>(encoding: Option<&str>, body: &'a [u8]) -> Option<Cow<'a, [u8]>> {
    let token = encoding
        .and_then(|e| {
            e.split(|c: char| c.is_whitespace() || c == ';' || c == '(')
                .find(|t| !t.is_empty())
        })
        .unwrap_or("")
        .to_ascii_lowercase();
    match token.as_str() {
        "" | "7bit" | "8bit" | "binary" => Some(Cow::Borrowed(body)),
        "base64" => base64_decode(body).map(Cow::Owned),
        "quoted-printable" => Some(Cow::Owned(qp_decode(body))),
        _ => None,
    }
}

/// Base64 with any line layout and padding; anything but the alphabet, `=` and white space
/// is refused.
fn base64_decode(body: &[u8]) -> Option<Vec<u8>> {
    let mut text = Vec::with_capacity(body.len());
    for &b in body {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' => text.push(b),
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => return None,
        }
    }
    let config = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    GeneralPurpose::new(&alphabet::STANDARD, config)
        .decode(&text)
        .ok()
}

/// Quoted-printable (RFC 2045 6.7): `=XX` escapes, `=` soft line breaks, white space before
/// a line break dropped; a malformed `=` is kept as it is.
fn qp_decode(body: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let blanks = |from: usize| {
        from + body[from..]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count()
    };
    let at_break = |i: usize| i == body.len() || body[i] == b'\n' || body[i..].starts_with(b"\r\n");
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'=' => {
                let j = blanks(i + 1);
                if at_break(j) {
                    i = match body.get(j) {
                        Some(b'\n') => j + 1,
                        Some(_) => j + 2,
                        None => j,
                    };
                } else if let (Some(h), Some(l)) = (
                    body.get(i + 1).copied().and_then(hex),
                    body.get(i + 2).copied().and_then(hex),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                } else {
                    out.push(b'=');
                    i += 1;
                }
            }
            b' ' | b'\t' => {
                let j = blanks(i);
                if !at_break(j) {
                    out.extend_from_slice(&body[i..j]);
                }
                i = j;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// What the envelope part says.
struct Envelope {
    sender: Option<String>,
    recipients: Vec<String>,
}

/// The fields of the envelope part that matter here.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Sender,
    MessageId,
    Recipient,
}

fn envelope_field(line: &str) -> Option<(Key, &str)> {
    if line.starts_with([' ', '\t']) {
        return None;
    }
    let (name, value) = line.split_once(':')?;
    let name = name.trim_end();
    let key = if name.eq_ignore_ascii_case("sender") {
        Key::Sender
    } else if name.eq_ignore_ascii_case("message-id") {
        Key::MessageId
    } else if ["to", "cc", "bcc", "recipient"]
        .iter()
        .any(|k| name.eq_ignore_ascii_case(k))
    {
        Key::Recipient
    } else {
        return None;
    };
    Some((key, value))
}

/// Reads the envelope part; `None` without a `Message-Id:` line or without a recipient.
fn read_envelope(text: &str) -> Option<Envelope> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let fields: Vec<Option<(Key, &str)>> = lines.iter().map(|l| envelope_field(l)).collect();
    let last_id = fields
        .iter()
        .rposition(|f| matches!(f, Some((Key::MessageId, _))))?;
    let sender = fields[..last_id]
        .iter()
        .find_map(|f| f.filter(|(k, _)| *k == Key::Sender))
        .and_then(|(_, v)| address(v));
    let mut seen = HashSet::new();
    let mut recipients = Vec::new();
    for (_, value) in fields[last_id + 1..]
        .iter()
        .flatten()
        .filter(|(k, _)| *k == Key::Recipient)
    {
        for item in split_outside_quotes(value, ',') {
            if let Some(a) = address(strip_label(item))
                && seen.insert(a.clone())
            {
                recipients.push(a);
            }
        }
    }
    (!recipients.is_empty()).then_some(Envelope { sender, recipients })
}

/// `Expanded: list@x` → `list@x` (any `Label:` made of letters, digits and `-`).
fn strip_label(item: &str) -> &str {
    let item = item.trim();
    match item.split_once(':') {
        Some((label, rest))
            if !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            rest.trim()
        }
        _ => item,
    }
}

/// The address in `a@b`, `<a@b>` or `Name <a@b>`, lower-cased; `None` for anything that is
/// not a plausible address.
fn address(item: &str) -> Option<String> {
    let mut a = item.trim();
    if let Some(end) = a.rfind('>')
        && let Some(start) = a[..end].rfind('<')
    {
        a = a[start + 1..end].trim();
    }
    if let Some(rest) = a.strip_prefix('@') {
        // An RFC 5321 source route, `@relay:user@host`.
        a = rest.split_once(':')?.1;
    }
    let (local, domain) = a.rsplit_once('@')?;
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    let bad_local =
        |c: char| c.is_control() || (!quoted && (c.is_whitespace() || "<>()[],;:\"\\".contains(c)));
    let bad_domain = |c: char| c.is_control() || c.is_whitespace() || "<>(),;\"\\@".contains(c);
    if local.is_empty()
        || domain.is_empty()
        || a.len() > MAX_ADDRESS
        || local.contains(bad_local)
        || domain.contains(bad_domain)
    {
        return None;
    }
    Some(a.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines joined with CRLF, as mail travels.
    fn crlf(lines: &[&str]) -> Vec<u8> {
        let mut out = lines.join("\r\n").into_bytes();
        out.extend_from_slice(b"\r\n");
        out
    }

    /// The headers a Microsoft 365 journal report carries: the journaling agent copies the
    /// original's From, To, Cc and Subject, and marks the report with an empty
    /// `X-MS-Journal-Report:`.
    const M365_HEAD: &[&str] = &[
        "Received: from AM6PR04MB1234.eurprd04.prod.outlook.com (2603:10a6:20b:10::1)",
        " by AM6PR04MB5678.eurprd04.prod.outlook.com with HTTPS; Tue, 2 Feb 2021 07:47:01 +0000",
        "From: Alice Example <alice@contoso.com>",
        "To: Bob <bob@contoso.com>, Sales <sales@contoso.com>",
        "Subject: Quarterly numbers",
        "Date: Tue, 2 Feb 2021 07:47:00 +0000",
        "Message-ID: <0b7c1c4e-52a0-4a8e-9c5e-2f1f0e3f4a11@journal.report.generator>",
        "Content-Type: multipart/mixed;",
        "\tboundary=\"_000_0b7c1c4e52a04a8e9c5e2f1f0e3f4a11journalreportgenerat_\"",
        "MIME-Version: 1.0",
        "X-MS-Journal-Report:",
        "X-MS-Exchange-Organization-SCL: -1",
        "",
    ];
    const B: &str = "_000_0b7c1c4e52a04a8e9c5e2f1f0e3f4a11journalreportgenerat_";

    const ENVELOPE: &[&str] = &[
        "Sender: alice@contoso.com",
        "Subject: Quarterly numbers",
        "Message-Id: <DB7PR04MB4734082D78AA3FDCE6AD401C94B59@DB7PR04MB4734.eurprd04.prod.outlook.com>",
        "To: bob@contoso.com",
        "To: erin@contoso.com, Expanded: sales@contoso.com",
        "To: frank@contoso.com, Expanded: sales@contoso.com",
        "Cc: carol@contoso.com",
        "Bcc: dave@contoso.com",
        "Recipient: gina@fabrikam.com, Forwarded: gina.old@contoso.com",
    ];

    /// The original message as the sender's client wrote it: its own multipart body with an
    /// attachment, 8-bit text, a line that starts with `--`, and trailing blank lines.
    fn original() -> Vec<u8> {
        let mut m = crlf(&[
            "From: Alice Example <alice@contoso.com>",
            "To: Bob <bob@contoso.com>, Sales <sales@contoso.com>",
            "Subject: Quarterly numbers",
            "Date: Tue, 2 Feb 2021 07:46:59 +0000",
            "Message-ID: <DB7PR04MB4734082D78AA3FDCE6AD401C94B59@DB7PR04MB4734.eurprd04.prod.outlook.com>",
            "MIME-Version: 1.0",
            "Content-Type: multipart/mixed; boundary=\"_004_inner_\"",
            "",
            "--_004_inner_",
            "Content-Type: text/plain; charset=\"utf-8\"",
            "Content-Transfer-Encoding: 8bit",
            "",
            "Grüße, the numbers are attached.",
            "-- ",
            "Alice",
            "",
            "--_004_inner_",
            "Content-Type: application/pdf; name=\"q3.pdf\"",
            "Content-Disposition: attachment; filename=\"q3.pdf\"",
            "Content-Transfer-Encoding: base64",
            "",
            "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K",
            "--_004_inner_--",
            "",
        ]);
        m.extend_from_slice(b"\r\n");
        m
    }

    /// A report: `head`, then an envelope part and an original part with the given headers.
    fn report(
        head: &[&str],
        envelope_head: &[&str],
        envelope: &[u8],
        original_head: &[&str],
        original: &[u8],
    ) -> Vec<u8> {
        let mut m = crlf(head);
        m.extend_from_slice(format!("--{B}\r\n").as_bytes());
        m.extend_from_slice(&crlf(envelope_head));
        m.extend_from_slice(b"\r\n");
        m.extend_from_slice(envelope);
        m.extend_from_slice(format!("\r\n--{B}\r\n").as_bytes());
        m.extend_from_slice(&crlf(original_head));
        m.extend_from_slice(b"\r\n");
        m.extend_from_slice(original);
        m.extend_from_slice(format!("\r\n--{B}--\r\n").as_bytes());
        m
    }

    const TEXT_7BIT: &[&str] = &[
        "Content-Type: text/plain; charset=\"us-ascii\"",
        "Content-Transfer-Encoding: 7bit",
    ];
    const RFC822: &[&str] = &[
        "Content-Type: message/rfc822",
        "Content-Disposition: attachment",
    ];

    fn m365() -> Vec<u8> {
        report(M365_HEAD, TEXT_7BIT, &crlf(ENVELOPE), RFC822, &original())
    }

    #[test]
    fn microsoft_365_report_unwraps_to_envelope_and_original() {
        let r = journal_report(&m365()).expect("a journal report");
        assert_eq!(r.sender.as_deref(), Some("alice@contoso.com"));
        assert_eq!(
            r.recipients,
            [
                "bob@contoso.com",
                "erin@contoso.com",
                "sales@contoso.com",
                "frank@contoso.com",
                "carol@contoso.com",
                "dave@contoso.com",
                "gina@fabrikam.com",
                "gina.old@contoso.com",
            ]
        );
        assert_eq!(r.original, original());
    }

    #[test]
    fn original_is_exactly_the_embedded_bytes() {
        // The CRLF before the closing delimiter belongs to the delimiter (RFC 2046), so the
        // original's own final line breaks, its bare LF and its 8-bit bytes all come back.
        let mut embedded = original();
        embedded.extend_from_slice(
            b"trailing text without a line break\n\xff\xfe bare LF\r\n\r\n\t \r\n",
        );
        let bytes = report(
            M365_HEAD,
            TEXT_7BIT,
            &crlf(ENVELOPE),
            &[
                "Content-Type: message/rfc822",
                "Content-Transfer-Encoding: binary",
            ],
            &embedded,
        );
        let r = journal_report(&bytes).unwrap();
        assert_eq!(r.original, embedded);
        let start = bytes
            .windows(embedded.len())
            .position(|w| w == embedded)
            .unwrap();
        assert_eq!(&bytes[start..start + embedded.len()], &r.original[..]);
        // And the original is not itself mistaken for a report of its own.
        assert_eq!(journal_report(&r.original), None);
    }

    #[test]
    fn exchange_2007_report_with_basic_fields() {
        // Exchange 2007's documented form: `Message-ID:`, `Recipient:` lines when addressing
        // could not be verified, no transfer encoding header, MS-XJRNL's optional lines, and
        // a preamble and delimiter padding that older MIME writers produce.
        let head = [
            "From: Bob <bob@contoso.com>",
            "To: Alice <alice@contoso.com>",
            "Subject: RE: lunch",
            "MIME-Version: 1.0",
            "Content-Type: multipart/mixed; boundary=\"----=_NextPart_000_0001_01C8A1B2.3C4D5E60\"",
            "x-ms-journal-report: ",
            "",
            "This is a multi-part message in MIME format.",
            "",
        ];
        let b = "----=_NextPart_000_0001_01C8A1B2.3C4D5E60";
        let mut m = crlf(&head);
        m.extend_from_slice(format!("--{b}  \r\n").as_bytes());
        m.extend_from_slice(&crlf(&[
            "Content-Type: text/plain",
            "",
            "Sender: Bob@Contoso.com",
            "Subject: RE: lunch",
            "Message-ID: <000001c8a1b2$3c4d5e60$0a00000a@contoso.com>",
            "Label: Legal hold",
            "SentUtc: 4/15/2008 10:21:33 AM",
            "Recipient: alice@contoso.com",
            "Recipient: ALICE@contoso.com",
            "Recipient: <carl@fabrikam.com>",
        ]));
        m.extend_from_slice(format!("--{b}\r\n").as_bytes());
        let inner = crlf(&[
            "From: Bob <bob@contoso.com>",
            "To: Alice <alice@contoso.com>",
            "Subject: RE: lunch",
            "",
            "Noon?",
        ]);
        m.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        m.extend_from_slice(&inner);
        m.extend_from_slice(format!("\r\n--{b}--\r\n\r\nepilogue\r\n").as_bytes());
        let r = journal_report(&m).unwrap();
        assert_eq!(r.sender.as_deref(), Some("bob@contoso.com"));
        assert_eq!(r.recipients, ["alice@contoso.com", "carl@fabrikam.com"]);
        assert_eq!(r.original, inner);
    }

    #[test]
    fn quoted_printable_envelope_in_the_subjects_charset() {
        // An 8-bit subject makes Exchange write the envelope quoted-printable, in the
        // subject's charset; a soft line break may split any line.
        let envelope = crlf(&[
            "Sender: alice@contoso.com",
            "Subject: Gr=C3=BC=C3=9Fe aus M=C3=BCnchen",
            "Message-Id: <1@contoso.com>",
            "To: j=C3=BCrgen@contoso.com",
            "Cc: a-very-long-local-part-that-needs-wrapping@subdomain.of.a.very.long.doma=",
            "in.example",
        ]);
        let r = journal_report(&report(
            M365_HEAD,
            &[
                "Content-Type: text/plain; charset=\"utf-8\"",
                "Content-Transfer-Encoding: quoted-printable",
            ],
            &envelope,
            RFC822,
            &original(),
        ))
        .unwrap();
        assert_eq!(
            r.recipients,
            [
                "jürgen@contoso.com",
                "a-very-long-local-part-that-needs-wrapping@subdomain.of.a.very.long.domain.example"
            ]
        );
    }

    #[test]
    fn base64_original_is_decoded() {
        let original = original();
        let mut encoded = Vec::new();
        for chunk in base64::engine::general_purpose::STANDARD
            .encode(&original)
            .as_bytes()
            .chunks(76)
        {
            encoded.extend_from_slice(chunk);
            encoded.extend_from_slice(b"\r\n");
        }
        let bytes = report(
            M365_HEAD,
            TEXT_7BIT,
            &crlf(ENVELOPE),
            &[
                "Content-Type: message/rfc822",
                "Content-Transfer-Encoding: BASE64",
            ],
            &encoded,
        );
        assert_eq!(journal_report(&bytes).unwrap().original, original);
    }

    #[test]
    fn quoted_printable_original_is_decoded() {
        let qp = crlf(&[
            "From: a@contoso.com",
            "Subject: caf=C3=A9 ",
            "",
            "a long line that was wrapped = ",
            "here=",
            ".",
        ]);
        let bytes = report(
            M365_HEAD,
            TEXT_7BIT,
            &crlf(ENVELOPE),
            &[
                "Content-Type: message/rfc822",
                "Content-Transfer-Encoding: quoted-printable",
            ],
            &qp,
        );
        let expected = crlf(&[
            "From: a@contoso.com",
            "Subject: café",
            "",
            "a long line that was wrapped here.",
        ]);
        assert_eq!(journal_report(&bytes).unwrap().original, expected);
    }

    #[test]
    fn address_forms_are_normalised() {
        let envelope = crlf(&[
            "Sender: \"Alice Example\" <Alice@Contoso.COM>",
            "Subject: x",
            "Message-Id: <1@contoso.com>",
            "TO: \"Doe, John\" <John.Doe@contoso.com>, mary@contoso.com",
            "cc: SMTP:Pat@Contoso.com",
            "Bcc: <@relay.contoso.com:quinn@contoso.com>",
            "Recipient: \"odd local\"@contoso.com",
            "To: /o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=rob",
            "To: Unspecified Address",
            "To: mary@CONTOSO.com",
            "Received: from x by y; not a recipient@example.com",
        ]);
        let r = journal_report(&report(
            M365_HEAD,
            TEXT_7BIT,
            &envelope,
            RFC822,
            &original(),
        ))
        .unwrap();
        assert_eq!(r.sender.as_deref(), Some("alice@contoso.com"));
        assert_eq!(
            r.recipients,
            [
                "john.doe@contoso.com",
                "mary@contoso.com",
                "pat@contoso.com",
                "quinn@contoso.com",
                "\"odd local\"@contoso.com"
            ]
        );
    }

    #[test]
    fn a_subject_cannot_add_recipients() {
        // A subject whose encoded word decodes to CRLF arrives as extra lines before the
        // Message-Id line: they are not recipients (nor a second sender).
        let envelope = crlf(&[
            "Sender: mallory@fabrikam.com",
            "Subject: hello",
            "Sender: ceo@contoso.com",
            "Message-Id: <forged@fabrikam.com>",
            "Bcc: ceo@contoso.com",
            "Message-Id: <real@fabrikam.com>",
            "To: bob@contoso.com",
        ]);
        let r = journal_report(&report(
            M365_HEAD,
            TEXT_7BIT,
            &envelope,
            RFC822,
            &original(),
        ))
        .unwrap();
        assert_eq!(r.sender.as_deref(), Some("mallory@fabrikam.com"));
        assert_eq!(r.recipients, ["bob@contoso.com"]);
    }

    #[test]
    fn a_sender_without_an_address_is_none() {
        for sender in ["Sender: <>", "Sender: Unspecified Address", "Sender:"] {
            let envelope = crlf(&[
                sender,
                "Subject: Undeliverable",
                "Message-Id: <n@contoso.com>",
                "To: bob@contoso.com",
            ]);
            let r = journal_report(&report(
                M365_HEAD,
                TEXT_7BIT,
                &envelope,
                RFC822,
                &original(),
            ))
            .unwrap();
            assert_eq!(r.sender, None, "{sender}");
            assert_eq!(r.recipients, ["bob@contoso.com"]);
        }
    }

    #[test]
    fn lf_line_endings_are_read_too() {
        let bytes: Vec<u8> = m365().into_iter().filter(|&b| b != b'\r').collect();
        let r = journal_report(&bytes).unwrap();
        assert_eq!(r.recipients.len(), 8);
        let expected: Vec<u8> = original().into_iter().filter(|&b| b != b'\r').collect();
        assert_eq!(r.original, expected);
    }

    #[test]
    fn an_inner_boundary_that_extends_the_outer_one_is_not_a_delimiter() {
        let inner = format!(
            "Content-Type: multipart/mixed; boundary=\"{B}x\"\r\n\r\n--{B}x\r\n\r\none\r\n--{B}--x\r\n--{B}x--\r\n"
        );
        let bytes = report(
            M365_HEAD,
            TEXT_7BIT,
            &crlf(ENVELOPE),
            RFC822,
            inner.as_bytes(),
        );
        assert_eq!(journal_report(&bytes).unwrap().original, inner.as_bytes());
    }

    #[test]
    fn ordinary_messages_are_not_reports() {
        // A message forwarded as an attachment: the same structure, no journal header.
        let head: Vec<&str> = M365_HEAD
            .iter()
            .copied()
            .filter(|l| !l.starts_with("X-MS-Journal-Report"))
            .collect();
        assert_eq!(
            journal_report(&report(
                &head,
                TEXT_7BIT,
                &crlf(ENVELOPE),
                RFC822,
                &original()
            )),
            None
        );
        assert_eq!(journal_report(&original()), None);
        assert_eq!(journal_report(b""), None);
        assert_eq!(journal_report(b"X-MS-Journal-Report:\r\n"), None);
        // The header only in the body, or only in the embedded message.
        let mut body_only = crlf(&head);
        body_only.extend_from_slice(b"X-MS-Journal-Report:\r\n");
        assert_eq!(journal_report(&body_only), None);
        let mut nested = crlf(&["X-MS-Journal-Report:"]);
        nested.extend_from_slice(&original());
        assert_eq!(
            journal_report(&report(&head, TEXT_7BIT, &crlf(ENVELOPE), RFC822, &nested)),
            None
        );
    }

    #[test]
    fn reports_without_a_readable_original_are_left_whole() {
        let env = crlf(ENVELOPE);
        // Not multipart: a GCC report, or a report flattened by some relay.
        let mut flat = crlf(&[
            "X-MS-Journal-Report:",
            "X-MS-Gcc-Journal-Report:",
            "Content-Type: text/plain",
            "",
        ]);
        flat.extend_from_slice(&env);
        assert_eq!(journal_report(&flat), None);
        // TNEF: the original is inside winmail.dat.
        let tnef = [
            "Content-Type: application/ms-tnef; name=\"winmail.dat\"",
            "Content-Transfer-Encoding: base64",
        ];
        assert_eq!(journal_report(&report(M365_HEAD, TEXT_7BIT, &env, &tnef, b"eJ8+IhAAAQaQCAAEAAAAAAABAAEAAQeQBgAIAAAA5AQAAAAAAADoAAEIgAcAGAAAAElQTS5NaWNyb3NvZnQgTWFpbC5Ob3RlADEI")), None);
        // An empty original, one in an unknown or broken encoding.
        assert_eq!(
            journal_report(&report(M365_HEAD, TEXT_7BIT, &env, RFC822, b"")),
            None
        );
        let uu = [
            "Content-Type: message/rfc822",
            "Content-Transfer-Encoding: x-uuencode",
        ];
        assert_eq!(
            journal_report(&report(
                M365_HEAD,
                TEXT_7BIT,
                &env,
                &uu,
                b"begin 644 x\r\nend"
            )),
            None
        );
        let b64 = [
            "Content-Type: message/rfc822",
            "Content-Transfer-Encoding: base64",
        ];
        assert_eq!(
            journal_report(&report(
                M365_HEAD,
                TEXT_7BIT,
                &env,
                &b64,
                b"not base64 at all!"
            )),
            None
        );
        // An envelope without Message-Id, or without recipients.
        let no_id = crlf(&[
            "Sender: alice@contoso.com",
            "Subject: x",
            "To: bob@contoso.com",
        ]);
        assert_eq!(
            journal_report(&report(M365_HEAD, TEXT_7BIT, &no_id, RFC822, &original())),
            None
        );
        let no_rcpt = crlf(&[
            "Sender: alice@contoso.com",
            "Subject: x",
            "Message-Id: <1@x>",
        ]);
        assert_eq!(
            journal_report(&report(M365_HEAD, TEXT_7BIT, &no_rcpt, RFC822, &original())),
            None
        );
        // The original before the envelope.
        let swapped = report(M365_HEAD, RFC822, &original(), TEXT_7BIT, &env);
        assert_eq!(journal_report(&swapped), None);
    }

    #[test]
    fn a_truncated_report_is_left_whole() {
        let full = m365();
        let close = format!("\r\n--{B}--\r\n");
        let cut = &full[..full.len() - close.len()];
        assert_eq!(journal_report(cut), None);
        // Truncated anywhere: never an original that is not the whole embedded message.
        for n in (0..full.len()).step_by(7) {
            if let Some(r) = journal_report(&full[..n]) {
                assert_eq!(r.original, original(), "cut at {n}");
            }
        }
    }

    #[test]
    fn large_adversarial_inputs_take_linear_time() {
        // Each would take minutes if any step were quadratic.
        let n = 200_000;
        let mut head = b"X-MS-Journal-Report:\r\nContent-Type: multipart/mixed; boundary=".to_vec();
        head.extend(std::iter::repeat_n(b'b', 200));
        head.extend_from_slice(b"\r\n");
        head.extend(std::iter::repeat_n(&b" folded\r\n"[..], n).flatten());
        head.extend_from_slice(b"\r\n");
        let near_miss: Vec<u8> = [&b"--"[..], &[b'b'; 199], b"c\r\n"].concat();
        let mut m = head.clone();
        m.extend(std::iter::repeat_n(&near_miss[..], n).flatten());
        assert_eq!(journal_report(&m), None);

        let mut envelope = b"Message-Id: <1@x>\r\n".to_vec();
        envelope.extend(
            std::iter::repeat_n(&b"To: a@x, b@x, \"q,q\"@x, Expanded: c@x\r\n"[..], n).flatten(),
        );
        envelope.extend(std::iter::repeat_n(b'=', n));
        envelope.extend(std::iter::repeat_n(b' ', n));
        let qp = [
            "Content-Type: text/plain",
            "Content-Transfer-Encoding: quoted-printable",
        ];
        let r = journal_report(&report(M365_HEAD, &qp, &envelope, RFC822, &original())).unwrap();
        assert_eq!(r.recipients, ["a@x", "b@x", "\"q,q\"@x", "c@x"]);

        let lines: Vec<u8> = std::iter::repeat_n(&b"--\r\n:\r\n \r\n"[..], n)
            .flatten()
            .copied()
            .collect();
        assert_eq!(journal_report(&[&head[..], &lines].concat()), None);
    }
}
