//! What every call to one provider takes from its URL, computed once per invoker instead of
//! looked up per call: the headers naming the service, the request compression, and per
//! method the request path and the timeout.

use std::collections::HashMap;
use std::sync::RwLock;

use http::uri::PathAndQuery;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{Ascii, AsciiMetadataValue, MetadataKey, MetadataMap};
use zkdubbo_common::{Url, limits};

use super::DEFAULT_TIMEOUT_MS;

/// Methods whose path and timeout are kept; calls of others (a generic client calling
/// ever new names) compute theirs each time rather than grow the map without bound.
const KEPT_METHODS: usize = 256;

/// See the [module](self).
pub(crate) struct Prepared {
    /// `tri-service-group`, `tri-service-version`, `tri-consumer-appname` (those the URL has).
    headers: Vec<(MetadataKey<Ascii>, AsciiMetadataValue)>,
    /// From [`COMPRESSOR_KEY`](crate::COMPRESSOR_KEY): `identity` or an encoding not known
    /// is none.
    pub(crate) send_encoding: Option<CompressionEncoding>,
    methods: RwLock<HashMap<Box<str>, MethodCall, rustc_hash::FxBuildHasher>>,
}

/// How one method is called.
#[derive(Clone)]
pub(crate) struct MethodCall {
    /// `/<interface>/<method>`.
    pub(crate) path: PathAndQuery,
    /// `<method>.timeout`, `timeout` (bounded, docs/LIMITS.md), else the default.
    pub(crate) timeout_ms: u64,
    /// `timeout_ms` as the `grpc-timeout` header, formatted once ([`grpc_timeout`]).
    pub(crate) grpc_timeout: AsciiMetadataValue,
}

impl Prepared {
    pub(crate) fn of(url: &Url) -> Prepared {
        let headers = [
            ("tri-service-group", url.group()),
            ("tri-service-version", url.version()),
            (
                "tri-consumer-appname",
                url.param("application").filter(|a| !a.is_empty()),
            ),
        ]
        .into_iter()
        .filter_map(|(key, value)| {
            let value = AsciiMetadataValue::try_from(value?)
                .inspect_err(|_| tracing::debug!(key, "URL value is not a valid header value; not sent"))
                .ok()?;
            Some((MetadataKey::from_static(key), value))
        })
        .collect();
        let send_encoding = url.param(crate::COMPRESSOR_KEY).and_then(|name| {
            if name.eq_ignore_ascii_case("gzip") {
                Some(CompressionEncoding::Gzip)
            } else if name.eq_ignore_ascii_case("zstd") {
                Some(CompressionEncoding::Zstd)
            } else {
                None
            }
        });
        Prepared {
            headers,
            send_encoding,
            methods: RwLock::new(HashMap::default()),
        }
    }

    /// Add the service's headers to `metadata`.
    pub(crate) fn add_headers(&self, metadata: &mut MetadataMap) {
        for (key, value) in &self.headers {
            metadata.insert(key.clone(), value.clone());
        }
    }

    /// How `method` of `url` (this invoker's) is called.
    ///
    /// # Errors
    /// The path `/<interface>/<method>` is not a valid URI path (the method's name, or the
    /// interface's, has characters a path cannot hold).
    pub(crate) fn method(&self, url: &Url, method: &str) -> Result<MethodCall, String> {
        if let Some(call) = self.methods.read().unwrap_or_else(|e| e.into_inner()).get(method) {
            return Ok(call.clone());
        }
        let interface = url.interface();
        let path = PathAndQuery::try_from(format!("/{interface}/{method}"))
            .map_err(|e| format!("cannot build the request path /{interface}/{method}: {e}"))?;
        let timeout_ms = match limits::TIMEOUT.read(url, method) as u64 {
            0 => DEFAULT_TIMEOUT_MS,
            ms => ms,
        };
        let grpc_timeout = AsciiMetadataValue::try_from(grpc_timeout(timeout_ms))
            .map_err(|e| format!("cannot send a timeout of {timeout_ms} ms: {e}"))?;
        let call = MethodCall {
            path,
            timeout_ms,
            grpc_timeout,
        };
        let mut methods = self.methods.write().unwrap_or_else(|e| e.into_inner());
        if methods.len() < KEPT_METHODS {
            methods.insert(method.into(), call.clone());
        }
        Ok(call)
    }
}

/// `ms` as a `grpc-timeout` value as tonic's `Request::set_timeout` writes it: in the finest
/// unit that keeps the number within gRPC's eight digits (a timeout is at most a day:
/// milliseconds always fit).
fn grpc_timeout(ms: u64) -> String {
    const MAX: u64 = 99_999_999;
    match (ms.checked_mul(1_000_000), ms.checked_mul(1_000)) {
        (Some(ns), _) if ns <= MAX => format!("{ns}n"),
        (_, Some(us)) if us <= MAX => format!("{us}u"),
        _ => format!("{ms}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_written_as_tonic_writes_them() {
        for ms in [0, 1, 99, 100, 250, 1000, 99_999, 100_000, 86_400_000] {
            let mut request = tonic::Request::new(());
            request.set_timeout(std::time::Duration::from_millis(ms));
            let tonic = request
                .metadata()
                .get("grpc-timeout")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            assert_eq!(grpc_timeout(ms), tonic, "{ms} ms");
        }
    }
}
