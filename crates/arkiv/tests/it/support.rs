//! Shared helpers: run the real binary, read its JSON, find the real test corpora.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const ADMIN_PW: &str = "Sommer-2026x";

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A fresh data directory with user `alice` (alice@example.com).
    pub fn new() -> Env {
        Env::with_init(&[])
    }

    pub fn with_init(extra: &[&str]) -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        let mut args = vec!["init", "--admin-password", ADMIN_PW];
        args.extend_from_slice(extra);
        env.ok(&args);
        env.ok(&["user", "add", "alice", "--email", "alice@example.com"]);
        env
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_arkiv"))
            .arg("--data")
            .arg(self.data())
            .args(args)
            .env_remove("ARKIV_DATA")
            .env_remove("ARKIV_KEY_FILE")
            .output()
            .expect("run arkiv")
    }

    /// Runs and asserts exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> Vec<u8> {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "arkiv {args:?} failed ({:?}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out)
            )
        })
    }

    /// `import ... --json`, allowing exit code 2 (some failed); returns the report.
    pub fn import(&self, args: &[&str]) -> Value {
        let mut a = vec!["import"];
        a.extend_from_slice(args);
        a.push("--json");
        let out = self.run(&a);
        assert!(
            matches!(out.status.code(), Some(0) | Some(2)),
            "import {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Replaces `from` by `to` in `arkiv.toml` (which must contain it).
    pub fn set_config(&self, from: &str, to: &str) {
        let p = self.data().join("arkiv.toml");
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{from} not in {text}");
        std::fs::write(&p, text.replace(from, to)).unwrap();
    }

    /// Every message of an archive: folder path → list of (id, original bytes via `cat`).
    pub fn contents(&self, archive: &str) -> BTreeMap<String, Vec<(String, Vec<u8>)>> {
        let listing = self.json(&["ls", archive, "--recursive", "--json"]);
        let mut out: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
        for folder in listing.as_array().unwrap() {
            let name = folder["folder"].as_str().unwrap().to_string();
            let entry = out.entry(name).or_default();
            for m in folder["messages"].as_array().unwrap() {
                let id = m["id"].as_str().unwrap().to_string();
                let bytes = self.ok(&["cat", &id]);
                entry.push((id, bytes));
            }
        }
        out
    }
}

/// CPython's email test messages (written by others, many malformed on purpose).
pub fn cpython_email_data() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import test.test_email, os; print(os.path.join(os.path.dirname(test.test_email.__file__), 'data'))"])
        .output()
        .expect("python3 is required for these tests: apt-get install -y python3 (with its test package: python3-test/libpython3-testsuite)");
    let dir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(
        dir.is_dir(),
        "CPython's email test data not found: install python3 with its test suite (Debian: apt-get install -y libpython3-testsuite)"
    );
    dir
}

/// The mail-parser crate's corpus (`resources/`), found through `cargo metadata`.
pub fn mail_parser_resources() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml"))
        .output()
        .expect("cargo metadata");
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let pkg = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "mail-parser")
        .expect("mail-parser is a dependency");
    let dir = Path::new(pkg["manifest_path"].as_str().unwrap())
        .parent()
        .unwrap()
        .join("resources");
    assert!(
        dir.is_dir(),
        "mail-parser's resources/ missing at {}",
        dir.display()
    );
    dir
}

/// Every file below `dir` with one of `exts` (lower case, no dot), as relative folder → bytes.
pub fn files_by_folder(dir: &Path, exts: &[&str]) -> HashMap<String, Vec<Vec<u8>>> {
    let mut out: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    fn walk(root: &Path, dir: &Path, exts: &[&str], out: &mut HashMap<String, Vec<Vec<u8>>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, exts, out);
            } else if p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| exts.contains(&x.to_lowercase().as_str()))
            {
                let rel = p
                    .parent()
                    .unwrap()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                let bytes = std::fs::read(&p).unwrap();
                if !bytes.is_empty() {
                    out.entry(rel).or_default().push(bytes);
                }
            }
        }
    }
    walk(dir, dir, exts, &mut out);
    out
}

/// Sorted, de-duplicated byte strings (the archive keeps one copy per folder).
pub fn distinct(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v.dedup();
    v
}

/// The subjects of a `search --json` page, sorted.
pub fn sorted_subjects(page: &Value) -> Vec<String> {
    let mut s: Vec<String> = page["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["subject"].as_str().unwrap().to_string())
        .collect();
    s.sort();
    s
}
