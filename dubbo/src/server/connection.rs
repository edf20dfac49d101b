//! One consumer connection: read frames, answer heartbeats, serve calls concurrently, and
//! close on garbage, oversized frames or silence.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use zkdubbo_common::trace::{self, TRACEPARENT, TraceContext};

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use zkdubbo_common::sync::lock;
use zkdubbo_hessian::{Encoder, Limits, Value};

use super::Shared;
use super::service::{Call, exception};
use crate::body::{Request, decode_request, encode_response, supports_attachments};
use crate::frame::{Frame, HEADER_LEN, HESSIAN2, Kind, read_frame};
use crate::generic::{GENERIC_METHOD, generalize};
use crate::status;

pub(super) async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Bytes>(4096);
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    lock(&shared.conns).insert(id, tx.clone());
    let writer = tokio::spawn(crate::io::write_batched(wr, rx));
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let idle = shared.config.heartbeat * 3;
    // Calls of this connection being served.
    let mine = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reason = loop {
        let frame = match tokio::time::timeout(idle, read_frame(&mut rd, shared.config.payload)).await {
            Err(_) => break format!("nothing received for {idle:?} (3 × heartbeat)"),
            Ok(Err(e)) => break format!("bad frame: {e}"),
            Ok(Ok(None)) => break String::new(),
            Ok(Ok(Some(f))) => f,
        };
        match frame.kind {
            Kind::Request { event: true, two_way } => {
                if two_way {
                    let _ = tx.try_send(crate::client::heartbeat_reply(frame.id));
                }
            }
            Kind::Request { two_way, .. } => {
                let bytes = frame.body.len();
                let calls = mine.load(Ordering::Acquire);
                let held = shared.in_flight_bytes.fetch_add(bytes, Ordering::AcqRel) + bytes;
                if calls >= shared.config.max_calls_per_connection || held > shared.config.max_in_flight_bytes {
                    shared.in_flight_bytes.fetch_sub(bytes, Ordering::AcqRel);
                    tracing::warn!(
                        %peer,
                        calls,
                        in_flight_bytes = held - bytes,
                        "dubbo server: at its limit of calls in flight; answering SERVER_THREADPOOL_EXHAUSTED_ERROR"
                    );
                    if two_way {
                        let message = format!(
                            "provider at its limit: {calls} calls in flight on this connection (limit {}), \
                             {held} request bytes held (limit {})",
                            shared.config.max_calls_per_connection, shared.config.max_in_flight_bytes
                        );
                        let _ = tx.try_send(response(
                            frame.id,
                            status::SERVER_THREADPOOL_EXHAUSTED_ERROR,
                            error_body(&message),
                        ));
                    }
                    continue;
                }
                mine.fetch_add(1, Ordering::AcqRel);
                shared.in_flight.fetch_add(1, Ordering::AcqRel);
                let shared = shared.clone();
                let tx = tx.clone();
                let mine = mine.clone();
                tokio::spawn(async move {
                    let reply = handle(&shared, frame, peer).await;
                    if two_way {
                        let _ = tx.send(reply).await;
                    }
                    mine.fetch_sub(1, Ordering::AcqRel);
                    shared.in_flight_bytes.fetch_sub(bytes, Ordering::AcqRel);
                    if shared.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
                        shared.drained.notify_waiters();
                    }
                });
            }
            Kind::Response { .. } => {} // answers to our read-only event or heartbeats
        }
    };
    if !reason.is_empty() {
        tracing::warn!(%peer, reason, "dubbo server: closing the connection");
    }
    lock(&shared.conns).remove(&id);
    drop(tx);
    // Responses of calls still running go out before the socket closes.
    let _ = writer.await;
}

/// Serve one request frame; the response frame's bytes.
async fn handle(shared: &Shared, frame: Frame, peer: SocketAddr) -> Bytes {
    let fail = |st: u8, message: String| {
        tracing::debug!(%peer, status = status::name(st), message, "dubbo server: call refused");
        response(frame.id, st, error_body(&message))
    };
    if frame.serialization != HESSIAN2 {
        return fail(
            status::BAD_REQUEST,
            format!(
                "serialization id {} is not supported: hessian2 (2) only",
                frame.serialization
            ),
        );
    }
    let limits = Limits {
        max_bytes: shared.config.payload,
        ..Limits::default()
    };
    let req = match decode_request(&frame.body, limits) {
        Ok(r) => r,
        Err(e) => return fail(status::BAD_REQUEST, format!("cannot decode the request: {e}")),
    };
    let service = {
        let services = shared.services.read().unwrap_or_else(|e| e.into_inner());
        find_service(&services, &req)
    };
    let Some(service) = service else {
        let mut known: Vec<String> = shared
            .services
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        known.sort();
        return fail(
            status::SERVICE_NOT_FOUND,
            format!(
                "Not found exported service: {} (this provider exports {known:?})",
                req.path
            ),
        );
    };
    let attachments = supports_attachments(&req.dubbo_version)
        .then(|| std::collections::BTreeMap::from([("dubbo".to_owned(), crate::body::DUBBO_VERSION.to_owned())]));
    let (call, generic) = match to_call(req) {
        Ok(c) => c,
        Err(e) => return fail(status::BAD_REQUEST, e),
    };
    // The caller's trace continues in the handler (and in the calls it makes).
    let caller = call.attachments.get(TRACEPARENT).and_then(|v| TraceContext::parse(v));
    let span = tracing::info_span!(
        "zkdubbo.serve",
        service = call.attachments.get("path").map_or("", String::as_str),
        method = %call.method,
        trace_id = tracing::field::Empty,
    );
    let trace = trace::for_serve(&span, caller);
    let outcome = trace::in_trace(
        trace,
        span,
        std::panic::AssertUnwindSafe(service.call(call)).catch_unwind(),
    )
    .await;
    let result = match outcome {
        Ok(r) => r,
        Err(_) => Err(exception(
            "java.lang.RuntimeException",
            "the provider's handler panicked",
        )),
    };
    let result = match result {
        Ok(Some(bytes)) if generic => zkdubbo_hessian::decode(&bytes)
            .and_then(|v| zkdubbo_hessian::encode(&generalize(v)))
            .map(Some)
            .map_err(|e| exception("java.lang.IllegalStateException", e.to_string())),
        other => other,
    };
    let body = match &result {
        Ok(Some(bytes)) => encode_response(Ok(Some(bytes)), attachments.as_ref()),
        Ok(None) => encode_response(Ok(None), attachments.as_ref()),
        Err(e) => encode_response(Err(&e.to_value()), attachments.as_ref()),
    };
    match body {
        Ok(b) => response(frame.id, status::OK, b),
        Err(e) => fail(status::SERVICE_ERROR, format!("cannot encode the result: {e}")),
    }
}

/// The service a request is for: the one exported under its exact service key
/// (`group/interface:version`, from the path, the `group` attachment and the version); else,
/// when exactly one service is exported at that interface whatever its group and version,
/// that one (clients that send no version still reach a lone service). Java insists on the
/// exact key; several versions of one interface on one port are told apart as in Java.
fn find_service(
    services: &std::collections::HashMap<String, std::sync::Arc<dyn super::Service>>,
    req: &Request,
) -> Option<std::sync::Arc<dyn super::Service>> {
    let interface = req
        .attachments
        .get("interface")
        .map_or(req.path.as_str(), String::as_str);
    let group = req.attachments.get("group").map(String::as_str);
    let version = req
        .version
        .as_deref()
        .or_else(|| req.attachments.get("version").map(String::as_str));
    for path in [req.path.as_str(), interface] {
        let key = zkdubbo_common::service_key(path, group, version);
        if let Some(s) = services.get(&key) {
            return Some(s.clone());
        }
    }
    let mut same_interface = services.iter().filter(|(k, _)| {
        let without_group = k.rsplit_once('/').map_or(k.as_str(), |(_, rest)| rest);
        let bare = without_group.split_once(':').map_or(without_group, |(i, _)| i);
        bare == req.path || bare == interface
    });
    match (same_interface.next(), same_interface.next()) {
        (Some((_, s)), None) => Some(s.clone()),
        _ => None,
    }
}

/// The call to serve; a generic `$invoke` is unwrapped into the method it names.
fn to_call(req: Request) -> Result<(Call, bool), String> {
    let generic = (req.method == GENERIC_METHOD || req.method == "$invokeAsync") && req.args.len() == 3;
    if !generic {
        return Ok((
            Call {
                method: req.method,
                types: req.types,
                args: req.args,
                attachments: req.attachments,
            },
            false,
        ));
    }
    let mut args = req.args.into_iter();
    let method = match args.next() {
        Some(Value::String(m)) => m,
        _ => return Err("$invoke: the method name is not a string".into()),
    };
    let types = match args.next() {
        Some(Value::List(l)) => l
            .items
            .into_iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_owned)
                    .ok_or("$invoke: a parameter type is not a string")
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::Null) => Vec::new(),
        _ => return Err("$invoke: the parameter types are not a list".into()),
    };
    let values = match args.next() {
        Some(Value::List(l)) => l.items,
        Some(Value::Null) => Vec::new(),
        _ => return Err("$invoke: the arguments are not a list".into()),
    };
    if values.len() != types.len() {
        return Err(format!("$invoke: {} types for {} arguments", types.len(), values.len()));
    }
    Ok((
        Call {
            method,
            types,
            args: values,
            attachments: req.attachments,
        },
        true,
    ))
}

fn error_body(message: &str) -> Vec<u8> {
    let mut enc = Encoder::new();
    enc.write_str(message);
    enc.into_bytes()
}

fn response(id: i64, st: u8, body: Vec<u8>) -> Bytes {
    let mut b = BytesMut::with_capacity(HEADER_LEN + body.len());
    Frame {
        id,
        kind: Kind::Response {
            status: st,
            event: false,
        },
        serialization: HESSIAN2,
        body: Bytes::new(),
    }
    .put_header(&mut b, body.len());
    b.extend_from_slice(&body);
    b.freeze()
}
