//! `zkdubbo console` with 10,000 services, one of them with 10,000 providers: how long until the
//! console serves them all, until the services page has rendered in Chromium, and until the big
//! service's page has. A measurement for BENCHMARKS.md, not a test of time:
//!
//! ```sh
//! cargo test --release -p zkdubbo-cli --test console_scale -- --ignored --nocapture
//! ```

mod browser;

use std::time::{Duration, Instant};

use fantoccini::Locator;
use zkdubbo_integration_tests::harness::{shared_server, unique_path};
use zookeeper_client::{Acls, CreateMode};

const SERVICES: usize = 10_000;
const BIG: &str = "com.example.scale.Big";

async fn create_all(client: &zookeeper_client::Client, paths: Vec<String>) {
    let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
    for chunk in paths.chunks(1_000) {
        let creates = chunk.iter().map(|p| client.create(p, b"", &options));
        for result in futures::future::join_all(creates).await {
            match result {
                Ok(_) | Err(zookeeper_client::Error::NodeExists) => {}
                Err(e) => panic!("create: {e}"),
            }
        }
    }
}

fn provider_node(interface: &str, host: &str, port: u32) -> String {
    zkdubbo_common::encoding::encode(&format!(
        "tri://{host}:{port}/{interface}?application=scale&interface={interface}&side=provider"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a scale measurement: run with --ignored --nocapture"]
async fn ten_thousand_services() {
    let zk = shared_server().expect("a ZooKeeper server");
    let root = unique_path("console-scale");
    let client = zookeeper_client::Client::connect(&zk).await.unwrap();
    let mut paths = vec![root.clone()];
    let interfaces: Vec<String> = (0..SERVICES - 1)
        .map(|i| format!("com.example.scale.Service{i:05}"))
        .chain([BIG.to_owned()])
        .collect();
    paths.extend(interfaces.iter().map(|i| format!("{root}/{i}")));
    paths.extend(interfaces.iter().map(|i| format!("{root}/{i}/providers")));
    create_all(&client, paths).await;
    let mut providers: Vec<String> = interfaces[..SERVICES - 1]
        .iter()
        .enumerate()
        .map(|(n, i)| {
            format!(
                "{root}/{i}/providers/{}",
                provider_node(i, "10.0.0.1", 20_000 + n as u32)
            )
        })
        .collect();
    providers.extend((0..SERVICES).map(|n| {
        let host = format!("10.1.{}.{}", n / 250, n % 250);
        format!("{root}/{BIG}/providers/{}", provider_node(BIG, &host, 20880))
    }));
    create_all(&client, providers).await;

    // The baseline: one pipelined read of every list (what `Registry::lookup` does).
    let registry =
        zkdubbo::registry::ZookeeperRegistry::connect_str(&format!("zookeeper://{zk}?group={root}&file.cache=false"))
            .await
            .unwrap();
    let read = Instant::now();
    let all = zkdubbo::registry::Registry::lookup(
        &*registry,
        &"consumer://127.0.0.1/*?interface=*&category=providers,consumers&group=*&version=*&enabled=*"
            .parse()
            .unwrap(),
    )
    .await
    .unwrap();
    let lookup = read.elapsed();
    assert_eq!(all.len(), 2 * SERVICES - 1);

    let started = Instant::now();
    let (_console, addr) = browser::console(&zk, &root, &[]);
    let up = started.elapsed();
    let mut named = None;
    let ready = loop {
        let body = reqwest_like_get(addr, "/api/services").await;
        if named.is_none() && body.matches("\"name\"").count() == SERVICES {
            named = Some(started.elapsed());
        }
        if named.is_some() && body.contains("\"counting\":false") {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the console never counted every service"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let named = named.unwrap_or(ready);

    let (_driver, page) = browser::browser().await;
    page.goto(&format!("http://{addr}/")).await.unwrap();
    let first_render = loop {
        let v = page
            .execute(
                "return window.zkdubboFirstRender === undefined ? null : window.zkdubboFirstRender;",
                vec![],
            )
            .await
            .unwrap();
        if let Some(ms) = v.as_f64() {
            break ms;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let count = page.find(Locator::Id("count")).await.unwrap().text().await.unwrap();
    assert!(count.starts_with(&format!("{SERVICES} of {SERVICES}")), "{count}");

    page.find(Locator::Id("search"))
        .await
        .unwrap()
        .send_keys("scale.Big")
        .await
        .unwrap();
    let clicked = Instant::now();
    browser::in_first_row(&page, "tr.service", |row| async move { row.click().await }).await;
    loop {
        if page.find_all(Locator::Css("tr.provider")).await.unwrap().len() == 200 {
            break;
        }
        assert!(
            clicked.elapsed() < Duration::from_secs(60),
            "the big service never showed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let big_page = clicked.elapsed();
    page.close().await.unwrap();

    println!("| what | time |");
    println!("|---|---:|");
    println!(
        "| baseline: one pipelined read of every list (`Registry::lookup`) | {} ms |",
        lookup.as_millis()
    );
    println!("| console listening after start | {} ms |", up.as_millis());
    println!(
        "| every service named by /api/services after start | {} ms |",
        named.as_millis()
    );
    println!(
        "| every service counted (providers, consumers) after start | {} ms |",
        ready.as_millis()
    );
    println!("| services page rendered (from navigation) | {first_render:.0} ms |");
    println!(
        "| the 10,000-provider service's page (first 200 rows) after the click | {} ms |",
        big_page.as_millis()
    );
}

/// GET `path` on `addr` (HTTP/1.1): the body.
async fn reqwest_like_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return String::new();
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply).await;
    reply
}
