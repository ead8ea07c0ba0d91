//! `arkiv`: parse the command line, run the command, map the outcome to an exit code.

mod bench;
mod cli;
mod cmd;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cmd::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("arkiv: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
