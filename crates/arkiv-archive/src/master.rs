//! The data directory and its master database.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use arkiv_crypto::{KeyedHasher, Keyring, MasterKey, Sealer};
use arkiv_types::{StoreId, StoreStatus};
use fs4::fs_std::FileExt;
use redb::{
    Database, ReadOnlyDatabase, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::{ArchiveError, Result, io_err};
use crate::stores::StoreSlot;

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const USERS: TableDefinition<u64, &[u8]> = TableDefinition::new("users");
pub(crate) const USER_NAMES: TableDefinition<&[u8], u64> = TableDefinition::new("user_names");
pub(crate) const FOLDERS: TableDefinition<u64, &[u8]> = TableDefinition::new("folders");
pub(crate) const FOLDER_CHILDREN: TableDefinition<&[u8], u64> =
    TableDefinition::new("folder_children");
pub(crate) const STORES: TableDefinition<u32, &[u8]> = TableDefinition::new("stores");

const FORMAT: &[u8] = b"arkiv-master-1";
pub(crate) const MASTER_DB: &str = "master.redb";
pub(crate) const KEYRING: &str = "keyring.json";
pub(crate) const KEY_FILE: &str = "arkiv.key";
pub(crate) const CONFIG: &str = "arkiv.toml";
const LOCK: &str = "arkiv.lock";

/// What `arkiv init` needs.
pub struct InitOptions {
    pub admin_password: String,
    pub config: Config,
    /// Where the key file goes; default `DATA/arkiv.key`.
    pub key_file: Option<PathBuf>,
}

/// What `arkiv init` hands back to be shown once.
pub struct InitOutcome {
    pub recovery_key: String,
    pub key_file: PathBuf,
}

/// An open data directory. Holds an exclusive lock on it while alive.
pub struct Archive {
    pub(crate) dir: PathBuf,
    pub(crate) config: Config,
    /// `[compliance] admin_archive_access`, changed at run time by
    /// [`Archive::set_compliance`] (the rest of `config` is fixed while the archive is open).
    pub(crate) admin_archive_access: std::sync::atomic::AtomicBool,
    /// One compliance change at a time, so the file and the flag never disagree.
    compliance_change: Mutex<()>,
    /// Behind a lock only for `RenewMasterKey` (see [`Archive::master`]).
    master: std::sync::RwLock<MasterKey>,
    /// Held exclusively by `RenewMasterKey`, shared by whatever wraps a store key with the
    /// master key (creating, attaching, unlocking a store): no store can be keyed with the
    /// old master key while a renewal stages and commits the new one.
    pub(crate) key_lock: std::sync::RwLock<()>,
    /// Behind a lock only so that compaction can have it to itself (redb needs `&mut`).
    pub(crate) db: std::sync::RwLock<MasterDb>,
    pub(crate) sealer: Sealer,
    pub(crate) names: KeyedHasher,
    pub(crate) stores: Mutex<BTreeMap<StoreId, StoreSlot>>,
    /// Search indexes of the open stores, opened on first use.
    pub(crate) indexes: Mutex<BTreeMap<StoreId, std::sync::Arc<arkiv_index::StoreIndex>>>,
    /// Which attachments have their text indexed (from `[attachments]` of the configuration).
    pub(crate) extraction: std::sync::Arc<arkiv_extract::Settings>,
    /// How to start the extraction sandbox (`None`: extract in this process).
    pub(crate) sandbox: Mutex<Option<std::sync::Arc<Vec<std::ffi::OsString>>>>,
    /// Imports, merges and verifications hold it shared, compaction exclusively: an import
    /// commits some content before the messages that refer to it (those it defers to the end
    /// of its run), content an import or merge has looked up must not vanish under it (nor a
    /// blob compaction found dead be taken up again), and a verification's snapshot must not
    /// see its packs deleted.
    pub(crate) compaction: std::sync::RwLock<()>,
    /// A compaction waits for the running import to end (a journal's run ends early for it).
    pub(crate) compaction_wanted: std::sync::atomic::AtomicBool,
    /// Logon checks, lockout and the credential cache (`crate::auth`).
    pub(crate) auth: crate::auth::Authenticator,
    /// The audit log (writable opens only; `crate::audit`).
    audit: Option<crate::audit::AuditLog>,
    /// The key file this archive was opened with (`RenewMasterKey` seals the new master key
    /// with it).
    pub(crate) key_file: PathBuf,
    _lock: File,
}

pub(crate) fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK);
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io_err(&path, e))?;
    match f.try_lock_exclusive() {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            let pid = fs::read_to_string(&path)
                .ok()
                .filter(|s| !s.trim().is_empty());
            return Err(ArchiveError::Locked {
                path: dir.display().to_string(),
                pid: pid
                    .map(|p| format!(" (pid {})", p.trim()))
                    .unwrap_or_default(),
            });
        }
    }
    f.set_len(0).map_err(|e| io_err(&path, e))?;
    write!(f, "{}", std::process::id()).map_err(|e| io_err(&path, e))?;
    Ok(f)
}

/// The master database, opened for writing or only for reading (read-only commands write
/// nothing, not even redb's bookkeeping on close, so they start and end fast).
pub(crate) enum MasterDb {
    Rw(Database),
    Ro(ReadOnlyDatabase),
}

impl MasterDb {
    fn begin_read(&self) -> std::result::Result<redb::ReadTransaction, redb::TransactionError> {
        match self {
            MasterDb::Rw(d) => d.begin_read(),
            MasterDb::Ro(d) => d.begin_read(),
        }
    }
}

/// Creates a master database with its tables; folder ids start above `folder_floor`.
fn create_master_db(db_path: &Path, folder_floor: u64) -> Result<Database> {
    let db = open_db(db_path, true)?;
    let txn = db.begin_write().map_err(|e| db_error(db_path, e))?;
    {
        let mut meta = txn.open_table(META).map_err(|e| db_error(db_path, e))?;
        meta.insert("format", FORMAT)
            .map_err(|e| db_error(db_path, e))?;
        if folder_floor > 0 {
            meta.insert("next_folder", folder_floor.to_le_bytes().as_slice())
                .map_err(|e| db_error(db_path, e))?;
            // Made anew by master recovery: folder ids in stores attached later mean nothing
            // here, they are placed by name.
            meta.insert("rebuilt", b"1".as_slice())
                .map_err(|e| db_error(db_path, e))?;
        }
        txn.open_table(USERS).map_err(|e| db_error(db_path, e))?;
        txn.open_table(USER_NAMES)
            .map_err(|e| db_error(db_path, e))?;
        txn.open_table(FOLDERS).map_err(|e| db_error(db_path, e))?;
        txn.open_table(FOLDER_CHILDREN)
            .map_err(|e| db_error(db_path, e))?;
        txn.open_table(STORES).map_err(|e| db_error(db_path, e))?;
    }
    txn.commit().map_err(|e| db_error(db_path, e))?;
    Ok(db)
}

fn open_db(path: &Path, create: bool) -> Result<Database> {
    let mut b = Database::builder();
    b.set_cache_size(16 * 1024 * 1024);
    let r = if create { b.create(path) } else { b.open(path) };
    r.map_err(|e| ArchiveError::Db {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

impl Archive {
    pub fn key_file_default(dir: &Path) -> PathBuf {
        dir.join(KEY_FILE)
    }

    pub fn is_initialized(dir: &Path) -> bool {
        dir.join(MASTER_DB).is_file()
    }

    /// Creates a data directory: config, key material, master database, the first store and the
    /// administrator `admin`.
    pub fn init(dir: &Path, opts: InitOptions) -> Result<(Archive, InitOutcome)> {
        if Archive::is_initialized(dir) || dir.join(KEYRING).exists() {
            return Err(ArchiveError::AlreadyInitialized {
                path: dir.display().to_string(),
            });
        }
        crate::policy::check_password("admin", &opts.admin_password)
            .map_err(ArchiveError::WeakPassword)?;
        fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let lock = lock_dir(dir)?;
        let key_file = opts.key_file.clone().unwrap_or_else(|| dir.join(KEY_FILE));
        opts.config.validate(&dir.join(CONFIG))?;
        opts.config.save(&dir.join(CONFIG))?;
        let ring = Keyring::create(&dir.join(KEYRING), &key_file)?;
        let db = create_master_db(&dir.join(MASTER_DB), 0)?;
        let database = ring.master.clone();
        let mut archive = Archive::assemble(
            dir,
            opts.config,
            ring.master,
            &database,
            MasterDb::Rw(db),
            lock,
        );
        archive.key_file = key_file.clone();
        archive.audit = Some(crate::audit::AuditLog::open(dir)?);
        archive.create_store(None, None, StoreStatus::Current)?;
        archive.add_user(crate::users::NewUser {
            name: "admin".into(),
            full_name: Some("Administrator".into()),
            emails: Vec::new(),
            password: Some(opts.admin_password),
            admin: true,
            privileges: crate::access::Privileges::none(),
            ..Default::default()
        })?;
        Ok((
            archive,
            InitOutcome {
                recovery_key: ring.recovery.to_string(),
                key_file,
            },
        ))
    }

    /// A new master database for an existing master key (master recovery,
    /// `crate::disaster`): its tables, the audit log, and `admin` with `admin_password`.
    /// Folder ids start above `folder_floor`.
    pub(crate) fn init_master(
        dir: &Path,
        config: Config,
        master: MasterKey,
        admin_password: &str,
        folder_floor: u64,
    ) -> Result<Archive> {
        crate::policy::check_password("admin", admin_password)
            .map_err(ArchiveError::WeakPassword)?;
        let lock = lock_dir(dir)?;
        let db = create_master_db(&dir.join(MASTER_DB), folder_floor)?;
        let database = master.clone();
        let mut archive = Archive::assemble(dir, config, master, &database, MasterDb::Rw(db), lock);
        archive.key_file = dir.join(KEY_FILE);
        archive.audit = Some(crate::audit::AuditLog::open(dir)?);
        archive.add_user(crate::users::NewUser {
            name: "admin".into(),
            full_name: Some("Administrator".into()),
            emails: Vec::new(),
            password: Some(admin_password.to_string()),
            admin: true,
            privileges: crate::access::Privileges::none(),
            ..Default::default()
        })?;
        Ok(archive)
    }

    /// Opens an existing data directory with its key file (default `DATA/arkiv.key`).
    pub fn open(dir: &Path, key_file: Option<&Path>) -> Result<Archive> {
        Archive::open_mode(dir, key_file, false)
    }

    /// Opens an existing data directory for reading only (search, listing, reading
    /// messages): nothing in the master database or the stores can be changed, and nothing is
    /// written when it closes. A database that was not closed cleanly needs a writable
    /// [`Archive::open`] first (which repairs it); this one then fails with a database error.
    pub fn open_read_only(dir: &Path, key_file: Option<&Path>) -> Result<Archive> {
        Archive::open_mode(dir, key_file, true)
    }

    pub fn is_read_only(&self) -> bool {
        matches!(
            *self.db.read().unwrap_or_else(|p| p.into_inner()),
            MasterDb::Ro(_)
        )
    }

    fn open_mode(dir: &Path, key_file: Option<&Path>, read_only: bool) -> Result<Archive> {
        let has_stores = || dir.join(KEYRING).exists() || dir.join("stores").is_dir();
        if !Archive::is_initialized(dir) {
            if has_stores() {
                return Err(ArchiveError::MasterLost {
                    path: dir.join(MASTER_DB).display().to_string(),
                    what: "is missing".into(),
                });
            }
            return Err(ArchiveError::NotInitialized {
                path: dir.display().to_string(),
            });
        }
        let lock = lock_dir(dir)?;
        let config = Config::load(&dir.join(CONFIG))?;
        let default_key = dir.join(KEY_FILE);
        let keys = Keyring::unlock_keys(&dir.join(KEYRING), key_file.unwrap_or(&default_key))?;
        let db_path = dir.join(MASTER_DB);
        let db = if read_only {
            let mut b = Database::builder();
            b.set_cache_size(16 * 1024 * 1024);
            MasterDb::Ro(
                b.open_read_only(&db_path)
                    .map_err(|e| db_error(&db_path, e))?,
            )
        } else {
            // Opened for writing, a file redb cannot open is damaged (read-only opens fall
            // back to this one): say how to get out.
            MasterDb::Rw(open_db(&db_path, false).map_err(|e| match e {
                ArchiveError::Db { detail, .. } => ArchiveError::MasterLost {
                    path: db_path.display().to_string(),
                    what: format!("cannot be opened ({detail})"),
                },
                e => e,
            })?)
        };
        {
            let txn = db.begin_read().map_err(|e| db_error(&db_path, e))?;
            let meta = txn.open_table(META).map_err(|e| db_error(&db_path, e))?;
            let format = meta
                .get("format")
                .map_err(|e| db_error(&db_path, e))?
                .map(|v| v.value().to_vec());
            if format.as_deref() != Some(FORMAT) {
                return Err(db_error(&db_path, "unknown master database format"));
            }
        }
        let mut archive = Archive::assemble(dir, config, keys.master, &keys.database, db, lock);
        archive.key_file = key_file.unwrap_or(&default_key).to_path_buf();
        if !read_only {
            archive.audit = Some(crate::audit::AuditLog::open(dir)?);
        }
        archive.load_stores()?;
        if !read_only {
            archive.sync_all_store_folders()?;
            archive.rekey_user_names()?;
            archive.resume_merges()?;
            archive.clean_orphan_store_dirs()?;
        }
        Ok(archive)
    }

    /// The master key: it wraps every store's data key.
    pub(crate) fn master(&self) -> MasterKey {
        self.master
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_master(&self, key: MasterKey) {
        *self.master.write().unwrap_or_else(|p| p.into_inner()) = key;
    }

    fn assemble(
        dir: &Path,
        config: Config,
        master: MasterKey,
        database: &MasterKey,
        db: MasterDb,
        lock: File,
    ) -> Archive {
        let extraction = std::sync::Arc::new(
            config
                .attachments
                .settings()
                .expect("validated when the configuration was loaded"),
        );
        Archive {
            dir: dir.to_path_buf(),
            admin_archive_access: config.compliance.admin_archive_access.into(),
            compliance_change: Mutex::new(()),
            config,
            sealer: database.sealer("master-db"),
            names: database.hasher("master-db names"),
            master: std::sync::RwLock::new(master),
            key_lock: std::sync::RwLock::new(()),
            db: std::sync::RwLock::new(db),
            stores: Mutex::new(BTreeMap::new()),
            indexes: Mutex::new(BTreeMap::new()),
            extraction,
            sandbox: Mutex::new(None),
            compaction: Default::default(),
            compaction_wanted: Default::default(),
            auth: Default::default(),
            audit: None,
            key_file: PathBuf::new(),
            _lock: lock,
        }
    }

    /// Writes one record to the audit log and returns once it is on disk; an archive opened
    /// for reading only has no audit log (it changes nothing) and writes nothing.
    pub fn audit(&self, entry: &crate::audit::Entry<'_>) -> Result<()> {
        match &self.audit {
            Some(log) => log.record(entry),
            None => Ok(()),
        }
    }

    /// The audit log for an administrator: matching records, newest first, and whether its
    /// hash chain holds (manual §5.14). Others are refused.
    pub fn audit_view(
        &self,
        caller: &crate::access::Caller,
        filter: &crate::audit::Filter,
    ) -> Result<crate::audit::View> {
        caller.require_admin()?;
        crate::audit::read(&self.audit_path(), filter)
    }

    /// Where the audit log is.
    pub fn audit_path(&self) -> PathBuf {
        self.dir.join("audit.log")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The settings the archive was opened with; the compliance settings as they are now
    /// come from [`Archive::compliance`].
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The compliance settings in force (manual §5.11).
    pub fn compliance(&self) -> crate::ComplianceConfig {
        crate::ComplianceConfig {
            admin_archive_access: self
                .admin_archive_access
                .load(std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// Changes the compliance settings (administrators only): written to `arkiv.toml` first
    /// (atomically; the file's other settings as they are on disk), in force at once after.
    /// Recording the change with its reason is the door's business, as for every call.
    pub fn set_compliance(
        &self,
        caller: &crate::access::Caller,
        new: crate::ComplianceConfig,
    ) -> Result<()> {
        caller.require_admin()?;
        if matches!(
            &*self.db.read().unwrap_or_else(|p| p.into_inner()),
            MasterDb::Ro(_)
        ) {
            return Err(self.dberr("the archive was opened read-only"));
        }
        let _one = self
            .compliance_change
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let path = self.dir.join(CONFIG);
        let mut on_disk = Config::load(&path)?;
        on_disk.compliance = new.clone();
        on_disk.save(&path)?;
        self.admin_archive_access.store(
            new.admin_archive_access,
            std::sync::atomic::Ordering::SeqCst,
        );
        Ok(())
    }

    pub(crate) fn db_path(&self) -> PathBuf {
        self.dir.join(MASTER_DB)
    }

    pub(crate) fn dberr(&self, e: impl std::fmt::Display) -> ArchiveError {
        db_error(&self.db_path(), e)
    }

    pub(crate) fn write_txn(&self) -> Result<WriteTransaction> {
        match &*self.db.read().unwrap_or_else(|p| p.into_inner()) {
            MasterDb::Rw(d) => d.begin_write().map_err(|e| self.dberr(e)),
            MasterDb::Ro(_) => Err(self.dberr("the archive was opened read-only")),
        }
    }

    /// A table that a data directory may not have yet (nothing of its kind was ever written,
    /// or an older directory): `None` instead of an error.
    pub(crate) fn optional_table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        t: &redb::ReadTransaction,
        def: TableDefinition<K, V>,
    ) -> Result<Option<redb::ReadOnlyTable<K, V>>> {
        match t.open_table(def) {
            Ok(table) => Ok(Some(table)),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(self.dberr(e)),
        }
    }

    pub(crate) fn read_txn(&self) -> Result<redb::ReadTransaction> {
        self.db
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .begin_read()
            .map_err(|e| self.dberr(e))
    }

    pub(crate) fn seal<T: Serialize>(&self, table: &str, key: u64, value: &T) -> Result<Vec<u8>> {
        let plain = postcard::to_stdvec(value).map_err(|e| self.dberr(e))?;
        Ok(self.sealer.seal(&ad(table, key), &plain)?)
    }

    pub(crate) fn open_sealed<T: DeserializeOwned>(
        &self,
        table: &str,
        key: u64,
        sealed: &[u8],
    ) -> Result<T> {
        let plain = self
            .sealer
            .open(&ad(table, key), sealed, &format!("{table} record {key}"))?;
        postcard::from_bytes(&plain).map_err(|e| self.dberr(e))
    }

    /// Like [`Archive::seal`], as JSON: for records whose types postcard cannot carry
    /// (flattened and untagged serde types, e.g. archiving profiles).
    pub(crate) fn seal_json<T: Serialize>(
        &self,
        table: &str,
        key: u64,
        value: &T,
    ) -> Result<Vec<u8>> {
        let plain = serde_json::to_vec(value).map_err(|e| self.dberr(e))?;
        Ok(self.sealer.seal(&ad(table, key), &plain)?)
    }

    pub(crate) fn open_sealed_json<T: DeserializeOwned>(
        &self,
        table: &str,
        key: u64,
        sealed: &[u8],
    ) -> Result<T> {
        let plain = self
            .sealer
            .open(&ad(table, key), sealed, &format!("{table} record {key}"))?;
        serde_json::from_slice(&plain).map_err(|e| self.dberr(e))
    }

    /// Allocates the next number of a counter kept in META.
    pub(crate) fn next_id(&self, txn: &WriteTransaction, counter: &str) -> Result<u64> {
        let mut meta = txn.open_table(META).map_err(|e| self.dberr(e))?;
        let cur = meta
            .get(counter)
            .map_err(|e| self.dberr(e))?
            .map(|v| u64::from_le_bytes(v.value().try_into().unwrap_or([0; 8])))
            .unwrap_or(0);
        let next = cur + 1;
        meta.insert(counter, next.to_le_bytes().as_slice())
            .map_err(|e| self.dberr(e))?;
        Ok(next)
    }
}

fn ad(table: &str, key: u64) -> Vec<u8> {
    let mut v = table.as_bytes().to_vec();
    v.push(0);
    v.extend_from_slice(&key.to_le_bytes());
    v
}

pub(crate) fn db_error(path: &Path, e: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Db {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}
