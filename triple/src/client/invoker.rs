//! The invoker of one Triple provider: a unary gRPC call per invocation, attachments as
//! metadata.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use zkdubbo_common::trace::{TRACEPARENT, TraceContext};

use prost::Message;
use tonic::Status;
use tonic::client::Grpc;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{AsciiMetadataValue, BinaryMetadataValue, KeyAndValueRef, MetadataKey, MetadataMap};
use zkdubbo_common::{Invocation, Url};
use zkdubbo_common::{InvokeFuture, Invoker, Response, RpcError};

use super::*;
use crate::codec::BytesCodec;

/// An [`Invoker`] for one Triple provider; see the [crate docs](crate).
pub struct TripleInvoker {
    pub(crate) url: Url,
    pub(crate) connection: Arc<Connection>,
    pub(crate) pool: Weak<Pool>,
    pub(crate) released: AtomicBool,
    /// What calls take from `url`, computed once.
    pub(crate) prepared: Prepared,
}

impl fmt::Debug for TripleInvoker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TripleInvoker")
            .field("url", &self.url.to_string())
            .field("available", &self.is_available())
            .finish()
    }
}

impl TripleInvoker {
    /// Call `method` with a prost message and decode the reply as `Resp`.
    ///
    /// A reply that cannot be decoded is a [`RpcError::Codec`] error (the provider did run
    /// the call, so it must not be retried blindly).
    pub async fn call<Req, Resp>(&self, method: &str, request: &Req) -> Result<Resp, RpcError>
    where
        Req: Message,
        Resp: Message + Default,
    {
        invoke_message(self, Invocation::new(method), request).await
    }

    /// The `host:port` this invoker sends to.
    pub fn address(&self) -> &str {
        &self.connection.address
    }

    pub(crate) fn release(&self) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(pool) = self.pool.upgrade() {
            pool.release(&self.connection);
        } else {
            self.connection.close();
        }
    }

    pub(crate) fn context(&self, method: &str) -> String {
        format!(
            "service {}, method {method}, provider {}",
            self.url.interface(),
            self.connection.address
        )
    }

    pub(crate) async fn call_bytes(&self, inv: &Invocation) -> Result<Response, RpcError> {
        let method = inv.method();
        let context = || self.context(method);
        let transport = |message: String| RpcError::transport(message, context());
        if self.released.load(Ordering::Acquire) {
            return Err(transport("the invoker was destroyed".into()));
        }
        let Some(channel) = self.connection.channel() else {
            return Err(transport("the connection was closed".into()));
        };
        // Bounded (docs/LIMITS.md): `timeout=1e99` or `abc` is refused with a warning.
        let MethodCall {
            path,
            timeout_ms,
            grpc_timeout,
        } = self.prepared.method(&self.url, method).map_err(transport)?;
        let timeout = Duration::from_millis(timeout_ms);

        let Some(payload) = inv.payload_for(crate::PROTOCOL) else {
            return Err(RpcError::codec(
                format!(
                    "the call carries arguments for {} only, not for Triple",
                    inv.encodings().collect::<Vec<_>>().join(", ")
                ),
                context(),
            ));
        };
        let mut request = tonic::Request::new(payload.clone());
        self.fill_metadata(request.metadata_mut(), inv.attachments());
        // What `set_timeout` would send, formatted once per method.
        request.metadata_mut().insert("grpc-timeout", grpc_timeout);

        let mut grpc = Grpc::new(CheckContentType { inner: channel })
            .max_decoding_message_size(self.connection.config.max_message_size)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd);
        if let Some(encoding) = self.prepared.send_encoding {
            grpc = grpc.send_compressed(encoding);
        }
        let call = async {
            grpc.ready().await.map_err(Status::from_error)?;
            grpc.unary(request, path, BytesCodec).await
        };
        tracing::trace!(provider = %self.connection.identity, method, ?timeout, "triple call");
        let result = match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => {
                return Err(RpcError::timeout(
                    format!("no answer within {timeout_ms} ms"),
                    context(),
                ));
            }
        };
        match result {
            Ok(response) => {
                self.connection.mark_available();
                let attachments = response_attachments(response.metadata());
                Ok(Response {
                    payload: response.into_inner(),
                    attachments,
                    protocol: Some(crate::PROTOCOL),
                })
            }
            Err(status) => {
                let error = map_status(&status, timeout_ms, context());
                match &error {
                    RpcError::Transport { .. } => self.connection.mark_unavailable(),
                    RpcError::Business { .. } => self.connection.mark_available(),
                    _ => {}
                }
                tracing::debug!(provider = %self.connection.identity, method, %error, "triple call failed");
                Err(error)
            }
        }
    }

    /// Attachments as metadata (keys lower-cased, invalid ones skipped), plus the headers Dubbo
    /// 3 providers use to find the exported service's group and version.
    pub(crate) fn fill_metadata(&self, metadata: &mut MetadataMap, attachments: &BTreeMap<String, String>) {
        self.prepared.add_headers(metadata);
        // The call's trace context, unless the caller set one.
        if let Some(trace) = TraceContext::current()
            && !attachments.contains_key(TRACEPARENT)
        {
            // Unique to this call: indexed by HPACK, it would only evict what every call repeats.
            if let Ok(mut value) = AsciiMetadataValue::try_from(&trace.to_bytes()[..]) {
                value.set_sensitive(true);
                metadata.insert(TRACEPARENT, value);
            }
        }
        for (key, value) in attachments {
            insert_metadata(metadata, &key.to_ascii_lowercase(), value);
        }
    }
}

pub(crate) fn insert_metadata(metadata: &mut MetadataMap, key: &str, value: &str) {
    if key.ends_with("-bin") {
        match MetadataKey::from_bytes(key.as_bytes()) {
            Ok(k) => {
                metadata.insert_bin(k, BinaryMetadataValue::from_bytes(value.as_bytes()));
            }
            Err(_) => tracing::debug!(key, "attachment key is not a valid header name; not sent"),
        }
        return;
    }
    let Ok(k) = MetadataKey::from_bytes(key.as_bytes()) else {
        tracing::debug!(key, "attachment key is not a valid header name; not sent");
        return;
    };
    match AsciiMetadataValue::try_from(value) {
        Ok(v) => {
            metadata.insert(k, v);
        }
        Err(_) => tracing::debug!(key, "attachment value is not a valid header value; not sent"),
    }
}

/// Response headers and trailers that belong to the protocol, not to the application.
pub(crate) const PROTOCOL_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "date",
    "server",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "grpc-accept-encoding",
];

pub(crate) fn response_attachments(metadata: &MetadataMap) -> BTreeMap<String, String> {
    metadata
        .iter()
        .filter_map(|entry| match entry {
            KeyAndValueRef::Ascii(key, value) if !PROTOCOL_HEADERS.contains(&key.as_str()) => {
                Some((key.as_str(), value.to_str().ok()?))
            }
            _ => None,
        })
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

impl Invoker for TripleInvoker {
    fn url(&self) -> &Url {
        &self.url
    }

    fn is_available(&self) -> bool {
        !self.released.load(Ordering::Acquire) && self.connection.is_available()
    }

    fn destroy(&self) {
        self.release();
    }

    fn invoke<'a>(&'a self, inv: &'a Invocation) -> InvokeFuture<'a> {
        Box::pin(self.call_bytes(inv))
    }
}

impl Drop for TripleInvoker {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        s.parse().unwrap()
    }

    #[test]
    fn attachments_become_metadata() {
        let factory = TripleInvokerFactory::new();
        let invoker = factory
            .create_triple(&url(
                "tri://10.0.0.1:50051/com.foo.Bar?group=g1&version=1.0&application=app",
            ))
            .unwrap();
        let mut metadata = MetadataMap::new();
        let attachments: BTreeMap<String, String> = [
            ("Trace-Id", "abc"),
            ("bad key", "x"),
            ("bad-value", "line\nbreak"),
            ("blob-bin", "raw"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        invoker.fill_metadata(&mut metadata, &attachments);
        assert_eq!(metadata.get("trace-id").unwrap(), "abc");
        assert_eq!(metadata.get("tri-service-group").unwrap(), "g1");
        assert_eq!(metadata.get("tri-service-version").unwrap(), "1.0");
        assert_eq!(metadata.get("tri-consumer-appname").unwrap(), "app");
        assert!(metadata.get("bad-value").is_none());
        assert_eq!(metadata.get_bin("blob-bin").unwrap().to_bytes().unwrap(), &b"raw"[..]);
        assert_eq!(metadata.len(), 5);
    }
}
