//! URL parameters: a sorted, shared, copy-on-write map.
//!
//! Dubbo formats parameters in `TreeMap` order, i.e. by Java `String.compareTo`, which compares
//! UTF-16 code units. That differs from Rust's byte order only when a character in
//! U+E000..=U+FFFF meets one above U+FFFF, but the node name must be byte-identical, so the map
//! is kept in Java's order and every lookup uses it.
//!
//! Parameters live behind an `Arc`: cloning a URL is cheap, and adding a parameter copies the
//! map only when it is shared. All keys and values of one map sit back to back in a single
//! string, so building a map (parsing a URL, merging two) allocates twice, not twice per
//! parameter.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The parameters of a [`Url`](crate::Url), sorted by key in Java `String` order.
#[derive(Clone, Default)]
pub struct Params(Arc<Inner>);

#[derive(Clone, Default)]
struct Inner {
    /// Keys and values, back to back (replaced or removed ones may leave unused bytes).
    text: String,
    /// Sorted by key.
    entries: Vec<Entry>,
}

/// `text[start..key_end]` is the key, `text[key_end..value_end]` the value.
#[derive(Clone, Copy)]
struct Entry {
    start: usize,
    key_end: usize,
    value_end: usize,
}

impl Inner {
    #[inline]
    fn key(&self, e: &Entry) -> &str {
        &self.text[e.start..e.key_end]
    }

    #[inline]
    fn value(&self, e: &Entry) -> &str {
        &self.text[e.key_end..e.value_end]
    }

    /// Rewrite `text` without unused bytes when they are more than half of it.
    fn compact_if_sparse(&mut self) {
        let live: usize = self.entries.iter().map(|e| e.value_end - e.start).sum();
        if self.text.len() <= 2 * live + 64 {
            return;
        }
        let mut text = String::with_capacity(live);
        for e in &mut self.entries {
            let start = text.len();
            text.push_str(&self.text[e.start..e.value_end]);
            *e = Entry {
                start,
                key_end: start + (e.key_end - e.start),
                value_end: text.len(),
            };
        }
        self.text = text;
    }

    fn push_text(&mut self, key: &str, value: &str) -> Entry {
        let start = self.text.len();
        self.text.push_str(key);
        let key_end = self.text.len();
        self.text.push_str(value);
        Entry {
            start,
            key_end,
            value_end: self.text.len(),
        }
    }
}

impl Params {
    /// An empty parameter map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`, if present (possibly empty).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.find(&[key]).ok().map(|i| self.0.value(&self.0.entries[i]))
    }

    /// The value of the key spelled by concatenating `parts`, without building that string
    /// (e.g. `["sayHello", ".", "timeout"]` for a method parameter).
    pub fn get_concat(&self, parts: &[&str]) -> Option<&str> {
        self.find(parts).ok().map(|i| self.0.value(&self.0.entries[i]))
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(&[key]).is_ok()
    }

    /// Set `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: impl Into<Box<str>>, value: impl Into<Box<str>>) -> Option<Box<str>> {
        let key = key.into();
        let value = value.into();
        match self.find(&[&key]) {
            Ok(i) => {
                let e = self.0.entries[i];
                let old: Box<str> = self.0.value(&e).into();
                if *old == *value {
                    return Some(old);
                }
                let inner = Arc::make_mut(&mut self.0);
                // The pair is written anew at the end; the old bytes stay unused until the
                // next compaction.
                inner.entries[i] = inner.push_text(&key, &value);
                inner.compact_if_sparse();
                Some(old)
            }
            Err(i) => {
                let inner = Arc::make_mut(&mut self.0);
                let entry = inner.push_text(&key, &value);
                inner.entries.insert(i, entry);
                None
            }
        }
    }

    /// Remove `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Box<str>> {
        let i = self.find(&[key]).ok()?;
        let inner = Arc::make_mut(&mut self.0);
        let e = inner.entries.remove(i);
        let old = inner.value(&e).into();
        inner.compact_if_sparse();
        Some(old)
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.entries.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.entries.is_empty()
    }

    /// The parameters in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        let inner = &*self.0;
        inner.entries.iter().map(move |e| (inner.key(e), inner.value(e)))
    }

    fn find(&self, parts: &[&str]) -> Result<usize, usize> {
        // Keys spelled in parts (`method.key`) are joined in a stack buffer, so the search
        // compares slices like a plain lookup instead of walking chained iterators.
        const STACK_KEY: usize = 128;
        match parts {
            [key] => self.find_bytes(key.as_bytes()),
            _ if parts.iter().map(|p| p.len()).sum::<usize>() <= STACK_KEY => {
                let mut buf = [0u8; STACK_KEY];
                let mut len = 0;
                for p in parts {
                    buf[len..len + p.len()].copy_from_slice(p.as_bytes());
                    len += p.len();
                }
                self.find_bytes(&buf[..len])
            }
            _ => {
                let inner = &*self.0;
                inner
                    .entries
                    .binary_search_by(|e| java_cmp_bytes(inner.key(e).bytes(), parts.iter().flat_map(|p| p.bytes())))
            }
        }
    }

    fn find_bytes(&self, key: &[u8]) -> Result<usize, usize> {
        let inner = &*self.0;
        let text = inner.text.as_bytes();
        inner
            .entries
            .binary_search_by(|e| java_cmp_slices(&text[e.start..e.key_end], key))
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || (self.len() == other.len() && self.iter().eq(other.iter()))
    }
}

impl Eq for Params {}

impl Hash for Params {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for (k, v) in self.iter() {
            k.hash(state);
            v.hash(state);
        }
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Params {
    /// Later duplicates win, as with Java's `HashMap.put`.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut v: Vec<(K, V)> = iter.into_iter().collect();
        let sorted = v
            .windows(2)
            .all(|w| java_cmp(w[0].0.as_ref(), w[1].0.as_ref()) == Ordering::Less);
        if !sorted {
            // Stable sort keeps input order among equal keys; keep the last of each run.
            v.sort_by(|a, b| java_cmp(a.0.as_ref(), b.0.as_ref()));
        }
        let bytes: usize = v.iter().map(|(k, val)| k.as_ref().len() + val.as_ref().len()).sum();
        // A little room for a parameter or two set later (a configurator's), without
        // growing either buffer.
        let mut inner = Inner {
            text: String::with_capacity(bytes + 32),
            entries: Vec::with_capacity(v.len() + 2),
        };
        for (i, (k, val)) in v.iter().enumerate() {
            let k = k.as_ref();
            if v.get(i + 1).is_some_and(|next| next.0.as_ref() == k) {
                continue;
            }
            let entry = inner.push_text(k, val.as_ref());
            inner.entries.push(entry);
        }
        Params(Arc::new(inner))
    }
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Compare two strings as Java's `String.compareTo` does (UTF-16 code unit order).
///
/// UTF-8 byte order is code point order, which is UTF-16 order except between a character in
/// U+E000..=U+FFFF and one above U+FFFF (Java sees the latter's surrogates, 0xD800.., first).
/// Strings that share a prefix diverge at their first differing byte; only when those bytes
/// are lead bytes of exactly those two classes (0xEE–0xEF against 0xF0–0xF4) does the order
/// flip, so a byte comparison with that one correction is exact.
pub fn java_cmp(a: &str, b: &str) -> Ordering {
    java_cmp_slices(a.as_bytes(), b.as_bytes())
}

/// [`java_cmp`] on the UTF-8 bytes of two strings.
fn java_cmp_slices(a: &[u8], b: &[u8]) -> Ordering {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    match (a.get(common), b.get(common)) {
        (Some(&x), Some(&y)) => java_cmp_diverging(x, y),
        _ => a.len().cmp(&b.len()),
    }
}

/// [`java_cmp`] over byte streams (for keys spelled as several parts).
fn java_cmp_bytes(mut a: impl Iterator<Item = u8>, mut b: impl Iterator<Item = u8>) -> Ordering {
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => return java_cmp_diverging(x, y),
        }
    }
}

/// Order of two UTF-8 strings whose first differing bytes are `x` and `y`.
fn java_cmp_diverging(x: u8, y: u8) -> Ordering {
    let high_bmp = |b: u8| (0xEE..=0xEF).contains(&b);
    let supplementary = |b: u8| b >= 0xF0;
    if high_bmp(x) && supplementary(y) {
        Ordering::Greater
    } else if supplementary(x) && high_bmp(y) {
        Ordering::Less
    } else {
        x.cmp(&y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_order_puts_supplementary_characters_before_high_bmp() {
        // U+1F600 is the surrogate pair D83D DE00, which Java sorts before U+FF21.
        assert_eq!(java_cmp("\u{1F600}", "\u{FF21}"), Ordering::Less);
        assert_eq!("\u{1F600}".cmp("\u{FF21}"), Ordering::Greater);
        assert_eq!(java_cmp("a", "ab"), Ordering::Less);
        assert_eq!(java_cmp("B", "a"), Ordering::Less);
    }

    /// The definition: compare UTF-16 code units.
    fn utf16_reference(a: &str, b: &str) -> Ordering {
        a.encode_utf16().cmp(b.encode_utf16())
    }

    #[test]
    fn byte_comparison_agrees_with_utf16_order_on_the_tricky_classes() {
        let samples = [
            "",
            "a",
            "ab",
            "\u{7FF}",
            "\u{D7FF}",
            "\u{E000}",
            "\u{FF21}",
            "\u{FFFF}",
            "\u{10000}",
            "\u{1F600}",
            "a\u{FF21}",
            "a\u{1F600}",
        ];
        for a in samples {
            for b in samples {
                assert_eq!(java_cmp(a, b), utf16_reference(a, b), "{a:?} vs {b:?}");
                assert_eq!(
                    java_cmp_bytes(a.bytes(), b.bytes()),
                    utf16_reference(a, b),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn java_cmp_is_utf16_order(a in "\\PC{0,6}", b in "\\PC{0,6}") {
            proptest::prop_assert_eq!(java_cmp(&a, &b), utf16_reference(&a, &b));
            let (head, tail) = a.split_at(a.char_indices().nth(1).map_or(a.len(), |(i, _)| i));
            let p: Params = [(b.as_str(), "v")].into_iter().collect();
            proptest::prop_assert_eq!(p.get_concat(&[head, tail]).is_some(), a == b);
            let long = "x".repeat(200);
            proptest::prop_assert_eq!(p.get_concat(&[head, tail, &long]).is_some(), b == format!("{a}{long}"));
        }
    }

    #[test]
    fn insert_get_remove_keep_order() {
        let mut p = Params::new();
        assert_eq!(p.insert("z", "1"), None);
        p.insert("a", "2");
        p.insert("m", "3");
        assert_eq!(p.insert("a", "4").as_deref(), Some("2"));
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![("a", "4"), ("m", "3"), ("z", "1")]);
        assert_eq!(p.remove("m").as_deref(), Some("3"));
        assert_eq!(p.get("m"), None);
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn concat_lookup_finds_method_keys() {
        let p: Params = [("sayHello.timeout", "3000"), ("timeout", "1000")]
            .into_iter()
            .collect();
        assert_eq!(p.get_concat(&["sayHello", ".", "timeout"]), Some("3000"));
        assert_eq!(p.get_concat(&["other", ".", "timeout"]), None);
    }

    #[test]
    fn clones_share_until_written() {
        let mut a: Params = [("k", "v")].into_iter().collect();
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.0, &b.0));
        a.insert("k", "v"); // same value: no copy
        assert!(Arc::ptr_eq(&a.0, &b.0));
        a.insert("k", "w");
        assert!(!Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(b.get("k"), Some("v"));
    }

    #[test]
    fn rewrites_and_removals_keep_every_other_pair() {
        let mut p: Params = [("a", "1"), ("b", "2"), ("c", "3")].into_iter().collect();
        let mut model: std::collections::BTreeMap<String, String> =
            p.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        for i in 0..200 {
            let (k, v) = (format!("k{}", i % 7), "x".repeat(i % 5));
            assert_eq!(
                p.insert("b", format!("value-{i}")).as_deref(),
                model.get("b").map(|s| s.as_str())
            );
            model.insert("b".into(), format!("value-{i}"));
            assert_eq!(
                p.insert(k.clone(), v.clone()).as_deref(),
                model.get(&k).map(|s| s.as_str())
            );
            model.insert(k, v);
            if i % 3 == 0 {
                assert_eq!(p.remove("k3").as_deref(), model.remove("k3").as_deref());
            }
            let got: Vec<(String, String)> = p.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            let want: Vec<(String, String)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            assert_eq!(got, want, "step {i}");
        }
        let rebuilt: Params = p.iter().collect();
        assert_eq!(rebuilt, p);
        assert!(p.0.text.len() <= 2 * rebuilt.0.text.len() + 64);
    }

    #[test]
    fn equal_maps_hash_alike() {
        use std::hash::BuildHasher;
        let a: Params = [("x", "1"), ("y", "2")].into_iter().collect();
        let mut b: Params = [("y", "0"), ("x", "1")].into_iter().collect();
        b.insert("y", "2");
        let h = std::collections::hash_map::RandomState::new();
        assert_eq!(a, b);
        assert_eq!(h.hash_one(&a), h.hash_one(&b));
        assert_ne!(a, [("x", "1")].into_iter().collect::<Params>());
    }

    #[test]
    fn from_iter_last_duplicate_wins() {
        let p: Params = [("k", "1"), ("a", "x"), ("k", "2")].into_iter().collect();
        assert_eq!(p.get("k"), Some("2"));
        assert_eq!(p.len(), 2);
    }
}
