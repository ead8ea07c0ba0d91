//! `arkiv import`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use arkiv_archive::mailboxes::Protocol;
use arkiv_archive::{Archive, Assignment, ImportOptions, ImportReport};
use arkiv_sources::{MboxFormat, SourceKind, SourceOptions};
use arkiv_types::FolderPath;

use crate::cli::{ImportArgs, ImportCommand};
use crate::output::{byte_bar, bytes, print_json};

pub fn run(archive: &Archive, c: ImportCommand) -> Result<ExitCode> {
    match c {
        ImportCommand::Eml(a) => import(archive, SourceKind::Eml, a),
        ImportCommand::Mbox(a) => import(archive, SourceKind::Mbox, a),
        ImportCommand::Maildir(a) => import(archive, SourceKind::Maildir, a),
        ImportCommand::Thunderbird(a) => import(archive, SourceKind::Thunderbird, a),
        ImportCommand::Imap(a) => super::import_server::run(archive, Protocol::Imap, a),
        ImportCommand::Pop3(a) => super::import_server::run(archive, Protocol::Pop3, a),
    }
}

pub fn import(archive: &Archive, kind: SourceKind, args: ImportArgs) -> Result<ExitCode> {
    let mut opts = SourceOptions {
        recursive: !args.no_recursive,
        mbox_format: args
            .mbox_format
            .parse::<MboxFormat>()
            .context("--mbox-format")?,
        max_message_bytes: archive.config().import.max_message_bytes,
        ..SourceOptions::default()
    };
    if !args.extensions.is_empty() {
        opts.extensions = args.extensions.clone();
    }
    let source = arkiv_sources::open(kind, &args.path, &opts)?;
    let folder = FolderPath::parse(&args.folder.clone().unwrap_or_else(|| source.root_name()));
    let assignment = if args.multi_user {
        Assignment::Multi {
            sent_folder: args.sent_folder.clone(),
            received_folder: args.received_folder.clone(),
            unknown_user: args.unknown_user.clone(),
            folder,
        }
    } else {
        Assignment::Single {
            user: args
                .user
                .clone()
                .expect("clap requires --user without --multi-user"),
            folder,
        }
    };
    let import_opts = ImportOptions {
        assignment,
        source_id: source.source_id(),
        workers: args.workers.unwrap_or(0),
        index: !args.no_wait,
        present: Vec::new(),
        sent_folders: Vec::new(),
    };
    let bar = byte_bar(source.total_bytes(), "archiving");
    let report = archive.import(source, &import_opts, &mut |p| {
        bar.set_position(p.input_bytes);
        bar.set_message(format!(
            "{} new, {} known, {} failed",
            p.archived, p.already_archived, p.failed
        ));
    })?;
    bar.finish_and_clear();
    if args.json {
        print_json(&report)?;
    } else {
        print_summary(&report);
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

pub(crate) fn print_summary(r: &ImportReport) {
    let mbps = if r.seconds > 0.0 {
        r.original_bytes as f64 / r.seconds / 1e6
    } else {
        0.0
    };
    println!("Imported {}", r.source);
    println!(
        "  messages read:     {} ({}, {:.1} s, {:.1} MB/s)",
        r.messages,
        bytes(r.original_bytes),
        r.seconds,
        mbps
    );
    println!("  archived:          {}", r.archived);
    println!("  already archived:  {}", r.already_archived);
    if r.moved > 0 {
        println!(
            "  moved:             {} (they moved to another folder in the source)",
            r.moved
        );
    }
    if r.skipped > 0 {
        println!(
            "  skipped:           {} (no address of a known user; see --unknown-user)",
            r.skipped
        );
        for s in r.skipped_examples.iter().take(5) {
            println!("      {}", s.origin);
        }
    }
    if r.flagged > 0 {
        println!(
            "  flagged:           {} (archived byte for byte, but the MIME parser could not read them)",
            r.flagged
        );
    }
    if r.charset_guessed > 0 {
        println!(
            "  charset guessed:   {} (archived byte for byte; their charset was unknown, missing or wrong, so their text was read by a guess)",
            r.charset_guessed
        );
        for s in r.charset_examples.iter().take(5) {
            println!("      {}: {}", s.origin, s.reason);
        }
    }
    println!(
        "  stored:            {} added to the archive",
        bytes(r.stored_bytes)
    );
    if !r.stores_created.is_empty() {
        println!(
            "  new stores:        {:?} (the current store was full)",
            r.stores_created
        );
    }
    if r.indexed > 0 {
        println!("  made searchable:   {}", r.indexed);
    }
    if let Some(w) = &r.index_warning {
        println!(
            "  NOT YET SEARCHABLE: some messages ({w}); they are archived and will be indexed at the next start"
        );
    }
    if r.attachments_read > 0 || r.attachments_unreadable > 0 {
        println!("  attachment texts:  {} read", r.attachments_read);
    }
    if r.attachments_unreadable > 0 {
        println!(
            "  unreadable:        {} attachments (indexed by name only; find them with has:unreadable-attachment)",
            r.attachments_unreadable
        );
        for f in r.unreadable_examples.iter().take(10) {
            println!("      {}: {}", f.origin, f.reason);
        }
    }
    println!("  failed:            {}", r.failed.len());
    for f in r.failed.iter().take(50) {
        println!("      {}: {}", f.origin, f.reason);
    }
    if r.failed.len() > 50 {
        println!(
            "      ... and {} more (use --json for all)",
            r.failed.len() - 50
        );
    }
}
