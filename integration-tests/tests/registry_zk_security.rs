//! TLS and SASL to a real ZooKeeper: a server with a `secureClientPort` (Netty, a certificate
//! signed by a throwaway CA made with the JDK's `keytool`) and a server with SASL DIGEST-MD5
//! users; clear errors when one side speaks TLS and the other does not, or the password is
//! wrong.

use std::path::Path;
use std::process::Command;

use zkdubbo_common::Url;
use zkdubbo_integration_tests::harness::{ZkOptions, ZkServer};
use zkdubbo_registry::{Registry, RegistryError, ZookeeperRegistry};

fn keytool(dir: &Path, args: &[&str]) {
    let out = Command::new("keytool")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("keytool (from the JDK: scripts/zk.sh install)");
    assert!(
        out.status.success(),
        "keytool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a server keystore holding a certificate for 127.0.0.1 signed by it; returns the
/// CA's PEM path and the keystore path (password `changeit`).
fn certificates(dir: &Path) -> (String, String) {
    let pass = ["-storepass", "changeit", "-keypass", "changeit"];
    let genkey = |alias: &str, dname: &str, store: &str, extra: &[&str]| {
        let mut args = vec![
            "-genkeypair",
            "-alias",
            alias,
            "-keyalg",
            "RSA",
            "-keysize",
            "2048",
            "-dname",
            dname,
        ];
        args.extend(["-validity", "2", "-storetype", "PKCS12", "-keystore", store]);
        args.extend(pass);
        args.extend(extra);
        keytool(dir, &args);
    };
    genkey("ca", "CN=zkdubbo test CA", "ca.p12", &["-ext", "bc:c"]);
    keytool(
        dir,
        &[
            "-exportcert",
            "-rfc",
            "-alias",
            "ca",
            "-keystore",
            "ca.p12",
            "-file",
            "ca.pem",
            "-storepass",
            "changeit",
        ],
    );
    genkey("server", "CN=127.0.0.1", "server.p12", &[]);
    keytool(
        dir,
        &[
            "-certreq",
            "-alias",
            "server",
            "-keystore",
            "server.p12",
            "-file",
            "server.csr",
            "-storepass",
            "changeit",
        ],
    );
    keytool(
        dir,
        &[
            "-gencert",
            "-alias",
            "ca",
            "-keystore",
            "ca.p12",
            "-storepass",
            "changeit",
            "-infile",
            "server.csr",
            "-outfile",
            "server.pem",
            "-rfc",
            "-ext",
            "san=ip:127.0.0.1",
            "-validity",
            "2",
        ],
    );
    keytool(
        dir,
        &[
            "-importcert",
            "-noprompt",
            "-alias",
            "ca",
            "-file",
            "ca.pem",
            "-keystore",
            "server.p12",
            "-storepass",
            "changeit",
        ],
    );
    keytool(
        dir,
        &[
            "-importcert",
            "-alias",
            "server",
            "-file",
            "server.pem",
            "-keystore",
            "server.p12",
            "-storepass",
            "changeit",
        ],
    );
    (
        dir.join("ca.pem").display().to_string(),
        dir.join("server.p12").display().to_string(),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const NETTY: [&str; 7] = [
    "buffer",
    "codec",
    "common",
    "handler",
    "resolver",
    "transport",
    "transport-native-unix-common",
];

async fn connect(url: &str) -> Result<std::sync::Arc<ZookeeperRegistry>, RegistryError> {
    ZookeeperRegistry::connect_str(&format!("{url}&check=true&file.cache=false&timeout=3000")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_a_secure_client_port_and_clear_errors_when_one_side_does_not_speak_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, keystore) = certificates(dir.path());
    let secure_port = free_port();
    let server = ZkServer::start_with(ZkOptions {
        extra_cfg: vec![
            format!("secureClientPort={secure_port}"),
            "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory".into(),
            format!("ssl.keyStore.location={keystore}"),
            "ssl.keyStore.password=changeit".into(),
            "ssl.keyStore.type=PKCS12".into(),
            format!("ssl.trustStore.location={keystore}"),
            "ssl.trustStore.password=changeit".into(),
            "ssl.trustStore.type=PKCS12".into(),
            "ssl.clientAuth=none".into(),
        ],
        extra_classpath: NETTY.iter().map(|n| format!("/usr/share/java/netty-{n}.jar")).collect(),
        ..ZkOptions::default()
    })
    .expect("a ZooKeeper with a secureClientPort");

    let tls = format!("zookeeper://127.0.0.1:{secure_port}?group=/tls-test&tls=true&tls.ca-file={ca}");
    let registry = connect(&tls).await.expect("a TLS session");
    let provider: Url = "dubbo://10.0.0.5:20880/com.foo.Secure?interface=com.foo.Secure"
        .parse()
        .unwrap();
    registry.register(&provider).await.unwrap();
    let found = registry
        .lookup(&"consumer://10.0.0.1/com.foo.Secure".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(found.len(), 1);

    // Plain client, TLS port: said plainly.
    let err = connect(&format!("zookeeper://127.0.0.1:{secure_port}?group=/tls-test"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Tls { .. }), "{err}");
    assert!(err.to_string().contains("speaks TLS on this port"), "{err}");
    // TLS client, plain port: said plainly too.
    let err = connect(&format!(
        "zookeeper://{}?group=/tls-test&tls=true&tls.ca-file={ca}",
        server.addr()
    ))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("TLS handshake failed"), "{err}");
    // A CA file that is not there.
    let err = connect(&format!(
        "zookeeper://127.0.0.1:{secure_port}?tls=true&tls.ca-file=/nonexistent.pem"
    ))
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("cannot read tls.ca-file /nonexistent.pem"),
        "{err}"
    );
    registry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_digest_users() {
    let dir = tempfile::tempdir().unwrap();
    let jaas = dir.path().join("jaas.conf");
    std::fs::write(
        &jaas,
        "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  user_alice=\"s3cret\";\n};\n",
    )
    .unwrap();
    let server = ZkServer::start_with(ZkOptions {
        extra_cfg: vec!["authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider".into()],
        java_opts: vec![format!("-Djava.security.auth.login.config={}", jaas.display())],
        ..ZkOptions::default()
    })
    .expect("a ZooKeeper with SASL users");
    let base = format!("zookeeper://{}?group=/sasl-test", server.addr());

    let registry = connect(&format!("{base}&username=alice&password=s3cret&sasl=digest"))
        .await
        .expect("a SASL session");
    let provider: Url = "dubbo://10.0.0.5:20880/com.foo.Sasl?interface=com.foo.Sasl"
        .parse()
        .unwrap();
    registry.register(&provider).await.unwrap();
    assert_eq!(
        registry
            .lookup(&"consumer://10.0.0.1/com.foo.Sasl".parse().unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
    // The nodes belong to the SASL identity: an anonymous client cannot delete them.
    let anonymous = zookeeper_client::Client::connect(&server.addr()).await.unwrap();
    let children = anonymous.list_children("/sasl-test/com.foo.Sasl/providers").await;
    assert!(matches!(children, Err(zookeeper_client::Error::NoAuth)), "{children:?}");

    let err = connect(&format!("{base}&username=alice&password=wrong&sasl=digest"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.to_lowercase().contains("auth"), "{text}");
    assert!(!text.contains("wrong"), "the password shows: {text}");
    registry.shutdown().await;
}
