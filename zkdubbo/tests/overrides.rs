//! Overrides reach the calls: a `timeout` written as a configurator applies to the next calls
//! over dubbo:// and over Triple, whose transports read it from their invoker's URL (a
//! provider whose merged URL changes gets a new invoker on the same connection).

#![cfg(all(feature = "triple", feature = "dubbo"))]

use std::sync::Arc;
use std::time::Duration;

use zkdubbo::dubbo::DubboMethods;
use zkdubbo::registry::{MemoryRegistry, Registry};
use zkdubbo::triple::Methods;
use zkdubbo::triple::greeter::{GreeterReply, GreeterRequest};
use zkdubbo::{Reference, RpcErrorKind, ServiceBuilder, Url};

/// How long every handler takes: well under the default timeout (1000 ms), well over the
/// override's.
const HANDLER: Duration = Duration::from_millis(300);

async fn reference(registry: &Arc<MemoryRegistry>, interface: &str) -> Reference {
    zkdubbo::ReferenceBuilder::from_url(&format!("{interface}?retries=0"))
        .unwrap()
        .registry_instance(registry.clone())
        .build()
        .await
        .unwrap()
}

/// Write `override://0.0.0.0/<interface>?timeout=50` and wait until the reference's provider
/// carries it.
async fn override_timeout(registry: &Arc<MemoryRegistry>, reference: &Reference, interface: &str) {
    let rule: Url =
        format!("override://0.0.0.0/{interface}?category=configurators&dynamic=false&enabled=true&timeout=50")
            .parse()
            .unwrap();
    registry.register(&rule).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let snapshot = reference.directories()[0].snapshot();
            let providers = snapshot.providers();
            if !providers.is_empty() && providers.iter().all(|m| m.url().param("timeout") == Some("50")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the override reaches the directory");
}

#[tokio::test]
async fn an_override_timeout_applies_to_dubbo_calls() {
    let interface = "org.zkdubbo.tests.SlowDubbo";
    let registry = Arc::new(MemoryRegistry::new());
    let methods = DubboMethods::new().method("slow", &["java.lang.String"], |(name,): (String,)| async move {
        tokio::time::sleep(HANDLER).await;
        Ok(name)
    });
    let provider = ServiceBuilder::new(interface)
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        .serve_dubbo(methods, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let reference = reference(&registry, interface).await;
    let slow = || reference.call_dubbo::<_, String>("slow", &["java.lang.String"], &("x",));
    assert_eq!(slow().await.unwrap(), "x", "within the default timeout");

    override_timeout(&registry, &reference, interface).await;
    let err = slow().await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::Timeout, "{err}");
    reference.shutdown().await;
    provider.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test]
async fn an_override_timeout_applies_to_triple_calls() {
    let interface = "org.zkdubbo.tests.SlowTriple";
    let registry = Arc::new(MemoryRegistry::new());
    let methods = Methods::new().unary("slow", |req: GreeterRequest, _| async move {
        tokio::time::sleep(HANDLER).await;
        Ok(GreeterReply { message: req.name })
    });
    let provider = ServiceBuilder::new(interface)
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        .method("slow")
        .serve_triple(methods, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let reference = reference(&registry, interface).await;
    let request = GreeterRequest { name: "x".into() };
    let slow = || reference.call::<_, GreeterReply>("slow", &request);
    assert_eq!(slow().await.unwrap().message, "x", "within the default timeout");

    override_timeout(&registry, &reference, interface).await;
    let err = slow().await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::Timeout, "{err}");
    reference.shutdown().await;
    provider.shutdown(Duration::ZERO).await.unwrap();
}
