//! Streaming calls of every kind served by `Methods` and called by a plain tonic client;
//! statuses mid-stream, cancellation both ways, deadlines, compression and size limits, all
//! as tonic's machinery implements them inside the Triple server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt, stream};
use http::uri::PathAndQuery;
use prost::Message;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::client::Grpc;
use tonic::transport::Channel;
use zkdubbo_triple::codec::BytesCodec;
use zkdubbo_triple::greeter::{GreeterReply, GreeterRequest};
use zkdubbo_triple::{
    Code, CompressionEncoding, MessageStream, Methods, ServerHandle, Status, TripleServer, TripleServerBuilder,
};

const SERVICE: &str = "org.zkdubbo.tests.Stream";

fn request(name: &str) -> Bytes {
    Bytes::from(GreeterRequest { name: name.into() }.encode_to_vec())
}

fn reply_text(bytes: Bytes) -> String {
    GreeterReply::decode(bytes).unwrap().message
}

fn reply(message: impl Into<String>) -> GreeterReply {
    GreeterReply {
        message: message.into(),
    }
}

/// Fired when the stream of `forever` is dropped by the server (the client went away).
type Sentinel = Arc<Mutex<Option<oneshot::Sender<()>>>>;

fn methods(dropped: Sentinel) -> Methods {
    Methods::new()
        .server_streaming("count", |req: GreeterRequest, _metadata| async move {
            if req.name == "fail" {
                let replies = vec![Ok(reply("0")), Ok(reply("1")), Err(Status::aborted("stopped at 2"))];
                return Ok(stream::iter(replies).boxed());
            }
            let n: u32 = req.name.parse().map_err(|_| Status::invalid_argument("a number"))?;
            Ok(stream::iter((0..n).map(|i| Ok(reply(i.to_string())))).boxed())
        })
        .server_streaming("forever", move |_req: GreeterRequest, _metadata| {
            let dropped = dropped.clone();
            async move {
                let (tx, rx) = mpsc::channel(1);
                tokio::spawn(async move {
                    let mut i = 0u64;
                    loop {
                        tokio::select! {
                            () = tx.closed() => break,
                            sent = tx.send(Ok(reply(i.to_string()))) => if sent.is_err() { break },
                        }
                        i += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    if let Some(fire) = dropped.lock().unwrap().take() {
                        let _ = fire.send(());
                    }
                });
                Ok(ReceiverStream::new(rx))
            }
        })
        .client_streaming(
            "join",
            |mut requests: MessageStream<GreeterRequest>, _metadata| async move {
                let mut names = Vec::new();
                while let Some(req) = requests.next().await {
                    names.push(req?.name);
                }
                Ok(reply(names.join(",")))
            },
        )
        .bidi_streaming(
            "echo",
            |requests: MessageStream<GreeterRequest>, _metadata| async move {
                Ok(requests.map(|req| {
                    let req = req?;
                    if req.name == "stop" {
                        return Err(Status::failed_precondition("told to stop"));
                    }
                    Ok(reply(format!("echo:{}", req.name)))
                }))
            },
        )
        .raw_streaming("raw", |requests: MessageStream<Bytes>, _metadata| async move {
            Ok(requests.map(|r| r.map(|b| Bytes::from([&b[..], &b[..]].concat()))))
        })
}

async fn start(builder: TripleServerBuilder) -> (ServerHandle, oneshot::Receiver<()>, Grpc<Channel>) {
    let (fire, dropped) = oneshot::channel();
    let server = builder
        .service(SERVICE, methods(Arc::new(Mutex::new(Some(fire)))))
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let channel = Channel::from_shared(format!("http://{}", server.local_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    (server, dropped, Grpc::new(channel))
}

fn path(method: &str) -> PathAndQuery {
    PathAndQuery::try_from(format!("/{SERVICE}/{method}")).unwrap()
}

async fn server_stream(grpc: &mut Grpc<Channel>, method: &str, name: &str) -> tonic::Streaming<Bytes> {
    grpc.ready().await.unwrap();
    grpc.server_streaming(tonic::Request::new(request(name)), path(method), BytesCodec)
        .await
        .unwrap()
        .into_inner()
}

/// Every reply of `replies` until its end: the texts, and the status it ended with.
async fn drain(mut replies: impl Stream<Item = Result<Bytes, Status>> + Unpin) -> (Vec<String>, Option<Status>) {
    let mut texts = Vec::new();
    while let Some(item) = replies.next().await {
        match item {
            Ok(bytes) => texts.push(reply_text(bytes)),
            Err(status) => return (texts, Some(status)),
        }
    }
    (texts, None)
}

#[tokio::test]
async fn server_streaming_replies_arrive_in_order() {
    let (server, _, mut grpc) = start(TripleServer::builder()).await;
    let (texts, status) = drain(server_stream(&mut grpc, "count", "20").await).await;
    assert_eq!(texts, (0..20).map(|i| i.to_string()).collect::<Vec<_>>());
    assert!(status.is_none(), "{status:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_status_ends_a_stream_after_the_replies_sent_before_it() {
    let (server, _, mut grpc) = start(TripleServer::builder()).await;
    let (texts, status) = drain(server_stream(&mut grpc, "count", "fail").await).await;
    assert_eq!(texts, ["0", "1"]);
    let status = status.expect("the stream ended with the handler's status");
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(status.message(), "stopped at 2");
    // A status before the stream starts arrives as the call's answer.
    grpc.ready().await.unwrap();
    let err = grpc
        .server_streaming(tonic::Request::new(request("x")), path("count"), BytesCodec)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn client_streaming_gets_one_reply_for_every_request() {
    let (server, _, mut grpc) = start(TripleServer::builder()).await;
    grpc.ready().await.unwrap();
    let requests = stream::iter(["a", "b", "c"].map(request));
    let reply = grpc
        .client_streaming(tonic::Request::new(requests), path("join"), BytesCodec)
        .await
        .unwrap();
    assert_eq!(reply_text(reply.into_inner()), "a,b,c");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bidirectional_replies_come_before_the_requests_end() {
    let (server, _, mut grpc) = start(TripleServer::builder()).await;
    grpc.ready().await.unwrap();
    let (tx, rx) = mpsc::channel(1);
    let mut replies = grpc
        .streaming(tonic::Request::new(ReceiverStream::new(rx)), path("echo"), BytesCodec)
        .await
        .unwrap()
        .into_inner();
    // Each reply is read before the next request is sent: nothing waits for the end.
    for name in ["a", "b", "c"] {
        tx.send(request(name)).await.unwrap();
        let reply = replies.message().await.unwrap().expect("a reply");
        assert_eq!(reply_text(reply), format!("echo:{name}"));
    }
    // The server ends the call while the client could still send: the client gets its status.
    tx.send(request("stop")).await.unwrap();
    let status = replies.message().await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(status.message(), "told to stop");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn raw_streaming_handlers_see_message_bytes() {
    let (server, _, mut grpc) = start(TripleServer::builder()).await;
    grpc.ready().await.unwrap();
    let requests = stream::iter([Bytes::from_static(b"ab"), Bytes::from_static(b"")]);
    let replies = grpc
        .streaming(tonic::Request::new(requests), path("raw"), BytesCodec)
        .await
        .unwrap()
        .into_inner();
    let replies: Vec<Bytes> = replies.map(Result::unwrap).collect().await;
    assert_eq!(replies, [Bytes::from_static(b"abab"), Bytes::new()]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_that_goes_away_drops_the_servers_stream() {
    let (server, dropped, mut grpc) = start(TripleServer::builder()).await;
    let mut replies = server_stream(&mut grpc, "forever", "").await;
    for expected in ["0", "1", "2"] {
        assert_eq!(reply_text(replies.message().await.unwrap().unwrap()), expected);
    }
    drop(replies);
    tokio::time::timeout(Duration::from_secs(10), dropped)
        .await
        .expect("the handler's stream was dropped")
        .unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stream_past_its_grpc_timeout_ends_deadline_exceeded() {
    let (server, dropped, mut grpc) = start(TripleServer::builder()).await;
    grpc.ready().await.unwrap();
    let mut call = tonic::Request::new(request(""));
    call.set_timeout(Duration::from_millis(300));
    let replies = grpc
        .server_streaming(call, path("forever"), BytesCodec)
        .await
        .unwrap()
        .into_inner();
    let (texts, status) = drain(replies).await;
    assert!(!texts.is_empty(), "replies came before the deadline");
    let status = status.expect("ended by the deadline");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(
        status.message().contains("within the call's grpc-timeout"),
        "{status:?}"
    );
    // And the handler's stream is dropped with the call.
    tokio::time::timeout(Duration::from_secs(10), dropped)
        .await
        .expect("the handler's stream was dropped")
        .unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn gzip_and_zstd_streams_both_ways() {
    let (server, _, grpc) = start(TripleServer::builder()).await;
    for encoding in [CompressionEncoding::Gzip, CompressionEncoding::Zstd] {
        let mut grpc = grpc.clone().send_compressed(encoding).accept_compressed(encoding);
        grpc.ready().await.unwrap();
        let long = "z".repeat(10_000);
        let requests = stream::iter([request(&long), request("b")]);
        let response = grpc
            .streaming(tonic::Request::new(requests), path("echo"), BytesCodec)
            .await
            .unwrap();
        let header = response
            .metadata()
            .get("grpc-encoding")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header.as_deref(), Some(encoding.to_string().as_str()), "{encoding}");
        let (texts, status) = drain(response.into_inner()).await;
        assert!(status.is_none(), "{status:?}");
        assert_eq!(texts, [format!("echo:{long}"), "echo:b".to_owned()]);
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_configured_compression_applies_to_clients_that_accept_it() {
    let (server, _, grpc) = start(TripleServer::builder().send_compressed(CompressionEncoding::Zstd)).await;
    for (accepts, expected) in [(true, Some("zstd")), (false, None)] {
        let mut grpc = if accepts {
            grpc.clone().accept_compressed(CompressionEncoding::Zstd)
        } else {
            grpc.clone()
        };
        grpc.ready().await.unwrap();
        let response = grpc
            .server_streaming(tonic::Request::new(request("3")), path("count"), BytesCodec)
            .await
            .unwrap();
        let header = response
            .metadata()
            .get("grpc-encoding")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header.as_deref(), expected, "client accepts zstd: {accepts}");
        assert_eq!(drain(response.into_inner()).await.0, ["0", "1", "2"]);
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused() {
    let (server, _, mut grpc) = start(TripleServer::builder().max_message_size(1_000)).await;
    grpc.ready().await.unwrap();
    let requests = stream::iter([request("small"), request(&"x".repeat(2_000))]);
    let replies = grpc
        .streaming(tonic::Request::new(requests), path("echo"), BytesCodec)
        .await
        .unwrap()
        .into_inner();
    let (texts, status) = drain(replies).await;
    assert_eq!(texts, ["echo:small"]);
    let status = status.expect("the large message ended the call");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(status.message().contains("1000"), "{status:?}");
    server.shutdown().await.unwrap();
}
