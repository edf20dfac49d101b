//! The parsed and merged provider URLs of the last list, and how the next list finds them
//! again without re-parsing or re-merging what did not change.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use zkdubbo_common::Url;

use crate::member::Member;

/// A parsed provider URL kept between refreshes: the URL as registered, and merged with the
/// consumer's parameters and configured.
pub(crate) struct CacheEntry {
    pub(crate) raw: Url,
    pub(crate) configured: Url,
    pub(crate) disabled: bool,
    pub(crate) identity: Arc<str>,
    pub(crate) generation: u64,
    /// The member this URL was listed as by the last refresh, if it was listed.
    pub(crate) member: Option<Arc<Member>>,
}

/// The cache entries of the last provider list, in its order, and how a new list finds its
/// entries: position by position while the lists agree (a registry hands the unchanged URLs
/// of a list out again in the same order, as clones, so the comparison reads pointers), with
/// one provider inserted or removed or replaced recognised on the way; by an index of the
/// endpoints only when the order changed more than that. A URL not found is merged anew
/// (finding an entry is only a saving: a merge gives the same result).
// Entries are boxed on purpose: a refresh moves every entry from the old list to the new
// one (a pointer each, not ~300 bytes).
#[allow(clippy::vec_box)]
#[derive(Default)]
pub(crate) struct UrlCache {
    entries: Vec<Box<CacheEntry>>,
}

impl UrlCache {
    /// Take the entries of `urls` out of the cache (`None` where there is none), leaving it
    /// empty; [`UrlCache::replace`] puts the new list's entries back.
    pub(crate) fn take(&mut self, urls: &[Url]) -> Vec<Option<Box<CacheEntry>>> {
        let mut old: Vec<Option<Box<CacheEntry>>> = std::mem::take(&mut self.entries).into_iter().map(Some).collect();
        let mut out: Vec<Option<Box<CacheEntry>>> = Vec::with_capacity(urls.len());
        let mut index: Option<FxHashMap<u64, Vec<usize>>> = None;
        let mut left = old.len();
        let mut j = 0;
        let is = |e: &Option<Box<CacheEntry>>, url: &Url| e.as_ref().is_some_and(|e| e.raw == *url);
        for (i, raw) in urls.iter().enumerate() {
            if left == 0 {
                out.push(None);
                continue;
            }
            while j < old.len() && old[j].is_none() {
                j += 1;
            }
            let next = urls.get(i + 1);
            let found = if j < old.len() && is(&old[j], raw) {
                j += 1;
                Some(j - 1)
            } else if j + 1 < old.len() && is(&old[j + 1], raw) {
                // old[j] was removed.
                j += 2;
                Some(j - 1)
            } else if index.is_none() && j < old.len() && next.is_some_and(|n| is(&old[j], n)) {
                // `raw` was inserted before old[j] (or moved there: then merged anew).
                None
            } else if index.is_none() && j + 1 < old.len() && next.is_some_and(|n| is(&old[j + 1], n)) {
                // `raw` replaced old[j] (or moved there).
                j += 1;
                None
            } else {
                // The order changed more than that: the index from now on.
                let index = index.get_or_insert_with(|| {
                    let mut index: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
                    for (k, e) in old.iter().enumerate() {
                        if let Some(e) = e {
                            index.entry(endpoint_hash(&e.raw)).or_default().push(k);
                        }
                    }
                    index
                });
                index.get_mut(&endpoint_hash(raw)).and_then(|ks| {
                    let pos = ks.iter().position(|&k| is(&old[k], raw))?;
                    Some(ks.swap_remove(pos))
                })
            };
            out.push(found.and_then(|k| {
                left -= 1;
                old[k].take()
            }));
        }
        out
    }

    /// Keep `entries` (those of the list just processed, in its order).
    #[allow(clippy::vec_box)]
    pub(crate) fn replace(&mut self, entries: Vec<Box<CacheEntry>>) {
        self.entries = entries;
    }
}

/// The index key of a registered URL: a hash of its endpoint only (protocol, host, port,
/// path), not of its parameters; URLs under one key are then compared in full.
fn endpoint_hash(url: &Url) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one((url.protocol(), url.host(), url.port(), url.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(hosts: &[u32]) -> Vec<Url> {
        hosts
            .iter()
            .map(|h| {
                format!("dubbo://10.0.0.{h}:20880/com.foo.Bar?weight={h}")
                    .parse()
                    .unwrap()
            })
            .collect()
    }

    fn entry(raw: &Url) -> CacheEntry {
        CacheEntry {
            raw: raw.clone(),
            configured: raw.clone(),
            disabled: false,
            identity: raw.identity().into(),
            generation: 0,
            member: None,
        }
    }

    /// Every URL of the new list that was in the old one gets its entry (and only its own),
    /// whatever the change of order; new URLs get none.
    #[test]
    fn url_cache_finds_entries_by_position_or_index() {
        let base: Vec<u32> = (0..20).collect();
        let cases: Vec<Vec<u32>> = vec![
            base.clone(),
            (0..21).collect(),
            [vec![99], base.clone()].concat(),
            [&base[..7], &[99], &base[7..]].concat(),
            [&base[..7], &base[8..]].concat(),
            [&base[..7], &[99], &base[8..]].concat(),
            [&base[..7], &base[9..]].concat(),
            base.iter().rev().copied().collect(),
            [&base[10..], &base[..10]].concat(),
            vec![3, 3, 5],
            vec![],
        ];
        for (n, new) in cases.iter().enumerate() {
            let old = urls(&base);
            // Reparsed (equal, nothing shared) and cloned (shared) lists both find their entries.
            for reparse in [false, true] {
                let mut cache = UrlCache {
                    entries: old.iter().map(|u| Box::new(entry(u))).collect(),
                };
                let new_urls: Vec<Url> = if reparse {
                    urls(new)
                } else {
                    new.iter()
                        .map(|h| old.get(*h as usize).cloned().unwrap_or_else(|| urls(&[*h]).remove(0)))
                        .collect()
                };
                let found = cache.take(&new_urls);
                assert_eq!(found.len(), new_urls.len());
                let mut seen = std::collections::HashSet::new();
                for ((h, url), f) in new.iter().zip(&new_urls).zip(&found) {
                    match f {
                        Some(e) => assert_eq!(e.raw, *url, "case {n}"),
                        None => assert!(*h == 99 || !seen.insert(*h) || *h >= 20, "case {n}: {h} not found"),
                    }
                    seen.insert(*h);
                }
                assert!(cache.entries.is_empty());
            }
        }
    }
}
