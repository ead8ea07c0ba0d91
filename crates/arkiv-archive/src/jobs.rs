//! Jobs (manual §5.20, API `CreateJob`): Administration API commands run on a schedule, in a
//! named time zone, with a history of results. The master database keeps them sealed.
//!
//! Schedules: once at a date and time; every 5..720 minutes; daily at a time; weekly on a
//! day; monthly on a day, the last day, or the N-th (or last) weekday. Times are wall-clock
//! times of the job's zone: a daily 02:30 job on the day clocks jump from 02:00 to 03:00 runs
//! at 03:30 (the time read in the offset before the gap), and on the day they fall back it
//! runs once, at the first 02:30. Interval jobs count real minutes, unaffected by DST.

use arkiv_types::{Timestamp, UserId};
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::{ArchiveError, Result, invalid};
use crate::master::Archive;

pub(crate) const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
/// (job id, start seconds, sequence) → sealed result.
pub(crate) const JOB_RESULTS: TableDefinition<(u64, i64, u64), &[u8]> =
    TableDefinition::new("job_results");

/// The intervals the manual offers, in minutes.
pub const INTERVALS: &[u32] = &[5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MonthDay {
    Day(u8),
    Last,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Schedule {
    /// Once, at this wall-clock time (`YYYY-MM-DDThh:mm:ss`).
    Once {
        at: String,
    },
    /// Every N minutes.
    Interval {
        minutes: u32,
    },
    Daily {
        time: String,
    },
    Weekly {
        day: String,
        time: String,
    },
    /// On a day of the month (or the last); with a weekday, the N-th (or last) such weekday.
    Monthly {
        day: MonthDay,
        weekday: Option<String>,
        time: String,
    },
}

fn parse_time(s: &str) -> Result<Time> {
    s.parse::<Time>().map_err(|_| {
        invalid(
            "time",
            format!("'{s}' is not a time such as 02:30 or 02:30:00"),
        )
    })
}

fn parse_weekday(s: &str) -> Result<Weekday> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "sunday" => Weekday::Sunday,
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        _ => {
            return Err(invalid(
                "dayOfWeek",
                format!("'{s}' is not a day such as Monday"),
            ));
        }
    })
}

/// The time zone of a job: an IANA id, `UTC`, or `$Local` (the system's).
pub fn time_zone(id: &str) -> Result<TimeZone> {
    if id == "$Local" {
        return Ok(TimeZone::system());
    }
    TimeZone::get(id).map_err(|_| {
        invalid(
            "timeZoneId",
            format!("unknown time zone '{id}' (GetTimeZones lists them)"),
        )
    })
}

impl Schedule {
    /// From the API's arguments (`date` | `interval` | `time` [+ `dayOfWeek` | `dayOfMonth`]).
    pub fn from_args(
        date: Option<&str>,
        interval: Option<i64>,
        time: Option<&str>,
        day_of_week: Option<&str>,
        day_of_month: Option<&str>,
    ) -> Result<Schedule> {
        let s = match (date, interval, time) {
            (Some(d), None, None) if day_of_week.is_none() && day_of_month.is_none() => {
                d.parse::<DateTime>().map_err(|_| {
                    invalid(
                        "date",
                        format!("'{d}' is not a date and time such as 2026-12-01T02:30:00"),
                    )
                })?;
                Schedule::Once { at: d.to_string() }
            }
            (None, Some(n), None) if day_of_week.is_none() && day_of_month.is_none() => {
                let m = u32::try_from(n).unwrap_or(0);
                if !INTERVALS.contains(&m) {
                    return Err(invalid(
                        "interval",
                        format!("{n} minutes; choose one of {INTERVALS:?}"),
                    ));
                }
                Schedule::Interval { minutes: m }
            }
            (None, None, Some(t)) => {
                parse_time(t)?;
                match (day_of_week, day_of_month) {
                    (None, None) => Schedule::Daily { time: t.into() },
                    (Some(w), None) => {
                        parse_weekday(w)?;
                        Schedule::Weekly {
                            day: w.into(),
                            time: t.into(),
                        }
                    }
                    (w, Some(m)) => {
                        if let Some(w) = w {
                            parse_weekday(w)?;
                        }
                        let day = if m.eq_ignore_ascii_case("last") {
                            MonthDay::Last
                        } else {
                            match m.parse::<u8>() {
                                Ok(n @ 1..=31) if w.is_none() || n <= 5 => MonthDay::Day(n),
                                _ => {
                                    return Err(invalid(
                                        "dayOfMonth",
                                        format!(
                                            "'{m}': 1 to 31 or Last (1 to 5 or Last with dayOfWeek)"
                                        ),
                                    ));
                                }
                            }
                        };
                        Schedule::Monthly {
                            day,
                            weekday: w.map(str::to_string),
                            time: t.into(),
                        }
                    }
                }
            }
            _ => {
                return Err(invalid(
                    "schedule",
                    "give exactly one of: date; interval; time (with dayOfWeek or dayOfMonth, or alone for daily)",
                ));
            }
        };
        Ok(s)
    }

    /// The first run strictly after `after`, in `tz`; `None` when there is none (a past
    /// once-only job).
    pub fn next_after(&self, tz: &TimeZone, after: jiff::Timestamp) -> Option<jiff::Timestamp> {
        let at = |d: Date, t: Time| {
            tz.to_ambiguous_zoned_datetime(d.to_datetime(t))
                .compatible()
                .ok()
        };
        let today = after.to_zoned_datetime(tz.clone()).date();
        match self {
            Schedule::Once { at: s } => {
                let ts = tz
                    .to_ambiguous_zoned_datetime(s.parse::<DateTime>().ok()?)
                    .compatible()
                    .ok()?;
                (ts.timestamp() > after).then(|| ts.timestamp())
            }
            Schedule::Interval { minutes } => {
                Some(after + jiff::SignedDuration::from_secs(i64::from(*minutes) * 60))
            }
            Schedule::Daily { time } => {
                let t = parse_time(time).ok()?;
                (0..3)
                    .filter_map(|i| at(today.checked_add(jiff::Span::new().days(i)).ok()?, t))
                    .map(|z| z.timestamp())
                    .find(|ts| *ts > after)
            }
            Schedule::Weekly { day, time } => {
                let (w, t) = (parse_weekday(day).ok()?, parse_time(time).ok()?);
                (0..15)
                    .filter_map(|i| today.checked_add(jiff::Span::new().days(i)).ok())
                    .filter(|d| d.weekday() == w)
                    .filter_map(|d| at(d, t))
                    .map(|z| z.timestamp())
                    .find(|ts| *ts > after)
            }
            Schedule::Monthly { day, weekday, time } => {
                let t = parse_time(time).ok()?;
                let w = match weekday {
                    Some(w) => Some(parse_weekday(w).ok()?),
                    None => None,
                };
                let first = today.first_of_month();
                (0..14)
                    .filter_map(|i| first.checked_add(jiff::Span::new().months(i)).ok())
                    .filter_map(|m| match (day, w) {
                        (MonthDay::Day(n), None) => {
                            // A month without that day (the 31st in April) is skipped.
                            Date::new(m.year(), m.month(), *n as i8).ok()
                        }
                        (MonthDay::Last, None) => Some(m.last_of_month()),
                        (MonthDay::Day(n), Some(w)) => m.nth_weekday_of_month(*n as i8, w).ok(),
                        (MonthDay::Last, Some(w)) => m.nth_weekday_of_month(-1, w).ok(),
                    })
                    .filter_map(|d| at(d, t))
                    .map(|z| z.timestamp())
                    .find(|ts| *ts > after)
            }
        }
    }
}

pub use crate::action::{parse_action, render_action};
pub use crate::audit::mask_action;

/// A job as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    pub name: String,
    /// An Administration API command, e.g. `VerifyStores --includeIndexes=false`.
    pub action: String,
    /// The owner's name when the job was created (shown when the owner is gone).
    pub owner: String,
    pub time_zone: String,
    pub schedule: Option<Schedule>,
    pub enabled: bool,
    pub created: i64,
    pub last_run: Option<i64>,
    /// When the scheduler runs it next (seconds since the epoch).
    pub next_run: Option<i64>,
    /// The owner, by id: the job runs as this user, whatever their name is now. Jobs written
    /// before it was kept get it from their owner's name when read.
    pub owner_id: UserId,
}

/// A job as written before its owner was kept by id.
#[derive(Deserialize)]
struct JobV1 {
    id: u64,
    name: String,
    action: String,
    owner: String,
    time_zone: String,
    schedule: Option<Schedule>,
    enabled: bool,
    created: i64,
    last_run: Option<i64>,
    next_run: Option<i64>,
}

/// One finished run of a job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobResult {
    pub job_id: u64,
    pub job_name: String,
    pub started: i64,
    pub finished: i64,
    /// `succeeded`, `failed` or `missed` (the server was down at the scheduled time).
    pub status: String,
    pub log: String,
}

impl Job {
    /// Computes `next_run` from `after` (normally now).
    pub fn plan(&mut self, after: i64) {
        self.next_run = match (&self.schedule, self.enabled) {
            (Some(s), true) => time_zone(&self.time_zone).ok().and_then(|tz| {
                let a = jiff::Timestamp::from_second(after).ok()?;
                s.next_after(&tz, a).map(|t| t.as_second())
            }),
            _ => None,
        };
    }
}

impl Archive {
    pub fn jobs(&self) -> Result<Vec<Job>> {
        let t = self.read_txn()?;
        let Some(table) = self.optional_table(&t, JOBS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for r in table.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            // Newest layout first: an older record is shorter, so it fails the newer decoder.
            let job = match self.open_sealed::<Job>("jobs", k.value(), v.value()) {
                Ok(j) => j,
                Err(e) => {
                    let old = self
                        .open_sealed::<JobV1>("jobs", k.value(), v.value())
                        .map_err(|_| e)?;
                    let owner_id = self.user(&old.owner).map(|u| u.id).unwrap_or(UserId(0));
                    Job {
                        id: old.id,
                        name: old.name,
                        action: old.action,
                        owner: old.owner,
                        time_zone: old.time_zone,
                        schedule: old.schedule,
                        enabled: old.enabled,
                        created: old.created,
                        last_run: old.last_run,
                        next_run: old.next_run,
                        owner_id,
                    }
                }
            };
            out.push(job);
        }
        Ok(out)
    }

    pub fn job(&self, id: u64) -> Result<Job> {
        self.jobs()?
            .into_iter()
            .find(|j| j.id == id)
            .ok_or_else(|| invalid("job", format!("there is no job #{id}")))
    }

    fn put_job(&self, txn: &redb::WriteTransaction, job: &Job) -> Result<()> {
        let sealed = self.seal("jobs", job.id, job)?;
        txn.open_table(JOBS)
            .map_err(|e| self.dberr(e))?
            .insert(job.id, sealed.as_slice())
            .map_err(|e| self.dberr(e))?;
        Ok(())
    }

    /// Creates a job (its id is assigned) and plans its first run.
    pub fn create_job(&self, mut job: Job) -> Result<Job> {
        time_zone(&job.time_zone)?;
        let txn = self.write_txn()?;
        job.id = self.next_id(&txn, "next_job")?;
        job.created = Timestamp::now().0;
        job.plan(job.created);
        self.put_job(&txn, &job)?;
        txn.commit().map_err(|e| self.dberr(e))?;
        Ok(job)
    }

    /// Changes a job and re-plans its next run.
    pub fn update_job(&self, id: u64, change: impl FnOnce(&mut Job) -> Result<()>) -> Result<Job> {
        let mut job = self.job(id)?;
        change(&mut job)?;
        time_zone(&job.time_zone)?;
        job.plan(Timestamp::now().0);
        let txn = self.write_txn()?;
        self.put_job(&txn, &job)?;
        txn.commit().map_err(|e| self.dberr(e))?;
        Ok(job)
    }

    pub fn delete_job(&self, id: u64) -> Result<()> {
        self.job(id)?;
        let txn = self.write_txn()?;
        txn.open_table(JOBS)
            .map_err(|e| self.dberr(e))?
            .remove(id)
            .map_err(|e| self.dberr(e))?;
        txn.commit().map_err(|e| self.dberr(e))
    }

    /// Records a finished run and plans the job's next one.
    pub fn record_job_run(&self, result: &JobResult) -> Result<()> {
        let txn = self.write_txn()?;
        let seq = self.next_id(&txn, "next_job_result")?;
        let sealed = self.seal("job_results", seq, result)?;
        txn.open_table(JOB_RESULTS)
            .map_err(|e| self.dberr(e))?
            .insert((result.job_id, result.started, seq), sealed.as_slice())
            .map_err(|e| self.dberr(e))?;
        if let Ok(mut job) = self.job(result.job_id) {
            job.last_run = Some(result.started);
            if matches!(job.schedule, Some(Schedule::Once { .. })) && result.status != "missed" {
                job.enabled = false;
            }
            job.plan(result.finished.max(Timestamp::now().0));
            self.put_job(&txn, &job)?;
        }
        txn.commit().map_err(|e| self.dberr(e))
    }

    /// Finished runs that started in [from, to), of one job or all, oldest first.
    pub fn job_results(&self, from: i64, to: i64, job: Option<u64>) -> Result<Vec<JobResult>> {
        let t = self.read_txn()?;
        let Some(table) = self.optional_table(&t, JOB_RESULTS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for r in table.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let (id, started, seq) = k.value();
            if job.is_some_and(|j| j != id) || started < from || started >= to {
                continue;
            }
            out.push(self.open_sealed::<JobResult>("job_results", seq, v.value())?);
        }
        out.sort_by_key(|r| r.started);
        Ok(out)
    }
}

impl From<jiff::Error> for ArchiveError {
    fn from(e: jiff::Error) -> Self {
        invalid("time", e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str, tz: &str) -> jiff::Timestamp {
        time_zone(tz)
            .unwrap()
            .to_ambiguous_zoned_datetime(s.parse::<DateTime>().unwrap())
            .compatible()
            .unwrap()
            .timestamp()
    }

    fn local(t: jiff::Timestamp, tz: &str) -> String {
        t.to_zoned_datetime(time_zone(tz).unwrap())
            .strftime("%Y-%m-%dT%H:%M%:z")
            .to_string()
    }

    fn next(s: &Schedule, from: &str, tz: &str) -> String {
        local(
            s.next_after(&time_zone(tz).unwrap(), ts(from, tz)).unwrap(),
            tz,
        )
    }

    #[test]
    fn daily_across_daylight_saving_changes() {
        let daily = Schedule::from_args(None, None, Some("02:30"), None, None).unwrap();
        let b = "Europe/Berlin";
        assert_eq!(
            next(&daily, "2026-03-28T03:00", b),
            "2026-03-29T03:30+02:00",
            "02:30 does not exist that day"
        );
        assert_eq!(
            next(&daily, "2026-03-29T04:00", b),
            "2026-03-30T02:30+02:00"
        );
        assert_eq!(
            next(&daily, "2026-10-24T03:00", b),
            "2026-10-25T02:30+02:00",
            "the first 02:30"
        );
        let after_first = ts("2026-10-25T02:30", b) + jiff::SignedDuration::from_secs(60);
        let n = daily
            .next_after(&time_zone(b).unwrap(), after_first)
            .unwrap();
        assert_eq!(
            local(n, b),
            "2026-10-26T02:30+01:00",
            "once that day, not twice"
        );
        let nine = Schedule::from_args(None, None, Some("09:00"), None, None).unwrap();
        assert_eq!(next(&nine, "2026-03-28T10:00", b), "2026-03-29T09:00+02:00");
        assert_eq!(
            next(&nine, "2026-03-28T10:00", "America/New_York"),
            "2026-03-29T09:00-04:00"
        );
    }

    #[test]
    fn weekly_monthly_once_interval() {
        let z = "UTC";
        let w = Schedule::from_args(None, None, Some("22:00"), Some("Friday"), None).unwrap();
        assert_eq!(next(&w, "2026-11-26T12:00", z), "2026-11-27T22:00+00:00");
        let last = Schedule::from_args(None, None, Some("01:00"), None, Some("Last")).unwrap();
        assert_eq!(next(&last, "2026-02-10T00:00", z), "2026-02-28T01:00+00:00");
        let d31 = Schedule::from_args(None, None, Some("01:00"), None, Some("31")).unwrap();
        assert_eq!(
            next(&d31, "2026-04-01T00:00", z),
            "2026-05-31T01:00+00:00",
            "April has no 31st"
        );
        let first_monday =
            Schedule::from_args(None, None, Some("08:00"), Some("Monday"), Some("1")).unwrap();
        assert_eq!(
            next(&first_monday, "2026-11-03T00:00", z),
            "2026-12-07T08:00+00:00"
        );
        let once =
            Schedule::from_args(Some("2026-12-24T18:00:00"), None, None, None, None).unwrap();
        assert_eq!(next(&once, "2026-11-26T00:00", z), "2026-12-24T18:00+00:00");
        assert!(
            once.next_after(&time_zone(z).unwrap(), ts("2026-12-25T00:00", z))
                .is_none()
        );
        let every = Schedule::from_args(None, Some(15), None, None, None).unwrap();
        assert_eq!(
            next(&every, "2026-03-29T01:50", "Europe/Berlin"),
            "2026-03-29T03:05+02:00",
            "15 real minutes"
        );
    }

    #[test]
    fn bad_schedules_are_refused() {
        for (d, i, t, w, m) in [
            (None, Some(7), None, None, None),
            (None, None, Some("25:00"), None, None),
            (None, None, Some("02:00"), Some("Funday"), None),
            (None, None, Some("02:00"), None, Some("32")),
            (None, None, Some("02:00"), Some("Monday"), Some("6")),
            (Some("tomorrow"), None, None, None, None),
            (None, None, None, None, None),
            (Some("2026-12-24T18:00:00"), Some(5), None, None, None),
        ] {
            assert!(
                Schedule::from_args(d, i, t, w, m).is_err(),
                "{d:?} {i:?} {t:?} {w:?} {m:?}"
            );
        }
        assert!(time_zone("Mars/Olympus").is_err());
        assert!(time_zone("$Local").is_ok());
    }
}
