//! The audit log: one JSON line per Administration API call, appended to `DATA/audit.log`
//! and made durable before the answer goes out. Each line carries the BLAKE3 hash of the line
//! before it (`prev`), so a line removed or changed later breaks the chain; `verify_chain`
//! checks it. Passwords are never written.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Argument names whose values are replaced by `***`.
const SECRET: &[&str] = &["password", "passphrase", "oldPassword", "newPassword"];

pub struct AuditLog {
    path: PathBuf,
    state: Mutex<(File, String)>,
}

fn hash(line: &str) -> String {
    blake3::hash(line.as_bytes()).to_hex().to_string()
}

impl AuditLog {
    pub fn open(data_dir: &Path) -> Result<AuditLog> {
        let path = data_dir.join("audit.log");
        let last = match File::open(&path) {
            Ok(f) => BufReader::new(f)
                .lines()
                .map_while(std::result::Result::ok)
                .last()
                .map(|l| hash(&l))
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening the audit log {}", path.display()))?;
        Ok(AuditLog {
            path,
            state: Mutex::new((file, last)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record; returns once it is on disk.
    pub fn record(
        &self,
        user: &str,
        client: &str,
        function: &str,
        args: &[(String, String)],
        outcome: &str,
    ) {
        let args: serde_json::Map<String, Value> = args
            .iter()
            .map(|(k, v)| {
                let v = if SECRET.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                    "***"
                } else {
                    v
                };
                (k.clone(), Value::String(v.to_string()))
            })
            .collect();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let line = json!({
            "time": arkiv_types::Timestamp::now().to_rfc3339(),
            "user": user,
            "client": client,
            "function": function,
            "args": args,
            "outcome": outcome,
            "prev": st.1,
        })
        .to_string();
        let ok = writeln!(st.0, "{line}").and_then(|_| st.0.sync_data());
        if let Err(e) = ok {
            crate::log!(
                "ERROR",
                "could not write the audit log {}: {e}",
                self.path.display()
            );
        }
        st.1 = hash(&line);
    }
}

/// Checks the hash chain of an audit log; returns the number of records.
pub fn verify_chain(path: &Path) -> Result<usize> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut prev = String::new();
    let mut n = 0;
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line?;
        let v: Value =
            serde_json::from_str(&line).with_context(|| format!("line {} is not JSON", i + 1))?;
        if v["prev"].as_str() != Some(prev.as_str()) {
            bail!("the audit log was changed before line {}", i + 1);
        }
        prev = hash(&line);
        n += 1;
    }
    Ok(n)
}
