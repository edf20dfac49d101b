//! failover, failfast and failsafe against fake providers that fail on demand.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::{Fakes, Outcome, directory, join, provider, say_hello, set_providers, unique_service};
use zkdubbo_cluster::SERVED_BY;
use zkdubbo_common::RpcErrorKind;

#[tokio::test]
async fn failover_tries_every_provider_once_and_names_them() {
    let fakes = Fakes::new();
    let service = unique_service();
    for a in ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"] {
        fakes.add(a, Outcome::Transport);
    }
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]);
    let err = join("failover", dir).invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::Transport);
    let log = fakes.log();
    assert_eq!(log.len(), 3, "retries=2 means 3 attempts: {log:?}");
    assert_eq!(
        log.iter().collect::<HashSet<_>>().len(),
        3,
        "each provider tried once: {log:?}"
    );
    let msg = err.to_string();
    for needle in [
        "sayHello",
        service.as_str(),
        "3 of 3 attempt",
        "10.0.0.1:1",
        "10.0.0.2:1",
        "10.0.0.3:1",
        "connection refused",
    ] {
        assert!(msg.contains(needle), "{needle:?} missing in {msg}");
    }
}

#[tokio::test]
async fn failover_reaches_the_one_good_provider() {
    for _ in 0..20 {
        let fakes = Fakes::new();
        let service = unique_service();
        fakes.add("10.0.0.1:1", Outcome::Transport);
        fakes.add("10.0.0.2:1", Outcome::Timeout);
        fakes.add("10.0.0.3:1", Outcome::Ok("hi"));
        let dir = directory(&fakes, &service, "", &["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]);
        let r = join("failover", dir).invoke(&say_hello()).await.unwrap();
        assert_eq!(&r.payload[..], b"hi");
        assert_eq!(r.attachments.get(SERVED_BY).map(String::as_str), Some("10.0.0.3:1"));
        let log = fakes.log();
        assert_eq!(log.last().map(String::as_str), Some("10.0.0.3:1"));
        assert_eq!(
            log.iter().collect::<HashSet<_>>().len(),
            log.len(),
            "no provider twice: {log:?}"
        );
    }
}

#[tokio::test]
async fn failover_never_retries_business_errors() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.0.1:1", Outcome::Business);
    fakes.add("10.0.0.2:1", Outcome::Business);
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1", "10.0.0.2:1"]);
    let err = join("failover", dir).invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::Business);
    assert_eq!(fakes.total_calls(), 1);
}

#[tokio::test]
async fn failover_reads_retries_per_method() {
    let fakes = Fakes::new();
    let service = unique_service();
    for a in ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"] {
        fakes.add(a, Outcome::Transport);
    }
    let dir = directory(
        &fakes,
        &service,
        "&retries=5&sayHello.retries=0",
        &["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"],
    );
    let err = join("failover", dir).invoke(&say_hello()).await.unwrap_err();
    assert_eq!(fakes.total_calls(), 1, "{err}");
}

#[tokio::test]
async fn failover_relists_between_attempts() {
    let fakes = Fakes::new();
    let service = unique_service();
    let slow = fakes.add("10.0.0.1:1", Outcome::SlowTransport(Duration::from_millis(500)));
    fakes.add("10.0.0.2:1", Outcome::Ok("new"));
    let dir = directory(&fakes, &service, "&retries=1", &["10.0.0.1:1"]);
    let invoker = join("failover", dir.clone());
    // The first attempt fails slowly; meanwhile a new provider is registered: the retry finds it.
    let call = tokio::spawn(async move { invoker.invoke(&say_hello()).await });
    while slow.calls() == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    set_providers(
        &dir,
        &service,
        vec![
            provider(&service, "10.0.0.1:1", ""),
            provider(&service, "10.0.0.2:1", ""),
        ],
    );
    let r = call.await.unwrap().unwrap();
    assert_eq!(r.attachments.get(SERVED_BY).map(String::as_str), Some("10.0.0.2:1"));
    assert_eq!(fakes.log(), vec!["10.0.0.1:1", "10.0.0.2:1"]);
}

#[tokio::test]
async fn failover_with_no_provider_explains_why() {
    let fakes = Fakes::new();
    let service = unique_service();
    let dir = directory(&fakes, &service, "", &[]);
    let err = join("failover", dir).invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::NoProvider);
    assert!(err.to_string().contains(&service), "{err}");
    assert!(err.to_string().contains("no provider is registered"), "{err}");
}

#[tokio::test]
async fn failfast_makes_one_attempt() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.0.1:1", Outcome::Transport);
    fakes.add("10.0.0.2:1", Outcome::Transport);
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1", "10.0.0.2:1"]);
    let err = join("failfast", dir).invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::Transport);
    assert!(err.context().contains("failfast"), "{err}");
    assert_eq!(fakes.total_calls(), 1);
}

#[tokio::test]
async fn failsafe_swallows_failures() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.0.1:1", Outcome::Timeout);
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1"]);
    let r = join("failsafe", dir).invoke(&say_hello()).await.unwrap();
    assert!(r.payload.is_empty());
    let empty = directory(&fakes, &unique_service(), "", &[]);
    assert!(join("failsafe", empty).invoke(&say_hello()).await.is_ok());
}

/// An override with `retries=2147483647` made every consumer abort allocating 32 GiB; the
/// value is refused (docs/LIMITS.md) and the default's three attempts are made.
#[tokio::test]
async fn failover_refuses_an_absurd_retries_override() {
    let fakes = Fakes::new();
    let service = unique_service();
    for a in ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1"] {
        fakes.add(a, Outcome::Transport);
    }
    let dir = directory(
        &fakes,
        &service,
        "&retries=2147483647",
        &["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1"],
    );
    let err = join("failover", dir).invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::Transport);
    assert_eq!(fakes.total_calls(), 3, "the default retries (2), not 2^31: {err}");
}
