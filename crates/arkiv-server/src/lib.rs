//! `arkiv serve`: one long-running service over one data directory.
//!
//! * Services (manual §6.2), each on its own listener: Web Access over HTTPS (default port
//!   8462; the JSON API for the web), the Administration API over HTTPS (8463; can be off), and
//!   plain HTTP (8461) that only redirects to HTTPS at the configured server name (can be off).
//!   Every address is logged when bound and listed by `GetServiceConfiguration`; every
//!   listener is bounded ([`listen`]: connections in all and per address, idle and slow
//!   clients, accept errors) and every answer carries the security headers.
//! * TLS always ([`tls`]): a certificate from PEM or PKCS#12 files when configured, else a
//!   self-signed one generated on first start and kept in the data directory; its SHA-256
//!   fingerprint is logged for pinning; SIGHUP re-reads the files. rustls with the *ring*
//!   provider, installed explicitly.
//! * The Administration API of manual §7.1 ([`api`]): `POST /api/invoke/<Function>` with HTTP
//!   Basic authentication of an administrator, form-urlencoded arguments and the JSON envelope;
//!   long-running functions return a token that `POST /api/get-status` long-polls and
//!   `POST /api/cancel-async` cancels; `POST /api/get-metadata` lists the functions
//!   ([`functions`], one module per domain, with a transport-free [`error::FnError`]).
//! * Who may do what, logons and the audit log are the archive's (`arkiv_archive::access`,
//!   `auth`, `audit`): this crate turns requests into callers and asks.
//! * Runs in the foreground, logs to stderr, and stops cleanly on SIGTERM or Ctrl-C: listeners
//!   close, running requests finish, the archive is closed (all writes are durable at commit).

pub mod api;
pub mod client;
pub mod error;
pub mod functions;
pub mod imap;
pub mod listen;
pub mod openapi;
pub mod scheduler;
pub mod sessions;
pub mod smtp;
pub mod tasks;
pub mod tls;
pub mod web;
pub mod webui;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use arkiv_archive::Archive;
use tokio::net::TcpListener;

/// Writes one log line to stderr: `<UTC time> <level> <message>` (journald keeps stderr).
/// A closed or full stderr never stops the service: the line is dropped.
#[macro_export]
macro_rules! log {
    ($level:literal, $($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "{} {:<5} {}",
            arkiv_types::Timestamp::now().to_rfc3339(),
            $level,
            format!($($arg)*)
        );
    }};
}

/// What `arkiv serve` was asked for (flags over environment over `arkiv.toml` over defaults,
/// resolved by the caller).
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Web Access over HTTPS.
    pub https: SocketAddr,
    /// The Administration API over HTTPS (`None`: off).
    pub api: Option<SocketAddr>,
    /// Plain HTTP that redirects to HTTPS (`None`: off).
    pub http: Option<SocketAddr>,
    /// The read-only IMAP service with STARTTLS, and with implicit TLS (`None`: off).
    pub imap: Option<SocketAddr>,
    pub imaps: Option<SocketAddr>,
    /// The SMTP journal receiver's listeners, with STARTTLS and with implicit TLS (none: off).
    pub smtp: Vec<SocketAddr>,
    pub smtps: Vec<SocketAddr>,
    /// Client networks that may send journal mail without AUTH, beyond the configuration's.
    pub smtp_trusted: Vec<String>,
    /// Client networks that may send without TLS, beyond the configuration's.
    pub smtp_plain: Vec<String>,
    /// The name clients reach this server by (redirects go there).
    pub server_name: String,
    /// Connection limits of every listener.
    pub limits: listen::Limits,
    /// The configured certificate (PEM pair or PKCS#12); `None`: the self-signed one.
    pub cert: Option<tls::CertSource>,
    /// Safe mode (manual §6.1): only administrators log on (so far the API is for them only)
    /// and no job runs by its schedule.
    pub safe_mode: bool,
}

/// Shared by every request.
pub struct AppState {
    pub archive: Arc<Archive>,
    pub tasks: Arc<tasks::Tasks>,
    pub started: Instant,
    /// Who used the server lately (GetActiveSessions).
    pub sessions: sessions::Sessions,
    /// The name clients reach this server by.
    pub server_name: String,
    /// The bound listeners, for GetServiceConfiguration.
    pub endpoints: std::sync::Mutex<Vec<serde_json::Value>>,
    pub certificate: Arc<tls::Reloadable>,
    pub safe_mode: bool,
    /// Jobs running now (one run at a time per job; `CancelJobAsync`).
    pub jobs: functions::jobs::RunningJobs,
    /// Archiving profiles running now (one run at a time per profile).
    pub profiles: functions::profiles::RunningProfiles,
    /// Indexes selected for `RebuildSelectedStoreIndexes`.
    pub selected_indexes: std::sync::Mutex<std::collections::BTreeSet<u32>>,
    /// The SMTP journal receiver, when it runs (its counters are in the status).
    pub smtp: std::sync::OnceLock<Arc<smtp::policy::Smtp>>,
}

/// Runs the service until SIGTERM or Ctrl-C.
pub fn serve(archive: Archive, opts: ServeOptions) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("arkiv-serve")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(archive, opts))
}

async fn run(archive: Archive, opts: ServeOptions) -> Result<()> {
    let tls = tls::load_or_create(archive.dir(), opts.cert.as_ref())?;
    log!(
        "INFO",
        "TLS certificate SHA-256 fingerprint {}",
        tls.cert.fingerprint()
    );
    // SIGHUP re-reads the certificate files (a renewed certificate, no restart).
    let reload = tls.cert.clone();
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            match reload.reload() {
                Ok(fp) => log!("INFO", "TLS certificate reloaded; SHA-256 fingerprint {fp}"),
                Err(e) => log!(
                    "ERROR",
                    "TLS certificate not reloaded, the old one stays: {e:#}"
                ),
            }
        }
    });
    let tightened = arkiv_archive::files::tighten(archive.dir())?;
    if tightened > 0 {
        log!(
            "INFO",
            "data directory {}: {tightened} files and directories made private (0600/0700)",
            archive.dir().display()
        );
    }
    let state = Arc::new(AppState {
        archive: Arc::new(archive),
        tasks: Arc::new(tasks::Tasks::default()),
        started: Instant::now(),
        sessions: sessions::Sessions::default(),
        server_name: opts.server_name.clone(),
        endpoints: std::sync::Mutex::new(Vec::new()),
        certificate: tls.cert.clone(),
        selected_indexes: std::sync::Mutex::new(Default::default()),
        jobs: Default::default(),
        profiles: Default::default(),
        safe_mode: opts.safe_mode,
        smtp: Default::default(),
    });
    if opts.safe_mode {
        log!(
            "WARN",
            "safe mode: only administrators may log on; jobs do not run by schedule"
        );
    }
    // The start is audited with the settings that decide who reads what: unblocking archive
    // access (a configuration change and a restart) is a line in the audit log. A server that
    // cannot write its audit log does not start.
    let compliance = state.archive.compliance();
    state
        .archive
        .audit(&arkiv_archive::audit::Entry {
            user: "operator",
            client: "local",
            via: "Service",
            function: "service start",
            args: &[
                ("version".into(), env!("CARGO_PKG_VERSION").into()),
                (
                    "adminArchiveAccess".into(),
                    if compliance.admin_archive_access {
                        "unblocked"
                    } else {
                        "blocked"
                    }
                    .into(),
                ),
                ("safeMode".into(), opts.safe_mode.to_string()),
            ],
            outcome: "succeeded",
        })
        .context("writing the service start to the audit log")?;
    for i in state.archive.indexes().unwrap_or_default() {
        if let Some(why) = &i.rebuild_reason {
            log!(
                "WARN",
                "search index of store {} ({}) should be rebuilt: {why}; RebuildSelectedStoreIndexes (or `arkiv reindex --needed` with the server stopped) does it",
                i.store_id.0,
                i.store_name
            );
        }
    }
    // Binds a service's listener, logs its address and lists it for GetServiceConfiguration.
    let listen = async |name: &str,
                        protocol: &str,
                        addr: Option<SocketAddr>|
           -> Result<Option<TcpListener>> {
        let Some(addr) = addr else {
            log!("INFO", "{name}: off");
            state
                .endpoints
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(serde_json::json!({"name": name, "protocol": protocol, "address": null, "enabled": false}));
            return Ok(None);
        };
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the {name} listener {addr}"))?;
        let bound = l.local_addr()?;
        log!("INFO", "listening on {protocol}://{bound} ({name})");
        state
            .endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(serde_json::json!({"name": name, "protocol": protocol, "address": bound.to_string(), "enabled": true}));
        Ok(Some(l))
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    let gate = Arc::new(listen::Gate::default());
    let web = listen("Web Access", "https", Some(opts.https))
        .await?
        .context("the Web Access listener")?;
    let https_port = web.local_addr()?.port();
    servers.push(tokio::spawn(listen::serve_tls(
        web,
        tls.acceptor.clone(),
        web::router(state.clone())
            .merge(webui::router(state.clone()))
            .route("/api/openapi.json", axum::routing::get(openapi::serve)),
        opts.limits.clone(),
        gate.clone(),
        "Web Access",
        stop_rx.clone(),
    )));
    if let Some(l) = listen("Administration API", "https", opts.api).await? {
        servers.push(tokio::spawn(listen::serve_tls(
            l,
            tls.acceptor.clone(),
            api::router(state.clone())
                .route("/api/openapi.json", axum::routing::get(openapi::serve)),
            opts.limits.clone(),
            gate.clone(),
            "Administration API",
            stop_rx.clone(),
        )));
    }
    if let Some(l) = listen("HTTP redirect to HTTPS", "http", opts.http).await? {
        servers.push(tokio::spawn(listen::serve_redirect(
            l,
            https_port,
            opts.server_name.clone(),
            opts.limits.clone(),
            gate.clone(),
            stop_rx.clone(),
        )));
    }
    // IMAP (D3): a port that cannot be bound (below 1024 without the right, or the mail
    // server's own IMAP on this machine) leaves the service off with a warning, so a first
    // `arkiv serve` still starts.
    let listen_or_off = async |name: &str,
                               protocol: &str,
                               addr: Option<SocketAddr>|
           -> Option<TcpListener> {
        match listen(name, protocol, addr).await {
            Ok(l) => l,
            Err(e) => {
                log!("WARN", "{name} is off: {e:#}");
                state
                    .endpoints
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(serde_json::json!({"name": name, "protocol": protocol, "address": addr.map(|a| a.to_string()), "enabled": false, "error": format!("{e:#}")}));
                None
            }
        }
    };
    for (name, protocol, addr, implicit) in [
        ("IMAP Server (STARTTLS)", "imap", opts.imap, false),
        ("IMAP Server (SSL)", "imaps", opts.imaps, true),
    ] {
        if let Some(l) = listen_or_off(name, protocol, addr).await {
            servers.push(tokio::spawn(imap::serve(
                l,
                tls.acceptor.clone(),
                implicit,
                state.clone(),
                opts.limits.clone(),
                gate.clone(),
                name,
                stop_rx.clone(),
            )));
        }
    }
    // The SMTP journal receiver (A7): off until a listener is configured. Like IMAP, a port
    // that cannot be bound leaves that listener off with a warning.
    if !opts.smtp.is_empty() || !opts.smtps.is_empty() {
        let receiver = Arc::new(start_smtp(&state, &opts).await?);
        let _ = state.smtp.set(receiver.clone());
        let listeners = opts
            .smtp
            .iter()
            .map(|a| ("SMTP journal receiver (STARTTLS)", "smtp", *a, false))
            .chain(
                opts.smtps
                    .iter()
                    .map(|a| ("SMTP journal receiver (SSL)", "smtps", *a, true)),
            );
        for (name, protocol, addr, implicit) in listeners {
            if let Some(l) = listen_or_off(name, protocol, Some(addr)).await {
                servers.push(tokio::spawn(smtp::serve(
                    l,
                    tls.acceptor.clone(),
                    implicit,
                    state.clone(),
                    receiver.clone(),
                    opts.limits.clone(),
                    gate.clone(),
                    name,
                    stop_rx.clone(),
                )));
            }
        }
    }
    let jobs = tokio::spawn(scheduler::scheduler(state.clone(), stop_rx.clone()));
    shutdown_signal().await;
    log!("INFO", "stopping: finishing running requests");
    let _ = stop_tx.send(true);
    for s in servers {
        let _ = s.await;
    }
    let _ = jobs.await;
    // Messages already handed to the archive are finished (their senders have gone: they
    // retry, and find them archived).
    if let Some(receiver) = state.smtp.get().cloned() {
        let _ = tokio::task::spawn_blocking(move || receiver.intake.close()).await;
    }
    state.tasks.wait_idle().await;
    if let Err(e) = state.archive.audit(&arkiv_archive::audit::Entry {
        user: "operator",
        client: "local",
        via: "Service",
        function: "service stop",
        args: &[],
        outcome: "succeeded",
    }) {
        log!("ERROR", "the service stop was not audited: {e}");
    }
    log!("INFO", "stopped");
    Ok(())
}

/// The journal receiver as configured: its archive for unknown addresses is created when
/// missing (an archive nobody signs in to: no password, no privileges; audited).
async fn start_smtp(state: &Arc<AppState>, opts: &ServeOptions) -> Result<smtp::policy::Smtp> {
    let cfg = state.archive.config().smtp.clone();
    let archive = state.archive.clone();
    let unknown = cfg.unknown_archive.trim().to_string();
    anyhow::ensure!(
        !unknown.is_empty(),
        "smtp.unknown_archive must name the archive for messages of unknown addresses"
    );
    if let Err(arkiv_archive::ArchiveError::NoSuchUser(_)) = archive.user(&unknown) {
        archive
            .add_user(arkiv_archive::users::NewUser {
                name: unknown.clone(),
                full_name: Some("Journal: messages of unknown addresses".into()),
                ..Default::default()
            })
            .with_context(|| format!("creating the journal archive '{unknown}'"))?;
        archive.audit(&arkiv_archive::audit::Entry {
            user: "operator",
            client: "local",
            via: "Service",
            function: "CreateUser",
            args: &[
                ("userName".into(), unknown.clone()),
                (
                    "reason".into(),
                    "archive of the SMTP journal receiver for unknown addresses".into(),
                ),
            ],
            outcome: "succeeded",
        })?;
        log!(
            "INFO",
            "created the archive '{unknown}' for journaled messages of unknown addresses"
        );
    }
    let intake = arkiv_archive::intake::Intake::start(
        archive,
        arkiv_archive::ingest::JournalAssignment {
            sent_folder: cfg.sent_folder.clone(),
            received_folder: cfg.received_folder.clone(),
            unknown_user: unknown,
            unknown_folder: arkiv_types::FolderPath::parse(&cfg.unknown_folder),
            report_recipients: cfg.journal_report_recipients.clone(),
        },
    )
    .context("starting the SMTP journal receiver")?;
    let receiver = smtp::policy::Smtp::new(&cfg, &opts.smtp_trusted, &opts.smtp_plain, intake)
        .map_err(|e| anyhow::anyhow!(e))?;
    // The settings in force go to the audit log at every start: a change of who may send
    // (made in arkiv.toml or by flags, in force at the next start) is on record.
    state
        .archive
        .audit(&arkiv_archive::audit::Entry {
            user: "operator",
            client: "local",
            via: "Service",
            function: "smtp receiver start",
            args: &[
                ("listen".into(), spaced(&opts.smtp)),
                ("listenTls".into(), spaced(&opts.smtps)),
                ("trustedNetworks".into(), spaced(&receiver.trusted)),
                ("plainNetworks".into(), spaced(&receiver.plain)),
                ("authUsers".into(), spaced(&receiver.auth_users)),
                ("maxMessageBytes".into(), receiver.max_message.to_string()),
                ("unknownArchive".into(), cfg.unknown_archive.clone()),
            ],
            outcome: "succeeded",
        })
        .context("writing the SMTP receiver's settings to the audit log")?;
    if receiver.trusted.is_empty() && receiver.auth_users.is_empty() {
        log!(
            "WARN",
            "SMTP journal receiver: no trusted network and no AUTH user: nobody can send (smtp.trusted_networks, --smtp-trusted-network, smtp.auth_users)"
        );
    }
    Ok(receiver)
}

/// Items separated by spaces (for an audit record).
fn spaced<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}

/// A random administrator password for a first start (meets the password policy).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let rng = ring::rand::SystemRandom::new();
    loop {
        let mut b = [0u8; 16];
        ring::rand::SecureRandom::fill(&rng, &mut b).expect("the system random source works");
        let chars: Vec<char> = b
            .iter()
            .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
            .collect();
        let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
        let p = groups.join("-");
        if arkiv_archive::policy::check_password("admin", &p).is_ok() {
            return p;
        }
    }
}
