//! Reading what an IMAP server answers: imap-codec's decoding of a framed response, the
//! fallback for `FETCH` answers it refuses (a NUL byte in a message, say), and the small
//! encoders and printers the session needs. Sans-IO, so the fuzz target drives it directly.

use imap_codec::decode::Decoder;
use imap_codec::imap_types::core::Vec1;
use imap_codec::imap_types::fetch::MessageDataItem;
use imap_codec::imap_types::flag::{Flag, FlagFetch};
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::response::{Data, Response};
use imap_codec::{GreetingCodec, ResponseCodec};

use super::frame::{Frame, FrameError, Framer, Limits};
use super::{Fetched, utf7};

/// What the client makes of a server's bytes, without a socket: the responses framed under
/// `limits` from `chunks` (as they would arrive), each with the message a `FETCH` carries
/// (read by imap-codec, or by the fallback), and every mailbox name decoded. For the fuzz
/// target and tests; the session does the same on the wire.
pub fn read_responses(
    chunks: &[&[u8]],
    limits: &Limits,
) -> std::result::Result<Vec<(Frame, Option<Fetched>)>, FrameError> {
    let mut framer = Framer::new();
    let mut out = Vec::new();
    for c in chunks {
        framer.push(c);
        while let Some(frame) = framer.next(limits)? {
            let mut got = None;
            match ResponseCodec::default().decode(&frame.bytes) {
                Ok((_, Response::Data(Data::Fetch { items, .. }))) => got = fetched(&items),
                Ok((_, Response::Data(Data::List { mailbox, .. }))) => {
                    if let Mailbox::Other(o) = mailbox {
                        let _ = utf7::decode(o.as_ref());
                    }
                }
                Ok(_) => {}
                Err(_) if is_fetch(&frame.bytes) => got = fallback_fetch(&frame),
                Err(_) => {
                    let _ = GreetingCodec::default().decode(&frame.bytes);
                }
            }
            out.push((frame, got));
        }
    }
    Ok(out)
}

pub(super) fn fetched(items: &Vec1<MessageDataItem<'_>>) -> Option<Fetched> {
    let mut uid = None;
    let mut body = None;
    for i in items.as_ref() {
        match i {
            MessageDataItem::Uid(u) => uid = Some(u.get()),
            MessageDataItem::BodyExt {
                section: None,
                origin: None,
                data,
            } => body = data.0.as_ref().map(|s| s.as_ref().to_vec()),
            MessageDataItem::Rfc822(data) => body = data.0.as_ref().map(|s| s.as_ref().to_vec()),
            _ => {}
        }
    }
    Some(Fetched {
        uid: uid?,
        bytes: body?,
    })
}

pub(super) fn is_fetch(bytes: &[u8]) -> bool {
    let Some(rest) = bytes.strip_prefix(b"* ") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0
        && rest[digits..]
            .get(..7)
            .is_some_and(|w| w.eq_ignore_ascii_case(b" FETCH "))
}

/// Reads the UID and the body literal of a `FETCH` response imap-codec refused.
pub(super) fn fallback_fetch(frame: &Frame) -> Option<Fetched> {
    let lines = frame.lines();
    let text: Vec<u8> = lines.concat();
    let upper = text.to_ascii_uppercase();
    let at = find(&upper, b"UID ")?;
    let digits: String = upper[at + 4..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .map(|b| *b as char)
        .collect();
    let uid: u32 = digits.parse().ok()?;
    // The body is the literal announced right after `BODY[]` (or `RFC822`).
    for (i, lit) in frame.literals.iter().enumerate() {
        let before = lines[i].to_ascii_uppercase();
        let trimmed = before.trim_ascii_end();
        let open = trimmed.iter().rposition(|b| *b == b'{')?;
        let head = trimmed[..open].trim_ascii_end();
        if head.ends_with(b"BODY[]") || head.ends_with(b"RFC822") {
            return Some(Fetched {
                uid,
                bytes: frame.bytes[lit.clone()].to_vec(),
            });
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(super) fn caps(c: &Vec1<imap_codec::imap_types::response::Capability<'_>>) -> Vec<String> {
    c.as_ref()
        .iter()
        .map(|c| c.to_string().to_ascii_uppercase())
        .collect()
}

pub(super) fn flags(f: &[FlagFetch<'_>]) -> Vec<String> {
    f.iter()
        .map(|f| match f {
            FlagFetch::Flag(Flag::Seen) => "\\Seen".to_string(),
            FlagFetch::Flag(Flag::Flagged) => "\\Flagged".to_string(),
            FlagFetch::Flag(Flag::Deleted) => "\\Deleted".to_string(),
            FlagFetch::Flag(Flag::Answered) => "\\Answered".to_string(),
            FlagFetch::Flag(Flag::Draft) => "\\Draft".to_string(),
            FlagFetch::Flag(other) => other.to_string(),
            FlagFetch::Recent => "\\Recent".to_string(),
        })
        .collect()
}

/// An IMAP sequence set for sorted or unsorted UIDs, with runs collapsed (`1:5,9,12:14`).
pub fn uid_set(uids: &[u32]) -> String {
    let mut v: Vec<u32> = uids.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// An astring as an atom or quoted string; `None` when only a literal can carry it.
pub(super) fn astring(b: &[u8]) -> Option<Vec<u8>> {
    if b.iter()
        .any(|c| *c == 0 || *c == b'\r' || *c == b'\n' || *c >= 0x80)
        || b.len() > 1000
    {
        return None;
    }
    let atom = !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_graphic() && !b"(){%*\"\\]".contains(c));
    if atom {
        return Some(b.to_vec());
    }
    let mut q = Vec::with_capacity(b.len() + 2);
    q.push(b'"');
    for c in b {
        if *c == b'"' || *c == b'\\' {
            q.push(b'\\');
        }
        q.push(*c);
    }
    q.push(b'"');
    Some(q)
}

/// Bytes for a log line: control characters escaped, at most `max` bytes shown.
pub(super) fn printable(b: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(max)]);
    let mut out: String = s
        .trim_end_matches(['\r', '\n'])
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if b.len() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_collapse_runs() {
        assert_eq!(uid_set(&[5, 1, 2, 3, 9, 12, 13, 14]), "1:3,5,9,12:14");
        assert_eq!(uid_set(&[7]), "7");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn astrings() {
        assert_eq!(astring(b"INBOX").unwrap(), b"INBOX");
        assert_eq!(astring(b"Sent Items").unwrap(), b"\"Sent Items\"");
        assert_eq!(astring(b"a\"b\\c").unwrap(), b"\"a\\\"b\\\\c\"");
        assert_eq!(astring(b""), Some(b"\"\"".to_vec()));
        assert_eq!(astring("Entwürfe".as_bytes()), None);
    }

    #[test]
    fn fetch_with_nul_byte_is_read_by_the_fallback() {
        let body = b"Subject: x\r\n\r\nnul\0byte\r\n";
        let mut bytes = format!("* 3 FETCH (UID 41 BODY[] {{{}}}\r\n", body.len()).into_bytes();
        let start = bytes.len();
        bytes.extend_from_slice(body);
        let end = bytes.len();
        bytes.extend_from_slice(b")\r\n");
        let frame = Frame {
            bytes,
            literals: vec![start..end],
        };
        assert!(ResponseCodec::default().decode(&frame.bytes).is_err());
        assert!(is_fetch(&frame.bytes));
        let f = fallback_fetch(&frame).unwrap();
        assert_eq!((f.uid, f.bytes.as_slice()), (41, &body[..]));
    }

    #[test]
    fn codec_reads_a_dovecot_fetch() {
        let body = b"From: a@b\r\n\r\nhi\r\n";
        let mut bytes = format!(
            "* 1 FETCH (UID 7 FLAGS (\\Seen $Forwarded) BODY[] {{{}}}\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        bytes.extend_from_slice(b")\r\n");
        let (_, r) = ResponseCodec::default().decode(&bytes).unwrap();
        let Response::Data(Data::Fetch { items, .. }) = r else {
            panic!()
        };
        let f = fetched(&items).unwrap();
        assert_eq!((f.uid, f.bytes.as_slice()), (7, &body[..]));
    }
}
