//! The pages of Web Access as askama templates (`crates/arkiv-server/templates/`), checked
//! when the crate compiles. Every value is escaped by the template; sanitized message HTML
//! never goes into these pages (it has its own sandboxed document, `sanitize`). Every page
//! has the request's catalogue as `t` ([`super::i18n`]): its texts are `{{ t.key }}`.

use askama::Template;

use super::i18n::Text;
// The templates' `|fill` filter.
use super::i18n::filters;

/// The top bar: quick search, who is signed in, the sign-out form with its CSRF token.
pub struct Bar {
    pub user: String,
    pub csrf: String,
    pub query: String,
    pub folder: Option<String>,
    pub may_change_password: bool,
    /// The administration pages are linked for administrators.
    pub admin: bool,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct Login {
    pub t: &'static Text,
    pub user: String,
    /// The sign-in form's own CSRF token (also in the `arkiv_login` cookie).
    pub csrf: String,
    pub error: Option<String>,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub t: &'static Text,
    pub bar: Option<Bar>,
    pub title: String,
    pub message: String,
}

/// A folder in the tree.
pub struct FolderRow {
    /// `archive/Inbox/Sub`, what `?folder=` takes.
    pub path: String,
    pub name: String,
    pub depth: usize,
    pub count: u64,
    pub current: bool,
}

/// A column header that sorts.
pub struct Column {
    pub label: &'static str,
    pub href: String,
    /// `ascending`/`descending` when the list is sorted by it.
    pub sorted: Option<&'static str>,
}

/// A search hit: text cut into (segment, highlighted).
pub struct Hit {
    pub id: String,
    pub from: Vec<(String, bool)>,
    pub subject: Vec<(String, bool)>,
    pub date: String,
    pub size: String,
    pub attachments: bool,
    /// The message's stored bytes are damaged (it is listed, but cannot be opened).
    pub damaged: bool,
}

/// A saved search in the sidebar.
pub struct SavedRow {
    pub name: String,
    pub href: String,
}

/// A checkbox of a form.
pub struct Check {
    pub key: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct Search {
    pub t: &'static Text,
    pub bar: Bar,
    pub folders: Vec<FolderRow>,
    pub saved: Vec<SavedRow>,
    /// This search's URL query, for "Save this search".
    pub this_search: String,
    pub advanced_href: String,
    /// A search (not just a folder listing): it can be saved.
    pub searching: bool,
    pub heading: String,
    pub summary: String,
    pub error: Option<String>,
    /// One line per archive store that could not be searched.
    pub unavailable: Vec<String>,
    pub columns: Vec<Column>,
    pub hits: Vec<Hit>,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// The advanced search form (manual §3.2), filled with the search it refines.
#[derive(Template)]
#[template(path = "advanced.html")]
pub struct Advanced {
    pub t: &'static Text,
    pub bar: Bar,
    pub text: String,
    pub search_in: Vec<Check>,
    pub folders: Vec<FolderRow>,
    pub subfolders: bool,
    pub from: String,
    pub to: String,
    pub date_from: String,
    pub date_to: String,
    pub archived_from: String,
    pub archived_to: String,
    pub store: String,
    /// `any`, `with` or `without`.
    pub attachments: &'static str,
    pub min_size: String,
    pub max_size: String,
    pub priority: Vec<Check>,
}

/// An attachment in the message view.
pub struct AttachmentRow {
    pub index: usize,
    pub name: String,
    pub content_type: String,
    pub size: String,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub t: &'static Text,
    pub bar: Bar,
    pub id: String,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub date: String,
    pub folder: String,
    pub problem: Option<String>,
    pub may_export: bool,
    pub may_delete: bool,
    pub attachments: Vec<AttachmentRow>,
    pub has_html: bool,
    pub blocked: usize,
    pub images: bool,
    pub text: String,
}

#[derive(Template)]
#[template(path = "source.html")]
pub struct Source {
    pub t: &'static Text,
    pub bar: Bar,
    pub id: String,
    pub source: String,
    pub truncated: bool,
    pub shown: String,
}

#[derive(Template)]
#[template(path = "password.html")]
pub struct Password {
    pub t: &'static Text,
    pub bar: Bar,
    pub error: Option<String>,
    pub done: bool,
}

/// Cuts `text` at highlighted byte ranges into (segment, highlighted) pieces.
pub fn segments(text: &str, ranges: &[[usize; 2]]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut sorted: Vec<[usize; 2]> = ranges.to_vec();
    sorted.sort();
    for [s, e] in sorted {
        let (s, e) = (s.max(at), e.min(text.len()));
        if s >= e || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            continue;
        }
        if s > at {
            out.push((text[at..s].to_string(), false));
        }
        out.push((text[s..e].to_string(), true));
        at = e;
    }
    if at < text.len() {
        out.push((text[at..].to_string(), false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cut_at_highlights() {
        assert_eq!(
            segments("Quarterly report", &[[10, 16]]),
            vec![("Quarterly ".into(), false), ("report".into(), true)]
        );
        assert_eq!(
            segments("ab", &[[5, 9], [1, 0]]),
            vec![("ab".into(), false)]
        );
        assert_eq!(segments("", &[]), vec![]);
        // Not on a character boundary: ignored rather than panicking.
        assert_eq!(segments("ü", &[[1, 2]]), vec![("ü".into(), false)]);
    }

    #[test]
    fn templates_escape() {
        let page = Login {
            t: &crate::webui::i18n::EN,
            user: "<script>".into(),
            csrf: "\"><b>".into(),
            error: Some("a & b".into()),
            notice: None,
        }
        .render()
        .unwrap();
        assert!(page.contains("&#60;script&#62;") || page.contains("&lt;script&gt;"));
        assert!(!page.contains("<script>"));
        assert!(!page.contains("\"><b>"), "attribute values are escaped too");
    }
}
