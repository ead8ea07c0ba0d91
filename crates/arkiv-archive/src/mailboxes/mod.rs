//! Archiving from mail servers (SPEC A2–A6, A9): one mailbox at a time, over IMAP or POP3,
//! through the one import pipeline.
//!
//! ```text
//!  MailboxJob ─▶ connect, log on (arkiv-mailclient)
//!             ─▶ plan: folders in scope (scope.rs), per folder what the checkpoint
//!                (state.rs) does not have yet, minus what the filters keep back
//!             ─▶ Archive::import_with(items fetched one by one)  ── settled ──▶ checkpoint
//!             ─▶ deletion rules: only messages recorded as durable, read back from the
//!                store and matching their hash, never flagged ones
//! ```
//!
//! * **Nothing lost, nothing twice.** A checkpoint row is written only after its message is
//!   durable; a run killed at any point reads again what has no row, and the pipeline knows
//!   by hash what it already holds. A UIDVALIDITY change drops the folder's rows and the
//!   hashes keep the archive free of duplicates.
//! * **Only what is new** is fetched: a folder whose UIDVALIDITY, UIDNEXT and message count
//!   are unchanged is not even listed.
//! * **Moves** between server folders move in the archive: messages still on the server are
//!   told to the pipeline as present, so an earlier copy that is gone from its folder is
//!   moved, and one that is still there is not (a move between a sent and a non-sent folder
//!   archives again, as the manual says).
//! * A connection lost in the middle is opened again (twice per run) and the run goes on with
//!   what was not received.

pub mod csv;
mod imap;
mod pop3;
pub mod profiles;
pub mod scope;
pub(crate) mod state;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use arkiv_mailclient::{Credentials, Endpoint, Security, Trust};
use arkiv_types::{FolderPath, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};
use crate::ingest::{Assignment, ImportProgress, ImportReport};
use crate::master::Archive;
pub use scope::{FolderDecision, FolderRule, FolderScope};

/// IMAP or POP3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Imap,
    Pop3,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
        }
    }
}

/// Where the mail server is and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServerSettings {
    pub protocol: Protocol,
    pub host: String,
    /// 0: the usual port of the protocol and security (993/143, 995/110).
    pub port: u16,
    /// `tls`, `starttls` or `plain` (plain text only when chosen).
    pub security: String,
    /// "Ignore certificate warnings": any certificate is accepted.
    pub ignore_certificate: bool,
    /// A pinned SHA-256 certificate fingerprint (hex, colons allowed).
    pub fingerprint: String,
    /// A PEM file of certificate authorities to trust besides the system's.
    pub ca_file: String,
    /// Seconds any single wait for the server may take (MailStore's default: 300).
    pub timeout_seconds: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            protocol: Protocol::Imap,
            host: String::new(),
            port: 0,
            security: "tls".into(),
            ignore_certificate: false,
            fingerprint: String::new(),
            ca_file: String::new(),
            timeout_seconds: 300,
        }
    }
}

impl ServerSettings {
    pub fn security(&self) -> Result<Security> {
        Security::parse(&self.security).ok_or_else(|| {
            invalid(
                "security",
                format!("'{}': use tls, starttls or plain", self.security),
            )
        })
    }

    pub fn port(&self) -> Result<u16> {
        let sec = self.security()?;
        Ok(match (self.port, self.protocol) {
            (0, Protocol::Imap) => sec.imap_port(),
            (0, Protocol::Pop3) => sec.pop3_port(),
            (p, _) => p,
        })
    }

    /// The client's endpoint: host, port, security, certificate policy, timeout.
    pub fn endpoint(&self) -> Result<Endpoint> {
        if self.host.trim().is_empty() {
            return Err(invalid("server", "no host name given"));
        }
        let mut ep = Endpoint::new(&self.host, self.port()?, self.security()?);
        ep.trust = if !self.fingerprint.trim().is_empty() {
            Trust::pin(&self.fingerprint)?
        } else if self.ignore_certificate {
            Trust::Any
        } else if !self.ca_file.trim().is_empty() {
            Trust::VerifyWith(self.ca_file.clone().into())
        } else {
            Trust::Verify
        };
        ep.timeout = Duration::from_secs(self.timeout_seconds.clamp(5, 3600));
        Ok(ep)
    }
}

/// A length of time, counted on the calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Period {
    pub amount: u32,
    pub unit: PeriodUnit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodUnit {
    Days,
    Weeks,
    Months,
    Years,
}

impl Period {
    /// The moment `self` before `now` (seconds since 1970; months and years on the UTC
    /// calendar).
    pub fn before(&self, now: i64) -> i64 {
        let n = self.amount as i64;
        let span = match self.unit {
            PeriodUnit::Days => jiff::Span::new().days(n),
            PeriodUnit::Weeks => jiff::Span::new().weeks(n),
            PeriodUnit::Months => jiff::Span::new().months(n),
            PeriodUnit::Years => jiff::Span::new().years(n),
        };
        jiff::Timestamp::from_second(now)
            .ok()
            .map(|t| t.to_zoned_datetime(jiff::tz::TimeZone::UTC))
            .and_then(|z| z.checked_sub(span).ok())
            .map(|z| z.timestamp().as_second())
            .unwrap_or(i64::MIN)
    }
}

/// "Only archive messages that are older than": a date or a range back from the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AgeFilter {
    /// Before this day or moment (`2014-06-30` or `2014-06-30T12:00:00`), in UTC or in the
    /// server's time zone.
    Date { date: String, utc: bool },
    /// Before the run by this much.
    Range(Period),
}

impl AgeFilter {
    /// The moment a message must be older than.
    pub fn cutoff(&self, now: i64) -> Result<i64> {
        match self {
            AgeFilter::Range(p) => Ok(p.before(now)),
            AgeFilter::Date { date, utc } => {
                let bad = || {
                    invalid(
                        "filter date",
                        format!("'{date}': use 2014-06-30 or 2014-06-30T12:00:00"),
                    )
                };
                let dt: jiff::civil::DateTime = match date.trim().parse::<jiff::civil::DateTime>() {
                    Ok(d) => d,
                    Err(_) => date
                        .trim()
                        .parse::<jiff::civil::Date>()
                        .map_err(|_| bad())?
                        .to_datetime(jiff::civil::Time::midnight()),
                };
                let tz = if *utc {
                    jiff::tz::TimeZone::UTC
                } else {
                    jiff::tz::TimeZone::system()
                };
                Ok(dt
                    .to_zoned_datetime(tz)
                    .map_err(|_| bad())?
                    .timestamp()
                    .as_second())
            }
        }
    }
}

/// Which messages are archived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Filters {
    /// "Also archive unread messages" (on by default). Off: unread messages wait until they
    /// are read.
    pub archive_unread: bool,
    /// "Only archive messages that are older than".
    pub older_than: Option<AgeFilter>,
}

impl Default for Filters {
    fn default() -> Self {
        Filters {
            archive_unread: true,
            older_than: None,
        }
    }
}

/// What is deleted on the server after archiving (manual §2.3 "Deleting Emails after
/// Archiving"). Flagged messages are never deleted; nothing is deleted that is not durable in
/// the archive and read back with its hash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "camelCase")]
pub enum Deletion {
    #[default]
    Never,
    Immediately,
    /// At least this long after it was archived (a later run deletes it).
    AfterArchived {
        amount: u32,
        unit: PeriodUnit,
    },
    /// When its date is older than this.
    OlderThan {
        amount: u32,
        unit: PeriodUnit,
    },
}

impl Deletion {
    /// Whether a message archived at `archived_at` with date `date` is due now.
    pub(crate) fn due(&self, now: i64, archived_at: i64, date: Option<i64>) -> bool {
        match *self {
            Deletion::Never => false,
            Deletion::Immediately => true,
            Deletion::AfterArchived { amount, unit } => {
                archived_at <= Period { amount, unit }.before(now)
            }
            Deletion::OlderThan { amount, unit } => {
                date.is_some_and(|d| d < Period { amount, unit }.before(now))
            }
        }
    }
}

/// Where a mailbox's messages go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum MailboxTarget {
    /// One user archive: below `folder`, the mailbox's folder structure.
    #[serde(rename_all = "camelCase")]
    Single { user: String, folder: String },
    /// A catch-all mailbox (manual §2.9): each message to the archives of its sender (in
    /// `sent_folder`) and recipients (in `received_folder`); messages for no known address to
    /// `unknown_user`'s archive below `folder`, or skipped.
    #[serde(rename_all = "camelCase")]
    Multidrop {
        sent_folder: String,
        received_folder: String,
        unknown_user: Option<String>,
        folder: String,
    },
}

impl MailboxTarget {
    fn assignment(&self) -> Assignment {
        match self {
            MailboxTarget::Single { user, folder } => Assignment::Single {
                user: user.clone(),
                folder: FolderPath::parse(folder),
            },
            MailboxTarget::Multidrop {
                sent_folder,
                received_folder,
                unknown_user,
                folder,
            } => Assignment::Multi {
                sent_folder: sent_folder.clone(),
                received_folder: received_folder.clone(),
                unknown_user: unknown_user.clone(),
                folder: FolderPath::parse(folder),
            },
        }
    }

    fn describe(&self) -> String {
        match self {
            MailboxTarget::Single { user, folder } => format!("{user}/{folder}"),
            MailboxTarget::Multidrop {
                sent_folder,
                received_folder,
                unknown_user,
                folder,
            } => format!(
                "multidrop:{received_folder}|{sent_folder}|{}/{folder}",
                unknown_user.as_deref().unwrap_or("")
            ),
        }
    }
}

/// One mailbox to archive.
#[derive(Clone, Debug)]
pub struct MailboxJob {
    pub server: ServerSettings,
    pub credentials: Credentials,
    pub target: MailboxTarget,
    pub scope: FolderScope,
    pub filters: Filters,
    pub deletion: Deletion,
    /// Make everything searchable before returning.
    pub index: bool,
    /// Pipeline workers (0: one per core).
    pub workers: usize,
}

impl MailboxJob {
    /// The source's identity: the mailbox on the server and where it goes. It names the
    /// checkpoints and the archived messages' source (move detection).
    pub fn source_id(&self) -> Result<String> {
        Ok(format!(
            "{}://{}@{}:{}#{}",
            self.server.protocol.as_str(),
            self.credentials.mailbox(),
            self.server.host.trim().to_lowercase(),
            self.server.port()?,
            self.target.describe()
        ))
    }
}

/// What one folder of a run did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderReport {
    /// The folder on the server (levels joined with `/`).
    pub name: String,
    /// Where it goes in the archive (single-user targets).
    pub archive_folder: String,
    pub sent: bool,
    pub on_server: u64,
    /// Read from the server in this run.
    pub fetched: u64,
    pub archived: u64,
    pub already_archived: u64,
    pub moved: u64,
    pub failed: u64,
    /// Left for a later run by "also archive unread messages" off.
    pub waiting_unread: u64,
    /// Left for a later run by "only older than".
    pub waiting_age: u64,
    /// Deleted on the server before it could be read.
    pub vanished: u64,
    pub deleted: u64,
    /// Why the folder could not be read completely.
    pub error: Option<String>,
}

/// The outcome of a mailbox run.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxReport {
    /// `user@host:port (imap, tls)`.
    pub mailbox: String,
    pub source: String,
    pub folders: Vec<FolderReport>,
    /// The pipeline's report (messages, archived, already archived, moved, failed with
    /// reasons, bytes, ...).
    pub import: ImportReport,
    pub deleted: u64,
    /// Messages due for deletion that were kept, and why.
    pub deletion_kept: Vec<crate::ingest::ImportFailure>,
    /// What stopped the run before it was complete (then a later run goes on).
    pub error: Option<String>,
    pub error_kind: Option<String>,
    pub cancelled: bool,
    pub seconds: f64,
    /// Commands, answers and decisions, for the run history's debug log.
    pub log: Vec<String>,
}

impl MailboxReport {
    /// Whether every message that could be read was archived and nothing stopped the run.
    pub fn complete(&self) -> bool {
        self.error.is_none() && self.import.failed.is_empty() && !self.cancelled
    }
}

/// Live progress of a run.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxProgress {
    /// Messages planned to be read in this run.
    pub planned: u64,
    pub planned_bytes: u64,
    pub import: ImportProgress,
    pub folder: String,
}

/// What a connection test found.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionTest {
    pub server: String,
    pub tls: bool,
    pub capabilities: Vec<String>,
    /// IMAP: every folder with what the scope decides.
    pub folders: Vec<FolderInfo>,
    /// POP3: messages in the mailbox.
    pub messages: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderInfo {
    pub name: String,
    pub special_use: Option<String>,
    pub archived: bool,
    pub sent: bool,
    pub reason: String,
    /// With a plan: messages on the server, to archive now, and to delete after the run.
    pub on_server: Option<u64>,
    pub to_archive: Option<u64>,
    pub waiting: Option<u64>,
    pub to_delete: Option<u64>,
}

/// What a run would do (a dry run): the effective folders and counts.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxPlan {
    pub mailbox: String,
    pub source: String,
    pub folders: Vec<FolderInfo>,
    pub to_archive: u64,
    pub to_archive_bytes: u64,
    pub to_delete: u64,
}

/// Shared by the runs: cancellation, progress and the report under construction.
pub(crate) struct RunCtx<'a> {
    pub cancel: &'a AtomicBool,
    pub progress: &'a mut dyn FnMut(&MailboxProgress),
    pub report: MailboxReport,
    pub now: i64,
}

impl RunCtx<'_> {
    pub(crate) fn log(&mut self, line: String) {
        if self.report.log.len() < 5000 {
            self.report.log.push(line);
        }
    }
}

impl Archive {
    /// Archives one mailbox: everything new in the folders in scope, then the deletion rule.
    /// An `Err` means nothing could be done (no connection, logon refused, bad settings);
    /// a run that stopped later returns its report with `error` set.
    pub fn archive_mailbox(
        &self,
        job: &MailboxJob,
        progress: &mut dyn FnMut(&MailboxProgress),
        cancel: &AtomicBool,
    ) -> Result<MailboxReport> {
        if self.is_read_only() {
            return Err(invalid("archive", "opened read-only"));
        }
        self.check_target(&job.target)?;
        let started = std::time::Instant::now();
        let mut ctx = RunCtx {
            cancel,
            progress,
            report: MailboxReport {
                mailbox: describe_mailbox(job)?,
                source: job.source_id()?,
                ..Default::default()
            },
            now: Timestamp::now().0,
        };
        match job.server.protocol {
            Protocol::Imap => imap::run(self, job, &mut ctx)?,
            Protocol::Pop3 => pop3::run(self, job, &mut ctx)?,
        }
        ctx.report.seconds = started.elapsed().as_secs_f64();
        Ok(ctx.report)
    }

    /// Connects and logs on, and lists what is there (the "Test" button).
    pub fn test_mailbox(
        &self,
        server: &ServerSettings,
        credentials: &Credentials,
        scope: &FolderScope,
    ) -> Result<ConnectionTest> {
        match server.protocol {
            Protocol::Imap => imap::test(server, credentials, scope),
            Protocol::Pop3 => pop3::test(server, credentials),
        }
    }

    /// A dry run: the effective folders, how many messages a run would archive now, and how
    /// many it would delete afterwards.
    pub fn plan_mailbox(&self, job: &MailboxJob) -> Result<MailboxPlan> {
        self.check_target(&job.target)?;
        match job.server.protocol {
            Protocol::Imap => imap::plan(self, job),
            Protocol::Pop3 => pop3::plan(self, job),
        }
    }

    fn check_target(&self, t: &MailboxTarget) -> Result<()> {
        match t {
            MailboxTarget::Single { user, .. } => {
                self.user(user)?;
            }
            MailboxTarget::Multidrop { unknown_user, .. } => {
                if let Some(u) = unknown_user {
                    self.user(u)?;
                }
            }
        }
        Ok(())
    }

    /// Whether the bytes with this hash are durable in an open store, read back and checked.
    pub(crate) fn content_verified(&self, hash: &arkiv_types::ContentHash) -> Result<bool> {
        for s in self.open_stores() {
            if s.verify_content(hash)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

pub(crate) fn describe_mailbox(job: &MailboxJob) -> Result<String> {
    let cred = match &job.credentials {
        Credentials::Plain {
            authzid: Some(a),
            user,
            ..
        } => format!("{a} (as {user})"),
        c => c.user().to_string(),
    };
    Ok(format!(
        "{cred}@{}:{} ({}, {})",
        job.server.host,
        job.server.port()?,
        job.server.protocol.as_str(),
        job.server.security()?
    ))
}
