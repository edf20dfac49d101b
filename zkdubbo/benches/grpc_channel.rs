//! The cost of zkdubbo's discovery, routing and load balancing per gRPC call: the same
//! unary Greeter call through a tonic client on `Reference::grpc_channel()` and on a plain
//! tonic `Channel` to the same server, in the same run, at 1, 16 and 64 calls in flight.
//!
//! `cargo bench -p zkdubbo --features samples --bench grpc_channel [-- SECONDS] [--rounds R]`
//! prints a table: per row R rounds (default 5) of a run of each client for SECONDS (default
//! 2), the order alternating; each figure is the median over the rounds, and the overhead the
//! median of the rounds' ratios with their range. Server and clients share the machine's cores.
//!
//! `-- --only plain|zkdubbo|reference [--calls N] [--in-flight K]` runs one client (`reference`:
//! `Reference::call`, zkdubbo's own typed client) (64 in flight unless
//! K), for SECONDS or N calls: for `perf record`, or for counting instructions per call under
//! `valgrind --tool=callgrind` (two values of N; the difference divided by theirs).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// When a measured run ends.
#[derive(Clone, Copy)]
enum Until {
    Elapsed(Duration),
    /// After this many calls in all (the same work for both clients, for counting
    /// instructions).
    Calls(u64),
}

async fn drive<S>(service: S, in_flight: usize, until: Until) -> Row
where
    S: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <S::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    let request = Bytes::from(GreeterRequest { name: "bench".into() }.encode_to_vec());
    drive_calls(move || call(service.clone(), request.clone()), in_flight, until).await
}

/// The same call through `Reference::call` (zkdubbo's own Triple client, as typed code uses).
async fn drive_reference(reference: Arc<Reference>, in_flight: usize, until: Until) -> Row {
    let request = GreeterRequest { name: "bench".into() };
    drive_calls(
        move || {
            let (reference, request) = (reference.clone(), request.clone());
            async move {
                reference
                    .call::<_, GreeterReply>(greeter::SAY_HELLO, &request)
                    .await
                    .unwrap()
            }
        },
        in_flight,
        until,
    )
    .await
}

/// Run calls made by `call`, `in_flight` at a time, after 1,000 checked ones.
async fn drive_calls<F, Fut>(call: F, in_flight: usize, until: Until) -> Row
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = GreeterReply> + Send,
{
    for _ in 0..1000 {
        assert_eq!(call().await.message, "Hello, bench!");
    }
    let start = Instant::now();
    let ticks = cpu_ticks();
    let started = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..in_flight)
        .map(|_| {
            let (call, started) = (call.clone(), started.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(100_000);
                loop {
                    let more = match until {
                        Until::Elapsed(time) => start.elapsed() < time,
                        Until::Calls(n) => started.fetch_add(1, Ordering::Relaxed) < n,
                    };
                    if !more {
                        break;
                    }
                    let t = Instant::now();
                    call().await;
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

/// What the command line asks for.
struct Args {
    /// Seconds per measured run.
    secs: f64,
    /// Rounds of (plain, zkdubbo) per row, their order alternating.
    rounds: usize,
    /// `plain` or `zkdubbo`: only that client, at 64 in flight (for a profiler).
    only: Option<String>,
    /// With `only`: stop after this many calls (for counting instructions under valgrind).
    calls: Option<u64>,
    /// With `only`: calls in flight (default 64).
    in_flight: usize,
}

fn args() -> Args {
    let mut args = Args {
        secs: 2.0,
        rounds: 5,
        only: None,
        calls: None,
        in_flight: 64,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rounds" => args.rounds = it.next().and_then(|v| v.parse().ok()).unwrap_or(args.rounds),
            "--only" => args.only = it.next(),
            "--calls" => args.calls = it.next().and_then(|v| v.parse().ok()),
            "--in-flight" => args.in_flight = it.next().and_then(|v| v.parse().ok()).unwrap_or(args.in_flight),
            other => args.secs = other.parse().unwrap_or(args.secs),
        }
    }
    args
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The percentage by which `ours` exceeds `base`.
fn over(ours: f64, base: f64) -> f64 {
    (ours / base - 1.0) * 100.0
}

fn main() {
    let args = args();
    let time = Duration::from_secs_f64(args.secs);
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
        let reference = Arc::new(reference);
        let zk = reference.grpc_channel();
        let plain = Channel::from_shared(format!("http://{}", server.local_addr()))
            .unwrap()
            .tcp_nodelay(true)
            .connect()
            .await
            .unwrap();

        if let Some(only) = &args.only {
            let until = args.calls.map_or(Until::Elapsed(time), Until::Calls);
            let row = match only.as_str() {
                "plain" => drive(plain.clone(), args.in_flight, until).await,
                "reference" => drive_reference(reference.clone(), args.in_flight, until).await,
                _ => drive(zk.clone(), args.in_flight, until).await,
            };
            println!("{only}: {:.0} calls/s, CPU {:.1} µs/call", row.calls_per_s, row.cpu_us);
        } else {
            println!(
                "| in flight | plain tonic calls/s | p50 µs | p99 µs | CPU µs/call | GrpcChannel calls/s | p50 µs | p99 µs | CPU µs/call | overhead calls/s (min … max) | overhead CPU/call (min … max) |"
            );
            println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            for in_flight in [1, 16, 64] {
                let (mut plains, mut zks) = (Vec::new(), Vec::new());
                // Rounds alternate which client goes first, so that drift over the run (the
                // machine's other load, the allocator, the server's state) falls on both alike.
                for round in 0..args.rounds {
                    if round % 2 == 0 {
                        plains.push(drive(plain.clone(), in_flight, Until::Elapsed(time)).await);
                        zks.push(drive(zk.clone(), in_flight, Until::Elapsed(time)).await);
                    } else {
                        zks.push(drive(zk.clone(), in_flight, Until::Elapsed(time)).await);
                        plains.push(drive(plain.clone(), in_flight, Until::Elapsed(time)).await);
                    }
                }
                let med = |rows: &[Row], f: fn(&Row) -> f64| median(rows.iter().map(f).collect());
                let ratios = |f: fn(&Row) -> f64, ours_is_less: bool| {
                    let mut r: Vec<f64> = plains
                        .iter()
                        .zip(&zks)
                        .map(|(p, z)| if ours_is_less { over(f(p), f(z)) } else { over(f(z), f(p)) })
                        .collect();
                    r.sort_by(f64::total_cmp);
                    (median(r.clone()), r[0], r[r.len() - 1])
                };
                let (tput, tput_min, tput_max) = ratios(|r| r.calls_per_s, true);
                let (cpu, cpu_min, cpu_max) = ratios(|r| r.cpu_us, false);
                println!(
                    "| {in_flight} | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} | {:.0} | {:.0} | {:.1} | {tput:+.1} % ({tput_min:+.1} … {tput_max:+.1}) | {cpu:+.1} % ({cpu_min:+.1} … {cpu_max:+.1}) |",
                    med(&plains, |r| r.calls_per_s),
                    med(&plains, |r| r.p50_us),
                    med(&plains, |r| r.p99_us),
                    med(&plains, |r| r.cpu_us),
                    med(&zks, |r| r.calls_per_s),
                    med(&zks, |r| r.p50_us),
                    med(&zks, |r| r.p99_us),
                    med(&zks, |r| r.cpu_us),
                );
            }
        }
        reference.shutdown().await;
        server.shutdown(Duration::ZERO).await.unwrap();
    });
}
