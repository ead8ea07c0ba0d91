//! Thunderbird and SeaMonkey mail folders.
//!
//! A profile (`prefs.js`, `Mail/`, `ImapMail/`) holds one directory per account. In an account
//! directory every mail folder is an mbox file without extension (`Inbox`, `Sent`), and the
//! subfolders of folder `Name` live in the directory `Name.sbd/` (which may exist without the
//! file `Name`). Next to them lie index and settings files (`Inbox.msf`, `msgFilterRules.dat`,
//! `popstate.dat`, ...). A file is taken as a mail folder when it does not have one of those
//! extensions and starts with `From ` or is empty.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::SourceFailure;
use crate::walk::{Entry, Job, Leaf, child, list_dir};

/// Extensions of files in Thunderbird mail directories that are never mbox files.
const NOT_MBOX_EXTENSIONS: &[&str] = &["msf", "dat", "json", "html", "sqlite", "js", "txt", "log"];

/// Whether `dir` is a profile directory rather than an account mail directory.
pub(crate) fn is_profile(dir: &Path) -> bool {
    dir.join("prefs.js").is_file() || dir.join("Mail").is_dir() || dir.join("ImapMail").is_dir()
}

/// The start jobs for a profile: each account directory under `Mail/` and `ImapMail/` is a
/// top folder named after the directory (e.g. "Local Folders").
pub(crate) fn profile_jobs(profile: &Path) -> Vec<Job> {
    let mut jobs = Vec::new();
    for top in ["Mail", "ImapMail"] {
        let dir = profile.join(top);
        if !dir.is_dir() {
            continue;
        }
        match list_dir(&dir, &[]) {
            Ok(entries) => {
                for entry in entries {
                    match entry {
                        Entry::Dir { path, name } => {
                            jobs.push(Job::Thunderbird {
                                dir: path,
                                folder: vec![name],
                            });
                        }
                        Entry::Fail(fail) => jobs.push(Job::Leaf(Leaf::Fail(fail))),
                        Entry::File { .. } => {}
                    }
                }
            }
            Err(fail) => jobs.push(fail),
        }
    }
    jobs
}

/// The mbox files and `.sbd` subfolder directories of one Thunderbird mail directory.
pub(crate) fn expand(dir: &Path, folder: &[String]) -> Vec<Job> {
    let entries = match list_dir(dir, folder) {
        Ok(entries) => entries,
        Err(fail) => return vec![fail],
    };
    let mut jobs = Vec::new();
    for entry in entries {
        match entry {
            Entry::Dir { path, name } => {
                if let Some(stem) = name.strip_suffix(".sbd").filter(|s| !s.is_empty()) {
                    jobs.push(Job::Thunderbird {
                        dir: path,
                        folder: child(folder, stem),
                    });
                }
            }
            Entry::File { path, name } => {
                if name.starts_with('.') || has_excluded_extension(&name) {
                    continue;
                }
                let folder = child(folder, &name);
                match starts_like_mbox(&path) {
                    Ok(true) => jobs.push(Job::Leaf(Leaf::Mbox { path, folder })),
                    Ok(false) => {}
                    Err(e) => jobs.push(Job::Leaf(Leaf::Fail(SourceFailure {
                        folder,
                        origin: path.display().to_string(),
                        reason: format!("cannot read file: {e}; check that it is readable"),
                        input_len: 0,
                    }))),
                }
            }
            Entry::Fail(fail) => jobs.push(Job::Leaf(Leaf::Fail(fail))),
        }
    }
    jobs
}

fn has_excluded_extension(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, ext)| {
        NOT_MBOX_EXTENSIONS
            .iter()
            .any(|x| x.eq_ignore_ascii_case(ext))
    })
}

/// Whether the file is empty or starts with `From `.
fn starts_like_mbox(path: &PathBuf) -> std::io::Result<bool> {
    let mut head = Vec::with_capacity(5);
    File::open(path)?.take(5).read_to_end(&mut head)?;
    Ok(head.is_empty() || head == b"From ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_settings_files_are_not_folders() {
        for name in [
            "Inbox.msf",
            "msgFilterRules.dat",
            "popstate.dat",
            "filterlog.html",
            "x.JSON",
        ] {
            assert!(has_excluded_extension(name), "{name}");
        }
        for name in ["Inbox", "Sent", "Archives 2024", "Drafts.old"] {
            assert!(!has_excluded_extension(name), "{name}");
        }
    }
}
