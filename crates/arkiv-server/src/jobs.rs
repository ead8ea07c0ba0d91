//! Running jobs (F5): the scheduler, and one run of a job's action.
//!
//! The scheduler wakes at the next due time (at least every 30 s), runs due jobs one after
//! another, and records each result. **Missed runs:** a job whose time passed while the server
//! was down runs once at start (not once per missed time), its log saying how late it is; the
//! next run is then planned from now.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arkiv_archive::jobs::{Job, JobResult};
use arkiv_types::Timestamp;
use serde_json::Value;

use crate::AppState;
use crate::functions::{self, Args, Run};
use crate::tasks::{Code, Task};

/// Splits an action such as `VerifyStore --id=1 --includeIndexes="false"` into the function
/// name and its arguments (double quotes group; no other shell syntax).
pub fn parse_action(action: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in action.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err("unbalanced quotes in the action".into());
    }
    if any {
        words.push(cur);
    }
    let Some((name, rest)) = words.split_first() else {
        return Err("the action is empty: give an API command such as VerifyStores".into());
    };
    let mut args = Vec::new();
    for w in rest {
        let w = w.strip_prefix("--").unwrap_or(w);
        match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => args.push((k.to_string(), v.to_string())),
            _ => {
                return Err(format!(
                    "arguments of the action are --name=value (got '{w}')"
                ));
            }
        }
    }
    Ok((name.clone(), args))
}

/// Checks that an action names a function with valid arguments (at job creation).
pub fn check_action(action: &str) -> Result<(), String> {
    let (name, args) = parse_action(action)?;
    let f = functions::find(&name).ok_or_else(|| format!("unknown API command '{name}'"))?;
    Args::new(f, args, "").map(|_| ()).map_err(|e| e.message)
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
    let status = match outcome {
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
    state.audit.record(
        &job.owner,
        &format!("job #{}", job.id),
        &job.action,
        &[],
        &format!("job run: {status}"),
    );
    Some(JobResult {
        job_id: job.id,
        job_name: job.name.clone(),
        started,
        finished: Timestamp::now().0,
        status: status.into(),
        log,
    })
}

fn run_action(
    state: &Arc<AppState>,
    job: &Job,
    run: &JobRun,
    log: &mut String,
) -> Result<(), String> {
    let (name, form) = parse_action(&job.action)?;
    let f = functions::find(&name).ok_or_else(|| format!("unknown API command '{name}'"))?;
    let owner = state.archive.user(&job.owner).map_err(|e| e.to_string())?;
    if !owner.admin {
        return Err(format!(
            "the job's owner '{}' is no longer an administrator",
            job.owner
        ));
    }
    let args = Args::new(f, form, &job.owner).map_err(|e| e.message)?;
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
            *run_slot(run) = Some(task.clone());
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

fn run_slot(run: &JobRun) -> std::sync::MutexGuard<'_, Option<Arc<Task>>> {
    run.task.lock().unwrap_or_else(|p| p.into_inner())
}

/// The scheduler loop; ends when `stop` turns true.
pub async fn scheduler(state: Arc<AppState>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut first = true;
    loop {
        let st = state.clone();
        let catch_up = first;
        first = false;
        // Run what is due; learn when the next job is.
        let next = tokio::task::spawn_blocking(move || -> Option<i64> {
            let jobs = st.archive.jobs().ok()?;
            let now = Timestamp::now().0;
            // Safe mode: nothing runs by schedule (RunJobAsync still runs a job on request).
            for job in jobs.iter().filter(|j| j.enabled && !st.safe_mode) {
                let Some(due) = job.next_run else { continue };
                if due > now {
                    continue;
                }
                let late = (catch_up && now - due > 5).then_some(now - due);
                crate::log!(
                    "INFO",
                    "job #{} '{}' runs: {}",
                    job.id,
                    job.name,
                    job.action
                );
                let Some(r) = run_job(&st, job, late) else {
                    crate::log!(
                        "INFO",
                        "job #{} is still running: this run is skipped",
                        job.id
                    );
                    continue;
                };
                if let Err(e) = st.archive.record_job_run(&r) {
                    crate::log!("ERROR", "job #{}: result not recorded: {e}", job.id);
                }
            }
            st.archive
                .jobs()
                .ok()?
                .iter()
                .filter(|j| j.enabled)
                .filter_map(|j| j.next_run)
                .min()
        })
        .await
        .ok()
        .flatten();
        let wait = match next {
            Some(t) => (t - Timestamp::now().0).clamp(0, 30) as u64,
            None => 30,
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait * 1000 + 50)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// A job as the API shows it, times in `tz`.
pub fn job_json(job: &Job) -> Value {
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
    serde_json::json!({
        "id": job.id,
        "name": job.name,
        "action": job.action,
        "owner": job.owner,
        "timeZoneId": job.time_zone,
        "schedule": job.schedule,
        "enabled": job.enabled,
        "lastRun": when(job.last_run),
        "nextRun": when(job.next_run),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions() {
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
}
