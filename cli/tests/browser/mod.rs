//! What the console's browser tests share: the console as a process, chromedriver and a
//! headless Chromium session.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};

/// A child process killed when dropped.
pub(crate) struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `zkdubbo console` on a free port: the process and the page's address.
pub(crate) fn console(zk: &str, root: &str, extra: &[&str]) -> (Killed, SocketAddr) {
    console_logging(zk, root, extra, None)
}

/// [`console`], its log (info and up) written to `log` when given.
pub(crate) fn console_logging(
    zk: &str,
    root: &str,
    extra: &[&str],
    log: Option<&std::path::Path>,
) -> (Killed, SocketAddr) {
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).expect("the log file")),
        None => Stdio::inherit(),
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkdubbo"))
        .env_remove("ZK_ADDR")
        .env_remove("ZKDUBBO_CONSOLE_TOKEN")
        .env("ZKDUBBO_LOG", if log.is_some() { "info" } else { "warn" })
        .args(["--zk", zk, "--root", root, "console", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("run zkdubbo console");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the console's first line");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (Killed(child), addr)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver and a headless Chromium session.
pub(crate) async fn browser() -> (Killed, Client) {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "chromedriver is not installed: apt-get install chromium chromium-driver (the README's test command does)",
        );
    let driver = Killed(driver);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut options = serde_json::json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900"]
    });
    if std::path::Path::new("/usr/bin/chromium").exists() {
        options["binary"] = "/usr/bin/chromium".into();
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".to_owned(), options);
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    (driver, client)
}

/// Act on the first element matching `row`. The page replaces its rows whenever a live change
/// arrives, so a row found can be detached before `act` is done with it: `act` starts again
/// on the row as it is now, as an operator whose click missed would click again.
pub(crate) async fn in_first_row<F, Fut>(client: &Client, row: &str, mut act: F)
where
    F: FnMut(Element) -> Fut,
    Fut: std::future::Future<Output = Result<(), CmdError>>,
{
    for _ in 0..20 {
        let found = client.find(Locator::Css(row)).await.unwrap();
        match act(found).await {
            Ok(()) => return,
            Err(e) if e.is_stale_element_reference() => continue,
            Err(e) => panic!("acting on {row}: {e}"),
        }
    }
    panic!("{row} was replaced under every one of 20 tries");
}
