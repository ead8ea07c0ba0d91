//! Master recovery and master key renewal.
//!
//! Master recovery (`arkiv recover --recovery-key KEY`): access to the archive restored from
//! the recovery key and the stores' own records when the key file, `keyring.json` or
//! `master.redb` is lost or damaged.
//!
//! * **The master key.** `keyring.json` keeps it sealed by the recovery key; so does every
//!   store (`store.keys` beside its packs, and its database): when the keyring is gone or
//!   unreadable, the first store copy the recovery key opens gives it back. A new key file
//!   and keyring are written (the damaged keyring is kept aside); the recovery key stays.
//! * **The master database.** When `master.redb` is missing or cannot be opened, it is kept
//!   aside and made anew: the `admin` user (with the password given, or a generated one that
//!   is printed once), then every store found under the stores' base directory (and the ones
//!   named with `--store`) is attached, a store whose own database is lost being recovered
//!   from its recovery records first. Messages go back into folders by the names each store
//!   keeps (`folder_names`); new folder ids start above every id the stores name, so no old
//!   id can be mistaken for a new folder. Every archive found gets its user back, without a
//!   password: an administrator sets one (`arkiv user set-password`). The newest store (by
//!   name: `YYYY-MM`) becomes current.
//! * Lost with the master database, and not in any store: e-mail addresses, privileges,
//!   profiles, jobs, saved searches, compliance settings, mailbox checkpoints (a re-run of a
//!   profile reads its mailboxes again and recognises what is archived by content).
//!
//! Master key renewal (`RenewMasterKey`, `arkiv renew-master-key`): a new master key wraps
//! every store's data key; the key file and the recovery key stay (the recovery key must be
//! given: it seals the new master key and is never kept). Crash-safe at every step, the old
//! key usable until the new one is committed: (1) each store gets its data key wrapped by the
//! new key *beside* the current wrap (`data_key_next`); (2) the keyring is replaced
//! atomically: the commit; (3) each store's new wrap replaces the old. A crash before (2)
//! leaves the old keyring, which opens every store, and the next writable open drops the
//! staged wraps; a crash after (2) leaves stores whose staged wrap the new key opens, promoted
//! at their next writable open. The master database keeps its own key, sealed in the keyring
//! by the new master key. `ARKIV_FAILPOINT=renew-master-key:staged|committed` aborts the
//! process at those points (the fault-injection tests use it).

use std::fs;
use std::path::{Path, PathBuf};

use arkiv_crypto::{Keyring, MasterKey, RecoveryKey};
use arkiv_store::{Store, StoreDirs};
use arkiv_types::{StoreId, StoreStatus, Timestamp};
use serde::Serialize;

use crate::config::Config;
use crate::error::{ArchiveError, Result, io_err};
use crate::master::{Archive, CONFIG, KEYRING, MASTER_DB};

/// What master recovery did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryOutcome {
    /// The new key file.
    pub key_file: PathBuf,
    /// The keyring was lost or damaged and was made anew from a store's copy.
    pub keyring_rebuilt: bool,
    /// The master database was lost or damaged and was made anew from the stores.
    pub master_rebuilt: bool,
    /// Stores attached to the new master database (`name`), and those whose own database
    /// was recovered from their recovery records first.
    pub stores: Vec<String>,
    pub stores_recovered: Vec<String>,
    /// Directories that hold no usable store (with the reason).
    pub stores_skipped: Vec<String>,
    /// Users made again for the archives found: they have no password until one is set.
    pub users_without_password: Vec<String>,
    /// The `admin` password, when it was generated.
    pub admin_password: Option<String>,
    /// Damaged files kept aside.
    pub kept_aside: Vec<String>,
}

fn aside(path: &Path, out: &mut RecoveryOutcome) -> Result<()> {
    if path.exists() {
        let to = PathBuf::from(format!("{}.broken-{}", path.display(), Timestamp::now().0));
        fs::rename(path, &to).map_err(|e| io_err(path, e))?;
        if let Some(dir) = path.parent() {
            crate::files::sync_dir(dir)?;
        }
        out.kept_aside.push(to.display().to_string());
    }
    Ok(())
}

/// Store directories under `base` (and `extra`): each with `store.keys` or `store.redb`.
fn store_dirs(base: &Path, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(base)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("store.keys").is_file() || p.join("store.redb").is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    for e in extra {
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    out
}

/// The stores that open (a store whose own database is lost is recovered from its recovery
/// records first), by directory name, and the largest folder id any of them names.
fn scan_stores(
    found: &[PathBuf],
    master: &MasterKey,
    out: &mut RecoveryOutcome,
) -> (Vec<(String, StoreDirs)>, u64) {
    let mut max_folder = 0u64;
    let mut usable = Vec::new();
    for d in found {
        let dirs = StoreDirs::single(d);
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| d.display().to_string());
        // A writable open first: it repairs a database a crash left unclean. Only a database
        // that is missing or cannot be opened is rebuilt from the recovery records.
        let opened = Store::open(StoreId(0), dirs.clone(), master, 1 << 30);
        let store = match opened {
            Ok(s) => s,
            Err(
                arkiv_store::StoreError::Db { .. } | arkiv_store::StoreError::MissingDir { .. },
            ) if dirs.content.join("packs").is_dir() => {
                match Store::recover(StoreId(0), &dirs, master, false, &mut |_, _| {})
                    .and_then(|_| Store::open(StoreId(0), dirs.clone(), master, 1 << 30))
                {
                    Ok(s) => {
                        // Its index described the old database.
                        let _ = fs::remove_dir_all(d.join("index"));
                        out.stores_recovered.push(name.clone());
                        s
                    }
                    Err(e) => {
                        out.stores_skipped.push(format!("{}: {e}", d.display()));
                        continue;
                    }
                }
            }
            Err(e) => {
                out.stores_skipped.push(format!("{}: {e}", d.display()));
                continue;
            }
        };
        let ids = store
            .folder_counts()
            .map(|c| c.into_keys().collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain(
                store
                    .folder_names()
                    .map(|n| n.into_keys().collect::<Vec<_>>())
                    .unwrap_or_default(),
            );
        for f in ids {
            max_folder = max_folder.max(f.0);
        }
        usable.push((name, dirs));
    }
    (usable, max_folder)
}

/// A generated administrator password: 24 characters from 18 random bytes, with the kinds
/// of character the password policy asks for.
fn generated_password() -> Result<String> {
    let mut b = [0u8; 18];
    arkiv_crypto::random_bytes(&mut b)?;
    const T: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let body: String = b.iter().map(|x| T[*x as usize % T.len()] as char).collect();
    Ok(format!("Rc-{body}7a"))
}

impl Archive {
    /// Restores access to a data directory with its recovery key (see the module
    /// documentation). `stores` names store directories outside the base directory.
    pub fn recover_installation(
        dir: &Path,
        key_file: Option<&Path>,
        recovery_key: &str,
        admin_password: Option<String>,
        stores: &[PathBuf],
    ) -> Result<RecoveryOutcome> {
        let rk = RecoveryKey::parse(recovery_key)?;
        let mut out = RecoveryOutcome {
            key_file: key_file
                .map(Path::to_path_buf)
                .unwrap_or_else(|| dir.join(crate::master::KEY_FILE)),
            ..Default::default()
        };
        fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let config = Config::load(&dir.join(CONFIG)).unwrap_or_default();
        let base = if Path::new(&config.storage.base_directory).is_absolute() {
            PathBuf::from(&config.storage.base_directory)
        } else {
            dir.join(&config.storage.base_directory)
        };
        let found = store_dirs(&base, stores);
        {
            let _lock = crate::master::lock_dir(dir)?;
            let keyring = dir.join(KEYRING);
            match Keyring::recover(&keyring, &out.key_file, &rk) {
                Ok(_) => {}
                Err(arkiv_crypto::CryptoError::WrongRecoveryKey) => {
                    return Err(arkiv_crypto::CryptoError::WrongRecoveryKey.into());
                }
                // Lost or damaged: a store's copy of the recovery wrap gives the master key.
                Err(_) => {
                    let (master, wrap) = found
                        .iter()
                        .filter_map(|d| Store::recovery_wrap_of(&StoreDirs::single(d)))
                        .find_map(|w| {
                            Keyring::master_from_recovery_wrap(&w, &rk)
                                .ok()
                                .map(|m| (m, w))
                        })
                        .ok_or_else(|| {
                            crate::error::invalid(
                                "recovery key",
                                format!(
                                    "{} cannot be read and no store under {} keeps a copy of the master key this recovery key opens",
                                    keyring.display(),
                                    base.display()
                                ),
                            )
                        })?;
                    aside(&keyring, &mut out)?;
                    Keyring::restore(&keyring, &out.key_file, &master, &wrap)?;
                    out.keyring_rebuilt = true;
                }
            }
        }
        // The master database: kept if it opens.
        let db_path = dir.join(MASTER_DB);
        let opened = if db_path.is_file() {
            Archive::open(dir, Some(&out.key_file))
        } else {
            Err(ArchiveError::NotInitialized {
                path: dir.display().to_string(),
            })
        };
        match opened {
            // It opens, and its records open with the key the keyring gives (a keyring made
            // anew from a store's copy after a master key renewal does not have the master
            // database's own key: then the database is made anew too).
            Ok(a) if a.users().is_ok() => return Ok(out),
            Ok(_) => {}
            // A damaged database (not a wrong key: that was handled above).
            Err(
                ArchiveError::Db { .. }
                | ArchiveError::NotInitialized { .. }
                | ArchiveError::MasterLost { .. },
            ) => {}
            // A keyring made anew cannot open a master database sealed with a renewed
            // installation's own database key: the database is made anew.
            Err(e) if out.keyring_rebuilt && !matches!(e, ArchiveError::Locked { .. }) => {}
            Err(e) => return Err(e),
        }
        aside(&db_path, &mut out)?;
        let master = Keyring::unlock(&dir.join(KEYRING), &out.key_file)?;
        let (usable, max_folder) = scan_stores(&found, &master, &mut out);
        let password = match admin_password {
            Some(p) => p,
            None => {
                let p = generated_password()?;
                out.admin_password = Some(p.clone());
                p
            }
        };
        // New folder ids start above every id a store names: none can be taken for another.
        let archive = Archive::init_master(dir, config, master, &password, max_folder.max(1))?;
        out.master_rebuilt = true;
        archive.rebuild_from_stores(usable, &mut out)?;
        Ok(out)
    }

    /// Attaches the stores found and gives each archive its user back.
    fn rebuild_from_stores(
        &self,
        usable: Vec<(String, StoreDirs)>,
        out: &mut RecoveryOutcome,
    ) -> Result<()> {
        let newest = usable.len().saturating_sub(1);
        for (i, (name, dirs)) in usable.into_iter().enumerate() {
            let status = if i == newest {
                StoreStatus::Current
            } else {
                StoreStatus::Normal
            };
            let entry = self.attach_store_by_name(&name, dirs, status)?;
            out.stores.push(format!("{} ({})", entry.name, entry.id.0));
        }
        let users: Vec<String> = self.users()?.into_iter().map(|u| u.name).collect();
        for (_, archive) in self.child_folders(None)? {
            if users.contains(&archive) {
                continue;
            }
            self.add_user(crate::users::NewUser {
                name: archive.clone(),
                privileges: crate::access::Privileges::of(&[
                    crate::access::Privilege::Login,
                    crate::access::Privilege::ChangePassword,
                ]),
                ..Default::default()
            })?;
            out.users_without_password.push(archive);
        }
        self.audit(&crate::audit::Entry {
            user: "operator",
            client: "local",
            via: "Service",
            function: "master database recovered",
            args: &[
                ("stores".into(), out.stores.join(", ")),
                (
                    "usersWithoutPassword".into(),
                    out.users_without_password.join(", "),
                ),
            ],
            outcome: "succeeded",
        })?;
        Ok(())
    }
}

/// What `RenewMasterKey` did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalReport {
    /// Stores whose data key is now wrapped by the new master key.
    pub stores: Vec<u32>,
    /// Stores of another installation (locked): their key is not this master key's to wrap.
    pub locked_skipped: Vec<u32>,
    /// Stores whose new wrap could not be put in place now (done at their next writable open).
    pub pending: Vec<String>,
}

/// Aborts the process when `ARKIV_FAILPOINT` names this point (a test hook: the
/// fault-injection tests crash the process exactly there).
pub(crate) fn failpoint(name: &str) {
    if std::env::var("ARKIV_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("arkiv: failpoint {name}: aborting");
        std::process::abort();
    }
}

impl Archive {
    /// Renews the master key (API `RenewMasterKey`; see the module documentation).
    pub fn renew_master_key(&self, recovery_key: &str) -> Result<RenewalReport> {
        if self.is_read_only() {
            return Err(self.dberr("the archive was opened read-only"));
        }
        let rk = RecoveryKey::parse(recovery_key)?;
        let _keys = self.key_lock.write().unwrap_or_else(|p| p.into_inner());
        let keyring = self.dir.join(KEYRING);
        let renewal = Keyring::prepare_renewal(&keyring, &self.key_file, &rk)?;
        let mut report = RenewalReport::default();
        // (1) Stage the new wrap in every store this master key wraps.
        let mut staged: Vec<(StoreId, Option<std::sync::Arc<Store>>, StoreDirs)> = Vec::new();
        for entry in self.read_entries()? {
            let dirs = self.dirs_of(&entry);
            let slot = {
                let slots = self.stores.lock().unwrap_or_else(|p| p.into_inner());
                match slots.get(&entry.id) {
                    Some(crate::stores::StoreSlot::Open { store, .. }) => Ok(store.clone()),
                    Some(crate::stores::StoreSlot::Closed { why, .. }) => Err(why.clone()),
                    None => Err(String::new()),
                }
            };
            match slot {
                Ok(store) => {
                    store.stage_master_key(&renewal.old, &renewal.new, &renewal.recovery_wrap)?;
                    staged.push((entry.id, Some(store), dirs));
                }
                Err(why) if why.contains("is locked") => report.locked_skipped.push(entry.id.0),
                Err(why) => {
                    Store::stage_master_key_closed(
                        &dirs,
                        &renewal.old,
                        &renewal.new,
                        &renewal.recovery_wrap,
                    )
                    .map_err(|e| {
                        crate::error::invalid(
                            "store",
                            format!(
                                "archive store {} ({why}) cannot be reached ({e}): renewing the master key now would leave it unreadable; bring it back or detach it first",
                                entry.id.0
                            ),
                        )
                    })?;
                    staged.push((entry.id, None, dirs));
                }
            }
        }
        failpoint("renew-master-key:staged");
        // (2) The commit.
        Keyring::commit_renewal(&keyring, &renewal)?;
        self.set_master(renewal.new.clone());
        failpoint("renew-master-key:committed");
        // (3) The new wraps replace the old.
        for (id, store, dirs) in staged {
            let done = match store {
                Some(s) => s.promote_master_key(&renewal.new),
                None => Store::promote_master_key_closed(&dirs, &renewal.new),
            };
            match done {
                Ok(()) => report.stores.push(id.0),
                Err(e) => report.pending.push(format!("{}: {e}", id.0)),
            }
        }
        Ok(report)
    }
}
