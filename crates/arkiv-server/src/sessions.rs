//! Who is using the server (manual §5.22 "Active sessions", API `GetActiveSessions`): callers
//! of the Administration API and the management shell, and logged-on web sessions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

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
    pub fn touch(&self, user: &str, ip: IpAddr, shell: bool) {
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
            .retain(|_, s| !arkiv_archive::users::same_name(&s.user, user));
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
