//! A streaming mbox splitter.
//!
//! [`MboxReader`] turns any [`BufRead`] into a sequence of [`MboxEntry`]s without ever holding
//! more than one message (at most `max_message_bytes`, plus one 64 KiB chunk) in memory.
//!
//! # Splitting rules
//!
//! * The input must start with `From ` (an empty input is an empty mbox). Otherwise the
//!   reader yields one [`io::ErrorKind::InvalidData`] error ("not an mbox file") and stops.
//! * A new message starts at a line beginning with `From ` that follows a blank line. A `From `
//!   line *not* preceded by a blank line also starts a new message if it looks like a real
//!   From_ line: `From <sender> <date>` where the date part contains a time (`H:MM` or
//!   `HH:MM[:SS]`) and a four-digit year. Anything else is message content.
//! * The From_ line is not part of the message. When the message ends with a blank line (the
//!   mbox separator before the next From_ line, or before end of input), exactly that blank
//!   line's line ending (LF or CRLF) is removed. All other bytes, including the message's own
//!   line endings, NUL and 8-bit bytes, are kept as they are. This is what Python's `mailbox`
//!   module does too.
//! * Unquoting: [`MboxFormat::Auto`] and [`MboxFormat::Mboxrd`] remove one `>` from lines
//!   matching `^>+From `; [`MboxFormat::Mboxo`] and [`MboxFormat::Mboxcl`] only from
//!   `^>From `; [`MboxFormat::Mboxcl2`] never unquotes. Only the first 1 KiB of a line is
//!   inspected, so a line with more than ~1000 leading `>` is left alone.
//! * `Mboxcl`/`Mboxcl2` trust a `Content-Length:` header when the body of that many bytes
//!   (counted as stored in the file) ends exactly at end of input, or at a blank line followed
//!   by end of input or a `From ` line. Otherwise, or when the length exceeds the size limit,
//!   the message is split by From_ lines as above.
//! * A message larger than `max_message_bytes` stops being buffered; the reader skips to the
//!   next From_ line and yields [`MboxEntry::Oversized`] with the full size.
//! * A truncated last message (no trailing newline) is yielded with the bytes present.

use std::io::{self, BufRead};

use crate::MboxFormat;

/// Bytes of a line that are looked at for From_ lines, quoting and headers.
const HEAD_CAP: usize = 1024;
/// Bytes read at once for the rest of a long line.
const CHUNK: usize = 64 * 1024;

/// One item split off an mbox stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MboxEntry {
    /// A message, From_ line removed and unquoted.
    Message {
        /// The message bytes.
        bytes: Vec<u8>,
        /// Byte offset of the message's From_ line in the input.
        offset: u64,
        /// Input bytes from this From_ line up to the next one (or the end of input).
        input_len: u64,
    },
    /// A message larger than the limit; its bytes were skipped, not buffered.
    Oversized {
        /// Byte offset of the message's From_ line in the input.
        offset: u64,
        /// Input bytes from this From_ line up to the next one (or the end of input).
        input_len: u64,
        /// Size the message would have had (after unquoting).
        size: u64,
    },
}

/// The error message for input that does not start with a From_ line.
pub const NOT_AN_MBOX: &str = "not an mbox file: does not start with a From_ line";

/// Streaming mbox splitter; see the [module documentation](self) for the rules.
pub struct MboxReader<R: BufRead> {
    input: Input<R>,
    format: MboxFormat,
    max: u64,
    /// Offset of the From_ line of the next message, already consumed; `None` at the start.
    next_from: Option<u64>,
    started: bool,
    done: bool,
}

impl<R: BufRead> MboxReader<R> {
    /// Splits `reader` as an mbox of `format`; messages above `max_message_bytes` are skipped
    /// and reported as [`MboxEntry::Oversized`].
    pub fn new(reader: R, format: MboxFormat, max_message_bytes: u64) -> Self {
        MboxReader {
            input: Input::new(reader),
            format,
            max: max_message_bytes,
            next_from: None,
            started: false,
            done: false,
        }
    }

    /// Reads the first line; returns whether there is a message to read.
    fn start(&mut self) -> io::Result<bool> {
        let mut line = Vec::new();
        let n = self.input.read_part(&mut line, HEAD_CAP)?;
        if n == 0 {
            return Ok(false);
        }
        if !line.starts_with(b"From ") {
            return Err(io::Error::new(io::ErrorKind::InvalidData, NOT_AN_MBOX));
        }
        self.input.skip_line_rest(&line)?;
        self.next_from = Some(0);
        Ok(true)
    }

    /// Reads the message whose From_ line (at `from`) has just been consumed.
    fn read_message(&mut self, from: u64) -> io::Result<MboxEntry> {
        let mut msg = MessageBuf::new(self.max);
        let mut line = Vec::new();
        let mut chunk = Vec::new();
        // Length of the last line if it was blank (the candidate mbox separator).
        let mut last_blank: Option<usize> = None;
        let mut in_headers = true;
        let mut content_length: Option<u64> = None;
        self.next_from = None;
        loop {
            let line_offset = self.input.offset;
            line.clear();
            if self.input.read_part(&mut line, HEAD_CAP)? == 0 {
                break;
            }
            if line.starts_with(b"From ") && (last_blank.is_some() || looks_like_from_line(&line)) {
                self.input.skip_line_rest(&line)?;
                self.next_from = Some(line_offset);
                break;
            }
            let content = &line[self.unquote_len(&line)..];
            let blank = content == b"\n" || content == b"\r\n";
            if in_headers && !blank && line.ends_with(b"\n") && content_length.is_none() {
                content_length = parse_content_length(content);
            }
            msg.push(content);
            let mut complete = line.ends_with(b"\n");
            while !complete {
                chunk.clear();
                if self.input.read_part(&mut chunk, CHUNK)? == 0 {
                    break;
                }
                msg.push(&chunk);
                complete = chunk.ends_with(b"\n");
            }
            last_blank = blank.then_some(content.len());
            if in_headers && blank {
                in_headers = false;
                if let Some(len) = content_length
                    && self.try_content_length(&mut msg, len)?
                {
                    last_blank = None;
                    break;
                }
            }
        }
        let input_len = self.next_from.unwrap_or(self.input.offset) - from;
        if let Some(sep) = last_blank {
            msg.strip_end(sep);
        }
        Ok(msg.finish(from, input_len))
    }

    /// Reads a body of exactly `len` bytes if it ends at a valid message boundary; otherwise
    /// puts everything read back and returns `false`.
    fn try_content_length(&mut self, msg: &mut MessageBuf, len: u64) -> io::Result<bool> {
        if !matches!(self.format, MboxFormat::Mboxcl | MboxFormat::Mboxcl2)
            || msg.oversized
            || msg.size.saturating_add(len) > msg.limit
        {
            return Ok(false);
        }
        let start = self.input.offset;
        let mut body = Vec::new();
        // `len` fits in the limit here, which is an in-memory size.
        let want = usize::try_from(len).unwrap_or(usize::MAX);
        while body.len() < want {
            let cap = (want - body.len()).min(CHUNK);
            if self.input.read_raw(&mut body, cap)? == 0 {
                break;
            }
        }
        let mut peek = Vec::new();
        let mut valid = false;
        let mut next_from = None;
        if body.len() == want {
            let n1 = self.input.read_part(&mut peek, HEAD_CAP)?;
            if n1 == 0 {
                valid = true;
            } else if peek == b"\n" || peek == b"\r\n" {
                let line2_offset = self.input.offset;
                let n2 = self.input.read_part(&mut peek, HEAD_CAP)?;
                if n2 == 0 {
                    valid = true;
                } else if peek[n1..].starts_with(b"From ") {
                    valid = true;
                    let line2 = peek[n1..].to_vec();
                    self.input.skip_line_rest(&line2)?;
                    next_from = Some(line2_offset);
                }
            }
        }
        if !valid {
            body.extend_from_slice(&peek);
            self.input.unread(&body, start);
            return Ok(false);
        }
        if self.format == MboxFormat::Mboxcl2 {
            msg.push(&body);
        } else {
            for body_line in body.split_inclusive(|b| *b == b'\n') {
                msg.push(&body_line[self.unquote_len(body_line)..]);
            }
        }
        self.next_from = next_from;
        Ok(true)
    }

    /// How many leading bytes of `line` (a line start) are quoting to remove: 0 or 1.
    fn unquote_len(&self, line: &[u8]) -> usize {
        let quotes = line.iter().take_while(|b| **b == b'>').count();
        let quoted = quotes > 0 && line[quotes..].starts_with(b"From ");
        match self.format {
            MboxFormat::Auto | MboxFormat::Mboxrd => usize::from(quoted),
            MboxFormat::Mboxo | MboxFormat::Mboxcl => usize::from(quoted && quotes == 1),
            MboxFormat::Mboxcl2 => 0,
        }
    }
}

impl<R: BufRead> Iterator for MboxReader<R> {
    type Item = io::Result<MboxEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if !self.started {
            self.started = true;
            match self.start() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        let Some(from) = self.next_from else {
            self.done = true;
            return None;
        };
        let entry = self.read_message(from);
        if entry.is_err() {
            self.done = true;
        }
        Some(entry)
    }
}

/// A message being collected, which stops buffering once it is larger than the limit.
struct MessageBuf {
    buf: Vec<u8>,
    size: u64,
    max: u64,
    /// `max` plus room for a separator line ending that will be stripped again.
    limit: u64,
    oversized: bool,
}

impl MessageBuf {
    fn new(max: u64) -> Self {
        MessageBuf {
            buf: Vec::new(),
            size: 0,
            max,
            limit: max.saturating_add(2),
            oversized: false,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        if self.oversized {
            return;
        }
        if self.size > self.limit {
            self.oversized = true;
            self.buf = Vec::new();
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }

    fn strip_end(&mut self, n: usize) {
        self.size -= n as u64;
        if !self.oversized {
            self.buf.truncate(self.buf.len() - n);
        }
    }

    fn finish(self, offset: u64, input_len: u64) -> MboxEntry {
        if self.oversized || self.size > self.max {
            MboxEntry::Oversized {
                offset,
                input_len,
                size: self.size,
            }
        } else {
            MboxEntry::Message {
                bytes: self.buf,
                offset,
                input_len,
            }
        }
    }
}

/// A [`BufRead`] with a push-back buffer and a running offset.
struct Input<R> {
    inner: R,
    pushback: Vec<u8>,
    pos: usize,
    offset: u64,
}

impl<R: BufRead> Input<R> {
    fn new(inner: R) -> Self {
        Input {
            inner,
            pushback: Vec::new(),
            pos: 0,
            offset: 0,
        }
    }

    /// Appends bytes up to and including the next `\n`, at most `cap` bytes; 0 means EOF.
    fn read_part(&mut self, out: &mut Vec<u8>, cap: usize) -> io::Result<usize> {
        self.read_until(out, cap, true)
    }

    /// Appends up to `cap` bytes regardless of line endings; 0 means EOF.
    fn read_raw(&mut self, out: &mut Vec<u8>, cap: usize) -> io::Result<usize> {
        self.read_until(out, cap, false)
    }

    fn read_until(&mut self, out: &mut Vec<u8>, cap: usize, stop_at_lf: bool) -> io::Result<usize> {
        let mut total = 0;
        while total < cap {
            let from_pushback = self.pos < self.pushback.len();
            let avail: &[u8] = if from_pushback {
                &self.pushback[self.pos..]
            } else {
                match self.inner.fill_buf() {
                    Ok(buf) => buf,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if avail.is_empty() {
                break;
            }
            let room = avail.len().min(cap - total);
            let lf = if stop_at_lf {
                avail[..room].iter().position(|b| *b == b'\n')
            } else {
                None
            };
            let take = lf.map_or(room, |i| i + 1);
            out.extend_from_slice(&avail[..take]);
            if from_pushback {
                self.pos += take;
                if self.pos == self.pushback.len() {
                    self.pushback.clear();
                    self.pos = 0;
                }
            } else {
                self.inner.consume(take);
            }
            total += take;
            if lf.is_some() {
                break;
            }
        }
        self.offset += total as u64;
        Ok(total)
    }

    /// Skips the rest of a line whose first part is `head`.
    fn skip_line_rest(&mut self, head: &[u8]) -> io::Result<()> {
        let mut scratch = Vec::new();
        let mut complete = head.ends_with(b"\n");
        while !complete {
            scratch.clear();
            if self.read_part(&mut scratch, CHUNK)? == 0 {
                break;
            }
            complete = scratch.ends_with(b"\n");
        }
        Ok(())
    }

    /// Puts back `bytes`, which were read starting at `offset`, to be read again.
    fn unread(&mut self, bytes: &[u8], offset: u64) {
        let mut merged = Vec::with_capacity(bytes.len() + self.pushback.len() - self.pos);
        merged.extend_from_slice(bytes);
        merged.extend_from_slice(&self.pushback[self.pos..]);
        self.pushback = merged;
        self.pos = 0;
        self.offset = offset;
    }
}

/// Whether a `From ` line not preceded by a blank line is a real From_ line:
/// `From <sender> <date>` with a time and a four-digit year in the date.
fn looks_like_from_line(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let mut words = rest
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    if words.next().is_none() {
        return false;
    }
    let (mut time, mut year) = (false, false);
    for word in words {
        let word = word.strip_suffix(b",").unwrap_or(word);
        year |= word.len() == 4 && word.iter().all(u8::is_ascii_digit);
        time |= is_time(word);
    }
    time && year
}

/// `H:MM`, `HH:MM` or `HH:MM:SS`.
fn is_time(word: &[u8]) -> bool {
    let mut parts = word.split(|b| *b == b':');
    let Some(hours) = parts.next() else {
        return false;
    };
    if hours.is_empty() || hours.len() > 2 || !hours.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut n = 0;
    for part in parts {
        if part.len() != 2 || !part.iter().all(u8::is_ascii_digit) {
            return false;
        }
        n += 1;
    }
    (1..=2).contains(&n)
}

/// The value of a `Content-Length:` header line, if that is what `line` is.
fn parse_content_length(line: &[u8]) -> Option<u64> {
    const NAME: &[u8] = b"content-length:";
    if line.len() < NAME.len() || !line[..NAME.len()].eq_ignore_ascii_case(NAME) {
        return None;
    }
    let value = line[NAME.len()..].trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[cfg(test)]
#[path = "mbox_tests.rs"]
mod tests;
