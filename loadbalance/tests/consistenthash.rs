//! Consistent hashing: known answers computed from the Ketama algorithm (independently, with
//! Python's hashlib), agreement with the per-call port, and minimal remapping.

mod support;

use support::set;
use zkdubbo_common::{Invocation, Url};
use zkdubbo_loadbalance::dubbo_port::ConsistentHash as DubboConsistentHash;
use zkdubbo_loadbalance::{ConsistentHashLoadBalance, LoadBalance, PreparedSet};
use zkdubbo_loadbalance::{address_points, hash_str};

fn five() -> Vec<Url> {
    (1..=5)
        .map(|i| format!("dubbo://10.0.0.{i}:20880/com.foo.Bar").parse().expect("url"))
        .collect()
}

fn pick_addr(set: &PreparedSet<Url>, inv: &Invocation) -> String {
    let i = ConsistentHashLoadBalance.select(set, inv).expect("non-empty");
    set.providers()[i].address()
}

#[test]
fn ring_points_of_one_address() {
    let p = address_points("127.0.0.1:20880", 160);
    assert_eq!(p.len(), 160);
    assert_eq!(
        &p[..8],
        &[
            4002238455, 3716746652, 640252868, 3049475639, 3504806523, 1576089102, 1742299247, 786741341
        ]
    );
    assert_eq!(p.iter().min(), Some(&54067888));
    assert_eq!(p.iter().max(), Some(&4269791185));
}

#[test]
fn known_picks_over_five_providers() {
    let s = set(five());
    let cases = [
        ("", 3649838548u32, "10.0.0.4:20880"),
        ("user-1", 1399904214, "10.0.0.3:20880"),
        ("user-2", 550393917, "10.0.0.5:20880"),
        ("user-3", 1322404371, "10.0.0.4:20880"),
        ("alice", 3001189475, "10.0.0.1:20880"),
        ("bob", 3159465375, "10.0.0.5:20880"),
        ("42", 3905343649, "10.0.0.2:20880"),
        ("hello world", 3141252702, "10.0.0.1:20880"),
        ("zkdubbo", 2789546077, "10.0.0.2:20880"),
        ("订单-7", 2954702236, "10.0.0.5:20880"),
    ];
    for (key, hash, addr) in cases {
        assert_eq!(hash_str(key), hash, "hash of {key:?}");
        let inv = Invocation::new("m").with_argument(key);
        assert_eq!(pick_addr(&s, &inv), addr, "key {key:?}");
    }
    // No argument at all hashes the empty key.
    assert_eq!(pick_addr(&s, &Invocation::new("m")), "10.0.0.4:20880");
}

#[test]
fn hash_arguments_select_and_concatenate() {
    let urls: Vec<Url> = five()
        .into_iter()
        .map(|u| u.with_param("m.hash.arguments", "1,0"))
        .collect();
    let s = set(urls);
    // Arguments 1 then 0: "user-" + "1" = "user-1".
    let inv = Invocation::new("m").with_argument("1").with_argument("user-");
    assert_eq!(pick_addr(&s, &inv), "10.0.0.3:20880");
}

#[test]
fn agrees_with_dubbo_port() {
    let urls = five();
    let s = set(urls.clone());
    let dubbo = DubboConsistentHash::default();
    for k in 0..5000 {
        let inv = Invocation::new("m").with_argument(format!("key-{k}"));
        assert_eq!(
            ConsistentHashLoadBalance.select(&s, &inv),
            dubbo.select(&urls, &inv),
            "key-{k}"
        );
    }
}

#[test]
fn removing_a_provider_remaps_only_its_keys() {
    let urls: Vec<Url> = (0..20)
        .map(|i| format!("dubbo://10.1.0.{i}:20880/S").parse().expect("url"))
        .collect();
    let full = set(urls.clone());
    let mut fewer_urls = urls.clone();
    let removed = fewer_urls.remove(7).address();
    let fewer = set(fewer_urls);
    let mut moved = 0;
    for k in 0..20_000 {
        let inv = Invocation::new("m").with_argument(format!("k{k}"));
        let before = pick_addr(&full, &inv);
        let after = pick_addr(&fewer, &inv);
        if before == removed {
            moved += 1;
            assert_ne!(after, removed);
        } else {
            assert_eq!(before, after, "key k{k} not on the removed provider moved");
        }
    }
    // About 1/20 of the keys lived on it: 1000 expected, allow ±40%.
    assert!((600..=1400).contains(&moved), "moved {moved}");
}

#[test]
fn hash_nodes_is_honoured() {
    let urls: Vec<Url> = five().into_iter().map(|u| u.with_param("hash.nodes", "8")).collect();
    let s = set(urls);
    assert_eq!(
        ConsistentHashLoadBalance::ring(&s).points().len(),
        5 * 8,
        "8 points per provider"
    );
}

/// `hash.nodes=4294967295` made consistent-hash consumers abort allocating 64 GiB; the value
/// is refused (docs/LIMITS.md) and the default 160 points per provider are used.
#[test]
fn an_absurd_hash_nodes_is_refused() {
    for bad in ["4294967295", "0", "-4", "abc"] {
        let urls: Vec<Url> = five().into_iter().map(|u| u.with_param("hash.nodes", bad)).collect();
        let s = set(urls);
        assert_eq!(s.hash_spec().nodes(), 160, "{bad}");
        assert_eq!(ConsistentHashLoadBalance::ring(&s).points().len(), 5 * 160, "{bad}");
    }
}
