//! The extraction sandbox: [`extract`](crate::extract) in a child process.
//!
//! The child (`arkiv extract-worker`, which calls [`serve`]) limits its own address space
//! with `RLIMIT_AS`, then answers requests on stdin/stdout, one attachment at a time. The
//! parent ([`Extractor`]) waits at most the time limit for each answer; a child that overruns
//! it is killed, and a child that dies (out of memory, stack overflow, abort) is noted; either
//! way the attachment gets a [`Failure`] and the next one a fresh child. The frames carry a
//! magic word and lengths, so a confused child is detected, never trusted.

use std::ffi::OsString;
use std::io::{BufReader, BufWriter, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::{Failure, Kind, Limits, Outcome, Settings};

const REQUEST: &[u8; 4] = b"AXQ1";
const REPLY: &[u8; 4] = b"AXR1";

fn kind_code(k: Kind) -> u8 {
    KINDS
        .iter()
        .position(|&x| x == k)
        .expect("every kind is listed") as u8
}

const KINDS: [Kind; 11] = [
    Kind::Text,
    Kind::Html,
    Kind::Pdf,
    Kind::Docx,
    Kind::Xlsx,
    Kind::Pptx,
    Kind::OpenDocument,
    Kind::Rtf,
    Kind::Eml,
    Kind::Msg,
    Kind::Zip,
];

/// Reads attachments' text, in a sandbox process when it has a command for one.
pub struct Extractor {
    settings: Arc<Settings>,
    command: Option<Arc<Vec<OsString>>>,
    child: Option<Worker>,
}

struct Worker {
    process: Child,
    stdin: BufWriter<ChildStdin>,
    replies: Receiver<std::io::Result<(u8, Vec<u8>)>>,
}

impl Worker {
    fn stop(mut self) -> String {
        let _ = self.process.kill();
        match self.process.wait() {
            Ok(status) => describe(status),
            Err(e) => e.to_string(),
        }
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(9) => "it was stopped (killed)".into(),
        Some(6) => "it aborted (out of memory or a stack overflow)".into(),
        Some(11) => "it crashed (segmentation fault)".into(),
        Some(s) => format!("it was ended by signal {s}"),
        None => format!("it exited with {status}"),
    }
}

impl Extractor {
    /// `command` starts a worker that calls [`serve`] (program and arguments; the limits are
    /// appended as `--limits JSON`). Without one, text is extracted in this process.
    pub fn new(settings: Arc<Settings>, command: Option<Arc<Vec<OsString>>>) -> Self {
        Extractor {
            settings,
            command,
            child: None,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The text of one attachment of the given kind.
    pub fn extract(&mut self, kind: Kind, data: &[u8]) -> Outcome {
        let limits = self.settings.limits.clone();
        let limits = &limits;
        if data.len() as u64 > limits.max_input_bytes {
            return Err(Failure(format!(
                "larger than the extraction limit ({} MiB)",
                limits.max_input_bytes >> 20
            )));
        }
        if self.command.is_none() {
            return crate::extract(kind, data, limits);
        }
        // One retry: a worker found dead on writing is replaced once.
        for attempt in 0..2 {
            let worker = match self.worker() {
                Ok(w) => w,
                Err(e) => {
                    return Err(Failure(format!(
                        "could not start the extraction sandbox: {e}"
                    )));
                }
            };
            if send(&mut worker.stdin, kind, data).is_err() {
                let why = self.child.take().map(Worker::stop).unwrap_or_default();
                if attempt == 0 {
                    continue;
                }
                return Err(Failure(format!("the extraction sandbox stopped: {why}")));
            }
            let wait = limits.timeout + Duration::from_secs(2);
            return match worker.replies.recv_timeout(wait) {
                Ok(Ok((0, json))) => serde_json::from_slice(&json).map_err(|e| {
                    Failure(format!("the {} reader answered garbage ({e})", kind.name()))
                }),
                Ok(Ok((_, why))) => Err(Failure(String::from_utf8_lossy(&why).into_owned())),
                Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => {
                    let why = self.child.take().map(Worker::stop).unwrap_or_default();
                    Err(Failure(format!(
                        "the {} reader stopped: {why}",
                        kind.name()
                    )))
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.child.take().map(Worker::stop);
                    Err(Failure(format!(
                        "took longer than {} s and was stopped",
                        limits.timeout.as_secs()
                    )))
                }
            };
        }
        unreachable!("the loop returns")
    }

    fn worker(&mut self) -> std::io::Result<&mut Worker> {
        if self.child.is_none() {
            let cmd = self.command.as_ref().expect("checked by the caller");
            let limits = serde_json::to_string(&self.settings.limits).expect("limits serialize");
            let mut process = Command::new(&cmd[0])
                .args(&cmd[1..])
                .arg("--limits")
                .arg(limits)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()?;
            let stdin = BufWriter::new(process.stdin.take().expect("piped"));
            let mut stdout = BufReader::new(process.stdout.take().expect("piped"));
            let (tx, replies) = crossbeam_channel::bounded(1);
            std::thread::Builder::new()
                .name("extract-replies".into())
                .spawn(move || {
                    loop {
                        let r = receive(&mut stdout);
                        let end = r.is_err();
                        if tx.send(r).is_err() || end {
                            break;
                        }
                    }
                })?;
            self.child = Some(Worker {
                process,
                stdin,
                replies,
            });
        }
        Ok(self.child.as_mut().expect("just set"))
    }
}

impl Drop for Extractor {
    fn drop(&mut self) {
        if let Some(w) = self.child.take() {
            w.stop();
        }
    }
}

fn send(w: &mut impl Write, kind: Kind, data: &[u8]) -> std::io::Result<()> {
    w.write_all(REQUEST)?;
    w.write_all(&[kind_code(kind)])?;
    w.write_all(&(data.len() as u64).to_le_bytes())?;
    w.write_all(data)?;
    w.flush()
}

fn receive(r: &mut impl Read) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 13];
    r.read_exact(&mut head)?;
    if &head[..4] != REPLY {
        return Err(std::io::Error::other("garbled reply"));
    }
    let len = u64::from_le_bytes(head[5..13].try_into().expect("8 bytes"));
    if len > 1 << 30 {
        return Err(std::io::Error::other("oversized reply"));
    }
    let mut body = vec![0; len as usize];
    r.read_exact(&mut body)?;
    Ok((head[4], body))
}

/// The worker's side: limits this process, then answers requests until stdin closes.
pub fn serve(limits: &Limits) -> std::io::Result<()> {
    let bytes = limits.max_memory_bytes.max(64 << 20);
    rustix::process::setrlimit(
        rustix::process::Resource::As,
        rustix::process::Rlimit {
            current: Some(bytes),
            maximum: Some(bytes),
        },
    )?;
    // Panics are caught and answered; their messages would only clutter stderr.
    std::panic::set_hook(Box::new(|_| {}));
    let mut input = BufReader::new(std::io::stdin().lock());
    let mut output = BufWriter::new(std::io::stdout().lock());
    loop {
        let mut head = [0u8; 13];
        match input.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        if &head[..4] != REQUEST {
            return Err(std::io::Error::other("garbled request"));
        }
        let kind = KINDS
            .get(head[4] as usize)
            .copied()
            .ok_or_else(|| std::io::Error::other("unknown kind"))?;
        let len = u64::from_le_bytes(head[5..13].try_into().expect("8 bytes"));
        if len > limits.max_input_bytes {
            return Err(std::io::Error::other("oversized request"));
        }
        let mut data = vec![0; len as usize];
        input.read_exact(&mut data)?;
        let (code, body) = match crate::extract(kind, &data, limits) {
            Ok(x) => (
                0u8,
                serde_json::to_vec(&x).expect("extracted text serializes"),
            ),
            Err(f) => (1u8, f.0.into_bytes()),
        };
        drop(data);
        output.write_all(REPLY)?;
        output.write_all(&[code])?;
        output.write_all(&(body.len() as u64).to_le_bytes())?;
        output.write_all(&body)?;
        output.flush()?;
    }
}
