//! [`FileSource`]: the iterator that turns a walk of files into [`SourceItem`]s.

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::mbox::{MboxEntry, MboxReader, NOT_AN_MBOX};
use crate::walk::{Job, Leaf, Walker};
use crate::{
    Error, Result, SourceFailure, SourceItem, SourceKind, SourceMessage, SourceOptions, maildir,
    thunderbird,
};

/// Read buffer for mbox files.
const MBOX_BUFFER: usize = 256 * 1024;

/// The messages of one file source, read lazily in a deterministic order.
///
/// Created by [`crate::open`]. Iterating yields every message as a [`SourceItem::Message`]
/// and every unreadable file or message as a [`SourceItem::Failed`], then ends.
pub struct FileSource {
    kind: SourceKind,
    root: PathBuf,
    root_name: String,
    total_bytes: u64,
    max_message_bytes: u64,
    mbox_format: crate::MboxFormat,
    walker: Walker,
    current: Option<OpenMbox>,
}

/// The mbox file being split.
struct OpenMbox {
    reader: MboxReader<BufReader<File>>,
    origin: String,
    folder: Vec<String>,
    /// Number of entries yielded so far.
    count: u64,
    /// Input bytes accounted for by yielded entries.
    consumed: u64,
    file_len: u64,
}

impl FileSource {
    pub(crate) fn open(kind: SourceKind, path: &Path, opts: &SourceOptions) -> Result<Self> {
        let meta = fs::metadata(path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                Error::NotFound {
                    path: path.to_owned(),
                    err: source,
                }
            } else {
                Error::Access {
                    path: path.to_owned(),
                    err: source,
                }
            }
        })?;
        let root = fs::canonicalize(path).map_err(|source| Error::Access {
            path: path.to_owned(),
            err: source,
        })?;
        let start = start_jobs(kind, &root, meta.is_dir())?;
        // A first walk that only stats files, so that progress can be shown in bytes.
        let total_bytes = Walker::new(start, &opts.extensions, opts.recursive)
            .map(|leaf| match leaf {
                Leaf::Single { path, .. } | Leaf::Mbox { path, .. } => {
                    fs::metadata(path).map_or(0, |m| m.len())
                }
                Leaf::Fail(_) => 0,
            })
            .sum();
        let root_name = if meta.is_dir() {
            root.file_name()
        } else {
            root.file_stem()
        }
        .map_or_else(
            || root.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let walker = Walker::new(
            start_jobs(kind, &root, meta.is_dir())?,
            &opts.extensions,
            opts.recursive,
        );
        Ok(FileSource {
            kind,
            root,
            root_name,
            total_bytes,
            max_message_bytes: opts.max_message_bytes,
            mbox_format: opts.mbox_format,
            walker,
            current: None,
        })
    }

    /// Sum of the sizes of the files this source reads, for a progress bar; the
    /// `input_len` of all items adds up to it (unless files change during the import).
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// A default name for the top folder: the file stem ("Inbox" for `/x/Inbox.mbox`) or the
    /// directory name.
    pub fn root_name(&self) -> String {
        self.root_name.clone()
    }

    /// Stable identity of this source: `<kind>:<canonical absolute path>`.
    pub fn source_id(&self) -> String {
        format!("{}:{}", self.kind, self.root.display())
    }

    fn read_single(&self, path: &Path, folder: Vec<String>) -> SourceItem {
        let origin = path.display().to_string();
        let fail = |reason: String, input_len: u64| {
            SourceItem::Failed(SourceFailure {
                folder: folder.clone(),
                origin: origin.clone(),
                reason,
                input_len,
            })
        };
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) => {
                return fail(
                    format!("cannot open file: {e}; check that it exists and is readable"),
                    0,
                );
            }
        };
        let len = file.metadata().map_or(0, |m| m.len());
        if len > self.max_message_bytes {
            return fail(self.too_large(len), len);
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        if let Err(e) = (&mut file)
            .take(self.max_message_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
        {
            return fail(
                format!("cannot read file: {e}; check that it is readable"),
                len,
            );
        }
        let read = bytes.len() as u64;
        if read > self.max_message_bytes {
            return fail(self.too_large(read), len);
        }
        if bytes.is_empty() {
            return fail("empty file".to_owned(), len);
        }
        SourceItem::Message(SourceMessage {
            folder,
            bytes,
            origin,
            input_len: len.max(read),
            envelope: None,
        })
    }

    fn open_mbox(&mut self, path: &Path, folder: Vec<String>) -> Option<SourceItem> {
        let origin = path.display().to_string();
        match File::open(path) {
            Ok(file) => {
                let file_len = file.metadata().map_or(0, |m| m.len());
                let reader = BufReader::with_capacity(MBOX_BUFFER, file);
                self.current = Some(OpenMbox {
                    reader: MboxReader::new(reader, self.mbox_format, self.max_message_bytes),
                    origin,
                    folder,
                    count: 0,
                    consumed: 0,
                    file_len,
                });
                None
            }
            Err(e) => Some(SourceItem::Failed(SourceFailure {
                folder,
                origin,
                reason: format!("cannot open file: {e}; check that it exists and is readable"),
                input_len: 0,
            })),
        }
    }

    /// The next item of the open mbox file, or `None` when it is finished.
    fn next_from_mbox(&mut self) -> Option<SourceItem> {
        let max = self.max_message_bytes;
        let mbox = self.current.as_mut()?;
        let entry = match mbox.reader.next() {
            Some(entry) => entry,
            None => {
                self.current = None;
                return None;
            }
        };
        let item = match entry {
            Ok(MboxEntry::Message {
                bytes,
                offset,
                input_len,
            }) => {
                mbox.count += 1;
                mbox.consumed += input_len;
                let origin = format!("{} (message {} at byte {offset})", mbox.origin, mbox.count);
                let folder = mbox.folder.clone();
                if bytes.is_empty() {
                    SourceItem::Failed(SourceFailure {
                        folder,
                        origin,
                        reason: "empty message: a From_ line with nothing after it".to_owned(),
                        input_len,
                    })
                } else {
                    SourceItem::Message(SourceMessage {
                        folder,
                        bytes,
                        origin,
                        input_len,
                        envelope: None,
                    })
                }
            }
            Ok(MboxEntry::Oversized {
                offset,
                input_len,
                size,
            }) => {
                mbox.count += 1;
                mbox.consumed += input_len;
                SourceItem::Failed(SourceFailure {
                    folder: mbox.folder.clone(),
                    origin: format!("{} (message {} at byte {offset})", mbox.origin, mbox.count),
                    reason: too_large(size, max),
                    input_len,
                })
            }
            Err(e) => {
                let reason = if e.to_string() == NOT_AN_MBOX {
                    format!(
                        "{NOT_AN_MBOX}; choose the right source kind or move the file out of the folder"
                    )
                } else {
                    format!(
                        "read error after message {} ({e}); the rest of the file was skipped",
                        mbox.count
                    )
                };
                let item = SourceItem::Failed(SourceFailure {
                    folder: mbox.folder.clone(),
                    origin: mbox.origin.clone(),
                    reason,
                    input_len: mbox.file_len.saturating_sub(mbox.consumed),
                });
                self.current = None;
                item
            }
        };
        Some(item)
    }

    fn too_large(&self, size: u64) -> String {
        too_large(size, self.max_message_bytes)
    }
}

fn too_large(size: u64, max: u64) -> String {
    format!(
        "message is {size} bytes, more than the limit of {max} bytes; it was skipped \
         (raise max_message_bytes to import it)"
    )
}

impl Iterator for FileSource {
    type Item = SourceItem;

    fn next(&mut self) -> Option<SourceItem> {
        loop {
            if self.current.is_some() {
                match self.next_from_mbox() {
                    Some(item) => return Some(item),
                    None => continue,
                }
            }
            match self.walker.next()? {
                Leaf::Single { path, folder } => return Some(self.read_single(&path, folder)),
                Leaf::Mbox { path, folder } => {
                    if let Some(fail) = self.open_mbox(&path, folder) {
                        return Some(fail);
                    }
                }
                Leaf::Fail(fail) => return Some(SourceItem::Failed(fail)),
            }
        }
    }
}

/// Where the walk of a source of `kind` at `root` starts.
fn start_jobs(kind: SourceKind, root: &Path, is_dir: bool) -> Result<Vec<Job>> {
    let dir = root.to_owned();
    let folder = Vec::new();
    let jobs = match (kind, is_dir) {
        (SourceKind::Eml, false) => vec![Job::Leaf(Leaf::Single { path: dir, folder })],
        (SourceKind::Eml, true) => vec![Job::EmlDir { dir, folder }],
        (SourceKind::Mbox | SourceKind::Thunderbird, false) => {
            vec![Job::Leaf(Leaf::Mbox { path: dir, folder })]
        }
        (SourceKind::Mbox, true) => vec![Job::MboxDir { dir, folder }],
        (SourceKind::Maildir, true) if maildir::looks_like_maildir_root(root) => {
            vec![Job::Maildir {
                dir,
                folder,
                plus_root: true,
            }]
        }
        (SourceKind::Maildir, _) => {
            return Err(Error::WrongKind {
                kind,
                path: dir,
                reason: "it has no cur/ or new/ subdirectory; point the import at the Maildir \
                         itself (the directory that holds cur, new and tmp)"
                    .to_owned(),
            });
        }
        (SourceKind::Thunderbird, true) if thunderbird::is_profile(root) => {
            thunderbird::profile_jobs(root)
        }
        (SourceKind::Thunderbird, true) => vec![Job::Thunderbird { dir, folder }],
    };
    Ok(jobs)
}
