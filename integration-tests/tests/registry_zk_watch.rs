//! How subscriptions follow lists: persistent recursive watches by default (one event per
//! change, a few hundred bytes whatever the size of the list), one-shot child watches with
//! `watch=children` (a full re-list per change), and the fall back to child watches on a
//! server that refuses persistent ones.

mod support;

use std::time::Duration;

use support::*;
use zkdubbo_integration_tests::harness::{TcpProxy, ZkOptions, ZkServer};
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
    let consumer = ZookeeperRegistry::connect_str(&env.registry_url(&proxy.addr(), &format!("&watch={mode}")))
        .await
        .unwrap();
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
