//! `zkdubbo console` in a real browser (headless Chromium through chromedriver, driven with
//! fantoccini) over a real ZooKeeper: the services page finds a service, its providers show,
//! a provider and a URL-style override registered elsewhere appear without a reload (the
//! override applied), a weight set and a provider disabled through the page land in ZooKeeper
//! as the CLI writes them, a condition route is previewed without writing and then saved, a
//! consumer's view leaves the disabled provider out and says why, markup in a registered URL is
//! shown as text, a reply overtaken by a newer one is not shown over it. Also: `--read-only`
//! and `--token` refuse writes.
//!
//! Needs `chromium` and `chromium-driver` (Debian's; the README's test command installs them).
//! Screenshots go to `target/console-screenshots/` (test artifacts, not committed).

mod browser;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use browser::{browser, console, in_first_row};
use fantoccini::{Client, Locator};
use zkdubbo::registry::{Registry, ZookeeperRegistry};
use zkdubbo_integration_tests::harness::{shared_server, unique_path};

const SERVICE: &str = "com.example.console.Hello";
/// An application name that would run script if the page put it in as markup.
const MARKUP: &str = "<img src=x onerror=\"window.injected=1\">";

/// Wait until `check` holds (the page updates by itself), or fail naming `what`.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "the page never showed: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn texts(client: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for element in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
        out.push(element.text().await.unwrap_or_default());
    }
    out
}

async fn screenshot(client: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    if std::fs::create_dir_all(&dir).is_ok()
        && let Ok(png) = client.screenshot().await
    {
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}

fn provider(address: &str) -> zkdubbo::Url {
    // Parameter values are raw in a Dubbo URL (the node name encodes the whole URL once).
    let url: zkdubbo::Url = format!("tri://{address}/{SERVICE}?side=provider&methods=hi")
        .parse()
        .unwrap();
    url.with_params([("application", MARKUP)])
}

async fn connect(zk: &str, root: &str) -> Arc<ZookeeperRegistry> {
    ZookeeperRegistry::connect_str(&format!("zookeeper://{zk}?group={root}&file.cache=false"))
        .await
        .expect("registry")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_watches_and_governs_a_service_in_chromium() {
    let zk = shared_server().expect("a ZooKeeper server for the tests");
    let root = unique_path("console");
    let registry = connect(&zk, &root).await;
    registry.register(&provider("127.0.0.1:20880")).await.unwrap();
    registry
        .register(
            &"tri://127.0.0.1:20990/com.example.console.Other?side=provider"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    let (_console, addr) = console(&zk, &root, &[]);
    let (_driver, client) = browser().await;
    client.goto(&format!("http://{addr}/")).await.unwrap();

    // The services page lists both; the search keeps the one asked for.
    eventually("both services", || async {
        texts(&client, "tr.service").await.len() == 2
    })
    .await;
    client
        .find(Locator::Id("search"))
        .await
        .unwrap()
        .send_keys("console.Hello")
        .await
        .unwrap();
    eventually("the search result", || async {
        let rows = texts(&client, "tr.service").await;
        rows.len() == 1 && rows[0].contains(SERVICE)
    })
    .await;
    screenshot(&client, "services").await;

    // Its providers, with the markup shown as text and never run.
    in_first_row(&client, "tr.service", |row| async move { row.click().await }).await;
    eventually("the provider", || async {
        texts(&client, "tr.provider")
            .await
            .iter()
            .any(|r| r.contains("127.0.0.1:20880"))
    })
    .await;
    let row = texts(&client, "tr.provider").await.join("\n");
    assert!(row.contains(MARKUP), "the application as text: {row}");
    let injected = client
        .execute("return window.injected === undefined;", vec![])
        .await
        .unwrap();
    assert_eq!(
        injected,
        serde_json::Value::Bool(true),
        "markup from ZooKeeper ran in the page"
    );

    // A provider registered elsewhere appears without a reload.
    let elsewhere = connect(&zk, &root).await;
    elsewhere.register(&provider("127.0.0.1:20881")).await.unwrap();
    eventually("the new provider, live", || async {
        texts(&client, "tr.provider").await.len() == 2
    })
    .await;
    eventually("the count, live", || async {
        texts(&client, "tr.service td:nth-child(2)").await == ["2"]
    })
    .await;
    screenshot(&client, "service").await;

    // A weight set on the page: the configurators node holds it as `zkdubbo weight` writes it.
    in_first_row(&client, "tr.provider", |first| async move {
        let weight = first.find(Locator::Css("input.weight")).await?;
        weight.clear().await?;
        weight.send_keys("7").await?;
        first.find(Locator::Css("button.set-weight")).await?.click().await
    })
    .await;
    eventually("the write's report", || async {
        texts(&client, "#message").await.concat().contains("weight: 7")
    })
    .await;
    let report = texts(&client, "#message").await.concat();
    let path = report
        .lines()
        .find_map(|l| l.strip_prefix("# wrote ").map(|p| p.trim_end_matches(':').to_owned()))
        .unwrap_or_else(|| panic!("no path in {report}"));
    let raw = zookeeper_client::Client::connect(&zk).await.unwrap();
    let (data, _) = raw.get_data(&path).await.unwrap();
    let yaml = String::from_utf8(data).unwrap();
    assert!(yaml.contains("weight: 7") && yaml.contains("127.0.0.1:20880"), "{yaml}");
    // The providers table shows the weight a consumer gets, and the rule that set it.
    eventually("the merged weight", || async {
        texts(&client, "tr.provider td.weight-value")
            .await
            .iter()
            .any(|w| w == "7 (registered 100)")
    })
    .await;
    let changed = texts(&client, "tr.provider td.changed-by").await.concat();
    assert!(changed.contains("weight=7"), "{changed}");
    // A URL-style override (as Dubbo 2.6's admin writes them) shows, live, and applies.
    let legacy: zkdubbo::Url =
        format!("override://127.0.0.1:20881/{SERVICE}?category=configurators&dynamic=false&enabled=true&weight=3")
            .parse()
            .unwrap();
    elsewhere.register(&legacy).await.unwrap();
    eventually("the URL-style override, live", || async {
        let rules = texts(&client, "#rules li.muted").await.concat();
        let weights = texts(&client, "tr.provider td.weight-value").await;
        rules.contains("override://127.0.0.1:20881") && weights.iter().any(|w| w == "3 (registered 100)")
    })
    .await;
    elsewhere.unregister(&legacy).await.unwrap();
    eventually("the URL-style override gone, live", || async {
        let rules = texts(&client, "#rules li.muted").await.concat();
        let weights = texts(&client, "tr.provider td.weight-value").await;
        !rules.contains("override://127.0.0.1:20881") && !weights.iter().any(|w| w.starts_with('3'))
    })
    .await;

    // A condition route: previewed (its effect shown, nothing written), then saved.
    client
        .find(Locator::Id("route-conditions"))
        .await
        .unwrap()
        .send_keys("=> address = 127.0.0.1:20881")
        .await
        .unwrap();
    client
        .find(Locator::Id("route-preview"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the route's preview", || async {
        texts(&client, "#message").await.concat().contains("# would write")
    })
    .await;
    let preview = texts(&client, "#message").await.concat();
    let route_path = preview
        .lines()
        .find_map(|l| {
            l.strip_prefix("# would write ")
                .map(|p| p.trim_end_matches(':').to_owned())
        })
        .unwrap_or_else(|| panic!("no path in {preview}"));
    assert!(route_path.ends_with(".condition-router"), "{route_path}");
    assert!(preview.contains("127.0.0.1:20881"), "the effect: {preview}");
    assert!(raw.get_data(&route_path).await.is_err(), "a preview wrote the route");
    client
        .find(Locator::Id("route-save"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the route saved", || async {
        texts(&client, "#message").await.concat().contains("# wrote")
    })
    .await;
    let (data, _) = raw.get_data(&route_path).await.unwrap();
    let route = String::from_utf8(data).unwrap();
    assert!(route.contains("address = 127.0.0.1:20881"), "{route}");
    // Edited elsewhere (as dubbo-admin would): the page shows the new text, live.
    let edited = route.replace("127.0.0.1:20881", "127.0.0.1:20999");
    raw.set_data(&route_path, edited.as_bytes(), None).await.unwrap();
    eventually("the route edited elsewhere", || async {
        texts(&client, "#rules pre.yaml")
            .await
            .iter()
            .any(|r| r.contains("127.0.0.1:20999"))
    })
    .await;
    raw.set_data(&route_path, route.as_bytes(), None).await.unwrap();
    eventually("the route restored elsewhere", || async {
        let rules = texts(&client, "#rules pre.yaml").await.concat();
        rules.contains("127.0.0.1:20881") && !rules.contains("127.0.0.1:20999")
    })
    .await;

    // Disabled on the page: the YAML rule the page shows says so.
    in_first_row(&client, "tr.provider", |first| async move {
        first.find(Locator::Css("button.toggle")).await?.click().await
    })
    .await;
    eventually("the disable rule", || async {
        texts(&client, "#rules pre.yaml")
            .await
            .iter()
            .any(|r| r.contains("disabled: true"))
    })
    .await;
    let (data, _) = raw.get_data(&path).await.unwrap();
    let yaml = String::from_utf8(data).unwrap();
    assert!(yaml.contains("disabled: true"), "{yaml}");
    // Described as a consumer: the disabled provider is left out, and the page says why.
    client
        .find(Locator::Id("as-host"))
        .await
        .unwrap()
        .send_keys("10.0.0.9")
        .await
        .unwrap();
    client
        .find(Locator::Id("as-application"))
        .await
        .unwrap()
        .send_keys("web")
        .await
        .unwrap();
    client
        .find(Locator::Css("#as-consumer button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("what the consumer gets", || async {
        let gets = texts(&client, "#described li.gets").await.concat();
        gets.contains("127.0.0.1:20881") && !gets.contains("127.0.0.1:20880")
    })
    .await;
    let excluded = texts(&client, "#described li.excluded").await.concat();
    assert!(excluded.contains("127.0.0.1:20880"), "{excluded}");
    screenshot(&client, "described").await;

    // Reads the live changes start overlap: a reply that a newer one overtook is not shown.
    let order = client
        .execute(
            "const reads = { started: 0, shown: 0 };
             const older = numbered(reads), newer = numbered(reads), newest = numbered(reads);
             return [newer(), older(), newest()];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(order, serde_json::json!([true, false, true]), "replies shown in order");
    client.close().await.unwrap();
}

/// `POST path` with a JSON `body` and an optional token: the status code and the body.
async fn post_json(addr: SocketAddr, path: &str, body: &str, token: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    let code = reply.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

/// A weight write of the console's test service: the status code.
async fn post(addr: SocketAddr, path: &str, token: Option<&str>) -> u16 {
    let body = format!(r#"{{"service":"{SERVICE}","address":"127.0.0.1:20880","weight":5}}"#);
    post_json(addr, path, &body, token).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_and_token_consoles_refuse_writes() {
    let zk = shared_server().expect("a ZooKeeper server for the tests");
    let root = unique_path("console-guard");
    let registry = connect(&zk, &root).await;
    registry.register(&provider("127.0.0.1:20880")).await.unwrap();

    let (_read_only, addr) = console(&zk, &root, &["--read-only"]);
    assert_eq!(post(addr, "/api/weight", None).await, 403);

    let (_guarded, addr) = console(&zk, &root, &["--token", "s3cret"]);
    assert_eq!(post(addr, "/api/weight", None).await, 401);
    assert_eq!(post(addr, "/api/weight", Some("wrong")).await, 401);
    assert_eq!(post(addr, "/api/weight", Some("s3cret")).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_is_previewed_then_written_as_the_cli_writes_it() {
    let zk = shared_server().expect("a ZooKeeper server for the tests");
    let root = unique_path("console-tag");
    let registry = connect(&zk, &root).await;
    registry
        .register(
            &"tri://127.0.0.1:20880/com.example.console.Tagged?application=tagged-app&side=provider"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let (_console, addr) = browser::console_logging(&zk, &root, &["--token", "t"], Some(log.path()));
    let body = r#"{"application":"tagged-app","tag":"gray","addresses":["127.0.0.1:20880"],"preview":true}"#;
    let (code, preview) = post_json(addr, "/api/tag", body, None).await;
    assert_eq!(code, 200, "a preview needs no token: {preview}");
    let path = preview
        .lines()
        .find_map(|l| {
            l.strip_prefix("# would write ")
                .map(|p| p.trim_end_matches(':').to_owned())
        })
        .unwrap_or_else(|| panic!("no path in {preview}"));
    assert!(path.ends_with("/tagged-app.tag-router"), "{path}");
    let raw = zookeeper_client::Client::connect(&zk).await.unwrap();
    assert!(raw.get_data(&path).await.is_err(), "a preview wrote the tag");
    let save = body.replace("true", "false");
    assert_eq!(post_json(addr, "/api/tag", &save, None).await.0, 401);
    let (code, report) = post_json(addr, "/api/tag", &save, Some("t")).await;
    assert_eq!(code, 200, "{report}");
    let (data, _) = raw.get_data(&path).await.unwrap();
    let yaml = String::from_utf8(data).unwrap();
    assert!(yaml.contains("gray") && yaml.contains("127.0.0.1:20880"), "{yaml}");
    // Logged: who (the client's address), what, the rule before and after.
    let logged = std::fs::read_to_string(log.path()).unwrap();
    let line = logged
        .lines()
        .find(|l| l.contains("console write") && l.contains("tag tagged-app gray"))
        .unwrap_or_else(|| panic!("no write logged:\n{logged}"));
    assert!(line.contains("who=127.0.0.1:"), "{line}");
    assert!(
        line.contains("absent") && line.contains("gray"),
        "before and after: {line}"
    );
    let (code, _) = post_json(addr, "/api/tag/delete", r#"{"application":"tagged-app"}"#, Some("t")).await;
    assert_eq!(code, 200);
    assert!(raw.get_data(&path).await.is_err(), "the tag rule is gone");

    // A forced route to no provider: the services page warns about the service.
    let route = r#"{"service":"com.example.console.Tagged","conditions":["=> address = 10.9.9.9:1"],"force":true}"#;
    let (code, report) = post_json(addr, "/api/route", route, Some("t")).await;
    assert_eq!(code, 200, "{report}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let services = get_text(addr, "/api/services").await;
        if services.contains("routes leave every method without a provider") {
            break;
        }
        assert!(Instant::now() < deadline, "no warning for the route: {services}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The config group's node beside the services is none of them.
    assert!(!get_text(addr, "/api/services").await.contains(r#""name":"config""#));
}

/// `GET path`: the body.
async fn get_text(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}
