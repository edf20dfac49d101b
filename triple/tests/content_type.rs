//! The client against tiny hand-written HTTP/2 servers: which response content types are
//! accepted (Dubbo 3 answers `application/grpc+proto`, grpc-go/tonic `application/grpc`) and
//! that anything else is a clear transport error.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::StreamBody;
use http_body_util::combinators::BoxBody;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use tokio::net::TcpListener;
use zkdubbo_common::{Invocation, InvokerFactory, RpcError, Url};
use zkdubbo_triple::TripleInvokerFactory;
use zkdubbo_triple::greeter::{self, GreeterReply, GreeterRequest};

/// An HTTP/2 server that answers every request with `content_type`, a reply header
/// `x-served-by: fake` and, when `grpc`, one framed `GreeterReply` and `grpc-status: 0`
/// trailers; otherwise an HTML page.
async fn fake_server(content_type: &'static str, grpc: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper::service::service_fn(move |_request: Request<Incoming>| async move {
                let frames: Vec<Result<Frame<Bytes>, Infallible>> = if grpc {
                    let reply = GreeterReply {
                        message: format!("served as {content_type}"),
                    };
                    let mut trailers = HeaderMap::new();
                    trailers.insert("grpc-status", HeaderValue::from_static("0"));
                    vec![
                        Ok(Frame::data(common::frame(&reply.encode_to_vec()))),
                        Ok(Frame::trailers(trailers)),
                    ]
                } else {
                    vec![Ok(Frame::data(Bytes::from_static(b"<html><body>hello</body></html>")))]
                };
                let body = BoxBody::new(StreamBody::new(futures::stream::iter(frames)));
                let response = Response::builder()
                    .header("content-type", content_type)
                    .header("x-served-by", "fake")
                    .body(body)
                    .unwrap();
                Ok::<_, Infallible>(response)
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn greeter_url(addr: SocketAddr) -> Url {
    format!("tri://{addr}/{}", greeter::INTERFACE).parse().unwrap()
}

async fn call(addr: SocketAddr) -> Result<zkdubbo_common::Response, RpcError> {
    let factory = TripleInvokerFactory::new();
    let invoker = factory.create(&greeter_url(addr)).unwrap();
    let request = GreeterRequest { name: "x".into() }.encode_to_vec();
    invoker
        .invoke(&Invocation::new(greeter::SAY_HELLO).with_payload(request))
        .await
}

#[tokio::test]
async fn grpc_proto_content_type_is_accepted() {
    let addr = fake_server("application/grpc+proto", true).await;
    let response = call(addr).await.unwrap();
    let reply = GreeterReply::decode(response.payload).unwrap();
    assert_eq!(reply.message, "served as application/grpc+proto");
    // Response headers that are not protocol headers come back as attachments.
    assert_eq!(
        response.attachments.get("x-served-by").map(String::as_str),
        Some("fake")
    );
    assert!(!response.attachments.contains_key("content-type"));
    assert!(!response.attachments.contains_key("grpc-status"));
}

#[tokio::test]
async fn plain_grpc_content_type_is_accepted() {
    let addr = fake_server("application/grpc", true).await;
    let reply = GreeterReply::decode(call(addr).await.unwrap().payload).unwrap();
    assert_eq!(reply.message, "served as application/grpc");
}

#[tokio::test]
async fn other_grpc_suffixes_are_accepted() {
    let addr = fake_server("application/grpc+json", true).await;
    assert!(call(addr).await.is_ok());
}

#[tokio::test]
async fn html_is_rejected_with_a_transport_error() {
    let addr = fake_server("text/html; charset=utf-8", false).await;
    let factory = TripleInvokerFactory::new();
    let invoker = factory.create(&greeter_url(addr)).unwrap();
    let err = invoker.invoke(&Invocation::new(greeter::SAY_HELLO)).await.unwrap_err();
    let RpcError::Transport { message, context, .. } = &err else {
        panic!("expected a transport error, got {err:?}");
    };
    assert!(message.contains("text/html"), "{message}");
    assert!(message.contains("application/grpc"), "{message}");
    assert!(context.contains(&addr.to_string()), "{context}");
    assert!(context.contains(greeter::SAY_HELLO), "{context}");
    assert!(!invoker.is_available());
}
