//! The lazy directory walk shared by all source kinds.
//!
//! A [`Walker`] keeps a stack of [`Job`]s. Popping a directory job lists that one directory
//! (sorted by name) and pushes its children in reverse, so files come out depth-first in name
//! order and only the directories on the current path are held in memory. The walk yields
//! [`Leaf`]s: a file holding one message, an mbox file, or a failure.

use std::fs::{self, FileType};
use std::io;
use std::path::{Path, PathBuf};

use crate::{SourceFailure, maildir, thunderbird};

/// A file to read, or a failure found while walking.
#[derive(Debug)]
pub(crate) enum Leaf {
    /// A file that holds exactly one message (EML file, Maildir message).
    Single { path: PathBuf, folder: Vec<String> },
    /// An mbox file.
    Mbox { path: PathBuf, folder: Vec<String> },
    /// A directory or file that could not be read.
    Fail(SourceFailure),
}

/// Work still to do.
#[derive(Debug)]
pub(crate) enum Job {
    Leaf(Leaf),
    /// A folder of EML files; `recursive` decides whether subdirectories are walked.
    EmlDir {
        dir: PathBuf,
        folder: Vec<String>,
    },
    /// A folder of mbox files.
    MboxDir {
        dir: PathBuf,
        folder: Vec<String>,
    },
    /// A Maildir folder; `plus_root` when its `.Sub.Folder` children are Maildir++ folders.
    Maildir {
        dir: PathBuf,
        folder: Vec<String>,
        plus_root: bool,
    },
    /// A Thunderbird account directory or `.sbd` directory.
    Thunderbird {
        dir: PathBuf,
        folder: Vec<String>,
    },
}

/// Depth-first, name-ordered, lazy walk.
pub(crate) struct Walker {
    stack: Vec<Job>,
    extensions: Vec<String>,
    recursive: bool,
}

impl Walker {
    pub(crate) fn new(start: Vec<Job>, extensions: &[String], recursive: bool) -> Self {
        let extensions = extensions
            .iter()
            .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        let mut stack = start;
        stack.reverse();
        Walker {
            stack,
            extensions,
            recursive,
        }
    }

    fn expand(&self, job: Job) -> Vec<Job> {
        match job {
            Job::Leaf(_) => Vec::new(),
            Job::EmlDir { dir, folder } => self.expand_eml(&dir, &folder),
            Job::MboxDir { dir, folder } => self.expand_mbox(&dir, &folder),
            Job::Maildir {
                dir,
                folder,
                plus_root,
            } => maildir::expand(&dir, &folder, plus_root),
            Job::Thunderbird { dir, folder } => thunderbird::expand(&dir, &folder),
        }
    }

    fn expand_eml(&self, dir: &Path, folder: &[String]) -> Vec<Job> {
        let entries = match list_dir(dir, folder) {
            Ok(entries) => entries,
            Err(fail) => return vec![fail],
        };
        let mut jobs = Vec::new();
        for entry in entries {
            match entry {
                Entry::Dir { path, name } if self.recursive => {
                    jobs.push(Job::EmlDir {
                        dir: path,
                        folder: child(folder, &name),
                    });
                }
                Entry::File { path, name } if self.has_eml_extension(&name) => {
                    jobs.push(Job::Leaf(Leaf::Single {
                        path,
                        folder: folder.to_vec(),
                    }));
                }
                Entry::Fail(fail) => jobs.push(Job::Leaf(Leaf::Fail(fail))),
                _ => {}
            }
        }
        jobs
    }

    fn expand_mbox(&self, dir: &Path, folder: &[String]) -> Vec<Job> {
        let entries = match list_dir(dir, folder) {
            Ok(entries) => entries,
            Err(fail) => return vec![fail],
        };
        let mut jobs = Vec::new();
        for entry in entries {
            match entry {
                Entry::Dir { path, name } if self.recursive && !name.starts_with('.') => {
                    jobs.push(Job::MboxDir {
                        dir: path,
                        folder: child(folder, &name),
                    });
                }
                Entry::File { path, name } if !name.starts_with('.') => {
                    let folder = child(folder, mbox_folder_name(&name));
                    jobs.push(Job::Leaf(Leaf::Mbox { path, folder }));
                }
                Entry::Fail(fail) => jobs.push(Job::Leaf(Leaf::Fail(fail))),
                _ => {}
            }
        }
        jobs
    }

    fn has_eml_extension(&self, name: &str) -> bool {
        match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => {
                self.extensions.iter().any(|e| e.eq_ignore_ascii_case(ext))
            }
            _ => false,
        }
    }
}

impl Iterator for Walker {
    type Item = Leaf;

    fn next(&mut self) -> Option<Leaf> {
        loop {
            match self.stack.pop()? {
                Job::Leaf(leaf) => return Some(leaf),
                job => {
                    let mut children = self.expand(job);
                    children.reverse();
                    self.stack.extend(children);
                }
            }
        }
    }
}

/// An mbox file's folder name: its file name without `.mbox`, `.mbx` or `.mbs`.
pub(crate) fn mbox_folder_name(file_name: &str) -> &str {
    for ext in [".mbox", ".mbx", ".mbs"] {
        if file_name.len() > ext.len() {
            let (stem, tail) = file_name.split_at(file_name.len() - ext.len());
            if tail.eq_ignore_ascii_case(ext) && !stem.is_empty() {
                return stem;
            }
        }
    }
    file_name
}

/// `folder` + `name`.
pub(crate) fn child(folder: &[String], name: &str) -> Vec<String> {
    let mut path = folder.to_vec();
    path.push(name.to_owned());
    path
}

/// One directory entry, classified.
pub(crate) enum Entry {
    /// A directory (symbolic links to directories are not followed, to avoid loops).
    Dir { path: PathBuf, name: String },
    /// A regular file, or a symbolic link that does not point to a directory.
    File { path: PathBuf, name: String },
    /// An entry that could not be read.
    Fail(SourceFailure),
}

/// Lists `dir` sorted by file name, or a failure job naming the directory and the OS error.
pub(crate) fn list_dir(dir: &Path, folder: &[String]) -> Result<Vec<Entry>, Job> {
    let fail = |e: io::Error| {
        Job::Leaf(Leaf::Fail(SourceFailure {
            folder: folder.to_vec(),
            origin: dir.display().to_string(),
            reason: format!("cannot list directory: {e}; check that it is readable"),
            input_len: 0,
        }))
    };
    let mut raw = Vec::new();
    for entry in fs::read_dir(dir).map_err(fail)? {
        match entry {
            Ok(entry) => raw.push((entry.file_name(), entry.path(), entry.file_type())),
            Err(e) => return Err(fail(e)),
        }
    }
    raw.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(raw
        .into_iter()
        .map(|(name, path, file_type)| {
            classify(path, name.to_string_lossy().into_owned(), file_type, folder)
        })
        .collect())
}

fn classify(
    path: PathBuf,
    name: String,
    file_type: io::Result<FileType>,
    folder: &[String],
) -> Entry {
    match file_type {
        Ok(t) if t.is_dir() => Entry::Dir { path, name },
        Ok(t) if t.is_symlink() => match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => Entry::Fail(SourceFailure {
                folder: folder.to_vec(),
                origin: path.display().to_string(),
                reason: "symbolic link to a directory was not followed; import its target \
                         separately"
                    .to_owned(),
                input_len: 0,
            }),
            // Broken links and links to files are read like files; a broken link then fails
            // with the OS error when opened.
            _ => Entry::File { path, name },
        },
        Ok(t) if t.is_file() => Entry::File { path, name },
        // Sockets, FIFOs and devices are never mail files (and reading a FIFO could block).
        Ok(_) => Entry::Fail(SourceFailure {
            folder: folder.to_vec(),
            origin: path.display().to_string(),
            reason: "not a regular file (socket, FIFO or device); skipped".to_owned(),
            input_len: 0,
        }),
        Err(e) => Entry::Fail(SourceFailure {
            folder: folder.to_vec(),
            origin: path.display().to_string(),
            reason: format!("cannot inspect directory entry: {e}"),
            input_len: 0,
        }),
    }
}
