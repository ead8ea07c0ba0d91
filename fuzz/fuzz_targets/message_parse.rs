//! Feeds arbitrary bytes through the MIME glue the store relies on to cut messages into blobs.
//!
//! Invariants: `parse` never panics (it runs mail-parser under `catch_unwind`, so a panic that
//! escapes is a bug); the part bodies it reports lie inside the input, are non-empty, in byte
//! order and non-overlapping (the store splices them back into the skeleton at these offsets);
//! `large_bodies` returns a subset of them with the same properties; and every base64 body that
//! `base64lines::analyze` accepts re-encodes with `encode` to exactly the original bytes (base64
//! encoding is injective, so the decoded bytes are then the only possible ones); and where the
//! parser kept a large body's decoded bytes (`BodySpan::decoded`, the store's fast path),
//! `base64lines::layout_for` accepts only a layout under which they re-encode to exactly the
//! body, the same layout `analyze` finds.
//!
//! `parse` runs mail-parser under `catch_unwind` because mail-parser 0.11 has `debug_assert!`s
//! that fire on malformed input; the product turns those into a `problem`. libfuzzer-sys's panic
//! hook would abort on them even though they are caught, so this target installs a hook that
//! lets a panic *located in mail-parser* and raised *inside `parse`* unwind to the product's
//! `catch_unwind`, and aborts on every other panic (arkiv's own code, these assertions).

#![no_main]

use std::cell::Cell;
use std::sync::Once;

use arkiv_message::base64lines::{analyze, encode, layout_for};
use arkiv_message::{ParsedMessage, large_bodies};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static IN_PARSE: Cell<bool> = const { Cell::new(false) };
}

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_mail_parser = info
                .location()
                .is_some_and(|l| l.file().contains("mail-parser"));
            if in_mail_parser && IN_PARSE.with(Cell::get) {
                return; // caught by `arkiv_message::parse`, which reports a problem
            }
            fuzzer_hook(info); // prints and aborts
        }));
    });
}

fn parse(data: &[u8]) -> ParsedMessage {
    IN_PARSE.with(|f| f.set(true));
    let parsed = arkiv_message::parse(data);
    IN_PARSE.with(|f| f.set(false));
    parsed
}

fuzz_target!(|data: &[u8]| {
    install_hook();
    check(data);
    // Random bytes rarely look like a MIME message: also try them as the body of a multipart
    // message with a base64 part, so that the fuzzer spends its time in the body code paths.
    let mut wrapped = b"From: a@example.invalid\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\n\
        Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    wrapped.extend_from_slice(data);
    wrapped.extend_from_slice(b"\r\n--zz--\r\n");
    check(&wrapped);
    // And the raw input as a base64 body on its own.
    check_base64(data);
});

fn check(data: &[u8]) {
    let parsed = parse(data);
    let mut last_end = 0usize;
    for b in &parsed.bodies {
        assert!(
            b.range.start < b.range.end,
            "empty or reversed body {:?}",
            b.range
        );
        assert!(
            b.range.end <= data.len(),
            "body {:?} past the input",
            b.range
        );
        assert!(
            b.range.start >= last_end,
            "bodies overlap or are out of order"
        );
        last_end = b.range.end;
    }
    if parsed.problem.is_some() {
        assert!(parsed.bodies.is_empty(), "a problem message with bodies");
    }
    for threshold in [1, 64] {
        let spans = large_bodies(&parsed, threshold);
        let mut last_end = 0usize;
        for span in &spans {
            assert!(span.range.len() >= threshold, "span below the threshold");
            assert!(
                span.range.end <= data.len(),
                "span {:?} past the input",
                span.range
            );
            assert!(
                span.range.start >= last_end,
                "spans overlap or are out of order"
            );
            assert!(
                parsed
                    .bodies
                    .iter()
                    .any(|b| b.range == span.range && b.base64 == span.base64),
                "span that is not a part body"
            );
            last_end = span.range.end;
            if span.base64 {
                let body = &data[span.range.clone()];
                check_base64(body);
                if let Some(decoded) = span.decoded {
                    check_layout_for(body, decoded);
                }
            }
        }
    }
}

fn check_base64(body: &[u8]) {
    let Some((decoded, layout)) = analyze(body) else {
        return;
    };
    assert_eq!(
        encode(&decoded, layout),
        body,
        "analyze accepted a body that does not re-encode to itself ({layout:?})"
    );
    assert!(
        layout.line_len > 0 && layout.line_len.is_multiple_of(4),
        "accepted layout with line length {}",
        layout.line_len
    );
}

/// The store's fast path: the parser's decoded bytes plus `layout_for` instead of `analyze`.
/// An accepted layout must rebuild the body exactly (else a stored message would not come
/// back), and must agree with `analyze` on the same body.
fn check_layout_for(body: &[u8], decoded: &[u8]) {
    let Some(layout) = layout_for(body, decoded) else {
        return;
    };
    assert_eq!(
        encode(decoded, layout),
        body,
        "layout_for accepted {layout:?} but the decoded bytes do not re-encode to the body"
    );
    assert_eq!(
        analyze(body),
        Some((decoded.to_vec(), layout)),
        "layout_for and analyze disagree"
    );
}
