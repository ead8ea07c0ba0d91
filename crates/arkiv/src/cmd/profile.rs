//! `arkiv profile`: archiving profiles on the command line (the local operator; the server's
//! `CreateProfile`, `RunProfile`, ... do the same over the Administration API).

use std::io::Read;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, anyhow};
use arkiv_archive::Archive;
use arkiv_archive::access::Caller;
use arkiv_archive::mailboxes::profiles::{Profile, ProfileType, WorkerResult};
use serde_json::{Value, json};

use crate::cli::ProfileCommand;
use crate::output::print_json;

fn when(t: Option<i64>) -> String {
    t.map(|s| arkiv_types::Timestamp(s).to_rfc3339())
        .unwrap_or_else(|| "-".into())
}

fn view(archive: &Archive, p: &Profile) -> Value {
    let mut props = p.properties.clone();
    let set = !props.password.is_empty();
    props.password.clear();
    let mut v = serde_json::to_value(&props).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(p.id));
        o.insert("version".into(), json!(p.version));
        o.insert(
            "owner".into(),
            json!(
                archive
                    .user_by_id(p.owner_id)
                    .map(|u| u.name)
                    .unwrap_or_default()
            ),
        );
        o.insert("passwordSet".into(), json!(set));
        o.insert("lastStarted".into(), json!(p.last_started));
        o.insert("lastFinished".into(), json!(p.last_finished));
        o.insert("lastResult".into(), json!(p.last_result));
    }
    v
}

pub fn run(archive: &Archive, c: ProfileCommand) -> Result<ExitCode> {
    let operator = Caller::operator();
    match c {
        ProfileCommand::Create { properties, owner } => {
            let mut text = String::new();
            if properties.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(&properties)
                    .with_context(|| format!("reading {}", properties.display()))?;
            }
            let (mut props, owner_in_json) =
                arkiv_server::functions::profiles::parse_properties(&text)
                    .map_err(|e| anyhow!("{}", e.message))?;
            if props.password.is_empty() && props.kind != ProfileType::ImapCsv {
                props.password = super::import_server::source_password(&format!(
                    "{} at {}",
                    props.user_name, props.server.host
                ))?;
            }
            let owner = owner.or(owner_in_json).unwrap_or_else(|| "admin".into());
            let p = archive.create_profile(&operator, Some(&owner), props)?;
            println!(
                "Created archiving profile #{} '{}' (owner {owner})",
                p.id, p.properties.name
            );
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::List { json } => {
            let list = archive.profiles()?;
            if json {
                print_json(&list.iter().map(|p| view(archive, p)).collect::<Vec<_>>())?;
            } else {
                for p in &list {
                    let auto = match &p.properties.automatic {
                        Some(a) => format!("automatic every {} s", a.wait_seconds),
                        None => "on request".into(),
                    };
                    println!(
                        "#{:<4} {:<24} {:<18} {}  {auto}, last run {} ({})",
                        p.id,
                        p.properties.name,
                        format!("{:?}", p.properties.kind),
                        p.properties.server.host,
                        when(p.last_finished),
                        p.last_result.as_deref().unwrap_or("never run")
                    );
                }
                if list.is_empty() {
                    println!("No archiving profiles yet (arkiv profile create --properties FILE).");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Show { id, json } => {
            let p = archive.profile(id)?;
            let v = view(archive, &p);
            if json {
                print_json(&v)?;
            } else {
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Run { id, json } => {
            let p = archive.profile(id)?;
            let cancel = AtomicBool::new(false);
            let quiet = json;
            let progress = |line: &str, _: Option<u8>| {
                if !quiet {
                    eprintln!("{line}");
                }
            };
            let r = archive.run_profile(id, &p.properties, "operator", &progress, &cancel)?;
            if json {
                print_json(&r)?;
            } else {
                print_result(&r, false);
            }
            Ok(match r.result.as_str() {
                "succeeded" => ExitCode::SUCCESS,
                "failed" => ExitCode::from(1),
                _ => ExitCode::from(2),
            })
        }
        ProfileCommand::Delete { id } => {
            archive.delete_profile(&operator, id)?;
            println!("Deleted archiving profile #{id} (the mail it archived stays).");
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Results {
            id,
            limit,
            log,
            json,
        } => {
            let mut all = archive.worker_results(i64::MIN, i64::MAX, id, None)?;
            all.reverse();
            all.truncate(limit);
            if json {
                print_json(&all)?;
            } else {
                for r in &all {
                    print_result(r, log);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_result(r: &WorkerResult, with_log: bool) {
    println!(
        "#{} '{}' run by {} at {}: {} ({} s) — {} archived, {} known, {} moved, {} failed, {} deleted on the server",
        r.profile_id,
        r.profile_name,
        r.user_name,
        arkiv_types::Timestamp(r.started).to_rfc3339(),
        r.result,
        r.finished - r.started,
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
            "    {}: {} archived, {} known, {} failed, {} waiting{err}",
            m.mailbox, m.archived, m.already_archived, m.failed, m.waiting
        );
    }
    for f in r.failures.iter().take(20) {
        println!("    failed: {}: {}", f.origin, f.reason);
    }
    if with_log {
        for l in r.log.lines() {
            println!("    | {l}");
        }
    }
}
