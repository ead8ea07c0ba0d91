//! ls, cat, stats, verify.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use arkiv_archive::Archive;
use arkiv_archive::stats::MessageView;
use arkiv_types::{FolderId, FolderPath, MessageId};
use serde::Serialize;

use crate::cli::LsArgs;
use crate::output::{bytes, count_bar, print_json};

#[derive(Serialize)]
struct FolderListing {
    archive: String,
    folder: String,
    subfolders: Vec<String>,
    messages: Vec<MessageView>,
}

pub fn ls(archive: &Archive, args: LsArgs) -> Result<ExitCode> {
    let Some(spec) = args
        .folder
        .as_deref()
        .filter(|s| !s.trim_matches('/').is_empty())
    else {
        let archives = archive.child_folders(None)?;
        if !args.recursive {
            if args.json {
                print_json(&archives.iter().map(|a| &a.1).collect::<Vec<_>>())?;
            } else {
                for (_, name) in archives {
                    println!("{name}/");
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        let mut all = Vec::new();
        for (id, name) in archives {
            walk(archive, id, &name, &FolderPath::root(), true, &mut all)?;
        }
        return show(archive, all, args.json);
    };
    let path = FolderPath::parse(spec);
    let (name, rest) = path
        .names()
        .split_first()
        .ok_or_else(|| anyhow!("empty folder"))?;
    let rest = FolderPath::from_names(rest);
    let id = archive
        .find_folder(name, &rest)?
        .ok_or_else(|| anyhow!("folder '{spec}' does not exist (see `arkiv ls`)"))?;
    let mut all = Vec::new();
    walk(archive, id, name, &rest, args.recursive, &mut all)?;
    show(archive, all, args.json)
}

fn walk(
    archive: &Archive,
    id: FolderId,
    name: &str,
    path: &FolderPath,
    recursive: bool,
    out: &mut Vec<FolderListing>,
) -> Result<()> {
    let kids = archive.child_folders(Some(id))?;
    out.push(FolderListing {
        archive: name.to_string(),
        folder: path.to_string(),
        subfolders: kids.iter().map(|k| k.1.clone()).collect(),
        messages: archive.folder_messages(id)?,
    });
    if recursive {
        for (kid, kname) in kids {
            walk(archive, kid, name, &path.child(&kname), true, out)?;
        }
    }
    Ok(())
}

/// Tells on stderr which stores are missing from what was printed; exit 3 if any.
pub(crate) fn unavailable_exit(archive: &Archive) -> ExitCode {
    let missing = archive.unavailable_stores();
    for u in &missing {
        eprintln!("warning: {u}");
    }
    if missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

fn show(archive: &Archive, listings: Vec<FolderListing>, json: bool) -> Result<ExitCode> {
    if json {
        print_json(&listings)?;
        return Ok(unavailable_exit(archive));
    }
    let mut out = std::io::stdout().lock();
    for l in listings {
        let full = if l.folder.is_empty() {
            l.archive.clone()
        } else {
            format!("{}/{}", l.archive, l.folder)
        };
        writeln!(out, "{full}/  ({} messages)", l.messages.len())?;
        for s in &l.subfolders {
            writeln!(out, "  {s}/")?;
        }
        for m in &l.messages {
            let date = m
                .date
                .as_deref()
                .map(|d| &d[..10.min(d.len())])
                .unwrap_or("----------");
            let flag = match (&m.damaged, &m.problem) {
                (Some(_), _) => " [DAMAGED: see `arkiv verify`]",
                (_, Some(p)) if p.starts_with(arkiv_message::CHARSET_FLAG) => " [charset guessed]",
                (_, Some(_)) => " [unparsed]",
                (None, None) => "",
            };
            writeln!(
                out,
                "  {:<10} {date}  {:<30.30}  {}{flag}",
                m.id, m.from, m.subject
            )?;
        }
    }
    drop(out);
    Ok(unavailable_exit(archive))
}

pub fn cat(archive: &Archive, id: &str, envelope: bool) -> Result<ExitCode> {
    let id: MessageId = id.parse()?;
    if envelope {
        let m = archive.readable(&arkiv_archive::access::Caller::operator(), id)?;
        match archive.envelope(&m)? {
            Some(e) => print_json(&e)?,
            None => anyhow::bail!(
                "message {id} has no SMTP envelope: it was not archived by the journal receiver"
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let m = archive.exportable(&arkiv_archive::access::Caller::operator(), id)?;
    let bytes = archive.message_bytes(&m)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn stats(archive: &Archive, json: bool) -> Result<ExitCode> {
    let s = archive.stats()?;
    let code = if s.unavailable_stores.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    };
    if json {
        print_json(&s)?;
        return Ok(code);
    }
    println!(
        "{:<28} {:>10} {:>9} {:>12}",
        "ARCHIVE", "MESSAGES", "SIZE %", "SIZE"
    );
    for a in &s.archives {
        println!(
            "{:<28} {:>10} {:>8.2}% {:>12}",
            a.archive,
            a.messages,
            a.share_percent,
            bytes(a.bytes)
        );
    }
    println!();
    println!(
        "{:<4} {:<16} {:<15} {:>10} {:>10} {:>12} {:>12}",
        "ID", "STORE", "STATUS", "MESSAGES", "UNIQUE", "ORIGINAL", "STORED"
    );
    for st in &s.stores {
        println!(
            "{:<4} {:<16} {:<15} {:>10} {:>10} {:>12} {:>12}",
            st.id,
            st.name,
            st.status,
            st.messages,
            st.unique_messages,
            bytes(st.original_bytes),
            bytes(st.stored_bytes)
        );
        if let Some(e) = &st.error {
            println!("     ! unavailable, not counted: {e}");
        }
        for p in &st.short_packs {
            println!("     ! pack cut short (data lost outside Arkiv): {p}");
        }
        if st.damaged_messages > 0 {
            println!(
                "     ! {} damaged messages (`arkiv verify` names them)",
                st.damaged_messages
            );
        }
    }
    println!();
    println!(
        "{} messages, {} original, {} stored ({:.1}% of the original: single-instance storage, compression, decoded attachments)",
        s.messages,
        bytes(s.original_bytes),
        bytes(s.stored_bytes),
        s.stored_ratio * 100.0
    );
    if !s.unavailable_stores.is_empty() {
        println!(
            "{} stores unavailable: their messages are not counted above",
            s.unavailable_stores.len()
        );
    }
    Ok(code)
}

/// `verify` reads only, and changes nothing when all is well. When it finds damaged messages
/// it runs once more on a writable open, which keeps the findings in the stores, so that
/// listings flag those messages afterwards too.
pub fn verify(
    open_ro: &dyn Fn() -> Result<Archive>,
    open: &dyn Fn() -> Result<Archive>,
    json: bool,
) -> Result<ExitCode> {
    let archive = open_ro()?;
    let report = verify_with(&archive)?;
    let report = if !report.broken_messages().is_empty() && archive.is_read_only() {
        drop(archive);
        verify_with(&open()?)?
    } else {
        report
    };
    show_verify(&report, json)
}

fn verify_with(archive: &Archive) -> Result<arkiv_archive::verify::VerifyReport> {
    let total: u64 = archive
        .stores()
        .iter()
        .filter_map(|s| archive.store(s.entry.id).ok())
        .filter_map(|s| s.counters().ok())
        .map(|c| c.messages)
        .sum();
    let bar = count_bar(total, "verifying");
    let mut base = 0u64;
    let mut last_store = 0u32;
    let mut last_total = 0u64;
    let report = archive.verify(&mut |store, done, t| {
        if store != last_store {
            base += last_total;
            last_store = store;
        }
        last_total = t;
        bar.set_position(base + done);
    })?;
    bar.finish_and_clear();
    Ok(report)
}

fn show_verify(report: &arkiv_archive::verify::VerifyReport, json: bool) -> Result<ExitCode> {
    if json {
        print_json(report)?;
    } else {
        for s in &report.stores {
            println!(
                "store {}: {} messages, {} unique contents, {} blobs checked; {} problems{}",
                s.store,
                s.messages,
                s.contents,
                s.blobs,
                s.problems.len(),
                if s.unreferenced_blobs > 0 {
                    format!(
                        " ({} unreferenced blobs from interrupted imports)",
                        s.unreferenced_blobs
                    )
                } else {
                    String::new()
                }
            );
            for p in &s.problems {
                match &p.message {
                    Some(id) => println!("  message {id}: {}", p.detail),
                    None => println!("  {}", p.detail),
                }
            }
        }
        for u in &report.unavailable {
            println!("store {}: NOT CHECKED: {}", u.store, u.reason);
        }
        for p in &report.master_problems {
            println!("  {p}");
        }
        for d in &report.unregistered_store_dirs {
            println!(
                "note: {d} holds an archive store that is not registered (a detached store? attach it with AttachStore, or remove it)"
            );
        }
        let broken = report.broken_messages();
        if report.clean {
            println!("OK: every message matches its hash.");
        } else {
            println!(
                "PROBLEMS FOUND: {} damaged messages{}",
                broken.len(),
                if broken.is_empty() {
                    String::new()
                } else {
                    format!(": {}", broken.join(" "))
                }
            );
        }
    }
    Ok(if report.clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
