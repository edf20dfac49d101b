//! Client ↔ server over 127.0.0.1: the Greeter sample, raw bytes, attachments, status
//! mapping, timeouts, connection sharing, and what dubbo-python's client sends.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;
use zkdubbo_common::{Invocation, Invoker, InvokerFactory, RemoteStatus, RpcError, Url};
use zkdubbo_triple::greeter::{self, GreeterReply, GreeterRequest};
use zkdubbo_triple::{MetadataMap, Methods, ServerHandle, Status, TripleInvokerFactory, TripleServer, invoke_message};

const ECHO: &str = "com.example.Echo";

/// Greeter plus an `Echo` service: `echo` returns the request, `header` returns the value of
/// the metadata key named by the request, `fail` answers the status code in the request's
/// first byte, `slow` sleeps for the milliseconds given as text.
async fn start_server() -> ServerHandle {
    let echo = Methods::new()
        .raw("echo", |request, _| async move { Ok(request) })
        .raw("header", |request: Bytes, metadata: MetadataMap| async move {
            let key = String::from_utf8_lossy(&request).into_owned();
            let value = metadata
                .get(key.as_str())
                .ok_or_else(|| Status::not_found(format!("no metadata {key}")))?;
            Ok(Bytes::copy_from_slice(value.as_bytes()))
        })
        .raw("fail", |request: Bytes, _| async move {
            let code = request.first().copied().unwrap_or(2);
            Err(Status::new(tonic::Code::from(i32::from(code)), "failed on purpose"))
        })
        .raw("slow", |request: Bytes, _| async move {
            let ms: u64 = String::from_utf8_lossy(&request).parse().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(Bytes::from_static(b"done"))
        });
    TripleServer::builder()
        .service(greeter::INTERFACE, greeter::service())
        .service(ECHO, echo)
        .shutdown_grace(Duration::from_secs(2))
        .bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
        .spawn()
}

fn url(server: &ServerHandle, interface: &str, params: &str) -> Url {
    let sep = if params.is_empty() { "" } else { "?" };
    format!("tri://{}/{interface}{sep}{params}", server.local_addr())
        .parse()
        .expect("valid URL")
}

#[tokio::test]
async fn greeter_end_to_end() {
    let server = start_server().await;
    let factory = TripleInvokerFactory::new();
    let invoker = factory.create_triple(&url(&server, greeter::INTERFACE, "")).unwrap();

    let reply: GreeterReply = invoker
        .call(greeter::SAY_HELLO, &GreeterRequest { name: "world".into() })
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello, world!");

    // Through the trait object and the generic helper, as a cluster invoker would be used.
    let dyn_invoker: &dyn Invoker = &*invoker;
    let reply: GreeterReply = invoke_message(
        dyn_invoker,
        Invocation::new(greeter::SAY_HELLO).with_argument("Dubbo"),
        &GreeterRequest { name: "Dubbo".into() },
    )
    .await
    .unwrap();
    assert_eq!(reply.message, "Hello, Dubbo!");
    assert!(invoker.is_available());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn raw_bytes_call_and_empty_message() {
    let server = start_server().await;
    let factory = TripleInvokerFactory::new();
    let invoker = factory.create(&url(&server, ECHO, "")).unwrap();

    let payload = Bytes::from_static(b"\x00\x01binary\xff");
    let response = invoker
        .invoke(&Invocation::new("echo").with_payload(payload.clone()))
        .await
        .unwrap();
    assert_eq!(response.payload, payload);

    // An empty protobuf message is a zero-length gRPC message, not "no message".
    let response = invoker.invoke(&Invocation::new("echo")).await.unwrap();
    assert!(response.payload.is_empty());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn attachments_arrive_as_metadata() {
    let server = start_server().await;
    let factory = TripleInvokerFactory::new();
    let invoker = factory
        .create(&url(&server, ECHO, "group=blue&version=2.0&application=shop"))
        .unwrap();
    let call = |key: &'static str| {
        Invocation::new("header")
            .with_payload(key)
            .with_attachment("Trace-Id", "t-42")
            .with_attachment("dubbo.tag", "gray")
            .with_attachment("not a header", "dropped")
    };
    let value = |key: &'static str| {
        let invoker = &invoker;
        async move { invoker.invoke(&call(key)).await.map(|r| r.payload) }
    };
    assert_eq!(&value("trace-id").await.unwrap()[..], b"t-42");
    assert_eq!(&value("dubbo.tag").await.unwrap()[..], b"gray");
    assert_eq!(&value("tri-service-group").await.unwrap()[..], b"blue");
    assert_eq!(&value("tri-service-version").await.unwrap()[..], b"2.0");
    assert_eq!(&value("tri-consumer-appname").await.unwrap()[..], b"shop");
    // The call's timeout (default 1000 ms) travels as grpc-timeout.
    assert_eq!(&value("grpc-timeout").await.unwrap()[..], b"1000000u");
    // The invalid key was skipped, and the call still went through.
    let err = value("not a header").await.unwrap_err();
    assert!(err.is_business(), "{err}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn application_errors_are_business_errors() {
    let server = start_server().await;
    let factory = TripleInvokerFactory::new();
    let invoker = factory.create(&url(&server, ECHO, "")).unwrap();
    for (code, name) in [
        (2u8, "UNKNOWN"),
        (3, "INVALID_ARGUMENT"),
        (5, "NOT_FOUND"),
        (13, "INTERNAL"),
    ] {
        let err = invoker
            .invoke(&Invocation::new("fail").with_payload(vec![code]))
            .await
            .unwrap_err();
        let RpcError::Business {
            message,
            context,
            status,
        } = &err
        else {
            panic!("code {code}: expected a business error, got {err:?}");
        };
        // The caller can match on the provider's gRPC code.
        assert_eq!(*status, RemoteStatus::Grpc(i32::from(code)), "{err}");
        assert_eq!(message, &format!("{name}: failed on purpose"));
        assert!(context.contains(ECHO), "{context}");
        assert!(context.contains("method fail"), "{context}");
        assert!(context.contains(&server.local_addr().to_string()), "{context}");
    }
    // The provider itself said UNAVAILABLE: a transport error (another provider may do).
    let err = invoker
        .invoke(&Invocation::new("fail").with_payload(vec![14u8]))
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::Transport { .. }), "{err:?}");

    // Unknown method and unknown service: UNIMPLEMENTED from the server.
    let err = invoker.invoke(&Invocation::new("nope")).await.unwrap_err();
    assert!(
        matches!(&err, RpcError::Business { message, .. } if message.starts_with("UNIMPLEMENTED")),
        "{err:?}"
    );
    let other = factory.create(&url(&server, "com.example.Missing", "")).unwrap();
    let err = other.invoke(&Invocation::new("x")).await.unwrap_err();
    assert!(
        matches!(&err, RpcError::Business { message, .. } if message.contains("not found")),
        "{err:?}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn slow_handler_times_out_with_the_method_timeout() {
    let server = start_server().await;
    let factory = TripleInvokerFactory::new();
    let invoker = factory
        .create(&url(&server, ECHO, "timeout=5000&slow.timeout=200"))
        .unwrap();
    let started = Instant::now();
    let err = invoker
        .invoke(&Invocation::new("slow").with_payload("2000"))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(&err, RpcError::Timeout { context, .. } if context.contains("slow")),
        "{err:?}"
    );
    assert!(elapsed >= Duration::from_millis(190), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    // A timeout says nothing about the connection.
    assert!(invoker.is_available());
    // Within the budget it succeeds.
    let ok = invoker
        .invoke(&Invocation::new("slow").with_payload("10"))
        .await
        .unwrap();
    assert_eq!(&ok.payload[..], b"done");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn default_timeout_is_one_second() {
    let server = start_server().await;
    let factory = TripleInvokerFactory::new();
    let invoker = factory.create(&url(&server, ECHO, "")).unwrap();
    let started = Instant::now();
    let err = invoker
        .invoke(&Invocation::new("slow").with_payload("3000"))
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::Timeout { .. }), "{err:?}");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(950) && elapsed < Duration::from_millis(2500),
        "{elapsed:?}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn server_gone_is_a_transport_error_and_recovery_is_noticed() {
    let server = start_server().await;
    let addr = server.local_addr();
    let factory = TripleInvokerFactory::with_config(zkdubbo_triple::TripleConfig {
        probe_interval: Duration::from_millis(50),
        max_probe_interval: Duration::from_millis(100),
        ..Default::default()
    });
    let invoker = factory.create(&url(&server, ECHO, "")).unwrap();
    invoker.invoke(&Invocation::new("echo")).await.unwrap();
    server.shutdown().await.unwrap();

    let err = invoker.invoke(&Invocation::new("echo")).await.unwrap_err();
    let RpcError::Transport { message, context, .. } = &err else {
        panic!("expected a transport error, got {err:?}");
    };
    assert!(context.contains(&addr.to_string()), "{context}");
    assert!(!message.is_empty());
    assert!(!invoker.is_available());

    // The provider comes back on the same address: the probe notices, calls work again.
    let server = TripleServer::builder()
        .service(ECHO, Methods::new().raw("echo", |r, _| async move { Ok(r) }))
        .bind(addr)
        .await
        .expect("rebind the same port")
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !invoker.is_available() {
        assert!(Instant::now() < deadline, "provider never became available again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let response = invoker
        .invoke(&Invocation::new("echo").with_payload("back"))
        .await
        .unwrap();
    assert_eq!(&response.payload[..], b"back");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn nothing_listening_is_a_transport_error() {
    // Bind then drop a listener to get a port where nothing listens.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let factory = TripleInvokerFactory::new();
    let url: Url = format!("tri://{addr}/{ECHO}").parse().unwrap();
    let invoker = factory.create(&url).unwrap();
    assert!(invoker.is_available(), "optimistic until a call fails");
    let err = invoker.invoke(&Invocation::new("echo")).await.unwrap_err();
    assert!(matches!(err, RpcError::Transport { .. }), "{err:?}");
    assert!(!invoker.is_available());
}

#[tokio::test]
async fn one_connection_per_identity_shared_across_invokers() {
    let server = start_server().await;
    let factory = TripleInvokerFactory::new();
    // Same identity, different parameters (as after a provider parameter change).
    let a = factory.create(&url(&server, ECHO, "weight=100")).unwrap();
    let b = factory.create(&url(&server, ECHO, "weight=200&timeout=3000")).unwrap();
    assert_eq!(factory.connection_count(), 1);
    for invoker in [&a, &b, &a, &b] {
        invoker.invoke(&Invocation::new("echo")).await.unwrap();
    }
    assert_eq!(server.accepted_connections(), 1);

    // A snapshot change: the new invoker is created, then the old one destroyed.
    a.destroy();
    let c = factory.create(&url(&server, ECHO, "weight=300")).unwrap();
    b.destroy();
    c.invoke(&Invocation::new("echo")).await.unwrap();
    assert_eq!(server.accepted_connections(), 1);
    assert_eq!(factory.connection_count(), 1);

    // A destroyed invoker refuses calls.
    let err = a.invoke(&Invocation::new("echo")).await.unwrap_err();
    assert!(matches!(err, RpcError::Transport { .. }), "{err:?}");

    // The last invoker gone closes the connection; a new invoker opens a new one.
    c.destroy();
    assert_eq!(factory.connection_count(), 0);
    let d = factory.create(&url(&server, ECHO, "")).unwrap();
    d.invoke(&Invocation::new("echo")).await.unwrap();
    assert_eq!(server.accepted_connections(), 2);

    // Another factory does not share.
    let other = TripleInvokerFactory::new();
    let e = other.create(&url(&server, ECHO, "")).unwrap();
    e.invoke(&Invocation::new("echo")).await.unwrap();
    assert_eq!(server.accepted_connections(), 3);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn concurrent_calls_share_the_connection() {
    let server = start_server().await;
    let factory = TripleInvokerFactory::new();
    let invoker = factory.create(&url(&server, greeter::INTERFACE, "")).unwrap();
    let calls = (0..50).map(|i| {
        let invoker = invoker.clone();
        async move {
            let request = GreeterRequest { name: format!("n{i}") };
            let reply: GreeterReply = invoke_message(&*invoker, Invocation::new(greeter::SAY_HELLO), &request)
                .await
                .unwrap();
            assert_eq!(reply.message, format!("Hello, n{i}!"));
        }
    });
    futures::future::join_all(calls).await;
    assert_eq!(server.accepted_connections(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_lets_the_call_in_flight_finish() {
    let entered = std::sync::Arc::new(tokio::sync::Notify::new());
    let server = {
        let entered = std::sync::Arc::clone(&entered);
        TripleServer::builder()
            .service(
                ECHO,
                Methods::new().raw("slow", move |_, _| {
                    let entered = std::sync::Arc::clone(&entered);
                    async move {
                        entered.notify_one();
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        Ok(Bytes::from_static(b"done"))
                    }
                }),
            )
            .bind("127.0.0.1:0")
            .await
            .unwrap()
            .spawn()
    };
    let factory = TripleInvokerFactory::new();
    let invoker = factory.create(&url(&server, ECHO, "timeout=5000")).unwrap();
    let call = {
        let invoker = invoker.clone();
        tokio::spawn(async move { invoker.invoke(&Invocation::new("slow")).await })
    };
    entered.notified().await;
    server.shutdown().await.unwrap();
    let response = call.await.unwrap().unwrap();
    assert_eq!(&response.payload[..], b"done");
}

/// What dubbo-python's client does: the request message, then an empty DATA frame that ends
/// the stream. Also a zero-length gRPC message frame after the request.
#[tokio::test]
async fn trailing_empty_data_frame_and_empty_grpc_frame_are_tolerated() {
    let server = start_server().await;
    let tcp = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let message = GreeterRequest { name: "python".into() }.encode_to_vec();
    let request_frame = common::frame(&message);

    for extra_grpc_frame in [false, true] {
        let mut client = client.clone().ready().await.unwrap();
        let request = http::Request::post(format!(
            "http://{}/{}/{}",
            server.local_addr(),
            greeter::INTERFACE,
            greeter::SAY_HELLO
        ))
        .header("content-type", "application/grpc+proto")
        .header("te", "trailers")
        .body(())
        .unwrap();
        let (response, mut stream) = client.send_request(request, false).unwrap();
        stream.send_data(request_frame.clone(), false).unwrap();
        if extra_grpc_frame {
            stream.send_data(common::frame(b""), false).unwrap();
        }
        stream.send_data(Bytes::new(), true).unwrap();

        let response = response.await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/grpc+proto");
        let mut body = response.into_body();
        let mut data = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        let trailers = body.trailers().await.unwrap().expect("trailers");
        assert_eq!(trailers["grpc-status"], "0");
        assert_eq!(&data[..5], &[0, 0, 0, 0, (data.len() - 5) as u8]);
        let reply = GreeterReply::decode(&data[5..]).unwrap();
        assert_eq!(reply.message, "Hello, python!");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn server_answers_errors_trailers_only_with_its_content_type() {
    let server = start_server().await;
    let tcp = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!("http://{}/no.Such/method", server.local_addr()))
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let (response, _stream) = client.send_request(request, true).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/grpc+proto");
    assert_eq!(response.headers()["grpc-status"], "12");
    assert!(response.body().is_end_stream());

    // Not gRPC at all: plain HTTP 415.
    let request = http::Request::post(format!("http://{}/no.Such/method", server.local_addr()))
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (response, _stream) = client.send_request(request, true).unwrap();
    assert_eq!(response.await.unwrap().status(), 415);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn server_enforces_the_grpc_timeout_it_receives() {
    let server = start_server().await;
    let tcp = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!("http://{}/{ECHO}/slow", server.local_addr()))
        .header("content-type", "application/grpc")
        .header("grpc-timeout", "100m")
        .body(())
        .unwrap();
    let started = Instant::now();
    let (response, mut stream) = client.send_request(request, false).unwrap();
    stream.send_data(common::frame(b"5000"), true).unwrap();
    let response = response.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(response.headers()["grpc-status"], "4");
    server.shutdown().await.unwrap();
}

/// A `timeout` that is not a number of milliseconds in range (`1e99`, `abc`) is refused for
/// the default 1000 ms (docs/LIMITS.md), which travels as `grpc-timeout`; a valid one is used.
#[tokio::test]
async fn an_unusable_timeout_is_refused_for_the_default() {
    let server = start_server().await;
    let factory = TripleInvokerFactory::new();
    for (params, expected) in [
        ("timeout=1e99", &b"1000000u"[..]),
        ("timeout=abc", &b"1000000u"[..]),
        ("timeout=99999999999", &b"1000000u"[..]),
        ("timeout=250", &b"250000u"[..]),
    ] {
        let invoker = factory.create(&url(&server, ECHO, params)).unwrap();
        let sent = invoker
            .invoke(&Invocation::new("header").with_payload("grpc-timeout"))
            .await
            .unwrap();
        assert_eq!(&sent.payload[..], expected, "{params}");
    }
    server.shutdown().await.unwrap();
}
