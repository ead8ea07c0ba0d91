//! `arkiv bench imap-server`: Arkiv's read-only IMAP server side by side with Dovecot serving
//! the same messages from a Maildir on the same machine, both over IMAPS on 127.0.0.1.
//!
//! The corpus (one of `arkiv bench corpus`, or one generated under `--work` with all its mail
//! in one mailbox) is imported into an Arkiv data directory with indexing on, and one user's
//! mbox files (the user with the most mail) are written as a Maildir++, one folder per source
//! folder, for a private Dovecot. Both are built once under `--work` and reused. Arkiv is
//! `arkiv serve` started as a child process, not served in this process: its peak memory
//! (VmHWM, RssAnon from /proc) is then the server's alone, without this process's clients,
//! corpus and import, and it runs as it runs in production.
//!
//! 1. A full pull: `mbsync` copies every folder of the user's mailbox into an empty Maildir,
//!    from Arkiv and from Dovecot in turn, `--repeats` times after a warm-up pull of each (page
//!    cache, Dovecot's indexes): messages/s and MB/s of what landed in the median run, and
//!    Arkiv's speed ÷ Dovecot's. mbsync runs with `FSync no`: its flush of every message
//!    costs both sides the same disk time, which would only blur the servers' difference.
//! 2. Search: `UID SEARCH TEXT <word>` and `SEARCH FROM <address>` in INBOX (the largest
//!    folder when there is none), over words and senders taken from its messages (common and rare words, frequent and rare
//!    senders), each `--repeats` times after a warm-up round, one connection per server; the
//!    time from sending the command to its tagged answer. Dovecot runs without an FTS plugin,
//!    as it is installed: it scans the messages. A server that refuses SEARCH (`NO`) is
//!    reported as such.
//! 3. Memory under load: a fresh `arkiv serve`, then `--clients` connections at once (each from
//!    its own loopback address), each LOGIN, SELECT of the largest folder and, released
//!    together, `UID FETCH 1:* BODY.PEEK[]` read to the end: the server's peak resident memory
//!    and peak anonymous memory, and the time; the same load on Dovecot for the time.
//!
//! The clients are small blocking IMAP clients in this file (the mail client's framer and TLS
//! policy, the server's certificate pinned); on 2 cores they share the CPU with the servers.
//! Figures, not assertions: the goals (pull >= 0.7x Dovecot's speed, search p95 >= 20x faster
//! than Dovecot's, peak memory < 300 MB with 50 clients) are printed beside them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use arkiv_archive::Archive;
use arkiv_archive::access::{Privilege, Privileges};
use arkiv_corpus::CorpusSpec;
use arkiv_corpus::dovecot::{Dovecot, DovecotOptions};
use arkiv_mailclient::Trust;
use arkiv_mailclient::imap::frame::{Frame, Framer, Limits};
use arkiv_sources::{SourceItem, SourceKind, SourceOptions};
use serde::{Deserialize, Serialize};

use crate::bench::{CorpusInfo, SPEC_FILE, import_corpus};
use crate::bench_imap::{AnonSampler, mbsync_config, status_field, timed};
use crate::bench_search::{every, pct, prose_lines};
use crate::output::{bytes, print_json};

const PASSWORD: &str = "Bench-Imap-2026-harbor";

/// Messages of the searched folder that the queries are taken from.
const SAMPLE: usize = 2000;

/// The answers the clients read: lines up to 1 MiB, a message of up to 256 MiB.
const LIMITS: Limits = Limits {
    max_line: 1 << 20,
    max_literal: 256 << 20,
};

/// What `arkiv bench imap-server` was asked for.
pub struct Options {
    /// A corpus made by `arkiv bench corpus`; `None`: generated under the work directory.
    pub corpus: Option<PathBuf>,
    pub messages: usize,
    pub profile: String,
    pub work: Option<PathBuf>,
    pub clients: usize,
    pub queries: usize,
    /// Timed runs of each full pull and of each query, per server.
    pub repeats: usize,
    pub json: bool,
}

/// The mailbox given to Dovecot, as written (saved beside it, so a later run reuses it).
#[derive(Serialize, Deserialize)]
struct MaildirInfo {
    user: String,
    messages: u64,
    bytes: u64,
    /// IMAP mailbox name → messages.
    folders: BTreeMap<String, u64>,
}

/// A full mbsync pull from one server.
#[derive(Serialize)]
struct Pull {
    seconds: f64,
    /// Messages and bytes of the Maildir mbsync wrote (LF line ends and its `X-TUID` header).
    messages: u64,
    bytes: u64,
    messages_per_second: f64,
    mb_per_second: f64,
}

/// One kind of search on one server.
#[derive(Serialize, Default, Clone)]
struct Latency {
    samples: usize,
    p50_ms: f64,
    p95_ms: f64,
    /// The server's answer when it refused the command (`NO …`/`BAD …`): nothing measured.
    refused: Option<String>,
}

/// One query and the hits each server found (`None`: not run).
#[derive(Serialize)]
struct Query {
    command: String,
    arkiv_hits: Option<u64>,
    dovecot_hits: Option<u64>,
}

#[derive(Serialize)]
struct Search {
    command: &'static str,
    queries: usize,
    arkiv: Latency,
    dovecot: Latency,
    /// Dovecot's p95 ÷ Arkiv's (above 1: Arkiv is faster); `None` when Arkiv refused.
    p95_speedup: Option<f64>,
}

/// `clients` connections reading the whole folder at once from one server.
#[derive(Serialize, Default)]
struct Load {
    seconds: f64,
    /// Clients that read the folder to its end, and those that failed (with the first error).
    completed: usize,
    failed: usize,
    first_error: Option<String>,
    messages: u64,
    bytes: u64,
    mb_per_second: f64,
    /// The server process's resident memory before the load, its peak (VmHWM: from its start,
    /// mapped files included) and its peak anonymous memory (heap and stacks, sampled every
    /// 10 ms). Arkiv only: Dovecot serves each connection from its own process.
    idle_resident_bytes: Option<u64>,
    peak_resident_bytes: Option<u64>,
    peak_anon_bytes: Option<u64>,
}

#[derive(Serialize)]
struct Report {
    user: String,
    messages: u64,
    bytes: u64,
    folders: usize,
    dovecot_version: String,
    arkiv_pull: Pull,
    dovecot_pull: Pull,
    /// Arkiv's messages/s ÷ Dovecot's.
    pull_speed_ratio: f64,
    search_folder: String,
    search_folder_messages: u64,
    /// Timed runs of each full pull (the median is reported) and of each query.
    repeats: usize,
    searches: Vec<Search>,
    queries: Vec<Query>,
    clients: usize,
    load_folder: String,
    load_folder_messages: u64,
    arkiv_load: Load,
    dovecot_load: Load,
}

pub fn run(opts: Options) -> Result<ExitCode> {
    let have = |c: &str| Command::new(c).arg("--version").output().is_ok();
    if !Path::new("/usr/sbin/dovecot").exists() || !have("mbsync") {
        bail!(
            "Dovecot and mbsync are needed (as root): {}; apt-get install -y isync (or scripts/test --install-only)",
            arkiv_corpus::dovecot::INSTALL
        );
    }
    let tmp = tempfile::tempdir()?;
    let work = opts
        .work
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&work)?;
    // Dovecot takes absolute paths only.
    let work = std::fs::canonicalize(&work)?;
    // Dovecot's mail processes (as nobody) walk down to the mail under the work directory.
    std::fs::set_permissions(&work, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let (corpus, info, data, mail) = prepare(&opts, &work)?;
    let user = crate::bench::largest_user(&info, &corpus)?;
    build_archive(&info, &corpus, &data, &user)?;
    let maildir = build_maildir(&corpus, &user, &mail)?;
    // Searches go to INBOX (where the senders vary); the load reads the largest folder.
    let (big, big_messages) = maildir
        .folders
        .iter()
        .max_by_key(|(name, n)| (**n, name.as_str() == "INBOX"))
        .map(|(name, n)| (name.clone(), *n))
        .context("the user's mailbox has no folders")?;
    let (folder, folder_messages) = match maildir.folders.get("INBOX") {
        Some(n) => ("INBOX".to_string(), *n),
        None => (big.clone(), big_messages),
    };
    let queries = derive(&mail.join(&user), &folder, opts.queries.max(1))?;

    let dovecot = Dovecot::start(&DovecotOptions {
        users: vec![(user.clone(), PASSWORD.into())],
        master: None,
        mail_root: Some(mail.clone()),
    })
    .map_err(|e| anyhow!("{e}"))?;
    let dovecot_version = Command::new("/usr/sbin/dovecot")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let dv = Server {
        name: "dovecot",
        port: dovecot.imaps_port,
        cert: dovecot.cert.clone(),
        fingerprint: dovecot.fingerprint.clone(),
    };

    // 1. The full pulls, each after a warm-up pull.
    let served = crate::bench_api::serve(&data, true, true)?;
    let ak = Server {
        name: "arkiv",
        port: served.imaps.context("the IMAPS port")?,
        cert: data.join("tls/cert.pem"),
        fingerprint: served.fingerprint.clone(),
    };
    for s in [&ak, &dv] {
        eprintln!("warm-up: mbsync pulls {user}'s mailbox from {} ...", s.name);
        pull(s, &user, &work).map_err(|e| match s.name {
            "dovecot" => anyhow!("{e:#}\nDovecot's log:\n{}", dovecot.log()),
            _ => e,
        })?;
    }
    let repeats = opts.repeats.max(1);
    eprintln!("measuring: {repeats} mbsync pulls from each, in turn ...");
    let mut pulls: [Vec<Pull>; 2] = Default::default();
    for _ in 0..repeats {
        for (runs, s) in pulls.iter_mut().zip([&ak, &dv]) {
            runs.push(pull(s, &user, &work)?);
        }
    }
    // The median run of each.
    let [arkiv_pull, dovecot_pull] = pulls.map(|mut runs| {
        runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        runs.swap_remove(runs.len() / 2)
    });

    // 2. Search latency.
    eprintln!(
        "searching {folder} ({folder_messages} messages): {} queries x {repeats} runs per server ...",
        queries.len()
    );
    let arkiv_search = search(&ak, &user, &folder, &queries, repeats)?;
    let dovecot_search = search(&dv, &user, &folder, &queries, repeats)?;
    drop(served);

    // 3. Memory under load, on a fresh server.
    let clients = opts.clients.max(1);
    eprintln!(
        "{clients} clients at once read {big} from a fresh arkiv serve, then from dovecot ..."
    );
    let served = crate::bench_api::serve(&data, true, true)?;
    let ak = Server {
        port: served.imaps.context("the IMAPS port")?,
        fingerprint: served.fingerprint.clone(),
        ..ak
    };
    let arkiv_load = load(&ak, Some(served.child.id()), &user, &big, clients)?;
    drop(served);
    let dovecot_load = load(&dv, None, &user, &big, clients)?;

    let mut searches = Vec::new();
    let mut report_queries = Vec::new();
    for (kind, command) in [
        (Kind::Text, "UID SEARCH TEXT <word>"),
        (Kind::From, "SEARCH FROM <address>"),
    ] {
        let (a, d) = (&arkiv_search[&kind], &dovecot_search[&kind]);
        searches.push(Search {
            command,
            queries: queries.iter().filter(|q| q.0 == kind).count(),
            p95_speedup: (a.latency.refused.is_none() && a.latency.samples > 0)
                .then(|| d.latency.p95_ms / a.latency.p95_ms.max(1e-3)),
            arkiv: a.latency.clone(),
            dovecot: d.latency.clone(),
        });
        for (i, q) in queries.iter().filter(|q| q.0 == kind).enumerate() {
            report_queries.push(Query {
                command: q.command(),
                arkiv_hits: a.hits.get(i).copied(),
                dovecot_hits: d.hits.get(i).copied(),
            });
        }
    }
    let report = Report {
        user,
        messages: maildir.messages,
        bytes: maildir.bytes,
        folders: maildir.folders.len(),
        dovecot_version,
        pull_speed_ratio: arkiv_pull.messages_per_second
            / dovecot_pull.messages_per_second.max(f64::MIN_POSITIVE),
        arkiv_pull,
        dovecot_pull,
        search_folder: folder,
        search_folder_messages: folder_messages,
        repeats,
        searches,
        queries: report_queries,
        clients,
        load_folder: big,
        load_folder_messages: big_messages,
        arkiv_load,
        dovecot_load,
    };
    drop(dovecot);
    if opts.json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// The corpus, its description, the data directory and the Dovecot mail root: from
/// `--corpus`, or a corpus generated under the work directory (one user: all of its mail is
/// one mailbox, without duplicates).
fn prepare(opts: &Options, work: &Path) -> Result<(PathBuf, CorpusInfo, PathBuf, PathBuf)> {
    if let Some(corpus) = &opts.corpus {
        let info = read_info(corpus)?;
        return Ok((
            corpus.clone(),
            info,
            work.join("data"),
            work.join("maildir"),
        ));
    }
    let name = format!("{}-{}", opts.messages, opts.profile);
    let corpus = work.join(format!("corpus-{name}"));
    if !corpus.join(SPEC_FILE).is_file() {
        let spec = CorpusSpec {
            messages: opts.messages,
            seed: 42,
            users: 1,
            duplicate_ratio: 0.0,
            profile: crate::bench::profile(&opts.profile)?,
        };
        let _ = std::fs::remove_dir_all(&corpus);
        eprintln!(
            "generating {} messages ({}) into {} ...",
            opts.messages,
            opts.profile,
            corpus.display()
        );
        crate::bench::write_corpus(&spec, &opts.profile, &corpus)?;
    }
    let info = read_info(&corpus)?;
    Ok((
        corpus,
        info,
        work.join(format!("data-{name}")),
        work.join(format!("maildir-{name}")),
    ))
}

fn read_info(corpus: &Path) -> Result<CorpusInfo> {
    let text = std::fs::read(corpus.join(SPEC_FILE)).with_context(|| {
        format!(
            "{} is not a corpus made by `arkiv bench corpus`",
            corpus.display()
        )
    })?;
    Ok(serde_json::from_slice(&text)?)
}

/// Imports the corpus into `data` once (a marker beside it says the import finished), and
/// lets `user` sign in with the benchmark's password.
fn build_archive(info: &CorpusInfo, corpus: &Path, data: &Path, user: &str) -> Result<()> {
    let done = data.with_extension("done");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(data);
        eprintln!("importing the corpus into {} (once) ...", data.display());
        let imported = import_corpus(info, corpus, data, true, false)?;
        if imported.failed > 0 {
            eprintln!("note: {} messages could not be imported", imported.failed);
        }
        drop(imported);
        std::fs::write(&done, "")?;
    }
    let archive = Archive::open(data, None)?;
    archive.set_user_password(user, PASSWORD)?;
    archive.set_user_privileges(user, false, Privileges::of(&[Privilege::Login]))?;
    Ok(())
}

/// The IMAP name of a source folder: `Inbox` is `INBOX` (on both servers), others by path.
fn mailbox_name(folder: &[String]) -> String {
    match folder {
        [one] if one.eq_ignore_ascii_case("inbox") => "INBOX".into(),
        _ => folder.join("/"),
    }
}

/// The Maildir++ directory of a mailbox under a user's Maildir `root`.
fn folder_dir(root: &Path, mailbox: &str) -> PathBuf {
    match mailbox {
        "INBOX" => root.to_path_buf(),
        _ => root.join(format!(".{}", mailbox.replace('/', "."))),
    }
}

/// Writes `user`'s mbox files as a Maildir++ under `mail/<user>` (once; reused while its
/// description says it is that user's), read with the importer's own mbox reader so that both
/// servers hold the same bytes.
fn build_maildir(corpus: &Path, user: &str, mail: &Path) -> Result<MaildirInfo> {
    let info_file = mail.join("maildir.json");
    if let Ok(text) = std::fs::read(&info_file)
        && let Ok(info) = serde_json::from_slice::<MaildirInfo>(&text)
        && info.user == user
    {
        return Ok(info);
    }
    let _ = std::fs::remove_dir_all(mail);
    eprintln!(
        "writing {user}'s mailbox as a Maildir into {} ...",
        mail.display()
    );
    let source = arkiv_sources::open(
        SourceKind::Mbox,
        &corpus.join(user),
        &SourceOptions::default(),
    )?;
    let root = mail.join(user);
    let mut info = MaildirInfo {
        user: user.to_string(),
        messages: 0,
        bytes: 0,
        folders: BTreeMap::new(),
    };
    for item in source {
        let SourceItem::Message(m) = item else {
            continue;
        };
        let name = mailbox_name(&m.folder);
        let dir = folder_dir(&root, &name);
        let count = info.folders.entry(name).or_insert(0);
        if *count == 0 {
            for sub in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(dir.join(sub))?;
            }
            if dir != root {
                std::fs::write(dir.join("maildirfolder"), "")?;
            }
        }
        *count += 1;
        std::fs::write(
            dir.join("cur").join(format!("{}.arkiv:2,S", info.messages)),
            &m.bytes,
        )?;
        info.messages += 1;
        info.bytes += m.bytes.len() as u64;
    }
    if info.messages == 0 {
        bail!("{user} has no messages in {}", corpus.display());
    }
    std::fs::write(&info_file, serde_json::to_vec_pretty(&info)?)?;
    Ok(info)
}

/// The two kinds of search measured.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Kind {
    Text,
    From,
}

/// A query: its kind and its argument (a word, an address).
struct Probe(Kind, String);

impl Probe {
    fn command(&self) -> String {
        match self.0 {
            Kind::Text => format!("UID SEARCH TEXT {}", quote(&self.1)),
            Kind::From => format!("SEARCH FROM {}", quote(&self.1)),
        }
    }
}

/// `n` words and `n` senders from the first [`SAMPLE`] messages of `folder` in the Maildir:
/// half the words among the 200 most frequent (the first 5 skipped), half among those in at
/// most 5 messages; senders spread over all, most frequent first. Same corpus, same queries.
fn derive(root: &Path, folder: &str, n: usize) -> Result<Vec<Probe>> {
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(folder_dir(root, folder).join("cur"))?
        .filter_map(|e| {
            let p = e.ok()?.path();
            let n = p.file_name()?.to_str()?.split('.').next()?.parse().ok()?;
            Some((n, p))
        })
        .collect();
    files.sort();
    let mut df: [HashMap<String, usize>; 2] = Default::default();
    for (_, p) in files.iter().take(SAMPLE) {
        let bytes = std::fs::read(p)?;
        let text = String::from_utf8_lossy(&bytes);
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let head = head.replace("\n\t", " ").replace("\n ", " ");
        let mut seen: [HashSet<String>; 2] = Default::default();
        for line in prose_lines(&head, body) {
            seen[0].extend(line.iter().filter(|w| !w.is_empty()).map(|w| w.to_string()));
        }
        if let Some(f) = head.lines().find_map(|h| h.strip_prefix("From: ")) {
            let addr = f.rsplit('<').next().unwrap_or(f).trim_end_matches('>');
            let addr = addr.trim().to_lowercase();
            if addr.contains('@') && !addr.contains(char::is_whitespace) {
                seen[1].insert(addr);
            }
        }
        for (d, s) in df.iter_mut().zip(seen) {
            s.into_iter().for_each(|k| *d.entry(k).or_insert(0) += 1);
        }
    }
    let [words, senders] = df.map(|m| {
        let mut v: Vec<(String, usize)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    });
    let rare: Vec<(String, usize)> = words.iter().filter(|w| w.1 <= 5).cloned().collect();
    let mut out: Vec<Probe> = every(&words[..words.len().min(200)], n - n / 2, 5)
        .into_iter()
        .chain(every(&rare, n / 2, 0))
        .map(|w| Probe(Kind::Text, w))
        .collect();
    out.extend(
        every(&senders, n, 0)
            .into_iter()
            .map(|a| Probe(Kind::From, a)),
    );
    if !out.iter().any(|q| q.0 == Kind::Text) || !out.iter().any(|q| q.0 == Kind::From) {
        bail!("{folder} has too few messages to take search words and senders from");
    }
    Ok(out)
}

/// An IMAP quoted string.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One of the two servers: its IMAPS port and certificate (file for mbsync, fingerprint for
/// this file's clients).
struct Server {
    name: &'static str,
    port: u16,
    cert: PathBuf,
    fingerprint: String,
}

/// Messages and bytes in the `cur` and `new` directories of a Maildir tree.
fn maildir_totals(dir: &Path) -> (u64, u64) {
    let (mut n, mut size) = (0, 0);
    let Ok(rd) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    for e in rd.flatten() {
        let p = e.path();
        if !p.is_dir() {
            continue;
        }
        if p.file_name().is_some_and(|f| f == "cur" || f == "new") {
            for f in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                n += 1;
                size += f.metadata().map(|m| m.len()).unwrap_or(0);
            }
        } else {
            let (a, b) = maildir_totals(&p);
            n += a;
            size += b;
        }
    }
    (n, size)
}

/// `mbsync` pulls every folder of `user`'s mailbox from `s` into an empty Maildir.
fn pull(s: &Server, user: &str, work: &Path) -> Result<Pull> {
    let target = work.join(format!("pull-{}", s.name));
    let conf = work.join(format!("pull-{}.mbsyncrc", s.name));
    let _ = std::fs::remove_dir_all(&target);
    mbsync_config(s.port, &s.cert, user, PASSWORD, &target, &conf, false)?;
    let mut cmd = Command::new("mbsync");
    cmd.arg("-q").arg("-c").arg(&conf).arg("-a");
    let (seconds, _, _) = timed(&mut cmd, &format!("mbsync from {}", s.name))?;
    let (messages, size) = maildir_totals(&target);
    let _ = std::fs::remove_dir_all(&target);
    if messages == 0 {
        bail!("mbsync pulled no message from {}", s.name);
    }
    Ok(Pull {
        seconds,
        messages,
        bytes: size,
        messages_per_second: messages as f64 / seconds,
        mb_per_second: size as f64 / seconds / 1e6,
    })
}

/// How a command ended: OK, or the server's tagged `NO`/`BAD` line.
enum Done {
    Ok,
    Refused(String),
}

/// A minimal IMAP client over implicit TLS: sends one command at a time and reads the
/// answers to its tagged completion, framed (lines and literals) by the mail client's framer.
struct Client {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    framer: Framer,
    tag: u32,
}

impl Client {
    /// Connects to `s` (from the local address `from`, when given) and reads the greeting.
    fn connect(s: &Server, from: Option<IpAddr>) -> Result<Client> {
        let to = SocketAddr::from(([127, 0, 0, 1], s.port));
        let wait = Duration::from_secs(10);
        let tcp: TcpStream = match from {
            None => TcpStream::connect_timeout(&to, wait)?,
            Some(ip) => {
                let sock =
                    socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
                sock.bind(&SocketAddr::new(ip, 0).into())?;
                sock.connect_timeout(&to.into(), wait)?;
                sock.into()
            }
        };
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(Duration::from_secs(300)))?;
        tcp.set_write_timeout(Some(Duration::from_secs(300)))?;
        let config = arkiv_mailclient::tls::config(&Trust::pin(&s.fingerprint)?)?;
        let name = rustls::pki_types::ServerName::try_from("localhost")?;
        let conn = rustls::ClientConnection::new(config, name)?;
        let mut c = Client {
            tls: rustls::StreamOwned::new(conn, tcp),
            framer: Framer::new(),
            tag: 0,
        };
        let greeting = c.frame()?;
        if !greeting.bytes.starts_with(b"* OK") {
            bail!(
                "{} greeted with {}",
                s.name,
                String::from_utf8_lossy(&greeting.bytes).trim_end()
            );
        }
        Ok(c)
    }

    /// The next complete response.
    fn frame(&mut self) -> Result<Frame> {
        loop {
            if let Some(f) = self
                .framer
                .next(&LIMITS)
                .map_err(|e| anyhow!("an answer over the limits: {e:?}"))?
            {
                return Ok(f);
            }
            let tls = &mut self.tls;
            if self.framer.read_with(64 * 1024, |b| tls.read(b))? == 0 {
                bail!("the server closed the connection");
            }
        }
    }

    /// Sends `command` and hands every untagged answer to `each` until the tagged one.
    fn command(&mut self, command: &str, mut each: impl FnMut(&Frame)) -> Result<Done> {
        self.tag += 1;
        let tag = format!("b{} ", self.tag);
        self.tls
            .write_all(format!("{tag}{command}\r\n").as_bytes())?;
        self.tls.flush()?;
        loop {
            let f = self.frame()?;
            if let Some(rest) = f.bytes.strip_prefix(tag.as_bytes()) {
                let line = String::from_utf8_lossy(rest).trim_end().to_string();
                return Ok(match line.starts_with("OK") {
                    true => Done::Ok,
                    false => Done::Refused(line),
                });
            }
            each(&f);
        }
    }

    /// `command`, which must succeed.
    fn must(&mut self, command: &str, what: &str, each: impl FnMut(&Frame)) -> Result<()> {
        match self.command(command, each)? {
            Done::Ok => Ok(()),
            Done::Refused(why) => bail!("{what}: {why}"),
        }
    }

    /// LOGIN and SELECT; the messages the mailbox holds.
    fn open(&mut self, user: &str, mailbox: &str) -> Result<u64> {
        self.must(
            &format!("LOGIN {} {}", quote(user), quote(PASSWORD)),
            "LOGIN",
            |_| {},
        )?;
        let mut exists = 0;
        self.must(&format!("SELECT {}", quote(mailbox)), "SELECT", |f| {
            let line = String::from_utf8_lossy(&f.bytes);
            if let Some(n) = line.trim_end().strip_suffix(" EXISTS") {
                exists = n.trim_start_matches("* ").parse().unwrap_or(0);
            }
        })?;
        Ok(exists)
    }
}

/// What one server answered to the searches of one kind.
#[derive(Default)]
struct Measured {
    latency: Latency,
    /// Hits per query (in the order of the queries of that kind), from the warm-up round.
    hits: Vec<u64>,
}

/// Every query on one connection to `s`: a warm-up round (which counts the hits), then
/// `repeats` timed rounds. A kind the server refuses is not tried again.
fn search(
    s: &Server,
    user: &str,
    folder: &str,
    queries: &[Probe],
    repeats: usize,
) -> Result<HashMap<Kind, Measured>> {
    let mut c = Client::connect(s, None)?;
    c.open(user, folder)
        .with_context(|| format!("{}: signing in and selecting {folder}", s.name))?;
    let mut out = HashMap::new();
    for kind in [Kind::Text, Kind::From] {
        let mut m = Measured::default();
        let mut ms = Vec::new();
        'rounds: for round in 0..=repeats {
            for q in queries.iter().filter(|q| q.0 == kind) {
                let mut hits = 0u64;
                let t = Instant::now();
                let done = c.command(&q.command(), |f| {
                    if let Some(rest) = f.bytes.strip_prefix(b"* SEARCH") {
                        hits += String::from_utf8_lossy(rest).split_whitespace().count() as u64;
                    }
                })?;
                let took = t.elapsed().as_secs_f64() * 1e3;
                match done {
                    Done::Refused(why) => {
                        m.latency.refused = Some(why);
                        break 'rounds;
                    }
                    Done::Ok if round == 0 => m.hits.push(hits),
                    Done::Ok => ms.push(took),
                }
            }
        }
        m.latency.samples = ms.len();
        m.latency.p50_ms = pct(&ms, 0.5);
        m.latency.p95_ms = pct(&ms, 0.95);
        out.insert(kind, m);
    }
    let _ = c.command("LOGOUT", |_| {});
    Ok(out)
}

/// `clients` connections to `s`, each from its own loopback address (the per-address
/// connection limits of both servers stay out of the way): all sign in and select `folder`,
/// then read all of it with `UID FETCH 1:* BODY.PEEK[]` at once. With `pid` (the server
/// process), its memory is sampled throughout.
fn load(s: &Server, pid: Option<u32>, user: &str, folder: &str, clients: usize) -> Result<Load> {
    let idle = pid.map(|p| status_field(&p.to_string(), "VmRSS:"));
    let sampler = pid.map(|p| AnonSampler::start(p.to_string()));
    let barrier = Arc::new(Barrier::new(clients));
    let results: Vec<Result<(Instant, Instant, u64, u64)>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..clients)
            .map(|i| {
                let barrier = barrier.clone();
                scope.spawn(move || {
                    let from = IpAddr::from([127, 0, 1 + (i / 250) as u8, 1 + (i % 250) as u8]);
                    let opened = Client::connect(s, Some(from)).and_then(|mut c| {
                        c.open(user, folder)?;
                        Ok(c)
                    });
                    // Everyone waits, failed or not, so that the others are released.
                    barrier.wait();
                    let mut c = opened?;
                    let (mut messages, mut size) = (0u64, 0u64);
                    let start = Instant::now();
                    c.must("UID FETCH 1:* BODY.PEEK[]", "UID FETCH", |f| {
                        if f.bytes.starts_with(b"* ") && !f.literals.is_empty() {
                            messages += 1;
                            size += f.literals.iter().map(|l| l.len() as u64).sum::<u64>();
                        }
                    })?;
                    let end = Instant::now();
                    let _ = c.command("LOGOUT", |_| {});
                    Ok((start, end, messages, size))
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(anyhow!("a client thread panicked")))
            })
            .collect()
    });
    let peak_anon = sampler.map(AnonSampler::finish);
    let peak_resident = pid.map(|p| status_field(&p.to_string(), "VmHWM:"));
    let mut out = Load {
        idle_resident_bytes: idle,
        peak_resident_bytes: peak_resident,
        peak_anon_bytes: peak_anon,
        ..Load::default()
    };
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    for r in results {
        match r {
            Ok((start, end, messages, size)) => {
                out.completed += 1;
                out.messages += messages;
                out.bytes += size;
                first = Some(first.map_or(start, |f| f.min(start)));
                last = Some(last.map_or(end, |l| l.max(end)));
            }
            Err(e) => {
                out.failed += 1;
                out.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    if let (Some(first), Some(last)) = (first, last) {
        out.seconds = (last - first).as_secs_f64();
        out.mb_per_second = out.bytes as f64 / out.seconds.max(1e-9) / 1e6;
    }
    Ok(out)
}

fn print_report(r: &Report) {
    println!(
        "IMAP server benchmark: {}'s mailbox, {} messages, {} in {} folders, over IMAPS on 127.0.0.1",
        r.user,
        r.messages,
        bytes(r.bytes),
        r.folders
    );
    println!(
        "  arkiv: `arkiv serve` (a child process); dovecot {}: the same messages in a Maildir",
        r.dovecot_version
    );
    println!(
        "Full pull with mbsync (every folder into an empty Maildir, FSync no; the median of {} run(s) after a \
         warm-up pull):",
        r.repeats
    );
    for (name, p) in [("arkiv", &r.arkiv_pull), ("dovecot", &r.dovecot_pull)] {
        println!(
            "  {name:<8} {:6.2} s, {:6} messages, {:7.0} messages/s, {:6.1} MB/s",
            p.seconds, p.messages, p.messages_per_second, p.mb_per_second
        );
    }
    println!(
        "  arkiv speed / dovecot speed: {:.2}x                              (goal >= 0.7x)",
        r.pull_speed_ratio
    );
    println!(
        "Search in {} ({} messages), {} run(s) of each query after a warm-up; dovecot has no FTS \
         plugin: it scans the messages",
        r.search_folder, r.search_folder_messages, r.repeats
    );
    for s in &r.searches {
        println!("  {} ({} queries):", s.command, s.queries);
        for (name, l) in [("arkiv", &s.arkiv), ("dovecot", &s.dovecot)] {
            match &l.refused {
                Some(why) => println!("    {name:<8} not measured: the server answered \"{why}\""),
                None => println!(
                    "    {name:<8} p50 {:8.2} ms   p95 {:8.2} ms",
                    l.p50_ms, l.p95_ms
                ),
            }
        }
        match s.p95_speedup {
            Some(x) => println!(
                "    dovecot p95 / arkiv p95: {x:.1}x                           (goal >= 20x)"
            ),
            None => println!(
                "    dovecot p95 / arkiv p95: n/a (arkiv does not answer SEARCH yet; goal >= 20x)"
            ),
        }
    }
    let differ = r
        .queries
        .iter()
        .filter(|q| matches!((q.arkiv_hits, q.dovecot_hits), (Some(a), Some(d)) if a != d))
        .count();
    if r.queries.iter().any(|q| q.arkiv_hits.is_some()) {
        println!(
            "  hit counts differ on {differ} of {} queries (dovecot matches substrings, see --json)",
            r.queries.len()
        );
    }
    println!(
        "{} clients at once, each LOGIN, SELECT {} ({} messages) and UID FETCH 1:* BODY.PEEK[] \
         read to the end:",
        r.clients, r.load_folder, r.load_folder_messages
    );
    for (name, l) in [("arkiv", &r.arkiv_load), ("dovecot", &r.dovecot_load)] {
        println!(
            "  {name:<8} {:6.2} s, {} messages, {} read by {} clients ({:.1} MB/s together){}",
            l.seconds,
            l.messages,
            bytes(l.bytes),
            l.completed,
            l.mb_per_second,
            match &l.first_error {
                Some(e) => format!("; {} failed: {e}", l.failed),
                None => String::new(),
            }
        );
    }
    let a = &r.arkiv_load;
    println!(
        "  arkiv server memory: peak resident (VmHWM) {}, peak anonymous {}, {} before the load   (goal < 300 MB)",
        bytes(a.peak_resident_bytes.unwrap_or(0)),
        bytes(a.peak_anon_bytes.unwrap_or(0)),
        bytes(a.idle_resident_bytes.unwrap_or(0))
    );
}
