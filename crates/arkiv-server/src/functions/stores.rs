//! Archive stores (manual §5.15, §7.2): list, create, attach, detach, rename, states,
//! directories, unlocking a store of another installation.

use std::sync::Arc;

use arkiv_types::{StoreId, StoreStatus};
use serde_json::{Value, json};

use super::{
    Args, FnError, Function, Run, Type, opt, refuse_server_store_args, req, store_arg, store_type,
};
use crate::AppState;
use crate::tasks::Task;

pub static FUNCTIONS: &[Function] = &[
    Function {
        name: "GetStores",
        description: "Get list of archive stores.",
        args: &[opt("includeSize", Type::Bool)],
        run: Run::Quick(get_stores),
    },
    Function {
        name: "CreateStore",
        description: "Create and attach a new archive store.",
        args: &[
            req("name", Type::String),
            opt("type", Type::String),
            opt("databaseName", Type::String),
            opt("databasePath", Type::String),
            opt("contentPath", Type::String),
            opt("indexPath", Type::String),
            opt("serverName", Type::String),
            opt("userName", Type::String),
            opt("password", Type::String),
            opt("requestedState", Type::String),
        ],
        run: Run::Quick(create_store),
    },
    Function {
        name: "AttachStore",
        description: "Attach an existing archive store of this archive.",
        args: &[
            req("name", Type::String),
            opt("type", Type::String),
            opt("databaseName", Type::String),
            opt("databasePath", Type::String),
            opt("contentPath", Type::String),
            opt("indexPath", Type::String),
            opt("serverName", Type::String),
            opt("userName", Type::String),
            opt("password", Type::String),
            opt("requestedState", Type::String),
        ],
        run: Run::Quick(attach_store),
    },
    Function {
        name: "DetachStore",
        description: "Detach an archive store (its files stay; AttachStore brings it back).",
        args: &[req("id", Type::Number)],
        run: Run::Quick(detach_store),
    },
    Function {
        name: "RenameStore",
        description: "Rename archive store.",
        args: &[req("id", Type::Number), req("name", Type::String)],
        run: Run::Quick(rename_store),
    },
    Function {
        name: "SetStoreRequestedState",
        description: "Set state of archive store.",
        args: &[req("id", Type::Number), opt("requestedState", Type::String)],
        run: Run::Quick(set_store_requested_state),
    },
    Function {
        name: "SetStoreProperties",
        description: "Set properties of an archive store: the directories of a disabled FileSystemInternal store (after its files were moved).",
        args: &[
            req("id", Type::Number),
            opt("type", Type::String),
            opt("databaseName", Type::String),
            opt("databasePath", Type::String),
            opt("contentPath", Type::String),
            opt("indexPath", Type::String),
            opt("serverName", Type::String),
            opt("userName", Type::String),
            opt("password", Type::String),
        ],
        run: Run::Quick(set_store_properties),
    },
    Function {
        name: "RetryOpenStores",
        description: "Try again to open archive stores that could not be opened.",
        args: &[],
        run: Run::Quick(retry_open_stores),
    },
    Function {
        name: "RenewMasterKey",
        description: "Renew the master key which is used to encrypt the encryption keys: every archive store's key is wrapped by a new master key; the key file and the recovery key stay. Arkiv needs the recovery key (recoveryKey) to seal the new master key: it is never kept.",
        args: &[opt("recoveryKey", Type::String)],
        run: Run::Long(renew_master_key),
    },
    Function {
        name: "UnlockStore",
        description: "Unlock an archive store attached from another Arkiv installation, with that installation's recovery key; its messages go to the folders (by name) they had there.",
        args: &[req("id", Type::Number), req("passphrase", Type::String)],
        run: Run::Long(unlock_store),
    },
];

fn renew_master_key(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, FnError> {
    let Some(key) = a.opt("recoveryKey") else {
        return Err(FnError::bad_argument(
            "RenewMasterKey needs recoveryKey: the recovery key seals the new master key, and Arkiv never keeps it",
        ));
    };
    task.log("Renewing the master key...".to_string());
    let r = st.archive.renew_master_key(key)?;
    task.log(format!(
        "The master key was renewed: {} archive stores re-wrapped{}.",
        r.stores.len(),
        if r.pending.is_empty() {
            String::new()
        } else {
            format!(" ({} finish at their next opening)", r.pending.len())
        }
    ));
    Ok(serde_json::to_value(r).unwrap_or_default())
}

fn dir_size(p: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

fn get_stores(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let include_size = a.bool_or("includeSize", true);
    let mut out = Vec::new();
    for info in st.archive.stores() {
        let e = &info.entry;
        let mut v = json!({
            "id": e.id.0,
            "name": e.name,
            "type": "FileSystemInternal",
            "requestedState": e.status,
            "databasePath": e.meta_dir,
            "contentPath": e.content_dir,
            "indexPath": format!("{}/index", e.meta_dir),
            "error": info.error,
        });
        if include_size
            && info.error.is_none()
            && let Ok(store) = st.archive.store(e.id)
        {
            let dirs = store.dirs();
            let size = if dirs.meta == dirs.content {
                dir_size(&dirs.meta)
            } else {
                dir_size(&dirs.meta) + dir_size(&dirs.content)
            };
            v["size"] = json!(size);
        }
        out.push(v);
    }
    Ok(Value::Array(out))
}

pub(crate) fn requested_state(v: Option<&str>) -> Result<Option<StoreStatus>, FnError> {
    Ok(match v {
        None => None,
        Some("current") => Some(StoreStatus::Current),
        Some("normal") => Some(StoreStatus::Normal),
        Some("writeProtected") => Some(StoreStatus::WriteProtected),
        Some("disabled") => Some(StoreStatus::Disabled),
        Some(other) => {
            return Err(FnError::bad_argument(format!(
                "requestedState must be current, normal, writeProtected or disabled (got '{other}')"
            )));
        }
    })
}

fn create_store(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    store_type(a)?;
    refuse_server_store_args(a)?;
    let status = requested_state(a.opt("requestedState"))?.unwrap_or(StoreStatus::Normal);
    let dirs = match (a.opt("databasePath"), a.opt("contentPath")) {
        (None, None) => None,
        (Some(d), c) => Some(arkiv_archive::stores::StoreDirs {
            meta: d.into(),
            content: c.unwrap_or(d).into(),
        }),
        (None, Some(_)) => return Err(FnError::bad_argument("contentPath needs databasePath")),
    };
    if let Some(ix) = a.opt("indexPath") {
        let want = dirs
            .as_ref()
            .map(|d| d.meta.join("index"))
            .ok_or_else(|| FnError::bad_argument("indexPath needs databasePath"))?;
        if std::path::Path::new(ix) != want {
            return Err(FnError::failed(format!(
                "the search index lives beside the metadata: indexPath must be {}",
                want.display()
            )));
        }
    }
    let e = st
        .archive
        .create_store(Some(a.str("name").to_string()), dirs, status)?;
    Ok(json!({ "id": e.id.0 }))
}

fn attach_store(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    store_type(a)?;
    refuse_server_store_args(a)?;
    let meta = a
        .opt("databasePath")
        .ok_or_else(|| FnError::bad_argument("AttachStore needs databasePath"))?;
    let dirs = arkiv_archive::stores::StoreDirs {
        meta: st.archive.dir().join(meta),
        content: st.archive.dir().join(a.opt("contentPath").unwrap_or(meta)),
    };
    if let Some(ix) = a.opt("indexPath")
        && std::path::Path::new(ix) != dirs.meta.join("index")
        && st.archive.dir().join(ix) != dirs.meta.join("index")
    {
        return Err(FnError::failed(
            "the search index lives beside the metadata: indexPath must be databasePath/index",
        ));
    }
    let status = requested_state(a.opt("requestedState"))?.unwrap_or(StoreStatus::Normal);
    let e = st.archive.attach_store(a.str("name"), dirs, status)?;
    Ok(json!({ "id": e.id.0 }))
}

fn detach_store(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let e = st.archive.detach_store(store_arg(a, "id")?)?;
    Ok(json!({ "databasePath": e.meta_dir, "contentPath": e.content_dir }))
}

fn rename_store(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    st.archive
        .rename_store(store_arg(a, "id")?, a.str("name"))?;
    Ok(Value::Null)
}

fn set_store_requested_state(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let status = requested_state(a.opt("requestedState"))?
        .ok_or_else(|| FnError::bad_argument("SetStoreRequestedState needs requestedState"))?;
    st.archive.set_store_status(store_arg(a, "id")?, status)?;
    Ok(Value::Null)
}

fn set_store_properties(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let id: StoreId = store_arg(a, "id")?;
    store_type(a)?;
    refuse_server_store_args(a)?;
    let meta = a.opt("databasePath").filter(|p| !p.is_empty());
    let content = a.opt("contentPath").filter(|p| !p.is_empty());
    if let Some(index) = a.opt("indexPath").filter(|p| !p.is_empty()) {
        // The search index lives with the metadata: it moves with databasePath.
        let base = meta.map(str::to_string).or_else(|| {
            st.archive
                .stores()
                .into_iter()
                .find(|s| s.entry.id == id)
                .map(|s| s.entry.meta_dir)
        });
        let expected = base.map(|b| format!("{}/index", b.trim_end_matches('/')));
        if expected.as_deref() != Some(index.trim_end_matches('/')) {
            return Err(FnError::failed(format!(
                "indexPath is always databasePath/index ({}); move the database to move the index",
                expected.unwrap_or_default()
            )));
        }
    }
    if meta.is_none() && content.is_none() {
        return Ok(Value::Null);
    }
    st.archive.set_store_dirs(id, meta, content)?;
    Ok(Value::Null)
}

fn retry_open_stores(st: &Arc<AppState>, _: &Args) -> Result<Value, FnError> {
    st.archive.retry_open_stores()?;
    let failing: Vec<Value> = st
        .archive
        .stores()
        .into_iter()
        .filter_map(|i| i.error.map(|e| json!({"id": i.entry.id.0, "error": e})))
        .collect();
    Ok(json!({ "stillFailing": failing }))
}

fn unlock_store(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, FnError> {
    let id = store_arg(a, "id")?;
    task.log(format!("Unlocking archive store #{}...", id.0));
    let r = st.archive.unlock_store(id, a.str("passphrase"))?;
    task.log(format!(
        "Unlocked; {} messages placed in their folders, {} folders created{}.",
        r.moved,
        r.folders_created.len(),
        if r.duplicates_removed > 0 {
            format!(", {} duplicates removed", r.duplicates_removed)
        } else {
            String::new()
        }
    ));
    Ok(serde_json::to_value(r).unwrap_or_default())
}
