//! Maildir folders: `cur` and `new` of the root, Maildir++ subfolders (`.Projects.Alpha`) and
//! fs-layout subfolders (`Projects/Alpha/cur`).
//!
//! Folder names are IMAP modified UTF-7 on disk (`&AOQ-` is `ä`) and are decoded. Files and
//! directories that belong to the mail server rather than to the mail (`dovecot*`,
//! `courierimap*`, `maildirfolder`, `subscriptions`, `tmp`, ...) are ignored: only files in
//! `cur` and `new` are messages.

use std::path::Path;

use crate::walk::{Entry, Job, Leaf, child, list_dir};

/// Whether `dir` holds a `cur` or `new` directory.
pub(crate) fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
}

/// Whether `dir` is a Maildir or holds at least one Maildir subfolder.
pub(crate) fn looks_like_maildir_root(dir: &Path) -> bool {
    if is_maildir(dir) {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .flatten()
        .any(|e| e.file_type().is_ok_and(|t| t.is_dir()) && is_maildir(&e.path()))
}

/// The messages of the Maildir folder `dir`, then its subfolders.
pub(crate) fn expand(dir: &Path, folder: &[String], plus_root: bool) -> Vec<Job> {
    let mut messages = Vec::new();
    let mut jobs = Vec::new();
    for sub in ["cur", "new"] {
        let sub_dir = dir.join(sub);
        if !sub_dir.is_dir() {
            continue;
        }
        match list_dir(&sub_dir, folder) {
            Ok(entries) => {
                for entry in entries {
                    match entry {
                        Entry::File { path, name } if !name.starts_with('.') => {
                            messages.push((name, path));
                        }
                        Entry::Fail(fail) => jobs.push(Job::Leaf(Leaf::Fail(fail))),
                        _ => {}
                    }
                }
            }
            Err(fail) => jobs.push(fail),
        }
    }
    // cur and new together, in file name order (Maildir names start with the delivery time).
    messages.sort();
    jobs.extend(messages.into_iter().map(|(_, path)| {
        Job::Leaf(Leaf::Single {
            path,
            folder: folder.to_vec(),
        })
    }));

    let entries = match list_dir(dir, folder) {
        Ok(entries) => entries,
        Err(fail) => {
            jobs.push(fail);
            return jobs;
        }
    };
    for entry in entries {
        let (path, name) = match entry {
            Entry::Dir { path, name } => (path, name),
            Entry::Fail(fail) if fail.reason.starts_with("symbolic link") => {
                jobs.push(Job::Leaf(Leaf::Fail(fail)));
                continue;
            }
            _ => continue,
        };
        if is_server_dir(&name) {
            continue;
        }
        if let Some(plus_name) = name.strip_prefix('.') {
            // Maildir++ subfolders only exist directly under the root.
            if plus_root && is_maildir(&path) {
                let mut sub = folder.to_vec();
                sub.extend(
                    plus_name
                        .split('.')
                        .filter(|p| !p.is_empty())
                        .map(decode_folder_name),
                );
                jobs.push(Job::Maildir {
                    dir: path,
                    folder: sub,
                    plus_root: false,
                });
            }
        } else {
            jobs.push(Job::Maildir {
                dir: path,
                folder: child(folder, &decode_folder_name(&name)),
                plus_root: false,
            });
        }
    }
    jobs
}

fn is_server_dir(name: &str) -> bool {
    matches!(name, "cur" | "new" | "tmp")
        || name.starts_with("courierimap")
        || name.starts_with("dovecot")
        || name == "maildirfolder"
}

/// Decodes an IMAP modified UTF-7 folder name (RFC 3501 5.1.3); invalid names are kept as
/// they are.
pub(crate) fn decode_folder_name(name: &str) -> String {
    decode_mutf7(name).unwrap_or_else(|| name.to_owned())
}

fn decode_mutf7(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find('-')?;
        let encoded = &after[..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            let bytes = decode_base64(encoded)?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units = bytes.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
            for c in char::decode_utf16(units) {
                out.push(c.ok()?);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Base64 with `,` instead of `/` and without padding, as used by modified UTF-7.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b',' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_modified_utf7() {
        assert_eq!(decode_folder_name("Sent"), "Sent");
        assert_eq!(decode_folder_name("Entw&APw-rfe"), "Entwürfe");
        assert_eq!(decode_folder_name("R&-D"), "R&D");
        assert_eq!(decode_folder_name("&ZeVnLIqe-"), "日本語");
        assert_eq!(decode_folder_name("&2D3eAQ-"), "😁");
        // Invalid sequences are kept verbatim rather than guessed at.
        assert_eq!(decode_folder_name("a&b"), "a&b");
        assert_eq!(decode_folder_name("&A!-"), "&A!-");
    }

    #[test]
    fn server_directories_are_not_folders() {
        for name in [
            "cur",
            "new",
            "tmp",
            "courierimapkeywords",
            "dovecot.index.cache",
        ] {
            assert!(is_server_dir(name), "{name}");
        }
        assert!(!is_server_dir("Projects"));
    }
}
