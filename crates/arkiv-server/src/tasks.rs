//! Long-running API functions (manual §7.1, "Long Running Processes"): each gets a token; its
//! status has a version that grows with every change, and `get-status` waits for a version
//! newer than the caller's, up to the caller's timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{Notify, watch};

use crate::error::FnError;

/// Finished tasks are kept this long for a last `get-status`.
const KEEP: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Running,
    Succeeded,
    Failed,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Running => "running",
            Code::Succeeded => "succeeded",
            Code::Failed => "failed",
        }
    }
}

/// A task's status as the envelope reports it.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub token: String,
    pub version: u64,
    pub code: Code,
    pub percent: Option<u8>,
    pub result: Value,
    pub error: Option<FnError>,
    /// Log lines written after the version the caller knew.
    pub log: Option<String>,
}

struct State {
    code: Code,
    percent: Option<u8>,
    result: Value,
    error: Option<FnError>,
    /// (version, line)
    log: Vec<(u64, String)>,
    finished: Option<Instant>,
}

pub struct Task {
    token: String,
    state: Mutex<State>,
    version: watch::Sender<u64>,
    /// Set by `CancelJobAsync`; the function stops at its next safe point.
    cancelled: std::sync::atomic::AtomicBool,
}

/// Versions are unique across tasks, so a stale `lastKnownStatusVersion` never matches.
static VERSIONS: AtomicU64 = AtomicU64::new(1);

fn next_version() -> u64 {
    VERSIONS.fetch_add(1, Ordering::Relaxed)
}

impl Task {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) -> u64 {
        let v = next_version();
        self.version.send_replace(v);
        v
    }

    /// Adds a line to the task's log output.
    pub fn log(&self, line: impl Into<String>) {
        let mut s = self.lock();
        let v = next_version();
        s.log.push((v, line.into()));
        drop(s);
        self.version.send_replace(v);
    }

    /// Asks the function to stop at its next safe point (between batches or stores).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// The flag `cancel` sets, for functions that hand it down (mailbox runs).
    pub fn cancel_flag(&self) -> &std::sync::atomic::AtomicBool {
        &self.cancelled
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    pub fn progress(&self, percent: u8) {
        let mut s = self.lock();
        if s.percent == Some(percent) {
            return;
        }
        s.percent = Some(percent.min(100));
        drop(s);
        self.bump();
    }

    fn finish(&self, r: std::result::Result<Value, FnError>) {
        let mut s = self.lock();
        match r {
            Ok(v) => {
                s.code = Code::Succeeded;
                s.result = v;
            }
            Err(e) => {
                s.code = Code::Failed;
                s.error = Some(e);
            }
        }
        s.percent = None;
        s.finished = Some(Instant::now());
        drop(s);
        self.bump();
    }

    pub fn snapshot(&self, known: u64) -> Snapshot {
        let s = self.lock();
        let lines: Vec<&str> = s
            .log
            .iter()
            .filter(|(v, _)| *v > known)
            .map(|(_, l)| l.as_str())
            .collect();
        Snapshot {
            token: self.token.clone(),
            version: *self.version.borrow(),
            code: s.code,
            percent: s.percent,
            result: s.result.clone(),
            error: s.error.clone(),
            log: (!lines.is_empty()).then(|| {
                let mut out = lines.join("\r\n");
                out.push_str("\r\n");
                out
            }),
        }
    }
}

#[derive(Default)]
pub struct Tasks {
    map: Mutex<HashMap<String, Arc<Task>>>,
    running: AtomicUsize,
    idle: Notify,
}

fn new_token() -> String {
    random_hex(16)
}

/// `n` random bytes from the system source, as hex.
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .expect("the system random source works");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Tasks {
    /// Starts `work` on a blocking thread and returns its task at once.
    pub fn start(
        self: &Arc<Self>,
        work: impl FnOnce(&Task) -> std::result::Result<Value, FnError> + Send + 'static,
    ) -> Arc<Task> {
        let (tx, _) = watch::channel(next_version());
        let task = Arc::new(Task {
            token: new_token(),
            state: Mutex::new(State {
                code: Code::Running,
                percent: Some(0),
                result: Value::Null,
                error: None,
                log: Vec::new(),
                finished: None,
            }),
            version: tx,
            cancelled: Default::default(),
        });
        {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            map.retain(|_, t| t.lock().finished.is_none_or(|f| f.elapsed() < KEEP));
            map.insert(task.token.clone(), task.clone());
        }
        self.running.fetch_add(1, Ordering::SeqCst);
        let (me, t) = (self.clone(), task.clone());
        tokio::task::spawn_blocking(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&t)))
                .unwrap_or_else(|_| Err(FnError::internal("the function failed unexpectedly")));
            t.finish(r);
            if me.running.fetch_sub(1, Ordering::SeqCst) == 1 {
                me.idle.notify_waiters();
            }
        });
        task
    }

    pub fn get(&self, token: &str) -> Option<Arc<Task>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }

    /// Waits until the task has a status newer than `known`, at most `timeout`.
    pub async fn wait(&self, task: &Task, known: u64, timeout: Duration) -> Snapshot {
        let mut rx = task.version.subscribe();
        let newer = async {
            loop {
                if *rx.borrow_and_update() > known {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(timeout, newer).await;
        task.snapshot(known)
    }

    /// Waits for every running task to finish (clean shutdown).
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}
