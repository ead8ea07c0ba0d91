//! `arkiv bench`: the import benchmark on the project's own generated corpus, with `zstd -3`
//! of the same files run side by side. Figures, not assertions: targets are printed next to them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arkiv_archive::users::NewUser;
use arkiv_archive::{Archive, Assignment, Config, ImportOptions, InitOptions};
use arkiv_corpus::{CorpusSpec, Profile};
use arkiv_sources::{SourceKind, SourceOptions};
use arkiv_types::FolderPath;
use serde::{Deserialize, Serialize};

use crate::cli::BenchCommand;
use crate::output::{byte_bar, bytes, print_json};

pub(crate) const SPEC_FILE: &str = "corpus.json";

#[derive(Serialize, Deserialize)]
pub(crate) struct CorpusInfo {
    pub(crate) messages: usize,
    pub(crate) seed: u64,
    pub(crate) profile: String,
    pub(crate) users: Vec<(String, String)>,
    pub(crate) bytes: u64,
    pub(crate) duplicates: usize,
}

pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Corpus {
            out,
            messages,
            seed,
            profile,
        } => corpus(&out, messages, seed, &profile),
        BenchCommand::Import {
            corpus,
            work,
            no_peer,
            no_index,
            attachment_contents,
            json,
        } => import(&corpus, work, no_peer, no_index, attachment_contents, json),
        BenchCommand::Api {
            calls,
            logons,
            json,
        } => crate::bench_api::run(calls, logons, json),
        BenchCommand::Imap {
            messages,
            profile,
            work,
            no_peer,
            json,
        } => crate::bench_imap::run(messages, &profile, work, no_peer, json),
        BenchCommand::ImapServer {
            corpus,
            messages,
            profile,
            work,
            clients,
            queries,
            repeats,
            json,
        } => crate::bench_imap_server::run(crate::bench_imap_server::Options {
            corpus,
            messages,
            profile,
            work,
            clients,
            queries,
            repeats,
            json,
        }),
        BenchCommand::Smtp {
            messages,
            sizes,
            concurrency,
            postfix,
            repeats,
            work,
            json,
        } => crate::bench_smtp::run(crate::bench_smtp::Options {
            messages,
            sizes,
            concurrency,
            postfix,
            repeats,
            work,
            json,
        }),
        BenchCommand::Search {
            corpus,
            work,
            no_peers,
            repeats,
            json,
        } => crate::bench_search::run(&corpus, &work, no_peers, repeats, json),
        BenchCommand::Recover { corpus, work, json } => {
            crate::bench_recover::run(&corpus, &work, json)
        }
        BenchCommand::Web {
            corpus,
            work,
            requests,
            json,
        } => crate::bench_web::run(&corpus, &work, requests, json),
    }
}

/// A corpus profile by its name on the command line.
pub(crate) fn profile(name: &str) -> Result<Profile> {
    match name {
        "attachment-heavy" => Ok(Profile::AttachmentHeavy),
        "text-only" => Ok(Profile::TextOnly),
        p => bail!("unknown profile '{p}' (attachment-heavy or text-only)"),
    }
}

fn corpus(out: &Path, messages: usize, seed: u64, profile: &str) -> Result<ExitCode> {
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!("{} is not empty; choose a new directory", out.display());
    }
    let spec = CorpusSpec {
        messages,
        seed,
        profile: self::profile(profile)?,
        ..CorpusSpec::default()
    };
    let t = Instant::now();
    eprintln!(
        "generating {messages} messages ({profile}, seed {seed}) into {} ...",
        out.display()
    );
    let (_, summary) = write_corpus(&spec, profile, out)?;
    println!(
        "{} messages, {} in {} mbox files, {} exact duplicates, {:.1} s",
        summary.messages,
        bytes(summary.bytes),
        summary.files,
        summary.duplicates,
        t.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the corpus of `spec` as mbox files under `out` with its description
/// ([`SPEC_FILE`]): what `arkiv bench corpus` makes.
pub(crate) fn write_corpus(
    spec: &CorpusSpec,
    profile: &str,
    out: &Path,
) -> Result<(CorpusInfo, arkiv_corpus::CorpusSummary)> {
    let summary = arkiv_corpus::write_mbox_tree(spec, out)?;
    let info = CorpusInfo {
        messages: spec.messages,
        seed: spec.seed,
        profile: profile.to_string(),
        users: arkiv_corpus::users(spec)
            .into_iter()
            .map(|u| (u.login, u.email))
            .collect(),
        bytes: summary.bytes,
        duplicates: summary.duplicates,
    };
    std::fs::write(out.join(SPEC_FILE), serde_json::to_vec_pretty(&info)?)?;
    Ok((info, summary))
}

/// The corpus user with the most mail (by the size of their mbox files).
pub(crate) fn largest_user(info: &CorpusInfo, corpus: &Path) -> Result<String> {
    info.users
        .iter()
        .map(|(login, _)| (dir_size(&corpus.join(login)), login.clone()))
        .max()
        .map(|(_, l)| l)
        .context("the corpus has no users")
}

#[derive(Serialize)]
struct ImportBench {
    messages: u64,
    original_bytes: u64,
    seconds: f64,
    messages_per_second: f64,
    mb_per_second: f64,
    stored_bytes: u64,
    stored_ratio: f64,
    peak_memory_bytes: u64,
    failed: usize,
    /// With `--attachment-contents`: attachments whose text was indexed, and those that could
    /// not be read.
    attachments_read: u64,
    attachments_unreadable: u64,
    zstd: Option<ZstdBench>,
    stored_vs_zstd: Option<f64>,
}

#[derive(Serialize)]
struct ZstdBench {
    input_bytes: u64,
    compressed_bytes: u64,
    ratio: f64,
    seconds: f64,
    mb_per_second: f64,
}

fn import(
    corpus: &Path,
    work: Option<PathBuf>,
    no_peer: bool,
    no_index: bool,
    contents: bool,
    json: bool,
) -> Result<ExitCode> {
    let info: CorpusInfo =
        serde_json::from_slice(&std::fs::read(corpus.join(SPEC_FILE)).with_context(|| {
            format!(
                "{} is not a corpus made by `arkiv bench corpus`",
                corpus.display()
            )
        })?)?;
    let tmp;
    let work = match work {
        Some(w) => w,
        None => {
            tmp = tempfile::Builder::new()
                .prefix("arkiv-bench-")
                .tempdir_in(corpus.parent().unwrap_or(Path::new(".")))?;
            tmp.path().to_path_buf()
        }
    };
    let CorpusImport {
        archive,
        messages,
        original,
        failed,
        seconds,
        attachments,
    } = import_corpus(&info, corpus, &work.join("data"), !no_index, contents)?;
    let stats = archive.stats()?;
    let peak = peak_memory();
    let zstd = if no_peer {
        None
    } else {
        Some(run_zstd(corpus)?)
    };
    let r = ImportBench {
        messages,
        original_bytes: original,
        seconds,
        messages_per_second: messages as f64 / seconds,
        mb_per_second: original as f64 / seconds / 1e6,
        stored_bytes: stats.stored_bytes,
        stored_ratio: stats.stored_bytes as f64 / original.max(1) as f64,
        peak_memory_bytes: peak,
        failed,
        attachments_read: attachments.0,
        attachments_unreadable: attachments.1,
        stored_vs_zstd: zstd
            .as_ref()
            .map(|z| stats.stored_bytes as f64 / z.compressed_bytes.max(1) as f64),
        zstd,
    };
    drop(archive);
    if json {
        print_json(&r)?;
    } else {
        println!(
            "Import benchmark: {} messages, {} ({} profile, seed {})",
            r.messages,
            bytes(r.original_bytes),
            info.profile,
            info.seed
        );
        println!(
            "  arkiv import:   {:.1} s, {:.0} messages/s, {:.1} MB/s            (target >= 100 MB/s on 2 cores)",
            r.seconds, r.messages_per_second, r.mb_per_second
        );
        println!(
            "  stored:         {} = {:.1}% of the original",
            bytes(r.stored_bytes),
            r.stored_ratio * 100.0
        );
        println!(
            "  peak memory:    {}                         (target < 300 MB)",
            bytes(r.peak_memory_bytes)
        );
        if let Some(z) = &r.zstd {
            println!(
                "  zstd -3 (peer): {:.1} s, {:.1} MB/s, {} = {:.1}% of the mbox files",
                z.seconds,
                z.mb_per_second,
                bytes(z.compressed_bytes),
                z.ratio * 100.0
            );
            println!(
                "  arkiv stored / zstd -3 output: {:.1}%                 (target <= 85%)",
                r.stored_vs_zstd.unwrap_or(0.0) * 100.0
            );
        }
        if contents {
            println!(
                "  attachment contents: {} read, {} unreadable (peak memory is this process's; the \
                 sandbox process is limited to its own 1 GiB)",
                r.attachments_read, r.attachments_unreadable
            );
        }
        if r.failed > 0 {
            println!("  failed messages: {}", r.failed);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What importing a corpus into a new data directory gave.
pub(crate) struct CorpusImport {
    pub(crate) archive: Archive,
    pub(crate) messages: u64,
    pub(crate) original: u64,
    pub(crate) failed: usize,
    pub(crate) seconds: f64,
    /// Attachments read and unreadable (with attachment contents on).
    pub(crate) attachments: (u64, u64),
}

/// A new data directory with the corpus users; each user's mbox files imported into their
/// archive (with or without indexing), timed from the first message to the last commit.
pub(crate) fn import_corpus(
    info: &CorpusInfo,
    corpus: &Path,
    data: &Path,
    index: bool,
    contents: bool,
) -> Result<CorpusImport> {
    let mut config = Config::default();
    if contents {
        config.attachments.groups = vec!["all".into()];
    }
    let init = InitOptions {
        admin_password: "Bench-Pass-2026".into(),
        config,
        key_file: None,
    };
    let (archive, _) = Archive::init(data, init)?;
    archive.set_extraction_sandbox(vec![
        std::env::current_exe()?.into(),
        "extract-worker".into(),
    ]);
    for (login, email) in &info.users {
        archive.add_user(NewUser {
            name: login.clone(),
            emails: vec![email.clone()],
            ..Default::default()
        })?;
    }
    let total_input: u64 = info
        .users
        .iter()
        .map(|(l, _)| dir_size(&corpus.join(l)))
        .sum();
    let bar = byte_bar(total_input, "importing");
    let started = Instant::now();
    let (mut messages, mut original, mut failed, mut done_before) = (0u64, 0u64, 0usize, 0u64);
    let mut attachments = (0, 0);
    for (login, _) in &info.users {
        let dir = corpus.join(login);
        if !dir.exists() {
            continue;
        }
        let source = arkiv_sources::open(SourceKind::Mbox, &dir, &SourceOptions::default())?;
        let opts = ImportOptions {
            assignment: Assignment::Single {
                user: login.clone(),
                folder: FolderPath::root(),
            },
            source_id: source.source_id(),
            workers: 0,
            index,
            present: Vec::new(),
            sent_folders: Vec::new(),
        };
        let mut last = 0;
        let r = archive.import(source, &opts, &mut |p| {
            last = p.input_bytes;
            bar.set_position(done_before + p.input_bytes);
        })?;
        done_before += last;
        messages += r.messages;
        original += r.original_bytes;
        failed += r.failed.len();
        attachments.0 += r.attachments_read;
        attachments.1 += r.attachments_unreadable;
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok(CorpusImport {
        archive,
        messages,
        original,
        failed,
        seconds,
        attachments,
    })
}

/// Directories below `p` that hold a Maildir `cur` (the folders of a mailbox), `p` included.
pub(crate) fn dir_count(p: &Path) -> usize {
    let mut n = usize::from(p.join("cur").is_dir());
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') && e.path().join("cur").is_dir() {
                n += 1;
            }
        }
    }
    n
}

pub(crate) fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                dir_size(&path)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}

fn mbox_files(p: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(p) {
        let mut v: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        v.sort();
        for path in v {
            if path.is_dir() {
                mbox_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "mbox") {
                out.push(path);
            }
        }
    }
}

/// `zstd -3` (one thread, the CLI's default) over every mbox file of the corpus.
fn run_zstd(corpus: &Path) -> Result<ZstdBench> {
    let mut files = Vec::new();
    mbox_files(corpus, &mut files);
    let started = Instant::now();
    let (mut input, mut output) = (0u64, 0u64);
    for f in &files {
        input += std::fs::metadata(f)?.len();
        let mut child = Command::new("zstd")
            .args(["-3", "-q", "-c"])
            .arg(f)
            .stdout(Stdio::piped())
            .spawn()
            .context(
                "running zstd (install it with `apt-get install -y zstd`, or pass --no-peer)",
            )?;
        let mut out = child.stdout.take().expect("piped");
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = out.read(&mut buf)?;
            if n == 0 {
                break;
            }
            output += n as u64;
        }
        if !child.wait()?.success() {
            bail!("zstd failed on {}", f.display());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(ZstdBench {
        input_bytes: input,
        compressed_bytes: output,
        ratio: output as f64 / input.max(1) as f64,
        seconds,
        mb_per_second: input as f64 / seconds / 1e6,
    })
}

/// Peak resident memory of this process (VmHWM), in bytes.
pub(crate) fn peak_memory() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
