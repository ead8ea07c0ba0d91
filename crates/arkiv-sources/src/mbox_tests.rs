//! Unit tests of the mbox splitter, fed at every edge the format has.

use std::io::{self, BufRead, BufReader, Read};

use super::*;

const BIG: u64 = 1 << 30;

/// Splits `input` twice — from one buffer and one byte at a time — and checks that both
/// agree and that offsets and lengths add up.
fn split(input: &[u8], format: MboxFormat, max: u64) -> Vec<io::Result<MboxEntry>> {
    let whole: Vec<_> = MboxReader::new(input, format, max).collect();
    let bytewise: Vec<_> =
        MboxReader::new(BufReader::with_capacity(1, input), format, max).collect();
    assert_eq!(
        render(&whole),
        render(&bytewise),
        "result depends on read boundaries"
    );
    let mut expected_offset = 0;
    for entry in whole.iter().flatten() {
        let (MboxEntry::Message {
            offset, input_len, ..
        }
        | MboxEntry::Oversized {
            offset, input_len, ..
        }) = entry;
        assert_eq!(*offset, expected_offset, "entries must tile the input");
        expected_offset += input_len;
    }
    if whole.iter().all(Result::is_ok) && !whole.is_empty() {
        assert_eq!(
            expected_offset,
            input.len() as u64,
            "input_len must add up to the input"
        );
    }
    whole
}

fn render(entries: &[io::Result<MboxEntry>]) -> Vec<String> {
    entries.iter().map(|e| format!("{e:?}")).collect()
}

/// The message bytes of a split that must not fail or skip anything.
fn messages(input: &[u8], format: MboxFormat) -> Vec<Vec<u8>> {
    split(input, format, BIG)
        .into_iter()
        .map(|e| match e.expect("split failed") {
            MboxEntry::Message { bytes, .. } => bytes,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

fn strs(msgs: &[Vec<u8>]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect()
}

const FROM: &str = "From alice@example.com Thu Jan  1 00:00:00 2024\n";

#[test]
fn lf_file_strips_from_line_and_one_separator() {
    let input = format!("{FROM}Subject: a\n\nbody a\n\n{FROM}Subject: b\n\nbody b\n\n");
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Auto)),
        ["Subject: a\n\nbody a\n", "Subject: b\n\nbody b\n"]
    );
}

#[test]
fn crlf_file_keeps_crlf_and_strips_crlf_separator() {
    let input = "From a@b Thu Jan  1 00:00:00 2024\r\nSubject: a\r\n\r\nbody\r\n\r\n\
                 From a@b Thu Jan  1 00:00:00 2024\r\nSubject: b\r\n\r\nbody\r\n\r\n";
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Auto)),
        ["Subject: a\r\n\r\nbody\r\n", "Subject: b\r\n\r\nbody\r\n"]
    );
}

#[test]
fn message_ending_in_blank_lines_keeps_all_but_the_separator() {
    let input = format!("{FROM}S: a\n\nbody\n\n\n\n{FROM}S: b\n\nx\n");
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Auto)),
        ["S: a\n\nbody\n\n\n", "S: b\n\nx\n"]
    );
}

#[test]
fn unquoting_depends_on_format() {
    let body = "S: q\n\n>From one\n>>From two\n>>>From three\n> From not\n>Fromage\nx >From y\n";
    let input = format!("{FROM}{body}\n");
    let expect = |s: &str| vec![s.to_owned()];
    let rd = "S: q\n\nFrom one\n>From two\n>>From three\n> From not\n>Fromage\nx >From y\n";
    let o = "S: q\n\nFrom one\n>>From two\n>>>From three\n> From not\n>Fromage\nx >From y\n";
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Auto)),
        expect(rd)
    );
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Mboxrd)),
        expect(rd)
    );
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Mboxo)),
        expect(o)
    );
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Mboxcl)),
        expect(o)
    );
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Mboxcl2)),
        expect(body)
    );
}

#[test]
fn quoted_from_as_first_line_is_unquoted() {
    let input = format!("{FROM}>From old@x Mon Jan  1 00:00:00 1990\nS: a\n\nb\n");
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Mboxrd)),
        ["From old@x Mon Jan  1 00:00:00 1990\nS: a\n\nb\n"]
    );
}

#[test]
fn from_line_without_blank_line_splits_only_if_it_looks_real() {
    let input = format!(
        "{FROM}S: a\n\nbody\nFrom here on it is prose.\nFrom bob Fri Feb  2 10:30:00 2024\nS: b\n\nc\n"
    );
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Auto)),
        ["S: a\n\nbody\nFrom here on it is prose.\n", "S: b\n\nc\n"]
    );
    assert!(looks_like_from_line(b"From - Mon Jan 01 00:00:00 2024\n"));
    assert!(looks_like_from_line(
        b"From a@b  Fri, 1 Jan 2021 9:05:00 +0000\r\n"
    ));
    assert!(!looks_like_from_line(b"From the desk of the CEO, 2024\n"));
    assert!(!looks_like_from_line(b"From 10:30 2024\n"));
}

#[test]
fn any_from_line_after_blank_line_splits() {
    let input = format!("{FROM}S: a\n\nbody\n\nFrom here on it is a new message\nS: b\n\nc\n");
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Auto)),
        ["S: a\n\nbody\n", "S: b\n\nc\n"]
    );
}

#[test]
fn content_length_keeps_unquoted_from_lines_in_cl2() {
    let body = "line\n\nFrom inside the body\n";
    let input = format!(
        "{FROM}Content-Length: {}\nS: a\n\n{body}\n{FROM}S: b\n\nz\n",
        body.len()
    );
    let whole = format!("Content-Length: {}\nS: a\n\n{body}", body.len());
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Mboxcl2)),
        [whole.as_str(), "S: b\n\nz\n"]
    );
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Mboxcl)),
        [whole.as_str(), "S: b\n\nz\n"]
    );
    // Without Content-Length support the same file splits at the body's From line.
    assert_eq!(messages(input.as_bytes(), MboxFormat::Auto).len(), 3);
}

#[test]
fn content_length_at_eof_and_crlf() {
    let body = "a\r\n\r\nFrom x\r\n";
    let input = format!(
        "From a@b Thu Jan  1 00:00:00 2024\r\ncontent-length:  {} \r\n\r\n{body}",
        body.len()
    );
    let want = format!("content-length:  {} \r\n\r\n{body}", body.len());
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Mboxcl2)),
        std::slice::from_ref(&want)
    );
    let with_sep = format!("{input}\r\n");
    assert_eq!(
        strs(&messages(with_sep.as_bytes(), MboxFormat::Mboxcl2)),
        [want]
    );
}

#[test]
fn mboxcl_unquotes_inside_content_length_body() {
    let body = "x\n>From y\n>>From z\n";
    let input = format!("{FROM}Content-Length: {}\n\n{body}", body.len());
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Mboxcl)),
        [format!(
            "Content-Length: {}\n\nx\nFrom y\n>>From z\n",
            body.len()
        )]
    );
}

#[test]
fn wrong_content_length_falls_back_to_from_lines() {
    for wrong in [3, 9, 10_000] {
        let input = format!(
            "{FROM}Content-Length: {wrong}\n\nbody text\n\n{FROM}S: b\n\nz\n\n{FROM}S: c\n\ny\n"
        );
        let got = strs(&messages(input.as_bytes(), MboxFormat::Mboxcl2));
        assert_eq!(
            got,
            [
                format!("Content-Length: {wrong}\n\nbody text\n"),
                "S: b\n\nz\n".to_owned(),
                "S: c\n\ny\n".to_owned()
            ],
            "Content-Length {wrong}"
        );
    }
}

#[test]
fn truncated_last_message_and_missing_final_newline() {
    let input = format!("{FROM}S: a\n\nfull\n\n{FROM}S: b\n\ncut off in the midd");
    assert_eq!(
        strs(&messages(input.as_bytes(), MboxFormat::Auto)),
        ["S: a\n\nfull\n", "S: b\n\ncut off in the midd"]
    );
    let no_sep = format!("{FROM}S: a\n\nends with newline but no blank line\n");
    assert_eq!(
        strs(&messages(no_sep.as_bytes(), MboxFormat::Auto)),
        ["S: a\n\nends with newline but no blank line\n"]
    );
    let only_from = "From a@b Thu Jan  1 00:00:00 2024";
    assert_eq!(
        messages(only_from.as_bytes(), MboxFormat::Auto),
        [Vec::<u8>::new()]
    );
}

#[test]
fn nul_and_eight_bit_bytes_are_kept() {
    let msg = b"S: \xff\xfe\n\nbin\x00ary \x80\x81\r\n\x00\n".to_vec();
    let mut input = FROM.as_bytes().to_vec();
    input.extend_from_slice(&msg);
    input.extend_from_slice(b"\n");
    input.extend_from_slice(FROM.as_bytes());
    input.extend_from_slice(&msg);
    assert_eq!(messages(&input, MboxFormat::Auto), [msg.clone(), msg]);
}

#[test]
fn empty_input_is_an_empty_mbox() {
    assert!(split(b"", MboxFormat::Auto, BIG).is_empty());
}

#[test]
fn input_not_starting_with_from_is_rejected_once() {
    for input in [
        &b"Subject: x\n\nFrom a@b Thu Jan  1 00:00:00 2024\n"[..],
        b"\nFrom x",
        b"From",
        b"from x\n",
    ] {
        let got = split(input, MboxFormat::Auto, BIG);
        assert_eq!(got.len(), 1, "{input:?}");
        let err = got.into_iter().next().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(err.to_string(), NOT_AN_MBOX);
    }
}

#[test]
fn oversized_message_is_reported_and_the_next_one_survives() {
    let big_body = "y".repeat(5000) + "\n";
    let input = format!("{FROM}S: big\n\n{big_body}{big_body}\n{FROM}S: small\n\nok\n");
    let got: Vec<_> = split(input.as_bytes(), MboxFormat::Auto, 1000)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got.len(), 2);
    let size = "S: big\n\n".len() as u64 + 2 * big_body.len() as u64;
    assert!(
        matches!(got[0], MboxEntry::Oversized { offset: 0, size: s, .. } if s == size),
        "{:?}",
        got[0]
    );
    assert!(matches!(&got[1], MboxEntry::Message { bytes, .. } if bytes == b"S: small\n\nok\n"));
}

#[test]
fn message_of_exactly_the_limit_fits() {
    let msg = "S: x\n\n12345\n";
    let input = format!("{FROM}{msg}\n{FROM}{msg}\n");
    let max = msg.len() as u64;
    let got: Vec<_> = split(input.as_bytes(), MboxFormat::Auto, max)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        got.iter().all(|e| matches!(e, MboxEntry::Message { .. })),
        "{got:?}"
    );
    let got: Vec<_> = split(input.as_bytes(), MboxFormat::Auto, max - 1)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        got.iter().all(|e| matches!(e, MboxEntry::Oversized { .. })),
        "{got:?}"
    );
}

/// A reader that produces `len` bytes of `x` without a newline, without allocating them.
struct Endless {
    left: u64,
    buf: Vec<u8>,
}

impl Read for Endless {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = (out.len() as u64).min(self.left) as usize;
        out[..n].fill(b'x');
        self.left -= n as u64;
        Ok(n)
    }
}

impl BufRead for Endless {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let n = (self.buf.len() as u64).min(self.left) as usize;
        Ok(&self.buf[..n])
    }
    fn consume(&mut self, amt: usize) {
        self.left -= amt as u64;
    }
}

#[test]
fn ten_megabyte_line_is_streamed_past_when_oversized() {
    let head = format!("{FROM}S: long\n\n");
    let tail = format!("\n\n{FROM}S: after\n\nok\n");
    let line_len = 10 * 1024 * 1024;
    let reader = head
        .as_bytes()
        .chain(Endless {
            left: line_len,
            buf: vec![b'x'; 8192],
        })
        .chain(tail.as_bytes());
    let got: Vec<_> = MboxReader::new(BufReader::new(reader), MboxFormat::Auto, 64 * 1024)
        .map(Result::unwrap)
        .collect();
    assert_eq!(got.len(), 2);
    let size = "S: long\n\n".len() as u64 + line_len + 1;
    assert!(
        matches!(got[0], MboxEntry::Oversized { size: s, .. } if s == size),
        "{:?}",
        got[0]
    );
    assert!(matches!(&got[1], MboxEntry::Message { bytes, .. } if bytes == b"S: after\n\nok\n"));
}

#[test]
fn ten_megabyte_line_within_the_limit_is_kept() {
    let line = vec![b'z'; 10 * 1024 * 1024];
    let mut input = FROM.as_bytes().to_vec();
    input.extend_from_slice(b"S: long\n\n");
    input.extend_from_slice(&line);
    let got: Vec<_> = MboxReader::new(&input[..], MboxFormat::Auto, BIG)
        .map(Result::unwrap)
        .collect();
    assert_eq!(got.len(), 1);
    assert!(matches!(&got[0], MboxEntry::Message { bytes, .. } if bytes.len() == line.len() + 9));
}

#[test]
fn endless_input_is_never_buffered() {
    // 256 MiB without a newline would be noticed (and slow) if it were buffered.
    let reader = FROM.as_bytes().chain(Endless {
        left: 1 << 28,
        buf: vec![b'x'; 64 * 1024],
    });
    let got: Vec<_> = MboxReader::new(BufReader::new(reader), MboxFormat::Mboxcl2, 1 << 20)
        .map(Result::unwrap)
        .collect();
    assert!(
        matches!(
            got[..],
            [MboxEntry::Oversized {
                size: 268_435_456,
                ..
            }]
        ),
        "{got:?}"
    );
}

#[test]
fn header_parsing_helpers() {
    assert_eq!(parse_content_length(b"Content-Length: 42\r\n"), Some(42));
    assert_eq!(parse_content_length(b"CONTENT-LENGTH:7\n"), Some(7));
    assert_eq!(parse_content_length(b"Content-Length: -1\n"), None);
    assert_eq!(
        parse_content_length(b"Content-Length: 99999999999999999999999\n"),
        None
    );
    assert_eq!(parse_content_length(b"Content-Type: text/plain\n"), None);
    assert!(is_time(b"00:00:00") && is_time(b"9:05") && !is_time(b"123:00") && !is_time(b"1:2"));
}
