//! POP3 framing without sockets: status lines, and multi-line answers ending in `.` with
//! dot-stuffing undone (RFC 1939 §3). Both are bounded.

/// Bytes received and not consumed yet.
#[derive(Default)]
pub struct LineReader {
    input: Vec<u8>,
    pos: usize,
}

/// A line longer than allowed.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLong;

impl LineReader {
    pub fn push(&mut self, data: &[u8]) {
        self.compact();
        self.input.extend_from_slice(data);
    }

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
            self.pos = 0;
        }
    }

    pub fn has_pending(&self) -> bool {
        self.pos < self.input.len()
    }

    /// The next line with its line end, `None` when more bytes are needed.
    pub fn next_line(&mut self, max: usize) -> Result<Option<Vec<u8>>, TooLong> {
        match self.input[self.pos..].iter().position(|b| *b == b'\n') {
            Some(i) if i < max => {
                let line = self.input[self.pos..self.pos + i + 1].to_vec();
                self.pos += i + 1;
                Ok(Some(line))
            }
            Some(_) => Err(TooLong),
            None if self.input.len() - self.pos >= max => Err(TooLong),
            None => Ok(None),
        }
    }
}

/// A multi-line answer being collected.
pub struct MultiLine {
    out: Vec<u8>,
    max: u64,
}

impl MultiLine {
    pub fn new(max: u64) -> MultiLine {
        MultiLine {
            out: Vec::new(),
            max,
        }
    }

    /// Takes every complete line there is. `Ok(true)` at the terminating `.`, `Ok(false)`
    /// when more bytes are needed, `Err(size)` once the answer exceeds the limit.
    pub fn feed(&mut self, r: &mut LineReader) -> Result<bool, u64> {
        loop {
            let rest = &r.input[r.pos..];
            let Some(i) = rest.iter().position(|b| *b == b'\n') else {
                if (self.out.len() + rest.len()) as u64 > self.max + 2 {
                    return Err((self.out.len() + rest.len()) as u64);
                }
                return Ok(false);
            };
            let line = &rest[..=i];
            r.pos += i + 1;
            if line == b".\r\n" || line == b".\n" {
                return Ok(true);
            }
            let line = line.strip_prefix(b".").unwrap_or(line);
            if (self.out.len() + line.len()) as u64 > self.max {
                return Err((self.out.len() + line.len()) as u64);
            }
            self.out.extend_from_slice(line);
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(chunks: &[&[u8]], max: u64) -> Result<(Vec<u8>, Vec<u8>), u64> {
        let mut r = LineReader::default();
        let mut m = MultiLine::new(max);
        let mut done = false;
        for c in chunks {
            r.push(c);
            if !done && m.feed(&mut r)? {
                done = true;
            }
        }
        assert!(done, "terminator seen");
        let rest = r.input[r.pos..].to_vec();
        Ok((m.into_bytes(), rest))
    }

    const WIRE: &[u8] = b"From: a@b\r\n\r\n..leading dot\r\n.\r\nnot the end\r\n.\r\n+OK next\r\n";

    /// Split at every byte boundary and byte by byte: the same message, the same leftover.
    #[test]
    fn split_at_every_byte_boundary() {
        // The `.\r\n` in the middle is the end: what follows is the next answer.
        let body = b"From: a@b\r\n\r\n.leading dot\r\n";
        let rest = b"not the end\r\n.\r\n+OK next\r\n";
        for cut in 0..=WIRE.len() {
            let (a, b) = WIRE.split_at(cut);
            let (got, left) = collect(&[a, b], 1000).unwrap();
            assert_eq!(
                (got.as_slice(), left.as_slice()),
                (&body[..], &rest[..]),
                "cut {cut}"
            );
        }
        let bytes: Vec<&[u8]> = WIRE.chunks(1).collect();
        assert_eq!(collect(&bytes, 1000).unwrap().0, body);
    }

    #[test]
    fn an_answer_past_the_limit_is_refused_without_growing() {
        let mut r = LineReader::default();
        let mut m = MultiLine::new(100);
        let mut refused = false;
        for _ in 0..1000 {
            r.push(b"0123456789012345678901234567890123456789\r\n");
            match m.feed(&mut r) {
                Ok(false) => {}
                Err(n) => {
                    assert!(n > 100);
                    refused = true;
                    break;
                }
                Ok(true) => panic!("no terminator was sent"),
            }
        }
        assert!(refused);
        assert!(m.out.len() <= 100);
    }

    #[test]
    fn status_lines_are_bounded() {
        let mut r = LineReader::default();
        r.push(b"+OK fine\r\n-ERR no");
        assert_eq!(r.next_line(100).unwrap().unwrap(), b"+OK fine\r\n");
        assert_eq!(r.next_line(100).unwrap(), None);
        r.push(&[b'x'; 200]);
        assert_eq!(r.next_line(100), Err(TooLong));
    }
}
