//! Fuzzes Arkiv's own attachment readers (RTF, Office Open XML, OpenDocument, Outlook MSG,
//! ZIP, text, HTML): never a panic, and the output stays within its limit. PDF and EML are
//! left out: their parsers are third-party crates that run in the sandbox process, whose
//! panics are caught (libFuzzer would abort on them even so).
#![no_main]

use arkiv_extract::{Kind, Limits, extract};
use libfuzzer_sys::fuzz_target;

const KINDS: [Kind; 9] = [
    Kind::Rtf,
    Kind::Docx,
    Kind::Xlsx,
    Kind::Pptx,
    Kind::OpenDocument,
    Kind::Msg,
    Kind::Zip,
    Kind::Text,
    Kind::Html,
];

fuzz_target!(|data: &[u8]| {
    let Some((&k, rest)) = data.split_first() else { return };
    let kind = KINDS[k as usize % KINDS.len()];
    let limits = Limits {
        max_output_bytes: 64 * 1024,
        max_unpacked_bytes: 8 << 20,
        ..Limits::default()
    };
    if let Ok(x) = extract(kind, rest, &limits) {
        assert!(x.text.len() <= 64 * 1024);
    }
});
