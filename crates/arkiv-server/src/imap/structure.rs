//! A message's MIME structure as IMAP shows it (RFC 3501 §6.4.5, §7.4.2): the tree of parts
//! with each part's header and body as byte ranges of the original, ENVELOPE, BODY and
//! BODYSTRUCTURE, and the sections `BODY[1.2.MIME]` etc. name.
//!
//! Hand-written, on purpose: IMAP wants the header values *raw* (encoded words, quotes and
//! folding as written, only unfolded) and exact byte ranges of every part, nested messages
//! included. The MIME parser Arkiv archives with (mail-parser) decodes values and normalizes
//! structure for display and indexing, which is right there and wrong here. Dovecot is the
//! oracle for the output (`tests/it/imap_server.rs` compares every message).
//!
//! Bounded: parts nest at most [`MAX_DEPTH`] deep (deeper content is one opaque part) and a
//! message has at most [`MAX_PARTS`] parts (the rest is left in the last part's body), so a
//! hostile message costs time and memory in proportion to its size.

use std::fmt::Write as _;
use std::ops::Range;

/// How deep multiparts and nested messages may go before the rest is one opaque part.
pub const MAX_DEPTH: usize = 50;
/// How many parts one message may have.
pub const MAX_PARTS: usize = 5_000;

/// One header field: its name, its value (after the colon, folding included), and the whole
/// field as written (with its line ends).
#[derive(Clone, Copy, Debug)]
pub struct Field<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

/// The fields of a header block.
pub fn fields(header: &[u8]) -> Vec<Field<'_>> {
    let mut out: Vec<Field<'_>> = Vec::new();
    let mut i = 0;
    while i < header.len() {
        let end = header[i..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(header.len(), |p| i + p + 1);
        let line = &header[i..end];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            // A continuation of the field before it.
            if let Some(last) = out.last_mut() {
                let start = last.raw.as_ptr() as usize - header.as_ptr() as usize;
                let vstart = last.value.as_ptr() as usize - header.as_ptr() as usize;
                last.raw = &header[start..end];
                last.value = &header[vstart..end];
            }
        } else if let Some(colon) = line.iter().position(|b| *b == b':') {
            let name = trim(&line[..colon]);
            out.push(Field {
                name,
                value: &header[i + colon + 1..end],
                raw: line,
            });
        } else {
            // A line that is no field: kept (HEADER.FIELDS.NOT returns it, as Dovecot does),
            // named by itself, with no value.
            out.push(Field {
                name: trim(line),
                value: &header[end..end],
                raw: line,
            });
        }
        i = end;
    }
    out
}

fn trim(s: &[u8]) -> &[u8] {
    let s = match s.iter().position(|b| !b.is_ascii_whitespace()) {
        Some(p) => &s[p..],
        None => return &[],
    };
    let e = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    &s[..e]
}

/// A field's value unfolded (line ends removed, the tab that folded a line made a space,
/// as Dovecot does) and trimmed.
fn unfold(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut folded = false;
    for b in v {
        match *b {
            b'\r' => {}
            b'\n' => folded = true,
            b'\t' if folded => {
                out.push(b' ');
                folded = false;
            }
            x => {
                out.push(x);
                folded = false;
            }
        }
    }
    trim(&out).to_vec()
}

/// The first field of this name (case-insensitive): the MIME fields count by their first
/// occurrence, as in Dovecot.
fn first<'a>(fields: &[Field<'a>], name: &str) -> Option<Field<'a>> {
    fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
        .copied()
}

/// The last field of this name (case-insensitive): a repeated field counts as its last
/// occurrence, as in Dovecot.
fn last<'a>(fields: &[Field<'a>], name: &str) -> Option<Field<'a>> {
    fields
        .iter()
        .rev()
        .find(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
        .copied()
}

/// Where the header ends (after its blank line), or the whole input when it has none.
pub fn header_end(m: &[u8]) -> usize {
    let mut i = 0;
    while i < m.len() {
        let Some(p) = m[i..].iter().position(|b| *b == b'\n') else {
            return m.len();
        };
        let e = i + p + 1;
        let line = &m[i..e];
        if line == b"\r\n" || line == b"\n" {
            return e;
        }
        i = e;
    }
    m.len()
}

/// A header's parameters: (name, value) as written.
type Params = Vec<(Vec<u8>, Vec<u8>)>;

// ---- RFC 2045 / 5322 tokens ----

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// An atom (dots included: `a.b` is one token).
    Atom(Vec<u8>),
    /// A quoted string, unquoted.
    Quoted(Vec<u8>),
    /// A comment's text.
    Comment(Vec<u8>),
    /// A domain literal as written, brackets included.
    Literal(Vec<u8>),
    Special(u8),
}

/// Splits a header value into tokens; `specials` are the characters that stand alone.
fn tokens(v: &[u8], specials: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let c = v[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'"' {
            let mut s = Vec::new();
            i += 1;
            while i < v.len() && v[i] != b'"' {
                if v[i] == b'\\' && i + 1 < v.len() {
                    i += 1;
                }
                if v[i] != b'\r' && v[i] != b'\n' {
                    s.push(v[i]);
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Quoted(s));
        } else if c == b'(' {
            let (mut depth, mut s) = (0usize, Vec::new());
            while i < v.len() {
                match v[i] {
                    b'\\' if i + 1 < v.len() => {
                        i += 1;
                        s.push(v[i]);
                    }
                    b'(' => {
                        if depth > 0 {
                            s.push(b'(');
                        }
                        depth += 1;
                    }
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                        s.push(b')');
                    }
                    b'\r' | b'\n' => {}
                    x => s.push(x),
                }
                i += 1;
            }
            out.push(Tok::Comment(s));
        } else if c == b'[' && !specials.contains(&b'/') {
            let e = v[i..]
                .iter()
                .position(|b| *b == b']')
                .map_or(v.len(), |p| i + p + 1);
            out.push(Tok::Literal(v[i..e].to_vec()));
            i = e;
        } else if specials.contains(&c) {
            out.push(Tok::Special(c));
            i += 1;
        } else {
            let s = i;
            while i < v.len()
                && !v[i].is_ascii_whitespace()
                && !specials.contains(&v[i])
                && !matches!(v[i], b'"' | b'(')
            {
                i += 1;
            }
            out.push(Tok::Atom(v[s..i].to_vec()));
        }
    }
    out
}

/// `type/subtype; a=b; c="d"` (Content-Type, Content-Disposition): the value before the
/// first `;` and the parameters as written, RFC 2231 continuations joined (see [`rfc2231`]).
fn params_of(v: &[u8]) -> (Vec<u8>, Params) {
    let toks = tokens(v, b"()<>@,;:\\\"/[]?=");
    let mut head = Vec::new();
    let mut i = 0;
    while i < toks.len() && toks[i] != Tok::Special(b';') {
        match &toks[i] {
            Tok::Atom(a) | Tok::Quoted(a) => head.extend_from_slice(a),
            Tok::Special(c) => head.push(*c),
            _ => {}
        }
        i += 1;
    }
    let mut params = Vec::new();
    while i < toks.len() {
        // At a `;`: name = value.
        i += 1;
        let name = match toks.get(i) {
            Some(Tok::Atom(a)) => a.clone(),
            _ => continue,
        };
        if toks.get(i + 1) != Some(&Tok::Special(b'=')) {
            continue;
        }
        let value = match toks.get(i + 2) {
            Some(Tok::Atom(a)) | Some(Tok::Quoted(a)) => a.clone(),
            _ => continue,
        };
        params.push((name, value));
        i += 3;
        while i < toks.len() && toks[i] != Tok::Special(b';') {
            i += 1;
        }
    }
    (head, rfc2231(params))
}

/// RFC 2231 parameters as Dovecot shows them: plain ones first, in their order; then the
/// extended ones (`name*`, `name*0*`, `name*1`…) joined per name (segments in number order,
/// the name with `*` when any segment is encoded), sorted by name. Values are not decoded.
fn rfc2231(params: Params) -> Params {
    let mut plain = Vec::new();
    // base name -> (segment number, encoded, value)
    type Segment = (u32, bool, Vec<u8>);
    let mut ext: std::collections::BTreeMap<Vec<u8>, Vec<Segment>> = Default::default();
    for (n, v) in params {
        let Some(star) = n.iter().position(|b| *b == b'*') else {
            plain.push((n, v));
            continue;
        };
        let (base, rest) = (n[..star].to_vec(), &n[star + 1..]);
        let (num, encoded) = match rest {
            b"" => (0, true),
            r => {
                let (digits, enc) = match r.strip_suffix(b"*") {
                    Some(d) => (d, true),
                    None => (r, false),
                };
                match std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse().ok())
                {
                    Some(k) => (k, enc),
                    None => {
                        plain.push((n.clone(), v));
                        continue;
                    }
                }
            }
        };
        ext.entry(base).or_default().push((num, encoded, v));
    }
    for (base, mut segs) in ext {
        segs.sort_by_key(|s| s.0);
        let encoded = segs.iter().any(|s| s.1);
        let mut name = base;
        if encoded {
            name.push(b'*');
        }
        plain.push((name, segs.into_iter().flat_map(|s| s.2).collect()));
    }
    plain
}

// ---- IMAP output ----

/// An IMAP string: quoted when it can be, a literal when it holds 8-bit or control bytes.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    if s.iter().any(|b| *b >= 0x80 || *b < 0x20 || *b == 0x7f) {
        let _ = write!(Wr(out), "{{{}}}\r\n", s.len());
        out.extend_from_slice(s);
    } else {
        out.push(b'"');
        for b in s {
            if matches!(b, b'"' | b'\\') {
                out.push(b'\\');
            }
            out.push(*b);
        }
        out.push(b'"');
    }
}

fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

struct Wr<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Wr<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

// ---- addresses ----

/// One address of an ENVELOPE: `(name adl mailbox host)`; a group is opened by
/// `(NIL NIL name NIL)` and closed by `(NIL NIL NIL NIL)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Address {
    pub name: Option<Vec<u8>>,
    pub adl: Option<Vec<u8>>,
    pub mailbox: Option<Vec<u8>>,
    pub host: Option<Vec<u8>>,
}

fn join_words(words: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, w) in words.iter().enumerate() {
        if k > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(w);
    }
    out
}

/// An RFC 5322 address list, leniently: what a header says, as IMAP's ENVELOPE wants it
/// (names not decoded). A missing local part or domain is filled as Dovecot does.
pub fn addresses(v: &[u8]) -> Vec<Address> {
    let toks = tokens(v, b"()<>@,;:\\\".[]");
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_group = false;
    while i < toks.len() {
        // One mailbox or group start: words up to `<`, `:`, `@`, `,`, `;` or the end.
        let mut words: Vec<Vec<u8>> = Vec::new();
        let mut local = Vec::new();
        let mut comment: Option<Vec<u8>> = None;
        let mut saw_at = false;
        let mut host = Vec::new();
        let mut dotted = false;
        while i < toks.len() {
            match &toks[i] {
                Tok::Atom(a) | Tok::Quoted(a) => {
                    words.push(a.clone());
                    if dotted || local.is_empty() {
                        local.extend_from_slice(&quote_local(&toks[i]));
                    } else {
                        local = quote_local(&toks[i]);
                    }
                    dotted = false;
                }
                Tok::Special(b'.') => {
                    local.push(b'.');
                    dotted = true;
                    if let Some(w) = words.last_mut() {
                        w.push(b'.');
                    }
                }
                Tok::Comment(c) => {
                    if comment.is_none() {
                        comment = Some(c.clone());
                    }
                }
                _ => break,
            }
            i += 1;
        }
        let mut emitted = false;
        match toks.get(i) {
            Some(Tok::Special(b':')) if !in_group => {
                out.push(Address {
                    mailbox: Some(join_words(&words)),
                    ..Default::default()
                });
                in_group = true;
                i += 1;
                continue;
            }
            Some(Tok::Special(b'<')) => {
                i += 1;
                let name = if words.is_empty() {
                    None
                } else {
                    Some(join_words(&words))
                };
                // [route ":"] local "@" domain ">"
                let mut adl = Vec::new();
                let mut part = Vec::new();
                let mut at = false;
                let mut dom = Vec::new();
                while i < toks.len() && toks[i] != Tok::Special(b'>') {
                    match &toks[i] {
                        Tok::Special(b'@') if part.is_empty() && !at => {
                            // A route: @a,@b:
                            while i < toks.len() && toks[i] != Tok::Special(b':') {
                                match &toks[i] {
                                    Tok::Atom(a) => adl.extend_from_slice(a),
                                    Tok::Special(c) => adl.push(*c),
                                    Tok::Literal(l) => adl.extend_from_slice(l),
                                    _ => {}
                                }
                                i += 1;
                            }
                        }
                        Tok::Special(b'@') => at = true,
                        Tok::Atom(_) | Tok::Quoted(_) if !at => {
                            part.extend_from_slice(&quote_local(&toks[i]))
                        }
                        Tok::Special(b'.') if !at => part.push(b'.'),
                        Tok::Atom(a) | Tok::Literal(a) => dom.extend_from_slice(a),
                        Tok::Special(b'.') => dom.push(b'.'),
                        _ => {}
                    }
                    i += 1;
                }
                i += 1; // '>'
                out.push(Address {
                    name: name.or(comment.take()),
                    adl: (!adl.is_empty()).then_some(adl),
                    mailbox: Some(if part.is_empty() {
                        b"MISSING_MAILBOX".to_vec()
                    } else {
                        part
                    }),
                    host: Some(if dom.is_empty() {
                        b"MISSING_DOMAIN".to_vec()
                    } else {
                        dom
                    }),
                });
                emitted = true;
                // Anything after `>` up to the separator (comments) is skipped.
                while i < toks.len() && !matches!(toks[i], Tok::Special(b',' | b';')) {
                    i += 1;
                }
            }
            Some(Tok::Special(b'@')) => {
                saw_at = true;
                i += 1;
                while i < toks.len() {
                    match &toks[i] {
                        Tok::Atom(a) | Tok::Literal(a) => host.extend_from_slice(a),
                        Tok::Special(b'.') => host.push(b'.'),
                        Tok::Comment(c) => {
                            if comment.is_none() {
                                comment = Some(c.clone());
                            }
                        }
                        _ => break,
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        if !emitted && !saw_at && words.len() == 1 {
            // One word and no address: a mailbox without a domain, as Dovecot shows it.
            out.push(Address {
                name: comment.take(),
                adl: None,
                mailbox: Some(words.remove(0)),
                host: Some(b"MISSING_DOMAIN".to_vec()),
            });
        } else if !emitted && !saw_at && !words.is_empty() {
            // Words and no address: a name without a mailbox, as Dovecot shows it.
            out.push(Address {
                name: Some(join_words(&words)),
                adl: None,
                mailbox: Some(b"MISSING_MAILBOX".to_vec()),
                host: Some(b"MISSING_DOMAIN".to_vec()),
            });
        } else if !emitted && saw_at {
            out.push(Address {
                name: comment,
                adl: None,
                mailbox: Some(local),
                host: Some(if host.is_empty() {
                    b"MISSING_DOMAIN".to_vec()
                } else {
                    host
                }),
            });
        }
        // The separator.
        match toks.get(i) {
            Some(Tok::Special(b';')) => {
                if in_group {
                    out.push(Address::default());
                    in_group = false;
                }
                i += 1;
            }
            Some(_) => i += 1,
            None => {}
        }
    }
    if in_group {
        out.push(Address::default());
    }
    out
}

/// A local part as written: a quoted one keeps its quotes.
fn quote_local(t: &Tok) -> Vec<u8> {
    match t {
        Tok::Quoted(q) => {
            let mut v = vec![b'"'];
            v.extend_from_slice(q);
            v.push(b'"');
            v
        }
        Tok::Atom(a) => a.clone(),
        _ => Vec::new(),
    }
}

fn address_list(out: &mut Vec<u8>, v: Option<&[u8]>) {
    let list = v.map(addresses).unwrap_or_default();
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        nstring(out, a.name.as_deref());
        out.push(b' ');
        nstring(out, a.adl.as_deref());
        out.push(b' ');
        nstring(out, a.mailbox.as_deref());
        out.push(b' ');
        nstring(out, a.host.as_deref());
        out.push(b')');
    }
    out.push(b')');
}

/// ENVELOPE of a header block.
pub fn envelope(out: &mut Vec<u8>, header: &[u8]) {
    let f = fields(header);
    let val = |n: &str| {
        last(&f, n)
            .map(|x| unfold(x.value))
            .filter(|v| !v.is_empty())
    };
    out.push(b'(');
    nstring(out, val("date").as_deref());
    out.push(b' ');
    nstring(out, val("subject").as_deref());
    // An address field given more than once counts with all its addresses, as in Dovecot.
    let addrs = |n: &str| {
        let all: Vec<Vec<u8>> = f
            .iter()
            .filter(|x| x.name.eq_ignore_ascii_case(n.as_bytes()))
            .map(|x| unfold(x.value))
            .filter(|v| !v.is_empty())
            .collect();
        (!all.is_empty()).then(|| all.join(&b","[..]))
    };
    let from = addrs("from");
    for (k, name) in ["from", "sender", "reply-to", "to", "cc", "bcc"]
        .iter()
        .enumerate()
    {
        out.push(b' ');
        let v = match (k, addrs(name)) {
            (1 | 2, None) => from.clone(),
            (_, v) => v,
        };
        address_list(out, v.as_deref());
    }
    out.push(b' ');
    nstring(out, val("in-reply-to").as_deref());
    out.push(b' ');
    nstring(out, val("message-id").as_deref());
    out.push(b')');
}

// ---- the part tree ----

/// One MIME part: where its header and body are in the message, and what it contains.
#[derive(Debug)]
pub struct Part {
    /// The part's header block (for the message itself: the message header), with its
    /// blank line.
    pub header: Range<usize>,
    pub body: Range<usize>,
    pub kind: Kind,
}

#[derive(Debug)]
pub enum Kind {
    /// Not a container (or too deep to look into).
    Leaf,
    /// A multipart's parts.
    Multipart(Vec<Part>),
    /// A `message/rfc822` part's message.
    Message(Box<Part>),
}

/// Parses a whole message.
pub fn parse(m: &[u8]) -> Part {
    let mut p = Parser {
        m,
        stack: Vec::new(),
        budget: MAX_PARTS,
    };
    p.part(0, false, 0).0
}

fn content_type(header: &[u8], digest: bool) -> (Vec<u8>, Vec<u8>, Params) {
    let f = fields(header);
    let default = || {
        if digest {
            (b"message".to_vec(), b"rfc822".to_vec(), Vec::new())
        } else {
            (
                b"text".to_vec(),
                b"plain".to_vec(),
                vec![(b"charset".to_vec(), b"us-ascii".to_vec())],
            )
        }
    };
    let Some(ct) = first(&f, "content-type") else {
        return default();
    };
    // `type/subtype` and then `;` or nothing; anything else is no type at all (Dovecot
    // answers empty strings and no parameters).
    let toks: Vec<Tok> = tokens(ct.value, b"()<>@,;:\\\"/[]?=")
        .into_iter()
        .filter(|t| !matches!(t, Tok::Comment(_)))
        .collect();
    let (t, s) = match &toks[..] {
        [Tok::Atom(t), Tok::Special(b'/'), Tok::Atom(s), rest @ ..]
            if rest.is_empty() || rest[0] == Tok::Special(b';') =>
        {
            (t.clone(), s.clone())
        }
        _ => return (Vec::new(), Vec::new(), Vec::new()),
    };
    let (_, mut params) = params_of(ct.value);
    // A text part without a charset is us-ascii (RFC 2045 §5.2), as Dovecot says.
    if t.eq_ignore_ascii_case(b"text")
        && !params
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(b"charset"))
    {
        params.push((b"charset".to_vec(), b"us-ascii".to_vec()));
    }
    (t, s, params)
}

/// A multipart's boundary parameter (plain, not RFC 2231-encoded), when not empty.
fn boundary_of(params: &Params) -> Option<Vec<u8>> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(b"boundary"))
        .map(|(_, b)| b.clone())
        .filter(|b| !b.is_empty())
}

/// Splits a message into parts the way Dovecot's parser does: line by line, with the
/// boundaries of the enclosing multiparts on a stack. A line that starts with `--` and a
/// boundary is a delimiter of the multipart with the longest such boundary (the innermost
/// of equal ones); a delimiter of an outer one ends every part inside it. The line end before a delimiter
/// belongs to the delimiter (RFC 2046 §5.1.1).
struct Parser<'a> {
    m: &'a [u8],
    stack: Vec<Vec<u8>>,
    budget: usize,
}

impl Parser<'_> {
    /// The end of the line starting at `i` (after its LF).
    fn line_end(&self, i: usize) -> usize {
        self.m[i..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(self.m.len(), |p| i + p + 1)
    }

    /// Which boundary on the stack the line at `i` is a delimiter of, and whether it is the
    /// closing one.
    fn delimiter(&self, i: usize) -> Option<(usize, bool)> {
        let line = &self.m[i..self.line_end(i)];
        let rest = line.strip_prefix(b"--")?;
        // The longest boundary the line starts with; of equal ones the innermost (a nested
        // multipart may reuse its parent's boundary). Dovecot's rule.
        self.stack
            .iter()
            .enumerate()
            .filter(|(_, b)| rest.starts_with(b))
            .max_by_key(|(k, b)| (b.len(), *k))
            .map(|(k, b)| (k, rest[b.len()..].starts_with(b"--")))
    }

    /// Where content ends when the line at `next` is a delimiter: before that line's
    /// preceding line end (never before `floor`).
    fn before(&self, next: usize, floor: usize) -> usize {
        if next >= self.m.len() {
            return self.m.len().max(floor);
        }
        let mut e = next;
        if e > floor && self.m[e - 1] == b'\n' {
            e -= 1;
            if e > floor && self.m[e - 1] == b'\r' {
                e -= 1;
            }
        }
        e.max(floor)
    }

    /// The first line at or after `i` that is a delimiter of any enclosing multipart (or the
    /// end of the message).
    fn next_delimiter(&self, mut i: usize) -> usize {
        if self.stack.is_empty() {
            return self.m.len();
        }
        while i < self.m.len() {
            if self.delimiter(i).is_some() {
                return i;
            }
            i = self.line_end(i);
        }
        self.m.len()
    }

    /// The part starting at `start`, and where the delimiter line that ended it starts (the
    /// message's end when none did).
    fn part(&mut self, start: usize, digest: bool, depth: usize) -> (Part, usize) {
        self.budget = self.budget.saturating_sub(1);
        // The header: up to its blank line, or a delimiter line when it has none (then the
        // line end before it is the delimiter's and the body is empty, as in Dovecot).
        let mut i = start;
        let mut header_stop = self.m.len();
        let mut ct = None;
        let mut body_start = self.m.len();
        while i < self.m.len() {
            let e = self.line_end(i);
            let line = &self.m[i..e];
            if !self.stack.is_empty() && self.delimiter(i).is_some() {
                header_stop = self.before(i, start);
                body_start = i;
                break;
            }
            if line == b"\r\n" || line == b"\n" {
                // A blank line right before an enclosing multipart's delimiter is that
                // delimiter's line end: the header ends before it and the body is empty
                // (Dovecot). A delimiter of this part's own boundary does not count.
                header_stop = e;
                body_start = e;
                if !self.stack.is_empty() && e < self.m.len() {
                    let parsed = content_type(&self.m[start..e], digest);
                    let outer = self.stack.len();
                    if let Some(b) = boundary_of(&parsed.2) {
                        self.stack.push(b);
                    }
                    ct = Some(parsed);
                    let hit = self.delimiter(e).filter(|(k, _)| *k < outer);
                    self.stack.truncate(outer);
                    if hit.is_some() {
                        header_stop = i;
                    }
                }
                break;
            }
            i = e;
        }
        let header = start..header_stop;
        // Parsed once: at the blank line already, or here.
        let (t, s, params) = ct.unwrap_or_else(|| content_type(&self.m[header.clone()], digest));
        let deep = depth >= MAX_DEPTH || self.budget == 0;
        let boundary = boundary_of(&params);
        if !deep && t.eq_ignore_ascii_case(b"multipart") {
            let digest = s.eq_ignore_ascii_case(b"digest");
            let mut children = Vec::new();
            let (body, end) = match boundary {
                None => {
                    // No boundary: no parts (the body runs to an outer delimiter).
                    let end = self.next_delimiter(body_start);
                    (body_start..self.before(end, body_start), end)
                }
                Some(b) => {
                    self.stack.push(b);
                    let mine = self.stack.len() - 1;
                    let mut i = body_start;
                    // The preamble, then a part after each delimiter, until the closing
                    // delimiter or an outer one.
                    let r = loop {
                        let next = self.next_delimiter(i);
                        if next >= self.m.len() {
                            break (body_start..self.m.len(), next);
                        }
                        match self.delimiter(next) {
                            Some((k, false)) if k == mine && self.budget > 0 => {
                                let (child, after) =
                                    self.part(self.line_end(next), digest, depth + 1);
                                children.push(child);
                                i = after;
                            }
                            Some((k, true)) if k == mine => {
                                // The epilogue runs to an outer delimiter; the close line
                                // keeps its line end when the epilogue is empty.
                                let after = self.line_end(next);
                                self.stack.truncate(mine);
                                let end = self.next_delimiter(after);
                                let stop = if end == after {
                                    after
                                } else {
                                    self.before(end, after)
                                };
                                break (body_start..stop, end);
                            }
                            // Ended by an outer delimiter: this body ends where its
                            // last part's does (Dovecot).
                            _ => {
                                let stop = children.last().map_or_else(
                                    || self.before(next, body_start),
                                    |c: &Part| c.body.end,
                                );
                                break (body_start..stop, next);
                            }
                        }
                    };
                    self.stack.truncate(mine);
                    r
                }
            };
            let body = body.start.min(self.m.len())..body.end.max(body.start);
            if children.is_empty() {
                // Dovecot shows a multipart without parts as one empty part.
                children.push(Part {
                    header: body.end..body.end,
                    body: body.end..body.end,
                    kind: Kind::Leaf,
                });
            }
            return (
                Part {
                    header,
                    body,
                    kind: Kind::Multipart(children),
                },
                end,
            );
        }
        if !deep && t.eq_ignore_ascii_case(b"message") && s.eq_ignore_ascii_case(b"rfc822") {
            let (inner, end) = self.part(body_start, false, depth + 1);
            let body = body_start..inner.body.end.max(body_start);
            return (
                Part {
                    header,
                    body,
                    kind: Kind::Message(Box::new(inner)),
                },
                end,
            );
        }
        let end = self.next_delimiter(body_start);
        let body = body_start..self.before(end, body_start);
        (
            Part {
                header,
                body,
                kind: Kind::Leaf,
            },
            end,
        )
    }
}

/// Lines of a body as Dovecot counts them: its line feeds (an unterminated last line does
/// not count).
fn lines(b: &[u8]) -> usize {
    b.iter().filter(|c| **c == b'\n').count()
}

fn params_list(out: &mut Vec<u8>, params: &[(Vec<u8>, Vec<u8>)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (k, (n, v)) in params.iter().enumerate() {
        if k > 0 {
            out.push(b' ');
        }
        string(out, n);
        out.push(b' ');
        string(out, v);
    }
    out.push(b')');
}

/// BODYSTRUCTURE (`extended`) or BODY of a part.
pub fn bodystructure(out: &mut Vec<u8>, m: &[u8], p: &Part, extended: bool, digest: bool) {
    let hb = &m[p.header.clone()];
    let f = fields(hb);
    let val = |n: &str| {
        first(&f, n)
            .map(|x| unfold(x.value))
            .filter(|v| !v.is_empty())
    };
    let (t, s, params) = content_type(hb, digest);
    let ext_tail = |out: &mut Vec<u8>| {
        // disposition, language, location
        out.push(b' ');
        match first(&f, "content-disposition") {
            Some(d) => {
                let (kind, dparams) = params_of(d.value);
                if kind.is_empty() {
                    out.extend_from_slice(b"NIL");
                } else {
                    out.push(b'(');
                    string(out, &kind);
                    out.push(b' ');
                    params_list(out, &dparams);
                    out.push(b')');
                }
            }
            None => out.extend_from_slice(b"NIL"),
        }
        out.push(b' ');
        let langs: Vec<Vec<u8>> = val("content-language")
            .map(|v| {
                tokens(&v, b",")
                    .into_iter()
                    .filter_map(|t| match t {
                        Tok::Atom(a) => Some(a),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        match langs.len() {
            0 => out.extend_from_slice(b"NIL"),
            _ => {
                out.push(b'(');
                for (k, l) in langs.iter().enumerate() {
                    if k > 0 {
                        out.push(b' ');
                    }
                    string(out, l);
                }
                out.push(b')');
            }
        }
        out.push(b' ');
        nstring(out, val("content-location").as_deref());
    };
    out.push(b'(');
    match &p.kind {
        Kind::Multipart(children) if !children.is_empty() => {
            let digest = s.eq_ignore_ascii_case(b"digest");
            for c in children {
                bodystructure(out, m, c, extended, digest);
            }
            out.push(b' ');
            string(out, &s);
            if extended {
                out.push(b' ');
                params_list(out, &params);
                ext_tail(out);
            }
        }
        kind => {
            if matches!(kind, Kind::Message(_)) {
                // Dovecot writes this type in lower case whatever the header says.
                out.extend_from_slice(b"\"message\" \"rfc822\"");
            } else {
                string(out, &t);
                out.push(b' ');
                string(out, &s);
            }
            out.push(b' ');
            params_list(out, &params);
            out.push(b' ');
            nstring(out, val("content-id").as_deref());
            out.push(b' ');
            nstring(out, val("content-description").as_deref());
            out.push(b' ');
            // One token, or the default (Dovecot: `8 bit` is no encoding).
            let enc = val("content-transfer-encoding")
                .and_then(|v| {
                    let toks: Vec<Tok> = tokens(&v, b"()<>@,;:\\\"/[]?=")
                        .into_iter()
                        .filter(|t| !matches!(t, Tok::Comment(_)))
                        .collect();
                    match &toks[..] {
                        [Tok::Atom(a)] => Some(a.clone()),
                        _ => None,
                    }
                })
                .unwrap_or_else(|| b"7bit".to_vec());
            string(out, &enc);
            let body = &m[p.body.clone()];
            let _ = write!(Wr(out), " {}", body.len());
            if let Kind::Message(inner) = kind {
                out.push(b' ');
                envelope(out, &m[inner.header.clone()]);
                out.push(b' ');
                bodystructure(out, m, inner, extended, false);
                let _ = write!(Wr(out), " {}", lines(body));
            } else if t.eq_ignore_ascii_case(b"text") {
                let _ = write!(Wr(out), " {}", lines(body));
            }
            if extended {
                out.push(b' ');
                nstring(out, val("content-md5").as_deref());
                ext_tail(out);
            }
        }
    }
    out.push(b')');
}

// ---- sections ----

/// What of a part a section asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    /// `BODY[]` / `BODY[1.2]`: the whole message, or a part's body.
    Content,
    Header,
    /// HEADER.FIELDS (names), or HEADER.FIELDS.NOT with `not`.
    HeaderFields {
        names: Vec<Vec<u8>>,
        not: bool,
    },
    Text,
    Mime,
}

/// The bytes a section names, or `None` when the message has no such part (answered as an
/// empty string, as Dovecot does).
pub fn section(m: &[u8], root: &Part, path: &[u32], what: &What) -> Option<Vec<u8>> {
    // The part the path names; `msg` is the message a HEADER/TEXT applies to.
    let mut cur = root;
    for (k, n) in path.iter().enumerate() {
        let n = *n as usize;
        let container = if k == 0 {
            cur
        } else {
            match &cur.kind {
                Kind::Message(inner) => inner,
                Kind::Multipart(_) => cur,
                Kind::Leaf => return None,
            }
        };
        cur = match &container.kind {
            Kind::Multipart(children) if !children.is_empty() => children.get(n.checked_sub(1)?)?,
            _ if n == 1 => container,
            _ => return None,
        };
    }
    fn message(p: &Part, top: bool) -> Option<&Part> {
        match &p.kind {
            _ if top => Some(p),
            Kind::Message(inner) => Some(inner),
            _ => None,
        }
    }
    let top = path.is_empty();
    Some(match what {
        What::Content if path.is_empty() => m.to_vec(),
        What::Content => m[cur.body.clone()].to_vec(),
        What::Mime => m[cur.header.clone()].to_vec(),
        What::Header => m[message(cur, top)?.header.clone()].to_vec(),
        What::Text => m[message(cur, top)?.body.clone()].to_vec(),
        What::HeaderFields { names, not } => {
            let h = &m[message(cur, top)?.header.clone()];
            let mut out = Vec::new();
            for f in fields(h) {
                let named = names.iter().any(|n| n.eq_ignore_ascii_case(f.name));
                if named != *not {
                    out.extend_from_slice(f.raw);
                }
            }
            // The blank line ends the subset, unless the header had none and nothing
            // matched (Dovecot).
            let blank =
                h.ends_with(b"\n\n") || h.ends_with(b"\n\r\n") || h == b"\r\n" || h == b"\n";
            if blank || !out.is_empty() {
                out.extend_from_slice(b"\r\n");
            }
            out
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(h: &str) -> String {
        let mut out = Vec::new();
        envelope(&mut out, h.as_bytes());
        String::from_utf8(out).unwrap()
    }

    fn bs(m: &str) -> String {
        let mut out = Vec::new();
        bodystructure(&mut out, m.as_bytes(), &parse(m.as_bytes()), true, false);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn envelopes_keep_values_raw() {
        assert_eq!(
            env("From: \"Doe, J\" <j@x.org>\r\nSubject: =?utf-8?q?hi?=\r\n  there\r\n\r\n"),
            "(NIL \"=?utf-8?q?hi?=  there\" ((\"Doe, J\" NIL \"j\" \"x.org\")) ((\"Doe, J\" NIL \"j\" \"x.org\")) ((\"Doe, J\" NIL \"j\" \"x.org\")) NIL NIL NIL NIL NIL)"
        );
        let a = addresses(b"undisclosed-recipients:;");
        assert_eq!(a.len(), 2);
        assert_eq!(
            a[0].mailbox.as_deref(),
            Some(&b"undisclosed-recipients"[..])
        );
        let a = addresses(b"a@b.c (Ann), <@r1,@r2:x@y>, Team: p@q, r@s;");
        assert_eq!(a[0].name.as_deref(), Some(&b"Ann"[..]));
        assert_eq!(a[1].adl.as_deref(), Some(&b"@r1,@r2"[..]));
        assert_eq!(a[1].mailbox.as_deref(), Some(&b"x"[..]));
        assert_eq!(a.len(), 2 + 4);
        let a = addresses(b"linuxuser-admin@www.linux.org.uk,\r\n postmaster@z.com");
        assert_eq!(a.len(), 2, "{a:?}");
    }

    #[test]
    fn parts_and_sections() {
        let m = "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\npre\r\n--b\r\n\r\none\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ninner\r\n--b--\r\nepi";
        let root = parse(m.as_bytes());
        let s = |p: &[u32], w: What| {
            String::from_utf8(section(m.as_bytes(), &root, p, &w).unwrap()).unwrap()
        };
        assert_eq!(s(&[1], What::Content), "one");
        assert_eq!(s(&[2], What::Content), "Subject: in\r\n\r\ninner");
        assert_eq!(s(&[2], What::Header), "Subject: in\r\n\r\n");
        assert_eq!(s(&[2], What::Text), "inner");
        assert_eq!(s(&[2, 1], What::Content), "inner");
        assert_eq!(s(&[2], What::Mime), "Content-Type: message/rfc822\r\n\r\n");
        assert!(section(m.as_bytes(), &root, &[3], &What::Content).is_none());
        assert_eq!(
            s(
                &[],
                What::HeaderFields {
                    names: vec![b"content-type".to_vec()],
                    not: true
                }
            ),
            "\r\n"
        );
        assert!(bs(m).starts_with("((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 20 (NIL \"in\""), "{}", bs(m));
    }

    /// Mutations of a nested message (bytes changed, cut, repeated): the walker never
    /// panics, and every part and section lies inside the message.
    #[test]
    fn mutated_messages_stay_in_bounds() {
        let base = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y\r\nContent-Type: multipart/alternative; boundary=ab\r\n\r\n--ab\r\n\r\none\r\n--ab--\r\n--a\r\nContent-Type: text/plain\r\n\r\ntwo\r\n--a--\r\n";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        fn check(p: &Part, len: usize) {
            assert!(p.header.start <= p.header.end && p.header.end <= len);
            assert!(p.body.start <= p.body.end && p.body.end <= len);
            match &p.kind {
                Kind::Multipart(c) => c.iter().for_each(|c| check(c, len)),
                Kind::Message(m) => check(m, len),
                Kind::Leaf => {}
            }
        }
        for _ in 0..3000 {
            let mut m = base.to_vec();
            for _ in 0..(next() % 6 + 1) {
                let at = (next() as usize) % m.len().max(1);
                match next() % 4 {
                    0 => m[at] = b"-\r\n:;=\"a"[(next() % 8) as usize],
                    1 => m.truncate(at),
                    2 => {
                        let piece = m[at..(at + 8).min(m.len())].to_vec();
                        m.splice(at..at, piece);
                    }
                    _ => {
                        m.remove(at.min(m.len().saturating_sub(1)));
                    }
                }
                if m.is_empty() {
                    m.push(b'x');
                }
            }
            let root = parse(&m);
            check(&root, m.len());
            let mut out = Vec::new();
            bodystructure(&mut out, &m, &root, true, false);
            envelope(&mut out, &m[..header_end(&m)]);
            for path in [&[][..], &[1], &[2], &[1, 1], &[1, 1, 1], &[2, 1]] {
                for what in [What::Content, What::Header, What::Text, What::Mime] {
                    if let Some(s) = section(&m, &root, path, &what) {
                        assert!(s.len() <= m.len() + 2);
                    }
                }
            }
        }
    }

    #[test]
    fn hostile_nesting_is_bounded() {
        let mut m = String::new();
        for _ in 0..10_000 {
            m.push_str("Content-Type: message/rfc822\r\n\r\n");
        }
        let mut out = Vec::new();
        bodystructure(&mut out, m.as_bytes(), &parse(m.as_bytes()), true, false);
        assert!(!out.is_empty());
    }
}
