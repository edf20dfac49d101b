//! URL parameters: a sorted, shared, copy-on-write map.
//!
//! Dubbo formats parameters in `TreeMap` order, i.e. by Java `String.compareTo`, which compares
//! UTF-16 code units. That differs from Rust's byte order only when a character in
//! U+E000..=U+FFFF meets one above U+FFFF, but the node name must be byte-identical, so the map
//! is kept in Java's order and every lookup uses it.
//!
//! Parameters live behind an `Arc`: cloning a URL is cheap, and adding a parameter copies the
//! vector only when it is shared.

use std::cmp::Ordering;
use std::sync::Arc;

/// The parameters of a [`Url`](crate::Url), sorted by key in Java `String` order.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Params(Arc<Vec<(Box<str>, Box<str>)>>);

impl Params {
    /// An empty parameter map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`, if present (possibly empty).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.find(&[key]).ok().map(|i| &*self.0[i].1)
    }

    /// The value of the key spelled by concatenating `parts`, without building that string
    /// (e.g. `["sayHello", ".", "timeout"]` for a method parameter).
    pub fn get_concat(&self, parts: &[&str]) -> Option<&str> {
        self.find(parts).ok().map(|i| &*self.0[i].1)
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
                if *self.0[i].1 == *value {
                    return Some(value);
                }
                Some(std::mem::replace(&mut Arc::make_mut(&mut self.0)[i].1, value))
            }
            Err(i) => {
                Arc::make_mut(&mut self.0).insert(i, (key, value));
                None
            }
        }
    }

    /// Remove `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Box<str>> {
        let i = self.find(&[key]).ok()?;
        Some(Arc::make_mut(&mut self.0).remove(i).1)
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The parameters in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.0.iter().map(|(k, v)| (&**k, &**v))
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
            _ => self
                .0
                .binary_search_by(|(k, _)| java_cmp_bytes(k.bytes(), parts.iter().flat_map(|p| p.bytes()))),
        }
    }

    fn find_bytes(&self, key: &[u8]) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| java_cmp_slices(k.as_bytes(), key))
    }
}

impl<K: Into<Box<str>>, V: Into<Box<str>>> FromIterator<(K, V)> for Params {
    /// Later duplicates win, as with Java's `HashMap.put`.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut v: Vec<(Box<str>, Box<str>)> = iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        // Stable sort keeps input order among equal keys; keep the last of each run.
        v.sort_by(|a, b| java_cmp(&a.0, &b.0));
        let mut out: Vec<(Box<str>, Box<str>)> = Vec::with_capacity(v.len());
        for (k, val) in v {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = val,
                _ => out.push((k, val)),
            }
        }
        Params(Arc::new(out))
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
    fn from_iter_last_duplicate_wins() {
        let p: Params = [("k", "1"), ("a", "x"), ("k", "2")].into_iter().collect();
        assert_eq!(p.get("k"), Some("2"));
        assert_eq!(p.len(), 2);
    }
}
