//! Archives and folders (manual §5.1 "Archives": statistics, renaming and moving folders,
//! removing empty ones) and archiving profiles with their run history (A2–A4, manual §7.2).
//! Folders of archives the administrator may not read show by name only (compliance, §5.11),
//! exactly as `GetChildFolders` answers.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;

use axum::response::Response;
use serde_json::json;

use super::{Admin, Reads, Row, invoke, last_days, one, posted, s, started, unknown_action};
use crate::AppState;
use crate::webui::i18n::{Text, fill};
// The templates' `|fill` filter.
use crate::webui::i18n::filters;
use crate::webui::{Page, html, human};

#[derive(Template)]
#[template(path = "admin_archives.html")]
struct Archives {
    t: &'static Text,
    bar: crate::webui::pages::Bar,
    archives: Vec<Row>,
    folders: Vec<(String, usize)>,
    error: Option<String>,
    notice: Option<String>,
}

async fn archives_page(
    state: &Arc<AppState>,
    p: &Page,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let mut reads = Reads::new(state, p, error);
    let stats = reads.list("GetFolderStatistics", &[]).await;
    let folders = reads.list("GetChildFolders", &[]).await;
    let status = reads.status();
    html(
        status,
        Archives {
            t: p.t,
            bar: p.bar("", None),
            archives: stats
                .iter()
                .map(|a| {
                    Row(vec![
                        s(a, "folder"),
                        s(a, "count"),
                        a["size"].as_u64().map(human).unwrap_or_default(),
                    ])
                })
                .collect(),
            folders: folders
                .iter()
                .map(|f| {
                    let path = s(f, "folder");
                    let depth = path.matches('/').count().min(5);
                    (path, depth)
                })
                .collect(),
            error: reads.error,
            notice,
        }
        .render(),
    )
}

pub(in crate::webui) async fn archives(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
) -> Response {
    archives_page(&state, &p, None, None).await
}

pub(in crate::webui) async fn archive_action(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
    body: axum::body::Bytes,
) -> Response {
    let form = match posted(&p, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let t = p.t;
    let f = |k: &str| one(&form, k).trim();
    let r = match f("action") {
        "move" => invoke(
            &state,
            &p,
            "MoveFolder",
            &[("fromFolder", f("fromFolder")), ("toFolder", f("toFolder"))],
        )
        .await
        .map(|_| {
            fill(
                t.folder_moved,
                &[("from", f("fromFolder")), ("to", f("toFolder"))],
            )
        }),
        "deleteEmpty" => {
            let args: Vec<(&str, &str)> = if f("folder").is_empty() {
                vec![]
            } else {
                vec![("folder", f("folder"))]
            };
            invoke(&state, &p, "DeleteEmptyFolders", &args)
                .await
                .map(|v| {
                    let n = v["deletedFolders"]
                        .as_array()
                        .map_or_else(|| s(&v, "deletedFolders"), |a| a.len().to_string());
                    fill(t.empty_folders_removed, &[("count", &n)])
                })
        }
        other => Err(unknown_action(t, other)),
    };
    match r {
        Ok(n) => archives_page(&state, &p, None, Some(n)).await,
        Err(e) => archives_page(&state, &p, Some(e), None).await,
    }
}

pub struct ProfileRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub server: String,
    pub user: String,
    pub target: String,
    pub automatic: String,
    pub last: String,
    pub running: bool,
}

#[derive(Template)]
#[template(path = "admin_profiles.html")]
struct Profiles {
    t: &'static Text,
    bar: crate::webui::pages::Bar,
    profiles: Vec<ProfileRow>,
    runs: Vec<Row>,
    properties: String,
    error: Option<String>,
    notice: Option<String>,
}

/// An example profile for the properties field: one IMAP mailbox into a user's archive.
fn example(t: &Text) -> String {
    serde_json::to_string_pretty(&json!({
        "name": t.profile_example_name,
        "type": "imap",
        "host": "mail.example.com",
        "security": "tls",
        "userName": "alice@example.com",
        "password": "…",
        "targetUser": "alice",
    }))
    .unwrap_or_default()
}

async fn profiles_page(
    state: &Arc<AppState>,
    p: &Page,
    properties: Option<String>,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let mut reads = Reads::new(state, p, error);
    let profiles = reads.list("GetProfiles", &[]).await;
    let (from, to) = last_days(30);
    let runs = reads
        .list(
            "GetWorkerResults",
            &[
                ("fromIncluding", &from),
                ("toExcluding", &to),
                ("timeZoneID", "UTC"),
            ],
        )
        .await;
    let status = reads.status();
    let time = |v: String| v.replace('T', " ");
    html(
        status,
        Profiles {
            t: p.t,
            bar: p.bar("", None),
            profiles: profiles
                .iter()
                .map(|x| ProfileRow {
                    id: s(x, "id"),
                    name: s(x, "name"),
                    kind: s(x, "type"),
                    server: match (s(x, "host"), s(x, "csvFile")) {
                        (h, _) if !h.is_empty() => format!("{h} ({})", s(x, "security")),
                        (_, c) => c,
                    },
                    user: s(x, "userName"),
                    target: s(x, "targetUser"),
                    automatic: if x["automatic"].is_null() {
                        p.t.no.into()
                    } else {
                        p.t.yes.into()
                    },
                    last: s(x, "lastResult"),
                    running: x["running"].as_bool().unwrap_or(false),
                })
                .collect(),
            runs: runs
                .iter()
                .rev()
                .take(50)
                .map(|r| {
                    Row(vec![
                        s(r, "profileName"),
                        s(r, "userName"),
                        time(s(r, "startTime")),
                        s(r, "result"),
                        s(r, "archived"),
                        s(r, "alreadyArchived"),
                        s(r, "failed"),
                        s(r, "error"),
                    ])
                })
                .collect(),
            properties: properties.unwrap_or_else(|| example(p.t)),
            error: reads.error,
            notice,
        }
        .render(),
    )
}

pub(in crate::webui) async fn profiles(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
) -> Response {
    profiles_page(&state, &p, None, None, None).await
}

pub(in crate::webui) async fn profile_action(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
    body: axum::body::Bytes,
) -> Response {
    let form = match posted(&p, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let t = p.t;
    let f = |k: &str| one(&form, k).trim();
    let id = f("id");
    let r: Result<String, String> = match f("action") {
        "run" => match invoke(&state, &p, "RunProfile", &[("id", id)])
            .await
            .and_then(|v| started(t, v))
        {
            Ok(task_page) => return task_page,
            Err(e) => Err(e),
        },
        "delete" => invoke(&state, &p, "DeleteProfile", &[("id", id)])
            .await
            .map(|_| fill(t.profile_deleted, &[("id", id)])),
        "create" => {
            let props = f("properties");
            return match invoke(&state, &p, "CreateProfile", &[("properties", props)]).await {
                Ok(v) => {
                    profiles_page(
                        &state,
                        &p,
                        None,
                        None,
                        Some(fill(
                            t.profile_created,
                            &[("name", &s(&v, "name")), ("id", &s(&v, "id"))],
                        )),
                    )
                    .await
                }
                // The properties stay in the field to be corrected.
                Err(e) => profiles_page(&state, &p, Some(props.to_string()), Some(e), None).await,
            };
        }
        other => Err(unknown_action(t, other)),
    };
    match r {
        Ok(n) => profiles_page(&state, &p, None, None, Some(n)).await,
        Err(e) => profiles_page(&state, &p, None, Some(e), None).await,
    }
}
