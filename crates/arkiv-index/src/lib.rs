//! The full-text index of one archive store, and the search language that queries it.
//!
//! * [`tokenizer`] — words are split at white space and punctuation, put in NFC, lower-cased
//!   and folded to ASCII where possible (`Müller` is found by `muller` and `müller`, and by
//!   `mueller`: German words with umlauts are also indexed as written without them). A word joined by
//!   `. , ; - _ @ / \` is indexed both by its parts and as a whole (manual §3.2 "About Special
//!   Characters"): `firstname.lastname@example.com` is found by `firstname`, `lastname`,
//!   `example`, `com` and the whole address. CJK text is indexed character by character, so any
//!   run of characters is found as a phrase.
//! * [`query`] — the quick-search language of the manual's §3.2, parsed into an AST with
//!   positions for error messages: AND by default, `*` and `?` wildcards, `"phrases"`, the fields
//!   `subject: from: to: cc: bcc: bcontent: acontent:` (and `accontent:`), `-` exclusion; beyond
//!   the manual `OR`, parentheses, `has:attachment`, `filename:`, `size>`, `date>=`,
//!   `archived>=`, `priority:high`, `store:2` (the advanced search's criteria, §3.2).
//! * [`StoreIndex`] — the tantivy index of one store: add, delete, commit, search with a folder
//!   filter (permissions are part of every query), sorting and paging, a total count.
//!
//! The index is derived data: it can always be rebuilt from the store, and it holds no key
//! material. Like MailStore's, it is not encrypted; it can be excluded from backups.

pub mod budget;
mod highlight;
pub mod query;
mod schema;
mod search;
pub mod tokenizer;

pub use budget::Budget;
pub use highlight::{Highlighter, Shown};
pub use query::{Cmp, Node, QueryError, TermKind, parse};
pub use schema::IndexDoc;
pub use search::{
    Hit, SearchRequest, SearchResult, SortBy, SortValue, StoreIndex, sortable_subject,
};
pub use tokenizer::ANALYZER_VERSION;

/// Everything that can go wrong with an index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index {path}: {detail}; rebuild it with `arkiv reindex`")]
    Index { path: String, detail: String },
    /// The index was built by a version with other fields: it must be rebuilt.
    #[error("search index {path} was built with another schema and must be rebuilt")]
    SchemaChanged { path: String },
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The query would cost more than a search may (too many words matched by wildcards, or
    /// too long): the text says which limit and how to narrow it.
    #[error("{0}")]
    Budget(String),
}

pub type Result<T> = std::result::Result<T, IndexError>;
