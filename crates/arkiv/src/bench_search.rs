//! `arkiv bench search`: search latency side by side with `mu` and `notmuch` on the same corpus.
//!
//! Builds once under the work directory, timing each: an Arkiv data directory imported with
//! indexing on, a Maildir++ copy of the corpus, and the peers' databases (`mu index`, `notmuch
//! new`). Later runs reuse them and report the figures measured when they were built. Then runs
//! a fixed list of queries derived from the corpus content, as a whole CLI process per query for
//! all three tools, in two shapes: the first page of 50 newest first, and a count of all hits.
//! Last, Arkiv's warm latency with the archive open in-process. Figures, not assertions: the
//! issue's targets are printed next to them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arkiv_archive::Archive;
use arkiv_archive::search::SearchQuery;
use arkiv_corpus::{CorpusSpec, Profile};
use arkiv_index::SortBy;
use serde::{Deserialize, Serialize};

use crate::bench::{CorpusImport, CorpusInfo, SPEC_FILE, dir_size, import_corpus};
use crate::output::{bytes, count_bar, print_json};

const TOOLS: [&str; 3] = ["arkiv", "mu", "notmuch"];
const SHAPES: [&str; 2] = ["page50", "count"];
const INSTALL: &str = "apt-get install -y notmuch maildir-utils";

/// How a database was built: measured now, or read back from the run that built it.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Build {
    seconds: f64,
    mb_per_second: f64,
    /// Peak resident memory of the indexer, when `/usr/bin/time` could measure it.
    peak_memory_kb: Option<u64>,
    size_bytes: u64,
    reused: bool,
}

#[derive(Serialize)]
struct Stat {
    samples: usize,
    p50_ms: f64,
    p95_ms: f64,
}

/// One query in the three spellings (`None`: the tool cannot express it) and what it gave.
#[derive(Serialize)]
pub(crate) struct QueryResult {
    kind: &'static str,
    pub(crate) arkiv: Option<String>,
    mu: Option<String>,
    notmuch: Option<String>,
    /// Hits counted by arkiv, mu and notmuch.
    counts: [Option<u64>; 3],
    counts_disagree: bool,
    /// Median per tool (arkiv, mu, notmuch) and shape (page50, count), ms.
    p50_ms: [[Option<f64>; 2]; 3],
}

impl QueryResult {
    fn spell(&self, tool: usize) -> Option<&String> {
        [&self.arkiv, &self.mu, &self.notmuch][tool].as_ref()
    }
}

#[derive(Serialize)]
struct Report {
    corpus_messages: usize,
    corpus_bytes: u64,
    repeats: usize,
    arkiv_import: Build,
    arkiv_index_bytes: u64,
    arkiv_index_percent: f64,
    mu_index: Option<Build>,
    notmuch_new: Option<Build>,
    /// "tool/shape" → latency over every query the tool ran.
    cli: BTreeMap<String, Stat>,
    /// "peer/shape" → peer p95 ÷ Arkiv p95, over the queries both ran.
    ratios: BTreeMap<String, f64>,
    warm: BTreeMap<String, Stat>,
    disagreements: usize,
    queries: Vec<QueryResult>,
}

pub fn run(
    corpus: &Path,
    work: &Path,
    no_peers: bool,
    repeats: usize,
    json: bool,
) -> Result<ExitCode> {
    let spec_file = std::fs::read(corpus.join(SPEC_FILE)).with_context(|| {
        format!(
            "{} is not a corpus made by `arkiv bench corpus`",
            corpus.display()
        )
    })?;
    let info: CorpusInfo = serde_json::from_slice(&spec_file)?;
    let profile = match info.profile.as_str() {
        "text-only" => Profile::TextOnly,
        _ => Profile::AttachmentHeavy,
    };
    let spec = CorpusSpec {
        messages: info.messages,
        seed: info.seed,
        profile,
        ..Default::default()
    };
    let repeats = repeats.max(1);
    for peer in if no_peers { &[][..] } else { &TOOLS[1..] } {
        let found = Command::new(peer)
            .arg("--version")
            .stdout(Stdio::null())
            .status();
        found.with_context(|| format!("{peer} is needed: {INSTALL} (or pass --no-peers)"))?;
    }
    std::fs::create_dir_all(work)?;
    let data = work.join("data");
    let import = cached(&work.join("arkiv-import.json"), data.exists(), || {
        import(&info, corpus, &data)
    })?;
    let index_bytes: u64 = std::fs::read_dir(data.join("stores"))?
        .filter_map(|e| Some(dir_size(&e.ok()?.path().join("index"))))
        .sum();

    let peers = if no_peers {
        None
    } else {
        Some(Peers::build(&spec, info.bytes, work)?)
    };
    let mut queries = derive_queries(&spec)?;
    let tools = if no_peers { 1 } else { 3 };
    let samples = measure_cli(&mut queries, &data, peers.as_ref(), repeats)?;

    // Over every query `tool` ran, or only those `peer` ran too.
    let pooled = |tool: usize, shape: usize, peer: usize| {
        let qs = (0..queries.len()).filter(|&qi| queries[qi].spell(peer).is_some());
        stat(
            &qs.flat_map(|qi| samples[tool][shape][qi].clone())
                .collect::<Vec<_>>(),
        )
    };
    let (mut cli, mut ratios) = (BTreeMap::new(), BTreeMap::new());
    for (shape, sn) in SHAPES.iter().enumerate() {
        for (tool, name) in TOOLS.iter().enumerate().take(tools) {
            let own = pooled(tool, shape, tool);
            if tool > 0 {
                ratios.insert(
                    format!("{name}/{sn}"),
                    own.p95_ms / pooled(0, shape, tool).p95_ms,
                );
            }
            cli.insert(format!("{name}/{sn}"), own);
        }
    }

    let warm = measure_warm(&data, &queries, repeats)?;
    let report = Report {
        corpus_messages: info.messages,
        corpus_bytes: info.bytes,
        repeats,
        arkiv_import: import,
        arkiv_index_bytes: index_bytes,
        arkiv_index_percent: index_bytes as f64 * 100.0 / info.bytes.max(1) as f64,
        mu_index: peers.as_ref().map(|p| p.mu.clone()),
        notmuch_new: peers.map(|p| p.notmuch),
        cli,
        ratios,
        warm,
        disagreements: queries.iter().filter(|r| r.counts_disagree).count(),
        queries,
    };
    if json {
        print_json(&report)?;
    } else {
        print_report(&report, &info);
    }
    Ok(ExitCode::SUCCESS)
}

/// The peers' databases, built once under the work directory from a Maildir++ copy.
struct Peers {
    mu_home: PathBuf,
    nm_config: PathBuf,
    mu: Build,
    notmuch: Build,
}

impl Peers {
    fn build(spec: &CorpusSpec, corpus_bytes: u64, work: &Path) -> Result<Peers> {
        let (maildir, mu_home) = (work.join("maildir"), work.join("mu"));
        if !work.join("maildir.done").exists() {
            eprintln!(
                "writing the corpus as Maildir++ into {} ...",
                maildir.display()
            );
            let _ = std::fs::remove_dir_all(&maildir);
            arkiv_corpus::write_maildir_tree(spec, &maildir)?;
            std::fs::write(work.join("maildir.done"), "")?;
        }
        let mu_opt = format!("--muhome={}", mu_home.display());
        // A database without its figures is what an interrupted build leaves: built again.
        let (mu_file, nm_file) = (work.join("mu-index.json"), work.join("notmuch-new.json"));
        let mu_done = mu_file.exists() && mu_home.join("xapian").exists();
        let mu = cached(&mu_file, mu_done, || {
            let _ = std::fs::remove_dir_all(&mu_home);
            let md = format!("--maildir={}", maildir.display());
            check(Command::new("mu").args(["init", "--quiet", &mu_opt, &md]))?;
            eprintln!("mu index (a few minutes) ...");
            let mut c = Command::new("mu");
            c.args(["index", "--quiet", &mu_opt]);
            timed_build(&mut c, work, corpus_bytes, &mu_home)
        })?;
        let nm_config = work.join("notmuch-config");
        let config = "[new]\ntags=\nignore=maildirfolder\n\n[search]\nexclude_tags=\n\n\
                      [maildir]\nsynchronize_flags=false\n";
        let path = maildir.display();
        std::fs::write(&nm_config, format!("[database]\npath={path}\n\n{config}"))?;
        let nm_db = maildir.join(".notmuch");
        let notmuch = cached(&nm_file, nm_file.exists() && nm_db.exists(), || {
            let _ = std::fs::remove_dir_all(&nm_db);
            eprintln!("notmuch new (several minutes) ...");
            let mut c = Command::new("notmuch");
            c.env("NOTMUCH_CONFIG", &nm_config).args(["new", "--quiet"]);
            timed_build(&mut c, work, corpus_bytes, &nm_db)
        })?;
        Ok(Peers {
            mu_home,
            nm_config,
            mu,
            notmuch,
        })
    }

    /// The command line of a query: `tool` 1 mu, else notmuch; `shape` 0 first page, 1 count.
    fn command(&self, tool: usize, shape: usize, q: &str) -> Command {
        let mut c = Command::new(TOOLS[tool]);
        let args = match (tool, shape) {
            (1, 0) => "find --fields=l --maxnum=50 --sortfield=date --reverse",
            (1, _) => "find --fields=l",
            (_, 0) => "search --limit=50 --sort=newest-first --output=messages",
            (_, _) => "count",
        };
        c.args(args.split(' '));
        match tool {
            1 => c.arg(format!("--muhome={}", self.mu_home.display())),
            _ => c.env("NOTMUCH_CONFIG", &self.nm_config),
        };
        c.arg(q);
        c
    }
}

/// Runs every query with every tool, each shape `repeats` times after a warm-up run, as a new
/// process each time; fills in the hit counts and medians. Returns `[tool][shape][query]` ms.
fn measure_cli(
    queries: &mut [QueryResult],
    data: &Path,
    peers: Option<&Peers>,
    repeats: usize,
) -> Result<Vec<Vec<Vec<Vec<f64>>>>> {
    let me = std::env::current_exe()?;
    let command = |tool: usize, shape: usize, q: &str| match peers {
        Some(p) if tool > 0 => p.command(tool, shape, q),
        _ => {
            let mut c = Command::new(&me);
            c.arg("--data")
                .arg(data)
                .args(["search", "--json", "--limit"]);
            c.args([["50", "1"][shape], "--", q]);
            c
        }
    };
    let tools = if peers.is_some() { 3 } else { 1 };
    let runs: usize = queries
        .iter()
        .map(|q| (0..tools).filter(|&t| q.spell(t).is_some()).count())
        .sum();
    let bar = count_bar((runs * 2 * (repeats + 1)) as u64, "queries");
    let mut samples = vec![vec![vec![Vec::new(); queries.len()]; 2]; 3];
    for (qi, q) in queries.iter_mut().enumerate() {
        for tool in 0..tools {
            let Some(s) = q.spell(tool).cloned() else {
                continue;
            };
            for shape in [0, 1] {
                for r in 0..=repeats {
                    let t = Instant::now();
                    let out = command(tool, shape, &s).stderr(Stdio::null()).output()?;
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    bar.inc(1);
                    // mu exits with 2 or 4 ("no matches") when nothing is found.
                    let no_match = tool == 1 && matches!(out.status.code(), Some(2 | 4));
                    if !(out.status.success() || no_match) {
                        bail!("{} failed on query {s:?}: {}", TOOLS[tool], out.status);
                    }
                    if r > 0 {
                        samples[tool][shape][qi].push(ms);
                    } else if shape == 1 {
                        let text = String::from_utf8_lossy(&out.stdout);
                        let json = || serde_json::from_str::<serde_json::Value>(&text);
                        q.counts[tool] = match tool {
                            0 => json()?["total"].as_u64(),
                            1 => Some(text.lines().count() as u64),
                            _ => text.trim().parse().ok(),
                        };
                    }
                }
                q.p50_ms[tool][shape] = Some(pct(&samples[tool][shape][qi], 0.5));
            }
        }
        let (lo, hi) = (
            q.counts.iter().flatten().min(),
            q.counts.iter().flatten().max(),
        );
        q.counts_disagree = matches!((lo, hi), (Some(&lo), Some(&hi)) if (hi - lo) * 2 > hi);
    }
    bar.finish_and_clear();
    Ok(samples)
}

/// Arkiv's latency with the archive open: each query `repeats` times after a warm-up.
fn measure_warm(
    data: &Path,
    queries: &[QueryResult],
    repeats: usize,
) -> Result<BTreeMap<String, Stat>> {
    eprintln!("warm in-process searches ...");
    let archive = Archive::open(data, None)?;
    let mut warm = BTreeMap::new();
    for (shape, sn) in SHAPES.iter().enumerate() {
        let mut v = Vec::new();
        for q in queries {
            let text = q.arkiv.clone().unwrap_or_default();
            let sq = SearchQuery {
                text,
                sort: SortBy::Date,
                limit: [50, 1][shape],
                ..Default::default()
            };
            let op = arkiv_archive::access::Caller::operator();
            archive.search(&op, &sq)?; // warm-up
            for _ in 0..repeats {
                let t = Instant::now();
                archive.search(&op, &sq)?;
                v.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        warm.insert(sn.to_string(), stat(&v));
    }
    Ok(warm)
}

fn print_report(r: &Report, info: &CorpusInfo) {
    let reused = |b: &Build| {
        if b.reused {
            " (reused: measured when built)"
        } else {
            ""
        }
    };
    let (n, a) = (r.queries.len(), &r.arkiv_import);
    println!(
        "Search benchmark: {} messages, {} ({} profile, seed {}), {n} queries, {} runs each after a warm-up",
        r.corpus_messages,
        bytes(r.corpus_bytes),
        info.profile,
        info.seed,
        r.repeats
    );
    println!(
        "  arkiv import+index: {:.1} s, {:.1} MB/s{}",
        a.seconds,
        a.mb_per_second,
        reused(a)
    );
    println!(
        "  arkiv index size:   {} = {:.1}% of the mail                 (target <= 12%)",
        bytes(r.arkiv_index_bytes),
        r.arkiv_index_percent
    );
    for (name, b) in [("mu index", &r.mu_index), ("notmuch new", &r.notmuch_new)] {
        let Some(b) = b else { continue };
        let mem = b.peak_memory_kb.map_or("n/a".into(), |k| bytes(k * 1024));
        println!(
            "  {name:<19} {:.1} s, {:.1} MB/s, database {}, peak memory {mem}{}",
            b.seconds,
            b.mb_per_second,
            bytes(b.size_bytes),
            reused(b)
        );
    }
    if let Some(m) = &r.mu_index {
        let x = a.mb_per_second / m.mb_per_second;
        println!("  arkiv import+index MB/s / mu index MB/s: {x:.2}x    (target >= 2.5x)");
    }
    println!("  CLI, whole process per query   samples   p50 ms   p95 ms   peer p95 / arkiv p95");
    for (k, s) in &r.cli {
        let ratio = r
            .ratios
            .get(k)
            .map_or(String::new(), |x| format!("{x:.2}x  (target >= 2x)"));
        let line = format!(
            "    {k:<28} {:>7} {:>8.1} {:>8.1}   {ratio}",
            s.samples, s.p50_ms, s.p95_ms
        );
        println!("{}", line.trim_end());
    }
    for (k, s) in &r.warm {
        println!(
            "  warm in-process {k:<7} p50 {:.2} ms, p95 {:.2} ms    (target p95 <= 10 ms at 100k)",
            s.p50_ms, s.p95_ms
        );
    }
    println!(
        "  hit counts differ by > 50% between tools on {} of {n} queries (tokenizers differ; see --json)",
        r.disagreements
    );
}

/// The figures saved when the database was built if it `exists`; else builds it and saves them.
fn cached(file: &Path, exists: bool, build: impl FnOnce() -> Result<Build>) -> Result<Build> {
    if exists {
        let saved = serde_json::from_slice::<Build>(&std::fs::read(file).unwrap_or_default());
        if saved.is_err() {
            eprintln!(
                "{}: no figures saved (delete the database to measure them); reusing it",
                file.display()
            );
        }
        return Ok(Build {
            reused: true,
            ..saved.unwrap_or_default()
        });
    }
    let b = build()?;
    std::fs::write(file, serde_json::to_vec_pretty(&b)?)?;
    Ok(b)
}

fn check(c: &mut Command) -> Result<()> {
    let st = c
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {c:?}"))?;
    if !st.success() {
        bail!("{c:?} failed: {st}");
    }
    Ok(())
}

/// Runs an indexer, under `/usr/bin/time -f %M` when there is one for its peak memory.
fn timed_build(c: &mut Command, work: &Path, corpus_bytes: u64, db: &Path) -> Result<Build> {
    let mem_file = work.join("peak-memory.txt");
    let _ = std::fs::remove_file(&mem_file);
    let mut cmd = if Path::new("/usr/bin/time").exists() {
        let mut t = Command::new("/usr/bin/time");
        t.args(["-f", "%M", "-o"])
            .arg(&mem_file)
            .arg(c.get_program());
        t
    } else {
        Command::new(c.get_program())
    };
    cmd.args(c.get_args())
        .envs(c.get_envs().filter_map(|(k, v)| Some((k, v?))));
    let started = Instant::now();
    check(&mut cmd)?;
    let seconds = started.elapsed().as_secs_f64();
    let mem = std::fs::read_to_string(&mem_file).unwrap_or_default();
    Ok(Build {
        seconds,
        mb_per_second: corpus_bytes as f64 / seconds / 1e6,
        peak_memory_kb: mem.lines().last().and_then(|l| l.trim().parse().ok()),
        size_bytes: dir_size(db),
        reused: false,
    })
}

/// `bench import`'s path (shared with it): a new data directory, the corpus users, every
/// user's mbox files imported with indexing on.
fn import(info: &CorpusInfo, corpus: &Path, data: &Path) -> Result<Build> {
    let CorpusImport {
        original, seconds, ..
    } = import_corpus(info, corpus, data, true, false)?;
    let mb_per_second = original as f64 / seconds / 1e6;
    Ok(Build {
        seconds,
        mb_per_second,
        size_bytes: dir_size(data),
        ..Default::default()
    })
}

/// A plain word: lowercase ASCII letters, 4 to 14 of them, once ASCII punctuation around it is
/// trimmed; anything else (numbers, accented words cut in two) is "".
pub(crate) fn word(t: &str) -> &str {
    let w = t.trim_matches(|c: char| c.is_ascii_punctuation());
    let ok = (4..=14).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_lowercase());
    if ok { w } else { "" }
}

/// The words of the prose lines of the 7/8-bit `text/plain` parts of a message (split crudely
/// at MIME boundaries), line by line; "" where a word or punctuation breaks a phrase.
pub(crate) fn prose_lines<'a>(
    head: &'a str,
    body: &'a str,
) -> impl Iterator<Item = Vec<&'a str>> + 'a {
    let plain = |h: &str| {
        let h = h.to_ascii_lowercase();
        let encoded = h.contains("base64") || h.contains("quoted-printable");
        (!h.contains("content-type:") || h.contains("text/plain")) && !encoded
    };
    let multipart = head.to_ascii_lowercase().contains("multipart/");
    let parts: Vec<&str> = match multipart {
        true => body
            .split("\n--")
            .filter_map(|p| p.split_once("\n\n"))
            .collect::<Vec<_>>(),
        false => vec![(head, body)],
    }
    .into_iter()
    .filter(|(h, _)| plain(h) && h.contains(':'))
    .map(|(_, b)| b)
    .collect();
    let lines = parts.into_iter().flat_map(|b| b.lines());
    lines
        .filter(|l| l.matches(' ').count() >= 3 && !l.starts_with('>'))
        .map(|l| {
            let mut v = Vec::new();
            for t in l.split_whitespace() {
                v.push(word(t));
                if !v[v.len() - 1].is_empty() && !t.ends_with(v[v.len() - 1]) {
                    v.push("");
                }
            }
            v
        })
}

/// A fixed list of queries from the first 2,000 generated messages, so that each has hits.
pub(crate) fn derive_queries(spec: &CorpusSpec) -> Result<Vec<QueryResult>> {
    // Per word, phrase, subject word, sender, month: how many messages have it.
    let mut df: [HashMap<String, usize>; 5] = Default::default();
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    for m in arkiv_corpus::generate(spec).take(2000) {
        let text = String::from_utf8_lossy(&m.bytes);
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let head = head.replace("\n\t", " ").replace("\n ", " ");
        let mut seen: [HashSet<String>; 5] = Default::default();
        for h in head.lines() {
            if let Some(s) = h.strip_prefix("Subject: ").filter(|s| !s.contains("=?")) {
                seen[2].extend(
                    s.split_whitespace()
                        .map(word)
                        .filter(|w| !w.is_empty())
                        .map(String::from),
                );
            } else if let Some(f) = h.strip_prefix("From: ") {
                let addr = f.rsplit('<').next().unwrap_or(f).trim_end_matches('>');
                seen[3].insert(addr.trim().to_lowercase());
            } else if let Some(d) = h.strip_prefix("Date: ") {
                let t: Vec<&str> = d.split_whitespace().collect();
                let month = t.get(2).and_then(|x| mon.iter().position(|m| m == x));
                if let (Some(mo), Some(y)) = (month, t.get(3)) {
                    seen[4].insert(format!("{y}-{:02}", mo + 1));
                }
            }
        }
        for line in prose_lines(&head, body) {
            for (w, n) in line.iter().zip(line.iter().skip(1).chain([&""])) {
                if !w.is_empty() {
                    seen[0].insert(w.to_string());
                    if !n.is_empty() {
                        seen[1].insert(format!("{w} {n}"));
                    }
                }
            }
        }
        for (d, s) in df.iter_mut().zip(seen) {
            s.into_iter().for_each(|k| *d.entry(k).or_insert(0) += 1);
        }
    }
    // Most frequent first, ties by name: deterministic.
    let [words, pairs, subj, from, months] = df.map(|m| {
        let mut v: Vec<(String, usize)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    });
    let common = every(&words[..words.len().min(200)], 8, 5);
    let rare = every(
        &words
            .iter()
            .filter(|w| w.1 <= 5)
            .cloned()
            .collect::<Vec<_>>(),
        8,
        0,
    );
    let phrases = every(
        &pairs
            .iter()
            .filter(|p| p.1 >= 3)
            .cloned()
            .collect::<Vec<_>>(),
        6,
        0,
    );
    let mut seen = HashSet::new();
    let domains = from
        .iter()
        .filter_map(|f| Some(f.0.split_once('@')?.1.to_string()));
    let domains: Vec<String> = domains.filter(|d| seen.insert(d.clone())).take(2).collect();
    if common.len() < 8
        || rare.len() < 8
        || phrases.len() < 6
        || months.is_empty()
        || domains.is_empty()
    {
        bail!("the corpus sample is too small to derive the queries");
    }
    let mut out = Vec::new();
    let mut add = |kind, arkiv: String, mu: Option<String>, notmuch: Option<String>| {
        let (counts, p50_ms) = (Default::default(), Default::default());
        let arkiv = Some(arkiv);
        out.push(QueryResult {
            kind,
            arkiv,
            mu,
            notmuch,
            counts,
            counts_disagree: false,
            p50_ms,
        });
    };
    // Spelled the same in the three languages.
    let mut same: Vec<(&str, String)> = Vec::new();
    same.extend(common.iter().map(|w| ("common word", w.clone())));
    same.extend(rare.iter().map(|w| ("rare word", w.clone())));
    same.extend(phrases.iter().map(|p| ("phrase", format!("\"{p}\""))));
    same.extend(
        from.iter()
            .take(4)
            .map(|f| ("from", format!("from:{}", f.0))),
    );
    let subjects = every(&subj[..subj.len().min(40)], 4, 0);
    same.extend(subjects.iter().map(|w| ("subject", format!("subject:{w}"))));
    let prefixes = common.iter().step_by(2).map(|w| format!("{}*", &w[..4]));
    same.extend(prefixes.map(|p| ("prefix wildcard", p)));
    same.extend((0..2).map(|i| ("or", format!("{} OR {}", rare[i], rare[7 - i]))));
    for (kind, s) in same {
        add(kind, s.clone(), Some(s.clone()), Some(s));
    }
    for d in &domains {
        // mu has no suffix wildcard but takes a regular expression; notmuch has neither.
        let re = format!("from:/.*@{}/", d.replace('.', "\\."));
        add("suffix wildcard", format!("from:*@{d}"), Some(re), None);
    }
    for (i, (ym, _)) in months.iter().take(2).enumerate() {
        let (y, m) = (ym[..4].parse::<u32>()?, ym[5..].parse::<u32>()?);
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let last = match m {
            2 if y % 4 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let w = if i == 1 {
            format!(" {}", common[0])
        } else {
            String::new()
        };
        let mu = format!("date:{y}{m:02}01..{y}{m:02}{last}{w}");
        let notmuch = format!("date:{ym}-01..{ym}-{last}{w}");
        add(
            "date range",
            format!("date>={ym}-01 date<{ny}-{nm:02}-01{w}"),
            Some(mu),
            Some(notmuch),
        );
    }
    for i in 0..4 {
        let (a, b) = (&common[i], &common[7 - i]);
        let peers = format!("{a} AND NOT {b}");
        add(
            "negation",
            format!("{a} -{b}"),
            Some(peers.clone()),
            Some(peers),
        );
    }
    Ok(out)
}

/// `n` names spread evenly over `v` (names with their counts, in rank order), skipping the
/// first `skip`.
pub(crate) fn every(v: &[(String, usize)], n: usize, skip: usize) -> Vec<String> {
    let step = (v.len().saturating_sub(skip) / n.max(1)).max(1);
    v.iter()
        .skip(skip)
        .step_by(step)
        .take(n)
        .map(|x| x.0.clone())
        .collect()
}

/// Nearest-rank percentile.
pub(crate) fn pct(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((p * s.len() as f64).ceil() as usize).max(1) - 1;
    s.get(i).copied().unwrap_or(0.0)
}

fn stat(v: &[f64]) -> Stat {
    Stat {
        samples: v.len(),
        p50_ms: pct(v, 0.5),
        p95_ms: pct(v, 0.95),
    }
}
