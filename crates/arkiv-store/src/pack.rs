//! Append-only pack files: `packs/000001.pack`, `000002.pack`, ...
//!
//! Only [`PackWriter`] appends, and only the committed length of each pack (kept in the store
//! database) counts. Bytes past it are the remains of a session that did not commit and are cut
//! off by [`PackWriter::open`].

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Result, io_err};

pub(crate) fn pack_path(dir: &Path, seg: u32) -> PathBuf {
    dir.join(format!("{seg:06}.pack"))
}

pub(crate) struct PackWriter {
    dir: PathBuf,
    max_bytes: u64,
    seg: u32,
    file: File,
    len: u64,
    /// Segments written to since the last sync.
    dirty: Vec<(u32, File)>,
    /// Lengths to record at commit: segment → length.
    pub(crate) lengths: BTreeMap<u32, u64>,
}

impl PackWriter {
    /// Opens the newest pack for appending, cutting off any uncommitted tail. A pack shorter
    /// than committed (damaged outside Arkiv) is left as it is, never cut or extended: when it
    /// is the newest, appending goes on in a new pack after it.
    pub(crate) fn open(
        dir: &Path,
        committed: &BTreeMap<u32, u64>,
        retired: &std::collections::BTreeSet<u32>,
        max_bytes: u64,
    ) -> Result<Self> {
        let mut last_short = false;
        for (&seg, &len) in committed {
            let path = pack_path(dir, seg);
            let actual = match fs::metadata(&path) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(io_err(&path, e)),
            };
            last_short = actual < len;
            if actual > len {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| io_err(&path, e))?;
                f.set_len(len).map_err(|e| io_err(&path, e))?;
                f.sync_all().map_err(|e| io_err(&path, e))?;
            }
        }
        let last = committed.keys().next_back().copied().unwrap_or(1);
        // A pack created after the last commit holds nothing committed; a pack a committed
        // compaction retired may be left if the process died before deleting it. Neither holds
        // anything the store refers to. Any other unlisted pack is left alone: it is not this
        // store's to delete (a wrong directory given for it, say).
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name();
                let Some(seg) = name
                    .to_str()
                    .and_then(|n| n.strip_suffix(".pack"))
                    .filter(|n| n.len() == 6)
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    continue;
                };
                if (seg > last || retired.contains(&seg)) && !committed.contains_key(&seg) {
                    let p = e.path();
                    fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
                }
            }
        }
        let (seg, len) = if last_short {
            (last + 1, 0)
        } else {
            (last, committed.get(&last).copied().unwrap_or(0))
        };
        let path = pack_path(dir, seg);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        if len == 0 {
            file.set_len(0).map_err(|e| io_err(&path, e))?;
        }
        Ok(PackWriter {
            dir: dir.to_path_buf(),
            max_bytes,
            seg,
            file,
            len,
            dirty: Vec::new(),
            lengths: BTreeMap::new(),
        })
    }

    /// Appends one record; returns (segment, offset).
    pub(crate) fn append(&mut self, record: &[u8]) -> Result<(u32, u64)> {
        if self.len > 0 && self.len + record.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let path = pack_path(&self.dir, self.seg);
        self.file.write_all(record).map_err(|e| io_err(&path, e))?;
        let off = self.len;
        self.len += record.len() as u64;
        self.lengths.insert(self.seg, self.len);
        Ok((self.seg, off))
    }

    /// Whether this writer's idea of the packs is the committed one: it appends to the last
    /// committed pack at its committed length (or to a newer, still empty one).
    pub(crate) fn matches(&self, committed: &BTreeMap<u32, u64>) -> bool {
        let last = committed.keys().next_back().copied();
        match committed.get(&self.seg) {
            Some(len) => *len == self.len && last == Some(self.seg),
            None => self.len == 0 && last.is_none_or(|l| l < self.seg),
        }
    }

    /// The pack being appended to, and its length.
    pub(crate) fn current_segment(&self) -> u32 {
        self.seg
    }

    pub(crate) fn current_len(&self) -> u64 {
        self.len
    }

    /// Makes the next append go to a new, empty pack (unless the current one is still empty).
    pub(crate) fn start_fresh_segment(&mut self) -> Result<()> {
        if self.len > 0 {
            self.rotate()?;
        }
        Ok(())
    }

    fn rotate(&mut self) -> Result<()> {
        let next = self.seg + 1;
        let path = pack_path(&self.dir, next);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        let old = std::mem::replace(&mut self.file, file);
        self.dirty.push((self.seg, old));
        self.seg = next;
        self.len = 0;
        Ok(())
    }

    /// Makes everything appended so far durable.
    pub(crate) fn sync(&mut self) -> Result<()> {
        for (seg, f) in self.dirty.drain(..) {
            f.sync_data()
                .map_err(|e| io_err(&pack_path(&self.dir, seg), e))?;
        }
        if !self.lengths.is_empty() {
            self.file
                .sync_data()
                .map_err(|e| io_err(&pack_path(&self.dir, self.seg), e))?;
            if self.lengths.len() > 1 || self.lengths.contains_key(&self.seg) {
                // New pack files must survive a power loss too: sync the directory (its error
                // fails the commit, like the pack's own).
                sync_dir(&self.dir)?;
            }
        }
        Ok(())
    }
}

/// Makes a directory's entries (files created, renamed or removed in it) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// Reads `len` bytes at `off` from a pack.
pub(crate) fn read_at(file: &File, path: &Path, off: u64, len: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, off)
        .map_err(|e| io_err(path, e))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_is_reused_only_if_it_matches_the_committed_packs() {
        let dir = tempfile::tempdir().unwrap();
        let none = std::collections::BTreeSet::new();
        let mut w = PackWriter::open(dir.path(), &BTreeMap::new(), &none, 1 << 20).unwrap();
        assert!(w.matches(&BTreeMap::new()));
        w.append(b"0123456789").unwrap();
        w.sync().unwrap();
        let committed: BTreeMap<u32, u64> = w.lengths.clone();
        assert!(w.matches(&committed));
        // Another writer committed more in the same pack, or a newer pack: this one is stale.
        assert!(!w.matches(&BTreeMap::from([(1, 20)])));
        assert!(!w.matches(&BTreeMap::from([(1, 10), (2, 5)])));
        assert!(!w.matches(&BTreeMap::new()));
    }
}
