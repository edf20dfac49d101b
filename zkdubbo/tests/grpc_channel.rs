//! A tonic client over zkdubbo discovery: `tonic::client::Grpc` (what every tonic-generated
//! client is made of) on a `GrpcChannel`, calling zkdubbo Triple providers picked per call,
//! failing over when a provider is gone, and keeping the gRPC status of a failed call.

#![cfg(feature = "triple")]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use zkdubbo::prost::Message;
use zkdubbo::registry::MemoryRegistry;
use zkdubbo::{GrpcChannel, Reference, ServiceBuilder, TripleService};
use zkdubbo_triple::codec::BytesCodec;
use zkdubbo_triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo_triple::{Methods, Status};

/// The Greeter answering `<tag>: <name>`, to see which provider answered.
fn tagged(tag: &'static str) -> Methods {
    Methods::new().unary(greeter::SAY_HELLO, move |req: GreeterRequest, _metadata| async move {
        Ok::<_, Status>(GreeterReply {
            message: format!("{tag}: {}", req.name),
        })
    })
}

async fn provider(registry: &Arc<MemoryRegistry>, methods: Methods) -> TripleService {
    ServiceBuilder::new(greeter::INTERFACE)
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        .param("warmup", "0")
        .method(greeter::SAY_HELLO)
        .serve_triple(methods, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// One unary call as a generated client makes it.
async fn say_hello(channel: GrpcChannel, name: &str) -> Result<GreeterReply, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| Status::unknown(e.to_string()))?;
    let path = PathAndQuery::from_static("/org.apache.dubbo.samples.Greeter/sayHello");
    let request = Bytes::from(GreeterRequest { name: name.into() }.encode_to_vec());
    let reply: tonic::Response<Bytes> = grpc.unary(tonic::Request::new(request), path, BytesCodec).await?;
    GreeterReply::decode(reply.into_inner()).map_err(|e| Status::internal(e.to_string()))
}

async fn reference(registry: &Arc<MemoryRegistry>, providers: usize) -> Reference {
    let r = Reference::builder()
        .interface(greeter::INTERFACE)
        .registry_instance(registry.clone())
        .loadbalance("roundrobin")
        .build()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while r.directories()[0].snapshot().providers().len() < providers {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    r
}

#[tokio::test]
async fn a_tonic_client_calls_the_providers_zkdubbo_picks_and_fails_over() {
    let registry = Arc::new(MemoryRegistry::new());
    let a = provider(&registry, tagged("a")).await;
    let b = provider(&registry, tagged("b")).await;
    let r = reference(&registry, 2).await;
    let channel = r.grpc_channel();

    // Round robin through the channel: both providers answer.
    let mut seen = BTreeSet::new();
    for i in 0..6 {
        let reply = say_hello(channel.clone(), &format!("n{i}")).await.unwrap();
        let (tag, name) = reply.message.split_once(": ").unwrap();
        assert_eq!(name, format!("n{i}"));
        seen.insert(tag.to_owned());
    }
    assert_eq!(seen, BTreeSet::from(["a".to_owned(), "b".to_owned()]));

    // A provider crashes (still listed): every unary call still succeeds, on the other one.
    let (a_registration, a_server) = a.into_parts();
    a_server.shutdown().await.unwrap();
    for i in 0..10 {
        let reply = say_hello(channel.clone(), &format!("after{i}")).await.unwrap();
        assert!(reply.message.starts_with("b: "), "{}", reply.message);
    }
    drop(a_registration);
    r.shutdown().await;
    b.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test]
async fn a_status_from_the_handler_arrives_intact_and_is_not_retried() {
    let registry = Arc::new(MemoryRegistry::new());
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let methods = Methods::new().unary(greeter::SAY_HELLO, move |_req: GreeterRequest, _metadata| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move { Err::<GreeterReply, _>(Status::permission_denied("not you")) }
    });
    let p1 = provider(&registry, methods.clone()).await;
    let p2 = provider(&registry, methods).await;
    let r = reference(&registry, 2).await;
    let status = say_hello(r.grpc_channel(), "x").await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert_eq!(status.message(), "not you");
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "a business status is not retried"
    );
    r.shutdown().await;
    p1.shutdown(Duration::ZERO).await.unwrap();
    p2.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test]
async fn no_provider_is_unavailable_with_the_reason() {
    let registry = Arc::new(MemoryRegistry::new());
    let r = Reference::builder()
        .interface(greeter::INTERFACE)
        .registry_instance(registry.clone())
        .check(false)
        .build()
        .await
        .unwrap();
    let status = say_hello(r.grpc_channel(), "x").await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(status.message().contains(greeter::INTERFACE), "{}", status.message());
    r.shutdown().await;
}

#[tokio::test]
async fn consistent_hashing_follows_the_key_of_each_call() {
    let registry = Arc::new(MemoryRegistry::new());
    let providers = vec![
        provider(&registry, tagged("a")).await,
        provider(&registry, tagged("b")).await,
        provider(&registry, tagged("c")).await,
    ];
    let r = Reference::builder()
        .interface(greeter::INTERFACE)
        .registry_instance(registry.clone())
        .loadbalance("consistenthash")
        .build()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while r.directories()[0].snapshot().providers().len() < 3 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let channel = r.grpc_channel();
    let mut tags = BTreeSet::new();
    for k in 0..24 {
        let key = format!("user-{k}");
        let mut seen = BTreeSet::new();
        for _ in 0..3 {
            let request = GreeterRequest { name: key.clone() };
            let reply: GreeterReply = r.call_hashed(greeter::SAY_HELLO, &request, &key).await.unwrap();
            seen.insert(reply.message.split(':').next().unwrap().to_owned());
            // The same key through a tonic client on the channel lands on the same provider.
            let mut grpc = tonic::client::Grpc::new(channel.clone());
            grpc.ready().await.unwrap();
            let mut tonic_request = tonic::Request::new(Bytes::from(request.encode_to_vec()));
            tonic_request.extensions_mut().insert(zkdubbo::HashKey(key.clone()));
            let path = PathAndQuery::from_static("/org.apache.dubbo.samples.Greeter/sayHello");
            let reply: tonic::Response<Bytes> = grpc.unary(tonic_request, path, BytesCodec).await.unwrap();
            let reply = GreeterReply::decode(reply.into_inner()).unwrap();
            seen.insert(reply.message.split(':').next().unwrap().to_owned());
        }
        assert_eq!(seen.len(), 1, "{key} went to {seen:?}");
        tags.extend(seen);
    }
    assert!(tags.len() >= 2, "24 keys all hashed to {tags:?}");
    r.shutdown().await;
    for p in providers {
        p.shutdown(Duration::ZERO).await.unwrap();
    }
}

#[tokio::test]
async fn the_references_timeout_bounds_a_call_and_reaches_the_provider() {
    let registry = Arc::new(MemoryRegistry::new());
    let seen = Arc::new(std::sync::Mutex::new(None::<String>));
    let recorded = seen.clone();
    // Answers after 2 s, recording the grpc-timeout it was given.
    let slow = Methods::new().unary(
        greeter::SAY_HELLO,
        move |req: GreeterRequest, metadata: tonic::metadata::MetadataMap| {
            *recorded.lock().unwrap() = metadata
                .get("grpc-timeout")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Ok::<_, Status>(GreeterReply { message: req.name })
            }
        },
    );
    let p = provider(&registry, slow).await;
    let r = Reference::builder()
        .interface(greeter::INTERFACE)
        .registry_instance(registry.clone())
        .timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let status = say_hello(r.grpc_channel(), "late").await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("300 ms"), "{}", status.message());
    assert_eq!(
        seen.lock().unwrap().as_deref(),
        Some("300m"),
        "the provider got the deadline"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the call did not wait for the slow answer"
    );
    r.shutdown().await;
    p.shutdown(Duration::ZERO).await.unwrap();
}

/// Fires its sender when dropped: the sentinel of a stream the provider let go of.
struct OnDrop(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(fire) = self.0.take() {
            let _ = fire.send(());
        }
    }
}

#[tokio::test]
async fn a_bidirectional_stream_goes_through_and_a_dropped_one_ends_at_the_provider() {
    use futures::{SinkExt, StreamExt};
    use zkdubbo_triple::MessageStream;

    let (fire, dropped) = tokio::sync::oneshot::channel();
    let fire = Arc::new(std::sync::Mutex::new(Some(fire)));
    let methods = Methods::new().bidi_streaming("chat", move |requests: MessageStream<GreeterRequest>, _metadata| {
        let guard = OnDrop(fire.lock().unwrap().take());
        async move {
            Ok(requests.map(move |request| {
                let _alive = &guard;
                request.map(|r| GreeterReply {
                    message: format!("re: {}", r.name),
                })
            }))
        }
    });
    let registry = Arc::new(MemoryRegistry::new());
    let service = provider(&registry, methods).await;
    let r = reference(&registry, 1).await;
    let mut grpc = tonic::client::Grpc::new(r.grpc_channel());
    grpc.ready().await.unwrap();
    let (mut tx, rx) = futures::channel::mpsc::channel::<Bytes>(1);
    let path = PathAndQuery::from_static("/org.apache.dubbo.samples.Greeter/chat");
    let mut replies = grpc
        .streaming(tonic::Request::new(rx), path, BytesCodec)
        .await
        .unwrap()
        .into_inner();
    // Each reply before the next request: the channel holds nothing back.
    for name in ["a", "b", "c"] {
        tx.send(Bytes::from(GreeterRequest { name: name.into() }.encode_to_vec()))
            .await
            .unwrap();
        let reply = GreeterReply::decode(replies.message().await.unwrap().unwrap()).unwrap();
        assert_eq!(reply.message, format!("re: {name}"));
    }
    // The client goes away while its requests could still come: the provider lets go.
    drop(replies);
    tokio::time::timeout(Duration::from_secs(10), dropped)
        .await
        .expect("the provider dropped the stream of a cancelled call")
        .unwrap();
    drop(tx);
    r.shutdown().await;
    service.shutdown(Duration::ZERO).await.unwrap();
}
