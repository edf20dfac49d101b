//! A proto-defined service with a method of each of gRPC's four kinds (`examples/proto/
//! counter.proto`) found through a real ZooKeeper: the generated client (on
//! `Reference::grpc_channel()`) calls the generated server and zkdubbo's own streaming
//! handlers alike; gzip both ways; a handler's status code arrives intact.

mod support;

use std::time::Duration;

use futures::StreamExt;
use support::*;
use tonic::codec::CompressionEncoding;
use zkdubbo::triple::{MessageStream, Methods, Status};
use zkdubbo::{Reference, TripleService};
use zkdubbo_examples::counter::Numbers;
use zkdubbo_examples::proto::counter::counter_client::CounterClient;
use zkdubbo_examples::proto::counter::counter_server::CounterServer;
use zkdubbo_examples::proto::counter::{CountReply, CountRequest, Number, counter_zkdubbo};

/// The Counter as zkdubbo handlers: what `Numbers` does, one closure per method.
fn handlers() -> Methods {
    Methods::new()
        .unary("Double", |n: Number, _metadata| async move {
            n.value
                .checked_mul(2)
                .map(|value| Number { value })
                .ok_or_else(|| Status::out_of_range(format!("{} doubled overflows", n.value)))
        })
        .server_streaming("Count", |req: CountRequest, _metadata| async move {
            Ok(futures::stream::iter((0..req.n).map(|i| Ok(CountReply { i }))))
        })
        .client_streaming("Sum", |mut numbers: MessageStream<Number>, _metadata| async move {
            let mut value = 0i64;
            while let Some(n) = numbers.next().await {
                value = value.saturating_add(n?.value);
            }
            Ok(Number { value })
        })
        .bidi_streaming("Running", |numbers: MessageStream<Number>, _metadata| async move {
            Ok(numbers.scan(0i64, |total, n| {
                futures::future::ready(Some(n.map(|n| {
                    *total = total.saturating_add(n.value);
                    Number { value: *total }
                })))
            }))
        })
}

async fn reference(registry: &str) -> Reference {
    let r = counter_zkdubbo::reference().registry(registry).build().await.unwrap();
    providers_listed(&r, 1).await;
    r
}

fn numbers(values: Vec<i64>) -> impl futures::Stream<Item = Number> + Send + 'static {
    futures::stream::iter(values.into_iter().map(|value| Number { value }))
}

/// Every method of `client`, with the answers the Counter gives.
async fn every_kind(client: &mut CounterClient<zkdubbo::GrpcChannel>) {
    let mut counted = client.count(CountRequest { n: 5 }).await.unwrap().into_inner();
    let mut got = Vec::new();
    while let Some(reply) = counted.message().await.unwrap() {
        got.push(reply.i);
    }
    assert_eq!(got, [0, 1, 2, 3, 4]);
    assert_eq!(
        client.double(Number { value: 21 }).await.unwrap().into_inner().value,
        42
    );
    assert_eq!(
        client.sum(numbers(vec![1, 2, 3, 4])).await.unwrap().into_inner().value,
        10
    );
    let totals: Vec<i64> = client
        .running(numbers(vec![1, 2, 3]))
        .await
        .unwrap()
        .into_inner()
        .map(|n| n.unwrap().value)
        .collect()
        .await;
    assert_eq!(totals, [1, 3, 6]);
    // The handler's status, code and message as it set them.
    let status = client.double(Number { value: i64::MAX }).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::OutOfRange);
    assert_eq!(status.message(), format!("{} doubled overflows", i64::MAX));
}

/// Each call of `client` compressed both ways: the answer says gzip.
async fn gzip_both_ways(client: &mut CounterClient<zkdubbo::GrpcChannel>) {
    let doubled = client.double(Number { value: 4 }).await.unwrap();
    assert_eq!(doubled.metadata().get("grpc-encoding").unwrap(), "gzip");
    assert_eq!(doubled.into_inner().value, 8);
    let totals = client.running(numbers(vec![5, 5])).await.unwrap();
    assert_eq!(totals.metadata().get("grpc-encoding").unwrap(), "gzip");
    let totals: Vec<i64> = totals.into_inner().map(|n| n.unwrap().value).collect().await;
    assert_eq!(totals, [5, 10]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_client_calls_a_generated_server_of_every_kind() {
    let env = env("tonic-generated");
    let registry = env.registry_url(&env.addr, "");
    let builder = counter_zkdubbo::service_builder().registry(&registry).host("127.0.0.1");
    // gzip read and, to a client that accepts it, sent.
    let server = CounterServer::new(Numbers)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);
    let service = builder
        .serve_tonic(server, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(service.url().param("methods"), Some("Count,Double,Running,Sum"));
    let r = reference(&registry).await;
    every_kind(&mut counter_zkdubbo::client(&r)).await;
    let mut gzip = counter_zkdubbo::client(&r)
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    gzip_both_ways(&mut gzip).await;
    r.shutdown().await;
    service.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_client_calls_zkdubbo_handlers_of_every_kind() {
    let env = env("tonic-handlers");
    let registry = env.registry_url(&env.addr, "");
    let service: TripleService = counter_zkdubbo::service_builder()
        .registry(&registry)
        .host("127.0.0.1")
        .serve_triple(handlers(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let r = reference(&registry).await;
    every_kind(&mut counter_zkdubbo::client(&r)).await;
    // zkdubbo's server answers compressed as the request came: a gzip answer is a gzip request.
    let mut gzip = counter_zkdubbo::client(&r)
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    gzip_both_ways(&mut gzip).await;
    r.shutdown().await;
    service.shutdown(Duration::ZERO).await.unwrap();
}
