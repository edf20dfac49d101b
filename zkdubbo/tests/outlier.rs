//! One of two Triple providers frozen (it accepts connections and never answers): after a
//! few timeouts it is ejected and calls go to the live one at the healthy rate.

#![cfg(feature = "triple")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use zkdubbo::registry::{MemoryRegistry, Registry};
use zkdubbo::triple::greeter::{self, GreeterRequest};
use zkdubbo::triple::message_invocation;
use zkdubbo::{Reference, RpcError, ServiceBuilder, Url};

/// Calls made in `time` by 4 callers, and how many of them timed out.
async fn run(reference: &Arc<Reference>, time: Duration) -> (usize, usize) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let r = reference.clone();
            tokio::spawn(async move {
                let (mut ok, mut timeouts) = (0, 0);
                let inv = message_invocation(greeter::SAY_HELLO, &GreeterRequest { name: "x".into() });
                while start.elapsed() < time {
                    match r.invoke(&inv).await {
                        Ok(_) => ok += 1,
                        Err(RpcError::Timeout { .. }) => timeouts += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
                (ok, timeouts)
            })
        })
        .collect();
    let mut total = (0, 0);
    for t in tasks {
        let (ok, to) = t.await.unwrap();
        total = (total.0 + ok, total.1 + to);
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_provider_costs_a_few_timeouts_not_every_call() {
    let registry = Arc::new(MemoryRegistry::new());
    let interface = "it.outlier.Greeter";
    let live = ServiceBuilder::new(interface)
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        .method(greeter::SAY_HELLO)
        .serve_triple(greeter::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let reference = Arc::new(
        zkdubbo::ReferenceBuilder::from_url(&format!("{interface}?retries=0&timeout=200&outlier.ejection=60000"))
            .unwrap()
            .registry_instance(registry.clone())
            .build()
            .await
            .unwrap(),
    );
    let (healthy, _) = run(&reference, Duration::from_secs(1)).await;

    // A frozen provider: the kernel accepts its connections, nothing ever answers.
    let frozen = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url: Url = format!(
        "tri://127.0.0.1:{}/{interface}?methods=sayHello&side=provider",
        frozen.local_addr().unwrap().port()
    )
    .parse()
    .unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = frozen.accept().await {
            held.push(s);
        }
    });
    registry.register(&url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while reference.directories()[0].snapshot().providers().len() < 2 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (ok, timeouts) = run(&reference, Duration::from_secs(2)).await;
    println!("RELIABILITY| one of two providers frozen | calls/s, healthy only | {healthy}");
    println!(
        "RELIABILITY| one of two providers frozen | calls/s, one frozen (2 s, ejection on) | {}",
        ok / 2
    );
    println!("RELIABILITY| one of two providers frozen | timeouts before ejection | {timeouts}");
    // Each of the 4 callers may have a call in flight to it when the third timeout ejects it.
    assert!(timeouts <= 3 + 4, "{timeouts} calls paid the timeout");
    assert!(ok > 0);
    hold.abort();
    live.shutdown(Duration::ZERO).await.unwrap();
}
