//! Builders in one process that name the same registry share one ZooKeeper session: a
//! provider and two references cost ZooKeeper one connection, one of them shutting down leaves
//! the others working, and the last one ends the session.

use std::time::{Duration, Instant};

use zkdubbo::triple::greeter::{self, GreeterRequest};
use zkdubbo::triple::message_invocation;
use zkdubbo::{Reference, ServiceBuilder};
use zkdubbo_integration_tests::harness::{ZkServer, four_letter_word, unique_path};

const IFACE: &str = "org.apache.dubbo.samples.SharedGreeter";

/// ZooKeeper's count of open client connections (`mntr`).
fn connections(addr: &str) -> usize {
    let mntr = four_letter_word(addr, "mntr").expect("mntr");
    mntr.lines()
        .find_map(|l| l.strip_prefix("zk_num_alive_connections"))
        .and_then(|v| v.trim().parse().ok())
        .expect("zk_num_alive_connections in mntr")
}

async fn until_connections(addr: &str, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while connections(addr) != want {
        assert!(
            Instant::now() < deadline,
            "connections stay {}, want {want}",
            connections(addr)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builders_naming_one_registry_share_one_session() {
    let server = ZkServer::start(200).expect("a ZooKeeper server");
    let addr = server.addr();
    let registry = format!("zookeeper://{addr}?group={}&file.cache=false", unique_path("shared"));
    let before = connections(&addr);

    let provider = ServiceBuilder::new(IFACE)
        .registry(registry.clone())
        .host("127.0.0.1")
        .method(greeter::SAY_HELLO)
        .serve_triple(greeter::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("provider");
    let reference = || async {
        Reference::builder()
            .interface(IFACE)
            .registry(registry.clone())
            .build()
            .await
            .expect("reference")
    };
    let (first, second) = (reference().await, reference().await);
    let hello = message_invocation(greeter::SAY_HELLO, &GreeterRequest { name: "shared".into() });
    first.invoke(&hello).await.expect("a call through the first reference");
    assert_eq!(
        connections(&addr),
        before + 1,
        "one session for the provider and both references"
    );

    // One reference leaves: the others keep their session and follow changes.
    first.shutdown().await;
    second.invoke(&hello).await.expect("the second reference still calls");
    assert_eq!(connections(&addr), before + 1);
    let more = ServiceBuilder::new(IFACE)
        .registry(registry.clone())
        .host("127.0.0.1")
        .method(greeter::SAY_HELLO)
        .serve_triple(greeter::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("a second provider");
    let dir = second.directories()[0].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while dir.snapshot().providers().len() < 2 {
        assert!(Instant::now() < deadline, "the second provider was not seen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The last share ends the session.
    second.shutdown().await;
    more.shutdown(Duration::from_millis(100)).await.unwrap();
    provider.shutdown(Duration::from_millis(100)).await.unwrap();
    until_connections(&addr, before).await;
}
