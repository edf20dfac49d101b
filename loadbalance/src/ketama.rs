//! The Ketama ring of Dubbo's consistent hashing, bit-compatible with Java and Go
//! (ARCHITECTURE: Load balancing), with a radix index so a lookup is a table read and a short search.

use std::io::Write as _;

use md5::{Digest, Md5};
use zkdubbo_common::{Invocation, Url, limits};

/// `hash.nodes`: virtual nodes per provider.
pub const HASH_NODES: &str = "hash.nodes";
/// `hash.arguments`: comma list of the argument indexes that make the request key.
pub const HASH_ARGUMENTS: &str = "hash.arguments";
/// Default `hash.nodes`.
pub const DEFAULT_HASH_NODES: u32 = 160;

/// The consistent-hash parameters of a set, read (method-level first) from its first
/// provider's URL, as Java does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashSpec {
    nodes: u32,
    arguments: Box<[usize]>,
}

impl Default for HashSpec {
    fn default() -> Self {
        HashSpec {
            nodes: DEFAULT_HASH_NODES,
            arguments: Box::new([0]),
        }
    }
}

impl HashSpec {
    /// Read `hash.nodes` and `hash.arguments` of `method` from `url`. Argument indexes that
    /// are not numbers or are negative are skipped (Java fails on the former and skips the
    /// latter).
    ///
    /// ```
    /// # use zkdubbo_common::Url;
    /// # use zkdubbo_loadbalance::HashSpec;
    /// let url: Url = "dubbo://h:1/s?hash.nodes=40&get.hash.arguments=1,0".parse().unwrap();
    /// let spec = HashSpec::of(&url, "get");
    /// assert_eq!(spec.nodes(), 40);
    /// assert_eq!(spec.arguments(), &[1, 0]);
    /// ```
    pub fn of(url: &Url, method: &str) -> Self {
        // Bounded (docs/LIMITS.md): it sizes every provider's share of the ring.
        let nodes = u32::try_from(limits::HASH_NODES.read(url, method)).unwrap_or(DEFAULT_HASH_NODES);
        let arguments = url
            .method_param(method, HASH_ARGUMENTS)
            .unwrap_or("0")
            .split(',')
            .filter_map(|s| s.trim().parse::<i64>().ok())
            .filter_map(|i| usize::try_from(i).ok())
            .collect();
        HashSpec { nodes, arguments }
    }

    /// Virtual nodes per provider (`hash.nodes`).
    pub fn nodes(&self) -> u32 {
        self.nodes
    }

    /// Argument indexes hashed into the request key (`hash.arguments`).
    pub fn arguments(&self) -> &[usize] {
        &self.arguments
    }

    /// The request's hash: the first little-endian `u32` of MD5 of the concatenated
    /// arguments (missing ones skipped). Feeds MD5 piece by piece: no allocation.
    ///
    /// ```
    /// # use zkdubbo_common::Invocation;
    /// # use zkdubbo_loadbalance::HashSpec;
    /// let inv = Invocation::new("get").with_argument("a").with_argument("b");
    /// assert_eq!(HashSpec::default().hash(&inv), zkdubbo_loadbalance::hash_str("a"));
    /// ```
    #[inline]
    pub fn hash(&self, inv: &Invocation) -> u32 {
        let mut md5 = Md5::new();
        for &i in self.arguments.iter() {
            if let Some(arg) = inv.argument(i) {
                md5.update(arg.as_bytes());
            }
        }
        point(&md5.finalize(), 0)
    }
}

/// The request hash of the key `s`: first little-endian `u32` of MD5(`s`).
pub fn hash_str(s: &str) -> u32 {
    point(&Md5::digest(s.as_bytes()), 0)
}

/// Point `h` (0..4) of a digest: little-endian `u32` of bytes `4h..4h+4`.
#[inline]
fn point(digest: &[u8], h: usize) -> u32 {
    u32::from_le_bytes([digest[4 * h], digest[4 * h + 1], digest[4 * h + 2], digest[4 * h + 3]])
}

/// The ring points of one provider address: for i in `0..nodes/4`, MD5 of `address + i`,
/// four points per digest, in Java's insertion order.
pub fn address_points(address: &str, nodes: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(nodes as usize);
    let mut key = Vec::with_capacity(address.len() + 10);
    for i in 0..(nodes / 4).max(1) {
        key.clear();
        key.extend_from_slice(address.as_bytes());
        let _ = write!(key, "{i}");
        let digest = Md5::digest(&key);
        out.extend((0..4).map(|h| point(&digest, h)));
    }
    out
}

/// A sorted ring of virtual nodes. Where two providers hash a point to the same value, the
/// later one in the list owns it (Java's `TreeMap.put` overwrites).
#[derive(Debug, Clone)]
pub struct KetamaRing {
    points: Box<[u32]>,
    owners: Box<[u32]>,
    /// `index[k]` = first position whose point's top `bits` bits are ≥ k; `2^bits + 1` long.
    index: Box<[u32]>,
    shift: u32,
}

impl KetamaRing {
    /// Build the ring of `addresses` (`host:port`) with `nodes` virtual nodes each
    /// (`nodes / 4` digests, at least one).
    pub fn build<S: AsRef<str>>(addresses: &[S], nodes: u32) -> Self {
        let mut all: Vec<(u32, u32)> = Vec::with_capacity(addresses.len() * nodes.max(4) as usize);
        for (owner, address) in addresses.iter().enumerate() {
            all.extend(
                address_points(address.as_ref(), nodes)
                    .into_iter()
                    .map(|p| (p, owner as u32)),
            );
        }
        // Stable sort keeps insertion order among equal points: the last one wins.
        all.sort_by_key(|&(p, _)| p);
        let mut dedup: Vec<(u32, u32)> = Vec::with_capacity(all.len());
        for (p, o) in all {
            match dedup.last_mut() {
                Some(last) if last.0 == p => last.1 = o,
                _ => dedup.push((p, o)),
            }
        }
        let points: Box<[u32]> = dedup.iter().map(|&(p, _)| p).collect();
        let owners: Box<[u32]> = dedup.iter().map(|&(_, o)| o).collect();
        // About two points per radix bucket.
        let bits = (usize::BITS - (points.len() / 2).max(1).leading_zeros() - 1).min(20);
        let shift = 32 - bits;
        let buckets = 1usize << bits;
        let mut index = Vec::with_capacity(buckets + 1);
        let mut pos = 0usize;
        for k in 0..buckets {
            while pos < points.len() && ((u64::from(points[pos]) >> shift) as usize) < k {
                pos += 1;
            }
            index.push(pos as u32);
        }
        index.push(points.len() as u32);
        KetamaRing {
            points,
            owners,
            index: index.into_boxed_slice(),
            shift,
        }
    }

    /// The sorted ring points.
    pub fn points(&self) -> &[u32] {
        &self.points
    }

    /// The provider index owning the first point ≥ `hash`, wrapping to the smallest; `None`
    /// for an empty ring.
    #[inline]
    pub fn lookup(&self, hash: u32) -> Option<usize> {
        let k = (u64::from(hash) >> self.shift) as usize;
        let (lo, hi) = (self.index[k] as usize, self.index[k + 1] as usize);
        let pos = lo + self.points[lo..hi].partition_point(|&p| p < hash);
        let pos = if pos == self.points.len() { 0 } else { pos };
        self.owners.get(pos).map(|&o| o as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_matches_a_plain_search() {
        let addresses: Vec<Box<str>> = (0..37).map(|i| format!("10.0.0.{i}:20880").into()).collect();
        let ring = KetamaRing::build(&addresses, 160);
        let plain = |h: u32| {
            let pos = ring.points.partition_point(|&p| p < h);
            ring.owners[if pos == ring.points.len() { 0 } else { pos }] as usize
        };
        let mut h = 12345u32;
        for _ in 0..100_000 {
            h = h.wrapping_mul(2_654_435_761).wrapping_add(7);
            assert_eq!(ring.lookup(h), Some(plain(h)));
        }
        for &p in ring.points.iter().take(50) {
            assert_eq!(ring.lookup(p), Some(plain(p)));
            assert_eq!(ring.lookup(p.wrapping_add(1)), Some(plain(p.wrapping_add(1))));
        }
        assert_eq!(ring.lookup(u32::MAX), Some(plain(u32::MAX)));
        assert_eq!(ring.lookup(0), Some(plain(0)));
    }

    #[test]
    fn single_provider_and_tiny_rings() {
        let ring = KetamaRing::build(&["a:1"], 1);
        assert_eq!(ring.points().len(), 4);
        assert_eq!(ring.lookup(7), Some(0));
        let empty = KetamaRing::build::<&str>(&[], 160);
        assert_eq!(empty.lookup(7), None);
    }
}
