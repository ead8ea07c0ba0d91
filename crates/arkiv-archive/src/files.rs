//! File modes of the data directory: it is the owner's alone.
//!
//! The data directory is 0700 and every file in it 0600: the search index holds subjects and
//! addresses in clear, and the audit log names users and what they did. The `arkiv` binary sets
//! its umask to 0077 before anything else, so whatever it (or redb, tantivy, rustls) creates is
//! private; [`tighten`] brings directories made by older versions (or copied with looser
//! modes) in line, and the server logs what it changed at start.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Result, io_err};

/// Opens a file for appending, creating it 0600.
pub(crate) fn open_private_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err(path, e))
}

/// Makes a directory's entries (files created, renamed or removed in it) durable; a sync
/// error is an error.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// Sets `dir` to 0700, every directory below it to 0700 and every file to 0600 (where they
/// are looser). Symbolic links are not followed (a store may live elsewhere: its own
/// directories are tightened when it is opened). Returns how many entries changed.
pub fn tighten(dir: &Path) -> Result<u64> {
    let mut changed = 0;
    tighten_one(dir, true, &mut changed)?;
    Ok(changed)
}

fn tighten_one(path: &Path, is_dir: bool, changed: &mut u64) -> Result<()> {
    let want = if is_dir { 0o700 } else { 0o600 };
    let meta = std::fs::symlink_metadata(path).map_err(|e| io_err(path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & !want != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & want))
            .map_err(|e| io_err(path, e))?;
        *changed += 1;
    }
    if is_dir {
        for entry in std::fs::read_dir(path).map_err(|e| io_err(path, e))? {
            let entry = entry.map_err(|e| io_err(path, e))?;
            let t = entry.file_type().map_err(|e| io_err(&entry.path(), e))?;
            if t.is_symlink() {
                continue;
            }
            tighten_one(&entry.path(), t.is_dir(), changed)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tightens_what_is_loose() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("data");
        std::fs::create_dir_all(d.join("stores/1")).unwrap();
        std::fs::write(d.join("audit.log"), b"x").unwrap();
        std::fs::write(d.join("stores/1/store.redb"), b"x").unwrap();
        for (p, m) in [("", 0o755), ("stores", 0o755), ("audit.log", 0o644)] {
            std::fs::set_permissions(d.join(p), std::fs::Permissions::from_mode(m)).unwrap();
        }
        assert!(tighten(&d).unwrap() >= 3);
        let mode = |p: &str| std::fs::metadata(d.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(""), 0o700);
        assert_eq!(mode("stores/1"), 0o700);
        assert_eq!(mode("audit.log"), 0o600);
        assert_eq!(mode("stores/1/store.redb"), 0o600);
        assert_eq!(tighten(&d).unwrap(), 0, "nothing left to change");
    }
}
