//! Splits the bytes a server sends into complete IMAP responses, before any parsing.
//!
//! An IMAP response is a line, unless the line ends in a literal announcement `{N}` (or
//! `{N+}`): then exactly N bytes of literal data follow, then the rest of the response, which
//! may announce another literal. The framer tracks this and hands out whole responses, so
//! the decoder never sees half of one and literal data is never mistaken for a response.
//!
//! Nothing is buffered beyond the limits: a line longer than `max_line` or a literal larger
//! than `max_literal` is an error *at its announcement*, before its bytes are read (a server
//! announcing a 1 GB literal costs nothing). The limits are set per call, so a fetch of a
//! 40 MB message may accept a 40 MB literal while every other answer stays small.
//!
//! Why not `imap_codec::fragmentizer::Fragmentizer`: its one size limit is fixed for the
//! connection and an oversized message is read to its end and dropped; Arkiv needs a limit
//! per command (what the server announced for the messages being fetched) and wants to stop
//! at the announcement. The framing itself is small; decoding stays with imap-codec.

use std::ops::Range;

/// What the next response may be.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest line (without literals), including its line end.
    pub max_line: usize,
    /// Largest single literal.
    pub max_literal: u64,
}

impl Limits {
    /// For everything but message bodies: capabilities, folder lists, statuses, flags.
    pub const SMALL: Limits = Limits {
        max_line: 1 << 20,
        max_literal: 1 << 20,
    };
}

/// One complete response: its bytes as sent, and where its literals' data lies in them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub bytes: Vec<u8>,
    pub literals: Vec<Range<usize>>,
}

impl Frame {
    /// The bytes outside literal data (lines and announcements), for diagnostics and for
    /// the fallback reader of `FETCH` responses.
    pub fn lines(&self) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut at = 0;
        for l in &self.literals {
            out.push(&self.bytes[at..l.start]);
            at = l.end;
        }
        out.push(&self.bytes[at..]);
        out
    }
}

/// Why the framer gave up. The connection cannot be trusted to be in step afterwards.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    LineTooLong {
        limit: usize,
    },
    LiteralTooLarge {
        size: u64,
        limit: u64,
        /// The line that announced it (up to 200 bytes), e.g. `* 3 FETCH (UID 17 BODY[] {…}`.
        line: Vec<u8>,
    },
}

/// The framing state machine. Feed it bytes with [`Framer::read_with`] or [`Framer::push`]
/// and take responses with [`Framer::next`].
#[derive(Default)]
pub struct Framer {
    input: Vec<u8>,
    /// Start of the unconsumed input.
    pos: usize,
    /// Where the search for the next line end goes on (input before it has none).
    scan: usize,
    /// The response being assembled.
    cur: Vec<u8>,
    literals: Vec<Range<usize>>,
    /// Literal bytes still to come.
    need: u64,
}

impl Framer {
    pub fn new() -> Framer {
        Framer::default()
    }

    /// Appends bytes received.
    pub fn push(&mut self, data: &[u8]) {
        self.compact();
        self.input.extend_from_slice(data);
    }

    /// Lets `read` fill up to `room` bytes straight into the input buffer; returns what it
    /// returned.
    pub fn read_with<E>(
        &mut self,
        room: usize,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        self.compact();
        let len = self.input.len();
        self.input.resize(len + room, 0);
        let r = read(&mut self.input[len..]);
        let n = *r.as_ref().unwrap_or(&0);
        self.input.truncate(len + n);
        r
    }

    fn compact(&mut self) {
        if self.pos > 0 && (self.pos == self.input.len() || self.pos > 64 * 1024) {
            self.input.drain(..self.pos);
            self.scan -= self.pos;
            self.pos = 0;
        }
    }

    /// Whether part of a response has been received (a connection closing now cut it).
    pub fn is_mid_response(&self) -> bool {
        !self.cur.is_empty() || self.pos < self.input.len()
    }

    /// How many literal bytes the response being read still waits for.
    pub fn literal_pending(&self) -> u64 {
        self.need
    }

    /// The next complete response, `None` if more bytes are needed.
    pub fn next(&mut self, limits: &Limits) -> Result<Option<Frame>, FrameError> {
        loop {
            if self.need > 0 {
                let avail = self.input.len() - self.pos;
                let take = (self.need.min(avail as u64)) as usize;
                self.cur
                    .extend_from_slice(&self.input[self.pos..self.pos + take]);
                self.pos += take;
                self.scan = self.pos;
                self.need -= take as u64;
                if self.need > 0 {
                    return Ok(None);
                }
                let end = self.cur.len();
                if let Some(l) = self.literals.last_mut() {
                    l.end = end;
                }
                continue;
            }
            let start = self.scan.max(self.pos);
            let Some(nl) = self.input[start..].iter().position(|b| *b == b'\n') else {
                self.scan = self.input.len();
                if self.input.len() - self.pos >= limits.max_line {
                    return Err(FrameError::LineTooLong {
                        limit: limits.max_line,
                    });
                }
                return Ok(None);
            };
            let end = start + nl + 1;
            if end - self.pos > limits.max_line {
                return Err(FrameError::LineTooLong {
                    limit: limits.max_line,
                });
            }
            let line = &self.input[self.pos..end];
            let announced = literal_announcement(line);
            self.cur.extend_from_slice(line);
            self.pos = end;
            self.scan = end;
            match announced {
                Some(size) => {
                    let total = self.cur.len() as u64 + size;
                    let frame_limit = limits.max_literal + 4 * limits.max_line as u64;
                    if size > limits.max_literal || total > frame_limit {
                        let line_start = self.literals.last().map(|l| l.end).unwrap_or(0);
                        let mut line = self.cur[line_start..].to_vec();
                        line.truncate(200);
                        return Err(FrameError::LiteralTooLarge {
                            size,
                            limit: limits.max_literal,
                            line,
                        });
                    }
                    let at = self.cur.len();
                    self.literals.push(at..at);
                    self.cur.reserve(size as usize);
                    self.need = size;
                    if size == 0 {
                        continue;
                    }
                }
                None => {
                    let bytes = std::mem::take(&mut self.cur);
                    let literals = std::mem::take(&mut self.literals);
                    return Ok(Some(Frame { bytes, literals }));
                }
            }
        }
    }
}

/// The size announced by a line ending in `{N}` or `{N+}` (before CRLF or LF).
fn literal_announcement(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    const BIG: Limits = Limits {
        max_line: 1000,
        max_literal: 1000,
    };

    fn frames(chunks: &[&[u8]], limits: &Limits) -> Result<Vec<Frame>, FrameError> {
        let mut f = Framer::new();
        let mut out = Vec::new();
        for c in chunks {
            f.push(c);
            while let Some(fr) = f.next(limits)? {
                out.push(fr);
            }
        }
        Ok(out)
    }

    const STREAM: &[u8] = b"* OK [CAPABILITY IMAP4rev1] hi\r\n\
        * 1 FETCH (UID 7 BODY[] {12}\r\nHello\r\n{3}\r\n FLAGS (\\Seen))\r\n\
        * 2 FETCH (UID 8 BODY[] {0}\r\n)\r\n\
        * LIST () \"/\" {5+}\r\nIN}BO\r\n\
        A1 OK done\n";

    fn expected() -> Vec<Frame> {
        vec![
            Frame {
                bytes: b"* OK [CAPABILITY IMAP4rev1] hi\r\n".to_vec(),
                literals: vec![],
            },
            Frame {
                bytes: b"* 1 FETCH (UID 7 BODY[] {12}\r\nHello\r\n{3}\r\n FLAGS (\\Seen))\r\n"
                    .to_vec(),
                literals: vec![30..42],
            },
            Frame {
                bytes: b"* 2 FETCH (UID 8 BODY[] {0}\r\n)\r\n".to_vec(),
                literals: vec![29..29],
            },
            Frame {
                bytes: b"* LIST () \"/\" {5+}\r\nIN}BO\r\n".to_vec(),
                literals: vec![20..25],
            },
            Frame {
                bytes: b"A1 OK done\n".to_vec(),
                literals: vec![],
            },
        ]
    }

    /// Habit 5: the same stream split at every byte boundary, and byte by byte, frames alike.
    #[test]
    fn split_at_every_byte_boundary() {
        let want = expected();
        assert_eq!(frames(&[STREAM], &BIG).unwrap(), want);
        for cut in 0..=STREAM.len() {
            let (a, b) = STREAM.split_at(cut);
            assert_eq!(frames(&[a, b], &BIG).unwrap(), want, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = STREAM.chunks(1).collect();
        assert_eq!(frames(&bytes, &BIG).unwrap(), want);
    }

    #[test]
    fn literal_data_that_looks_like_responses_stays_literal() {
        let s = b"* 1 FETCH (BODY[] {23}\r\nA1 OK fake\r\n* BYE now\r\n)\r\nA1 OK real\r\n";
        let f = frames(&[s], &BIG).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(
            &f[0].bytes[f[0].literals[0].clone()],
            b"A1 OK fake\r\n* BYE now\r\n"
        );
        assert_eq!(f[1].bytes, b"A1 OK real\r\n");
    }

    #[test]
    fn oversized_literal_is_refused_at_its_announcement() {
        let s = b"* 3 FETCH (UID 17 BODY[] {1000000000}\r\nxxxx";
        let err = frames(&[s], &BIG).unwrap_err();
        match err {
            FrameError::LiteralTooLarge { size, limit, line } => {
                assert_eq!((size, limit), (1_000_000_000, 1000));
                assert!(line.starts_with(b"* 3 FETCH (UID 17"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn endless_line_is_refused_at_the_limit() {
        let mut f = Framer::new();
        let mut refused = false;
        for _ in 0..100 {
            f.push(&[b'x'; 64]);
            match f.next(&BIG) {
                Ok(None) => {}
                Err(FrameError::LineTooLong { limit: 1000 }) => {
                    refused = true;
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(refused);
        assert!(f.input.len() <= 1100, "nothing past the limit is kept");
    }

    #[test]
    fn announcements_that_are_not_literals() {
        assert_eq!(literal_announcement(b"* OK {12}\r\n"), Some(12));
        assert_eq!(literal_announcement(b"* OK {12+}\n"), Some(12));
        assert_eq!(literal_announcement(b"* OK {}\r\n"), None);
        assert_eq!(literal_announcement(b"* OK {1a}\r\n"), None);
        assert_eq!(
            literal_announcement(b"* OK {99999999999999999999}\r\n"),
            None
        );
        assert_eq!(literal_announcement(b"* OK 12}\r\n"), None);
    }
}
