//! Mergers for the `mergeable` cluster: how the answers of several groups become one.
//!
//! Two layers:
//!
//! - [`Merger<T>`] merges decoded values. Built in: [`ListMerger`] (concatenation),
//!   [`MapMerger`] (union, later groups win), [`SetMerger`] (union), [`SumMerger`] (numbers)
//!   and [`StringMerger`] (concatenation with a separator).
//! - [`PayloadMerger`] merges encoded answers (what the cluster sees). [`prost_merger`] and
//!   [`json_merger`] turn a `Merger<T>` into one by decoding, merging and encoding again.
//!   [`Mergers`] is the registry of named payload mergers the per-method `merger` parameter
//!   selects: `true` / `default` → [`ProtobufMerger`] (protobuf's own merge: concatenating
//!   encoded messages concatenates repeated fields, unites maps and keeps the last scalar),
//!   and, for JSON payloads, `list`, `map`, `set`, `sum` and `string`.
//!
//! ```
//! use std::collections::BTreeMap;
//! use zkdubbo_cluster::merger::{MapMerger, Merger, Mergers};
//!
//! let a = BTreeMap::from([("x", 1), ("y", 2)]);
//! let b = BTreeMap::from([("y", 3)]);
//! assert_eq!(MapMerger.merge(vec![a, b]).unwrap(), BTreeMap::from([("x", 1), ("y", 3)]));
//!
//! let list = Mergers::global().get("list").unwrap();
//! let merged = list.merge(&[b"[1,2]".as_slice().into(), b"[3]".as_slice().into()]).unwrap();
//! assert_eq!(&merged[..], b"[1,2,3]");
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::hash::Hash;
use std::iter::Sum;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock, RwLock};

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why answers could not be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// An answer could not be decoded as the merger's type.
    #[error("cannot decode answer {index} as {type_name}: {message}")]
    Decode {
        /// Which answer (0-based, in group order).
        index: usize,
        /// The expected type.
        type_name: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// The merged value could not be encoded.
    #[error("cannot encode the merged value: {0}")]
    Encode(String),
    /// The values cannot be merged (e.g. a number overflowed).
    #[error("cannot merge: {0}")]
    Invalid(String),
}

/// Merges decoded answers of one type into one.
pub trait Merger<T>: Send + Sync {
    /// Merge `items` (at least one, in group order).
    ///
    /// # Errors
    /// [`MergeError`] when the values cannot be merged.
    fn merge(&self, items: Vec<T>) -> Result<T, MergeError>;
}

/// Lists: concatenated in order.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListMerger;

impl<T> Merger<Vec<T>> for ListMerger {
    fn merge(&self, items: Vec<Vec<T>>) -> Result<Vec<T>, MergeError> {
        Ok(items.into_iter().flatten().collect())
    }
}

/// Maps: united; for a key present in several answers the later answer wins.
#[derive(Debug, Clone, Copy, Default)]
pub struct MapMerger;

impl<K: Ord, V> Merger<BTreeMap<K, V>> for MapMerger {
    fn merge(&self, items: Vec<BTreeMap<K, V>>) -> Result<BTreeMap<K, V>, MergeError> {
        Ok(items.into_iter().flatten().collect())
    }
}

impl<K: Eq + Hash, V> Merger<HashMap<K, V>> for MapMerger {
    fn merge(&self, items: Vec<HashMap<K, V>>) -> Result<HashMap<K, V>, MergeError> {
        Ok(items.into_iter().flatten().collect())
    }
}

/// Sets: united. For lists (`Vec<T>`) it keeps the first occurrence of each element, in order.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetMerger;

impl<T: Ord> Merger<BTreeSet<T>> for SetMerger {
    fn merge(&self, items: Vec<BTreeSet<T>>) -> Result<BTreeSet<T>, MergeError> {
        Ok(items.into_iter().flatten().collect())
    }
}

impl<T: Eq + Hash> Merger<HashSet<T>> for SetMerger {
    fn merge(&self, items: Vec<HashSet<T>>) -> Result<HashSet<T>, MergeError> {
        Ok(items.into_iter().flatten().collect())
    }
}

impl<T: PartialEq> Merger<Vec<T>> for SetMerger {
    fn merge(&self, items: Vec<Vec<T>>) -> Result<Vec<T>, MergeError> {
        let mut out: Vec<T> = Vec::new();
        for item in items.into_iter().flatten() {
            if !out.contains(&item) {
                out.push(item);
            }
        }
        Ok(out)
    }
}

/// Numbers: summed.
#[derive(Debug, Clone, Copy, Default)]
pub struct SumMerger;

impl<T: Sum<T>> Merger<T> for SumMerger {
    fn merge(&self, items: Vec<T>) -> Result<T, MergeError> {
        Ok(items.into_iter().sum())
    }
}

/// Strings: concatenated in order, joined by a separator (default none).
#[derive(Debug, Clone, Default)]
pub struct StringMerger {
    /// Put between two answers.
    pub separator: String,
}

impl Merger<String> for StringMerger {
    fn merge(&self, items: Vec<String>) -> Result<String, MergeError> {
        Ok(items.join(&self.separator))
    }
}

/// Merges encoded answers (what a cluster invoker receives).
pub trait PayloadMerger: Send + Sync {
    /// Merge `payloads` (at least one, in group order).
    ///
    /// # Errors
    /// [`MergeError`] when an answer does not decode or the values cannot be merged.
    fn merge(&self, payloads: &[Bytes]) -> Result<Bytes, MergeError>;
}

impl fmt::Debug for dyn PayloadMerger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PayloadMerger")
    }
}

/// Protobuf's own merge: the encoded messages concatenated. Decoding the result gives every
/// repeated field's elements in order, maps united (later wins), nested messages merged and
/// the last value of each scalar.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProtobufMerger;

impl PayloadMerger for ProtobufMerger {
    fn merge(&self, payloads: &[Bytes]) -> Result<Bytes, MergeError> {
        let mut out = BytesMut::with_capacity(payloads.iter().map(Bytes::len).sum());
        for p in payloads {
            out.extend_from_slice(p);
        }
        Ok(out.freeze())
    }
}

struct ProstPayload<T, M> {
    merger: M,
    _t: PhantomData<fn() -> T>,
}

impl<T, M> PayloadMerger for ProstPayload<T, M>
where
    T: prost::Message + Default,
    M: Merger<T>,
{
    fn merge(&self, payloads: &[Bytes]) -> Result<Bytes, MergeError> {
        let items = payloads
            .iter()
            .enumerate()
            .map(|(index, p)| {
                T::decode(p.clone()).map_err(|e| MergeError::Decode {
                    index,
                    type_name: std::any::type_name::<T>(),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<T>, _>>()?;
        Ok(Bytes::from(self.merger.merge(items)?.encode_to_vec()))
    }
}

/// A payload merger for protobuf messages `T`: decode every answer, merge with `merger`,
/// encode the result.
///
/// ```
/// use zkdubbo_cluster::merger::{Merger, MergeError, PayloadMerger, prost_merger};
/// use prost::Message;
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct GreeterReply {
///     #[prost(string, tag = "1")]
///     message: String,
/// }
///
/// struct Join;
/// impl Merger<GreeterReply> for Join {
///     fn merge(&self, items: Vec<GreeterReply>) -> Result<GreeterReply, MergeError> {
///         Ok(GreeterReply { message: items.into_iter().map(|r| r.message).collect::<Vec<_>>().join(" ") })
///     }
/// }
/// let merger = prost_merger::<GreeterReply, _>(Join);
/// let a = GreeterReply { message: "Hello,".into() }.encode_to_vec().into();
/// let b = GreeterReply { message: "world!".into() }.encode_to_vec().into();
/// let merged = GreeterReply::decode(merger.merge(&[a, b]).unwrap()).unwrap();
/// assert_eq!(merged.message, "Hello, world!");
/// ```
pub fn prost_merger<T, M>(merger: M) -> Arc<dyn PayloadMerger>
where
    T: prost::Message + Default + 'static,
    M: Merger<T> + 'static,
{
    Arc::new(ProstPayload::<T, M> {
        merger,
        _t: PhantomData,
    })
}

struct JsonPayload<T, M> {
    merger: M,
    _t: PhantomData<fn() -> T>,
}

impl<T, M> PayloadMerger for JsonPayload<T, M>
where
    T: Serialize + DeserializeOwned,
    M: Merger<T>,
{
    fn merge(&self, payloads: &[Bytes]) -> Result<Bytes, MergeError> {
        let items = payloads
            .iter()
            .enumerate()
            .map(|(index, p)| {
                serde_json::from_slice::<T>(p).map_err(|e| MergeError::Decode {
                    index,
                    type_name: std::any::type_name::<T>(),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<T>, _>>()?;
        let merged = self.merger.merge(items)?;
        serde_json::to_vec(&merged)
            .map(Bytes::from)
            .map_err(|e| MergeError::Encode(e.to_string()))
    }
}

/// A payload merger for JSON answers decoded as `T`.
pub fn json_merger<T, M>(merger: M) -> Arc<dyn PayloadMerger>
where
    T: Serialize + DeserializeOwned + 'static,
    M: Merger<T> + 'static,
{
    Arc::new(JsonPayload::<T, M> {
        merger,
        _t: PhantomData,
    })
}

/// JSON numbers: summed as integers when all are, else as floats.
struct JsonSum;

impl Merger<serde_json::Number> for JsonSum {
    fn merge(&self, items: Vec<serde_json::Number>) -> Result<serde_json::Number, MergeError> {
        if items.iter().all(serde_json::Number::is_i64) {
            let mut sum: i64 = 0;
            for n in &items {
                sum = sum
                    .checked_add(n.as_i64().unwrap_or(0))
                    .ok_or_else(|| MergeError::Invalid("integer sum overflows i64".into()))?;
            }
            return Ok(sum.into());
        }
        let sum: f64 = items.iter().filter_map(serde_json::Number::as_f64).sum();
        serde_json::Number::from_f64(sum).ok_or_else(|| MergeError::Invalid(format!("sum {sum} is not finite")))
    }
}

/// Named [`PayloadMerger`]s, as the per-method `merger` parameter names them.
pub struct Mergers {
    by_name: RwLock<HashMap<String, Arc<dyn PayloadMerger>>>,
}

impl fmt::Debug for Mergers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mergers").field("names", &self.names()).finish()
    }
}

impl Default for Mergers {
    fn default() -> Self {
        Self::new()
    }
}

impl Mergers {
    /// A registry with the built-in mergers: `true` and `default` (protobuf), and the JSON
    /// mergers `list`, `map`, `set`, `sum`, `string`.
    pub fn new() -> Self {
        let protobuf: Arc<dyn PayloadMerger> = Arc::new(ProtobufMerger);
        let mut by_name: HashMap<String, Arc<dyn PayloadMerger>> = HashMap::new();
        by_name.insert("true".into(), Arc::clone(&protobuf));
        by_name.insert("default".into(), Arc::clone(&protobuf));
        by_name.insert("protobuf".into(), protobuf);
        by_name.insert("list".into(), json_merger::<Vec<serde_json::Value>, _>(ListMerger));
        by_name.insert(
            "map".into(),
            json_merger::<BTreeMap<String, serde_json::Value>, _>(MapMerger),
        );
        by_name.insert("set".into(), json_merger::<Vec<serde_json::Value>, _>(SetMerger));
        by_name.insert("sum".into(), json_merger::<serde_json::Number, _>(JsonSum));
        by_name.insert("string".into(), json_merger::<String, _>(StringMerger::default()));
        Mergers {
            by_name: RwLock::new(by_name),
        }
    }

    /// The process-wide registry the mergeable cluster uses by default.
    pub fn global() -> &'static Arc<Mergers> {
        static GLOBAL: OnceLock<Arc<Mergers>> = OnceLock::new();
        GLOBAL.get_or_init(|| Arc::new(Mergers::new()))
    }

    /// Register (or replace) the merger called `name`.
    pub fn register(&self, name: impl Into<String>, merger: Arc<dyn PayloadMerger>) {
        self.by_name
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.into(), merger);
    }

    /// The merger called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn PayloadMerger>> {
        self.by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn typed_mergers() {
        assert_eq!(
            ListMerger.merge(vec![vec![1, 2], vec![], vec![3]]).unwrap(),
            vec![1, 2, 3]
        );
        assert_eq!(
            Merger::<Vec<i32>>::merge(&SetMerger, vec![vec![1, 2], vec![2, 3]]).unwrap(),
            vec![1, 2, 3]
        );
        assert_eq!(
            SetMerger
                .merge(vec![BTreeSet::from([1, 2]), BTreeSet::from([2, 3])])
                .unwrap(),
            BTreeSet::from([1, 2, 3])
        );
        assert_eq!(
            MapMerger
                .merge(vec![HashMap::from([("a", 1)]), HashMap::from([("a", 2), ("b", 3)])])
                .unwrap(),
            HashMap::from([("a", 2), ("b", 3)])
        );
        assert_eq!(SumMerger.merge(vec![1u64, 2, 39]).unwrap(), 42);
        assert_eq!(SumMerger.merge(vec![0.5f64, 0.25]).unwrap(), 0.75);
        let s = StringMerger { separator: ", ".into() };
        assert_eq!(s.merge(vec!["a".into(), "b".into()]).unwrap(), "a, b");
    }

    #[test]
    fn named_json_mergers() {
        let m = Mergers::new();
        let merge = |name: &str, parts: &[&str]| {
            let parts: Vec<Bytes> = parts.iter().map(|p| b(p)).collect();
            m.get(name).unwrap().merge(&parts)
        };
        assert_eq!(merge("list", &["[1]", "[\"x\"]"]).unwrap(), b("[1,\"x\"]"));
        assert_eq!(merge("set", &["[1,2]", "[2,3]"]).unwrap(), b("[1,2,3]"));
        assert_eq!(
            merge("map", &["{\"a\":1,\"b\":1}", "{\"b\":2}"]).unwrap(),
            b("{\"a\":1,\"b\":2}")
        );
        assert_eq!(merge("sum", &["1", "2", "3"]).unwrap(), b("6"));
        assert_eq!(merge("sum", &["1", "0.5"]).unwrap(), b("1.5"));
        assert_eq!(merge("string", &["\"ab\"", "\"cd\""]).unwrap(), b("\"abcd\""));
        let err = merge("list", &["[1]", "{}"]).unwrap_err();
        assert!(matches!(err, MergeError::Decode { index: 1, .. }), "{err}");
        assert!(m.get("nope").is_none());
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Items {
        #[prost(string, repeated, tag = "1")]
        items: Vec<String>,
        #[prost(map = "string, int32", tag = "2")]
        counts: std::collections::HashMap<String, i32>,
    }

    #[test]
    fn protobuf_merge_concatenates_repeated_and_unites_maps() {
        use prost::Message;
        let a = Items {
            items: vec!["a".into()],
            counts: HashMap::from([("x".into(), 1), ("y".into(), 1)]),
        };
        let b = Items {
            items: vec!["b".into(), "c".into()],
            counts: HashMap::from([("y".into(), 2)]),
        };
        let merged = Mergers::new()
            .get("true")
            .unwrap()
            .merge(&[a.encode_to_vec().into(), b.encode_to_vec().into()])
            .unwrap();
        let merged = Items::decode(merged).unwrap();
        assert_eq!(merged.items, vec!["a", "b", "c"]);
        assert_eq!(merged.counts, HashMap::from([("x".into(), 1), ("y".into(), 2)]));
    }
}
