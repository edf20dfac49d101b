//! A Prometheus scrape of a process that provides and consumes through a real ZooKeeper
//! returns the documented metrics with the values the calls made: calls by outcome, their
//! durations, per-provider attempts, in flight, the registry's session and notifications,
//! the directory's providers and the open connections. (One test: the recorder is
//! process-wide.)

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zkdubbo::triple::Status;
use zkdubbo::triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo::{ServiceBuilder, metrics};

/// `GET path` on `addr`: the status line and the body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// The samples of a scrape: (name, labels) → value.
fn samples(text: &str) -> BTreeMap<(String, BTreeMap<String, String>), f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once("=\"").unwrap();
                (k.to_owned(), v.trim_end_matches('"').to_owned())
            })
            .collect();
        out.insert((name.to_owned(), labels), value.parse().unwrap());
    }
    out
}

fn value(samples: &BTreeMap<(String, BTreeMap<String, String>), f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    *samples
        .get(&(name.to_owned(), labels.clone()))
        .unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_returns_the_documented_metrics() {
    let exporter = metrics::serve_prometheus("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let env = env("metrics");
    let registry = env.registry_url(&env.addr, "");
    let methods = greeter::service().unary("fail", |_: GreeterRequest, _metadata| async move {
        Err::<GreeterReply, _>(Status::invalid_argument("refused"))
    });
    let service = ServiceBuilder::new(greeter::INTERFACE)
        .registry(&registry)
        .host("127.0.0.1")
        .method(greeter::SAY_HELLO)
        .method("fail")
        .serve_triple(methods, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let reference = greeter_reference(&registry, 1).await;
    for name in ["a", "b", "c"] {
        let _: GreeterReply = reference
            .call(greeter::SAY_HELLO, &GreeterRequest { name: name.into() })
            .await
            .unwrap();
    }
    let failed = reference
        .call::<_, GreeterReply>("fail", &GreeterRequest::default())
        .await
        .unwrap_err();
    assert!(failed.is_business(), "{failed}");

    let (status, text) = get(exporter.local_addr(), "/metrics").await;
    assert!(status.contains("200"), "{status}");
    let s = samples(&text);
    let svc = ("service", greeter::INTERFACE);
    let provider = format!("127.0.0.1:{}", service.local_addr().port());
    let zk = env.addr.as_str();
    assert_eq!(
        value(&s, metrics::CALLS, &[svc, ("method", "sayHello"), ("outcome", "ok")]),
        3.0
    );
    assert_eq!(
        value(&s, metrics::CALLS, &[svc, ("method", "fail"), ("outcome", "business")]),
        1.0
    );
    assert_eq!(
        value(
            &s,
            metrics::CALLS,
            &[svc, ("method", "sayHello"), ("outcome", "timeout")]
        ),
        0.0
    );
    let histogram = format!("{}_count", metrics::CALL_SECONDS);
    assert_eq!(value(&s, &histogram, &[svc, ("method", "sayHello")]), 3.0);
    let bucket = format!("{}_bucket", metrics::CALL_SECONDS);
    assert_eq!(value(&s, &bucket, &[svc, ("method", "sayHello"), ("le", "+Inf")]), 3.0);
    assert_eq!(
        value(
            &s,
            metrics::PROVIDER_CALLS,
            &[svc, ("provider", &provider), ("outcome", "ok")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &s,
            metrics::PROVIDER_CALLS,
            &[svc, ("provider", &provider), ("outcome", "business")]
        ),
        1.0
    );
    assert_eq!(value(&s, metrics::IN_FLIGHT, &[svc]), 0.0);
    assert_eq!(value(&s, metrics::CONNECTED, &[("registry", zk)]), 1.0);
    assert!(value(&s, metrics::SESSIONS, &[("registry", zk)]) >= 1.0);
    assert!(
        value(
            &s,
            metrics::NOTIFICATIONS,
            &[("registry", zk), ("category", "providers")]
        ) >= 1.0
    );
    assert_eq!(value(&s, metrics::PROVIDERS, &[svc, ("state", "usable")]), 1.0);
    assert_eq!(value(&s, metrics::PROVIDERS, &[svc, ("state", "registered")]), 1.0);
    assert_eq!(value(&s, metrics::PROVIDERS, &[svc, ("state", "disabled")]), 0.0);
    assert!(value(&s, metrics::SNAPSHOT_VERSION, &[svc]) >= 1.0);
    assert!(value(&s, metrics::CONNECTIONS, &[("protocol", "tri")]) >= 1.0);
    let modes = value(&s, metrics::WATCH_MODE, &[("registry", zk), ("mode", "persistent")])
        + value(&s, metrics::WATCH_MODE, &[("registry", zk), ("mode", "children")]);
    assert_eq!(modes, 1.0, "one watch mode");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last = value(&s, metrics::LAST_NOTIFICATION, &[("registry", zk)]);
    assert!(last > now - 300.0 && last <= now + 1.0, "{last} vs {now}");
    // No label carries a URL.
    assert!(!text.contains("://"), "a URL in a label:\n{text}");

    let (status, _) = get(exporter.local_addr(), "/other").await;
    assert!(status.contains("404"), "{status}");
    reference.shutdown().await;
    service.shutdown(Duration::ZERO).await.unwrap();
}
