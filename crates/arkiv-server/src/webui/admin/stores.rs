//! Archive stores in web administration (manual §5.15): their states and sizes, creating,
//! attaching, detaching, renaming and unlocking them, the search indexes, and the long work of
//! verifying, compacting, merging, repairing and rebuilding — which runs as a task of the
//! Administration API (the same token `get-status` follows) whose page shows its progress and
//! log live and can cancel it.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::{Admin, Reads, Row, invoke, one, posted, s, started, unknown_action};
use crate::AppState;
use crate::webui::i18n::{Text, fill};
// The templates' `|fill` filter.
use crate::webui::i18n::filters;
use crate::webui::{Page, html, human, see_other};

/// The states a store can be asked to be in (manual §5.15), with their labels.
fn states(t: &'static Text) -> Vec<(&'static str, &'static str)> {
    vec![
        ("current", t.state_current),
        ("normal", t.state_normal),
        ("writeProtected", t.state_write_protected),
        ("disabled", t.state_disabled),
    ]
}

pub struct StoreRow {
    pub id: String,
    pub name: String,
    pub state: String,
    pub size: String,
    pub path: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "admin_stores.html")]
struct Stores {
    t: &'static Text,
    bar: crate::webui::pages::Bar,
    stores: Vec<StoreRow>,
    indexes: Vec<Row>,
    states: Vec<(&'static str, &'static str)>,
    error: Option<String>,
    notice: Option<String>,
}

async fn page(
    state: &Arc<AppState>,
    p: &Page,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let mut reads = Reads::new(state, p, error);
    let stores = reads.list("GetStores", &[("includeSize", "true")]).await;
    let indexes = reads.list("GetStoreIndexes", &[]).await;
    let status = reads.status();
    html(
        status,
        Stores {
            t: p.t,
            bar: p.bar("", None),
            stores: stores
                .iter()
                .map(|st| StoreRow {
                    id: s(st, "id"),
                    name: s(st, "name"),
                    state: s(st, "requestedState"),
                    size: st["size"].as_u64().map(human).unwrap_or_default(),
                    path: s(st, "databasePath"),
                    error: s(st, "error"),
                })
                .collect(),
            indexes: indexes
                .iter()
                .map(|ix| {
                    Row(vec![
                        s(ix, "storeId"),
                        s(ix, "storeName"),
                        if s(ix, "status") == "ok" {
                            "ok".into()
                        } else {
                            fill(
                                p.t.index_rebuild_needed,
                                &[("reason", &s(ix, "rebuildReason"))],
                            )
                        },
                        ix["size"].as_u64().map(human).unwrap_or_default(),
                    ])
                })
                .collect(),
            states: states(p.t),
            error: reads.error,
            notice,
        }
        .render(),
    )
}

pub(in crate::webui) async fn stores(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
) -> Response {
    page(&state, &p, None, None).await
}

/// One form of the stores page; `action` says which. Long work leads to its task page.
pub(in crate::webui) async fn store_action(
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
    let call =
        async |function: &str, args: &[(&str, &str)]| invoke(&state, &p, function, args).await;
    // Quick functions answer with a notice on this page, long ones with their task page.
    let done = |r: Result<Value, String>, notice: String| r.map(|_| Outcome::Done(notice));
    let task = |r: Result<Value, String>| r.and_then(|v| started(t, v)).map(Outcome::Task);
    let r = match f("action") {
        "create" => {
            let mut args = vec![("name", f("name")), ("requestedState", f("requestedState"))];
            if !f("databasePath").is_empty() {
                args.push(("databasePath", f("databasePath")));
            }
            done(
                call("CreateStore", &args).await,
                fill(t.store_created, &[("name", f("name"))]),
            )
        }
        "attach" => done(
            call(
                "AttachStore",
                &[
                    ("name", f("name")),
                    ("databasePath", f("databasePath")),
                    ("requestedState", f("requestedState")),
                ],
            )
            .await,
            fill(t.store_attached, &[("name", f("name"))]),
        ),
        "state" => done(
            call(
                "SetStoreRequestedState",
                &[("id", id), ("requestedState", f("requestedState"))],
            )
            .await,
            fill(
                t.store_state_set,
                &[("id", id), ("state", f("requestedState"))],
            ),
        ),
        "rename" => done(
            call("RenameStore", &[("id", id), ("name", f("name"))]).await,
            fill(t.store_renamed, &[("id", id), ("name", f("name"))]),
        ),
        "detach" if f("confirm") != f("storeName") => {
            Err(fill(t.confirm_store_detach, &[("name", f("storeName"))]))
        }
        "detach" => done(
            call("DetachStore", &[("id", id)]).await,
            fill(t.store_detached, &[("id", id)]),
        ),
        "retry" => done(call("RetryOpenStores", &[]).await, t.stores_retried.into()),
        "verify" => {
            let idx = if f("includeIndexes").is_empty() {
                "false"
            } else {
                "true"
            };
            task(call("VerifyStore", &[("id", id), ("includeIndexes", idx)]).await)
        }
        "verifyAll" => task(call("VerifyStores", &[]).await),
        "compact" => task(call("CompactStore", &[("id", id)]).await),
        "repair" => task(call("RepairStoreDatabase", &[("id", id)]).await),
        "unlock" => task(
            call(
                "UnlockStore",
                &[("id", id), ("passphrase", f("passphrase"))],
            )
            .await,
        ),
        "merge" => task(call("MergeStore", &[("id", id), ("sourceId", f("sourceId"))]).await),
        "selectAllIndexes" => done(
            call("SelectAllStoreIndexesForRebuild", &[]).await,
            t.indexes_selected.into(),
        ),
        "rebuildNeeded" => task(call("RebuildSelectedStoreIndexes", &[]).await),
        other => Err(unknown_action(t, other)),
    };
    match r {
        Ok(Outcome::Task(response)) => response,
        Ok(Outcome::Done(notice)) => page(&state, &p, None, Some(notice)).await,
        Err(e) => page(&state, &p, Some(e), None).await,
    }
}

/// What a form did: started a task (its page), or finished with a notice.
pub(super) enum Outcome {
    Task(Response),
    Done(String),
}

#[derive(Template)]
#[template(path = "admin_task.html")]
struct TaskPage {
    t: &'static Text,
    bar: crate::webui::pages::Bar,
    token: String,
    running: bool,
    outcome: String,
    failed: bool,
    percent: u8,
    log: String,
    cancelled: bool,
}

/// A long-running function's progress: percent, log, outcome. While it runs the page asks the
/// browser to load it again every second (a `Refresh` header: no script needed).
pub(in crate::webui) async fn task(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(token): Path<String>,
) -> Response {
    let Some(task) = state.tasks.get(&token) else {
        return p.not_found(p.t.no_such_task_any_more);
    };
    let snap = task.snapshot(0);
    let running = snap.code == crate::tasks::Code::Running;
    let outcome = match (&snap.code, &snap.error) {
        (crate::tasks::Code::Running, _) => p.t.task_running.to_string(),
        (crate::tasks::Code::Succeeded, _) => p.t.task_succeeded.to_string(),
        (_, Some(e)) => fill(p.t.task_failed_because, &[("error", &e.message)]),
        _ => p.t.task_failed.to_string(),
    };
    let mut r = html(
        StatusCode::OK,
        TaskPage {
            t: p.t,
            bar: p.bar("", None),
            token,
            running,
            failed: snap.code == crate::tasks::Code::Failed,
            outcome,
            // A finished task has no percent any more (as `get-status` reports it).
            percent: match snap.code {
                crate::tasks::Code::Succeeded => 100,
                _ => snap.percent.unwrap_or(0).min(100),
            },
            log: snap.log.unwrap_or_default().replace("\r\n", "\n"),
            cancelled: task.is_cancelled(),
        }
        .render(),
    );
    if running {
        r.headers_mut()
            .insert(header::REFRESH, HeaderValue::from_static("1"));
    }
    r
}

/// Cancels a task (as `cancel-async` does); it stops at its next safe point.
pub(in crate::webui) async fn task_action(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(token): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = posted(&p, &body) {
        return *r;
    }
    let task = state.tasks.get(&token);
    let _ = crate::web::record(
        &state,
        p.caller.name(),
        p.session.ip,
        "cancel-async",
        &[("token".into(), token.clone())],
        if task.is_some() {
            "succeeded"
        } else {
            "failed: no such token"
        },
    )
    .await;
    match task {
        Some(task) => {
            task.cancel();
            see_other(&format!("/web/admin/tasks/{token}"))
        }
        None => p.not_found(p.t.no_such_task),
    }
}
