//! Which parts of a shown text matched the query (SPEC C1: "matches are highlighted").
//!
//! The positive terms of a query (not those under `-`) are turned into token matchers; a text
//! is run through the same analyzer as the index, and the byte ranges of matching tokens are
//! returned. Phrases highlight their words; wildcards match whole tokens, so `*example.com`
//! highlights the complete address.

use crate::budget::glob;
use crate::query::{Node, Scope, TermKind};
use crate::tokenizer::{analyzer, fold, query_analyzer};

/// A field shown in results, for scoping (`subject:foo` highlights only the subject).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    Subject,
    From,
    To,
}

enum Matcher {
    Token(String),
    Glob(Vec<char>),
}

/// Matchers of one query, reusable for every hit.
pub struct Highlighter {
    terms: Vec<(Scope, Matcher)>,
}

impl Highlighter {
    pub fn new(query: &Node) -> Highlighter {
        let mut terms = Vec::new();
        collect(query, &mut terms);
        Highlighter { terms }
    }

    /// Byte ranges of `text` that match, sorted and non-overlapping.
    pub fn ranges(&self, shown: Shown, text: &str) -> Vec<[usize; 2]> {
        let applies = |s: Scope| {
            matches!(
                (s, shown),
                (Scope::Any, _)
                    | (Scope::Subject, Shown::Subject)
                    | (Scope::From, Shown::From)
                    | (Scope::To | Scope::Cc | Scope::Bcc, Shown::To)
            )
        };
        let active: Vec<&Matcher> = self
            .terms
            .iter()
            .filter(|(s, _)| applies(*s))
            .map(|(_, m)| m)
            .collect();
        if active.is_empty() || text.is_empty() {
            return Vec::new();
        }
        let mut a = analyzer();
        let mut stream = a.token_stream(text);
        let mut out: Vec<[usize; 2]> = Vec::new();
        while let Some(t) = stream.next() {
            let hit = active.iter().any(|m| match m {
                Matcher::Token(w) => *w == t.text,
                Matcher::Glob(p) => glob(p, &t.text.chars().collect::<Vec<_>>()),
            });
            if hit {
                out.push([t.offset_from, t.offset_to]);
            }
        }
        out.sort_unstable();
        let mut merged: Vec<[usize; 2]> = Vec::new();
        for r in out {
            match merged.last_mut() {
                Some(last) if r[0] <= last[1] => last[1] = last[1].max(r[1]),
                _ => merged.push(r),
            }
        }
        merged
    }
}

fn collect(node: &Node, out: &mut Vec<(Scope, Matcher)>) {
    match node {
        Node::Term { scope, text, kind } => match kind {
            TermKind::Wildcard => out.push((*scope, Matcher::Glob(fold(text).chars().collect()))),
            TermKind::Word | TermKind::Phrase => {
                let mut a = query_analyzer();
                let mut s = a.token_stream(text);
                while let Some(t) = s.next() {
                    out.push((*scope, Matcher::Token(t.text.clone())));
                }
            }
        },
        Node::And(v) | Node::Or(v) => v.iter().for_each(|n| collect(n, out)),
        // Excluded words are not in the hits; other criteria have no words.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn marks(q: &str, shown: Shown, text: &str) -> Vec<String> {
        Highlighter::new(&parse(q).unwrap())
            .ranges(shown, text)
            .iter()
            .map(|r| text[r[0]..r[1]].to_string())
            .collect()
    }

    #[test]
    fn highlights_what_matched() {
        assert_eq!(
            marks("report", Shown::Subject, "Re: Quarterly REPORT"),
            ["REPORT"]
        );
        assert_eq!(
            marks(
                "\"quarterly report\" -draft",
                Shown::Subject,
                "Quarterly report draft"
            ),
            ["Quarterly", "report"]
        );
        assert_eq!(
            marks("auto*", Shown::Subject, "Automobile and autos"),
            ["Automobile", "autos"]
        );
        assert_eq!(
            marks("*example.com", Shown::From, "John <john.doe@example.com>"),
            ["john.doe@example.com"]
        );
        assert_eq!(
            marks("subject:news", Shown::From, "news@x.org"),
            Vec::<String>::new()
        );
        assert_eq!(marks("Grüße", Shown::Subject, "Viele grüße"), ["grüße"]);
        assert_eq!(
            marks("Me?er", Shown::Subject, "Meier Maier Meyer"),
            ["Meier", "Meyer"]
        );
        assert!(glob(
            &"a*b*c".chars().collect::<Vec<_>>(),
            &"axxbyyc".chars().collect::<Vec<_>>()
        ));
        assert!(!glob(
            &"a*b".chars().collect::<Vec<_>>(),
            &"axxbc".chars().collect::<Vec<_>>()
        ));
    }
}
