//! dubbo:// through the front door: ServiceBuilder serves and registers it, a Reference calls
//! it typed and generically, next to a Triple provider of the same interface, and a provider
//! URL written by a non-Java implementation is called too.

#![cfg(all(feature = "triple", feature = "dubbo"))]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use zkdubbo::hessian::{Map, Value};
use zkdubbo::registry::{MemoryRegistry, Registry};
use zkdubbo::triple::message_invocation;
use zkdubbo::{Reference, ServiceBuilder, Url};
use zkdubbo_dubbo::demo::{self, User};
use zkdubbo_triple::greeter::{self, GreeterReply, GreeterRequest};

async fn reference(registry: &Arc<MemoryRegistry>, params: &str) -> Reference {
    zkdubbo::ReferenceBuilder::from_url(&format!("{}?retries=0{params}", demo::INTERFACE))
        .unwrap()
        .registry_instance(registry.clone())
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn serve_register_and_call_dubbo() {
    let registry = Arc::new(MemoryRegistry::new());
    let service = ServiceBuilder::new(demo::INTERFACE)
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        .serve_dubbo(demo::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = service.url().clone();
    assert_eq!(url.protocol(), "dubbo");
    for (k, v) in [
        ("serialization", "hessian2"),
        ("prefer.serialization", "hessian2"),
        ("methods", "add,echo,getUser,sayHello"),
    ] {
        assert_eq!(url.param(k), Some(v), "{k}");
    }

    let demo_ref = reference(&registry, "").await;
    let hello: String = demo_ref
        .call_dubbo("sayHello", &["java.lang.String"], &("Bob",))
        .await
        .unwrap();
    assert_eq!(hello, "Hello, Bob!");
    let sum: i32 = demo_ref.call_dubbo("add", &["int", "int"], &(2, 3)).await.unwrap();
    assert_eq!(sum, 5);
    let user: User = demo_ref
        .call_dubbo("getUser", &["java.lang.String"], &("Ada",))
        .await
        .unwrap();
    assert_eq!(user, demo::user("Ada"));
    let err = demo_ref
        .call_dubbo::<_, User>("getUser", &["java.lang.String"], &("",))
        .await
        .unwrap_err();
    assert!(err.is_business());
    let text = err.to_string();
    assert!(
        text.contains("java.lang.IllegalArgumentException: the name is empty"),
        "{text}"
    );
    assert!(text.contains(demo::INTERFACE), "{text}");

    // Generic: a map in, a map with its class out.
    let v = demo_ref
        .generic_call("getUser", &["java.lang.String"], vec!["Ada".into()])
        .await
        .unwrap();
    let Value::Map(Map { entries, .. }) = v else {
        panic!("{v:?}")
    };
    assert!(entries.contains(&("class".into(), "com.example.User".into())));
    let echoed = demo_ref
        .generic_call(
            "echo",
            &["java.lang.Object"],
            vec![Value::Map(Map::untyped(vec![("k".into(), Value::Long(1))]))],
        )
        .await
        .unwrap();
    assert_eq!(echoed, Value::Map(Map::untyped(vec![("k".into(), Value::Long(1))])));

    demo_ref.shutdown().await;
    service.shutdown(Duration::from_millis(10)).await.unwrap();
    assert!(registry.lookup(&url).await.unwrap().is_empty());
}

#[tokio::test]
async fn one_reference_calls_a_triple_and_a_dubbo_provider() {
    let registry = Arc::new(MemoryRegistry::new());
    let dubbo = ServiceBuilder::new(demo::INTERFACE)
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        // Warm-up ramps a new provider's weight from 1, but Java (and we) give full weight
        // at an uptime of 0 ms: two providers started together could weigh 100 and 1.
        .param("warmup", "0")
        .serve_dubbo(demo::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let tri = ServiceBuilder::new(demo::INTERFACE)
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        // Warm-up ramps a new provider's weight from 1, but Java (and we) give full weight
        // at an uptime of 0 ms: two providers started together could weigh 100 and 1.
        .param("warmup", "0")
        .method(greeter::SAY_HELLO)
        .serve_triple(greeter::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let demo_ref = reference(&registry, "&loadbalance=roundrobin").await;
    // Ready means one provider is listed; wait for both.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while demo_ref.directories()[0].snapshot().providers().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "the second provider never showed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // One call, a body for each protocol; the answer says which protocol it is in.
    let request = GreeterRequest { name: "Bob".into() };
    let hessian = zkdubbo::dubbo::invocation("sayHello", &["java.lang.String"], &("Bob",)).unwrap();
    let proto = message_invocation(greeter::SAY_HELLO, &request);
    let inv = hessian.with_encoding("tri", proto.payload().clone());
    let mut protocols = BTreeSet::new();
    for _ in 0..20 {
        let response = demo_ref.invoke(&inv).await.unwrap();
        let text = match response.protocol {
            Some("dubbo") => zkdubbo::dubbo::reply::<String>(&response).unwrap(),
            Some("tri") => {
                zkdubbo::triple::decode_reply::<GreeterReply>(&response)
                    .unwrap()
                    .message
            }
            other => panic!("answered by {other:?}"),
        };
        assert!(text.contains("Bob"), "{text}");
        protocols.insert(response.protocol.unwrap());
    }
    assert_eq!(protocols, BTreeSet::from(["dubbo", "tri"]));
    demo_ref.shutdown().await;
    dubbo.shutdown(Duration::ZERO).await.unwrap();
    tri.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test]
async fn a_third_party_dubbo_url_is_called() {
    // Registered by a non-Java implementation: `method=` instead of `methods=`, no `dubbo=`,
    // no `application=`: the methods are unknown, so every method is routed to it.
    let registry = Arc::new(MemoryRegistry::new());
    let server = zkdubbo::dubbo::DubboServer::builder()
        .service(demo::INTERFACE, demo::service())
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .spawn();
    let url: Url = format!(
        "dubbo://127.0.0.1:{}/{}?method=sayHello&side=provider",
        server.local_addr().port(),
        demo::INTERFACE
    )
    .parse()
    .unwrap();
    registry.register(&url).await.unwrap();
    let demo_ref = reference(&registry, "").await;
    let sum: i32 = demo_ref.call_dubbo("add", &["int", "int"], &(40, 2)).await.unwrap();
    assert_eq!(sum, 42);
    demo_ref.shutdown().await;
    server.shutdown(Duration::ZERO).await;
}

#[tokio::test]
async fn services_given_the_same_address_share_one_port() {
    let registry = Arc::new(MemoryRegistry::new());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let other = zkdubbo::dubbo::DubboMethods::new().method("ping", &[], |(): ()| async move { Ok("pong") });
    let demo = ServiceBuilder::new(demo::INTERFACE)
        .registry_instance(registry.clone())
        .serve_dubbo(demo::service(), port)
        .await
        .unwrap();
    let pinger = ServiceBuilder::new("com.example.Pinger")
        .registry_instance(registry.clone())
        .serve_dubbo(other, port)
        .await
        .unwrap();
    assert_eq!(demo.local_addr(), pinger.local_addr());
    // The same interface twice on one port is refused.
    let twice = ServiceBuilder::new(demo::INTERFACE)
        .registry_instance(registry.clone())
        .serve_dubbo(demo::service(), port)
        .await
        .unwrap_err();
    assert!(twice.to_string().contains("already serves"), "{twice}");

    let factory = zkdubbo::dubbo::DubboInvokerFactory::new();
    let direct = |iface: &str| {
        use zkdubbo::InvokerFactory;
        factory
            .create(&format!("dubbo://{port}/{iface}").parse().unwrap())
            .unwrap()
    };
    let ping = zkdubbo::dubbo::invocation("ping", &[] as &[&str], &()).unwrap();
    let hello = zkdubbo::dubbo::invocation("sayHello", &["java.lang.String"], &("Bob",)).unwrap();
    assert!(direct(demo::INTERFACE).invoke(&hello).await.is_ok());
    assert!(direct("com.example.Pinger").invoke(&ping).await.is_ok());

    // One leaves: the other is still served on the port, the one that left is not.
    demo.shutdown(Duration::ZERO).await.unwrap();
    let r = direct("com.example.Pinger").invoke(&ping).await.unwrap();
    assert_eq!(zkdubbo::dubbo::reply::<String>(&r).unwrap(), "pong");
    let err = direct(demo::INTERFACE).invoke(&hello).await.unwrap_err();
    assert!(err.to_string().contains("Not found exported service"), "{err}");
    pinger.shutdown(Duration::ZERO).await.unwrap();
    // The last one stopped the server.
    assert!(tokio::net::TcpStream::connect(port).await.is_err());
}

#[tokio::test]
async fn two_versions_of_one_interface_share_a_port_and_are_told_apart() {
    let registry = Arc::new(MemoryRegistry::new());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let greeter = |answer: &'static str| {
        zkdubbo::dubbo::DubboMethods::new().method("which", &[], move |(): ()| async move { Ok(answer) })
    };
    let v1 = ServiceBuilder::new("com.example.Versioned")
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        .version("1.0")
        .serve_dubbo(greeter("one"), port)
        .await
        .unwrap();
    let v2 = ServiceBuilder::new("com.example.Versioned")
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        .version("2.0")
        .serve_dubbo(greeter("two"), port)
        .await
        .unwrap();
    let which = zkdubbo::dubbo::invocation("which", &[] as &[&str], &()).unwrap();
    for (version, answer) in [("1.0", "one"), ("2.0", "two")] {
        let r = zkdubbo::ReferenceBuilder::from_url(&format!("com.example.Versioned?version={version}"))
            .unwrap()
            .registry_instance(registry.clone())
            .build()
            .await
            .unwrap();
        let got: String = zkdubbo::dubbo::reply(&r.invoke(&which).await.unwrap()).unwrap();
        assert_eq!(got, answer, "version {version}");
        r.shutdown().await;
    }
    v1.shutdown(Duration::ZERO).await.unwrap();
    v2.shutdown(Duration::ZERO).await.unwrap();
}

/// Metadata `local` (Dubbo's default): the instance names the MetadataService V1 on the
/// provider's dubbo:// port, no metadata report is written, and an application-level consumer
/// gets the metadata by calling it.
#[tokio::test]
async fn local_metadata_is_served_by_the_metadata_service_and_fetched_over_dubbo() {
    use zkdubbo::app_discovery::{MigrationStep, RegisterMode, ServiceInstance, StorageType};
    use zkdubbo_registry::ConfigCenter;
    let registry = Arc::new(MemoryRegistry::new());
    let service = ServiceBuilder::new(demo::INTERFACE)
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        .application("local-shop")
        .register_mode(RegisterMode::Instance)
        .metadata_type(StorageType::Local)
        .serve_dubbo(demo::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = service.url().port().unwrap();
    let node = format!("/services/local-shop/127.0.0.1:{port}");
    let (text, _) = registry.read_node(&node).await.unwrap().expect("instance node");
    let instance = ServiceInstance::from_json(text.as_bytes()).unwrap();
    assert_eq!(instance.metadata["dubbo.metadata.storage-type"], "local");
    assert_eq!(
        instance.metadata["dubbo.metadata-service.url-params"],
        format!(
            "{{\"connections\":\"1\",\"dubbo\":\"2.0.2\",\"port\":\"{port}\",\"protocol\":\"dubbo\",\"side\":\"provider\",\"version\":\"1.0.0\"}}"
        )
    );
    let revision = instance.revision().unwrap();
    assert!(
        registry
            .read_node(&format!("/dubbo/metadata/local-shop/{revision}"))
            .await
            .unwrap()
            .is_none(),
        "local metadata writes no report"
    );
    // Nothing at interface level (register-mode instance).
    assert!(
        registry
            .lookup(
                &"consumer://127.0.0.1/org.apache.dubbo.samples.DemoService"
                    .parse()
                    .unwrap()
            )
            .await
            .unwrap()
            .is_empty()
    );

    let consumer = zkdubbo::ReferenceBuilder::from_url(&format!("{}?retries=0", demo::INTERFACE))
        .unwrap()
        .registry_instance(registry.clone())
        .migration_step(MigrationStep::ForceApplication)
        .build()
        .await
        .unwrap();
    let sum: i32 = consumer.call_dubbo("add", &["int", "int"], &(40, 2)).await.unwrap();
    assert_eq!(sum, 42);

    // A revision the provider does not have (its MetadataService answers null): once the fetch
    // has been tried, the instance still serves with its last good metadata.
    let view = zkdubbo::app_discovery::consumer_view(&(registry.clone() as Arc<dyn Registry>));
    assert_eq!(view.metadata_fetches(), 1);
    let mut stale = instance.clone();
    stale.metadata.insert("dubbo.metadata.revision".into(), "0123".into());
    registry.keep_node(&node, stale.to_json().as_bytes()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while view.metadata_fetches() < 2 {
        assert!(std::time::Instant::now() < deadline, "the new revision is fetched");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(consumer.directories()[0].snapshot().providers().len(), 1);
    let sum: i32 = consumer.call_dubbo("add", &["int", "int"], &(1, 2)).await.unwrap();
    assert_eq!(sum, 3);
    consumer.shutdown().await;
    service.shutdown(Duration::ZERO).await.unwrap();
}

/// Local metadata of a Triple-only application: the instance names MetadataService V2 on the
/// Triple port (`meta-v=2.0.0`, as Dubbo 3.3), and a consumer gets the metadata over Triple.
#[tokio::test]
async fn local_metadata_of_a_triple_application_is_fetched_with_metadata_service_v2() {
    use zkdubbo::app_discovery::{MigrationStep, RegisterMode, ServiceInstance, StorageType};
    use zkdubbo_registry::ConfigCenter;
    let registry = Arc::new(MemoryRegistry::new());
    let service = ServiceBuilder::new(greeter::INTERFACE)
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        .application("tri-shop")
        .method(greeter::SAY_HELLO)
        .register_mode(RegisterMode::Instance)
        .metadata_type(StorageType::Local)
        .serve_triple(greeter::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = service.url().port().unwrap();
    let (text, _) = registry
        .read_node(&format!("/services/tri-shop/127.0.0.1:{port}"))
        .await
        .unwrap()
        .expect("instance node");
    let instance = ServiceInstance::from_json(text.as_bytes()).unwrap();
    assert_eq!(instance.metadata["meta-v"], "2.0.0");
    assert!(
        instance.metadata["dubbo.metadata-service.url-params"].contains("\"protocol\":\"tri\""),
        "{:?}",
        instance.metadata
    );

    let consumer = zkdubbo::ReferenceBuilder::from_url(&format!("{}?retries=0", greeter::INTERFACE))
        .unwrap()
        .registry_instance(registry.clone())
        .migration_step(MigrationStep::ForceApplication)
        .build()
        .await
        .unwrap();
    let view = zkdubbo::app_discovery::consumer_view(&(registry.clone() as Arc<dyn Registry>));
    assert_eq!(view.metadata_fetches(), 1);
    let providers = consumer.directories()[0].snapshot().providers().to_vec();
    assert_eq!(providers.len(), 1);
    assert_eq!(providers[0].url().param("methods"), Some(greeter::SAY_HELLO));
    let reply: GreeterReply = consumer
        .call(greeter::SAY_HELLO, &GreeterRequest { name: "V2".into() })
        .await
        .unwrap();
    assert!(reply.message.contains("V2"), "{}", reply.message);
    consumer.shutdown().await;
    service.shutdown(Duration::ZERO).await.unwrap();
}
