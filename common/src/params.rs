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
        self.0
            .binary_search_by(|(k, _)| java_cmp_chars(k.chars(), parts.iter().flat_map(|p| p.chars())))
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
pub fn java_cmp(a: &str, b: &str) -> Ordering {
    java_cmp_chars(a.chars(), b.chars())
}

fn java_cmp_chars(mut a: impl Iterator<Item = char>, mut b: impl Iterator<Item = char>) -> Ordering {
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => {
                let (mut bx, mut by) = ([0u16; 2], [0u16; 2]);
                return (*x.encode_utf16(&mut bx)).cmp(&*y.encode_utf16(&mut by));
            }
        }
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
