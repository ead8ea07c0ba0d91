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
    let open = || -> Result<Archive> { Ok(Archive::open(&data, key_file.as_deref())?) };
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
        Command::Reindex { store } => search::reindex(&open()?, store),
        Command::Saved(c) => search::saved(&open()?, c),
        Command::Stats { json } => read::stats(&open()?, json),
        Command::Verify { json } => read::verify(&open()?, json),
        Command::Bench(c) => crate::bench::run(c),
    }
}
