//! One function per command.

mod import;
mod read;
mod search;
mod setup;

use std::process::ExitCode;

use anyhow::Result;
use arkiv_archive::Archive;

use crate::cli::{Cli, Command};

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
    match command {
        Command::Init(args) => setup::init(&data, key_file.as_deref(), args),
        Command::Recover { recovery_key } => {
            setup::recover(&data, key_file.as_deref(), &recovery_key)
        }
        Command::User(c) => setup::user(&open()?, c),
        Command::Store(c) => setup::store(&open()?, c),
        Command::Import(args) => import::import(&open()?, args),
        Command::Ls(args) => read::ls(&open()?, args),
        Command::Cat { id } => read::cat(&open()?, &id),
        Command::Search(args) => search::search(&open()?, args),
        Command::Reindex { store, needed } => search::reindex(&open()?, store, needed),
        Command::Indexes { json } => search::indexes(&open()?, json),
        Command::ExtractWorker { limits } => {
            let limits: arkiv_extract::Limits = serde_json::from_str(&limits)?;
            arkiv_extract::sandbox::serve(&limits)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Saved(c) => search::saved(&open()?, c),
        Command::Stats { json } => read::stats(&open()?, json),
        Command::Verify { json } => read::verify(&open()?, json),
        Command::Bench(c) => crate::bench::run(c),
    }
}
