//! Exact round trips of line-wrapped base64 bodies.
//!
//! A base64 attachment body is, in almost all real mail, the canonical encoding of some bytes
//! wrapped at a fixed line length with one kind of line ending. [`analyze`] checks that a body is
//! exactly that and returns the decoded bytes and the [`Layout`]; [`encode`] turns them back
//! into the identical body. Anything else (mixed line lengths, stray spaces, non-canonical
//! padding bits) is refused, and the caller keeps the original text.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// How the base64 text was laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// Characters per full line (a multiple of 4).
    pub line_len: u32,
    /// Lines end with CRLF rather than LF.
    pub crlf: bool,
    /// The last line is followed by a line ending.
    pub final_newline: bool,
}

/// Returns the decoded bytes and layout if `body` re-encodes to exactly itself.
pub fn analyze(body: &[u8]) -> Option<(Vec<u8>, Layout)> {
    if body.is_empty() {
        return None;
    }
    let Some(first_nl) = body.iter().position(|&b| b == b'\n') else {
        // One line without a line ending.
        let decoded = STANDARD.decode(body).ok()?;
        let layout = Layout {
            line_len: body.len() as u32,
            crlf: false,
            final_newline: false,
        };
        return (body.len().is_multiple_of(4) && encode(&decoded, layout) == body)
            .then_some((decoded, layout));
    };
    let crlf = first_nl > 0 && body[first_nl - 1] == b'\r';
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let line_len = first_nl - usize::from(crlf);
    if line_len == 0 || !line_len.is_multiple_of(4) {
        return None;
    }
    let mut text = Vec::with_capacity(body.len());
    let mut rest = body;
    let mut final_newline = false;
    while !rest.is_empty() {
        let take = line_len.min(rest.len());
        let line = &rest[..take];
        if line.iter().any(|&b| b == b'\r' || b == b'\n') {
            // A short line: find where it ends.
            let end = line.iter().position(|&b| b == b'\r' || b == b'\n')?;
            text.extend_from_slice(&rest[..end]);
            rest = &rest[end..];
            if !rest.starts_with(eol) || rest.len() != eol.len() || end == 0 {
                return None;
            }
            final_newline = true;
            break;
        }
        text.extend_from_slice(line);
        rest = &rest[take..];
        if rest.is_empty() {
            break;
        }
        if !rest.starts_with(eol) {
            return None;
        }
        rest = &rest[eol.len()..];
        if rest.is_empty() {
            final_newline = true;
        }
    }
    let decoded = STANDARD.decode(&text).ok()?;
    let layout = Layout {
        line_len: line_len as u32,
        crlf,
        final_newline,
    };
    (encode(&decoded, layout) == body).then_some((decoded, layout))
}

/// The layout under which `decoded` encodes to exactly `body`, if there is one.
///
/// Used with the bytes the MIME parser already decoded, so a body is decoded only once; the
/// check encodes line by line and compares in place, without building the whole text.
pub fn layout_for(body: &[u8], decoded: &[u8]) -> Option<Layout> {
    if body.is_empty() || decoded.is_empty() {
        return None;
    }
    let (line_len, crlf) = match body.iter().position(|&b| b == b'\n') {
        Some(nl) => {
            let crlf = nl > 0 && body[nl - 1] == b'\r';
            (nl - usize::from(crlf), crlf)
        }
        None => (body.len(), false),
    };
    if line_len == 0 || !line_len.is_multiple_of(4) {
        return None;
    }
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let final_newline = body.contains(&b'\n') && body.ends_with(eol);
    let layout = Layout {
        line_len: line_len as u32,
        crlf,
        final_newline,
    };
    let per_line = line_len / 4 * 3;
    let mut buf = vec![0u8; line_len];
    let mut pos = 0usize;
    let n = decoded.len().div_ceil(per_line);
    for (i, chunk) in decoded.chunks(per_line).enumerate() {
        let len = STANDARD.encode_slice(chunk, &mut buf).ok()?;
        if body.get(pos..pos + len)? != &buf[..len] {
            return None;
        }
        pos += len;
        if i + 1 < n || final_newline {
            if !body[pos..].starts_with(eol) {
                return None;
            }
            pos += eol.len();
        }
    }
    (pos == body.len()).then_some(layout)
}

/// Rebuilds the body text from decoded bytes and its layout.
pub fn encode(decoded: &[u8], layout: Layout) -> Vec<u8> {
    let text = STANDARD.encode(decoded);
    let eol: &[u8] = if layout.crlf { b"\r\n" } else { b"\n" };
    let line_len = layout.line_len.max(4) as usize;
    let mut out = Vec::with_capacity(text.len() + text.len() / line_len * eol.len() + 2);
    let mut chunks = text.as_bytes().chunks(line_len).peekable();
    while let Some(chunk) = chunks.next() {
        out.extend_from_slice(chunk);
        if chunks.peek().is_some() || layout.final_newline {
            out.extend_from_slice(eol);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrap(data: &[u8], n: usize, eol: &str, final_nl: bool) -> Vec<u8> {
        let t = STANDARD.encode(data);
        let mut s = t
            .as_bytes()
            .chunks(n)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(eol);
        if final_nl {
            s.push_str(eol);
        }
        s.into_bytes()
    }

    #[test]
    fn round_trips_every_shape() {
        for len in [1usize, 2, 3, 56, 57, 58, 1000, 4096] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
            for (n, eol, fin) in [
                (76, "\n", true),
                (76, "\r\n", true),
                (72, "\r\n", false),
                (64, "\n", false),
            ] {
                let body = wrap(&data, n, eol, fin);
                let (dec, layout) = analyze(&body).unwrap_or_else(|| panic!("len {len} n {n}"));
                assert_eq!(dec, data);
                assert_eq!(encode(&dec, layout), body);
            }
        }
    }

    #[test]
    fn refuses_what_it_cannot_rebuild() {
        let data = vec![7u8; 300];
        let mut body = wrap(&data, 76, "\n", true);
        body.insert(10, b' ');
        assert!(analyze(&body).is_none());
        let mut body = wrap(&data, 76, "\n", true);
        body.extend_from_slice(b"\n");
        assert!(analyze(&body).is_none(), "extra blank line");
        assert!(layout_for(&body, &data).is_none(), "extra blank line");
        assert!(
            analyze(b"QQ==\r\nQQ==\r\n").is_none(),
            "padding in the middle"
        );
        assert!(analyze(b"QR==\n").is_none(), "non-canonical bits");
        assert!(analyze(b"").is_none());
        let mixed = b"QUFBQUFB\r\nQUFB\nQQ==\n";
        assert!(analyze(mixed).is_none());
    }
}
