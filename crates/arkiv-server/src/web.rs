//! The JSON API for the web interface and for users' own scripts (`/api/v1/...`): logon with a
//! session, the folders and messages a user may read, search, download, delete, and changing
//! one's own password. Unlike the Administration API it is for every user, and every call is
//! checked against the user's privileges (manual §5.1):
//!
//! * logon needs `login` (administrators always may; in safe mode only they may), and a user
//!   who authenticates through a directory service cannot log on with a password here;
//! * reading follows the archive's access rules (own archive, folders granted `read`;
//!   administrators see other archives only when compliance allows it, §5.11);
//! * downloading a message's `.eml` is exporting it: `export`;
//! * deleting needs `delete` and a `delete` folder privilege;
//! * changing one's password needs `changePassword` and the old password.
//!
//! Endpoints: `POST|GET|DELETE /api/v1/session` (logon, who am I, logoff), `POST
//! /api/v1/password`, `GET /api/v1/folders`, `GET /api/v1/search?q=&folder=&offset=&limit=&sort=
//! &order=` (a folder without `q` lists that folder, a page at a time), `GET|DELETE
//! /api/v1/messages/{id}`, `GET /api/v1/messages/{id}/eml`, `GET /api/v1/profiles` (one's own
//! archiving profiles), `POST /api/v1/profiles/{id}/run` (needs `archive`), `GET
//! /api/v1/profiles/{id}/results`.
//!
//! Every rule is the archive's (`arkiv_archive::access`): this module turns a session into
//! a `Caller` and asks.
//!
//! Sessions: `POST /api/v1/session` answers a session token, also set as the cookie
//! `arkiv_session` (`Secure; HttpOnly; SameSite=Strict`), and a CSRF token. A request carries
//! the token as the cookie or as `Authorization: Bearer`. A changing request (POST, DELETE)
//! made with the cookie must also send `X-Arkiv-CSRF`: a page of another site cannot read it.
//! Sessions end on `DELETE /api/v1/session` or after 30 minutes without a request, and are
//! listed by `GetActiveSessions` as `WebAccess`. Errors are `{"error": {"message": ...}}`
//! with the HTTP status that fits.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use arkiv_archive::ArchiveError;
use arkiv_archive::access::{Caller, Privilege, Via};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::AppState;
use crate::api::{ApiError, audit, logon as check_logon};
use crate::error::log_safe;
use crate::sessions::WebSession;

const COOKIE: &str = "arkiv_session";
const MAX_BODY: usize = 64 * 1024;

/// An answer of this API that is an error.
#[derive(Debug)]
pub struct WebError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl WebError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        WebError {
            status,
            message: message.into(),
        }
    }
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        WebError::new(StatusCode::FORBIDDEN, message)
    }
    pub(crate) fn bad(message: impl Into<String>) -> Self {
        WebError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        WebError::new(e.status, e.message)
    }
}

impl From<ArchiveError> for WebError {
    /// Users see what they can act on; faults of the server (paths, I/O) stay in its log.
    fn from(e: ArchiveError) -> Self {
        use ArchiveError as A;
        let status = match &e {
            A::NoSuchUser(_) | A::NoSuchFolder(_) | A::NoSuchStore(_) | A::NoSuchMessage(_) => {
                StatusCode::NOT_FOUND
            }
            A::Denied(_) => StatusCode::FORBIDDEN,
            A::Invalid { .. } | A::WeakPassword(_) => StatusCode::BAD_REQUEST,
            e if e.is_bad_query() => StatusCode::BAD_REQUEST,
            A::StoreUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            // Known damage (a pack cut short or overwritten outside Arkiv): say which message,
            // keep the details (paths, offsets) in the log.
            A::Store(arkiv_archive::StoreError::Damaged { id, .. }) => {
                crate::log!("ERROR", "web request failed: {}", log_safe(&e.to_string()));
                return WebError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "message {id} is damaged: its stored bytes cannot be read (an administrator's `arkiv verify` reports the damage)"
                    ),
                );
            }
            _ => {
                crate::log!("ERROR", "web request failed: {}", log_safe(&e.to_string()));
                return WebError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the request failed on the server; its log has the details",
                );
            }
        };
        WebError::new(status, e.to_string())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            axum::Json(json!({"error": {"message": self.message}})),
        )
            .into_response();
        no_store(&mut r);
        r
    }
}

pub(crate) fn no_store(r: &mut Response) {
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
}

fn ok(v: Value) -> Response {
    let mut r = axum::Json(v).into_response();
    no_store(&mut r);
    r
}

type WebResult = Result<Response, WebError>;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v1/session", post(logon).get(whoami).delete(logoff))
        .route("/api/v1/password", post(change_password))
        .route("/api/v1/folders", get(folders))
        .route("/api/v1/search", get(search))
        .route("/api/v1/messages/{id}", get(message).delete(delete_message))
        .route("/api/v1/messages/{id}/eml", get(message_eml))
        .route("/api/v1/profiles", get(profiles))
        .route("/api/v1/profiles/{id}/run", post(run_profile))
        .route("/api/v1/profiles/{id}/results", get(profile_results))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Runs archive work on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WebError> + Send + 'static,
) -> Result<T, WebError> {
    tokio::task::spawn_blocking(f).await.map_err(|_| {
        WebError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request failed unexpectedly",
        )
    })?
}

fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<HashMap<String, Value>, WebError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !is_json {
        return Err(WebError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send a JSON body with Content-Type: application/json",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| WebError::bad(format!("the body is not a JSON object: {e}")))
}

fn field<'a>(m: &'a HashMap<String, Value>, name: &str) -> Result<&'a str, WebError> {
    m.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| WebError::bad(format!("missing string field '{name}'")))
}

/// The session token of a request: the cookie, or `Authorization: Bearer`.
fn token_of(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(b) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some((b.trim().to_string(), false));
    }
    cookie(headers, COOKIE).map(|t| (t, true))
}

/// The value of the cookie `name` a request carries.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix('='))
                .map(str::to_string)
        })
}

/// Whether a caller may use Web Access now: `login`, integrated logon, and in safe mode an
/// administrator.
pub(crate) fn may_log_on(state: &AppState, c: &Caller) -> Result<(), String> {
    if !c.has(Privilege::Login) {
        return Err("no 'login' privilege".into());
    }
    if state.safe_mode && !c.is_admin() {
        return Err("the server runs in safe mode (administrators only)".into());
    }
    Ok(())
}

/// The session of a request as a caller, refusing a missing or expired one and, for a
/// changing request made with the cookie, a missing or wrong CSRF token. The user is read
/// again (on a blocking thread): a user deleted, renamed, switched to directory logon or
/// without `login` since ends the session.
pub(crate) async fn session(
    state: &Arc<AppState>,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(String, WebSession, Caller), WebError> {
    let unauthorized = || {
        WebError::new(
            StatusCode::UNAUTHORIZED,
            "not logged on (or the session expired): POST /api/v1/session first",
        )
    };
    let (token, by_cookie) = token_of(headers).ok_or_else(unauthorized)?;
    let s = state
        .sessions
        .web_session(&token)
        .ok_or_else(unauthorized)?;
    if by_cookie && (method == Method::POST || method == Method::DELETE) {
        let sent = headers.get("x-arkiv-csrf").and_then(|v| v.to_str().ok());
        if sent != Some(s.csrf.as_str()) {
            return Err(WebError::forbidden(
                "missing or wrong X-Arkiv-CSRF header (it came with the logon answer)",
            ));
        }
    }
    let (st, sess) = (state.clone(), s.clone());
    let caller = blocking(move || {
        let c = st
            .archive
            .session_caller(
                &sess.user,
                arkiv_types::UserId(sess.user_id),
                Via::Web,
                &sess.ip.to_string(),
            )
            .ok()
            .filter(|_| st.archive.logs_on_here(&sess.user))
            .filter(|c| may_log_on(&st, c).is_ok());
        Ok(c)
    })
    .await?;
    let Some(caller) = caller else {
        state.sessions.close_web(&token);
        return Err(unauthorized());
    };
    Ok((token, s, caller))
}

/// The session cookie: sent over HTTPS only, out of scripts' reach, never cross-site.
pub(crate) fn set_session_cookie(r: &mut Response, token: &str) {
    let cookie = format!("{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
}

/// Ends the session cookie in the browser.
pub(crate) fn clear_session_cookie(r: &mut Response) {
    r.headers_mut().insert(
        header::SET_COOKIE,
        header::HeaderValue::from_static(
            "arkiv_session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
}

/// Audits an action of a web user; a failed audit write fails the request.
pub(crate) async fn record(
    state: &Arc<AppState>,
    user: &str,
    ip: IpAddr,
    action: &str,
    args: &[(String, String)],
    outcome: &str,
) -> Result<(), WebError> {
    Ok(audit(state, user, ip, Via::Web, action, args, outcome).await?)
}

async fn logon(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult {
    let m = json_body(&headers, &body)?;
    let (name, password) = (field(&m, "userName")?, field(&m, "password")?);
    let caller = check_logon(&state, name, password, peer.ip(), Via::Web, "web logon").await?;
    if let Err(why) = may_log_on(&state, &caller) {
        record(
            &state,
            caller.name(),
            peer.ip(),
            "web logon",
            &[],
            &format!("refused: {why}"),
        )
        .await?;
        return Err(WebError::forbidden(format!(
            "'{}' may not log on: {why}",
            caller.name()
        )));
    }
    let st = state.clone();
    let name = caller.name().to_string();
    let user = blocking(move || Ok(st.archive.user(&name)?)).await?;
    record(&state, &user.name, peer.ip(), "web logon", &[], "succeeded").await?;
    let (token, csrf) = state.sessions.open_web(&user.name, user.id.0, peer.ip());
    let mut r = ok(json!({
        "userName": user.name,
        "fullName": user.full_name,
        "admin": user.admin,
        "privileges": user.privileges.names(),
        "token": token,
        "csrfToken": csrf,
        "idleTimeoutSeconds": 30 * 60,
    }));
    set_session_cookie(&mut r, &token);
    Ok(r)
}

async fn logoff(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
) -> WebResult {
    let (token, s, caller) = session(&state, &method, &headers).await?;
    state.sessions.close_web(&token);
    record(&state, caller.name(), s.ip, "web logoff", &[], "succeeded").await?;
    let mut r = ok(json!({}));
    clear_session_cookie(&mut r);
    Ok(r)
}

async fn whoami(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
) -> WebResult {
    let (_, _, caller) = session(&state, &method, &headers).await?;
    let st = state.clone();
    let name = caller.name().to_string();
    let u = blocking(move || Ok(st.archive.user(&name)?)).await?;
    Ok(ok(json!({
        "userName": u.name,
        "fullName": u.full_name,
        "emailAddresses": u.emails,
        "admin": u.admin,
        "privileges": u.privileges.names(),
        "authentication": u.authentication.as_str(),
    })))
}

async fn change_password(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult {
    let (_, s, _) = session(&state, &method, &headers).await?;
    let m = json_body(&headers, &body)?;
    let (old, new) = (field(&m, "oldPassword")?, field(&m, "newPassword")?);
    let (token2, csrf) = change_password_of(&state, &s.user, peer.ip(), old, new).await?;
    let mut r = ok(json!({"token": token2, "csrfToken": csrf}));
    set_session_cookie(&mut r, &token2);
    Ok(r)
}

/// Changes a signed-in user's password (needs `changePassword` and the old password, both
/// audited); every session of the user ends and a new one is opened: its token and CSRF
/// token.
pub(crate) async fn change_password_of(
    state: &Arc<AppState>,
    user: &str,
    ip: IpAddr,
    old: &str,
    new: &str,
) -> Result<(String, String), WebError> {
    let caller = check_logon(state, user, old, ip, Via::Web, "change password").await?;
    if let Err(e) = caller.require(Privilege::ChangePassword) {
        record(
            state,
            caller.name(),
            ip,
            "change password",
            &[],
            &format!("refused: {e}"),
        )
        .await?;
        return Err(WebError::forbidden(format!(
            "'{}' has no 'changePassword' privilege: an administrator sets the password",
            caller.name()
        )));
    }
    let (st, name, new) = (state.clone(), caller.name().to_string(), new.to_string());
    let r = blocking(move || Ok(st.archive.set_user_password(&name, &new)?)).await;
    let outcome = match &r {
        Ok(()) => "succeeded".to_string(),
        Err(e) => format!("failed: {}", e.message),
    };
    record(state, caller.name(), ip, "change password", &[], &outcome).await?;
    r?;
    // Every session of the user ends (one may be an intruder's); this caller gets a new one.
    state.sessions.close_user(caller.name());
    let uid = caller.user_id().map_or(0, |u| u.0);
    Ok(state.sessions.open_web(caller.name(), uid, ip))
}

async fn folders(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
) -> WebResult {
    let (_, _, caller) = session(&state, &method, &headers).await?;
    let st = state.clone();
    let list = blocking(move || readable_folder_list(&st, &caller)).await?;
    Ok(ok(Value::Array(
        list.into_iter()
            .map(|f| json!({"folder": f.path, "archive": f.archive, "messages": f.messages}))
            .collect(),
    )))
}

/// A folder a user may read: `archive/Inbox/Sub`, its archive, its message count.
pub(crate) struct ReadableFolder {
    pub path: String,
    pub archive: String,
    pub messages: u64,
}

/// The folders a caller may read (the archive decides), with their message counts.
pub(crate) fn readable_folder_list(
    st: &AppState,
    caller: &Caller,
) -> Result<Vec<ReadableFolder>, WebError> {
    let mut counts: HashMap<arkiv_types::FolderId, u64> = HashMap::new();
    for store in st.archive.open_stores() {
        for (f, (n, _)) in store.folder_counts().map_err(ArchiveError::from)? {
            *counts.entry(f).or_default() += n;
        }
    }
    let ids = st.archive.readable_folders(caller)?;
    let mut locations = st.archive.folder_locations(&ids)?;
    let mut out = Vec::new();
    for id in ids {
        let Some((archive, path)) = locations.remove(&id) else {
            continue;
        };
        let name = if path.is_root() {
            archive.clone()
        } else {
            format!("{archive}/{}", path.names().join("/"))
        };
        let messages = counts.get(&id).copied().unwrap_or(0);
        out.push(ReadableFolder {
            path: name,
            archive,
            messages,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

async fn search(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> WebResult {
    let (_, _, caller) = session(&state, &method, &headers).await?;
    let q: HashMap<String, String> = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| WebError::bad(format!("unreadable query string: {e}")))?;
    let number = |k: &str, default: usize, max: usize| -> Result<usize, WebError> {
        match q.get(k) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .map(|n| n.min(max))
                .map_err(|_| WebError::bad(format!("{k} must be a number"))),
        }
    };
    let mut sq = arkiv_archive::search::SearchQuery {
        text: q.get("q").cloned().unwrap_or_default(),
        folder: q.get("folder").cloned().filter(|f| !f.is_empty()),
        offset: number("offset", 0, 1_000_000)?,
        limit: number("limit", 50, 500)?,
        ..Default::default()
    };
    if let Some(sort) = q.get("sort") {
        use arkiv_archive::search::SortBy;
        sq.sort = match sort.as_str() {
            "date" => SortBy::Date,
            "archived" => SortBy::ArchivedAt,
            "size" => SortBy::Size,
            "subject" => SortBy::Subject,
            "from" => SortBy::From,
            "to" => SortBy::To,
            other => {
                return Err(WebError::bad(format!(
                    "sort must be date, archived, size, subject, from or to (got '{other}')"
                )));
            }
        };
    }
    sq.ascending = q.get("order").is_some_and(|o| o == "asc");
    let st = state.clone();
    // A folder the user may not read answers as one that does not exist (the archive
    // decides, `arkiv_archive::access`).
    let page = blocking(move || Ok(st.archive.search(&caller, &sq)?)).await?;
    Ok(ok(serde_json::to_value(page).unwrap_or_default()))
}

pub(crate) fn message_id(id: &str) -> Result<arkiv_types::MessageId, WebError> {
    id.parse()
        .map_err(|_| WebError::bad(format!("'{id}' is not a message id such as 1:42")))
}

async fn message(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> WebResult {
    let (_, _, caller) = session(&state, &method, &headers).await?;
    let mid = message_id(&id)?;
    let st = state.clone();
    let view = blocking(move || {
        let m = st.archive.readable(&caller, mid)?;
        Ok(st.archive.message_view(m.id)?)
    })
    .await?;
    Ok(ok(serde_json::to_value(view).unwrap_or_default()))
}

async fn message_eml(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> WebResult {
    let (_, s, caller) = session(&state, &method, &headers).await?;
    export_eml(&state, caller, s.ip, id).await
}

/// A message's original bytes as an `.eml` download: exporting it (needs `export`; audited
/// either way).
pub(crate) async fn export_eml(
    state: &Arc<AppState>,
    caller: Caller,
    ip: IpAddr,
    id: String,
) -> WebResult {
    let mid = message_id(&id)?;
    let (st, c) = (state.clone(), caller.clone());
    let r = blocking(move || {
        let m = st.archive.exportable(&c, mid)?;
        Ok(st.archive.message_bytes(&m)?)
    })
    .await;
    let name = mid.to_string().replace(':', "-");
    let outcome = match &r {
        Ok(_) => format!("succeeded: {name}.eml"),
        Err(e) => format!("refused: {}", e.message),
    };
    record(
        state,
        caller.name(),
        ip,
        "export message",
        &[("id".into(), id.clone())],
        &outcome,
    )
    .await?;
    let bytes = r?;
    let mut r = (
        [
            (header::CONTENT_TYPE, "message/rfc822".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.eml\""),
            ),
        ],
        bytes,
    )
        .into_response();
    no_store(&mut r);
    Ok(r)
}

async fn delete_message(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> WebResult {
    let (_, s, caller) = session(&state, &method, &headers).await?;
    delete_as(&state, caller, s.ip, id).await?;
    Ok(ok(json!({})))
}

/// Deletes a message for a web user (the archive's rule 5; audited either way).
pub(crate) async fn delete_as(
    state: &Arc<AppState>,
    caller: Caller,
    ip: IpAddr,
    id: String,
) -> Result<(), WebError> {
    let mid = message_id(&id)?;
    let (st, c) = (state.clone(), caller.clone());
    let r = blocking(move || {
        let m = st.archive.deletable(&c, mid)?;
        Ok(st.archive.delete_message(&m)?)
    })
    .await;
    let outcome = match &r {
        Ok(()) => "succeeded".to_string(),
        Err(e) => format!("refused: {}", e.message),
    };
    record(
        state,
        caller.name(),
        ip,
        "delete message",
        &[("id".into(), id.clone())],
        &outcome,
    )
    .await?;
    r
}

/// The archiving profiles the user may see (their own; administrators all).
async fn profiles(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
) -> WebResult {
    let (_, _, caller) = session(&state, &method, &headers).await?;
    let st = state.clone();
    let list = blocking(move || {
        Ok(st
            .archive
            .profiles()?
            .iter()
            .filter(|p| st.archive.may_see_profile(&caller, p))
            .map(|p| crate::functions::profiles::profile_json(&st, p))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(ok(Value::Array(list)))
}

fn profile_id(id: &str) -> Result<u64, WebError> {
    id.parse().map_err(|_| {
        WebError::new(
            StatusCode::NOT_FOUND,
            format!("no archiving profile '{id}'"),
        )
    })
}

/// Starts a run of one's own profile (needs `archive`); answers at once with 202, the run
/// goes on in the background and its result appears under `/results`.
async fn run_profile(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> WebResult {
    let (_, s, caller) = session(&state, &method, &headers).await?;
    let pid = profile_id(&id)?;
    let (st, c) = (state.clone(), caller.clone());
    let checked = blocking(move || {
        let p = st.archive.profile(pid).map_err(|_| {
            WebError::new(
                StatusCode::NOT_FOUND,
                format!("no archiving profile #{pid}"),
            )
        })?;
        if !st.archive.may_see_profile(&c, &p) {
            return Err(WebError::new(
                StatusCode::NOT_FOUND,
                format!("no archiving profile #{pid}"),
            ));
        }
        st.archive.may_run_profile(&c, &p)?;
        if st.profiles.is_running(pid) {
            return Err(WebError::new(
                StatusCode::CONFLICT,
                format!("profile #{pid} is running already"),
            ));
        }
        Ok(())
    })
    .await;
    let outcome = match &checked {
        Ok(()) => "started".to_string(),
        Err(e) => format!("refused: {}", e.message),
    };
    record(
        &state,
        caller.name(),
        s.ip,
        "RunProfile",
        &[("id".into(), id.clone())],
        &outcome,
    )
    .await?;
    checked?;
    let st = state.clone();
    std::thread::spawn(move || {
        let cancel = std::sync::atomic::AtomicBool::new(false);
        if let Err(e) = crate::functions::profiles::run_stored(&st, &caller, pid, None, &cancel) {
            crate::log!("WARN", "profile #{pid} (web): {}", log_safe(&e.message));
        }
    });
    let mut r = (
        StatusCode::ACCEPTED,
        axum::Json(json!({"started": true, "id": pid})),
    )
        .into_response();
    no_store(&mut r);
    Ok(r)
}

/// The latest results of a profile the user may see, newest first (`?limit=`, default 20).
async fn profile_results(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> WebResult {
    let (_, _, caller) = session(&state, &method, &headers).await?;
    let pid = profile_id(&id)?;
    let limit = q
        .as_deref()
        .and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("limit="))
                .and_then(|v| v.parse::<usize>().ok())
        })
        .unwrap_or(20)
        .clamp(1, 500);
    let st = state.clone();
    let list = blocking(move || {
        let p = st.archive.profile(pid).map_err(|_| {
            WebError::new(
                StatusCode::NOT_FOUND,
                format!("no archiving profile #{pid}"),
            )
        })?;
        if !st.archive.may_see_profile(&caller, &p) {
            return Err(WebError::new(
                StatusCode::NOT_FOUND,
                format!("no archiving profile #{pid}"),
            ));
        }
        let mut all = st
            .archive
            .worker_results(i64::MIN, i64::MAX, Some(pid), None)?;
        all.reverse();
        all.truncate(limit);
        Ok(all
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(ok(Value::Array(list)))
}

/// The JSON API's paths for the OpenAPI description.
pub fn openapi_paths(paths: &mut serde_json::Map<String, Value>) {
    let sec = json!([{"session": []}]);
    let err = json!({"description": "an error", "content": {"application/json": {"schema": {
        "type": "object", "required": ["error"], "properties": {"error": {"type": "object",
        "required": ["message"], "properties": {"message": {"type": "string"}}}}}}}});
    let any = json!({"description": "the answer", "content": {"application/json": {"schema": {}}}});
    let id = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "message id STORE:NUM"}]);
    let body = |props: Value, required: Value| {
        json!({"required": true, "content": {"application/json": {"schema": {
            "type": "object", "properties": props, "required": required}}}})
    };
    paths.insert("/api/v1/session".into(), json!({
        "post": {"operationId": "webLogon", "summary": "Log on (needs the login privilege); answers the session token and a CSRF token, and sets the cookie.",
            "security": [], "requestBody": body(json!({"userName": {"type": "string"}, "password": {"type": "string"}}), json!(["userName", "password"])),
            "responses": {"200": any, "401": err, "403": err, "415": err, "429": err}},
        "get": {"operationId": "webSession", "summary": "The logged-on user.", "security": sec, "responses": {"200": any, "401": err}},
        "delete": {"operationId": "webLogoff", "summary": "Log off.", "security": sec, "responses": {"200": any, "401": err, "403": err}},
    }));
    paths.insert("/api/v1/password".into(), json!({"post": {"operationId": "webChangePassword",
        "summary": "Change one's own password (needs changePassword and the old password).", "security": sec,
        "requestBody": body(json!({"oldPassword": {"type": "string"}, "newPassword": {"type": "string"}}), json!(["oldPassword", "newPassword"])),
        "responses": {"200": any, "400": err, "401": err, "403": err}}}));
    paths.insert(
        "/api/v1/folders".into(),
        json!({"get": {"operationId": "webFolders",
        "summary": "The folders the user may read, with their message counts.", "security": sec,
        "responses": {"200": any, "401": err}}}),
    );
    paths.insert("/api/v1/search".into(), json!({"get": {"operationId": "webSearch",
        "summary": "Search what the user may read (the quick-search syntax of manual §3.2).", "security": sec,
        "parameters": [
            {"name": "q", "in": "query", "schema": {"type": "string"}},
            {"name": "folder", "in": "query", "schema": {"type": "string"}},
            {"name": "offset", "in": "query", "schema": {"type": "integer"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 500}},
            {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["date", "archived", "size", "subject", "from", "to"]}},
            {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}}],
        "responses": {"200": any, "400": err, "401": err}}}));
    paths.insert("/api/v1/messages/{id}".into(), json!({
        "get": {"operationId": "webMessage", "summary": "A message's summary.", "security": sec, "parameters": id,
            "responses": {"200": any, "401": err, "404": err}},
        "delete": {"operationId": "webDeleteMessage", "summary": "Delete a message (needs delete and a delete folder privilege).",
            "security": sec, "parameters": id, "responses": {"200": any, "401": err, "403": err, "404": err}},
    }));
    let pid = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}, "description": "profile id"}]);
    paths.insert("/api/v1/profiles".into(), json!({"get": {"operationId": "webProfiles",
        "summary": "The archiving profiles the user may see (their own; administrators all), without passwords.",
        "security": sec, "responses": {"200": any, "401": err}}}));
    paths.insert("/api/v1/profiles/{id}/run".into(), json!({"post": {"operationId": "webRunProfile",
        "summary": "Run one's own archiving profile (needs archive); answers 202 at once, the result appears under /results.",
        "security": sec, "parameters": pid.clone(),
        "responses": {"202": any, "401": err, "403": err, "404": err, "409": err}}}));
    paths.insert("/api/v1/profiles/{id}/results".into(), json!({"get": {"operationId": "webProfileResults",
        "summary": "The profile's latest runs, newest first, with counts, failures and the debug log.",
        "security": sec, "parameters": [pid[0].clone(), {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 500}}],
        "responses": {"200": any, "401": err, "404": err}}}));
    paths.insert("/api/v1/messages/{id}/eml".into(), json!({"get": {"operationId": "webMessageEml",
        "summary": "The message's original bytes (needs export).", "security": sec, "parameters": id,
        "responses": {"200": {"description": "the message", "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}}},
            "401": err, "403": err, "404": err}}}));
}
