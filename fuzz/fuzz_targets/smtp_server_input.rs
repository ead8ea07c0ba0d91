//! Fuzzes what Arkiv's SMTP journal receiver reads from senders: the receiver's framing of
//! command lines, DATA (dot-transparency, CRLF-only line ends) and BDAT chunks under small
//! limits, and smtp-proto's parsing of every command line. Checks that nothing panics, that
//! no line or message exceeds its limit, that a kept message is as long as counted, and
//! that the events and messages do not depend on how the bytes arrive.
#![no_main]

use arkiv_server::smtp::frame::{Event, Limits, Receiver};
use libfuzzer_sys::fuzz_target;
use smtp_proto::Request;

fn run(parts: &[&[u8]], limits: &Limits) -> Vec<String> {
    let mut r = Receiver::new(limits.clone());
    let mut out = Vec::new();
    for p in parts {
        r.push(p);
        while let Some(ev) = r.next_event() {
            match &ev {
                Event::Line(l) => {
                    assert!(l.len() <= limits.line);
                    match Request::parse(&mut l.iter()) {
                        Ok(Request::Data) => r.expect_data(),
                        Ok(Request::Bdat {
                            chunk_size,
                            is_last,
                        }) => r.expect_chunk(chunk_size, is_last),
                        Ok(Request::Rset) => r.reset_message(),
                        _ => {}
                    }
                }
                Event::Ended { last: true, .. } => {
                    let (m, size) = r.take_message();
                    if let Some(m) = &m {
                        assert!(m.len() <= limits.message);
                        assert_eq!(m.len(), size);
                    }
                    out.push(format!("{m:?} {size}"));
                }
                _ => {}
            }
            out.push(format!("{ev:?}"));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        line: 256,
        message: 2048,
    };
    let whole = run(&[input], &limits);
    let cut = (seed as usize * 7).min(input.len());
    let split = run(&[&input[..cut], &input[cut..]], &limits);
    assert_eq!(whole, split);
});
