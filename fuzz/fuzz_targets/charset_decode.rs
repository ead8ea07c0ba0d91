//! Fuzzes Arkiv's charset decoding (`arkiv_message::charset`): every label, the ISO 2022 and
//! HZ state machines, the guesses for unknown labels, and the Hangul make-up composition.
//!
//! Invariants: nothing panics; the ISO 2022 and HZ decoders report every error (none of their
//! character sets holds U+FFFD, so one in their text must have been reported); `decode` of
//! valid UTF-8 under no label gives the input back, without a note.
#![no_main]

use arkiv_message::charset::{self, Charset};
use libfuzzer_sys::fuzz_target;

const LABELS: &[&str] = &[
    "utf-8", "us-ascii", "iso-8859-1", "windows-1252", "koi8-r", "iso-2022-jp",
    "iso-2022-jp-2", "cp50220", "iso-2022-kr", "hz-gb-2312", "utf-7", "shift_jis", "cp932",
    "euc-jp", "gb2312", "gb18030", "big5", "euc-kr", "ks_c_5601-1987", "tis-620",
    "utf-16", "x-unknown", "",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let label = LABELS[pick as usize % LABELS.len()];
    let hint = charset::lookup(LABELS[(pick as usize / LABELS.len()) % LABELS.len()]);
    let d = charset::decode(Some(label).filter(|l| !l.is_empty()), bytes, hint);
    if let Ok(s) = std::str::from_utf8(bytes)
        && label.is_empty()
    {
        assert_eq!(d.text, s, "valid UTF-8 without a label changed");
        assert!(d.note.is_none());
    }
    let _ = charset::guess(bytes, hint);
    let _ = charset::decode_unlabelled(bytes);
    let _ = charset::compose_hangul_makeup(&d.text);
    for cs in [Charset::Iso2022JpExt, Charset::Iso2022Kr, Charset::Hz] {
        let (text, errors) = cs.decode(bytes);
        // None of their sets holds U+FFFD: in their output it can only stand for an error.
        assert!(errors || !text.contains('\u{FFFD}'), "{cs:?} hid an error");
    }
});
