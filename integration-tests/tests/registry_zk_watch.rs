//! How subscriptions follow lists: persistent recursive watches by default (one event per
//! change, a few hundred bytes whatever the size of the list), one-shot child watches with
//! `watch=children` (a full re-list per change), and the fall back to child watches on a
//! server that refuses persistent ones.

mod support;

use std::time::Duration;

use support::*;
use zkdubbo_integration_tests::harness::{TcpProxy, ZkOptions, ZkServer, four_letter_word};
use zkdubbo_registry::{Category, Registry, RegistryError, WatchMode};

const IFACE: &str = "com.foo.Egress";

fn provider(i: usize) -> Url {
    url(&format!(
        "dubbo://10.1.{}.{}:20880/{IFACE}?anyhost=true&application=egress-provider&dubbo=2.0.2&dynamic=true&generic=false\
         &interface={IFACE}&methods=get,put,list,remove&pid=4242&release=3.2.0&side=provider&timestamp=1700000000000",
        i / 250,
        i % 250
    ))
}

/// Bytes ZooKeeper sends a consumer (through a proxy) for one provider registered among `n`.
async fn egress_per_change(env: &Env, mode: &str, n: usize) -> u64 {
    let providers = env.registry("").await;
    for i in 0..n {
        providers.register(&provider(i)).await.unwrap();
    }
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    let consumer = env.registry_at(&proxy.addr(), &format!("&watch={mode}")).await;
    let mut sub = consumer
        .subscribe(&url(&format!("consumer://10.0.0.1/{IFACE}?category=providers")))
        .await
        .unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(10), |n2| {
        n2.urls.len() == n
    })
    .await;
    let before = proxy.bytes_to_clients();
    providers.register(&provider(n)).await.unwrap();
    // The sentinel: the consumer has the new list.
    wait_for(&mut sub, Category::Providers, Duration::from_secs(10), |n2| {
        n2.urls.len() == n + 1
    })
    .await;
    let bytes = proxy.bytes_to_clients() - before;
    consumer.shutdown().await;
    providers.shutdown().await;
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_watches_by_default_and_children_on_request() {
    let env = env("watch-mode");
    assert_eq!(
        env.registry("&watch=persistent").await.watch_mode(),
        WatchMode::Persistent
    );
    assert_eq!(env.registry("&watch=children").await.watch_mode(), WatchMode::Children);
    let default = ZookeeperRegistry::connect_str(&format!("zookeeper://{}?file.cache=false", env.addr))
        .await
        .unwrap();
    if std::env::var("ZKDUBBO_WATCH").is_err() {
        assert_eq!(default.watch_mode(), WatchMode::Persistent);
    }
    let Err(err) = ZookeeperRegistry::connect_str(&env.registry_url(&env.addr, "&watch=sometimes")).await else {
        panic!("an unknown mode is refused");
    };
    assert!(err.to_string().contains("watch=\"sometimes\""), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_costs_a_persistent_watcher_a_few_hundred_bytes_whatever_the_list() {
    const N: usize = 300;
    let persistent = egress_per_change(&env("watch-egress-p"), "persistent", N).await;
    let classic = egress_per_change(&env("watch-egress-c"), "children", N).await;
    figure(
        "watch modes",
        &format!("egress per change at N={N}, persistent"),
        format!("{persistent} B"),
    );
    figure(
        "watch modes",
        &format!("egress per change at N={N}, children"),
        format!("{classic} B"),
    );
    // One event with the new node's path, against a re-list of 301 names of ~300 bytes.
    assert!(persistent < 1_024, "persistent: {persistent} B per change");
    assert!(classic > 50_000, "children: {classic} B per change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_persistent_watches_is_followed_with_child_watches() {
    // A watch manager without persistent modes: the server fails `addWatch`.
    let server = ZkServer::start_with(ZkOptions {
        java_opts: vec!["-Dzookeeper.watchManagerName=org.apache.zookeeper.server.watch.WatchManagerOptimized".into()],
        ..ZkOptions::default()
    })
    .expect("a ZooKeeper server");
    let env = Env {
        addr: server.addr(),
        root: "/watch-fallback".into(),
    };
    logs();
    // Forced: connecting fails and says why.
    let Err(err) = ZookeeperRegistry::connect_str(&env.registry_url(&env.addr, "&watch=persistent")).await else {
        panic!("watch=persistent fails against this server");
    };
    assert!(matches!(err, RegistryError::Unavailable { .. }), "{err}");
    assert!(err.to_string().contains("refuses persistent watches"), "{err}");

    // Auto: the subscription works, on child watches, said once.
    let consumer = env.registry("&watch=auto").await;
    let providers = env.registry("").await;
    let mut sub = consumer
        .subscribe(&url(&format!("consumer://10.0.0.1/{IFACE}?category=providers")))
        .await
        .unwrap();
    providers.register(&provider(1)).await.unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(10), |n| {
        n.urls.len() == 1
    })
    .await;
    assert_eq!(consumer.watch_mode(), WatchMode::Children);
    providers.register(&provider(2)).await.unwrap();
    wait_for(&mut sub, Category::Providers, Duration::from_secs(10), |n| {
        n.urls.len() == 2
    })
    .await;
    let said = log_text().matches("refuses persistent watches").count();
    assert_eq!(said, 1, "{}", log_text());
}

/// `zk_watch_count` of `mntr`: entries in the server's data and child watch tables.
fn server_watches(addr: &str) -> u64 {
    let text = four_letter_word(addr, "mntr").unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("zk_watch_count"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no zk_watch_count in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_to_one_path_share_the_server_watch_and_outlive_each_other() {
    let server = ZkServer::start_with(ZkOptions::default()).expect("a ZooKeeper server");
    let env = Env {
        addr: server.addr(),
        root: "/watch-shared".into(),
    };
    let consumer = env.registry("").await;
    let providers = env.registry("").await;
    providers.register(&provider(1)).await.unwrap();
    let idle = server_watches(&env.addr);
    let mut first = consumer
        .subscribe(&url(&format!("consumer://10.0.0.1/{IFACE}?category=providers")))
        .await
        .unwrap();
    wait_for(&mut first, Category::Providers, Duration::from_secs(10), |n| {
        n.urls.len() == 1
    })
    .await;
    let one = server_watches(&env.addr);
    assert!(one > idle, "the first subscription watches its path");
    // Another subscriber of the same path (another version filter, as a second reference
    // to the interface would be).
    let mut second = consumer
        .subscribe(&url(&format!(
            "consumer://10.0.0.2/{IFACE}?category=providers&version=*"
        )))
        .await
        .unwrap();
    wait_for(&mut second, Category::Providers, Duration::from_secs(10), |n| {
        n.urls.len() == 1
    })
    .await;
    assert_eq!(
        server_watches(&env.addr),
        one,
        "one server watch for both subscriptions"
    );

    // The first one ends; its watcher is removed, the path's server watch stays for the other.
    first.close();
    within("the first subscription to end", Duration::from_secs(10), async {
        while consumer.subscriptions() != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // A round trip on the consumer's session: whatever its ending sent is processed first.
    consumer.services().await.unwrap();
    assert_eq!(server_watches(&env.addr), one);
    providers.register(&provider(2)).await.unwrap();
    wait_for(&mut second, Category::Providers, Duration::from_secs(10), |n| {
        n.urls.len() == 2
    })
    .await;

    // The last one ends: nothing is left watched on the server.
    second.close();
    within("the second subscription to end", Duration::from_secs(10), async {
        while consumer.subscriptions() != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    consumer.services().await.unwrap();
    assert_eq!(server_watches(&env.addr), idle);
}
