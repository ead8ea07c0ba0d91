//! Feeds arbitrary bytes through the mbox splitter with every format and a small size limit.
//!
//! Invariants: no panic; every entry's offset is where the previous one ended (so offsets
//! strictly increase); the input lengths add up to the input when the input is an mbox;
//! messages are no larger than their input span, the limit, or the input; an error ends the
//! iteration.

#![no_main]

use arkiv_sources::MboxFormat;
use arkiv_sources::mbox::{MboxEntry, MboxReader};
use libfuzzer_sys::fuzz_target;

const FORMATS: [MboxFormat; 5] = [
    MboxFormat::Auto,
    MboxFormat::Mboxo,
    MboxFormat::Mboxrd,
    MboxFormat::Mboxcl,
    MboxFormat::Mboxcl2,
];

fuzz_target!(|data: &[u8]| {
    // Most random inputs are not mboxes; also check each input behind a From_ line so that the
    // fuzzer spends its time inside the splitter.
    let mut mbox = b"From fuzz@example.invalid Thu Jan  1 00:00:00 2024\n".to_vec();
    mbox.extend_from_slice(data);
    for input in [data, &mbox[..]] {
        for format in FORMATS {
            for max in [64, 4096] {
                check(input, format, max);
            }
        }
    }
});

fn check(data: &[u8], format: MboxFormat, max: u64) {
    let mut next_offset = 0u64;
    let mut total_bytes = 0u64;
    let mut entries = 0usize;
    let mut failed = false;
    for entry in MboxReader::new(data, format, max) {
        assert!(!failed, "entries after an error");
        let entry = match entry {
            Ok(entry) => entry,
            Err(_) => {
                assert_eq!(entries, 0, "only a non-mbox input may fail, and only first");
                failed = true;
                continue;
            }
        };
        entries += 1;
        let (offset, input_len) = match &entry {
            MboxEntry::Message {
                bytes,
                offset,
                input_len,
            } => {
                assert!(bytes.len() as u64 <= max, "message above the limit");
                assert!(
                    bytes.len() as u64 <= *input_len,
                    "message longer than its input"
                );
                total_bytes += bytes.len() as u64;
                (*offset, *input_len)
            }
            MboxEntry::Oversized {
                offset,
                input_len,
                size,
            } => {
                assert!(*size > max, "oversized entry within the limit");
                assert!(*size <= *input_len, "size larger than its input");
                (*offset, *input_len)
            }
        };
        assert_eq!(offset, next_offset, "offsets must tile the input");
        assert!(input_len >= 5, "every entry starts with a From_ line");
        next_offset = offset + input_len;
    }
    assert!(total_bytes <= data.len() as u64);
    if entries > 0 {
        assert_eq!(
            next_offset,
            data.len() as u64,
            "entries must cover the whole input"
        );
    }
    assert_eq!(failed, !data.is_empty() && !data.starts_with(b"From "));
}
