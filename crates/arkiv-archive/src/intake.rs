//! Messages that arrive one at a time and wait for their acknowledgement: the SMTP journal
//! receiver's way into the archive (SPEC A7).
//!
//! ```text
//!  SMTP sessions ──submit──▶ queue ──▶ import pipeline (Assignment::Journal) ──▶ done(outcome)
//!  (each waits)              (bytes     parse, assign by envelope, store,        after the commit
//!                            bounded)   commit when nothing else is ready        that made it durable
//! ```
//!
//! * One long-running [`Archive::import_with`] takes the queue as its source, so messages get
//!   the same parsing, single-instance storage, indexing and assignment as every import.
//! * **Durable before acknowledged**: a message's `done` is called from the pipeline's
//!   "settled" report, which comes only after the commit that made it durable (pack
//!   `fdatasync`, then the database commit). Every message that arrived while a commit ran is
//!   in the next one (group commit): safety costs one sync per batch, not per message.
//! * **Failures are temporary**: if the run fails (a full disk, a store that cannot be
//!   written), every message not yet durable is told so; the sender keeps it and retries.
//!   The next message starts a new run.
//! * **Bounded**: at most [`QUEUE_BYTES`] wait in the queue; beyond that [`Intake::submit`]
//!   refuses (the sender is told to retry later).
//! * A run ends after a quiet moment or when a compaction wants the archive to itself
//!   (compaction does not run while an import does); the next message starts the next run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arkiv_sources::{Envelope, SourceItem, SourceMessage};

use crate::ingest::{Assignment, ImportOptions, JournalAssignment, SettledOutcome};
use crate::master::Archive;

/// Bytes of messages that may wait in the queue before new ones are refused for now.
pub const QUEUE_BYTES: u64 = 64 * 1024 * 1024;

/// A run of the pipeline ends after this long with nothing to do.
const QUIET_END: Duration = Duration::from_secs(2);

/// And after this long or this many messages in any case: its bookkeeping stays small, and
/// the next run reads the users' addresses again (a new user's mail reaches their archive
/// within a minute).
const RUN_LIMIT: Duration = Duration::from_secs(60);
const RUN_MESSAGES: u64 = 200_000;

/// What became of a submitted message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Durable in the archive (new, or already there with these exact bytes in every target
    /// folder: a sender's retry after a lost acknowledgement).
    Archived,
    /// Not archived, for a reason that may pass (the sender should retry).
    Deferred(String),
}

/// Called once with the outcome, from the archive's writer thread: keep it short (send it
/// to a channel).
pub type Done = Box<dyn FnOnce(Outcome) + Send>;

/// Why a message was not even queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("too many messages are waiting to be archived; try again later")]
    Busy,
    #[error("the archive is shutting down")]
    Closed,
}

/// Counters since the start, for the server status.
#[derive(Debug, Default)]
pub struct IntakeCounters {
    pub archived: AtomicU64,
    pub deferred: AtomicU64,
    pub busy: AtomicU64,
    pub bytes: AtomicU64,
}

struct Item {
    msg: SourceMessage,
    done: Done,
}

/// The queue and the thread that archives from it.
pub struct Intake {
    tx: Mutex<Option<crossbeam_channel::Sender<Item>>>,
    queued: Arc<AtomicU64>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    pub counters: Arc<IntakeCounters>,
}

impl Intake {
    /// Starts archiving what is submitted, assigned by `assignment`. The assignment is
    /// checked now (its unknown-address archive must exist).
    pub fn start(archive: Arc<Archive>, assignment: JournalAssignment) -> crate::Result<Intake> {
        let opts = ImportOptions {
            assignment: Assignment::Journal(assignment),
            source_id: "smtp".into(),
            workers: 0,
            index: true,
            present: Vec::new(),
            sent_folders: Vec::new(),
        };
        archive.check_assignment(&opts.assignment)?;
        let (tx, rx) = crossbeam_channel::unbounded::<Item>();
        let queued = Arc::new(AtomicU64::new(0));
        let counters = Arc::new(IntakeCounters::default());
        let thread = {
            let queued = queued.clone();
            let counters = counters.clone();
            std::thread::Builder::new()
                .name("arkiv-intake".into())
                .spawn(move || intake_thread(&archive, &opts, rx, &queued, &counters))
                .map_err(|e| crate::error::invalid("intake", e.to_string()))?
        };
        Ok(Intake {
            tx: Mutex::new(Some(tx)),
            queued,
            thread: Mutex::new(Some(thread)),
            counters,
        })
    }

    /// Queues a message with its envelope; `done` is told what became of it.
    pub fn submit(&self, bytes: Vec<u8>, envelope: Envelope, done: Done) -> Result<(), Refused> {
        let n = bytes.len() as u64;
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = tx.as_ref() else {
            return Err(Refused::Closed);
        };
        // One message is always let through, however large: the limit is on waiting ones.
        let before = self.queued.fetch_add(n, Ordering::SeqCst);
        if before > 0 && before + n > QUEUE_BYTES {
            self.queued.fetch_sub(n, Ordering::SeqCst);
            self.counters.busy.fetch_add(1, Ordering::Relaxed);
            return Err(Refused::Busy);
        }
        let origin = format!(
            "SMTP from {} ({}) at {}",
            envelope.client_ip,
            if envelope.mail_from.is_empty() {
                "<>"
            } else {
                &envelope.mail_from
            },
            envelope.received_at.to_rfc3339()
        );
        let item = Item {
            msg: SourceMessage {
                folder: Vec::new(),
                input_len: n,
                bytes,
                origin,
                envelope: Some(envelope),
            },
            done,
        };
        if tx.send(item).is_err() {
            self.queued.fetch_sub(n, Ordering::SeqCst);
            return Err(Refused::Closed);
        }
        Ok(())
    }

    /// Bytes waiting in the queue now.
    pub fn queued_bytes(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// Stops taking messages, archives those queued, and waits for the thread.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Intake {
    fn drop(&mut self) {
        self.close();
    }
}

/// Who is waiting for which item of the current run.
type Waiting = Arc<Mutex<HashMap<u64, (u64, Done)>>>;

fn intake_thread(
    archive: &Archive,
    opts: &ImportOptions,
    rx: crossbeam_channel::Receiver<Item>,
    queued: &AtomicU64,
    counters: &IntakeCounters,
) {
    while let Ok(first) = rx.recv() {
        let waiting: Waiting = Arc::default();
        let source = RunSource {
            first: Some(first),
            rx: &rx,
            waiting: waiting.clone(),
            queued,
            next: 0,
            started: Instant::now(),
            archive,
        };
        let mut settled = |items: &[crate::ingest::Settled]| {
            let mut w = waiting.lock().unwrap_or_else(|p| p.into_inner());
            for s in items {
                let Some((n, done)) = w.remove(&s.seq) else {
                    continue;
                };
                let outcome = match &s.outcome {
                    SettledOutcome::Archived
                    | SettledOutcome::AlreadyArchived
                    | SettledOutcome::Moved => {
                        counters.archived.fetch_add(1, Ordering::Relaxed);
                        counters.bytes.fetch_add(n, Ordering::Relaxed);
                        Outcome::Archived
                    }
                    SettledOutcome::Skipped => {
                        counters.deferred.fetch_add(1, Ordering::Relaxed);
                        Outcome::Deferred("no archive to put it in".into())
                    }
                    SettledOutcome::Failed(why) => {
                        counters.deferred.fetch_add(1, Ordering::Relaxed);
                        Outcome::Deferred(why.clone())
                    }
                };
                done(outcome);
            }
        };
        // A panic in a run (a bug) must not end the intake: its senders are told to retry
        // and the next message starts a new run.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            archive.import_with(source, opts, &mut |_| {}, &mut settled)
        }));
        let why = match r {
            Ok(Ok(_)) => "the archive stopped before it was stored".to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "internal error while archiving".to_string(),
        };
        let left: Vec<(u64, Done)> = waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, v)| v)
            .collect();
        for (_, done) in left {
            counters.deferred.fetch_add(1, Ordering::Relaxed);
            done(Outcome::Deferred(why.clone()));
        }
    }
}

/// The queue as one run's source: yields what arrives until a quiet moment, the run's
/// limits, or a compaction waiting.
struct RunSource<'a> {
    first: Option<Item>,
    rx: &'a crossbeam_channel::Receiver<Item>,
    waiting: Waiting,
    queued: &'a AtomicU64,
    next: u64,
    started: Instant,
    archive: &'a Archive,
}

impl Iterator for RunSource<'_> {
    type Item = SourceItem;

    fn next(&mut self) -> Option<SourceItem> {
        let item = match self.first.take() {
            Some(i) => i,
            None => {
                let quiet = Instant::now();
                loop {
                    if self.next >= RUN_MESSAGES
                        || self.started.elapsed() >= RUN_LIMIT
                        || self.archive.compaction_waiting()
                        || quiet.elapsed() >= QUIET_END
                    {
                        return None;
                    }
                    match self.rx.recv_timeout(Duration::from_millis(200)) {
                        Ok(i) => break i,
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return None,
                    }
                }
            }
        };
        let n = item.msg.bytes.len() as u64;
        self.queued.fetch_sub(n, Ordering::SeqCst);
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(self.next, (n, item.done));
        self.next += 1;
        Some(SourceItem::Message(item.msg))
    }
}
