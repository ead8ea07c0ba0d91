//! `arkiv bench api`: what logons cost the real server (`arkiv serve`, started here on
//! 127.0.0.1 with a fresh data directory).
//!
//! * Administration API calls per second with HTTP Basic credentials on every call (as
//!   MailStore's scripts send them), without the credential cache (every call an Argon2id
//!   check, as before issue 9) and with it; the ratio.
//! * A burst of concurrent wrong logons for `admin`: from one address (the lockout decides
//!   before any hash) and from as many addresses as logons (every one is checked: the Argon2
//!   slots bound the work); the server's peak memory (VmHWM) before and after.
//!
//! Figures, not assertions: the goal (under 400 MiB through the burst) is printed beside them.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use arkiv_archive::{Archive, Config, InitOptions};
use arkiv_server::client::{Client, ClientOptions};
use serde_json::json;

use crate::output::print_json;

const PASSWORD: &str = "Bench-Harbor-2026x";

/// A server started for a benchmark; killed when dropped.
pub(crate) struct Served {
    pub(crate) child: Child,
    /// The Administration API's port and Web Access's.
    pub(crate) api: u16,
    pub(crate) web: u16,
    /// The IMAP service's implicit-TLS port, when it was asked for.
    pub(crate) imaps: Option<u16>,
    /// The SHA-256 fingerprint of the server's certificate (`AB:CD:…`), as it logs it.
    pub(crate) fingerprint: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `arkiv serve` on `data` with Web Access and the Administration API (and with
/// `imaps`, the IMAP service over implicit TLS) on free ports of 127.0.0.1.
pub(crate) fn serve(data: &Path, cache: bool, imaps: bool) -> Result<Served> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("--data")
        .arg(data)
        .args([
            "serve",
            "--listen-https",
            "127.0.0.1:0",
            "--listen-api",
            "127.0.0.1:0",
            "--listen-http",
            "off",
            "--listen-imap",
            "off",
            "--listen-imaps",
            if imaps { "127.0.0.1:0" } else { "off" },
        ])
        .env("ARKIV_CREDENTIAL_CACHE", if cache { "on" } else { "off" })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting arkiv serve")?;
    let err = child.stderr.take().context("the server's log")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut api, mut web, mut imaps_port, mut fingerprint) = (None, None, None, String::new());
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .context("the server did not start")?;
        if line.contains("IMAP Server (SSL) is off") {
            bail!("the server could not start its IMAP service: {line}");
        }
        if let Some(fp) = line.split("TLS certificate SHA-256 fingerprint ").nth(1) {
            fingerprint = fp.trim().to_string();
        }
        if let Some(rest) = line.split("listening on ").nth(1) {
            let port = rest
                .split(' ')
                .next()
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| p.parse::<u16>().ok())
                .context("a listener's port")?;
            if rest.contains("(Administration API)") {
                api = Some(port);
            } else if rest.contains("(Web Access)") {
                web = Some(port);
            } else if rest.starts_with("imaps://") {
                imaps_port = Some(port);
            }
        }
        if let (Some(api), Some(web)) = (api, web)
            && (imaps_port.is_some() || !imaps)
        {
            return Ok(Served {
                child,
                api,
                web,
                imaps: imaps_port,
                fingerprint,
            });
        }
    }
}

fn options(port: u16, password: &str, bind: Option<IpAddr>) -> ClientOptions {
    ClientOptions {
        host: format!("127.0.0.1:{port}"),
        user: "admin".into(),
        password: password.into(),
        pin: None,
        insecure: true,
        bind,
    }
}

/// Peak and current resident memory of a process, in MiB (from /proc).
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Sequential calls over one keep-alive connection: calls per second.
async fn calls_per_second(port: u16, calls: usize) -> Result<f64> {
    let mut c = Client::connect(&options(port, PASSWORD, None)).await?;
    // The first call logs on (and, with the cache, fills it).
    let (s, v) = c.post("/api/invoke/GetServerInfo", &[]).await?;
    if s != 200 {
        bail!("GetServerInfo answered {s}: {v}");
    }
    let t = Instant::now();
    for _ in 0..calls {
        let (s, _) = c.post("/api/invoke/GetServerInfo", &[]).await?;
        if s != 200 {
            bail!("GetServerInfo answered {s}");
        }
    }
    Ok(calls as f64 / t.elapsed().as_secs_f64())
}

/// `n` wrong logons at once, each on its own connection, from `addresses` (cycled); returns
/// (HTTP status counts, seconds).
async fn burst(port: u16, n: usize, addresses: &[IpAddr]) -> Result<(Vec<(u16, usize)>, f64)> {
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let ip = addresses[i % addresses.len()];
        tasks.spawn(async move {
            let mut c = Client::connect(&options(port, "Wrong-Harbor-2026x", Some(ip))).await?;
            let (s, _) = c.post("/api/invoke/GetServerInfo", &[]).await?;
            anyhow::Ok(s)
        });
    }
    let mut counts: std::collections::BTreeMap<u16, usize> = Default::default();
    while let Some(r) = tasks.join_next().await {
        let code = match r {
            Ok(Ok(s)) => s,
            _ => 0,
        };
        *counts.entry(code).or_default() += 1;
    }
    Ok((counts.into_iter().collect(), t.elapsed().as_secs_f64()))
}

pub fn run(calls: usize, logons: usize, json: bool) -> Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    drop(Archive::init(
        &data,
        InitOptions {
            admin_password: PASSWORD.into(),
            config: Config::default(),
            key_file: None,
        },
    )?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if !json {
        eprintln!("measuring {calls} Administration API calls without the credential cache...");
    }
    let uncached = {
        let s = serve(&data, false, false)?;
        rt.block_on(calls_per_second(s.api, calls))?
    };
    if !json {
        eprintln!("... and with it; then {logons} concurrent wrong logons...");
    }
    let s = serve(&data, true, false)?;
    let cached = rt.block_on(calls_per_second(s.api, calls))?;
    let pid = s.child.id();
    let (peak_before, _) = memory(pid);
    let one = [IpAddr::from([127, 0, 0, 1])];
    let (one_counts, one_secs) = rt.block_on(burst(s.api, logons, &one))?;
    let many: Vec<IpAddr> = (0..logons)
        .map(|i| IpAddr::from([127, 0, 1 + (i / 250) as u8, 1 + (i % 250) as u8]))
        .collect();
    let (many_counts, many_secs) = rt.block_on(burst(s.api, logons, &many))?;
    let (peak_after, rss_after) = memory(pid);
    drop(s);
    let ratio = cached / uncached.max(f64::MIN_POSITIVE);
    if json {
        print_json(&json!({
            "calls": calls,
            "uncachedCallsPerSecond": uncached,
            "cachedCallsPerSecond": cached,
            "ratio": ratio,
            "logons": logons,
            "oneAddress": {"statuses": one_counts, "seconds": one_secs},
            "manyAddresses": {"statuses": many_counts, "seconds": many_secs},
            "peakMiBBefore": peak_before,
            "peakMiBAfter": peak_after,
            "rssMiBAfter": rss_after,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let show = |c: &[(u16, usize)]| {
        c.iter()
            .map(|(s, n)| match s {
                0 => format!("{n}× closed at the per-address connection limit"),
                s => format!("{n}× HTTP {s}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "Administration API, HTTP Basic on every call (GetServerInfo, one connection, {calls} calls):"
    );
    println!("  without the credential cache: {uncached:8.1} calls/s (an Argon2id check per call)");
    println!("  with the credential cache:    {cached:8.1} calls/s");
    println!("  ratio:                        {ratio:8.1}×");
    println!("{logons} concurrent wrong logons for admin:");
    println!(
        "  from one address:     {} in {one_secs:.2} s (the lockout decides before the hash)",
        show(&one_counts)
    );
    println!(
        "  from {logons} addresses: {} in {many_secs:.2} s (each one checked)",
        show(&many_counts)
    );
    println!(
        "  server peak memory: {peak_before:.0} MiB before, {peak_after:.0} MiB after (goal < 400 MiB); {rss_after:.0} MiB resident after"
    );
    Ok(ExitCode::SUCCESS)
}
