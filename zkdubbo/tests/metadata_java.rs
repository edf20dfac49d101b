//! MetadataService V1 against Java: a peer whose every Hessian byte is Caucho's (Debian's
//! libhessian-java), with Dubbo 3.3's `MetadataInfo` class shape (`tests/java`), reads what our
//! provider's MetadataService answers, and our consumer reads what the Java one answers.
//!
//! Needs `javac` and `/usr/share/java/hessian.jar` (`scripts/zk.sh install` installs both).

#![cfg(feature = "dubbo")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use zkdubbo::app_discovery::{MigrationStep, RegisterMode, ServiceInstance, StorageType};
use zkdubbo::registry::{MemoryRegistry, Registry};
use zkdubbo::{ReferenceBuilder, ServiceBuilder};
use zkdubbo_dubbo::demo;
use zkdubbo_registry::ConfigCenter;

const JAR: &str = "/usr/share/java/hessian.jar";

fn classes() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        assert!(Path::new(JAR).exists(), "{JAR} is missing: run scripts/zk.sh install");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("metadata-peer");
        std::fs::create_dir_all(&out).unwrap();
        let java = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java");
        let ok = Command::new("javac")
            .args(["-d", out.to_str().unwrap(), "-cp", JAR])
            .arg(java.join("MetadataPeer.java"))
            .arg(java.join("org/apache/dubbo/metadata/MetadataInfo.java"))
            .status()
            .expect("javac is missing: run scripts/zk.sh install");
        assert!(ok.success(), "javac failed");
        out
    })
    .clone()
}

fn java(args: &[&str]) -> Command {
    let mut c = Command::new("java");
    for module in [
        "java.lang",
        "java.util",
        "java.util.concurrent",
        "java.util.concurrent.atomic",
    ] {
        c.args(["--add-opens", &format!("java.base/{module}=ALL-UNNAMED")]);
    }
    c.args(["-cp", &format!("{}:{JAR}", classes().display()), "MetadataPeer"])
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
async fn a_java_consumer_reads_our_metadata_service() {
    let registry = Arc::new(MemoryRegistry::new());
    let service = ServiceBuilder::new(demo::INTERFACE)
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        .application("rust-shop")
        .weight(55)
        .register_mode(RegisterMode::Instance)
        .metadata_type(StorageType::Local)
        .serve_dubbo(demo::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = service.url().port().unwrap();
    let (text, _) = registry
        .read_node(&format!("/services/rust-shop/127.0.0.1:{port}"))
        .await
        .unwrap()
        .unwrap();
    let revision = ServiceInstance::from_json(text.as_bytes())
        .unwrap()
        .revision()
        .unwrap()
        .to_owned();

    let args = [
        "call".to_owned(),
        port.to_string(),
        "rust-shop".into(),
        revision.clone(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        java(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .output()
            .expect("java")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "app=rust-shop", "{text}");
    assert_eq!(lines[1], format!("revision={revision}"));
    assert_eq!(lines.len(), 3, "{text}");
    let service_line = lines[2];
    assert!(
        service_line.starts_with(&format!(
            "service {i}:dubbo name={i} group=null version=null protocol=dubbo port={port} path={i} params={{",
            i = demo::INTERFACE
        )),
        "{service_line}"
    );
    assert!(service_line.contains("weight=55"), "{service_line}");
    assert!(
        !service_line.contains("pid="),
        "per-process keys stay out: {service_line}"
    );

    // An unknown revision: null, as Java's MetadataServiceDelegation answers.
    let args = ["call".to_owned(), port.to_string(), "rust-shop".into(), "0123".into()];
    let out = tokio::task::spawn_blocking(move || {
        java(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .output()
            .expect("java")
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "answer null");
    service.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test]
async fn our_consumer_reads_a_java_metadata_service() {
    // The demo service served by us; its metadata served by Java's MetadataService.
    let server = zkdubbo::dubbo::DubboServer::builder()
        .service(demo::INTERFACE, demo::service())
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .spawn();
    let service_port = server.local_addr().port();
    let mut child = java(&["serve", "java-shop", &service_port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("java");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _guard = Kill(child);
    let metadata_port: u16 = line.trim().strip_prefix("port ").unwrap().parse().unwrap();

    let registry = Arc::new(MemoryRegistry::new());
    let mut md = std::collections::BTreeMap::new();
    md.insert(
        "dubbo.endpoints".to_owned(),
        format!("[{{\"port\":{service_port},\"protocol\":\"dubbo\"}}]"),
    );
    md.insert(
        "dubbo.metadata-service.url-params".to_owned(),
        format!("{{\"connections\":\"1\",\"version\":\"1.0.0\",\"dubbo\":\"2.0.2\",\"side\":\"provider\",\"port\":\"{metadata_port}\",\"protocol\":\"dubbo\"}}"),
    );
    md.insert("dubbo.metadata.revision".to_owned(), "a1b2c3".to_owned());
    md.insert("dubbo.metadata.storage-type".to_owned(), "local".to_owned());
    let instance = ServiceInstance::new("java-shop", "127.0.0.1", service_port, md);
    registry
        .keep_node(
            &format!("/services/java-shop/{}", instance.id),
            instance.to_json().as_bytes(),
        )
        .await
        .unwrap();
    registry
        .write_node(&format!("/dubbo/mapping/{}", demo::INTERFACE), "java-shop", None)
        .await
        .unwrap();

    let consumer = ReferenceBuilder::from_url(&format!("{}?retries=0", demo::INTERFACE))
        .unwrap()
        .registry_instance(registry.clone() as Arc<dyn Registry>)
        .migration_step(MigrationStep::ForceApplication)
        .build()
        .await
        .unwrap();
    let snapshot = consumer.directories()[0].snapshot();
    let providers = snapshot.providers();
    assert_eq!(providers.len(), 1);
    assert_eq!(providers[0].url().address(), format!("127.0.0.1:{service_port}"));
    assert_eq!(providers[0].url().param("weight"), Some("77"), "from Java's metadata");
    let sum: i32 = consumer.call_dubbo("add", &["int", "int"], &(40, 2)).await.unwrap();
    assert_eq!(sum, 42);
    consumer.shutdown().await;
    server.shutdown(Duration::from_millis(10)).await;
}
