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

use arkiv_archive::access::Caller;
use arkiv_types::FolderId;

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
    let name = arkiv_mailclient::imap::utf7::decode(wire)?;
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
            quote(&arkiv_mailclient::imap::utf7::encode(name))
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
