//! Advanced search (manual §3.2, "Search E-mail"): the criteria of the search form, turned into
//! the same query tree as the quick search, so both run the same way and can be combined.
//!
//! * *Search for* with *Search in* (subject, sender/recipient, message body, attachment file
//!   names, attachment contents): the text's unscoped words are looked for in those parts only.
//! * *From*, *To/Cc/Bcc*: quick-search text looked for in those fields only.
//! * *Date*, *Archiving date*: inclusive ranges of days (`2024-01-31`, `2024-01`, `2024`).
//! * *Archive store*, *with/without attachments*, *size* (`400K`, `5M`), *priority* (low, normal,
//!   high; several allowed).

use arkiv_index::query::Scope;
use arkiv_index::{Node, parse};
use serde::{Deserialize, Serialize};

use crate::error::{ArchiveError, Result};

/// The parts of a message *Search for* looks in (all of them when none is chosen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SearchIn {
    Subject,
    /// From, To, Cc and Bcc.
    SenderRecipient,
    Body,
    AttachmentNames,
    AttachmentContents,
}

/// The criteria of the advanced search form; every one is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Criteria {
    pub search_in: Vec<SearchIn>,
    pub from: Option<String>,
    /// To, Cc or Bcc.
    pub to: Option<String>,
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    pub archived_from: Option<String>,
    pub archived_to: Option<String>,
    pub store: Option<u32>,
    /// `Some(true)`: only messages with attachments; `Some(false)`: only without.
    pub attachments: Option<bool>,
    /// At least this size (`400K`, `5M`, bytes without a suffix).
    pub min_size: Option<String>,
    pub max_size: Option<String>,
    /// `low`, `normal`, `high`; empty: any.
    pub priority: Vec<String>,
}

fn bad(field: &str, e: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Invalid {
        what: field.to_string(),
        detail: e.to_string(),
    }
}

/// Parses a quick-search fragment for one form field; errors name the field.
fn fragment(field: &str, text: &str) -> Result<Node> {
    parse(text).map_err(|e| bad(field, e))
}

/// Replaces the scope of every unscoped term by `scopes` (several: any of them).
fn restrict(node: Node, scopes: &[Scope]) -> Node {
    match node {
        Node::Term {
            scope: Scope::Any,
            text,
            kind,
        } => {
            let mut alts: Vec<Node> = scopes
                .iter()
                .map(|&scope| Node::Term {
                    scope,
                    text: text.clone(),
                    kind,
                })
                .collect();
            if alts.len() == 1 {
                alts.pop().expect("one")
            } else {
                Node::Or(alts)
            }
        }
        Node::Not(inner) => Node::Not(Box::new(restrict(*inner, scopes))),
        Node::And(v) => Node::And(v.into_iter().map(|n| restrict(n, scopes)).collect()),
        Node::Or(v) => Node::Or(v.into_iter().map(|n| restrict(n, scopes)).collect()),
        other => other,
    }
}

impl Criteria {
    pub fn is_empty(&self) -> bool {
        *self == Criteria::default()
    }

    /// The query tree of the quick-search `text` together with these criteria.
    pub fn compile(&self, text: &str) -> Result<Node> {
        let mut all = Vec::new();
        if !text.trim().is_empty() {
            let mut node = parse(text).map_err(arkiv_index::IndexError::from)?;
            if !self.search_in.is_empty() {
                let mut scopes = Vec::new();
                for s in &self.search_in {
                    match s {
                        SearchIn::Subject => scopes.push(Scope::Subject),
                        SearchIn::SenderRecipient => {
                            scopes.extend([Scope::From, Scope::To, Scope::Cc, Scope::Bcc])
                        }
                        SearchIn::Body => scopes.push(Scope::Body),
                        SearchIn::AttachmentNames => scopes.push(Scope::Filename),
                        SearchIn::AttachmentContents => scopes.push(Scope::Attachments),
                    }
                }
                scopes.dedup();
                node = restrict(node, &scopes);
            }
            all.push(node);
        } else if !self.search_in.is_empty() {
            return Err(bad(
                "search in",
                "choose where to search only with a text to search for",
            ));
        }
        if let Some(f) = self.from.as_deref().filter(|s| !s.trim().is_empty()) {
            all.push(restrict(fragment("from", f)?, &[Scope::From]));
        }
        if let Some(t) = self.to.as_deref().filter(|s| !s.trim().is_empty()) {
            all.push(restrict(
                fragment("to/cc/bcc", t)?,
                &[Scope::To, Scope::Cc, Scope::Bcc],
            ));
        }
        let one_value = |field: &str, v: &str| -> Result<()> {
            if v.trim().is_empty() || v.contains(char::is_whitespace) {
                return Err(bad(field, format!("{v:?} is not a single value")));
            }
            Ok(())
        };
        for (field, op, value) in [
            ("date from", "date>=", &self.date_from),
            ("date to", "date<=", &self.date_to),
            ("archived from", "archived>=", &self.archived_from),
            ("archived to", "archived<=", &self.archived_to),
            ("minimum size", "size>=", &self.min_size),
            ("maximum size", "size<=", &self.max_size),
        ] {
            if let Some(v) = value {
                one_value(field, v)?;
                all.push(fragment(field, &format!("{op}{}", v.trim()))?);
            }
        }
        if let Some(s) = self.store {
            all.push(Node::Store(s));
        }
        match self.attachments {
            Some(true) => all.push(Node::HasAttachment(true)),
            Some(false) => all.push(Node::Not(Box::new(Node::HasAttachment(true)))),
            None => {}
        }
        if !self.priority.is_empty() {
            let mut alts = Vec::new();
            for p in &self.priority {
                alts.push(match p.trim().to_ascii_lowercase().as_str() {
                    "low" => Node::Priority(0),
                    "normal" | "medium" => Node::Priority(1),
                    "high" => Node::Priority(2),
                    other => {
                        return Err(bad(
                            "priority",
                            format!("{other:?} is not low, normal or high"),
                        ));
                    }
                });
            }
            all.push(Node::Or(alts));
        }
        Ok(match all.len() {
            1 => all.pop().expect("one"),
            // No criteria at all: everything the user may read (a folder listing).
            _ => Node::And(all),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arkiv_index::TermKind;

    fn term(scope: Scope, text: &str) -> Node {
        Node::Term {
            scope,
            text: text.into(),
            kind: TermKind::Word,
        }
    }

    #[test]
    fn search_in_restricts_unscoped_words_only() {
        let c = Criteria {
            search_in: vec![SearchIn::Subject, SearchIn::Body],
            ..Default::default()
        };
        let n = c.compile("invoice -spam from:bob").unwrap();
        assert_eq!(
            n,
            Node::And(vec![
                Node::Or(vec![
                    term(Scope::Subject, "invoice"),
                    term(Scope::Body, "invoice")
                ]),
                Node::Not(Box::new(Node::Or(vec![
                    term(Scope::Subject, "spam"),
                    term(Scope::Body, "spam")
                ]))),
                term(Scope::From, "bob"),
            ])
        );
    }

    #[test]
    fn form_fields() {
        let c = Criteria {
            from: Some("billing@example.com".into()),
            to: Some("alice".into()),
            date_from: Some("2024-01-01".into()),
            date_to: Some("2024-12".into()),
            attachments: Some(false),
            min_size: Some("400K".into()),
            max_size: Some("600K".into()),
            priority: vec!["high".into(), "low".into()],
            store: Some(2),
            ..Default::default()
        };
        let Node::And(parts) = c.compile("").unwrap() else {
            panic!()
        };
        assert_eq!(parts.len(), 9);
        assert_eq!(
            parts[0],
            restrict(parse("billing@example.com").unwrap(), &[Scope::From])
        );
        assert_eq!(
            parts[1],
            Node::Or(vec![
                term(Scope::To, "alice"),
                term(Scope::Cc, "alice"),
                term(Scope::Bcc, "alice")
            ])
        );
        assert_eq!(Criteria::default().compile("").unwrap(), Node::And(vec![]));
    }

    #[test]
    fn bad_fields_are_named() {
        let e = Criteria {
            date_from: Some("yesterday".into()),
            ..Default::default()
        }
        .compile("x")
        .unwrap_err()
        .to_string();
        assert!(e.contains("date from"), "{e}");
        let e = Criteria {
            priority: vec!["urgent".into()],
            ..Default::default()
        }
        .compile("")
        .unwrap_err()
        .to_string();
        assert!(e.contains("priority") && e.contains("urgent"), "{e}");
        let e = Criteria {
            min_size: Some("5M size>1".into()),
            ..Default::default()
        }
        .compile("")
        .unwrap_err()
        .to_string();
        assert!(e.contains("minimum size"), "{e}");
    }
}
