//! The cost of zkdubbo's discovery, routing and load balancing per gRPC call: the same
//! unary Greeter call through a tonic client on `Reference::grpc_channel()` and on a plain
//! tonic `Channel` to the same server, in the same run, at 1, 16 and 64 calls in flight.
//!
//! `cargo bench -p zkdubbo --bench grpc_channel [-- SECONDS]` prints a table (each figure the
//! mean of two runs of SECONDS, default 3, in the order plain, zkdubbo, zkdubbo, plain).
//! Server and client share the machine's cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::PathAndQuery;
use tonic::transport::Channel;
use zkdubbo::prost::Message;
use zkdubbo::registry::MemoryRegistry;
use zkdubbo::triple::codec::BytesCodec;
use zkdubbo::triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo::{Reference, ServiceBuilder};

struct Row {
    calls_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    /// CPU time of the process (client and server) per call: steadier than calls/s on a
    /// shared machine.
    cpu_us: f64,
}

/// CPU time of this process so far (utime + stime of `/proc/self/stat`, in clock ticks of
/// 10 ms).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

impl Row {
    fn mean(&self, other: &Row) -> Row {
        Row {
            calls_per_s: (self.calls_per_s + other.calls_per_s) / 2.0,
            cpu_us: (self.cpu_us + other.cpu_us) / 2.0,
            p50_us: (self.p50_us + other.p50_us) / 2.0,
            p99_us: (self.p99_us + other.p99_us) / 2.0,
        }
    }
}

/// One unary call on `service`, checked.
async fn call<S>(service: S, request: Bytes) -> GreeterReply
where
    S: tonic::client::GrpcService<tonic::body::Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <S::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    let mut grpc = tonic::client::Grpc::new(service);
    grpc.ready().await.map_err(Into::into).unwrap();
    let path = PathAndQuery::from_static("/org.apache.dubbo.samples.Greeter/sayHello");
    let reply: tonic::Response<Bytes> = grpc
        .unary(tonic::Request::new(request), path, BytesCodec)
        .await
        .unwrap();
    GreeterReply::decode(reply.into_inner()).unwrap()
}

async fn drive<S>(service: S, in_flight: usize, time: Duration) -> Row
where
    S: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <S::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    let request = Bytes::from(GreeterRequest { name: "bench".into() }.encode_to_vec());
    for _ in 0..1000 {
        assert_eq!(call(service.clone(), request.clone()).await.message, "Hello, bench!");
    }
    let start = Instant::now();
    let ticks = cpu_ticks();
    let workers: Vec<_> = (0..in_flight)
        .map(|_| {
            let (service, request) = (service.clone(), request.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(100_000);
                while start.elapsed() < time {
                    let t = Instant::now();
                    call(service.clone(), request.clone()).await;
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
    let cpu_s = (cpu_ticks() - ticks) as f64 / 100.0;
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1e3;
    Row {
        calls_per_s: all.len() as f64 / elapsed,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        cpu_us: cpu_s * 1e6 / all.len() as f64,
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
        let server = ServiceBuilder::new(greeter::INTERFACE)
            .registry_instance(registry.clone())
            .host("127.0.0.1")
            .method(greeter::SAY_HELLO)
            .serve_triple(greeter::service(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let reference = Reference::builder()
            .interface(greeter::INTERFACE)
            .registry_instance(registry.clone())
            .build()
            .await
            .unwrap();
        let zk = reference.grpc_channel();
        let plain = Channel::from_shared(format!("http://{}", server.local_addr()))
            .unwrap()
            .tcp_nodelay(true)
            .connect()
            .await
            .unwrap();

        println!(
            "| in flight | plain tonic calls/s | p50 µs | p99 µs | CPU µs/call | GrpcChannel calls/s | p50 µs | p99 µs | CPU µs/call | overhead calls/s | overhead CPU/call |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for in_flight in [1, 16, 64] {
            // Plain, zkdubbo, zkdubbo, plain: drift over the run (caches, the allocator, the
            // server's state) falls on both sides alike.
            let p1 = drive(plain.clone(), in_flight, time).await;
            let z1 = drive(zk.clone(), in_flight, time).await;
            let z2 = drive(zk.clone(), in_flight, time).await;
            let p2 = drive(plain.clone(), in_flight, time).await;
            let (p, z) = (p1.mean(&p2), z1.mean(&z2));
            println!(
                "| {in_flight} | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} | {:.0} | {:.0} | {:.1} | {:+.1} % | {:+.1} % |",
                p.calls_per_s,
                p.p50_us,
                p.p99_us,
                p.cpu_us,
                z.calls_per_s,
                z.p50_us,
                z.p99_us,
                z.cpu_us,
                (p.calls_per_s / z.calls_per_s - 1.0) * 100.0,
                (z.cpu_us / p.cpu_us - 1.0) * 100.0
            );
        }
        reference.shutdown().await;
        server.shutdown(Duration::ZERO).await.unwrap();
    });
}
