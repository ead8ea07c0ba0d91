//! The bytes an SMTP client sends, cut into command lines and messages (sans-IO: no sockets,
//! tested by feeding input split at every byte).
//!
//! * **Command lines** end at LF (CRLF or a bare LF: Postfix's smtpd is as lenient with
//!   commands); a line longer than [`Limits::line`] is discarded up to its end and reported
//!   as [`Event::LineTooLong`], never buffered.
//! * **DATA** ends only at `CRLF . CRLF`. Lines are CRLF lines: a leading dot is removed
//!   (RFC 5321 §4.5.2 transparency), nothing else is touched. A bare LF or CR and NUL bytes
//!   are kept exactly as sent (the archive keeps what the mail server sent; a bare LF never
//!   ends a line, so `LF . LF` cannot end a message early: no SMTP smuggling).
//! * **BDAT** chunks (RFC 3030 CHUNKING) are taken byte for byte, exactly as counted.
//! * A message over [`Limits::message`] is read to its end and discarded, then reported as too
//!   large: the connection stays usable for the next one. [`Receiver::abandon`] does the same
//!   for a message the server has no room for now.

/// Per-connection limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Longest command line, line end included.
    pub line: usize,
    /// Largest message.
    pub message: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            line: 4096,
            message: 50 << 20,
        }
    }
}

/// What the client sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A command line, its line end included (the command parser wants it).
    Line(Vec<u8>),
    /// A command line over the limit, discarded.
    LineTooLong,
    /// The end of DATA, or of a BDAT chunk (`chunk`: its size). `last`: the message is
    /// complete (always for DATA). A complete message is taken with
    /// [`Receiver::take_message`].
    Ended { last: bool, chunk: Option<usize> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Data {
    /// At the start of a line (after CRLF, or at the start of the message).
    LineStart,
    InLine,
    /// A CR was read in a line; it is held until the next byte decides.
    Cr,
    /// A dot at the start of a line.
    Dot,
    /// A dot at the start of a line, then CR.
    DotCr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Command,
    /// Discarding an over-long command line up to its LF.
    Discard,
    Data(Data),
    Bdat {
        left: usize,
        last: bool,
        size: usize,
    },
}

/// The receiving half of an SMTP connection.
pub struct Receiver {
    limits: Limits,
    input: Vec<u8>,
    /// Where unread input starts.
    at: usize,
    mode: Mode,
    message: Vec<u8>,
    /// The message went over the limit (or was abandoned): its bytes are dropped.
    dropped: bool,
    /// The message's size as sent (counted even when dropped).
    size: usize,
}

impl Receiver {
    pub fn new(limits: Limits) -> Receiver {
        Receiver {
            limits,
            input: Vec::new(),
            at: 0,
            mode: Mode::Command,
            message: Vec::new(),
            dropped: false,
            size: 0,
        }
    }

    /// Bytes from the client.
    pub fn push(&mut self, bytes: &[u8]) {
        // What was taken goes; what is left (part of a line) stays, so the buffer holds at
        // most a line and one read.
        self.input.drain(..self.at);
        self.at = 0;
        self.input.extend_from_slice(bytes);
    }

    /// Input received but not yet taken by an event (a pipelined command, say).
    pub fn buffered(&self) -> usize {
        self.input.len() - self.at
    }

    /// Reads a message with DATA from here on (after the 354 answer).
    pub fn expect_data(&mut self) {
        self.mode = Mode::Data(Data::LineStart);
    }

    /// Reads a BDAT chunk of `size` bytes from here on.
    pub fn expect_chunk(&mut self, size: usize, last: bool) {
        self.mode = Mode::Bdat {
            left: size,
            last,
            size,
        };
    }

    /// Whether a message is being read.
    pub fn in_message(&self) -> bool {
        matches!(self.mode, Mode::Data(_) | Mode::Bdat { .. })
    }

    /// Bytes of the message held now (what it costs in memory).
    pub fn held(&self) -> usize {
        self.message.len()
    }

    /// Drops the message being read (the rest is read and dropped too).
    pub fn abandon(&mut self) {
        self.dropped = true;
        self.message = Vec::new();
    }

    /// The complete message, or `None` if it was dropped (too large or abandoned); with its
    /// size as sent. Starts a new message.
    pub fn take_message(&mut self) -> (Option<Vec<u8>>, usize) {
        let size = self.size;
        let dropped = std::mem::replace(&mut self.dropped, false);
        let msg = std::mem::take(&mut self.message);
        self.size = 0;
        ((!dropped).then_some(msg), size)
    }

    /// Forgets a message begun with BDAT chunks (RSET, or an error in between).
    pub fn reset_message(&mut self) {
        self.message = Vec::new();
        self.dropped = false;
        self.size = 0;
    }

    /// Whether the message went over the limit.
    pub fn too_large(&self) -> bool {
        self.size > self.limits.message
    }

    fn keep(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len());
        if self.dropped {
            return;
        }
        if self.size > self.limits.message {
            self.abandon();
            return;
        }
        self.message.extend_from_slice(bytes);
    }

    /// The next event, or `None` when more input is needed.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Mode::Bdat {
                left: 0,
                last,
                size,
            } = self.mode
            {
                self.mode = Mode::Command;
                return Some(Event::Ended {
                    last,
                    chunk: Some(size),
                });
            }
            let rest = &self.input[self.at..];
            if rest.is_empty() {
                return None;
            }
            match self.mode {
                Mode::Command => {
                    let limit = self.limits.line;
                    match rest.iter().take(limit).position(|&b| b == b'\n') {
                        Some(i) => {
                            let line = rest[..=i].to_vec();
                            self.at += i + 1;
                            return Some(Event::Line(line));
                        }
                        None if rest.len() >= limit => {
                            self.at += limit;
                            self.mode = Mode::Discard;
                        }
                        None => return None,
                    }
                }
                Mode::Discard => match rest.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.at += i + 1;
                        self.mode = Mode::Command;
                        return Some(Event::LineTooLong);
                    }
                    None => self.at = self.input.len(),
                },
                Mode::Bdat { left, last, size } => {
                    let n = left.min(rest.len());
                    let (start, end) = (self.at, self.at + n);
                    self.at = end;
                    let chunk = self.input[start..end].to_vec();
                    self.keep(&chunk);
                    self.mode = Mode::Bdat {
                        left: left - n,
                        last,
                        size,
                    };
                }
                Mode::Data(state) => {
                    if let Some(ended) = self.data(state) {
                        return Some(ended);
                    }
                }
            }
        }
    }

    /// Runs the DATA state machine over the unread input; `Some` at the end of the message.
    fn data(&mut self, mut state: Data) -> Option<Event> {
        let start = self.at;
        let input = std::mem::take(&mut self.input);
        let mut out: Vec<u8> = Vec::new();
        let mut i = start;
        let mut ended = false;
        while i < input.len() {
            let b = input[i];
            i += 1;
            state = match state {
                Data::InLine => {
                    // The common case: copy up to the next CR at once.
                    let run = input[i - 1..]
                        .iter()
                        .position(|&c| c == b'\r')
                        .unwrap_or(input.len() - (i - 1));
                    out.extend_from_slice(&input[i - 1..i - 1 + run]);
                    i += run.saturating_sub(1);
                    if run == 0 {
                        Data::Cr
                    } else if i < input.len() && input[i] == b'\r' {
                        i += 1;
                        Data::Cr
                    } else {
                        Data::InLine
                    }
                }
                Data::LineStart => match b {
                    b'.' => Data::Dot,
                    b'\r' => Data::Cr,
                    _ => {
                        out.push(b);
                        Data::InLine
                    }
                },
                Data::Dot => match b {
                    b'\r' => Data::DotCr,
                    // The leading dot was transparency: dropped.
                    _ => {
                        out.push(b);
                        Data::InLine
                    }
                },
                Data::DotCr => {
                    if b == b'\n' {
                        ended = true;
                        break;
                    }
                    // ".\r" and something else: a line of "\r..." whose dot was stuffed.
                    out.push(b'\r');
                    i -= 1;
                    Data::InLine
                }
                Data::Cr => match b {
                    b'\n' => {
                        out.extend_from_slice(b"\r\n");
                        Data::LineStart
                    }
                    b'\r' => {
                        out.push(b'\r');
                        Data::Cr
                    }
                    _ => {
                        out.push(b'\r');
                        out.push(b);
                        Data::InLine
                    }
                },
            };
        }
        self.input = input;
        self.at = i;
        self.keep(&out);
        if ended {
            self.mode = Mode::Command;
            Some(Event::Ended {
                last: true,
                chunk: None,
            })
        } else {
            self.mode = Mode::Data(state);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces cut at `cuts`, collecting events and the messages.
    fn feed(input: &[u8], cut: usize, limits: Limits) -> (Vec<Event>, Vec<Option<Vec<u8>>>) {
        let mut r = Receiver::new(limits);
        let mut events = Vec::new();
        let mut messages = Vec::new();
        let pieces: Vec<&[u8]> = if cut == 0 || cut >= input.len() {
            vec![input]
        } else {
            vec![&input[..cut], &input[cut..]]
        };
        for p in pieces {
            r.push(p);
            while let Some(ev) = r.next_event() {
                match &ev {
                    Event::Line(l) if l.starts_with(b"DATA") => r.expect_data(),
                    Event::Line(l) if l.starts_with(b"BDAT") => {
                        let words: Vec<&[u8]> = l.trim_ascii().split(|b| *b == b' ').collect();
                        let n: usize = std::str::from_utf8(words[1]).unwrap().parse().unwrap();
                        r.expect_chunk(n, words.len() > 2);
                    }
                    Event::Ended { last: true, .. } => messages.push(r.take_message().0),
                    _ => {}
                }
                events.push(ev);
            }
        }
        (events, messages)
    }

    #[test]
    fn every_split_gives_the_same_events_and_bytes() {
        let input: &[u8] = b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n\
            Subject: hi\r\n\r\n..dot line\r\n\r\nbare\nlf and \0 nul\r\ncr\ralone\r\r\n\
            .\r\nQUIT\n";
        let (events, messages) = feed(input, 0, Limits::default());
        assert_eq!(
            messages,
            vec![Some(
                b"Subject: hi\r\n\r\n.dot line\r\n\r\nbare\nlf and \0 nul\r\ncr\ralone\r\r\n"
                    .to_vec()
            )]
        );
        assert_eq!(events.last(), Some(&Event::Line(b"QUIT\n".to_vec())));
        for cut in 1..input.len() {
            assert_eq!(
                feed(input, cut, Limits::default()),
                (
                    events
                        .iter()
                        .map(|e| match e {
                            Event::Line(l) => Event::Line(l.clone()),
                            Event::LineTooLong => Event::LineTooLong,
                            Event::Ended { last, chunk } => Event::Ended {
                                last: *last,
                                chunk: *chunk,
                            },
                        })
                        .collect(),
                    messages.clone()
                ),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_bare_lf_dot_does_not_end_a_message() {
        let input: &[u8] = b"DATA\r\na\n.\nb\r\n.\nc\r\n.\r\n";
        let (_, messages) = feed(input, 0, Limits::default());
        assert_eq!(messages, vec![Some(b"a\n.\nb\r\n\nc\r\n".to_vec())]);
    }

    #[test]
    fn bdat_chunks_are_taken_as_counted() {
        let input: &[u8] = b"BDAT 4\r\nab\r\nBDAT 3 LAST\r\n.\r\nNOOP\r\n";
        for cut in 0..input.len() {
            let (events, messages) = feed(input, cut, Limits::default());
            assert_eq!(messages, vec![Some(b"ab\r\n.\r\n".to_vec())], "cut {cut}");
            assert_eq!(events.last(), Some(&Event::Line(b"NOOP\r\n".to_vec())));
        }
    }

    #[test]
    fn long_lines_and_large_messages_are_dropped_not_kept() {
        let limits = Limits {
            line: 16,
            message: 10,
        };
        let mut input = b"NOOP ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100));
        input.extend_from_slice(b"\r\nDATA\r\n0123456789abc\r\n.\r\nDATA\r\nsmall\r\n.\r\n");
        for cut in 0..input.len() {
            let (events, messages) = feed(&input, cut, limits.clone());
            assert_eq!(events[0], Event::LineTooLong, "cut {cut}");
            assert_eq!(messages, vec![None, Some(b"small\r\n".to_vec())]);
        }
    }

    #[test]
    fn a_last_chunk_of_nothing() {
        let (events, messages) = feed(b"BDAT 2\r\nabBDAT 0 LAST\r\n", 0, Limits::default());
        assert_eq!(messages, vec![Some(b"ab".to_vec())]);
        assert_eq!(
            events.last(),
            Some(&Event::Ended {
                last: true,
                chunk: Some(0)
            })
        );
    }

    #[test]
    fn an_empty_message() {
        let (_, messages) = feed(b"DATA\r\n.\r\n", 0, Limits::default());
        assert_eq!(messages, vec![Some(Vec::new())]);
    }
}
