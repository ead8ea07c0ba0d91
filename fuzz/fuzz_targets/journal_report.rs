//! Fuzzes the unwrapping of Exchange / Microsoft 365 journal reports
//! (`arkiv_message::journal`): the input as a whole message, as the attached original of a
//! report (sent as it is, base64 and quoted-printable), and as a report's envelope part.
//!
//! Invariants: no panic (the unwrapper is Arkiv's own parser, nothing is caught); the same
//! answer twice; an answer has a non-empty original no longer than the input, at least one
//! recipient, and only lower-case addresses with an `@`, the recipients without duplicates;
//! an attached original that does not contain the report's boundary comes back byte for
//! byte, whatever its transfer encoding; and whatever the envelope part says, the original
//! returned is the one attached.
#![no_main]

use arkiv_message::base64lines::{Layout, encode};
use arkiv_message::journal::{JournalReport, journal_report};
use libfuzzer_sys::fuzz_target;

const BOUNDARY: &str = "_000_fuzz_journal_report_";
const ENVELOPE: &[u8] = b"Sender: alice@example.com\r\nSubject: s\r\n\
    Message-Id: <m@example.com>\r\nTo: bob@example.com, Expanded: list@example.com\r\n";
const ORIGINAL: &[u8] =
    b"From: alice@example.com\r\nTo: list@example.com\r\nSubject: s\r\n\r\nbody\r\n";

fn report(envelope_head: &str, envelope: &[u8], original_head: &str, original: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "From: alice@example.com\r\nSubject: s\r\nX-MS-Journal-Report:\r\n\
         Content-Type: multipart/mixed; boundary=\"{BOUNDARY}\"\r\n\r\n\
         --{BOUNDARY}\r\n{envelope_head}\r\n\r\n"
    )
    .into_bytes();
    m.extend_from_slice(envelope);
    m.extend_from_slice(format!("\r\n--{BOUNDARY}\r\n{original_head}\r\n\r\n").as_bytes());
    m.extend_from_slice(original);
    m.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    m
}

fn quoted_printable(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 3 + data.len() / 8);
    for (i, b) in data.iter().enumerate() {
        if i > 0 && i % 25 == 0 {
            out.extend_from_slice(b"=\r\n");
        }
        out.extend_from_slice(format!("={b:02X}").as_bytes());
    }
    out
}

fn check(data: &[u8]) -> Option<JournalReport> {
    let r = journal_report(data);
    assert_eq!(
        r,
        journal_report(data),
        "a different answer the second time"
    );
    if let Some(r) = &r {
        assert!(!r.original.is_empty(), "an empty original");
        assert!(
            r.original.len() <= data.len(),
            "an original longer than the report"
        );
        assert!(!r.recipients.is_empty(), "a report without recipients");
        for a in r.sender.iter().chain(&r.recipients) {
            assert!(a.contains('@') && *a == a.to_lowercase(), "address {a:?}");
        }
        let mut unique = r.recipients.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), r.recipients.len(), "duplicate recipients");
    }
    r
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    check(data);

    // The input as the attached original.
    let text = "Content-Type: text/plain; charset=us-ascii";
    let base64 = encode(
        data,
        Layout {
            line_len: 76,
            crlf: true,
            final_newline: true,
        },
    );
    let attached = [
        (
            report(text, ENVELOPE, "Content-Type: message/rfc822", data),
            !contains(data, BOUNDARY.as_bytes()),
        ),
        (
            report(
                text,
                ENVELOPE,
                "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64",
                &base64,
            ),
            true,
        ),
        (
            report(
                text,
                ENVELOPE,
                "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: quoted-printable",
                &quoted_printable(data),
            ),
            true,
        ),
    ];
    for (bytes, exact) in attached {
        let r = check(&bytes);
        if exact && !data.is_empty() {
            assert_eq!(
                r.map(|r| r.original).as_deref(),
                Some(data),
                "the attached original changed"
            );
        }
    }

    // The input as the envelope part.
    for head in [
        text,
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable",
    ] {
        let r = check(&report(
            head,
            data,
            "Content-Type: message/rfc822",
            ORIGINAL,
        ));
        if !contains(data, BOUNDARY.as_bytes()) {
            assert!(
                r.is_none_or(|r| r.original == ORIGINAL),
                "the envelope changed the original"
            );
        }
    }
});
