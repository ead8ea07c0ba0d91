//! When jobs run (F5) and archiving profiles run automatically (A9): the scheduler wakes at the next due time (at least every 10 s, so that a profile or job created meanwhile starts soon), runs
//! due jobs one after another (`functions::jobs::run_job`), and records each result.
//! **Missed runs:** a job whose time passed while the server was down runs once at start (not
//! once per missed time), its log saying how late it is; the next run is then planned from now.

use std::sync::Arc;
use std::time::Duration;

use arkiv_types::Timestamp;

use crate::AppState;

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
                    crate::error::log_safe(&job.name),
                    crate::error::log_safe(&arkiv_archive::jobs::mask_action(&job.action))
                );
                let Some(r) = crate::functions::jobs::run_job(&st, job, late) else {
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
            let profiles_next = crate::functions::profiles::run_due(&st);
            st.archive
                .jobs()
                .ok()?
                .iter()
                .filter(|j| j.enabled)
                .filter_map(|j| j.next_run)
                .chain(profiles_next)
                .min()
        })
        .await
        .ok()
        .flatten();
        let wait = match next {
            Some(t) => (t - Timestamp::now().0).clamp(0, 10) as u64,
            None => 10,
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait * 1000 + 50)) => {}
            _ = stop.changed() => return,
        }
    }
}
