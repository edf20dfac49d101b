//! A tonic client over zkdubbo discovery on a real ZooKeeper: unary calls through
//! `Reference::grpc_channel()` keep succeeding while a provider is killed mid-run (its node
//! still listed), and a provider started later is used too; a stream whose provider is killed
//! ends `UNAVAILABLE` after the replies it had, and is not sent again elsewhere.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::uri::PathAndQuery;
use support::*;
use zkdubbo::prost::Message;
use zkdubbo::triple::codec::BytesCodec;
use zkdubbo::triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo::triple::{Methods, Status};
use zkdubbo::{GrpcChannel, Reference, ServiceBuilder, TripleService};
use zkdubbo_integration_tests::harness::TcpProxy;

/// The streaming method of [`tagged`]: `<tag>:<i>` every 5 ms, until the client goes away.
const TICKS: &str = "ticks";

fn tagged(tag: String) -> Methods {
    let ticks_tag = tag.clone();
    Methods::new()
        .unary(greeter::SAY_HELLO, move |req: GreeterRequest, _metadata| {
            let tag = tag.clone();
            async move {
                Ok::<_, Status>(GreeterReply {
                    message: format!("{tag}: {}", req.name),
                })
            }
        })
        .server_streaming(TICKS, move |_req: GreeterRequest, _metadata| {
            let tag = ticks_tag.clone();
            async move {
                let ticks = futures::stream::unfold(0u64, move |i| {
                    let tag = tag.clone();
                    async move {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        Some((
                            Ok(GreeterReply {
                                message: format!("{tag}:{i}"),
                            }),
                            i + 1,
                        ))
                    }
                });
                Ok(ticks)
            }
        })
}

async fn provider(registry: &str, tag: &str) -> TripleService {
    ServiceBuilder::new(greeter::INTERFACE)
        .registry(registry)
        .host("127.0.0.1")
        .param("warmup", "0")
        .method(greeter::SAY_HELLO)
        .method(TICKS)
        .serve_triple(tagged(tag.to_owned()), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A provider registered with the address of a proxy in front of it: partitioning the proxy
/// kills it as the network sees it (connections reset, new ones refused).
async fn proxied_provider(registry: &str, tag: &str) -> (TripleService, TcpProxy) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy = TcpProxy::start(format!("127.0.0.1:{port}")).await.unwrap();
    let proxy_port: u16 = proxy.addr().rsplit(':').next().unwrap().parse().unwrap();
    let service = ServiceBuilder::new(greeter::INTERFACE)
        .registry(registry)
        .host("127.0.0.1")
        .port(proxy_port)
        .param("warmup", "0")
        .method(greeter::SAY_HELLO)
        .method(TICKS)
        .serve_triple(tagged(tag.to_owned()), format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    (service, proxy)
}

/// A `ticks` stream through `channel`: its replies' texts and the status it ended with.
async fn ticks(channel: GrpcChannel) -> Result<tonic::Streaming<Bytes>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| Status::unknown(e.to_string()))?;
    let path = PathAndQuery::from_static("/org.apache.dubbo.samples.Greeter/ticks");
    let request = Bytes::from(GreeterRequest::default().encode_to_vec());
    Ok(grpc
        .server_streaming(tonic::Request::new(request), path, BytesCodec)
        .await?
        .into_inner())
}

fn text(reply: Bytes) -> String {
    GreeterReply::decode(reply).unwrap().message
}

async fn say_hello(channel: GrpcChannel, name: &str) -> Result<String, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| Status::unknown(e.to_string()))?;
    let path = PathAndQuery::from_static("/org.apache.dubbo.samples.Greeter/sayHello");
    let request = Bytes::from(GreeterRequest { name: name.into() }.encode_to_vec());
    let reply: tonic::Response<Bytes> = grpc.unary(tonic::Request::new(request), path, BytesCodec).await?;
    let reply = GreeterReply::decode(reply.into_inner()).map_err(|e| Status::internal(e.to_string()))?;
    Ok(reply.message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_calls_keep_succeeding_while_a_provider_is_killed() {
    let env = env("grpc-channel");
    let registry = env.registry_url(&env.addr, "");
    let a = provider(&registry, "a").await;
    let b = provider(&registry, "b").await;
    let reference = Reference::builder()
        .interface(greeter::INTERFACE)
        .registry(&registry)
        .loadbalance("roundrobin")
        .build()
        .await
        .unwrap();
    providers_listed(&reference, 2).await;
    let channel = reference.grpc_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let caller = {
        let (channel, stop) = (channel.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut served, mut failed) = (Vec::new(), Vec::new());
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                match say_hello(channel.clone(), &format!("n{i}")).await {
                    Ok(m) => served.push(m.split(':').next().unwrap_or_default().to_owned()),
                    Err(s) => failed.push(format!("{:?}: {}", s.code(), s.message())),
                }
                i += 1;
            }
            (served, failed)
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Killed: its server stops at once, its node stays until its session would expire.
    let (a_registration, a_server) = a.into_parts();
    a_server.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = provider(&registry, "c").await;
    providers_listed(&reference, 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let (served, failed) = caller.await.unwrap();
    assert!(
        failed.is_empty(),
        "{} calls failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    for tag in ["a", "b", "c"] {
        assert!(served.iter().any(|t| t == tag), "{tag} never answered");
    }
    drop(a_registration);
    reference.shutdown().await;
    b.shutdown(Duration::ZERO).await.unwrap();
    c.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_provider_is_killed_ends_unavailable_and_is_not_retried() {
    let env = env("grpc-stream-kill");
    let registry = env.registry_url(&env.addr, "");
    let (a, a_proxy) = proxied_provider(&registry, "a").await;
    let b = provider(&registry, "b").await;
    let reference = Reference::builder()
        .interface(greeter::INTERFACE)
        .registry(&registry)
        .loadbalance("roundrobin")
        .build()
        .await
        .unwrap();
    providers_listed(&reference, 2).await;
    let channel = reference.grpc_channel();
    // Round robin: one of the first few streams goes to a.
    let mut on_a = None;
    for _ in 0..6 {
        let mut stream = ticks(channel.clone()).await.unwrap();
        let first = text(stream.message().await.unwrap().unwrap());
        if first.starts_with("a:") {
            on_a = Some(stream);
            break;
        }
    }
    let mut stream = on_a.expect("a stream on provider a");
    for _ in 0..3 {
        let reply = text(stream.message().await.unwrap().unwrap());
        assert!(reply.starts_with("a:"), "{reply}");
    }
    a_proxy.partition();
    let mut after = Vec::new();
    let status = loop {
        match stream.next().await {
            Some(Ok(reply)) => after.push(text(reply)),
            Some(Err(status)) => break status,
            None => panic!("the stream ended cleanly after its provider was killed: {after:?}"),
        }
    };
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(
        after.iter().all(|r| r.starts_with("a:")),
        "the stream went on elsewhere: {after:?}"
    );
    // New calls go to the provider left.
    for i in 0..4 {
        assert_eq!(
            say_hello(channel.clone(), &format!("n{i}")).await.unwrap(),
            format!("b: n{i}")
        );
    }
    let mut stream = ticks(channel.clone()).await.unwrap();
    assert!(text(stream.message().await.unwrap().unwrap()).starts_with("b:"));
    drop(stream);
    reference.shutdown().await;
    let (a_registration, a_server) = a.into_parts();
    drop(a_registration);
    drop(a_server);
    b.shutdown(Duration::ZERO).await.unwrap();
}
