//! `arkiv`: parse the command line, run the command, map the outcome to an exit code.

mod bench;
mod bench_api;
mod bench_imap;
mod bench_imap_server;
mod bench_recover;
mod bench_search;
mod bench_smtp;
mod bench_web;
mod cli;
mod cmd;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    private_files();
    quiet_parser_panics();
    let args = cli::Cli::parse();
    few_malloc_arenas(&args.command);
    match cmd::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("arkiv: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Whatever Arkiv creates is its owner's alone: directories 0700, files 0600 (the data
/// directory holds the search index, subjects and addresses in clear, and the audit log).
fn private_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Long-running, multi-threaded commands run with at most two glibc malloc arenas. With the
/// default (8 per core) an import's worker threads spread the same bytes over many arenas that
/// fragment. Measured on the 100,000-message benchmark import with indexing: 8 arenas 385 MiB
/// peak at 86 MB/s, 4 arenas 294 MiB at 79 MB/s, 2 arenas 223 MiB at 70 MB/s. Memory wins on a
/// small machine; set `MALLOC_ARENA_MAX` yourself to trade it back for speed. glibc reads the
/// variable only at start, so the process re-executes itself once with it set (safe code; an
/// exec that fails changes nothing).
/// Short commands (search, ls, cat) are left alone: they would only pay the second start.
fn few_malloc_arenas(command: &cli::Command) {
    use std::os::unix::process::CommandExt;
    let long = matches!(
        command,
        cli::Command::Import(_)
            | cli::Command::Profile(_)
            | cli::Command::Serve(_)
            | cli::Command::Reindex { .. }
            | cli::Command::Bench(_)
    );
    if !long || std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("MALLOC_ARENA_MAX", "2")
        .exec();
    // Only reached when the exec failed: run here, with the default arenas.
    let _ = err;
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
