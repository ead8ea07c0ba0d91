//! Fuzzes what Arkiv's IMAP service reads from clients and from archived messages: the
//! command framer (limits on lines, literals, commands and nesting), imap-codec's decoding of
//! each framed command, and the MIME walker behind ENVELOPE, BODYSTRUCTURE and BODY[...]
//! sections. Checks that nothing panics, that a framed command never exceeds the limits, that
//! splitting the input into reads changes nothing, and that every section lies inside the
//! message.
#![no_main]

use arkiv_server::imap::frame::{Event, Framer, Limits};
use arkiv_server::imap::structure::{self, What};
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use libfuzzer_sys::fuzz_target;

fn events(parts: &[&[u8]], limits: &Limits) -> Vec<String> {
    let mut f = Framer::new(limits.clone());
    let mut out = Vec::new();
    for p in parts {
        f.push(p);
        while let Some(ev) = f.next_event() {
            if let Event::Command(c) = &ev {
                assert!(c.len() <= limits.max_command + limits.max_line);
                let _ = CommandCodec::default().decode(c);
            }
            out.push(format!("{ev:?}"));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else { return };
    let limits = Limits {
        max_line: 512,
        max_literal: 1024,
        max_command: 4096,
        max_depth: 16,
    };
    let whole = events(&[input], &limits);
    let cut = (seed as usize).min(input.len());
    let split = events(&[&input[..cut], &input[cut..]], &limits);
    assert_eq!(whole, split);

    // The same bytes as an archived message.
    let root = structure::parse(input);
    let mut out = Vec::new();
    structure::envelope(&mut out, &input[..structure::header_end(input)]);
    structure::bodystructure(&mut out, input, &root, true, false);
    for path in [&[][..], &[1], &[1, 1], &[2, 1, 3]] {
        for what in [What::Content, What::Header, What::Text, What::Mime] {
            if let Some(s) = structure::section(input, &root, path, &what) {
                assert!(s.len() <= input.len() + 2);
            }
        }
    }
});
