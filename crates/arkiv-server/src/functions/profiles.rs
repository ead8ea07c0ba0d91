//! Archiving profiles (manual §7.2 `CreateProfile`, `DeleteProfile`, `GetProfiles`,
//! `RunProfile`, `RunTemporaryProfile`, `GetWorkerResults`) and their automatic execution.
//!
//! The `properties` JSON is `arkiv_archive::mailboxes::profiles::ProfileProperties` (its
//! module documents every field; the OpenAPI description carries its schema). The password
//! is write-only: `GetProfiles` says `passwordSet` instead.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use arkiv_archive::access::Caller;
use arkiv_archive::mailboxes::profiles::{Profile, ProfileProperties, WorkerResult};
use arkiv_types::Timestamp;
use serde_json::{Value, json};

use super::{Args, FnError, Function, Run, Type, opt, req};
use crate::AppState;
use crate::tasks::Task;

pub static FUNCTIONS: &[Function] = &[
    Function {
        name: "CreateProfile",
        description: "Create a new archiving profile (properties: see the ProfileProperties schema; the password is required and never returned).",
        args: &[req("properties", Type::String), opt("raw", Type::Bool)],
        run: Run::Quick(create_profile),
    },
    Function {
        name: "DeleteProfile",
        description: "Delete an archiving profile (the mail it archived stays).",
        args: &[req("id", Type::Number)],
        run: Run::Quick(delete_profile),
    },
    Function {
        name: "GetProfiles",
        description: "Get the list of archiving profiles with their properties (without passwords).",
        args: &[opt("raw", Type::Bool)],
        run: Run::Quick(get_profiles),
    },
    Function {
        name: "RunProfile",
        description: "Run an existing archiving profile now.",
        args: &[req("id", Type::Number)],
        run: Run::Long(run_profile),
    },
    Function {
        name: "RunTemporaryProfile",
        description: "Run an archiving profile given by its properties, without saving it.",
        args: &[req("properties", Type::String), opt("raw", Type::Bool)],
        run: Run::Long(run_temporary_profile),
    },
    Function {
        name: "GetWorkerResults",
        description: "Get the results of profile executions.",
        args: &[
            req("fromIncluding", Type::String),
            req("toExcluding", Type::String),
            req("timeZoneID", Type::String),
            opt("profileID", Type::Number),
            opt("userName", Type::String),
        ],
        run: Run::Quick(get_worker_results),
    },
];

/// Profiles running now (one run at a time per profile).
#[derive(Default)]
pub struct RunningProfiles {
    ids: Mutex<HashSet<u64>>,
}

pub struct ProfileRun<'a> {
    running: &'a RunningProfiles,
    id: u64,
}

impl Drop for ProfileRun<'_> {
    fn drop(&mut self) {
        self.running
            .ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl RunningProfiles {
    /// `None` if the profile runs already.
    pub fn begin(&self, id: u64) -> Option<ProfileRun<'_>> {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        if !ids.insert(id) {
            return None;
        }
        Some(ProfileRun { running: self, id })
    }

    pub fn is_running(&self, id: u64) -> bool {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id)
    }
}

fn raw_only(a: &Args) -> Result<(), FnError> {
    if !a.bool_or("raw", true) {
        return Err(FnError::failed(
            "only raw=true is supported (the properties JSON as it is)",
        ));
    }
    Ok(())
}

/// Parses `properties`: unknown keys are refused (a misspelt setting must not be ignored),
/// as are `id` and `version` (the manual: they must be omitted). Returns the owner if given.
pub fn parse_properties(text: &str) -> Result<(ProfileProperties, Option<String>), FnError> {
    let mut v: Value = serde_json::from_str(text)
        .map_err(|e| FnError::bad_argument(format!("properties is not JSON: {e}")))?;
    let Some(obj) = v.as_object_mut() else {
        return Err(FnError::bad_argument("properties must be a JSON object"));
    };
    for k in ["id", "version"] {
        if obj.contains_key(k) {
            return Err(FnError::bad_argument(format!(
                "properties: '{k}' must be omitted (it is assigned)"
            )));
        }
    }
    // What GetProfiles adds for reading only.
    for k in [
        "passwordSet",
        "lastStarted",
        "lastFinished",
        "lastResult",
        "nextRun",
        "running",
    ] {
        obj.remove(k);
    }
    let owner = match obj.remove("owner") {
        Some(Value::String(s)) => Some(s),
        Some(Value::Null) | None => None,
        Some(_) => {
            return Err(FnError::bad_argument(
                "properties: owner must be a user name",
            ));
        }
    };
    let known = serde_json::to_value(ProfileProperties {
        password: "x".into(),
        unknown_user: Some(String::new()),
        automatic: Some(arkiv_archive::mailboxes::profiles::Automatic {
            wait_seconds: 0,
            not_between: None,
        }),
        ..Default::default()
    })
    .unwrap_or_default();
    let known = known.as_object().cloned().unwrap_or_default();
    if let Some(bad) = obj.keys().find(|k| !known.contains_key(*k)) {
        let mut names: Vec<&String> = known.keys().collect();
        names.sort();
        return Err(FnError::bad_argument(format!(
            "properties: unknown setting '{bad}'; the settings: {}",
            names
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let p: ProfileProperties =
        serde_json::from_value(v).map_err(|e| FnError::bad_argument(format!("properties: {e}")))?;
    Ok((p, owner))
}

/// A profile as `GetProfiles` shows it: its properties (no password), id, version, owner.
pub fn profile_json(st: &AppState, p: &Profile) -> Value {
    let mut props = p.properties.clone();
    let password_set = !props.password.is_empty();
    props.password.clear();
    let mut v = serde_json::to_value(&props).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        let owner = st
            .archive
            .user_by_id(p.owner_id)
            .map(|u| u.name)
            .unwrap_or_default();
        o.insert("id".into(), json!(p.id));
        o.insert("version".into(), json!(p.version));
        o.insert("owner".into(), json!(owner));
        o.insert("passwordSet".into(), json!(password_set));
        o.insert("lastStarted".into(), json!(p.last_started));
        o.insert("lastFinished".into(), json!(p.last_finished));
        o.insert("lastResult".into(), json!(p.last_result));
        o.insert("nextRun".into(), json!(p.next_run(Timestamp::now().0)));
        o.insert("running".into(), json!(st.profiles.is_running(p.id)));
    }
    v
}

fn create_profile(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    raw_only(a)?;
    let (props, owner) = parse_properties(a.str("properties"))?;
    let p = st
        .archive
        .create_profile(&a.caller, owner.as_deref(), props)?;
    Ok(profile_json(st, &p))
}

fn delete_profile(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let id = a.number("id") as u64;
    if st.profiles.is_running(id) {
        return Err(FnError::failed(format!(
            "profile #{id} is running; wait for it to finish"
        )));
    }
    st.archive.delete_profile(&a.caller, id)?;
    Ok(Value::Null)
}

fn get_profiles(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    raw_only(a)?;
    Ok(Value::Array(
        st.archive
            .profiles()?
            .iter()
            .filter(|p| st.archive.may_see_profile(&a.caller, p))
            .map(|p| profile_json(st, p))
            .collect(),
    ))
}

/// A worker result without its debug log (which goes to the task's log).
pub fn result_json(r: &WorkerResult) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("log");
    }
    v
}

/// Runs a stored profile as `caller` (checked), reporting to `task` when there is one.
pub fn run_stored(
    st: &Arc<AppState>,
    caller: &Caller,
    id: u64,
    task: Option<&Task>,
    cancel: &AtomicBool,
) -> Result<WorkerResult, FnError> {
    let p = st.archive.profile(id)?;
    if !st.archive.may_see_profile(caller, &p) {
        return Err(FnError::not_found(format!(
            "there is no archiving profile #{id}"
        )));
    }
    st.archive.may_run_profile(caller, &p)?;
    let Some(_run) = st.profiles.begin(id) else {
        return Err(FnError::failed(format!(
            "profile #{id} is running already; this run is skipped"
        )));
    };
    let progress = |line: &str, pct: Option<u8>| {
        if let Some(t) = task {
            t.log(line.to_string());
            if let Some(p) = pct {
                t.progress(p);
            }
        }
    };
    Ok(st
        .archive
        .run_profile(id, &p.properties, caller.name(), &progress, cancel)?)
}

fn finish(task: &Task, r: &WorkerResult) -> Result<Value, FnError> {
    for l in r.log.lines().take(2000) {
        task.log(l.to_string());
    }
    if r.result == "failed" {
        return Err(FnError::failed(
            r.error
                .clone()
                .unwrap_or_else(|| "the profile failed".into()),
        ));
    }
    Ok(result_json(r))
}

fn run_profile(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, FnError> {
    let r = run_stored(
        st,
        &a.caller,
        a.number("id") as u64,
        Some(task),
        task.cancel_flag(),
    )?;
    finish(task, &r)
}

fn run_temporary_profile(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, FnError> {
    raw_only(a)?;
    let (props, _) = parse_properties(a.str("properties"))?;
    // Checked like a profile the caller would own, then run without being stored.
    let owner = a.caller.user_id().unwrap_or(arkiv_types::UserId(0));
    let mut props = props;
    props.server.protocol = props.kind_protocol();
    st.archive
        .check_temporary_profile(&a.caller, owner, &props)?;
    let progress = |line: &str, pct: Option<u8>| {
        task.log(line.to_string());
        if let Some(p) = pct {
            task.progress(p);
        }
    };
    let r = st
        .archive
        .run_profile(0, &props, a.caller.name(), &progress, task.cancel_flag())?;
    finish(task, &r)
}

fn get_worker_results(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let tz = arkiv_archive::jobs::time_zone(a.str("timeZoneID"))?;
    let at = |name: &str| -> Result<i64, FnError> {
        let v = a.str(name);
        let dt = v.parse::<jiff::civil::DateTime>().map_err(|_| {
            FnError::bad_argument(format!(
                "{name}: '{v}' is not a date and time such as 2026-12-01T00:00:00"
            ))
        })?;
        Ok(tz
            .to_ambiguous_zoned_datetime(dt)
            .compatible()
            .map_err(|e| FnError::bad_argument(e.to_string()))?
            .timestamp()
            .as_second())
    };
    let (from, to) = (at("fromIncluding")?, at("toExcluding")?);
    let profile = a.opt("profileID").map(|_| a.number("profileID") as u64);
    let show = |s: i64| {
        jiff::Timestamp::from_second(s)
            .map(|t| {
                t.to_zoned_datetime(tz.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            })
            .unwrap_or_default()
    };
    Ok(Value::Array(
        st.archive
            .worker_results(from, to, profile, a.opt("userName"))?
            .into_iter()
            .map(|r| {
                let mut v = serde_json::to_value(&r).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("startTime".into(), json!(show(r.started)));
                    o.insert("endTime".into(), json!(show(r.finished)));
                    o.remove("started");
                    o.remove("finished");
                }
                v
            })
            .collect(),
    ))
}

/// Automatic execution (manual §2.3 "Automating Execution of E-mail Server Archiving
/// Profiles"): starts every profile that is due (its wait since the last run is over and it
/// is outside its quiet window) on its own thread, as its owner; returns when the next one
/// is due. Safe mode runs nothing by itself.
pub fn run_due(st: &Arc<AppState>) -> Option<i64> {
    let now = Timestamp::now().0;
    let profiles = st.archive.profiles().ok()?;
    let mut next: Option<i64> = None;
    for p in profiles {
        let Some(due) = p.next_run(now) else {
            continue;
        };
        if st.safe_mode {
            continue;
        }
        // A running profile is looked at again soon: its next run counts from its end.
        let wake = if st.profiles.is_running(p.id) {
            Some(now + 5)
        } else if due > now {
            Some(due)
        } else {
            None
        };
        if let Some(w) = wake {
            next = Some(next.map_or(w, |n: i64| n.min(w)));
            continue;
        }
        next = Some(next.map_or(now + 5, |n: i64| n.min(now + 5)));
        let st2 = st.clone();
        let id = p.id;
        crate::log!(
            "INFO",
            "archiving profile #{id} '{}' runs (automatic)",
            crate::error::log_safe(&p.properties.name)
        );
        let spawned = std::thread::Builder::new()
            .name(format!("profile-{id}"))
            .spawn(move || {
                let caller = match st2.archive.owner_caller(
                    p.owner_id,
                    arkiv_archive::access::Via::Job,
                    &format!("profile #{id}"),
                ) {
                    Ok(c) => c,
                    Err(e) => {
                        crate::log!("ERROR", "profile #{id}: its owner is gone: {e}");
                        return;
                    }
                };
                let cancel = AtomicBool::new(false);
                let outcome = run_stored(&st2, &caller, id, None, &cancel);
                let text = match &outcome {
                    Ok(r) => format!("automatic run: {}", r.result),
                    Err(e) => format!("automatic run: failed: {}", e.message),
                };
                let _ = st2.archive.audit(&arkiv_archive::audit::Entry {
                    user: caller.name(),
                    client: &format!("profile #{id}"),
                    via: arkiv_archive::access::Via::Job.as_str(),
                    function: "RunProfile",
                    args: &[("id".into(), id.to_string())],
                    outcome: &text,
                });
                match outcome {
                    Ok(r) => crate::log!(
                        "INFO",
                        "archiving profile #{id}: {} ({} archived, {} failed, {} deleted)",
                        r.result,
                        r.archived,
                        r.failed,
                        r.deleted
                    ),
                    Err(e) => crate::log!(
                        "WARN",
                        "archiving profile #{id}: {}",
                        crate::error::log_safe(&e.message)
                    ),
                }
            });
        if let Err(e) = spawned {
            crate::log!("ERROR", "profile #{id}: cannot start a thread: {e}");
        }
    }
    next
}

/// The JSON Schema of `properties` (CreateProfile, RunTemporaryProfile, GetProfiles), for the
/// OpenAPI description.
pub fn properties_schema() -> Value {
    let period = json!({"type": "object", "required": ["amount", "unit"], "properties": {
        "amount": {"type": "integer", "minimum": 0},
        "unit": {"type": "string", "enum": ["days", "weeks", "months", "years"]}}});
    let rule = json!({"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "description": "a folder path with / between levels (INBOX/Projects), or ||regex (case-sensitive) or |i|regex"},
        "subfolders": {"type": "boolean", "default": true}}});
    let folders = json!({"type": "object", "properties": {
        "include": {"type": "array", "items": rule.clone()},
        "exclude": {"type": "array", "items": rule.clone()},
        "defaultExclusions": {"type": "boolean", "default": true},
        "sentFolders": {"type": "array", "items": rule},
        "detectSent": {"type": "boolean", "default": true}}});
    let filters = json!({"type": "object", "properties": {
        "archiveUnread": {"type": "boolean", "default": true},
        "olderThan": {"oneOf": [{"type": "null"}, period, {"type": "object", "required": ["date", "utc"], "properties": {
            "date": {"type": "string", "description": "2014-06-30 or 2014-06-30T12:00:00"}, "utc": {"type": "boolean"}}}]}}});
    let deletion = json!({"type": "object", "required": ["rule"], "properties": {
        "rule": {"type": "string", "enum": ["never", "immediately", "afterArchived", "olderThan"]},
        "amount": {"type": "integer"},
        "unit": {"type": "string", "enum": ["days", "weeks", "months", "years"]}}});
    let automatic = json!({"oneOf": [{"type": "null"}, {"type": "object", "required": ["waitSeconds"], "properties": {
        "waitSeconds": {"type": "integer", "minimum": 10},
        "notBetween": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["from", "to"], "properties": {
            "from": {"type": "string", "description": "HH:MM server time"}, "to": {"type": "string"}}}]}}}]});
    json!({
        "type": "object",
        "description": "An archiving profile. GetProfiles adds id, version, owner, passwordSet, lastStarted, lastFinished, lastResult, nextRun and running, and never returns the password; CreateProfile refuses id and version and unknown settings.",
        "required": ["name", "type", "host"],
        "properties": {
            "name": {"type": "string"},
            "type": {"type": "string", "enum": ["imap", "pop3", "imapMultidrop", "pop3Multidrop", "imapMasterPassword", "imapCsv"]},
            "owner": {"type": "string", "description": "the owning user (administrators only; default: the caller)"},
            "protocol": {"type": "string", "enum": ["imap", "pop3"], "description": "follows from type"},
            "host": {"type": "string"},
            "port": {"type": "integer", "description": "0: 993/143 (IMAP), 995/110 (POP3)"},
            "security": {"type": "string", "enum": ["tls", "starttls", "plain"], "default": "tls"},
            "ignoreCertificate": {"type": "boolean", "default": false},
            "fingerprint": {"type": "string", "description": "pinned SHA-256 certificate fingerprint"},
            "caFile": {"type": "string", "description": "PEM file of extra certificate authorities"},
            "timeoutSeconds": {"type": "integer", "default": 300},
            "userName": {"type": "string", "description": "the mailbox's user name; the master user's for imapMasterPassword"},
            "password": {"type": "string", "writeOnly": true},
            "csvFile": {"type": "string", "description": "imapCsv: the CSV file (manual §2.8)"},
            "mailboxes": {"type": "object", "description": "imapMasterPassword: which users' mailboxes", "properties": {
                "mode": {"type": "string", "enum": ["all", "allExcept", "only"]},
                "users": {"type": "array", "items": {"type": "string"}}}},
            "concurrency": {"type": "integer", "minimum": 1, "maximum": 25, "default": 5},
            "targetUser": {"type": "string", "description": "imap, pop3: the archive"},
            "targetFolder": {"type": "string", "description": "top folder in the archive (default: the mailbox name)"},
            "sentFolder": {"type": "string", "default": "Sent"},
            "receivedFolder": {"type": "string", "default": "Received"},
            "unknownUser": {"type": ["string", "null"], "description": "multidrop: the archive for messages of no known address (null: skip them)"},
            "folders": folders,
            "filters": filters,
            "deletion": deletion,
            "automatic": automatic
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_checked_strictly() {
        let ok = r#"{"name":"a","type":"pop3","protocol":"pop3","host":"h","userName":"u","password":"p","targetUser":"alice"}"#;
        let (p, owner) = parse_properties(ok).unwrap();
        assert_eq!((p.name.as_str(), owner), ("a", None));
        for (bad, want) in [
            ("[1]", "JSON object"),
            ("{", "not JSON"),
            (r#"{"name":"a","id":3}"#, "'id' must be omitted"),
            (
                r#"{"name":"a","targetUsr":"bob"}"#,
                "unknown setting 'targetUsr'",
            ),
            (
                r#"{"name":"a","deletion":{"rule":"sometimes"}}"#,
                "properties:",
            ),
        ] {
            let e = parse_properties(bad).unwrap_err();
            assert!(e.message.contains(want), "{bad}: {}", e.message);
        }
    }
}
