//! `arkiv bench search`: search latency side by side with mu and notmuch.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};

pub fn run(_corpus: &Path, _work: &Path, _no_peers: bool, _repeats: usize, _json: bool) -> Result<ExitCode> {
    bail!("bench search is being written")
}
