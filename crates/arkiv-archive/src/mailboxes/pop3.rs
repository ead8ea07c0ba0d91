//! A POP3 mailbox run. POP3 has one folder and no flags or server dates: the unique ids
//! (`UIDL`) are the checkpoint, the filters on unread and age do not apply (they are IMAP's),
//! and "older than" deletion rules go by the message's `Date:` header.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use arkiv_mailclient::pop3::Pop3Session;
use arkiv_mailclient::{Credentials, ErrorKind};
use arkiv_sources::{SourceFailure, SourceItem, SourceMessage};
use arkiv_types::ContentHash;

use super::state::{FolderKey, ItemState};
use super::{
    ConnectionTest, Deletion, FolderReport, MailboxJob, MailboxPlan, MailboxProgress,
    MailboxTarget, RunCtx, ServerSettings,
};
use crate::error::Result;
use crate::ingest::{ImportFailure, ImportOptions, Settled, SettledOutcome};
use crate::master::Archive;

const RECONNECTS: u32 = 2;

fn connect(server: &ServerSettings, cred: &Credentials) -> Result<Pop3Session> {
    let ep = server.endpoint()?;
    let mut s = Pop3Session::connect(&ep)?;
    s.login(cred)?;
    Ok(s)
}

/// The message's `Date:` (seconds since 1970), read from its header only.
fn header_date(bytes: &[u8]) -> Option<i64> {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .unwrap_or(bytes.len().min(64 * 1024));
    arkiv_message::parse(&bytes[..end]).summary.date
}

/// A message to read: number in this session, unique id, size.
#[derive(Clone)]
struct Wanted {
    n: u32,
    uidl: String,
    size: u64,
}

struct Items<'a> {
    session: &'a mut Pop3Session,
    job: &'a MailboxJob,
    wanted: &'a [Wanted],
    pos: usize,
    max: u64,
    queue: VecDeque<(SourceItem, (String, Option<i64>))>,
    seqs: &'a Mutex<Vec<(String, Option<i64>)>>,
    vanished: &'a Mutex<u64>,
    error: &'a Mutex<Option<(String, ErrorKind)>>,
    cancel: &'a AtomicBool,
    reconnects: u32,
    stopped: bool,
    /// Message numbers of the current session by unique id (after a reconnect).
    renumber: Option<HashMap<String, u32>>,
}

impl Iterator for Items<'_> {
    type Item = SourceItem;

    fn next(&mut self) -> Option<SourceItem> {
        loop {
            if let Some((item, info)) = self.queue.pop_front() {
                self.seqs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(info);
                return Some(item);
            }
            if self.stopped || self.cancel.load(Ordering::Relaxed) {
                return None;
            }
            let w = self.wanted.get(self.pos)?.clone();
            self.pos += 1;
            if w.size > self.max {
                self.queue.push_back((
                    SourceItem::Failed(SourceFailure {
                        folder: Vec::new(),
                        origin: format!("message {} ({})", w.n, w.uidl),
                        reason: format!(
                            "{} bytes, more than the largest message archived ({} bytes, import.max_message_bytes)",
                            w.size, self.max
                        ),
                        input_len: 0,
                    }),
                    (w.uidl.clone(), None),
                ));
                continue;
            }
            let n = match &self.renumber {
                Some(map) => match map.get(&w.uidl) {
                    Some(n) => *n,
                    None => {
                        *self.vanished.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                        continue;
                    }
                },
                None => w.n,
            };
            let limit = (w.size + w.size / 8 + (64 << 10)).min(self.max.max(1 << 20));
            match self.session.retr(n, limit) {
                Ok(Some(bytes)) => {
                    let date = header_date(&bytes);
                    let len = bytes.len() as u64;
                    self.queue.push_back((
                        SourceItem::Message(SourceMessage {
                            folder: Vec::new(),
                            origin: format!("message {n} ({})", w.uidl),
                            bytes,
                            input_len: len,
                            envelope: None,
                        }),
                        (w.uidl.clone(), date),
                    ));
                }
                Ok(None) => {
                    *self.vanished.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                }
                Err(e) => {
                    if self.reconnects >= RECONNECTS || e.kind() == ErrorKind::Authentication {
                        *self.error.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some((e.to_string(), e.kind()));
                        self.stopped = true;
                        continue;
                    }
                    self.reconnects += 1;
                    let again = connect(&self.job.server, &self.job.credentials)
                        .and_then(|mut s| Ok((s.uidl()?, s)));
                    match again {
                        Ok((ids, s)) => {
                            *self.session = s;
                            self.renumber = Some(ids.into_iter().map(|(n, id)| (id, n)).collect());
                            self.pos -= 1;
                        }
                        Err(e2) => {
                            *self.error.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some((format!("{e}; connecting again failed: {e2}"), e.kind()));
                            self.stopped = true;
                        }
                    }
                }
            }
        }
    }
}

struct Mailbox {
    key: FolderKey,
    ids: Vec<(u32, String)>,
    sizes: HashMap<u32, u64>,
    known: HashMap<Vec<u8>, ItemState>,
    wanted: Vec<Wanted>,
}

fn look(archive: &Archive, source: &str, s: &mut Pop3Session) -> Result<Mailbox> {
    let key = archive.mailbox_folder_key(source, b"INBOX");
    let ids = s.uidl()?;
    let sizes: HashMap<u32, u64> = s.list()?.into_iter().collect();
    let known = archive.mailbox_items(&key)?;
    let wanted = ids
        .iter()
        .filter(|(_, id)| !known.contains_key(&archive.mailbox_pop3_item(id)))
        .map(|(n, id)| Wanted {
            n: *n,
            uidl: id.clone(),
            size: sizes.get(n).copied().unwrap_or(0),
        })
        .collect();
    Ok(Mailbox {
        key,
        ids,
        sizes,
        known,
        wanted,
    })
}

pub(super) fn run(archive: &Archive, job: &MailboxJob, ctx: &mut RunCtx<'_>) -> Result<()> {
    let source = job.source_id()?;
    let mut session = connect(&job.server, &job.credentials)?;
    let mb = look(archive, &source, &mut session)?;
    let now = ctx.now;
    let mut folder = FolderReport {
        name: "INBOX".into(),
        archive_folder: match &job.target {
            MailboxTarget::Single { folder, .. } => folder.clone(),
            MailboxTarget::Multidrop { .. } => String::new(),
        },
        on_server: mb.ids.len() as u64,
        ..Default::default()
    };
    ctx.log(format!(
        "{} messages, {} archived before, {} to read",
        mb.ids.len(),
        mb.known.len(),
        mb.wanted.len()
    ));
    let present = match &job.target {
        MailboxTarget::Single { user, folder } => {
            let on: HashSet<Vec<u8>> = mb
                .ids
                .iter()
                .map(|(_, id)| archive.mailbox_pop3_item(id))
                .collect();
            mb.known
                .iter()
                .filter(|(k, st)| st.placed && on.contains(*k))
                .map(|(_, st)| {
                    (
                        user.clone(),
                        arkiv_types::FolderPath::parse(folder),
                        ContentHash(st.hash),
                    )
                })
                .collect()
        }
        MailboxTarget::Multidrop { .. } => Vec::new(),
    };
    let seqs = Mutex::new(Vec::new());
    let vanished = Mutex::new(0u64);
    let error = Mutex::new(None);
    if !mb.wanted.is_empty() {
        let planned = mb.wanted.len() as u64;
        let planned_bytes = mb.wanted.iter().map(|w| w.size).sum();
        let opts = ImportOptions {
            assignment: job.target.assignment(),
            source_id: source.clone(),
            workers: job.workers,
            index: job.index,
            present,
            sent_folders: Vec::new(),
        };
        let items = Items {
            session: &mut session,
            job,
            wanted: &mb.wanted,
            pos: 0,
            max: archive.config.import.max_message_bytes,
            queue: VecDeque::new(),
            seqs: &seqs,
            vanished: &vanished,
            error: &error,
            cancel: ctx.cancel,
            reconnects: 0,
            stopped: false,
            renumber: None,
        };
        let mut sink_error = None;
        let mut counts = FolderReport::default();
        let mut sink = |settled: &[Settled]| {
            let seqs = seqs.lock().unwrap_or_else(|p| p.into_inner());
            let mut rows = Vec::new();
            for s in settled {
                let Some((uidl, date)) = seqs.get(s.seq as usize) else {
                    continue;
                };
                let placed = match &s.outcome {
                    SettledOutcome::Archived => {
                        counts.archived += 1;
                        true
                    }
                    SettledOutcome::AlreadyArchived => {
                        counts.already_archived += 1;
                        true
                    }
                    SettledOutcome::Moved => {
                        counts.moved += 1;
                        true
                    }
                    SettledOutcome::Skipped => false,
                    SettledOutcome::Failed(_) => {
                        counts.failed += 1;
                        continue;
                    }
                };
                counts.fetched += 1;
                if let Some(h) = s.hash {
                    rows.push((
                        mb.key,
                        archive.mailbox_pop3_item(uidl),
                        ItemState {
                            hash: h.0,
                            archived_at: now,
                            date: *date,
                            placed,
                        },
                    ));
                }
            }
            if let Err(e) = archive.record_mailbox_items(&rows)
                && sink_error.is_none()
            {
                sink_error = Some(e);
            }
        };
        let progress = &mut *ctx.progress;
        let report = archive.import_with(
            items,
            &opts,
            &mut |p| {
                progress(&MailboxProgress {
                    planned,
                    planned_bytes,
                    import: p.clone(),
                    folder: "INBOX".into(),
                })
            },
            &mut sink,
        )?;
        if let Some(e) = sink_error {
            return Err(e);
        }
        ctx.report.import = report;
        folder.fetched = counts.fetched;
        folder.archived = counts.archived;
        folder.already_archived = counts.already_archived;
        folder.moved = counts.moved;
        folder.failed = counts.failed;
    }
    folder.vanished = vanished.into_inner().unwrap_or(0);
    ctx.report.cancelled = ctx.cancel.load(Ordering::Relaxed);
    let error = error.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some((e, kind)) = &error {
        ctx.report.error = Some(e.clone());
        ctx.report.error_kind = Some(format!("{kind:?}").to_lowercase());
    }
    let stopped = error.is_some() || ctx.report.cancelled;
    if !stopped {
        // Rows of messages gone from the server are of no use.
        let on: HashSet<Vec<u8>> = mb
            .ids
            .iter()
            .map(|(_, id)| archive.mailbox_pop3_item(id))
            .collect();
        let gone: Vec<Vec<u8>> = mb
            .known
            .keys()
            .filter(|k| !on.contains(*k))
            .cloned()
            .collect();
        archive.forget_mailbox_items(&mb.key, &gone)?;
    }
    let quit_needed = !stopped;
    if job.deletion != Deletion::Never && !stopped {
        // Message numbers of this session stay valid until QUIT (nothing was deleted yet).
        let rows = archive.mailbox_items(&mb.key)?;
        let mut doomed = Vec::new();
        for (n, id) in &mb.ids {
            let item = archive.mailbox_pop3_item(id);
            let Some(row) = rows.get(&item) else {
                continue;
            };
            if !row.placed || !job.deletion.due(now, row.archived_at, row.date) {
                continue;
            }
            if !archive.content_verified(&ContentHash(row.hash))? {
                ctx.report.deletion_kept.push(ImportFailure {
                    origin: format!("message {n} ({id})"),
                    reason: "not found intact in the archive; kept on the server".into(),
                });
                continue;
            }
            if session.dele(*n).is_ok() {
                doomed.push(item);
            }
        }
        let _ = &mb.sizes;
        if !doomed.is_empty() {
            match session.quit() {
                Ok(()) => {
                    folder.deleted = doomed.len() as u64;
                    archive.forget_mailbox_items(&mb.key, &doomed)?;
                    ctx.log(format!("deleted {} on the server", doomed.len()));
                }
                Err(e) => {
                    ctx.report.error = Some(format!(
                        "the server did not confirm the deletions (QUIT failed: {e}); they may not have happened"
                    ));
                }
            }
            ctx.report.deleted = folder.deleted;
            ctx.report.folders = vec![folder];
            return Ok(());
        }
    }
    ctx.report.folders = vec![folder];
    for l in session.take_log() {
        ctx.log(l);
    }
    if quit_needed {
        let _ = session.quit();
    }
    Ok(())
}

pub(super) fn test(server: &ServerSettings, cred: &Credentials) -> Result<ConnectionTest> {
    let mut s = connect(server, cred)?;
    let n = s.uidl()?.len();
    let out = ConnectionTest {
        server: s.server(),
        tls: s.is_tls(),
        capabilities: s.capabilities().to_vec(),
        folders: Vec::new(),
        messages: Some(n as u64),
    };
    let _ = s.quit();
    Ok(out)
}

pub(super) fn plan(archive: &Archive, job: &MailboxJob) -> Result<MailboxPlan> {
    let source = job.source_id()?;
    let mut s = connect(&job.server, &job.credentials)?;
    let mb = look(archive, &source, &mut s)?;
    let now = arkiv_types::Timestamp::now().0;
    let to_delete = mb
        .ids
        .iter()
        .filter(
            |(_, id)| match mb.known.get(&archive.mailbox_pop3_item(id)) {
                Some(row) => row.placed && job.deletion.due(now, row.archived_at, row.date),
                None => job.deletion == Deletion::Immediately,
            },
        )
        .count() as u64;
    let _ = s.quit();
    Ok(MailboxPlan {
        mailbox: super::describe_mailbox(job)?,
        source,
        folders: vec![super::FolderInfo {
            name: "INBOX".into(),
            archived: true,
            on_server: Some(mb.ids.len() as u64),
            to_archive: Some(mb.wanted.len() as u64),
            to_delete: Some(to_delete),
            ..Default::default()
        }],
        to_archive: mb.wanted.len() as u64,
        to_archive_bytes: mb.wanted.iter().map(|w| w.size).sum(),
        to_delete,
    })
}
