//! Interoperability with dubbo-python (PyPI `apache-dubbo`), both directions, on the Greeter.
//!
//! Ignored by default: they need `ZKDUBBO_DUBBO_PYTHON` naming a Python interpreter that can
//! `import dubbo`, e.g. after `python3 -m venv /tmp/dp && /tmp/dp/bin/pip install apache-dubbo`:
//! `ZKDUBBO_DUBBO_PYTHON=/tmp/dp/bin/python cargo test -p zkdubbo-triple --test interop_dubbo_python -- --ignored`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;
use zkdubbo_common::Url;
use zkdubbo_triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo_triple::{TripleInvokerFactory, TripleServer};

/// The interpreter; an ignored test run without it fails and says what to set.
fn python() -> String {
    std::env::var("ZKDUBBO_DUBBO_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .expect("set ZKDUBBO_DUBBO_PYTHON to a Python with the apache-dubbo package")
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

#[tokio::test]
#[ignore = "needs dubbo-python: set ZKDUBBO_DUBBO_PYTHON and run with --ignored"]
async fn dubbo_python_client_calls_our_server() {
    let python = python();
    let server = TripleServer::builder()
        .service(greeter::INTERFACE, greeter::service())
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(&python)
            .arg(script("dubbo_python_client.py"))
            .arg(server.local_addr().port().to_string())
            .arg("from python")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Python client finishes within 30 s")
    .expect("the Python client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("reply: Hello, from python!"),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
#[ignore = "needs dubbo-python: set ZKDUBBO_DUBBO_PYTHON and run with --ignored"]
async fn our_client_calls_a_dubbo_python_server() {
    let python = python();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(&python)
        .arg(script("dubbo_python_server.py"))
        .arg(port.to_string())
        .arg("60")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the Python server starts");

    let url: Url = format!("tri://127.0.0.1:{port}/{}", greeter::INTERFACE)
        .parse()
        .unwrap();
    let factory = TripleInvokerFactory::new();
    let invoker = factory.create_triple(&url).unwrap();
    let request = GreeterRequest {
        name: "from rust".into(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let reply: GreeterReply = loop {
        match invoker.call(greeter::SAY_HELLO, &request).await {
            Ok(reply) => break reply,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for the Python server: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the Python server never answered: {e}"),
        }
    };
    assert_eq!(reply.message, "Hello, from rust!");

    let missing: Url = format!("tri://127.0.0.1:{port}/com.example.Missing").parse().unwrap();
    let err = factory
        .create_triple(&missing)
        .unwrap()
        .call::<_, GreeterReply>(greeter::SAY_HELLO, &request)
        .await
        .unwrap_err();
    assert!(err.is_business(), "{err}");
    let _ = child.kill().await;
}
