//! What one search may cost, so that no query — a user's 4,000 characters of `*a*b*` words
//! included — can hold a core and a gigabyte for a minute.
//!
//! Wildcards are the expensive part: a word with a leading `*` has to be compared with every
//! word of the index. Arkiv expands each wildcard itself, walking the term dictionary of each
//! segment (by the literal prefix when there is one) and matching the pattern, under one
//! [`Budget`] per search (all stores together):
//!
//! * at most [`MAX_WILDCARD_WORDS`] wildcard words in a query;
//! * at most [`MAX_TERMS_VISITED`] dictionary entries walked by all of them;
//! * at most [`MAX_TERMS_MATCHED`] distinct words matched by all of them;
//! * at most [`MAX_SEARCH_TIME`] for the expansion and the search.
//!
//! Over any of them the search stops with [`IndexError::Budget`], whose message names the
//! limit and how to narrow the query (and nothing of the server).

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::query::{Node, TermKind};
use crate::{IndexError, Result};

pub const MAX_WILDCARD_WORDS: usize = 16;
pub const MAX_TERMS_VISITED: u64 = 20_000_000;
pub const MAX_TERMS_MATCHED: usize = 200_000;
pub const MAX_SEARCH_TIME: Duration = Duration::from_secs(10);

/// The cost a search has used so far.
#[derive(Debug)]
pub struct Budget {
    deadline: Instant,
    visited: Cell<u64>,
    matched: Cell<usize>,
}

fn wildcards(node: &Node) -> usize {
    match node {
        Node::Term {
            kind: TermKind::Wildcard,
            ..
        } => 1,
        Node::And(v) | Node::Or(v) => v.iter().map(wildcards).sum(),
        Node::Not(n) => wildcards(n),
        _ => 0,
    }
}

impl Budget {
    /// The budget of a search for `query`; refuses a query with too many wildcard words.
    pub fn new(query: &Node) -> Result<Budget> {
        let n = wildcards(query);
        if n > MAX_WILDCARD_WORDS {
            return Err(IndexError::Budget(format!(
                "the query has {n} words with wildcards (* or ?); a search may have at most \
                 {MAX_WILDCARD_WORDS}: leave some out or write them whole"
            )));
        }
        Ok(Budget {
            deadline: Instant::now() + MAX_SEARCH_TIME,
            visited: Cell::new(0),
            matched: Cell::new(0),
        })
    }

    /// Counts one dictionary entry walked (and looks at the clock now and then).
    pub(crate) fn visit(&self) -> Result<()> {
        let v = self.visited.get() + 1;
        self.visited.set(v);
        if v > MAX_TERMS_VISITED {
            return Err(IndexError::Budget(format!(
                "the wildcards of this query would compare more than {MAX_TERMS_VISITED} words: \
                 give some letters before the first * or ?, or use fewer wildcards"
            )));
        }
        if v.is_multiple_of(4096) {
            self.check_time()?;
        }
        Ok(())
    }

    /// Counts one more distinct word matched by a wildcard.
    pub(crate) fn matched(&self) -> Result<()> {
        let m = self.matched.get() + 1;
        self.matched.set(m);
        if m > MAX_TERMS_MATCHED {
            return Err(IndexError::Budget(format!(
                "the wildcards of this query match more than {MAX_TERMS_MATCHED} different \
                 words: make them more specific"
            )));
        }
        Ok(())
    }

    /// Refuses to go on after [`MAX_SEARCH_TIME`].
    pub fn check_time(&self) -> Result<()> {
        if Instant::now() > self.deadline {
            return Err(IndexError::Budget(format!(
                "the search took longer than {} seconds: narrow it (fewer wildcards, more words)",
                MAX_SEARCH_TIME.as_secs()
            )));
        }
        Ok(())
    }
}

/// `*` any run, `?` one character; iterative with single-star backtracking (linear-ish).
pub(crate) fn glob(p: &[char], t: &[char]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_wildcards_are_refused_before_any_work() {
        let q: String = (0..20).map(|i| format!("*a{i}*b* ")).collect();
        let node = crate::parse(&q).unwrap();
        let e = Budget::new(&node).unwrap_err();
        assert!(e.to_string().contains("at most 16"), "{e}");
        assert!(Budget::new(&crate::parse("auto* *example.com").unwrap()).is_ok());
    }

    #[test]
    fn globs() {
        let g = |p: &str, t: &str| {
            glob(
                &p.chars().collect::<Vec<_>>(),
                &t.chars().collect::<Vec<_>>(),
            )
        };
        assert!(g("*a*b*", "xaybz"));
        assert!(!g("*a*b*", "xbya"));
        assert!(g("me?er", "meier") && !g("me?er", "meer"));
        assert!(g("*", ""));
    }
}
