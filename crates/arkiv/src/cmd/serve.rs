//! `arkiv serve`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use arkiv_archive::{Archive, Config, InitOptions};

use crate::cli::ServeArgs;

/// A listener address: the flag (or its variable), else the configuration; "off" or "" = none.
fn address(flag: Option<&str>, config: &str, what: &str) -> Result<Option<SocketAddr>> {
    let v = flag.unwrap_or(config).trim();
    if v.is_empty() || v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .with_context(|| format!("{what}: {v:?} is not an address such as 127.0.0.1:8462"))
}

/// Listener addresses: the flags (or their variable), else the configuration; "off" = none.
fn addresses(flags: &[String], config: &[String], what: &str) -> Result<Vec<SocketAddr>> {
    let list = if flags.is_empty() { config } else { flags };
    let mut out = Vec::new();
    for v in list {
        if let Some(a) = address(Some(v), "", what)? {
            out.push(a);
        }
    }
    Ok(out)
}

/// Creates the data directory on a first start, printing the secrets once.
fn first_start(data: &Path, key_file: Option<&Path>) -> Result<()> {
    let password = arkiv_server::generate_password();
    let (archive, outcome) = Archive::init(
        data,
        InitOptions {
            admin_password: password.clone(),
            config: Config::default(),
            key_file: key_file.map(Path::to_path_buf),
        },
    )?;
    drop(archive);
    println!(
        "Created the Arkiv data directory {} (first start).",
        data.display()
    );
    println!("  administrator: admin");
    println!("  password:      {password}");
    println!("  recovery key:  {}", outcome.recovery_key);
    println!("  key file:      {}", outcome.key_file.display());
    println!("Both secrets are shown only this once: keep them somewhere safe, offline.");
    Ok(())
}

pub fn serve(data: &Path, key_file: Option<&Path>, args: ServeArgs) -> Result<ExitCode> {
    if !Archive::is_initialized(data) {
        first_start(data, key_file)?;
    }
    let archive = Archive::open(data, key_file)?;
    if let Ok(exe) = std::env::current_exe() {
        archive.set_extraction_sandbox(vec![exe.into(), "extract-worker".into()]);
    }
    let cfg = archive.config().server.clone();
    let https = address(
        args.listen_https.as_deref(),
        &cfg.listen_https,
        "HTTPS listener",
    )?
    .context("the HTTPS listener cannot be off")?;
    let rel = |p: &str| data.join(p);
    let pkcs12 = args.tls_pkcs12.clone().or_else(|| {
        (!cfg.tls_pkcs12.is_empty() && args.tls_certificate.is_none()).then(|| rel(&cfg.tls_pkcs12))
    });
    let cert = match (args.tls_certificate, args.tls_private_key, pkcs12) {
        (None, None, Some(file)) => {
            let password_file = args.tls_pkcs12_password_file.or_else(|| {
                (!cfg.tls_pkcs12_password_file.is_empty())
                    .then(|| rel(&cfg.tls_pkcs12_password_file))
            });
            let password = match password_file {
                Some(f) => std::fs::read_to_string(&f)
                    .with_context(|| format!("reading the PKCS#12 password file {}", f.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
                None => std::env::var("ARKIV_TLS_PKCS12_PASSWORD").context(
                    "a PKCS#12 certificate needs its password: --tls-pkcs12-password-file FILE or ARKIV_TLS_PKCS12_PASSWORD",
                )?,
            };
            Some(arkiv_server::tls::CertSource::Pkcs12 { file, password })
        }
        (Some(cert), Some(key), None) => Some(arkiv_server::tls::CertSource::Pem { cert, key }),
        (None, None, None) if !cfg.tls_certificate.is_empty() => {
            Some(arkiv_server::tls::CertSource::Pem {
                cert: rel(&cfg.tls_certificate),
                key: rel(&cfg.tls_private_key),
            })
        }
        (None, None, None) => None,
        (_, _, Some(_)) => bail!("give either a PEM pair or a PKCS#12 file, not both"),
        _ => bail!("--tls-certificate and --tls-private-key go together"),
    };
    let server_name = args
        .server_name
        .clone()
        .or_else(|| {
            (!cfg.server_name.trim().is_empty()).then(|| cfg.server_name.trim().to_string())
        })
        .unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_string())
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "localhost".into())
        });
    let opts = arkiv_server::ServeOptions {
        https,
        api: address(
            args.listen_api.as_deref(),
            &cfg.listen_api,
            "Administration API listener",
        )?,
        http: address(
            args.listen_http.as_deref(),
            &cfg.listen_http,
            "HTTP listener",
        )?,
        imap: address(
            args.listen_imap.as_deref(),
            &cfg.listen_imap,
            "IMAP (STARTTLS) listener",
        )?,
        imaps: address(
            args.listen_imaps.as_deref(),
            &cfg.listen_imaps,
            "IMAP (SSL) listener",
        )?,
        smtp: addresses(
            &args.listen_smtp,
            &archive.config().smtp.listen,
            "SMTP listener",
        )?,
        smtps: addresses(
            &args.listen_smtps,
            &archive.config().smtp.listen_tls,
            "SMTP (SSL) listener",
        )?,
        smtp_trusted: args.smtp_trusted_network.clone(),
        smtp_plain: args.smtp_plain_network.clone(),
        server_name,
        limits: arkiv_server::listen::Limits {
            max_connections: cfg.max_connections,
            max_per_address: cfg.max_connections_per_address,
            idle: std::time::Duration::from_secs(cfg.idle_timeout_seconds),
            request: std::time::Duration::from_secs(cfg.request_timeout_seconds),
            ..Default::default()
        },
        cert,
        safe_mode: args.safe_mode,
    };
    arkiv_server::serve(archive, opts)?;
    Ok(ExitCode::SUCCESS)
}
