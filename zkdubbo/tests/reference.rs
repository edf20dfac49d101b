//! The consumer and provider API over an in-memory registry and real Triple servers.

#![cfg(feature = "triple")]

use std::time::Duration;

use std::sync::Arc;
use zkdubbo::registry::{MemoryRegistry, Registry};
use zkdubbo::triple::{Methods, message_invocation};
use zkdubbo::{
    Invocation, Reference, ReferenceBuilder, ReferenceConfig, ReferenceError, RpcErrorKind, SERVED_BY, ServiceBuilder,
    Url,
};
use zkdubbo_triple::greeter::{self, GreeterReply, GreeterRequest};

#[test]
fn settings_from_toml_yaml_and_url_agree() {
    let toml_text = r#"
        interface = "org.apache.dubbo.samples.Greeter"
        registries = ["zookeeper://127.0.0.1:2181?zone=hz", "zookeeper://127.0.0.1:2182"]
        group = "g1"
        version = "1.0"
        cluster = "failfast"
        loadbalance = "roundrobin"
        retries = 1
        timeout_ms = 1500
        check = false
        application = "shop"

        [params]
        sticky = "true"
        "sayHello.timeout" = "300"
    "#;
    let yaml_text = r#"
interface: org.apache.dubbo.samples.Greeter
registry:
  - zookeeper://127.0.0.1:2181?zone=hz
  - zookeeper://127.0.0.1:2182
group: g1
version: "1.0"
cluster: failfast
loadbalance: roundrobin
retries: 1
timeout_ms: 1500
check: false
application: shop
params:
  sticky: "true"
  sayHello.timeout: "300"
"#;
    let from_toml: ReferenceConfig = toml::from_str(toml_text).unwrap();
    let from_yaml: ReferenceConfig = serde_yaml_ng::from_str(yaml_text).unwrap();
    let from_url = ReferenceConfig::from_url(
        "consumer://10.0.0.1/org.apache.dubbo.samples.Greeter?registry=zookeeper%3A%2F%2F127.0.0.1%3A2181%3Fzone%3Dhz\
         |zookeeper://127.0.0.1:2182&group=g1&version=1.0&cluster=failfast&loadbalance=roundrobin&retries=1\
         &timeout=1500&check=false&application=shop&sticky=true&sayHello.timeout=300",
    )
    .unwrap();
    assert_eq!(from_toml, from_yaml);
    assert_eq!(from_toml, from_url);
    let url = from_toml.into_builder().consumer_url().unwrap();
    for (k, v) in [
        ("group", "g1"),
        ("version", "1.0"),
        ("cluster", "failfast"),
        ("loadbalance", "roundrobin"),
        ("retries", "1"),
        ("timeout", "1500"),
        ("check", "false"),
        ("application", "shop"),
        ("sticky", "true"),
        ("side", "consumer"),
    ] {
        assert_eq!(url.param(k), Some(v), "{k} in {url}");
    }
    assert_eq!(url.method_param("sayHello", "timeout"), Some("300"));
    assert_eq!(url.service_key(), "g1/org.apache.dubbo.samples.Greeter:1.0");

    let unknown = toml::from_str::<ReferenceConfig>("interface = \"x\"\nretry = 3\n");
    assert!(unknown.is_err(), "unknown keys are rejected");
    let bad = ReferenceConfig::from_url("com.foo.Bar?retries=many").unwrap_err();
    assert!(bad.to_string().contains("retries"), "{bad}");
}

#[tokio::test]
async fn builder_rejects_incomplete_or_unknown_settings() {
    let memory: Arc<dyn Registry> = Arc::new(MemoryRegistry::new());
    let err = Reference::builder()
        .registry_instance(memory.clone())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, ReferenceError::Config(_)), "{err}");
    let err = Reference::builder().interface("com.foo.Bar").build().await.unwrap_err();
    assert!(err.to_string().contains("no registry"), "{err}");
    let err = Reference::builder()
        .interface("com.foo.Bar")
        .registry_instance(memory.clone())
        .cluster("nope")
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown cluster \"nope\""), "{err}");
    let err = Reference::builder()
        .interface("com.foo.Bar")
        .registry_instance(memory)
        .loadbalance("nope")
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown load balance"), "{err}");
}

#[tokio::test]
async fn end_to_end_over_triple_with_a_memory_registry() {
    let memory = Arc::new(MemoryRegistry::new());
    let registry: Arc<dyn Registry> = memory.clone();
    let interface = "org.apache.dubbo.samples.MemoryGreeter";

    // check=true without a provider: a clear error.
    let err = Reference::builder()
        .interface(interface)
        .registry_instance(registry.clone())
        .ready_timeout(Duration::from_millis(500))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, ReferenceError::NoProvider { .. }), "{err}");
    assert!(err.to_string().contains(interface), "{err}");

    let service = ServiceBuilder::new(interface)
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        .method(greeter::SAY_HELLO)
        .weight(150)
        .group("g")
        .version("2.0")
        .application("mem-provider")
        .param("custom", "yes")
        .serve_triple(greeter::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let registered = service.url().clone();
    assert_eq!(registered.protocol(), "tri");
    assert_eq!(registered.port(), Some(service.local_addr().port()));
    for (k, v) in [
        ("weight", "150"),
        ("group", "g"),
        ("version", "2.0"),
        ("methods", "sayHello"),
        ("custom", "yes"),
    ] {
        assert_eq!(registered.param(k), Some(v), "{k}");
    }

    let reference = ReferenceBuilder::from_url(&format!("{interface}?group=g&version=2.0&retries=0"))
        .unwrap()
        .registry_instance(registry.clone())
        .build()
        .await
        .unwrap();
    let clone = reference.clone();
    let reply: GreeterReply = clone
        .call(greeter::SAY_HELLO, &GreeterRequest { name: "memory".into() })
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello, memory!");
    let r = reference
        .invoke(&message_invocation(
            greeter::SAY_HELLO,
            &GreeterRequest { name: "x".into() },
        ))
        .await
        .unwrap();
    assert_eq!(r.attachments[SERVED_BY], registered.address());

    // An unknown method is the provider's answer: a business error, with context.
    let err = reference
        .invoke(&message_invocation("nope", &GreeterRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::Business, "{err}");

    let consumers: Url = format!("consumer://127.0.0.1/{interface}?category=consumers&group=g&version=2.0")
        .parse()
        .unwrap();
    assert_eq!(registry.lookup(&consumers).await.unwrap().len(), 1);
    reference.shutdown().await;
    assert!(registry.lookup(&consumers).await.unwrap().is_empty());
    assert!(!clone.is_available(), "clones share the shut-down state");
    service.shutdown(Duration::ZERO).await.unwrap();
    let providers: Url = format!("consumer://127.0.0.1/{interface}?group=g&version=2.0")
        .parse()
        .unwrap();
    assert!(registry.lookup(&providers).await.unwrap().is_empty());
}

#[tokio::test]
async fn multi_group_reference_merges_every_group() {
    let registry: Arc<dyn Registry> = Arc::new(MemoryRegistry::new());
    let interface = "com.example.Catalog";
    let mut services = Vec::new();
    for group in ["a", "b", "c"] {
        let reply = format!("[\"{group}\"]");
        let methods = Methods::new().raw("list", move |_req, _md| {
            let reply = reply.clone();
            async move { Ok(bytes::Bytes::from(reply)) }
        });
        services.push(
            ServiceBuilder::new(interface)
                .registry_instance(registry.clone())
                .host("127.0.0.1")
                .method("list")
                .group(group)
                .serve_triple(methods, "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap(),
        );
    }
    let reference = Reference::builder()
        .interface(interface)
        .group("a,b")
        .param("merger", "set")
        .registry_instance(registry.clone())
        .build()
        .await
        .unwrap();
    let r = reference.invoke(&Invocation::new("list")).await.unwrap();
    let mut merged: Vec<String> = serde_json::from_slice(&r.payload).unwrap();
    merged.sort();
    assert_eq!(merged, vec!["a", "b"], "group c is not asked");
    reference.shutdown().await;

    let all = Reference::builder()
        .interface(interface)
        .group("*")
        .param("list.merger", "list")
        .registry_instance(registry)
        .build()
        .await
        .unwrap();
    let r = all.invoke(&Invocation::new("list")).await.unwrap();
    let mut merged: Vec<String> = serde_json::from_slice(&r.payload).unwrap();
    merged.sort();
    assert_eq!(merged, vec!["a", "b", "c"]);
    all.shutdown().await;
    for s in services {
        s.shutdown(Duration::ZERO).await.unwrap();
    }
}

#[tokio::test]
async fn a_provider_bound_to_a_specific_address_registers_that_address() {
    let registry: Arc<dyn Registry> = Arc::new(MemoryRegistry::new());
    // 127.0.0.2 is a loopback address distinct from any outbound IP, so registering the
    // outbound IP instead of the bound one cannot pass by coincidence.
    let service = ServiceBuilder::new("org.apache.dubbo.samples.BoundGreeter")
        .registry_instance(registry.clone())
        .method(greeter::SAY_HELLO)
        .serve_triple(greeter::service(), "127.0.0.2:0".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(service.url().host(), "127.0.0.2");
    assert_eq!(service.url().port(), Some(service.local_addr().port()));
    let listed = registry
        .lookup(
            &"consumer://127.0.0.1/org.apache.dubbo.samples.BoundGreeter"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].address(), service.local_addr().to_string());
    service.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test]
async fn a_wildcard_bind_registers_a_reachable_host() {
    let registry: Arc<dyn Registry> = Arc::new(MemoryRegistry::new());
    let service = ServiceBuilder::new("org.apache.dubbo.samples.WildcardGreeter")
        .registry_instance(registry)
        .method(greeter::SAY_HELLO)
        .serve_triple(greeter::service(), "0.0.0.0:0".parse().unwrap())
        .await
        .unwrap();
    assert_ne!(service.url().host(), "0.0.0.0", "a wildcard is not an address to call");
    service.shutdown(Duration::ZERO).await.unwrap();
}

/// The registry password never shows: not in the registry's URL, an error, a description
/// (JSON) or a log line.
#[tokio::test]
async fn the_registry_password_never_shows() {
    const SECRET: &str = "s3cr3tPW";
    let logs = LogCapture::install();
    let registry = format!("zookeeper://alice:{SECRET}@127.0.0.1:1?timeout=300&file.cache=false");
    let err = Reference::builder()
        .interface("com.example.Secret")
        .registry(&registry)
        .ready_timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, ReferenceError::NoProvider { .. }), "{err}");
    assert!(err.to_string().contains("alice:***@127.0.0.1:1"), "{err}");
    assert!(!err.to_string().contains(SECRET), "{err}");

    let reference = Reference::builder()
        .interface("com.example.Secret")
        .registry(&registry)
        .check(false)
        .ready_timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let call = reference.invoke(&Invocation::new("get")).await.unwrap_err();
    assert!(!call.to_string().contains(SECRET), "{call}");
    let description = serde_json::to_string(&reference.directories()[0].describe()).unwrap();
    assert!(!description.contains(SECRET), "{description}");
    assert!(description.contains("alice:***@"), "{description}");
    reference.shutdown().await;

    // A provider whose registry cannot be opened (check=true: fail at once).
    let err = ServiceBuilder::new("com.example.Secret")
        .registry(format!("{registry}&check=true"))
        .port(20880)
        .register()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("alice:***@127.0.0.1:1"), "{err}");
    assert!(!err.to_string().contains(SECRET), "{err}");
    let text = logs.text();
    assert!(!text.is_empty(), "the capture saw the registry's logs");
    assert!(!text.contains(SECRET), "{text}");
}

/// Everything `tracing` logs at debug and above, as text.
struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    fn install() -> Self {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = {
            let buf = buf.clone();
            move || LogWriter(buf.clone())
        };
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        LogCapture(buf)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
