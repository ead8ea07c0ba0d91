//! `arkiv bench recover`: how long `RecoverStore` takes to rebuild a store's database from
//! the recovery records in its packs, next to the time it takes just to read those packs
//! (the floor: recovery reads every byte once and opens every record).

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arkiv_archive::Archive;
use arkiv_types::StoreStatus;
use serde::Serialize;

use crate::bench::{CorpusInfo, SPEC_FILE, import_corpus, peak_memory};
use crate::output::{bytes, print_json};

#[derive(Serialize)]
struct RecoverBench {
    messages: u64,
    pack_bytes: u64,
    /// Reading every pack file once (the peer: what the disk alone costs).
    read_seconds: f64,
    /// The database rebuilt from the packs (`RecoverStore` itself).
    recover_seconds: f64,
    /// Then the search index rebuilt from the recovered store (the store's next open).
    reindex_seconds: f64,
    messages_per_second: f64,
    mb_per_second: f64,
    /// recover ÷ read.
    ratio_to_read: f64,
    recovery_records: u64,
    /// Peak resident memory while recovering, and while reindexing after.
    recover_peak_memory_bytes: u64,
    reindex_peak_memory_bytes: u64,
}

pub fn run(corpus: &Path, work: &Path, json: bool) -> Result<ExitCode> {
    let info: CorpusInfo =
        serde_json::from_slice(&std::fs::read(corpus.join(SPEC_FILE)).with_context(|| {
            format!(
                "{} is not a corpus made by `arkiv bench corpus`",
                corpus.display()
            )
        })?)?;
    std::fs::create_dir_all(work)?;
    let data = work.join("data");
    if !data.exists() {
        eprintln!("building the benchmark store (once; reused by later runs)...");
        drop(import_corpus(&info, corpus, &data, true, false)?);
    }
    let archive = Archive::open(&data, None)?;
    let store = archive.current_store()?;
    let id = store.id();
    let before = store.counters()?.messages;
    let packs = store.dirs().content.join("packs");
    drop(store);

    // The peer: read every pack once.
    let started = Instant::now();
    let mut pack_bytes = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for e in std::fs::read_dir(&packs)? {
        let mut f = std::fs::File::open(e?.path())?;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            pack_bytes += n as u64;
        }
    }
    let read_seconds = started.elapsed().as_secs_f64();

    archive.set_store_status(id, StoreStatus::Disabled)?;
    // Peak memory from here on (the build above, if any, is not the recovery's).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = Instant::now();
    let r = archive.recover_store(id, false, &mut |_, _| {});
    let recover_seconds = started.elapsed().as_secs_f64();
    let recover_peak = peak_memory();
    archive.set_store_status(id, StoreStatus::Current)?;
    let r = r?;
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = Instant::now();
    archive.catch_up_index(&mut |_| {})?;
    let reindex_seconds = started.elapsed().as_secs_f64();
    let reindex_peak = peak_memory();
    if let Some(old) = &r.old_database {
        let _ = std::fs::remove_file(old);
    }
    if r.messages != before {
        bail!(
            "recovery gave {} messages, the store held {before}",
            r.messages
        );
    }
    let b = RecoverBench {
        messages: r.messages,
        pack_bytes,
        read_seconds,
        recover_seconds,
        reindex_seconds,
        messages_per_second: r.messages as f64 / recover_seconds,
        mb_per_second: pack_bytes as f64 / recover_seconds / 1e6,
        ratio_to_read: recover_seconds / read_seconds.max(1e-9),
        recovery_records: r.recovery_records,
        recover_peak_memory_bytes: recover_peak,
        reindex_peak_memory_bytes: reindex_peak,
    };
    if json {
        print_json(&b)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "RecoverStore benchmark: {} messages, {} of packs ({} profile)",
        b.messages,
        bytes(b.pack_bytes),
        info.profile
    );
    println!(
        "  read the packs (peer): {:.2} s, {:.0} MB/s (as cached as the recovery's own reads)",
        b.read_seconds,
        b.pack_bytes as f64 / b.read_seconds.max(1e-9) / 1e6
    );
    println!(
        "  RecoverStore:          {:.2} s, {:.0} messages/s, {:.0} MB/s, {} recovery records",
        b.recover_seconds, b.messages_per_second, b.mb_per_second, b.recovery_records
    );
    println!(
        "  then the search index: {:.2} s (rebuilt from the recovered store)",
        b.reindex_seconds
    );
    println!("  recover / read:        {:.1}x", b.ratio_to_read);
    println!(
        "  peak memory:           {} recovering, {} reindexing",
        bytes(b.recover_peak_memory_bytes),
        bytes(b.reindex_peak_memory_bytes)
    );
    Ok(ExitCode::SUCCESS)
}
