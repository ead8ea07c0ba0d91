//! Fuzzes the quick-search parser: no panic, errors point inside the query, parsing is pure.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else { return };
    match arkiv_index::parse(q) {
        Ok(tree) => assert_eq!(arkiv_index::parse(q).ok(), Some(tree)),
        Err(e) => {
            let n = q.chars().count();
            assert!(e.position >= 1, "{e}");
            assert!(e.position <= n.max(arkiv_index::query::MAX_QUERY_CHARS) + 1, "{e} for {n} chars");
            assert!(!e.message.is_empty());
        }
    }
});
