//! Web Access (D1): the pages a user reads their archive with, on the Web Access listener
//! (8462) under `/web/`. Server-rendered HTML (askama templates, compiled in), one embedded
//! stylesheet, no scripts: it works with any browser, by keyboard and on a 360 px screen.
//!
//! Every page goes through the same doors as the JSON API (`crate::web`): the same session
//! (cookie `arkiv_session`, 30 minutes idle), the same access rules of the archive
//! (`arkiv_archive::access`: a message another user may not read answers "not found" by
//! any URL), the same audit entries for logon, logoff, export, delete and password changes.
//! A changing form (sign out, delete, password) carries the session's CSRF token.
//!
//! Pages: `/web/login`, `/web/search?q=&folder=&offset=&sort=&order=` (the folder tree and the
//! results, quick-search syntax of manual §3.2), `/web/messages/{id}` (headers, attachments,
//! text; HTML in a sandboxed frame from `/web/messages/{id}/body`, see [`sanitize`]),
//! `/web/messages/{id}/source`, `/eml` (download, needs `export`), `/attachments/{n}`
//! (always a download), `POST /web/messages/{id}/delete`, `/web/password`, `POST
//! /web/logout`; the administration pages under `/web/admin` ([`admin`]).
//!
//! Every text a page shows lives in the message catalogue [`i18n`] (English first; the
//! pseudo-locale `en-XA` for checking): each request's language is negotiated from
//! `Accept-Language` once, by the [`Page`] extractor or the sign-in and error pages, and every
//! template gets it as `t`.

mod admin;
pub mod i18n;
mod pages;
mod sanitize;
mod search;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use arkiv_archive::access::{Caller, Privilege, Via};
use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::sessions::WebSession;
use crate::web::{WebError, blocking, message_id, record, session, set_session_cookie};
use i18n::{Text, fill};
use pages::Bar;

/// Changes with every release, so the stylesheet can be cached for good.
pub const ASSET_VERSION: &str = env!("CARGO_PKG_VERSION");

const CSS: &str = include_str!("../../static/app.css");

/// The pages' policy: own stylesheet, images only from the server (none yet), frames only
/// from the server (the message body), forms only to the server, no scripts at all.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Results per page.
const PAGE_SIZE: usize = 50;

/// The most of a message's source shown on the page (the `.eml` has all of it).
const MAX_SOURCE: usize = 1024 * 1024;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/web/") }))
        .route("/web", get(|| async { Redirect::to("/web/") }))
        .route("/web/", get(home))
        .route("/web/static/app.css", get(css))
        .route("/web/login", get(login_form).post(login))
        .route("/web/logout", post(logout))
        .route("/web/search", get(search::search))
        .route("/web/advanced", get(search::advanced))
        .route("/web/saved", post(search::save))
        .route("/web/saved/delete", post(search::delete_saved))
        .route("/web/saved/{name}", get(search::run_saved))
        .route("/web/messages/{id}", get(message))
        .route("/web/messages/{id}/body", get(body))
        .route("/web/messages/{id}/source", get(source))
        .route("/web/messages/{id}/eml", get(eml))
        .route("/web/messages/{id}/attachments/{n}", get(attachment))
        .route("/web/messages/{id}/delete", post(delete))
        .route("/web/password", get(password_form).post(password))
        .route("/web/admin", get(admin::dashboard))
        .route("/web/admin/audit", get(admin::audit))
        .route(
            "/web/admin/users",
            get(admin::users).post(admin::create_user),
        )
        .route(
            "/web/admin/users/{name}",
            get(admin::user).post(admin::user_action),
        )
        .route(
            "/web/admin/stores",
            get(admin::stores).post(admin::store_action),
        )
        .route(
            "/web/admin/tasks/{token}",
            get(admin::task).post(admin::task_action),
        )
        .route("/web/admin/jobs", get(admin::jobs).post(admin::job_action))
        .route(
            "/web/admin/compliance",
            get(admin::compliance).post(admin::compliance_action),
        )
        .route("/web/admin/service", get(admin::service))
        .route(
            "/web/admin/archives",
            get(admin::archives).post(admin::archive_action),
        )
        .route(
            "/web/admin/profiles",
            get(admin::profiles).post(admin::profile_action),
        )
        .layer(axum::middleware::from_fn(gzip))
        .with_state(state)
}

/// Pages, message bodies and the stylesheet go out gzip-compressed to browsers that accept
/// it (text: a results page shrinks about fivefold). Downloads, and documents over 8 MiB, are
/// sent as they are.
async fn gzip(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let accepts = req
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let r = next.run(req).await;
    let textual = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html") || t.starts_with("text/css"));
    let small = hyper::body::Body::size_hint(r.body())
        .upper()
        .is_some_and(|n| n <= 8 * 1024 * 1024);
    if !accepts || !textual || !small || r.headers().contains_key(header::CONTENT_ENCODING) {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 8 * 1024 * 1024).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the page could not be sent",
        )
            .into_response();
    };
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let packed = std::io::Write::write_all(&mut enc, &bytes).and_then(|_| enc.finish());
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    match packed {
        Ok(z) => {
            parts
                .headers
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(z))
        }
        Err(_) => Response::from_parts(parts, axum::body::Body::from(bytes)),
    }
}

/// An HTML page with the pages' headers.
fn html(status: StatusCode, page: Result<String, askama::Error>) -> Response {
    let body = page.unwrap_or_else(|e| {
        crate::log!("ERROR", "a page could not be rendered: {e}");
        "<!doctype html><title>Error</title><p>The page could not be rendered.".into()
    });
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The language comes from Accept-Language.
    h.insert(header::VARY, HeaderValue::from_static("accept-language"));
    r
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A signed-in page request.
struct Page {
    token: String,
    session: WebSession,
    caller: Caller,
    /// The request's language.
    t: &'static Text,
}

impl Page {
    fn bar(&self, query: &str, folder: Option<String>) -> Bar {
        Bar {
            user: self.caller.name().to_string(),
            csrf: self.session.csrf.clone(),
            query: query.to_string(),
            folder,
            may_change_password: self.caller.has(Privilege::ChangePassword),
            admin: self.caller.is_admin(),
        }
    }

    /// A form's CSRF token must be the session's: `None` when it is, else the refusal.
    fn refuse_csrf(&self, token: Option<&str>) -> Option<Response> {
        if token == Some(self.session.csrf.as_str()) {
            None
        } else {
            Some(self.error(
                StatusCode::FORBIDDEN,
                self.t.error_refused,
                self.t.error_form_outdated,
            ))
        }
    }

    fn error(&self, status: StatusCode, title: &str, message: &str) -> Response {
        error_page(status, self.t, Some(self.bar("", None)), title, message)
    }

    /// "Not found" with a message.
    fn not_found(&self, message: &str) -> Response {
        self.error(StatusCode::NOT_FOUND, self.t.error_not_found, message)
    }

    fn web_error(&self, e: WebError) -> Response {
        self.error(e.status, error_title(self.t, e.status), &e.message)
    }
}

/// An error page's title for its status.
fn error_title(t: &'static Text, status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => t.error_not_found,
        StatusCode::FORBIDDEN => t.error_not_allowed,
        StatusCode::BAD_REQUEST => t.error_cannot,
        _ => t.error_went_wrong,
    }
}

fn error_page(
    status: StatusCode,
    t: &'static Text,
    bar: Option<Bar>,
    title: &str,
    message: &str,
) -> Response {
    html(
        status,
        pages::ErrorPage {
            t,
            bar,
            title: title.into(),
            message: message.into(),
        }
        .render(),
    )
}

/// A page request's session as an extractor: without one (or expired), the sign-in page.
impl FromRequestParts<Arc<AppState>> for Page {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        page(state, &parts.headers).await
    }
}

/// The session of a page request; without one (or expired), the sign-in page.
async fn page(state: &Arc<AppState>, headers: &HeaderMap) -> Result<Page, Response> {
    let t = i18n::negotiate(headers);
    match session(state, &Method::GET, headers).await {
        Ok((token, session, caller)) => Ok(Page {
            token,
            session,
            caller,
            t,
        }),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => Err(see_other("/web/login")),
        Err(e) => Err(error_page(
            e.status,
            t,
            None,
            t.error_went_wrong,
            &e.message,
        )),
    }
}

fn query_map(q: Option<&str>) -> HashMap<String, String> {
    serde_urlencoded::from_str(q.unwrap_or("")).unwrap_or_default()
}

fn form_map(body: &[u8]) -> HashMap<String, String> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|v| v.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

/// Bytes for people: `4.2 KB`.
fn human(n: u64) -> String {
    match n {
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{:.1} KB", n as f64 / 1024.0),
        n => format!("{:.1} MB", n as f64 / (1024.0 * 1024.0)),
    }
}

/// An RFC 3339 time as `2024-03-05 14:07` (the server's time zone is in the value).
fn short_date(d: Option<&str>) -> String {
    d.map(|d| d.get(..16).unwrap_or(d).replace('T', " "))
        .unwrap_or_default()
}

async fn home(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match page(&state, &headers).await {
        Ok(_) => see_other("/web/search"),
        Err(r) => r,
    }
}

async fn css() -> Response {
    let mut r = CSS.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    r
}

/// The cookie that carries the sign-in form's token: another site can make a browser post
/// the form (and sign it in as someone else, "login CSRF"), but it can neither read the token
/// nor send this cookie (SameSite=Strict).
const LOGIN_COOKIE: &str = "arkiv_login";

/// The sign-in page with a fresh form token, set in its cookie too.
fn login_page(
    status: StatusCode,
    t: &'static Text,
    user: String,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let csrf = crate::tasks::random_hex(16);
    let mut r = html(
        status,
        pages::Login {
            t,
            user,
            csrf: csrf.clone(),
            error,
            notice,
        }
        .render(),
    );
    let cookie =
        format!("{LOGIN_COOKIE}={csrf}; Path=/web/login; Secure; HttpOnly; SameSite=Strict");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Whether a posted sign-in form carries the token its page was given.
fn login_token_ok(headers: &HeaderMap, sent: Option<&String>) -> bool {
    let cookie = crate::web::cookie(headers, LOGIN_COOKIE);
    matches!((cookie, sent), (Some(c), Some(s)) if !c.is_empty() && c == *s)
}

async fn login_form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if page(&state, &headers).await.is_ok() {
        return see_other("/web/search");
    }
    let t = i18n::negotiate(&headers);
    let q = query_map(q.as_deref());
    let notice = q
        .contains_key("signedOut")
        .then(|| t.signed_out.to_string());
    login_page(StatusCode::OK, t, String::new(), None, notice)
}

async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let t = i18n::negotiate(&headers);
    let form = form_map(&body);
    let user = form.get("userName").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let again =
        |status: StatusCode, error: String| login_page(status, t, user.clone(), Some(error), None);
    if !login_token_ok(&headers, form.get("csrf")) {
        return again(StatusCode::FORBIDDEN, t.sign_in_form_expired.into());
    }
    if user.is_empty() || password.is_empty() {
        return again(StatusCode::BAD_REQUEST, t.sign_in_enter_both.into());
    }
    let caller =
        match crate::api::logon(&state, &user, &password, peer.ip(), Via::Web, "web logon").await {
            Ok(c) => c,
            Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => {
                return again(e.status, e.message);
            }
            Err(e) if e.status == StatusCode::UNAUTHORIZED => {
                return again(e.status, t.sign_in_wrong.into());
            }
            Err(e) => return again(e.status, e.message),
        };
    if let Err(why) = crate::web::may_log_on(&state, &caller) {
        let _ = record(
            &state,
            caller.name(),
            peer.ip(),
            "web logon",
            &[],
            &format!("refused: {why}"),
        )
        .await;
        return again(
            StatusCode::FORBIDDEN,
            fill(
                t.sign_in_not_here,
                &[("user", caller.name()), ("reason", &why)],
            ),
        );
    }
    if let Err(e) = record(
        &state,
        caller.name(),
        peer.ip(),
        "web logon",
        &[],
        "succeeded",
    )
    .await
    {
        return again(e.status, e.message);
    }
    let uid = caller.user_id().map_or(0, |u| u.0);
    let (token, _) = state.sessions.open_web(caller.name(), uid, peer.ip());
    let mut r = see_other("/web/search");
    set_session_cookie(&mut r, &token);
    r
}

async fn logout(State(state): State<Arc<AppState>>, p: Page, body: axum::body::Bytes) -> Response {
    if let Some(r) = p.refuse_csrf(form_map(&body).get("csrf").map(String::as_str)) {
        return r;
    }
    state.sessions.close_web(&p.token);
    let _ = record(
        &state,
        p.caller.name(),
        p.session.ip,
        "web logoff",
        &[],
        "succeeded",
    )
    .await;
    let mut r = see_other("/web/login?signedOut=1");
    crate::web::clear_session_cookie(&mut r);
    r
}

/// What a message page needs from the archive, read once on a blocking thread.
struct Loaded {
    view: arkiv_archive::stats::MessageView,
    raw: Vec<u8>,
    may_delete: bool,
}

async fn load(state: &Arc<AppState>, caller: &Caller, id: &str) -> Result<Loaded, WebError> {
    let mid = message_id(id)?;
    let (st, c) = (state.clone(), caller.clone());
    blocking(move || {
        let m = st.archive.readable(&c, mid)?;
        let view = st.archive.message_view(m.id)?;
        let raw = st.archive.message_bytes_to_show(&m)?;
        let may_delete = st.archive.deletable(&c, mid).is_ok();
        Ok(Loaded {
            view,
            raw,
            may_delete,
        })
    })
    .await
}

async fn message(
    State(state): State<Arc<AppState>>,
    p: Page,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let l = match load(&state, &p.caller, &id).await {
        Ok(l) => l,
        Err(e) => return p.web_error(e),
    };
    let images = query_map(q.as_deref()).contains_key("images");
    let d = arkiv_message::display::display(&l.raw);
    let blocked = match &d.html {
        Some(h) if !images => sanitize::clean(h, &d.inline_images, false).blocked,
        _ => 0,
    };
    let v = &l.view;
    let page = pages::Message {
        t: p.t,
        bar: p.bar("", None),
        id: v.id.clone(),
        subject: if v.subject.is_empty() {
            p.t.no_subject.into()
        } else {
            v.subject.clone()
        },
        from: v.from.clone(),
        to: v.to.clone(),
        cc: arkiv_archive::stats::show_addrs(&d.summary.cc),
        date: short_date(v.date.as_deref()),
        folder: format!("{}/{}", v.archive, v.folder)
            .trim_end_matches('/')
            .to_string(),
        problem: v
            .problem
            .as_ref()
            .or(d.problem.as_ref())
            .map(|problem| fill(p.t.message_problem, &[("problem", problem)])),
        may_export: p.caller.has(Privilege::Export),
        may_delete: l.may_delete,
        attachments: d
            .attachments
            .iter()
            .map(|a| pages::AttachmentRow {
                index: a.index,
                name: a.name.clone(),
                content_type: a.content_type.clone(),
                size: human(a.size as u64),
            })
            .collect(),
        has_html: d.html.is_some(),
        blocked,
        images,
        text: d.text,
    };
    html(StatusCode::OK, page.render())
}

/// The sanitized HTML of a message as its own document: shown only inside the message
/// page's sandboxed frame, under a policy that allows no script, no form and no fetch
/// (remote images only when `?images=1`).
async fn body(
    State(state): State<Arc<AppState>>,
    p: Page,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let l = match load(&state, &p.caller, &id).await {
        Ok(l) => l,
        Err(e) => return p.web_error(e),
    };
    let images = query_map(q.as_deref()).contains_key("images");
    let d = arkiv_message::display::display(&l.raw);
    let clean = sanitize::clean(d.html.as_deref().unwrap_or(""), &d.inline_images, images);
    let doc = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><style>body{{font-family:system-ui,sans-serif;margin:8px;overflow-wrap:anywhere}}img{{max-width:100%;height:auto}}</style></head><body>{}</body></html>",
        clean.html
    );
    let remote = if images { " https: http:" } else { "" };
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:{remote}; font-src data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'self'; \
         sandbox allow-popups allow-popups-to-escape-sandbox"
    );
    let mut r = doc.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

async fn source(State(state): State<Arc<AppState>>, p: Page, Path(id): Path<String>) -> Response {
    let l = match load(&state, &p.caller, &id).await {
        Ok(l) => l,
        Err(e) => return p.web_error(e),
    };
    let truncated = l.raw.len() > MAX_SOURCE;
    let shown = &l.raw[..l.raw.len().min(MAX_SOURCE)];
    html(
        StatusCode::OK,
        pages::Source {
            t: p.t,
            bar: p.bar("", None),
            id: l.view.id.clone(),
            source: String::from_utf8_lossy(shown).into_owned(),
            truncated,
            shown: human(MAX_SOURCE as u64),
        }
        .render(),
    )
}

async fn eml(State(state): State<Arc<AppState>>, p: Page, Path(id): Path<String>) -> Response {
    match crate::web::export_eml(&state, p.caller.clone(), p.session.ip, id).await {
        Ok(r) => r,
        Err(e) => p.web_error(e),
    }
}

/// An attachment, always as a download of opaque bytes: never rendered on this origin.
async fn attachment(
    State(state): State<Arc<AppState>>,
    p: Page,
    Path((id, n)): Path<(String, usize)>,
) -> Response {
    let l = match load(&state, &p.caller, &id).await {
        Ok(l) => l,
        Err(e) => return p.web_error(e),
    };
    let Some(a) = arkiv_message::display::attachment(&l.raw, n) else {
        return p.not_found(p.t.error_no_attachment);
    };
    let name = a.name.unwrap_or_else(|| format!("attachment-{}", n + 1));
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        enc(&name).replace('+', "%20")
    );
    let mut r = a.data.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn delete(
    State(state): State<Arc<AppState>>,
    p: Page,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = p.refuse_csrf(form_map(&body).get("csrf").map(String::as_str)) {
        return r;
    }
    match crate::web::delete_as(&state, p.caller.clone(), p.session.ip, id).await {
        Ok(()) => see_other("/web/search"),
        Err(e) => p.web_error(e),
    }
}

async fn password_form(p: Page) -> Response {
    html(
        StatusCode::OK,
        pages::Password {
            t: p.t,
            bar: p.bar("", None),
            error: None,
            done: false,
        }
        .render(),
    )
}

async fn password(
    State(state): State<Arc<AppState>>,
    p: Page,
    body: axum::body::Bytes,
) -> Response {
    let form = form_map(&body);
    if let Some(r) = p.refuse_csrf(form.get("csrf").map(String::as_str)) {
        return r;
    }
    let old = form.get("oldPassword").cloned().unwrap_or_default();
    let new = form.get("newPassword").cloned().unwrap_or_default();
    match crate::web::change_password_of(&state, p.caller.name(), p.session.ip, &old, &new).await {
        Ok((token, csrf)) => {
            let mut bar = p.bar("", None);
            bar.csrf = csrf;
            let mut r = html(
                StatusCode::OK,
                pages::Password {
                    t: p.t,
                    bar,
                    error: None,
                    done: true,
                }
                .render(),
            );
            set_session_cookie(&mut r, &token);
            r
        }
        Err(e) => {
            let error = if e.status == StatusCode::UNAUTHORIZED {
                p.t.password_wrong.to_string()
            } else {
                e.message
            };
            html(
                e.status,
                pages::Password {
                    t: p.t,
                    bar: p.bar("", None),
                    error: Some(error),
                    done: false,
                }
                .render(),
            )
        }
    }
}
