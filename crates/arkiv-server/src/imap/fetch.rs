//! FETCH and UID FETCH: the exact original bytes of archived messages.
//!
//! So far: UID, FLAGS, RFC822.SIZE, INTERNALDATE, RFC822, RFC822.HEADER, RFC822.TEXT, and
//! BODY[] / BODY.PEEK[] with the sections HEADER and TEXT and `<offset.length>` partials —
//! what a client needs to copy a mailbox byte for byte (mbsync). ENVELOPE, BODYSTRUCTURE,
//! HEADER.FIELDS and numbered parts answer a clear NO until they are built.
//!
//! INTERNALDATE is the message's own Date header, or its archiving time when it has none:
//! both are fixed once archived, so it never changes. FLAGS are `(\Seen)`: archived mail is
//! old mail, and nothing is stored per user.

use std::num::NonZeroU32;

use arkiv_archive::access::Caller;
use arkiv_types::MessageId;
use imap_codec::imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItemName, Section,
};
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

use crate::AppState;

/// Whether `n` is in the set (`*` is `largest`), without enumerating the set: a client may
/// send `1:4294967295`.
pub fn contains(set: &SequenceSet, n: u32, largest: u32) -> bool {
    let v = |s: &SeqOrUid| match s {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => largest,
    };
    set.0.as_ref().iter().any(|s| match s {
        Sequence::Single(x) => v(x) == n,
        Sequence::Range(a, b) => {
            let (lo, hi) = (v(a).min(v(b)), v(a).max(v(b)));
            lo <= n && n <= hi
        }
    })
}

/// What one FETCH asks for, checked before any message is read.
enum Item {
    Uid,
    Flags,
    Size,
    InternalDate,
    /// (name as answered, section, partial)
    Bytes(String, Part, Option<(u32, NonZeroU32)>),
}

#[derive(Clone, Copy)]
enum Part {
    All,
    Header,
    Text,
}

fn items(req: &MacroOrMessageDataItemNames<'_>, uid: bool) -> Result<Vec<Item>, String> {
    let names: Vec<MessageDataItemName<'_>> = match req {
        MacroOrMessageDataItemNames::Macro(Macro::Fast) => vec![
            MessageDataItemName::Flags,
            MessageDataItemName::InternalDate,
            MessageDataItemName::Rfc822Size,
        ],
        MacroOrMessageDataItemNames::Macro(_) => {
            return Err("ALL and FULL need ENVELOPE, which this server does not offer yet".into());
        }
        MacroOrMessageDataItemNames::MessageDataItemNames(v) => v.clone(),
    };
    let mut out = Vec::new();
    if uid {
        out.push(Item::Uid);
    }
    for n in names {
        out.push(match n {
            MessageDataItemName::Uid if uid => continue,
            MessageDataItemName::Uid => Item::Uid,
            MessageDataItemName::Flags => Item::Flags,
            MessageDataItemName::Rfc822Size => Item::Size,
            MessageDataItemName::InternalDate => Item::InternalDate,
            MessageDataItemName::Rfc822 => Item::Bytes("RFC822".into(), Part::All, None),
            MessageDataItemName::Rfc822Header => {
                Item::Bytes("RFC822.HEADER".into(), Part::Header, None)
            }
            MessageDataItemName::Rfc822Text => Item::Bytes("RFC822.TEXT".into(), Part::Text, None),
            MessageDataItemName::BodyExt {
                section,
                partial,
                peek: _,
            } => {
                let (name, part) = match section {
                    None => ("", Part::All),
                    Some(Section::Header(None)) => ("HEADER", Part::Header),
                    Some(Section::Text(None)) => ("TEXT", Part::Text),
                    Some(_) => {
                        return Err(
                            "this BODY[] section is not offered yet (whole message, HEADER and TEXT are)"
                                .into(),
                        );
                    }
                };
                Item::Bytes(format!("BODY[{name}]"), part, partial)
            }
            other => {
                return Err(format!(
                    "FETCH {other:?} is not offered by this server yet"
                ));
            }
        });
    }
    Ok(out)
}

/// Where the header ends (after its blank line), or the whole message when it has no body.
fn header_end(m: &[u8]) -> usize {
    let mut i = 0;
    while i < m.len() {
        let line_end = m[i..].iter().position(|b| *b == b'\n').map(|p| i + p + 1);
        let Some(e) = line_end else {
            return m.len();
        };
        let line = &m[i..e];
        if line == b"\r\n" || line == b"\n" {
            return e;
        }
        i = e;
    }
    m.len()
}

/// `DD-Mon-YYYY HH:MM:SS +0000` of a Unix time.
fn internal_date(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%d-%b-%Y %H:%M:%S +0000").to_string())
        .unwrap_or_else(|_| "01-Jan-1970 00:00:00 +0000".into())
}

/// The FETCH responses for the messages of `view` the set names, one message at a time to
/// `sink` (which answers false when nobody listens any more): a connection holds one
/// message's answer at a time, however many a client asks for. `Err` is the text of a NO for
/// the command.
pub fn fetch(
    state: &AppState,
    caller: &Caller,
    messages: &[(u32, MessageId)],
    set: &SequenceSet,
    uid: bool,
    req: &MacroOrMessageDataItemNames<'_>,
    sink: &mut dyn FnMut(Vec<u8>) -> bool,
) -> Result<(), String> {
    let items = items(req, uid)?;
    let needs_bytes = items.iter().any(|i| matches!(i, Item::Bytes(..)));
    let largest = if uid {
        messages.last().map_or(0, |m| m.0)
    } else {
        messages.len() as u32
    };
    for (i, (u, id)) in messages.iter().enumerate() {
        let seq = i as u32 + 1;
        if !contains(set, if uid { *u } else { seq }, largest) {
            continue;
        }
        let readable = match state.archive.readable(caller, *id) {
            Ok(r) => r,
            // Gone since the mailbox was selected: nothing to say about it.
            Err(_) => continue,
        };
        let rec = state
            .archive
            .store(id.store)
            .and_then(|s| Ok(s.message(id.num)?))
            .map_err(|e| format!("message {id}: {e}"))?;
        let bytes = if needs_bytes {
            Some(
                state
                    .archive
                    .message_bytes_to_show(&readable)
                    .map_err(|e| format!("message {id} cannot be read: {e}"))?,
            )
        } else {
            None
        };
        let mut out = format!("* {seq} FETCH (").into_bytes();
        for (k, item) in items.iter().enumerate() {
            if k > 0 {
                out.push(b' ');
            }
            match item {
                Item::Uid => out.extend(format!("UID {u}").into_bytes()),
                Item::Flags => out.extend(b"FLAGS (\\Seen)"),
                Item::Size => out.extend(format!("RFC822.SIZE {}", rec.size).into_bytes()),
                Item::InternalDate => {
                    let t = rec.summary.date.unwrap_or(rec.archived_at.0);
                    out.extend(format!("INTERNALDATE \"{}\"", internal_date(t)).into_bytes());
                }
                Item::Bytes(name, part, partial) => {
                    let m = bytes.as_deref().unwrap_or_default();
                    let h = header_end(m);
                    let body = match part {
                        Part::All => m,
                        Part::Header => &m[..h],
                        Part::Text => &m[h..],
                    };
                    let (label, body) = match partial {
                        None => (name.clone(), body),
                        Some((start, len)) => {
                            let s = (*start as usize).min(body.len());
                            let e = s.saturating_add(len.get() as usize).min(body.len());
                            (format!("{name}<{start}>"), &body[s..e])
                        }
                    };
                    out.extend(format!("{label} {{{}}}\r\n", body.len()).into_bytes());
                    out.extend_from_slice(body);
                }
            }
        }
        out.extend(b")\r\n");
        if !sink(out) {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_end_at_the_blank_line() {
        assert_eq!(header_end(b"A: b\r\n\r\nbody"), 8);
        assert_eq!(header_end(b"A: b\n\nbody"), 6);
        assert_eq!(header_end(b"A: b\r\n"), 6);
    }

    #[test]
    fn sets_are_tested_without_enumerating() {
        let set: SequenceSet = "1:4294967295".try_into().unwrap();
        assert!(contains(&set, 7, 9));
        let set: SequenceSet = "5:*".try_into().unwrap();
        assert!(contains(&set, 9, 9) && !contains(&set, 4, 9));
        let set: SequenceSet = "*:3".try_into().unwrap();
        assert!(contains(&set, 3, 9) && contains(&set, 9, 9) && !contains(&set, 2, 9));
    }

    #[test]
    fn internal_dates() {
        assert_eq!(internal_date(0), "01-Jan-1970 00:00:00 +0000");
    }
}
