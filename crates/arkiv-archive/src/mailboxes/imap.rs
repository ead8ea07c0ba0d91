//! An IMAP mailbox run: plan, fetch through the pipeline, record, delete.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use arkiv_mailclient::imap::{Fetch, ImapSession, MailboxInfo, MailboxStatus, MessageMeta};
use arkiv_mailclient::{Credentials, ErrorKind};
use arkiv_sources::{SourceFailure, SourceItem, SourceMessage};
use arkiv_types::{ContentHash, FolderPath};

use super::scope::Scope;
use super::state::{FolderKey, FolderState, ItemState};
use super::{
    ConnectionTest, Deletion, FolderDecision, FolderInfo, FolderReport, FolderScope, MailboxJob,
    MailboxPlan, MailboxProgress, MailboxTarget, RunCtx, ServerSettings,
};
use crate::error::Result;
use crate::ingest::{ImportFailure, ImportOptions, Settled, SettledOutcome};
use crate::master::Archive;

/// Messages per `UID FETCH`, and their announced bytes at most.
const CHUNK_MESSAGES: usize = 250;
const CHUNK_BYTES: u64 = 32 << 20;
/// Connections opened again after one was lost, per run.
const RECONNECTS: u32 = 2;

fn uid_item(uid: u32) -> Vec<u8> {
    uid.to_be_bytes().to_vec()
}

fn item_uid(id: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(id.try_into().ok()?))
}

fn connect(server: &ServerSettings, cred: &Credentials) -> Result<ImapSession> {
    let ep = server.endpoint()?;
    let mut s = ImapSession::connect(&ep)?;
    s.login(cred)?;
    Ok(s)
}

/// A folder of the run.
struct PlanFolder {
    info: MailboxInfo,
    path: String,
    decision: FolderDecision,
    key: FolderKey,
    status: MailboxStatus,
    known: HashMap<u32, ItemState>,
    /// Listed in this run (`None`: unchanged since the last run, not listed).
    metas: Option<Vec<MessageMeta>>,
    /// To fetch: UID, size, date.
    fetch: Vec<(u32, u64, Option<i64>)>,
    too_large: Vec<(u32, u64)>,
    waiting: u32,
    report: FolderReport,
}

impl PlanFolder {
    fn components(&self) -> Vec<String> {
        self.info.path()
    }
}

/// Lists the folders, decides the scope, and looks into each folder in scope.
fn plan_folders(
    archive: &Archive,
    job: &MailboxJob,
    source: &str,
    s: &mut ImapSession,
    now: i64,
    always_list: bool,
    log: &mut dyn FnMut(String),
) -> Result<(Vec<PlanFolder>, Vec<FolderInfo>)> {
    let scope = Scope::new(&job.scope)?;
    let max = archive.config.import.max_message_bytes;
    let cutoff = match &job.filters.older_than {
        Some(f) => Some(f.cutoff(now)?),
        None => None,
    };
    let mut infos = Vec::new();
    let mut out = Vec::new();
    for info in s.list()? {
        let path = info.path().join("/");
        let decision = scope.decide(&path, info.special_use(), info.selectable());
        infos.push(FolderInfo {
            name: path.clone(),
            special_use: info.special_use().map(str::to_string),
            archived: decision.archived,
            sent: decision.sent,
            reason: decision.reason.clone(),
            ..Default::default()
        });
        if !decision.archived {
            continue;
        }
        let mut report = FolderReport {
            name: path.clone(),
            archive_folder: match &job.target {
                MailboxTarget::Single { folder, .. } => FolderPath::parse(folder)
                    .join(&FolderPath::from_names(info.path()))
                    .to_string(),
                MailboxTarget::Multidrop { .. } => String::new(),
            },
            sent: decision.sent,
            ..Default::default()
        };
        let status = match s.examine(&info.raw) {
            Ok(st) => st,
            Err(e) if e.session_usable() => {
                log(format!("{path}: cannot be opened: {e}"));
                report.error = Some(e.to_string());
                out.push(PlanFolder {
                    info,
                    path,
                    decision,
                    key: [0; 32],
                    status: MailboxStatus::default(),
                    known: HashMap::new(),
                    metas: None,
                    fetch: Vec::new(),
                    too_large: Vec::new(),
                    waiting: 0,
                    report,
                });
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        report.on_server = status.messages as u64;
        let key = archive.mailbox_folder_key(source, &info.raw);
        let prev = archive.mailbox_folder_state(&key)?;
        if let (Some(p), Some(v)) = (&prev, status.uid_validity)
            && p.uid_validity != v
        {
            log(format!(
                "{path}: UIDVALIDITY changed ({} -> {v}): its UIDs are read afresh; the archive recognises what it has by content",
                p.uid_validity
            ));
            archive.reset_mailbox_folder(&key)?;
        }
        let known: HashMap<u32, ItemState> = archive
            .mailbox_items(&key)?
            .into_iter()
            .filter_map(|(k, v)| Some((item_uid(&k)?, v)))
            .collect();
        let unchanged = prev.as_ref().is_some_and(|p| {
            Some(p.uid_validity) == status.uid_validity
                && Some(p.uid_next) == status.uid_next
                && p.messages == status.messages
                && p.waiting == 0
                && known.len() == status.messages as usize
        });
        let mut pf = PlanFolder {
            info,
            path,
            decision,
            key,
            status,
            known,
            metas: None,
            fetch: Vec::new(),
            too_large: Vec::new(),
            waiting: 0,
            report,
        };
        if unchanged && !always_list && job.deletion == Deletion::Never {
            log(format!("{}: unchanged since the last run", pf.path));
            out.push(pf);
            continue;
        }
        let metas = s.message_list()?;
        for m in &metas {
            if pf.known.contains_key(&m.uid) {
                continue;
            }
            if !job.filters.archive_unread && !m.seen() {
                pf.report.waiting_unread += 1;
                pf.waiting += 1;
                continue;
            }
            if let Some(c) = cutoff
                && m.internal_date.is_none_or(|d| d >= c)
            {
                pf.report.waiting_age += 1;
                pf.waiting += 1;
                continue;
            }
            if m.size > max {
                pf.too_large.push((m.uid, m.size));
                continue;
            }
            pf.fetch.push((m.uid, m.size, m.internal_date));
        }
        log(format!(
            "{}: {} messages, {} archived before, {} to read, {} waiting, {} too large",
            pf.path,
            metas.len(),
            pf.known.len(),
            pf.fetch.len(),
            pf.waiting,
            pf.too_large.len()
        ));
        pf.metas = Some(metas);
        out.push(pf);
    }
    Ok((out, infos))
}

/// Where the run's fetched items come from, and what the sink needs to know of each.
struct SeqInfo {
    folder: usize,
    uid: u32,
    date: Option<i64>,
}

/// What the item iterator found besides messages.
#[derive(Default)]
struct Shared {
    vanished: HashMap<usize, u64>,
    /// Folders that could not be read completely.
    folder_errors: HashMap<usize, String>,
    error: Option<(String, ErrorKind)>,
    log: Vec<String>,
}

/// The messages of the run, fetched one by one.
struct Items<'a> {
    session: &'a mut ImapSession,
    job: &'a MailboxJob,
    folders: &'a [PlanFolder],
    max: u64,
    fi: usize,
    pos: usize,
    opened: bool,
    /// UIDs to fetch again after a reconnect, before going on.
    retry: Vec<u32>,
    fetch: Option<Fetch>,
    queue: VecDeque<(SourceItem, SeqInfo)>,
    seqs: &'a Mutex<Vec<SeqInfo>>,
    shared: &'a Mutex<Shared>,
    cancel: &'a AtomicBool,
    reconnects: u32,
    stopped: bool,
    sizes: HashMap<u32, (u64, Option<i64>)>,
}

impl Items<'_> {
    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&mut self, item: SourceItem, info: SeqInfo) -> Option<SourceItem> {
        self.seqs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(info);
        Some(item)
    }

    fn fail(&mut self, uid: u32, reason: String) {
        let f = &self.folders[self.fi];
        self.queue.push_back((
            SourceItem::Failed(SourceFailure {
                folder: f.components(),
                origin: format!("{} UID {uid}", f.path),
                reason,
                input_len: 0,
            }),
            SeqInfo {
                folder: self.fi,
                uid,
                date: None,
            },
        ));
    }

    /// After a lost connection or a refused answer: opens a new connection (a few times per
    /// run) and goes on with what was not received, or stops the run.
    fn recover(&mut self, e: arkiv_mailclient::Error, remaining: Vec<u32>) {
        let path = self.folders[self.fi].path.clone();
        let mut remaining = remaining;
        if let arkiv_mailclient::Error::TooLarge { what, size, .. } = &e {
            // The server sent more for one message than it announced: that one fails.
            let uid = what
                .find("UID ")
                .and_then(|i| {
                    what[i + 4..]
                        .split(|c: char| !c.is_ascii_digit())
                        .next()?
                        .parse::<u32>()
                        .ok()
                })
                .filter(|u| remaining.contains(u))
                .or_else(|| remaining.first().copied());
            if let Some(uid) = uid {
                remaining.retain(|u| *u != uid);
                self.fail(
                    uid,
                    format!("the server sent {size} bytes for it, more than it announced; it was not archived"),
                );
            }
        }
        self.shared().log.push(format!(
            "{path}: {e} ({} messages still to read)",
            remaining.len()
        ));
        if self.reconnects >= RECONNECTS || e.kind() == ErrorKind::Authentication {
            self.shared().error = Some((e.to_string(), e.kind()));
            self.stopped = true;
            return;
        }
        self.reconnects += 1;
        match connect(&self.job.server, &self.job.credentials) {
            Ok(s) => {
                *self.session = s;
                self.opened = false;
                self.retry = remaining;
                self.shared()
                    .log
                    .push(format!("{path}: connected again, going on"));
            }
            Err(e2) => {
                self.shared().error = Some((
                    format!("{e}; connecting again failed: {e2}"),
                    match &e2 {
                        crate::ArchiveError::Mailbox(c) => c.kind(),
                        _ => e.kind(),
                    },
                ));
                self.stopped = true;
            }
        }
    }
}

impl Iterator for Items<'_> {
    type Item = SourceItem;

    fn next(&mut self) -> Option<SourceItem> {
        loop {
            if let Some((item, info)) = self.queue.pop_front() {
                return self.emit(item, info);
            }
            if self.stopped || self.cancel.load(Ordering::Relaxed) {
                return None;
            }
            if let Some(mut f) = self.fetch.take() {
                match f.next(self.session) {
                    Ok(Some(m)) => {
                        self.fetch = Some(f);
                        let folder = &self.folders[self.fi];
                        let (_, date) = self.sizes.get(&m.uid).copied().unwrap_or((0, None));
                        let len = m.bytes.len() as u64;
                        let item = SourceItem::Message(SourceMessage {
                            folder: folder.components(),
                            origin: format!("{} UID {}", folder.path, m.uid),
                            bytes: m.bytes,
                            input_len: len,
                            envelope: None,
                        });
                        let info = SeqInfo {
                            folder: self.fi,
                            uid: m.uid,
                            date,
                        };
                        return self.emit(item, info);
                    }
                    Ok(None) => {
                        let gone = f.missing().len() as u64;
                        if gone > 0 {
                            *self.shared().vanished.entry(self.fi).or_default() += gone;
                        }
                        continue;
                    }
                    Err(e) => {
                        let remaining = f.missing();
                        self.recover(e, remaining);
                        continue;
                    }
                }
            }
            let folder = self.folders.get(self.fi)?;
            if folder.report.error.is_some()
                || (folder.fetch.is_empty() && folder.too_large.is_empty())
            {
                self.fi += 1;
                continue;
            }
            if !self.opened {
                if let Err(e) = self.session.examine(&folder.info.raw) {
                    if e.session_usable() {
                        let msg = e.to_string();
                        self.shared().folder_errors.insert(self.fi, msg);
                        self.fi += 1;
                        self.pos = 0;
                        continue;
                    }
                    let remaining: Vec<u32> = if self.retry.is_empty() {
                        folder.fetch[self.pos..].iter().map(|x| x.0).collect()
                    } else {
                        std::mem::take(&mut self.retry)
                    };
                    self.pos = folder.fetch.len();
                    self.recover(e, remaining);
                    continue;
                }
                self.opened = true;
                self.sizes = folder
                    .fetch
                    .iter()
                    .map(|(u, s, d)| (*u, (*s, *d)))
                    .collect();
                if self.pos == 0 && self.retry.is_empty() {
                    let max = self.max;
                    for (uid, size) in folder.too_large.clone() {
                        self.fail(
                            uid,
                            format!("{size} bytes, more than the largest message archived ({max} bytes, import.max_message_bytes)"),
                        );
                    }
                }
                continue;
            }
            let chunk: Vec<u32> = if !self.retry.is_empty() {
                std::mem::take(&mut self.retry)
            } else {
                let mut bytes = 0u64;
                let mut chunk = Vec::new();
                while self.pos < folder.fetch.len()
                    && chunk.len() < CHUNK_MESSAGES
                    && (chunk.is_empty() || bytes + folder.fetch[self.pos].1 <= CHUNK_BYTES)
                {
                    bytes += folder.fetch[self.pos].1;
                    chunk.push(folder.fetch[self.pos].0);
                    self.pos += 1;
                }
                chunk
            };
            if chunk.is_empty() {
                self.fi += 1;
                self.pos = 0;
                self.opened = false;
                continue;
            }
            let biggest = chunk
                .iter()
                .filter_map(|u| self.sizes.get(u).map(|x| x.0))
                .max()
                .unwrap_or(0);
            let limit =
                (biggest + (biggest / 8) + (64 << 10)).clamp(1 << 20, self.max.max(1 << 20));
            match self.session.start_fetch(&chunk, limit) {
                Ok(f) => self.fetch = Some(f),
                Err(e) => self.recover(e, chunk),
            }
        }
    }
}

pub(super) fn run(archive: &Archive, job: &MailboxJob, ctx: &mut RunCtx<'_>) -> Result<()> {
    let source = job.source_id()?;
    let mut session = connect(&job.server, &job.credentials)?;
    let now = ctx.now;
    let mut lines = Vec::new();
    let (mut folders, _) =
        plan_folders(archive, job, &source, &mut session, now, false, &mut |l| {
            lines.push(l)
        })?;
    for l in lines {
        ctx.log(l);
    }
    let planned: u64 = folders.iter().map(|f| f.fetch.len() as u64).sum();
    let planned_bytes: u64 = folders
        .iter()
        .flat_map(|f| f.fetch.iter().map(|x| x.1))
        .sum();
    let too_large: usize = folders.iter().map(|f| f.too_large.len()).sum();

    // What is still on the server, for move detection (single-user targets).
    let (user, top) = match &job.target {
        MailboxTarget::Single { user, folder } => (Some(user.clone()), FolderPath::parse(folder)),
        MailboxTarget::Multidrop { .. } => (None, FolderPath::parse("")),
    };
    let mut present = Vec::new();
    let mut sent_folders = Vec::new();
    if let Some(user) = &user {
        for f in &folders {
            let target = top.join(&FolderPath::from_names(f.components()));
            if f.decision.sent {
                sent_folders.push(target.clone());
            }
            let on_server: Option<std::collections::HashSet<u32>> =
                f.metas.as_ref().map(|m| m.iter().map(|x| x.uid).collect());
            for (uid, st) in &f.known {
                if st.placed && on_server.as_ref().is_none_or(|s| s.contains(uid)) {
                    present.push((user.clone(), target.clone(), ContentHash(st.hash)));
                }
            }
        }
    }

    let seqs = Mutex::new(Vec::new());
    let shared = Mutex::new(Shared::default());
    if planned > 0 || too_large > 0 {
        let opts = ImportOptions {
            assignment: job.target.assignment(),
            source_id: source.clone(),
            workers: job.workers,
            index: job.index,
            present,
            sent_folders,
        };
        let items = Items {
            session: &mut session,
            job,
            folders: &folders,
            max: archive.config.import.max_message_bytes,
            fi: 0,
            pos: 0,
            opened: false,
            retry: Vec::new(),
            fetch: None,
            queue: VecDeque::new(),
            seqs: &seqs,
            shared: &shared,
            cancel: ctx.cancel,
            reconnects: 0,
            stopped: false,
            sizes: HashMap::new(),
        };
        let keys: Vec<FolderKey> = folders.iter().map(|f| f.key).collect();
        let mut counts: Vec<FolderReport> = vec![FolderReport::default(); folders.len()];
        let mut sink_error = None;
        let mut sink = |settled: &[Settled]| {
            let seqs = seqs.lock().unwrap_or_else(|p| p.into_inner());
            let mut rows = Vec::new();
            for s in settled {
                let Some(info) = seqs.get(s.seq as usize) else {
                    continue;
                };
                let c = &mut counts[info.folder];
                let placed = match &s.outcome {
                    SettledOutcome::Archived => {
                        c.archived += 1;
                        true
                    }
                    SettledOutcome::AlreadyArchived => {
                        c.already_archived += 1;
                        true
                    }
                    SettledOutcome::Moved => {
                        c.moved += 1;
                        true
                    }
                    SettledOutcome::Skipped => false,
                    SettledOutcome::Failed(_) => {
                        c.failed += 1;
                        continue;
                    }
                };
                c.fetched += 1;
                if let Some(h) = s.hash {
                    rows.push((
                        keys[info.folder],
                        uid_item(info.uid),
                        ItemState {
                            hash: h.0,
                            archived_at: now,
                            date: info.date,
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
        let mut folder_name = String::new();
        let report = archive.import_with(
            items,
            &opts,
            &mut |p| {
                folder_name.clear();
                progress(&MailboxProgress {
                    planned,
                    planned_bytes,
                    import: p.clone(),
                    folder: folder_name.clone(),
                })
            },
            &mut sink,
        )?;
        if let Some(e) = sink_error {
            return Err(e);
        }
        ctx.report.import = report;
        for (f, c) in folders.iter_mut().zip(counts) {
            f.report.fetched = c.fetched;
            f.report.archived = c.archived;
            f.report.already_archived = c.already_archived;
            f.report.moved = c.moved;
            f.report.failed = c.failed;
        }
    }
    let shared = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    for l in shared.log {
        ctx.log(l);
    }
    ctx.report.cancelled = ctx.cancel.load(Ordering::Relaxed);
    if let Some((e, kind)) = &shared.error {
        ctx.report.error = Some(e.clone());
        ctx.report.error_kind = Some(format!("{kind:?}").to_lowercase());
    }
    // Checkpoints of folders read completely.
    let run_stopped = shared.error.is_some() || ctx.report.cancelled;
    for (i, f) in folders.iter_mut().enumerate() {
        if let Some(e) = shared.folder_errors.get(&i) {
            f.report.error = Some(e.clone());
        }
        f.report.vanished = shared.vanished.get(&i).copied().unwrap_or(0);
        if f.report.error.is_some() || run_stopped && !f.fetch.is_empty() {
            continue;
        }
        let (Some(v), Some(n)) = (f.status.uid_validity, f.status.uid_next) else {
            continue;
        };
        // Failed messages keep the folder listed next time (they are tried again).
        let waiting = f.waiting + f.report.failed as u32 + f.too_large.len() as u32;
        archive.set_mailbox_folder_state(
            &f.key,
            &FolderState {
                uid_validity: v,
                uid_next: n,
                messages: f.status.messages,
                waiting,
            },
        )?;
        // Rows of messages no longer on the server are of no use.
        if let Some(metas) = &f.metas {
            let on: std::collections::HashSet<u32> = metas.iter().map(|m| m.uid).collect();
            let gone: Vec<Vec<u8>> = f
                .known
                .keys()
                .filter(|u| !on.contains(u))
                .map(|u| uid_item(*u))
                .collect();
            archive.forget_mailbox_items(&f.key, &gone)?;
        }
    }
    if job.deletion != Deletion::Never && !run_stopped {
        delete(archive, job, &mut session, &mut folders, ctx)?;
    }
    ctx.report.deleted = folders.iter().map(|f| f.report.deleted).sum();
    ctx.report.folders = folders.into_iter().map(|f| f.report).collect();
    ctx.log(format!("protocol: {}", "(the client's log follows)"));
    for l in session.take_log() {
        ctx.log(l);
    }
    if !run_stopped {
        session.logout();
    }
    Ok(())
}

/// The deletion rule, folder by folder.
fn delete(
    archive: &Archive,
    job: &MailboxJob,
    session: &mut ImapSession,
    folders: &mut [PlanFolder],
    ctx: &mut RunCtx<'_>,
) -> Result<()> {
    for f in folders.iter_mut() {
        if f.report.error.is_some() {
            continue;
        }
        let rows: HashMap<u32, ItemState> = archive
            .mailbox_items(&f.key)?
            .into_iter()
            .filter_map(|(k, v)| Some((item_uid(&k)?, v)))
            .collect();
        if rows.is_empty() {
            continue;
        }
        if let Err(e) = session.select(&f.info.raw) {
            f.report.error = Some(format!("cannot open it to delete: {e}"));
            if !e.session_usable() {
                return Ok(());
            }
            continue;
        }
        let metas = session.message_list()?;
        let mut due = Vec::new();
        let mut flagged = 0;
        for m in &metas {
            let Some(row) = rows.get(&m.uid) else {
                continue;
            };
            if !row.placed
                || m.deleted()
                || !job
                    .deletion
                    .due(ctx.now, row.archived_at, m.internal_date.or(row.date))
            {
                continue;
            }
            if m.flagged() {
                flagged += 1;
                continue;
            }
            if !archive.content_verified(&ContentHash(row.hash))? {
                ctx.report.deletion_kept.push(ImportFailure {
                    origin: format!("{} UID {}", f.path, m.uid),
                    reason: "not found intact in the archive; kept on the server".into(),
                });
                continue;
            }
            due.push(m.uid);
        }
        if flagged > 0 {
            ctx.log(format!(
                "{}: {flagged} flagged messages are due but never deleted",
                f.path
            ));
        }
        if due.is_empty() {
            continue;
        }
        let done = session.delete(&due)?;
        f.report.deleted = done.expunged.len() as u64;
        for uid in &done.marked_only {
            ctx.report.deletion_kept.push(ImportFailure {
                origin: format!("{} UID {uid}", f.path),
                reason: "marked \\Deleted but not expunged: the server lacks UIDPLUS and other messages of the folder are marked deleted".into(),
            });
        }
        let gone: Vec<Vec<u8>> = done.expunged.iter().map(|u| uid_item(*u)).collect();
        archive.forget_mailbox_items(&f.key, &gone)?;
        ctx.log(format!(
            "{}: deleted {} on the server",
            f.path,
            done.expunged.len()
        ));
        // The folder changed: its next run lists it again.
        if let Some(mut st) = archive.mailbox_folder_state(&f.key)? {
            st.waiting = st.waiting.max(1);
            archive.set_mailbox_folder_state(&f.key, &st)?;
        }
    }
    Ok(())
}

/// Connects, logs on, lists the folders with what the scope decides.
pub(super) fn test(
    server: &ServerSettings,
    cred: &Credentials,
    scope: &FolderScope,
) -> Result<ConnectionTest> {
    let mut s = connect(server, cred)?;
    let sc = Scope::new(scope)?;
    let folders = s
        .list()?
        .into_iter()
        .map(|info| {
            let path = info.path().join("/");
            let d = sc.decide(&path, info.special_use(), info.selectable());
            FolderInfo {
                name: path,
                special_use: info.special_use().map(str::to_string),
                archived: d.archived,
                sent: d.sent,
                reason: d.reason,
                ..Default::default()
            }
        })
        .collect();
    let out = ConnectionTest {
        server: s.server(),
        tls: s.is_tls(),
        capabilities: s.capabilities().to_vec(),
        folders,
        messages: None,
    };
    s.logout();
    Ok(out)
}

/// A dry run.
pub(super) fn plan(archive: &Archive, job: &MailboxJob) -> Result<MailboxPlan> {
    let source = job.source_id()?;
    let mut s = connect(&job.server, &job.credentials)?;
    let now = arkiv_types::Timestamp::now().0;
    let (folders, mut infos) = plan_folders(archive, job, &source, &mut s, now, true, &mut |_| {})?;
    let mut plan = MailboxPlan {
        mailbox: super::describe_mailbox(job)?,
        source,
        ..Default::default()
    };
    for f in &folders {
        let to_delete = f
            .metas
            .as_ref()
            .map(|metas| {
                metas
                    .iter()
                    .filter(|m| !m.flagged() && !m.deleted())
                    .filter(|m| match f.known.get(&m.uid) {
                        Some(row) => {
                            row.placed
                                && job.deletion.due(
                                    now,
                                    row.archived_at,
                                    m.internal_date.or(row.date),
                                )
                        }
                        // Archived in this run, then due at once or by its date.
                        None => {
                            f.fetch.iter().any(|x| x.0 == m.uid)
                                && job.deletion.due(now, now, m.internal_date)
                        }
                    })
                    .count() as u64
            })
            .unwrap_or(0);
        if let Some(i) = infos.iter_mut().find(|i| i.name == f.path) {
            i.on_server = Some(f.status.messages as u64);
            i.to_archive = Some(f.fetch.len() as u64);
            i.waiting = Some(f.waiting as u64);
            i.to_delete = Some(to_delete);
            if let Some(e) = &f.report.error {
                i.reason = e.clone();
            }
        }
        plan.to_archive += f.fetch.len() as u64;
        plan.to_archive_bytes += f.fetch.iter().map(|x| x.1).sum::<u64>();
        plan.to_delete += to_delete;
    }
    plan.folders = infos;
    s.logout();
    Ok(plan)
}
