//! The consumer side: [`TripleInvokerFactory`] turns `tri://host:port/<interface>` provider URLs
//! into [`TripleInvoker`]s that make unary gRPC calls over HTTP/2 cleartext.
//!
//! * A call of `method` is `POST /<interface>/<method>` (interface = [`Url::interface`]), its
//!   body the invocation's payload (already-encoded protobuf bytes), its attachments sent as
//!   metadata headers. [`invoke_message`] and [`TripleInvoker::call`] do the prost encoding.
//! * Responses must carry content type `application/grpc` or `application/grpc+<suffix>`
//!   (Dubbo 3 answers `application/grpc+proto`); anything else is a transport error.
//! * gRPC status → [`RpcError`]: `UNAVAILABLE` and connection failures → `Transport`,
//!   `DEADLINE_EXCEEDED` → `Timeout`, everything else the provider answers → `Business`.
//! * The `timeout` URL parameter (method-level first, default 1000 ms) bounds each call and
//!   is sent as `grpc-timeout`.
//! * One HTTP/2 connection per provider identity (`tri://host:port/path`), opened on first
//!   use and shared by every invoker the factory created for that identity, so invokers
//!   re-created after a directory snapshot change reuse it; it is closed when the last of
//!   them is destroyed or dropped.
//!
//! ```no_run
//! # async fn run() -> Result<(), zkdubbo_common::RpcError> {
//! use zkdubbo_common::{InvokerFactory, Url};
//! use zkdubbo_triple::TripleInvokerFactory;
//! use zkdubbo_triple::greeter::{GreeterReply, GreeterRequest};
//!
//! let factory = TripleInvokerFactory::new();
//! let url: Url = "tri://127.0.0.1:50051/org.apache.dubbo.samples.Greeter?timeout=3000"
//!     .parse()
//!     .expect("a valid URL");
//! let invoker = factory.create_triple(&url)?;
//! let reply: GreeterReply = invoker.call("sayHello", &GreeterRequest { name: "world".into() }).await?;
//! assert_eq!(reply.message, "Hello, world!");
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::CONTENT_TYPE;
use http::uri::PathAndQuery;
use prost::Message;
use tonic::body::Body;
use tonic::client::Grpc;
use tonic::metadata::{AsciiMetadataValue, BinaryMetadataValue, KeyAndValueRef, MetadataKey, MetadataMap};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status, TimeoutExpired};
use zkdubbo_common::{Invocation, Url};
use zkdubbo_common::{InvokeFuture, Invoker, InvokerFactory, RemoteStatus, Response, RpcError};

use crate::codec::BytesCodec;
use crate::server::is_grpc_content_type;

/// The URL protocol of Dubbo's Triple transport.
pub const PROTOCOL: &str = "tri";

/// The call timeout when the URL has no `timeout` parameter, in milliseconds (Dubbo's default).
pub const DEFAULT_TIMEOUT_MS: u64 = 1000;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Connection settings of a [`TripleInvokerFactory`].
///
/// ```
/// use std::time::Duration;
/// use zkdubbo_triple::{TripleConfig, TripleInvokerFactory};
/// let factory = TripleInvokerFactory::with_config(TripleConfig {
///     connect_timeout: Duration::from_millis(500),
///     ..TripleConfig::default()
/// });
/// # drop(factory);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TripleConfig {
    /// Longest wait for a TCP connection to a provider (default 3 s). A call is also bounded
    /// by its own `timeout`.
    pub connect_timeout: Duration,
    /// First delay before probing an unavailable provider with a TCP connect (default
    /// 500 ms); doubles up to [`Self::max_probe_interval`]. A successful probe makes the
    /// invokers of that provider available again.
    pub probe_interval: Duration,
    /// Longest delay between two probes (default 5 s).
    pub max_probe_interval: Duration,
    /// Largest response message accepted (default 4 MiB).
    pub max_message_size: usize,
}

impl Default for TripleConfig {
    fn default() -> Self {
        TripleConfig {
            connect_timeout: Duration::from_secs(3),
            probe_interval: Duration::from_millis(500),
            max_probe_interval: Duration::from_secs(5),
            max_message_size: 4 * 1024 * 1024,
        }
    }
}

/// Creates [`TripleInvoker`]s for `tri://` (and `grpc://`) provider URLs, one shared HTTP/2
/// connection per provider identity. Clones share the same connections.
#[derive(Clone, Default)]
pub struct TripleInvokerFactory {
    pool: Arc<Pool>,
}

impl fmt::Debug for TripleInvokerFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TripleInvokerFactory")
            .field("config", &self.pool.config)
            .field("connections", &self.connection_count())
            .finish()
    }
}

impl TripleInvokerFactory {
    /// A factory with the default [`TripleConfig`].
    pub fn new() -> Self {
        TripleInvokerFactory::default()
    }

    /// A factory with `config`.
    pub fn with_config(config: TripleConfig) -> Self {
        TripleInvokerFactory {
            pool: Arc::new(Pool {
                config,
                connections: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The connection settings.
    pub fn config(&self) -> &TripleConfig {
        &self.pool.config
    }

    /// How many provider connections are held (one per identity with a live invoker).
    pub fn connection_count(&self) -> usize {
        self.pool.lock().len()
    }

    /// Like [`InvokerFactory::create`], returning the concrete type (for
    /// [`TripleInvoker::call`]).
    ///
    /// Fails with [`RpcError::Transport`] if the URL's protocol is not `tri` or `grpc` or
    /// it has no host or port. Needs no runtime: the connection is opened by the first call.
    pub fn create_triple(&self, url: &Url) -> Result<Arc<TripleInvoker>, RpcError> {
        let identity = url.identity();
        let protocol = url.protocol();
        if protocol != PROTOCOL && protocol != "grpc" {
            return Err(RpcError::transport(
                format!("protocol {protocol:?} is not served by the Triple transport (tri, grpc)"),
                format!("provider {identity}"),
            ));
        }
        let (host, port) = match (url.host(), url.port()) {
            (host, Some(port)) if !host.is_empty() => (host, port),
            _ => {
                return Err(RpcError::transport(
                    "the provider URL has no host:port",
                    format!("provider {identity}"),
                ));
            }
        };
        let mut connections = self.pool.lock();
        let connection = match connections.get_mut(&identity) {
            Some(entry) => {
                entry.invokers += 1;
                Arc::clone(&entry.connection)
            }
            None => {
                let connection = Arc::new(Connection::new(identity.clone(), host, port, self.pool.config.clone())?);
                tracing::debug!(provider = %identity, "new triple connection (opened on first call)");
                connections.insert(
                    identity,
                    PoolEntry {
                        connection: Arc::clone(&connection),
                        invokers: 1,
                    },
                );
                connection
            }
        };
        drop(connections);
        Ok(Arc::new(TripleInvoker {
            url: url.clone(),
            connection,
            pool: Arc::downgrade(&self.pool),
            released: AtomicBool::new(false),
        }))
    }
}

impl InvokerFactory for TripleInvokerFactory {
    fn create(&self, url: &Url) -> Result<Arc<dyn Invoker>, RpcError> {
        let invoker: Arc<dyn Invoker> = self.create_triple(url)?;
        Ok(invoker)
    }
}

struct Pool {
    config: TripleConfig,
    connections: Mutex<HashMap<String, PoolEntry>>,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            config: TripleConfig::default(),
            connections: Mutex::new(HashMap::new()),
        }
    }
}

struct PoolEntry {
    connection: Arc<Connection>,
    invokers: usize,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, PoolEntry>> {
        // The map stays consistent even if a holder panicked: every update is one statement.
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One invoker of `connection` is gone; close it when it was the last.
    fn release(&self, connection: &Arc<Connection>) {
        let mut connections = self.lock();
        let Some(entry) = connections.get_mut(&connection.identity) else {
            return;
        };
        if !Arc::ptr_eq(&entry.connection, connection) {
            return;
        }
        entry.invokers = entry.invokers.saturating_sub(1);
        if entry.invokers == 0 {
            connections.remove(&connection.identity);
            drop(connections);
            tracing::debug!(provider = %connection.identity, "closing triple connection: last invoker gone");
            connection.close();
        }
    }
}

/// The shared state of one provider connection.
struct Connection {
    identity: String,
    address: String,
    endpoint: Endpoint,
    config: TripleConfig,
    channel: Mutex<ChannelState>,
    health: Mutex<Health>,
}

enum ChannelState {
    /// Not used yet: the channel is created (lazily connected) by the first call, which runs
    /// inside the tokio runtime the channel's worker needs.
    Idle,
    Open(Channel),
    Closed,
}

#[derive(Debug, Clone, Copy)]
struct Health {
    available: bool,
    probing: bool,
}

impl Connection {
    fn new(identity: String, host: &str, port: u16, config: TripleConfig) -> Result<Self, RpcError> {
        let address = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| {
                RpcError::transport(
                    format!("invalid provider address {address}: {e}"),
                    format!("provider {identity}"),
                )
            })?
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true);
        Ok(Connection {
            identity,
            address,
            endpoint,
            config,
            channel: Mutex::new(ChannelState::Idle),
            health: Mutex::new(Health {
                available: true,
                probing: false,
            }),
        })
    }

    fn channel(&self) -> Option<Channel> {
        let mut state = self.channel.lock().unwrap_or_else(|e| e.into_inner());
        match &*state {
            ChannelState::Open(channel) => Some(channel.clone()),
            ChannelState::Closed => None,
            ChannelState::Idle => {
                let channel = self.endpoint.connect_lazy();
                *state = ChannelState::Open(channel.clone());
                Some(channel)
            }
        }
    }

    fn close(&self) {
        // Dropping the last `Channel` clone ends its worker and the HTTP/2 connection; calls in
        // flight hold their own clone and finish first.
        *self.channel.lock().unwrap_or_else(|e| e.into_inner()) = ChannelState::Closed;
    }

    fn health(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_available(&self) -> bool {
        self.health().available
    }

    fn mark_available(&self) {
        let mut health = self.health();
        if !health.available {
            tracing::info!(provider = %self.identity, "triple provider reachable again");
            health.available = true;
        }
    }

    fn mark_unavailable(self: &Arc<Self>) {
        let mut health = self.health();
        if health.available {
            tracing::warn!(provider = %self.identity, "triple provider marked unavailable");
            health.available = false;
        }
        if health.probing {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            health.probing = true;
            runtime.spawn(probe(Arc::downgrade(self)));
        }
    }
}

/// Try a TCP connect to an unavailable provider with growing delays until it answers (then
/// mark it available) or its connection is released.
async fn probe(connection: Weak<Connection>) {
    let Some((mut delay, max_delay)) = connection
        .upgrade()
        .map(|c| (c.config.probe_interval, c.config.max_probe_interval))
    else {
        return;
    };
    loop {
        tokio::time::sleep(delay).await;
        let Some(connection) = connection.upgrade() else {
            return;
        };
        if matches!(
            *connection.channel.lock().unwrap_or_else(|e| e.into_inner()),
            ChannelState::Closed
        ) {
            return;
        }
        {
            let mut health = connection.health();
            if health.available {
                health.probing = false;
                return;
            }
        }
        let connect = tokio::net::TcpStream::connect(connection.address.as_str());
        match tokio::time::timeout(connection.config.connect_timeout, connect).await {
            Ok(Ok(_)) => {
                let mut health = connection.health();
                health.probing = false;
                if !health.available {
                    tracing::info!(provider = %connection.identity, "triple provider accepts connections again");
                    health.available = true;
                }
                return;
            }
            Ok(Err(e)) => tracing::debug!(provider = %connection.identity, error = %e, "probe failed"),
            Err(_) => tracing::debug!(provider = %connection.identity, "probe timed out"),
        }
        delay = (delay * 2).min(max_delay);
    }
}

/// An [`Invoker`] for one Triple provider; see the [module docs](self).
pub struct TripleInvoker {
    url: Url,
    connection: Arc<Connection>,
    pool: Weak<Pool>,
    released: AtomicBool,
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

    fn release(&self) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(pool) = self.pool.upgrade() {
            pool.release(&self.connection);
        } else {
            self.connection.close();
        }
    }

    fn context(&self, method: &str) -> String {
        format!(
            "service {}, method {method}, provider {}",
            self.url.interface(),
            self.connection.address
        )
    }

    async fn call_bytes(&self, inv: &Invocation) -> Result<Response, RpcError> {
        let method = inv.method();
        let interface = self.url.interface();
        let context = || self.context(method);
        let transport = |message: String| RpcError::transport(message, context());
        if self.released.load(Ordering::Acquire) {
            return Err(transport("the invoker was destroyed".into()));
        }
        let Some(channel) = self.connection.channel() else {
            return Err(transport("the connection was closed".into()));
        };
        let path = PathAndQuery::try_from(format!("/{interface}/{method}"))
            .map_err(|e| transport(format!("cannot build the request path /{interface}/{method}: {e}")))?;
        let timeout_ms = match self.url.method_param_as(method, "timeout", DEFAULT_TIMEOUT_MS) {
            0 => DEFAULT_TIMEOUT_MS,
            ms => ms,
        };
        let timeout = Duration::from_millis(timeout_ms);

        let mut request = tonic::Request::new(inv.payload().clone());
        self.fill_metadata(request.metadata_mut(), inv.attachments());
        request.set_timeout(timeout);

        let mut grpc = Grpc::new(CheckContentType { inner: channel })
            .max_decoding_message_size(self.connection.config.max_message_size);
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
    fn fill_metadata(&self, metadata: &mut MetadataMap, attachments: &BTreeMap<String, String>) {
        let url_headers = [
            ("tri-service-group", self.url.group()),
            ("tri-service-version", self.url.version()),
            (
                "tri-consumer-appname",
                self.url.param("application").filter(|a| !a.is_empty()),
            ),
        ];
        for (key, value) in url_headers {
            if let Some(value) = value {
                insert_metadata(metadata, key, value);
            }
        }
        for (key, value) in attachments {
            insert_metadata(metadata, &key.to_ascii_lowercase(), value);
        }
    }
}

fn insert_metadata(metadata: &mut MetadataMap, key: &str, value: &str) {
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
const PROTOCOL_HEADERS: &[&str] = &[
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

fn response_attachments(metadata: &MetadataMap) -> BTreeMap<String, String> {
    metadata
        .iter()
        .filter_map(|entry| match entry {
            KeyAndValueRef::Ascii(key, value) => Some((key.as_str(), value.to_str().ok()?)),
            KeyAndValueRef::Binary(..) => None,
        })
        .filter(|(key, _)| !PROTOCOL_HEADERS.contains(key))
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

/// Call `invoker` (any [`Invoker`], e.g. a cluster invoker) with a prost message as the
/// payload of `invocation`, and decode the reply as `Resp`.
///
/// ```no_run
/// # async fn run(invoker: &dyn zkdubbo_common::Invoker) -> Result<(), zkdubbo_common::RpcError> {
/// use zkdubbo_common::Invocation;
/// use zkdubbo_triple::greeter::{GreeterReply, GreeterRequest};
/// let request = GreeterRequest { name: "world".into() };
/// let invocation = Invocation::new("sayHello").with_argument("world");
/// let reply: GreeterReply = zkdubbo_triple::invoke_message(invoker, invocation, &request).await?;
/// # Ok(()) }
/// ```
pub async fn invoke_message<I, Req, Resp>(invoker: &I, invocation: Invocation, request: &Req) -> Result<Resp, RpcError>
where
    I: Invoker + ?Sized,
    Req: Message,
    Resp: Message + Default,
{
    let invocation = invocation.with_payload(request.encode_to_vec());
    let response = invoker.invoke(&invocation).await?;
    decode_reply(&response).map_err(|e| match e {
        RpcError::Codec { message, .. } => RpcError::Codec {
            message,
            context: format!(
                "service {}, method {}, provider {}",
                invoker.url().interface(),
                invocation.method(),
                invoker.url().address()
            ),
        },
        other => other,
    })
}

/// An [`Invocation`] of `method` whose payload is `request` encoded (for APIs that take an
/// invocation, such as a cluster reference; pair with [`decode_reply`]).
///
/// ```
/// use zkdubbo_common::Response;
/// use zkdubbo_triple::greeter::{GreeterReply, GreeterRequest};
/// use zkdubbo_triple::{decode_reply, message_invocation};
///
/// let inv = message_invocation("sayHello", &GreeterRequest { name: "Bob".into() });
/// assert_eq!(&inv.payload()[..], b"\x0a\x03Bob");
/// let response = Response::new(&b"\x0a\x0bHello, Bob!"[..]);
/// let reply: GreeterReply = decode_reply(&response).unwrap();
/// assert_eq!(reply.message, "Hello, Bob!");
/// ```
pub fn message_invocation<M: Message>(method: impl Into<String>, request: &M) -> Invocation {
    Invocation::new(method).with_payload(request.encode_to_vec())
}

/// Decode `response`'s payload as `M`. A payload that does not decode is a
/// [`RpcError::Codec`] error: the provider did run the call, so it must not be retried
/// blindly.
pub fn decode_reply<M: Message + Default>(response: &Response) -> Result<M, RpcError> {
    M::decode(response.payload.clone()).map_err(|e| {
        RpcError::codec(
            format!("cannot decode the reply as {}: {e}", std::any::type_name::<M>()),
            format!("a reply of {} bytes", response.payload.len()),
        )
    })
}

/// The gRPC name of a status code, e.g. `INVALID_ARGUMENT`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Map a failed call's status to an [`RpcError`].
///
/// Statuses tonic made up locally carry their cause as `source` (connection refused or reset,
/// an unexpected content type, tonic's own deadline): those are transport errors or timeouts.
/// Statuses the provider sent have none: `UNAVAILABLE` → transport, `DEADLINE_EXCEEDED` →
/// timeout, everything else is the application's answer → business.
fn map_status(status: &Status, timeout_ms: u64, context: String) -> RpcError {
    let code = code_name(status.code());
    if let Some(e) = find_source::<UnexpectedContentType>(status) {
        return RpcError::transport(e.to_string(), context);
    }
    if find_source::<TimeoutExpired>(status).is_some() {
        return RpcError::timeout(format!("no answer within {timeout_ms} ms"), context);
    }
    let mut message = if status.message().is_empty() {
        format!("{code}: {}", status.code().description())
    } else {
        format!("{code}: {}", status.message())
    };
    if StdError::source(status).is_some() {
        append_causes(&mut message, status);
        return RpcError::transport_caused_by(message, context, status.clone());
    }
    match status.code() {
        Code::DeadlineExceeded => RpcError::timeout(message, context),
        Code::Unavailable => RpcError::transport(message, context),
        _ => RpcError::remote(RemoteStatus::Grpc(status.code() as i32), message, context),
    }
}

fn find_source<E: StdError + 'static>(status: &Status) -> Option<&E> {
    let mut source = StdError::source(status);
    while let Some(err) = source {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        source = err.source();
    }
    None
}

/// Append the messages of `status`'s cause chain that add something (e.g. "Connection
/// refused (os error 111)").
fn append_causes(message: &mut String, status: &Status) {
    let mut source = StdError::source(status);
    while let Some(err) = source {
        let text = err.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = err.source();
    }
}

/// The provider answered something that is not gRPC.
#[derive(Debug)]
struct UnexpectedContentType {
    content_type: Option<String>,
    http_status: http::StatusCode,
}

impl fmt::Display for UnexpectedContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.content_type {
            Some(ct) => write!(f, "the provider answered content-type {ct:?}")?,
            None => write!(f, "the provider answered without a content-type")?,
        }
        write!(
            f,
            " (HTTP {}), not application/grpc or application/grpc+<suffix>: is it a Triple/gRPC endpoint?",
            self.http_status
        )
    }
}

impl StdError for UnexpectedContentType {}

/// Wraps the channel to reject responses whose content type is not gRPC before tonic tries
/// to decode them.
#[derive(Clone)]
struct CheckContentType {
    inner: Channel,
}

impl tower_service::Service<http::Request<Body>> for CheckContentType {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(BoxError::from)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await.map_err(BoxError::from)?;
            let content_type = response.headers().get(CONTENT_TYPE);
            if content_type.is_some_and(|ct| is_grpc_content_type(ct.as_bytes())) {
                return Ok(response);
            }
            Err(Box::new(UnexpectedContentType {
                content_type: content_type.map(|ct| String::from_utf8_lossy(ct.as_bytes()).into_owned()),
                http_status: response.status(),
            }) as BoxError)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        s.parse().unwrap()
    }

    #[test]
    fn create_validates_the_url() {
        let factory = TripleInvokerFactory::new();
        let err = factory.create(&url("dubbo://10.0.0.1:20880/com.foo.Bar")).unwrap_err();
        assert!(matches!(err, RpcError::Transport { .. }), "{err}");
        let err = factory.create(&url("tri://10.0.0.1/com.foo.Bar")).unwrap_err();
        assert!(err.to_string().contains("host:port"), "{err}");
        assert_eq!(factory.connection_count(), 0);
    }

    #[test]
    fn invokers_of_one_identity_share_a_connection_until_the_last_is_gone() {
        let factory = TripleInvokerFactory::new();
        let a = factory
            .create(&url("tri://10.0.0.1:50051/com.foo.Bar?weight=1"))
            .unwrap();
        let b = factory
            .create(&url("tri://10.0.0.1:50051/com.foo.Bar?weight=2"))
            .unwrap();
        let c = factory.create(&url("tri://10.0.0.2:50051/com.foo.Bar")).unwrap();
        assert_eq!(factory.connection_count(), 2);
        a.destroy();
        a.destroy(); // idempotent
        assert!(!a.is_available());
        assert!(b.is_available());
        assert_eq!(factory.connection_count(), 2);
        drop(a);
        b.destroy();
        assert_eq!(factory.connection_count(), 1);
        drop(c); // dropping without destroy releases too
        assert_eq!(factory.connection_count(), 0);
        drop(b);
    }

    #[test]
    fn status_mapping() {
        let ctx = || "ctx".to_string();
        let e = map_status(&Status::not_found("no such user"), 1000, ctx());
        assert!(
            matches!(
                &e,
                RpcError::Business { status: RemoteStatus::Grpc(5), message, context }
                    if message == "NOT_FOUND: no such user" && context == "ctx"
            ),
            "{e:?}"
        );
        for code in [
            Code::Unknown,
            Code::Internal,
            Code::InvalidArgument,
            Code::Unimplemented,
        ] {
            assert!(map_status(&Status::new(code, "x"), 1000, ctx()).is_business());
        }
        assert!(matches!(
            map_status(&Status::unavailable("shutting down"), 1000, ctx()),
            RpcError::Transport { .. }
        ));
        assert!(matches!(
            map_status(&Status::deadline_exceeded(""), 1000, ctx()),
            RpcError::Timeout { .. }
        ));
        let local = Status::from_error(Box::new(TimeoutExpired(())));
        assert!(
            matches!(map_status(&local, 250, ctx()), RpcError::Timeout { message, .. } if message.contains("250 ms"))
        );
        let local = Status::from_error(Box::new(std::io::Error::other("connection reset")));
        let e = map_status(&local, 1000, ctx());
        assert!(
            matches!(&e, RpcError::Transport { message, .. } if message.contains("connection reset")),
            "{e}"
        );
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
