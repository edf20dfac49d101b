//! The dubbo:// client and server against each other over real sockets: typed and generic
//! calls, exceptions, heartbeats, a frozen provider, garbage on the wire, graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zkdubbo_common::{InvokerFactory, RpcError, Url};
use zkdubbo_dubbo::demo::{self, User};
use zkdubbo_dubbo::hessian::{Map, Value};
use zkdubbo_dubbo::{DubboInvokerFactory, DubboMethods, DubboServer, ServerConfig};

/// Dubbo's DemoService, and a method that takes as long as it is told.
fn demo() -> DubboMethods {
    demo::service().method("slow", &["long"], |(ms,): (i64,)| async move {
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
        Ok(ms)
    })
}

async fn serve(config: ServerConfig) -> zkdubbo_dubbo::DubboServerHandle {
    DubboServer::builder()
        .service(demo::INTERFACE, demo())
        .config(config)
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .spawn()
}

fn url(port: u16, extra: &str) -> Url {
    format!("dubbo://127.0.0.1:{port}/org.apache.dubbo.samples.DemoService?serialization=hessian2&timeout=3000{extra}")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn typed_generic_and_exceptional_calls() {
    let server = serve(ServerConfig::default()).await;
    let factory = DubboInvokerFactory::new();
    let inv = factory.create(&url(server.local_addr().port(), "")).unwrap();

    let r = inv
        .invoke(&zkdubbo_dubbo::invocation("sayHello", &["java.lang.String"], &("Bob",)).unwrap())
        .await
        .unwrap();
    assert_eq!(zkdubbo_dubbo::reply::<String>(&r).unwrap(), "Hello, Bob!");
    assert_eq!(r.protocol, Some("dubbo"));
    assert_eq!(r.attachments.get("dubbo").map(String::as_str), Some("2.0.2"));

    let r = inv
        .invoke(&zkdubbo_dubbo::invocation("add", &["int", "int"], &(2, 40)).unwrap())
        .await
        .unwrap();
    assert_eq!(zkdubbo_dubbo::reply::<i32>(&r).unwrap(), 42);

    let list = Value::List(zkdubbo_dubbo::hessian::List::untyped(vec![1.into(), "x".into()]));
    let r = inv
        .invoke(&zkdubbo_dubbo::value_invocation("echo", &["java.lang.Object"], std::slice::from_ref(&list)).unwrap())
        .await
        .unwrap();
    assert_eq!(zkdubbo_dubbo::reply_value(&r).unwrap(), list);

    let r = inv
        .invoke(&zkdubbo_dubbo::invocation("getUser", &["java.lang.String"], &("Ada",)).unwrap())
        .await
        .unwrap();
    assert_eq!(zkdubbo_dubbo::reply::<User>(&r).unwrap().age, 36);

    // A remote exception: business error with the Java class and message.
    let err = inv
        .invoke(&zkdubbo_dubbo::invocation("getUser", &["java.lang.String"], &("",)).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_business(), "{err}");
    assert!(
        err.to_string()
            .contains("java.lang.IllegalArgumentException: the name is empty"),
        "{err}"
    );

    // An unknown overload names what the service has.
    let err = inv
        .invoke(&zkdubbo_dubbo::invocation("add", &["long", "long"], &(1i64, 2i64)).unwrap())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("NoSuchMethodException: no method add(JJ)"),
        "{err}"
    );

    // Generic: a POJO comes back as a map with its class.
    let g = zkdubbo_dubbo::generic_invocation("getUser", &["java.lang.String"], vec!["Ada".into()]).unwrap();
    let v = zkdubbo_dubbo::reply_value(&inv.invoke(&g).await.unwrap()).unwrap();
    let Value::Map(Map { entries, .. }) = v else {
        panic!("{v:?}")
    };
    assert_eq!(entries[0], ("class".into(), "com.example.User".into()));
    assert!(entries.contains(&("age".into(), Value::Int(36))));
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn many_calls_in_flight_share_one_connection() {
    let server = serve(ServerConfig::default()).await;
    let factory = DubboInvokerFactory::new();
    let inv = factory.create(&url(server.local_addr().port(), "")).unwrap();
    let calls = (0..200).map(|i| {
        let inv = inv.clone();
        async move {
            let call = zkdubbo_dubbo::invocation("add", &["int", "int"], &(i, 1)).unwrap();
            zkdubbo_dubbo::reply::<i32>(&inv.invoke(&call).await.unwrap()).unwrap()
        }
    });
    let sums = futures::future::join_all(calls).await;
    assert_eq!(sums, (1..=200).collect::<Vec<_>>());
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn timeouts_are_typed_and_the_connection_survives() {
    let server = serve(ServerConfig::default()).await;
    let factory = DubboInvokerFactory::new();
    let inv = factory
        .create(&url(server.local_addr().port(), "&slow.timeout=100"))
        .unwrap();
    let err = inv
        .invoke(&zkdubbo_dubbo::invocation("slow", &["long"], &(2000i64,)).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::Timeout { .. }), "{err}");
    let r = inv
        .invoke(&zkdubbo_dubbo::invocation("slow", &["long"], &(1i64,)).unwrap())
        .await
        .unwrap();
    assert_eq!(zkdubbo_dubbo::reply::<i64>(&r).unwrap(), 1);
    server.shutdown(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn heartbeats_keep_an_idle_connection_and_detect_a_frozen_provider() {
    // A provider that accepts, then never reads nor answers: frozen.
    let frozen = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = frozen.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let (s, _) = frozen.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(s);
    });
    let factory = DubboInvokerFactory::new();
    let inv = factory.create(&url(port, "&heartbeat=100&timeout=20000")).unwrap();
    let started = std::time::Instant::now();
    let err = inv
        .invoke(&zkdubbo_dubbo::invocation("add", &["int", "int"], &(1, 2)).unwrap())
        .await
        .unwrap_err();
    // Failed by the heartbeat (3 × 100 ms of silence), long before the 20 s call timeout.
    assert!(matches!(err, RpcError::Transport { .. }), "{err}");
    assert!(err.to_string().contains("3 × heartbeat"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    hold.abort();

    // A live provider answers heartbeats: a connection idle for 10 × heartbeat still works.
    let server = serve(ServerConfig {
        heartbeat: Duration::from_millis(100),
        ..ServerConfig::default()
    })
    .await;
    let inv = factory
        .create(&url(server.local_addr().port(), "&heartbeat=100"))
        .unwrap();
    let call = zkdubbo_dubbo::invocation("add", &["int", "int"], &(1, 2)).unwrap();
    inv.invoke(&call).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(inv.is_available());
    assert_eq!(
        zkdubbo_dubbo::reply::<i32>(&inv.invoke(&call).await.unwrap()).unwrap(),
        3
    );
    server.shutdown(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn garbage_closes_only_its_own_connection() {
    let server = serve(ServerConfig::default()).await;
    let addr = server.local_addr();
    let factory = DubboInvokerFactory::new();
    let inv = factory.create(&url(addr.port(), "")).unwrap();
    let call = zkdubbo_dubbo::invocation("add", &["int", "int"], &(1, 2)).unwrap();
    inv.invoke(&call).await.unwrap();

    for garbage in [
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        // A header announcing a 2 GiB body.
        vec![0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff],
    ] {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(&garbage).await.unwrap();
        let mut buf = Vec::new();
        // The server closes it.
        let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0);
    }
    // A well-framed request whose body is not Hessian: BAD_REQUEST, connection kept.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 2, 0x40, 0x40])
        .await
        .unwrap();
    let mut head = [0u8; 16];
    s.read_exact(&mut head).await.unwrap();
    assert_eq!(head[3], zkdubbo_dubbo::status::BAD_REQUEST);
    // The first consumer never noticed.
    assert_eq!(
        zkdubbo_dubbo::reply::<i32>(&inv.invoke(&call).await.unwrap()).unwrap(),
        3
    );
    server.shutdown(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_calls_in_flight_and_marks_read_only() {
    let server = serve(ServerConfig::default()).await;
    let factory = DubboInvokerFactory::new();
    let inv = factory.create(&url(server.local_addr().port(), "")).unwrap();
    let slow = {
        let inv = inv.clone();
        tokio::spawn(async move {
            let call = zkdubbo_dubbo::invocation("slow", &["long"], &(300i64,)).unwrap();
            inv.invoke(&call)
                .await
                .map(|r| zkdubbo_dubbo::reply::<i64>(&r).unwrap())
        })
    };
    let sentinel = Arc::new(tokio::sync::Notify::new());
    // Wait until the server runs the slow call.
    while server.in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    let stop = tokio::spawn({
        let s = sentinel.clone();
        async move {
            server.shutdown(Duration::from_secs(5)).await;
            s.notify_one();
        }
    });
    assert_eq!(slow.await.unwrap().unwrap(), 300, "the call in flight finished");
    sentinel.notified().await;
    stop.await.unwrap();
    // The provider is gone: a new call fails as retryable (failover tries another).
    let err = inv
        .invoke(&zkdubbo_dubbo::invocation("add", &["int", "int"], &(1, 2)).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn a_read_only_provider_is_not_picked_and_gets_no_new_call() {
    // A provider that answers the first call, then announces read-only and keeps the
    // connection open, counting the requests it receives after that.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (count_tx, mut count_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut head = [0u8; 16];
        let mut seen = 0usize;
        loop {
            if s.read_exact(&mut head).await.is_err() {
                return;
            }
            let len = u32::from_be_bytes(head[12..16].try_into().unwrap()) as usize;
            let mut body = vec![0u8; len];
            s.read_exact(&mut body).await.unwrap();
            seen += 1;
            let _ = count_tx.send(seen);
            if seen == 1 {
                // Answer 3 (flag 1, int 3), then the read-only event "R".
                let mut reply = vec![0xda, 0xbb, 0x02, 20];
                reply.extend_from_slice(&head[4..12]);
                reply.extend_from_slice(&[0, 0, 0, 2, 0x91, 0x93]);
                reply.extend_from_slice(&[0xda, 0xbb, 0xa2, 0, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 0, 2, 0x01, b'R']);
                s.write_all(&reply).await.unwrap();
            }
        }
    });
    let factory = DubboInvokerFactory::new();
    let inv = factory.create(&url(port, "")).unwrap();
    let call = zkdubbo_dubbo::invocation("add", &["int", "int"], &(1, 2)).unwrap();
    assert_eq!(
        zkdubbo_dubbo::reply::<i32>(&inv.invoke(&call).await.unwrap()).unwrap(),
        3
    );
    assert_eq!(count_rx.recv().await, Some(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while inv.is_available() {
        assert!(
            std::time::Instant::now() < deadline,
            "the read-only event was not noticed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let err = inv.invoke(&call).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("read-only"), "{err}");
    // Sentinel: a heartbeat-free, call-free connection; nothing reached the provider.
    assert!(count_rx.try_recv().is_err());
}

#[tokio::test]
async fn calls_beyond_the_limit_are_refused_as_overload_not_queued() {
    let server = serve(ServerConfig {
        max_calls_per_connection: 4,
        ..ServerConfig::default()
    })
    .await;
    let factory = DubboInvokerFactory::new();
    let inv = factory.create(&url(server.local_addr().port(), "")).unwrap();
    let slow = zkdubbo_dubbo::invocation("slow", &["long"], &(300i64,)).unwrap();
    let calls = (0..10).map(|_| {
        let (inv, slow) = (inv.clone(), slow.clone());
        async move { inv.invoke(&slow).await }
    });
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(ok, 4, "the limit's worth served");
    assert_eq!(refused.len(), 6);
    for e in refused {
        // Dubbo's overload status: a transport error, retried elsewhere by failover.
        assert!(e.is_retryable(), "{e}");
        assert!(e.to_string().contains("SERVER_THREADPOOL_EXHAUSTED_ERROR"), "{e}");
    }
    server.shutdown(Duration::from_millis(10)).await;
}
