//! Outlier ejection: a provider that keeps timing out or refusing connections stops being
//! picked for a while, so one frozen provider does not cost every other call a timeout.

mod support;

use std::time::Duration;

use support::{Fakes, Outcome, directory, join, say_hello, unique_service};

/// 100 round-robin calls with one attempt each over a provider that times out and one that
/// answers: how many reached the first.
async fn calls_to_the_bad_one(consumer_params: &str) -> usize {
    let fakes = Fakes::new();
    let service = unique_service();
    let bad = fakes.add("10.0.0.1:1", Outcome::Timeout);
    fakes.add("10.0.0.2:1", Outcome::Ok("hi"));
    let params = format!("&loadbalance=roundrobin{consumer_params}");
    let dir = directory(&fakes, &service, &params, &["10.0.0.1:1", "10.0.0.2:1"]);
    let cluster = join("failfast", dir);
    for _ in 0..100 {
        let _ = cluster.invoke(&say_hello()).await;
    }
    bad.calls()
}

#[tokio::test]
async fn a_provider_that_keeps_timing_out_is_skipped() {
    // Three timeouts in a row eject it for (here) a minute: no more calls during the test.
    assert_eq!(calls_to_the_bad_one("&outlier.ejection=60000").await, 3);
    // Without ejection (Java Dubbo's behaviour) it gets its round-robin share.
    assert_eq!(calls_to_the_bad_one("&outlier.failures=0").await, 50);
}

#[tokio::test]
async fn business_errors_never_eject() {
    let fakes = Fakes::new();
    let service = unique_service();
    let picky = fakes.add("10.0.0.1:1", Outcome::Business);
    fakes.add("10.0.0.2:1", Outcome::Ok("hi"));
    let dir = directory(
        &fakes,
        &service,
        "&loadbalance=roundrobin",
        &["10.0.0.1:1", "10.0.0.2:1"],
    );
    let cluster = join("failfast", dir);
    for _ in 0..100 {
        let _ = cluster.invoke(&say_hello()).await;
    }
    assert_eq!(picky.calls(), 50);
}

#[tokio::test]
async fn a_lone_or_all_ejected_provider_is_still_called() {
    let fakes = Fakes::new();
    let service = unique_service();
    let only = fakes.add("10.0.0.1:1", Outcome::Transport);
    let dir = directory(&fakes, &service, "&outlier.ejection=60000", &["10.0.0.1:1"]);
    let cluster = join("failfast", dir);
    for _ in 0..10 {
        let _ = cluster.invoke(&say_hello()).await;
    }
    assert_eq!(only.calls(), 10);

    let fakes = Fakes::new();
    let service = unique_service();
    let a = fakes.add("10.0.0.1:1", Outcome::Transport);
    let b = fakes.add("10.0.0.2:1", Outcome::Transport);
    let dir = directory(
        &fakes,
        &service,
        "&outlier.ejection=60000",
        &["10.0.0.1:1", "10.0.0.2:1"],
    );
    let cluster = join("failfast", dir);
    for _ in 0..20 {
        let _ = cluster.invoke(&say_hello()).await;
    }
    assert_eq!(a.calls() + b.calls(), 20, "every call still goes somewhere");
}

#[tokio::test]
async fn an_ejected_provider_is_probed_and_comes_back() {
    let fakes = Fakes::new();
    let service = unique_service();
    let flaky = fakes.add("10.0.0.1:1", Outcome::Ok("hi"));
    fakes.add("10.0.0.2:1", Outcome::Ok("hi"));
    flaky.then([Outcome::Timeout, Outcome::Timeout, Outcome::Timeout]);
    let dir = directory(
        &fakes,
        &service,
        "&loadbalance=roundrobin&outlier.ejection=50",
        &["10.0.0.1:1", "10.0.0.2:1"],
    );
    let cluster = join("failfast", dir);
    for _ in 0..6 {
        let _ = cluster.invoke(&say_hello()).await;
    }
    assert_eq!(flaky.calls(), 3, "ejected after three timeouts");
    for _ in 0..10 {
        let _ = cluster.invoke(&say_hello()).await;
    }
    assert_eq!(flaky.calls(), 3, "not called while ejected");
    // The ejection (50 ms) ends; the next pick probes it, it answers, it is back.
    tokio::time::sleep(Duration::from_millis(60)).await;
    for _ in 0..20 {
        cluster.invoke(&say_hello()).await.unwrap();
    }
    assert!(flaky.calls() >= 3 + 9, "back in rotation: {} calls", flaky.calls());
}
