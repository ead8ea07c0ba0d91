//! Splits the bytes an IMAP client sends into complete commands, before any parsing (sans-IO:
//! the connection pushes bytes in and acts on the [`Event`]s that come out).
//!
//! A command is a line, unless the line ends in a literal announcement `{N}` (or `{N+}`,
//! LITERAL+): then exactly N bytes of literal data follow, then the rest of the command, which
//! may announce another. For a synchronizing literal the client waits for a continuation
//! request (`+ …`) before sending the data: the framer says when ([`Event::Continue`]), and
//! refuses a literal over the limit *at its announcement*, before any of its bytes are read
//! ([`Event::Refused`] with `fatal: false`: the client did not send it, so the connection is
//! still in step and the next line is the next command). A non-synchronizing literal over the
//! limit follows its announcement at once, so the connection cannot be kept in step without
//! reading it: refused with `fatal: true` (the server answers BYE and closes).
//!
//! Limits bound what one command may hold in memory: the longest line, the largest literal,
//! the whole command, and the nesting of parentheses (counted outside quoted strings and
//! literal data), so a decoder never sees a command deep enough to exhaust its stack. A line
//! longer than the limit is fatal too: where its command ends is unknown.
//!
//! Why not `imap_codec::fragmentizer::Fragmentizer`: its one size limit reads an oversized
//! message to its end and drops it, and it does not count nesting. The client side
//! (`arkiv_mailclient::imap::frame`) made the same choice for responses.

/// What one command may hold.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest line (without literal data), including its line end.
    pub max_line: usize,
    /// Largest literal a command may carry (a read-only server needs small ones: a password,
    /// a search string).
    pub max_literal: u64,
    /// Largest command: lines and literal data together.
    pub max_command: usize,
    /// Deepest nesting of parentheses.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line: 64 * 1024,
            max_literal: 64 * 1024,
            max_command: 256 * 1024,
            max_depth: 64,
        }
    }
}

/// What the connection does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete command, as sent (lines and literal data).
    Command(Vec<u8>),
    /// A synchronizing literal within the limits was announced: send a continuation request.
    Continue,
    /// The command is refused: answer `tag BAD reason` (or `* BAD` without a tag). When
    /// `fatal`, send `* BYE reason` and close: the input cannot be followed any more.
    Refused {
        tag: Option<Vec<u8>>,
        reason: String,
        fatal: bool,
    },
}

/// The framing state machine.
#[derive(Default)]
pub struct Framer {
    limits: Limits,
    input: Vec<u8>,
    /// Start of the unconsumed input.
    pos: usize,
    /// The command being assembled.
    cur: Vec<u8>,
    /// Literal bytes still to come.
    need: u64,
    /// Parenthesis depth so far in the command, and whether a quoted string is open.
    depth: usize,
    quoted: bool,
    /// After a fatal refusal nothing more is framed.
    broken: bool,
}

impl Framer {
    pub fn new(limits: Limits) -> Framer {
        Framer {
            limits,
            ..Framer::default()
        }
    }

    /// Appends bytes received.
    pub fn push(&mut self, data: &[u8]) {
        if self.pos > 0 && (self.pos == self.input.len() || self.pos > 64 * 1024) {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
        self.input.extend_from_slice(data);
    }

    /// Bytes received and not yet framed (for bounding a connection's memory).
    pub fn buffered(&self) -> usize {
        self.input.len() - self.pos + self.cur.len()
    }

    /// The next event, `None` when more bytes are needed.
    pub fn next_event(&mut self) -> Option<Event> {
        if self.broken {
            return None;
        }
        loop {
            if self.need > 0 {
                let avail = self.input.len() - self.pos;
                let take = self.need.min(avail as u64) as usize;
                self.cur
                    .extend_from_slice(&self.input[self.pos..self.pos + take]);
                self.pos += take;
                self.need -= take as u64;
                if self.need > 0 {
                    return None;
                }
                continue;
            }
            let Some(nl) = self.input[self.pos..].iter().position(|b| *b == b'\n') else {
                if self.input.len() - self.pos >= self.limits.max_line {
                    return Some(self.fatal("line too long"));
                }
                return None;
            };
            let end = self.pos + nl + 1;
            if end - self.pos > self.limits.max_line {
                return Some(self.fatal("line too long"));
            }
            let line = self.input[self.pos..end].to_vec();
            self.pos = end;
            if self.cur.len() + line.len() > self.limits.max_command {
                return Some(self.fatal("command too long"));
            }
            let mut escaped = false;
            for &b in &line {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' if self.quoted => escaped = true,
                    b'"' => self.quoted = !self.quoted,
                    b'(' if !self.quoted => self.depth += 1,
                    b')' if !self.quoted => self.depth = self.depth.saturating_sub(1),
                    _ => {}
                }
                if self.depth > self.limits.max_depth {
                    break;
                }
            }
            self.cur.extend_from_slice(&line);
            if self.depth > self.limits.max_depth {
                return Some(self.refuse(
                    literal_announcement(&line),
                    format!("parentheses nested deeper than {}", self.limits.max_depth),
                ));
            }
            match literal_announcement(&line) {
                Some((size, sync)) => {
                    // A quote left open at a line end is no string: literals end lines.
                    self.quoted = false;
                    let total = self.cur.len() as u64 + size;
                    if size > self.limits.max_literal || total > self.limits.max_command as u64 {
                        let reason = format!(
                            "literal of {size} bytes refused: at most {} in a command",
                            self.limits.max_literal
                        );
                        if !sync {
                            return Some(self.fatal(&reason));
                        }
                        return Some(self.refuse(Some((size, sync)), reason));
                    }
                    self.need = size;
                    if sync {
                        return Some(Event::Continue);
                    }
                }
                None => {
                    self.depth = 0;
                    self.quoted = false;
                    return Some(Event::Command(std::mem::take(&mut self.cur)));
                }
            }
        }
    }

    /// The tag of the command being assembled, when it has one.
    fn tag(&self) -> Option<Vec<u8>> {
        command_tag(&self.cur).map(<[u8]>::to_vec)
    }

    /// Drops the command being assembled: the client sends no literal without a
    /// continuation, so the next line is a new command. A refused command whose line still
    /// continues (deep nesting without a literal) is dropped to its end the same way.
    fn refuse(&mut self, literal: Option<(u64, bool)>, reason: String) -> Event {
        let tag = self.tag();
        if literal.is_some_and(|(_, sync)| !sync) {
            return self.fatal(&reason);
        }
        self.cur.clear();
        self.depth = 0;
        self.quoted = false;
        Event::Refused {
            tag,
            reason,
            fatal: false,
        }
    }

    fn fatal(&mut self, reason: &str) -> Event {
        let tag = self.tag();
        self.broken = true;
        self.cur = Vec::new();
        self.input = Vec::new();
        self.pos = 0;
        Event::Refused {
            tag,
            reason: reason.into(),
            fatal: true,
        }
    }
}

/// The tag a command starts with, when it is a valid one (RFC 3501 `tag`: printable, none of
/// `(){%*"\+`), so even a refused command can be answered by its tag.
pub fn command_tag(bytes: &[u8]) -> Option<&[u8]> {
    let end = bytes
        .iter()
        .position(|b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    let tag = &bytes[..end];
    let ok = !tag.is_empty()
        && tag.len() <= 64
        && tag
            .iter()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(b));
    ok.then_some(tag)
}

/// `{N}` or `{N+}` at the end of a line: (N, synchronizing).
fn literal_announcement(line: &[u8]) -> Option<(u64, bool)> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let mut digits = &inner[open + 1..];
    let sync = match digits.strip_suffix(b"+") {
        Some(d) => {
            digits = d;
            false
        }
        None => true,
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits)
        .ok()?
        .parse()
        .ok()
        .map(|n| (n, sync))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]], limits: Limits) -> Vec<Event> {
        let mut f = Framer::new(limits);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c);
            while let Some(e) = f.next_event() {
                out.push(e);
            }
        }
        out
    }

    /// The same events whatever way the input is split: in two at every byte, and byte by byte.
    fn split_everywhere(input: &[u8], limits: Limits) -> Vec<Event> {
        let whole = run(&[input], limits);
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(run(&[a, b], limits), whole, "split at {at}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&bytes, limits), whole, "byte by byte");
        whole
    }

    #[test]
    fn commands_and_literals_are_framed_at_every_split() {
        let input = b"a1 CAPABILITY\r\na2 LOGIN {5}\r\nalice {6}\r\nsecret\r\na3 NOOP\r\n";
        let ev = split_everywhere(input, Limits::default());
        assert_eq!(
            ev,
            vec![
                Event::Command(b"a1 CAPABILITY\r\n".to_vec()),
                Event::Continue,
                Event::Continue,
                Event::Command(b"a2 LOGIN {5}\r\nalice {6}\r\nsecret\r\n".to_vec()),
                Event::Command(b"a3 NOOP\r\n".to_vec()),
            ]
        );
    }

    #[test]
    fn non_synchronizing_literals_need_no_continuation() {
        let ev = split_everywhere(b"x LOGIN {5+}\r\nalice pw\r\n", Limits::default());
        assert_eq!(
            ev,
            vec![Event::Command(b"x LOGIN {5+}\r\nalice pw\r\n".to_vec())]
        );
    }

    #[test]
    fn a_huge_literal_is_refused_at_its_announcement_and_the_next_command_is_read() {
        // The client waits for a continuation that never comes, then sends its next command.
        let input = b"a1 APPEND INBOX {1073741824}\r\na2 NOOP\r\n";
        let ev = split_everywhere(input, Limits::default());
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert!(matches!(
            &ev[0],
            Event::Refused { tag: Some(t), fatal: false, .. } if t == b"a1"
        ));
        assert_eq!(ev[1], Event::Command(b"a2 NOOP\r\n".to_vec()));
        // Non-synchronizing: its bytes follow at once; the connection is given up.
        let ev = run(
            &[b"a1 APPEND INBOX {1073741824+}\r\nxxxx"],
            Limits::default(),
        );
        assert!(
            matches!(&ev[..], [Event::Refused { fatal: true, .. }]),
            "{ev:?}"
        );
    }

    #[test]
    fn an_endless_line_is_cut_off_without_growing() {
        let limits = Limits::default();
        let mut f = Framer::new(limits);
        let chunk = vec![b'a'; 4096];
        let mut ev = None;
        for _ in 0..100 {
            f.push(&chunk);
            if let Some(e) = f.next_event() {
                ev = Some(e);
                break;
            }
            assert!(f.buffered() <= limits.max_line + chunk.len());
        }
        assert!(
            matches!(ev, Some(Event::Refused { fatal: true, .. })),
            "{ev:?}"
        );
        f.push(b"a NOOP\r\n");
        assert_eq!(f.next_event(), None, "nothing after a fatal refusal");
    }

    #[test]
    fn deep_nesting_is_refused_before_any_parser_sees_it() {
        let mut cmd = b"a1 SEARCH ".to_vec();
        cmd.extend(std::iter::repeat_n(b'(', 10_000));
        cmd.extend(b"ALL");
        cmd.extend(std::iter::repeat_n(b')', 10_000));
        cmd.extend(b"\r\na2 NOOP\r\n");
        let ev = run(&[&cmd], Limits::default());
        assert!(
            matches!(&ev[0], Event::Refused { tag: Some(t), fatal: false, .. } if t == b"a1"),
            "{ev:?}"
        );
        assert_eq!(ev[1], Event::Command(b"a2 NOOP\r\n".to_vec()));
        // Parentheses inside a quoted string do not count, escaped quotes included.
        let q = format!("a3 SEARCH SUBJECT \"\\\"{}\"\r\n", "(".repeat(100));
        let ev = run(&[q.as_bytes()], Limits::default());
        assert_eq!(ev, vec![Event::Command(q.into_bytes())]);
    }

    #[test]
    fn a_command_too_long_in_total_is_refused() {
        let limits = Limits {
            max_command: 100,
            ..Limits::default()
        };
        let ev = run(&[b"a1 LOGIN {90}\r\n"], limits);
        assert!(
            matches!(&ev[0], Event::Refused { fatal: false, .. }),
            "{ev:?}"
        );
    }

    #[test]
    fn announcements_are_read_exactly() {
        assert_eq!(literal_announcement(b"a {5}\r\n"), Some((5, true)));
        assert_eq!(literal_announcement(b"a {5+}\n"), Some((5, false)));
        assert_eq!(literal_announcement(b"a {0}\r\n"), Some((0, true)));
        for no in [
            &b"a {}\r\n"[..],
            b"a {5\r\n",
            b"a 5}\r\n",
            b"a {x}\r\n",
            b"a {99999999999999999999}\r\n",
            b"a {5}",
        ] {
            assert_eq!(literal_announcement(no), None, "{no:?}");
        }
    }
}
