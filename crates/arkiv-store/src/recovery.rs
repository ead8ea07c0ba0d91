//! Recovery records (manual §7.2: `RecoverStore`, `RecreateRecoveryRecords`, `VerifyStore`):
//! enough self-describing information in the packs to rebuild a store's database from its
//! content directory alone.
//!
//! ```text
//! record  = "AKR1" ‖ id (32) ‖ sealed length (u32 LE) ‖ sealed        (a blob's layout)
//! id      = seq (u64 LE) ‖ part (u32 LE) ‖ parts (u32 LE) ‖ snapshot (u8) ‖ 15 zero bytes
//! sealed  = XChaCha20-Poly1305(recovery sealer, ad = id, codec ‖ raw length ‖ postcard(entries))
//! ```
//!
//! * Every commit that changes primary data appends one record (`seq` = the store's next
//!   recovery sequence number) naming what it changed: message records (added, moved, their
//!   summary refreshed), messages removed, content records, SMTP envelopes, folder names.
//!   Blob locations need no entry: blob records name themselves, a walk of the packs finds
//!   them. Derived tables (placements, folder lists and counts, source items, counters) are
//!   rebuilt from the message records, as `RepairStoreDatabase` does.
//! * The record is appended to the pack before the pack's `fdatasync`, so it is exactly as
//!   durable as the commit it describes, and costs no extra sync (the SMTP receiver commits
//!   often). It is sealed under the store's data key like everything else.
//! * A **snapshot** (`RecreateRecoveryRecords`, every compaction, and the first writable open
//!   of a store written before recovery records existed) writes the whole state as parts of
//!   one sequence number. Rebuilding starts at the newest complete snapshot and replays what
//!   follows; older records are only read to bring back deleted messages
//!   (`recoverDeletedMessages`). A compaction drops older records from the packs it rewrites,
//!   so, as in MailStore, deleted messages cannot be brought back once it ran.
//! * The `recovery_records` table indexes where each record is (for verification and
//!   compaction); recovery itself reads only the packs.
//! * `store.keys` beside the packs keeps the store's uuid and its data key wrapped by the
//!   master key (and the master key sealed by the recovery key): with it, the content
//!   directory alone is a whole store. Written atomically (temp file, fsync, rename,
//!   directory fsync).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use arkiv_crypto::MasterKey;
use arkiv_types::{Envelope, MessageId, StoreId};
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::blob::{self, HEADER_LEN, MAGIC, MAGIC_RECOVERY};
use crate::error::{Result, StoreError, db_err, io_err};
use crate::pack;
use crate::records::{self, BlobLoc, ContentRecord, MessageRecord, StoreCounters, StoreFolder};
use crate::store::{
    BLOBS, CONTENTS, ENVELOPES, FOLDER_NAMES, INFO, MESSAGES, SEGMENTS, Store, StoreDirs,
    WriteSession,
};

/// (seq, part) → where the record is (a [`BlobLoc`]; `raw_len` is the entries' length).
pub(crate) const RECOVERY: TableDefinition<(u64, u32), &[u8]> =
    TableDefinition::new("recovery_records");

/// Beside the packs: the store's identity and wrapped data key.
pub(crate) const KEYS_FILE: &str = "store.keys";
const KEYS_FORMAT: &str = "arkiv-store-keys-1";
/// Entries per snapshot part: a part stays well under a megabyte.
const PART_ENTRIES: usize = 1000;

/// One change to the store's primary data.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Entry {
    /// A message record as it is now (added, moved, or its summary refreshed).
    Message {
        num: u64,
        record: MessageRecord,
    },
    Removed {
        num: u64,
    },
    Content {
        key: [u8; 32],
        record: ContentRecord,
    },
    Envelope {
        num: u64,
        envelope: Envelope,
    },
    Folder {
        id: u64,
        name: StoreFolder,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RecordId {
    seq: u64,
    part: u32,
    parts: u32,
    snapshot: bool,
}

impl RecordId {
    fn bytes(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&self.seq.to_le_bytes());
        b[8..12].copy_from_slice(&self.part.to_le_bytes());
        b[12..16].copy_from_slice(&self.parts.to_le_bytes());
        b[16] = u8::from(self.snapshot);
        b
    }

    fn parse(b: &[u8; 32]) -> Option<RecordId> {
        let id = RecordId {
            seq: u64::from_le_bytes(b[..8].try_into().ok()?),
            part: u32::from_le_bytes(b[8..12].try_into().ok()?),
            parts: u32::from_le_bytes(b[12..16].try_into().ok()?),
            snapshot: b[16] == 1,
        };
        (b[16] <= 1 && b[17..].iter().all(|x| *x == 0) && id.part < id.parts).then_some(id)
    }
}

/// The store's identity, kept beside its packs.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct KeysFile {
    format: String,
    uuid: String,
    /// The data key wrapped by the master key, bound to the uuid.
    data_key: Vec<u8>,
    /// The master key sealed by the recovery key (see `Store::set_recovery_wrap`).
    recovery_wrap: Option<Vec<u8>>,
    /// During a master key renewal: the data key wrapped by the new master key.
    data_key_next: Option<Vec<u8>>,
}

/// Writes `store.keys` in the content directory (atomically).
pub(crate) fn write_keys_file(
    content: &Path,
    uuid: &str,
    data_key: &[u8],
    recovery_wrap: Option<&[u8]>,
) -> Result<()> {
    write_keys(
        content,
        &KeysFile {
            format: KEYS_FORMAT.into(),
            uuid: uuid.into(),
            data_key: data_key.to_vec(),
            recovery_wrap: recovery_wrap.map(<[u8]>::to_vec),
            data_key_next: None,
        },
    )
}

/// Writes `store.keys` from a database's info values (`get`; with a staged renewal's wrap,
/// if any), unless it already says exactly that.
pub(crate) fn sync_keys_file(
    get: &dyn Fn(&str) -> Result<Option<Vec<u8>>>,
    path: &Path,
    content: &Path,
) -> Result<()> {
    let want = KeysFile {
        format: KEYS_FORMAT.into(),
        uuid: String::from_utf8(get("uuid")?.unwrap_or_default()).unwrap_or_default(),
        data_key: get("data_key")?.ok_or_else(|| db_err(path, "data key missing"))?,
        recovery_wrap: get("recovery_wrap")?,
        data_key_next: get("data_key_next")?,
    };
    let have = fs::read(content.join(KEYS_FILE)).ok();
    if have.as_deref() == Some(postcard::to_stdvec(&want).expect("serializes").as_slice()) {
        return Ok(());
    }
    write_keys(content, &want)
}

fn write_keys(content: &Path, k: &KeysFile) -> Result<()> {
    let bytes = postcard::to_stdvec(k).expect("serializes");
    let path = content.join(KEYS_FILE);
    let tmp = content.join(format!("{KEYS_FILE}.tmp"));
    let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    f.write_all(&bytes).map_err(|e| io_err(&tmp, e))?;
    f.sync_all().map_err(|e| io_err(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
    pack::sync_dir(content)
}

fn read_keys_file(content: &Path) -> Result<KeysFile> {
    let path = content.join(KEYS_FILE);
    let bytes = fs::read(&path).map_err(|e| io_err(&path, e))?;
    let k: KeysFile = postcard::from_bytes(&bytes).map_err(|e| StoreError::Malformed {
        what: path.display().to_string(),
        detail: e.to_string(),
    })?;
    if k.format != KEYS_FORMAT {
        return Err(StoreError::Malformed {
            what: path.display().to_string(),
            detail: format!("unknown format '{}'", k.format),
        });
    }
    Ok(k)
}

/// The `recovery_records` key of a record id (`None` if it is not a well-formed id).
pub(crate) fn record_key(id: &[u8; 32]) -> Option<(u64, u32)> {
    RecordId::parse(id).map(|i| (i.seq, i.part))
}

/// The state the recovery records describe.
#[derive(Default)]
pub(crate) struct Model {
    pub(crate) messages: BTreeMap<u64, MessageRecord>,
    pub(crate) contents: HashMap<[u8; 32], ContentRecord>,
    pub(crate) envelopes: BTreeMap<u64, Envelope>,
    pub(crate) folders: BTreeMap<u64, StoreFolder>,
    /// Messages that a later record removed and `recover_deleted` brought back.
    pub(crate) undeleted: HashSet<u64>,
    /// The newest sequence number seen.
    pub(crate) last_seq: u64,
    /// The highest message number any record names (removed ones too): numbers are never
    /// given twice.
    pub(crate) max_num: u64,
    /// The snapshot replay started from, if any.
    pub(crate) snapshot: Option<u64>,
}

/// Replays decoded records: from the newest complete snapshot on, or (bringing back deleted
/// messages) all of them in order, removals ignored.
/// Replays records: from the newest complete snapshot on, or (bringing back deleted messages)
/// all of them in order, removals ignored. `ids` are the records found; `load` reads one
/// (`None`: it cannot be read). One record's entries are in memory at a time, besides the
/// state being built: records before the snapshot are read only for the highest message
/// number they name.
pub(crate) fn replay(
    mut ids: Vec<RecordId>,
    recover_deleted: bool,
    load: &mut dyn FnMut(&RecordId) -> Option<Vec<Entry>>,
) -> Model {
    ids.sort();
    let mut parts: BTreeMap<u64, (u32, HashSet<u32>)> = BTreeMap::new();
    for id in ids.iter().filter(|id| id.snapshot) {
        let e = parts.entry(id.seq).or_insert((id.parts, HashSet::new()));
        e.1.insert(id.part);
    }
    let snapshot = parts
        .iter()
        .rev()
        .find(|(_, (n, have))| have.len() as u32 == *n)
        .map(|(seq, _)| *seq);
    let mut m = Model {
        snapshot,
        last_seq: ids.last().map_or(0, |id| id.seq),
        ..Model::default()
    };
    let mut removed = HashSet::new();
    for id in &ids {
        let Some(entries) = load(id) else {
            continue;
        };
        for e in &entries {
            if let Entry::Message { num, .. }
            | Entry::Removed { num }
            | Entry::Envelope { num, .. } = e
            {
                m.max_num = m.max_num.max(*num);
            }
        }
        if !recover_deleted && snapshot.is_some_and(|s| id.seq < s) {
            continue;
        }
        for e in entries {
            match e {
                Entry::Message { num, record } => {
                    removed.remove(&num);
                    m.messages.insert(num, record);
                }
                Entry::Removed { num } if recover_deleted => {
                    removed.insert(num);
                }
                Entry::Removed { num } => {
                    m.messages.remove(&num);
                    m.envelopes.remove(&num);
                }
                Entry::Content { key, record } => {
                    m.contents.insert(key, record);
                }
                Entry::Envelope { num, envelope } => {
                    m.envelopes.insert(num, envelope);
                }
                Entry::Folder { id, name } => {
                    m.folders.insert(id, name);
                }
            }
        }
    }
    m.undeleted = removed
        .into_iter()
        .filter(|n| m.messages.contains_key(n))
        .collect();
    m
}

impl WriteSession {
    /// Appends the recovery record of this session's changes (called by commit, before the
    /// pack sync). Returns the sequence number used.
    pub(crate) fn append_recovery(&mut self, entries: &[Entry]) -> Result<u64> {
        let seq = self.next_recovery_seq()?;
        let id = RecordId {
            seq,
            part: 0,
            parts: 1,
            snapshot: false,
        };
        self.append_recovery_part(id, entries)?;
        self.set_recovery_seq(seq, false)?;
        Ok(seq)
    }

    fn next_recovery_seq(&self) -> Result<u64> {
        let info = self.tx().open_table(INFO).map_err(|e| self.e(e))?;
        Ok(info
            .get("recovery_seq")
            .map_err(|e| self.e(e))?
            .and_then(|v| v.value().try_into().ok().map(u64::from_le_bytes))
            .unwrap_or(0)
            + 1)
    }

    /// Records the sequence number used; a snapshot also marks the records complete (a store
    /// written before recovery records existed is not, until its first snapshot).
    fn set_recovery_seq(&mut self, seq: u64, snapshot: bool) -> Result<()> {
        let mut info = self.tx().open_table(INFO).map_err(|e| self.e(e))?;
        info.insert("recovery_seq", seq.to_le_bytes().as_slice())
            .map_err(|e| self.e(e))?;
        if snapshot {
            info.insert("recovery_complete", b"1".as_slice())
                .map_err(|e| self.e(e))?;
        }
        Ok(())
    }

    fn append_recovery_part(&mut self, id: RecordId, entries: &[Entry]) -> Result<()> {
        let body = postcard::to_stdvec(entries).expect("serializes");
        let sealed = blob::seal_as(
            MAGIC_RECOVERY,
            &self.store().keys().recovery_sealer,
            id.bytes(),
            &body,
        )?;
        let (seg, off) = self.pack_mut().append(&sealed.record)?;
        let loc = BlobLoc {
            seg,
            off,
            len: (sealed.record.len() - HEADER_LEN) as u32,
            raw_len: body.len() as u64,
        };
        let v = postcard::to_stdvec(&loc).expect("serializes");
        self.tx()
            .open_table(RECOVERY)
            .map_err(|e| self.e(e))?
            .insert((id.seq, id.part), v.as_slice())
            .map_err(|e| self.e(e))?;
        Ok(())
    }

    /// Up to `n` entries of one table of the primary state, after key `after`: the entries
    /// (records that cannot be opened are left out: verify names them) and the last key read.
    fn state_batch(
        &self,
        table: StateTable,
        after: Option<&[u8]>,
        n: usize,
    ) -> Result<(Vec<Entry>, Option<Vec<u8>>)> {
        use std::ops::Bound;
        let keys = self.store().keys();
        let mut out = Vec::new();
        let mut last = None;
        if let StateTable::Contents = table {
            let t = self.tx().open_table(CONTENTS).map_err(|e| self.e(e))?;
            let range = match after {
                Some(a) => t.range::<&[u8]>((Bound::Excluded(a), Bound::Unbounded)),
                None => t.range::<&[u8]>(..),
            }
            .map_err(|e| self.e(e))?;
            for r in range.take(n) {
                let (k, v) = r.map_err(|e| self.e(e))?;
                last = Some(k.value().to_vec());
                let Ok(key) = <[u8; 32]>::try_from(k.value()) else {
                    continue;
                };
                if let Ok(record) = records::open::<ContentRecord>(
                    &keys.record_sealer,
                    &records::content_ad(&key),
                    v.value(),
                    "a content record",
                ) {
                    out.push(Entry::Content { key, record });
                }
            }
            return Ok((out, last));
        }
        let def = match table {
            StateTable::Messages => MESSAGES,
            StateTable::Envelopes => ENVELOPES,
            _ => FOLDER_NAMES,
        };
        let t = self.tx().open_table(def).map_err(|e| self.e(e))?;
        let after = after.and_then(|a| a.try_into().ok().map(u64::from_be_bytes));
        let range = match after {
            Some(a) => t.range((Bound::Excluded(a), Bound::Unbounded)),
            None => t.range::<u64>(..),
        }
        .map_err(|e| self.e(e))?;
        for r in range.take(n) {
            let (k, v) = r.map_err(|e| self.e(e))?;
            let num = k.value();
            last = Some(num.to_be_bytes().to_vec());
            let sealed = v.value();
            let entry = match table {
                StateTable::Messages => records::open::<MessageRecord>(
                    &keys.record_sealer,
                    &records::message_ad(num),
                    sealed,
                    "a message record",
                )
                .ok()
                .map(|record| Entry::Message { num, record }),
                StateTable::Envelopes => records::open::<Envelope>(
                    &keys.record_sealer,
                    &records::envelope_ad(num),
                    sealed,
                    "a message envelope",
                )
                .ok()
                .map(|envelope| Entry::Envelope { num, envelope }),
                _ => records::open::<StoreFolder>(
                    &keys.record_sealer,
                    &records::folder_ad(num),
                    sealed,
                    "a folder name",
                )
                .ok()
                .map(|name| Entry::Folder { id: num, name }),
            };
            out.extend(entry);
        }
        Ok((out, last))
    }

    /// Walks the primary state in batches: `each` gets every batch.
    fn each_state_batch(
        &mut self,
        each: &mut dyn FnMut(&mut Self, Vec<Entry>) -> Result<()>,
    ) -> Result<()> {
        for table in [
            StateTable::Contents,
            StateTable::Messages,
            StateTable::Envelopes,
            StateTable::Folders,
        ] {
            let mut after: Option<Vec<u8>> = None;
            loop {
                let (batch, last) = self.state_batch(table, after.as_deref(), PART_ENTRIES)?;
                let Some(last) = last else {
                    break;
                };
                each(self, batch)?;
                after = Some(last);
            }
        }
        Ok(())
    }

    /// Writes a snapshot of the whole state in this session (see the module documentation),
    /// a part at a time: memory holds one part, not the store. Returns (seq, entries).
    pub(crate) fn write_snapshot(&mut self) -> Result<(u64, u64)> {
        let mut total = 0u64;
        self.each_state_batch(&mut |_, batch| {
            total += batch.len() as u64;
            Ok(())
        })?;
        let seq = self.next_recovery_seq()?;
        let parts = total.div_ceil(PART_ENTRIES as u64).max(1) as u32;
        let mut part = 0u32;
        let mut chunk: Vec<Entry> = Vec::with_capacity(PART_ENTRIES);
        self.each_state_batch(&mut |this, batch| {
            for e in batch {
                chunk.push(e);
                if chunk.len() == PART_ENTRIES {
                    this.snapshot_part(seq, &mut part, parts, &mut chunk)?;
                }
            }
            Ok(())
        })?;
        if !chunk.is_empty() || part == 0 {
            self.snapshot_part(seq, &mut part, parts, &mut chunk)?;
        }
        if part != parts {
            return Err(StoreError::Malformed {
                what: "a recovery snapshot".into(),
                detail: format!("{part} parts written, {parts} counted"),
            });
        }
        self.set_recovery_seq(seq, true)?;
        Ok((seq, total))
    }

    fn snapshot_part(
        &mut self,
        seq: u64,
        part: &mut u32,
        parts: u32,
        chunk: &mut Vec<Entry>,
    ) -> Result<()> {
        let id = RecordId {
            seq,
            part: *part,
            parts,
            snapshot: true,
        };
        self.append_recovery_part(id, chunk)?;
        chunk.clear();
        *part += 1;
        Ok(())
    }
}

/// The tables a snapshot describes.
#[derive(Clone, Copy)]
enum StateTable {
    Contents,
    Messages,
    Envelopes,
    Folders,
}

/// What `RecreateRecoveryRecords` did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecreateReport {
    /// The snapshot's sequence number.
    pub sequence: u64,
    /// Entries written (contents, messages, envelopes, folder names).
    pub entries: u64,
}

/// What `RecoverStore` did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoverReport {
    pub packs: u64,
    pub blobs: u64,
    pub recovery_records: u64,
    pub messages: u64,
    pub contents: u64,
    /// Deleted messages brought back (`recoverDeletedMessages`).
    pub undeleted_messages: u64,
    /// Ranges of the packs that held no readable record (damage), `"000001.pack: 0-4096"`.
    pub unreadable_ranges: Vec<String>,
    /// Where the database that was replaced was kept (if there was one).
    pub old_database: Option<String>,
    /// Whether replay started at a snapshot (else at the first record).
    pub from_snapshot: bool,
}

impl Store {
    /// The copy of the installation's recovery wrap a store keeps (in `store.keys`, else in
    /// its database), read without any key: what master recovery opens with the recovery key
    /// when `keyring.json` is lost.
    pub fn recovery_wrap_of(dirs: &StoreDirs) -> Option<Vec<u8>> {
        if let Some(w) = read_keys_file(&dirs.content)
            .ok()
            .and_then(|k| k.recovery_wrap)
        {
            return Some(w);
        }
        let mut b = redb::Database::builder();
        b.set_cache_size(1 << 20);
        let db = b.open_read_only(dirs.meta.join("store.redb")).ok()?;
        let t = redb::ReadableDatabase::begin_read(&db).ok()?;
        let info = t.open_table(INFO).ok()?;
        let v = info.get("recovery_wrap").ok()??;
        Some(v.value().to_vec())
    }

    /// Whether this store has recovery records (stores written before they existed have none
    /// until their first snapshot).
    pub fn has_recovery_records(&self) -> Result<bool> {
        let t = self.read_txn()?;
        let info = t.open_table(INFO).map_err(|e| self.dberr(e))?;
        Ok(info
            .get("recovery_complete")
            .map_err(|e| self.dberr(e))?
            .is_some())
    }

    /// Rewrites the recovery records (API `RecreateRecoveryRecords`): a snapshot of the whole
    /// state, and `store.keys` beside the packs.
    pub fn recreate_recovery_records(self: &std::sync::Arc<Self>) -> Result<RecreateReport> {
        let mut s = self.write()?;
        let (sequence, entries) = s.write_snapshot()?;
        s.commit()?;
        self.write_keys_file()?;
        Ok(RecreateReport { sequence, entries })
    }

    /// Writes `store.keys` from the database's info table (unless it says that already).
    pub(crate) fn write_keys_file(&self) -> Result<()> {
        crate::store::sync_keys_txn(&self.read_txn()?, &self.db_path(), &self.dirs().content)
    }

    /// Checks the recovery records against the database (part of `verify`): each record
    /// listed is where the table says and opens, and replaying them gives exactly the
    /// database's messages. Returns the problems found.
    pub(crate) fn check_recovery(&self, t: &redb::ReadTransaction) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let complete = {
            let info = t.open_table(INFO).map_err(|e| self.dberr(e))?;
            info.get("recovery_complete")
                .map_err(|e| self.dberr(e))?
                .is_some()
        };
        let table = self.optional_table(t, RECOVERY)?;
        if !complete || table.is_none() {
            if self.counters()?.messages > 0 {
                problems.push("no complete recovery records (a store written before they existed): run RecreateRecoveryRecords".into());
            }
            return Ok(problems);
        }
        let table = table.expect("checked");
        // First the ids (record headers only), then replay, reading one record at a time.
        let mut found: HashMap<RecordId, BlobLoc> = HashMap::new();
        for r in table.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let (seq, part) = k.value();
            let Ok(loc) = postcard::from_bytes::<BlobLoc>(v.value()) else {
                problems.push(format!("recovery record {seq}.{part}: location unreadable"));
                continue;
            };
            match self.recovery_record_id(&loc) {
                Ok(id) if id.seq == seq && id.part == part => {
                    found.insert(id, loc);
                }
                Ok(_) => problems.push(format!(
                    "recovery record {seq}.{part}: another record is at its place"
                )),
                Err(e) => problems.push(format!("recovery record {seq}.{part}: {e}")),
            }
        }
        let ids: Vec<RecordId> = found.keys().copied().collect();
        let model = replay(
            ids,
            false,
            &mut |id| match self.read_recovery_record(&found[id]) {
                Ok((_, entries)) => Some(entries),
                Err(e) => {
                    problems.push(format!("recovery record {}.{}: {e}", id.seq, id.part));
                    None
                }
            },
        );
        let mt = t.open_table(MESSAGES).map_err(|e| self.dberr(e))?;
        let mut differ = Vec::new();
        let mut held = HashSet::new();
        for r in mt.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let num = k.value();
            held.insert(num);
            let Ok(rec) = records::open::<MessageRecord>(
                &self.keys().record_sealer,
                &records::message_ad(num),
                v.value(),
                "a message record",
            ) else {
                continue;
            };
            let described = model.messages.get(&num).is_some_and(|m| {
                m.content_key == rec.content_key
                    && m.folder == rec.folder
                    && model.contents.contains_key(&rec.content_key)
            });
            if !described {
                differ.push(num);
            }
        }
        let extra = model.messages.keys().filter(|n| !held.contains(n)).count();
        if !differ.is_empty() {
            let shown: Vec<String> = differ
                .iter()
                .take(10)
                .map(|n| MessageId::new(self.id(), *n).to_string())
                .collect();
            problems.push(format!(
                "the recovery records do not describe {} messages ({}{}): run RecreateRecoveryRecords",
                differ.len(),
                shown.join(" "),
                if differ.len() > 10 { " ..." } else { "" }
            ));
        }
        if extra > 0 {
            problems.push(format!(
                "the recovery records describe {extra} messages the store does not hold: run RecreateRecoveryRecords"
            ));
        }
        Ok(problems)
    }

    /// The id in a recovery record's header (the record itself is not opened).
    fn recovery_record_id(&self, loc: &BlobLoc) -> Result<RecordId> {
        let path = pack::pack_path(&self.dirs().pack_dir(), loc.seg);
        let file = self.pack_file(loc.seg)?;
        let head = pack::read_at(&file, &path, loc.off, HEADER_LEN)?;
        match blob::parse_any(&head) {
            Some((true, key, len)) if len == loc.len => {
                RecordId::parse(&key).ok_or_else(|| StoreError::Malformed {
                    what: format!("recovery record at {}:{}", path.display(), loc.off),
                    detail: "malformed record id".into(),
                })
            }
            _ => Err(StoreError::Malformed {
                what: format!("recovery record at {}:{}", path.display(), loc.off),
                detail: "no recovery record there".into(),
            }),
        }
    }

    fn read_recovery_record(&self, loc: &BlobLoc) -> Result<(RecordId, Vec<Entry>)> {
        let path = pack::pack_path(&self.dirs().pack_dir(), loc.seg);
        let file = self.pack_file(loc.seg)?;
        let rec = pack::read_at(&file, &path, loc.off, HEADER_LEN + loc.len as usize)?;
        let Some((true, key, len)) = blob::parse_any(&rec) else {
            return Err(StoreError::Malformed {
                what: format!("recovery record at {}:{}", path.display(), loc.off),
                detail: "no recovery record there".into(),
            });
        };
        let id = RecordId::parse(&key)
            .filter(|_| len == loc.len)
            .ok_or_else(|| StoreError::Malformed {
                what: format!("recovery record at {}:{}", path.display(), loc.off),
                detail: "malformed record id".into(),
            })?;
        let plain = blob::open(
            &self.keys().recovery_sealer,
            &key,
            &rec[HEADER_LEN..],
            "a recovery record",
        )?;
        let entries = postcard::from_bytes(&plain).map_err(|e| StoreError::Malformed {
            what: "a recovery record".into(),
            detail: e.to_string(),
        })?;
        Ok((id, entries))
    }

    /// Rebuilds a store's database from its packs and `store.keys` (API `RecoverStore`). The
    /// store must not be open. The database found there (if any) is kept beside as
    /// `store.redb.broken-<time>`; the new one is built as `store.redb.recovering` and renamed
    /// into place only when whole.
    pub fn recover(
        id: StoreId,
        dirs: &StoreDirs,
        master: &MasterKey,
        recover_deleted: bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<RecoverReport> {
        let mut keys_file = read_keys_file(&dirs.content)?;
        // A renewal staged but not promoted: the new master key opens the staged wrap.
        let dk = match master.unwrap_data_key(&keys_file.data_key, &keys_file.uuid) {
            Ok(dk) => dk,
            Err(e) => {
                let next = keys_file.data_key_next.take().ok_or(e)?;
                let dk = master.unwrap_data_key(&next, &keys_file.uuid)?;
                keys_file.data_key = next;
                dk
            }
        };
        let keys = crate::StoreKeys::new(&dk);
        let mut report = RecoverReport::default();
        let walked = walk_packs(&dirs.pack_dir(), &keys, &mut report, progress)?;
        let pack_dir = dirs.pack_dir();
        let ids: Vec<RecordId> = walked.ids.keys().copied().collect();
        let mut model = replay(ids, recover_deleted, &mut |id| {
            let loc = walked.ids.get(id)?;
            let path = pack::pack_path(&pack_dir, loc.seg);
            let file = File::open(&path).ok()?;
            let rec = pack::read_at(&file, &path, loc.off, HEADER_LEN + loc.len as usize).ok()?;
            let plain = blob::open(
                &keys.recovery_sealer,
                &id.bytes(),
                &rec[HEADER_LEN..],
                "a recovery record",
            )
            .ok()?;
            postcard::from_bytes(&plain).ok()
        });
        // A deleted message comes back only whole: its content and every blob of it found.
        let whole = |m: &MessageRecord| {
            model.contents.get(&m.content_key).is_some_and(|c| {
                walked.blobs.contains_key(&c.skeleton)
                    && c.inserts.iter().all(|i| walked.blobs.contains_key(&i.blob))
            })
        };
        let partial: Vec<u64> = model
            .undeleted
            .iter()
            .filter(|n| !model.messages.get(n).is_some_and(whole))
            .copied()
            .collect();
        for n in partial {
            model.messages.remove(&n);
            model.undeleted.remove(&n);
        }
        if model.messages.is_empty() && !walked.blobs.is_empty() {
            return Err(StoreError::Malformed {
                what: dirs.pack_dir().display().to_string(),
                detail: "the packs hold content but no recovery record describes a message (a store written before recovery records existed, or records lost): nothing to rebuild the database from".into(),
            });
        }
        report.from_snapshot = model.snapshot.is_some();
        report.undeleted_messages = model.undeleted.len() as u64;
        report.messages = model.messages.len() as u64;
        report.contents = model.contents.len() as u64;

        let db_path = dirs.meta.join("store.redb");
        let new_path = dirs.meta.join("store.redb.recovering");
        let _ = fs::remove_file(&new_path);
        {
            let mut b = redb::Database::builder();
            b.set_cache_size(32 * 1024 * 1024);
            let db = b.create(&new_path).map_err(|e| db_err(&new_path, e))?;
            let e = |x: &dyn std::fmt::Display| db_err(&new_path, x);
            let txn = db.begin_write().map_err(|x| e(&x))?;
            {
                let mut info = txn.open_table(INFO).map_err(|x| e(&x))?;
                info.insert("format", crate::store::FORMAT)
                    .map_err(|x| e(&x))?;
                info.insert("uuid", keys_file.uuid.as_bytes())
                    .map_err(|x| e(&x))?;
                info.insert("data_key", keys_file.data_key.as_slice())
                    .map_err(|x| e(&x))?;
                if let Some(w) = &keys_file.recovery_wrap {
                    info.insert("recovery_wrap", w.as_slice())
                        .map_err(|x| e(&x))?;
                }
                let next = model
                    .messages
                    .keys()
                    .next_back()
                    .copied()
                    .unwrap_or(0)
                    .max(model.max_num)
                    + 1;
                let c = postcard::to_stdvec(&(next, StoreCounters::default())).expect("serializes");
                info.insert("counters", c.as_slice()).map_err(|x| e(&x))?;
                info.insert("recovery_seq", model.last_seq.to_le_bytes().as_slice())
                    .map_err(|x| e(&x))?;
            }
            crate::store::create_tables(&txn).map_err(|x| e(&x))?;
            {
                let mut segs = txn.open_table(SEGMENTS).map_err(|x| e(&x))?;
                for (seg, len) in &walked.lengths {
                    segs.insert(*seg, *len).map_err(|x| e(&x))?;
                }
                // New records go to a new pack rather than after unreadable bytes.
                if walked.torn_tail
                    && let Some(last) = walked.lengths.keys().next_back()
                {
                    segs.insert(last + 1, 0).map_err(|x| e(&x))?;
                }
                let mut bt = txn.open_table(BLOBS).map_err(|x| e(&x))?;
                for (key, loc) in &walked.blobs {
                    let v = postcard::to_stdvec(loc).expect("serializes");
                    bt.insert(key.as_slice(), v.as_slice()).map_err(|x| e(&x))?;
                }
                let mut rt = txn.open_table(RECOVERY).map_err(|x| e(&x))?;
                for ((seq, part), loc) in &walked.records {
                    let v = postcard::to_stdvec(loc).expect("serializes");
                    rt.insert((*seq, *part), v.as_slice()).map_err(|x| e(&x))?;
                }
                let mut ct = txn.open_table(CONTENTS).map_err(|x| e(&x))?;
                for (key, rec) in &model.contents {
                    let sealed =
                        records::seal(&keys.record_sealer, &records::content_ad(key), rec)?;
                    ct.insert(key.as_slice(), sealed.as_slice())
                        .map_err(|x| e(&x))?;
                }
                let mut mt = txn.open_table(MESSAGES).map_err(|x| e(&x))?;
                let mut ut = txn.open_table(crate::store::UNINDEXED).map_err(|x| e(&x))?;
                for (num, rec) in &model.messages {
                    let sealed =
                        records::seal(&keys.record_sealer, &records::message_ad(*num), rec)?;
                    mt.insert(*num, sealed.as_slice()).map_err(|x| e(&x))?;
                    ut.insert(*num, ()).map_err(|x| e(&x))?;
                }
                let mut et = txn.open_table(ENVELOPES).map_err(|x| e(&x))?;
                for (num, env) in &model.envelopes {
                    if model.messages.contains_key(num) {
                        let sealed =
                            records::seal(&keys.record_sealer, &records::envelope_ad(*num), env)?;
                        et.insert(*num, sealed.as_slice()).map_err(|x| e(&x))?;
                    }
                }
                let mut ft = txn.open_table(FOLDER_NAMES).map_err(|x| e(&x))?;
                for (fid, name) in &model.folders {
                    let sealed =
                        records::seal(&keys.record_sealer, &records::folder_ad(*fid), name)?;
                    ft.insert(*fid, sealed.as_slice()).map_err(|x| e(&x))?;
                }
            }
            txn.commit().map_err(|x| e(&x))?;
        }
        if db_path.exists() {
            let aside = dirs.meta.join(format!(
                "store.redb.broken-{}",
                arkiv_types::Timestamp::now().0
            ));
            fs::rename(&db_path, &aside).map_err(|e| io_err(&db_path, e))?;
            report.old_database = Some(aside.display().to_string());
        }
        fs::rename(&new_path, &db_path).map_err(|e| io_err(&db_path, e))?;
        pack::sync_dir(&dirs.meta)?;
        // The derived tables and the counters, as RepairStoreDatabase builds them.
        let store = std::sync::Arc::new(Store::open(id, dirs.clone(), master, 1 << 30)?);
        store.repair_tables()?;
        // A snapshot of what was recovered: messages brought back are described from now on
        // (the older records still remove them), and the records are complete again.
        store.recreate_recovery_records()?;
        Ok(report)
    }
}

/// What a walk of the packs found.
struct Walked {
    /// Blob id → its last readable copy.
    blobs: BTreeMap<[u8; 32], BlobLoc>,
    /// (seq, part) → where.
    records: BTreeMap<(u64, u32), BlobLoc>,
    /// Recovery records by id → where.
    ids: HashMap<RecordId, BlobLoc>,
    /// Pack → its length (all of it is kept).
    lengths: BTreeMap<u32, u64>,
    /// Whether the last pack ends in bytes that hold no readable record.
    torn_tail: bool,
}

/// Reads every record of every pack in order. A record is taken only if it opens (its AEAD
/// tag holds); after an unreadable stretch the walk looks for the next record header and
/// goes on from there, so damage costs only the records inside it.
fn walk_packs(
    dir: &Path,
    keys: &crate::StoreKeys,
    report: &mut RecoverReport,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Walked> {
    let mut packs: Vec<(u32, PathBuf)> = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| io_err(dir, e))?.flatten() {
        let name = e.file_name();
        if let Some(seg) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".pack"))
            .filter(|n| n.len() == 6)
            .and_then(|n| n.parse::<u32>().ok())
        {
            packs.push((seg, e.path()));
        }
    }
    packs.sort();
    let total: u64 = packs
        .iter()
        .filter_map(|(_, p)| fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let mut done_before = 0u64;
    let mut w = Walked {
        blobs: BTreeMap::new(),
        records: BTreeMap::new(),
        ids: HashMap::new(),
        lengths: BTreeMap::new(),
        torn_tail: false,
    };
    for (seg, path) in packs {
        report.packs += 1;
        let file = File::open(&path).map_err(|e| io_err(&path, e))?;
        let size = file.metadata().map_err(|e| io_err(&path, e))?.len();
        let name = format!("{seg:06}.pack");
        let mut off = 0u64;
        let mut end = 0u64;
        let mut bad_from: Option<u64> = None;
        while off + HEADER_LEN as u64 <= size {
            match try_record(&file, size, off, keys) {
                Some((recovery, key, len, plain)) => {
                    if let Some(b) = bad_from.take() {
                        report.unreadable_ranges.push(format!("{name}: {b}-{off}"));
                    }
                    let loc = BlobLoc {
                        seg,
                        off,
                        len,
                        raw_len: plain.len() as u64,
                    };
                    if recovery {
                        // Opened (its tag holds); read again when replayed, one at a time.
                        if let Some(id) = RecordId::parse(&key) {
                            report.recovery_records += 1;
                            w.records.insert((id.seq, id.part), loc);
                            w.ids.insert(id, loc);
                        }
                    } else {
                        w.blobs.insert(key, loc);
                    }
                    off += HEADER_LEN as u64 + len as u64;
                    end = off;
                }
                None => {
                    bad_from.get_or_insert(off);
                    // Look for the next header that opens.
                    off = next_magic(&file, size, off + 1).unwrap_or(size);
                }
            }
            progress(done_before + off, total);
        }
        if let Some(b) = bad_from
            && b < size
        {
            report.unreadable_ranges.push(format!("{name}: {b}-{size}"));
        }
        done_before += size;
        // The whole file counts as written: bytes past the last readable record are kept, not
        // cut off (a read error is not proof of garbage); verify reports them.
        w.torn_tail = end < size;
        w.lengths.insert(seg, size);
    }
    report.blobs = w.blobs.len() as u64;
    Ok(w)
}

/// The record at `off` if it is whole and opens: (recovery?, id, sealed length, plaintext).
fn try_record(
    file: &File,
    size: u64,
    off: u64,
    keys: &crate::StoreKeys,
) -> Option<(bool, [u8; 32], u32, Vec<u8>)> {
    use std::os::unix::fs::FileExt;
    let mut head = [0u8; HEADER_LEN];
    file.read_exact_at(&mut head, off).ok()?;
    let (recovery, key, len) = blob::parse_any(&head)?;
    if off + (HEADER_LEN as u64) + len as u64 > size {
        return None;
    }
    let mut sealed = vec![0u8; len as usize];
    file.read_exact_at(&mut sealed, off + HEADER_LEN as u64)
        .ok()?;
    let sealer = if recovery {
        &keys.recovery_sealer
    } else {
        &keys.blob_sealer
    };
    let plain = blob::open(sealer, &key, &sealed, "a record").ok()?;
    Some((recovery, key, len, plain))
}

/// The offset of the next record magic at or after `from` (read in 1 MiB windows).
fn next_magic(file: &File, size: u64, from: u64) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    const WINDOW: u64 = 1 << 20;
    let mut at = from;
    while at + 4 <= size {
        let n = WINDOW.min(size - at) as usize;
        let mut buf = vec![0u8; n];
        file.read_exact_at(&mut buf, at).ok()?;
        if let Some(i) = (0..n.saturating_sub(3))
            .find(|&i| &buf[i..i + 4] == MAGIC || &buf[i..i + 4] == MAGIC_RECOVERY)
        {
            return Some(at + i as u64);
        }
        // Overlap by 3 bytes so a magic across the window edge is found.
        at += (n as u64).saturating_sub(3).max(1);
    }
    None
}
