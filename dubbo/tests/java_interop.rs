//! dubbo:// against a Java peer whose every Hessian byte is Caucho's (Debian's
//! libhessian-java), framed as Dubbo's ExchangeCodec frames it: our consumer calls the Java
//! provider, and the Java consumer calls our provider.
//!
//! Needs `javac` and `/usr/share/java/hessian.jar` (`scripts/zk.sh install` installs both).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use zkdubbo_common::InvokerFactory;
use zkdubbo_dubbo::demo::{self, User};
use zkdubbo_dubbo::hessian::{Date, Value};
use zkdubbo_dubbo::{DubboInvokerFactory, DubboServer};

const JAR: &str = "/usr/share/java/hessian.jar";
const OPENS: [&str; 4] = [
    "--add-opens",
    "java.base/java.lang=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.util=ALL-UNNAMED",
];

fn classes() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        assert!(Path::new(JAR).exists(), "{JAR} is missing: run scripts/zk.sh install");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dubbo-peer");
        std::fs::create_dir_all(&out).unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let ok = Command::new("javac")
            .args(["-d", out.to_str().unwrap(), "-cp", JAR])
            .arg(root.join("tests/java/DubboPeer.java"))
            .arg(root.join("../hessian/tests/java/com/example/User.java"))
            .status()
            .expect("javac is missing: run scripts/zk.sh install");
        assert!(ok.success(), "javac failed");
        out
    })
    .clone()
}

fn java(args: &[&str]) -> Command {
    let mut c = Command::new("java");
    c.args(OPENS)
        .args(["-cp", &format!("{}:{JAR}", classes().display()), "DubboPeer"])
        .args(args);
    c
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn our_consumer_calls_a_java_provider() {
    let mut child = java(&["serve"]).stdout(Stdio::piped()).spawn().expect("java");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _guard = Kill(child);
    let port: u16 = line.trim().strip_prefix("port ").unwrap().parse().unwrap();

    let url = format!("dubbo://127.0.0.1:{port}/org.apache.dubbo.samples.DemoService?timeout=10000")
        .parse()
        .unwrap();
    let inv = DubboInvokerFactory::new().create(&url).unwrap();
    let call = |m: &str, t: &[&str], a: &[Value]| zkdubbo_dubbo::value_invocation(m, t, a).unwrap();

    let r = inv
        .invoke(&call(
            "sayHello",
            &["java.lang.String"],
            &["W\u{f6}rld \u{1f600}".into()],
        ))
        .await
        .unwrap();
    assert_eq!(
        zkdubbo_dubbo::reply::<String>(&r).unwrap(),
        "Hello, W\u{f6}rld \u{1f600}!"
    );
    assert_eq!(r.attachments.get("server").map(String::as_str), Some("java"));
    let r = inv
        .invoke(&call("add", &["int", "int"], &[Value::Int(20), Value::Int(22)]))
        .await
        .unwrap();
    assert_eq!(zkdubbo_dubbo::reply::<i32>(&r).unwrap(), 42);
    let r = inv
        .invoke(&zkdubbo_dubbo::invocation("getUser", &["java.lang.String"], &("Ada",)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        zkdubbo_dubbo::reply::<User>(&r).unwrap(),
        User {
            name: "Ada".into(),
            age: 36,
            tags: vec!["java".into()],
            created: Some(Date(1_700_000_000_000)),
        }
    );
    let bob = User {
        name: "Bob".into(),
        age: 7,
        tags: vec![],
        created: None,
    };
    let r = inv
        .invoke(&zkdubbo_dubbo::invocation("echo", &["java.lang.Object"], &(&bob,)).unwrap())
        .await
        .unwrap();
    assert_eq!(zkdubbo_dubbo::reply::<User>(&r).unwrap(), bob);
    let err = inv
        .invoke(&zkdubbo_dubbo::invocation("getUser", &["java.lang.String"], &("",)).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_business());
    assert!(
        err.to_string()
            .contains("java.lang.IllegalStateException: no user; caused by java.lang.ArithmeticException: inner"),
        "{err}"
    );
    let r = inv.invoke(&call("nothing", &[], &[])).await.unwrap();
    assert_eq!(zkdubbo_dubbo::reply_value(&r).unwrap(), Value::Null);
}

#[tokio::test]
async fn a_java_consumer_calls_our_provider() {
    let server = DubboServer::builder()
        .service(demo::INTERFACE, demo::service())
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .spawn();
    let port = server.local_addr().port().to_string();
    let out = tokio::task::spawn_blocking(move || java(&["call", &port]).output().expect("java"))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "sayHello\tHello, Ada \u{1f600}! attachments={dubbo=2.0.2}",
            "add\t42 attachments={dubbo=2.0.2}",
            "echo\tUser(Bob,7,[x, y],1700000000000) attachments={dubbo=2.0.2}",
            "getUser\tUser(Ada,36,[demo, zkdubbo],1700000000000) attachments={dubbo=2.0.2}",
            "throws\tthrew java.lang.IllegalArgumentException: the name is empty attachments={dubbo=2.0.2}",
            "generic\t11 attachments={dubbo=2.0.2}",
            "heartbeat\t22 20",
        ]
    );
    server.shutdown(Duration::from_millis(10)).await;
}
