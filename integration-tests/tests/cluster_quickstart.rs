//! The quickstart flow on a real ZooKeeper, in one process: three Triple providers with
//! weights 100/200/300, a consumer built with the `Reference` API, the weighted distribution,
//! failover when a provider stops answering, calls during a ZooKeeper outage, and a provider
//! registered after ZooKeeper came back.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use zkdubbo::registry::{Registry, ZookeeperRegistry};
use zkdubbo::triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo::triple::message_invocation;
use zkdubbo::{Reference, ReferenceError, SERVED_BY, ServiceBuilder, TripleService, Url};
use zkdubbo_integration_tests::harness::{ZkServer, shared_server, unique_path};

/// How far a provider's share of the calls may be from its share of the weights, in
/// percentage points (1200 calls: the largest standard deviation is 1.4 points).
const TOLERANCE_POINTS: f64 = 6.0;

fn registry_url(addr: &str, root: &str) -> String {
    format!("zookeeper://{addr}?group={root}&session=4000&timeout=1000&retry.period=500&file.cache=false")
}

async fn provider(registry: &str, interface: &str, weight: u32) -> TripleService {
    ServiceBuilder::new(interface)
        .registry(registry)
        .host("127.0.0.1")
        .method(greeter::SAY_HELLO)
        .weight(weight)
        .param("warmup", "0")
        .application("it-provider")
        .serve_triple(greeter::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("provider starts and registers")
}

async fn wait_for_providers(reference: &Reference, want: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let have = reference.directories()[0].snapshot().providers().len();
        if have == want {
            return;
        }
        assert!(Instant::now() < deadline, "consumer sees {have} providers, want {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn calls(reference: &Reference, n: usize) -> (usize, BTreeMap<String, usize>) {
    let mut failed = 0;
    let mut served = BTreeMap::new();
    for i in 0..n {
        let inv = message_invocation(greeter::SAY_HELLO, &GreeterRequest { name: format!("n{i}") });
        match reference.invoke(&inv).await {
            Ok(r) => *served.entry(r.attachments[SERVED_BY].clone()).or_default() += 1,
            Err(e) => {
                eprintln!("call {i} failed: {e}");
                failed += 1;
            }
        }
    }
    (failed, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_distribution_failover_outage_and_new_provider() {
    let mut server = ZkServer::start(200).expect("a ZooKeeper server");
    let root = unique_path("cluster-quickstart");
    let registry = registry_url(&server.addr(), &root);
    let interface = greeter::INTERFACE;

    let mut providers = Vec::new();
    for weight in [100, 200, 300] {
        providers.push((weight, provider(&registry, interface, weight).await));
    }
    let reference = Reference::builder()
        .interface(interface)
        .registry(&registry)
        .application("it-consumer")
        .timeout(Duration::from_secs(2))
        .build()
        .await
        .expect("check=true passes: providers are registered");
    wait_for_providers(&reference, 3, Duration::from_secs(10)).await;

    // The typed end-to-end call through the consumer API.
    let reply: GreeterReply = reference
        .call(greeter::SAY_HELLO, &GreeterRequest { name: "world".into() })
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello, world!");

    // Weighted random: shares follow 100/200/300.
    let n = 1200;
    let (failed, served) = calls(&reference, n).await;
    assert_eq!(failed, 0);
    for (weight, p) in &providers {
        let share = 100.0 * served.get(&p.url().address()).copied().unwrap_or(0) as f64 / n as f64;
        let expected = 100.0 * f64::from(*weight) / 600.0;
        assert!(
            (share - expected).abs() <= TOLERANCE_POINTS,
            "weight {weight}: {share:.1}% of calls, expected {expected:.1}% ± {TOLERANCE_POINTS}: {served:?}"
        );
    }

    // The heaviest provider stops answering but stays registered (a hung or crashed
    // process whose session has not expired): failover keeps every call succeeding.
    let (weight, crashed) = providers.pop().unwrap();
    assert_eq!(weight, 300);
    let crashed_address = crashed.url().address();
    let (registration, server_handle) = crashed.into_parts();
    server_handle.shutdown().await.unwrap();
    let (failed, served) = calls(&reference, 300).await;
    assert_eq!(failed, 0, "failover hides the dead provider");
    assert!(!served.contains_key(&crashed_address), "{served:?}");
    assert_eq!(
        reference.directories()[0].snapshot().providers().len(),
        3,
        "still listed"
    );
    registration.unregister().await.unwrap();
    wait_for_providers(&reference, 2, Duration::from_secs(10)).await;

    // ZooKeeper goes away: calls keep working from the snapshot.
    server.kill().unwrap();
    let (failed, served) = calls(&reference, 300).await;
    assert_eq!(failed, 0);
    assert_eq!(served.len(), 2, "{served:?}");

    // ZooKeeper comes back; a provider registered now is picked up.
    server.restart().unwrap();
    let newcomer = provider(&registry, interface, 100).await;
    wait_for_providers(&reference, 3, Duration::from_secs(30)).await;
    let (failed, served) = calls(&reference, 300).await;
    assert_eq!(failed, 0);
    assert!(served.contains_key(&newcomer.url().address()), "{served:?}");

    reference.shutdown().await;
    let err = reference
        .call::<_, GreeterReply>(greeter::SAY_HELLO, &GreeterRequest { name: "late".into() })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("shut down"), "{err}");
    newcomer.shutdown(Duration::ZERO).await.unwrap();
    for (_, p) in providers {
        p.shutdown(Duration::ZERO).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_node_is_registered_and_removed_on_shutdown() {
    let addr = shared_server().expect("a ZooKeeper server");
    let root = unique_path("cluster-consumer-node");
    let registry = registry_url(&addr, &root);
    let interface = "org.apache.dubbo.samples.ConsumerNode";
    let p = provider(&registry, interface, 100).await;
    let reference = Reference::builder()
        .interface(interface)
        .registry(&registry)
        .application("node-check")
        .build()
        .await
        .unwrap();
    let observer = ZookeeperRegistry::connect_str(&registry).await.unwrap();
    let query: Url = format!("consumer://127.0.0.1/{interface}?category=consumers")
        .parse()
        .unwrap();
    let consumers = observer.lookup(&query).await.unwrap();
    assert_eq!(consumers.len(), 1, "{consumers:?}");
    assert_eq!(consumers[0].param("application"), Some("node-check"));
    assert_eq!(consumers[0].param("side"), Some("consumer"));
    reference.shutdown().await;
    assert!(
        observer.lookup(&query).await.unwrap().is_empty(),
        "unregistered on shutdown"
    );

    // The provider's graceful shutdown unregisters before the server stops.
    let providers: Url = format!("consumer://127.0.0.1/{interface}?category=providers")
        .parse()
        .unwrap();
    assert_eq!(observer.lookup(&providers).await.unwrap().len(), 1);
    p.shutdown(Duration::ZERO).await.unwrap();
    assert!(observer.lookup(&providers).await.unwrap().is_empty());
    observer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_true_fails_clearly_without_provider() {
    let addr = shared_server().expect("a ZooKeeper server");
    let root = unique_path("cluster-check");
    let registry = registry_url(&addr, &root);
    let err = Reference::builder()
        .interface("com.example.Nobody")
        .registry(&registry)
        .version("1.0")
        .ready_timeout(Duration::from_secs(3))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, ReferenceError::NoProvider { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("com.example.Nobody:1.0"), "{msg}");
    assert!(msg.contains("no provider is registered"), "{msg}");

    // check=false builds anyway; calls explain there is no provider.
    let reference = Reference::builder()
        .interface("com.example.Nobody")
        .registry(&registry)
        .check(false)
        .build()
        .await
        .unwrap();
    let err = reference
        .invoke(&message_invocation("sayHello", &GreeterRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), zkdubbo::RpcErrorKind::NoProvider, "{err}");
    reference.shutdown().await;
}
