//! One function per command.

mod admin;
mod import;
mod import_server;
mod profile;
mod read;
mod search;
mod serve;
mod setup;

use std::process::ExitCode;

use anyhow::Result;
use arkiv_archive::Archive;

use crate::cli::{Cli, Command, SavedCommand};

pub fn run(cli: Cli) -> Result<ExitCode> {
    let Cli {
        data,
        key_file,
        command,
    } = cli;
    let open = || -> Result<Archive> {
        let archive = Archive::open(&data, key_file.as_deref())?;
        // Attachment text is read in a child process of this same binary (the sandbox).
        if let Ok(exe) = std::env::current_exe() {
            archive.set_extraction_sandbox(vec![exe.into(), "extract-worker".into()]);
        }
        Ok(archive)
    };
    // Commands that only read open the databases read-only: nothing is written, so they start
    // and finish fast. A database left unclean by a crash is repaired by a writable open first.
    let open_ro = || -> Result<Archive> {
        match Archive::open_read_only(&data, key_file.as_deref()) {
            Ok(a) => Ok(a),
            Err(arkiv_archive::ArchiveError::Db { .. }) => open(),
            Err(e) => Err(e.into()),
        }
    };
    // A search first indexes whatever is not searchable yet (that needs a writable open).
    let open_search = || -> Result<Archive> {
        let ro = open_ro()?;
        if !ro.is_read_only() {
            search::catch_up(&ro)?;
        } else if ro.index_needs_work()? {
            drop(ro);
            search::catch_up(&open()?)?;
            return open_ro();
        }
        Ok(ro)
    };
    match command {
        Command::Init(args) => setup::init(&data, key_file.as_deref(), args),
        Command::Recover {
            recovery_key,
            admin_password,
            stores,
            json,
        } => setup::recover(
            &data,
            key_file.as_deref(),
            &recovery_key,
            admin_password,
            &stores,
            json,
        ),
        Command::RenewMasterKey { recovery_key } => {
            let r = open()?.renew_master_key(&recovery_key)?;
            println!(
                "Renewed the master key: {} archive stores re-wrapped; the key file and the recovery key stay the same.",
                r.stores.len()
            );
            for p in &r.pending {
                println!("  finishes at its next opening: store {p}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::User(c) => setup::user(&open()?, c),
        Command::Store(c) => setup::store(&open()?, c),
        Command::Import(c) => import::run(&open()?, c),
        Command::Profile(c) => profile::run(&open()?, c),
        Command::Ls(args) => read::ls(&open_ro()?, args),
        Command::Cat { id, envelope } => read::cat(&open_ro()?, &id, envelope),
        // Saving the search writes to the master database.
        Command::Search(args) if args.save.is_some() => search::search(&open()?, args),
        Command::Search(args) => search::search(&open_search()?, args),
        Command::Reindex { store, needed } => search::reindex(&open()?, store, needed),
        Command::Indexes { json } => search::indexes(&open_ro()?, json),
        Command::ExtractWorker { limits } => {
            let limits: arkiv_extract::Limits = serde_json::from_str(&limits)?;
            arkiv_extract::sandbox::serve(&limits)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Saved(c @ (SavedCommand::List { .. } | SavedCommand::Run { .. })) => {
            search::saved(&open_search()?, c)
        }
        Command::Saved(c) => search::saved(&open()?, c),
        Command::Stats { json } => read::stats(&open_ro()?, json),
        Command::Verify { json } => read::verify(&open_ro, &open, json),
        Command::Bench(c) => crate::bench::run(c),
        Command::Serve(args) => serve::serve(&data, key_file.as_deref(), args),
        Command::Admin(args) => admin::admin(args),
    }
}
