//! The quick-search language (manual §3.2), parsed into a small AST.
//!
//! Grammar (AND binds tighter than OR; AND is implicit between terms):
//!
//! ```text
//! query   = or
//! or      = and { "OR" and }
//! and     = unary { ["AND"] unary }
//! unary   = "-" unary | primary
//! primary = "(" or ")" | field ":" (word | phrase) | phrase | word
//!         | "has:attachment" | "size" op number[k|m|g] | "date" op YYYY[-MM[-DD]]
//! ```
//!
//! Words may hold `*` (any run of characters, anywhere) and `?` (one character, not first or
//! last). Control characters count as spaces. A query is at most [`MAX_QUERY_CHARS`] characters
//! and [`MAX_TERMS`] terms. Every error names the character where it was found.

use std::fmt;

/// Longest accepted query.
pub const MAX_QUERY_CHARS: usize = 4096;
/// Most terms in one query.
pub const MAX_TERMS: usize = 256;
const MAX_DEPTH: usize = 32;

/// A malformed query: what is wrong and where (1-based character position).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct QueryError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "query error at character {}: {}",
            self.position, self.message
        )
    }
}

/// Which part of a message a term searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Subject, addresses, body, attachment names and contents.
    Any,
    Subject,
    From,
    To,
    Cc,
    Bcc,
    /// `bcontent:` the message body.
    Body,
    /// `acontent:` (or the manual's `accontent:`) attachment contents.
    Attachments,
    /// `filename:` attachment file names.
    Filename,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermKind {
    Word,
    Phrase,
    Wildcard,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Term {
        scope: Scope,
        text: String,
        kind: TermKind,
    },
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    HasAttachment(bool),
    /// `has:unreadable-attachment`: an attachment whose contents could not be read.
    UnreadableAttachment,
    /// Size in bytes.
    Size(Cmp, u64),
    /// A day (or the first day of a month/year) and how far it reaches, as Unix seconds: [from, to).
    Date(Cmp, i64, i64),
    /// The archiving date, like [`Node::Date`].
    Archived(Cmp, i64, i64),
    /// X-Priority / Importance: 0 low, 1 normal (also when missing), 2 high.
    Priority(u64),
    /// Only messages in this archive store.
    Store(u32),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Minus,
    Or,
    Word(String),
    Phrase(String),
    Field(Scope, Box<Tok>),
    Special(Node),
}

fn err<T>(position: usize, message: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError {
        position,
        message: message.into(),
    })
}

fn scope_of(name: &str) -> Option<Scope> {
    Some(match name.to_ascii_lowercase().as_str() {
        "subject" => Scope::Subject,
        "from" => Scope::From,
        "to" => Scope::To,
        "cc" => Scope::Cc,
        "bcc" => Scope::Bcc,
        "bcontent" | "body" => Scope::Body,
        "acontent" | "accontent" => Scope::Attachments,
        "filename" | "attachment" => Scope::Filename,
        _ => return None,
    })
}

const FIELDS_HELP: &str = "subject:, from:, to:, cc:, bcc:, bcontent:, acontent:, filename:, has:attachment, size>, date>=, archived>=, priority:, store:";

/// Parses a quick-search query.
pub fn parse(query: &str) -> Result<Node, QueryError> {
    let n = query.chars().count();
    if n > MAX_QUERY_CHARS {
        return err(
            MAX_QUERY_CHARS + 1,
            format!("the query is {n} characters long; at most {MAX_QUERY_CHARS} are allowed"),
        );
    }
    let toks = lex(query)?;
    if toks.is_empty() {
        return err(1, "the query is empty; type at least one word");
    }
    let terms = toks
        .iter()
        .filter(|(t, _)| {
            matches!(
                t,
                Tok::Word(_) | Tok::Phrase(_) | Tok::Field(..) | Tok::Special(_)
            )
        })
        .count();
    if terms > MAX_TERMS {
        return err(
            1,
            format!("the query has {terms} terms; at most {MAX_TERMS} are allowed"),
        );
    }
    let mut p = Parser {
        toks,
        i: 0,
        end: n + 1,
    };
    let node = p.or(0)?;
    if let Some((_, pos)) = p.toks.get(p.i) {
        return err(*pos, "unexpected ')' (no '(' to close)");
    }
    // A query of exclusions only ("-foo") means "everything except foo" (see the index).
    Ok(node)
}

fn lex(q: &str) -> Result<Vec<(Tok, usize)>, QueryError> {
    let chars: Vec<char> = q
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push((Tok::LParen, pos));
            i += 1;
        } else if c == ')' {
            out.push((Tok::RParen, pos));
            i += 1;
        } else if c == '"' {
            let (text, next) = phrase(&chars, i)?;
            out.push((Tok::Phrase(text), pos));
            i = next;
        } else if c == '-' {
            match chars.get(i + 1) {
                Some(n) if !n.is_whitespace() && *n != ')' => {
                    out.push((Tok::Minus, pos));
                    i += 1;
                }
                _ => {
                    return err(
                        pos,
                        "a lone '-' excludes nothing: write it right before a word, e.g. -spam",
                    );
                }
            }
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '(' | ')' | '"')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word == "OR" || word == "|" {
                out.push((Tok::Or, pos));
                continue;
            }
            if word == "AND" || word == "&&" {
                continue;
            }
            if let Some(special) = special(&word, pos)? {
                out.push((Tok::Special(special), pos));
                continue;
            }
            if let Some((name, rest)) = word.split_once(':')
                && !rest.starts_with("//")
            {
                if let Some(scope) = scope_of(name) {
                    if rest.is_empty() {
                        if i < chars.len() && chars[i] == '"' {
                            let (text, next) = phrase(&chars, i)?;
                            out.push((Tok::Field(scope, Box::new(Tok::Phrase(text))), pos));
                            i = next;
                            continue;
                        }
                        return err(
                            pos,
                            format!("'{name}:' needs a word or \"phrase\" right after the colon"),
                        );
                    }
                    out.push((
                        Tok::Field(scope, Box::new(Tok::Word(rest.to_string()))),
                        pos,
                    ));
                    continue;
                }
                if !name.is_empty()
                    && name.len() <= 12
                    && name.chars().all(|c| c.is_ascii_alphabetic())
                {
                    return err(
                        pos,
                        format!("unknown field '{name}:' (known: {FIELDS_HELP})"),
                    );
                }
            }
            out.push((Tok::Word(word), pos));
        }
    }
    Ok(out)
}

fn phrase(chars: &[char], open: usize) -> Result<(String, usize), QueryError> {
    let mut j = open + 1;
    while j < chars.len() && chars[j] != '"' {
        j += 1;
    }
    if j >= chars.len() {
        return err(open + 1, "this quote is never closed: add the closing \"");
    }
    let text: String = chars[open + 1..j].iter().collect();
    if text.trim().is_empty() {
        return err(open + 1, "an empty phrase \"\" searches for nothing");
    }
    Ok((text, j + 1))
}

fn special(word: &str, pos: usize) -> Result<Option<Node>, QueryError> {
    let lower = word.to_ascii_lowercase();
    if let Some(v) = lower.strip_prefix("has:") {
        return match v {
            "attachment" | "attachments" => Ok(Some(Node::HasAttachment(true))),
            "unreadable-attachment" => Ok(Some(Node::UnreadableAttachment)),
            _ => err(
                pos,
                format!("unknown 'has:{v}' (use has:attachment or has:unreadable-attachment)"),
            ),
        };
    }
    if let Some(v) = lower
        .strip_prefix("priority:")
        .or_else(|| lower.strip_prefix("priority="))
    {
        return match v {
            "low" => Ok(Some(Node::Priority(0))),
            "normal" => Ok(Some(Node::Priority(1))),
            "high" => Ok(Some(Node::Priority(2))),
            _ => err(pos, format!("unknown priority '{v}' (low, normal or high)")),
        };
    }
    if let Some(v) = lower
        .strip_prefix("store:")
        .or_else(|| lower.strip_prefix("store="))
    {
        return match v.parse::<u32>() {
            Ok(n) => Ok(Some(Node::Store(n))),
            Err(_) => err(
                pos,
                format!("'{v}' is not a store id (a number, see `arkiv store list`)"),
            ),
        };
    }
    for key in ["size", "date", "archived"] {
        let Some(rest) = lower.strip_prefix(key) else {
            continue;
        };
        let (cmp, value) = if let Some(v) = rest.strip_prefix(">=") {
            (Cmp::Ge, v)
        } else if let Some(v) = rest.strip_prefix("<=") {
            (Cmp::Le, v)
        } else if let Some(v) = rest.strip_prefix('>') {
            (Cmp::Gt, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Cmp::Lt, v)
        } else if let Some(v) = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':')) {
            (Cmp::Eq, v)
        } else {
            continue;
        };
        if value.is_empty() {
            return err(
                pos,
                format!(
                    "'{word}' needs a value, e.g. {key}>={}",
                    if key == "size" { "1M" } else { "2020-01-31" }
                ),
            );
        }
        return Ok(Some(match key {
            "size" => Node::Size(cmp, size(value, pos)?),
            "date" => date(cmp, value, pos)?,
            _ => match date(cmp, value, pos)? {
                Node::Date(c, from, to) => Node::Archived(c, from, to),
                other => other,
            },
        }));
    }
    Ok(None)
}

fn size(v: &str, pos: usize) -> Result<u64, QueryError> {
    let (num, mul) = match v.chars().last() {
        Some('k') => (&v[..v.len() - 1], 1024),
        Some('m') => (&v[..v.len() - 1], 1024 * 1024),
        Some('g') => (&v[..v.len() - 1], 1024 * 1024 * 1024),
        _ => (v, 1),
    };
    let n: u64 = num.parse().or_else(|_| {
        err(
            pos,
            format!("'{v}' is not a size (a number of bytes, or with k, M or G)"),
        )
    })?;
    n.checked_mul(mul)
        .ok_or(())
        .or_else(|_| err(pos, format!("size '{v}' is too large")))
}

fn date(cmp: Cmp, v: &str, pos: usize) -> Result<Node, QueryError> {
    let bad = || {
        err(
            pos,
            format!("'{v}' is not a date (YYYY, YYYY-MM or YYYY-MM-DD)"),
        )
    };
    let parts: Vec<&str> = v.split('-').collect();
    let nums: Option<Vec<i64>> = parts.iter().map(|p| p.parse::<i64>().ok()).collect();
    let Some(nums) = nums else { return bad() };
    let (y, m, d) = match nums.as_slice() {
        [y] => (*y, 1, 1),
        [y, m] => (*y, *m, 1),
        [y, m, d] => (*y, *m, *d),
        _ => return bad(),
    };
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return bad();
    }
    let from = days_from_civil(y, m, d) * 86_400;
    let to = match nums.len() {
        1 => days_from_civil(y + 1, 1, 1) * 86_400,
        2 => {
            (if m == 12 {
                days_from_civil(y + 1, 1, 1)
            } else {
                days_from_civil(y, m + 1, 1)
            }) * 86_400
        }
        _ => from + 86_400,
    };
    Ok(Node::Date(cmp, from, to))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    i: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.0)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.i).map(|t| t.1).unwrap_or(self.end)
    }

    fn or(&mut self, depth: usize) -> Result<Node, QueryError> {
        let mut alts = vec![self.and(depth)?];
        while self.peek() == Some(&Tok::Or) {
            let at = self.pos();
            self.i += 1;
            if matches!(self.peek(), None | Some(Tok::RParen) | Some(Tok::Or)) {
                return err(at, "'OR' needs a term on both sides");
            }
            alts.push(self.and(depth)?);
        }
        Ok(if alts.len() == 1 {
            alts.pop().expect("one")
        } else {
            Node::Or(alts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Node, QueryError> {
        let mut items = Vec::new();
        while let Some(t) = self.peek() {
            if matches!(t, Tok::Or | Tok::RParen) {
                break;
            }
            items.push(self.unary(depth)?);
        }
        match items.len() {
            0 => err(
                self.pos(),
                if self.peek() == Some(&Tok::Or) {
                    "'OR' needs a term on both sides"
                } else {
                    "expected a word here"
                },
            ),
            1 => Ok(items.pop().expect("one")),
            _ => Ok(Node::And(items)),
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Node, QueryError> {
        if depth > MAX_DEPTH {
            return err(
                self.pos(),
                format!("the query nests deeper than {MAX_DEPTH} levels"),
            );
        }
        if self.peek() == Some(&Tok::Minus) {
            self.i += 1;
            return Ok(Node::Not(Box::new(self.unary(depth + 1)?)));
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<Node, QueryError> {
        let at = self.pos();
        let Some((tok, _)) = self.toks.get(self.i).cloned() else {
            return err(at, "expected a word at the end of the query");
        };
        self.i += 1;
        match tok {
            Tok::LParen => {
                if self.peek() == Some(&Tok::RParen) {
                    return err(at, "empty parentheses");
                }
                let inner = self.or(depth + 1)?;
                if self.peek() != Some(&Tok::RParen) {
                    return err(at, "this '(' is never closed: add ')'");
                }
                self.i += 1;
                Ok(inner)
            }
            Tok::Word(w) => term(Scope::Any, &w, at),
            Tok::Phrase(p) => Ok(Node::Term {
                scope: Scope::Any,
                text: p,
                kind: TermKind::Phrase,
            }),
            Tok::Field(scope, inner) => match *inner {
                Tok::Word(w) => term(scope, &w, at),
                Tok::Phrase(p) => Ok(Node::Term {
                    scope,
                    text: p,
                    kind: TermKind::Phrase,
                }),
                _ => err(at, "a field needs a word or a phrase"),
            },
            Tok::Special(n) => Ok(n),
            Tok::RParen => err(at, "unexpected ')'"),
            Tok::Or => err(at, "'OR' needs a term on both sides"),
            Tok::Minus => err(at, "unexpected '-'"),
        }
    }
}

fn term(scope: Scope, w: &str, at: usize) -> Result<Node, QueryError> {
    if !w.contains(['*', '?']) {
        return Ok(Node::Term {
            scope,
            text: w.to_string(),
            kind: TermKind::Word,
        });
    }
    if w.chars().all(|c| matches!(c, '*' | '?')) {
        return err(
            at,
            format!(
                "'{w}' alone would match everything; combine wildcards with letters, e.g. auto*"
            ),
        );
    }
    if w.starts_with('?') || w.ends_with('?') {
        return err(
            at,
            format!(
                "'?' cannot be the first or last character of a word ('{w}'); use '*' there instead"
            ),
        );
    }
    Ok(Node::Term {
        scope,
        text: w.to_string(),
        kind: TermKind::Wildcard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(scope: Scope, t: &str) -> Node {
        Node::Term {
            scope,
            text: t.into(),
            kind: TermKind::Word,
        }
    }

    #[test]
    fn manual_examples() {
        assert_eq!(
            parse("auto*").unwrap(),
            Node::Term {
                scope: Scope::Any,
                text: "auto*".into(),
                kind: TermKind::Wildcard
            }
        );
        assert!(matches!(
            parse("*example.com").unwrap(),
            Node::Term {
                kind: TermKind::Wildcard,
                ..
            }
        ));
        assert!(matches!(
            parse("Me?er").unwrap(),
            Node::Term {
                kind: TermKind::Wildcard,
                ..
            }
        ));
        assert_eq!(
            parse("\"Microsoft Windows\"").unwrap(),
            Node::Term {
                scope: Scope::Any,
                text: "Microsoft Windows".into(),
                kind: TermKind::Phrase
            }
        );
        assert_eq!(parse("subject:News").unwrap(), w(Scope::Subject, "News"));
        assert_eq!(
            parse("ZDNet -download-tip").unwrap(),
            Node::And(vec![
                w(Scope::Any, "ZDNet"),
                Node::Not(Box::new(w(Scope::Any, "download-tip")))
            ])
        );
        assert_eq!(
            parse("ZDNET -\"Daily Update\"").unwrap(),
            Node::And(vec![
                w(Scope::Any, "ZDNET"),
                Node::Not(Box::new(Node::Term {
                    scope: Scope::Any,
                    text: "Daily Update".into(),
                    kind: TermKind::Phrase
                }))
            ])
        );
        assert_eq!(
            parse("from:billing@example.com to:myaddress@company.tld acontent:bill -subject:admonition").unwrap(),
            Node::And(vec![
                w(Scope::From, "billing@example.com"),
                w(Scope::To, "myaddress@company.tld"),
                w(Scope::Attachments, "bill"),
                Node::Not(Box::new(w(Scope::Subject, "admonition"))),
            ])
        );
        assert_eq!(
            parse("accontent:bill").unwrap(),
            w(Scope::Attachments, "bill")
        );
        assert_eq!(
            parse("subject:\"a b\"").unwrap(),
            Node::Term {
                scope: Scope::Subject,
                text: "a b".into(),
                kind: TermKind::Phrase
            }
        );
    }

    #[test]
    fn beyond_the_manual() {
        assert_eq!(
            parse("a OR b c").unwrap(),
            Node::Or(vec![
                w(Scope::Any, "a"),
                Node::And(vec![w(Scope::Any, "b"), w(Scope::Any, "c")])
            ])
        );
        assert_eq!(
            parse("(a OR b) c").unwrap(),
            Node::And(vec![
                Node::Or(vec![w(Scope::Any, "a"), w(Scope::Any, "b")]),
                w(Scope::Any, "c")
            ])
        );
        assert_eq!(parse("has:attachment").unwrap(), Node::HasAttachment(true));
        assert_eq!(parse("priority:HIGH").unwrap(), Node::Priority(2));
        assert_eq!(parse("store:2").unwrap(), Node::Store(2));
        assert!(matches!(
            parse("archived<2026").unwrap(),
            Node::Archived(Cmp::Lt, _, _)
        ));
        assert!(
            parse("priority:urgent")
                .unwrap_err()
                .message
                .contains("low, normal or high")
        );
        assert_eq!(parse("size>1M").unwrap(), Node::Size(Cmp::Gt, 1 << 20));
        assert_eq!(
            parse("date>=2020-02").unwrap(),
            Node::Date(Cmp::Ge, 1_580_515_200, 1_583_020_800)
        );
        assert_eq!(
            parse("filename:report.pdf").unwrap(),
            w(Scope::Filename, "report.pdf")
        );
        assert_eq!(
            parse("http://example.com/x").unwrap(),
            w(Scope::Any, "http://example.com/x")
        );
        assert_eq!(parse("12:30").unwrap(), w(Scope::Any, "12:30"));
        assert_eq!(
            parse("a\u{7}b").unwrap(),
            Node::And(vec![w(Scope::Any, "a"), w(Scope::Any, "b")]),
            "control characters are spaces"
        );
    }

    /// A deterministic stand-in for the fuzz target that runs with every `cargo test`.
    #[test]
    fn random_queries_never_panic() {
        const ALPHABET: &[&str] = &[
            "a", "b", "Z", " ", "\"", "-", "*", "?", "(", ")", ":", "OR", "AND", "subject:",
            "from:", "size>", "date>=", "has:", "2020", "-01", "ä", "東", "\u{0}", "\t", "k", "@",
            ".",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut q = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for i in 0..(x % 24) {
                let y = x.rotate_left(i as u32 * 5);
                q.push_str(ALPHABET[(y % ALPHABET.len() as u64) as usize]);
            }
            match parse(&q) {
                Ok(t) => assert_eq!(parse(&q).unwrap(), t),
                Err(e) => assert!(
                    e.position >= 1 && e.position <= q.chars().count() + 1,
                    "{q:?}: {e}"
                ),
            }
        }
    }

    #[test]
    fn clear_errors_with_positions() {
        let cases = [
            ("\"unbalanced", 1, "never closed"),
            ("a - b", 3, "lone '-'"),
            ("*", 1, "match everything"),
            ("?abc", 1, "first or last"),
            ("ab?", 1, "first or last"),
            ("foo:bar", 1, "unknown field"),
            ("(a b", 1, "never closed"),
            ("a b)", 4, "unexpected ')'"),
            ("a OR", 3, "both sides"),
            ("OR a", 1, "both sides"),
            ("size>lots", 1, "not a size"),
            ("date<2020-13-01", 1, "not a date"),
            ("", 1, "empty"),
            ("   ", 1, "empty"),
            ("subject:", 1, "needs a word"),
            ("()", 1, "empty parentheses"),
        ];
        for (q, pos, msg) in cases {
            let e = parse(q).unwrap_err();
            assert_eq!(e.position, pos, "{q}: {e}");
            assert!(e.message.contains(msg), "{q}: {e}");
        }
        let long = "word ".repeat(2000);
        assert!(parse(&long).unwrap_err().message.contains("at most"));
        let many = "a ".repeat(300);
        assert!(parse(&many).unwrap_err().message.contains("terms"));
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).unwrap_err().message.contains("nests deeper"));
    }
}
