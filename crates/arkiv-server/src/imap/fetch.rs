//! FETCH and UID FETCH: the exact original bytes of archived messages and their structure.
//!
//! UID, FLAGS, RFC822.SIZE, INTERNALDATE, ENVELOPE, BODYSTRUCTURE, BODY, RFC822,
//! RFC822.HEADER, RFC822.TEXT, the macros ALL/FAST/FULL, and BODY[] / BODY.PEEK[] with every
//! section form (HEADER, HEADER.FIELDS (.NOT), TEXT, MIME, numbered parts of nested messages)
//! and `<offset.length>` partials. The structure comes from [`super::structure`]; a part the
//! message does not have is answered as an empty string, as Dovecot does. A NUL byte (which
//! no IMAP literal may hold) is sent as 0x80, also as Dovecot does.
//!
//! INTERNALDATE is the message's own Date header, or its archiving time when it has none:
//! both are fixed once archived, so it never changes. FLAGS are `(\Seen)`: archived mail is
//! old mail, and nothing is stored per user.

use std::borrow::Cow;
use std::num::NonZeroU32;

use arkiv_archive::access::Caller;
use arkiv_types::MessageId;
use imap_codec::imap_types::core::{AString, Vec1};
use imap_codec::imap_types::fetch::Part;
use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName, Section};
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

use super::structure::{self, What};

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

/// The positions in `messages` (in UID order) a set names, in order, found by binary search:
/// a command naming one message costs the same in a folder of ten or of a million.
pub fn positions(set: &SequenceSet, messages: &[(u32, MessageId)], uid: bool) -> Vec<usize> {
    let n = messages.len();
    let Some(last) = messages.last() else {
        return Vec::new();
    };
    let largest = if uid { last.0 } else { n as u32 };
    let v = |s: &SeqOrUid| match s {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => largest,
    };
    let mut out = Vec::new();
    for s in set.0.as_ref() {
        let (a, b) = match s {
            Sequence::Single(x) => (v(x), v(x)),
            Sequence::Range(a, b) => (v(a).min(v(b)), v(a).max(v(b))),
        };
        if uid {
            let lo = messages.partition_point(|m| m.0 < a);
            let hi = messages.partition_point(|m| m.0 <= b);
            out.extend(lo..hi);
        } else {
            let (lo, hi) = ((a.max(1) - 1) as usize, (b as usize).min(n));
            out.extend(lo..hi.max(lo));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// What one FETCH asks for, checked before any message is read.
enum Item {
    Uid,
    Flags,
    Size,
    InternalDate,
    Envelope,
    /// BODYSTRUCTURE (true) or BODY (false).
    Structure(bool),
    /// A section: (name as answered, part path, what of the part, partial).
    Section(String, Vec<u32>, What, Option<(u32, NonZeroU32)>),
}

fn path_of(p: Option<&Part>) -> Vec<u32> {
    p.map(|p| p.0.as_ref().iter().map(|n| n.get()).collect())
        .unwrap_or_default()
}

/// `1.2.` for a path (empty for none).
fn path_label(path: &[u32]) -> String {
    path.iter().map(|n| format!("{n}.")).collect()
}

/// A section as FETCH names it in its answer, and what it is.
fn section_of(section: &Option<Section<'_>>) -> (Vec<u32>, What, String) {
    let names_of = |v: &Vec1<AString<'_>>| -> Vec<Vec<u8>> {
        v.as_ref().iter().map(|a| a.as_ref().to_vec()).collect()
    };
    match section {
        None => (Vec::new(), What::Content, String::new()),
        Some(Section::Part(p)) => {
            let path = path_of(Some(p));
            let l = path_label(&path);
            (path, What::Content, l.trim_end_matches('.').to_string())
        }
        Some(Section::Header(p)) => {
            let path = path_of(p.as_ref());
            let l = format!("{}HEADER", path_label(&path));
            (path, What::Header, l)
        }
        Some(Section::Text(p)) => {
            let path = path_of(p.as_ref());
            let l = format!("{}TEXT", path_label(&path));
            (path, What::Text, l)
        }
        Some(Section::Mime(p)) => {
            let path = path_of(Some(p));
            let l = format!("{}MIME", path_label(&path));
            (path, What::Mime, l)
        }
        Some(Section::HeaderFields(p, v)) | Some(Section::HeaderFieldsNot(p, v)) => {
            let not = matches!(section, Some(Section::HeaderFieldsNot(..)));
            let path = path_of(p.as_ref());
            let names = names_of(v);
            let l = format!(
                "{}HEADER.FIELDS{} ({})",
                path_label(&path),
                if not { ".NOT" } else { "" },
                names
                    .iter()
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            (path, What::HeaderFields { names, not }, l)
        }
    }
}

fn items(req: &MacroOrMessageDataItemNames<'_>, uid: bool) -> Result<Vec<Item>, String> {
    use MessageDataItemName as N;
    let names: Vec<MessageDataItemName<'_>> = match req {
        MacroOrMessageDataItemNames::Macro(m) => m.expand(),
        MacroOrMessageDataItemNames::MessageDataItemNames(v) => v.clone(),
    };
    let mut out = Vec::new();
    if uid {
        out.push(Item::Uid);
    }
    for n in names {
        out.push(match n {
            N::Uid if uid => continue,
            N::Uid => Item::Uid,
            N::Flags => Item::Flags,
            N::Rfc822Size => Item::Size,
            N::InternalDate => Item::InternalDate,
            N::Envelope => Item::Envelope,
            N::BodyStructure => Item::Structure(true),
            N::Body => Item::Structure(false),
            N::Rfc822 => Item::Section("RFC822".into(), Vec::new(), What::Content, None),
            N::Rfc822Header => {
                Item::Section("RFC822.HEADER".into(), Vec::new(), What::Header, None)
            }
            N::Rfc822Text => Item::Section("RFC822.TEXT".into(), Vec::new(), What::Text, None),
            N::BodyExt {
                section, partial, ..
            } => {
                let (path, what, label) = section_of(&section);
                Item::Section(format!("BODY[{label}]"), path, what, partial)
            }
            other => {
                return Err(format!(
                    "FETCH {other:?} is not offered by this server (read-only IMAP4rev1)"
                ));
            }
        });
    }
    Ok(out)
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
    let needs_bytes = items
        .iter()
        .any(|i| matches!(i, Item::Section(..) | Item::Envelope | Item::Structure(_)));
    // The part tree, only when a part is named or the structure asked for.
    let needs_tree = items.iter().any(|i| match i {
        Item::Structure(_) => true,
        Item::Section(_, path, what, _) => {
            !path.is_empty() || matches!(what, What::HeaderFields { .. } | What::Mime)
        }
        _ => false,
    });
    for i in positions(set, messages, uid) {
        let (u, id) = &messages[i];
        let seq = i as u32 + 1;
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
        let m = bytes.as_deref().unwrap_or_default();
        let tree = needs_tree.then(|| structure::parse(m));
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
                Item::Envelope => {
                    out.extend(b"ENVELOPE ");
                    structure::envelope(&mut out, &m[..structure::header_end(m)]);
                }
                Item::Structure(ext) => {
                    out.extend(if *ext {
                        &b"BODYSTRUCTURE "[..]
                    } else {
                        b"BODY "
                    });
                    if let Some(t) = &tree {
                        structure::bodystructure(&mut out, m, t, *ext, false);
                    }
                }
                Item::Section(name, path, what, partial) => {
                    let body = match (&tree, path.is_empty(), what) {
                        (_, true, What::Content) => Some(Cow::Borrowed(m)),
                        (_, true, What::Header) => {
                            Some(Cow::Borrowed(&m[..structure::header_end(m)]))
                        }
                        (_, true, What::Text) => {
                            Some(Cow::Borrowed(&m[structure::header_end(m)..]))
                        }
                        (Some(t), _, _) => structure::section(m, t, path, what).map(Cow::Owned),
                        (None, _, _) => None,
                    }
                    .unwrap_or_default();
                    let (label, body) = match partial {
                        None => (name.clone(), &body[..]),
                        Some((start, len)) => {
                            let s = (*start as usize).min(body.len());
                            let e = s.saturating_add(len.get() as usize).min(body.len());
                            (format!("{name}<{start}>"), &body[s..e])
                        }
                    };
                    out.extend(format!("{label} {{{}}}\r\n", body.len()).into_bytes());
                    // IMAP literals cannot carry NUL (RFC 3501 §4.3): it goes out as 0x80,
                    // as Dovecot sends it; the archived bytes are unchanged.
                    let at = out.len();
                    out.extend_from_slice(body);
                    out[at..]
                        .iter_mut()
                        .filter(|b| **b == 0)
                        .for_each(|b| *b = 0x80);
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
    fn sets_are_tested_without_enumerating() {
        let set: SequenceSet = "1:4294967295".try_into().unwrap();
        assert!(contains(&set, 7, 9));
        let set: SequenceSet = "5:*".try_into().unwrap();
        assert!(contains(&set, 9, 9) && !contains(&set, 4, 9));
        let set: SequenceSet = "*:3".try_into().unwrap();
        assert!(contains(&set, 3, 9) && contains(&set, 9, 9) && !contains(&set, 2, 9));
    }

    #[test]
    fn positions_by_binary_search() {
        let id = |n| MessageId::new(arkiv_types::StoreId(1), n);
        let m: Vec<(u32, MessageId)> = [2, 5, 9, 40].iter().map(|u| (*u, id(*u as u64))).collect();
        let set = |s: &str| -> SequenceSet { s.try_into().unwrap() };
        assert_eq!(positions(&set("5:9"), &m, true), [1, 2]);
        assert_eq!(positions(&set("10:*"), &m, true), [3]);
        assert_eq!(
            positions(&set("41:*"), &m, true),
            [3],
            "* is the largest UID"
        );
        assert_eq!(positions(&set("1:4294967295"), &m, true), [0, 1, 2, 3]);
        assert_eq!(positions(&set("3,1,2:3"), &m, false), [0, 1, 2]);
        assert_eq!(positions(&set("7:9"), &m, false), Vec::<usize>::new());
    }

    #[test]
    fn internal_dates() {
        assert_eq!(internal_date(0), "01-Jan-1970 00:00:00 +0000");
    }
}
