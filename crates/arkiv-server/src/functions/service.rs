//! The service itself (manual §6.2, §7.2): version, configuration, sessions, time zones.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Args, FnError, Function, Run};
use crate::AppState;

pub static FUNCTIONS: &[Function] = &[
    Function {
        name: "GetServerInfo",
        description: "Get the server's version and machine name.",
        args: &[],
        run: Run::Quick(get_server_info),
    },
    Function {
        name: "GetServiceConfiguration",
        description: "Get the service configuration: data directory, master database, audit log, the services with their addresses.",
        args: &[],
        run: Run::Quick(get_service_configuration),
    },
    Function {
        name: "GetSmtpReceiverStatus",
        description: "Arkiv extension: the SMTP journal receiver's settings in force and its counters since the start (messages archived, deferred and refused, by reason); null when it is off.",
        args: &[],
        run: Run::Quick(get_smtp_receiver_status),
    },
    Function {
        name: "GetActiveSessions",
        description: "Get list of current user sessions.",
        args: &[],
        run: Run::Quick(get_active_sessions),
    },
    Function {
        name: "GetTimeZones",
        description: "Get a list of available time zones (IANA ids, and $Local for the system's).",
        args: &[],
        run: Run::Quick(get_time_zones),
    },
];

fn get_server_info(_: &Arc<AppState>, _: &Args) -> Result<Value, FnError> {
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "machineName": machine,
    }))
}

fn get_service_configuration(st: &Arc<AppState>, _: &Args) -> Result<Value, FnError> {
    let dir = st.archive.dir();
    let cert = st.certificate.details();
    Ok(json!({
        "dataDirectory": dir.display().to_string(),
        "masterDatabasePath": dir.join("master.redb").display().to_string(),
        "auditLogPath": st.archive.audit_path().display().to_string(),
        "services": *st.endpoints.lock().unwrap_or_else(|p| p.into_inner()),
        "serverName": st.server_name,
        "certificateFingerprint": st.certificate.fingerprint(),
        "certificateSubject": cert.as_ref().map(|c| c.subject.clone()),
        "certificateIssuer": cert.as_ref().map(|c| c.issuer.clone()),
        "certificateNotBefore": cert.as_ref().map(|c| c.not_before.clone()),
        "certificateNotAfter": cert.as_ref().map(|c| c.not_after.clone()),
        "certificateSelfSigned": cert.as_ref().map(|c| c.self_signed),
        "uptimeSeconds": st.started.elapsed().as_secs(),
        "smtpReceiver": st.smtp.get().map(|s| s.status()),
    }))
}

fn get_smtp_receiver_status(st: &Arc<AppState>, _: &Args) -> Result<Value, FnError> {
    Ok(st.smtp.get().map_or(Value::Null, |s| s.status()))
}

fn get_active_sessions(st: &Arc<AppState>, _: &Args) -> Result<Value, FnError> {
    Ok(Value::Array(st.sessions.list()))
}

fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    format!("(UTC{sign}{:02}:{:02})", s / 3600, s % 3600 / 60)
}

fn get_time_zones(_: &Arc<AppState>, _: &Args) -> Result<Value, FnError> {
    let now = jiff::Timestamp::now();
    let mut zones: Vec<(i32, String)> = jiff::tz::db()
        .available()
        .filter_map(|name| {
            let name = name.to_string();
            // Only the canonical Area/Location ids (no legacy aliases such as "EST5EDT").
            if !name.contains('/') || name.starts_with("Etc/") {
                return None;
            }
            let tz = jiff::tz::TimeZone::get(&name).ok()?;
            Some((tz.to_offset(now).seconds(), name))
        })
        .collect();
    zones.sort();
    let mut out = vec![{
        let local = jiff::tz::TimeZone::system();
        json!({
            "id": "$Local",
            "displayName": format!(
                "{} {} (the server's time zone)",
                offset_text(local.to_offset(now).seconds()),
                local.iana_name().unwrap_or("local")
            ),
        })
    }];
    out.push(json!({"id": "UTC", "displayName": "(UTC+00:00) Coordinated Universal Time"}));
    out.extend(zones.into_iter().map(|(off, id)| {
        json!({
            "id": id,
            "displayName": format!("{} {}", offset_text(off), id.replace('_', " ")),
        })
    }));
    Ok(Value::Array(out))
}
