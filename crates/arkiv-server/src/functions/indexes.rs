//! Search indexes (manual §5.16, §7.2): their states and rebuilding them.

use std::sync::Arc;

use arkiv_types::StoreId;
use serde_json::{Value, json};

use super::{Args, FnError, Function, Run, Type, opt, req, store_arg};
use crate::AppState;
use crate::tasks::Task;

pub static FUNCTIONS: &[Function] = &[
    Function {
        name: "GetStoreIndexes",
        description: "Get list of full text indexes.",
        args: &[opt("id", Type::Number)],
        run: Run::Quick(get_store_indexes),
    },
    Function {
        name: "RebuildStoreIndex",
        description: "Rebuild the search index of the archive store holding the given folder (one index per store).",
        args: &[req("id", Type::Number), req("folder", Type::String)],
        run: Run::Long(rebuild_store_index),
    },
    Function {
        name: "SelectAllStoreIndexesForRebuild",
        description: "Select all search indexes for rebuilding.",
        args: &[],
        run: Run::Quick(select_all_store_indexes_for_rebuild),
    },
    Function {
        name: "RebuildSelectedStoreIndexes",
        description: "Rebuild the selected search indexes and those whose status is 'please rebuild'.",
        args: &[],
        run: Run::Long(rebuild_selected_store_indexes),
    },
];

fn get_store_indexes(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let only = a.opt("id").map(|_| a.number("id"));
    let list = st.archive.indexes()?;
    Ok(Value::Array(
        list.into_iter()
            .filter(|i| only.is_none_or(|id| i64::from(i.store_id.0) == id))
            .map(|i| {
                json!({
                    "storeId": i.store_id.0,
                    "storeName": i.store_name,
                    "size": i.size_bytes,
                    "status": if i.status == "ok" { "ok" } else { "rebuildRequired" },
                    "builtWith": i.built_with,
                    "rebuildReason": i.rebuild_reason,
                })
            })
            .collect(),
    ))
}

fn rebuild(st: &Arc<AppState>, ids: &[u32], task: &Task) -> Result<u64, FnError> {
    let mut total = 0;
    for (i, id) in ids.iter().enumerate() {
        task.log(format!(
            "Rebuilding the search index of archive store #{id}..."
        ));
        let mut last = 0;
        let n = st.archive.reindex(Some(StoreId(*id)), &mut |done, all| {
            if let Some(p) = (done * 100).checked_div(all) {
                let overall = (i as u64 * 100 + p) / ids.len() as u64;
                task.progress(overall.min(100) as u8);
            }
            if done >= last + 10_000 {
                last = done;
                task.log(format!("{done} messages indexed..."));
            }
        })?;
        task.log(format!("Archive store #{id}: {n} messages indexed."));
        total += n;
    }
    Ok(total)
}

fn rebuild_store_index(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, FnError> {
    let id = store_arg(a, "id")?;
    st.archive.store(id)?;
    // The manual rebuilds one folder's index; Arkiv has one index per store, so the folder
    // must exist and the store's whole index is rebuilt.
    st.archive.folder_by_spec(a.str("folder"))?;
    rebuild(st, &[id.0], task)?;
    Ok(Value::Null)
}

fn select_all_store_indexes_for_rebuild(st: &Arc<AppState>, _: &Args) -> Result<Value, FnError> {
    let ids: Vec<u32> = st.archive.indexes()?.iter().map(|i| i.store_id.0).collect();
    st.selected_indexes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(ids);
    Ok(Value::Null)
}

fn rebuild_selected_store_indexes(
    st: &Arc<AppState>,
    _: &Args,
    task: &Task,
) -> Result<Value, FnError> {
    let mut ids: std::collections::BTreeSet<u32> = std::mem::take(
        &mut *st
            .selected_indexes
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    );
    ids.extend(
        st.archive
            .indexes()?
            .iter()
            .filter(|i| i.status != "ok")
            .map(|i| i.store_id.0),
    );
    let ids: Vec<u32> = ids.into_iter().collect();
    if ids.is_empty() {
        task.log("No search index is selected or needs rebuilding.");
        return Ok(Value::Null);
    }
    rebuild(st, &ids, task)?;
    Ok(Value::Null)
}
