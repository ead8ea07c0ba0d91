//! `arkiv import imap|pop3`: a one-off run of one mailbox, with the same exit codes and
//! `--json` report style as the file import.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use arkiv_archive::Archive;
use arkiv_archive::mailboxes::{
    AgeFilter, ConnectionTest, Deletion, Filters, FolderRule, FolderScope, MailboxJob, MailboxPlan,
    MailboxReport, MailboxTarget, Period, PeriodUnit, Protocol, ServerSettings,
};
use arkiv_mailclient::Credentials;

use crate::cli::ServerImportArgs;
use crate::output::{byte_bar, bytes, print_json};

/// `30d`, `8w`, `6m`, `2y`.
pub fn parse_period(s: &str) -> Result<Period> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let amount: u32 = num
        .parse()
        .with_context(|| format!("'{s}': a period is a number and d, w, m or y (30d, 6m)"))?;
    let unit = match unit.trim().to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => PeriodUnit::Days,
        "w" | "week" | "weeks" => PeriodUnit::Weeks,
        "m" | "month" | "months" => PeriodUnit::Months,
        "y" | "year" | "years" => PeriodUnit::Years,
        _ => bail!("'{s}': a period is a number and d, w, m or y (30d, 6m)"),
    };
    Ok(Period { amount, unit })
}

pub fn parse_deletion(s: &str) -> Result<Deletion> {
    let s = s.trim();
    Ok(match s {
        "never" => Deletion::Never,
        "immediately" => Deletion::Immediately,
        _ => match s.split_once(':') {
            Some(("after", p)) => {
                let p = parse_period(p)?;
                Deletion::AfterArchived {
                    amount: p.amount,
                    unit: p.unit,
                }
            }
            Some(("older", p)) => {
                let p = parse_period(p)?;
                Deletion::OlderThan {
                    amount: p.amount,
                    unit: p.unit,
                }
            }
            _ => bail!(
                "--delete '{s}': use never, immediately, after:PERIOD or older:PERIOD (e.g. after:30d)"
            ),
        },
    })
}

pub fn parse_age(s: &str) -> Result<AgeFilter> {
    if s.contains('-') {
        let f = AgeFilter::Date {
            date: s.trim().to_string(),
            utc: true,
        };
        f.cutoff(0)
            .map_err(|e| anyhow::anyhow!("--older-than: {e}"))?;
        Ok(f)
    } else {
        Ok(AgeFilter::Range(parse_period(s)?))
    }
}

/// The source password: ARKIV_SOURCE_PASSWORD, or asked for on a terminal.
pub(crate) fn source_password(what: &str) -> Result<String> {
    if let Ok(p) = std::env::var("ARKIV_SOURCE_PASSWORD") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no password for {what}: set ARKIV_SOURCE_PASSWORD (or run on a terminal to be asked)"
        );
    }
    Ok(rpassword::prompt_password(format!(
        "Password for {what}: "
    ))?)
}

fn rules(names: &[String]) -> Vec<FolderRule> {
    names
        .iter()
        .map(|n| FolderRule {
            name: n.clone(),
            subfolders: true,
        })
        .collect()
}

pub fn run(archive: &Archive, protocol: Protocol, a: ServerImportArgs) -> Result<ExitCode> {
    let server = ServerSettings {
        protocol,
        host: a.host.clone(),
        port: a.port.unwrap_or(0),
        security: a.security.clone(),
        ignore_certificate: a.ignore_certificate,
        fingerprint: a.fingerprint.clone().unwrap_or_default(),
        ca_file: a
            .ca_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        timeout_seconds: a.timeout,
    };
    let scope = FolderScope {
        include: rules(&a.include),
        exclude: rules(&a.exclude),
        default_exclusions: !a.no_default_exclusions,
        sent_folders: rules(&a.sent_items),
        detect_sent: true,
    };
    let filters = Filters {
        archive_unread: !a.skip_unread,
        older_than: a.older_than.as_deref().map(parse_age).transpose()?,
    };
    let deletion = parse_deletion(&a.delete)?;
    if a.csv.is_some() || (a.master_user.is_some() && a.login.is_none()) {
        return many(archive, &a, server, scope, filters, deletion);
    }
    let login = a.login.clone().expect("clap requires --login here");
    let who = a.master_user.as_deref().unwrap_or(&login);
    let password = source_password(&format!("{who} at {}", a.host))?;
    let credentials = match &a.master_user {
        Some(m) => Credentials::Plain {
            authzid: Some(login.clone()),
            user: m.clone(),
            password,
        },
        None => Credentials::Login {
            user: login.clone(),
            password,
        },
    };
    if a.test {
        let t = archive.test_mailbox(&server, &credentials, &scope)?;
        if a.json {
            print_json(&t)?;
        } else {
            print_test(&t);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let folder = a.folder.clone().unwrap_or_else(|| login.clone());
    let target = if a.multi_user {
        MailboxTarget::Multidrop {
            sent_folder: a.sent_folder.clone(),
            received_folder: a.received_folder.clone(),
            unknown_user: a.unknown_user.clone(),
            folder,
        }
    } else {
        MailboxTarget::Single {
            user: a.user.clone().expect("clap requires --user"),
            folder,
        }
    };
    let job = MailboxJob {
        server,
        credentials,
        target,
        scope,
        filters,
        deletion,
        index: !a.no_wait,
        workers: a.workers.unwrap_or(0),
    };
    if a.dry_run {
        let p = archive.plan_mailbox(&job)?;
        if a.json {
            print_json(&p)?;
        } else {
            print_plan(&p);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let cancel = AtomicBool::new(false);
    let bar = byte_bar(0, "archiving");
    let report = archive.archive_mailbox(
        &job,
        &mut |p| {
            bar.set_length(p.planned_bytes);
            bar.set_position(p.import.input_bytes);
            bar.set_message(format!(
                "{}/{} messages, {} new",
                p.import.messages, p.planned, p.import.archived
            ));
        },
        &cancel,
    )?;
    bar.finish_and_clear();
    if a.json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

pub fn print_test(t: &ConnectionTest) {
    println!(
        "Connected to {} ({})",
        t.server,
        if t.tls { "TLS" } else { "NOT encrypted" }
    );
    println!("  capabilities: {}", t.capabilities.join(" "));
    if let Some(n) = t.messages {
        println!("  messages:     {n}");
    }
    for f in &t.folders {
        let mark = if f.archived { "archive" } else { "skip   " };
        let sent = if f.sent { " [sent]" } else { "" };
        let why = if f.reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", f.reason)
        };
        println!("  {mark} {}{sent}{why}", f.name);
    }
}

fn print_plan(p: &MailboxPlan) {
    println!("Dry run of {} (nothing is changed)", p.mailbox);
    for f in &p.folders {
        if !f.archived {
            println!("  skip    {} ({})", f.name, f.reason);
            continue;
        }
        let sent = if f.sent { " [sent]" } else { "" };
        println!(
            "  archive {}{sent}: {} on the server, {} to archive, {} waiting, {} to delete",
            f.name,
            f.on_server.unwrap_or(0),
            f.to_archive.unwrap_or(0),
            f.waiting.unwrap_or(0),
            f.to_delete.unwrap_or(0)
        );
    }
    println!(
        "  total: {} messages ({}) to archive, {} to delete afterwards",
        p.to_archive,
        bytes(p.to_archive_bytes),
        p.to_delete
    );
}

pub fn print_report(r: &MailboxReport) {
    println!("Archived {} in {:.1} s", r.mailbox, r.seconds);
    for f in &r.folders {
        let mut parts = vec![format!("{} on the server", f.on_server)];
        for (n, what) in [
            (f.archived, "new"),
            (f.already_archived, "known"),
            (f.moved, "moved"),
            (f.failed, "failed"),
            (f.waiting_unread, "unread, waiting"),
            (f.waiting_age, "too young, waiting"),
            (f.vanished, "deleted on the server meanwhile"),
            (f.deleted, "deleted on the server"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        let err = f
            .error
            .as_ref()
            .map(|e| format!(" — {e}"))
            .unwrap_or_default();
        println!("  {}: {}{err}", f.name, parts.join(", "));
    }
    if r.import.messages > 0 || !r.import.failed.is_empty() {
        super::import::print_summary(&r.import);
    }
    for k in r.deletion_kept.iter().take(20) {
        println!("  kept on the server: {}: {}", k.origin, k.reason);
    }
    if r.cancelled {
        println!("  CANCELLED: what was archived so far is kept; the next run goes on");
    }
    if let Some(e) = &r.error {
        println!("  STOPPED: {e}\n  (what was archived is kept; the next run goes on from there)");
    }
}

/// Many mailboxes at once: a master user for every (chosen) user with an address (A3), or
/// the rows of a CSV file (A4); run like a temporary profile.
fn many(
    archive: &Archive,
    a: &ServerImportArgs,
    server: ServerSettings,
    scope: FolderScope,
    filters: Filters,
    deletion: Deletion,
) -> Result<ExitCode> {
    use arkiv_archive::mailboxes::profiles::{
        MailboxMode, MailboxSelection, ProfileProperties, ProfileType,
    };
    if a.test || a.dry_run {
        bail!("--test and --dry-run take one mailbox: add --login");
    }
    let (kind, user_name, password, csv_file) = match (&a.csv, &a.master_user) {
        (Some(csv), _) => (
            ProfileType::ImapCsv,
            String::new(),
            String::new(),
            csv.display().to_string(),
        ),
        (None, Some(m)) => (
            ProfileType::ImapMasterPassword,
            m.clone(),
            source_password(&format!("{m} at {}", a.host))?,
            String::new(),
        ),
        (None, None) => unreachable!("checked by the caller"),
    };
    let mailboxes = if !a.only.is_empty() {
        MailboxSelection {
            mode: MailboxMode::Only,
            users: a.only.clone(),
        }
    } else if !a.except.is_empty() {
        MailboxSelection {
            mode: MailboxMode::AllExcept,
            users: a.except.clone(),
        }
    } else {
        MailboxSelection::default()
    };
    let props = ProfileProperties {
        name: format!("arkiv import {}", server.protocol.as_str()),
        kind,
        server,
        user_name,
        password,
        csv_file,
        mailboxes,
        concurrency: a.concurrency,
        target_folder: a.folder.clone().unwrap_or_default(),
        folders: scope,
        filters,
        deletion,
        ..Default::default()
    };
    archive.check_temporary_profile(
        &arkiv_archive::access::Caller::operator(),
        arkiv_types::UserId(0),
        &ProfileProperties {
            password: "-".into(),
            ..props.clone()
        },
    )?;
    let cancel = AtomicBool::new(false);
    let quiet = a.json;
    let progress = |line: &str, _: Option<u8>| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let r = archive.run_profile(0, &props, "operator", &progress, &cancel)?;
    if a.json {
        print_json(&r)?;
    } else {
        println!(
            "{}: {} mailboxes — {} archived, {} known, {} moved, {} failed, {} deleted on the server",
            r.result,
            r.mailboxes.len(),
            r.archived,
            r.already_archived,
            r.moved,
            r.failed,
            r.deleted
        );
        for m in &r.mailboxes {
            let err = m
                .error
                .as_ref()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default();
            println!(
                "  {}: {} archived, {} known, {} failed{err}",
                m.mailbox, m.archived, m.already_archived, m.failed
            );
        }
        for f in r.failures.iter().take(20) {
            println!("  failed: {}: {}", f.origin, f.reason);
        }
    }
    Ok(match r.result.as_str() {
        "succeeded" => ExitCode::SUCCESS,
        "failed" => ExitCode::from(1),
        _ => ExitCode::from(2),
    })
}
