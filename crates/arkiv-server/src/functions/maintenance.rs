//! Keeping the archive sound (manual §5.15, §7.2): verification, compaction, database
//! housekeeping, repair, statistics, merging stores.

use std::sync::Arc;

use arkiv_types::StoreId;
use serde_json::{Value, json};

use super::{Args, FnError, Function, Run, Type, opt, percent, req, store_arg};
use crate::AppState;
use crate::tasks::Task;

pub static FUNCTIONS: &[Function] = &[
    Function {
        name: "VerifyStore",
        description: "Verify archive store's consistency.",
        args: &[req("id", Type::Number), opt("includeIndexes", Type::Bool)],
        run: Run::Long(verify_store),
    },
    Function {
        name: "VerifyStores",
        description: "Verify consistency of all archive stores.",
        args: &[opt("includeIndexes", Type::Bool)],
        run: Run::Long(verify_stores),
    },
    Function {
        name: "MergeStore",
        description: "Merge two archive stores: copy every message of sourceId into id. As in MailStore, the source store stays unchanged; detach it afterwards (DetachStore).",
        args: &[req("id", Type::Number), req("sourceId", Type::Number)],
        run: Run::Long(merge_store),
    },
    Function {
        name: "CompactStore",
        description: "Compact archive store: free the space of deleted messages and compact its database.",
        args: &[req("id", Type::Number)],
        run: Run::Long(compact_store),
    },
    Function {
        name: "CompactMasterDatabase",
        description: "Compact master database.",
        args: &[],
        run: Run::Long(compact_master_database),
    },
    Function {
        name: "MaintainFileSystemDatabases",
        description: "Run database maintenance (integrity check, compaction) on the master database and all archive store databases.",
        args: &[],
        run: Run::Long(maintain_file_system_databases),
    },
    Function {
        name: "RefreshAllStoreStatistics",
        description: "Refresh statistics of all archive stores (recounted from the stored records).",
        args: &[],
        run: Run::Long(refresh_all_store_statistics),
    },
    Function {
        name: "RecoverStore",
        description: "Recreate a lost or broken archive store database from the recovery records in its packs. The store must be disabled or in error; recoverDeletedMessages brings back deleted messages whose records are still in the packs (not after a compaction).",
        args: &[
            req("id", Type::Number),
            opt("recoverDeletedMessages", Type::Bool),
        ],
        run: Run::Long(recover_store),
    },
    Function {
        name: "RecreateRecoveryRecords",
        description: "Recreate the recovery records of an archive store (a snapshot of its whole state). VerifyStore tells when they are broken.",
        args: &[req("id", Type::Number)],
        run: Run::Long(recreate_recovery_records),
    },
    Function {
        name: "RepairStoreDatabase",
        description: "Try to resolve issues with an archive store's database: integrity check, then its derived tables (placements, folder lists, counts) rebuilt from the message records.",
        args: &[req("id", Type::Number)],
        run: Run::Long(repair_store_database),
    },
];

fn verify_one(st: &Arc<AppState>, id: StoreId, task: &Task) -> Result<bool, FnError> {
    let store = st.archive.store(id)?;
    task.log(format!("Verifying archive store #{}...", id.0));
    let mut last = 0;
    let r = st.archive.verify_store(
        &store,
        &mut |done, total| {
            if let Some(pct) = (done * 100).checked_div(total) {
                task.progress(pct.min(100) as u8);
            }
            if done >= last + 1000 || done == total {
                last = done;
                task.log(format!("{done} messages verified..."));
            }
        },
        &|| task.is_cancelled(),
    )?;
    let broken = r.problems.len();
    if broken == 0 {
        task.log(format!("Archive store #{}: no problems found.", id.0));
    } else {
        for p in r.problems.iter().take(100) {
            match &p.message {
                Some(m) => task.log(format!("PROBLEM: message {m}: {}", p.detail)),
                None => task.log(format!("PROBLEM: {}", p.detail)),
            }
        }
        task.log(format!("Archive store #{}: {broken} problems found.", id.0));
    }
    Ok(broken == 0)
}

fn verify_store(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, FnError> {
    let id = store_arg(a, "id")?;
    if verify_one(st, id, task)? {
        Ok(Value::Null)
    } else {
        Err(FnError::failed(format!(
            "archive store #{} has problems; see the log output",
            id.0
        )))
    }
}

fn verify_stores(st: &Arc<AppState>, _: &Args, task: &Task) -> Result<Value, FnError> {
    let mut bad = Vec::new();
    for info in st.archive.stores() {
        if task.is_cancelled() {
            return Err(FnError::failed("cancelled"));
        }
        if let Some(why) = &info.error {
            task.log(format!(
                "Archive store #{} is not available: {why}",
                info.entry.id.0
            ));
            continue;
        }
        if !verify_one(st, info.entry.id, task)? {
            bad.push(info.entry.id.0);
        }
    }
    if bad.is_empty() {
        Ok(Value::Null)
    } else {
        Err(FnError::failed(format!(
            "archive stores with problems: {bad:?}; see the log output"
        )))
    }
}

fn merge_store(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, FnError> {
    let dest = store_arg(a, "id")?;
    let source = store_arg(a, "sourceId")?;
    task.log(format!(
        "Merging archive store #{} into #{}...",
        source.0, dest.0
    ));
    let r = st.archive.merge_store(
        dest,
        source,
        &mut |done, total| percent(task, done, total),
        &|| task.is_cancelled(),
    )?;
    task.log(format!(
        "{} messages copied, {} were in #{} already. Archive store #{} is unchanged: detach it \
         (DetachStore) once you have checked #{}; until then searches find its messages twice.",
        r.copied, r.already_there, dest.0, source.0, dest.0
    ));
    Ok(serde_json::to_value(r).unwrap_or_default())
}

fn recover_store(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, FnError> {
    let id = store_arg(a, "id")?;
    let deleted = a.bool_or("recoverDeletedMessages", false);
    task.log(format!(
        "Recovering the database of archive store #{} from its recovery records...",
        id.0
    ));
    let r = st
        .archive
        .recover_store(id, deleted, &mut |done, total| percent(task, done, total))?;
    task.log(format!(
        "{} messages ({} contents) recovered from {} recovery records in {} packs{}.",
        r.messages,
        r.contents,
        r.recovery_records,
        r.packs,
        if r.undeleted_messages > 0 {
            format!("; {} deleted messages brought back", r.undeleted_messages)
        } else {
            String::new()
        }
    ));
    for range in &r.unreadable_ranges {
        task.log(format!("Unreadable (damaged) bytes: {range}"));
    }
    Ok(serde_json::to_value(r).unwrap_or_default())
}

fn recreate_recovery_records(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, FnError> {
    let id = store_arg(a, "id")?;
    let r = st.archive.recreate_recovery_records(id)?;
    task.log(format!(
        "Archive store #{}: {} entries written as recovery records.",
        id.0, r.entries
    ));
    Ok(serde_json::to_value(r).unwrap_or_default())
}

fn compact_store(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, FnError> {
    let id = store_arg(a, "id")?;
    task.log(format!("Compacting archive store #{}...", id.0));
    let r = st
        .archive
        .compact_store(id, &mut |done, total| percent(task, done, total))?;
    task.log(format!(
        "{} unused contents and {} unused blobs removed; packs {} -> {} bytes; database {} -> {} bytes.",
        r.packs.contents_removed,
        r.packs.blobs_removed,
        r.packs.pack_bytes_before,
        r.packs.pack_bytes_after,
        r.database.bytes_before,
        r.database.bytes_after
    ));
    Ok(serde_json::to_value(r).unwrap_or_default())
}

fn database_json(
    name: &str,
    m: &arkiv_archive::maintenance::DatabaseMaintenance,
    task: &Task,
) -> Value {
    task.log(format!(
        "{name}: {}{} -> {} bytes.",
        if m.repaired { "repaired, " } else { "" },
        m.bytes_before,
        m.bytes_after
    ));
    json!({"database": name, "repaired": m.repaired, "bytesBefore": m.bytes_before, "bytesAfter": m.bytes_after})
}

fn compact_master_database(st: &Arc<AppState>, _: &Args, task: &Task) -> Result<Value, FnError> {
    let m = st.archive.compact_master()?;
    Ok(database_json("master", &m, task))
}

fn maintain_file_system_databases(
    st: &Arc<AppState>,
    _: &Args,
    task: &Task,
) -> Result<Value, FnError> {
    let all = st
        .archive
        .maintain_databases(&mut |done, total| percent(task, done, total))?;
    Ok(Value::Array(
        all.iter()
            .map(|(name, m)| database_json(name, m, task))
            .collect(),
    ))
}

fn refresh_all_store_statistics(
    st: &Arc<AppState>,
    _: &Args,
    task: &Task,
) -> Result<Value, FnError> {
    let fixed = st.archive.refresh_store_statistics()?;
    if fixed.is_empty() {
        task.log("Statistics of all archive stores were correct.");
    } else {
        task.log(format!(
            "Statistics corrected for archive stores {fixed:?}."
        ));
    }
    Ok(json!({ "corrected": fixed }))
}

fn repair_store_database(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, FnError> {
    let id = store_arg(a, "id")?;
    task.log(format!(
        "Repairing the database of archive store #{}...",
        id.0
    ));
    let (db, r) = st.archive.repair_store(id)?;
    database_json(&format!("store #{}", id.0), &db, task);
    task.log(format!(
        "{} messages; fixed: {} placements, {} folder entries, {} source entries, {} folder counts{}.",
        r.messages,
        r.placements_fixed,
        r.folder_entries_fixed,
        r.source_entries_fixed,
        r.folder_counts_fixed,
        if r.statistics_fixed { ", statistics" } else { "" }
    ));
    for m in &r.unreadable_messages {
        task.log(format!("PROBLEM: message {m}: its record cannot be opened"));
    }
    Ok(json!({ "database": db, "tables": r }))
}
