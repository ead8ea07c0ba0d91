//! init, recover, users, stores.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use arkiv_archive::users::{NewUser, UserView};
use arkiv_archive::{Archive, Config, InitOptions};
use arkiv_store::StoreDirs;
use arkiv_types::{StoreId, StoreStatus};

use crate::cli::{InitArgs, StoreCommand, UserCommand};
use crate::output::{bytes, print_json};

pub fn init(data: &Path, key_file: Option<&Path>, args: InitArgs) -> Result<ExitCode> {
    let password = match args.admin_password {
        Some(p) => p,
        None => prompt_new_password()?,
    };
    let mut config = Config::default();
    if let Some(n) = args.rollover_messages {
        if n == 0 {
            bail!("--rollover-messages must be at least 1");
        }
        config.storage.rollover_messages = n;
    }
    let (archive, outcome) = Archive::init(
        data,
        InitOptions {
            admin_password: password,
            config,
            key_file: key_file.map(Path::to_path_buf),
        },
    )?;
    let store = archive.current_store()?;
    if args.json {
        print_json(&serde_json::json!({
            "data_directory": data.display().to_string(),
            "key_file": outcome.key_file.display().to_string(),
            "recovery_key": outcome.recovery_key,
            "admin_user": "admin",
            "current_store": store.id().0,
        }))?;
    } else {
        println!("Created the Arkiv data directory {}", data.display());
        println!(
            "  key file:      {}  (back it up separately from the data)",
            outcome.key_file.display()
        );
        println!(
            "  archive store: {} in {}",
            store.id(),
            store.dirs().meta.display()
        );
        println!("  administrator: admin");
        println!();
        println!("Recovery key (shown only now; store it offline, e.g. printed in a safe):");
        println!();
        println!("    {}", outcome.recovery_key);
        println!();
        println!(
            "With it, `arkiv recover --recovery-key KEY` restores access if the key file is lost."
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn prompt_new_password() -> Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "no admin password given: use --admin-password or ARKIV_ADMIN_PASSWORD (no terminal to prompt on)"
        );
    }
    loop {
        let a = rpassword::prompt_password("Password for the administrator 'admin': ")?;
        if let Err(why) = arkiv_archive::policy::check_password("admin", &a) {
            eprintln!("That password does not meet the password policy: {why}.");
            continue;
        }
        let b = rpassword::prompt_password("Repeat the password: ")?;
        if a == b {
            return Ok(a);
        }
        eprintln!("The passwords differ; try again.");
    }
}

pub fn recover(
    data: &Path,
    key_file: Option<&Path>,
    recovery_key: &str,
    admin_password: Option<String>,
    stores: &[std::path::PathBuf],
    json: bool,
) -> Result<ExitCode> {
    let o = Archive::recover_installation(data, key_file, recovery_key, admin_password, stores)?;
    if json {
        print_json(&o)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Wrote a new key file {}. Back it up; the old one (if any) no longer opens the archive.",
        o.key_file.display()
    );
    if o.keyring_rebuilt {
        println!(
            "keyring.json could not be read: made anew from a store's copy of the master key (the recovery key stays the same)."
        );
    }
    if o.master_rebuilt {
        println!(
            "master.redb could not be read: made anew. Stores attached again: {}.",
            o.stores.join(", ")
        );
        if !o.stores_recovered.is_empty() {
            println!(
                "Store databases rebuilt from their recovery records: {}.",
                o.stores_recovered.join(", ")
            );
        }
        for s in &o.stores_skipped {
            println!("  not attached: {s}");
        }
        if let Some(p) = &o.admin_password {
            println!("The password of admin is now: {p}  (shown once; change it after logging on)");
        }
        if !o.users_without_password.is_empty() {
            println!(
                "Users made again for their archives, without a password until one is set (`arkiv user set-password NAME`): {}.",
                o.users_without_password.join(", ")
            );
        }
        println!(
            "Not in any store, so lost with the master database: e-mail addresses, privileges, profiles, jobs, saved searches, compliance settings."
        );
    }
    for k in &o.kept_aside {
        println!("Kept aside: {k}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn user(archive: &Archive, cmd: UserCommand) -> Result<ExitCode> {
    match cmd {
        UserCommand::Add {
            name,
            emails,
            full_name,
            password,
            admin,
        } => {
            let u = archive.add_user(NewUser {
                name,
                full_name,
                emails,
                password,
                admin,
                // A user made here can log on (manual: the usual privileges of a new user).
                privileges: arkiv_archive::access::Privileges::of(&[
                    arkiv_archive::access::Privilege::Login,
                    arkiv_archive::access::Privilege::ChangePassword,
                ]),
                ..Default::default()
            })?;
            println!(
                "Added user {} (archive '{}'){}",
                u.name,
                u.name,
                if u.emails.is_empty() {
                    String::new()
                } else {
                    format!(" with {}", u.emails.join(", "))
                }
            );
        }
        UserCommand::List { json } => {
            let users: Vec<UserView> = archive.users()?.iter().map(UserView::from).collect();
            if json {
                print_json(&users)?;
            } else {
                println!(
                    "{:<24} {:<28} {:<6} EMAIL ADDRESSES",
                    "NAME", "FULL NAME", "ADMIN"
                );
                for u in users {
                    println!(
                        "{:<24} {:<28} {:<6} {}",
                        u.name,
                        u.full_name.unwrap_or_default(),
                        if u.admin { "yes" } else { "" },
                        u.emails.join(", ")
                    );
                }
            }
        }
        UserCommand::Delete { name } => {
            archive.delete_user(&name)?;
            println!("Deleted user {name}. The archive '{name}' and its messages are kept.");
        }
        UserCommand::SetPassword { name, password } => {
            archive.set_user_password(&name, &password)?;
            println!("Set the password of {name}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn store(archive: &Archive, cmd: StoreCommand) -> Result<ExitCode> {
    match cmd {
        StoreCommand::List { json } => {
            let stores = archive.stores();
            if json {
                print_json(&stores)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<4} {:<16} {:<15} {:>10} {:>10} LOCATION",
                "ID", "NAME", "STATUS", "MESSAGES", "STORED"
            );
            for s in stores {
                let (msgs, stored) = archive
                    .store(s.entry.id)
                    .ok()
                    .and_then(|st| st.counters().ok())
                    .map(|c| (c.messages.to_string(), bytes(c.stored_bytes)))
                    .unwrap_or(("-".into(), "-".into()));
                let loc = if s.entry.meta_dir == s.entry.content_dir {
                    s.entry.meta_dir.clone()
                } else {
                    format!("{} + {}", s.entry.meta_dir, s.entry.content_dir)
                };
                println!(
                    "{:<4} {:<16} {:<15} {:>10} {:>10} {}",
                    s.entry.id.0,
                    s.entry.name,
                    s.entry.status.as_str(),
                    msgs,
                    stored,
                    loc
                );
                if let Some(e) = s.error {
                    println!("     ! {e}");
                }
            }
        }
        StoreCommand::Create {
            name,
            path,
            meta_path,
            content_path,
            current,
        } => {
            let dirs = match (path, meta_path, content_path) {
                (Some(p), None, None) => Some(StoreDirs::single(&p)),
                (None, Some(m), Some(c)) => Some(StoreDirs {
                    meta: m,
                    content: c,
                }),
                (None, None, None) => None,
                _ => bail!("give either --path or both --meta-path and --content-path"),
            };
            let status = if current {
                StoreStatus::Current
            } else {
                StoreStatus::Normal
            };
            let e = archive.create_store(name, dirs, status)?;
            println!("Created archive store {} '{}' ({})", e.id, e.name, e.status);
        }
        StoreCommand::SetStatus { id, status } => {
            let status: StoreStatus = status.parse().context("status")?;
            archive.set_store_status(StoreId(id), status)?;
            println!("Store {id} is now {status}");
        }
        StoreCommand::Recover {
            id,
            recover_deleted,
            json,
        } => {
            let bar = crate::output::byte_bar(0, "reading packs");
            let started = std::time::Instant::now();
            let r = archive.recover_store(StoreId(id), recover_deleted, &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })?;
            bar.finish_and_clear();
            if json {
                print_json(&r)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "Store {id} recovered in {:.1} s: {} messages ({} contents) from {} recovery records in {} packs ({} blobs){}.",
                started.elapsed().as_secs_f64(),
                r.messages,
                r.contents,
                r.recovery_records,
                r.packs,
                r.blobs,
                if r.undeleted_messages > 0 {
                    format!(", {} deleted messages brought back", r.undeleted_messages)
                } else {
                    String::new()
                }
            );
            if let Some(old) = &r.old_database {
                println!("The old database is kept as {old}.");
            }
            for range in &r.unreadable_ranges {
                println!("  unreadable (damaged) bytes: {range}");
            }
            if !r.unreadable_ranges.is_empty() {
                println!("Run `arkiv verify`: it names the messages the damage cost.");
            }
        }
        StoreCommand::RecreateRecoveryRecords { id } => {
            let r = archive.recreate_recovery_records(StoreId(id))?;
            println!(
                "Store {id}: recovery records written anew ({} entries, sequence {}).",
                r.entries, r.sequence
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
