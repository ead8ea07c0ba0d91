//! Compliance settings (manual §5.11: archive access for administrators, changed only with
//! the password entered again and an optional reason, both in the audit log) and the service
//! page (listeners, the TLS certificate with its fingerprint and expiry, active sessions).

use std::sync::Arc;

use arkiv_archive::access::Via;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{Admin, Reads, Row, invoke, one, posted, s};
use crate::AppState;
use crate::webui::i18n::{Text, fill};
use crate::webui::{Page, html};

#[derive(Template)]
#[template(path = "admin_compliance.html")]
struct Compliance {
    t: &'static Text,
    bar: crate::webui::pages::Bar,
    admin_archive_access: bool,
    error: Option<String>,
    notice: Option<String>,
}

async fn compliance_page(
    state: &Arc<AppState>,
    p: &Page,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let mut reads = Reads::new(state, p, error);
    let v = reads.value("GetComplianceConfiguration", &[]).await;
    let status = reads.status();
    html(
        status,
        Compliance {
            t: p.t,
            bar: p.bar("", None),
            admin_archive_access: v["adminArchiveAccess"].as_bool().unwrap_or(false),
            error: reads.error,
            notice,
        }
        .render(),
    )
}

pub(in crate::webui) async fn compliance(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
) -> Response {
    compliance_page(&state, &p, None, None).await
}

/// Blocks or unblocks archive access: the administrator's password is checked again (a wrong
/// one counts toward lockout like any logon), then `SetComplianceConfiguration` with the reason.
pub(in crate::webui) async fn compliance_action(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
    body: axum::body::Bytes,
) -> Response {
    let form = match posted(&p, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let password = one(&form, "password");
    if password.is_empty() {
        return compliance_page(
            &state,
            &p,
            Some(p.t.compliance_password_needed.into()),
            None,
        )
        .await;
    }
    if let Err(e) = crate::api::logon(
        &state,
        p.caller.name(),
        password,
        p.session.ip,
        Via::Web,
        "confirm password",
    )
    .await
    {
        let why = if e.status == StatusCode::UNAUTHORIZED {
            p.t.compliance_password_wrong.to_string()
        } else {
            e.message
        };
        return compliance_page(&state, &p, Some(why), None).await;
    }
    let on = one(&form, "adminArchiveAccess") == "unblocked";
    let config = serde_json::json!({ "adminArchiveAccess": on }).to_string();
    let reason = one(&form, "reason").trim();
    let mut args = vec![("config", config.as_str())];
    if !reason.is_empty() {
        args.push(("reason", reason));
    }
    match invoke(&state, &p, "SetComplianceConfiguration", &args).await {
        Ok(_) => {
            let notice = if on {
                p.t.access_now_unblocked
            } else {
                p.t.access_now_blocked
            };
            compliance_page(&state, &p, None, Some(notice.into())).await
        }
        Err(e) => compliance_page(&state, &p, Some(e), None).await,
    }
}

#[derive(Template)]
#[template(path = "admin_service.html")]
struct Service {
    t: &'static Text,
    bar: crate::webui::pages::Bar,
    version: String,
    machine: String,
    server_name: String,
    uptime: String,
    data_dir: String,
    audit_log: String,
    listeners: Vec<Row>,
    cert: Vec<(&'static str, String)>,
    expiry_warning: Option<String>,
    sessions: Vec<Row>,
    /// The SMTP journal receiver: settings and counters (`None`: off).
    smtp: Option<SmtpStatus>,
    error: Option<String>,
}

struct SmtpStatus {
    facts: Vec<(&'static str, String)>,
    deferred: Vec<Row>,
    refused: Vec<Row>,
}

fn smtp_status(t: &Text, v: &serde_json::Value) -> Option<SmtpStatus> {
    if v.is_null() {
        return None;
    }
    let list = |k: &str| {
        v[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let num = |k: &str| v[k].as_u64().unwrap_or(0).to_string();
    let rows = |k: &str| {
        v[k].as_object()
            .map(|m| {
                m.iter()
                    .map(|(why, n)| Row(vec![why.clone(), n.to_string()]))
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(SmtpStatus {
        facts: vec![
            (t.smtp_accepted, num("accepted")),
            (t.smtp_accepted_bytes, num("acceptedBytes")),
            (t.smtp_connections, num("connections")),
            (t.smtp_queued, num("queuedBytes")),
            (t.smtp_trusted, list("trustedNetworks")),
            (t.smtp_plain, list("plainNetworks")),
            (t.smtp_auth_users, list("authUsers")),
            (t.smtp_max_message, num("maxMessageBytes")),
        ],
        deferred: rows("deferred"),
        refused: rows("refused"),
    })
}

/// Days until an RFC 3339 time, negative when past.
fn days_until(t: &str) -> Option<i64> {
    let t: jiff::Timestamp = t.parse().ok()?;
    Some((t - jiff::Timestamp::now()).as_secs() / 86_400)
}

pub(in crate::webui) async fn service(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
) -> Response {
    let t = p.t;
    let mut reads = Reads::new(&state, &p, None);
    let info = reads.value("GetServerInfo", &[]).await;
    let conf = reads.value("GetServiceConfiguration", &[]).await;
    let sessions = reads.value("GetActiveSessions", &[]).await;
    let listeners = conf["services"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|l| {
            Row(vec![
                s(l, "name"),
                s(l, "address"),
                s(l, "protocol"),
                if l["enabled"].as_bool() == Some(true) {
                    t.listener_on.into()
                } else {
                    t.listener_off.into()
                },
            ])
        })
        .collect();
    let not_after = s(&conf, "certificateNotAfter");
    let expiry_warning = match days_until(&not_after) {
        Some(d) if d < 0 => Some(fill(t.certificate_expired, &[("date", &not_after)])),
        Some(d) if d < 30 => Some(fill(
            t.certificate_expires,
            &[("days", &d.to_string()), ("date", &not_after)],
        )),
        _ => None,
    };
    let up = conf["uptimeSeconds"].as_u64().unwrap_or(0);
    let smtp = smtp_status(t, &conf["smtpReceiver"]);
    let page = Service {
        t,
        bar: p.bar("", None),
        version: s(&info, "version"),
        machine: s(&info, "machineName"),
        server_name: s(&conf, "serverName"),
        uptime: fill(
            t.uptime,
            &[
                ("days", &(up / 86_400).to_string()),
                ("hours", &(up / 3600 % 24).to_string()),
                ("minutes", &(up / 60 % 60).to_string()),
            ],
        ),
        data_dir: s(&conf, "dataDirectory"),
        audit_log: s(&conf, "auditLogPath"),
        listeners,
        cert: vec![
            (
                t.certificate_fingerprint,
                s(&conf, "certificateFingerprint"),
            ),
            (t.certificate_subject, s(&conf, "certificateSubject")),
            (t.certificate_issuer, s(&conf, "certificateIssuer")),
            (t.certificate_valid_from, s(&conf, "certificateNotBefore")),
            (t.certificate_valid_until, not_after.clone()),
            (
                t.certificate_self_signed,
                match conf["certificateSelfSigned"].as_bool() {
                    Some(true) => t.yes.into(),
                    Some(false) => t.no.into(),
                    None => String::new(),
                },
            ),
        ],
        expiry_warning,
        sessions: sessions
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|x| {
                Row(vec![
                    s(x, "userName"),
                    s(x, "clientAddress"),
                    s(x, "source"),
                    s(x, "startTime"),
                    s(x, "lastAccessTime"),
                ])
            })
            .collect(),
        smtp,
        error: reads.error,
    };
    html(StatusCode::OK, page.render())
}
