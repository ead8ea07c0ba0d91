use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arkiv_crypto::{DataKey, MasterKey};
use arkiv_types::{ContentHash, Envelope, FolderId, MessageId, StoreId, UserId};
use redb::{
    Database, ReadOnlyDatabase, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};

use crate::blob::{self, HEADER_LEN};
use crate::damage::{DAMAGED, DAMAGED_BLOBS, Damage};
use crate::error::{Result, StoreError, db_err, io_err};
use crate::pack::{self, PackWriter};
use crate::recipe::{self, PreparedContent, StoreKeys};
use crate::records::{self, BlobLoc, ContentRecord, MessageRecord, StoreCounters, StoreFolder};
use crate::recovery::Entry;

pub(crate) const INFO: TableDefinition<&str, &[u8]> = TableDefinition::new("info");
pub(crate) const SEGMENTS: TableDefinition<u32, u64> = TableDefinition::new("segments");
pub(crate) const BLOBS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blobs");
pub(crate) const CONTENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("contents");
pub(crate) const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
pub(crate) const PLACEMENTS: TableDefinition<&[u8], u64> = TableDefinition::new("placements");
pub(crate) const SOURCE_ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("source_items");
pub(crate) const FOLDER_MESSAGES: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("folder_messages");
/// Messages added or moved whose index document is not yet committed to the search index.
pub(crate) const UNINDEXED: TableDefinition<u64, ()> = TableDefinition::new("unindexed");
/// Packs rewritten by a compaction: only these may be deleted as leftovers.
pub(crate) const RETIRED: TableDefinition<u32, ()> = TableDefinition::new("retired_packs");
/// Folder id → sealed [`StoreFolder`]: the names of the folders the store has messages in.
pub(crate) const FOLDER_NAMES: TableDefinition<u64, &[u8]> = TableDefinition::new("folder_names");
pub(crate) const FOLDER_COUNTS: TableDefinition<u64, (u64, u64)> =
    TableDefinition::new("folder_counts");
/// message num → sealed [`Envelope`]: the SMTP envelope of a journaled message (primary
/// data, like the message record; stores written before journaling have no such table).
pub(crate) const ENVELOPES: TableDefinition<u64, &[u8]> = TableDefinition::new("envelopes");

pub(crate) const FORMAT: &[u8] = b"arkiv-store-1";
const DB_FILE: &str = "store.redb";
const PACK_DIR: &str = "packs";

/// Where a store keeps its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreDirs {
    /// Folder information and metadata (`store.redb`).
    pub meta: PathBuf,
    /// Email headers and contents (`packs/`).
    pub content: PathBuf,
}

impl StoreDirs {
    pub fn single(base: &Path) -> Self {
        StoreDirs {
            meta: base.to_path_buf(),
            content: base.to_path_buf(),
        }
    }
    fn db_path(&self) -> PathBuf {
        self.meta.join(DB_FILE)
    }
    pub(crate) fn pack_dir(&self) -> PathBuf {
        self.content.join(PACK_DIR)
    }
}

/// An open archive store.
pub struct Store {
    id: StoreId,
    dirs: StoreDirs,
    db: Db,
    keys: StoreKeys,
    segment_bytes: u64,
    writer: Mutex<Option<PackWriter>>,
    readers: Mutex<HashMap<u32, Arc<File>>>,
    /// What is known to be damaged (see `damage.rs`).
    damage: Mutex<Damage>,
}

/// A store database opened for writing, or only for reading (no locks taken for writing, and
/// nothing written on close: what read-only commands such as search use).
enum Db {
    Rw(Database),
    Ro(ReadOnlyDatabase),
}

fn open_db_read_only(path: &Path) -> Result<ReadOnlyDatabase> {
    let mut b = Database::builder();
    b.set_cache_size(32 * 1024 * 1024);
    b.open_read_only(path).map_err(|e| db_err(path, e))
}

fn open_db(path: &Path, create: bool) -> Result<Database> {
    let mut b = Database::builder();
    // Keep the page cache modest: the store must run in a few hundred MB whatever its size.
    b.set_cache_size(32 * 1024 * 1024);
    let r = if create { b.create(path) } else { b.open(path) };
    r.map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Db {
            path: path.display().to_string(),
            detail: "already open in another process (is an arkiv server or import running?)"
                .into(),
        },
        e => db_err(path, e),
    })
}

fn ensure_empty_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries = fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
        if entries.next().is_some() {
            return Err(StoreError::NotEmpty {
                path: dir.display().to_string(),
            });
        }
    }
    create_dir_durable(dir)
}

/// Creates a directory and any missing parents, and makes each new entry durable: every
/// directory created and the one it was created in are synced, so a power loss after this
/// returns cannot leave a store registered whose directory never reached the disk. A sync
/// error is an error.
pub(crate) fn create_dir_durable(dir: &Path) -> Result<()> {
    let mut created = Vec::new();
    let mut d = Some(dir);
    while let Some(p) = d {
        if p.as_os_str().is_empty() || p.exists() {
            break;
        }
        created.push(p.to_path_buf());
        d = p.parent();
    }
    fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    for p in created.iter().rev() {
        if let Some(parent) = p.parent().filter(|q| !q.as_os_str().is_empty()) {
            pack::sync_dir(parent)?;
        }
    }
    if let Some(p) = created.first() {
        pack::sync_dir(p)?;
    }
    Ok(())
}

impl Store {
    /// Creates a new, empty store in empty (or new) directories.
    pub fn create(
        id: StoreId,
        dirs: StoreDirs,
        master: &MasterKey,
        segment_bytes: u64,
    ) -> Result<Store> {
        ensure_empty_dir(&dirs.meta)?;
        if dirs.content != dirs.meta {
            ensure_empty_dir(&dirs.content)?;
        }
        create_dir_durable(&dirs.pack_dir())?;
        let uuid = new_uuid()?;
        let dk = DataKey::generate()?;
        let wrapped = master.wrap_data_key(&dk, &uuid)?;
        let path = dirs.db_path();
        let db = open_db(&path, true)?;
        let txn = db.begin_write().map_err(|e| db_err(&path, e))?;
        {
            let mut info = txn.open_table(INFO).map_err(|e| db_err(&path, e))?;
            info.insert("format", FORMAT)
                .map_err(|e| db_err(&path, e))?;
            info.insert("uuid", uuid.as_bytes())
                .map_err(|e| db_err(&path, e))?;
            info.insert("data_key", wrapped.as_slice())
                .map_err(|e| db_err(&path, e))?;
            let c = postcard::to_stdvec(&(1u64, StoreCounters::default())).expect("serializes");
            info.insert("counters", c.as_slice())
                .map_err(|e| db_err(&path, e))?;
        }
        create_tables(&txn).map_err(|e| db_err(&path, e))?;
        {
            let mut info = txn.open_table(INFO).map_err(|e| db_err(&path, e))?;
            info.insert("recovery_seq", 0u64.to_le_bytes().as_slice())
                .map_err(|e| db_err(&path, e))?;
            // Complete from the start: every commit will write its record.
            info.insert("recovery_complete", b"1".as_slice())
                .map_err(|e| db_err(&path, e))?;
        }
        txn.commit().map_err(|e| db_err(&path, e))?;
        drop(db);
        // redb synced the file; its directory entry must be durable too.
        pack::sync_dir(&dirs.meta)?;
        crate::recovery::write_keys_file(&dirs.content, &uuid, &wrapped, None)?;
        Store::open(id, dirs, master, segment_bytes)
    }

    /// Opens an existing store; refuses a missing directory or a store of another key.
    pub fn open(
        id: StoreId,
        dirs: StoreDirs,
        master: &MasterKey,
        segment_bytes: u64,
    ) -> Result<Store> {
        Store::open_mode(id, dirs, master, segment_bytes, false)
    }

    /// Opens an existing store for reading only: [`Store::write`] is refused, and nothing is
    /// written to the store's files (a store that was not closed cleanly still needs a
    /// writable open first, which repairs it).
    pub fn open_read_only(id: StoreId, dirs: StoreDirs, master: &MasterKey) -> Result<Store> {
        Store::open_mode(id, dirs, master, 0, true)
    }

    fn open_mode(
        id: StoreId,
        dirs: StoreDirs,
        master: &MasterKey,
        segment_bytes: u64,
        read_only: bool,
    ) -> Result<Store> {
        for d in [&dirs.meta, &dirs.content] {
            if !d.is_dir() {
                return Err(StoreError::MissingDir {
                    path: d.display().to_string(),
                });
            }
        }
        let path = dirs.db_path();
        if !path.is_file() {
            return Err(StoreError::MissingDir {
                path: path.display().to_string(),
            });
        }
        let db = if read_only {
            Db::Ro(open_db_read_only(&path)?)
        } else {
            Db::Rw(open_db(&path, false)?)
        };
        let txn = match &db {
            Db::Rw(d) => d.begin_read(),
            Db::Ro(d) => d.begin_read(),
        }
        .map_err(|e| db_err(&path, e))?;
        let info = txn.open_table(INFO).map_err(|e| db_err(&path, e))?;
        let get = |k: &str| -> Result<Vec<u8>> {
            info.get(k)
                .map_err(|e| db_err(&path, e))?
                .map(|v| v.value().to_vec())
                .ok_or_else(|| db_err(&path, format!("missing '{k}' (not an Arkiv store?)")))
        };
        if get("format")? != FORMAT {
            return Err(db_err(&path, "unknown store format"));
        }
        let uuid = String::from_utf8(get("uuid")?).map_err(|e| db_err(&path, e))?;
        let next = get("data_key_next")
            .ok()
            .and_then(|w| master.unwrap_data_key(&w, &uuid).ok());
        let dk = match master.unwrap_data_key(&get("data_key")?, &uuid) {
            Ok(dk) => dk,
            // A RenewMasterKey committed its keyring but had not promoted this store's new
            // wrap yet (a writable open below promotes it).
            Err(_) if next.is_some() => next.clone().expect("checked"),
            // Sealed by another installation's master key, which its recovery key can open.
            Err(_) if get("recovery_wrap").is_ok() => {
                return Err(StoreError::Locked {
                    path: dirs.meta.display().to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        drop(info);
        drop(txn);
        let store = Store {
            id,
            keys: StoreKeys::new(&dk),
            dirs,
            db,
            segment_bytes,
            writer: Mutex::new(None),
            readers: Mutex::new(HashMap::new()),
            damage: Mutex::new(Damage::default()),
        };
        let short = store.check_packs()?;
        let damage = store.assess_damage(&short)?;
        *store.damage() = damage;
        if let Some(db) = store.rw_db() {
            // Finish (or forget) a master key renewal this store took part in, and keep
            // `store.keys` saying what the database says.
            promote_in(db, &store.db_path(), master, &store.dirs.content)?;
            sync_keys(db, &store.db_path(), &store.dirs.content)?;
        }
        Ok(store)
    }

    pub(crate) fn damage(&self) -> std::sync::MutexGuard<'_, Damage> {
        self.damage.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The database when opened for writing.
    pub(crate) fn rw_db(&self) -> Option<&Database> {
        match &self.db {
            Db::Rw(d) => Some(d),
            Db::Ro(_) => None,
        }
    }

    pub fn id(&self) -> StoreId {
        self.id
    }

    pub fn dirs(&self) -> &StoreDirs {
        &self.dirs
    }

    pub fn keys(&self) -> &StoreKeys {
        &self.keys
    }

    pub(crate) fn db_path(&self) -> PathBuf {
        self.dirs.db_path()
    }

    pub(crate) fn dberr(&self, e: impl std::fmt::Display) -> StoreError {
        db_err(&self.db_path(), e)
    }

    /// A table that an older store may not have yet: `None` instead of an error.
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
        match &self.db {
            Db::Rw(d) => d.begin_read(),
            Db::Ro(d) => d.begin_read(),
        }
        .map_err(|e| self.dberr(e))
    }

    /// Starts a write session (one redb transaction plus pack appends). Sessions on one store
    /// are serialized by redb's writer lock; do not open two on the same thread.
    pub fn write(self: &Arc<Self>) -> Result<WriteSession> {
        let Db::Rw(db) = &self.db else {
            return Err(self.dberr("opened read-only"));
        };
        let txn = db.begin_write().map_err(|e| self.dberr(e))?;
        let taken = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        let committed = read_segments(&txn, self)?;
        // A writer is handed back after its session's commit, when redb's writer lock is free
        // again: another session may have begun, opened its own writer and committed in
        // between. Only a writer that matches the committed state is used again.
        let pack = match taken {
            Some(p) if p.matches(&committed) => p,
            _ => {
                let retired = read_retired(&txn, self)?;
                PackWriter::open(
                    &self.dirs.pack_dir(),
                    &committed,
                    &retired,
                    self.segment_bytes,
                )?
            }
        };
        let (next_num, counters) = read_counters_w(&txn, self)?;
        Ok(WriteSession {
            store: self.clone(),
            txn: Some(txn),
            pack: Some(pack),
            next_num,
            counters,
            mended: Mended::default(),
            recovery: Vec::new(),
        })
    }

    /// Whether a blob is already stored (a snapshot: the writer re-checks).
    pub fn has_blob(&self, id: &[u8; 32]) -> Result<bool> {
        let t = self.read_txn()?;
        let blobs = t.open_table(BLOBS).map_err(|e| self.dberr(e))?;
        Ok(blobs
            .get(id.as_slice())
            .map_err(|e| self.dberr(e))?
            .is_some())
    }

    pub fn has_content(&self, hash: &ContentHash) -> Result<bool> {
        let t = self.read_txn()?;
        let c = t.open_table(CONTENTS).map_err(|e| self.dberr(e))?;
        Ok(c.get(self.keys.content_key(hash).as_slice())
            .map_err(|e| self.dberr(e))?
            .is_some())
    }

    /// Cuts a message into sealed blobs, skipping blobs the store already has.
    pub fn prepare(
        &self,
        raw: &[u8],
        hash: ContentHash,
        parsed: &arkiv_message::ParsedMessage,
        threshold: usize,
    ) -> Result<PreparedContent> {
        let t = self.read_txn()?;
        let blobs = t.open_table(BLOBS).map_err(|e| self.dberr(e))?;
        // A damaged blob is stored again rather than shared.
        let exists = |id: &[u8; 32]| {
            matches!(blobs.get(id.as_slice()), Ok(Some(_))) && !self.blob_is_damaged(id)
        };
        recipe::prepare(&self.keys, raw, hash, parsed, threshold, &exists)
    }

    pub fn placement_key(&self, folder: FolderId, hash: &ContentHash) -> [u8; 32] {
        self.keys
            .placement_ids
            .hash_parts(&[&folder.0.to_le_bytes(), &hash.0])
    }

    pub(crate) fn source_key(&self, source: &str, user: UserId, hash: &ContentHash) -> [u8; 32] {
        self.keys
            .source_ids
            .hash_parts(&[source.as_bytes(), &user.0.to_le_bytes(), &hash.0])
    }

    /// The message holding `hash` in `folder`, if any.
    pub fn find_placement(&self, folder: FolderId, hash: &ContentHash) -> Result<Option<u64>> {
        let t = self.read_txn()?;
        let p = t.open_table(PLACEMENTS).map_err(|e| self.dberr(e))?;
        Ok(p.get(self.placement_key(folder, hash).as_slice())
            .map_err(|e| self.dberr(e))?
            .map(|v| v.value()))
    }

    /// Messages archived from `source` with `hash` for `user`.
    pub fn source_items(&self, source: &str, user: UserId, hash: &ContentHash) -> Result<Vec<u64>> {
        let t = self.read_txn()?;
        let s = t.open_table(SOURCE_ITEMS).map_err(|e| self.dberr(e))?;
        let v = s
            .get(self.source_key(source, user, hash).as_slice())
            .map_err(|e| self.dberr(e))?;
        Ok(
            v.map(|v| postcard::from_bytes(v.value()).unwrap_or_default())
                .unwrap_or_default(),
        )
    }

    pub fn message(&self, num: u64) -> Result<MessageRecord> {
        let t = self.read_txn()?;
        let m = t.open_table(MESSAGES).map_err(|e| self.dberr(e))?;
        let v = m
            .get(num)
            .map_err(|e| self.dberr(e))?
            .ok_or(StoreError::NoSuchMessage(MessageId::new(self.id, num)))?;
        records::open(
            &self.keys.record_sealer,
            &records::message_ad(num),
            v.value(),
            "a message record",
        )
    }

    /// The SMTP envelope a message arrived with (journaled messages only).
    pub fn envelope(&self, num: u64) -> Result<Option<Envelope>> {
        let t = self.read_txn()?;
        let Some(table) = self.optional_table(&t, ENVELOPES)? else {
            return Ok(None);
        };
        let Some(v) = table.get(num).map_err(|e| self.dberr(e))? else {
            return Ok(None);
        };
        records::open(
            &self.keys.record_sealer,
            &records::envelope_ad(num),
            v.value(),
            "a message envelope",
        )
        .map(Some)
    }

    /// All message numbers, in order.
    pub fn message_nums(&self) -> Result<Vec<u64>> {
        let t = self.read_txn()?;
        let m = t.open_table(MESSAGES).map_err(|e| self.dberr(e))?;
        let mut out = Vec::new();
        for r in m.iter().map_err(|e| self.dberr(e))? {
            out.push(r.map_err(|e| self.dberr(e))?.0.value());
        }
        Ok(out)
    }

    /// The original bytes of a message, checked against its hash.
    pub fn read_message(&self, num: u64) -> Result<Vec<u8>> {
        let rec = self.message(num)?;
        self.read_content(&rec.content_key)
            .map_err(|e| StoreError::Damaged {
                id: MessageId::new(self.id, num).to_string(),
                detail: match self.damaged_message(num) {
                    Some(why) => format!("{why} ({e})"),
                    None => e.to_string(),
                },
            })
    }

    /// Whether the store holds the bytes with `hash`, read back and checked against it (what
    /// a source checks before it deletes a message at its origin).
    pub fn verify_content(&self, hash: &ContentHash) -> Result<bool> {
        if !self.has_content(hash)? {
            return Ok(false);
        }
        let bytes = self.read_content(&self.keys.content_key(hash))?;
        Ok(ContentHash::of(&bytes) == *hash)
    }

    pub(crate) fn content_record(&self, key: &[u8; 32]) -> Result<ContentRecord> {
        let t = self.read_txn()?;
        let c = t.open_table(CONTENTS).map_err(|e| self.dberr(e))?;
        let v = c
            .get(key.as_slice())
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| StoreError::Malformed {
                what: "content".into(),
                detail: "content record missing".into(),
            })?;
        records::open(
            &self.keys.record_sealer,
            &records::content_ad(key),
            v.value(),
            "a content record",
        )
    }

    pub(crate) fn read_content(&self, key: &[u8; 32]) -> Result<Vec<u8>> {
        // A compaction may have moved the blobs and deleted the pack between this read's
        // snapshot and its file access: a second try sees the new places.
        self.read_content_once(key)
            .or_else(|_| self.read_content_once(key))
    }

    fn read_content_once(&self, key: &[u8; 32]) -> Result<Vec<u8>> {
        let rec = self.content_record(key)?;
        let t = self.read_txn()?;
        let blobs = t.open_table(BLOBS).map_err(|e| self.dberr(e))?;
        let mut read = |id: &[u8; 32]| -> Result<Vec<u8>> {
            let loc = blobs
                .get(id.as_slice())
                .map_err(|e| self.dberr(e))?
                .ok_or_else(|| StoreError::Malformed {
                    what: "blob".into(),
                    detail: "blob missing from the index".into(),
                })?;
            let loc: BlobLoc =
                postcard::from_bytes(loc.value()).map_err(|e| StoreError::Malformed {
                    what: "blob location".into(),
                    detail: e.to_string(),
                })?;
            self.read_blob(id, &loc)
        };
        let bytes = recipe::reconstruct(&rec, &mut read)?;
        if bytes.len() as u64 != rec.size || ContentHash::of(&bytes) != rec.hash {
            return Err(StoreError::Malformed {
                what: "content".into(),
                detail: "hash mismatch after reconstruction".into(),
            });
        }
        Ok(bytes)
    }

    pub(crate) fn read_blob(&self, id: &[u8; 32], loc: &BlobLoc) -> Result<Vec<u8>> {
        let path = pack::pack_path(&self.dirs.pack_dir(), loc.seg);
        let file = self.pack_file(loc.seg)?;
        let rec = pack::read_at(&file, &path, loc.off, HEADER_LEN + loc.len as usize)?;
        match blob::parse_header(&rec) {
            Some((k, len)) if &k == id && len == loc.len => {}
            _ => {
                return Err(StoreError::Malformed {
                    what: format!("blob at {}:{}", path.display(), loc.off),
                    detail: "record header does not match the index".into(),
                });
            }
        }
        blob::open(
            &self.keys.blob_sealer,
            id,
            &rec[HEADER_LEN..],
            "a content blob",
        )
    }

    /// Whether the store keeps this copy of the installation's recovery wrap (see
    /// `Keyring::recovery_wrap`); [`Store::set_recovery_wrap`] writes it.
    pub fn has_recovery_wrap(&self, wrap: &[u8]) -> Result<bool> {
        let t = self.read_txn()?;
        let info = t.open_table(INFO).map_err(|e| self.dberr(e))?;
        Ok(info
            .get("recovery_wrap")
            .map_err(|e| self.dberr(e))?
            .is_some_and(|v| v.value() == wrap))
    }

    /// Keeps a copy of the installation's master key sealed by its recovery key, so that this
    /// store can be unlocked by another installation given that recovery key.
    pub fn set_recovery_wrap(&self, wrap: &[u8]) -> Result<()> {
        let Db::Rw(db) = &self.db else {
            return Err(self.dberr("opened read-only"));
        };
        let txn = db.begin_write().map_err(|e| self.dberr(e))?;
        txn.open_table(INFO)
            .map_err(|e| self.dberr(e))?
            .insert("recovery_wrap", wrap)
            .map_err(|e| self.dberr(e))?;
        txn.commit().map_err(|e| self.dberr(e))?;
        self.write_keys_file()
    }

    /// Re-keys a store of another installation for this one (API `UnlockStore`): its data key
    /// is unwrapped with the other installation's master key, opened from the store's recovery
    /// wrap with `recovery`, and wrapped again with `master`; `wrap` becomes the new recovery
    /// wrap. The store must not be open.
    pub fn unlock(
        dirs: &StoreDirs,
        recovery: &arkiv_crypto::RecoveryKey,
        master: &MasterKey,
        wrap: &[u8],
    ) -> Result<()> {
        let path = dirs.db_path();
        let db = open_db(&path, false)?;
        let txn = db.begin_write().map_err(|e| db_err(&path, e))?;
        {
            let mut info = txn.open_table(INFO).map_err(|e| db_err(&path, e))?;
            let get = |info: &redb::Table<&str, &[u8]>, k: &str| -> Result<Vec<u8>> {
                info.get(k)
                    .map_err(|e| db_err(&path, e))?
                    .map(|v| v.value().to_vec())
                    .ok_or_else(|| db_err(&path, format!("missing '{k}' (a store made before stores kept a recovery wrap cannot be unlocked)")))
            };
            let uuid = String::from_utf8(get(&info, "uuid")?).map_err(|e| db_err(&path, e))?;
            let foreign = arkiv_crypto::Keyring::master_from_recovery_wrap(
                &get(&info, "recovery_wrap")?,
                recovery,
            )?;
            let dk = foreign.unwrap_data_key(&get(&info, "data_key")?, &uuid)?;
            let rewrapped = master.wrap_data_key(&dk, &uuid)?;
            info.insert("data_key", rewrapped.as_slice())
                .map_err(|e| db_err(&path, e))?;
            info.insert("recovery_wrap", wrap)
                .map_err(|e| db_err(&path, e))?;
            crate::recovery::write_keys_file(&dirs.content, &uuid, &rewrapped, Some(wrap))?;
        }
        txn.commit().map_err(|e| db_err(&path, e))
    }

    /// `RenewMasterKey`, before the keyring is written: this store's data key wrapped by the
    /// new master key, and the new recovery wrap, are kept beside the current ones
    /// (`data_key_next`, `recovery_wrap_next`); the current ones still open it.
    pub fn stage_master_key(&self, old: &MasterKey, new: &MasterKey, wrap: &[u8]) -> Result<()> {
        let db = self.rw_db().ok_or_else(|| self.dberr("opened read-only"))?;
        stage_in(db, &self.db_path(), old, new, wrap)?;
        sync_keys(db, &self.db_path(), &self.dirs.content)
    }

    /// [`Store::stage_master_key`] for a store that is not open (disabled, say).
    pub fn stage_master_key_closed(
        dirs: &StoreDirs,
        old: &MasterKey,
        new: &MasterKey,
        wrap: &[u8],
    ) -> Result<()> {
        let path = dirs.db_path();
        let db = open_db(&path, false)?;
        stage_in(&db, &path, old, new, wrap)?;
        sync_keys(&db, &path, &dirs.content)
    }

    /// `RenewMasterKey`, after the keyring is written: the staged wraps replace the current
    /// ones (and `store.keys`). A store not reached now is promoted at its next writable open.
    pub fn promote_master_key(&self, new: &MasterKey) -> Result<()> {
        let db = self.rw_db().ok_or_else(|| self.dberr("opened read-only"))?;
        promote_in(db, &self.db_path(), new, &self.dirs.content)
    }

    /// [`Store::promote_master_key`] for a store that is not open.
    pub fn promote_master_key_closed(dirs: &StoreDirs, new: &MasterKey) -> Result<()> {
        let path = dirs.db_path();
        let db = open_db(&path, false)?;
        promote_in(&db, &path, new, &dirs.content)
    }

    /// The folder names the store keeps (folder id → name).
    pub fn folder_names(&self) -> Result<BTreeMap<FolderId, StoreFolder>> {
        let t = self.read_txn()?;
        let Some(names) = self.optional_table(&t, FOLDER_NAMES)? else {
            return Ok(BTreeMap::new());
        };
        let mut out = BTreeMap::new();
        for r in names.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let f: StoreFolder = records::open(
                &self.keys.record_sealer,
                &records::folder_ad(k.value()),
                v.value(),
                "a folder name",
            )?;
            out.insert(FolderId(k.value()), f);
        }
        Ok(out)
    }

    /// Drops cached handles of packs that no longer exist (after a compaction).
    pub(crate) fn forget_packs(&self, segs: &[u32]) {
        let mut r = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        for s in segs {
            r.remove(s);
        }
    }

    /// The writable database, for maintenance that needs it to itself.
    pub(crate) fn database_mut(&mut self) -> Result<&mut Database> {
        let path = self.db_path();
        match &mut self.db {
            Db::Rw(d) => Ok(d),
            Db::Ro(_) => Err(db_err(&path, "opened read-only")),
        }
    }

    pub(crate) fn pack_file(&self, seg: u32) -> Result<Arc<File>> {
        let mut r = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = r.get(&seg) {
            return Ok(f.clone());
        }
        let path = pack::pack_path(&self.dirs.pack_dir(), seg);
        let f = Arc::new(File::open(&path).map_err(|e| io_err(&path, e))?);
        r.insert(seg, f.clone());
        Ok(f)
    }

    /// Message numbers in a folder.
    pub fn folder_messages(&self, folder: FolderId) -> Result<Vec<u64>> {
        let t = self.read_txn()?;
        let fm = t.open_table(FOLDER_MESSAGES).map_err(|e| self.dberr(e))?;
        let mut out = Vec::new();
        for r in fm
            .range((folder.0, 0)..=(folder.0, u64::MAX))
            .map_err(|e| self.dberr(e))?
        {
            out.push(r.map_err(|e| self.dberr(e))?.0.value().1);
        }
        Ok(out)
    }

    /// Per folder: (messages, original bytes).
    pub fn folder_counts(&self) -> Result<BTreeMap<FolderId, (u64, u64)>> {
        let t = self.read_txn()?;
        let fc = t.open_table(FOLDER_COUNTS).map_err(|e| self.dberr(e))?;
        let mut out = BTreeMap::new();
        for r in fc.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            out.insert(FolderId(k.value()), v.value());
        }
        Ok(out)
    }

    /// Up to `limit` messages whose search index entry is missing or stale.
    pub fn unindexed(&self, limit: usize) -> Result<Vec<u64>> {
        let t = self.read_txn()?;
        let Some(u) = self.optional_table(&t, UNINDEXED)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for r in u.iter().map_err(|e| self.dberr(e))?.take(limit) {
            out.push(r.map_err(|e| self.dberr(e))?.0.value());
        }
        Ok(out)
    }

    pub fn counters(&self) -> Result<StoreCounters> {
        let t = self.read_txn()?;
        let info = t.open_table(INFO).map_err(|e| self.dberr(e))?;
        let v = info
            .get("counters")
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| self.dberr("counters missing"))?;
        let (_, c): (u64, StoreCounters) =
            postcard::from_bytes(v.value()).map_err(|e| self.dberr(e))?;
        Ok(c)
    }
}

/// Every table of a store (created empty where missing).
pub(crate) fn create_tables(txn: &WriteTransaction) -> std::result::Result<(), redb::TableError> {
    txn.open_table(INFO)?;
    txn.open_table(SEGMENTS)?;
    txn.open_table(BLOBS)?;
    txn.open_table(CONTENTS)?;
    txn.open_table(MESSAGES)?;
    txn.open_table(PLACEMENTS)?;
    txn.open_table(SOURCE_ITEMS)?;
    txn.open_table(FOLDER_MESSAGES)?;
    txn.open_table(FOLDER_COUNTS)?;
    txn.open_table(UNINDEXED)?;
    txn.open_table(FOLDER_NAMES)?;
    txn.open_table(ENVELOPES)?;
    txn.open_table(RETIRED)?;
    txn.open_table(crate::recovery::RECOVERY)?;
    Ok(())
}

fn info_get(info: &redb::Table<&str, &[u8]>, path: &Path, k: &str) -> Result<Option<Vec<u8>>> {
    Ok(info
        .get(k)
        .map_err(|e| db_err(path, e))?
        .map(|v| v.value().to_vec()))
}

fn stage_in(
    db: &Database,
    path: &Path,
    old: &MasterKey,
    new: &MasterKey,
    wrap: &[u8],
) -> Result<()> {
    let txn = db.begin_write().map_err(|e| db_err(path, e))?;
    {
        let mut info = txn.open_table(INFO).map_err(|e| db_err(path, e))?;
        let uuid = String::from_utf8(info_get(&info, path, "uuid")?.unwrap_or_default())
            .map_err(|e| db_err(path, e))?;
        let wrapped =
            info_get(&info, path, "data_key")?.ok_or_else(|| db_err(path, "data key missing"))?;
        let dk = old.unwrap_data_key(&wrapped, &uuid)?;
        let next = new.wrap_data_key(&dk, &uuid)?;
        info.insert("data_key_next", next.as_slice())
            .map_err(|e| db_err(path, e))?;
        info.insert("recovery_wrap_next", wrap)
            .map_err(|e| db_err(path, e))?;
    }
    txn.commit().map_err(|e| db_err(path, e))
}

/// Promotes staged wraps that `master` opens (the keyring was committed); drops staged wraps
/// it does not (the renewal never committed). Nothing staged: nothing to do.
fn promote_in(db: &Database, path: &Path, master: &MasterKey, content: &Path) -> Result<()> {
    {
        let t = db.begin_read().map_err(|e| db_err(path, e))?;
        let info = t.open_table(INFO).map_err(|e| db_err(path, e))?;
        if info
            .get("data_key_next")
            .map_err(|e| db_err(path, e))?
            .is_none()
        {
            return Ok(());
        }
    }
    let txn = db.begin_write().map_err(|e| db_err(path, e))?;
    {
        let mut info = txn.open_table(INFO).map_err(|e| db_err(path, e))?;
        let uuid = String::from_utf8(info_get(&info, path, "uuid")?.unwrap_or_default())
            .map_err(|e| db_err(path, e))?;
        let next = info_get(&info, path, "data_key_next")?.unwrap_or_default();
        let wrap = info_get(&info, path, "recovery_wrap_next")?;
        if master.unwrap_data_key(&next, &uuid).is_ok() {
            info.insert("data_key", next.as_slice())
                .map_err(|e| db_err(path, e))?;
            if let Some(w) = &wrap {
                info.insert("recovery_wrap", w.as_slice())
                    .map_err(|e| db_err(path, e))?;
            }
        }
        info.remove("data_key_next").map_err(|e| db_err(path, e))?;
        info.remove("recovery_wrap_next")
            .map_err(|e| db_err(path, e))?;
    }
    txn.commit().map_err(|e| db_err(path, e))?;
    sync_keys(db, path, content)
}

/// `store.keys` made to say what the database's info table says.
fn sync_keys(db: &Database, path: &Path, content: &Path) -> Result<()> {
    sync_keys_txn(
        &db.begin_read().map_err(|e| db_err(path, e))?,
        path,
        content,
    )
}

/// [`sync_keys`] in a read transaction the caller has.
pub(crate) fn sync_keys_txn(t: &redb::ReadTransaction, path: &Path, content: &Path) -> Result<()> {
    let info = t.open_table(INFO).map_err(|e| db_err(path, e))?;
    let get = |k: &str| -> Result<Option<Vec<u8>>> {
        Ok(info
            .get(k)
            .map_err(|e| db_err(path, e))?
            .map(|v| v.value().to_vec()))
    };
    crate::recovery::sync_keys_file(&get, path, content)
}

fn read_segments(txn: &WriteTransaction, store: &Store) -> Result<BTreeMap<u32, u64>> {
    let t = txn.open_table(SEGMENTS).map_err(|e| store.dberr(e))?;
    let mut out = BTreeMap::new();
    for r in t.iter().map_err(|e| store.dberr(e))? {
        let (k, v) = r.map_err(|e| store.dberr(e))?;
        out.insert(k.value(), v.value());
    }
    Ok(out)
}

/// Packs a committed compaction rewrote (their files may still await deletion).
fn read_retired(txn: &WriteTransaction, store: &Store) -> Result<std::collections::BTreeSet<u32>> {
    let t = txn.open_table(RETIRED).map_err(|e| store.dberr(e))?;
    let mut out = std::collections::BTreeSet::new();
    for r in t.iter().map_err(|e| store.dberr(e))? {
        out.insert(r.map_err(|e| store.dberr(e))?.0.value());
    }
    Ok(out)
}

fn read_counters_w(txn: &WriteTransaction, store: &Store) -> Result<(u64, StoreCounters)> {
    let info = txn.open_table(INFO).map_err(|e| store.dberr(e))?;
    let v = info
        .get("counters")
        .map_err(|e| store.dberr(e))?
        .ok_or_else(|| store.dberr("counters missing"))?;
    postcard::from_bytes(v.value()).map_err(|e| store.dberr(e))
}

fn new_uuid() -> Result<String> {
    let mut b = [0u8; 16];
    arkiv_crypto::random_bytes(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// One write transaction on a store. Nothing is visible or durable until [`WriteSession::commit`].
pub struct WriteSession {
    store: Arc<Store>,
    /// `None` only after commit or abort.
    txn: Option<WriteTransaction>,
    /// Taken from the store for the session; given back on a successful commit.
    pack: Option<PackWriter>,
    next_num: u64,
    pub(crate) counters: StoreCounters,
    /// Damage this session mends or removes: forgotten when it commits.
    mended: Mended,
    /// What this session changed, for its recovery record (written at commit).
    recovery: Vec<Entry>,
}

#[derive(Default)]
struct Mended {
    messages: Vec<u64>,
    contents: Vec<[u8; 32]>,
    blobs: Vec<[u8; 32]>,
}

impl WriteSession {
    pub(crate) fn tx(&self) -> &WriteTransaction {
        self.txn.as_ref().expect("session is open")
    }

    pub(crate) fn e(&self, e: impl std::fmt::Display) -> StoreError {
        self.store.dberr(e)
    }

    pub(crate) fn pack_mut(&mut self) -> &mut PackWriter {
        self.pack
            .as_mut()
            .expect("pack writer opened with the session")
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Messages in the store including this session's.
    pub fn message_count(&self) -> u64 {
        self.counters.messages
    }

    pub fn has_content(&self, content_key: &[u8; 32]) -> Result<bool> {
        let c = self.tx().open_table(CONTENTS).map_err(|e| self.e(e))?;
        Ok(c.get(content_key.as_slice())
            .map_err(|e| self.e(e))?
            .is_some())
    }

    /// Stores the content if the store does not have it yet. `raw` is needed only when a blob
    /// the preparation skipped as existing is missing now (it cannot be, blobs are never removed
    /// while a session runs, but the writer does not rely on that).
    pub fn store_content(
        &mut self,
        prepared: &PreparedContent,
        raw: &[u8],
        parsed: &arkiv_message::ParsedMessage,
        threshold: usize,
    ) -> Result<()> {
        // A content known to be damaged is stored again: the messages that have it read
        // whole again (an archiving run that meets a damaged message mends it).
        let damaged = self.store.content_is_damaged(&prepared.content_key);
        if self.has_content(&prepared.content_key)? && !damaged {
            return Ok(());
        }
        let mut needed: Vec<[u8; 32]> = vec![prepared.record.skeleton];
        needed.extend(prepared.record.inserts.iter().map(|i| i.blob));
        let mut missing = Vec::new();
        let mut replaced = Vec::new();
        {
            let blobs = self.tx().open_table(BLOBS).map_err(|e| self.e(e))?;
            for id in &needed {
                let indexed = blobs.get(id.as_slice()).map_err(|e| self.e(e))?.is_some();
                let bad = indexed && self.store.blob_is_damaged(id);
                if (!indexed || bad) && !missing.contains(id) {
                    missing.push(*id);
                    if bad {
                        replaced.push(*id);
                    }
                }
            }
        }
        let mut sealed: Vec<&blob::SealedBlob> = Vec::new();
        let mut fresh = None;
        for id in &missing {
            match prepared.blobs.iter().find(|b| &b.key == id) {
                Some(b) => sealed.push(b),
                None => {
                    fresh = Some(recipe::prepare(
                        self.store.keys(),
                        raw,
                        prepared.hash,
                        parsed,
                        threshold,
                        &|_| false,
                    )?);
                    break;
                }
            }
        }
        if let Some(f) = &fresh {
            sealed = f
                .blobs
                .iter()
                .filter(|b| missing.contains(&b.key))
                .collect();
        }
        let pack = self
            .pack
            .as_mut()
            .expect("pack writer opened with the session");
        let mut locs = Vec::with_capacity(sealed.len());
        for b in sealed {
            let (seg, off) = pack.append(&b.record)?;
            let loc = BlobLoc {
                seg,
                off,
                len: (b.record.len() - HEADER_LEN) as u32,
                raw_len: b.raw_len,
            };
            locs.push((b.key, loc));
            if !replaced.contains(&b.key) {
                self.counters.blobs += 1;
                self.counters.blob_bytes += b.raw_len;
            }
            self.counters.stored_bytes += b.record.len() as u64;
        }
        {
            let mut blobs = self.tx().open_table(BLOBS).map_err(|e| self.e(e))?;
            for (key, loc) in &locs {
                let v = postcard::to_stdvec(loc).expect("serializes");
                blobs
                    .insert(key.as_slice(), v.as_slice())
                    .map_err(|e| self.e(e))?;
            }
        }
        let record = fresh
            .as_ref()
            .map(|f| &f.record)
            .unwrap_or(&prepared.record);
        let sealed = records::seal(
            &self.store.keys.record_sealer,
            &records::content_ad(&prepared.content_key),
            record,
        )?;
        {
            let mut c = self.tx().open_table(CONTENTS).map_err(|e| self.e(e))?;
            c.insert(prepared.content_key.as_slice(), sealed.as_slice())
                .map_err(|e| self.e(e))?;
        }
        self.recovery.push(Entry::Content {
            key: prepared.content_key,
            record: record.clone(),
        });
        if damaged {
            let mended: Vec<u64> = self
                .store
                .damage()
                .messages
                .iter()
                .filter(|(_, (_, c))| *c == Some(prepared.content_key))
                .map(|(n, _)| *n)
                .collect();
            {
                let mut t = self.tx().open_table(DAMAGED).map_err(|e| self.e(e))?;
                for n in &mended {
                    t.remove(*n).map_err(|e| self.e(e))?;
                }
            }
            self.mended.contents.push(prepared.content_key);
        }
        if !replaced.is_empty() {
            let mut t = self.tx().open_table(DAMAGED_BLOBS).map_err(|e| self.e(e))?;
            for b in &replaced {
                t.remove(b.as_slice()).map_err(|e| self.e(e))?;
            }
        }
        self.mended.blobs.extend(replaced);
        if damaged {
            return Ok(());
        }
        self.counters.contents += 1;
        self.counters.content_bytes += prepared.size;
        Ok(())
    }

    pub fn find_placement(&self, folder: FolderId, hash: &ContentHash) -> Result<Option<u64>> {
        let p = self.tx().open_table(PLACEMENTS).map_err(|e| self.e(e))?;
        let key = self.store.placement_key(folder, hash);
        Ok(p.get(key.as_slice())
            .map_err(|e| self.e(e))?
            .map(|v| v.value()))
    }

    pub fn source_items(&self, source: &str, user: UserId, hash: &ContentHash) -> Result<Vec<u64>> {
        let s = self.tx().open_table(SOURCE_ITEMS).map_err(|e| self.e(e))?;
        let v = s
            .get(self.store.source_key(source, user, hash).as_slice())
            .map_err(|e| self.e(e))?;
        Ok(
            v.map(|v| postcard::from_bytes(v.value()).unwrap_or_default())
                .unwrap_or_default(),
        )
    }

    /// Adds a message whose content is stored (see [`WriteSession::store_content`]).
    pub fn add_message(&mut self, record: &MessageRecord) -> Result<MessageId> {
        if !self.has_content(&record.content_key)? {
            return Err(StoreError::Malformed {
                what: "message".into(),
                detail: "content not stored".into(),
            });
        }
        let num = self.next_num;
        self.next_num += 1;
        let sealed = records::seal(
            &self.store.keys.record_sealer,
            &records::message_ad(num),
            record,
        )?;
        self.tx()
            .open_table(MESSAGES)
            .map_err(|e| self.e(e))?
            .insert(num, sealed.as_slice())
            .map_err(|e| self.e(e))?;
        let pkey = self.store.placement_key(record.folder, &record.hash);
        self.tx()
            .open_table(PLACEMENTS)
            .map_err(|e| self.e(e))?
            .insert(pkey.as_slice(), num)
            .map_err(|e| self.e(e))?;
        self.tx()
            .open_table(FOLDER_MESSAGES)
            .map_err(|e| self.e(e))?
            .insert((record.folder.0, num), ())
            .map_err(|e| self.e(e))?;
        self.bump_folder(record.folder, 1, record.size as i64)?;
        if let Some(src) = &record.source {
            let mut items = self.source_items(src, record.user, &record.hash)?;
            items.push(num);
            let skey = self.store.source_key(src, record.user, &record.hash);
            let v = postcard::to_stdvec(&items).expect("serializes");
            self.tx()
                .open_table(SOURCE_ITEMS)
                .map_err(|e| self.e(e))?
                .insert(skey.as_slice(), v.as_slice())
                .map_err(|e| self.e(e))?;
        }
        self.counters.messages += 1;
        self.counters.original_bytes += record.size;
        self.mark_unindexed(num)?;
        self.recovery.push(Entry::Message {
            num,
            record: record.clone(),
        });
        Ok(MessageId::new(self.store.id, num))
    }

    /// Keeps the SMTP envelope a message (added in this session or before) arrived with.
    pub fn set_envelope(&mut self, num: u64, envelope: &Envelope) -> Result<()> {
        let sealed = records::seal(
            &self.store.keys.record_sealer,
            &records::envelope_ad(num),
            envelope,
        )?;
        self.tx()
            .open_table(ENVELOPES)
            .map_err(|e| self.e(e))?
            .insert(num, sealed.as_slice())
            .map_err(|e| self.e(e))?;
        self.recovery.push(Entry::Envelope {
            num,
            envelope: envelope.clone(),
        });
        Ok(())
    }

    /// The SMTP envelope of a message, read inside this session.
    pub fn read_envelope(&self, num: u64) -> Result<Option<Envelope>> {
        let t = self.tx().open_table(ENVELOPES).map_err(|e| self.e(e))?;
        let Some(v) = t.get(num).map_err(|e| self.e(e))? else {
            return Ok(None);
        };
        records::open(
            &self.store.keys.record_sealer,
            &records::envelope_ad(num),
            v.value(),
            "a message envelope",
        )
        .map(Some)
    }

    /// A message's record, read inside this session.
    fn read_record(&self, num: u64) -> Result<MessageRecord> {
        let m = self.tx().open_table(MESSAGES).map_err(|e| self.e(e))?;
        let v = m
            .get(num)
            .map_err(|e| self.e(e))?
            .ok_or(StoreError::NoSuchMessage(MessageId::new(
                self.store.id,
                num,
            )))?;
        records::open(
            &self.store.keys.record_sealer,
            &records::message_ad(num),
            v.value(),
            "a message record",
        )
    }

    /// Removes a message from the store: its record, folder entry and placement. Its content
    /// stays (other messages may share it; compaction frees what nothing uses). The number is
    /// listed as unindexed, so a crash before the index forgets it is repaired by the catch-up.
    pub fn remove_message(&mut self, num: u64) -> Result<MessageRecord> {
        let rec = self.read_record(num)?;
        self.tx()
            .open_table(MESSAGES)
            .map_err(|e| self.e(e))?
            .remove(num)
            .map_err(|e| self.e(e))?;
        self.tx()
            .open_table(ENVELOPES)
            .map_err(|e| self.e(e))?
            .remove(num)
            .map_err(|e| self.e(e))?;
        self.tx()
            .open_table(DAMAGED)
            .map_err(|e| self.e(e))?
            .remove(num)
            .map_err(|e| self.e(e))?;
        self.mended.messages.push(num);
        {
            let key = self.store.placement_key(rec.folder, &rec.hash);
            let mut p = self.tx().open_table(PLACEMENTS).map_err(|e| self.e(e))?;
            let points_here = p
                .get(key.as_slice())
                .map_err(|e| self.e(e))?
                .is_some_and(|v| v.value() == num);
            if points_here {
                p.remove(key.as_slice()).map_err(|e| self.e(e))?;
            }
        }
        self.tx()
            .open_table(FOLDER_MESSAGES)
            .map_err(|e| self.e(e))?
            .remove((rec.folder.0, num))
            .map_err(|e| self.e(e))?;
        self.bump_folder(rec.folder, -1, -(rec.size as i64))?;
        if let Some(src) = &rec.source {
            let mut items = self.source_items(src, rec.user, &rec.hash)?;
            items.retain(|n| *n != num);
            let skey = self.store.source_key(src, rec.user, &rec.hash);
            let mut t = self.tx().open_table(SOURCE_ITEMS).map_err(|e| self.e(e))?;
            if items.is_empty() {
                t.remove(skey.as_slice()).map_err(|e| self.e(e))?;
            } else {
                let v = postcard::to_stdvec(&items).expect("serializes");
                t.insert(skey.as_slice(), v.as_slice())
                    .map_err(|e| self.e(e))?;
            }
        }
        self.counters.messages = self.counters.messages.saturating_sub(1);
        self.counters.original_bytes = self.counters.original_bytes.saturating_sub(rec.size);
        self.mark_unindexed(num)?;
        self.recovery.push(Entry::Removed { num });
        Ok(rec)
    }

    /// Moves a message to another folder (a re-run saw it moved in its source).
    pub fn move_message(&mut self, num: u64, to: FolderId) -> Result<()> {
        let mut rec = self.read_record(num)?;
        let from = rec.folder;
        if from == to {
            return Ok(());
        }
        rec.folder = to;
        let sealed = records::seal(
            &self.store.keys.record_sealer,
            &records::message_ad(num),
            &rec,
        )?;
        self.tx()
            .open_table(MESSAGES)
            .map_err(|e| self.e(e))?
            .insert(num, sealed.as_slice())
            .map_err(|e| self.e(e))?;
        {
            let mut p = self.tx().open_table(PLACEMENTS).map_err(|e| self.e(e))?;
            p.remove(self.store.placement_key(from, &rec.hash).as_slice())
                .map_err(|e| self.e(e))?;
            p.insert(self.store.placement_key(to, &rec.hash).as_slice(), num)
                .map_err(|e| self.e(e))?;
        }
        {
            let mut fm = self
                .tx()
                .open_table(FOLDER_MESSAGES)
                .map_err(|e| self.e(e))?;
            fm.remove((from.0, num)).map_err(|e| self.e(e))?;
            fm.insert((to.0, num), ()).map_err(|e| self.e(e))?;
        }
        self.bump_folder(from, -1, -(rec.size as i64))?;
        self.bump_folder(to, 1, rec.size as i64)?;
        self.recovery.push(Entry::Message { num, record: rec });
        // The index document names the folder (permissions filter on it): it must follow.
        self.mark_unindexed(num)
    }

    /// Replaces what a message record says of its headers (subject, addresses, attachment
    /// names) and its flag, when a newer decoder reads its unchanged bytes differently
    /// (`arkiv_message::charset::DECODER_VERSION`). Derived data, like the index: upkeep,
    /// allowed on a write-protected store. Returns whether anything changed.
    pub fn refresh_summary(
        &mut self,
        num: u64,
        summary: &arkiv_message::Summary,
        problem: Option<String>,
    ) -> Result<bool> {
        let mut rec = self.read_record(num)?;
        if rec.summary == *summary && rec.problem == problem {
            return Ok(false);
        }
        rec.summary = summary.clone();
        rec.problem = problem;
        let sealed = records::seal(
            &self.store.keys.record_sealer,
            &records::message_ad(num),
            &rec,
        )?;
        self.tx()
            .open_table(MESSAGES)
            .map_err(|e| self.e(e))?
            .insert(num, sealed.as_slice())
            .map_err(|e| self.e(e))?;
        self.recovery.push(Entry::Message { num, record: rec });
        Ok(true)
    }

    /// Records a folder's name in the store (see [`StoreFolder`]).
    pub fn set_folder_name(&mut self, folder: FolderId, name: &StoreFolder) -> Result<()> {
        let sealed = records::seal(
            &self.store.keys.record_sealer,
            &records::folder_ad(folder.0),
            name,
        )?;
        self.tx()
            .open_table(FOLDER_NAMES)
            .map_err(|e| self.e(e))?
            .insert(folder.0, sealed.as_slice())
            .map_err(|e| self.e(e))?;
        self.recovery.push(Entry::Folder {
            id: folder.0,
            name: name.clone(),
        });
        Ok(())
    }

    fn mark_unindexed(&mut self, num: u64) -> Result<()> {
        self.tx()
            .open_table(UNINDEXED)
            .map_err(|e| self.e(e))?
            .insert(num, ())
            .map_err(|e| self.e(e))?;
        Ok(())
    }

    /// Lists every message as unindexed (the search index is being rebuilt from scratch).
    pub fn mark_all_unindexed(&mut self) -> Result<u64> {
        let nums: Vec<u64> = {
            let m = self.tx().open_table(MESSAGES).map_err(|e| self.e(e))?;
            let mut v = Vec::new();
            for r in m.iter().map_err(|e| self.e(e))? {
                v.push(r.map_err(|e| self.e(e))?.0.value());
            }
            v
        };
        let mut u = self.tx().open_table(UNINDEXED).map_err(|e| self.e(e))?;
        for n in &nums {
            u.insert(*n, ()).map_err(|e| self.e(e))?;
        }
        Ok(nums.len() as u64)
    }

    /// Records that these messages' index documents are committed to the search index.
    pub fn mark_indexed(&mut self, nums: &[u64]) -> Result<()> {
        let mut u = self.tx().open_table(UNINDEXED).map_err(|e| self.e(e))?;
        for n in nums {
            u.remove(*n).map_err(|e| self.e(e))?;
        }
        Ok(())
    }

    fn bump_folder(&mut self, folder: FolderId, count: i64, bytes: i64) -> Result<()> {
        let mut fc = self.tx().open_table(FOLDER_COUNTS).map_err(|e| self.e(e))?;
        let (c, b) = fc
            .get(folder.0)
            .map_err(|e| self.e(e))?
            .map(|v| v.value())
            .unwrap_or((0, 0));
        let c = (c as i64 + count).max(0) as u64;
        let b = (b as i64 + bytes).max(0) as u64;
        if c == 0 {
            fc.remove(folder.0).map_err(|e| self.e(e))?;
        } else {
            fc.insert(folder.0, (c, b)).map_err(|e| self.e(e))?;
        }
        Ok(())
    }

    /// Makes the session durable: pack data first, then the database commit. What the
    /// session changed goes into its recovery record, appended before the pack sync.
    pub fn commit(mut self) -> Result<()> {
        if !self.recovery.is_empty() {
            let entries = std::mem::take(&mut self.recovery);
            self.append_recovery(&entries)?;
        }
        let pack = self
            .pack
            .as_mut()
            .expect("pack writer opened with the session");
        pack.sync()?;
        let lengths = std::mem::take(&mut pack.lengths);
        {
            let mut s = self.tx().open_table(SEGMENTS).map_err(|e| self.e(e))?;
            for (seg, len) in &lengths {
                s.insert(*seg, *len).map_err(|e| self.e(e))?;
            }
            let mut info = self.tx().open_table(INFO).map_err(|e| self.e(e))?;
            let c = postcard::to_stdvec(&(self.next_num, &self.counters)).expect("serializes");
            info.insert("counters", c.as_slice())
                .map_err(|e| self.e(e))?;
        }
        let txn = self.txn.take().expect("session is open");
        let res = txn.commit().map_err(|e| self.store.dberr(e));
        if res.is_ok() {
            *self.store.writer.lock().unwrap_or_else(|p| p.into_inner()) = self.pack.take();
            let m = std::mem::take(&mut self.mended);
            self.store.forget_damage(&m.messages, &m.contents, &m.blobs);
        }
        // On failure the database kept the old state; dropping the pack writer makes the next
        // session reopen the pack, cutting off the appended bytes.
        res
    }
}

impl Drop for WriteSession {
    /// A session dropped without commit (an error, a cancelled import) leaves no trace: redb
    /// rolls the transaction back, and the pack writer is reopened, which cuts the pack back
    /// to its committed length.
    fn drop(&mut self) {
        if let Some(txn) = self.txn.take() {
            let _ = txn.abort();
        }
    }
}
