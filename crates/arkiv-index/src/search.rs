//! One store's tantivy index: writing documents and answering queries.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};

use crate::budget::{Budget, glob};
use crate::query::{Cmp, Node, Scope, TermKind};
use crate::schema::{Fields, IndexDoc, schema};
use crate::tokenizer::{ANALYZER, analyzer, fold, is_joiner, query_analyzer};
use crate::{IndexError, Result};

/// How to sort hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SortBy {
    #[default]
    Date,
    ArchivedAt,
    Size,
    /// Subject without Re:/Fwd:/AW:/WG: prefixes, case-insensitive.
    Subject,
    From,
    To,
}

/// The value a hit was sorted by; comparable across stores.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortValue {
    Number(i64),
    Text(String),
}

/// A search in one store.
#[derive(Clone, Debug)]
pub struct SearchRequest<'a> {
    pub query: &'a Node,
    /// Only messages in these folders (the folders the searching user may read). `None` means
    /// no restriction, which only trusted callers may ask for.
    pub folders: Option<&'a [u64]>,
    /// The id of the store this index belongs to (for `store:N`).
    pub store: u32,
    pub sort: SortBy,
    pub descending: bool,
    /// How many hits to return (counting from the first).
    pub limit: usize,
    /// What the whole search (all stores) may still cost.
    pub budget: &'a Budget,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub num: u64,
    /// The value sorted by.
    pub key: SortValue,
}

#[derive(Clone, Debug, Default)]
pub struct SearchResult {
    pub hits: Vec<Hit>,
    /// All matching messages, not only those returned.
    pub total: usize,
}

/// The full-text index of one store.
pub struct StoreIndex {
    path: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    writer: Mutex<Option<IndexWriter>>,
}

impl StoreIndex {
    /// Opens the index in `dir`, creating an empty one if there is none.
    pub fn open(dir: &Path) -> Result<StoreIndex> {
        let e = |d: &dyn std::fmt::Display| IndexError::Index {
            path: dir.display().to_string(),
            detail: d.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|x| e(&x))?;
        let (schema, fields) = schema();
        let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|x| e(&x))?;
        let index = match Index::open_or_create(mmap, schema) {
            Ok(i) => i,
            Err(tantivy::TantivyError::SchemaError(_)) => {
                return Err(IndexError::SchemaChanged {
                    path: dir.display().to_string(),
                });
            }
            Err(x) => return Err(e(&x)),
        };
        index.tokenizers().register(ANALYZER, analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|x| e(&x))?;
        Ok(StoreIndex {
            path: dir.to_path_buf(),
            index,
            reader,
            fields,
            writer: Mutex::new(None),
        })
    }

    fn err(&self, d: impl std::fmt::Display) -> IndexError {
        IndexError::Index {
            path: self.path.display().to_string(),
            detail: d.to_string(),
        }
    }

    fn with_writer<T>(&self, f: impl FnOnce(&mut IndexWriter, &Fields) -> Result<T>) -> Result<T> {
        let mut g = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            // One indexing thread and a modest budget: the machine also archives and serves.
            *g = Some(
                self.index
                    .writer_with_num_threads(1, 32 * 1024 * 1024)
                    .map_err(|e| self.err(e))?,
            );
        }
        f(g.as_mut().expect("just created"), &self.fields)
    }

    /// Adds (or replaces) documents; visible after [`StoreIndex::commit`].
    pub fn add(&self, docs: &[IndexDoc]) -> Result<()> {
        self.with_writer(|w, f| {
            for d in docs {
                w.delete_term(Term::from_field_u64(f.num, d.num));
                w.add_document(to_doc(f, d)).map_err(|e| self.err(e))?;
            }
            Ok(())
        })
    }

    /// Removes a message from the index.
    pub fn delete(&self, num: u64) -> Result<()> {
        self.with_writer(|w, f| {
            w.delete_term(Term::from_field_u64(f.num, num));
            Ok(())
        })
    }

    /// Removes every document (before a rebuild).
    pub fn clear(&self) -> Result<()> {
        self.with_writer(|w, _| {
            w.delete_all_documents()
                .map(|_| ())
                .map_err(|e| self.err(e))
        })
    }

    /// Makes the added documents durable and searchable.
    pub fn commit(&self) -> Result<()> {
        self.with_writer(|w, _| w.commit().map(|_| ()).map_err(|e| self.err(e)))?;
        self.reader.reload().map_err(|e| self.err(e))
    }

    pub fn doc_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Message numbers in the index (for finding what is missing).
    pub fn indexed_nums(&self) -> Result<Vec<u64>> {
        let searcher = self.reader.searcher();
        let mut out = Vec::with_capacity(searcher.num_docs() as usize);
        for seg in searcher.segment_readers() {
            let col = seg.fast_fields().u64("num").map_err(|e| self.err(e))?;
            let alive = seg.alive_bitset();
            for doc in 0..seg.max_doc() {
                if alive.is_none_or(|a| a.is_alive(doc))
                    && let Some(v) = col.first(doc)
                {
                    out.push(v);
                }
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Runs a query: the best `limit` hits in the requested order, and the total count.
    pub fn search(&self, req: &SearchRequest<'_>) -> Result<SearchResult> {
        let mut q = self.compile(req.query, req.store, req.budget)?;
        req.budget.check_time()?;
        if let Some(folders) = req.folders {
            let terms: Vec<Term> = folders
                .iter()
                .map(|f| Term::from_field_u64(self.fields.folder, *f))
                .collect();
            q = Box::new(BooleanQuery::new(vec![
                (Occur::Must, q),
                (Occur::Must, Box::new(TermSetQuery::new(terms))),
            ]));
        }
        let searcher = self.reader.searcher();
        let order = if req.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        let limit = req.limit.max(1);
        let num = |v: Vec<(i64, DocAddress)>| {
            v.into_iter()
                .map(|(k, a)| (SortValue::Number(k), a))
                .collect::<Vec<_>>()
        };
        let (hits, total): (Vec<(SortValue, DocAddress)>, usize) = match req.sort {
            SortBy::Date | SortBy::ArchivedAt => {
                let field = if req.sort == SortBy::Date {
                    "date"
                } else {
                    "archived"
                };
                let top = TopDocs::with_limit(limit).order_by_fast_field::<i64>(field, order);
                let (h, n) = searcher
                    .search(&q, &(top, Count))
                    .map_err(|e| self.err(e))?;
                (num(h), n)
            }
            SortBy::Size => {
                let top = TopDocs::with_limit(limit).order_by_fast_field::<u64>("size", order);
                let (h, n) = searcher
                    .search(&q, &(top, Count))
                    .map_err(|e| self.err(e))?;
                (num(h.into_iter().map(|(k, a)| (k as i64, a)).collect()), n)
            }
            SortBy::Subject | SortBy::From | SortBy::To => {
                let field = match req.sort {
                    SortBy::Subject => "subject_sort",
                    SortBy::From => "from_sort",
                    _ => "to_sort",
                };
                let top = TopDocs::with_limit(limit).order_by_string_fast_field(field, order);
                let (h, n) = searcher
                    .search(&q, &(top, Count))
                    .map_err(|e| self.err(e))?;
                (
                    h.into_iter()
                        .map(|(k, a)| (SortValue::Text(k), a))
                        .collect(),
                    n,
                )
            }
        };
        let mut out = Vec::with_capacity(hits.len());
        for (key, addr) in hits {
            let seg = searcher.segment_reader(addr.segment_ord);
            let col = seg.fast_fields().u64("num").map_err(|e| self.err(e))?;
            if let Some(num) = col.first(addr.doc_id) {
                out.push(Hit { num, key });
            }
        }
        Ok(SearchResult { hits: out, total })
    }

    /// Every message of these folders that matches: all of them, in no order (IMAP SEARCH
    /// wants the whole set, not a page).
    pub fn matching(
        &self,
        query: &Node,
        folders: &[u64],
        store: u32,
        budget: &Budget,
    ) -> Result<Vec<u64>> {
        let q = self.compile(query, store, budget)?;
        budget.check_time()?;
        let terms: Vec<Term> = folders
            .iter()
            .map(|f| Term::from_field_u64(self.fields.folder, *f))
            .collect();
        let q = BooleanQuery::new(vec![
            (Occur::Must, q),
            (Occur::Must, Box::new(TermSetQuery::new(terms))),
        ]);
        let searcher = self.reader.searcher();
        let docs = searcher
            .search(&q, &DocSetCollector)
            .map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(docs.len());
        let mut cols: std::collections::HashMap<u32, tantivy::columnar::Column<u64>> =
            std::collections::HashMap::new();
        for addr in docs {
            let col = match cols.entry(addr.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => v.insert(
                    searcher
                        .segment_reader(addr.segment_ord)
                        .fast_fields()
                        .u64("num")
                        .map_err(|e| self.err(e))?,
                ),
            };
            if let Some(num) = col.first(addr.doc_id) {
                out.push(num);
            }
        }
        Ok(out)
    }

    fn scope_fields(&self, scope: Scope) -> Vec<Field> {
        let f = &self.fields;
        match scope {
            Scope::Any => vec![
                f.subject, f.from, f.to, f.cc, f.bcc, f.body, f.filename, f.acontent,
            ],
            Scope::Subject => vec![f.subject],
            Scope::From => vec![f.from],
            Scope::To => vec![f.to],
            Scope::Cc => vec![f.cc],
            Scope::Bcc => vec![f.bcc],
            Scope::Body => vec![f.body],
            Scope::Attachments => vec![f.acontent],
            Scope::Filename => vec![f.filename],
        }
    }

    fn compile(&self, node: &Node, store: u32, budget: &Budget) -> Result<Box<dyn Query>> {
        Ok(match node {
            Node::Term { scope, text, kind } => {
                let mut per_field: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for field in self.scope_fields(*scope) {
                    if let Some(q) = self.term_query(field, text, *kind, budget)? {
                        per_field.push((Occur::Should, q));
                    }
                }
                if per_field.is_empty() {
                    Box::new(EmptyQuery)
                } else {
                    Box::new(BooleanQuery::new(per_field))
                }
            }
            Node::Not(inner) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, self.compile(inner, store, budget)?),
            ])),
            Node::And(items) => {
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for it in items {
                    match it {
                        Node::Not(inner) => {
                            clauses.push((Occur::MustNot, self.compile(inner, store, budget)?))
                        }
                        other => clauses.push((Occur::Must, self.compile(other, store, budget)?)),
                    }
                }
                if clauses.iter().all(|c| c.0 == Occur::MustNot) {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Node::Or(items) => {
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for it in items {
                    clauses.push((Occur::Should, self.compile(it, store, budget)?));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Node::UnreadableAttachment => Box::new(TermQuery::new(
                Term::from_field_u64(self.fields.unread_attachment, 1),
                IndexRecordOption::Basic,
            )),
            Node::HasAttachment(b) => Box::new(TermQuery::new(
                Term::from_field_u64(self.fields.has_attachment, u64::from(*b)),
                IndexRecordOption::Basic,
            )),
            Node::Size(cmp, n) => {
                let t = |v: u64| Term::from_field_u64(self.fields.size, v);
                let (lo, hi) = bounds(*cmp, *n, n.saturating_add(1), t);
                Box::new(RangeQuery::new(lo, hi))
            }
            Node::Archived(cmp, from, to) => {
                let t = |v: i64| Term::from_field_i64(self.fields.archived, v);
                let (lo, hi) = bounds(*cmp, *from, *to, t);
                Box::new(RangeQuery::new(lo, hi))
            }
            Node::Priority(p) => Box::new(TermQuery::new(
                Term::from_field_u64(self.fields.priority, *p),
                IndexRecordOption::Basic,
            )),
            Node::Store(n) if *n == store => Box::new(AllQuery),
            Node::Store(_) => Box::new(EmptyQuery),
            Node::Date(cmp, from, to) => {
                let t = |v: i64| Term::from_field_i64(self.fields.date, v);
                let (lo, hi) = bounds(*cmp, *from, *to, t);
                Box::new(RangeQuery::new(lo, hi))
            }
        })
    }

    /// The words of `field` a wildcard pattern (folded) matches, walking each segment's term
    /// dictionary (from the pattern's literal prefix, if it has one) under the budget.
    fn expand(&self, field: Field, pattern: &str, budget: &Budget) -> Result<Vec<Term>> {
        let p: Vec<char> = pattern.chars().collect();
        let prefix: String = pattern
            .chars()
            .take_while(|c| *c != '*' && *c != '?')
            .collect();
        let end = format!("{prefix}\u{10FFFF}");
        let searcher = self.reader.searcher();
        let mut words = std::collections::BTreeSet::new();
        for seg in searcher.segment_readers() {
            let inv = seg.inverted_index(field).map_err(|e| self.err(e))?;
            let dict = inv.terms();
            let mut stream = if prefix.is_empty() {
                dict.stream()
            } else {
                dict.range()
                    .ge(prefix.as_bytes())
                    .lt(end.as_bytes())
                    .into_stream()
            }
            .map_err(|e| self.err(e))?;
            let mut word: Vec<char> = Vec::new();
            while stream.advance() {
                budget.visit()?;
                let Ok(w) = std::str::from_utf8(stream.key()) else {
                    continue;
                };
                word.clear();
                word.extend(w.chars());
                if glob(&p, &word) && words.insert(w.to_string()) {
                    budget.matched()?;
                }
            }
        }
        Ok(words
            .iter()
            .map(|w| Term::from_field_text(field, w))
            .collect())
    }

    /// The query for one word, phrase or pattern in one field; `None` if it has no searchable text.
    fn term_query(
        &self,
        field: Field,
        text: &str,
        kind: TermKind,
        budget: &Budget,
    ) -> Result<Option<Box<dyn Query>>> {
        if kind == TermKind::Wildcard {
            let folded = fold(text);
            // A trailing `*` only (`auto*`): a range of the term dictionary, much cheaper than
            // building a regex automaton for every field and segment. No term contains
            // U+10FFFF, so [prefix, prefix + U+10FFFF) is exactly the terms with that prefix.
            if let Some(prefix) = folded.strip_suffix('*')
                && !prefix.is_empty()
                && !prefix.contains(['*', '?'])
            {
                let lo = Term::from_field_text(field, prefix);
                let hi = Term::from_field_text(field, &format!("{prefix}\u{10FFFF}"));
                return Ok(Some(Box::new(RangeQuery::new(
                    std::ops::Bound::Included(lo),
                    std::ops::Bound::Excluded(hi),
                ))));
            }
            let terms = self.expand(field, &folded, budget)?;
            return Ok(Some(if terms.is_empty() {
                Box::new(EmptyQuery)
            } else {
                Box::new(TermSetQuery::new(terms))
            }));
        }
        let mut a = query_analyzer();
        let mut stream = a.token_stream(text);
        let mut parts: Vec<(usize, String)> = Vec::new();
        let mut whole: Option<String> = None;
        while let Some(t) = stream.next() {
            if t.offset_from == 0
                && t.offset_to == text.len()
                && text.contains(is_joiner)
                && kind == TermKind::Word
            {
                whole = Some(t.text.clone());
            } else if !parts.iter().any(|p| p.0 == t.position) {
                parts.push((t.position, t.text.clone()));
            }
        }
        let term = |s: &str| Term::from_field_text(field, s);
        let phrase = |parts: &[(usize, String)]| -> Box<dyn Query> {
            if parts.len() == 1 {
                Box::new(TermQuery::new(
                    term(&parts[0].1),
                    IndexRecordOption::WithFreqs,
                ))
            } else {
                Box::new(PhraseQuery::new_with_offset(
                    parts
                        .iter()
                        .enumerate()
                        .map(|(i, p)| (i, term(&p.1)))
                        .collect(),
                ))
            }
        };
        Ok(match (whole, parts.is_empty()) {
            (None, true) => None,
            (None, false) => Some(phrase(&parts)),
            // A joined word is found as a whole, and as its parts in a row (so `example.com`
            // also finds `john@example.com`).
            (Some(w), _) => {
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(
                    Occur::Should,
                    Box::new(TermQuery::new(term(&w), IndexRecordOption::WithFreqs)),
                )];
                if parts.len() > 1 {
                    clauses.push((Occur::Should, phrase(&parts)));
                }
                Some(Box::new(BooleanQuery::new(clauses)))
            }
        })
    }
}

impl Drop for StoreIndex {
    /// Lets background merges finish, so that no half-written segment is left behind.
    fn drop(&mut self) {
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(w) = writer {
            let _ = w.wait_merging_threads();
        }
    }
}

fn bounds<T: Copy>(cmp: Cmp, from: T, to: T, t: impl Fn(T) -> Term) -> (Bound<Term>, Bound<Term>) {
    match cmp {
        Cmp::Lt => (Bound::Unbounded, Bound::Excluded(t(from))),
        Cmp::Le => (Bound::Unbounded, Bound::Excluded(t(to))),
        Cmp::Gt => (Bound::Included(t(to)), Bound::Unbounded),
        Cmp::Ge => (Bound::Included(t(from)), Bound::Unbounded),
        Cmp::Eq => (Bound::Included(t(from)), Bound::Excluded(t(to))),
    }
}

/// `*` → any run, `?` → one character; everything else literal.
fn to_doc(f: &Fields, d: &IndexDoc) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_u64(f.num, d.num);
    doc.add_u64(f.folder, d.folder);
    doc.add_text(f.subject, &d.subject);
    doc.add_text(f.from, &d.from);
    doc.add_text(f.to, &d.to);
    doc.add_text(f.cc, &d.cc);
    doc.add_text(f.bcc, &d.bcc);
    doc.add_text(f.body, &d.body);
    for n in &d.attachment_names {
        doc.add_text(f.filename, n);
    }
    doc.add_text(f.acontent, &d.attachment_text);
    doc.add_i64(f.date, d.date);
    doc.add_i64(f.archived, d.archived_at);
    doc.add_u64(f.size, d.size);
    doc.add_u64(f.has_attachment, u64::from(d.has_attachments));
    doc.add_u64(f.unread_attachment, u64::from(d.attachment_unread));
    doc.add_u64(f.priority, d.priority);
    doc.add_text(f.subject_sort, sortable_subject(&d.subject));
    doc.add_text(f.from_sort, d.from.to_lowercase());
    doc.add_text(f.to_sort, d.to.to_lowercase());
    doc
}

/// The subject as sorted: lower case, without reply and forward prefixes.
pub fn sortable_subject(subject: &str) -> String {
    let mut s = subject.trim().to_lowercase();
    loop {
        let before = s.len();
        for p in ["re:", "fwd:", "fw:", "aw:", "wg:", "sv:", "tr:", "antw:"] {
            if let Some(rest) = s.strip_prefix(p) {
                s = rest.trim_start().to_string();
            }
        }
        if s.len() == before {
            return s;
        }
    }
}
