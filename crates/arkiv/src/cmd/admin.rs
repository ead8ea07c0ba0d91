//! `arkiv admin`: the management shell over the Administration API.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use arkiv_server::client::{Client, ClientOptions};
use serde_json::Value;

use crate::cli::AdminArgs;
use crate::output::print_json;

/// `--name=value` (or `name=value`) pairs.
fn parse_args(args: &[String]) -> Result<Vec<(String, String)>> {
    args.iter()
        .map(|a| {
            let a = a.strip_prefix("--").unwrap_or(a);
            match a.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                _ => bail!("arguments are --name=value (got '{a}')"),
            }
        })
        .collect()
}

fn credentials(args: &AdminArgs) -> Result<(String, String)> {
    if let Some(f) = &args.credentials {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let line = text.lines().next().unwrap_or("").trim_end().to_string();
        return Ok(match line.split_once(':') {
            Some((u, p)) if !u.is_empty() => (u.to_string(), p.to_string()),
            _ => (args.user.clone(), line),
        });
    }
    match std::env::var("ARKIV_PASSWORD") {
        Ok(p) => Ok((args.user.clone(), p)),
        Err(_) => bail!("no password: set ARKIV_PASSWORD or pass --credentials FILE"),
    }
}

pub fn admin(args: AdminArgs) -> Result<ExitCode> {
    let (user, password) = credentials(&args)?;
    let opts = ClientOptions {
        host: args.host.clone(),
        user,
        password,
        pin: args.pin.clone(),
        insecure: args.insecure,
        bind: None,
    };
    let form = parse_args(&args.args)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(&opts, &args.function, form))
}

async fn run(
    opts: &ClientOptions,
    function: &str,
    form: Vec<(String, String)>,
) -> Result<ExitCode> {
    let mut client = Client::connect(opts).await?;
    if function.eq_ignore_ascii_case("GetMetadata") {
        // MailStore answers get-metadata with the bare list of functions, not the envelope.
        let (status, v) = client.post("/api/get-metadata", &form).await?;
        if status == 200 && v.is_array() {
            print_json(&v)?;
            return Ok(ExitCode::SUCCESS);
        }
        let msg = v["error"]["message"]
            .as_str()
            .unwrap_or("no list of functions");
        eprintln!("arkiv admin: GetMetadata: {msg}");
        return Ok(ExitCode::from(1));
    }
    let path = format!("/api/invoke/{function}");
    let (status, mut v) = client.post(&path, &form).await?;
    let bar = (std::io::stderr().is_terminal() && v["statusCode"] == "running").then(|| {
        let b = indicatif::ProgressBar::new(100);
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {pos}%")
                .expect("valid template"),
        );
        b.set_message(function.to_string());
        b
    });
    let show_log = |v: &Value| {
        if let Some(log) = v["logOutput"].as_str() {
            for line in log.lines().filter(|l| !l.trim().is_empty()) {
                match &bar {
                    Some(b) => b.println(line),
                    None => eprintln!("{line}"),
                }
            }
        }
    };
    show_log(&v);
    while status == 200 && v["statusCode"] == "running" {
        let token = v["token"].as_str().unwrap_or_default().to_string();
        let form = vec![
            ("token".to_string(), token),
            (
                "lastKnownStatusVersion".to_string(),
                v["statusVersion"].to_string(),
            ),
            ("millisecondsTimeout".to_string(), "5000".to_string()),
        ];
        let (s, next) = client.post("/api/get-status", &form).await?;
        if s != 200 {
            v = next;
            break;
        }
        v = next;
        show_log(&v);
        if let (Some(b), Some(p)) = (&bar, v["percentProgress"].as_u64()) {
            b.set_position(p);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if v["statusCode"] == "succeeded" {
        if !v["result"].is_null() {
            print_json(&v["result"])?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let msg = v["error"]["message"]
        .as_str()
        .unwrap_or("the function failed");
    eprintln!("arkiv admin: {function}: {msg}");
    Ok(ExitCode::from(1))
}
