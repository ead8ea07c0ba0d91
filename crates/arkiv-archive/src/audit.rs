//! The audit log (manual §5.14): one JSON line per privileged action, from every front-end.
//!
//! `DATA/audit.log`, appended to and fsync'ed **before** the answer that it describes goes
//! out: [`AuditLog::record`] returns only once the line is on disk, and a failed write fails
//! the call (the caller answers with an error) and never advances the chain (the file is cut
//! back to where it was). Each line carries the BLAKE3 hash of the line before it (`prev`),
//! so a line removed or changed later breaks the chain ([`verify_chain`]).
//!
//! Secrets never enter it: arguments are masked by their meaning ([`mask`]) — passwords,
//! passphrases, recovery keys — including inside a job's action (`CreateJob
//! action="SetUserPassword --password=..."`).

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::error::{ArchiveError, Result, io_err};

/// Argument names whose values are secrets (compared case-insensitively).
const SECRET: &[&str] = &[
    "password",
    "passphrase",
    "oldPassword",
    "newPassword",
    "recoveryKey",
    "masterPassword",
    "pkcs12Password",
    "secret",
];

/// Arguments that hold a whole API call (a job's action): masked inside.
const ACTION: &[&str] = &["action"];

/// Whether an argument of that name holds a secret.
pub fn is_secret(name: &str) -> bool {
    SECRET.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// The arguments as they may be written anywhere (audit log, server log, `GetJobs`).
pub fn mask(args: &[(String, String)]) -> Vec<(String, String)> {
    args.iter()
        .map(|(k, v)| {
            let v = if is_secret(k) {
                "***".to_string()
            } else if ACTION.iter().any(|a| a.eq_ignore_ascii_case(k)) {
                mask_action(v)
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

/// An action with its secret arguments masked (for the audit log and `GetJobs`); an action
/// that cannot be parsed is shown as `***` entirely (it might hold anything).
pub fn mask_action(action: &str) -> String {
    match crate::action::parse_action(action) {
        Ok((name, args)) => crate::action::render_action(&name, &mask(&args)),
        Err(_) => "***".into(),
    }
}

/// One line of the audit log.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    /// Who acted (a user name, `operator`, or the name tried at a failed logon).
    pub user: &'a str,
    /// The client address (or `local`, or `job #N`).
    pub client: &'a str,
    /// The door (`AdministrationAPI`, `WebAccess`, `Job`, `CommandLine`, ...).
    pub via: &'a str,
    /// The API function or action (`logon`, `export message`, ...).
    pub function: &'a str,
    /// Its arguments (masked here before they are written).
    pub args: &'a [(String, String)],
    /// What became of it: `succeeded`, `failed: ...`, `refused: ...`, `started`.
    pub outcome: &'a str,
}

pub struct AuditLog {
    path: PathBuf,
    /// The file and the hash of the last line on disk.
    state: Mutex<(File, String)>,
}

fn hash(line: &str) -> String {
    blake3::hash(line.as_bytes()).to_hex().to_string()
}

impl AuditLog {
    /// Opens (or creates, 0600) the audit log of a data directory.
    ///
    /// A last line without its line end (a power loss while it was written: it was never
    /// synced, so the action it describes was never answered) would be glued to the next
    /// record and break the chain. It is moved to `audit.log.torn-<time>` (kept, not
    /// destroyed), the log is cut back to its last whole line, and the recovery is the next
    /// record of the chain.
    pub fn open(data_dir: &Path) -> Result<AuditLog> {
        let path = data_dir.join("audit.log");
        let torn = cut_torn_tail(data_dir, &path)?;
        let log = AuditLog::open_whole(path)?;
        if let Some((bytes, kept)) = torn {
            log.record(&Entry {
                user: "operator",
                client: "local",
                via: "Service",
                function: "audit log recovered",
                args: &[
                    ("tornBytes".into(), bytes.to_string()),
                    ("keptIn".into(), kept),
                ],
                outcome: "succeeded: a torn last line was moved aside",
            })?;
        }
        Ok(log)
    }

    fn open_whole(path: PathBuf) -> Result<AuditLog> {
        let last = match File::open(&path) {
            Ok(f) => BufReader::new(f)
                .lines()
                .map_while(std::result::Result::ok)
                .last()
                .map(|l| hash(&l))
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        let file = crate::files::open_private_append(&path)?;
        Ok(AuditLog {
            path,
            state: Mutex::new((file, last)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and returns once it is on disk. On failure nothing of it stays in
    /// the file and the chain is where it was: the caller must fail the action it describes.
    pub fn record(&self, e: &Entry<'_>) -> Result<()> {
        let args: serde_json::Map<String, Value> = mask(e.args)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let line = json!({
            "time": arkiv_types::Timestamp::now().to_rfc3339(),
            "user": e.user,
            "client": e.client,
            "via": e.via,
            "function": e.function,
            "args": args,
            "outcome": e.outcome,
            "prev": st.1,
        })
        .to_string();
        let file = &mut st.0;
        let before = file
            .seek(SeekFrom::End(0))
            .map_err(|err| io_err(&self.path, err))?;
        let written = writeln!(file, "{line}").and_then(|_| file.sync_data());
        if let Err(err) = written {
            // Nothing of a failed record may stay: a torn line would be glued to the next.
            let _ = file.set_len(before);
            let _ = file.sync_data();
            return Err(ArchiveError::Io {
                path: self.path.display().to_string(),
                err,
            });
        }
        st.1 = hash(&line);
        Ok(())
    }
}

/// Moves a torn last line (bytes after the last line end) out of the log: `(its length, the
/// file it was moved to)`, or `None` when the log ends with a whole line.
fn cut_torn_tail(data_dir: &Path, path: &Path) -> Result<Option<(u64, String)>> {
    let Ok(mut f) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    else {
        return Ok(None);
    };
    let len = f.metadata().map_err(|e| io_err(path, e))?.len();
    if len == 0 {
        return Ok(None);
    }
    // A record is a few KiB at most: the torn part lies in the last MiB.
    let from = len.saturating_sub(1 << 20);
    f.seek(SeekFrom::Start(from)).map_err(|e| io_err(path, e))?;
    let mut tail = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut tail).map_err(|e| io_err(path, e))?;
    if tail.last() == Some(&b'\n') {
        return Ok(None);
    }
    let cut = tail
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(from, |i| from + i as u64 + 1);
    let torn = &tail[(cut - from) as usize..];
    let stamp = arkiv_types::Timestamp::now().to_rfc3339().replace(':', "");
    let aside = data_dir.join(format!("audit.log.torn-{stamp}"));
    let mut a = crate::files::open_private_append(&aside)?;
    a.write_all(torn)
        .and_then(|_| a.sync_all())
        .map_err(|e| io_err(&aside, e))?;
    f.set_len(cut)
        .and_then(|_| f.sync_all())
        .map_err(|e| io_err(path, e))?;
    Ok(Some((torn.len() as u64, aside.display().to_string())))
}

/// Which audit records to show: days (`2026-12-01`, inclusive), a user, and a text that the
/// function or outcome contains (case-insensitive); at most `limit`, newest first.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub from: Option<String>,
    pub to: Option<String>,
    pub user: Option<String>,
    pub text: Option<String>,
    pub limit: usize,
}

/// Audit records for a reader, and whether the whole chain holds.
#[derive(Clone, Debug)]
pub struct View {
    /// Newest first.
    pub records: Vec<Value>,
    /// How many records matched (more than shown when over the limit).
    pub matched: usize,
    /// `Ok(records in the log)` when the chain is intact, else where it breaks.
    pub chain: std::result::Result<usize, String>,
}

impl Filter {
    fn matches(&self, v: &Value) -> bool {
        let day = v["time"].as_str().unwrap_or("").get(..10).unwrap_or("");
        if self.from.as_deref().is_some_and(|f| day < f)
            || self.to.as_deref().is_some_and(|t| day > t)
        {
            return false;
        }
        if let Some(u) = &self.user
            && !v["user"]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(u))
        {
            return false;
        }
        if let Some(t) = &self.text {
            let t = t.to_lowercase();
            let hay = format!(
                "{} {} {}",
                v["function"].as_str().unwrap_or(""),
                v["outcome"].as_str().unwrap_or(""),
                v["args"]
            )
            .to_lowercase();
            if !hay.contains(&t) {
                return false;
            }
        }
        true
    }
}

/// Reads an audit log for a reader: the matching records (newest first, at most
/// `filter.limit`, read line by line so a log of years stays in bounded memory) and the
/// state of the hash chain.
pub fn read(path: &Path, filter: &Filter) -> Result<View> {
    let mut kept = std::collections::VecDeque::new();
    let mut matched = 0;
    if path.exists() {
        let f = File::open(path).map_err(|e| io_err(path, e))?;
        for line in BufReader::new(f).lines() {
            let line = line.map_err(|e| io_err(path, e))?;
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if filter.matches(&v) {
                matched += 1;
                kept.push_back(v);
                if kept.len() > filter.limit.max(1) {
                    kept.pop_front();
                }
            }
        }
    }
    let chain = if path.exists() {
        verify_chain(path).map_err(|e| e.to_string())
    } else {
        Ok(0)
    };
    Ok(View {
        records: kept.into_iter().rev().collect(),
        matched,
        chain,
    })
}

/// Checks the hash chain of an audit log; returns the number of records.
pub fn verify_chain(path: &Path) -> Result<usize> {
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut prev = String::new();
    let mut n = 0;
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| io_err(path, e))?;
        let v: Value = serde_json::from_str(&line).map_err(|e| ArchiveError::Invalid {
            what: "audit log".into(),
            detail: format!("line {} is not JSON: {e}", i + 1),
        })?;
        if v["prev"].as_str() != Some(prev.as_str()) {
            return Err(ArchiveError::Invalid {
                what: "audit log".into(),
                detail: format!("the audit log was changed before line {}", i + 1),
            });
        }
        prev = hash(&line);
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reading_filters_newest_first_and_tells_a_broken_chain() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        for (user, f) in [
            ("admin", "CreateUser"),
            ("bob", "web logon"),
            ("admin", "DeleteUser"),
        ] {
            log.record(&Entry {
                user,
                client: "127.0.0.1",
                via: "WebAccess",
                function: f,
                args: &args(&[("userName", "carol")]),
                outcome: "succeeded",
            })
            .unwrap();
        }
        let path = dir.path().join("audit.log");
        let all = read(
            &path,
            &Filter {
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(all.matched, 3);
        assert_eq!(all.records[0]["function"], "DeleteUser", "newest first");
        assert_eq!(all.chain, Ok(3));
        let admin = read(
            &path,
            &Filter {
                user: Some("ADMIN".into()),
                text: Some("user".into()),
                limit: 1,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!((admin.matched, admin.records.len()), (2, 1));
        let none = read(
            &path,
            &Filter {
                from: Some("2999-01-01".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(none.matched, 0);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("bob", "eve");
        std::fs::write(&path, text).unwrap();
        assert!(
            read(
                &path,
                &Filter {
                    limit: 10,
                    ..Default::default()
                }
            )
            .unwrap()
            .chain
            .is_err()
        );
    }

    #[test]
    fn secrets_are_masked_by_meaning_also_inside_actions() {
        let m = mask(&args(&[
            ("userName", "bob"),
            ("Password", "Sommer-2026x"),
            (
                "action",
                r#"SetUserPassword --userName=bob --password="Geheim 2026!""#,
            ),
        ]));
        assert_eq!(m[0].1, "bob");
        assert_eq!(m[1].1, "***");
        assert!(!m[2].1.contains("Geheim"), "{}", m[2].1);
        assert!(m[2].1.contains("--password=***"), "{}", m[2].1);
        assert!(m[2].1.contains("--userName=bob"));
    }

    /// Issue 15's finding: a torn last line was glued to the next record.
    #[test]
    fn a_torn_last_line_is_moved_aside_and_the_chain_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let entry = |n: &str| Entry {
            user: "admin",
            client: "127.0.0.1",
            via: "AdministrationAPI",
            function: "GetUsers",
            args: &[],
            outcome: if n == "a" { "succeeded" } else { "failed" },
        };
        {
            let log = AuditLog::open(dir.path()).unwrap();
            log.record(&entry("a")).unwrap();
            log.record(&entry("a")).unwrap();
        }
        let path = dir.path().join("audit.log");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(br#"{"time":"2026-12-03T07:00:00Z","user":"adm"#)
            .unwrap();
        drop(f);
        let log = AuditLog::open(dir.path()).unwrap();
        log.record(&entry("b")).unwrap();
        // Two whole records, the recovery, the new one: one unbroken chain.
        assert_eq!(verify_chain(&path).unwrap(), 4);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("audit log recovered"), "{text}");
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains("audit.log.torn-"))
            .collect();
        assert_eq!(aside.len(), 1);
        assert_eq!(
            std::fs::read(&aside[0]).unwrap(),
            br#"{"time":"2026-12-03T07:00:00Z","user":"adm"#
        );
        // A log that ends whole is left alone.
        drop(log);
        let before = std::fs::read(&path).unwrap();
        AuditLog::open(dir.path()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_chain_of_records() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        for i in 0..3 {
            log.record(&Entry {
                user: "admin",
                client: "127.0.0.1",
                via: "AdministrationAPI",
                function: "GetUsers",
                args: &args(&[("n", &i.to_string())]),
                outcome: "succeeded",
            })
            .unwrap();
        }
        assert_eq!(verify_chain(log.path()).unwrap(), 3);
        let text = std::fs::read_to_string(log.path()).unwrap();
        let changed = text.replacen("GetUsers", "GetStores", 1);
        std::fs::write(log.path(), changed).unwrap();
        assert!(verify_chain(log.path()).is_err());
    }
}
