//! `zkdubbo call` against a dubbo:// provider registered in a real ZooKeeper, and
//! `zkdubbo hessian decode` on captured bytes.

use std::process::Command;
use std::time::Duration;

use zkdubbo::ServiceBuilder;
use zkdubbo::dubbo::demo;
use zkdubbo_integration_tests::harness::{shared_server, unique_path};

fn zkdubbo(zk: &str, root: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkdubbo"));
    cmd.env_remove("ZK_ADDR")
        .env("ZKDUBBO_LOG", "error")
        .args(["--zk", zk, "--root", root]);
    cmd
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json_of(cmd: &mut Command) -> serde_json::Value {
    serde_json::from_str(&stdout_of(cmd)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_strings_ints_pojos_and_exceptions() {
    let zk = shared_server().unwrap();
    let root = unique_path("cli-call");
    let service = ServiceBuilder::new(demo::INTERFACE)
        .registry(format!("zookeeper://{zk}?group={root}&file.cache=false"))
        .host("127.0.0.1")
        .serve_dubbo(demo::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (zk2, root2) = (zk.clone(), root.clone());
    let cli = move |args: &[&str]| {
        let mut c = zkdubbo(&zk2, &root2);
        c.arg("call").arg(demo::INTERFACE).args(args);
        c
    };
    let run = |args: &'static [&'static str]| {
        let mut c = cli(args);
        tokio::task::spawn_blocking(move || c.output().unwrap())
    };

    let out = run(&["sayHello", "\"Bob\""]).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "\"Hello, Bob!\"");

    let sum = tokio::task::spawn_blocking({
        let mut c = cli(&["add", "2", "40", "--json"]);
        move || json_of(&mut c)
    })
    .await
    .unwrap();
    assert_eq!(sum["result"], 42);
    assert_eq!(sum["types"], serde_json::json!(["int", "int"]));
    assert_eq!(sum["provider"], service.url().address());

    // A POJO comes back as a map with its class; a map with a class goes in.
    let user = tokio::task::spawn_blocking({
        let mut c = cli(&["getUser", "\"Ada\""]);
        move || json_of(&mut c)
    })
    .await
    .unwrap();
    assert_eq!(user["class"], "com.example.User");
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["created"], "2023-11-14T22:13:20.000Z");
    let echoed = tokio::task::spawn_blocking({
        let mut c = cli(&[
            "echo",
            r#"{"class":"com.example.User","name":"Bo","age":7}"#,
            "--types",
            "java.lang.Object",
        ]);
        move || json_of(&mut c)
    })
    .await
    .unwrap();
    assert_eq!(
        echoed,
        serde_json::json!({"class": "com.example.User", "name": "Bo", "age": 7})
    );

    // A remote exception: its Java class on stderr, exit status 1.
    let out = run(&["getUser", "\"\""]).await.unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("java.lang.IllegalArgumentException: the name is empty"),
        "{err}"
    );

    // An overload that does not exist: the provider says which ones do.
    let out = run(&["add", "2", "3", "--types", "long,long"]).await.unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("NoSuchMethodException"));

    // Bad input is refused before anything is sent.
    let out = run(&["add", "2", "{oops"]).await.unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("argument 2 is not JSON"));
    let out = run(&["add", "2", "3", "--types", "int"]).await.unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--types names 1 types for 2 arguments"));

    service.shutdown(Duration::ZERO).await.unwrap();
}

#[test]
fn hessian_decode_prints_json_lines() {
    use zkdubbo::hessian::{Encoder, List, Object, Value};
    let mut enc = Encoder::new();
    enc.write_value(&Value::from("2.0.2")).unwrap();
    enc.write_long(1 << 60);
    enc.write_date(1_700_000_000_000);
    enc.write_binary(b"hi");
    enc.write_value(&Value::from(
        Object::new("com.example.User")
            .field("name", "Ada")
            .field("tags", List::typed("[string", vec!["a".into()])),
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.bin");
    std::fs::write(&file, enc.into_bytes()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkdubbo"));
    cmd.args(["hessian", "decode", file.to_str().unwrap()]);
    assert_eq!(
        stdout_of(&mut cmd),
        "\"2.0.2\"\n\"1152921504606846976\"\n\"2023-11-14T22:13:20.000Z\"\n\"aGk=\"\n\
         {\"class\":\"com.example.User\",\"name\":\"Ada\",\"tags\":[\"a\"]}\n"
    );
    let mut typed = Command::new(env!("CARGO_BIN_EXE_zkdubbo"));
    typed.args(["hessian", "decode", "--typed", file.to_str().unwrap()]);
    let first = stdout_of(&mut typed).lines().next().unwrap().to_owned();
    assert_eq!(first, r#"{"type":"java.lang.String","value":"2.0.2"}"#);

    // A truncated stream: the error names the offset.
    std::fs::write(&file, [0x78 + 2, 0x90]).unwrap();
    let mut bad = Command::new(env!("CARGO_BIN_EXE_zkdubbo"));
    let out = bad
        .args(["hessian", "decode", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stream ends at byte 2"));
}
