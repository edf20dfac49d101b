//! Calls through the whole stack — directory → cluster → load balancer → codec → TCP on
//! 127.0.0.1 — over dubbo:// (Hessian2) and Triple (gRPC) in the same run: calls/s and
//! latency percentiles at 1, 16 and 64 calls in flight over one connection.
//!
//! `cargo bench -p zkdubbo --bench transports [-- SECONDS]` prints a table (default 3 s per
//! row). Provider and consumer share the machine's cores, as they would on one host.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zkdubbo::registry::MemoryRegistry;
use zkdubbo::triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo::triple::message_invocation;
use zkdubbo::{Invocation, Reference, ServiceBuilder};

/// An echo of a short string: the smallest real call.
fn dubbo_echo() -> zkdubbo::dubbo::DubboMethods {
    zkdubbo::dubbo::DubboMethods::new().method("sayHello", &["java.lang.String"], |(name,): (String,)| async move {
        Ok(format!("Hello, {name}!"))
    })
}

async fn reference(registry: &Arc<MemoryRegistry>, interface: &str) -> Reference {
    zkdubbo::ReferenceBuilder::from_url(&format!("{interface}?retries=0&timeout=10000"))
        .unwrap()
        .registry_instance(registry.clone())
        .build()
        .await
        .unwrap()
}

struct Row {
    calls_per_s: f64,
    p50_us: f64,
    p99_us: f64,
}

async fn drive(reference: Arc<Reference>, inv: Arc<Invocation>, in_flight: usize, time: Duration) -> Row {
    // Warm up connections and caches.
    for _ in 0..1000 {
        reference.invoke(&inv).await.unwrap();
    }
    let start = Instant::now();
    let workers: Vec<_> = (0..in_flight)
        .map(|_| {
            let (r, inv) = (reference.clone(), inv.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(100_000);
                while start.elapsed() < time {
                    let t = Instant::now();
                    r.invoke(&inv).await.unwrap();
                    lat.push(t.elapsed().as_nanos() as u64);
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1e3;
    Row {
        calls_per_s: all.len() as f64 / elapsed,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    }
}

fn main() {
    let secs: f64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(3.0);
    let time = Duration::from_secs_f64(secs);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let registry = Arc::new(MemoryRegistry::new());
        let dubbo = ServiceBuilder::new("bench.DubboEcho")
            .registry_instance(registry.clone())
            .host("127.0.0.1")
            .serve_dubbo(dubbo_echo(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let tri = ServiceBuilder::new("bench.TripleEcho")
            .registry_instance(registry.clone())
            .host("127.0.0.1")
            .method(greeter::SAY_HELLO)
            .serve_triple(greeter::service(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dubbo_ref = Arc::new(reference(&registry, "bench.DubboEcho").await);
        let tri_ref = Arc::new(reference(&registry, "bench.TripleEcho").await);
        let dubbo_inv =
            Arc::new(zkdubbo::dubbo::invocation("sayHello", &["java.lang.String"], &("bench",)).unwrap());
        let tri_inv = Arc::new(message_invocation(greeter::SAY_HELLO, &GreeterRequest { name: "bench".into() }));
        // Both answer what they should.
        let r = dubbo_ref.invoke(&dubbo_inv).await.unwrap();
        assert_eq!(zkdubbo::dubbo::reply::<String>(&r).unwrap(), "Hello, bench!");
        let r = tri_ref.invoke(&tri_inv).await.unwrap();
        assert_eq!(zkdubbo::triple::decode_reply::<GreeterReply>(&r).unwrap().message, "Hello, bench!");

        println!("| in flight | dubbo:// calls/s | p50 µs | p99 µs | Triple calls/s | p50 µs | p99 µs | dubbo/Triple calls/s |");
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
        for in_flight in [1, 16, 64] {
            let d = drive(dubbo_ref.clone(), dubbo_inv.clone(), in_flight, time).await;
            let t = drive(tri_ref.clone(), tri_inv.clone(), in_flight, time).await;
            println!(
                "| {in_flight} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} |",
                d.calls_per_s, d.p50_us, d.p99_us, t.calls_per_s, t.p50_us, t.p99_us, d.calls_per_s / t.calls_per_s
            );
        }
        dubbo.shutdown(Duration::ZERO).await.unwrap();
        tri.shutdown(Duration::ZERO).await.unwrap();
    });
}
