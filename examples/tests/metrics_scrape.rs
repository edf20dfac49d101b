//! The example binaries with `--metrics-addr` on a real ZooKeeper: a Prometheus scrape of the
//! running provider and consumer returns the documented metrics (the consumer's calls, its
//! view of the provider, its connection; both processes' registry sessions).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zkdubbo_integration_tests::harness::ZkServer;

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn example(name: &str, args: &[&str]) -> Killed {
    let path = match name {
        "greeter-provider" => env!("CARGO_BIN_EXE_greeter-provider"),
        _ => env!("CARGO_BIN_EXE_greeter-consumer"),
    };
    Killed(
        Command::new(path)
            .env_remove("ZK_ADDR")
            .env("ZKDUBBO_LOG", "warn")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("run {name}: {e}")),
    )
}

/// The scrape of `port`'s `/metrics`, once it has a sample of `name` whose line contains all
/// of `parts` with a value above zero.
fn scrape_until(port: u16, name: &str, parts: &[&str]) -> String {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut text = String::new();
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let _ = stream.read_to_string(&mut text);
        }
        let found = text.lines().any(|l| {
            l.starts_with(name)
                && parts.iter().all(|p| l.contains(p))
                && l.rsplit(' ')
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(|v| v > 0.0)
        });
        if found {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no {name} {parts:?} > 0 on :{port} within 30 s; last scrape:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_scrape_of_the_example_provider_and_consumer() {
    let zk = ZkServer::start(500).expect("a ZooKeeper server of its own");
    let addr = zk.addr();
    let (provider_metrics, consumer_metrics) = (free_port(), free_port());
    let _provider = example(
        "greeter-provider",
        &[
            "--zk",
            &addr,
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--warmup-ms",
            "0",
            "--metrics-addr",
            &format!("127.0.0.1:{provider_metrics}"),
        ],
    );
    let provider = scrape_until(provider_metrics, "zkdubbo_registry_connected", &[]);
    assert!(provider.contains("zkdubbo_registry_sessions_total"), "{provider}");

    let _consumer = example(
        "greeter-consumer",
        &[
            "--zk",
            &addr,
            "--count",
            "100000",
            "--interval-ms",
            "20",
            "--metrics-addr",
            &format!("127.0.0.1:{consumer_metrics}"),
        ],
    );
    let consumer = scrape_until(
        consumer_metrics,
        "zkdubbo_calls_total",
        &["method=\"sayHello\"", "outcome=\"ok\""],
    );
    for (name, parts) in [
        ("zkdubbo_call_duration_seconds_count", &["method=\"sayHello\""][..]),
        ("zkdubbo_provider_calls_total", &["outcome=\"ok\""][..]),
        ("zkdubbo_directory_providers", &["state=\"usable\""][..]),
        ("zkdubbo_connections", &["protocol=\"tri\""][..]),
        ("zkdubbo_registry_connected", &[][..]),
        ("zkdubbo_registry_notifications_total", &["category=\"providers\""][..]),
    ] {
        assert!(
            consumer
                .lines()
                .any(|l| l.starts_with(name) && parts.iter().all(|p| l.contains(p))),
            "no {name} {parts:?} in the consumer's scrape:\n{consumer}"
        );
    }
}
