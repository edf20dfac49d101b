//! `ZookeeperRegistry` recovering on a real ZooKeeper: operations retried until they succeed,
//! sessions replaced after expiry, nodes re-created, short and long outages.

mod support;

use std::time::{Duration, Instant};

use support::*;
use zkdubbo_integration_tests::harness::{PartitionMode, TcpProxy, ZkServer, unique_path};
use zkdubbo_registry::PendingOperation;
use zkdubbo_registry::{Category, Registry, RegistryError};
use zookeeper_client::CreateMode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_are_kept_and_retried_while_zookeeper_is_unreachable() {
    logs();
    // Nothing listens on port 1.
    let unreachable = "zookeeper://127.0.0.1:1?timeout=300&retry.period=200&file.cache=false";
    let err = ZookeeperRegistry::connect_str(&format!("{unreachable}&check=true"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Connect { .. }), "{err}");

    let reg = ZookeeperRegistry::connect_str(unreachable).await.unwrap();
    assert!(!reg.is_available());
    let provider = url("dubbo://10.0.0.5:20880/com.foo.Svc");
    reg.register(&provider).await.unwrap();
    assert_eq!(reg.pending_operations(), [PendingOperation::Register(provider.clone())]);
    let _sub = reg
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    assert!(reg.lookup(&url("consumer://10.0.0.1/com.foo.Svc")).await.is_err());
    reg.unregister(&provider).await.unwrap();
    assert_eq!(
        reg.pending_operations(),
        [PendingOperation::Unregister(provider.clone())]
    );
    reg.shutdown().await;
    assert!(reg.pending_operations().is_empty());
}

/// A provider's session expires while ZooKeeper runs (its connection cut past the session
/// timeout): its node vanishes, and comes back in a new session once the connection is back;
/// a consumer watching sees it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_whose_session_expired_registers_again() {
    let env = env("reg-expiry-provider");
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    // Default retry.period: the session comes back within a second of the network anyway.
    let provider_side = env.registry_at(&proxy.addr(), "&session=1000").await;
    let consumer_side = env.registry("").await;
    let raw = env.raw().await;
    let mut sub = consumer_side
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    let provider = url("dubbo://10.0.0.5:20880/com.foo.Svc?interface=com.foo.Svc");
    let leaf = format!("{}/{}", env.path("com.foo.Svc", "providers"), provider.to_node_name());
    provider_side.register(&provider).await.unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        !n.is_empty_marker()
    })
    .await;
    let first_session = provider_side.session_id().unwrap();

    proxy.partition_with(PartitionMode::Refuse);
    let cut = Instant::now();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(10), |n| {
        n.is_empty_marker()
    })
    .await;
    let vanished = cut.elapsed();
    assert!(n.is_empty_marker());
    assert!(!provider_side.is_available());
    // The registration is pending until there is a session again.
    within("registration pending", Duration::from_secs(10), async {
        while provider_side.pending_operations() != [PendingOperation::Register(provider.clone())] {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert!(raw.check_stat(&leaf).await.unwrap().is_none());

    proxy.heal();
    let healed = Instant::now();
    let node_back = within("node re-created", Duration::from_secs(10), async {
        while raw.check_stat(&leaf).await.unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        healed.elapsed()
    })
    .await;
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(10), |n| {
        !n.is_empty_marker()
    })
    .await;
    let back = healed.elapsed();
    assert_eq!(&*n.urls, std::slice::from_ref(&provider));
    let second_session = provider_side.session_id().unwrap();
    assert_ne!(first_session, second_session);
    assert!(provider_side.sessions_established() >= 2);
    // The retry task marks the registration done once the create's answer is back, which
    // can be a moment after the consumer is notified of the node.
    within("pending registration done", Duration::from_secs(2), async {
        while !provider_side.pending_operations().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let (_, stat) = raw.get_data(&leaf).await.unwrap();
    assert_eq!(stat.ephemeral_owner, second_session);
    assert_eq!(
        consumer_side.sessions_established(),
        1,
        "the partition hit only the provider"
    );
    figure("2 provider session expiry", "node vanished after the cut", ms(vanished));
    figure(
        "2 provider session expiry",
        "node re-created after the heal",
        ms(node_back),
    );
    figure("2 provider session expiry", "consumer sees it after the heal", ms(back));
    // The bound: re-created within 1 s of the connection returning.
    assert!(
        node_back < Duration::from_secs(1),
        "re-created {node_back:?} after the heal"
    );
}

/// A consumer's session expires: it re-subscribes, and a provider registered meanwhile is seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_whose_session_expired_subscribes_again() {
    let env = env("reg-expiry-consumer");
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    let consumer_side = env.registry_at(&proxy.addr(), "&session=1000").await;
    let provider_side = env.registry("").await;
    let a = url("dubbo://10.0.0.5:20880/com.foo.Svc?interface=com.foo.Svc");
    provider_side.register(&a).await.unwrap();
    let mut sub = consumer_side
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        n.urls.len() == 1 && !n.is_empty_marker()
    })
    .await;
    let first_session = consumer_side.session_id().unwrap();

    proxy.partition_with(PartitionMode::Refuse);
    // Wait past the (negotiated) session timeout so that the server expires the session.
    let negotiated = consumer_side.session_timeout().unwrap();
    tokio::time::sleep(negotiated * 3 / 2 + Duration::from_millis(500)).await;
    let b = url("dubbo://10.0.0.6:20880/com.foo.Svc?interface=com.foo.Svc");
    provider_side.register(&b).await.unwrap();
    // Nothing is delivered while cut off: the last list stays.
    assert!(sub.try_next().is_none());

    proxy.heal();
    let healed = Instant::now();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(10), |n| {
        n.urls.len() == 2
    })
    .await;
    let resubscribed = healed.elapsed();
    assert_eq!(hosts(&n), ["10.0.0.5:20880", "10.0.0.6:20880"]);
    assert_ne!(consumer_side.session_id().unwrap(), first_session);

    // And it keeps following changes in the new session.
    provider_side.unregister(&a).await.unwrap();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        n.urls.len() == 1
    })
    .await;
    assert_eq!(hosts(&n), ["10.0.0.6:20880"]);
    figure(
        "3 consumer session expiry",
        "provider registered during the outage seen after the heal",
        ms(resubscribed),
    );
    figure(
        "3 consumer session expiry",
        "sessions of the consumer",
        consumer_side.sessions_established(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_nodes_deleted_by_hand_are_re_created_by_the_self_check() {
    let env = env("reg-selfcheck");
    let raw = env.raw().await;
    let reg = env.registry("&registry.check.period=300").await;
    let provider = url("dubbo://10.0.0.5:20880/com.foo.Svc");
    reg.register(&provider).await.unwrap();
    let path = env.path("com.foo.Svc", "providers");
    let leaf = format!("{path}/{}", provider.to_node_name());
    raw.delete(&leaf, None).await.unwrap();
    let back = wait_children(&raw, &path, 1, Duration::from_secs(3)).await;
    let (_, stat) = raw.get_data(&leaf).await.unwrap();
    assert_eq!(Some(stat.ephemeral_owner), reg.session_id());
    figure(
        "6 own node deleted by hand",
        "re-created after (registry.check.period=300 ms)",
        ms(back),
    );

    // Unregistered nodes are not resurrected.
    reg.unregister(&provider).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(children(&raw, &path).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_held_by_another_session_is_taken_over() {
    let env = env("reg-takeover");
    let raw = env.raw().await;
    let provider = url("dubbo://10.0.0.5:20880/com.foo.Svc?pid=1");
    let path = env.path("com.foo.Svc", "providers");
    let leaf = format!("{path}/{}", provider.to_node_name());
    // As left behind by this provider's previous process, whose session has not expired yet.
    mkdirs(&raw, &path).await;
    create(&raw, &leaf, CreateMode::Ephemeral).await;
    assert_eq!(raw.get_data(&leaf).await.unwrap().1.ephemeral_owner, raw.session_id().0);

    let watcher = env.registry("").await;
    let mut sub = watcher
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        n.urls.len() == 1 && !n.is_empty_marker()
    })
    .await;

    let reg = env.registry("").await;
    reg.register(&provider).await.unwrap();
    let (_, stat) = raw.get_data(&leaf).await.unwrap();
    assert_eq!(
        Some(stat.ephemeral_owner),
        reg.session_id(),
        "re-created in the registry's session"
    );
    // Replaced in one transaction: the replacement is notified, and the watcher never saw the
    // provider missing, neither before that notification nor after it (up to a sentinel: a
    // second provider registered afterwards).
    let replaced = until_sentinel(&mut sub, Duration::from_secs(2), |n| {
        n.category == Category::Providers && hosts(n) == [provider.address()]
    })
    .await;
    let sentinel = url("dubbo://10.0.0.99:20880/com.foo.Svc?interface=com.foo.Svc&side=provider");
    reg.register(&sentinel).await.unwrap();
    let after = until_sentinel(&mut sub, Duration::from_secs(5), |n| {
        n.non_empty_urls().iter().any(|u| u.address() == sentinel.address())
    })
    .await;
    for n in replaced.iter().chain(&after) {
        assert!(!n.is_empty_marker(), "{n:?}");
    }
    reg.unregister(&sentinel).await.unwrap();
    drop(raw); // the old session ends: the node must stay
    let raw = env.raw().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(children(&raw, &path).await, [provider.to_node_name()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_works_after_the_interface_was_deleted_by_hand() {
    let env = env("reg-deleted-parents");
    let raw = env.raw().await;
    let reg = env.registry("").await;
    let a = url("dubbo://10.0.0.5:20880/com.foo.Svc");
    reg.register(&a).await.unwrap();
    reg.unregister(&a).await.unwrap();
    // An operator removes the whole interface, then the root.
    raw.delete(&env.path("com.foo.Svc", "providers"), None).await.unwrap();
    raw.delete(&format!("{}/com.foo.Svc", env.root), None).await.unwrap();
    raw.delete(&env.root, None).await.unwrap();
    // The registry believed those paths existed; it finds out and creates them again.
    let b = url("dubbo://10.0.0.6:20880/com.foo.Svc");
    reg.register(&b).await.unwrap();
    assert_eq!(
        children(&raw, &env.path("com.foo.Svc", "providers")).await,
        [b.to_node_name()]
    );
    assert!(reg.pending_operations().is_empty());
}

/// A short disconnection within the session: same session afterwards, a registration made
/// while disconnected is written once the connection is back, and changes made meanwhile are
/// seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_disconnection_keeps_the_session_and_catches_up() {
    let env = env("reg-reconnect");
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    let cut_off = env.registry_at(&proxy.addr(), "&timeout=500&retry.period=300").await;
    let other = env.registry("").await;
    let mut sub = cut_off
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |_| true).await;
    let session = cut_off.session_id();

    proxy.partition_with(PartitionMode::Refuse);
    within("disconnection noticed", Duration::from_secs(3), async {
        while cut_off.is_available() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let mine = url("dubbo://10.0.0.5:20880/com.foo.Svc?interface=com.foo.Svc");
    let start = Instant::now();
    cut_off.register(&mine).await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(700), "queued, not blocked");
    assert_eq!(cut_off.pending_operations(), [PendingOperation::Register(mine.clone())]);
    let theirs = url("dubbo://10.0.0.6:20880/com.foo.Svc?interface=com.foo.Svc");
    other.register(&theirs).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    proxy.heal();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |n| {
        n.urls.len() == 2
    })
    .await;
    assert_eq!(hosts(&n), ["10.0.0.5:20880", "10.0.0.6:20880"]);
    assert_eq!(cut_off.session_id(), session, "the same session");
    assert_eq!(cut_off.sessions_established(), 1);
    assert!(cut_off.is_available());
    within("pending operations done", Duration::from_secs(2), async {
        while !cut_off.pending_operations().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// An outage of several seconds, well within the session timeout: the client comes back in
/// its session. (Its reconnection attempts are at most about a second apart; the check for a
/// server that refuses the session waits longer than that before giving the session up, where
/// it used to give up healthy sessions whose client was still waiting to retry.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_seconds_within_the_session_keeps_it() {
    let server = ZkServer::start_with(zkdubbo_integration_tests::harness::ZkOptions {
        max_session_timeout_ms: Some(60_000),
        ..Default::default()
    })
    .unwrap();
    let env = Env {
        addr: server.addr(),
        root: unique_path("reg-outage-seconds"),
    };
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    let provider = env.registry_at(&proxy.addr(), "&session=30000").await;
    let mine = url("dubbo://10.0.0.5:20880/com.foo.Outage?interface=com.foo.Outage");
    provider.register(&mine).await.unwrap();
    let session = provider.session_id();

    proxy.partition_with(PartitionMode::Refuse);
    within("disconnection noticed", Duration::from_secs(3), async {
        while provider.is_available() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // Long enough for an unbounded backoff to reach seconds between attempts.
    tokio::time::sleep(Duration::from_secs(7)).await;
    proxy.heal();
    within("the session back", Duration::from_secs(10), async {
        while !provider.is_available() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // The refusal check gives a session up only while it is disconnected: a wrong verdict
    // would have installed the new session before this one was back.
    assert_eq!(provider.session_id(), session, "the same session");
    assert_eq!(provider.sessions_established(), 1);
    let raw = env.raw().await;
    assert_eq!(children(&raw, &env.path("com.foo.Outage", "providers")).await.len(), 1);
}

/// A session watching more paths than one `SetWatches` request carries (128 KiB): after a
/// disconnection the client re-sends its watches in several requests, all with xid -8, and
/// must match their answers in order (the vendored zookeeper-client's fix; unpatched, every
/// reconnection failed on the second answer until the session was given up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_watching_many_paths_reconnects_and_keeps_them() {
    let env = env("reg-many-watches");
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    let consumer = env.registry_at(&proxy.addr(), "&retry.period=300").await;
    let cc = consumer.config_center().unwrap();
    // 1,000 rule nodes with paths of ~200 bytes: ~200 KiB of watches.
    let padding = "x".repeat(160);
    let mut nodes: Vec<_> = (0..1_000)
        .map(|i| cc.watch_node(&format!("{}/{padding}-{i:04}.configurators", cc.config_root())))
        .collect();
    within("every rule node read", Duration::from_secs(30), async {
        for n in &mut nodes {
            while *n.borrow_and_update() == zkdubbo_registry::NodeState::Unknown {
                n.changed().await.unwrap();
            }
        }
    })
    .await;
    let mut sub = consumer
        .subscribe(&url("consumer://10.0.0.1/com.foo.Many?category=providers"))
        .await
        .unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |_| true).await;
    let session = consumer.session_id();

    proxy.partition_with(PartitionMode::Refuse);
    within("disconnection noticed", Duration::from_secs(3), async {
        while consumer.is_available() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let other = env.registry("").await;
    other
        .register(&url("dubbo://10.0.0.9:20880/com.foo.Many?interface=com.foo.Many"))
        .await
        .unwrap();
    proxy.heal();
    let n = wait_for(&mut sub, Category::Providers, Duration::from_secs(10), |n| {
        n.urls.len() == 1 && n.urls[0].protocol() == "dubbo"
    })
    .await;
    assert_eq!(hosts(&n), ["10.0.0.9:20880"]);
    assert_eq!(consumer.session_id(), session, "the same session");
    assert_eq!(consumer.sessions_established(), 1, "the session was kept");
    // The watches came back with it: a rule written now is seen.
    let raw = env.raw().await;
    let path = format!("{}/{padding}-0007.configurators", cc.config_root());
    mkdirs(&raw, cc.config_root()).await;
    raw.create(
        &path,
        b"v1",
        &CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all()),
    )
    .await
    .unwrap();
    within("the rule node's change", Duration::from_secs(10), async {
        while !matches!(
            &*nodes[7].borrow_and_update(),
            zkdubbo_registry::NodeState::Present { .. }
        ) {
            nodes[7].changed().await.unwrap();
        }
    })
    .await;
}

/// ZooKeeper down for longer than the session timeout, then back: the consumer's provider
/// list never empties in between (the provider takes its node over in its new session before
/// ZooKeeper expires the old one), and afterwards it is live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_the_session_never_empties_the_provider_list() {
    logs();
    let mut server = ZkServer::start(200).expect("a ZooKeeper server");
    let registry_url = format!(
        "zookeeper://{}?group={}&session=2000&timeout=1000&retry.period=500&file.cache=false",
        server.addr(),
        unique_path("reg-outage")
    );
    let provider_side = ZookeeperRegistry::connect_str(&registry_url).await.unwrap();
    let consumer_side = ZookeeperRegistry::connect_str(&registry_url).await.unwrap();
    let a = url("dubbo://10.0.0.5:20880/com.foo.Svc?interface=com.foo.Svc");
    provider_side.register(&a).await.unwrap();
    let mut sub = consumer_side
        .subscribe(&url("consumer://10.0.0.1/com.foo.Svc?category=providers"))
        .await
        .unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(2), |n| {
        !n.is_empty_marker()
    })
    .await;
    let sessions = (provider_side.session_id(), consumer_side.session_id());

    server.kill().unwrap();
    tokio::time::sleep(Duration::from_millis(4000)).await;
    assert!(!consumer_side.is_available());
    server.restart().unwrap();
    let restarted = Instant::now();

    // Live again: a provider added after the restart is seen.
    let b = url("dubbo://10.0.0.6:20880/com.foo.Svc?interface=com.foo.Svc");
    provider_side.register(&b).await.unwrap();
    let mut lists = 0;
    within("live list after the restart", Duration::from_secs(10), async {
        loop {
            let n = sub.next().await.unwrap();
            lists += 1;
            assert!(!n.is_empty_marker(), "the provider list emptied: {n:?}");
            if n.urls.len() == 2 {
                break;
            }
        }
    })
    .await;
    let live = restarted.elapsed();
    // Past the old sessions' expiry: still not empty. Sentinel: once the registries run new
    // sessions, a third provider registered; no list up to it may be empty.
    within("new sessions", Duration::from_secs(10), async {
        while (provider_side.session_id(), consumer_side.session_id()) == sessions {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let c = url("dubbo://10.0.0.7:20880/com.foo.Svc?interface=com.foo.Svc");
    provider_side.register(&c).await.unwrap();
    let seen = until_sentinel(&mut sub, Duration::from_secs(10), |n| {
        n.non_empty_urls().iter().any(|u| u.address() == c.address())
    })
    .await;
    for n in &seen {
        lists += 1;
        assert!(!n.is_empty_marker(), "the provider list emptied: {n:?}");
    }
    provider_side.unregister(&c).await.unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |n| {
        n.urls.len() == 2
    })
    .await;
    assert_ne!((provider_side.session_id(), consumer_side.session_id()), sessions);
    assert_eq!(
        consumer_side
            .lookup(&url("consumer://10.0.0.1/com.foo.Svc"))
            .await
            .unwrap()
            .len(),
        2
    );
    figure(
        "1 ZooKeeper down 4 s > session 2 s",
        "live (new provider seen) after the restarted server serves",
        ms(live),
    );
    figure(
        "1 ZooKeeper down 4 s > session 2 s",
        "provider lists delivered / empty",
        format!("{lists} / 0"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_without_its_data_gets_new_sessions_at_once() {
    logs();
    // Sessions of 20 s: waiting for them to expire (what a refused session used to do) would
    // take far longer than the deadlines below.
    let mut server =
        zkdubbo_integration_tests::harness::ZkServer::start_with(zkdubbo_integration_tests::harness::ZkOptions {
            tick_ms: 200,
            max_session_timeout_ms: Some(40_000),
            ..Default::default()
        })
        .expect("a ZooKeeper server");
    let registry_url = format!(
        "zookeeper://{}?group={}&session=20000&timeout=1000&retry.period=500&file.cache=false",
        server.addr(),
        unique_path("reg-wiped")
    );
    let provider_side = ZookeeperRegistry::connect_str(&registry_url).await.unwrap();
    let consumer_side = ZookeeperRegistry::connect_str(&registry_url).await.unwrap();
    let a = url("dubbo://10.0.0.5:20880/com.foo.Wiped?interface=com.foo.Wiped");
    provider_side.register(&a).await.unwrap();
    let mut sub = consumer_side
        .subscribe(&url("consumer://10.0.0.1/com.foo.Wiped?category=providers"))
        .await
        .unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(5), |n| {
        !n.is_empty_marker()
    })
    .await;
    // Some writes, so that the sessions have seen zxids the wiped server will not have.
    for i in 0..20 {
        let extra = url(&format!(
            "dubbo://10.0.1.{i}:20880/com.foo.Other?interface=com.foo.Other"
        ));
        provider_side.register(&extra).await.unwrap();
    }
    let sessions = (provider_side.session_id(), consumer_side.session_id());

    server.kill().unwrap();
    std::fs::remove_dir_all(server.dir().join("data")).unwrap();
    std::fs::create_dir_all(server.dir().join("data")).unwrap();
    server.restart().unwrap();
    let restarted = Instant::now();

    // The provider's node is back, in a new session, long before the old one could expire.
    let check = ZookeeperRegistry::connect_str(&registry_url).await.unwrap();
    within("provider re-registered", Duration::from_secs(8), async {
        loop {
            let listed = check
                .lookup(&url("consumer://10.0.0.1/com.foo.Wiped"))
                .await
                .unwrap_or_default();
            if listed.iter().any(|u| u.address() == a.address()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let back = restarted.elapsed();
    assert_ne!(provider_side.session_id(), sessions.0);
    assert_ne!(consumer_side.session_id(), sessions.1);
    // The consumer never saw an empty list, and sees changes again (versions restarted with
    // the wiped server): a provider added now reaches it.
    let b = url("dubbo://10.0.0.6:20880/com.foo.Wiped?interface=com.foo.Wiped");
    provider_side.register(&b).await.unwrap();
    let seen = until_sentinel(&mut sub, Duration::from_secs(10), |n| {
        n.non_empty_urls().iter().any(|u| u.address() == b.address())
    })
    .await;
    for n in &seen {
        assert!(!n.is_empty_marker(), "the provider list emptied: {n:?}");
    }
    figure(
        "ZooKeeper restarted without its data (sessions 20 s)",
        "provider registered again after the server serves",
        ms(back),
    );
}
