//! `arkiv bench imap`: archiving a mailbox from a real Dovecot, side by side with `mbsync`
//! pulling the same mailbox into a Maildir (the peer that only copies).
//!
//! The corpus (one mailbox, its folders) is generated into a Maildir under `--work` once and
//! served by a private Dovecot over IMAPS. mbsync runs first into a throwaway Maildir so that
//! Dovecot's indexes and the page cache are warm for both; then Arkiv archives the mailbox
//! (with indexing, in this process: its peak memory is this process's), then mbsync pulls it
//! afresh, and each re-runs with nothing new. Figures, not assertions.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use arkiv_archive::mailboxes::{
    Deletion, Filters, FolderScope, MailboxJob, MailboxTarget, Protocol, ServerSettings,
};
use arkiv_archive::users::NewUser;
use arkiv_archive::{Archive, Config, InitOptions};
use arkiv_corpus::CorpusSpec;
use arkiv_corpus::dovecot::{Dovecot, DovecotOptions};
use arkiv_mailclient::Credentials;
use serde::Serialize;

use crate::output::{bytes, print_json};

const PASSWORD: &str = "bench-password";

#[derive(Serialize)]
struct Side {
    seconds: f64,
    messages_per_second: f64,
    mb_per_second: f64,
    /// Peak of anonymous resident memory (heap and stacks, sampled every 10 ms): what grows
    /// when a program keeps state per message. Mapped files (the index, the page cache of
    /// the store) are not in it.
    peak_memory_bytes: u64,
    /// Peak resident set (VmHWM), mapped files included.
    peak_resident_bytes: u64,
    rerun_seconds: f64,
}

#[derive(Serialize)]
struct ImapBench {
    messages: u64,
    bytes: u64,
    folders: usize,
    arkiv: Side,
    archived: u64,
    failed: usize,
    mbsync: Option<Side>,
    /// Arkiv's time ÷ mbsync's (below 1: Arkiv is faster).
    time_ratio: Option<f64>,
}

/// Resets this process's VmHWM to its current size (Linux: `5` into `/proc/self/clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A `/proc/<pid>/status` field in bytes (0 when the process is gone).
pub(crate) fn status_field(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Samples a process's anonymous resident memory every 10 ms until stopped; its peak.
pub(crate) struct AnonSampler {
    stop: std::sync::Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl AnonSampler {
    pub(crate) fn start(pid: String) -> AnonSampler {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(status_field(&pid, "RssAnon:"));
                std::thread::sleep(Duration::from_millis(10));
            }
            peak.max(status_field(&pid, "RssAnon:"))
        });
        AnonSampler { stop, thread }
    }

    pub(crate) fn finish(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

/// Runs a command to its end; its wall time and peak anonymous and resident memory (sampled
/// from /proc).
pub(crate) fn timed(cmd: &mut Command, what: &str) -> Result<(f64, u64, u64)> {
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let pid = child.id().to_string();
    let (mut anon, mut resident) = (0, 0);
    let status = loop {
        anon = anon.max(status_field(&pid, "RssAnon:"));
        resident = resident.max(status_field(&pid, "VmHWM:"));
        if let Some(s) = child.try_wait()? {
            break s;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let secs = t.elapsed().as_secs_f64();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        bail!("{what} failed ({status}): {err}");
    }
    Ok((secs, anon, resident))
}

/// Writes an mbsync configuration (`conf`) that pulls every folder of `login`'s mailbox from
/// the IMAPS server on `localhost:port` (its certificate in `cert`) into the Maildir `target`;
/// without `fsync`, mbsync does not flush each message to disk (what the disk costs is then
/// left out of a measurement of the server).
pub(crate) fn mbsync_config(
    port: u16,
    cert: &Path,
    login: &str,
    password: &str,
    target: &Path,
    conf: &Path,
    fsync: bool,
) -> Result<()> {
    std::fs::create_dir_all(target)?;
    let text = format!(
        "FSync {}\n\nIMAPAccount bench\nHost localhost\nPort {port}\nUser {login}\nPass {password}\nSSLType IMAPS\nCertificateFile {}\n\n\
         IMAPStore far\nAccount bench\n\n\
         MaildirStore near\nPath {}/\nInbox {}/INBOX\nSubFolders Verbatim\n\n\
         Channel bench\nFar :far:\nNear :near:\nPatterns *\nCreate Near\nSync Pull\nSyncState *\n",
        if fsync { "yes" } else { "no" },
        cert.display(),
        target.display(),
        target.display()
    );
    std::fs::write(conf, text)?;
    Ok(())
}

pub fn run(
    messages: usize,
    profile: &str,
    work: Option<PathBuf>,
    no_peer: bool,
    json: bool,
) -> Result<ExitCode> {
    let profile_v = crate::bench::profile(profile)?;
    let tmp = tempfile::tempdir()?;
    let work = work.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&work)?;
    // Dovecot's mail processes (as nobody) walk down to the mail under the work directory.
    std::fs::set_permissions(&work, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let spec = CorpusSpec {
        messages,
        seed: 42,
        users: 1,
        duplicate_ratio: 0.0,
        profile: profile_v,
    };
    let login = arkiv_corpus::users(&spec)[0].login.clone();
    let mail = work.join(format!("maildir-{messages}-{profile}"));
    let summary_file = mail.join("corpus.json");
    let (count, size) = if summary_file.is_file() {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary_file)?)?;
        (
            v["messages"].as_u64().unwrap_or(0),
            v["bytes"].as_u64().unwrap_or(0),
        )
    } else {
        let _ = std::fs::remove_dir_all(&mail);
        eprintln!(
            "generating {messages} messages ({profile}) into {} ...",
            mail.display()
        );
        let s = arkiv_corpus::write_maildir_tree(&spec, &mail)?;
        std::fs::write(
            &summary_file,
            serde_json::json!({"messages": s.messages, "bytes": s.bytes}).to_string(),
        )?;
        (s.messages as u64, s.bytes)
    };
    let folders = crate::bench::dir_count(&mail.join(&login));
    let dovecot = Dovecot::start(&DovecotOptions {
        users: vec![(login.clone(), PASSWORD.into())],
        master: None,
        mail_root: Some(mail.clone()),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;

    let have_mbsync = Command::new("mbsync").arg("--version").output().is_ok();
    if !no_peer && !have_mbsync {
        bail!("mbsync is needed for the peer: apt-get install -y isync (or pass --no-peer)");
    }
    if !no_peer {
        // Warm Dovecot's indexes and the page cache for both.
        let warm = work.join("mbsync-warm");
        let _ = std::fs::remove_dir_all(&warm);
        let conf = work.join("mbsync-warm.conf");
        mbsync_config(
            dovecot.imaps_port,
            &dovecot.cert,
            &login,
            PASSWORD,
            &warm,
            &conf,
            true,
        )?;
        eprintln!("warming Dovecot with a first mbsync ...");
        timed(
            Command::new("mbsync")
                .arg("-q")
                .arg("-c")
                .arg(&conf)
                .arg("-a"),
            "mbsync",
        )
        .map_err(|e| anyhow::anyhow!("{e}\nDovecot's log:\n{}", dovecot.log()))?;
        let _ = std::fs::remove_dir_all(&warm);
    }

    // Arkiv.
    let data = work.join(format!("arkiv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let (archive, _) = Archive::init(
        &data,
        InitOptions {
            admin_password: "Bench-Password-2026x".into(),
            config: Config::default(),
            key_file: None,
        },
    )?;
    archive.add_user(NewUser {
        name: login.clone(),
        ..Default::default()
    })?;
    let job = MailboxJob {
        server: ServerSettings {
            protocol: Protocol::Imap,
            host: "127.0.0.1".into(),
            port: dovecot.imaps_port,
            security: "tls".into(),
            fingerprint: dovecot.fingerprint.clone(),
            timeout_seconds: 60,
            ..Default::default()
        },
        credentials: Credentials::Login {
            user: login.clone(),
            password: PASSWORD.into(),
        },
        target: MailboxTarget::Single {
            user: login.clone(),
            folder: "Mail".into(),
        },
        scope: FolderScope {
            default_exclusions: false,
            ..FolderScope::default()
        },
        filters: Filters::default(),
        deletion: Deletion::Never,
        index: true,
        workers: 0,
    };
    let cancel = AtomicBool::new(false);
    eprintln!("Arkiv archives the mailbox ...");
    // The peak counts from here: generating the corpus in this process came before.
    reset_peak();
    let sampler = AnonSampler::start(std::process::id().to_string());
    let t = Instant::now();
    let report = archive.archive_mailbox(&job, &mut |_| {}, &cancel)?;
    let arkiv_secs = t.elapsed().as_secs_f64();
    let arkiv_anon = sampler.finish();
    let arkiv_resident = status_field("self", "VmHWM:");
    let t = Instant::now();
    let again = archive.archive_mailbox(&job, &mut |_| {}, &cancel)?;
    let arkiv_rerun = t.elapsed().as_secs_f64();
    if again.import.messages != 0 {
        eprintln!(
            "note: the re-run read {} messages (expected none)",
            again.import.messages
        );
    }
    drop(archive);
    let _ = std::fs::remove_dir_all(&data);
    let read = report.import.original_bytes;
    let arkiv = Side {
        seconds: arkiv_secs,
        messages_per_second: report.import.messages as f64 / arkiv_secs,
        mb_per_second: read as f64 / arkiv_secs / 1e6,
        peak_memory_bytes: arkiv_anon,
        peak_resident_bytes: arkiv_resident,
        rerun_seconds: arkiv_rerun,
    };

    // mbsync, afresh.
    let mbsync = if no_peer {
        None
    } else {
        let target = work.join("mbsync-maildir");
        let _ = std::fs::remove_dir_all(&target);
        let conf = work.join("mbsync.conf");
        mbsync_config(
            dovecot.imaps_port,
            &dovecot.cert,
            &login,
            PASSWORD,
            &target,
            &conf,
            true,
        )?;
        eprintln!("mbsync pulls the mailbox ...");
        let mut cmd = Command::new("mbsync");
        cmd.arg("-q").arg("-c").arg(&conf).arg("-a");
        let (secs, anon, resident) = timed(&mut cmd, "mbsync")?;
        let mut cmd = Command::new("mbsync");
        cmd.arg("-q").arg("-c").arg(&conf).arg("-a");
        let (rerun, _, _) = timed(&mut cmd, "mbsync (re-run)")?;
        let _ = std::fs::remove_dir_all(&target);
        Some(Side {
            seconds: secs,
            messages_per_second: count as f64 / secs,
            mb_per_second: read as f64 / secs / 1e6,
            peak_memory_bytes: anon,
            peak_resident_bytes: resident,
            rerun_seconds: rerun,
        })
    };
    let out = ImapBench {
        messages: report.import.messages,
        bytes: read,
        folders,
        archived: report.import.archived,
        failed: report.import.failed.len(),
        time_ratio: mbsync.as_ref().map(|m| arkiv.seconds / m.seconds),
        arkiv,
        mbsync,
    };
    if out.messages != count {
        eprintln!("note: {} messages generated, {} read", count, out.messages);
    }
    let _ = size;
    if json {
        print_json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "IMAP benchmark: {} messages, {} in {} folders, one mailbox on Dovecot over IMAPS",
        out.messages,
        bytes(out.bytes),
        out.folders
    );
    let line = |name: &str, s: &Side| {
        println!(
            "  {name:<8} {:6.1} s, {:7.0} messages/s, {:6.1} MB/s, peak heap {:>10} (resident {:>10}), re-run with nothing new {:.2} s",
            s.seconds,
            s.messages_per_second,
            s.mb_per_second,
            bytes(s.peak_memory_bytes),
            bytes(s.peak_resident_bytes),
            s.rerun_seconds
        );
    };
    line("arkiv", &out.arkiv);
    if let Some(m) = &out.mbsync {
        line("mbsync", m);
    }
    println!(
        "  arkiv archived {} (failed {}), with indexing; mbsync only copies files",
        out.archived, out.failed
    );
    if let Some(r) = out.time_ratio {
        println!(
            "  arkiv time / mbsync time: {r:.2}  (goal <= 1.0; re-run goal < 3 s for 10,000 messages)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
