//! Archives, folders and the messages in them (manual §7.2). What the caller may see, move or
//! delete is decided by `arkiv_archive::access`.

use std::sync::Arc;

use arkiv_types::{FolderId, FolderPath, MessageId};
use serde_json::{Value, json};

use super::{Args, FnError, Function, Run, Type, opt, req};
use crate::AppState;

pub static FUNCTIONS: &[Function] = &[
    Function {
        name: "GetChildFolders",
        description: "Get child folders; without a folder, all archives and the folders the caller may read (other archives show their names only, as compliance asks).",
        args: &[opt("folder", Type::String), opt("maxLevels", Type::Number)],
        run: Run::Quick(get_child_folders),
    },
    Function {
        name: "GetFolderStatistics",
        description: "Get folder statistics: messages and size of each archive.",
        args: &[],
        run: Run::Quick(get_folder_statistics),
    },
    Function {
        name: "MoveFolder",
        description: "Move (or rename) a folder: archive/path to archive/path. Moving into another archive needs archive access to both.",
        args: &[
            req("fromFolder", Type::String),
            req("toFolder", Type::String),
        ],
        run: Run::Quick(move_folder),
    },
    Function {
        name: "DeleteEmptyFolders",
        description: "Remove folders that contain no emails (below folder, or everywhere).",
        args: &[opt("folder", Type::String)],
        run: Run::Quick(delete_empty_folders),
    },
    Function {
        name: "GetMessages",
        description: "Get list of messages from a folder (only folders the caller may read: compliance applies to administrators too).",
        args: &[opt("folder", Type::String)],
        run: Run::Quick(get_messages),
    },
    Function {
        name: "DeleteMessage",
        description: "Delete a single message the caller may read; the reason is written to the audit log.",
        args: &[req("id", Type::String), req("reason", Type::String)],
        run: Run::Quick(delete_message),
    },
];

fn get_child_folders(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let max = match a.opt("maxLevels") {
        Some(_) if a.number("maxLevels") < 1 => {
            return Err(FnError::bad_argument("maxLevels must be at least 1"));
        }
        Some(_) => a.number("maxLevels") as usize,
        None => usize::MAX,
    };
    let archive = &st.archive;
    // Compliance (§5.11): other archives show their first level only (their names), unless
    // the caller may read them.
    let scope = archive.scope(&a.caller)?;
    // (folder id or None for the root of all archives, its path, its level)
    let mut start: Vec<(Option<FolderId>, String, usize)> = Vec::new();
    match a.opt("folder") {
        None => start.push((None, String::new(), 0)),
        Some(spec) => {
            let path = FolderPath::parse(spec);
            let (name, rest) = path
                .names()
                .split_first()
                .ok_or_else(|| FnError::bad_argument("folder: an empty folder name"))?;
            let id = archive
                .find_folder(name, &FolderPath::from_names(rest))?
                .ok_or_else(|| FnError::not_found(format!("no folder '{spec}'")))?;
            if !scope.contains(id) {
                return Err(FnError::denied(format!(
                    "'{}' may not see inside '{spec}' (compliance: archive access is blocked)",
                    a.caller.name()
                )));
            }
            start.push((Some(id), spec.trim_end_matches('/').to_string(), 0));
        }
    }
    let mut out = Vec::new();
    while let Some((id, path, level)) = start.pop() {
        if level >= max {
            continue;
        }
        for (child, name) in archive.child_folders(id)? {
            let p = if path.is_empty() {
                name
            } else {
                format!("{path}/{name}")
            };
            out.push(json!({ "folder": p }));
            if scope.contains(child) {
                start.push((Some(child), p, level + 1));
            }
        }
    }
    out.sort_by(|x, y| x["folder"].as_str().cmp(&y["folder"].as_str()));
    Ok(Value::Array(out))
}

fn get_folder_statistics(st: &Arc<AppState>, _: &Args) -> Result<Value, FnError> {
    let stats = st.archive.stats()?;
    Ok(Value::Array(
        stats
            .archives
            .iter()
            .map(|a| json!({ "folder": a.archive, "count": a.messages, "size": a.bytes }))
            .collect(),
    ))
}

fn move_folder(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    st.archive
        .move_folder(&a.caller, a.str("fromFolder"), a.str("toFolder"))?;
    Ok(Value::Null)
}

fn delete_empty_folders(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let gone = st.archive.delete_empty_folders(a.opt("folder"))?;
    Ok(json!({ "deletedFolders": gone }))
}

fn get_messages(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let folder = match a.opt("folder") {
        Some(spec) => st.archive.folder_by_spec(spec)?,
        None => st.archive.folder_by_spec(a.caller.name())?,
    };
    if !st.archive.may_read_folder(&a.caller, folder)? {
        return Err(FnError::denied(format!(
            "'{}' may not read this folder (other users' archives are closed to administrators unless compliance allows it)",
            a.caller.name()
        )));
    }
    let list = st.archive.folder_messages(folder)?;
    Ok(serde_json::to_value(list).unwrap_or_default())
}

fn delete_message(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let id: MessageId = a.str("id").parse().map_err(|_| {
        FnError::bad_argument(format!(
            "id '{}' is not <store_id>:<message_num>",
            a.str("id")
        ))
    })?;
    if a.str("reason").trim().is_empty() {
        return Err(FnError::bad_argument(
            "DeleteMessage needs a reason (it goes to the audit log)",
        ));
    }
    let m = st.archive.deletable(&a.caller, id)?;
    st.archive.delete_message(&m)?;
    Ok(Value::Null)
}
