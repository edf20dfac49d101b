//! gzip on Triple end to end: a consumer with `dubbo.rpc.tri.compressor=gzip` sends gzip
//! requests, the provider answers gzip to such a client, and a plain tonic client gets gzip
//! replies with the `grpc-encoding` header. Measured by what crosses a proxy: a 100 kB reply of
//! one letter is a few hundred bytes compressed.

use std::sync::Arc;

use zkdubbo::registry::MemoryRegistry;
use zkdubbo::triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo::triple::{COMPRESSOR_KEY, TripleServer};
use zkdubbo::{Reference, ServiceBuilder};
use zkdubbo_integration_tests::harness::TcpProxy;

async fn bytes_back(compressor: Option<&str>) -> u64 {
    let server = TripleServer::builder()
        .service(greeter::INTERFACE, greeter::service())
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let proxy = TcpProxy::start(server.local_addr().to_string()).await.unwrap();
    let server = server.spawn();
    let proxy_port: u16 = proxy.addr().rsplit(':').next().unwrap().parse().unwrap();
    let registry = Arc::new(MemoryRegistry::new());
    let _registered = ServiceBuilder::new(greeter::INTERFACE)
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        .port(proxy_port)
        .method(greeter::SAY_HELLO)
        .register()
        .await
        .unwrap();
    let mut builder = Reference::builder()
        .interface(greeter::INTERFACE)
        .registry_instance(registry.clone());
    if let Some(c) = compressor {
        builder = builder.param(COMPRESSOR_KEY, c);
    }
    let reference = builder.build().await.unwrap();
    let name = "a".repeat(100_000);
    let before = proxy.bytes_to_clients();
    let reply: GreeterReply = reference
        .call(greeter::SAY_HELLO, &GreeterRequest { name: name.clone() })
        .await
        .unwrap();
    assert_eq!(reply.message, format!("Hello, {name}!"));
    let back = proxy.bytes_to_clients() - before;
    reference.shutdown().await;
    server.shutdown().await.unwrap();
    back
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_configured_for_gzip_gets_gzip_both_ways() {
    let plain = bytes_back(None).await;
    let gzip = bytes_back(Some("gzip")).await;
    assert!(plain > 100_000, "an uncompressed reply: {plain} bytes");
    assert!(gzip < 2_000, "a gzip reply to a gzip request: {gzip} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tonic_client_sending_gzip_gets_a_gzip_reply_with_its_header() {
    use bytes::Bytes;
    use zkdubbo::prost::Message;
    let server = TripleServer::builder()
        .service(greeter::INTERFACE, greeter::service())
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let server = server.spawn();
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel)
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    grpc.ready().await.unwrap();
    let request = Bytes::from(GreeterRequest { name: "zip".into() }.encode_to_vec());
    let path = http::uri::PathAndQuery::from_static("/org.apache.dubbo.samples.Greeter/sayHello");
    let response: tonic::Response<Bytes> = grpc
        .unary(tonic::Request::new(request), path, zkdubbo::triple::codec::BytesCodec)
        .await
        .unwrap();
    assert_eq!(
        response.metadata().get("grpc-encoding").and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
    assert_eq!(
        GreeterReply::decode(response.into_inner()).unwrap().message,
        "Hello, zip!"
    );
    server.shutdown().await.unwrap();
}
