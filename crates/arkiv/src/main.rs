//! `arkiv`: parse the command line, run the command, map the outcome to an exit code.

mod bench;
mod bench_search;
mod cli;
mod cmd;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    quiet_parser_panics();
    let args = cli::Cli::parse();
    match cmd::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("arkiv: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// mail-parser 0.11 has debug assertions that fire on some malformed messages. `arkiv-message`
/// catches them and flags the message (it is archived byte for byte all the same), so their
/// panic reports would only alarm the administrator. Every other panic is reported as usual.
fn quiet_parser_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info
            .location()
            .is_some_and(|l| l.file().contains("mail-parser"))
        {
            return;
        }
        default(info);
    }));
}
