//! Fault injection on real ZooKeeper processes (RELIABILITY.md): around the cache file (scenarios 4
//! and 7: a cold start while ZooKeeper is really down (its process killed), corrupt,
//! truncated and empty cache files, and two processes writing one cache file while a reader
//! parses it in a loop), and servers frozen with SIGSTOP past the session timeout, then
//! resumed with SIGCONT (scenarios 1b, standalone, and 5b, one node of an ensemble).
//!
//! The other scenarios live beside the tests they grew from: `registry_zk.rs` (1, 2, 3, 4
//! through a refusing proxy, 6, and a corrupt file) and `registry_zk_ensemble.rs` (5). Every
//! scenario prints its figures as `RELIABILITY| scenario | figure | value` lines, which
//! `scripts/reliability.sh` collects into RELIABILITY.md.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zkdubbo_common::Url;
use zkdubbo_integration_tests::harness::{ZkEnsemble, ZkServer, four_letter_word, shared_server, unique_path};
use zkdubbo_registry::ZookeeperRegistry;
use zkdubbo_registry::cache::{format_properties, read_file};
use zkdubbo_registry::{Category, Notification, Registry, Source, Subscription};

/// Environment variable that turns [`cache_writer_child`] into a writer process.
const CHILD_ENV: &str = "ZKDUBBO_FAULT_CACHE_CHILD";

// ---------------------------------------------------------------------------------------------
// helpers

use zkdubbo_integration_tests::log_capture::{capture as logs, text as log_text};

/// One figure of a scenario, in the grep-able form `scripts/reliability.sh` collects.
fn figure(scenario: &str, name: &str, value: impl std::fmt::Display) {
    println!("RELIABILITY| {scenario} | {name} | {value}");
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn url(s: &str) -> Url {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

use zkdubbo_integration_tests::wait::{hosts, until_sentinel, wait_for, within};

/// Wait until the cache file holds `want` URLs under `key`.
async fn wait_cached(file: &Path, key: &str, want: usize) {
    within("cache file written", Duration::from_secs(5), async {
        loop {
            let entries = read_file(file).unwrap_or_default();
            if entries.get(key).is_some_and(|v| v.split(' ').count() == want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 4. cold start with ZooKeeper down

/// A consumer started while ZooKeeper is down (its process killed) gets the providers from
/// the cache file at once; when ZooKeeper is back it switches to live data, including a
/// provider registered while ZooKeeper was down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_with_zookeeper_down_serves_the_cache_then_live_lists() {
    logs();
    const SCENARIO: &str = "4 cold start, ZooKeeper process killed";
    let mut server = ZkServer::start(200).expect("a ZooKeeper server");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dubbo-registry-cold.cache");
    let base = format!(
        "zookeeper://{}?group={}&session=2000&timeout=500",
        server.addr(),
        unique_path("fault-cold")
    );
    let with_cache = format!("{base}&file={}", file.display());
    let provider_side = ZookeeperRegistry::connect_str(&format!("{base}&file.cache=false"))
        .await
        .unwrap();
    let a = url("dubbo://10.0.0.5:20880/com.foo.Cold?interface=com.foo.Cold");
    provider_side.register(&a).await.unwrap();
    let consumer = url("consumer://10.0.0.1/com.foo.Cold");
    {
        let warm = ZookeeperRegistry::connect_str(&with_cache).await.unwrap();
        let mut sub = warm.subscribe(&consumer).await.unwrap();
        wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
            !n.is_empty_marker()
        })
        .await;
        // providers, routers and configurators (two `empty://` markers).
        wait_cached(&file, "com.foo.Cold", 3).await;
        warm.shutdown().await;
    }

    server.kill().unwrap();
    let b = url("dubbo://10.0.0.6:20880/com.foo.Cold?interface=com.foo.Cold");
    // Queued: ZooKeeper is down.
    provider_side.register(&b).await.unwrap();

    let started = Instant::now();
    let cold = ZookeeperRegistry::connect_str(&with_cache).await.unwrap();
    let created = started.elapsed();
    assert!(!cold.is_available());
    let subscribed = Instant::now();
    let mut sub = cold.subscribe(&consumer).await.unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_millis(200), |_| true).await;
    let served = subscribed.elapsed();
    assert_eq!(n.source, Source::Cache);
    assert_eq!(n.non_empty_urls(), std::slice::from_ref(&a));
    server.restart().unwrap();
    let restarted = Instant::now();
    // Nothing else while ZooKeeper stayed down: up to the first live list (the sentinel),
    // only the cached lists of the other categories.
    let seen = until_sentinel(&mut sub, Duration::from_secs(10), |n| n.source == Source::Live).await;
    for n in &seen[..seen.len() - 1] {
        assert_eq!(n.source, Source::Cache, "{n:?}");
        assert!(n.category != Category::Providers, "{n:?}");
    }
    let n = match seen.last() {
        Some(n) if n.category == Category::Providers && n.urls.len() == 2 => n.clone(),
        _ => {
            wait_for(&mut sub, Category::Providers, Duration::from_secs(10), |n| {
                n.source == Source::Live && n.urls.len() == 2
            })
            .await
        }
    };
    let live = restarted.elapsed();
    assert_eq!(hosts(&n), ["10.0.0.5:20880", "10.0.0.6:20880"]);
    assert!(n.version.is_some());
    assert!(cold.is_available());
    figure(SCENARIO, "registry created without ZooKeeper after", ms(created));
    figure(SCENARIO, "cached providers served after subscribing", ms(served));
    figure(
        SCENARIO,
        "live list (with a provider registered while down) after the restarted server serves",
        ms(live),
    );
    cold.shutdown().await;
    provider_side.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 1 and 5 with SIGSTOP/SIGCONT: a frozen server keeps its connections open and answers nothing

/// Collects every provider list a subscription delivers: how many, how many were empty, and
/// how long the longest run of empty lists lasted (until a non-empty one).
#[derive(Default)]
struct ProviderLists {
    delivered: usize,
    empty: usize,
    last: Vec<String>,
    empty_since: Option<Instant>,
    longest_empty: Duration,
}

/// Follows `sub` in a task, recording its provider lists into the returned cell.
fn follow_providers(mut sub: Subscription) -> Arc<Mutex<ProviderLists>> {
    let lists = Arc::new(Mutex::new(ProviderLists::default()));
    let into = lists.clone();
    tokio::spawn(async move {
        while let Some(n) = sub.next().await {
            if n.category == Category::Providers {
                let mut l = into.lock().unwrap();
                l.delivered += 1;
                if n.is_empty_marker() || n.urls.is_empty() {
                    l.empty += 1;
                    l.empty_since.get_or_insert_with(Instant::now);
                } else if let Some(since) = l.empty_since.take() {
                    l.longest_empty = l.longest_empty.max(since.elapsed());
                }
                l.last = hosts(&n);
            }
        }
    });
    lists
}

/// Wait (up to `d`) until `done` holds, polling every 10 ms; returns how long it took.
async fn until(what: &str, d: Duration, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    within(what, d, async {
        while !done().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    start.elapsed()
}

/// The provider addresses under `path`, sorted.
async fn children_hosts(raw: &zookeeper_client::Client, path: &str) -> Vec<String> {
    let mut h: Vec<String> = match raw.list_children(path).await {
        Ok(names) => names
            .iter()
            .map(|n| Url::from_node_name(n).unwrap().address())
            .collect(),
        Err(_) => Vec::new(),
    };
    h.sort();
    h
}

/// A standalone server frozen (SIGSTOP) for 4 s, twice the 2 s session, then resumed
/// (SIGCONT): the consumers' provider lists never empty while it is frozen (every delivered
/// list is counted); the provider's session expires and its registration is re-created in
/// the new one; a provider added after the resume is seen.
///
/// Unlike a killed and restarted server (scenario 1, where the restarted server gives the old
/// sessions a full timeout, so the provider takes its node over first), a resumed server
/// expires the old sessions at once, deleting the provider's node, while both clients are
/// establishing new sessions: a consumer whose re-read lands before the provider's re-create
/// sees ZooKeeper's empty list for a few ms (about 1 run in 5 here). So a plain consumer may
/// get a transient empty list after the resume (counted, and asserted to last < 1 s); a
/// consumer with `empty.protection=true` never gets one (asserted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_frozen_past_the_session_keeps_the_list_and_heals() {
    logs();
    const SCENARIO: &str = "1b ZooKeeper frozen (SIGSTOP) 4 s > session 2 s";
    let server = ZkServer::start(200).expect("a ZooKeeper server");
    let root = unique_path("fault-sigstop");
    let registry_url = format!(
        "zookeeper://{}?group={root}&session=2000&timeout=1000&retry.period=500&file.cache=false",
        server.addr()
    );
    let provider_side = ZookeeperRegistry::connect_str(&registry_url).await.unwrap();
    let consumer_side = ZookeeperRegistry::connect_str(&registry_url).await.unwrap();
    let a = url("dubbo://10.0.0.5:20880/com.foo.Frozen?interface=com.foo.Frozen");
    provider_side.register(&a).await.unwrap();
    let sub = consumer_side
        .subscribe(&url("consumer://10.0.0.1/com.foo.Frozen?category=providers"))
        .await
        .unwrap();
    let lists = follow_providers(sub);
    let protected_side = ZookeeperRegistry::connect_str(&format!("{registry_url}&empty.protection=true"))
        .await
        .unwrap();
    let sub = protected_side
        .subscribe(&url("consumer://10.0.0.1/com.foo.Frozen?category=providers"))
        .await
        .unwrap();
    let protected = follow_providers(sub);
    until("first provider lists", Duration::from_secs(5), async || {
        [&lists, &protected]
            .iter()
            .all(|l| l.lock().unwrap().last == ["10.0.0.5:20880"])
    })
    .await;
    let first_session = provider_side.session_id().unwrap();
    assert_eq!(provider_side.sessions_established(), 1);

    server.pause().unwrap();
    let paused = Instant::now();
    tokio::time::sleep(Duration::from_millis(4000)).await;
    // Frozen, not gone: the process still exists, and no client has a working session.
    assert!(server.is_running());
    assert!(!provider_side.is_available());
    for l in [&lists, &protected] {
        let l = l.lock().unwrap();
        assert_eq!(l.empty, 0, "the provider list emptied while the server was frozen");
        assert_eq!(l.last, ["10.0.0.5:20880"]);
    }
    server.resume().unwrap();
    let frozen = paused.elapsed();
    let resumed = Instant::now();

    // The old session expires (the server's session clock ran on while it was stopped) and
    // the registration is re-created by the provider's new session.
    let raw = within(
        "raw client after the resume",
        Duration::from_secs(10),
        zookeeper_client::Client::connect(&server.addr()),
    )
    .await
    .unwrap();
    let leaf = format!("{root}/com.foo.Frozen/providers/{}", a.to_node_name());
    until("registration in a new session", Duration::from_secs(15), async || {
        let owner = raw.check_stat(&leaf).await.ok().flatten().map(|s| s.ephemeral_owner);
        let current = provider_side.session_id();
        owner.is_some() && owner == current && current != Some(first_session)
    })
    .await;
    let recreated = resumed.elapsed();
    assert!(provider_side.sessions_established() >= 2);

    // Live: a provider added after the resume is seen.
    let b = url("dubbo://10.0.0.6:20880/com.foo.Frozen?interface=com.foo.Frozen");
    provider_side.register(&b).await.unwrap();
    let seen = until("new provider seen", Duration::from_secs(10), async || {
        [&lists, &protected]
            .iter()
            .all(|l| l.lock().unwrap().last == ["10.0.0.5:20880", "10.0.0.6:20880"])
    })
    .await;
    // Past any old session's expiry.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let (delivered, empty, longest_empty) = {
        let l = lists.lock().unwrap();
        assert_eq!(l.last, ["10.0.0.5:20880", "10.0.0.6:20880"]);
        assert!(l.empty_since.is_none(), "the provider list is empty");
        (l.delivered, l.empty, l.longest_empty)
    };
    // An empty list after the resume is ZooKeeper's own, between the old session's expiry and
    // the re-create: it must not last.
    assert!(
        longest_empty < Duration::from_secs(1),
        "the provider list stayed empty for {longest_empty:?}"
    );
    let (protected_delivered, protected_empty) = {
        let l = protected.lock().unwrap();
        assert_eq!(l.last, ["10.0.0.5:20880", "10.0.0.6:20880"]);
        (l.delivered, l.empty)
    };
    assert_eq!(
        protected_empty, 0,
        "the protected provider list emptied ({protected_delivered} lists delivered)"
    );
    assert_eq!(
        children_hosts(&raw, &format!("{root}/com.foo.Frozen/providers")).await,
        ["10.0.0.5:20880", "10.0.0.6:20880"]
    );
    figure(SCENARIO, "server frozen for", ms(frozen));
    figure(
        SCENARIO,
        "registration re-created in the provider's new session after SIGCONT",
        ms(recreated),
    );
    figure(SCENARIO, "provider added after SIGCONT seen after", ms(seen));
    figure(
        SCENARIO,
        "provider lists delivered / empty (none while frozen), longest empty",
        format!("{delivered} / {empty}, {}", ms(longest_empty)),
    );
    figure(
        SCENARIO,
        "provider lists delivered / empty with empty.protection=true",
        format!("{protected_delivered} / {protected_empty}"),
    );
    figure(
        SCENARIO,
        "sessions: provider / consumer",
        format!(
            "{} / {}",
            provider_side.sessions_established(),
            consumer_side.sessions_established()
        ),
    );
    protected_side.shutdown().await;
    consumer_side.shutdown().await;
    provider_side.shutdown().await;
}

/// The index of the node among `candidates` whose `cons` lists session `session`.
fn node_of_session(ensemble: &ZkEnsemble, candidates: &[usize], session: i64) -> Option<usize> {
    let sid = format!("sid={session:#x},");
    candidates.iter().copied().find(|&i| {
        let node = ensemble.node(i);
        node.is_running() && four_letter_word(&node.addr(), "cons").is_ok_and(|answer| answer.contains(&sid))
    })
}

/// 3-node ensemble: the server the provider is connected to (found with `cons`) is frozen
/// (SIGSTOP) for 4 s, twice the 2 s session: the provider fails over to another server, its
/// registration is still (or again) there, and after SIGCONT the consumer's view equals
/// ZooKeeper's, including a provider registered during the freeze.
///
/// When the frozen node is the leader, the other two serve only after electing a new one,
/// which can take longer than the session: the provider's session then expires, its node is
/// deleted (the consumer may see ZooKeeper's empty list; counted) and re-created in the new
/// session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ensemble_server_frozen_past_the_session_is_failed_over() {
    logs();
    const SCENARIO: &str = "5b ensemble: provider's server frozen (SIGSTOP) 4 s > session 2 s";
    let ensemble = ZkEnsemble::start(200).expect("a 3-node ensemble");
    let root = unique_path("fault-sigstop-ensemble");
    let registry_url = format!(
        "zookeeper://{}?group={root}&session=2000&timeout=1000&retry.period=500&file.cache=false",
        ensemble.connect_string()
    );
    let provider_side = ZookeeperRegistry::connect_str(&registry_url).await.unwrap();
    let consumer_side = ZookeeperRegistry::connect_str(&registry_url).await.unwrap();
    let a = url("dubbo://10.0.0.5:20880/com.foo.Frozen?interface=com.foo.Frozen");
    provider_side.register(&a).await.unwrap();
    let sub = consumer_side
        .subscribe(&url("consumer://10.0.0.1/com.foo.Frozen?category=providers"))
        .await
        .unwrap();
    let lists = follow_providers(sub);
    until("first provider list", Duration::from_secs(5), async || {
        lists.lock().unwrap().last == ["10.0.0.5:20880"]
    })
    .await;

    let first_session = provider_side.session_id().unwrap();
    let frozen = tokio::task::block_in_place(|| node_of_session(&ensemble, &[0, 1, 2], first_session))
        .expect("a node holds the provider's session");
    let was = ensemble.node(frozen).mode().unwrap_or_else(|e| e.to_string());
    let others: Vec<usize> = (0..3).filter(|&i| i != frozen).collect();
    let others_connect = others
        .iter()
        .map(|&i| ensemble.node(i).addr())
        .collect::<Vec<_>>()
        .join(",");

    ensemble.pause(frozen).unwrap();
    let paused = Instant::now();
    // Failed over: a session of the provider lives on one of the other two nodes.
    let failed_over = until("provider on another server", Duration::from_secs(20), async || {
        let Some(session) = provider_side.session_id().filter(|_| provider_side.is_available()) else {
            return false;
        };
        tokio::task::block_in_place(|| node_of_session(&ensemble, &others, session)).is_some()
    })
    .await;
    let raw = within(
        "raw client on the running nodes",
        Duration::from_secs(10),
        zookeeper_client::Client::connect(&others_connect),
    )
    .await
    .unwrap();
    let path = format!("{root}/com.foo.Frozen/providers");
    let present = until(
        "registration present during the freeze",
        Duration::from_secs(20),
        async || children_hosts(&raw, &path).await == ["10.0.0.5:20880"],
    )
    .await;
    let b = url("dubbo://10.0.0.6:20880/com.foo.Frozen?interface=com.foo.Frozen");
    provider_side.register(&b).await.unwrap();
    let hold = Duration::from_millis(4000).saturating_sub(paused.elapsed());
    tokio::time::sleep(hold).await;
    ensemble.resume(frozen).unwrap();
    let frozen_for = paused.elapsed();
    let resumed = Instant::now();
    ensemble.wait_serving(Duration::from_secs(20)).unwrap();

    // The consumer's view equals ZooKeeper's, which holds both providers.
    let want = ["10.0.0.5:20880", "10.0.0.6:20880"];
    // The resumed node has caught up too.
    let raw_frozen = within(
        "raw client on the resumed node",
        Duration::from_secs(10),
        zookeeper_client::Client::connect(&ensemble.node(frozen).addr()),
    )
    .await
    .unwrap();
    until("consumer's view = ZooKeeper", Duration::from_secs(20), async || {
        let in_zk = children_hosts(&raw, &path).await;
        in_zk == want
            && lists.lock().unwrap().last == in_zk
            && provider_side.pending_operations().is_empty()
            && raw_frozen.sync(&path).await.is_ok()
            && children_hosts(&raw_frozen, &path).await == in_zk
    })
    .await;
    let converged = resumed.elapsed();
    // Stays so once the frozen node's old connections are gone.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(children_hosts(&raw, &path).await, want);
    let (delivered, empty, longest_empty) = {
        let l = lists.lock().unwrap();
        assert_eq!(l.last, want);
        (l.delivered, l.empty, l.longest_empty)
    };
    let (_, stat) = raw.get_data(&format!("{path}/{}", a.to_node_name())).await.unwrap();
    assert_eq!(Some(stat.ephemeral_owner), provider_side.session_id());
    let sessions = provider_side.sessions_established();
    figure(SCENARIO, "frozen node", format!("node {} ({was})", frozen + 1));
    figure(
        SCENARIO,
        "provider connected to another server after SIGSTOP",
        ms(failed_over),
    );
    figure(
        SCENARIO,
        "registration present on the running nodes after SIGSTOP",
        ms(failed_over + present),
    );
    figure(SCENARIO, "server frozen for", ms(frozen_for));
    figure(
        SCENARIO,
        "consumer's view = ZooKeeper on every node (2 providers) after SIGCONT",
        ms(converged),
    );
    figure(
        SCENARIO,
        "provider lists delivered / empty, longest empty",
        format!("{delivered} / {empty}, {}", ms(longest_empty)),
    );
    figure(
        SCENARIO,
        "sessions: provider / consumer",
        format!("{sessions} / {}", consumer_side.sessions_established()),
    );
    consumer_side.shutdown().await;
    provider_side.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 7. broken cache files

/// A valid zkdubbo cache file of a few hundred bytes.
fn sample_file_text() -> String {
    let mut entries = BTreeMap::new();
    entries.insert(
        "com.foo.Svc".to_owned(),
        "dubbo://10.0.0.5:20880/com.foo.Svc?interface=com.foo.Svc&methods=a,b \
         dubbo://10.0.0.6:20880/com.foo.Svc?interface=com.foo.Svc&weight=50 \
         empty://10.0.0.1/com.foo.Svc?category=routers"
            .to_owned(),
    );
    entries.insert(
        "g/com.foo.Other:1.0".to_owned(),
        "tri://10.0.0.7:50051/com.foo.Other?group=g&version=1.0".to_owned(),
    );
    format_properties(&entries)
}

/// Start a registry on `file` with ZooKeeper unreachable, subscribe, and return what was
/// served from the file; the file must be left as it was.
async fn served_from(file: &Path) -> Vec<Notification> {
    let before = std::fs::read(file).unwrap();
    let reg = ZookeeperRegistry::connect_str(&format!("zookeeper://127.0.0.1:1?timeout=300&file={}", file.display()))
        .await
        .unwrap();
    // Without a session, subscribe serves the cache file before it returns: what it served is
    // in the subscription's queue now, and nothing else can come (no server to read from).
    let mut sub = reg.subscribe(&url("consumer://10.0.0.1/com.foo.Svc")).await.unwrap();
    let mut served = Vec::new();
    while let Some(n) = sub.try_next() {
        served.push(n);
    }
    reg.shutdown().await;
    assert_eq!(std::fs::read(file).unwrap(), before, "{} was modified", file.display());
    served
}

/// Truncated at every byte, emptied, or filled with garbage: a cache file never panics the
/// registry, is never served when it does not check out, is reported with a warning naming
/// it, and is never deleted or rewritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_empty_and_garbage_cache_files_are_reported_and_ignored() {
    logs();
    const SCENARIO: &str = "7 broken cache files";
    let dir = tempfile::tempdir().unwrap();
    let text = sample_file_text();
    let whole_entries = read_file_text(dir.path(), "whole.cache", &text).unwrap();
    assert_eq!(whole_entries.len(), 2);

    // Truncated at every byte: refused (the checksum), or nothing (cut before the checksum
    // line), or everything (only the last newline cut). Never a panic, never part of the
    // entries.
    let body_start = text.find("com.foo").unwrap();
    let (mut refused, mut through_entries) = (0, 0);
    for len in 0..text.len() {
        let cuts_entries = len >= body_start && len < text.len() - 1;
        through_entries += usize::from(cuts_entries);
        match read_file_text(dir.path(), "cut.cache", &text[..len]) {
            Err(_) => refused += usize::from(cuts_entries),
            Ok(entries) => assert!(
                !cuts_entries && (entries.is_empty() || entries == whole_entries),
                "truncated at {len} of {}: {entries:?}",
                text.len()
            ),
        }
    }
    assert_eq!(refused, through_entries, "every cut through the entries is refused");

    // A truncated file in a registry: nothing served, a warning naming it, file untouched.
    let cut = dir.path().join("truncated-FAULT.cache");
    std::fs::write(&cut, &text[..text.len() * 2 / 3]).unwrap();
    assert!(
        served_from(&cut).await.is_empty(),
        "nothing served from a truncated file"
    );
    assert!(
        warned_about("truncated-FAULT.cache"),
        "no warning naming the truncated file"
    );

    // An empty file is an empty cache: nothing served, no crash, left as it is.
    let empty = dir.path().join("empty-FAULT.cache");
    std::fs::write(&empty, "").unwrap();
    assert!(served_from(&empty).await.is_empty());

    // Binary garbage, and text without a checksum that does not parse.
    let garbage = dir.path().join("garbage-FAULT.cache");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&garbage, &bytes).unwrap();
    let served = served_from(&garbage).await;
    assert!(
        served.iter().all(|n| n.source == Source::Cache),
        "only cached lists, if anything parsed"
    );
    let bad_escape = dir.path().join("escape-FAULT.cache");
    std::fs::write(&bad_escape, "com.foo.Svc=dubbo\\://h\\:1/com.foo.Svc\\u12\n").unwrap();
    assert!(served_from(&bad_escape).await.is_empty());
    assert!(
        warned_about("escape-FAULT.cache"),
        "no warning naming the malformed file"
    );

    // The intact file is served, as a control.
    let whole = dir.path().join("whole-FAULT.cache");
    std::fs::write(&whole, &text).unwrap();
    let served = served_from(&whole).await;
    let providers = served
        .iter()
        .find(|n| n.category == Category::Providers)
        .expect("the intact file is served");
    assert_eq!(providers.non_empty_urls().len(), 2);

    figure(
        SCENARIO,
        "truncations through the entries refused / tried",
        format!("{refused} / {through_entries}"),
    );
    figure(SCENARIO, "empty, garbage, bad escape: panics / files modified", "0 / 0");
}

fn read_file_text(
    dir: &Path,
    name: &str,
    text: &str,
) -> Result<BTreeMap<String, String>, zkdubbo_registry::cache::CacheError> {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    read_file(&path)
}

fn warned_about(file_name: &str) -> bool {
    log_text().lines().any(|l| l.contains("WARN") && l.contains(file_name))
}

// ---------------------------------------------------------------------------------------------
// 7. two processes writing one cache file

/// How long the writer processes run.
const WRITERS_RUN: Duration = Duration::from_secs(4);
/// Interfaces each writer process subscribes to (one cache entry each).
const WRITER_INTERFACES: usize = 3;

fn writer_interface(process: usize, i: usize) -> String {
    format!("com.foo.Writer{process}x{i}")
}

/// Two processes, each with a `ZookeeperRegistry` on the same cache file (its subscriptions
/// notified of provider churn, so each writes whenever a list changes) and a writer hammering
/// the same file through `CacheFile` as fast as it can, while this process parses the file in
/// a loop: every read parses, and afterwards the file holds every entry of both processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_writing_one_cache_file_never_tear_it() {
    logs();
    const SCENARIO: &str = "7 two processes writing one cache file";
    let addr = shared_server().expect("a ZooKeeper server for the tests");
    let root = unique_path("fault-cache-writers");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dubbo-registry-shared.cache");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|id| {
            Command::new(&exe)
                .args([
                    "cache_writer_child",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(
                    CHILD_ENV,
                    format!("{}|{addr}|{root}|{id}|{}", file.display(), WRITERS_RUN.as_millis()),
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn a writer process")
        })
        .collect();

    // The reader: parse the file in a loop until the writers are done (or the test fails).
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_exit = StopOnDrop(stop.clone());
    let reader = tokio::task::spawn_blocking({
        let file = file.clone();
        let stop = stop.clone();
        move || {
            let (mut parsed, mut failed, mut first_error) = (0u64, 0u64, None);
            while !stop.load(Ordering::Relaxed) {
                match read_file(&file) {
                    Ok(entries) if entries.is_empty() => {} // not written yet
                    Ok(_) => parsed += 1,
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            (parsed, failed, first_error)
        }
    });

    // Provider churn on the writers' interfaces, so that their registries keep writing.
    let provider_side = ZookeeperRegistry::connect_str(&format!(
        "zookeeper://{addr}?group={root}&session=4000&timeout=3000&file.cache=false"
    ))
    .await
    .unwrap();
    let churn_until = Instant::now() + WRITERS_RUN;
    let mut changes = 0usize;
    let mut registered: Vec<Url> = Vec::new();
    while Instant::now() < churn_until {
        let process = changes % 2;
        let interface = writer_interface(process, changes % WRITER_INTERFACES);
        let provider = url(&format!(
            "dubbo://10.2.{process}.{}:20880/{interface}?interface={interface}",
            changes % 7
        ));
        if let Some(i) = registered.iter().position(|u| *u == provider) {
            provider_side.unregister(&registered.remove(i)).await.unwrap();
        } else {
            provider_side.register(&provider).await.unwrap();
            registered.push(provider);
        }
        changes += 1;
        tokio::time::sleep(Duration::from_millis(15)).await;
    }

    let mut writes = 0u64;
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .expect("writer process output");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "a writer process failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.split("CHILD-WRITES ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("the writer process ran (did the filter match?):\n{stdout}"));
        writes += line.parse::<u64>().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let (parsed, failed, first_error) = reader.await.unwrap();
    provider_side.shutdown().await;

    assert_eq!(failed, 0, "{failed} reads failed to parse; first: {first_error:?}");
    assert!(parsed > 0, "the reader never saw the file");
    let entries = read_file(&file).unwrap();
    for process in 0..2 {
        assert!(
            entries.contains_key(&format!("zkdubbo-hammer-{process}")),
            "{entries:?}"
        );
        for i in 0..WRITER_INTERFACES {
            assert!(
                entries.contains_key(&writer_interface(process, i)),
                "entry of process {process} missing: {entries:?}"
            );
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
    figure(
        SCENARIO,
        "back-to-back writes by the 2 processes (besides their registries' own)",
        writes,
    );
    figure(
        SCENARIO,
        "concurrent reads parsed / failed",
        format!("{parsed} / {failed}"),
    );
    figure(SCENARIO, "provider changes made on the writers' interfaces", changes);
}

/// Sets the flag when dropped, so a blocking loop ends even when the test panics.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The writer process of [`two_processes_writing_one_cache_file_never_tear_it`]: does nothing
/// unless started by it (with `ZKDUBBO_FAULT_CACHE_CHILD` set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of two_processes_writing_one_cache_file_never_tear_it"]
async fn cache_writer_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let parts: Vec<&str> = spec.split('|').collect();
    let [file, addr, root, id, run_ms] = parts[..] else {
        panic!("bad {CHILD_ENV}: {spec}")
    };
    let process: usize = id.parse().unwrap();
    let run = Duration::from_millis(run_ms.parse().unwrap());
    let started = Instant::now();

    // A registry on the shared file, its lists changing with the parent's churn.
    let registry = ZookeeperRegistry::connect_str(&format!(
        "zookeeper://{addr}?group={root}&session=4000&timeout=3000&file={file}"
    ))
    .await
    .unwrap();
    let mut subs = Vec::new();
    for i in 0..WRITER_INTERFACES {
        let interface = writer_interface(process, i);
        subs.push(
            registry
                .subscribe(&url(&format!("consumer://10.0.0.1/{interface}?category=providers")))
                .await
                .unwrap(),
        );
    }
    let drain = tokio::spawn(async move {
        loop {
            for sub in &mut subs {
                while sub.try_next().is_some() {}
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });

    // And a second writer of the same file in this process, as fast as it can go.
    let hammer = tokio::task::spawn_blocking({
        let file = std::path::PathBuf::from(file);
        move || {
            let cache = zkdubbo_registry::cache::CacheFile::load(file);
            let key = format!("zkdubbo-hammer-{process}");
            let mut writes = 0u64;
            while started.elapsed() < run {
                let urls: Vec<Url> = (0..20)
                    .map(|i| url(&format!("dubbo://10.3.{process}.{i}:20880/com.foo.Hammer?n={writes}")))
                    .collect();
                cache.store(&key, &urls);
                cache.flush().expect("cache write");
                writes += 1;
            }
            writes
        }
    });
    let writes = hammer.await.unwrap();
    drain.abort();
    registry.shutdown().await;
    println!("CHILD-WRITES {writes}");
}
