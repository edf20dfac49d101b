//! Two registries (two ZooKeeper servers) joined by `zone-aware`: the preferred registry is
//! used while it has a provider, the other one when it has none; a call's zone picks its
//! registry.

use std::time::{Duration, Instant};

use zkdubbo::cluster::SERVED_BY_REGISTRY;
use zkdubbo::triple::greeter::{self, GreeterRequest};
use zkdubbo::triple::message_invocation;
use zkdubbo::{Reference, SERVED_BY, ServiceBuilder, TripleService};
use zkdubbo_integration_tests::harness::{ZkServer, unique_path};

const INTERFACE: &str = "org.apache.dubbo.samples.MultiRegistryGreeter";

async fn provider(registry: &str) -> TripleService {
    ServiceBuilder::new(INTERFACE)
        .registry(registry)
        .host("127.0.0.1")
        .method(greeter::SAY_HELLO)
        .serve_triple(greeter::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("provider starts and registers")
}

async fn served_by(reference: &Reference, zone: Option<&str>) -> (String, String) {
    let mut inv = message_invocation(greeter::SAY_HELLO, &GreeterRequest { name: "zone".into() });
    if let Some(zone) = zone {
        inv.set_attachment("registry_zone", zone);
    }
    let r = reference.invoke(&inv).await.expect("call succeeds");
    (
        r.attachments[SERVED_BY].clone(),
        r.attachments[SERVED_BY_REGISTRY].clone(),
    )
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_aware_prefers_one_registry_and_falls_back_to_the_other() {
    let zk1 = ZkServer::start(200).expect("first ZooKeeper");
    let zk2 = ZkServer::start(200).expect("second ZooKeeper");
    let root = unique_path("cluster-multi");
    let reg = |addr: &str| format!("zookeeper://{addr}?group={root}&file.cache=false");
    let a = provider(&reg(&zk1.addr())).await;
    let b = provider(&reg(&zk2.addr())).await;
    let (a_addr, b_addr) = (a.url().address(), b.url().address());

    let reference = Reference::builder()
        .interface(INTERFACE)
        .registry(format!("{}&zone=hz&preferred=true", reg(&zk1.addr())))
        .registry(format!("{}&zone=sh", reg(&zk2.addr())))
        .build()
        .await
        .unwrap();
    assert_eq!(reference.directories().len(), 2);
    for _ in 0..20 {
        assert_eq!(served_by(&reference, None).await, (a_addr.clone(), zk1.addr()));
    }
    // The preferred registry wins even over a call's zone.
    assert_eq!(served_by(&reference, Some("sh")).await.0, a_addr);

    // The preferred registry loses its provider: calls go through the other registry.
    a.shutdown(Duration::ZERO).await.unwrap();
    let first = reference.directories()[0].clone();
    wait_until("registry 1 to have no provider", || {
        first.snapshot().providers().is_empty()
    })
    .await;
    for _ in 0..20 {
        assert_eq!(served_by(&reference, None).await, (b_addr.clone(), zk2.addr()));
    }

    // A provider comes back in the preferred registry: it is used again.
    let a2 = provider(&reg(&zk1.addr())).await;
    wait_until("registry 1 to have a provider", || {
        !first.snapshot().providers().is_empty()
    })
    .await;
    assert_eq!(served_by(&reference, None).await.0, a2.url().address());
    reference.shutdown().await;

    // Without a preferred registry, the call's zone chooses.
    let zoned = Reference::builder()
        .interface(INTERFACE)
        .registry(format!("{}&zone=hz", reg(&zk1.addr())))
        .registry(format!("{}&zone=sh", reg(&zk2.addr())))
        .build()
        .await
        .unwrap();
    for _ in 0..10 {
        assert_eq!(served_by(&zoned, Some("sh")).await.1, zk2.addr());
        assert_eq!(served_by(&zoned, Some("hz")).await.1, zk1.addr());
    }
    zoned.shutdown().await;
    a2.shutdown(Duration::ZERO).await.unwrap();
    b.shutdown(Duration::ZERO).await.unwrap();
}
