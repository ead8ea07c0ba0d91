//! `arkiv bench smtp`: the SMTP journal receiver (`arkiv serve --listen-smtp`, a child
//! process) side by side with Postfix's `smtp-sink`, which accepts and throws away: the
//! protocol ceiling of this machine. With `--postfix`, a third column: a private Postfix that
//! queues every message and delivers it into a Maildir.
//!
//! The load is Postfix's `smtp-source` for every server: `-s` sessions at once, each sending
//! message after message over its connection (`-d`), HELO, one MAIL FROM and RCPT TO, DATA,
//! no pipelining, the body `-l` bytes of `X` lines. Each message it sends is distinct: its
//! `Message-Id` holds smtp-source's process id and a counter, so Arkiv's single-instance
//! storage (identical bytes in the same folder are one message: a sender's retry) keeps every
//! one. The envelope is that of a journal copy between two users: from `bob@example.test`
//! to `alice@example.test`, so Arkiv files each message in alice's Received and bob's Sent.
//!
//! Every run of Arkiv has a fresh data directory and a fresh server. Arkiv answers 250 only
//! after the message is durable (group commit across sessions) and indexes what it archives;
//! smtp-sink answers at once; Postfix answers after its queue file is fsynced and delivers
//! later (its column shows both). After each run the server is stopped (SIGTERM) and the
//! archive is checked: alice's and bob's archives hold exactly the messages answered 250,
//! none is left unindexed, and a search finds them all. The server's peak resident memory
//! (VmHWM) and peak anonymous memory (sampled every 10 ms) are measured from /proc.
//!
//! Figures, not assertions: the goals (>= 1,500 small messages/s at 32 sessions with indexing
//! on, >= 0.5x smtp-sink, peak memory < 300 MB) are printed beside them.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use arkiv_archive::access::Caller;
use arkiv_archive::search::SearchQuery;
use arkiv_archive::users::NewUser;
use arkiv_archive::{Archive, Config, InitOptions};
use serde::Serialize;

use crate::bench_imap::{AnonSampler, status_field};
use crate::output::{bytes, print_json};

const SMTP_SOURCE: &str = "/usr/sbin/smtp-source";
const SMTP_SINK: &str = "/usr/sbin/smtp-sink";
const POSTFIX: &str = "/usr/sbin/postfix";
const INSTALL: &str = "printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d; \
    chmod +x /usr/sbin/policy-rc.d; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y postfix";

const PASSWORD: &str = "Bench-Smtp-2026-harbor";
const SENDER: &str = "bob@example.test";
const RECIPIENT: &str = "alice@example.test";
/// smtp-source's HELO name (and the domain of its `Message-Id`s).
const HELO: &str = "source.example.test";

/// What `arkiv bench smtp` was asked for.
pub struct Options {
    /// Messages per run; `None`: 5,000 small, 1,000 medium.
    pub messages: Option<usize>,
    pub sizes: Vec<String>,
    pub concurrency: Vec<usize>,
    /// Also a private Postfix delivering into a Maildir (needs root).
    pub postfix: bool,
    /// Runs of each server at each size and concurrency (the median is reported).
    pub repeats: usize,
    /// Where the data directories go [default: a temporary directory]; kept when given.
    pub work: Option<PathBuf>,
    pub json: bool,
}

/// A message size: its name and smtp-source's payload (`-l`, the body without the headers).
struct Size {
    name: String,
    payload: usize,
    default_messages: usize,
}

fn size(name: &str) -> Result<Size> {
    let (payload, default_messages) = match name {
        "small" => (4 * 1024, 5000),
        "medium" => (100 * 1024, 1000),
        n => match n.parse::<usize>() {
            Ok(b) if b > 0 => (b, (5000 * 4096 / b).clamp(100, 5000)),
            _ => bail!("unknown size '{n}' (small, medium, or a body size in bytes)"),
        },
    };
    Ok(Size {
        name: name.to_string(),
        payload,
        default_messages,
    })
}

/// One server's run: smtp-source's wall time from its start to its end.
#[derive(Serialize, Default)]
struct Side {
    seconds: f64,
    /// Messages answered 250, and those refused (smtp-source's warnings, the first kept).
    accepted: usize,
    refused: usize,
    first_refusal: Option<String>,
    messages_per_second: f64,
    /// Of the message bodies (smtp-source's `-l`), without the headers.
    mb_per_second: f64,
}

/// What Arkiv did in a run besides answering.
#[derive(Serialize, Default)]
struct ArkivRun {
    #[serde(flatten)]
    side: Side,
    /// The server's resident memory before the load, its peak (VmHWM: from its start), and its
    /// peak anonymous memory (heap and stacks).
    idle_resident_bytes: u64,
    peak_resident_bytes: u64,
    peak_anon_bytes: u64,
    /// The archive after the server stopped: messages in alice's and bob's archives, the
    /// average message size there, messages not indexed, and hits of a search for them all.
    alice_messages: u64,
    bob_messages: u64,
    message_bytes: u64,
    unindexed: usize,
    search_hits: usize,
    /// Every check held (both archives hold exactly the accepted messages, all indexed), in
    /// every run; else what failed, per run.
    verified: bool,
    failed_checks: Vec<String>,
    /// The server's log lines at WARN or ERROR (the first 20 of all runs).
    log_warnings: Vec<String>,
}

/// Postfix: the time until smtp-source ended (every message queued and fsynced), and until
/// the Maildir held them all.
#[derive(Serialize, Default)]
struct PostfixRun {
    #[serde(flatten)]
    accepted: Side,
    delivered_seconds: f64,
    delivered: usize,
    delivered_per_second: f64,
}

#[derive(Serialize)]
struct Run {
    size: String,
    /// smtp-source's `-l`; the whole message is about 150 bytes of headers more.
    body_bytes: usize,
    concurrency: usize,
    messages: usize,
    /// Runs of each server; the median one is reported (Arkiv's peak memory: the largest).
    repeats: usize,
    sink: Side,
    arkiv: ArkivRun,
    postfix: Option<PostfixRun>,
    /// Arkiv's messages/s ÷ smtp-sink's (and ÷ Postfix's, queued and delivered).
    arkiv_vs_sink: f64,
    arkiv_vs_postfix_queued: Option<f64>,
    arkiv_vs_postfix_delivered: Option<f64>,
}

#[derive(Serialize)]
struct Report {
    generator: String,
    postfix_version: String,
    cores: usize,
    runs: Vec<Run>,
    all_verified: bool,
}

pub fn run(opts: Options) -> Result<ExitCode> {
    for tool in [SMTP_SOURCE, SMTP_SINK] {
        if !Path::new(tool).exists() {
            bail!("{tool} is needed (Postfix's test tools); install it with: {INSTALL}");
        }
    }
    let root = rustix::process::geteuid().is_root();
    if opts.postfix && (!root || !Path::new(POSTFIX).exists()) {
        bail!(
            "--postfix runs a private Postfix instance: it needs root and the postfix package \
             ({INSTALL})"
        );
    }
    let sizes = opts
        .sizes
        .iter()
        .map(|s| size(s.trim()))
        .collect::<Result<Vec<_>>>()?;
    if sizes.is_empty() || opts.concurrency.is_empty() || opts.concurrency.contains(&0) {
        bail!("give at least one size and concurrencies of 1 or more");
    }
    let tmp = tempfile::Builder::new()
        .prefix("arkiv-bench-smtp-")
        .tempdir()?;
    let work = opts
        .work
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&work)?;
    let work = std::fs::canonicalize(&work)?;
    let postfix_version = Command::new("/usr/sbin/postconf")
        .args(["-d", "-h", "mail_version"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();

    let mut runs = Vec::new();
    for s in &sizes {
        let n = opts.messages.unwrap_or(s.default_messages).max(1);
        for &c in &opts.concurrency {
            runs.push(measure(&opts, &work, s, n, c, root)?);
        }
    }
    let report = Report {
        generator: format!(
            "smtp-source (Postfix {postfix_version}) -d -s SESSIONS -m MESSAGES -l BODY: HELO, \
             no pipelining, every message distinct (Message-Id)"
        ),
        postfix_version,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        all_verified: runs.iter().all(|r| r.arkiv.verified),
        runs,
    };
    if opts.json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(match report.all_verified {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

/// One size at one concurrency: smtp-sink, Arkiv (and Postfix) in turn, `--repeats` times;
/// the median run of each by messages/s, Arkiv's peak memory the largest of its runs.
fn measure(opts: &Options, work: &Path, s: &Size, n: usize, c: usize, root: bool) -> Result<Run> {
    let label = format!("{}-c{c}", s.name);
    let repeats = opts.repeats.max(1);
    let (mut sinks, mut arkivs, mut postfixes) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..repeats {
        if !opts.json {
            eprintln!(
                "{}: {n} messages of {} body, {c} session(s), run {}/{repeats}: smtp-sink, arkiv{} ...",
                s.name,
                bytes(s.payload as u64),
                r + 1,
                if opts.postfix { ", postfix" } else { "" }
            );
        }
        // Each run starts with the previous one's writes on disk, not being written back.
        rustix::fs::sync();
        sinks.push(run_sink(n, s.payload, c, root)?);
        rustix::fs::sync();
        let data = work.join(format!("arkiv-{label}-{r}"));
        let _ = std::fs::remove_dir_all(&data);
        arkivs.push(run_arkiv(&data, n, s.payload, c)?);
        if opts.work.is_none() {
            let _ = std::fs::remove_dir_all(&data);
        }
        if opts.postfix {
            rustix::fs::sync();
            let dir = work.join(format!("postfix-{label}-{r}"));
            postfixes.push(run_postfix(&dir, n, s.payload, c)?);
            if opts.work.is_none() {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
    let peak = arkivs.iter().map(|a| a.peak_resident_bytes).max();
    let peak_anon = arkivs.iter().map(|a| a.peak_anon_bytes).max();
    let log_warnings: Vec<String> = arkivs
        .iter()
        .flat_map(|a| a.log_warnings.iter().cloned())
        .take(20)
        .collect();
    let failed_checks: Vec<String> = arkivs
        .iter()
        .flat_map(|a| a.failed_checks.iter().cloned())
        .collect();
    // Refusals in any run are reported, not only the median one's.
    let refusals = |sides: Vec<&Side>| {
        let n = sides.iter().map(|x| x.refused).sum::<usize>();
        (n, sides.into_iter().find_map(|x| x.first_refusal.clone()))
    };
    let sink_refused = refusals(sinks.iter().collect());
    let arkiv_refused = refusals(arkivs.iter().map(|a| &a.side).collect());
    let mut sink = median(sinks, |x| x.messages_per_second);
    (sink.refused, sink.first_refusal) = sink_refused;
    let mut arkiv = median(arkivs, |x| x.side.messages_per_second);
    (arkiv.side.refused, arkiv.side.first_refusal) = arkiv_refused;
    arkiv.peak_resident_bytes = peak.unwrap_or(0);
    arkiv.peak_anon_bytes = peak_anon.unwrap_or(0);
    arkiv.verified = failed_checks.is_empty();
    arkiv.failed_checks = failed_checks;
    arkiv.log_warnings = log_warnings;
    let postfix = (!postfixes.is_empty()).then(|| median(postfixes, |x| x.delivered_per_second));
    let ratio = |other: f64| arkiv.side.messages_per_second / other.max(f64::MIN_POSITIVE);
    Ok(Run {
        size: s.name.clone(),
        body_bytes: s.payload,
        concurrency: c,
        messages: n,
        repeats,
        arkiv_vs_sink: ratio(sink.messages_per_second),
        arkiv_vs_postfix_queued: postfix
            .as_ref()
            .map(|p| ratio(p.accepted.messages_per_second)),
        arkiv_vs_postfix_delivered: postfix.as_ref().map(|p| ratio(p.delivered_per_second)),
        sink,
        arkiv,
        postfix,
    })
}

/// The middle one of `runs` by `key`.
fn median<T>(mut runs: Vec<T>, key: impl Fn(&T) -> f64) -> T {
    runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
    runs.swap_remove(runs.len() / 2)
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something listens on `port`.
fn wait_listening(port: u16, what: &str, child: &mut Child) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("{what} exited ({status}) before it listened on port {port}");
        }
        if Instant::now() > deadline {
            bail!("{what} does not listen on port {port} after 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// smtp-source sends `n` messages with a body of `payload` bytes over `sessions` connections to
/// `127.0.0.1:port`; its wall time, and the messages it was refused.
fn source(port: u16, n: usize, payload: usize, sessions: usize) -> Result<Side> {
    let mut cmd = Command::new(SMTP_SOURCE);
    // -A: go on after a refusal (each is a warning on stderr, counted below).
    cmd.args(["-A", "-d", "-M", HELO, "-f", SENDER, "-t", RECIPIENT])
        .arg("-s")
        .arg(sessions.to_string())
        .arg("-m")
        .arg(n.to_string())
        .arg("-l")
        .arg(payload.to_string())
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().context("starting smtp-source")?;
    let mut err = child.stderr.take().context("smtp-source's stderr")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    // Generous: a server that hangs is reported, not waited for forever.
    let limit = Duration::from_secs(120) + Duration::from_millis(100 * n as u64);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "smtp-source did not finish {n} messages within {} s (the server hangs?)",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let seconds = started.elapsed().as_secs_f64();
    let stderr = reader.join().unwrap_or_default();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("warning:") || l.contains("fatal:"))
        .collect();
    if !status.success() {
        bail!("smtp-source failed ({status}): {}", stderr.trim());
    }
    let accepted = n.saturating_sub(warnings.len());
    Ok(Side {
        seconds,
        accepted,
        refused: warnings.len(),
        first_refusal: warnings.first().map(|w| w.to_string()),
        messages_per_second: accepted as f64 / seconds,
        mb_per_second: (accepted * payload) as f64 / seconds / 1e6,
    })
}

/// smtp-sink on a free port, the load, then smtp-sink stopped.
fn run_sink(n: usize, payload: usize, sessions: usize, root: bool) -> Result<Side> {
    let port = free_port()?;
    let mut cmd = Command::new(SMTP_SINK);
    if root {
        // It refuses to run as root without a user to switch to.
        cmd.args(["-u", "postfix"]);
    }
    cmd.arg(format!("127.0.0.1:{port}"))
        .arg("1024")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut sink = Killed(cmd.spawn().context("starting smtp-sink")?);
    wait_listening(port, "smtp-sink", &mut sink.0)?;
    source(port, n, payload, sessions).context("smtp-source against smtp-sink")
}

/// `arkiv serve` with only the SMTP journal receiver (and Web Access, which cannot be off) on
/// free ports; its log kept.
struct Server {
    child: Killed,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(data: &Path) -> Result<Server> {
        let mut child = Killed(
            Command::new(std::env::current_exe()?)
                .arg("--data")
                .arg(data)
                .args([
                    "serve",
                    "--listen-https",
                    "127.0.0.1:0",
                    "--listen-api",
                    "off",
                    "--listen-http",
                    "off",
                    "--listen-imap",
                    "off",
                    "--listen-imaps",
                    "off",
                    "--listen-smtp",
                    "127.0.0.1:0",
                    "--smtp-trusted-network",
                    "127.0.0.0/8",
                    "--smtp-plain-network",
                    "127.0.0.0/8",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .context("starting arkiv serve")?,
        );
        let err = child.0.stderr.take().context("the server's log")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("listening on smtp://").nth(1) {
                        let _ = tx.send(rest.to_string());
                    }
                    log.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            });
        }
        let rest = rx.recv_timeout(Duration::from_secs(30)).map_err(|_| {
            anyhow!(
                "arkiv serve did not start its SMTP receiver within 30 s; its log:\n{}",
                log.lock().unwrap_or_else(|p| p.into_inner()).join("\n")
            )
        })?;
        let port = rest
            .split(' ')
            .next()
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse::<u16>().ok())
            .with_context(|| format!("the SMTP port in the log line \"{rest}\""))?;
        Ok(Server { child, port, log })
    }

    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// SIGTERM, then waits for the orderly stop (killed after 60 s: reported).
    fn stop(mut self) -> Result<()> {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).context("the server's pid")?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.0.try_wait()? {
                if !status.success() {
                    bail!(
                        "arkiv serve stopped with {status}; its log ends:\n{}",
                        self.tail(20)
                    );
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "arkiv serve did not stop within 60 s of SIGTERM; its log ends:\n{}",
                    self.tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn tail(&mut self, n: usize) -> String {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log[log.len().saturating_sub(n)..].join("\n")
    }
}

/// A fresh data directory with alice and bob (the envelope's recipient and sender), a server
/// on it, the load, then the server stopped and the archive checked.
fn run_arkiv(data: &Path, n: usize, payload: usize, sessions: usize) -> Result<ArkivRun> {
    let (archive, _) = Archive::init(
        data,
        InitOptions {
            admin_password: PASSWORD.into(),
            config: Config::default(),
            key_file: None,
        },
    )?;
    for (name, email) in [("alice", RECIPIENT), ("bob", SENDER)] {
        archive.add_user(NewUser {
            name: name.into(),
            emails: vec![email.into()],
            ..Default::default()
        })?;
    }
    drop(archive);
    let mut server = Server::start(data)?;
    let pid = server.pid().to_string();
    let idle = status_field(&pid, "VmRSS:");
    let sampler = AnonSampler::start(pid.clone());
    let sent = source(server.port, n, payload, sessions);
    let peak_anon = sampler.finish();
    let peak_resident = status_field(&pid, "VmHWM:");
    let side = match sent {
        Ok(s) => s,
        Err(e) => {
            let tail = server.tail(30);
            return Err(e.context(format!("against arkiv; the server's log ends:\n{tail}")));
        }
    };
    let log = server.log.clone();
    server.stop()?;
    let log_warnings: Vec<String> = log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .take(20)
        .cloned()
        .collect();

    let archive = Archive::open_read_only(data, None)?;
    let stats = archive.stats()?;
    let count = |name: &str| {
        stats
            .archives
            .iter()
            .find(|a| a.archive == name)
            .map_or((0, 0), |a| (a.messages, a.bytes))
    };
    let ((alice, alice_bytes), (bob, _)) = (count("alice"), count("bob"));
    let mut unindexed = 0;
    for store in archive.open_stores() {
        unindexed += store.unindexed(usize::MAX)?.len();
    }
    let hits = archive
        .search(
            &Caller::operator(),
            &SearchQuery {
                text: format!("from:{SENDER}"),
                folder: Some("alice".into()),
                limit: 1,
                ..Default::default()
            },
        )?
        .total;
    let accepted = side.accepted as u64;
    let verified =
        alice == accepted && bob == accepted && unindexed == 0 && hits as u64 == accepted;
    Ok(ArkivRun {
        verified,
        failed_checks: match verified {
            true => Vec::new(),
            false => vec![format!(
                "{accepted} answered 250, alice holds {alice}, bob {bob}, {unindexed} unindexed, \
                 a search finds {hits}"
            )],
        },
        side,
        idle_resident_bytes: idle,
        peak_resident_bytes: peak_resident,
        peak_anon_bytes: peak_anon,
        alice_messages: alice,
        bob_messages: bob,
        message_bytes: alice_bytes / alice.max(1),
        unindexed,
        search_hits: hits,
        log_warnings,
    })
}

/// A private Postfix (its own configuration, queue, log and master process under `dir`) that
/// accepts mail for example.test on a free port and delivers it with its `virtual` agent into
/// a Maildir per address; stopped on drop.
struct Postfix {
    dir: PathBuf,
    port: u16,
}

impl Postfix {
    fn start(dir: &Path) -> Result<Postfix> {
        let _ = std::fs::remove_dir_all(dir);
        for d in ["etc", "spool", "mail"] {
            std::fs::create_dir_all(dir.join(d))?;
        }
        // The daemons run as `postfix`, the delivery as nobody: both walk down to here (this
        // process's umask keeps new files private: the modes are set, not left to it).
        for d in [
            dir.parent().unwrap_or(dir),
            dir,
            &dir.join("etc"),
            &dir.join("spool"),
        ] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755))?;
        }
        let nobody = (
            rustix::fs::Uid::from_raw(65534),
            rustix::fs::Gid::from_raw(65534),
        );
        rustix::fs::chown(dir.join("mail"), Some(nobody.0), Some(nobody.1))?;
        let port = free_port()?;
        let r = dir.display();
        std::fs::write(
            dir.join("etc/vmailbox"),
            format!("{RECIPIENT} alice/\n{SENDER} bob/\n"),
        )?;
        std::fs::write(dir.join("etc/main.cf"), main_cf(&r.to_string()))?;
        std::fs::write(dir.join("etc/master.cf"), master_cf(port))?;
        for f in ["vmailbox", "main.cf", "master.cf"] {
            std::fs::set_permissions(
                dir.join("etc").join(f),
                std::fs::Permissions::from_mode(0o644),
            )?;
        }
        let pf = Postfix {
            dir: dir.to_path_buf(),
            port,
        };
        let out = Command::new(POSTFIX)
            .arg("-c")
            .arg(dir.join("etc"))
            .arg("start")
            .stdin(Stdio::null())
            .output()
            .context("running postfix start")?;
        if !out.status.success() {
            bail!(
                "postfix start failed ({}): {}{}\nits log:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                pf.log()
            );
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("Postfix does not listen on {port}; its log:\n{}", pf.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(pf)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    /// Messages in alice's Maildir.
    fn delivered(&self) -> usize {
        ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(self.dir.join("mail/alice").join(d)).ok())
            .map(|rd| rd.count())
            .sum()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new(POSTFIX)
            .arg("-c")
            .arg(self.dir.join("etc"))
            .arg("stop")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Settings of the private Postfix (as the integration tests' journaling Postfix, delivering
/// to Maildirs instead of relaying): no chroot, no syslog, nothing shared with /etc/postfix.
fn main_cf(r: &str) -> String {
    format!(
        "\
compatibility_level = 3.6
queue_directory = {r}/spool
data_directory = {r}/data
maillog_file = {r}/maillog
maillog_file_prefixes = {r}
myhostname = postfix.example.test
mydomain = postfix.example.test
myorigin = postfix.example.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
local_header_rewrite_clients =
default_transport = error:this benchmark Postfix delivers nowhere else
smtp_dns_support_level = disabled
virtual_mailbox_domains = example.test
virtual_mailbox_base = {r}/mail
virtual_mailbox_maps = texthash:{r}/etc/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 1
virtual_mailbox_limit = 0
message_size_limit = 104857600
"
    )
}

fn master_cf(port: u16) -> String {
    format!(
        "\
127.0.0.1:{port} inet n - n - - smtpd
pickup     unix  n - n 60    1 pickup
cleanup    unix  n - n -     0 cleanup
qmgr       unix  n - n 300   1 qmgr
rewrite    unix  - - n -     - trivial-rewrite
bounce     unix  - - n -     0 bounce
defer      unix  - - n -     0 bounce
trace      unix  - - n -     0 bounce
verify     unix  - - n -     1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -     - proxymap
showq      unix  n - n -     - showq
error      unix  - - n -     - error
retry      unix  - - n -     - error
discard    unix  - - n -     - discard
virtual    unix  - n n -     - virtual
anvil      unix  - - n -     1 anvil
scache     unix  - - n -     1 scache
postlog    unix-dgram n - n - 1 postlogd
"
    )
}

/// A fresh private Postfix, the load, then the wait until alice's Maildir holds every
/// accepted message.
fn run_postfix(dir: &Path, n: usize, payload: usize, sessions: usize) -> Result<PostfixRun> {
    let pf = Postfix::start(dir)?;
    let started = Instant::now();
    let accepted = source(pf.port, n, payload, sessions)
        .with_context(|| format!("smtp-source against Postfix; its log:\n{}", pf.log()))?;
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut delivered = pf.delivered();
    while delivered < accepted.accepted {
        if Instant::now() > deadline {
            bail!(
                "Postfix delivered {delivered} of {} messages within 300 s; its log ends:\n{}",
                accepted.accepted,
                last_lines(&pf.log(), 20)
            );
        }
        // Each look reads the Maildir: not so often that it takes the servers' CPU.
        std::thread::sleep(Duration::from_millis(50));
        delivered = pf.delivered();
    }
    let delivered_seconds = started.elapsed().as_secs_f64();
    Ok(PostfixRun {
        delivered_per_second: delivered as f64 / delivered_seconds,
        delivered_seconds,
        delivered,
        accepted,
    })
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn print_report(r: &Report) {
    println!(
        "SMTP journal receiver benchmark on {} cores, 127.0.0.1, plain SMTP; load: {}",
        r.cores, r.generator
    );
    println!(
        "  arkiv: `arkiv serve --listen-smtp` (a child process, a fresh data directory per run): \
         250 after the message is durable, indexed; each message filed for alice (Received) \
         and bob (Sent)"
    );
    println!("  smtp-sink: accepts and discards (the protocol ceiling)");
    if let Some(x) = r.runs.first().filter(|x| x.repeats > 1) {
        println!(
            "  the median of {} runs of each; arkiv's peak memory: the largest",
            x.repeats
        );
    }
    let postfix = r.runs.iter().any(|x| x.postfix.is_some());
    if postfix {
        println!(
            "  postfix: a private instance, 250 after its queue file is fsynced, then delivered \
             to a Maildir (queued / delivered)"
        );
    }
    let mut head = format!(
        "{:<7} {:>8} {:>5} {:>11} {:>11} {:>13} {:>10} {:>10}",
        "size",
        "messages",
        "conc",
        "sink msg/s",
        "arkiv msg/s",
        "arkiv/sink",
        "body MB/s",
        "peak RSS"
    );
    if postfix {
        head += &format!(" {:>19} {:>15}", "postfix msg/s q/d", "arkiv/postfix d");
    }
    println!("{head}");
    for x in &r.runs {
        let a = &x.arkiv;
        let mut line = format!(
            "{:<7} {:>8} {:>5} {:>11.0} {:>11.0} {:>12.2}x {:>10.1} {:>10}",
            x.size,
            x.messages,
            x.concurrency,
            x.sink.messages_per_second,
            a.side.messages_per_second,
            x.arkiv_vs_sink,
            a.side.mb_per_second,
            bytes(a.peak_resident_bytes),
        );
        if let Some(p) = &x.postfix {
            let _ = write!(
                line,
                " {:>9.0} / {:>7.0} {:>14.2}x",
                p.accepted.messages_per_second,
                p.delivered_per_second,
                x.arkiv_vs_postfix_delivered.unwrap_or(0.0)
            );
        }
        println!("{line}");
    }
    for x in &r.runs {
        let a = &x.arkiv;
        let mut problems = Vec::new();
        for (who, s) in [("smtp-sink", &x.sink), ("arkiv", &a.side)] {
            if s.refused > 0 {
                problems.push(format!(
                    "{who} refused {} ({})",
                    s.refused,
                    s.first_refusal.as_deref().unwrap_or("")
                ));
            }
        }
        for f in &a.failed_checks {
            problems.push(format!("arkiv check failed: {f}"));
        }
        if !a.log_warnings.is_empty() {
            problems.push(format!(
                "arkiv logged {} warning(s), the first: {}",
                a.log_warnings.len(),
                a.log_warnings[0]
            ));
        }
        if !problems.is_empty() {
            println!("  {} c{}: {}", x.size, x.concurrency, problems.join("; "));
        }
    }
    match r.all_verified {
        true => println!(
            "  checked after each run (server stopped): alice's and bob's archives hold exactly \
             the messages answered 250, all indexed and found by a search"
        ),
        false => println!("  CHECK FAILED on some runs (see above)"),
    }
    let peak = r
        .runs
        .iter()
        .map(|x| x.arkiv.peak_resident_bytes)
        .max()
        .unwrap_or(0);
    let small32 = r
        .runs
        .iter()
        .find(|x| x.size == "small" && x.concurrency == 32);
    println!("Goals:");
    match small32 {
        Some(x) => {
            println!(
                "  small messages at 32 sessions, indexing on: {:.0} messages/s    (goal >= 1,500)",
                x.arkiv.side.messages_per_second
            );
            println!(
                "  arkiv / smtp-sink there: {:.2}x                              (goal >= 0.5x)",
                x.arkiv_vs_sink
            );
        }
        None => println!("  (the goals' run, small at 32 sessions, was not asked for)"),
    }
    println!(
        "  arkiv peak resident memory over all runs: {}                (goal < 300 MB)",
        bytes(peak)
    );
}
