//! Fuzzes what Arkiv reads from a mail server it archives from: the IMAP response framer,
//! imap-codec's decoding with Arkiv's FETCH fallback and modified UTF-7, and POP3's
//! multi-line answers. Checks that nothing panics, that limits hold (no response, literal or
//! message above them), and that how the bytes are split into reads changes nothing.
#![no_main]

use arkiv_mailclient::imap::frame::Limits;
use arkiv_mailclient::imap::read_responses;
use arkiv_mailclient::pop3::lines::{LineReader, MultiLine};
use libfuzzer_sys::fuzz_target;

fn chunks(data: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut n = seed as usize;
    while !rest.is_empty() {
        n = (n * 31 + 7) % 97 + 1;
        let k = n.min(rest.len());
        out.push(&rest[..k]);
        rest = &rest[k..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else { return };
    let limits = Limits { max_line: 4096, max_literal: 8192 };
    let whole = read_responses(&[input], &limits);
    let split = read_responses(&chunks(input, seed), &limits);
    match (&whole, &split) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.len(), b.len());
            for ((fa, ma), (fb, mb)) in a.iter().zip(b) {
                assert_eq!(fa, fb, "the same responses however the bytes arrive");
                assert_eq!(ma, mb);
                assert!(fa.bytes.len() as u64 <= limits.max_literal + 4 * limits.max_line as u64 + 2);
                for l in &fa.literals {
                    assert!(l.start <= l.end && l.end <= fa.bytes.len());
                    assert!((l.end - l.start) as u64 <= limits.max_literal);
                }
                if let Some(m) = ma {
                    assert!(m.bytes.len() as u64 <= limits.max_literal);
                }
            }
        }
        // An error may come earlier when it is found in a later read; both must refuse.
        (Err(_), Err(_)) => {}
        (a, b) => panic!("whole: {:?} / split: {:?}", a.as_ref().map(|v| v.len()), b.as_ref().map(|v| v.len())),
    }

    // POP3: a multi-line answer, whole and split.
    let pop = |parts: &[&[u8]]| -> Result<Option<Vec<u8>>, u64> {
        let mut r = LineReader::default();
        let mut m = MultiLine::new(4096);
        for p in parts {
            r.push(p);
            if m.feed(&mut r)? {
                return Ok(Some(m.into_bytes()));
            }
        }
        Ok(None)
    };
    let a = pop(&[input]);
    let b = pop(&chunks(input, seed));
    match (&a, &b) {
        (Ok(x), Ok(y)) => {
            assert_eq!(x, y);
            if let Some(m) = x {
                assert!(m.len() <= 4096);
            }
        }
        (Err(_), Err(_)) => {}
        // The limit may be noticed before the terminator in one split and not in the other
        // only if the answer really exceeds it.
        (Ok(Some(m)), Err(_)) | (Err(_), Ok(Some(m))) => assert!(m.len() > 4096 - 200, "{}", m.len()),
        _ => {}
    }
});
