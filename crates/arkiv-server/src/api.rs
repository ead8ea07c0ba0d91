//! HTTP: the Administration API of manual §7.1, the HTTPS accept loop and the HTTP redirect.
//!
//! Every answer of `/api/...` is the manual's JSON envelope. Protocol problems get their HTTP
//! status (400 bad arguments, 401 no or wrong credentials, 403 not an administrator, 404
//! unknown function or token, 413 body too large, 429 locked out); a function that runs and
//! fails answers 200 with `statusCode: "failed"` and the `error` object, as MailStore does.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use base64::Engine;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::AppState;
use crate::functions::{self, Args};
use crate::tasks::Snapshot;

/// Request bodies larger than this are refused.
const MAX_BODY: usize = 1 << 20;
/// A TLS handshake (and each request's headers) must arrive within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The `error` object of the envelope.
#[derive(Clone, Debug, Serialize)]
pub struct ApiError {
    pub message: String,
    pub details: Option<String>,
    #[serde(skip)]
    pub status: StatusCode,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            message: message.into(),
            details: None,
            status,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    /// A function that ran and failed (HTTP 200, `statusCode: failed`).
    pub fn failed(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::OK, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<arkiv_archive::ArchiveError> for ApiError {
    fn from(e: arkiv_archive::ArchiveError) -> Self {
        ApiError::failed(e.to_string())
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    error: Option<ApiError>,
    token: Option<String>,
    status_version: u64,
    status_code: &'static str,
    percent_progress: Option<u8>,
    status_text: Option<String>,
    result: Value,
    log_output: Option<String>,
}

fn json(status: StatusCode, env: Envelope) -> Response {
    let mut r = (status, axum::Json(env)).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache, private, no-store, must-revalidate"),
    );
    r
}

fn done(result: Value) -> Response {
    json(
        StatusCode::OK,
        Envelope {
            error: None,
            token: None,
            status_version: 1,
            status_code: "succeeded",
            percent_progress: None,
            status_text: None,
            result,
            log_output: None,
        },
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut r = json(
            status,
            Envelope {
                error: Some(self),
                token: None,
                status_version: 1,
                status_code: "failed",
                percent_progress: None,
                status_text: None,
                result: Value::Null,
                log_output: None,
            },
        );
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"Arkiv\", charset=\"UTF-8\""),
            );
        }
        r
    }
}

fn snapshot(s: Snapshot) -> Response {
    let running = s.code == crate::tasks::Code::Running;
    json(
        StatusCode::OK,
        Envelope {
            error: s.error,
            token: running.then_some(s.token),
            status_version: s.version,
            status_code: s.code.as_str(),
            percent_progress: if running { s.percent } else { None },
            status_text: None,
            result: s.result,
            log_output: s.log,
        },
    )
}

/// The web listener's routes (the API now; the web UI comes with its issue).
pub fn router(state: Arc<AppState>) -> Router {
    api_router(state.clone()).merge(crate::web::router(state))
}

/// The Administration API alone.
pub fn api_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/invoke/{function}", post(invoke))
        .route("/api/get-status", post(get_status))
        .route("/api/get-metadata", post(get_metadata))
        .route("/api/openapi.json", axum::routing::get(openapi))
        .route("/api/{*rest}", any(not_found))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such API endpoint: use POST /api/invoke/<Function>, /api/get-status or /api/get-metadata",
    )
}

/// Recent users of the server (manual §5.22 "Active sessions"): the API authenticates each
/// request, so a session is a user at a client address, active while it keeps calling.
#[derive(Default)]
pub struct Sessions {
    /// (user, client address, management shell?) → session.
    map: Mutex<HashMap<(String, IpAddr, bool), Session>>,
    /// Logged-on sessions of the JSON API for the web (`crate::web`), by token.
    web: Mutex<HashMap<String, WebSession>>,
}

/// A session of the web JSON API: a token given at logon, ended by logoff or idleness.
#[derive(Clone)]
pub struct WebSession {
    pub user: String,
    /// The user's id: a session never passes to another user who later takes the name.
    pub user_id: u64,
    pub ip: IpAddr,
    /// Sent back in `X-Arkiv-CSRF` with every changing request made with the cookie.
    pub csrf: String,
    started: arkiv_types::Timestamp,
    last: Instant,
    last_at: arkiv_types::Timestamp,
    calls: u64,
}

#[derive(Clone)]
struct Session {
    started: arkiv_types::Timestamp,
    last: Instant,
    last_at: arkiv_types::Timestamp,
    calls: u64,
}

/// A session ends after this long without a call.
const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

impl Sessions {
    fn touch(&self, user: &str, ip: IpAddr, shell: bool) {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, s| s.last.elapsed() < SESSION_IDLE);
        let now = arkiv_types::Timestamp::now();
        let s = m.entry((user.to_string(), ip, shell)).or_insert(Session {
            started: now,
            last: Instant::now(),
            last_at: now,
            calls: 0,
        });
        s.last = Instant::now();
        s.last_at = now;
        s.calls += 1;
    }

    /// Opens a web session; returns (token, CSRF token).
    pub fn open_web(&self, user: &str, user_id: u64, ip: IpAddr) -> (String, String) {
        let (token, csrf) = (crate::tasks::random_hex(32), crate::tasks::random_hex(16));
        let now = arkiv_types::Timestamp::now();
        let mut m = self.web.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, s| s.last.elapsed() < SESSION_IDLE);
        m.insert(
            token.clone(),
            WebSession {
                user: user.to_string(),
                user_id,
                ip,
                csrf: csrf.clone(),
                started: now,
                last: Instant::now(),
                last_at: now,
                calls: 0,
            },
        );
        (token, csrf)
    }

    /// The live web session of a token (counted as used now).
    pub fn web_session(&self, token: &str) -> Option<WebSession> {
        let mut m = self.web.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, s| s.last.elapsed() < SESSION_IDLE);
        let s = m.get_mut(token)?;
        s.last = Instant::now();
        s.last_at = arkiv_types::Timestamp::now();
        s.calls += 1;
        Some(s.clone())
    }

    pub fn close_web(&self, token: &str) {
        self.web
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }

    /// Ends every web session of a user (deleted, password changed by an administrator...).
    pub fn close_user(&self, user: &str) {
        self.web
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, s| !s.user.eq_ignore_ascii_case(user));
    }

    /// The active sessions, oldest first: Administration API callers and web sessions.
    pub fn list(&self) -> Vec<Value> {
        let mut rows: Vec<(i64, Value)> = Vec::new();
        let row = |user: &str,
                   ip: &IpAddr,
                   source: &str,
                   started: &arkiv_types::Timestamp,
                   last_at: &arkiv_types::Timestamp,
                   calls: u64| {
            serde_json::json!({
                "userName": user,
                "clientAddress": ip.to_string(),
                "source": source,
                "startTime": started.to_rfc3339(),
                "lastAccessTime": last_at.to_rfc3339(),
                "requests": calls,
            })
        };
        {
            let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
            m.retain(|_, s| s.last.elapsed() < SESSION_IDLE);
            for ((user, ip, shell), s) in m.iter() {
                // The management shell (`arkiv admin`) is the command-line user's session.
                let source = if *shell {
                    "ManagementShell"
                } else {
                    "AdministrationAPI"
                };
                rows.push((
                    s.started.0,
                    row(user, ip, source, &s.started, &s.last_at, s.calls),
                ));
            }
        }
        {
            let mut m = self.web.lock().unwrap_or_else(|p| p.into_inner());
            m.retain(|_, s| s.last.elapsed() < SESSION_IDLE);
            for s in m.values() {
                rows.push((
                    s.started.0,
                    row(&s.user, &s.ip, "WebAccess", &s.started, &s.last_at, s.calls),
                ));
            }
        }
        rows.sort_by_key(|(t, _)| *t);
        rows.into_iter().map(|(_, v)| v).collect()
    }
}

/// Failed logons: each account and each client address is slowed, then locked for a while.
#[derive(Default)]
pub struct Lockout {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Failures within this window count together; after [`LOCK_AFTER`] the key is locked for it.
const WINDOW: Duration = Duration::from_secs(15 * 60);
const LOCK_AFTER: u32 = 5;

impl Lockout {
    fn locked(&self, key: &str) -> bool {
        let m = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        m.get(key)
            .is_some_and(|(n, at)| *n >= LOCK_AFTER && at.elapsed() < WINDOW)
    }
    fn fail(&self, key: &str) -> u32 {
        let mut m = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let e = m.entry(key.to_string()).or_insert((0, Instant::now()));
        if e.1.elapsed() >= WINDOW {
            *e = (0, Instant::now());
        }
        e.0 += 1;
        e.1 = Instant::now();
        e.0
    }
    fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// Checks HTTP Basic credentials of an administrator.
async fn authenticate(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    peer: IpAddr,
) -> Result<String, ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        unauthorized(
            "authentication required: HTTP Basic with an administrator's user name and password",
        )
    })?;
    let encoded = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .ok_or_else(|| unauthorized("only HTTP Basic authentication is supported"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| unauthorized("malformed Basic credentials"))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or_else(|| unauthorized("malformed Basic credentials"))?;
    let record = check_credentials(state, user, password, peer, "API").await?;
    if !record.admin {
        state.audit.record(
            &record.name,
            &peer.to_string(),
            "logon",
            &[],
            "refused: not an administrator",
        );
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "'{}' is not an administrator; the Administration API is for administrators only",
                record.name
            ),
        ));
    }
    let shell = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("arkiv-admin/"));
    state.sessions.touch(&record.name, peer, shell);
    Ok(record.name)
}

/// Checks a user name and password for any logon (API, web): refuses locked keys, slows and
/// counts failures per account and per client address, audits refusals.
pub(crate) async fn check_credentials(
    state: &Arc<AppState>,
    user: &str,
    password: &str,
    peer: IpAddr,
    via: &str,
) -> Result<arkiv_archive::users::UserRecord, ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
    let (user_key, peer_key) = (
        format!("user:{}", user.to_lowercase()),
        format!("ip:{peer}"),
    );
    if state.lockout.locked(&user_key) || state.lockout.locked(&peer_key) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed logons: try again in 15 minutes",
        ));
    }
    let (archive, u, p) = (
        state.archive.clone(),
        user.to_string(),
        password.to_string(),
    );
    let ok = tokio::task::spawn_blocking(move || {
        archive
            .check_password(&u, &p)
            .map(|ok| ok.then(|| archive.user(&u)))
    })
    .await
    .map_err(|_| ApiError::internal("authentication failed unexpectedly"))?
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let Some(Ok(record)) = ok else {
        let n = state
            .lockout
            .fail(&user_key)
            .max(state.lockout.fail(&peer_key));
        state.audit.record(
            user,
            &peer.to_string(),
            "logon",
            &[],
            "refused: wrong user name or password",
        );
        crate::log!(
            "WARN",
            "failed {via} logon for '{user}' from {peer} ({n} in a row)"
        );
        // Each failure in a row costs the client more time.
        tokio::time::sleep(Duration::from_millis(250 * u64::from(n.min(8)))).await;
        return Err(unauthorized("wrong user name or password"));
    };
    state.lockout.clear(&user_key);
    state.lockout.clear(&peer_key);
    Ok(record)
}

fn parse_form(body: Result<Bytes, BytesRejection>) -> Result<Vec<(String, String)>, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body larger than {MAX_BODY} bytes"),
            )
        } else {
            ApiError::bad_request(format!("unreadable request body: {e}"))
        }
    })?;
    serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not form-urlencoded: {e}")))
}

async fn invoke(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let run = async {
        let user = authenticate(&state, &headers, peer.ip()).await?;
        let f = functions::find(&function).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("unknown function '{function}' (POST /api/get-metadata lists them)"),
            )
        })?;
        let form = parse_form(body)?;
        let args = Args::new(f, form.clone(), &user).inspect_err(|e| {
            state.audit.record(
                &user,
                &peer.ip().to_string(),
                &function,
                &form,
                &format!("refused: {}", e.message),
            );
        })?;
        crate::log!("INFO", "API {function} by {user} from {}", peer.ip());
        let client = peer.ip().to_string();
        match f.run {
            functions::Run::Quick(run) => {
                let st = state.clone();
                let r = tokio::task::spawn_blocking(move || run(&st, &args))
                    .await
                    .map_err(|_| ApiError::internal("the function failed unexpectedly"))?;
                let outcome = match &r {
                    Ok(_) => "succeeded".to_string(),
                    Err(e) => format!("failed: {}", e.message),
                };
                state
                    .audit
                    .record(&user, &client, &function, &form, &outcome);
                Ok(done(r?))
            }
            functions::Run::Long(run) => {
                let st = state.clone();
                // As in the manual: the answer comes at once, with the token to follow.
                state
                    .audit
                    .record(&user, &client, &function, &form, "started");
                let (u, c, f, a) = (user.clone(), client.clone(), function.clone(), form.clone());
                let task = state.tasks.start(move |t| {
                    let r = run(&st, &args, t);
                    let outcome = match &r {
                        Ok(_) => "finished: succeeded".to_string(),
                        Err(e) => format!("finished: failed: {}", e.message),
                    };
                    st.audit.record(&u, &c, &f, &a, &outcome);
                    r
                });
                Ok(snapshot(task.snapshot(0)))
            }
        }
    };
    run.await.unwrap_or_else(|e: ApiError| e.into_response())
}

async fn get_status(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let run = async {
        authenticate(&state, &headers, peer.ip()).await?;
        let form: HashMap<String, String> = parse_form(body)?.into_iter().collect();
        let token = form
            .get("token")
            .ok_or_else(|| ApiError::bad_request("missing argument 'token'"))?;
        let known = match form.get("lastKnownStatusVersion") {
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| ApiError::bad_request("lastKnownStatusVersion must be a number"))?,
            None => 0,
        };
        let timeout = match form.get("millisecondsTimeout") {
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| ApiError::bad_request("millisecondsTimeout must be a number"))?,
            None => 0,
        };
        let task = state.tasks.get(token).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no such token '{token}' (unknown or expired)"),
            )
        })?;
        let s = state
            .tasks
            .wait(&task, known, Duration::from_millis(timeout.min(60_000)))
            .await;
        Ok(snapshot(s))
    };
    run.await.unwrap_or_else(|e: ApiError| e.into_response())
}

async fn get_metadata(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    match authenticate(&state, &headers, peer.ip()).await {
        Ok(_) => done(functions::metadata()),
        Err(e) => e.into_response(),
    }
}

/// The OpenAPI description (public: it holds no data, and tools fetch it before logging on).
async fn openapi() -> Response {
    axum::Json(functions::openapi()).into_response()
}

/// Accepts TCP connections, completes TLS and serves HTTP/1.1 until `stop` turns true; then
/// stops accepting and lets the open connections finish.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(_) => continue,
            },
            _ = stop.changed() => break,
        };
        let (acceptor, app, mut stop) = (acceptor.clone(), app.clone(), stop.clone());
        conns.spawn(async move {
            let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            else {
                return;
            };
            let svc = tower::ServiceExt::map_request(
                app,
                move |mut r: axum::http::Request<hyper::body::Incoming>| {
                    r.extensions_mut().insert(ConnectInfo(peer));
                    r
                },
            );
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT);
            let conn = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(svc));
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    while conns.join_next().await.is_some() {}
}

/// Plain HTTP: every request is redirected to the same path over HTTPS; nothing else.
pub async fn serve_redirect(
    listener: TcpListener,
    https_port: u16,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let app = Router::new().fallback(move |headers: HeaderMap, uri: axum::http::Uri| async move {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.rsplit_once(':').map(|(h, _)| h).unwrap_or(h).to_string())
            .unwrap_or_else(|| "localhost".into());
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let to = format!("https://{host}:{https_port}{path}");
        (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, to.clone())],
            format!("Arkiv accepts connections over HTTPS only: {to}\n"),
        )
    });
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        })
        .await;
}
