//! [`DubboInvoker`]: one call to one provider over its shared connection.

use std::sync::Arc;
use std::time::Duration;
use zkdubbo_common::trace::{TRACEPARENT, TraceContext};

use bytes::{Bytes, BytesMut};
use zkdubbo_common::limits;
use zkdubbo_common::{Invocation, InvokeFuture, Invoker, RemoteStatus, Response, RpcError, Url};
use zkdubbo_hessian::{JavaException, Limits};

use super::endpoint::Endpoint;
use crate::body::{Outcome, decode_response, encode_request};
use crate::frame::{Frame, HEADER_LEN, HESSIAN2, Kind};
use crate::{PROTOCOL, status};

/// Calls one dubbo:// provider.
#[derive(Debug)]
pub struct DubboInvoker {
    url: Url,
    endpoint: Arc<Endpoint>,
    default_timeout: Duration,
    interface: String,
    path: String,
}

impl DubboInvoker {
    pub(crate) fn new(url: Url, endpoint: Arc<Endpoint>, default_timeout: Duration) -> Self {
        let interface = url.param("interface").unwrap_or(url.path()).to_owned();
        let path = url.path().to_owned();
        DubboInvoker {
            url,
            endpoint,
            default_timeout,
            interface,
            path,
        }
    }

    async fn call(&self, inv: &Invocation) -> Result<Response, RpcError> {
        let method = inv.method();
        let context = || {
            format!(
                "service {}, method {method}, provider {}",
                self.interface,
                self.endpoint.address()
            )
        };
        let Some(args) = inv.payload_for(PROTOCOL) else {
            return Err(RpcError::codec(
                format!(
                    "the call carries arguments for {} only, not Hessian2 for dubbo://",
                    inv.encodings().collect::<Vec<_>>().join(", ")
                ),
                context(),
            ));
        };
        let timeout_ms = match limits::TIMEOUT.read(&self.url, method) as u64 {
            0 => self.default_timeout.as_millis() as u64,
            ms => ms,
        };
        let version = self.url.param("version").filter(|v| !v.is_empty());
        let timeout = timeout_ms.to_string();
        let group = self.url.param("group").filter(|g| !g.is_empty());
        let trace = TraceContext::current().map(|t| t.to_string());
        // What Java sends, and the call's trace context; the call's own attachments come last
        // and so win.
        let fixed = [
            Some(("path", self.path.as_str())),
            Some(("interface", self.interface.as_str())),
            version.map(|v| ("version", v)),
            group.map(|g| ("group", g)),
            Some(("timeout", timeout.as_str())),
            trace.as_deref().map(|t| (TRACEPARENT, t)),
        ];
        let attachments = fixed
            .into_iter()
            .flatten()
            .chain(inv.attachments().iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let body = encode_request(&self.path, version, method, args, attachments);
        let id = crate::client::next_id();
        let mut frame = BytesMut::with_capacity(HEADER_LEN + body.len());
        Frame {
            id,
            kind: Kind::Request {
                two_way: true,
                event: false,
            },
            serialization: HESSIAN2,
            body: Bytes::new(),
        }
        .put_header(&mut frame, body.len());
        frame.extend_from_slice(&body);

        let conn = self
            .endpoint
            .connection()
            .await
            .map_err(|e| RpcError::transport(e, context()))?;
        if conn.is_read_only() {
            return Err(RpcError::transport(
                "the provider is shutting down (it sent the read-only event)",
                context(),
            ));
        }
        let reply = match conn
            .request(id, frame.freeze(), Duration::from_millis(timeout_ms))
            .await
        {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => return Err(RpcError::transport(e, context())),
            Err(()) => {
                return Err(RpcError::timeout(
                    format!("no answer within {timeout_ms} ms"),
                    context(),
                ));
            }
        };
        let Kind::Response { status: st, .. } = reply.kind else {
            return Err(RpcError::codec("a request where a response was expected", context()));
        };
        if st != status::OK {
            let message = zkdubbo_hessian::decode(&reply.body)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let message = format!("{} ({st}): {message}", status::name(st));
            return Err(match st {
                status::CLIENT_TIMEOUT | status::SERVER_TIMEOUT => RpcError::timeout(message, context()),
                status::CHANNEL_INACTIVE | status::SERVER_THREADPOOL_EXHAUSTED_ERROR => {
                    RpcError::transport(message, context())
                }
                _ => RpcError::remote(RemoteStatus::Dubbo(st), message, context()),
            });
        }
        let (outcome, attachments) =
            decode_response(&reply.body, Limits::default()).map_err(|e| RpcError::codec(e, context()))?;
        match outcome {
            Outcome::Value(payload) => Ok(Response {
                payload,
                attachments,
                protocol: Some(PROTOCOL),
            }),
            Outcome::Exception(v) => {
                let text = JavaException::from_value(&v, std::slice::from_ref(&v))
                    .map_or_else(|| format!("an exception that is a {}", v.kind()), |e| e.to_string());
                Err(RpcError::remote(RemoteStatus::Dubbo(status::OK), text, context()))
            }
        }
    }
}

impl Invoker for DubboInvoker {
    fn url(&self) -> &Url {
        &self.url
    }

    fn is_available(&self) -> bool {
        self.endpoint.is_available()
    }

    fn invoke<'a>(&'a self, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(self.call(inv))
    }
}
