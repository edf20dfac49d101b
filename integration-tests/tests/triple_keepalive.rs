//! A Triple provider that freezes (its connection stays open, nothing comes back: a SIGSTOP, a
//! dead host behind a NAT): the consumer's HTTP/2 keepalive notices and fails the call in
//! flight as a transport error long before its timeout, so failover can retry it.

use std::time::Duration;

use zkdubbo::triple::greeter::{self, GreeterRequest};
use zkdubbo::triple::{TripleConfig, TripleInvokerFactory, TripleServer, message_invocation};
use zkdubbo_common::{InvokerFactory, RpcError, Url};
use zkdubbo_integration_tests::harness::{PartitionMode, TcpProxy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_fails_a_call_to_a_frozen_provider_before_its_timeout() {
    let server = TripleServer::builder()
        .service(greeter::INTERFACE, greeter::service())
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let proxy = TcpProxy::start(server.local_addr().to_string()).await.unwrap();
    let factory = TripleInvokerFactory::with_config(TripleConfig {
        keepalive_interval: Some(Duration::from_millis(200)),
        keepalive_timeout: Duration::from_millis(300),
        ..TripleConfig::default()
    });
    // A 60 s timeout: only the keepalive can end a call to a frozen provider sooner.
    let url: Url = format!("tri://{}/{}?timeout=60000", proxy.addr(), greeter::INTERFACE)
        .parse()
        .unwrap();
    let invoker = factory.create(&url).unwrap();
    let call = message_invocation(greeter::SAY_HELLO, &GreeterRequest { name: "x".into() });
    invoker.invoke(&call).await.unwrap();

    proxy.partition_with(PartitionMode::Freeze);
    let result = tokio::time::timeout(Duration::from_secs(20), invoker.invoke(&call)).await;
    let err = result.expect("the keepalive ended the call").unwrap_err();
    assert!(matches!(err, RpcError::Transport { .. }), "{err}");
    proxy.heal();
    server.shutdown().await.unwrap();
}
