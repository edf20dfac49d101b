//! dubbo:// on a real ZooKeeper: providers registered by `ServiceBuilder::serve_dubbo` found
//! and called beside Triple ones, failover across a crashed provider, graceful shutdown that
//! loses no call in flight, a provider restarted on the same port, and generic calls of a POJO
//! method.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use zkdubbo::dubbo::demo::{self, User};
use zkdubbo::hessian::{Map, Value};
use zkdubbo::{DubboService, Reference, ServiceBuilder};
use zkdubbo_integration_tests::harness::{shared_server, unique_path};

fn registry_url(addr: &str, root: &str) -> String {
    format!("zookeeper://{addr}?group={root}&session=4000&timeout=1000&retry.period=500&file.cache=false")
}

async fn dubbo_provider(registry: &str, bind: &str) -> DubboService {
    ServiceBuilder::new(demo::INTERFACE)
        .registry(registry)
        .host("127.0.0.1")
        .param("warmup", "0")
        .application("it-dubbo")
        .serve_dubbo(demo::service(), bind.parse().unwrap())
        .await
        .expect("dubbo provider starts and registers")
}

async fn reference(registry: &str, params: &str) -> Reference {
    zkdubbo::ReferenceBuilder::from_url(&format!("{}?{params}", demo::INTERFACE))
        .unwrap()
        .registry(registry)
        .application("it-consumer")
        .build()
        .await
        .expect("reference")
}

async fn wait_for_providers(reference: &Reference, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let have = reference.directories()[0].snapshot().providers().len();
        if have == want {
            return;
        }
        assert!(Instant::now() < deadline, "consumer sees {have} providers, want {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_and_generic_calls_and_failover_across_a_crashed_provider() {
    let zk = shared_server().expect("ZooKeeper");
    let registry = registry_url(&zk, &unique_path("dubbo-failover"));
    let a = dubbo_provider(&registry, "127.0.0.1:0").await;
    let b = dubbo_provider(&registry, "127.0.0.1:0").await;
    let demo_ref = reference(&registry, "retries=2&loadbalance=roundrobin").await;
    wait_for_providers(&demo_ref, 2).await;

    let user: User = demo_ref
        .call_dubbo("getUser", &["java.lang.String"], &("Ada",))
        .await
        .unwrap();
    assert_eq!(user, demo::user("Ada"));
    let generic = demo_ref
        .generic_call("getUser", &["java.lang.String"], vec!["Ada".into()])
        .await
        .unwrap();
    let Value::Map(Map { entries, .. }) = generic else {
        panic!("{generic:?}")
    };
    assert!(entries.contains(&("class".into(), "com.example.User".into())));
    assert!(entries.contains(&("name".into(), "Ada".into())));

    // Crash b: its node stays in ZooKeeper (the registration is kept), its socket is gone.
    let (b_registration, b_server) = b.into_parts();
    b_server.abort();
    for i in 0..20 {
        let sum: i32 = demo_ref.call_dubbo("add", &["int", "int"], &(i, 1)).await.unwrap();
        assert_eq!(sum, i + 1);
    }
    drop(b_registration);
    demo_ref.shutdown().await;
    a.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_loses_no_call_in_flight() {
    let zk = shared_server().expect("ZooKeeper");
    let registry = registry_url(&zk, &unique_path("dubbo-graceful"));
    let a = dubbo_provider(&registry, "127.0.0.1:0").await;
    let b = dubbo_provider(&registry, "127.0.0.1:0").await;
    let a_address = a.url().address();
    let demo_ref = Arc::new(reference(&registry, "retries=2&timeout=5000").await);
    wait_for_providers(&demo_ref, 2).await;

    let failed = Arc::new(AtomicUsize::new(0));
    let served_by_a = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (r, failed, by_a, stop) = (demo_ref.clone(), failed.clone(), served_by_a.clone(), stop.clone());
        let a_address = a_address.clone();
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Acquire) {
                let inv = zkdubbo::dubbo::invocation("add", &["int", "int"], &(w, n)).unwrap();
                match r.invoke(&inv).await {
                    Ok(resp) => {
                        assert_eq!(zkdubbo::dubbo::reply::<i32>(&resp).unwrap(), w + n);
                        if resp.attachments.get(zkdubbo::SERVED_BY) == Some(&a_address) {
                            by_a.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) => {
                        eprintln!("call failed: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                n += 1;
            }
            n
        }));
    }
    // Let a serve a while, then stop it gracefully under load.
    while served_by_a.load(Ordering::Relaxed) < 50 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.shutdown(Duration::from_millis(300)).await.unwrap();
    wait_for_providers(&demo_ref, 1).await;
    stop.store(true, Ordering::Release);
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    assert!(total > 100, "only {total} calls");
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "calls lost during a graceful shutdown"
    );
    demo_ref.shutdown().await;
    b.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_restarted_on_the_same_port_is_reconnected() {
    let zk = shared_server().expect("ZooKeeper");
    let registry = registry_url(&zk, &unique_path("dubbo-restart"));
    let first = dubbo_provider(&registry, "127.0.0.1:0").await;
    let bind = first.local_addr().to_string();
    let demo_ref = reference(&registry, "retries=0").await;
    wait_for_providers(&demo_ref, 1).await;
    let hello: String = demo_ref
        .call_dubbo("sayHello", &["java.lang.String"], &("one",))
        .await
        .unwrap();
    assert_eq!(hello, "Hello, one!");

    // Crash it (the node stays), then start again on the same port.
    let (registration, server) = first.into_parts();
    server.abort();
    assert!(
        demo_ref
            .call_dubbo::<_, String>("sayHello", &["java.lang.String"], &("down",))
            .await
            .is_err()
    );
    drop(registration);
    let second = dubbo_provider(&registry, &bind).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match demo_ref
            .call_dubbo::<_, String>("sayHello", &["java.lang.String"], &("two",))
            .await
        {
            Ok(hello) => {
                assert_eq!(hello, "Hello, two!");
                break;
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "not reconnected: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    demo_ref.shutdown().await;
    second.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_triple_and_a_dubbo_provider_side_by_side() {
    use zkdubbo::triple::greeter::{self, GreeterReply, GreeterRequest};
    let zk = shared_server().expect("ZooKeeper");
    let registry = registry_url(&zk, &unique_path("dubbo-side-by-side"));
    let interface = greeter::INTERFACE;
    let dubbo = ServiceBuilder::new(interface)
        .registry(&registry)
        .host("127.0.0.1")
        .param("warmup", "0")
        .serve_dubbo(demo::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let tri = ServiceBuilder::new(interface)
        .registry(&registry)
        .host("127.0.0.1")
        .param("warmup", "0")
        .method(greeter::SAY_HELLO)
        .serve_triple(greeter::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let reference = zkdubbo::ReferenceBuilder::from_url(&format!("{interface}?retries=0&loadbalance=roundrobin"))
        .unwrap()
        .registry(&registry)
        .build()
        .await
        .unwrap();
    wait_for_providers(&reference, 2).await;
    let proto = zkdubbo::triple::message_invocation(greeter::SAY_HELLO, &GreeterRequest { name: "Bob".into() });
    let inv = zkdubbo::dubbo::invocation(greeter::SAY_HELLO, &["java.lang.String"], &("Bob",))
        .unwrap()
        .with_encoding("tri", proto.payload().clone());
    let mut answered = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let r = reference.invoke(&inv).await.unwrap();
        let text = match r.protocol {
            Some("dubbo") => zkdubbo::dubbo::reply::<String>(&r).unwrap(),
            Some("tri") => zkdubbo::triple::decode_reply::<GreeterReply>(&r).unwrap().message,
            other => panic!("answered by {other:?}"),
        };
        assert_eq!(text, "Hello, Bob!");
        answered.insert(r.protocol.unwrap());
    }
    assert_eq!(answered, std::collections::BTreeSet::from(["dubbo", "tri"]));
    reference.shutdown().await;
    dubbo.shutdown(Duration::ZERO).await.unwrap();
    tri.shutdown(Duration::ZERO).await.unwrap();
}
