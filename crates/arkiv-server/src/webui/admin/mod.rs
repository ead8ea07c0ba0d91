//! Web administration (D2), for administrators only: every page reads and every form acts
//! through the Administration API's function table (`crate::api::call`), so the browser can do
//! exactly what the API allows, with the same argument checks and the same audit record
//! (door `WebAccess`): the dashboard, the users (create, privileges, e-mail addresses, folder
//! access, password, delete), archives and folders, archiving profiles ([`archives`]),
//! stores and their long-running work ([`stores`]), jobs ([`jobs`]), compliance and the
//! service ([`settings`]), and the audit log.

use std::sync::Arc;

use arkiv_archive::access::Privilege;
use askama::Template;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde_json::Value;

mod archives;
mod jobs;
mod settings;
mod stores;

pub(super) use archives::{archive_action, archives, profile_action, profiles};
pub(super) use jobs::{job_action, jobs};
pub(super) use settings::{compliance, compliance_action, service};
pub(super) use stores::{store_action, stores, task, task_action};

use super::i18n::{Text, fill};
// The templates' `|fill` filter.
use super::i18n::filters;
use super::{Page, enc, html, human, see_other};
use crate::AppState;
use crate::api::{Called, call};

/// The signed-in administrator of an admin page (an extractor); others get "not allowed".
pub(super) struct Admin(Page);

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let p = Page::from_request_parts(parts, state).await?;
        if !p.caller.is_admin() {
            return Err(p.error(
                StatusCode::FORBIDDEN,
                p.t.error_not_allowed,
                p.t.error_admin_only,
            ));
        }
        Ok(Admin(p))
    }
}

/// Calls an Administration API function as the page's administrator. An error is the API's
/// own message (in English, whatever the page's language).
pub(super) async fn invoke(
    state: &Arc<AppState>,
    p: &Page,
    function: &str,
    form: &[(&str, &str)],
) -> Result<Value, String> {
    let form = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match call(state, p.caller.clone(), p.session.ip, function, form).await {
        Ok(Called::Done(v)) => Ok(v),
        Ok(Called::Started(s)) => Ok(serde_json::json!({"token": s.token})),
        Err(e) => Err(e.message),
    }
}

/// What a form of a long-running function leads to: its task page, where progress shows.
pub(super) fn started(t: &Text, v: Value) -> Result<Response, String> {
    match v["token"].as_str() {
        Some(token) => Ok(see_other(&format!("/web/admin/tasks/{token}"))),
        None => Err(t.no_task_started.into()),
    }
}

/// The "unknown action" refusal of a form.
pub(super) fn unknown_action(t: &Text, action: &str) -> String {
    fill(t.unknown_action, &[("action", action)])
}

/// The Administration API answers one page shows: each read that fails leaves an empty value
/// and the first failure is what the page tells.
pub(super) struct Reads<'a> {
    state: &'a Arc<AppState>,
    p: &'a Page,
    pub error: Option<String>,
}

impl<'a> Reads<'a> {
    /// Starts with the error a form already has to tell, if any.
    pub fn new(state: &'a Arc<AppState>, p: &'a Page, error: Option<String>) -> Reads<'a> {
        Reads { state, p, error }
    }

    /// A function's result (`null` when it failed).
    pub async fn value(&mut self, function: &str, form: &[(&str, &str)]) -> Value {
        match invoke(self.state, self.p, function, form).await {
            Ok(v) => v,
            Err(e) => {
                self.error.get_or_insert(e);
                Value::Null
            }
        }
    }

    /// A function's list result (empty when it failed).
    pub async fn list(&mut self, function: &str, form: &[(&str, &str)]) -> Vec<Value> {
        match self.value(function, form).await {
            Value::Array(a) => a,
            _ => Vec::new(),
        }
    }

    /// 400 when the page tells an error, else 200.
    pub fn status(&self) -> StatusCode {
        if self.error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        }
    }
}

/// `fromIncluding` and `toExcluding` (UTC, as the result functions take them) for the last
/// `days` days, up to an hour ahead so a run that just ended is in.
pub(super) fn last_days(days: i64) -> (String, String) {
    let now = jiff::Timestamp::now();
    let fmt = |t: jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    (
        fmt(now - jiff::SignedDuration::from_hours(24 * days)),
        fmt(now + jiff::SignedDuration::from_hours(1)),
    )
}

/// A posted admin form, once its CSRF token is checked (the refusal page otherwise).
pub(super) fn posted(p: &Page, body: &[u8]) -> Result<Vec<(String, String)>, Box<Response>> {
    let form = pairs(body);
    match p.refuse_csrf(Some(one(&form, "csrf"))) {
        Some(r) => Err(Box::new(r)),
        None => Ok(form),
    }
}

pub(super) fn s(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A row of a simple table.
pub struct Row(pub Vec<String>);

#[derive(Template)]
#[template(path = "admin_dashboard.html")]
struct Dashboard {
    t: &'static Text,
    bar: super::pages::Bar,
    version: String,
    machine: String,
    stores: Vec<Row>,
    indexes: Vec<Row>,
    jobs: Vec<Row>,
    profiles: Vec<Row>,
    warnings: Vec<String>,
}

pub(super) async fn dashboard(State(state): State<Arc<AppState>>, Admin(p): Admin) -> Response {
    let t = p.t;
    let mut warnings = Vec::new();
    let mut get = async |f: &str, form: &[(&str, &str)]| match invoke(&state, &p, f, form).await {
        Ok(v) => v,
        Err(e) => {
            warnings.push(format!("{f}: {e}"));
            Value::Null
        }
    };
    let info = get("GetServerInfo", &[]).await;
    let stores = get("GetStores", &[("includeSize", "true")]).await;
    let indexes = get("GetStoreIndexes", &[]).await;
    let (from, to) = last_days(7);
    let jobs = get(
        "GetJobResults",
        &[
            ("fromIncluding", &from),
            ("toExcluding", &to),
            ("timeZoneId", "UTC"),
        ],
    )
    .await;
    let runs = get(
        "GetWorkerResults",
        &[
            ("fromIncluding", &from),
            ("toExcluding", &to),
            ("timeZoneID", "UTC"),
        ],
    )
    .await;
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let mut store_rows = Vec::new();
    for st in list(&stores) {
        if !st["error"].is_null() {
            warnings.push(fill(
                t.warning_store,
                &[("name", &s(&st, "name")), ("error", &s(&st, "error"))],
            ));
        }
        store_rows.push(Row(vec![
            s(&st, "id"),
            s(&st, "name"),
            s(&st, "requestedState"),
            st["size"].as_u64().map(human).unwrap_or_default(),
            s(&st, "error"),
        ]));
    }
    let mut index_rows = Vec::new();
    for ix in list(&indexes) {
        if s(&ix, "status") != "ok" || !ix["rebuildReason"].is_null() {
            warnings.push(fill(
                t.warning_index,
                &[
                    ("name", &s(&ix, "storeName")),
                    ("reason", &s(&ix, "rebuildReason")),
                ],
            ));
        }
        index_rows.push(Row(vec![
            s(&ix, "storeName"),
            s(&ix, "status"),
            ix["size"].as_u64().map(human).unwrap_or_default(),
            s(&ix, "builtWith"),
        ]));
    }
    let mut job_rows: Vec<Row> = list(&jobs)
        .iter()
        .rev()
        .take(10)
        .map(|j| Row(vec![s(j, "jobName"), s(j, "startTime"), s(j, "result")]))
        .collect();
    for j in list(&jobs).iter().filter(|j| s(j, "result") == "failed") {
        warnings.push(fill(
            t.warning_job_failed,
            &[("name", &s(j, "jobName")), ("time", &s(j, "startTime"))],
        ));
    }
    job_rows.truncate(10);
    let profile_rows: Vec<Row> = list(&runs)
        .iter()
        .rev()
        .take(10)
        .map(|r| {
            Row(vec![
                s(r, "profileName"),
                s(r, "startTime"),
                s(r, "result"),
                s(r, "archived"),
                s(r, "failed"),
            ])
        })
        .collect();
    for r in list(&runs).iter().filter(|r| s(r, "result") == "failed") {
        warnings.push(fill(
            t.warning_profile_failed,
            &[
                ("name", &s(r, "profileName")),
                ("time", &s(r, "startTime")),
                ("error", &s(r, "error")),
            ],
        ));
    }
    let page = Dashboard {
        t,
        bar: p.bar("", None),
        version: s(&info, "version"),
        machine: s(&info, "machineName"),
        stores: store_rows,
        indexes: index_rows,
        jobs: job_rows,
        profiles: profile_rows,
        warnings,
    };
    html(StatusCode::OK, page.render())
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct Users {
    t: &'static Text,
    bar: super::pages::Bar,
    users: Vec<Row>,
    privileges: Vec<PrivilegeBox>,
    error: Option<String>,
    notice: Option<String>,
}

async fn users_page(
    state: &Arc<AppState>,
    p: &Page,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let users = invoke(state, p, "GetUsers", &[])
        .await
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|u| {
            Row(vec![
                s(u, "userName"),
                s(u, "fullName"),
                s(u, "authentication"),
                format!(
                    "/web/admin/users/{}",
                    enc(&s(u, "userName")).replace('+', "%20")
                ),
            ])
        })
        .collect();
    html(
        status,
        Users {
            t: p.t,
            bar: p.bar("", None),
            users,
            // A new user can sign in and change their password unless unticked.
            privileges: privilege_boxes(p.t, |pr| {
                matches!(pr, Privilege::Login | Privilege::ChangePassword)
            }),
            error,
            notice,
        }
        .render(),
    )
}

pub(super) async fn users(State(state): State<Arc<AppState>>, Admin(p): Admin) -> Response {
    users_page(&state, &p, StatusCode::OK, None, None).await
}

fn pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

pub(super) fn one<'a>(form: &'a [(String, String)], k: &str) -> &'a str {
    form.iter()
        .find(|(n, _)| n == k)
        .map_or("", |(_, v)| v.as_str())
}

/// The privileges ticked in a form, as `CreateUser`/`SetUserPrivileges` take them.
fn ticked(form: &[(String, String)]) -> String {
    let v: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "privilege")
        .map(|(_, v)| v.as_str())
        .filter(|v| Privilege::ALL.iter().any(|p| p.name() == *v))
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(",")
    }
}

pub(super) async fn create_user(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
    body: axum::body::Bytes,
) -> Response {
    let form = match posted(&p, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let name = one(&form, "userName").trim().to_string();
    let privileges = ticked(&form);
    let mut args = vec![
        ("userName", name.as_str()),
        ("privileges", privileges.as_str()),
    ];
    let full = one(&form, "fullName").trim();
    if !full.is_empty() {
        args.push(("fullName", full));
    }
    let pw = one(&form, "password");
    if !pw.is_empty() {
        args.push(("password", pw));
    }
    match invoke(&state, &p, "CreateUser", &args).await {
        Ok(_) => see_other(&format!(
            "/web/admin/users/{}",
            enc(&name).replace('+', "%20")
        )),
        Err(e) => users_page(&state, &p, StatusCode::BAD_REQUEST, Some(e), None).await,
    }
}

/// A privilege checkbox of the user forms.
pub struct PrivilegeBox {
    /// The API's name, what the form sends.
    pub name: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

/// Every privilege as a checkbox.
fn privilege_boxes(t: &'static Text, checked: impl Fn(Privilege) -> bool) -> Vec<PrivilegeBox> {
    Privilege::ALL
        .iter()
        .map(|&pr| PrivilegeBox {
            name: pr.name(),
            label: match pr {
                Privilege::Login => t.privilege_login,
                Privilege::ChangePassword => t.privilege_change_password,
                Privilege::Archive => t.privilege_archive,
                Privilege::ModifyArchiveProfiles => t.privilege_modify_archive_profiles,
                Privilege::Export => t.privilege_export,
                Privilege::ModifyExportProfiles => t.privilege_modify_export_profiles,
                Privilege::Delete => t.privilege_delete,
            },
            checked: checked(pr),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin_user.html")]
struct UserPage {
    t: &'static Text,
    bar: super::pages::Bar,
    name: String,
    full_name: String,
    authentication: String,
    privileges: Vec<PrivilegeBox>,
    emails: String,
    folder_rights: Vec<Row>,
    error: Option<String>,
    notice: Option<String>,
}

async fn user_page(
    state: &Arc<AppState>,
    p: &Page,
    name: &str,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let info = match invoke(state, p, "GetUserInfo", &[("userName", name)]).await {
        Ok(v) => v,
        Err(e) => return p.not_found(&e),
    };
    let has: Vec<String> = s(&info, "privileges")
        .split(',')
        .map(|x| x.trim().to_string())
        .collect();
    let emails = info["emailAddresses"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let folder_rights = info["privilegesOnFolders"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f| Row(vec![s(f, "folder"), s(f, "privileges")]))
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    html(
        status,
        UserPage {
            t: p.t,
            bar: p.bar("", None),
            name: s(&info, "userName"),
            full_name: s(&info, "fullName"),
            authentication: s(&info, "authentication"),
            privileges: privilege_boxes(p.t, |pr| has.iter().any(|h| h == pr.name())),
            emails,
            folder_rights,
            error,
            notice,
        }
        .render(),
    )
}

pub(super) async fn user(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(name): Path<String>,
) -> Response {
    user_page(&state, &p, &name, None, None).await
}

/// One form of the user page: `action` says which (privileges, emails, password, delete).
pub(super) async fn user_action(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let form = match posted(&p, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let t = p.t;
    let r = match one(&form, "action") {
        "privileges" => {
            let privileges = ticked(&form);
            invoke(
                &state,
                &p,
                "SetUserPrivileges",
                &[("userName", &name), ("privileges", &privileges)],
            )
            .await
            .map(|_| t.privileges_saved)
        }
        "emails" => {
            let list: Vec<&str> = one(&form, "emails")
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|x| !x.is_empty())
                .collect();
            let joined = list.join(",");
            invoke(
                &state,
                &p,
                "SetUserEmailAddresses",
                &[("userName", &name), ("emailAddresses", &joined)],
            )
            .await
            .map(|_| t.addresses_saved)
        }
        "grant" => {
            let rights: Vec<&str> = form
                .iter()
                .filter(|(k, _)| k == "right")
                .map(|(_, v)| v.as_str())
                .filter(|v| ["read", "write", "delete"].contains(v))
                .collect();
            let rights = if rights.is_empty() {
                "none".to_string()
            } else {
                rights.join(",")
            };
            invoke(
                &state,
                &p,
                "SetUserPrivilegesOnFolder",
                &[
                    ("userName", &name),
                    ("folder", one(&form, "folder").trim()),
                    ("privileges", &rights),
                ],
            )
            .await
            .map(|_| t.folder_access_saved)
        }
        "password" => invoke(
            &state,
            &p,
            "SetUserPassword",
            &[("userName", &name), ("password", one(&form, "password"))],
        )
        .await
        .map(|_| t.password_set),
        "delete" => {
            if one(&form, "confirm") != name {
                Err(fill(t.confirm_user_deletion, &[("name", &name)]))
            } else {
                match invoke(&state, &p, "DeleteUser", &[("userName", &name)]).await {
                    Ok(_) => {
                        return users_page(
                            &state,
                            &p,
                            StatusCode::OK,
                            None,
                            Some(fill(t.user_deleted, &[("name", &name)])),
                        )
                        .await;
                    }
                    Err(e) => Err(e),
                }
            }
        }
        other => Err(unknown_action(t, other)),
    };
    match r {
        Ok(notice) => user_page(&state, &p, &name, None, Some(notice.into())).await,
        Err(e) => user_page(&state, &p, &name, Some(e), None).await,
    }
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct Audit {
    t: &'static Text,
    bar: super::pages::Bar,
    from: String,
    to: String,
    user: String,
    text: String,
    records: Vec<Row>,
    /// How many records matched, how many are shown.
    summary: String,
    chain_ok: bool,
    chain: String,
    error: Option<String>,
}

/// Records shown per page of the audit log.
const AUDIT_ROWS: usize = 500;

/// The audit log (manual §5.14): filter by days, user and action; the hash chain's state.
/// Reading it is itself recorded.
pub(super) async fn audit(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let t = p.t;
    let q = super::query_map(q.as_deref());
    let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let (from, to, user, text) = (get("from"), get("to"), get("user"), get("text"));
    let day = |d: &str| d.is_empty() || jiff::civil::Date::strptime("%Y-%m-%d", d).is_ok();
    let mut error = None;
    if !day(&from) || !day(&to) {
        error = Some(t.dates_format.to_string());
    }
    let filter = arkiv_archive::audit::Filter {
        from: (!from.is_empty() && day(&from)).then(|| from.clone()),
        to: (!to.is_empty() && day(&to)).then(|| to.clone()),
        user: (!user.is_empty()).then(|| user.clone()),
        text: (!text.is_empty()).then(|| text.clone()),
        limit: AUDIT_ROWS,
    };
    let (st, caller) = (state.clone(), p.caller.clone());
    let view =
        match crate::web::blocking(move || Ok(st.archive.audit_view(&caller, &filter)?)).await {
            Ok(v) => v,
            Err(e) => return p.web_error(e),
        };
    let _ = crate::web::record(
        &state,
        p.caller.name(),
        p.session.ip,
        "view audit log",
        &[
            ("from".into(), from.clone()),
            ("to".into(), to.clone()),
            ("user".into(), user.clone()),
            ("text".into(), text.clone()),
        ],
        "succeeded",
    )
    .await;
    let records = view
        .records
        .iter()
        .map(|r| {
            let args = r["args"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| {
                            format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_string))
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            Row(vec![
                s(r, "time")
                    .replace('T', " ")
                    .trim_end_matches('Z')
                    .to_string(),
                s(r, "user"),
                s(r, "via"),
                s(r, "client"),
                s(r, "function"),
                args,
                s(r, "outcome"),
            ])
        })
        .collect();
    let (chain_ok, chain) = match &view.chain {
        Ok(n) => (true, fill(t.chain_intact, &[("count", &n.to_string())])),
        Err(e) => (false, fill(t.chain_broken, &[("error", e)])),
    };
    let summary = fill(
        if view.matched > view.records.len() {
            t.audit_summary_capped
        } else if view.matched == 1 {
            t.audit_summary_one
        } else {
            t.audit_summary
        },
        &[
            ("count", &view.matched.to_string()),
            ("shown", &view.records.len().to_string()),
        ],
    );
    html(
        StatusCode::OK,
        Audit {
            t,
            bar: p.bar("", None),
            from,
            to,
            user,
            text,
            records,
            summary,
            chain_ok,
            chain,
            error,
        }
        .render(),
    )
}
