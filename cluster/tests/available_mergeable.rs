//! available and mergeable: no balancing, and one answer merged from every member.

mod support;

use std::sync::Arc;

use support::{Fakes, Outcome, directory, join, provider, say_hello, unique_service};
use zkdubbo_cluster::by_name;
use zkdubbo_common::{Invocation, Invoker, RpcErrorKind, Url};
use zkdubbo_directory::StaticDirectory;

#[tokio::test]
async fn available_takes_the_first_available_without_balancing() {
    let fakes = Fakes::new();
    let service = unique_service();
    let a = fakes.add("10.0.0.1:1", Outcome::Ok("a"));
    let b = fakes.add("10.0.0.2:1", Outcome::Ok("b"));
    fakes.add("10.0.0.3:1", Outcome::Ok("c"));
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]);
    let invoker = join("available", dir);
    a.set_available(false);
    for _ in 0..10 {
        let r = invoker.invoke(&say_hello()).await.unwrap();
        assert_eq!(&r.payload[..], b"b");
    }
    b.set_available(false);
    fakes.get("10.0.0.3:1").set_available(false);
    let err = invoker.invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::NoProvider);
}

fn static_members(fakes: &Fakes, service: &str, addrs: &[&str]) -> Vec<Arc<dyn Invoker>> {
    addrs.iter().map(|a| fakes.invoker(&provider(service, a, ""))).collect()
}

#[tokio::test]
async fn mergeable_merges_every_member_with_the_named_merger() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.1.1:1", Outcome::Ok("[1,2]"));
    fakes.add("10.0.1.2:1", Outcome::Ok("[3]"));
    fakes.add("10.0.1.3:1", Outcome::Transport);
    let consumer: Url = format!("consumer://10.0.0.1/{service}?sayHello.merger=list")
        .parse()
        .unwrap();
    let members = static_members(&fakes, &service, &["10.0.1.1:1", "10.0.1.2:1", "10.0.1.3:1"]);
    let invoker = by_name("mergeable")
        .unwrap()
        .join(Arc::new(StaticDirectory::new(consumer, members)));
    let r = invoker.invoke(&say_hello()).await.unwrap();
    assert_eq!(&r.payload[..], b"[1,2,3]", "the failed member is skipped");
    assert_eq!(fakes.total_calls(), 3);

    // Without a merger for the method: only the first available member.
    let r = invoker.invoke(&Invocation::new("other")).await.unwrap();
    assert_eq!(&r.payload[..], b"[1,2]");
    assert_eq!(fakes.total_calls(), 4);
}

#[tokio::test]
async fn mergeable_reports_unknown_merger_and_total_failure() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.1.1:1", Outcome::Transport);
    fakes.add("10.0.1.2:1", Outcome::Timeout);
    let consumer: Url = format!("consumer://10.0.0.1/{service}?merger=nope").parse().unwrap();
    let members = static_members(&fakes, &service, &["10.0.1.1:1", "10.0.1.2:1"]);
    let invoker = by_name("mergeable")
        .unwrap()
        .join(Arc::new(StaticDirectory::new(consumer.clone(), members.clone())));
    let err = invoker.invoke(&say_hello()).await.unwrap_err();
    assert!(err.to_string().contains("unknown merger \"nope\""), "{err}");
    let consumer = consumer.with_param("merger", "list");
    let invoker = by_name("mergeable")
        .unwrap()
        .join(Arc::new(StaticDirectory::new(consumer, members)));
    let err = invoker.invoke(&say_hello()).await.unwrap_err();
    assert!(err.to_string().contains("every one of the 2 member(s) failed"), "{err}");
}
