//! The Triple server's bounds: a connection that sends nothing is closed after the handshake
//! timeout, and at its connection limit the server stops accepting until a connection closes.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zkdubbo_common::{Invocation, InvokerFactory, RpcError, Url};
use zkdubbo_triple::{Methods, TripleInvokerFactory, TripleServer};

const ECHO: &str = "com.example.Echo";
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_handshake_timeout() {
    let server = TripleServer::builder()
        .service(ECHO, Methods::new().raw("echo", |r: Bytes, _| async move { Ok(r) }))
        .handshake_timeout(Duration::from_millis(200))
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let mut silent = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf))
        .await
        .expect("the server closed the silent connection");
    assert_eq!(read.unwrap(), 0, "closed, not answered");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn at_its_connection_limit_the_server_stops_accepting_until_one_closes() {
    let server = TripleServer::builder()
        .service(ECHO, Methods::new().raw("echo", |r: Bytes, _| async move { Ok(r) }))
        .max_connections(2)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let addr = server.local_addr();
    // Two connections that sent the HTTP/2 preface and then nothing: both served, both held.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(PREFACE).await.unwrap();
        held.push(c);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.accepted_connections() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the two connections were accepted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // At the limit, a real call is not served (its connection is not accepted).
    let url: Url = format!("tri://{addr}/{ECHO}?timeout=300").parse().unwrap();
    let factory = TripleInvokerFactory::new();
    let invoker = factory.create(&url).unwrap();
    let err = invoker
        .invoke(&Invocation::new("echo").with_payload("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::Timeout { .. }), "{err}");
    assert_eq!(server.accepted_connections(), 2);

    // One closes: the server accepts again and the call goes through.
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match invoker.invoke(&Invocation::new("echo").with_payload("x")).await {
            Ok(r) => {
                assert_eq!(&r.payload[..], b"x");
                break;
            }
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "never served again: {e}"),
        }
    }
    drop(held);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_request_body_that_does_not_arrive_is_answered_deadline_exceeded() {
    let server = TripleServer::builder()
        .service(ECHO, Methods::new().raw("echo", |r: Bytes, _| async move { Ok(r) }))
        .body_timeout(Duration::from_millis(200))
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let (mut client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let request = http::Request::post(format!("http://{}/{ECHO}/echo", server.local_addr()))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    // Headers, then nothing: the body never comes.
    let (response, _body) = client.send_request(request, false).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), response)
        .await
        .expect("answered before the client gave up")
        .unwrap();
    assert_eq!(
        response.headers().get("grpc-status").map(|v| v.as_bytes()),
        Some(&b"4"[..])
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn calls_beyond_the_in_flight_memory_budget_are_refused_at_once() {
    let server = TripleServer::builder()
        .service(
            ECHO,
            Methods::new().raw("echo", |r: Bytes, _| async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok(r)
            }),
        )
        .max_in_flight_bytes(100)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let url: Url = format!("tri://{}/{ECHO}?timeout=5000", server.local_addr())
        .parse()
        .unwrap();
    let invoker = TripleInvokerFactory::new().create(&url).unwrap();
    let call = Invocation::new("echo").with_payload(vec![7u8; 60]);
    let (a, b) = tokio::join!(invoker.invoke(&call), invoker.invoke(&call));
    let results = [a, b];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "one fits the 100-byte budget"
    );
    let err = results.into_iter().find_map(Result::err).unwrap();
    assert_eq!(
        err.remote_status(),
        Some(zkdubbo_common::RemoteStatus::Grpc(8)),
        "{err}"
    );
    assert!(err.to_string().contains("over its budget of 100"), "{err}");
    // Once the first call is done, the budget is free again.
    assert!(invoker.invoke(&call).await.is_ok());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_closed() {
    let server = TripleServer::builder()
        .service(ECHO, Methods::new().raw("echo", |r: Bytes, _| async move { Ok(r) }))
        .keepalive(Duration::from_millis(200), Duration::from_millis(200))
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    // A client that completes the HTTP/2 preface and then never answers anything (frozen).
    let mut frozen = TcpStream::connect(server.local_addr()).await.unwrap();
    frozen.write_all(PREFACE).await.unwrap();
    frozen.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap(); // an empty SETTINGS frame
    // It is closed by the keepalive, long before this bound (without keepalive it stays open).
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), frozen.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "the frozen peer's connection is still open");
    server.shutdown().await.unwrap();
}
