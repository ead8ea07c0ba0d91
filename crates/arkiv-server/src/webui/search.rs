//! Searching in Web Access: the results page with the folder tree, the advanced search form
//! (manual §3.2 "Search E-mail": the same `arkiv_archive::advanced::Criteria` the API and CLI
//! use), and saved searches ("Create Search Folder"). Every search is one URL: its
//! parameters are what [`Params`] reads and writes, so results, paging, sorting, the form
//! and a saved search all agree.

use std::sync::Arc;

use arkiv_archive::advanced::{Criteria, SearchIn};
use arkiv_archive::search::{SearchQuery, SortBy};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::i18n::{Text, fill};
use super::pages::{self, Column, FolderRow, Hit};
use super::{PAGE_SIZE, Page, enc, html, human, see_other, short_date};
use crate::AppState;
use crate::web::{WebError, blocking};

/// A search as URL parameters.
#[derive(Clone, Debug, Default)]
pub(super) struct Params {
    pub text: String,
    pub folder: Option<String>,
    pub no_subfolders: bool,
    pub sort: String,
    pub ascending: bool,
    pub offset: usize,
    pub criteria: Criteria,
}

const SEARCH_IN: [(&str, SearchIn); 5] = [
    ("subject", SearchIn::Subject),
    ("senderRecipient", SearchIn::SenderRecipient),
    ("body", SearchIn::Body),
    ("attachmentNames", SearchIn::AttachmentNames),
    ("attachmentContents", SearchIn::AttachmentContents),
];

/// The form's label of a part of a message to search in.
fn search_in_label(t: &'static Text, s: SearchIn) -> &'static str {
    match s {
        SearchIn::Subject => t.subject,
        SearchIn::SenderRecipient => t.search_in_sender_recipient,
        SearchIn::Body => t.search_in_body,
        SearchIn::AttachmentNames => t.search_in_attachment_names,
        SearchIn::AttachmentContents => t.search_in_attachment_contents,
    }
}

fn nonempty(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
        let mut p = Params {
            sort: "date".into(),
            ..Default::default()
        };
        for (k, v) in pairs {
            match k.as_str() {
                "q" => p.text = v,
                "folder" => p.folder = nonempty(&v),
                "subfolders" => p.no_subfolders = v == "0",
                "sort" if ["date", "from", "subject", "size"].contains(&v.as_str()) => p.sort = v,
                "order" => p.ascending = v == "asc",
                "offset" => p.offset = v.parse::<usize>().unwrap_or(0).min(1_000_000),
                "in" => {
                    if let Some((_, s)) = SEARCH_IN.iter().find(|x| x.0 == v)
                        && !p.criteria.search_in.contains(s)
                    {
                        p.criteria.search_in.push(*s);
                    }
                }
                "from" => p.criteria.from = nonempty(&v),
                "to" => p.criteria.to = nonempty(&v),
                "dateFrom" => p.criteria.date_from = nonempty(&v),
                "dateTo" => p.criteria.date_to = nonempty(&v),
                "archivedFrom" => p.criteria.archived_from = nonempty(&v),
                "archivedTo" => p.criteria.archived_to = nonempty(&v),
                "store" => p.criteria.store = v.parse().ok(),
                "attachments" => {
                    p.criteria.attachments = match v.as_str() {
                        "with" => Some(true),
                        "without" => Some(false),
                        _ => None,
                    }
                }
                "minSize" => p.criteria.min_size = nonempty(&v),
                "maxSize" => p.criteria.max_size = nonempty(&v),
                "priority"
                    if ["low", "normal", "high"].contains(&v.as_str())
                        && !p.criteria.priority.contains(&v) =>
                {
                    p.criteria.priority.push(v);
                }
                _ => {}
            }
        }
        // Every part ticked (the form's default) is no restriction; nor is a choice without
        // a text to look for (the form sends its checkboxes either way).
        if p.criteria.search_in.len() == SEARCH_IN.len() || p.text.trim().is_empty() {
            p.criteria.search_in.clear();
        }
        p
    }

    /// The URL query of this search (without paging and sorting unless asked).
    pub fn query(&self, sort: Option<(&str, bool)>, offset: usize) -> String {
        let mut q: Vec<(String, String)> = vec![("q".into(), self.text.clone())];
        let mut add = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                q.push((k.into(), v.clone()));
            }
        };
        add("folder", &self.folder);
        let c = &self.criteria;
        add("from", &c.from);
        add("to", &c.to);
        add("dateFrom", &c.date_from);
        add("dateTo", &c.date_to);
        add("archivedFrom", &c.archived_from);
        add("archivedTo", &c.archived_to);
        add("minSize", &c.min_size);
        add("maxSize", &c.max_size);
        if self.no_subfolders {
            q.push(("subfolders".into(), "0".into()));
        }
        for s in &c.search_in {
            if let Some((name, _)) = SEARCH_IN.iter().find(|x| x.1 == *s) {
                q.push(("in".into(), (*name).into()));
            }
        }
        if let Some(st) = c.store {
            q.push(("store".into(), st.to_string()));
        }
        match c.attachments {
            Some(true) => q.push(("attachments".into(), "with".into())),
            Some(false) => q.push(("attachments".into(), "without".into())),
            None => {}
        }
        for pr in &c.priority {
            q.push(("priority".into(), pr.clone()));
        }
        if let Some((key, asc)) = sort {
            q.push(("sort".into(), key.into()));
            q.push(("order".into(), if asc { "asc" } else { "desc" }.into()));
        }
        if offset > 0 {
            q.push(("offset".into(), offset.to_string()));
        }
        serde_urlencoded::to_string(&q).unwrap_or_default()
    }

    fn link(&self, sort: &str, asc: bool, offset: usize) -> String {
        format!("/web/search?{}", self.query(Some((sort, asc)), offset))
    }

    fn to_search(&self) -> SearchQuery {
        SearchQuery {
            text: self.text.clone(),
            folder: self.folder.clone(),
            no_subfolders: self.no_subfolders,
            offset: self.offset,
            limit: PAGE_SIZE,
            sort: match self.sort.as_str() {
                "from" => SortBy::From,
                "subject" => SortBy::Subject,
                "size" => SortBy::Size,
                _ => SortBy::Date,
            },
            ascending: self.ascending,
            criteria: self.criteria.clone(),
            ..Default::default()
        }
    }

    fn from_saved(q: &SearchQuery) -> Params {
        Params {
            text: q.text.clone(),
            folder: q.folder.clone(),
            no_subfolders: q.no_subfolders,
            sort: match q.sort {
                SortBy::From => "from",
                SortBy::Subject => "subject",
                SortBy::Size => "size",
                _ => "date",
            }
            .into(),
            ascending: q.ascending,
            offset: 0,
            criteria: q.criteria.clone(),
        }
    }

    fn is_advanced(&self) -> bool {
        !self.criteria.is_empty() || self.no_subfolders
    }
}

fn folder_rows(list: Vec<crate::web::ReadableFolder>, current: Option<&str>) -> Vec<FolderRow> {
    let mut rows: Vec<FolderRow> = list
        .into_iter()
        .map(|f| FolderRow {
            depth: f.path.matches('/').count().min(8),
            name: f.path.rsplit('/').next().unwrap_or(&f.path).to_string(),
            current: current == Some(f.path.as_str()),
            count: f.messages,
            path: f.path,
        })
        .collect();
    rows.sort_by(|a, b| a.path.cmp(&b.path));
    rows
}

fn saved_rows(list: &[arkiv_archive::saved::SavedSearch]) -> Vec<pages::SavedRow> {
    list.iter()
        .map(|s| pages::SavedRow {
            href: format!("/web/saved/{}", enc(&s.name).replace('+', "%20")),
            name: s.name.clone(),
        })
        .collect()
}

pub(super) async fn search(
    State(state): State<Arc<AppState>>,
    p: Page,
    RawQuery(q): RawQuery,
) -> Response {
    let params = Params::parse(q.as_deref());
    let sq = params.to_search();
    let (st, caller) = (state.clone(), p.caller.clone());
    let r = blocking(move || {
        let folders = crate::web::readable_folder_list(&st, &caller)?;
        let saved = st.archive.saved_searches(caller.name()).unwrap_or_default();
        // An empty search box and no folder: the newest mail of everything one may read.
        let page = st.archive.search(&caller, &sq);
        Ok((folders, saved, page))
    })
    .await;
    let (folders, saved, result) = match r {
        Ok(x) => x,
        Err(e) => return p.web_error(e),
    };
    let t = p.t;
    let columns = [
        (t.from, "from"),
        (t.subject, "subject"),
        (t.date, "date"),
        (t.size, "size"),
    ]
    .into_iter()
    .map(|(label, key)| {
        let current = params.sort == key;
        Column {
            label,
            href: params.link(key, current && !params.ascending, 0),
            sorted: current.then_some(if params.ascending {
                "ascending"
            } else {
                "descending"
            }),
        }
    })
    .collect();
    let searching = !params.text.is_empty() || params.is_advanced();
    let heading = match (&params.folder, searching) {
        (Some(f), false) => f.clone(),
        (Some(f), true) => fill(t.search_in_folder, &[("folder", f)]),
        (None, false) => t.newest_messages.into(),
        (None, true) => t.search_results.into(),
    };
    let bar = p.bar(&params.text, params.folder.clone());
    let unavailable: Vec<String> = match &result {
        Ok(page) => page
            .unavailable_stores
            .iter()
            .map(|u| {
                fill(
                    t.store_unavailable,
                    &[("store", &u.name), ("reason", &u.reason)],
                )
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let (status, error, hits, summary, prev, next) = match result {
        Ok(page) => {
            let hits: Vec<Hit> = page
                .hits
                .iter()
                .map(|h| {
                    let hl = h.highlights.as_ref();
                    Hit {
                        id: h.id.clone(),
                        from: pages::segments(&h.from, hl.map_or(&[][..], |x| &x.from)),
                        subject: pages::segments(&h.subject, hl.map_or(&[][..], |x| &x.subject)),
                        date: short_date(h.date.as_deref()),
                        size: human(h.size),
                        attachments: !h.attachments.is_empty(),
                        damaged: h.damaged.is_some(),
                    }
                })
                .collect();
            let shown_to = page.offset + hits.len();
            let first = if hits.is_empty() { 0 } else { page.offset + 1 };
            let summary = fill(
                if page.total == 1 {
                    t.results_summary_one
                } else {
                    t.results_summary
                },
                &[
                    ("first", &first.to_string()),
                    ("last", &shown_to.to_string()),
                    ("total", &page.total.to_string()),
                ],
            );
            let prev = (params.offset > 0).then(|| {
                params.link(
                    &params.sort,
                    params.ascending,
                    params.offset.saturating_sub(PAGE_SIZE),
                )
            });
            let next = (shown_to < page.total)
                .then(|| params.link(&params.sort, params.ascending, shown_to));
            (StatusCode::OK, None, hits, summary, prev, next)
        }
        Err(e) => {
            let e = WebError::from(e);
            (
                e.status,
                Some(e.message),
                Vec::new(),
                String::new(),
                None,
                None,
            )
        }
    };
    html(
        status,
        pages::Search {
            t,
            bar,
            folders: folder_rows(folders, params.folder.as_deref()),
            saved: saved_rows(&saved),
            heading,
            summary,
            error,
            unavailable,
            columns,
            hits,
            prev,
            next,
            this_search: params.query(Some((&params.sort, params.ascending)), 0),
            advanced_href: format!("/web/advanced?{}", params.query(None, 0)),
            searching,
        }
        .render(),
    )
}

/// The advanced search form, filled with the search it refines.
pub(super) async fn advanced(
    State(state): State<Arc<AppState>>,
    p: Page,
    RawQuery(q): RawQuery,
) -> Response {
    let params = Params::parse(q.as_deref());
    let (st, caller) = (state.clone(), p.caller.clone());
    let folders = match blocking(move || crate::web::readable_folder_list(&st, &caller)).await {
        Ok(f) => f,
        Err(e) => return p.web_error(e),
    };
    let c = &params.criteria;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let t = p.t;
    let form = pages::Advanced {
        t,
        bar: p.bar(&params.text, params.folder.clone()),
        text: params.text.clone(),
        search_in: SEARCH_IN
            .iter()
            .map(|(key, s)| pages::Check {
                key,
                label: search_in_label(t, *s),
                checked: c.search_in.is_empty() || c.search_in.contains(s),
            })
            .collect(),
        folders: folder_rows(folders, params.folder.as_deref()),
        subfolders: !params.no_subfolders,
        from: opt(&c.from),
        to: opt(&c.to),
        date_from: opt(&c.date_from),
        date_to: opt(&c.date_to),
        archived_from: opt(&c.archived_from),
        archived_to: opt(&c.archived_to),
        store: c.store.map(|s| s.to_string()).unwrap_or_default(),
        attachments: match c.attachments {
            Some(true) => "with",
            Some(false) => "without",
            None => "any",
        },
        min_size: opt(&c.min_size),
        max_size: opt(&c.max_size),
        priority: ["low", "normal", "high"]
            .iter()
            .map(|k| pages::Check {
                key: k,
                label: match *k {
                    "low" => t.priority_low,
                    "normal" => t.priority_normal,
                    _ => t.priority_high,
                },
                checked: c.priority.iter().any(|x| x == k),
            })
            .collect(),
    };
    html(StatusCode::OK, form.render())
}

fn form_of(body: &[u8]) -> std::collections::HashMap<String, String> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

/// Saves the search the results page shows under a name ("Create Search Folder").
pub(super) async fn save(
    State(state): State<Arc<AppState>>,
    p: Page,
    body: axum::body::Bytes,
) -> Response {
    let form = form_of(&body);
    if let Some(r) = p.refuse_csrf(form.get("csrf").map(String::as_str)) {
        return r;
    }
    let name = form.get("name").cloned().unwrap_or_default();
    let params = Params::parse(form.get("search").map(String::as_str));
    let mut sq = params.to_search();
    sq.offset = 0;
    let (st, user) = (state.clone(), p.caller.name().to_string());
    let n = name.clone();
    match blocking(move || Ok(st.archive.save_search(&user, &n, sq)?)).await {
        Ok(_) => see_other(&format!("/web/saved/{}", enc(&name).replace('+', "%20"))),
        Err(e) => p.web_error(e),
    }
}

/// Runs a saved search: its results page.
pub(super) async fn run_saved(
    State(state): State<Arc<AppState>>,
    p: Page,
    Path(name): Path<String>,
) -> Response {
    let (st, user) = (state.clone(), p.caller.name().to_string());
    match blocking(move || Ok(st.archive.saved_search(&user, &name)?)).await {
        Ok(s) => {
            let params = Params::from_saved(&s.criteria);
            see_other(&format!(
                "/web/search?{}",
                params.query(Some((&params.sort, params.ascending)), 0)
            ))
        }
        Err(e) => p.not_found(&e.message),
    }
}

pub(super) async fn delete_saved(
    State(state): State<Arc<AppState>>,
    p: Page,
    body: axum::body::Bytes,
) -> Response {
    let form = form_of(&body);
    if let Some(r) = p.refuse_csrf(form.get("csrf").map(String::as_str)) {
        return r;
    }
    let name = form.get("name").cloned().unwrap_or_default();
    let (st, user) = (state.clone(), p.caller.name().to_string());
    match blocking(move || Ok(st.archive.delete_saved_search(&user, &name)?)).await {
        Ok(()) => see_other("/web/search"),
        Err(e) => p.web_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_round_trip() {
        let all =
            "q=x&in=subject&in=senderRecipient&in=body&in=attachmentNames&in=attachmentContents";
        assert!(Params::parse(Some(all)).criteria.search_in.is_empty());
        assert!(
            Params::parse(Some("q=&in=body"))
                .criteria
                .search_in
                .is_empty()
        );
        let q = "q=report&folder=alice%2FInbox&subfolders=0&in=subject&in=body&from=anna&to=%2A%40example.com&dateFrom=2024-01&dateTo=2024-12-31&archivedFrom=2025&store=2&attachments=with&minSize=400K&maxSize=5M&priority=high&priority=low&sort=size&order=asc&offset=50";
        let p = Params::parse(Some(q));
        assert_eq!(p.text, "report");
        assert_eq!(p.folder.as_deref(), Some("alice/Inbox"));
        assert!(p.no_subfolders);
        assert_eq!(
            p.criteria.search_in,
            vec![SearchIn::Subject, SearchIn::Body]
        );
        assert_eq!(p.criteria.to.as_deref(), Some("*@example.com"));
        assert_eq!(p.criteria.attachments, Some(true));
        assert_eq!(p.criteria.priority, vec!["high", "low"]);
        assert_eq!((p.sort.as_str(), p.ascending, p.offset), ("size", true, 50));
        let again = Params::parse(Some(&p.query(Some(("size", true)), 50)));
        assert_eq!(again.criteria, p.criteria);
        assert_eq!(
            (again.text, again.folder, again.no_subfolders),
            (p.text, p.folder, true)
        );
        // Unknown or hostile values are ignored, not trusted.
        let p = Params::parse(Some(
            "sort=%3Cscript%3E&in=everything&priority=urgent&offset=x",
        ));
        assert_eq!(p.sort, "date");
        assert!(p.criteria.search_in.is_empty() && p.criteria.priority.is_empty());
        assert_eq!(p.offset, 0);
    }
}
