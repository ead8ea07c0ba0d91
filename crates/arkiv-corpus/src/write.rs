//! Writing a corpus to disk as mbox files (mboxrd) or Maildir++ trees.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::plan::Corpus;
use crate::{CorpusSpec, CorpusSummary, date};

/// Open mbox files kept at once; beyond this all are flushed and closed (and later reopened
/// for appending), so a corpus with many users never runs out of file descriptors.
const MAX_OPEN: usize = 256;

/// Appends `msg` to `out` with mboxrd quoting: a `>` is prefixed to every line matching
/// `^>*From `.
pub(crate) fn mboxrd_quote(msg: &[u8], out: &mut Vec<u8>) {
    for line in msg.split_inclusive(|&b| b == b'\n') {
        let unquoted = line.iter().position(|&b| b != b'>').unwrap_or(line.len());
        if line[unquoted..].starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
}

fn mbox_path(dir: &Path, login: &str, folder: &str) -> PathBuf {
    let mut p = dir.join(login);
    for part in folder.split('/') {
        p.push(part);
    }
    p.set_extension("mbox");
    p
}

pub(crate) fn write_mbox_tree(spec: &CorpusSpec, dir: &Path) -> io::Result<CorpusSummary> {
    let mut corpus = Corpus::new(spec);
    let logins: Vec<String> = corpus.people()[..spec.users.max(1)]
        .iter()
        .map(|p| p.login().to_string())
        .collect();
    let mut open: HashMap<(usize, String), BufWriter<File>> = HashMap::new();
    let mut created: std::collections::HashSet<(usize, String)> = Default::default();
    let mut summary = CorpusSummary::default();
    let mut buf = Vec::new();
    while let Some(p) = corpus.next_produced() {
        let m = &p.message;
        let key = (m.user, m.folder.clone());
        if !open.contains_key(&key) {
            if open.len() >= MAX_OPEN {
                for (_, mut w) in open.drain() {
                    w.flush()?;
                }
            }
            let path = mbox_path(dir, &logins[m.user], &m.folder);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            // Truncate on first use in this run; append when reopened after eviction.
            let first = created.insert(key.clone());
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .append(!first)
                .truncate(first)
                .open(&path)?;
            open.insert(key.clone(), BufWriter::with_capacity(256 << 10, file));
        }
        let w = open.get_mut(&key).expect("opened above");
        buf.clear();
        buf.extend_from_slice(format!("From {} {}\n", p.sender, date::asctime(p.time)).as_bytes());
        mboxrd_quote(&m.bytes, &mut buf);
        buf.push(b'\n');
        w.write_all(&buf)?;
        summary.messages += 1;
        summary.bytes += m.bytes.len() as u64;
        summary.duplicates += usize::from(m.duplicate_of.is_some());
    }
    for (_, mut w) in open.drain() {
        w.flush()?;
    }
    summary.files = created.len();
    Ok(summary)
}

pub(crate) fn write_maildir_tree(spec: &CorpusSpec, dir: &Path) -> io::Result<CorpusSummary> {
    let mut corpus = Corpus::new(spec);
    let logins: Vec<String> = corpus.people()[..spec.users.max(1)]
        .iter()
        .map(|p| p.login().to_string())
        .collect();
    let mut made: std::collections::HashSet<PathBuf> = Default::default();
    let mut summary = CorpusSummary::default();
    let mut n = 0usize;
    while let Some(p) = corpus.next_produced() {
        let m = &p.message;
        let mut folder_dir = dir.join(&logins[m.user]);
        if m.folder != "Inbox" {
            folder_dir.push(format!(".{}", m.folder.replace('/', ".")));
        }
        if !made.contains(&folder_dir) {
            for sub in ["cur", "new", "tmp"] {
                fs::create_dir_all(folder_dir.join(sub))?;
            }
            if m.folder != "Inbox" {
                File::create(folder_dir.join("maildirfolder"))?;
            }
            made.insert(folder_dir.clone());
        }
        fs::write(
            folder_dir.join("cur").join(format!("{n}.arkiv:2,S")),
            &m.bytes,
        )?;
        n += 1;
        summary.messages += 1;
        summary.files += 1;
        summary.bytes += m.bytes.len() as u64;
        summary.duplicates += usize::from(m.duplicate_of.is_some());
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mboxrd_quotes_from_lines_at_any_depth() {
        let mut out = Vec::new();
        mboxrd_quote(b"From a\n>From b\n>>From c\n> From d\nFromage\n", &mut out);
        assert_eq!(out, b">From a\n>>From b\n>>>From c\n> From d\nFromage\n");
    }

    #[test]
    fn folder_paths() {
        let p = mbox_path(Path::new("/d"), "anna.berg", "Projects/Alpha");
        assert_eq!(p, Path::new("/d/anna.berg/Projects/Alpha.mbox"));
    }
}
