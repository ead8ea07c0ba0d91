//! `arkiv bench web`: how fast Web Access answers a person, on the benchmark archive (built
//! from a corpus of `arkiv bench corpus` once under `--work`, the same data directory
//! `arkiv bench search` builds and reuses).
//!
//! A real `arkiv serve` is started on 127.0.0.1. Two accounts are measured: the owner of the
//! corpus's largest archive (given a password and `login`), and `admin` with archive access
//! unblocked (compliance), whose searches cover every archive: the whole corpus. Clients sign in through the sign-in form and keep their HTTPS connection
//! (keep-alive) and session cookie, and ask with `Accept-Encoding: gzip` as browsers do:
//!
//! * the search page (`/web/search?q=…`, the first results page) for the search bench's
//!   realistic queries;
//! * the message view: the page and its sanitized body document (`/web/messages/ID` and
//!   `…/body`, what a browser loads to show a message), for messages those queries found;
//! * the JSON API's search (`/api/v1/search`) for the same queries, as the baseline: the same
//!   archive search without a page around it.
//!
//! Each at concurrency 1 and 8 (that many clients at once, each on its own connection): p50
//! and p95 of the time from sending the request to the last byte of the answer (loopback, so
//! nearly all of it is the server's), and the bytes transferred. Plus the first page load
//! after sign-in (search page and stylesheet, compressed). Figures, not assertions: the goals
//! (search p95 ≤ 30 ms, message p95 ≤ 40 ms, first load ≤ 150 KB) are printed beside them.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arkiv_archive::Archive;
use arkiv_archive::access::{Privilege, Privileges};
use arkiv_corpus::{CorpusSpec, Profile};
use arkiv_server::client::{Client, ClientOptions};
use hyper::Method;
use serde_json::{Value, json};

use crate::bench::{CorpusInfo, SPEC_FILE, import_corpus};
use crate::output::print_json;

const PASSWORD: &str = "Bench-Web-2026-harbor";

/// A signed-in browser: one keep-alive connection and its session cookie.
struct Browser {
    client: Client,
    cookie: String,
}

impl Browser {
    async fn sign_in(port: u16, user: &str) -> Result<Browser> {
        let mut client = Client::connect(&ClientOptions {
            host: format!("127.0.0.1:{port}"),
            user: String::new(),
            password: String::new(),
            pin: None,
            insecure: true,
            bind: None,
        })
        .await?;
        // The sign-in page first: its form token and the cookie that goes with it.
        let (_, headers, page) = client
            .request(Method::GET, "/web/login", &[], Vec::new())
            .await?;
        let login_cookie = cookie_of(&headers).context("the sign-in page's cookie")?;
        let page = String::from_utf8_lossy(&page);
        let token = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .context("the sign-in form's token")?;
        let form = serde_urlencoded::to_string([
            ("userName", user),
            ("password", PASSWORD),
            ("csrf", token),
        ])?;
        let (status, headers, _) = client
            .request(
                Method::POST,
                "/web/login",
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("cookie", login_cookie.as_str()),
                ],
                form.into_bytes(),
            )
            .await?;
        match (status, cookie_of(&headers)) {
            (303, Some(cookie)) => Ok(Browser { client, cookie }),
            (s, _) => bail!("signing in as {user} answered HTTP {s}"),
        }
    }

    /// GETs a path as a browser does; (milliseconds, bytes on the wire, body).
    async fn get(&mut self, path: &str) -> Result<(f64, usize, hyper::body::Bytes)> {
        let t = Instant::now();
        let (status, _, body) = self
            .client
            .request(
                Method::GET,
                path,
                &[
                    ("cookie", self.cookie.as_str()),
                    ("accept-encoding", "gzip"),
                ],
                Vec::new(),
            )
            .await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if status != 200 {
            bail!("GET {path} answered HTTP {status}");
        }
        Ok((ms, body.len(), body))
    }
}

/// `name=value` of the cookie an answer sets.
fn cookie_of(headers: &hyper::HeaderMap) -> Option<String> {
    headers
        .get(hyper::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
}

/// What one kind of request measured: each request's milliseconds and bytes.
#[derive(Default)]
struct Samples {
    ms: Vec<f64>,
    bytes: Vec<usize>,
}

impl Samples {
    fn add(&mut self, ms: f64, bytes: usize) {
        self.ms.push(ms);
        self.bytes.push(bytes);
    }

    fn merge(&mut self, o: Samples) {
        self.ms.extend(o.ms);
        self.bytes.extend(o.bytes);
    }

    fn pct(&self, p: f64) -> f64 {
        crate::bench_search::pct(&self.ms, p)
    }

    fn mean_kb(&self) -> f64 {
        if self.bytes.is_empty() {
            return 0.0;
        }
        self.bytes.iter().sum::<usize>() as f64 / self.bytes.len() as f64 / 1024.0
    }

    fn json(&self) -> Value {
        json!({
            "samples": self.ms.len(),
            "p50Ms": self.pct(0.5),
            "p95Ms": self.pct(0.95),
            "meanKB": self.mean_kb(),
        })
    }
}

/// One client's share of a round: every `clients`-th request of the list, starting at `me`.
async fn client_round(
    port: u16,
    user: String,
    queries: Vec<String>,
    ids: Vec<String>,
    requests: usize,
    me: usize,
    clients: usize,
) -> Result<[Samples; 3]> {
    let mut b = Browser::sign_in(port, &user).await?;
    let mut out: [Samples; 3] = Default::default();
    let enc = |q: &str| serde_urlencoded::to_string([("q", q)]).unwrap_or_default();
    for i in (me..requests).step_by(clients) {
        let q = &queries[i % queries.len()];
        let (ms, n, _) = b.get(&format!("/web/search?{}", enc(q))).await?;
        out[0].add(ms, n);
        let id = &ids[i % ids.len()];
        let (ms1, n1, _) = b.get(&format!("/web/messages/{id}")).await?;
        let (ms2, n2, _) = b.get(&format!("/web/messages/{id}/body")).await?;
        out[1].add(ms1 + ms2, n1 + n2);
        let (ms, n, _) = b.get(&format!("/api/v1/search?{}", enc(q))).await?;
        out[2].add(ms, n);
    }
    Ok(out)
}

pub fn run(corpus: &Path, work: &Path, requests: usize, json_out: bool) -> Result<ExitCode> {
    let spec_file = std::fs::read(corpus.join(SPEC_FILE)).with_context(|| {
        format!(
            "{} is not a corpus made by `arkiv bench corpus`",
            corpus.display()
        )
    })?;
    let info: CorpusInfo = serde_json::from_slice(&spec_file)?;
    let spec = CorpusSpec {
        messages: info.messages,
        seed: info.seed,
        profile: match info.profile.as_str() {
            "text-only" => Profile::TextOnly,
            _ => Profile::AttachmentHeavy,
        },
        ..Default::default()
    };
    std::fs::create_dir_all(work)?;
    let data = work.join("data");
    if !data.exists() {
        if !json_out {
            eprintln!(
                "building the benchmark archive in {} (once)...",
                data.display()
            );
        }
        import_corpus(&info, corpus, &data, true, false)?;
    }
    // Two people sign in: the owner of the largest archive, and an administrator with archive
    // access unblocked (compliance), who searches every archive: all of the corpus.
    let user = crate::bench::largest_user(&info, corpus)?;
    let (in_archive, total) = {
        let archive = Archive::open(&data, None)?;
        archive.set_user_password(&user, PASSWORD)?;
        archive.set_user_privileges(&user, false, Privileges::of(&[Privilege::Login]))?;
        archive.set_user_password("admin", PASSWORD)?;
        archive.set_compliance(
            &arkiv_archive::access::Caller::operator(),
            arkiv_archive::ComplianceConfig {
                admin_archive_access: true,
            },
        )?;
        let stats = archive.stats()?;
        let mine = stats
            .archives
            .iter()
            .find(|a| a.archive == user)
            .map_or(0, |a| a.messages);
        (mine, stats.messages)
    };
    let queries: Vec<String> = crate::bench_search::derive_queries(&spec)?
        .into_iter()
        .filter_map(|q| q.arkiv)
        .collect();
    if queries.is_empty() {
        bail!("no queries could be derived from the corpus");
    }
    let served = crate::bench_api::serve(&data, true, false)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut accounts = Vec::new();
    for (who, messages) in [(user.clone(), in_archive), ("admin".to_string(), total)] {
        let m = measure(&rt, served.web, &who, &queries, requests, json_out)?;
        accounts.push((who, messages, m));
    }
    drop(served);
    if json_out {
        print_json(&json!({
            "messages": info.messages,
            "queries": queries.len(),
            "accounts": accounts.iter().map(|(who, n, m)| json!({
                "user": who,
                "messagesSearched": n,
                "firstLoadKB": m.first_load as f64 / 1024.0,
                "rounds": m.rounds.iter().map(|(c, [s, v, j])| json!({
                    "clients": c,
                    "searchPage": s.json(),
                    "messageView": v.json(),
                    "jsonSearch": j.json(),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Web Access, corpus of {} messages, {} queries, HTTPS keep-alive, gzip:",
        info.messages,
        queries.len()
    );
    for (who, n, m) in &accounts {
        let whose = if who == "admin" {
            "every archive, as an administrator with archive access"
        } else {
            "their own archive"
        };
        println!("{who}: {n} messages ({whose})");
        println!(
            "  first page load after sign-in (search page + stylesheet): {:.1} KB (goal <= 150 KB)",
            m.first_load as f64 / 1024.0
        );
        for (clients, [s, v, j]) in &m.rounds {
            println!("  {clients} client(s):");
            println!(
                "    search page   p50 {:6.1} ms  p95 {:6.1} ms  {:6.1} KB  (goal p95 <= 30 ms)",
                s.pct(0.5),
                s.pct(0.95),
                s.mean_kb()
            );
            println!(
                "    message view  p50 {:6.1} ms  p95 {:6.1} ms  {:6.1} KB  (page + body; goal p95 <= 40 ms)",
                v.pct(0.5),
                v.pct(0.95),
                v.mean_kb()
            );
            println!(
                "    JSON search   p50 {:6.1} ms  p95 {:6.1} ms  {:6.1} KB  (baseline)",
                j.pct(0.5),
                j.pct(0.95),
                j.mean_kb()
            );
            println!(
                "    search page / JSON search at p95: {:.2}",
                s.pct(0.95) / j.pct(0.95).max(f64::MIN_POSITIVE)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What one signed-in account measured.
struct Measured {
    first_load: usize,
    rounds: Vec<(usize, [Samples; 3])>,
}

/// The first page load, then the rounds at 1 and 8 clients, as `user`.
fn measure(
    rt: &tokio::runtime::Runtime,
    port: u16,
    user: &str,
    queries: &[String],
    requests: usize,
    quiet: bool,
) -> Result<Measured> {
    // The messages the queries find (from the JSON API), and the first page load.
    let (ids, first_load) = rt.block_on(async {
        let mut b = Browser::sign_in(port, user).await?;
        let mut ids = Vec::new();
        for q in queries {
            let path = format!(
                "/api/v1/search?{}",
                serde_urlencoded::to_string([("q", q.as_str())])?
            );
            let (_, _, body) = b.get(&path).await?;
            let v: Value = serde_json::from_slice(&body)?;
            ids.extend(
                v["hits"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .take(3)
                    .filter_map(|h| h["id"].as_str().map(str::to_string)),
            );
        }
        let (_, page, _) = b.get("/web/search").await?;
        let (_, css, _) = b
            .get(&format!(
                "/web/static/app.css?v={}",
                env!("CARGO_PKG_VERSION")
            ))
            .await?;
        anyhow::Ok((ids, page + css))
    })?;
    if ids.is_empty() {
        bail!("the queries found no messages for {user}");
    }
    let mut rounds = Vec::new();
    for clients in [1usize, 8] {
        if !quiet {
            eprintln!(
                "{user}: {requests} rounds (search page, message view, JSON search) with {clients} client(s)..."
            );
        }
        let merged = rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for me in 0..clients {
                set.spawn(client_round(
                    port,
                    user.to_string(),
                    queries.to_vec(),
                    ids.clone(),
                    requests,
                    me,
                    clients,
                ));
            }
            let mut merged: [Samples; 3] = Default::default();
            while let Some(r) = set.join_next().await {
                for (m, s) in merged.iter_mut().zip(r??) {
                    m.merge(s);
                }
            }
            anyhow::Ok(merged)
        })?;
        rounds.push((clients, merged));
    }
    Ok(Measured { first_load, rounds })
}
