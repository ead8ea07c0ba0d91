//! Jobs (F5, manual §7.2): scheduled API commands, and one run of a job's action.
//!
//! A job runs as its owner (kept by id: whatever their name is now), who must still be an
//! administrator; its action goes through the same function table, argument checks and access
//! rules as a call of the Administration API, and every run is audited. When jobs run is the
//! scheduler's business (`crate::scheduler`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arkiv_archive::access::Via;
use arkiv_archive::jobs::{Job, JobResult, MonthDay, Schedule};
use arkiv_types::{Timestamp, UserId};
use serde_json::{Value, json};

use super::{Args, FnError, Function, Run, Type, opt, req};
use crate::AppState;
use crate::tasks::{Code, Task};

pub static FUNCTIONS: &[Function] = &[
    Function {
        name: "CreateJob",
        description: "Create a new job to execute Management API commands.",
        args: &[
            opt("name", Type::String),
            opt("action", Type::String),
            opt("owner", Type::String),
            opt("timeZoneId", Type::String),
            opt("date", Type::String),
            opt("interval", Type::Number),
            opt("time", Type::String),
            opt("dayOfWeek", Type::String),
            opt("dayOfMonth", Type::String),
        ],
        run: Run::Quick(create_job),
    },
    Function {
        name: "GetJobs",
        description: "Retrieve list of jobs.",
        args: &[],
        run: Run::Quick(get_jobs),
    },
    Function {
        name: "GetJobResults",
        description: "Retrieves list of finished job executions.",
        args: &[
            req("fromIncluding", Type::String),
            req("toExcluding", Type::String),
            req("timeZoneId", Type::String),
            opt("jobId", Type::Number),
        ],
        run: Run::Quick(get_job_results),
    },
    Function {
        name: "RunJobAsync",
        description: "Run an existing job now (in the background).",
        args: &[req("id", Type::Number)],
        run: Run::Quick(run_job_async),
    },
    Function {
        name: "CancelJobAsync",
        description: "Cancel a running job asynchronously (it stops at its next safe point).",
        args: &[req("id", Type::Number)],
        run: Run::Quick(cancel_job_async),
    },
    Function {
        name: "SetJobEnabled",
        description: "Set enabled status of a job.",
        args: &[opt("id", Type::Number), opt("enabled", Type::Bool)],
        run: Run::Quick(set_job_enabled),
    },
    Function {
        name: "SetJobSchedule",
        description: "Modify the schedule of a job.",
        args: &[
            req("id", Type::Number),
            req("timeZoneId", Type::String),
            opt("date", Type::String),
            opt("interval", Type::Number),
            opt("time", Type::String),
            opt("dayOfWeek", Type::String),
            opt("dayOfMonth", Type::String),
        ],
        run: Run::Quick(set_job_schedule),
    },
    Function {
        name: "RenameJob",
        description: "Rename job.",
        args: &[opt("id", Type::Number), opt("name", Type::String)],
        run: Run::Quick(rename_job),
    },
    Function {
        name: "DeleteJob",
        description: "Deletes a job.",
        args: &[req("id", Type::String)],
        run: Run::Quick(delete_job),
    },
];

/// Checks that an action names a function with valid arguments (at job creation).
pub fn check_action(action: &str) -> Result<(), String> {
    let (name, args) = arkiv_archive::jobs::parse_action(action)?;
    let f = super::find(&name).ok_or_else(|| format!("unknown API command '{name}'"))?;
    Args::new(f, args, arkiv_archive::access::Caller::operator())
        .map(|_| ())
        .map_err(|e| e.message)
}

/// A schedule in the flat fields `CreateJob` and `SetJobSchedule` take.
pub fn schedule_json(s: Option<&Schedule>) -> Value {
    let Some(s) = s else {
        return json!({});
    };
    match s {
        Schedule::Once { at } => json!({ "date": at }),
        Schedule::Interval { minutes } => json!({ "interval": minutes }),
        Schedule::Daily { time } => json!({ "time": time }),
        Schedule::Weekly { day, time } => json!({ "time": time, "dayOfWeek": day }),
        Schedule::Monthly { day, weekday, time } => {
            let day = match day {
                MonthDay::Day(n) => n.to_string(),
                MonthDay::Last => "Last".to_string(),
            };
            let mut v = json!({ "time": time, "dayOfMonth": day });
            if let Some(w) = weekday {
                v["dayOfWeek"] = json!(w);
            }
            v
        }
    }
}

/// A job as the API shows it: times in its zone, the schedule in `CreateJob`'s fields, the
/// action with its secrets masked.
pub fn job_json(st: &AppState, job: &Job) -> Value {
    let when = |t: Option<i64>| {
        t.and_then(|s| {
            let tz = arkiv_archive::jobs::time_zone(&job.time_zone).ok()?;
            let ts = jiff::Timestamp::from_second(s).ok()?;
            Some(
                ts.to_zoned_datetime(tz)
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string(),
            )
        })
    };
    let owner = st
        .archive
        .user_by_id(job.owner_id)
        .map(|u| u.name)
        .unwrap_or_else(|_| job.owner.clone());
    json!({
        "id": job.id,
        "name": job.name,
        "action": arkiv_archive::jobs::mask_action(&job.action),
        "owner": owner,
        "timeZoneId": job.time_zone,
        "schedule": schedule_json(job.schedule.as_ref()),
        "enabled": job.enabled,
        "lastRun": when(job.last_run),
        "nextRun": when(job.next_run),
    })
}

fn schedule_of(a: &Args) -> Result<Option<Schedule>, FnError> {
    let (d, i, t, w, m) = (
        a.opt("date"),
        a.opt("interval").map(|_| a.number("interval")),
        a.opt("time"),
        a.opt("dayOfWeek"),
        a.opt("dayOfMonth"),
    );
    if d.is_none() && i.is_none() && t.is_none() && w.is_none() && m.is_none() {
        return Ok(None);
    }
    Ok(Some(Schedule::from_args(d, i, t, w, m)?))
}

/// The job an `id` argument names (the manual types it as a number for most functions and
/// as a string for `DeleteJob`: both are read the same way).
fn job_id(a: &Args) -> Result<u64, FnError> {
    let v = a
        .opt("id")
        .ok_or_else(|| FnError::failed("give the job's id (GetJobs lists them)"))?;
    v.trim()
        .parse::<u64>()
        .map_err(|_| FnError::bad_argument(format!("id must be a job number (got '{v}')")))
}

fn create_job(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let action = a.opt("action").ok_or_else(|| {
        FnError::failed("a job needs an action: an API command such as VerifyStores")
    })?;
    check_action(action).map_err(|e| FnError::failed(format!("action: {e}")))?;
    let owner = st.archive.user(a.opt("owner").unwrap_or(a.caller.name()))?;
    if !owner.admin {
        return Err(FnError::failed(format!(
            "the owner '{}' must be an administrator",
            owner.name
        )));
    }
    let job = st.archive.create_job(Job {
        id: 0,
        name: a.opt("name").unwrap_or(action).to_string(),
        action: action.to_string(),
        owner: owner.name,
        time_zone: a.opt("timeZoneId").unwrap_or("$Local").to_string(),
        schedule: schedule_of(a)?,
        enabled: true,
        created: 0,
        last_run: None,
        next_run: None,
        owner_id: owner.id,
    })?;
    Ok(job_json(st, &job))
}

fn get_jobs(st: &Arc<AppState>, _: &Args) -> Result<Value, FnError> {
    Ok(Value::Array(
        st.archive.jobs()?.iter().map(|j| job_json(st, j)).collect(),
    ))
}

fn get_job_results(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let tz = arkiv_archive::jobs::time_zone(a.str("timeZoneId"))?;
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
    let job = a.opt("jobId").map(|_| a.number("jobId") as u64);
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
            .job_results(from, to, job)?
            .into_iter()
            .map(|r| {
                json!({
                    "jobId": r.job_id,
                    "jobName": r.job_name,
                    "startTime": show(r.started),
                    "endTime": show(r.finished),
                    "result": r.status,
                    "logOutput": r.log,
                })
            })
            .collect(),
    ))
}

fn run_job_async(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let job = st.archive.job(job_id(a)?)?;
    if st.jobs.is_running(job.id) {
        return Err(FnError::failed(format!(
            "job #{} is running already",
            job.id
        )));
    }
    let s = st.clone();
    // The job's thread needs the runtime to start long-running functions as tasks.
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name(format!("job-{}", job.id))
        .spawn(move || {
            let _rt = runtime.enter();
            let Some(r) = run_job(&s, &job, None) else {
                return;
            };
            if let Err(e) = s.archive.record_job_run(&r) {
                crate::log!("ERROR", "job #{}: result not recorded: {e}", job.id);
            }
        })
        .map_err(|e| FnError::internal(e.to_string()))?;
    Ok(Value::Null)
}

fn cancel_job_async(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let id = job_id(a)?;
    st.archive.job(id)?;
    if !st.jobs.cancel(id) {
        return Err(FnError::failed(format!("job #{id} is not running")));
    }
    Ok(Value::Null)
}

fn set_job_enabled(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let enabled = a.bool_or("enabled", true);
    let job = st.archive.update_job(job_id(a)?, |j| {
        j.enabled = enabled;
        Ok(())
    })?;
    Ok(job_json(st, &job))
}

fn set_job_schedule(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let schedule = schedule_of(a)?;
    let tz = a.str("timeZoneId").to_string();
    let job = st.archive.update_job(job_id(a)?, |j| {
        j.schedule = schedule;
        j.time_zone = tz;
        Ok(())
    })?;
    Ok(job_json(st, &job))
}

fn rename_job(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let name = a.str("name").trim().to_string();
    if name.is_empty() {
        return Err(FnError::failed(
            "RenameJob needs a name, and it cannot be empty",
        ));
    }
    st.archive.update_job(job_id(a)?, |j| {
        j.name = name;
        Ok(())
    })?;
    Ok(Value::Null)
}

fn delete_job(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    st.archive.delete_job(job_id(a)?)?;
    Ok(Value::Null)
}

/// The jobs running now, so that one runs once at a time and `CancelJobAsync` can reach it.
#[derive(Default)]
pub struct RunningJobs {
    map: Mutex<HashMap<u64, Arc<JobRun>>>,
}

#[derive(Default)]
struct JobRun {
    cancelled: AtomicBool,
    /// The long-running function the job's action started, if any.
    task: Mutex<Option<Arc<Task>>>,
}

impl JobRun {
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

impl RunningJobs {
    /// Registers a run; `None` if the job runs already. The run is forgotten when the
    /// returned guard drops, whatever happens to the job (a panic included).
    fn begin(&self, id: u64) -> Option<RunGuard<'_>> {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if m.contains_key(&id) {
            return None;
        }
        let run = Arc::new(JobRun::default());
        m.insert(id, run.clone());
        Some(RunGuard {
            jobs: self,
            id,
            run,
        })
    }

    fn end(&self, id: u64) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    pub fn is_running(&self, id: u64) -> bool {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&id)
    }

    /// Asks a running job to stop; false if it is not running.
    pub fn cancel(&self, id: u64) -> bool {
        let m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let Some(run) = m.get(&id) else {
            return false;
        };
        run.cancelled.store(true, Ordering::SeqCst);
        if let Some(t) = run.task.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            t.cancel();
        }
        true
    }
}

struct RunGuard<'a> {
    jobs: &'a RunningJobs,
    id: u64,
    run: Arc<JobRun>,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        self.jobs.end(self.id);
    }
}

/// Runs a job's action now, on this (blocking) thread; returns its result, or `None` when the
/// job is running already (a job never runs twice at once).
pub fn run_job(state: &Arc<AppState>, job: &Job, late_by: Option<i64>) -> Option<JobResult> {
    let run = state.jobs.begin(job.id)?;
    let started = Timestamp::now().0;
    let mut log = String::new();
    if let Some(s) = late_by {
        log.push_str(&format!(
            "This run was due {s} s earlier, while the server was not running.\n"
        ));
    }
    let outcome = run_action(state, job, &run.run, &mut log);
    let run = run.run.clone();
    let mut status = match &outcome {
        Ok(()) => "succeeded",
        Err(e) => {
            log.push_str(&format!("ERROR: {e}\n"));
            if run.cancelled() {
                "cancelled"
            } else {
                "failed"
            }
        }
    };
    let (name, args) = arkiv_archive::jobs::parse_action(&job.action).unwrap_or_default();
    let owner = owner_name(state, job.owner_id).unwrap_or_else(|| job.owner.clone());
    let audited = state.archive.audit(&arkiv_archive::audit::Entry {
        user: &owner,
        client: &format!("job #{}", job.id),
        via: Via::Job.as_str(),
        function: &name,
        args: &args,
        outcome: &format!("job run: {status}"),
    });
    if let Err(e) = audited {
        log.push_str(&format!("ERROR: the audit log could not be written: {e}\n"));
        status = "failed";
    }
    Some(JobResult {
        job_id: job.id,
        job_name: job.name.clone(),
        started,
        finished: Timestamp::now().0,
        status: status.into(),
        log,
    })
}

fn owner_name(state: &AppState, id: UserId) -> Option<String> {
    state.archive.user_by_id(id).ok().map(|u| u.name)
}

fn run_action(
    state: &Arc<AppState>,
    job: &Job,
    run: &JobRun,
    log: &mut String,
) -> Result<(), String> {
    let (name, form) = arkiv_archive::jobs::parse_action(&job.action)?;
    let f = super::find(&name).ok_or_else(|| format!("unknown API command '{name}'"))?;
    let caller = state
        .archive
        .owner_caller(job.owner_id, Via::Job, &format!("job #{}", job.id))
        .map_err(|_| format!("the job's owner '{}' no longer exists", job.owner))?;
    if !caller.is_admin() {
        return Err(format!(
            "the job's owner '{}' is no longer an administrator",
            caller.name()
        ));
    }
    let args = Args::new(f, form, caller).map_err(|e| e.message)?;
    if run.cancelled() {
        return Err("cancelled before it started".into());
    }
    match f.run {
        Run::Quick(function) => {
            let v = function(state, &args).map_err(|e| e.message)?;
            if !v.is_null() {
                log.push_str(&serde_json::to_string_pretty(&v).unwrap_or_default());
                log.push('\n');
            }
            Ok(())
        }
        Run::Long(function) => {
            let st = state.clone();
            let task = state.tasks.start(move |t| function(&st, &args, t));
            *run.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.clone());
            loop {
                if run.cancelled() {
                    task.cancel();
                }
                let s = task.snapshot(0);
                if s.code != Code::Running {
                    if let Some(l) = s.log {
                        log.push_str(&l.replace("\r\n", "\n"));
                    }
                    return match s.error {
                        Some(e) => Err(e.message),
                        None => Ok(()),
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions() {
        use arkiv_archive::jobs::parse_action;
        assert_eq!(
            parse_action(r#"VerifyStore --id=1 --includeIndexes="false""#).unwrap(),
            (
                "VerifyStore".into(),
                vec![
                    ("id".into(), "1".into()),
                    ("includeIndexes".into(), "false".into())
                ]
            )
        );
        assert_eq!(
            parse_action(r#"SetUserFullName --userName=bob --fullName="Bob the Builder""#)
                .unwrap()
                .1[1]
                .1,
            "Bob the Builder"
        );
        assert!(parse_action("").is_err());
        assert!(parse_action("VerifyStore --id").is_err());
        assert!(parse_action("VerifyStore \"--id=1").is_err());
        assert!(check_action("VerifyStores --includeIndexes=false").is_ok());
        assert!(check_action("VerifyStore").unwrap_err().contains("id"));
        assert!(check_action("Reboot").unwrap_err().contains("unknown"));
    }

    #[test]
    fn schedules_in_create_jobs_fields() {
        assert_eq!(
            schedule_json(Some(&Schedule::Interval { minutes: 15 })),
            json!({"interval": 15})
        );
        assert_eq!(
            schedule_json(Some(&Schedule::Once {
                at: "2026-12-24T18:00:00".into()
            })),
            json!({"date": "2026-12-24T18:00:00"})
        );
        assert_eq!(
            schedule_json(Some(&Schedule::Monthly {
                day: MonthDay::Last,
                weekday: Some("Friday".into()),
                time: "02:00".into()
            })),
            json!({"time": "02:00", "dayOfMonth": "Last", "dayOfWeek": "Friday"})
        );
    }
}
