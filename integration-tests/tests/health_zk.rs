//! `grpc.health.v1.Health` of a Triple provider on a real ZooKeeper: SERVING once registered,
//! NOT_SERVING while its registry has been unreachable longer than the grace, SERVING again
//! when it is back, NOT_SERVING from the start of a graceful shutdown — as a probe sees it
//! through the Watch stream.

mod support;

use std::time::Duration;

use support::*;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use zkdubbo::ServiceBuilder;
use zkdubbo::triple::greeter;
use zkdubbo_integration_tests::harness::TcpProxy;

type Statuses = tonic::Streaming<tonic_health::pb::HealthCheckResponse>;

/// The next status the Watch stream reports, within a bound.
async fn next(statuses: &mut Statuses, what: &str) -> ServingStatus {
    let reply = tokio::time::timeout(Duration::from_secs(20), statuses.message())
        .await
        .unwrap_or_else(|_| panic!("no health change: {what}"))
        .unwrap()
        .unwrap_or_else(|| panic!("the watch ended: {what}"));
    reply.status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_registration() {
    let env = env("health");
    let proxy = TcpProxy::start(env.addr.clone()).await.unwrap();
    let service = ServiceBuilder::new(greeter::INTERFACE)
        .registry(env.registry_url(&proxy.addr(), "&session=30000"))
        .host("127.0.0.1")
        .method(greeter::SAY_HELLO)
        .unhealthy_after(Duration::from_millis(300))
        .serve_triple(greeter::service(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", service.local_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    for name in ["", greeter::INTERFACE] {
        let status = client
            .check(HealthCheckRequest { service: name.into() })
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{name:?}");
    }
    let unknown = client
        .check(HealthCheckRequest {
            service: "com.example.Nobody".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    let mut statuses = client
        .watch(HealthCheckRequest {
            service: greeter::INTERFACE.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next(&mut statuses, "first").await, ServingStatus::Serving);
    // ZooKeeper out of reach for longer than the grace.
    proxy.partition();
    assert_eq!(next(&mut statuses, "registry lost").await, ServingStatus::NotServing);
    proxy.heal();
    assert_eq!(next(&mut statuses, "registry back").await, ServingStatus::Serving);

    // A graceful shutdown says NOT_SERVING before it unregisters and drains.
    let shutdown = tokio::spawn(service.shutdown(Duration::from_secs(1)));
    assert_eq!(next(&mut statuses, "shutting down").await, ServingStatus::NotServing);
    shutdown.await.unwrap().unwrap();
}
