//! Jobs in web administration (F5, manual §7.2): each job with its action, owner and schedule
//! in its time zone; creating one, editing its schedule and zone, renaming, enabling and
//! disabling, running it now, cancelling a run, deleting it, and the results of the last
//! 30 days. Every form is the Administration API function of the same name.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::{Admin, Row, invoke, one, pairs, s};
use crate::AppState;
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
    fn describe(&self) -> String {
        match self.kind.as_str() {
            "once" => format!("once, at {}", self.date.replace('T', " ")),
            "interval" => format!("every {} minutes", self.interval),
            "daily" => format!("daily at {}", self.time),
            "weekly" => format!("every {} at {}", self.day_of_week, self.time),
            "monthly" if self.day_of_week.is_empty() => {
                format!("monthly on day {} at {}", self.day_of_month, self.time)
            }
            "monthly" => format!(
                "monthly on {} {} at {}",
                self.day_of_month, self.day_of_week, self.time
            ),
            _ => "only when run by hand".into(),
        }
    }

    /// The submitted form, as `CreateJob`'s and `SetJobSchedule`'s arguments.
    fn args(form: &[(String, String)]) -> Result<Vec<(&'static str, String)>, String> {
        let f = |k: &str| one(form, k).trim().to_string();
        let need = |k: &str, what: &str| {
            let v = f(k);
            if v.is_empty() {
                Err(format!("a {} schedule needs {what}", f("kind")))
            } else {
                Ok(v)
            }
        };
        Ok(match f("kind").as_str() {
            "manual" | "" => vec![],
            "once" => {
                // A datetime-local field sends 2026-12-24T18:00; the API wants the seconds.
                let mut d = need("date", "a date and time")?;
                if d.len() == 16 {
                    d.push_str(":00");
                }
                vec![("date", d)]
            }
            "interval" => vec![("interval", need("interval", "an interval")?)],
            "daily" => vec![("time", need("time", "a time")?)],
            "weekly" => vec![
                ("time", need("time", "a time")?),
                ("dayOfWeek", need("dayOfWeek", "a day of the week")?),
            ],
            "monthly" => {
                let mut v = vec![
                    ("time", need("time", "a time")?),
                    ("dayOfMonth", need("dayOfMonth", "a day of the month")?),
                ];
                if !f("dayOfWeek").is_empty() {
                    v.push(("dayOfWeek", f("dayOfWeek")));
                }
                v
            }
            other => return Err(format!("unknown kind of schedule '{other}'")),
        })
    }
}

pub const KINDS: &[(&str, &str)] = &[
    ("manual", "only when run by hand"),
    ("once", "once"),
    ("interval", "every few minutes"),
    ("daily", "daily"),
    ("weekly", "weekly"),
    ("monthly", "monthly"),
];

pub const WEEKDAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[derive(Template)]
#[template(path = "admin_jobs.html")]
struct Jobs {
    bar: crate::webui::pages::Bar,
    jobs: Vec<JobRow>,
    results: Vec<Row>,
    zones: Vec<(String, String)>,
    kinds: &'static [(&'static str, &'static str)],
    weekdays: &'static [&'static str],
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
    let mut error = error;
    let mut list = async |f: &str, args: &[(&str, &str)]| match invoke(state, p, f, args).await {
        Ok(v) => v.as_array().cloned().unwrap_or_default(),
        Err(e) => {
            error.get_or_insert(e);
            Vec::new()
        }
    };
    let jobs = list("GetJobs", &[]).await;
    let zones = list("GetTimeZones", &[]).await;
    let now = jiff::Timestamp::now();
    let fmt = |t: jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let (from, to) = (
        fmt(now - jiff::SignedDuration::from_hours(24 * 30)),
        fmt(now + jiff::SignedDuration::from_hours(1)),
    );
    let results = list(
        "GetJobResults",
        &[
            ("fromIncluding", &from),
            ("toExcluding", &to),
            ("timeZoneId", "UTC"),
        ],
    )
    .await;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let time = |v: String| v.replace('T', " ");
    html(
        status,
        Jobs {
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
                        schedule: form.describe(),
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
            kinds: KINDS,
            weekdays: WEEKDAYS,
            intervals: arkiv_archive::jobs::INTERVALS,
            blank: ScheduleForm {
                kind: "daily".into(),
                time: "02:00".into(),
                ..Default::default()
            },
            error,
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
    let form = pairs(&body);
    if let Some(r) = p.refuse_csrf(Some(one(&form, "csrf"))) {
        return r;
    }
    let f = |k: &str| one(&form, k).trim();
    let id = f("id");
    let call =
        async |function: &str, args: &[(&str, &str)]| invoke(&state, &p, function, args).await;
    let with_schedule = |mut base: Vec<(&'static str, String)>| {
        ScheduleForm::args(&form).map(|extra| {
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
                call("CreateJob", &args)
                    .await
                    .map(|j| format!("Job '{}' was created (#{}).", s(&j, "name"), s(&j, "id")))
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
                    format!(
                        "The schedule of job #{id} was saved; next run: {}.",
                        match s(&j, "nextRun") {
                            n if n.is_empty() => "none".to_string(),
                            n => n.replace('T', " "),
                        }
                    )
                })
            }
            Err(e) => Err(e),
        },
        "rename" => call("RenameJob", &[("id", id), ("name", f("name"))])
            .await
            .map(|_| format!("Job #{id} was renamed to '{}'.", f("name"))),
        "enable" | "disable" => {
            let on = f("action") == "enable";
            call(
                "SetJobEnabled",
                &[("id", id), ("enabled", if on { "true" } else { "false" })],
            )
            .await
            .map(|_| format!("Job #{id} is {}.", if on { "enabled" } else { "disabled" }))
        }
        "run" => call("RunJobAsync", &[("id", id)])
            .await
            .map(|_| format!("Job #{id} was started; its result appears below when it ends.")),
        "cancel" => call("CancelJobAsync", &[("id", id)])
            .await
            .map(|_| format!("Job #{id} is being cancelled.")),
        "delete" => call("DeleteJob", &[("id", id)])
            .await
            .map(|_| format!("Job #{id} was deleted.")),
        other => Err(format!("unknown action '{other}'")),
    };
    match r {
        Ok(notice) => page(&state, &p, None, Some(notice)).await,
        Err(e) => page(&state, &p, Some(e), None).await,
    }
}
