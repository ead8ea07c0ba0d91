//! The import pipeline.
//!
//! ```text
//!  source iterator ──▶ reader thread ──(byte budget)──▶ N workers ──▶ writer (this thread)
//!                                                      parse, hash,   reorder by sequence,
//!                                                      assign users,  place / move / skip,
//!                                                      cut & seal     durable batch commits
//! ```
//!
//! * Memory is bounded by a byte budget on messages in flight (a single larger message is still
//!   let through alone), so a 100 MB message or a 10 GB mbox does not grow the process.
//! * The writer is the only thread that writes; it applies messages in source order, so the same
//!   input always gives the same message ids.
//! * Batches are made durable (pack fsync, then redb commit) every ~1,000 messages, 64 MiB or
//!   second. A crash loses at most the uncommitted batch, and a re-run archives exactly what is
//!   missing: a message already in its target folder is recognised by its content hash.
//! * A message that moved between folders of the same source since the last run is moved in the
//!   archive. Because a message may also be *copied* between folders, the decision is taken at
//!   the end of the run, when every folder of the source has been seen: an earlier copy from this
//!   source that was not met again in this run has moved.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use arkiv_message::{ParsedMessage, Summary};
use arkiv_sources::{SourceFailure, SourceItem, SourceMessage};
use arkiv_store::{MessageRecord, PreparedContent, Store, WriteSession};
use arkiv_types::{
    ContentHash, FolderId, FolderPath, MessageId, StoreId, StoreStatus, Timestamp, UserId,
};
use serde::Serialize;

use crate::error::{ArchiveError, Result, invalid};
use crate::master::Archive;

/// Whose archive each message goes to.
#[derive(Clone, Debug)]
pub enum Assignment {
    /// Everything into one user archive, in `folder` plus the source's own folder structure.
    Single { user: String, folder: FolderPath },
    /// By addresses (manual §2.9, SPEC A5): the sender's archive gets it in `sent_folder`, each
    /// recipient's archive in `received_folder`. Messages with no known address go to
    /// `unknown_user`'s archive (in `folder` plus the source structure) or are skipped.
    Multi {
        sent_folder: String,
        received_folder: String,
        unknown_user: Option<String>,
        folder: FolderPath,
    },
    /// Journaling (SPEC A7 with A5): every message carries the SMTP envelope it arrived with
    /// ([`SourceMessage::envelope`](arkiv_sources::SourceMessage)). See [`JournalAssignment`].
    /// A journaled message is acknowledged to its sender once durable, so each one is committed
    /// as soon as nothing else is ready (group commit: what arrived meanwhile shares the
    /// commit), and nothing is ever taken for a move.
    Journal(JournalAssignment),
}

/// Where journaled messages go, by their envelope.
///
/// * The envelope sender (`MAIL FROM`), when it is a user's address: that user's
///   `sent_folder`.
/// * Each envelope recipient that is a user's address: that user's `received_folder` (Bcc
///   recipients included: the envelope names them, the headers do not). A recipient of the
///   form `LOCAL+USER=DOMAIN@HOST` (the journal address with the original recipient in its
///   extension, as Postfix's `recipient_bcc_maps` can write it) stands for `USER@DOMAIN`;
///   one that stands for the envelope sender is the sender's copy (`sender_bcc_maps`), not a
///   recipient.
/// * When no recipient is a user's address or such an extension (Postfix `always_bcc` sends
///   every copy to one journal address), the header recipients (To, Cc, Bcc, Delivered-To)
///   stand in for them.
/// * A message with no address of a user goes to `unknown_user`'s archive, folder
///   `unknown_folder`: nothing the mail server handed over is dropped.
#[derive(Clone, Debug)]
pub struct JournalAssignment {
    pub sent_folder: String,
    pub received_folder: String,
    pub unknown_user: String,
    pub unknown_folder: FolderPath,
    /// Envelope journal reports (Exchange, Microsoft 365) are unwrapped only when sent to
    /// one of these addresses (the journal rule's recipient); elsewhere a report is archived
    /// as the message it is.
    pub report_recipients: Vec<String>,
}

impl Assignment {
    fn journal(&self) -> bool {
        matches!(self, Assignment::Journal(_))
    }
}

/// How to run an import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub assignment: Assignment,
    /// Stable identity of the source (re-runs of the same source detect moves).
    pub source_id: String,
    /// Worker threads; 0 = from the configuration, else one per CPU core.
    pub workers: usize,
    /// Index each committed batch and return only once everything is searchable. When false,
    /// the messages stay listed as unindexed until [`Archive::catch_up_index`] runs.
    pub index: bool,
    /// Messages this source archived earlier that it knows are still where they were, without
    /// reading them again: `(archive user, target folder, hash)`. A source that reads only what
    /// is new (IMAP, POP3) lists them so that a copy of one is not taken for a move.
    pub present: Vec<(String, FolderPath, ContentHash)>,
    /// Target folders holding sent mail. A message is not moved between a sent and a
    /// non-sent folder but archived again (manual §2.3: its message type differs).
    pub sent_folders: Vec<FolderPath>,
}

/// Told what became of items once they are durable.
type SettledSink<'a> = dyn FnMut(&[Settled]) + 'a;

/// What became of one item of the source, reported once it is durable (or failed for good).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// Its position in the source (0 = the first item the iterator yielded).
    pub seq: u64,
    /// The hash of its bytes (`None` for items the source could not read).
    pub hash: Option<ContentHash>,
    pub outcome: SettledOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettledOutcome {
    /// Placed in at least one archive folder it was not in.
    Archived,
    /// Every target already had it.
    AlreadyArchived,
    /// It moved in the source, and was moved in the archive.
    Moved,
    /// No target (multi-user mode without a known address).
    Skipped,
    /// Not archived: why.
    Failed(String),
}

/// Live counters for progress displays.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportProgress {
    pub input_bytes: u64,
    pub messages: u64,
    pub archived: u64,
    pub already_archived: u64,
    pub failed: u64,
}

/// A message that could not be archived, and why.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct ImportFailure {
    pub origin: String,
    pub reason: String,
}

/// The outcome of an import.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    pub source: String,
    /// Messages read from the source (each may be placed in several archives in multi-user mode).
    pub messages: u64,
    /// New messages placed in archives.
    pub archived: u64,
    /// Messages already in their target folder.
    pub already_archived: u64,
    /// Messages moved to the folder they moved to in the source.
    pub moved: u64,
    /// Messages with no known address in multi-user mode and no unknown-user archive.
    pub skipped: u64,
    /// Archived with their exact bytes although the MIME parser could not understand them.
    pub flagged: u64,
    /// Archived with their exact bytes, but some of their text is in a charset that was
    /// unknown, missing or wrong, so Arkiv read it by a guess (see `arkiv_message::charset`).
    pub charset_guessed: u64,
    /// A few of them: `origin` is the message id, `reason` says what was guessed.
    pub charset_examples: Vec<ImportFailure>,
    pub failed: Vec<ImportFailure>,
    /// Bytes of the messages read.
    pub original_bytes: u64,
    /// Bytes added to the pack files.
    pub stored_bytes: u64,
    pub seconds: f64,
    /// Stores created automatically during the import (rollover).
    pub stores_created: Vec<u32>,
    /// Messages made searchable by this import.
    pub indexed: u64,
    /// Why some messages are not searchable yet (they are archived; the next start indexes them).
    pub index_warning: Option<String>,
    /// A few skipped messages, for the administrator.
    pub skipped_examples: Vec<ImportFailure>,
    /// Attachments whose text was indexed (when attachment contents are switched on).
    pub attachments_read: u64,
    /// Attachments whose text could not be read (the messages are archived and searchable by
    /// everything else; `has:unreadable-attachment` finds them).
    pub attachments_unreadable: u64,
    /// A few of them, with the reason: `origin` is `<message id> <file name>`.
    pub unreadable_examples: Vec<ImportFailure>,
}

/// A placement target: archive (user) name and folder path inside it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Target {
    user: String,
    folder: FolderPath,
}

enum Work {
    /// Not archived (the source could not read it, or preparing it failed); with the bytes
    /// it counts in the budget of messages in flight.
    Failed(SourceFailure, u64),
    Message(Box<Prepared>),
    Fatal(ArchiveError),
}

struct Prepared {
    /// The bytes it counts in the budget of messages in flight (as read from the source).
    budget: u64,
    msg: SourceMessage,
    hash: ContentHash,
    parsed: ParsedMessage,
    attachments: crate::attachments::AttachmentText,
    targets: Vec<Target>,
    /// Cut and sealed for this store; `None` if that store already had the content.
    content: Option<(StoreId, PreparedContent)>,
}

/// A byte budget for messages in flight.
struct Budget {
    state: Mutex<(u64, bool)>,
    cv: Condvar,
    limit: u64,
}

impl Budget {
    fn acquire(&self, n: u64) -> bool {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while !g.1 && g.0 > 0 && g.0 + n > self.limit {
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        }
        if g.1 {
            return false;
        }
        g.0 += n;
        true
    }
    fn release(&self, n: u64) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        g.0 = g.0.saturating_sub(n);
        self.cv.notify_all();
    }
    fn cancel(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.cv.notify_all();
    }
}

/// Cancels budgets when dropped.
struct CancelOnDrop<'a>([&'a Budget; 2]);

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        for b in self.0 {
            b.cancel();
        }
    }
}

/// Address → user archive, for multi-user assignment.
pub(crate) struct AddressBook {
    by_address: HashMap<String, String>,
}

impl Archive {
    /// Imports every item of `source`. Returns once everything read is durably archived.
    pub fn import<S>(
        &self,
        source: S,
        opts: &ImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<ImportReport>
    where
        S: Iterator<Item = SourceItem> + Send,
    {
        self.import_with(source, opts, progress, &mut |_| {})
    }

    /// [`Archive::import`], telling `settled` what became of every item once it is durable:
    /// after each commit, the items that commit made durable (or that failed). A source that
    /// keeps checkpoints (IMAP, POP3) advances them from here, never before.
    pub fn import_with<S>(
        &self,
        source: S,
        opts: &ImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
        settled: &mut dyn FnMut(&[Settled]),
    ) -> Result<ImportReport>
    where
        S: Iterator<Item = SourceItem> + Send,
    {
        // Held for the whole run: a compaction does not start meanwhile, and an import waits
        // for a running compaction to finish.
        let _running = self.compaction.read().unwrap_or_else(|p| p.into_inner());
        let started = Instant::now();
        let book = self.check_assignment(&opts.assignment)?;
        let current = self.current_store()?;
        let shared_current = Arc::new(RwLock::new(current.clone()));
        let workers = match opts.workers {
            0 => match self.config.import.workers {
                0 => std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2),
                n => n,
            },
            n => n,
        }
        .clamp(1, 64);
        let threshold = self.config.storage.large_part_bytes as usize;
        let budget = Budget {
            state: Mutex::new((0, false)),
            cv: Condvar::new(),
            limit: 32 * 1024 * 1024,
        };
        let (work_tx, work_rx) = crossbeam_channel::bounded::<(u64, SourceItem)>(workers * 4);
        let (done_tx, done_rx) = crossbeam_channel::bounded::<(u64, Work)>(workers * 4);
        let packs_before = self.pack_bytes();
        // Batches waiting for the indexer are bounded by their text, not their number (a
        // journal commits every few messages; the indexer takes waiting batches together):
        // the writer waits when 32 MiB of text are queued, so indexing slower than storing
        // holds the import back instead of growing the process.
        let index_budget = Budget {
            state: Mutex::new((0, false)),
            cv: Condvar::new(),
            limit: 32 * 1024 * 1024,
        };
        let (index_tx, index_rx) = crossbeam_channel::unbounded::<IndexBatch>();
        let (indexed_tx, indexed_rx) = crossbeam_channel::unbounded::<IndexOutcome>();

        let result = std::thread::scope(|s| {
            let budget = &budget;
            let index_budget = &index_budget;
            // However this ends (a panic included), the budgets let every waiting thread go,
            // so the scope can join them.
            let _release = CancelOnDrop([budget, index_budget]);
            s.spawn(move || {
                for (seq, item) in source.enumerate() {
                    let n = item_len(&item);
                    if !budget.acquire(n) || work_tx.send((seq as u64, item)).is_err() {
                        break;
                    }
                }
            });
            for _ in 0..workers {
                let rx = work_rx.clone();
                let tx = done_tx.clone();
                let shared = shared_current.clone();
                let assignment = &opts.assignment;
                let book = &book;
                s.spawn(move || {
                    let mut extractor = self.extractor();
                    for (seq, item) in rx.iter() {
                        let (origin, input_len, n) = match &item {
                            SourceItem::Message(m) => {
                                (m.origin.clone(), m.input_len, m.bytes.len() as u64)
                            }
                            SourceItem::Failed(f) => (f.origin.clone(), f.input_len, 0),
                        };
                        let work = catch_unwind(AssertUnwindSafe(|| {
                            prepare(item, assignment, book, &shared, threshold, &mut extractor)
                        }))
                        .unwrap_or_else(|_| {
                            const WHY: &str = "internal error while preparing a message";
                            if assignment.journal() {
                                // One message that trips a bug must not fail the others
                                // waiting with it: it alone is deferred.
                                Work::Failed(
                                    SourceFailure {
                                        folder: Vec::new(),
                                        origin,
                                        reason: WHY.into(),
                                        input_len,
                                    },
                                    n,
                                )
                            } else {
                                Work::Fatal(invalid("message", WHY))
                            }
                        });
                        if tx.send((seq, work)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(work_rx);
            drop(done_tx);
            if opts.index {
                s.spawn(move || index_batches(index_rx, indexed_tx, index_budget));
            } else {
                drop((index_rx, indexed_tx));
            }
            let mut writer = Writer::new(self, opts, current, shared_current.clone(), threshold);
            writer.index_tx = opts.index.then_some(index_tx);
            writer.index_budget = Some(index_budget);
            writer.indexed_rx = Some(indexed_rx);
            writer.sink = Some(settled);
            let r = writer
                .mark_present()
                .and_then(|_| writer.run(done_rx, budget, progress));
            // On error, closing the channel lets the indexer thread finish.
            writer.index_tx = None;
            budget.cancel();
            index_budget.cancel();
            r
        });
        let mut report = result?;
        // Stores keep the names of the folders they hold (for attaching them elsewhere).
        self.sync_all_store_folders()?;
        report.seconds = started.elapsed().as_secs_f64();
        report.stored_bytes = self.pack_bytes().saturating_sub(packs_before);
        Ok(report)
    }

    pub(crate) fn check_assignment(&self, a: &Assignment) -> Result<AddressBook> {
        match a {
            Assignment::Single { user, .. } => {
                self.user(user)?;
                Ok(AddressBook {
                    by_address: HashMap::new(),
                })
            }
            Assignment::Journal(j) => {
                self.user(&j.unknown_user)?;
                if FolderPath::parse(&j.sent_folder).is_root()
                    || FolderPath::parse(&j.received_folder).is_root()
                {
                    return Err(invalid(
                        "folder name",
                        "the sent and received folder names must not be empty",
                    ));
                }
                Ok(self.address_book()?)
            }
            Assignment::Multi {
                unknown_user,
                sent_folder,
                received_folder,
                ..
            } => {
                if let Some(u) = unknown_user {
                    self.user(u)?;
                }
                if FolderPath::parse(sent_folder).is_root()
                    || FolderPath::parse(received_folder).is_root()
                {
                    return Err(invalid(
                        "folder name",
                        "the sent and received folder names must not be empty",
                    ));
                }
                let book = self.address_book()?;
                if book.by_address.is_empty() {
                    return Err(invalid(
                        "multi-user import",
                        "no user has an email address; add addresses with `arkiv user add NAME --email ADDR`",
                    ));
                }
                Ok(book)
            }
        }
    }

    /// Every user's e-mail addresses (lower-cased) → the user.
    fn address_book(&self) -> Result<AddressBook> {
        let mut by_address = HashMap::new();
        for u in self.users()? {
            for e in &u.emails {
                by_address.insert(e.to_lowercase(), u.name.clone());
            }
        }
        Ok(AddressBook { by_address })
    }

    fn pack_bytes(&self) -> u64 {
        self.open_stores()
            .iter()
            .filter_map(|s| s.counters().ok())
            .map(|c| c.stored_bytes)
            .sum()
    }
}

fn item_len(item: &SourceItem) -> u64 {
    match item {
        SourceItem::Message(m) => m.bytes.len() as u64,
        SourceItem::Failed(_) => 0,
    }
}

fn targets_for(
    msg: &SourceMessage,
    summary: &Summary,
    assignment: &Assignment,
    book: &AddressBook,
) -> Vec<Target> {
    let src_folder = FolderPath::from_names(&msg.folder);
    match assignment {
        Assignment::Single { user, folder } => vec![Target {
            user: user.clone(),
            folder: folder.join(&src_folder),
        }],
        Assignment::Multi {
            sent_folder,
            received_folder,
            unknown_user,
            folder,
        } => {
            let mut out: Vec<Target> = Vec::new();
            let mut push = |t: Target| {
                if !out.contains(&t) {
                    out.push(t);
                }
            };
            for a in summary.sender_addresses() {
                if let Some(u) = book.by_address.get(&a) {
                    push(Target {
                        user: u.clone(),
                        folder: FolderPath::parse(sent_folder),
                    });
                }
            }
            for a in summary.recipient_addresses() {
                if let Some(u) = book.by_address.get(&a) {
                    push(Target {
                        user: u.clone(),
                        folder: FolderPath::parse(received_folder),
                    });
                }
            }
            if out.is_empty()
                && let Some(u) = unknown_user
            {
                out.push(Target {
                    user: u.clone(),
                    folder: folder.join(&src_folder),
                });
            }
            out
        }
        Assignment::Journal(j) => journal_targets(msg, summary, j, book),
    }
}

/// The targets of a journaled message (see [`JournalAssignment`]).
fn journal_targets(
    msg: &SourceMessage,
    summary: &Summary,
    j: &JournalAssignment,
    book: &AddressBook,
) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    let mut push = |user: &String, folder: &str| {
        let t = Target {
            user: user.clone(),
            folder: FolderPath::parse(folder),
        };
        if !out.contains(&t) {
            out.push(t);
        }
    };
    let (sender, recipients): (Option<String>, &[String]) = match &msg.envelope {
        Some(e) => (Some(e.mail_from.to_lowercase()), &e.rcpt_to),
        None => (None, &[]),
    };
    if let Some(u) = sender.as_ref().and_then(|a| book.by_address.get(a)) {
        push(u, &j.sent_folder);
    }
    let mut told = false;
    for r in recipients {
        let r = r.to_lowercase();
        if let Some(u) = book.by_address.get(&r) {
            told = true;
            push(u, &j.received_folder);
        } else if let Some(original) = extension_address(&r) {
            told = true;
            if Some(&original) == sender.as_ref() {
                // The sender's own journal copy (Postfix `sender_bcc_maps`): the sender is
                // known from MAIL FROM and has the message in the sent folder already.
                continue;
            }
            if let Some(u) = book.by_address.get(&original) {
                push(u, &j.received_folder);
            }
        }
    }
    if !told {
        for a in summary.recipient_addresses() {
            if let Some(u) = book.by_address.get(&a) {
                push(u, &j.received_folder);
            }
        }
    }
    if out.is_empty() {
        out.push(Target {
            user: j.unknown_user.clone(),
            folder: j.unknown_folder.clone(),
        });
    }
    out
}

/// `journal+alice=example.com@archive.example` → `alice@example.com`: the original address
/// carried in the extension of a journal address (the form Postfix's VERP uses).
pub fn extension_address(address: &str) -> Option<String> {
    let (local, _host) = address.rsplit_once('@')?;
    let (_, ext) = local.split_once('+')?;
    let (user, domain) = ext.rsplit_once('=')?;
    if user.is_empty() || domain.is_empty() || !domain.contains('.') && domain != "localhost" {
        return None;
    }
    Some(format!("{user}@{domain}").to_lowercase())
}

fn prepare(
    item: SourceItem,
    assignment: &Assignment,
    book: &AddressBook,
    current: &RwLock<Arc<Store>>,
    threshold: usize,
    extractor: &mut Option<arkiv_extract::Extractor>,
) -> Work {
    let mut msg = match item {
        SourceItem::Failed(f) => return Work::Failed(f, 0),
        SourceItem::Message(m) => m,
    };
    let budget = msg.bytes.len() as u64;
    if let (Assignment::Journal(j), Some(envelope)) = (assignment, msg.envelope.as_mut()) {
        // An Exchange / Microsoft 365 envelope journal report: the original it carries is
        // archived, with the report's sender and recipients as its envelope. Only reports
        // sent to an address configured for them: anyone can write a message that looks
        // like a report, and a forged one must not put words into users' archives.
        let to_report_address = envelope.rcpt_to.iter().any(|r| {
            j.report_recipients
                .iter()
                .any(|a| a.trim().eq_ignore_ascii_case(r))
        });
        if to_report_address
            && let Some(report) = arkiv_message::journal::journal_report(&msg.bytes)
        {
            envelope.mail_from = report.sender.unwrap_or_default();
            envelope.rcpt_to = report.recipients;
            envelope.journal_report = true;
            msg.bytes = report.original;
        }
    }
    let hash = ContentHash::of(&msg.bytes);
    let (mut parsed, attachments) = match extractor {
        Some(ex) => {
            let mut parsed =
                arkiv_message::parse_with(&msg.bytes, &crate::attachments::wanted(ex.settings()));
            let text = crate::attachments::read_attachments(ex, &mut parsed);
            (parsed, text)
        }
        None => (arkiv_message::parse(&msg.bytes), Default::default()),
    };
    parsed.attachments = Vec::new();
    let targets = targets_for(&msg, &parsed.summary, assignment, book);
    let store = current.read().unwrap_or_else(|p| p.into_inner()).clone();
    let content = if targets.is_empty() {
        None
    } else {
        match store.has_content(&hash) {
            Ok(true) => None,
            Ok(false) => match store.prepare(&msg.bytes, hash, &parsed, threshold) {
                Ok(p) => Some((store.id(), p)),
                Err(e) => return Work::Fatal(e.into()),
            },
            Err(e) => return Work::Fatal(e.into()),
        }
    };
    Work::Message(Box::new(Prepared {
        budget,
        msg,
        hash,
        parsed,
        attachments,
        targets,
        content,
    }))
}

/// One committed batch for the indexer thread.
struct IndexBatch {
    store: StoreId,
    index: Arc<arkiv_index::StoreIndex>,
    docs: Vec<arkiv_index::IndexDoc>,
    /// What its text counts in the indexer's budget.
    bytes: u64,
}

/// About what a document holds in memory until it is indexed.
fn doc_bytes(d: &arkiv_index::IndexDoc) -> u64 {
    (d.body.len()
        + d.attachment_text.len()
        + d.subject.len()
        + d.from.len()
        + d.to.len()
        + d.cc.len()
        + d.bcc.len()
        + 256) as u64
}

/// What the indexer did with a batch.
struct IndexOutcome {
    store: StoreId,
    nums: Vec<u64>,
    error: Option<String>,
}

/// The indexer thread: adds each batch to its store's index and commits it.
fn index_batches(
    rx: crossbeam_channel::Receiver<IndexBatch>,
    tx: crossbeam_channel::Sender<IndexOutcome>,
    budget: &Budget,
) {
    // Batches that wait are indexed together, one index commit for all: small batches (a
    // journal commits every few messages) do not cost one index commit each.
    while let Ok(first) = rx.recv() {
        // Small batches (a journal's) are gathered for a moment: an index commit (segment
        // files, fsync) costs about the same for 10 documents as for 1,000. Search sees new
        // mail a quarter of a second later; the writer never waits for this (it waits only
        // when the budget is full, and then the gathering stops at half of it).
        let until = Instant::now() + Duration::from_millis(250);
        let mut bytes = first.bytes;
        let mut batches = vec![first];
        while batches.len() < 256 && bytes < budget.limit / 2 {
            let wait = until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(b) => {
                    bytes += b.bytes;
                    batches.push(b);
                }
                Err(_) => break,
            }
        }
        while !batches.is_empty() {
            let store = batches[0].store;
            let index = batches[0].index.clone();
            let (same, rest): (Vec<IndexBatch>, Vec<IndexBatch>) =
                batches.into_iter().partition(|b| b.store == store);
            batches = rest;
            let bytes: u64 = same.iter().map(|b| b.bytes).sum();
            let docs: Vec<arkiv_index::IndexDoc> = same.into_iter().flat_map(|b| b.docs).collect();
            let nums = docs.iter().map(|d| d.num).collect();
            let r = catch_unwind(AssertUnwindSafe(|| {
                index.add(&docs).and_then(|_| index.commit())
            }));
            drop(docs);
            budget.release(bytes);
            let error = match r {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("internal error while indexing".to_string()),
            };
            let _ = tx.send(IndexOutcome { store, nums, error });
        }
    }
}

struct Pending {
    user: UserId,
    folder: FolderId,
    record: MessageRecord,
    /// The store that received the content when the message was deferred.
    content_store: StoreId,
    /// The source item it came from.
    seq: u64,
}

struct Writer<'a> {
    archive: &'a Archive,
    opts: &'a ImportOptions,
    threshold: usize,
    current: Arc<Store>,
    shared_current: Arc<RwLock<Arc<Store>>>,
    session: Option<WriteSession>,
    folders: HashMap<Target, (UserId, FolderId)>,
    seen: HashSet<MessageId>,
    pending: Vec<Pending>,
    batch_messages: u64,
    batch_bytes: u64,
    batch_started: Instant,
    report: ImportReport,
    progress: ImportProgress,
    /// Index documents of the open session's new messages.
    docs: Vec<arkiv_index::IndexDoc>,
    index_tx: Option<crossbeam_channel::Sender<IndexBatch>>,
    /// Text waiting for the indexer (see `import_with`).
    index_budget: Option<&'a Budget>,
    indexed_rx: Option<crossbeam_channel::Receiver<IndexOutcome>>,
    /// Told what became of items once they are durable.
    sink: Option<&'a mut SettledSink<'a>>,
    /// Outcomes waiting for the next commit.
    unsettled: Vec<Settled>,
    /// Items with a target still deferred (to [`Writer::finish_pending`]): the number of
    /// such targets, and whether another target archived it.
    deferred: HashMap<u64, (u32, Option<ContentHash>, bool)>,
    /// Sent folders of the targets, resolved lazily: folder id → sent.
    sent_ids: HashMap<FolderId, bool>,
}

impl<'a> Writer<'a> {
    fn new(
        archive: &'a Archive,
        opts: &'a ImportOptions,
        current: Arc<Store>,
        shared_current: Arc<RwLock<Arc<Store>>>,
        threshold: usize,
    ) -> Self {
        Writer {
            archive,
            opts,
            threshold,
            current,
            shared_current,
            session: None,
            folders: HashMap::new(),
            seen: HashSet::new(),
            pending: Vec::new(),
            batch_messages: 0,
            batch_bytes: 0,
            batch_started: Instant::now(),
            report: ImportReport {
                source: opts.source_id.clone(),
                ..Default::default()
            },
            progress: ImportProgress::default(),
            docs: Vec::new(),
            index_tx: None,
            index_budget: None,
            indexed_rx: None,
            sink: None,
            unsettled: Vec::new(),
            deferred: HashMap::new(),
            sent_ids: HashMap::new(),
        }
    }

    /// Marks the messages the source says are still in place as met in this run.
    fn mark_present(&mut self) -> Result<()> {
        for (user, folder, hash) in &self.opts.present {
            let t = Target {
                user: user.clone(),
                folder: folder.clone(),
            };
            let Some(folder_id) = self.archive.find_folder(&t.user, &t.folder)? else {
                continue;
            };
            if let Some(id) = self.find_placement(folder_id, hash)? {
                self.seen.insert(id);
            }
        }
        Ok(())
    }

    /// Whether a folder is one of the sent folders of the run.
    fn is_sent(&mut self, user: UserId, folder: FolderId) -> Result<bool> {
        if self.opts.sent_folders.is_empty() {
            return Ok(false);
        }
        if let Some(v) = self.sent_ids.get(&folder) {
            return Ok(*v);
        }
        let mut sent = false;
        let name = self.archive.user_by_id(user)?.name;
        for f in &self.opts.sent_folders {
            if self.archive.find_folder(&name, f)? == Some(folder) {
                sent = true;
                break;
            }
        }
        self.sent_ids.insert(folder, sent);
        Ok(sent)
    }

    fn settle(&mut self, seq: u64, hash: Option<ContentHash>, outcome: SettledOutcome) {
        if self.sink.is_some() {
            self.unsettled.push(Settled { seq, hash, outcome });
        }
    }

    /// Hands the outcomes made durable by a commit to the sink.
    fn flush_settled(&mut self) {
        if let Some(sink) = self.sink.as_mut()
            && !self.unsettled.is_empty()
        {
            sink(&self.unsettled);
            self.unsettled.clear();
        }
    }

    fn run(
        &mut self,
        rx: crossbeam_channel::Receiver<(u64, Work)>,
        budget: &Budget,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<ImportReport> {
        let mut next = 0u64;
        let mut waiting: BTreeMap<u64, Work> = BTreeMap::new();
        loop {
            // A slow source (a mail server) must not keep a batch open: what was read is
            // committed within about a second even when nothing more comes.
            let (seq, work) = match rx.recv_timeout(Duration::from_millis(250)) {
                Ok(x) => x,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    if self.session.is_some()
                        && self.batch_started.elapsed() >= Duration::from_secs(1)
                    {
                        self.commit()?;
                    }
                    continue;
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            };
            waiting.insert(seq, work);
            while let Some(work) = waiting.remove(&next) {
                let seq = next;
                next += 1;
                let n = match &work {
                    Work::Message(p) => p.budget,
                    Work::Failed(_, n) => *n,
                    Work::Fatal(_) => 0,
                };
                let r = self.apply(seq, work);
                budget.release(n);
                r?;
                self.maybe_commit()?;
                progress(&self.progress);
            }
            // Journaled messages wait for their acknowledgement: commit what is here as
            // soon as nothing else is ready. While the disk syncs, the next ones gather.
            if self.opts.assignment.journal() && rx.is_empty() && waiting.is_empty() {
                self.commit()?;
            }
        }
        self.finish_pending()?;
        self.commit()?;
        self.flush_settled();
        // Wait for the indexer, record what it indexed, and index what it could not reach
        // (moves, other stores) so that the import returns with everything searchable.
        if self.index_tx.take().is_some() {
            let outcomes: Vec<IndexOutcome> = self
                .indexed_rx
                .take()
                .map(|rx| rx.iter().collect())
                .unwrap_or_default();
            self.record_indexed(outcomes)?;
            self.commit()?;
            match self.archive.catch_up_index(&mut |_| {}) {
                Ok(n) => self.report.indexed += n,
                Err(e) => self.report.index_warning = Some(e.to_string()),
            }
        }
        progress(&self.progress);
        Ok(std::mem::take(&mut self.report))
    }

    /// Clears the "unindexed" marks of what the indexer committed.
    fn record_indexed(&mut self, outcomes: Vec<IndexOutcome>) -> Result<()> {
        for o in outcomes {
            if let Some(e) = o.error {
                self.report.index_warning = Some(e);
                continue;
            }
            self.report.indexed += o.nums.len() as u64;
            if o.store == self.current.id() {
                self.session()?.mark_indexed(&o.nums)?;
            } else {
                let store = self.archive.store(o.store)?;
                let mut s = store.write()?;
                s.mark_indexed(&o.nums)?;
                s.commit()?;
            }
        }
        Ok(())
    }

    fn session(&mut self) -> Result<&mut WriteSession> {
        if self.session.is_none() {
            self.session = Some(self.current.write()?);
            self.batch_started = Instant::now();
            let done: Vec<IndexOutcome> = self
                .indexed_rx
                .as_ref()
                .map(|rx| rx.try_iter().collect())
                .unwrap_or_default();
            if !done.is_empty() {
                self.record_indexed(done)?;
            }
        }
        Ok(self.session.as_mut().expect("just opened"))
    }

    fn commit(&mut self) -> Result<()> {
        if let Some(s) = self.session.take() {
            s.commit()?;
            self.flush_settled();
            let docs = std::mem::take(&mut self.docs);
            if let Some(tx) = &self.index_tx
                && !docs.is_empty()
            {
                let index = self.archive.index_of(&self.current)?;
                let bytes = docs.iter().map(doc_bytes).sum();
                if let Some(b) = self.index_budget {
                    b.acquire(bytes);
                }
                let _ = tx.send(IndexBatch {
                    store: self.current.id(),
                    index,
                    docs,
                    bytes,
                });
            }
        }
        self.batch_messages = 0;
        self.batch_bytes = 0;
        Ok(())
    }

    fn maybe_commit(&mut self) -> Result<()> {
        if self.session.is_some()
            && (self.batch_messages >= 1000
                || self.batch_bytes >= 64 * 1024 * 1024
                || self.batch_started.elapsed() >= Duration::from_secs(1))
        {
            self.commit()?;
        }
        Ok(())
    }

    fn apply(&mut self, seq: u64, work: Work) -> Result<()> {
        match work {
            Work::Fatal(e) => Err(e),
            Work::Failed(f, _) => {
                self.progress.input_bytes += f.input_len;
                self.progress.failed += 1;
                let folder = if f.folder.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", f.folder.join("/"))
                };
                self.settle(seq, None, SettledOutcome::Failed(f.reason.clone()));
                self.report.failed.push(ImportFailure {
                    origin: format!("{}{folder}", f.origin),
                    reason: f.reason,
                });
                Ok(())
            }
            Work::Message(p) => self.place(seq, *p),
        }
    }

    fn resolve(&mut self, t: &Target) -> Result<(UserId, FolderId)> {
        if let Some(v) = self.folders.get(t) {
            return Ok(*v);
        }
        let user = self.archive.user(&t.user)?;
        let folder = self.archive.ensure_folder(&t.user, &t.folder)?;
        self.folders.insert(t.clone(), (user.id, folder));
        Ok((user.id, folder))
    }

    /// The message with `hash` in `folder`, in any open store.
    fn find_placement(
        &mut self,
        folder: FolderId,
        hash: &ContentHash,
    ) -> Result<Option<MessageId>> {
        let cur = self.current.id();
        if let Some(num) = self.session()?.find_placement(folder, hash)? {
            return Ok(Some(MessageId::new(cur, num)));
        }
        for s in self.archive.open_stores() {
            if s.id() != cur
                && let Some(num) = s.find_placement(folder, hash)?
            {
                return Ok(Some(MessageId::new(s.id(), num)));
            }
        }
        Ok(None)
    }

    /// Messages this source archived earlier with `hash` for `user`, not met in this run.
    fn unseen_source_items(&mut self, user: UserId, hash: &ContentHash) -> Result<Vec<MessageId>> {
        let cur = self.current.id();
        let src = self.opts.source_id.clone();
        let mut out: Vec<MessageId> = self
            .session()?
            .source_items(&src, user, hash)?
            .into_iter()
            .map(|n| MessageId::new(cur, n))
            .collect();
        for s in self.archive.open_stores() {
            if s.id() != cur {
                out.extend(
                    s.source_items(&src, user, hash)?
                        .into_iter()
                        .map(|n| MessageId::new(s.id(), n)),
                );
            }
        }
        out.retain(|id| !self.seen.contains(id));
        Ok(out)
    }

    fn place(&mut self, seq: u64, p: Prepared) -> Result<()> {
        self.progress.input_bytes += p.msg.input_len;
        self.progress.messages += 1;
        self.report.messages += 1;
        self.report.original_bytes += p.msg.bytes.len() as u64;
        if p.targets.is_empty() {
            self.settle(seq, Some(p.hash), SettledOutcome::Skipped);
            self.report.skipped += 1;
            if self.report.skipped_examples.len() < 20 {
                self.report.skipped_examples.push(ImportFailure {
                    origin: p.msg.origin.clone(),
                    reason: "no sender or recipient address belongs to a user".into(),
                });
            }
            return Ok(());
        }
        let mut content_stored = false;
        let mut added = false;
        let mut deferred = 0u32;
        for t in &p.targets {
            let (user, folder) = self.resolve(t)?;
            if let Some(id) = self.find_placement(folder, &p.hash)? {
                self.seen.insert(id);
                self.report.already_archived += 1;
                self.progress.already_archived += 1;
                continue;
            }
            if !content_stored {
                self.store_content(&p)?;
                content_stored = true;
            }
            let record = MessageRecord {
                content_key: self.current.keys().content_key(&p.hash),
                hash: p.hash,
                size: p.msg.bytes.len() as u64,
                user,
                folder,
                archived_at: Timestamp::now(),
                source: Some(self.opts.source_id.clone()),
                summary: p.parsed.summary.clone(),
                problem: p.parsed.flag(),
            };
            if !self.opts.assignment.journal()
                && !self.unseen_source_items(user, &p.hash)?.is_empty()
            {
                // Possibly moved in the source: decided once the whole source has been read.
                let content_store = self.current.id();
                self.pending.push(Pending {
                    user,
                    folder,
                    record,
                    content_store,
                    seq,
                });
                deferred += 1;
                continue;
            }
            let id = self.add(record, Some((&p.parsed.body_text, &p.attachments)))?;
            if let Some(e) = &p.msg.envelope {
                self.session()?.set_envelope(id.num, e)?;
            }
            added = true;
        }
        if deferred > 0 {
            self.deferred.insert(seq, (deferred, Some(p.hash), added));
        } else if added {
            self.settle(seq, Some(p.hash), SettledOutcome::Archived);
        } else {
            self.settle(seq, Some(p.hash), SettledOutcome::AlreadyArchived);
        }
        Ok(())
    }

    /// One deferred target of item `seq` is decided; the item settles with its last one.
    fn decided(&mut self, seq: u64, outcome: SettledOutcome) {
        let Some(entry) = self.deferred.get_mut(&seq) else {
            return;
        };
        entry.0 -= 1;
        if outcome == SettledOutcome::Archived {
            entry.2 = true;
        }
        if entry.0 == 0 {
            let (_, hash, added) = self.deferred.remove(&seq).expect("present");
            let outcome = if added {
                SettledOutcome::Archived
            } else {
                outcome
            };
            self.settle(seq, hash, outcome);
        }
    }

    /// Adds a message to the current store; its body and attachment text make it searchable
    /// with this batch, else the end of the import indexes it from the store.
    fn add(
        &mut self,
        record: MessageRecord,
        text: Option<(&str, &crate::attachments::AttachmentText)>,
    ) -> Result<MessageId> {
        let flag = record.problem.clone();
        let size = record.size;
        let id = self.session()?.add_message(&record)?;
        if let Some((_, a)) = text {
            self.report.attachments_read += a.read;
            self.report.attachments_unreadable += a.failures.len() as u64;
            for (name, why) in &a.failures {
                if self.report.unreadable_examples.len() < 20 {
                    self.report.unreadable_examples.push(ImportFailure {
                        origin: format!("{id} {name}"),
                        reason: why.clone(),
                    });
                }
            }
        }
        if let (Some((body, a)), Some(_)) = (text, &self.index_tx) {
            let mut doc = Archive::index_doc(id.num, &record, body.to_string());
            doc.attachment_text = a.text.clone();
            doc.attachment_unread = !a.failures.is_empty();
            self.docs.push(doc);
        }
        self.seen.insert(id);
        self.report.archived += 1;
        self.progress.archived += 1;
        match flag {
            Some(f) if f.starts_with(arkiv_message::CHARSET_FLAG) => {
                self.report.charset_guessed += 1;
                if self.report.charset_examples.len() < 20 {
                    self.report.charset_examples.push(ImportFailure {
                        origin: id.to_string(),
                        reason: f[arkiv_message::CHARSET_FLAG.len()..].to_string(),
                    });
                }
            }
            Some(_) => self.report.flagged += 1,
            None => {}
        }
        self.batch_messages += 1;
        self.batch_bytes += size;
        Ok(id)
    }

    /// Makes sure the current store holds the content, rolling over to a new store first when
    /// the current one is full.
    fn store_content(&mut self, p: &Prepared) -> Result<()> {
        let full = self.session()?.message_count() >= self.archive.config.storage.rollover_messages;
        if full {
            self.rollover()?;
        }
        let cur = self.current.id();
        let fresh;
        let prepared = match &p.content {
            Some((sid, c)) if *sid == cur => c,
            _ => {
                let key = self.current.keys().content_key(&p.hash);
                if self.session()?.has_content(&key)? {
                    return Ok(());
                }
                fresh = self
                    .current
                    .prepare(&p.msg.bytes, p.hash, &p.parsed, self.threshold)?;
                &fresh
            }
        };
        let threshold = self.threshold;
        self.session()?
            .store_content(prepared, &p.msg.bytes, &p.parsed, threshold)?;
        Ok(())
    }

    fn rollover(&mut self) -> Result<()> {
        self.commit()?;
        let entry = self
            .archive
            .create_store(None, None, StoreStatus::Current)?;
        self.current = self.archive.store(entry.id)?;
        *self
            .shared_current
            .write()
            .unwrap_or_else(|p| p.into_inner()) = self.current.clone();
        self.report.stores_created.push(entry.id.0);
        Ok(())
    }

    /// Decides the deferred messages: moved from a folder this run did not see them in, or new.
    fn finish_pending(&mut self) -> Result<()> {
        for p in std::mem::take(&mut self.pending) {
            let seq = p.seq;
            if let Some(id) = self.find_placement(p.folder, &p.record.hash)? {
                self.seen.insert(id);
                self.report.already_archived += 1;
                self.decided(seq, SettledOutcome::AlreadyArchived);
                continue;
            }
            let target_sent = self.is_sent(p.user, p.folder)?;
            let mut movable = None;
            for id in self.unseen_source_items(p.user, &p.record.hash)? {
                if !self
                    .archive
                    .store_status(id.store)
                    .is_some_and(|s| s.is_writable())
                {
                    continue;
                }
                if !self.opts.sent_folders.is_empty() {
                    // A move between a sent and a non-sent folder archives again.
                    let from = self.archive.store(id.store)?.message(id.num)?.folder;
                    if self.is_sent(p.user, from)? != target_sent {
                        continue;
                    }
                }
                movable = Some(id);
                break;
            }
            match movable {
                Some(id) if id.store == self.current.id() => {
                    self.session()?.move_message(id.num, p.folder)?;
                    self.seen.insert(id);
                    self.report.moved += 1;
                    self.decided(seq, SettledOutcome::Moved);
                }
                Some(id) => {
                    let store = self.archive.store(id.store)?;
                    let mut s = store.write()?;
                    s.move_message(id.num, p.folder)?;
                    s.commit()?;
                    self.seen.insert(id);
                    self.report.moved += 1;
                    self.decided(seq, SettledOutcome::Moved);
                }
                None if p.content_store == self.current.id() => {
                    self.add(p.record, None)?;
                    self.decided(seq, SettledOutcome::Archived);
                }
                None => {
                    // A rollover happened since: the content is in the previous store, so the
                    // message goes there too (a store never refers to another store's content).
                    let store = self.archive.store(p.content_store)?;
                    let mut record = p.record;
                    record.content_key = store.keys().content_key(&record.hash);
                    let mut s = store.write()?;
                    let id = s.add_message(&record)?;
                    s.commit()?;
                    self.seen.insert(id);
                    self.report.archived += 1;
                    self.progress.archived += 1;
                    self.decided(seq, SettledOutcome::Archived);
                }
            }
            self.maybe_commit()?;
        }
        Ok(())
    }
}
