//! The mailboxes a signed-in user sees: exactly the folders the access core lets them read.
//!
//! * Personal namespace (`""`, delimiter `/`): the folders of the user's own archive by their
//!   path. The top folder named Inbox (in any case) is `INBOX`; without one, `INBOX` holds the
//!   messages filed at the archive's root (IMAP needs an INBOX). When there is an Inbox folder
//!   and the root holds messages too, those are the mailbox `Unfiled`.
//! * Other users' namespace (`Other Users/`): folders of other archives the user was granted
//!   (or, for an administrator with archive access, every archive), as
//!   `Other Users/<archive>/<path>`; an archive's root is `Other Users/<archive>`.
//!
//! Names are UTF-8 inside Arkiv and modified UTF-7 on the wire (RFC 3501 §5.1.3).

use std::sync::Arc;

use arkiv_archive::access::Caller;
use arkiv_mailclient::imap::utf7;
use arkiv_types::FolderId;
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox as WireMailbox};
use imap_codec::imap_types::status::StatusDataItemName;

use super::session::{Selected, Tag, text};
use crate::AppState;

pub const OTHERS: &str = "Other Users";

/// One mailbox: its name (UTF-8) and the folder behind it (`None`: an empty INBOX).
#[derive(Clone, Debug)]
pub struct Mailbox {
    pub name: String,
    pub folder: Option<FolderId>,
}

/// Every mailbox the caller may read, sorted by name, INBOX first.
pub fn list(state: &AppState, caller: &Caller) -> Result<Vec<Mailbox>, String> {
    let archive = &state.archive;
    let ids = archive
        .readable_folders(caller)
        .map_err(|e| e.to_string())?;
    let locations = archive.folder_locations(&ids).map_err(|e| e.to_string())?;
    let own = caller.name();
    let mut out: Vec<Mailbox> = Vec::new();
    let mut own_root = None;
    let mut inbox = None;
    for id in ids {
        let Some((arch, path)) = locations.get(&id) else {
            continue;
        };
        let names = path.names();
        if arch == own {
            if names.is_empty() {
                own_root = Some(id);
                continue;
            }
            let mut name = names.join("/");
            if names[0].eq_ignore_ascii_case("inbox") {
                if names.len() == 1 {
                    inbox = Some(id);
                    continue;
                }
                name = format!("INBOX/{}", names[1..].join("/"));
            }
            out.push(Mailbox {
                name,
                folder: Some(id),
            });
        } else {
            let mut name = format!("{OTHERS}/{arch}");
            if !names.is_empty() {
                name.push('/');
                name.push_str(&names.join("/"));
            }
            out.push(Mailbox {
                name,
                folder: Some(id),
            });
        }
    }
    match (inbox, own_root) {
        (Some(i), root) => {
            out.push(Mailbox {
                name: "INBOX".into(),
                folder: Some(i),
            });
            if let Some(r) = root {
                let has_mail = state
                    .archive
                    .uid_view(r)
                    .map(|v| !v.messages.is_empty())
                    .unwrap_or(false);
                if has_mail {
                    out.push(Mailbox {
                        name: "Unfiled".into(),
                        folder: Some(r),
                    });
                }
            }
        }
        (None, root) => out.push(Mailbox {
            name: "INBOX".into(),
            folder: root,
        }),
    }
    out.sort_by(|a, b| {
        (a.name != "INBOX")
            .cmp(&(b.name != "INBOX"))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(out)
}

/// The mailbox a client names (UTF-7 decoded; `INBOX` in any case).
pub fn find<'a>(list: &'a [Mailbox], wire: &[u8]) -> Option<&'a Mailbox> {
    let name = utf7::decode(wire)?;
    let name = if name.eq_ignore_ascii_case("inbox") {
        "INBOX".to_string()
    } else if name.len() > 6 && name[..6].eq_ignore_ascii_case("inbox/") {
        format!("INBOX/{}", &name[6..])
    } else {
        name
    };
    list.iter().find(|m| m.name == name)
}

/// Whether `name` matches a LIST pattern: `*` matches anything, `%` anything but `/`.
pub fn matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some((b'%', rest)) => {
                let stop = n.iter().position(|c| *c == b'/').unwrap_or(n.len());
                (0..=stop).any(|i| go(rest, &n[i..]))
            }
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    // Bounded: a pattern of many wildcards against a long name must not explode.
    if pattern.bytes().filter(|c| *c == b'*' || *c == b'%').count() > 8 {
        return false;
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// `* LIST` lines for the mailboxes matching `reference` + `pattern`, with the namespace
/// parents (`Other Users`, an archive without a readable root) as `\Noselect`.
pub fn list_lines(list: &[Mailbox], reference: &str, pattern: &str, verb: &str) -> String {
    let full = format!("{reference}{pattern}");
    if pattern.is_empty() {
        return format!("* {verb} (\\Noselect) \"/\" \"\"\r\n");
    }
    let mut names: std::collections::BTreeMap<String, bool> = Default::default();
    for m in list {
        names.insert(m.name.clone(), true);
        // Parents that are not mailboxes themselves.
        let mut at = 0;
        while let Some(i) = m.name[at..].find('/') {
            let parent = &m.name[..at + i];
            names.entry(parent.to_string()).or_insert(false);
            at += i + 1;
        }
    }
    let mut out = String::new();
    let all: Vec<&String> = names.keys().collect();
    for (name, selectable) in &names {
        if !matches(&full, name) {
            continue;
        }
        let children = all.iter().any(|o| {
            o.len() > name.len() + 1
                && o.starts_with(name.as_str())
                && o.as_bytes()[name.len()] == b'/'
        });
        let mut attrs = vec![if children {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        }];
        if !selectable {
            attrs.push("\\Noselect");
        }
        out.push_str(&format!(
            "* {verb} ({}) \"/\" {}\r\n",
            attrs.join(" "),
            quote(&utf7::encode(name))
        ));
    }
    out
}

/// A quoted string, or a literal when the text cannot be quoted.
pub fn quote(s: &str) -> String {
    if s.bytes()
        .any(|b| b == b'\r' || b == b'\n' || b == 0 || b > 0x7e)
    {
        format!("{{{}}}\r\n{s}", s.len())
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

// ---- the mailbox commands ----

fn wire_name(m: &WireMailbox<'_>) -> Vec<u8> {
    match m {
        WireMailbox::Inbox => b"INBOX".to_vec(),
        WireMailbox::Other(o) => o.as_ref().to_vec(),
    }
}

fn list_pattern(m: &ListMailbox<'_>) -> Vec<u8> {
    match m {
        ListMailbox::Token(t) => t.as_ref().to_vec(),
        ListMailbox::String(s) => s.as_ref().to_vec(),
    }
}

/// NAMESPACE: the personal one, and other users' folders under [`OTHERS`].
pub fn namespace(t: &Tag<'_>) -> Vec<u8> {
    let mut out =
        format!("* NAMESPACE ((\"\" \"/\")) ((\"{OTHERS}/\" \"/\")) NIL\r\n").into_bytes();
    out.extend(t.ok("NAMESPACE completed"));
    out
}

/// LIST and LSUB (every mailbox counts as subscribed).
pub fn list_command(
    st: &AppState,
    caller: &Caller,
    t: &Tag<'_>,
    reference: &WireMailbox<'_>,
    pattern: &ListMailbox<'_>,
    lsub: bool,
) -> Vec<u8> {
    let list = match list(st, caller) {
        Ok(l) => l,
        Err(e) => return t.no(&e),
    };
    let (Some(r), Some(p)) = (
        utf7::decode(&wire_name(reference)),
        utf7::decode(&list_pattern(pattern)),
    ) else {
        return t.bad("the mailbox name is not modified UTF-7");
    };
    let what = if lsub { "LSUB" } else { "LIST" };
    let mut out = list_lines(&list, &r, &p, what).into_bytes();
    out.extend(t.ok(&format!("{what} completed")));
    out
}

/// A mailbox the caller may read, by its wire name, with its UIDs; `Err` is the answer
/// (NO, `[NONEXISTENT]` for one that does not exist or may not be read).
fn opened(
    st: &AppState,
    caller: &Caller,
    t: &Tag<'_>,
    name: &WireMailbox<'_>,
) -> Result<(Mailbox, arkiv_archive::uids::UidView), Vec<u8>> {
    let list = list(st, caller).map_err(|e| t.no(&e))?;
    let m = find(&list, &wire_name(name))
        .ok_or_else(|| t.no_code("NONEXISTENT", "no such mailbox"))?
        .clone();
    let view = match m.folder {
        Some(f) => st.archive.uid_view(f).map_err(|e| t.no(&e.to_string()))?,
        None => arkiv_archive::uids::UidView {
            uid_validity: 1,
            uid_next: 1,
            messages: Vec::new(),
        },
    };
    Ok((m, view))
}

/// STATUS of a mailbox the caller may read.
pub fn status(
    st: &AppState,
    caller: &Caller,
    t: &Tag<'_>,
    name: &WireMailbox<'_>,
    items: &[StatusDataItemName],
) -> Vec<u8> {
    let (m, v) = match opened(st, caller, t, name) {
        Ok(x) => x,
        Err(answer) => return answer,
    };
    let (count, validity, next) = (v.messages.len(), v.uid_validity, v.uid_next);
    let parts: Vec<String> = items
        .iter()
        .filter_map(|i| match i {
            StatusDataItemName::Messages => Some(format!("MESSAGES {count}")),
            StatusDataItemName::Recent => Some("RECENT 0".into()),
            StatusDataItemName::UidNext => Some(format!("UIDNEXT {next}")),
            StatusDataItemName::UidValidity => Some(format!("UIDVALIDITY {validity}")),
            StatusDataItemName::Unseen => Some("UNSEEN 0".into()),
            _ => None,
        })
        .collect();
    let mut out = format!(
        "* STATUS {} ({})\r\n",
        quote(&utf7::encode(&m.name)),
        parts.join(" ")
    )
    .into_bytes();
    out.extend(t.ok("STATUS completed"));
    out
}

/// SELECT and EXAMINE: both read-only.
pub fn select(
    st: &AppState,
    caller: &Caller,
    t: &Tag<'_>,
    name: &WireMailbox<'_>,
    selected: &mut Option<Selected>,
) -> Vec<u8> {
    *selected = None;
    let (m, view) = match opened(st, caller, t, name) {
        Ok(x) => x,
        Err(answer) => return answer,
    };
    let out = format!(
        "* FLAGS (\\Seen)\r\n* OK [PERMANENTFLAGS ()] nothing can be changed\r\n* {} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {}] predicted next UID\r\n{} OK [READ-ONLY] {} selected; the archive is read-only\r\n",
        view.messages.len(),
        view.uid_validity,
        view.uid_next,
        t.0,
        text(&m.name)
    );
    *selected = Some(Selected {
        name: m.name.clone(),
        folder: m.folder,
        uid_validity: view.uid_validity,
        uid_next: view.uid_next,
        messages: Arc::new(view.messages),
    });
    out.into_bytes()
}

/// CLOSE and UNSELECT (nothing is expunged: the archive is read-only).
pub fn close(t: &Tag<'_>, selected: &mut Option<Selected>) -> Vec<u8> {
    if selected.take().is_some() {
        t.ok("mailbox closed (nothing was expunged: the archive is read-only)")
    } else {
        t.bad("no mailbox is selected")
    }
}

/// What changed in the selected mailbox since it was selected or last reported (IDLE, NOOP,
/// CHECK): `* n EXPUNGE` for messages that left it (highest first, so that the numbers stay
/// right), `* n EXISTS` when new mail came. The session's view follows.
pub fn changes(st: &AppState, selected: &mut Option<Selected>) -> Vec<u8> {
    let Some(sel) = selected.as_mut() else {
        return Vec::new();
    };
    let Some(folder) = sel.folder else {
        return Vec::new();
    };
    let Ok(now) = st.archive.uid_view(folder) else {
        return Vec::new();
    };
    let still: std::collections::HashSet<u32> = now.messages.iter().map(|m| m.0).collect();
    let mut out = String::new();
    for i in (0..sel.messages.len()).rev() {
        if !still.contains(&sel.messages[i].0) {
            out.push_str(&format!("* {} EXPUNGE\r\n", i + 1));
        }
    }
    let last = sel.messages.last().map_or(0, |m| m.0);
    let messages = Arc::make_mut(&mut sel.messages);
    messages.retain(|m| still.contains(&m.0));
    let new: Vec<_> = now
        .messages
        .iter()
        .filter(|m| m.0 > last)
        .copied()
        .collect();
    if !new.is_empty() {
        messages.extend(new);
        out.push_str(&format!("* {} EXISTS\r\n", messages.len()));
    }
    sel.uid_next = now.uid_next;
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_patterns() {
        assert!(matches("*", "INBOX/a/b"));
        assert!(matches("%", "INBOX"));
        assert!(!matches("%", "INBOX/a"));
        assert!(matches("INBOX/%", "INBOX/a"));
        assert!(matches("Other Users/*", "Other Users/alice/Inbox"));
        assert!(!matches("Other Users/%", "Other Users/alice/Inbox"));
        assert!(!matches("***********", "x"), "bounded");
    }

    #[test]
    fn list_lines_show_parents_as_noselect() {
        let l = vec![
            Mailbox {
                name: "INBOX".into(),
                folder: None,
            },
            Mailbox {
                name: "Other Users/alice/Inbox".into(),
                folder: None,
            },
        ];
        let out = list_lines(&l, "", "*", "LIST");
        assert!(
            out.contains("* LIST (\\HasNoChildren) \"/\" \"INBOX\""),
            "{out}"
        );
        assert!(
            out.contains("* LIST (\\HasChildren \\Noselect) \"/\" \"Other Users\""),
            "{out}"
        );
        assert!(
            out.contains("(\\HasChildren \\Noselect) \"/\" \"Other Users/alice\""),
            "{out}"
        );
        assert_eq!(
            list_lines(&l, "", "", "LIST"),
            "* LIST (\\Noselect) \"/\" \"\"\r\n"
        );
    }
}
