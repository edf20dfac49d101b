//! The cache-file parser on untrusted text (a file anyone may have edited or truncated)
//! never panics, and what it writes it reads back.

use std::collections::BTreeMap;

use proptest::prelude::*;

proptest! {
    // 256 cases; PROPTEST_CASES (scripts/fuzz.sh) sets more.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn any_text_never_panics(text in "\\PC{0,200}", raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = zkdubbo_registry::cache::parse_properties(&text);
        let _ = zkdubbo_registry::cache::parse_properties(&String::from_utf8_lossy(&raw));
    }

    #[test]
    fn written_entries_read_back(entries in proptest::collection::btree_map("\\PC{1,20}", "\\PC{0,40}", 0..8)) {
        let text = zkdubbo_registry::cache::format_properties(&entries);
        let back: BTreeMap<String, String> = zkdubbo_registry::cache::parse_properties(&text).unwrap();
        prop_assert_eq!(back, entries);
    }
}
