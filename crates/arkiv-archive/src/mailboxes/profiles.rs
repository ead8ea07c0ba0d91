//! Archiving profiles (manual §2.3, §2.7–2.9; SPEC A9): what to archive from which server
//! into which archive, kept in the master database with the password sealed by the master
//! key, run on request, by a job, or automatically; every run leaves a worker result.
//!
//! A profile's `properties` are the JSON of `CreateProfile` / `GetProfiles` (the manual
//! leaves them to the implementation; `GetProfiles` never returns the password):
//!
//! ```json
//! { "name": "Alice", "type": "imap", "host": "mail.example.com", "port": 993,
//!   "security": "tls", "ignoreCertificate": false, "fingerprint": "", "caFile": "",
//!   "timeoutSeconds": 300, "userName": "alice@example.com", "password": "…",
//!   "targetUser": "alice", "targetFolder": "alice@example.com",
//!   "folders": { "include": [], "exclude": [], "defaultExclusions": true,
//!                "sentFolders": [], "detectSent": true },
//!   "filters": { "archiveUnread": true, "olderThan": { "amount": 1, "unit": "months" } },
//!   "deletion": { "rule": "afterArchived", "amount": 30, "unit": "days" },
//!   "automatic": { "waitSeconds": 300, "notBetween": { "from": "22:00", "to": "06:00" } } }
//! ```
//!
//! Types: `imap`, `pop3` (one mailbox into `targetUser`), `imapMultidrop`, `pop3Multidrop`
//! (a catch-all mailbox: `sentFolder`, `receivedFolder`, `unknownUser`),
//! `imapMasterPassword` (`userName` is the master user; the mailboxes are the users with an
//! e-mail address, `mailboxes: {"mode": "all" | "allExcept" | "only", "users": [...]}`, each
//! into its own archive, `concurrency` at once, default 5, at most 25) and `imapCsv`
//! (`csvFile`: the manual's CSV file; archive users are created when missing).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use arkiv_mailclient::Credentials;
use arkiv_types::{Timestamp, UserId};
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{
    Deletion, Filters, FolderScope, MailboxJob, MailboxProgress, MailboxReport, MailboxTarget,
    Protocol, ServerSettings,
};
use crate::access::{Caller, Privilege};
use crate::error::{ArchiveError, Result, invalid};
use crate::ingest::ImportFailure;
use crate::master::Archive;

pub(crate) const PROFILES: TableDefinition<u64, &[u8]> = TableDefinition::new("archiving_profiles");
/// (profile id, start seconds, sequence) → sealed [`WorkerResult`].
pub(crate) const WORKER_RESULTS: TableDefinition<(u64, i64, u64), &[u8]> =
    TableDefinition::new("worker_results");

/// Results kept per profile (the oldest go first).
const RESULTS_KEPT: usize = 2000;
/// A result's debug log is cut at this many bytes.
const LOG_BYTES: usize = 128 * 1024;
pub const MAX_CONCURRENCY: u32 = 25;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProfileType {
    #[default]
    Imap,
    Pop3,
    ImapMultidrop,
    Pop3Multidrop,
    ImapMasterPassword,
    ImapCsv,
}

impl ProfileType {
    fn protocol(self) -> Protocol {
        match self {
            ProfileType::Pop3 | ProfileType::Pop3Multidrop => Protocol::Pop3,
            _ => Protocol::Imap,
        }
    }

    /// Types that write into other users' archives (administrators only).
    fn many_archives(self) -> bool {
        !matches!(self, ProfileType::Imap | ProfileType::Pop3)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MailboxMode {
    #[default]
    All,
    AllExcept,
    Only,
}

/// Which users' mailboxes a master-password profile archives.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MailboxSelection {
    pub mode: MailboxMode,
    pub users: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuietWindow {
    /// `HH:MM`, server time.
    pub from: String,
    pub to: String,
}

/// "Automatic execution": run again `wait_seconds` after the last run ended, except in the
/// quiet window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Automatic {
    pub wait_seconds: u64,
    #[serde(default)]
    pub not_between: Option<QuietWindow>,
}

fn default_concurrency() -> u32 {
    5
}

/// A profile's settings (the `properties` JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProfileProperties {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ProfileType,
    #[serde(flatten)]
    pub server: ServerSettings,
    /// The mailbox's user name (the master user's for `imapMasterPassword`).
    pub user_name: String,
    /// Write-only: never returned.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    pub csv_file: String,
    pub mailboxes: MailboxSelection,
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    pub target_user: String,
    /// Top folder in the archive (default: the mailbox name).
    pub target_folder: String,
    pub sent_folder: String,
    pub received_folder: String,
    pub unknown_user: Option<String>,
    pub folders: FolderScope,
    pub filters: Filters,
    pub deletion: Deletion,
    pub automatic: Option<Automatic>,
}

impl Default for ProfileProperties {
    fn default() -> Self {
        ProfileProperties {
            name: String::new(),
            kind: ProfileType::Imap,
            server: ServerSettings::default(),
            user_name: String::new(),
            password: String::new(),
            csv_file: String::new(),
            mailboxes: MailboxSelection::default(),
            concurrency: 5,
            target_user: String::new(),
            target_folder: String::new(),
            sent_folder: "Sent".into(),
            received_folder: "Received".into(),
            unknown_user: None,
            folders: FolderScope::default(),
            filters: Filters::default(),
            deletion: Deletion::Never,
            automatic: None,
        }
    }
}

impl ProfileProperties {
    /// The protocol its type reads.
    pub fn kind_protocol(&self) -> Protocol {
        self.kind.protocol()
    }
}

/// A stored profile.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub id: u64,
    /// Grows with every change.
    pub version: u64,
    pub owner_id: UserId,
    pub created: i64,
    pub properties: ProfileProperties,
    pub last_started: Option<i64>,
    pub last_finished: Option<i64>,
    pub last_result: Option<String>,
}

impl Profile {
    /// When automatic execution runs it next (`None`: not automatic).
    pub fn next_run(&self, now: i64) -> Option<i64> {
        let a = self.properties.automatic.as_ref()?;
        let due = self
            .last_finished
            .map(|t| t + a.wait_seconds as i64)
            .unwrap_or(now)
            .max(self.last_started.unwrap_or(0));
        Some(match &a.not_between {
            Some(w) => quiet_end(w, due).unwrap_or(due),
            None => due,
        })
    }
}

fn hm(s: &str) -> Option<jiff::civil::Time> {
    s.trim().parse::<jiff::civil::Time>().ok()
}

/// If `at` falls in the quiet window, the window's end; else `None`.
fn quiet_end(w: &QuietWindow, at: i64) -> Option<i64> {
    let (from, to) = (hm(&w.from)?, hm(&w.to)?);
    let tz = jiff::tz::TimeZone::system();
    let z = jiff::Timestamp::from_second(at)
        .ok()?
        .to_zoned_datetime(tz.clone());
    let t = z.time();
    let inside = if from <= to {
        t >= from && t < to
    } else {
        t >= from || t < to
    };
    if !inside {
        return None;
    }
    let mut end_day = z.date();
    if from > to && t >= from {
        end_day = end_day.tomorrow().ok()?;
    }
    let end = tz
        .to_ambiguous_zoned_datetime(end_day.to_datetime(to))
        .compatible()
        .ok()?;
    Some(end.timestamp().as_second())
}

/// The summary of one mailbox in a worker result.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxSummary {
    pub mailbox: String,
    pub archived: u64,
    pub already_archived: u64,
    pub moved: u64,
    pub skipped: u64,
    pub failed: u64,
    pub deleted: u64,
    pub vanished: u64,
    pub waiting: u64,
    pub error: Option<String>,
}

/// One run of a profile (`GetWorkerResults`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerResult {
    pub profile_id: u64,
    pub profile_name: String,
    /// Who ran it (the owner for automatic runs).
    pub user_name: String,
    pub started: i64,
    pub finished: i64,
    /// `succeeded`, `completedWithErrors` (some messages or mailboxes failed), `failed`
    /// (nothing could be done) or `cancelled`.
    pub result: String,
    pub archived: u64,
    pub already_archived: u64,
    pub moved: u64,
    pub skipped: u64,
    pub failed: u64,
    pub deleted: u64,
    pub vanished: u64,
    pub mailboxes: Vec<MailboxSummary>,
    /// The first failures, with their reasons.
    pub failures: Vec<ImportFailure>,
    pub error: Option<String>,
    /// The debug log.
    pub log: String,
}

impl Archive {
    pub fn profiles(&self) -> Result<Vec<Profile>> {
        let t = self.read_txn()?;
        let Some(table) = self.optional_table(&t, PROFILES)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for r in table.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            out.push(self.open_sealed_json::<Profile>(
                "archiving_profiles",
                k.value(),
                v.value(),
            )?);
        }
        Ok(out)
    }

    pub fn profile(&self, id: u64) -> Result<Profile> {
        self.profiles()?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| invalid("profile", format!("there is no archiving profile #{id}")))
    }

    fn put_profile(&self, p: &Profile) -> Result<()> {
        let sealed = self.seal_json("archiving_profiles", p.id, p)?;
        let txn = self.write_txn()?;
        txn.open_table(PROFILES)
            .map_err(|e| self.dberr(e))?
            .insert(p.id, sealed.as_slice())
            .map_err(|e| self.dberr(e))?;
        txn.commit().map_err(|e| self.dberr(e))
    }

    /// Checks a profile's settings and the caller's right to own them.
    fn check_profile(&self, caller: &Caller, owner: UserId, p: &ProfileProperties) -> Result<()> {
        self.may_manage_profile(caller, owner, p)?;
        if p.name.trim().is_empty() || p.name.chars().any(char::is_control) {
            return Err(invalid(
                "profile name",
                "a name without control characters is needed",
            ));
        }
        let mut server = p.server.clone();
        server.protocol = p.kind.protocol();
        server.endpoint()?;
        super::scope::Scope::new(&p.folders)?;
        if let Some(f) = &p.filters.older_than {
            f.cutoff(0)?;
        }
        if !(1..=MAX_CONCURRENCY).contains(&p.concurrency) {
            return Err(invalid(
                "concurrency",
                format!(
                    "{}: between 1 and {MAX_CONCURRENCY} mailboxes at once",
                    p.concurrency
                ),
            ));
        }
        if let Some(a) = &p.automatic {
            if a.wait_seconds < 10 {
                return Err(invalid("automatic", "waitSeconds must be at least 10"));
            }
            if let Some(w) = &a.not_between
                && (hm(&w.from).is_none() || hm(&w.to).is_none())
            {
                return Err(invalid(
                    "automatic",
                    "notBetween needs from and to as HH:MM",
                ));
            }
        }
        match p.kind {
            ProfileType::Imap | ProfileType::Pop3 => {
                self.user(&p.target_user)?;
                if p.user_name.trim().is_empty() {
                    return Err(invalid("userName", "the mailbox's user name is needed"));
                }
            }
            ProfileType::ImapMultidrop | ProfileType::Pop3Multidrop => {
                if let Some(u) = &p.unknown_user {
                    self.user(u)?;
                }
                if p.user_name.trim().is_empty() {
                    return Err(invalid("userName", "the mailbox's user name is needed"));
                }
            }
            ProfileType::ImapMasterPassword => {
                if p.user_name.trim().is_empty() {
                    return Err(invalid("userName", "the master user's name is needed"));
                }
                for u in &p.mailboxes.users {
                    self.user(u)?;
                }
            }
            ProfileType::ImapCsv => {
                if p.csv_file.trim().is_empty() {
                    return Err(invalid("csvFile", "the CSV file's path is needed"));
                }
            }
        }
        Ok(())
    }

    /// Checks a profile that is run without being stored (`RunTemporaryProfile`): the same
    /// rules as for one the caller owns.
    pub fn check_temporary_profile(
        &self,
        caller: &Caller,
        owner: UserId,
        p: &ProfileProperties,
    ) -> Result<()> {
        if p.password.is_empty() && p.kind != ProfileType::ImapCsv {
            return Err(invalid("password", "the mailbox's password is needed"));
        }
        self.check_profile(caller, owner, p)
    }

    /// Rule 9 of the access core, for profiles: a user manages their own profiles with
    /// `modifyArchiveProfiles`, archiving only into their own archive; profiles that write
    /// into other archives (another target, multidrop, master password, CSV) and other users'
    /// profiles are administrators' (manual §2.3 "Managing and Executing the Archiving
    /// Profiles of Other Users").
    fn may_manage_profile(
        &self,
        caller: &Caller,
        owner: UserId,
        p: &ProfileProperties,
    ) -> Result<()> {
        if caller.is_admin() {
            return Ok(());
        }
        caller.require(Privilege::ModifyArchiveProfiles)?;
        self.may_target(caller, owner, p)
    }

    fn may_target(&self, caller: &Caller, owner: UserId, p: &ProfileProperties) -> Result<()> {
        if caller.is_admin() {
            return Ok(());
        }
        if caller.user_id() != Some(owner) {
            return Err(ArchiveError::Denied(format!(
                "'{}' may only manage and run their own archiving profiles",
                caller.name()
            )));
        }
        if p.kind.many_archives() || !crate::users::same_name(&p.target_user, caller.name()) {
            return Err(ArchiveError::Denied(format!(
                "'{}' may only archive into their own archive (only administrators archive for others)",
                caller.name()
            )));
        }
        Ok(())
    }

    /// Whether the caller may run the profile: administrators any, a user their own with
    /// `archive` and into their own archive.
    pub fn may_run_profile(&self, caller: &Caller, p: &Profile) -> Result<()> {
        if caller.is_admin() {
            return Ok(());
        }
        caller.require(Privilege::Archive)?;
        self.may_target(caller, p.owner_id, &p.properties)
    }

    /// Whether the caller may see the profile (its owner, or an administrator).
    pub fn may_see_profile(&self, caller: &Caller, p: &Profile) -> bool {
        caller.is_admin() || caller.user_id() == Some(p.owner_id)
    }

    /// Creates a profile owned by `owner` (default: the caller).
    pub fn create_profile(
        &self,
        caller: &Caller,
        owner: Option<&str>,
        props: ProfileProperties,
    ) -> Result<Profile> {
        let owner_id = match owner {
            Some(o) => self.user(o)?.id,
            None => caller
                .user_id()
                .map_or_else(|| self.user("admin").map(|u| u.id), Ok)?,
        };
        let mut props = props;
        props.server.protocol = props.kind.protocol();
        self.check_temporary_profile(caller, owner_id, &props)?;
        let txn = self.write_txn()?;
        let id = self.next_id(&txn, "next_profile")?;
        txn.commit().map_err(|e| self.dberr(e))?;
        let p = Profile {
            id,
            version: 1,
            owner_id,
            created: Timestamp::now().0,
            properties: props,
            last_started: None,
            last_finished: None,
            last_result: None,
        };
        self.put_profile(&p)?;
        Ok(p)
    }

    /// Replaces a profile's settings; an empty password keeps the stored one.
    pub fn update_profile(
        &self,
        caller: &Caller,
        id: u64,
        mut props: ProfileProperties,
        owner: Option<&str>,
    ) -> Result<Profile> {
        let mut p = self.profile(id)?;
        self.may_manage_profile(caller, p.owner_id, &p.properties)?;
        if let Some(o) = owner {
            caller.require_admin()?;
            p.owner_id = self.user(o)?.id;
        }
        if props.password.is_empty() {
            props.password = p.properties.password.clone();
        }
        props.server.protocol = props.kind.protocol();
        self.check_profile(caller, p.owner_id, &props)?;
        p.properties = props;
        p.version += 1;
        self.put_profile(&p)?;
        Ok(p)
    }

    pub fn delete_profile(&self, caller: &Caller, id: u64) -> Result<()> {
        let p = self.profile(id)?;
        self.may_manage_profile(caller, p.owner_id, &p.properties)?;
        let txn = self.write_txn()?;
        txn.open_table(PROFILES)
            .map_err(|e| self.dberr(e))?
            .remove(id)
            .map_err(|e| self.dberr(e))?;
        txn.commit().map_err(|e| self.dberr(e))
    }

    /// The mailboxes a profile archives, as jobs (master password: the selected users with
    /// an address; CSV: the file's rows, their archive users created when missing).
    pub fn profile_jobs(&self, p: &ProfileProperties, index: bool) -> Result<Vec<MailboxJob>> {
        let mut server = p.server.clone();
        server.protocol = p.kind.protocol();
        let job = |credentials: Credentials, target: MailboxTarget| MailboxJob {
            server: server.clone(),
            credentials,
            target,
            scope: p.folders.clone(),
            filters: p.filters.clone(),
            deletion: p.deletion,
            index,
            workers: 0,
        };
        let top = |default: &str| {
            if p.target_folder.trim().is_empty() {
                default.to_string()
            } else {
                p.target_folder.clone()
            }
        };
        let login = || Credentials::Login {
            user: p.user_name.clone(),
            password: p.password.clone(),
        };
        Ok(match p.kind {
            ProfileType::Imap | ProfileType::Pop3 => vec![job(
                login(),
                MailboxTarget::Single {
                    user: p.target_user.clone(),
                    folder: top(&p.user_name),
                },
            )],
            ProfileType::ImapMultidrop | ProfileType::Pop3Multidrop => vec![job(
                login(),
                MailboxTarget::Multidrop {
                    sent_folder: p.sent_folder.clone(),
                    received_folder: p.received_folder.clone(),
                    unknown_user: p.unknown_user.clone(),
                    folder: top(&p.user_name),
                },
            )],
            ProfileType::ImapMasterPassword => {
                let listed = |name: &str| {
                    p.mailboxes
                        .users
                        .iter()
                        .any(|u| crate::users::same_name(u, name))
                };
                let mut out = Vec::new();
                for u in self.users()? {
                    let Some(address) = u.emails.first() else {
                        continue;
                    };
                    let wanted = match p.mailboxes.mode {
                        MailboxMode::All => true,
                        MailboxMode::AllExcept => !listed(&u.name),
                        MailboxMode::Only => listed(&u.name),
                    };
                    if wanted {
                        out.push(job(
                            Credentials::Plain {
                                authzid: Some(address.clone()),
                                user: p.user_name.clone(),
                                password: p.password.clone(),
                            },
                            MailboxTarget::Single {
                                user: u.name.clone(),
                                folder: top(address),
                            },
                        ));
                    }
                }
                out
            }
            ProfileType::ImapCsv => {
                let text = std::fs::read_to_string(&p.csv_file)
                    .map_err(|e| crate::error::io_err(std::path::Path::new(&p.csv_file), e))?;
                let mut out = Vec::new();
                for row in super::csv::parse(&text)? {
                    let user = row
                        .archive_user
                        .clone()
                        .unwrap_or_else(|| row.login.clone());
                    if self.user(&user).is_err() {
                        self.add_user(crate::users::NewUser {
                            name: user.clone(),
                            emails: row.email.iter().cloned().collect(),
                            privileges: crate::access::Privileges::of(&[
                                Privilege::Login,
                                Privilege::ChangePassword,
                            ]),
                            ..Default::default()
                        })?;
                    }
                    out.push(job(
                        Credentials::Login {
                            user: row.login.clone(),
                            password: row.password.clone(),
                        },
                        MailboxTarget::Single {
                            user,
                            folder: top(row.email.as_deref().unwrap_or(&row.login)),
                        },
                    ));
                }
                out
            }
        })
    }

    /// Runs a profile's mailboxes (`concurrency` at once) and records the worker result.
    /// `id` 0: a temporary profile (`RunTemporaryProfile`), recorded under 0.
    pub fn run_profile(
        &self,
        id: u64,
        props: &ProfileProperties,
        runner: &str,
        progress: &(dyn Fn(&str, Option<u8>) + Sync),
        cancel: &AtomicBool,
    ) -> Result<WorkerResult> {
        let started = Timestamp::now().0;
        if id != 0
            && let Ok(mut p) = self.profile(id)
        {
            p.last_started = Some(started);
            self.put_profile(&p)?;
        }
        let mut result = WorkerResult {
            profile_id: id,
            profile_name: props.name.clone(),
            user_name: runner.to_string(),
            started,
            ..Default::default()
        };
        let jobs = match self.profile_jobs(props, true) {
            Ok(j) => j,
            Err(e) => {
                result.result = "failed".into();
                result.error = Some(e.to_string());
                result.finished = Timestamp::now().0;
                self.finish_profile_run(id, &result)?;
                return Ok(result);
            }
        };
        let total = jobs.len();
        let queue = Mutex::new(jobs.into_iter().enumerate().collect::<VecDeque<_>>());
        let done = Mutex::new(Vec::<(usize, std::result::Result<MailboxReport, String>)>::new());
        let workers = (props.concurrency.clamp(1, MAX_CONCURRENCY) as usize).min(total.max(1));
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        if cancel.load(Ordering::Relaxed) {
                            return;
                        }
                        let Some((i, job)) =
                            queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
                        else {
                            return;
                        };
                        let name = super::describe_mailbox(&job).unwrap_or_default();
                        progress(&format!("archiving {name}"), None);
                        let r = self
                            .archive_mailbox(&job, &mut |_: &MailboxProgress| {}, cancel)
                            .map_err(|e| format!("{name}: {e}"));
                        let mut d = done.lock().unwrap_or_else(|p| p.into_inner());
                        d.push((i, r));
                        let pct = (d.len() * 100 / total.max(1)) as u8;
                        let line = match &d.last().expect("just pushed").1 {
                            Ok(r) => format!(
                                "{name}: {} archived, {} known, {} failed{}",
                                r.import.archived,
                                r.import.already_archived,
                                r.import.failed.len(),
                                r.error
                                    .as_ref()
                                    .map(|e| format!(", stopped: {e}"))
                                    .unwrap_or_default()
                            ),
                            Err(e) => e.clone(),
                        };
                        drop(d);
                        progress(&line, Some(pct));
                    }
                });
            }
        });
        let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
        done.sort_by_key(|(i, _)| *i);
        let mut log = String::new();
        let mut errors = 0;
        for (_, r) in done {
            match r {
                Ok(r) => {
                    let waiting: u64 = r
                        .folders
                        .iter()
                        .map(|f| f.waiting_unread + f.waiting_age)
                        .sum();
                    let vanished: u64 = r.folders.iter().map(|f| f.vanished).sum();
                    result.archived += r.import.archived;
                    result.already_archived += r.import.already_archived;
                    result.moved += r.import.moved;
                    result.skipped += r.import.skipped;
                    result.failed += r.import.failed.len() as u64;
                    result.deleted += r.deleted;
                    result.vanished += vanished;
                    if r.error.is_some() || r.folders.iter().any(|f| f.error.is_some()) {
                        errors += 1;
                    }
                    for f in r.import.failed.iter() {
                        if result.failures.len() < 100 {
                            result.failures.push(ImportFailure {
                                origin: format!("{}: {}", r.mailbox, f.origin),
                                reason: f.reason.clone(),
                            });
                        }
                    }
                    if log.len() < LOG_BYTES {
                        log.push_str(&format!("== {}\n", r.mailbox));
                        for l in &r.log {
                            log.push_str(l);
                            log.push('\n');
                        }
                    }
                    result.mailboxes.push(MailboxSummary {
                        mailbox: r.mailbox.clone(),
                        archived: r.import.archived,
                        already_archived: r.import.already_archived,
                        moved: r.import.moved,
                        skipped: r.import.skipped,
                        failed: r.import.failed.len() as u64,
                        deleted: r.deleted,
                        vanished,
                        waiting,
                        error: r.error.clone().or_else(|| {
                            r.folders
                                .iter()
                                .find_map(|f| f.error.as_ref().map(|e| format!("{}: {e}", f.name)))
                        }),
                    });
                }
                Err(e) => {
                    errors += 1;
                    log.push_str(&format!("== {e}\n"));
                    result.mailboxes.push(MailboxSummary {
                        mailbox: e.split(": ").next().unwrap_or("").to_string(),
                        error: Some(e),
                        ..Default::default()
                    });
                }
            }
        }
        if log.len() > LOG_BYTES {
            let mut cut = LOG_BYTES;
            while !log.is_char_boundary(cut) {
                cut -= 1;
            }
            log.truncate(cut);
            log.push_str("\n(log cut)\n");
        }
        result.log = log;
        result.finished = Timestamp::now().0;
        result.result = if cancel.load(Ordering::Relaxed) {
            "cancelled"
        } else if total > 0 && errors == total {
            "failed"
        } else if errors > 0 || result.failed > 0 {
            "completedWithErrors"
        } else {
            "succeeded"
        }
        .into();
        if total > 0 && errors == total {
            result.error = result.mailboxes.iter().find_map(|m| m.error.clone());
        }
        self.finish_profile_run(id, &result)?;
        Ok(result)
    }

    fn finish_profile_run(&self, id: u64, r: &WorkerResult) -> Result<()> {
        let txn = self.write_txn()?;
        let seq = self.next_id(&txn, "next_worker_result")?;
        let sealed = self.seal_json("worker_results", seq, r)?;
        {
            let mut t = txn.open_table(WORKER_RESULTS).map_err(|e| self.dberr(e))?;
            t.insert((id, r.started, seq), sealed.as_slice())
                .map_err(|e| self.dberr(e))?;
            // Keep the newest results of the profile.
            let keys: Vec<(u64, i64, u64)> = t
                .range((id, i64::MIN, 0)..=(id, i64::MAX, u64::MAX))
                .map_err(|e| self.dberr(e))?
                .filter_map(|r| r.ok().map(|(k, _)| k.value()))
                .collect();
            if keys.len() > RESULTS_KEPT {
                for k in &keys[..keys.len() - RESULTS_KEPT] {
                    t.remove(*k).map_err(|e| self.dberr(e))?;
                }
            }
        }
        txn.commit().map_err(|e| self.dberr(e))?;
        if id != 0
            && let Ok(mut p) = self.profile(id)
        {
            p.last_finished = Some(r.finished);
            p.last_result = Some(r.result.clone());
            self.put_profile(&p)?;
        }
        Ok(())
    }

    /// Runs that started in [from, to), of one profile or all, of one user's profiles or all;
    /// oldest first.
    pub fn worker_results(
        &self,
        from: i64,
        to: i64,
        profile: Option<u64>,
        user: Option<&str>,
    ) -> Result<Vec<WorkerResult>> {
        let t = self.read_txn()?;
        let Some(table) = self.optional_table(&t, WORKER_RESULTS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for r in table.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let (id, started, seq) = k.value();
            if profile.is_some_and(|p| p != id) || started < from || started >= to {
                continue;
            }
            let w: WorkerResult = self.open_sealed_json("worker_results", seq, v.value())?;
            if user.is_some_and(|u| !crate::users::same_name(u, &w.user_name)) {
                continue;
            }
            out.push(w);
        }
        out.sort_by_key(|r| r.started);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_json_round_trips_without_the_password() {
        let json = r#"{"name":"Alice","type":"imap","host":"mail.example.com","port":993,
            "security":"tls","userName":"alice","password":"s3cret","targetUser":"alice",
            "filters":{"archiveUnread":false,"olderThan":{"amount":1,"unit":"months"}},
            "deletion":{"rule":"afterArchived","amount":30,"unit":"days"},
            "automatic":{"waitSeconds":300,"notBetween":{"from":"22:00","to":"06:00"}}}"#;
        let mut p: ProfileProperties = serde_json::from_str(json).unwrap();
        assert_eq!(p.server.host, "mail.example.com");
        assert_eq!(
            p.deletion,
            Deletion::AfterArchived {
                amount: 30,
                unit: super::super::PeriodUnit::Days
            }
        );
        assert!(!p.filters.archive_unread);
        p.password.clear();
        let back = serde_json::to_value(&p).unwrap();
        assert!(back.get("password").is_none());
        assert_eq!(back["type"], "imap");
        assert_eq!(back["host"], "mail.example.com");
    }

    #[test]
    fn quiet_windows() {
        let w = QuietWindow {
            from: "22:00".into(),
            to: "06:00".into(),
        };
        let tz = jiff::tz::TimeZone::system();
        let at = |s: &str| {
            tz.to_ambiguous_zoned_datetime(s.parse::<jiff::civil::DateTime>().unwrap())
                .compatible()
                .unwrap()
                .timestamp()
                .as_second()
        };
        assert_eq!(quiet_end(&w, at("2026-12-02T12:00")), None);
        assert_eq!(
            quiet_end(&w, at("2026-12-02T23:00")),
            Some(at("2026-12-03T06:00"))
        );
        assert_eq!(
            quiet_end(&w, at("2026-12-03T05:00")),
            Some(at("2026-12-03T06:00"))
        );
        let day = QuietWindow {
            from: "09:00".into(),
            to: "17:00".into(),
        };
        assert_eq!(
            quiet_end(&day, at("2026-12-02T10:00")),
            Some(at("2026-12-02T17:00"))
        );
        assert_eq!(quiet_end(&day, at("2026-12-02T18:00")), None);
    }
}
