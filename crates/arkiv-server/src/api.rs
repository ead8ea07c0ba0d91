//! HTTP: the Administration API of manual §7.1, as MailStore's own API clients call it.
//!
//! * `POST /api/invoke/<Function>`: form-urlencoded arguments, HTTP Basic credentials of an
//!   administrator, the JSON envelope. Long-running functions answer at once with a token.
//! * `POST /api/get-status` (`token`, `lastKnownStatusVersion`, `millisecondsTimeout`),
//!   `POST /api/cancel-async` (`token`), and `POST /api/get-metadata`, which answers the bare
//!   JSON array of functions (MailStore's Python wrapper extends its list with it).
//!
//! Errors ([`ApiError`]): protocol problems get their HTTP status (400 bad arguments, 401 no
//! or wrong credentials, 403 not an administrator, 404 unknown function or token, 413 body too
//! large, 429 locked out, 503 busy); a function that ran and failed (or was refused by the
//! access rules) answers 200 with `statusCode: "failed"` and the manual's `error` object
//! (`message`, `details` = a stable code), as MailStore does. Internal faults are logged; the
//! answer says only that one happened.
//!
//! Every call — refused logons, unknown functions, `get-status`, `get-metadata` and
//! `cancel-async` included — is written to the audit log before its answer goes out; a failed
//! audit write fails the call.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use arkiv_archive::access::{Caller, Via};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use base64::Engine;
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::error::{FnError, Kind, log_safe};
use crate::functions::{self, Args};
use crate::tasks::Snapshot;

/// Request bodies larger than this are refused.
const MAX_BODY: usize = 1 << 20;

/// The `error` object of the envelope, with the HTTP status it is sent with.
#[derive(Clone, Debug, Serialize)]
pub struct ApiError {
    pub message: String,
    /// A stable code (`badArgument`, `notFound`, `denied`, `failed`, ...).
    pub details: Option<String>,
    #[serde(skip)]
    pub status: StatusCode,
}

fn code(kind: Kind) -> &'static str {
    match kind {
        Kind::BadArgument => "badArgument",
        Kind::NotFound => "notFound",
        Kind::Denied => "denied",
        Kind::Unauthenticated => "unauthenticated",
        Kind::Locked => "locked",
        Kind::Busy => "busy",
        Kind::Failed => "failed",
        Kind::Internal => "internal",
    }
}

impl ApiError {
    pub fn new(status: StatusCode, kind: Kind, message: impl Into<String>) -> Self {
        ApiError {
            message: message.into(),
            details: Some(code(kind).into()),
            status,
        }
    }
}

impl From<FnError> for ApiError {
    fn from(e: FnError) -> Self {
        let status = match e.kind {
            Kind::BadArgument => StatusCode::BAD_REQUEST,
            // It ran and failed, or the rules refused it: the envelope says so (HTTP 200).
            Kind::NotFound | Kind::Denied | Kind::Failed => StatusCode::OK,
            Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
            Kind::Locked => StatusCode::TOO_MANY_REQUESTS,
            Kind::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if e.kind == Kind::Internal {
            crate::log!("ERROR", "internal error: {}", log_safe(&e.message));
            return ApiError::new(
                status,
                e.kind,
                "an internal error occurred; the server's log has the details",
            );
        }
        ApiError::new(status, e.kind, e.message)
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

fn no_cache<T: IntoResponse>(status: StatusCode, body: T) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache, private, no-store, must-revalidate"),
    );
    r
}

fn json(status: StatusCode, env: Envelope) -> Response {
    no_cache(status, axum::Json(env))
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
            error: s.error.map(ApiError::from),
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

/// The Administration API's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/invoke/{function}", post(invoke))
        .route("/api/get-status", post(get_status))
        .route("/api/cancel-async", post(cancel_async))
        .route("/api/get-metadata", post(get_metadata))
        .route("/api/{*rest}", any(not_found))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        Kind::NotFound,
        "no such API endpoint: use POST /api/invoke/<Function>, /api/get-status, /api/cancel-async or /api/get-metadata",
    )
}

/// Writes one audit record on a blocking thread; a failed write fails the call.
pub(crate) async fn audit(
    state: &Arc<AppState>,
    caller: &str,
    client: IpAddr,
    via: Via,
    function: &str,
    args: &[(String, String)],
    outcome: &str,
) -> Result<(), ApiError> {
    let (st, user, function, args, outcome) = (
        state.clone(),
        caller.to_string(),
        function.to_string(),
        args.to_vec(),
        outcome.to_string(),
    );
    let r = tokio::task::spawn_blocking(move || {
        st.archive.audit(&arkiv_archive::audit::Entry {
            user: &user,
            client: &client.to_string(),
            via: via.as_str(),
            function: &function,
            args: &args,
            outcome: &outcome,
        })
    })
    .await;
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            crate::log!("ERROR", "the audit log could not be written: {e}");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Kind::Internal,
                "the audit log could not be written; the server's log has the details",
            ))
        }
        Err(_) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Kind::Internal,
            "the audit log could not be written",
        )),
    }
}

/// The door of a request: the management shell tells itself by its User-Agent.
fn via_of(headers: &HeaderMap) -> Via {
    let shell = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("arkiv-admin/"));
    if shell {
        Via::ManagementShell
    } else {
        Via::AdministrationApi
    }
}

/// Checks HTTP Basic credentials of an administrator; refusals are audited.
async fn authenticate(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    peer: IpAddr,
    function: &str,
) -> Result<Caller, ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, Kind::Unauthenticated, m);
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
    let via = via_of(headers);
    let caller = logon(state, user, password, peer, via, function).await?;
    if let Err(e) = caller.require_admin() {
        audit(
            state,
            caller.name(),
            peer,
            via,
            function,
            &[],
            &format!("refused: {e}"),
        )
        .await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            Kind::Denied,
            format!(
                "'{}' is not an administrator; the Administration API is for administrators only",
                caller.name()
            ),
        ));
    }
    state
        .sessions
        .touch(caller.name(), peer, via == Via::ManagementShell);
    Ok(caller)
}

/// A logon by user name and password for any door over HTTP: the archive decides
/// (`arkiv_archive::auth`: lockout, bounded Argon2, the credential cache); refusals are
/// audited and logged, and each failure in a row slows the next answer a little.
pub(crate) async fn logon(
    state: &Arc<AppState>,
    user: &str,
    password: &str,
    peer: IpAddr,
    via: Via,
    function: &str,
) -> Result<Caller, ApiError> {
    let (st, u, p) = (state.clone(), user.to_string(), password.to_string());
    let r = tokio::task::spawn_blocking(move || st.archive.authenticate(&u, &p, via, peer))
        .await
        .map_err(|_| FnError::internal("authentication failed unexpectedly"))?;
    match r {
        Ok(c) => Ok(c),
        Err(e) => {
            let e = FnError::from(e);
            audit(
                state,
                user,
                peer,
                via,
                function,
                &[],
                &format!("refused logon: {e}"),
            )
            .await?;
            crate::log!(
                "WARN",
                "refused {} logon for '{}' from {peer}: {e}",
                via.as_str(),
                log_safe(user)
            );
            if e.kind == Kind::Unauthenticated {
                let n = state.archive.logon_failures(user, peer);
                tokio::time::sleep(Duration::from_millis(250 * u64::from(n.min(8)))).await;
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    Kind::Unauthenticated,
                    "wrong user name or password",
                ));
            }
            Err(e.into())
        }
    }
}

fn parse_form(body: Result<Bytes, BytesRejection>) -> Result<Vec<(String, String)>, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Kind::BadArgument,
                format!("request body larger than {MAX_BODY} bytes"),
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Kind::BadArgument,
                format!("unreadable request body: {e}"),
            )
        }
    })?;
    serde_urlencoded::from_bytes(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Kind::BadArgument,
            format!("the body is not form-urlencoded: {e}"),
        )
    })
}

async fn invoke(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let ip = peer.ip();
    let run = async {
        let caller = authenticate(&state, &headers, ip, &function).await?;
        let form = parse_form(body)?;
        Ok(match call(&state, caller, ip, &function, form).await? {
            Called::Done(v) => done(v),
            Called::Started(s) => snapshot(s),
        })
    };
    run.await.unwrap_or_else(|e: ApiError| e.into_response())
}

/// What a function call gave: a quick function's result, or a long one's first status.
pub(crate) enum Called {
    Done(Value),
    Started(crate::tasks::Snapshot),
}

/// Calls an Administration API function as an authenticated caller: the one path every
/// door takes to a privileged action (the API, the management shell, the web
/// administration pages). The function table checks the arguments and that the caller is an
/// administrator; the call is audited with its outcome before the answer (a long function
/// when it starts and when it ends); without the audit record, the call fails.
pub(crate) async fn call(
    state: &Arc<AppState>,
    caller: Caller,
    ip: IpAddr,
    function: &str,
    form: Vec<(String, String)>,
) -> Result<Called, ApiError> {
    let via = caller.via;
    let Some(f) = functions::find(function) else {
        audit(
            state,
            caller.name(),
            ip,
            via,
            function,
            &[],
            "refused: unknown function",
        )
        .await?;
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            Kind::NotFound,
            format!(
                "unknown function '{}' (POST /api/get-metadata lists them)",
                log_safe(function)
            ),
        ));
    };
    let user = caller.name().to_string();
    let args = match Args::new(f, form.clone(), caller) {
        Ok(a) => a,
        Err(e) => {
            audit(
                state,
                &user,
                ip,
                via,
                f.name,
                &form,
                &format!("refused: {e}"),
            )
            .await?;
            return Err(e.into());
        }
    };
    crate::log!("INFO", "API {} by {} from {ip}", f.name, log_safe(&user));
    match f.run {
        functions::Run::Quick(run) => {
            let st = state.clone();
            let r = tokio::task::spawn_blocking(move || run(&st, &args))
                .await
                .map_err(|_| FnError::internal("the function failed unexpectedly"))?;
            let outcome = match &r {
                Ok(_) => "succeeded".to_string(),
                Err(e) => format!("failed: {}", e.message),
            };
            // The record is on disk before the answer; without it, the call fails.
            audit(state, &user, ip, via, f.name, &form, &outcome).await?;
            Ok(Called::Done(r?))
        }
        functions::Run::Long(run) => {
            audit(state, &user, ip, via, f.name, &form, "started").await?;
            let st = state.clone();
            let name = f.name;
            let task = state.tasks.start(move |t| {
                let r = run(&st, &args, t);
                let outcome = match &r {
                    Ok(_) => "finished: succeeded".to_string(),
                    Err(e) => format!("finished: failed: {}", e.message),
                };
                let audited = st.archive.audit(&arkiv_archive::audit::Entry {
                    user: &user,
                    client: &ip.to_string(),
                    via: via.as_str(),
                    function: name,
                    args: &form,
                    outcome: &outcome,
                });
                match audited {
                    Ok(()) => r,
                    Err(e) => Err(FnError::internal(format!(
                        "the audit log could not be written: {e}"
                    ))),
                }
            });
            Ok(Called::Started(task.snapshot(0)))
        }
    }
}

async fn get_status(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let run = async {
        let caller = authenticate(&state, &headers, peer.ip(), "get-status").await?;
        let form: HashMap<String, String> = parse_form(body)?.into_iter().collect();
        let bad = |m: &str| ApiError::new(StatusCode::BAD_REQUEST, Kind::BadArgument, m);
        let token = form
            .get("token")
            .ok_or_else(|| bad("missing argument 'token'"))?;
        let known = match form.get("lastKnownStatusVersion") {
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| bad("lastKnownStatusVersion must be a number"))?,
            None => 0,
        };
        let timeout = match form.get("millisecondsTimeout") {
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| bad("millisecondsTimeout must be a number"))?,
            None => 0,
        };
        let task = state.tasks.get(token);
        let outcome = if task.is_some() {
            "succeeded"
        } else {
            "failed: no such token"
        };
        audit(
            &state,
            caller.name(),
            peer.ip(),
            caller.via,
            "get-status",
            &[("token".into(), token.clone())],
            outcome,
        )
        .await?;
        let task = task.ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                Kind::NotFound,
                format!("no such token '{}' (unknown or expired)", log_safe(token)),
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

/// Cancels a long-running function by its token (manual §7.1); it stops at its next safe
/// point, and `get-status` then reports it failed as cancelled.
async fn cancel_async(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let run = async {
        let caller = authenticate(&state, &headers, peer.ip(), "cancel-async").await?;
        let form: HashMap<String, String> = parse_form(body)?.into_iter().collect();
        let token = form.get("token").ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Kind::BadArgument,
                "missing argument 'token'",
            )
        })?;
        let task = state.tasks.get(token);
        audit(
            &state,
            caller.name(),
            peer.ip(),
            caller.via,
            "cancel-async",
            &[("token".into(), token.clone())],
            if task.is_some() {
                "succeeded"
            } else {
                "failed: no such token"
            },
        )
        .await?;
        let task = task.ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                Kind::NotFound,
                format!("no such token '{}' (unknown or expired)", log_safe(token)),
            )
        })?;
        task.cancel();
        Ok(snapshot(task.snapshot(0)))
    };
    run.await.unwrap_or_else(|e: ApiError| e.into_response())
}

/// The functions as a bare JSON array, as MailStore answers (its API wrappers extend their
/// list of methods with it).
async fn get_metadata(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let caller = authenticate(&state, &headers, peer.ip(), "get-metadata").await?;
        audit(
            &state,
            caller.name(),
            peer.ip(),
            caller.via,
            "get-metadata",
            &[],
            "succeeded",
        )
        .await?;
        Ok(no_cache(
            StatusCode::OK,
            axum::Json(functions::describe::metadata()),
        ))
    };
    run.await.unwrap_or_else(|e: ApiError| e.into_response())
}
