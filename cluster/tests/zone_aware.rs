//! Several registries: zone-aware and available choice of a registry.

mod support;

use std::sync::Arc;

use support::{Fakes, Outcome, provider, say_hello, unique_service};
use zkdubbo_cluster::{by_name, join_registries};
use zkdubbo_common::{Invoker, RpcErrorKind, Url};

fn registry_member(fakes: &Fakes, service: &str, addr: &str) -> Arc<dyn Invoker> {
    fakes.invoker(&provider(service, addr, ""))
}

#[tokio::test]
async fn zone_aware_prefers_then_zone_then_weight_then_first_available() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.2.1:1", Outcome::Ok("a"));
    let b = fakes.add("10.0.2.2:1", Outcome::Ok("b"));
    let consumer: Url = format!("consumer://10.0.0.1/{service}").parse().unwrap();
    let zone_aware = by_name("zone-aware").unwrap();
    let joined = join_registries(
        &consumer,
        vec![
            (
                "zookeeper://10.0.9.1:2181?zone=hz".parse().unwrap(),
                registry_member(&fakes, &service, "10.0.2.1:1"),
            ),
            (
                "zookeeper://10.0.9.2:2181?zone=sh&preferred=true".parse().unwrap(),
                registry_member(&fakes, &service, "10.0.2.2:1"),
            ),
        ],
        &*zone_aware,
    );
    let served = |r: &zkdubbo_common::Response| r.attachments.get(zkdubbo_cluster::SERVED_BY_REGISTRY).cloned();
    // preferred wins, even over the zone
    let r = joined
        .invoke(&say_hello().with_attachment("registry_zone", "hz"))
        .await
        .unwrap();
    assert_eq!(&r.payload[..], b"b");
    assert_eq!(served(&r).as_deref(), Some("10.0.9.2:2181"));
    // preferred unavailable → the zone
    b.set_available(false);
    let r = joined
        .invoke(&say_hello().with_attachment("registry_zone", "hz"))
        .await
        .unwrap();
    assert_eq!(&r.payload[..], b"a");
    // a zone no available registry is in, forced → error naming the zone
    let err = joined
        .invoke(
            &say_hello()
                .with_attachment("registry_zone", "gz")
                .with_attachment("registry_zone_force", "true"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::NoProvider);
    assert!(err.to_string().contains("zone gz"), "{err}");
    // not forced → balancing, then the first available registry
    for _ in 0..20 {
        let r = joined
            .invoke(&say_hello().with_attachment("registry_zone", "gz"))
            .await
            .unwrap();
        assert_eq!(&r.payload[..], b"a");
    }
    assert_eq!(b.calls(), 1, "the unavailable preferred registry is not called again");
}

#[tokio::test]
async fn zone_aware_balances_by_registry_weight() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.3.1:1", Outcome::Ok("light"));
    fakes.add("10.0.3.2:1", Outcome::Ok("heavy"));
    let consumer: Url = format!("consumer://10.0.0.1/{service}").parse().unwrap();
    let joined = join_registries(
        &consumer,
        vec![
            (
                "zookeeper://10.0.9.1:2181?weight=0".parse().unwrap(),
                registry_member(&fakes, &service, "10.0.3.1:1"),
            ),
            (
                "zookeeper://10.0.9.2:2181?weight=100".parse().unwrap(),
                registry_member(&fakes, &service, "10.0.3.2:1"),
            ),
        ],
        &*by_name("zone-aware").unwrap(),
    );
    for _ in 0..50 {
        let r = joined.invoke(&say_hello()).await.unwrap();
        assert_eq!(&r.payload[..], b"heavy");
    }
}

#[tokio::test]
async fn registries_joined_by_available_use_the_first_available_one() {
    let fakes = Fakes::new();
    let service = unique_service();
    let first = fakes.add("10.0.4.1:1", Outcome::Ok("first"));
    fakes.add("10.0.4.2:1", Outcome::Ok("second"));
    let consumer: Url = format!("consumer://10.0.0.1/{service}").parse().unwrap();
    let joined = join_registries(
        &consumer,
        vec![
            (
                "zookeeper://10.0.9.1:2181".parse().unwrap(),
                registry_member(&fakes, &service, "10.0.4.1:1"),
            ),
            (
                "zookeeper://10.0.9.2:2181".parse().unwrap(),
                registry_member(&fakes, &service, "10.0.4.2:1"),
            ),
        ],
        &*by_name("available").unwrap(),
    );
    for _ in 0..10 {
        assert_eq!(&joined.invoke(&say_hello()).await.unwrap().payload[..], b"first");
    }
    first.set_available(false);
    let r = joined.invoke(&say_hello()).await.unwrap();
    assert_eq!(&r.payload[..], b"second");
    assert_eq!(
        r.attachments
            .get(zkdubbo_cluster::SERVED_BY_REGISTRY)
            .map(String::as_str),
        Some("10.0.9.2:2181")
    );
}
