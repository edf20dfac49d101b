//! `ZookeeperRegistry` on a 3-node ensemble losing servers while providers churn.

use rand::RngExt;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zkdubbo_loadbalance::SeededRng;

use zkdubbo_common::Url;
use zkdubbo_integration_tests::harness::{ZkEnsemble, four_letter_word, unique_path};
use zkdubbo_registry::ZookeeperRegistry;
use zkdubbo_registry::{Category, Registry};
use zookeeper_client::Client;

const PROVIDERS: usize = 50;
const PROVIDER_REGISTRIES: usize = 5;

fn provider(i: usize) -> Url {
    format!(
        "dubbo://10.1.{}.{}:20880/com.foo.Churn?interface=com.foo.Churn",
        i / 200,
        i % 200
    )
    .parse()
    .unwrap()
}

/// One figure of the scenario, in the grep-able form `scripts/reliability.sh` collects.
fn figure(name: &str, value: impl std::fmt::Display) {
    println!(
        "RELIABILITY| 5 ensemble: leader, then consumer's server killed, 50 providers churning | {name} | {value}"
    );
}

/// The index of the running node that holds session `session` (from its `cons` list).
fn node_of_session(ensemble: &ZkEnsemble, session: i64) -> Option<usize> {
    let sid = format!("sid={session:#x},");
    (0..3).find(|&i| {
        let node = ensemble.node(i);
        node.is_running() && four_letter_word(&node.addr(), "cons").is_ok_and(|answer| answer.contains(&sid))
    })
}

/// Wait until some running node holds `session`.
async fn wait_node_of_session(ensemble: &ZkEnsemble, session: i64) -> usize {
    let start = Instant::now();
    loop {
        if let Some(i) = tokio::task::block_in_place(|| node_of_session(ensemble, session)) {
            return i;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no node holds session {session:#x}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A 3-node ensemble loses its leader, then the server a consumer is connected to, while 50
/// providers register and unregister at random: afterwards every consumer's view equals what
/// is in ZooKeeper, which holds exactly the providers that should be registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_converge_after_losing_the_leader_and_the_consumers_server_under_churn() {
    let mut ensemble = ZkEnsemble::start(200).expect("a 3-node ensemble");
    let root = unique_path("reg-ensemble");
    let registry_url = format!(
        "zookeeper://{}?group={root}&session=4000&timeout=1000&retry.period=500&file.cache=false",
        ensemble.connect_string()
    );
    let mut registries = Vec::new();
    for _ in 0..PROVIDER_REGISTRIES {
        registries.push(ZookeeperRegistry::connect_str(&registry_url).await.unwrap());
    }
    let consumers = [
        ZookeeperRegistry::connect_str(&registry_url).await.unwrap(),
        ZookeeperRegistry::connect_str(&registry_url).await.unwrap(),
    ];
    let views: Vec<Arc<Mutex<BTreeSet<String>>>> = (0..consumers.len()).map(|_| Arc::default()).collect();
    let delivered = Arc::new(Mutex::new(0usize));
    for (consumer, view) in consumers.iter().zip(&views) {
        let mut sub = consumer
            .subscribe(&"consumer://10.0.0.1/com.foo.Churn?category=providers".parse().unwrap())
            .await
            .unwrap();
        let view = view.clone();
        let delivered = delivered.clone();
        tokio::spawn(async move {
            while let Some(n) = sub.next().await {
                if n.category == Category::Providers {
                    *view.lock().unwrap() = n.non_empty_urls().iter().map(|u| u.address()).collect();
                    *delivered.lock().unwrap() += 1;
                }
            }
        });
    }

    // Churn: providers registered and unregistered at random, until told to stop.
    let desired = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = tokio::spawn({
        let registries = registries.clone();
        let desired = desired.clone();
        let stop = stop.clone();
        async move {
            let mut rng = SeededRng::new(0x9E37_79B9_7F4A_7C15);
            let mut ops = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let i = rng.random_range(0..PROVIDERS);
                let url = provider(i);
                let registry = &registries[i % PROVIDER_REGISTRIES];
                let present = desired.lock().unwrap().contains(&url.address());
                if present {
                    registry.unregister(&url).await.unwrap();
                    desired.lock().unwrap().remove(&url.address());
                } else {
                    registry.register(&url).await.unwrap();
                    desired.lock().unwrap().insert(url.address());
                }
                ops += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            ops
        }
    });

    tokio::time::sleep(Duration::from_secs(1)).await;
    let leader = ensemble.wait_for_leader(Duration::from_secs(10)).unwrap();
    ensemble.kill(leader).unwrap();
    let killed = Instant::now();
    ensemble.wait_for_leader(Duration::from_secs(20)).unwrap();
    let election = killed.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    ensemble.restart(leader).unwrap();
    // Then the server the first consumer is connected to (it may be the new leader).
    let session = consumers[0].session_id().expect("the consumer has a session");
    let connected = wait_node_of_session(&ensemble, session).await;
    let was = ensemble.node(connected).mode().unwrap_or_else(|e| e.to_string());
    ensemble.kill(connected).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    ensemble.restart(connected).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let ops = churn.await.unwrap();

    // Converge: every view equals what should be registered, and so does ZooKeeper.
    let want = desired.lock().unwrap().clone();
    let stopped = Instant::now();
    let raw = Client::connect(&ensemble.connect_string()).await.unwrap();
    let path = format!("{root}/com.foo.Churn/providers");
    loop {
        let in_zk: BTreeSet<String> = raw
            .list_children(&path)
            .await
            .unwrap()
            .iter()
            .map(|n| Url::from_node_name(n).unwrap().address())
            .collect();
        let views_ok = views.iter().all(|v| *v.lock().unwrap() == want);
        let pending: usize = registries.iter().map(|r| r.pending_operations().len()).sum();
        if in_zk == want && views_ok && pending == 0 {
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "no convergence: want {} providers, ZooKeeper has {}, views {:?}, pending {pending}",
            want.len(),
            in_zk.len(),
            views.iter().map(|v| v.lock().unwrap().len()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let converged = stopped.elapsed();
    let sessions: u64 = registries.iter().map(|r| r.sessions_established()).sum();
    let consumer_sessions: Vec<u64> = consumers.iter().map(|c| c.sessions_established()).collect();
    figure(
        "new leader elected after the leader was killed",
        format!("{} ms", election.as_millis()),
    );
    figure("consumer's server killed", format!("node {} ({was})", connected + 1));
    figure("register/unregister calls during the churn", ops);
    figure(
        "views = ZooKeeper = expected after the churn stopped",
        format!("{} ms ({} providers)", converged.as_millis(), want.len()),
    );
    figure("notifications delivered to 2 consumers", *delivered.lock().unwrap());
    figure(
        "sessions: 5 provider registries / 2 consumers",
        format!("{sessions} / {consumer_sessions:?}"),
    );
    for r in registries.iter().chain(&consumers) {
        r.shutdown().await;
    }
}
