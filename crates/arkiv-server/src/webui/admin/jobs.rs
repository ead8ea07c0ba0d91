//! Jobs in web administration (F5, manual §7.2): each job with its action, owner and schedule
//! in its time zone; creating one, editing its schedule and zone, renaming, enabling and
//! disabling, running it now, cancelling a run, deleting it, and the results of the last
//! 30 days. Every form is the Administration API function of the same name.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;

use axum::response::Response;
use serde_json::Value;

use super::{Admin, Reads, Row, invoke, last_days, one, posted, s, unknown_action};
use crate::AppState;
use crate::webui::i18n::{Text, fill};
// The templates' `|fill` filter.
use crate::webui::i18n::filters;
use crate::webui::{Page, html};

/// A job and its schedule, split into the form's fields.
pub struct JobRow {
    pub id: String,
    pub name: String,
    pub action: String,
    pub owner: String,
    pub zone: String,
    pub schedule: String,
    pub enabled: bool,
    pub last: String,
    pub next: String,
    pub form: ScheduleForm,
}

/// The schedule form's fields (the kind picks which of them count).
#[derive(Default)]
pub struct ScheduleForm {
    pub kind: String,
    pub date: String,
    pub interval: String,
    pub time: String,
    pub day_of_week: String,
    pub day_of_month: String,
}

impl ScheduleForm {
    fn of(v: &Value) -> ScheduleForm {
        let f = ScheduleForm {
            date: s(v, "date"),
            interval: s(v, "interval"),
            time: s(v, "time"),
            day_of_week: s(v, "dayOfWeek"),
            day_of_month: s(v, "dayOfMonth"),
            ..Default::default()
        };
        let kind = if !f.date.is_empty() {
            "once"
        } else if !f.interval.is_empty() {
            "interval"
        } else if !f.day_of_month.is_empty() {
            "monthly"
        } else if !f.day_of_week.is_empty() {
            "weekly"
        } else if !f.time.is_empty() {
            "daily"
        } else {
            "manual"
        };
        ScheduleForm {
            kind: kind.into(),
            ..f
        }
    }

    /// In words, for the list.
    fn describe(&self, t: &'static Text) -> String {
        let weekday = weekday_label(t, &self.day_of_week);
        let (text, values): (&str, &[(&str, &str)]) = match self.kind.as_str() {
            "once" => (t.runs_once_at, &[("date", &self.date.replace('T', " "))]),
            "interval" => (t.runs_every_minutes, &[("count", &self.interval)]),
            "daily" => (t.runs_daily, &[("time", &self.time)]),
            "weekly" => (t.runs_weekly, &[("weekday", weekday), ("time", &self.time)]),
            "monthly" if self.day_of_week.is_empty() => (
                t.runs_monthly_day,
                &[("day", &self.day_of_month), ("time", &self.time)],
            ),
            "monthly" => (
                t.runs_monthly_weekday,
                &[
                    ("day", &self.day_of_month),
                    ("weekday", weekday),
                    ("time", &self.time),
                ],
            ),
            _ => (t.kind_manual, &[]),
        };
        fill(text, values)
    }

    /// The submitted form, as `CreateJob`'s and `SetJobSchedule`'s arguments.
    fn args(t: &Text, form: &[(String, String)]) -> Result<Vec<(&'static str, String)>, String> {
        let f = |k: &str| one(form, k).trim().to_string();
        let need = |k: &str, refusal: &str| {
            let v = f(k);
            if v.is_empty() {
                Err(refusal.to_string())
            } else {
                Ok(v)
            }
        };
        Ok(match f("kind").as_str() {
            "manual" | "" => vec![],
            "once" => {
                // A datetime-local field sends 2026-12-24T18:00; the API wants the seconds.
                let mut d = need("date", t.schedule_needs_date)?;
                if d.len() == 16 {
                    d.push_str(":00");
                }
                vec![("date", d)]
            }
            "interval" => vec![("interval", need("interval", t.schedule_needs_interval)?)],
            "daily" => vec![("time", need("time", t.schedule_needs_time)?)],
            "weekly" => vec![
                ("time", need("time", t.schedule_needs_time)?),
                (
                    "dayOfWeek",
                    need("dayOfWeek", t.schedule_needs_day_of_week)?,
                ),
            ],
            "monthly" => {
                let mut v = vec![
                    ("time", need("time", t.schedule_needs_time)?),
                    (
                        "dayOfMonth",
                        need("dayOfMonth", t.schedule_needs_day_of_month)?,
                    ),
                ];
                if !f("dayOfWeek").is_empty() {
                    v.push(("dayOfWeek", f("dayOfWeek")));
                }
                v
            }
            other => return Err(fill(t.schedule_unknown_kind, &[("kind", other)])),
        })
    }
}

/// The kinds of schedule (the form's `kind`), with their labels.
fn kinds(t: &'static Text) -> Vec<(&'static str, &'static str)> {
    vec![
        ("manual", t.kind_manual),
        ("once", t.kind_once),
        ("interval", t.kind_interval),
        ("daily", t.kind_daily),
        ("weekly", t.kind_weekly),
        ("monthly", t.kind_monthly),
    ]
}

/// The days of the week as the API names them, with their labels.
fn weekdays(t: &'static Text) -> [(&'static str, &'static str); 7] {
    [
        ("Monday", t.monday),
        ("Tuesday", t.tuesday),
        ("Wednesday", t.wednesday),
        ("Thursday", t.thursday),
        ("Friday", t.friday),
        ("Saturday", t.saturday),
        ("Sunday", t.sunday),
    ]
}

/// The label of a day of the week the API names (an unknown name as it is).
fn weekday_label<'a>(t: &'static Text, day: &'a str) -> &'a str {
    weekdays(t)
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(day))
        .map_or(day, |(_, label)| label)
}

#[derive(Template)]
#[template(path = "admin_jobs.html")]
struct Jobs {
    t: &'static Text,
    bar: crate::webui::pages::Bar,
    jobs: Vec<JobRow>,
    results: Vec<Row>,
    zones: Vec<(String, String)>,
    kinds: Vec<(&'static str, &'static str)>,
    weekdays: [(&'static str, &'static str); 7],
    intervals: &'static [u32],
    blank: ScheduleForm,
    error: Option<String>,
    notice: Option<String>,
}

async fn page(
    state: &Arc<AppState>,
    p: &Page,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let mut reads = Reads::new(state, p, error);
    let jobs = reads.list("GetJobs", &[]).await;
    let zones = reads.list("GetTimeZones", &[]).await;
    let (from, to) = last_days(30);
    let results = reads
        .list(
            "GetJobResults",
            &[
                ("fromIncluding", &from),
                ("toExcluding", &to),
                ("timeZoneId", "UTC"),
            ],
        )
        .await;
    let status = reads.status();
    let time = |v: String| v.replace('T', " ");
    html(
        status,
        Jobs {
            t: p.t,
            bar: p.bar("", None),
            jobs: jobs
                .iter()
                .map(|j| {
                    let form = ScheduleForm::of(&j["schedule"]);
                    JobRow {
                        id: s(j, "id"),
                        name: s(j, "name"),
                        action: s(j, "action"),
                        owner: s(j, "owner"),
                        zone: s(j, "timeZoneId"),
                        schedule: form.describe(p.t),
                        enabled: j["enabled"].as_bool().unwrap_or(false),
                        last: time(s(j, "lastRun")),
                        next: time(s(j, "nextRun")),
                        form,
                    }
                })
                .collect(),
            results: results
                .iter()
                .rev()
                .take(50)
                .map(|r| {
                    Row(vec![
                        s(r, "jobName"),
                        time(s(r, "startTime")),
                        time(s(r, "endTime")),
                        s(r, "result"),
                        s(r, "logOutput"),
                    ])
                })
                .collect(),
            zones: zones
                .iter()
                .map(|z| (s(z, "id"), s(z, "displayName")))
                .collect(),
            kinds: kinds(p.t),
            weekdays: weekdays(p.t),
            intervals: arkiv_archive::jobs::INTERVALS,
            blank: ScheduleForm {
                kind: "daily".into(),
                time: "02:00".into(),
                ..Default::default()
            },
            error: reads.error,
            notice,
        }
        .render(),
    )
}

pub(in crate::webui) async fn jobs(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
) -> Response {
    page(&state, &p, None, None).await
}

/// One form of the jobs page; `action` says which.
pub(in crate::webui) async fn job_action(
    State(state): State<Arc<AppState>>,
    Admin(p): Admin,
    body: axum::body::Bytes,
) -> Response {
    let form = match posted(&p, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let t = p.t;
    let f = |k: &str| one(&form, k).trim();
    let id = f("id");
    let call =
        async |function: &str, args: &[(&str, &str)]| invoke(&state, &p, function, args).await;
    let with_schedule = |mut base: Vec<(&'static str, String)>| {
        ScheduleForm::args(t, &form).map(|extra| {
            base.extend(extra);
            base
        })
    };
    let r: Result<String, String> = match f("action") {
        "create" => match with_schedule(vec![
            ("name", f("name").to_string()),
            ("action", f("jobAction").to_string()),
            ("timeZoneId", f("timeZoneId").to_string()),
        ]) {
            Ok(args) => {
                let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
                call("CreateJob", &args).await.map(|j| {
                    fill(
                        t.job_created,
                        &[("name", &s(&j, "name")), ("id", &s(&j, "id"))],
                    )
                })
            }
            Err(e) => Err(e),
        },
        "schedule" => match with_schedule(vec![
            ("id", id.to_string()),
            ("timeZoneId", f("timeZoneId").to_string()),
        ]) {
            Ok(args) => {
                let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
                call("SetJobSchedule", &args).await.map(|j| {
                    let next = match s(&j, "nextRun") {
                        n if n.is_empty() => t.next_run_none.to_string(),
                        n => n.replace('T', " "),
                    };
                    fill(t.job_schedule_saved, &[("id", id), ("next", &next)])
                })
            }
            Err(e) => Err(e),
        },
        "rename" => call("RenameJob", &[("id", id), ("name", f("name"))])
            .await
            .map(|_| fill(t.job_renamed, &[("id", id), ("name", f("name"))])),
        "enable" | "disable" => {
            let on = f("action") == "enable";
            call(
                "SetJobEnabled",
                &[("id", id), ("enabled", if on { "true" } else { "false" })],
            )
            .await
            .map(|_| {
                fill(
                    if on { t.job_enabled } else { t.job_disabled },
                    &[("id", id)],
                )
            })
        }
        "run" => call("RunJobAsync", &[("id", id)])
            .await
            .map(|_| fill(t.job_started, &[("id", id)])),
        "cancel" => call("CancelJobAsync", &[("id", id)])
            .await
            .map(|_| fill(t.job_cancelling, &[("id", id)])),
        "delete" => call("DeleteJob", &[("id", id)])
            .await
            .map(|_| fill(t.job_deleted, &[("id", id)])),
        other => Err(unknown_action(t, other)),
    };
    match r {
        Ok(notice) => page(&state, &p, None, Some(notice)).await,
        Err(e) => page(&state, &p, Some(e), None).await,
    }
}
