//! Failure-injection tests, in their own test target (`cargo test -p arkiv --test faults`).
//!
//! Each test drives the real `arkiv` binary against its own temporary data directory and
//! breaks something on the way: the process is killed with SIGKILL in the middle of imports,
//! a pack file gets a flipped byte or a torn tail, the key file is wrong or gone, a store
//! directory disappears, a second process tries to open the data directory, the disk fills up.
//! After each fault the archive must either refuse clearly or still hold exactly what it held,
//! byte for byte: `verify` clean, every listed message `cat`s to bytes of the corpus, nothing
//! lost, nothing twice.
//!
//! The kill test's schedule comes from a seeded xorshift PRNG; set `ARKIV_FAULTS_SEED` to
//! replay another schedule. The full-disk test mounts a tmpfs and therefore needs root.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arkiv_corpus::{CorpusSpec, Profile};
use arkiv_types::ContentHash;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

const PASSWORD: &str = "Sommer-2026x";
/// Top folder every test imports into (`--folder`), so listed folders are `Corpus/<login>/...`.
const TOP: &str = "Corpus";
/// No single command of these tests may take longer than this.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// Expected content: folder (as `ls --json` prints it) → hashes of the distinct messages in it.
type Expected = HashMap<String, HashSet<ContentHash>>;

/// The outcome of one `arkiv` run.
struct Run {
    what: String,
    status: std::process::ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics unless the command exited 0.
    fn ok(self) -> Run {
        assert_eq!(
            self.code(),
            Some(0),
            "`{}` failed ({}); stderr:\n{}\nstdout:\n{}",
            self.what,
            self.status,
            self.stderr,
            String::from_utf8_lossy(&self.stdout[..self.stdout.len().min(4000)])
        );
        self
    }

    /// Panics unless the command exited with `code`.
    fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            Some(code),
            "`{}`: expected exit {code}, got {}; stderr:\n{}\nstdout:\n{}",
            self.what,
            self.status,
            self.stderr,
            String::from_utf8_lossy(&self.stdout[..self.stdout.len().min(4000)])
        );
        self.no_panic()
    }

    /// Panics if the process panicked or died from a signal.
    fn no_panic(self) -> Run {
        assert!(
            !self.stderr.contains("panicked"),
            "`{}` panicked:\n{}",
            self.what,
            self.stderr
        );
        assert!(
            self.status.signal().is_none(),
            "`{}` died from signal {:?}; stderr:\n{}",
            self.what,
            self.status.signal(),
            self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "`{}` did not print JSON ({e}); stdout:\n{}\nstderr:\n{}",
                self.what,
                String::from_utf8_lossy(&self.stdout[..self.stdout.len().min(4000)]),
                self.stderr
            )
        })
    }
}

/// `arkiv --data DATA ARGS...` with stdout and stderr going to anonymous temporary files (a
/// pipe could fill up and block the child while we wait for it).
struct Spawned {
    what: String,
    child: Child,
    out: File,
    err: File,
}

/// Variables that would change what a command does: never inherited from the test's own
/// environment.
const ARKIV_VARS: &[&str] = &[
    "ARKIV_DATA",
    "ARKIV_KEY_FILE",
    "ARKIV_ADMIN_PASSWORD",
    "ARKIV_USER_PASSWORD",
    "ARKIV_RECOVERY_KEY",
];

fn command(data: &Path, args: &[&str]) -> (Command, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arkiv"));
    for var in ARKIV_VARS {
        c.env_remove(var);
    }
    c.arg("--data").arg(data).args(args).stdin(Stdio::null());
    let what = format!("arkiv --data {} {}", data.display(), args.join(" "));
    (c, what)
}

fn spawn(data: &Path, args: &[&str]) -> Spawned {
    let (mut c, what) = command(data, args);
    let out = tempfile::tempfile().expect("temp file");
    let err = tempfile::tempfile().expect("temp file");
    c.stdout(out.try_clone().expect("dup"));
    c.stderr(err.try_clone().expect("dup"));
    let child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
    Spawned {
        what,
        child,
        out,
        err,
    }
}

impl Spawned {
    /// Waits for the process (killing it and panicking after [`COMMAND_TIMEOUT`]).
    fn wait(mut self) -> Run {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("`{}` hung for {COMMAND_TIMEOUT:?}", self.what);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        self.finish(status)
    }

    /// SIGKILL (if still running), then reap. Returns whether the kill hit a running process.
    fn kill(mut self) -> (bool, Run) {
        let running = self.child.try_wait().expect("try_wait").is_none();
        if running {
            // On Unix `Child::kill` is SIGKILL. If the process exits in between, this signals a
            // zombie, which is harmless.
            let _ = self.child.kill();
        }
        let status = self.child.wait().expect("wait");
        let killed = status.signal() == Some(9);
        (killed, self.finish(status))
    }

    fn finish(mut self, status: std::process::ExitStatus) -> Run {
        let mut stdout = Vec::new();
        self.out.seek(SeekFrom::Start(0)).expect("seek");
        self.out.read_to_end(&mut stdout).expect("read stdout");
        let mut stderr = Vec::new();
        self.err.seek(SeekFrom::Start(0)).expect("seek");
        self.err.read_to_end(&mut stderr).expect("read stderr");
        Run {
            what: self.what,
            status,
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

fn arkiv(data: &Path, args: &[&str]) -> Run {
    spawn(data, args).wait()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// `init` (JSON, returning the recovery key) and user `alice`.
fn init(data: &Path) -> String {
    let r = arkiv(data, &["init", "--admin-password", PASSWORD, "--json"]).ok();
    let key = r.json()["recovery_key"]
        .as_str()
        .expect("init --json prints recovery_key")
        .to_string();
    assert!(key.starts_with("ARKIV-"), "recovery key {key}");
    arkiv(
        data,
        &["user", "add", "alice", "--email", "alice@example.com"],
    )
    .ok();
    key
}

fn spec(messages: usize, seed: u64, profile: Profile) -> CorpusSpec {
    CorpusSpec {
        messages,
        seed,
        users: 1,
        profile,
        ..Default::default()
    }
}

/// Writes the corpus as an mbox tree under `dir` and returns the distinct (folder, content)
/// pairs the archive must end up with after `import mbox dir --user alice --folder Corpus`.
fn write_corpus(spec: &CorpusSpec, dir: &Path) -> Expected {
    let summary = arkiv_corpus::write_mbox_tree(spec, dir).expect("write corpus");
    assert_eq!(summary.messages, spec.messages);
    let users = arkiv_corpus::users(spec);
    let mut expected = Expected::new();
    let mut total = 0;
    for m in arkiv_corpus::generate(spec) {
        total += 1;
        let folder = format!("{TOP}/{}/{}", users[m.user].login, m.folder);
        expected
            .entry(folder)
            .or_default()
            .insert(ContentHash::of(&m.bytes));
    }
    assert_eq!(total, spec.messages);
    expected
}

fn merge(into: &mut Expected, more: Expected) {
    for (folder, set) in more {
        into.entry(folder).or_default().extend(set);
    }
}

fn distinct(expected: &Expected) -> usize {
    expected.values().map(HashSet::len).sum()
}

fn import_args(corpus: &Path) -> Vec<&str> {
    vec![
        "import",
        "mbox",
        s(corpus),
        "--user",
        "alice",
        "--folder",
        TOP,
        "--json",
    ]
}

/// Imports the corpus; must archive everything (exit 0). Returns the JSON report.
fn import(data: &Path, corpus: &Path) -> Value {
    let r = arkiv(data, &import_args(corpus)).ok();
    let report = r.json();
    assert_eq!(
        report["failed"].as_array().map(Vec::len),
        Some(0),
        "import reported failures: {report}"
    );
    report
}

/// `ls alice --recursive --json` as (folder, message id) pairs.
fn listing(data: &Path) -> Vec<(String, String)> {
    let r = arkiv(data, &["ls", "alice", "--recursive", "--json"]).ok();
    let mut out = Vec::new();
    for folder in r.json().as_array().expect("ls --json prints an array") {
        let name = folder["folder"].as_str().expect("folder").to_string();
        for m in folder["messages"].as_array().expect("messages") {
            out.push((name.clone(), m["id"].as_str().expect("id").to_string()));
        }
    }
    out
}

/// The message ids a `verify --json` report names in its problems.
fn named_by_verify(report: &Value) -> HashSet<String> {
    report["stores"]
        .as_array()
        .expect("stores")
        .iter()
        .flat_map(|st| st["problems"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["message"].as_str().map(str::to_string))
        .collect()
}

fn cat(data: &Path, id: &str) -> Run {
    arkiv(data, &["cat", id]).no_panic()
}

/// `verify --json`; panics with the report unless it is clean (unreferenced blobs, left by
/// interrupted imports, are not problems). Returns the report.
fn assert_verify_clean(data: &Path, context: &str) -> Value {
    let r = arkiv(data, &["verify", "--json"]).no_panic();
    let report = serde_json::from_slice::<Value>(&r.stdout).ok();
    let clean = report
        .as_ref()
        .is_some_and(|v| v["clean"] == Value::Bool(true));
    assert!(
        r.code() == Some(0) && clean,
        "{context}: verify is not clean (exit {:?}); stderr:\n{}\nreport:\n{}",
        r.code(),
        r.stderr,
        String::from_utf8_lossy(&r.stdout[..r.stdout.len().min(8000)])
    );
    let report = report.expect("checked above");
    for st in report["stores"].as_array().expect("stores") {
        assert_eq!(
            st["problems"].as_array().map(Vec::len),
            Some(0),
            "{context}: clean report with problems: {st}"
        );
    }
    report
}

/// The archive holds exactly `expected`: per folder as many messages as distinct contents,
/// every listed message `cat`s to bytes of that folder, each expected message exactly once.
/// Returns id → hash.
fn assert_holds_exactly(
    data: &Path,
    expected: &Expected,
    context: &str,
) -> HashMap<String, ContentHash> {
    let listed = listing(data);
    let mut per_folder: HashMap<&str, usize> = HashMap::new();
    for (folder, _) in &listed {
        *per_folder.entry(folder.as_str()).or_default() += 1;
    }
    let mut problems = Vec::new();
    for (folder, set) in expected {
        let n = per_folder.get(folder.as_str()).copied().unwrap_or(0);
        if n != set.len() {
            problems.push(format!(
                "folder {folder}: {n} messages listed, {} expected",
                set.len()
            ));
        }
    }
    for (folder, n) in &per_folder {
        if !expected.contains_key(*folder) {
            problems.push(format!("folder {folder}: {n} unexpected messages"));
        }
    }
    let mut found: HashSet<(String, ContentHash)> = HashSet::new();
    let mut ids = HashMap::new();
    for (folder, id) in &listed {
        let r = cat(data, id);
        if r.code() != Some(0) {
            problems.push(format!("cat {id} ({folder}) failed: {}", r.stderr.trim()));
            continue;
        }
        let h = ContentHash::of(&r.stdout);
        if !expected.get(folder).is_some_and(|set| set.contains(&h)) {
            problems.push(format!(
                "cat {id} ({folder}): {} bytes that are not a message of this folder",
                r.stdout.len()
            ));
        } else if !found.insert((folder.clone(), h)) {
            problems.push(format!(
                "cat {id} ({folder}): the same message is listed twice in the folder"
            ));
        }
        ids.insert(id.clone(), h);
    }
    let missing = distinct(expected).saturating_sub(found.len());
    if missing > 0 {
        problems.push(format!("{missing} expected messages not found"));
    }
    assert!(
        problems.is_empty(),
        "{context}: the archive does not hold exactly the corpus ({} listed, {} expected):\n  {}",
        listed.len(),
        distinct(expected),
        problems
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    ids
}

/// The only store directory of a fresh data directory: `DATA/stores/<YYYY-MM>`.
fn store_dir(data: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = fs::read_dir(data.join("stores"))
        .expect("stores/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "expected one store directory: {dirs:?}");
    dirs.into_iter().next().expect("one")
}

fn pack_file(data: &Path) -> PathBuf {
    let p = store_dir(data).join("packs").join("000001.pack");
    assert!(p.is_file(), "{} missing", p.display());
    p
}

/// xorshift64*: a tiny deterministic PRNG for fault schedules.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

// ---------------------------------------------------------------------------------------------
// 1. SIGKILL during imports, many times
// ---------------------------------------------------------------------------------------------

/// Kills `arkiv import` at random moments, runs `verify` after every kill, then completes the
/// import and proves nothing was lost or archived twice.
#[test]
fn kill_9_during_import_many_times() {
    const ROUNDS: usize = 20;
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let corpus = tmp.path().join("corpus");
    let data = tmp.path().join("data");
    // ~1,000 attachment-heavy messages (~45 MB): a full debug-build import takes ~5 s, so the
    // kills land while blobs are being appended and batches committed; `verify` after each
    // kill stays affordable.
    let expected = write_corpus(&spec(1000, 0xC0FFEE, Profile::AttachmentHeavy), &corpus);
    init(&data);

    let seed = std::env::var("ARKIV_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15u64);
    eprintln!("kill schedule seed: {seed} (set ARKIV_FAULTS_SEED to replay another)");
    let mut rng = XorShift(seed.max(1));
    let mut kills_mid_run = 0;
    let mut last_blobs_unreferenced = 0;
    for round in 0..ROUNDS {
        let delay = rng.range(50, 1500);
        let child = spawn(&data, &import_args(&corpus));
        std::thread::sleep(Duration::from_millis(delay));
        let (killed, run) = child.kill();
        if killed {
            kills_mid_run += 1;
        } else {
            // It finished before the kill: it must have succeeded.
            run.ok();
        }
        let report = assert_verify_clean(
            &data,
            &format!("after kill {round} at {delay} ms (killed mid-run: {killed})"),
        );
        last_blobs_unreferenced = report["stores"][0]["unreferenced_blobs"]
            .as_u64()
            .unwrap_or(0);
    }
    eprintln!(
        "{kills_mid_run} of {ROUNDS} kills hit a running import; {last_blobs_unreferenced} unreferenced blobs; {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // In a release build the import may be over before most kills; the debug build (what
    // `cargo test` runs) must be slow enough for the kills to matter.
    assert!(
        !cfg!(debug_assertions) || kills_mid_run >= ROUNDS / 3,
        "only {kills_mid_run} of {ROUNDS} kills hit a running import: the corpus is too small for this machine"
    );

    let report = import(&data, &corpus);
    eprintln!(
        "completing import: archived {}, already archived {}, moved {}",
        report["archived"], report["already_archived"], report["moved"]
    );
    assert_eq!(report["moved"], 0, "nothing moved in the source: {report}");
    assert_verify_clean(&data, "after the completing import");
    assert_holds_exactly(&data, &expected, "after kills and a completing import");

    let again = import(&data, &corpus);
    assert_eq!(again["archived"], 0, "second full import: {again}");
    assert_eq!(again["moved"], 0, "second full import: {again}");
    assert_eq!(
        again["already_archived"], again["messages"],
        "second full import: {again}"
    );
    eprintln!("kill test: {:.1} s", started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------------
// 2. A flipped byte in a pack file
// ---------------------------------------------------------------------------------------------

#[test]
fn flipped_pack_byte_is_found_and_never_served() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let corpus = tmp.path().join("corpus");
    let data = tmp.path().join("data");
    let expected = write_corpus(&spec(80, 11, Profile::AttachmentHeavy), &corpus);
    init(&data);
    import(&data, &corpus);
    let before = assert_holds_exactly(&data, &expected, "before the corruption");

    let pack = pack_file(&data);
    let mut bytes = fs::read(&pack).expect("read pack");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5A;
    fs::write(&pack, &bytes).expect("write pack");

    let r = arkiv(&data, &["verify", "--json"]).expect_code(2);
    let report = r.json();
    assert_eq!(report["clean"], false, "{report}");
    let named = named_by_verify(&report);
    assert!(
        !named.is_empty(),
        "verify found a problem at pack byte {mid} but names no message: {report}"
    );
    eprintln!(
        "flipped byte {mid} of {}: {} of {} messages named",
        bytes.len(),
        named.len(),
        before.len()
    );
    for (id, hash) in &before {
        let r = cat(&data, id);
        if named.contains(id) {
            assert_ne!(r.code(), Some(0), "cat {id} (named by verify) succeeded");
            assert!(
                r.stdout.is_empty(),
                "cat {id} (damaged) printed {} bytes",
                r.stdout.len()
            );
            assert!(
                r.stderr.contains(id.as_str()) || r.stderr.contains("damaged"),
                "cat {id}: unclear error: {}",
                r.stderr
            );
        } else {
            let r = r.ok();
            assert_eq!(
                ContentHash::of(&r.stdout),
                *hash,
                "cat {id} (not named by verify) returned other bytes"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. A torn tail after the last commit
// ---------------------------------------------------------------------------------------------

#[test]
fn torn_pack_tail_is_cut_off_on_next_write() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    let mut expected = write_corpus(&spec(60, 21, Profile::AttachmentHeavy), &first);
    init(&data);
    import(&data, &first);

    // A crash in the middle of an append: garbage past the committed length.
    let pack = pack_file(&data);
    let committed = fs::metadata(&pack).expect("pack").len();
    let mut garbage = vec![0u8; 10_000];
    let mut rng = XorShift(77);
    for b in garbage.iter_mut() {
        *b = rng.next() as u8;
    }
    OpenOptions::new()
        .append(true)
        .open(&pack)
        .expect("open pack")
        .write_all(&garbage)
        .expect("append");
    assert_verify_clean(&data, "with a torn tail (before any write)");

    merge(
        &mut expected,
        write_corpus(&spec(60, 22, Profile::AttachmentHeavy), &second),
    );
    let report = import(&data, &second);
    assert!(
        report["archived"].as_u64().unwrap_or(0) > 0,
        "second import archived nothing: {report}"
    );
    assert_verify_clean(&data, "after importing over a torn tail");
    assert_holds_exactly(&data, &expected, "after importing over a torn tail");
    let len = fs::metadata(&pack).expect("pack").len();
    assert!(len > committed, "the pack did not grow");
    // The garbage must not survive in the middle of the pack.
    let bytes = fs::read(&pack).expect("read pack");
    assert!(
        !bytes.windows(64).any(|w| w == &garbage[..64]),
        "the torn tail is still inside the pack"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Wrong, missing and recovered key files
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_or_missing_key_file_and_recovery() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let corpus = tmp.path().join("corpus");
    let data = tmp.path().join("data");
    let other = tmp.path().join("other");
    let expected = write_corpus(&spec(30, 31, Profile::TextOnly), &corpus);
    let recovery = init(&data);
    let other_recovery = init(&other);
    import(&data, &corpus);
    let before = assert_holds_exactly(&data, &expected, "before the key tests");
    let (some_id, some_hash) = before
        .iter()
        .next()
        .map(|(i, h)| (i.clone(), *h))
        .expect("a message");

    // A key file of another data directory unlocks nothing.
    let foreign = other.join("arkiv.key");
    let commands: Vec<Vec<&str>> = vec![
        vec!["ls", "alice"],
        vec!["cat", some_id.as_str()],
        vec!["verify"],
        vec!["stats"],
        vec!["user", "list"],
        import_args(&corpus),
    ];
    for cmd in &commands {
        let mut args = vec!["--key-file", s(&foreign)];
        args.extend(cmd.iter().copied());
        let r = arkiv(&data, &args).expect_code(1);
        assert!(
            r.stderr.contains("does not unlock"),
            "`{}` with a foreign key file: {}",
            r.what,
            r.stderr
        );
        assert!(r.stdout.is_empty(), "`{}` printed output", r.what);
    }

    // A missing key file says how to get back in.
    let key = data.join("arkiv.key");
    let saved = tmp.path().join("saved.key");
    fs::rename(&key, &saved).expect("move key file away");
    for cmd in &commands {
        let r = arkiv(&data, cmd).expect_code(1);
        assert!(
            r.stderr.contains("recover"),
            "`{}` without a key file: {}",
            r.what,
            r.stderr
        );
    }

    // Wrong recovery keys are refused and write nothing.
    let r = arkiv(&data, &["recover", "--recovery-key", &other_recovery]).expect_code(1);
    assert!(
        r.stderr.contains("recovery key") && r.stderr.contains("not valid"),
        "recover with another directory's key: {}",
        r.stderr
    );
    let r = arkiv(&data, &["recover", "--recovery-key", "ARKIV-NOT-A-KEY"]).expect_code(1);
    assert!(
        r.stderr.contains("recovery key"),
        "recover with a malformed key: {}",
        r.stderr
    );
    assert!(!key.exists(), "a failed recover wrote a key file");
    arkiv(&data, &["ls", "alice"]).expect_code(1);

    // The right recovery key (any case, spaces or dashes) restores access.
    let typed = recovery.to_lowercase().replace('-', " ");
    arkiv(&data, &["recover", "--recovery-key", &typed]).ok();
    assert!(key.is_file(), "recover wrote no key file");
    let r = cat(&data, &some_id).ok();
    assert_eq!(ContentHash::of(&r.stdout), some_hash);
    assert_holds_exactly(&data, &expected, "after recovery");
    assert_verify_clean(&data, "after recovery");

    // The old key file no longer opens the archive; a wrong recovery key now breaks nothing.
    let r = arkiv(&data, &["--key-file", s(&saved), "ls", "alice"]).expect_code(1);
    assert!(
        r.stderr.contains("does not unlock"),
        "old key file: {}",
        r.stderr
    );
    arkiv(&data, &["recover", "--recovery-key", &other_recovery]).expect_code(1);
    let r = cat(&data, &some_id).ok();
    assert_eq!(ContentHash::of(&r.stdout), some_hash);
}

// ---------------------------------------------------------------------------------------------
// 5. A store directory that is gone
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_store_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let corpus = tmp.path().join("corpus");
    let more = tmp.path().join("more");
    let data = tmp.path().join("data");
    let expected = write_corpus(&spec(40, 41, Profile::TextOnly), &corpus);
    write_corpus(&spec(20, 42, Profile::TextOnly), &more);
    init(&data);
    import(&data, &corpus);
    assert_holds_exactly(&data, &expected, "before moving the store away");

    let dir = store_dir(&data);
    let away = tmp.path().join("away");
    fs::rename(&dir, &away).expect("move the store away");

    let r = arkiv(&data, &import_args(&more)).expect_code(1);
    assert!(
        r.stderr.contains(s(&dir)),
        "import without its store should name {}: {}",
        dir.display(),
        r.stderr
    );

    // A closed store is never shown as an empty one: stats, ls and search exit 3 and say which
    // store is missing and why (issue 15: `ls` printed "(0 messages)" with exit 0).
    let r = arkiv(&data, &["stats", "--json"]).expect_code(3);
    let stats = r.json();
    assert_eq!(
        stats["unavailable_stores"][0]["store"], 1,
        "stats --json should list the unavailable store: {stats}"
    );
    let err = stats["stores"][0]["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("missing") && err.contains(s(&dir)),
        "stats should show the store error: {stats}"
    );
    let r = arkiv(&data, &["stats"]).expect_code(3);
    assert!(
        String::from_utf8_lossy(&r.stdout).contains("missing"),
        "stats (text) should show the store error:\n{}",
        String::from_utf8_lossy(&r.stdout)
    );
    for args in [
        &["ls", "alice", "--recursive"][..],
        &["ls", "alice", "--recursive", "--json"],
        &["search", "--user", "alice", "the"],
        &["search", "--user", "alice", "the", "--json"],
    ] {
        let r = arkiv(&data, args).expect_code(3);
        assert!(
            r.stderr.contains("unavailable") && r.stderr.contains(s(&dir)),
            "{args:?} with a missing store must say so on stderr: {}",
            r.stderr
        );
    }
    let r = arkiv(&data, &["verify", "--json"]).expect_code(2);
    assert_eq!(r.json()["clean"], false, "verify with a missing store");

    fs::rename(&away, &dir).expect("move the store back");
    assert_verify_clean(&data, "after moving the store back");
    assert_holds_exactly(&data, &expected, "after moving the store back");
}

// ---------------------------------------------------------------------------------------------
// 6. One process per data directory
// ---------------------------------------------------------------------------------------------

#[test]
fn second_process_is_locked_out() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let corpus = tmp.path().join("corpus");
    let data = tmp.path().join("data");
    write_corpus(&spec(4000, 51, Profile::TextOnly), &corpus);
    init(&data);

    let mut child = spawn(&data, &import_args(&corpus));
    let pid = child.child.id().to_string();
    // The lock file holds the pid once the lock is taken.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let holder = fs::read_to_string(data.join("arkiv.lock")).unwrap_or_default();
        if holder.trim() == pid {
            break;
        }
        if let Some(st) = child.child.try_wait().expect("try_wait") {
            panic!("the import ended ({st}) before the test saw it take the lock");
        }
        assert!(Instant::now() < deadline, "the import never took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    let r = arkiv(&data, &["ls", "alice"]).expect_code(1);
    assert!(
        r.stderr.contains("in use by another Arkiv process"),
        "second process: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&pid),
        "the message should name pid {pid}: {}",
        r.stderr
    );
    let still_running = child.child.try_wait().expect("try_wait").is_none();
    let (killed, _) = child.kill();
    assert!(
        still_running && killed,
        "the import finished before the second process ran: make the corpus larger"
    );
    // The lock dies with its holder.
    arkiv(&data, &["ls", "alice"]).ok();
    assert_verify_clean(&data, "after killing the lock holder");
}

// ---------------------------------------------------------------------------------------------
// 7. A full disk
// ---------------------------------------------------------------------------------------------

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Mount {
    fs::create_dir_all(dir).expect("mount point");
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output();
    match out {
        Ok(o) if o.status.success() => Mount(dir.to_path_buf()),
        Ok(o) => panic!(
            "the full-disk test needs to mount a {size} tmpfs (root, or CAP_SYS_ADMIN) and could not: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!(
            "the full-disk test needs `mount -t tmpfs` (root, or CAP_SYS_ADMIN) and could not run it: {e}"
        ),
    }
}

#[test]
fn full_disk_fails_cleanly_and_keeps_what_was_committed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let small = tmp.path().join("small");
    let big = tmp.path().join("big");
    // 60 messages fit (~1.6 MB stored); ~600 attachment-heavy messages (~27 MB of mail, ~13 MB
    // stored) do not.
    let mut expected = write_corpus(&spec(60, 60, Profile::AttachmentHeavy), &small);
    let first = expected.clone();
    merge(
        &mut expected,
        write_corpus(&spec(600, 61, Profile::AttachmentHeavy), &big),
    );
    let disk = tmp.path().join("disk");
    let _mount = mount_tmpfs(&disk, "8m");
    let data = disk.join("data");
    init(&data);
    import(&data, &small);

    let r = arkiv(&data, &import_args(&big)).expect_code(1);
    assert!(
        r.stderr.contains("No space left on device"),
        "a full disk should be reported as such: {}",
        r.stderr
    );
    eprintln!("full disk: {}", r.stderr.trim());

    // Still on the full disk: what was committed is intact, nothing is there twice, and the
    // first import is complete.
    assert_verify_clean(&data, "after running out of space");
    let listed = listing(&data);
    let mut seen = HashSet::new();
    for (folder, id) in &listed {
        let r = cat(&data, id).ok();
        let h = ContentHash::of(&r.stdout);
        assert!(
            expected.get(folder).is_some_and(|set| set.contains(&h)),
            "cat {id} ({folder}) returned bytes that are not a message of this folder"
        );
        assert!(
            seen.insert((folder.clone(), h)),
            "{id} ({folder}) listed twice"
        );
    }
    for (folder, set) in &first {
        for h in set {
            assert!(
                seen.contains(&(folder.clone(), *h)),
                "a message of the first import in {folder} is gone after the disk filled up"
            );
        }
    }
    eprintln!(
        "full disk: {} of {} messages listed",
        listed.len(),
        distinct(&expected)
    );

    // With space again, the same import completes.
    let ok = Command::new("mount")
        .args(["-o", "remount,size=128m"])
        .arg(&disk)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot grow the tmpfs");
    import(&data, &big);
    assert_verify_clean(&data, "after freeing space and importing again");
    assert_holds_exactly(&data, &expected, "after freeing space and importing again");
}

// ---------------------------------------------------------------------------------------------
// 8. Damage is contained (issue 15): packs cut short or overwritten outside Arkiv
// ---------------------------------------------------------------------------------------------

/// What a user sees of a damaged store: `ls` (exit 0) lists every message, damaged ones
/// flagged; `verify` (exit 2) names exactly those; every other message `cat`s byte for byte;
/// a damaged one fails with an error naming it. Returns the ids named damaged.
fn assert_damage_contained(
    data: &Path,
    before: &HashMap<String, ContentHash>,
    context: &str,
) -> HashSet<String> {
    let r = arkiv(data, &["verify", "--json"]).expect_code(2);
    let report = r.json();
    let named = named_by_verify(&report);
    assert!(
        report["unavailable"].as_array().is_some_and(Vec::is_empty),
        "{context}: the store must open: {report}"
    );
    assert!(
        !named.is_empty(),
        "{context}: verify names no message: {report}"
    );
    assert!(
        named.len() < before.len(),
        "{context}: every message named damaged ({}): the intact ones are hidden",
        named.len()
    );
    let r = arkiv(data, &["ls", "alice", "--recursive", "--json"]).ok();
    let mut listed = HashMap::new();
    for folder in r.json().as_array().expect("ls --json prints an array") {
        for m in folder["messages"].as_array().expect("messages") {
            let id = m["id"].as_str().expect("id").to_string();
            listed.insert(id, m["damaged"].as_str().map(str::to_string));
        }
    }
    assert_eq!(
        listed.len(),
        before.len(),
        "{context}: ls must list every message, damaged or not"
    );
    for (id, hash) in before {
        let r = cat(data, id);
        if named.contains(id) {
            assert!(
                listed[id].is_some(),
                "{context}: {id} is damaged but ls does not flag it"
            );
            assert_ne!(r.code(), Some(0), "{context}: cat {id} (damaged) succeeded");
            assert!(r.stdout.is_empty(), "{context}: cat {id} printed bytes");
            assert!(
                r.stderr.contains(id.as_str()) && r.stderr.contains("damaged"),
                "{context}: cat {id}: unclear error: {}",
                r.stderr
            );
        } else {
            assert!(
                listed[id].is_none(),
                "{context}: {id} is intact but flagged: {:?}",
                listed[id]
            );
            let r = r.ok();
            assert_eq!(
                ContentHash::of(&r.stdout),
                *hash,
                "{context}: cat {id} returned other bytes"
            );
        }
    }
    named
}

/// The longest word of a listed message's subject (to search for it).
fn subject_word(data: &Path, id: &str) -> String {
    let subject = arkiv(data, &["ls", "alice", "--recursive", "--json"])
        .ok()
        .json()
        .as_array()
        .expect("folders")
        .iter()
        .flat_map(|f| f["messages"].as_array().cloned().unwrap_or_default())
        .find(|m| m["id"] == id)
        .and_then(|m| m["subject"].as_str().map(str::to_string))
        .expect("the message is listed");
    subject
        .split(|c: char| !c.is_alphanumeric())
        .max_by_key(|w| w.len())
        .expect("a word")
        .to_string()
}

/// A pack cut short inside its committed length (a disk that lied, a backup restored cut
/// short) closed the whole store: `ls` printed "(0 messages)", `verify` "0 damaged messages".
/// Now only the messages in the lost range are damaged, the store takes new mail (in a new
/// pack: the short one is never written to), and the rest reads byte for byte.
#[test]
fn a_pack_cut_short_costs_only_the_messages_in_the_lost_range() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let corpus = tmp.path().join("corpus");
    let more = tmp.path().join("more");
    let data = tmp.path().join("data");
    let expected = write_corpus(&spec(120, 151, Profile::AttachmentHeavy), &corpus);
    let second = write_corpus(&spec(30, 152, Profile::AttachmentHeavy), &more);
    init(&data);
    import(&data, &corpus);
    let before = assert_holds_exactly(&data, &expected, "before cutting the pack");

    let pack = pack_file(&data);
    let len = fs::metadata(&pack).expect("pack").len();
    let cut = len * 3 / 4;
    OpenOptions::new()
        .write(true)
        .open(&pack)
        .expect("open pack")
        .set_len(cut)
        .expect("truncate");

    let stats = arkiv(&data, &["stats", "--json"]).ok().json();
    assert!(
        stats["stores"][0]["short_packs"][0]
            .as_str()
            .is_some_and(|p| p.contains(&format!("{cut} of {len}"))),
        "stats must show the short pack: {stats}"
    );
    let damaged = assert_damage_contained(&data, &before, "pack cut to 3/4");
    assert!(
        stats["stores"][0]["damaged_messages"].as_u64() == Some(damaged.len() as u64),
        "stats counts {} damaged messages, verify names {}",
        stats["stores"][0]["damaged_messages"],
        damaged.len()
    );
    eprintln!(
        "pack cut from {len} to {cut} bytes: {} of {} messages damaged",
        damaged.len(),
        before.len()
    );
    // Search still works, and finds damaged messages by their headers.
    let some = damaged.iter().next().expect("one damaged");
    let word = subject_word(&data, some);
    let query = format!("subject:{word}");
    let r = arkiv(&data, &["search", "--user", "alice", "--json", &query]).ok();
    assert!(
        r.json()["hits"].as_array().is_some_and(|h| h
            .iter()
            .any(|m| m["id"] == some.as_str() && m["damaged"].is_string())),
        "search subject:{word} must find the damaged message {some}, flagged: {}",
        r.json()
    );

    // New mail goes on in a new pack; the short one is left as it is.
    import(&data, &more);
    assert_eq!(fs::metadata(&pack).expect("pack").len(), cut);
    assert!(
        pack.with_file_name("000002.pack").is_file(),
        "no new pack after the short one"
    );
    let new_hashes: HashSet<ContentHash> = second.values().flatten().copied().collect();
    let mut all = before.clone();
    for (folder, id) in listing(&data) {
        if before.contains_key(&id) {
            continue;
        }
        let h = ContentHash::of(&cat(&data, &id).ok().stdout);
        assert!(
            new_hashes.contains(&h),
            "new message {id} in {folder} is not one of the second corpus"
        );
        all.insert(id, h);
    }
    assert_eq!(all.len(), before.len() + distinct(&second));
    let after = assert_damage_contained(&data, &all, "after importing more");
    assert_eq!(after, damaged, "new mail must not share the damaged blobs");
}

/// Zeroing the first 4 KiB of the only pack made the store refuse to open ("packs … do not
/// belong to this store's database"): all of it unreachable. Now only the messages whose
/// blobs lay there are damaged.
#[test]
fn a_zeroed_pack_start_costs_only_the_messages_stored_there() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let corpus = tmp.path().join("corpus");
    let data = tmp.path().join("data");
    let expected = write_corpus(&spec(120, 161, Profile::TextOnly), &corpus);
    init(&data);
    import(&data, &corpus);
    let before = assert_holds_exactly(&data, &expected, "before zeroing the pack's start");

    let pack = pack_file(&data);
    let mut f = OpenOptions::new()
        .write(true)
        .open(&pack)
        .expect("open pack");
    f.write_all(&[0u8; 4096]).expect("zero");
    drop(f);
    let damaged = assert_damage_contained(&data, &before, "first 4 KiB zeroed");
    eprintln!(
        "first 4 KiB zeroed: {} of {} messages damaged",
        damaged.len(),
        before.len()
    );
    // Verify's findings are kept: after a restart the listing still flags them.
    let r = arkiv(&data, &["ls", "alice", "--recursive"]).ok();
    let text = String::from_utf8_lossy(&r.stdout);
    assert_eq!(
        text.matches("[DAMAGED").count(),
        damaged.len(),
        "ls must flag each damaged message:\n{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// 9. Crashes and errors at exact system calls (strace fault injection, issue 15)
// ---------------------------------------------------------------------------------------------

/// Runs `arkiv` under `strace -f`, injecting `inject` (e.g. `fsync:signal=SIGKILL:when=3`, or
/// `fsync:error=EIO`). Returns whether the process was killed, and the run.
fn arkiv_under_strace(data: &Path, inject: &str, args: &[&str]) -> (bool, Run) {
    let strace = Command::new("strace").arg("-V").output();
    assert!(
        strace.is_ok_and(|o| o.status.success()),
        "the fault-injection tests need strace: apt-get install strace (scripts/test installs it)"
    );
    let sys = inject.split(':').next().expect("syscall set");
    let mut c = Command::new("strace");
    c.args(["-f", "-o", "/dev/null", "-e"])
        .arg(format!("trace={sys}"))
        .arg("-e")
        .arg(format!("inject={inject}"))
        .arg(env!("CARGO_BIN_EXE_arkiv"));
    let (inner, what) = command(data, args);
    c.args(inner.get_args());
    for var in ARKIV_VARS {
        c.env_remove(var);
    }
    c.stdin(Stdio::null());
    let out = c.output().expect("run strace");
    let killed = out.status.signal() == Some(9) || out.status.code() == Some(137);
    (
        killed,
        Run {
            what: format!("strace -e inject={inject} {what}"),
            status: out.status,
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
    )
}

/// A store creation killed before each of its syncs (the power-loss points: every directory
/// and database sync) leaves either a registered, clean store or nothing: a directory that a
/// creation cut short before its registration is removed at the next open (it used to stay,
/// reported by nothing).
#[test]
fn a_store_creation_killed_at_any_sync_leaves_a_whole_store_or_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    init(&data);
    let mut killed_at = 0;
    for sys in ["fsync", "fdatasync"] {
        for k in 1..=60 {
            let name = format!("{sys}-{k}");
            let (killed, r) = arkiv_under_strace(
                &data,
                &format!("{sys}:signal=SIGKILL:when={k}"),
                &["store", "create", "--name", &name],
            );
            // The next command (a writable open) tidies up.
            let list = arkiv(&data, &["store", "list", "--json"]).ok().json();
            let registered = list
                .as_array()
                .expect("store list --json prints an array")
                .iter()
                .any(|s| s["name"] == name.as_str());
            let dir = data.join("stores").join(&name);
            if registered {
                assert!(
                    dir.join("store.redb").is_file(),
                    "{name}: registered without its database"
                );
            } else {
                assert!(
                    !dir.exists(),
                    "{name}: killed at {sys} #{k}, not registered, but its directory stays"
                );
            }
            if !killed {
                r.ok();
                assert!(registered, "{name}: created but not listed");
                break;
            }
            killed_at += 1;
        }
    }
    assert!(killed_at >= 10, "only {killed_at} kill points were reached");
    assert_verify_clean(&data, "after store creations killed at every sync");
    let audit = fs::read_to_string(data.join("audit.log")).expect("audit.log");
    assert!(
        audit.contains("orphan store directory removed"),
        "no orphan was ever removed: the kill points missed the window"
    );
}

/// The sync of the pack directory (which makes a new pack file's name durable) failing used
/// to be ignored, so the import was acknowledged while a power loss could still lose its pack.
/// Now the error fails the commit; nothing is half archived and a later run archives it all.
#[test]
fn a_failing_directory_sync_fails_the_commit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let corpus = tmp.path().join("corpus");
    let data = tmp.path().join("data");
    let expected = write_corpus(&spec(30, 171, Profile::TextOnly), &corpus);
    init(&data);
    let (killed, r) = arkiv_under_strace(&data, "fsync:error=EIO", &import_args(&corpus));
    assert!(!killed);
    assert_ne!(
        r.code(),
        Some(0),
        "the import was acknowledged although its pack directory could not be synced:\n{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("packs") && r.stderr.contains("Input/output error"),
        "the error must name the directory: {}",
        r.stderr
    );
    assert_verify_clean(&data, "after a failed directory sync");
    import(&data, &corpus);
    assert_verify_clean(&data, "after importing again");
    assert_holds_exactly(&data, &expected, "after importing again");
}

// ---------------------------------------------------------------------------------------------
// 10. A lost or broken store database, rebuilt from the recovery records (issue 15)
// ---------------------------------------------------------------------------------------------

/// `store.redb` removed, or its first pages overwritten: the store is reported unavailable
/// (never empty), `arkiv store recover` rebuilds it from the packs alone, and the archive holds
/// exactly what it held, byte for byte, searchable, with `verify` clean.
#[test]
fn a_lost_or_broken_store_database_is_recovered_from_the_packs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let corpus = tmp.path().join("corpus");
    let data = tmp.path().join("data");
    let expected = write_corpus(&spec(150, 181, Profile::AttachmentHeavy), &corpus);
    init(&data);
    import(&data, &corpus);
    let before = assert_holds_exactly(&data, &expected, "before losing the database");
    let db = store_dir(&data).join("store.redb");

    for damage in ["removed", "overwritten"] {
        match damage {
            "removed" => fs::remove_file(&db).expect("remove store.redb"),
            _ => {
                let mut f = OpenOptions::new().write(true).open(&db).expect("open");
                f.write_all(&[0xA5; 16384]).expect("overwrite");
            }
        }
        let r = arkiv(&data, &["ls", "alice", "--recursive"]).expect_code(3);
        assert!(
            r.stderr.contains("unavailable"),
            "{damage}: ls must say the store is unavailable: {}",
            r.stderr
        );
        let r = arkiv(&data, &["store", "recover", "1", "--json"]).ok();
        let report = r.json();
        assert_eq!(
            report["messages"].as_u64(),
            Some(before.len() as u64),
            "{damage}: {report}"
        );
        if damage == "overwritten" {
            assert!(
                report["oldDatabase"]
                    .as_str()
                    .is_some_and(|p| p.contains("store.redb.broken-")),
                "the broken database must be kept aside: {report}"
            );
        }
        assert_verify_clean(&data, &format!("after recovering a {damage} database"));
        let after = assert_holds_exactly(&data, &expected, "after recovery");
        assert_eq!(after, before, "{damage}: message ids changed");
        let id = before.keys().next().expect("a message");
        let query = format!("subject:{}", subject_word(&data, id));
        let r = arkiv(&data, &["search", "--user", "alice", "--json", &query]).ok();
        assert!(
            r.json()["hits"]
                .as_array()
                .is_some_and(|h| h.iter().any(|m| m["id"] == id.as_str())),
            "{damage}: search {query} does not find {id} after recovery"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 11. Master recovery: key file, keyring and master database lost (issue 15)
// ---------------------------------------------------------------------------------------------

/// A well-formed recovery key that is no installation's.
const WRONG_RECOVERY_KEY: &str =
    "ARKIV-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA";

/// `arkiv recover --recovery-key KEY --admin-password ... --json` (must succeed): its report.
fn recover_json(data: &Path, recovery: &str) -> Value {
    arkiv(
        data,
        &[
            "recover",
            "--recovery-key",
            recovery,
            "--admin-password",
            PASSWORD,
            "--json",
        ],
    )
    .ok()
    .json()
}

/// With `keyring.json`, `arkiv.key` and `master.redb` all gone, `arkiv recover` used to fail
/// (it read the keyring). Now the recovery key opens a store's copy of the master key, the
/// master database is made anew from the stores (two of them here), every message is back in
/// its folder byte for byte, and the archive's user is back without a password. A damaged
/// master database alone is rebuilt the same way and kept aside.
#[test]
fn master_recovery_after_losing_the_keyring_and_the_master_database() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    let data = tmp.path().join("data");
    let mut expected = write_corpus(&spec(60, 191, Profile::AttachmentHeavy), &first);
    merge(
        &mut expected,
        write_corpus(&spec(40, 192, Profile::TextOnly), &second),
    );
    let recovery = init(&data);
    import(&data, &first);
    arkiv(
        &data,
        &["store", "create", "--name", "2099-01", "--current"],
    )
    .ok();
    import(&data, &second);
    assert_holds_exactly(&data, &expected, "before the disaster");

    for what in ["keyring.json", "arkiv.key", "master.redb"] {
        fs::remove_file(data.join(what)).expect(what);
    }
    let r = arkiv(&data, &["ls", "alice"]).expect_code(1);
    assert!(r.stderr.contains("recover"), "{}", r.stderr);
    let r = arkiv(&data, &["recover", "--recovery-key", WRONG_RECOVERY_KEY]).no_panic();
    assert_ne!(r.code(), Some(0), "a wrong recovery key restored access");
    let o = recover_json(&data, &recovery);
    assert_eq!(o["keyringRebuilt"], true, "{o}");
    assert_eq!(o["masterRebuilt"], true, "{o}");
    assert_eq!(o["stores"].as_array().map(Vec::len), Some(2), "{o}");
    assert!(
        o["usersWithoutPassword"]
            .as_array()
            .is_some_and(|u| u.iter().any(|n| n == "alice")),
        "{o}"
    );
    assert_holds_exactly(&data, &expected, "after master recovery");
    assert_verify_clean(&data, "after master recovery");
    let users = arkiv(&data, &["user", "list", "--json"]).ok().json();
    let alice = users
        .as_array()
        .and_then(|u| u.iter().find(|u| u["name"] == "alice"))
        .cloned()
        .expect("alice is back");
    assert_eq!(alice["has_password"], false, "{alice}");
    arkiv(
        &data,
        &[
            "user",
            "set-password",
            "alice",
            "--password",
            "Winter-2027y",
        ],
    )
    .ok();
    // New mail goes to the newest store.
    let stores = arkiv(&data, &["store", "list", "--json"]).ok().json();
    assert!(
        stores
            .as_array()
            .expect("stores")
            .iter()
            .any(|s| s["name"] == "2099-01" && s["status"] == "current"),
        "{stores}"
    );

    // A damaged master database (the key material intact): rebuilt, the old one kept aside.
    let mut f = OpenOptions::new()
        .write(true)
        .open(data.join("master.redb"))
        .expect("master.redb");
    f.write_all(&[0x5A; 8192]).expect("overwrite");
    drop(f);
    arkiv(&data, &["ls", "alice"]).expect_code(1);
    let o = recover_json(&data, &recovery);
    assert_eq!(
        (o["keyringRebuilt"].clone(), o["masterRebuilt"].clone()),
        (false.into(), true.into()),
        "{o}"
    );
    assert!(
        o["keptAside"].as_array().is_some_and(|k| k.iter().any(|p| p
            .as_str()
            .is_some_and(|p| p.contains("master.redb.broken-")))),
        "{o}"
    );
    assert_holds_exactly(
        &data,
        &expected,
        "after rebuilding a damaged master database",
    );
    assert_verify_clean(&data, "after rebuilding a damaged master database");
}

// ---------------------------------------------------------------------------------------------
// 12. RenewMasterKey, crashed at each step (issue 15)
// ---------------------------------------------------------------------------------------------

/// `arkiv` with extra environment variables (the failpoints).
fn arkiv_env(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let (mut c, what) = command(data, args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run arkiv");
    Run {
        what,
        status: out.status,
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The master key is renewed in three steps (stage every store's new wrap, commit the keyring,
/// promote); a crash after any of them leaves an archive that opens with the key file, holds
/// exactly what it held and verifies clean. Before the commit the old keyring still opens
/// everything; after it, the old keyring opens no store, and the recovery key still restores
/// access.
#[test]
fn renewing_the_master_key_is_crash_safe_at_every_step() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    let data = tmp.path().join("data");
    let mut expected = write_corpus(&spec(40, 201, Profile::TextOnly), &first);
    merge(
        &mut expected,
        write_corpus(&spec(30, 202, Profile::TextOnly), &second),
    );
    let recovery = init(&data);
    import(&data, &first);
    arkiv(
        &data,
        &["store", "create", "--name", "2099-01", "--current"],
    )
    .ok();
    import(&data, &second);
    // A disabled store takes part too.
    arkiv(&data, &["store", "create", "--name", "spare"]).ok();
    arkiv(&data, &["store", "set-status", "3", "disabled"]).ok();
    let before = assert_holds_exactly(&data, &expected, "before renewing");
    let keyring = data.join("keyring.json");
    let original = fs::read(&keyring).expect("keyring");

    // A wrong recovery key changes nothing.
    let r = arkiv(
        &data,
        &["renew-master-key", "--recovery-key", WRONG_RECOVERY_KEY],
    )
    .no_panic();
    assert_ne!(r.code(), Some(0));
    assert_eq!(fs::read(&keyring).expect("keyring"), original);

    // Crash after staging: the old keyring is in force and opens everything.
    let r = arkiv_env(
        &data,
        &["renew-master-key", "--recovery-key", &recovery],
        &[("ARKIV_FAILPOINT", "renew-master-key:staged")],
    );
    assert_eq!(
        r.status.signal(),
        Some(6),
        "the failpoint did not abort: {}",
        r.stderr
    );
    assert_eq!(fs::read(&keyring).expect("keyring"), original);
    assert_eq!(
        assert_holds_exactly(&data, &expected, "crashed after staging"),
        before
    );
    assert_verify_clean(&data, "crashed after staging");

    // Crash after the commit: the new keyring opens every store (by the staged wrap, put in
    // place at the next writable open), the disabled one too once enabled.
    let r = arkiv_env(
        &data,
        &["renew-master-key", "--recovery-key", &recovery],
        &[("ARKIV_FAILPOINT", "renew-master-key:committed")],
    );
    assert_eq!(
        r.status.signal(),
        Some(6),
        "the failpoint did not abort: {}",
        r.stderr
    );
    let renewed = fs::read(&keyring).expect("keyring");
    assert_ne!(renewed, original, "the keyring was not committed");
    assert_eq!(
        assert_holds_exactly(&data, &expected, "crashed after the commit"),
        before
    );
    assert_verify_clean(&data, "crashed after the commit");
    arkiv(&data, &["store", "set-status", "3", "normal"]).ok();
    let stats = arkiv(&data, &["stats", "--json"]).ok().json();
    assert!(
        stats["unavailable_stores"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{stats}"
    );
    // The old keyring no longer opens the stores.
    fs::write(&keyring, &original).expect("old keyring back");
    let r = arkiv(&data, &["stats", "--json"]).no_panic();
    assert_ne!(
        r.code(),
        Some(0),
        "the old master key still opens the stores"
    );
    fs::write(&keyring, &renewed).expect("new keyring back");

    // A whole renewal, then the recovery key restores access with a new key file.
    arkiv(&data, &["renew-master-key", "--recovery-key", &recovery]).ok();
    assert_eq!(
        assert_holds_exactly(&data, &expected, "after renewing"),
        before
    );
    fs::remove_file(data.join("arkiv.key")).expect("key file");
    arkiv(&data, &["recover", "--recovery-key", &recovery]).ok();
    assert_eq!(
        assert_holds_exactly(&data, &expected, "recovered after renewing"),
        before
    );
    assert_verify_clean(&data, "recovered after renewing");
}

/// After a renewal the master database has its own key, kept only in the keyring: losing the
/// keyring then loses that key, and master recovery makes the master database anew from the
/// stores (which the renewed master key, from a store's copy, opens).
#[test]
fn master_recovery_after_a_renewal_and_a_lost_keyring() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let corpus = tmp.path().join("corpus");
    let data = tmp.path().join("data");
    let expected = write_corpus(&spec(30, 211, Profile::TextOnly), &corpus);
    let recovery = init(&data);
    import(&data, &corpus);
    arkiv(&data, &["renew-master-key", "--recovery-key", &recovery]).ok();
    fs::remove_file(data.join("keyring.json")).expect("keyring");
    let o = recover_json(&data, &recovery);
    assert_eq!(
        (o["keyringRebuilt"].clone(), o["masterRebuilt"].clone()),
        (true.into(), true.into()),
        "{o}"
    );
    assert_holds_exactly(&data, &expected, "after recovery");
    assert_verify_clean(&data, "after recovery");
}
