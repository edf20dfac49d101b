//! A tonic client over zkdubbo discovery on a real ZooKeeper: unary calls through
//! `Reference::grpc_channel()` keep succeeding while a provider is killed mid-run (its node
//! still listed), and a provider started later is used too.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use support::*;
use zkdubbo::prost::Message;
use zkdubbo::triple::codec::BytesCodec;
use zkdubbo::triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo::triple::{Methods, Status};
use zkdubbo::{GrpcChannel, Reference, ServiceBuilder, TripleService};

fn tagged(tag: String) -> Methods {
    Methods::new().unary(greeter::SAY_HELLO, move |req: GreeterRequest, _metadata| {
        let tag = tag.clone();
        async move {
            Ok::<_, Status>(GreeterReply {
                message: format!("{tag}: {}", req.name),
            })
        }
    })
}

async fn provider(registry: &str, tag: &str) -> TripleService {
    ServiceBuilder::new(greeter::INTERFACE)
        .registry(registry)
        .host("127.0.0.1")
        .param("warmup", "0")
        .method(greeter::SAY_HELLO)
        .serve_triple(tagged(tag.to_owned()), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
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
    within("both providers listed", Duration::from_secs(10), async {
        while reference.directories()[0].snapshot().providers().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
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
    within("the new provider listed", Duration::from_secs(10), async {
        while reference.directories()[0].snapshot().providers().len() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
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
