//! Every scenario of `scale-bench` at its smallest sizes, so CI runs the code path. Only
//! correctness is asserted (views equal ZooKeeper's, counts right), never timings.

use zkdubbo_integration_tests::harness::{ZkOptions, ZkServer};
use zkdubbo_integration_tests::scale::{self, Env, RAISED_JUTE_MAXBUFFER, Sizes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_and_checks_out_at_the_smallest_sizes() {
    let server = ZkServer::start_with(ZkOptions {
        tick_ms: 200,
        jute_maxbuffer: Some(RAISED_JUTE_MAXBUFFER),
        max_session_timeout_ms: None,
        ..ZkOptions::default()
    })
    .expect("ZooKeeper");
    let env = Env {
        addr: server.addr(),
        child_exe: env!("CARGO_BIN_EXE_scale-bench").into(),
    };
    let sizes = Sizes::smoke();

    let latency = scale::latency::run(&env, &sizes).await.expect("latency");
    assert_eq!(latency.ours.n, sizes.latency_events);
    assert_eq!(latency.floor.n, sizes.latency_events);
    assert_eq!(latency.final_providers, sizes.latency_events);

    let throughput = scale::throughput::run(&env, &sizes).await.expect("throughput");
    assert_eq!(throughput.providers, sizes.throughput_providers);

    let subscribe = scale::subscribe::run(&env, &sizes).await.expect("subscribe");
    assert_eq!(subscribe.interfaces, sizes.subscribe_interfaces);
    assert!(subscribe.hwm_kb > 0);

    let churn = scale::churn::run(&env, &sizes).await.expect("churn");
    assert!(churn.final_equal, "the consumer's final view differs from ZooKeeper's");
    assert!(churn.pairs > 0);
    assert_eq!(churn.appeared, churn.pairs, "every new provider reached the consumer");

    let big = scale::bigdir::run(&env, &sizes).await.expect("big directory");
    assert!(big.limit_ok > 0 && big.limit_refused == big.limit_ok + 1);
    assert!(big.refused_bytes > sizes.limit_server_maxbuffer.unwrap_or(0) as usize);
    assert_eq!(big.zkdubbo_read, 2 * big.limit_ok);
    assert_eq!(big.refresh.n, sizes.big_refreshes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curator_and_both_watch_modes_see_every_event() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let samples = scale::curator::run(tmp.path(), 2, 5)
        .await
        .expect("latency beside Curator");
    let modes: Vec<&str> = samples.iter().map(|s| s.mode).collect();
    assert_eq!(modes, ["curator", "zkdubbo persistent", "zkdubbo children"]);
    for s in &samples {
        assert_eq!(s.latency.n, 10, "{}: every event waited for", s.mode);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_both_watch_modes_learn_what_changed_while_away() {
    // run() itself fails unless every directory ends with the provider added while its
    // consumer was cut off and the server restarted.
    let results = scale::reconnect::run(5, 3).await.expect("reconnect");
    let modes: Vec<&str> = results.iter().map(|r| r.mode).collect();
    assert_eq!(modes, ["persistent", "children"]);
    for r in &results {
        assert!(r.bytes > 0, "{}: the reconciliation read from ZooKeeper", r.mode);
        assert!(r.server_watches > 0, "{}: watches counted", r.mode);
    }
    // A persistent watch per category sits in both of the server's watch tables.
    assert!(results[0].server_watches > results[1].server_watches);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_discovery_levels_give_every_consumer_its_providers() {
    let server = ZkServer::start_with(ZkOptions::default()).expect("ZooKeeper");
    let env = Env {
        addr: server.addr(),
        child_exe: env!("CARGO_BIN_EXE_scale-bench").into(),
    };
    // run() fails unless every directory of the consumer holds the instances of its interface.
    let results = scale::levels::run(&env, 3, 2, 6).await.expect("levels");
    let levels: Vec<&str> = results.iter().map(|r| r.level).collect();
    assert_eq!(levels, ["interface", "application"]);
    // 6 interfaces x 2 providers below their interface and category nodes, against
    // 6 instances, 3 metadata reports and 6 mapping nodes with their parents.
    assert!(results[0].nodes > results[1].nodes, "{results:?}");
    assert!(results.iter().all(|r| r.watches > 0 && r.hwm_kb > 0), "{results:?}");
}
