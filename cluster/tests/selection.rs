//! What every strategy shares: sticky, re-selection of unavailable picks, call statistics,
//! and destroy.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::{Fakes, Outcome, directory, join, say_hello, unique_service};
use zkdubbo_common::{CallStats, RpcErrorKind};
use zkdubbo_directory::Directory;

#[tokio::test]
async fn sticky_keeps_the_provider_while_it_is_available() {
    let fakes = Fakes::new();
    let service = unique_service();
    let addrs = ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1"];
    for a in addrs {
        fakes.add(a, Outcome::Ok("x"));
    }
    let dir = directory(&fakes, &service, "&sticky=true", &addrs);
    let invoker = join("failover", dir);
    for _ in 0..40 {
        invoker.invoke(&say_hello()).await.unwrap();
    }
    let log = fakes.log();
    assert_eq!(log.iter().collect::<HashSet<_>>().len(), 1, "{log:?}");
    fakes.get(&log[0]).set_available(false);
    for _ in 0..20 {
        invoker.invoke(&say_hello()).await.unwrap();
    }
    let after: HashSet<_> = fakes.log()[40..].iter().cloned().collect();
    assert_eq!(after.len(), 1, "sticks to a new one: {after:?}");
    assert!(!after.contains(&log[0]));
}

#[tokio::test]
async fn sticky_may_be_set_for_one_method() {
    let fakes = Fakes::new();
    let service = unique_service();
    let addrs = ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1"];
    for a in addrs {
        fakes.add(a, Outcome::Ok("x"));
    }
    let invoker = join("failover", directory(&fakes, &service, "&sayHello.sticky=true", &addrs));
    for _ in 0..40 {
        invoker.invoke(&say_hello()).await.unwrap();
    }
    let log = fakes.log();
    assert_eq!(log.iter().collect::<HashSet<_>>().len(), 1, "{log:?}");
    // Without it, forty calls spread over the four providers.
    let invoker = join("failover", directory(&fakes, &service, "", &addrs));
    for _ in 0..40 {
        invoker.invoke(&say_hello()).await.unwrap();
    }
    assert!(fakes.log()[40..].iter().collect::<HashSet<_>>().len() > 1);
}

#[tokio::test]
async fn unavailable_providers_are_reselected_unless_availablecheck_is_off() {
    let fakes = Fakes::new();
    let service = unique_service();
    let addrs = ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"];
    for a in addrs {
        fakes.add(a, Outcome::Ok("x"));
    }
    let down = fakes.get("10.0.0.1:1");
    down.set_available(false);
    let invoker = join("failfast", directory(&fakes, &service, "", &addrs));
    for _ in 0..200 {
        invoker.invoke(&say_hello()).await.unwrap();
    }
    assert_eq!(down.calls(), 0);
    let invoker = join(
        "failfast",
        directory(&fakes, &service, "&cluster.availablecheck=false", &addrs),
    );
    for _ in 0..200 {
        invoker.invoke(&say_hello()).await.unwrap();
    }
    assert!(
        down.calls() > 0,
        "without the check the unavailable provider is still picked"
    );
}

#[tokio::test]
async fn every_call_is_recorded_in_the_call_statistics() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.0.1:1", Outcome::Ok("x"));
    fakes.add("10.0.0.2:1", Outcome::Transport);
    let hang_state = fakes.add("10.0.0.3:1", Outcome::Hang);
    let invoker = join(
        "failover",
        directory(&fakes, &service, "", &["10.0.0.1:1", "10.0.0.2:1"]),
    );
    for _ in 0..20 {
        invoker.invoke(&say_hello()).await.unwrap();
    }
    let stats = CallStats::global();
    let ok = stats.get(&format!("tri://10.0.0.1:1/{service}"), "sayHello").unwrap();
    let bad = stats.get(&format!("tri://10.0.0.2:1/{service}"), "sayHello").unwrap();
    assert_eq!(ok.succeeded(), 20);
    assert_eq!(ok.failed(), 0);
    assert_eq!(bad.succeeded(), 0);
    assert_eq!(bad.failed() as usize, fakes.get("10.0.0.2:1").calls());
    assert_eq!(ok.in_flight() + bad.in_flight(), 0);
    assert!(ok.window_average().is_some());

    // A call in flight is counted until it ends.
    let hang = join("failfast", directory(&fakes, &service, "", &["10.0.0.3:1"]));
    let inv = say_hello();
    let call = tokio::spawn(async move { hang.invoke(&inv).await });
    while hang_state.calls() == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let hanging = stats.get(&format!("tri://10.0.0.3:1/{service}"), "sayHello").unwrap();
    assert_eq!(hanging.in_flight(), 1);
    call.abort();
    let _ = call.await;
    assert_eq!(hanging.in_flight(), 0);
    assert_eq!(hanging.failed(), 1, "a cancelled call counts as failed");
}

#[tokio::test]
async fn leastactive_sees_calls_in_flight() {
    let fakes = Fakes::new();
    let service = unique_service();
    let busy = fakes.add("10.0.0.1:1", Outcome::Hang);
    let idle = fakes.add("10.0.0.2:1", Outcome::Ok("idle"));
    let dir = directory(
        &fakes,
        &service,
        "&loadbalance=leastactive",
        &["10.0.0.1:1", "10.0.0.2:1"],
    );
    let invoker = join("failfast", dir);
    // Occupy the busy one with calls that never end (through a cluster that knows only it;
    // the statistics are per provider and method), then every call goes to the idle one.
    let only_busy = join("failfast", directory(&fakes, &service, "", &["10.0.0.1:1"]));
    let mut hanging = Vec::new();
    for _ in 0..3 {
        let only_busy = only_busy.clone();
        hanging.push(tokio::spawn(async move { only_busy.invoke(&say_hello()).await }));
    }
    while busy.calls() < 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = idle.calls();
    for _ in 0..20 {
        let r = invoker.invoke(&say_hello()).await.unwrap();
        assert_eq!(&r.payload[..], b"idle");
    }
    assert_eq!(idle.calls() - before, 20);
    for h in hanging {
        h.abort();
    }
}

#[tokio::test]
async fn destroyed_cluster_fails_with_no_provider() {
    let fakes = Fakes::new();
    let service = unique_service();
    fakes.add("10.0.0.1:1", Outcome::Ok("x"));
    let dir = directory(&fakes, &service, "", &["10.0.0.1:1"]);
    let invoker = join("failover", dir.clone());
    invoker.destroy();
    assert!(!dir.is_available());
    let err = invoker.invoke(&say_hello()).await.unwrap_err();
    assert_eq!(err.kind(), RpcErrorKind::NoProvider);
}
