//! SEARCH, UID SEARCH, ESEARCH (RFC 4731's `RETURN (MIN MAX COUNT ALL)`) and SORT (RFC 5256),
//! answered by the full-text index: no message is opened to search it.
//!
//! The criteria become one query of Arkiv's own search ([`arkiv_index::Node`]) wherever the
//! index can answer them, so IMAP finds what the web and the API find for the same words:
//!
//! - TEXT: anywhere (subject, addresses, body, attachment names and contents); BODY: the
//!   body; SUBJECT, FROM, TO, CC, BCC, and HEADER of those five fields: that field. As in
//!   Arkiv's search (and Dovecot's FTS), words match words, not any substring: `FROM alice`
//!   finds `alice@example.org`, `TEXT arch` does not find "archive". Several words are a
//!   phrase.
//! - SINCE/BEFORE/ON and SENTSINCE/SENTBEFORE/SENTON: the Date header's day in UTC (which is
//!   INTERNALDATE here; a message without a Date header goes by its archiving time).
//! - LARGER/SMALLER: RFC822.SIZE.
//! - Sequence sets, UID sets and the flags are answered from the selected mailbox: every
//!   message is `\Seen` and nothing else, so SEEN, OLD, ALL and the UN- flags are all
//!   messages, and ANSWERED, DELETED, DRAFT, FLAGGED, NEW, RECENT, UNSEEN and KEYWORD none.
//!
//! HEADER of a field the index does not keep answers NO with the list of those it does.

use std::collections::HashMap;

use arkiv_archive::access::Caller;
use arkiv_index::{Cmp, Node, TermKind, query::Scope};
use arkiv_types::{FolderId, MessageId};
use imap_codec::imap_types::core::AString;
use imap_codec::imap_types::datetime::NaiveDate;
use imap_codec::imap_types::extensions::sort::{SortCriterion, SortKey};
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::SequenceSet;

use super::fetch::contains;
use super::session::{Selected, Tag};
use crate::AppState;
use imap_codec::imap_types::core::Charset;

/// A criterion's answer: a query for the index, or a set over the mailbox's messages.
enum Answer {
    Index(Node),
    Bits(Vec<bool>),
}

struct Ctx<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    folder: Option<FolderId>,
    messages: &'a [(u32, MessageId)],
    /// Where each message is in the mailbox.
    position: HashMap<MessageId, usize>,
}

fn text_of(s: &AString<'_>) -> Result<String, String> {
    String::from_utf8(s.as_ref().to_vec())
        .map_err(|_| "a search string is not UTF-8 (only CHARSET UTF-8 is offered)".to_string())
}

fn term(scope: Scope, s: &AString<'_>) -> Result<Answer, String> {
    let text = text_of(s)?;
    let text = text.trim();
    if text.is_empty() {
        // Every message contains the empty string.
        return Ok(Answer::Index(Node::And(Vec::new())));
    }
    let kind = if text.contains(char::is_whitespace) {
        TermKind::Phrase
    } else {
        TermKind::Word
    };
    Ok(Answer::Index(Node::Term {
        scope,
        text: text.to_string(),
        kind,
    }))
}

/// Unix seconds of a day's start (UTC) and of the next day's.
fn day(d: &impl std::fmt::Display) -> Result<(i64, i64), String> {
    let s = d.to_string();
    let date: jiff::civil::Date = s.parse().map_err(|e| format!("'{s}' is not a date: {e}"))?;
    let start = |d: jiff::civil::Date| {
        d.to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_second())
            .map_err(|e| e.to_string())
    };
    let next = date.tomorrow().map_err(|e| e.to_string())?;
    Ok((start(date)?, start(next)?))
}

/// A date criterion on INTERNALDATE: the Date header's day, or the archiving time for a
/// message without one (which the index keeps as date 0).
fn by_date(cmp: Cmp, d: &NaiveDate) -> Result<Answer, String> {
    let (from, to) = day(d.as_ref())?;
    let undated = Node::Date(Cmp::Eq, 0, 1);
    Ok(Answer::Index(Node::Or(vec![
        Node::And(vec![
            Node::Not(Box::new(undated.clone())),
            Node::Date(cmp, from, to),
        ]),
        Node::And(vec![undated, Node::Archived(cmp, from, to)]),
    ])))
}

impl Ctx<'_> {
    fn all(&self, v: bool) -> Answer {
        Answer::Bits(vec![v; self.messages.len()])
    }

    /// The messages of the mailbox the index finds for `node`.
    fn run(&self, node: &Node) -> Result<Vec<bool>, String> {
        let mut bits = vec![false; self.messages.len()];
        let Some(folder) = self.folder else {
            return Ok(bits);
        };
        let ids = self
            .state
            .archive
            .search_folder(self.caller, folder, node)
            .map_err(|e| e.to_string())?;
        for id in ids {
            if let Some(p) = self.position.get(&id) {
                bits[*p] = true;
            }
        }
        Ok(bits)
    }

    fn bits(&self, a: Answer) -> Result<Vec<bool>, String> {
        match a {
            Answer::Bits(b) => Ok(b),
            Answer::Index(n) => self.run(&n),
        }
    }

    fn and(&self, answers: Vec<Answer>) -> Result<Answer, String> {
        let mut nodes = Vec::new();
        let mut sets = Vec::new();
        for a in answers {
            match a {
                Answer::Index(n) => nodes.push(n),
                Answer::Bits(b) => sets.push(b),
            }
        }
        if sets.is_empty() {
            return Ok(Answer::Index(if nodes.len() == 1 {
                nodes.remove(0)
            } else {
                Node::And(nodes)
            }));
        }
        let mut out = vec![true; self.messages.len()];
        if !nodes.is_empty() && sets.iter().any(|s| s.iter().any(|b| *b)) {
            let found = self.run(&Node::And(nodes))?;
            out.iter_mut().zip(found).for_each(|(o, f)| *o &= f);
        } else if !nodes.is_empty() {
            out = vec![false; self.messages.len()];
        }
        for s in sets {
            out.iter_mut().zip(s).for_each(|(o, f)| *o &= f);
        }
        Ok(Answer::Bits(out))
    }

    fn key(&self, k: &SearchKey<'_>) -> Result<Answer, String> {
        let largest_uid = self.messages.last().map_or(0, |m| m.0);
        Ok(match k {
            SearchKey::And(keys) => {
                let answers = keys
                    .as_ref()
                    .iter()
                    .map(|k| self.key(k))
                    .collect::<Result<Vec<_>, _>>()?;
                self.and(answers)?
            }
            SearchKey::SequenceSet(set) => {
                let n = self.messages.len() as u32;
                Answer::Bits((1..=n).map(|s| contains(set, s, n)).collect())
            }
            SearchKey::Uid(set) => Answer::Bits(self.uids_in(set, largest_uid)),
            SearchKey::All
            | SearchKey::Seen
            | SearchKey::Old
            | SearchKey::Unanswered
            | SearchKey::Undeleted
            | SearchKey::Undraft
            | SearchKey::Unflagged
            | SearchKey::Unkeyword(_) => self.all(true),
            SearchKey::Answered
            | SearchKey::Deleted
            | SearchKey::Draft
            | SearchKey::Flagged
            | SearchKey::New
            | SearchKey::Recent
            | SearchKey::Unseen
            | SearchKey::Keyword(_) => self.all(false),
            SearchKey::Text(s) => term(Scope::Any, s)?,
            SearchKey::Body(s) => term(Scope::Body, s)?,
            SearchKey::Subject(s) => term(Scope::Subject, s)?,
            SearchKey::From(s) => term(Scope::From, s)?,
            SearchKey::To(s) => term(Scope::To, s)?,
            SearchKey::Cc(s) => term(Scope::Cc, s)?,
            SearchKey::Bcc(s) => term(Scope::Bcc, s)?,
            SearchKey::Header(name, value) => {
                let name = text_of(name)?.to_ascii_lowercase();
                let scope = match name.as_str() {
                    "subject" => Scope::Subject,
                    "from" => Scope::From,
                    "to" => Scope::To,
                    "cc" => Scope::Cc,
                    "bcc" => Scope::Bcc,
                    _ => {
                        return Err(format!(
                            "[CANNOT] HEADER {name} is not searchable: the index keeps Subject, From, To, Cc and Bcc"
                        ));
                    }
                };
                term(scope, value)?
            }
            SearchKey::Larger(n) => Answer::Index(Node::Size(Cmp::Gt, u64::from(*n))),
            SearchKey::Smaller(n) => Answer::Index(Node::Size(Cmp::Lt, u64::from(*n))),
            SearchKey::Since(d) | SearchKey::SentSince(d) => by_date(Cmp::Ge, d)?,
            SearchKey::Before(d) | SearchKey::SentBefore(d) => by_date(Cmp::Lt, d)?,
            SearchKey::On(d) | SearchKey::SentOn(d) => by_date(Cmp::Eq, d)?,
            SearchKey::Not(k) => match self.key(k)? {
                Answer::Index(n) => Answer::Index(Node::Not(Box::new(n))),
                Answer::Bits(b) => Answer::Bits(b.into_iter().map(|x| !x).collect()),
            },
            SearchKey::Or(a, b) => match (self.key(a)?, self.key(b)?) {
                (Answer::Index(a), Answer::Index(b)) => Answer::Index(Node::Or(vec![a, b])),
                (a, b) => {
                    let (a, b) = (self.bits(a)?, self.bits(b)?);
                    Answer::Bits(a.into_iter().zip(b).map(|(x, y)| x || y).collect())
                }
            },
        })
    }

    fn uids_in(&self, set: &SequenceSet, largest: u32) -> Vec<bool> {
        self.messages
            .iter()
            .map(|(u, _)| contains(set, *u, largest))
            .collect()
    }
}

/// Which messages of the mailbox (by position) match every key. `Err` is the text of a NO.
pub fn search(
    state: &AppState,
    caller: &Caller,
    folder: Option<FolderId>,
    messages: &[(u32, MessageId)],
    keys: &[SearchKey<'_>],
) -> Result<Vec<bool>, String> {
    let ctx = Ctx {
        state,
        caller,
        folder,
        messages,
        position: messages
            .iter()
            .enumerate()
            .map(|(i, (_, id))| (*id, i))
            .collect(),
    };
    let answers = keys
        .iter()
        .map(|k| ctx.key(k))
        .collect::<Result<Vec<_>, _>>()?;
    let a = ctx.and(answers)?;
    ctx.bits(a)
}

/// SORT (RFC 5256): the matching messages' positions in the order the criteria give, from
/// each message's record (no message is opened). ARRIVAL and DATE are INTERNALDATE here;
/// FROM, TO and CC sort by the first address's mailbox part; SUBJECT by the subject without
/// reply and forward prefixes; ties go by sequence number.
pub fn sort(
    state: &AppState,
    messages: &[(u32, MessageId)],
    found: &[bool],
    criteria: &[SortCriterion],
) -> Result<Vec<usize>, String> {
    #[derive(PartialEq, PartialOrd)]
    enum K {
        N(i64),
        S(String),
    }
    let mailbox = |a: &[arkiv_message::Addr]| {
        a.first()
            .map(|a| a.address.split('@').next().unwrap_or("").to_lowercase())
            .unwrap_or_default()
    };
    let mut rows: Vec<(Vec<K>, usize)> = Vec::new();
    for (i, (_, id)) in messages.iter().enumerate() {
        if !found.get(i).copied().unwrap_or(false) {
            continue;
        }
        let rec = state
            .archive
            .store(id.store)
            .and_then(|s| Ok(s.message(id.num)?))
            .map_err(|e| format!("message {id}: {e}"))?;
        let sm = &rec.summary;
        let keys = criteria
            .iter()
            .map(|c| match c.key {
                SortKey::Arrival | SortKey::Date => K::N(sm.date.unwrap_or(rec.archived_at.0)),
                SortKey::Size => K::N(rec.size as i64),
                SortKey::Subject => K::S(arkiv_index::sortable_subject(
                    sm.subject.as_deref().unwrap_or(""),
                )),
                SortKey::From | SortKey::DisplayFrom => K::S(mailbox(&sm.from)),
                SortKey::To | SortKey::DisplayTo => K::S(mailbox(&sm.to)),
                SortKey::Cc => K::S(mailbox(&sm.cc)),
            })
            .collect();
        rows.push((keys, i));
    }
    rows.sort_by(|a, b| {
        for (k, c) in criteria.iter().enumerate() {
            let o = a.0[k]
                .partial_cmp(&b.0[k])
                .unwrap_or(std::cmp::Ordering::Equal);
            let o = if c.reverse { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        a.1.cmp(&b.1)
    });
    Ok(rows.into_iter().map(|r| r.1).collect())
}

/// `RETURN (...)` of an extended SEARCH (RFC 4731), taken out of the command so that the
/// rest decodes as a plain SEARCH: the command without it, and the options (upper-case;
/// empty means ALL).
pub fn split_return(cmd: &[u8]) -> Option<(Vec<u8>, Vec<String>)> {
    let upper = cmd.to_ascii_uppercase();
    let after_tag = upper.iter().position(|b| *b == b' ')? + 1;
    let mut at = after_tag;
    if upper[at..].starts_with(b"UID ") {
        at += 4;
    }
    if !upper[at..].starts_with(b"SEARCH ") {
        return None;
    }
    at += 7;
    if !upper[at..].starts_with(b"RETURN (") {
        return None;
    }
    let open = at + 7;
    let close = open + upper[open..].iter().position(|b| *b == b')')?;
    let opts = String::from_utf8_lossy(&upper[open + 1..close])
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let mut rest = cmd[..at].to_vec();
    let tail = &cmd[close + 1..];
    rest.extend_from_slice(tail.strip_prefix(b" ").unwrap_or(tail));
    Some((rest, opts))
}

/// `1:3,7` of ascending numbers.
fn compact(nums: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < nums.len() {
        let mut j = i;
        while j + 1 < nums.len() && nums[j + 1] == nums[j] + 1 {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if j > i {
            out.push_str(&format!("{}:{}", nums[i], nums[j]));
        } else {
            out.push_str(&nums[i].to_string());
        }
        i = j + 1;
    }
    out
}

/// The untagged answer: `* SEARCH ...`, or `* ESEARCH ...` when RETURN options were given.
pub fn answer(
    tag: &str,
    nums: &[u32],
    uid: bool,
    ret: Option<&[String]>,
) -> Result<String, String> {
    let Some(opts) = ret else {
        let mut out = String::from("* SEARCH");
        for n in nums {
            out.push_str(&format!(" {n}"));
        }
        out.push_str("\r\n");
        return Ok(out);
    };
    let mut out = format!("* ESEARCH (TAG \"{tag}\")");
    if uid {
        out.push_str(" UID");
    }
    let all = ["ALL".to_string()];
    let opts = if opts.is_empty() { &all[..] } else { opts };
    for o in opts {
        match o.as_str() {
            "MIN" => {
                if let Some(n) = nums.first() {
                    out.push_str(&format!(" MIN {n}"));
                }
            }
            "MAX" => {
                if let Some(n) = nums.last() {
                    out.push_str(&format!(" MAX {n}"));
                }
            }
            "COUNT" => out.push_str(&format!(" COUNT {}", nums.len())),
            "ALL" => {
                if !nums.is_empty() {
                    out.push_str(&format!(" ALL {}", compact(nums)));
                }
            }
            other => {
                return Err(format!(
                    "RETURN option {other} is not offered (MIN MAX COUNT ALL are)"
                ));
            }
        }
    }
    out.push_str("\r\n");
    Ok(out)
}

// ---- the commands ----

const BAD_CHARSET: &str = "only UTF-8 is offered";

fn charset_ok(c: &str) -> bool {
    ["UTF-8", "US-ASCII"]
        .iter()
        .any(|x| x.eq_ignore_ascii_case(c))
}

/// SEARCH and UID SEARCH (ESEARCH when `ret` holds RETURN options).
#[allow(clippy::too_many_arguments)]
pub fn search_command(
    st: &AppState,
    caller: &Caller,
    t: &Tag<'_>,
    selected: Option<&Selected>,
    charset: Option<&Charset<'_>>,
    criteria: &[SearchKey<'_>],
    uid: bool,
    ret: Option<&[String]>,
) -> Vec<u8> {
    let Some(sel) = selected else {
        return t.bad("select a mailbox first");
    };
    if charset.is_some_and(|c| !charset_ok(c.as_ref())) {
        return t.no_code("BADCHARSET (UTF-8 US-ASCII)", BAD_CHARSET);
    }
    let found = match search(st, caller, sel.folder, &sel.messages, criteria) {
        Ok(f) => f,
        Err(e) => return t.no(&e),
    };
    let nums: Vec<u32> = found
        .iter()
        .enumerate()
        .filter(|(_, f)| **f)
        .map(|(i, _)| if uid { sel.messages[i].0 } else { i as u32 + 1 })
        .collect();
    match answer(t.0, &nums, uid, ret) {
        Ok(line) => {
            let mut out = line.into_bytes();
            out.extend(t.ok("SEARCH completed (from the index)"));
            out
        }
        Err(e) => t.bad(&e),
    }
}

/// SORT and UID SORT.
#[allow(clippy::too_many_arguments)]
pub fn sort_command(
    st: &AppState,
    caller: &Caller,
    t: &Tag<'_>,
    selected: Option<&Selected>,
    charset: &Charset<'_>,
    criteria: &[SortCriterion],
    keys: &[SearchKey<'_>],
    uid: bool,
) -> Vec<u8> {
    let Some(sel) = selected else {
        return t.bad("select a mailbox first");
    };
    if !charset_ok(charset.as_ref()) {
        return t.no_code("BADCHARSET (UTF-8 US-ASCII)", BAD_CHARSET);
    }
    let sorted = search(st, caller, sel.folder, &sel.messages, keys)
        .and_then(|found| sort(st, &sel.messages, &found, criteria));
    match sorted {
        Ok(order) => {
            let mut out = String::from("* SORT");
            for i in order {
                let n = if uid { sel.messages[i].0 } else { i as u32 + 1 };
                out.push_str(&format!(" {n}"));
            }
            out.push_str("\r\n");
            let mut out = out.into_bytes();
            out.extend(t.ok("SORT completed"));
            out
        }
        Err(e) => t.no(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_options_are_taken_out() {
        let (rest, opts) = split_return(b"a1 UID SEARCH RETURN (MIN COUNT) FROM x\r\n").unwrap();
        assert_eq!(rest, b"a1 UID SEARCH FROM x\r\n");
        assert_eq!(opts, ["MIN", "COUNT"]);
        let (rest, opts) = split_return(b"a2 search return () ALL\r\n").unwrap();
        assert_eq!(rest, b"a2 search ALL\r\n");
        assert!(opts.is_empty());
        assert!(split_return(b"a3 SEARCH FROM x\r\n").is_none());
    }

    #[test]
    fn esearch_answers() {
        let r = |o: &[&str]| {
            let o: Vec<String> = o.iter().map(|s| s.to_string()).collect();
            answer("t", &[2, 3, 4, 9], true, Some(&o)).unwrap()
        };
        assert_eq!(r(&[]), "* ESEARCH (TAG \"t\") UID ALL 2:4,9\r\n");
        assert_eq!(
            r(&["MIN", "MAX", "COUNT"]),
            "* ESEARCH (TAG \"t\") UID MIN 2 MAX 9 COUNT 4\r\n"
        );
        assert_eq!(answer("t", &[], false, None).unwrap(), "* SEARCH\r\n");
    }

    #[test]
    fn days_are_utc() {
        let d: jiff::civil::Date = "2020-02-29".parse().unwrap();
        assert_eq!(day(&d).unwrap(), (1_582_934_400, 1_583_020_800));
    }
}
