//! What serves the calls of one interface: a [`Handler`] — any closure of (method, request
//! bytes, metadata) for unary calls — or [`Methods`], one typed closure per method, of any of
//! gRPC's four kinds.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use prost::Message;
use tonic::Status;
use tonic::metadata::MetadataMap;

/// The future a [`Handler`] returns: the encoded reply message, or the status to answer with.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Bytes, Status>> + Send + 'static>>;

/// A stream of messages: the requests of a client-streaming or bidirectional call as they
/// arrive, or the replies of a streaming method. An `Err` item ends the call with that status.
pub type MessageStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Serves the methods of one service interface.
///
/// Implemented by [`Methods`] and by every closure
/// `Fn(String /* method */, Bytes /* request message */, MetadataMap) -> impl Future<Output = Result<Bytes, Status>>`.
/// A handler should answer `UNIMPLEMENTED` for a method it does not know.
pub trait Handler: Send + Sync + 'static {
    /// Serve one unary call of `method` with the request message bytes and the request
    /// metadata.
    fn call(&self, method: &str, request: Bytes, metadata: MetadataMap) -> HandlerFuture;

    /// How `method` streams, when it does; `None` (the default) serves it with
    /// [`Handler::call`].
    fn streaming(&self, method: &str) -> Option<StreamingMethod> {
        let _ = method;
        None
    }
}

impl<F, Fut> Handler for F
where
    F: Fn(String, Bytes, MetadataMap) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Bytes, Status>> + Send + 'static,
{
    fn call(&self, method: &str, request: Bytes, metadata: MetadataMap) -> HandlerFuture {
        Box::pin(self(method.to_owned(), request, metadata))
    }
}

type ReplyStreamFuture = BoxFuture<'static, Result<MessageStream<Bytes>, Status>>;

/// A streaming method of a [`Handler`], made by [`Methods`]' streaming constructors.
#[derive(Clone)]
pub struct StreamingMethod(pub(crate) StreamKind);

impl fmt::Debug for StreamingMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0 {
            StreamKind::Server(_) => "server-streaming",
            StreamKind::Client(_) => "client-streaming",
            StreamKind::Bidi(_) => "bidirectional",
        };
        f.write_str(kind)
    }
}

/// One request, a stream of replies.
pub(crate) type ServerStreamFn = Arc<dyn Fn(Bytes, MetadataMap) -> ReplyStreamFuture + Send + Sync>;
/// A stream of requests, one reply.
pub(crate) type ClientStreamFn = Arc<dyn Fn(MessageStream<Bytes>, MetadataMap) -> HandlerFuture + Send + Sync>;
/// Streams both ways.
pub(crate) type BidiFn = Arc<dyn Fn(MessageStream<Bytes>, MetadataMap) -> ReplyStreamFuture + Send + Sync>;

/// The three streaming shapes of a gRPC method, on message bytes.
#[derive(Clone)]
pub(crate) enum StreamKind {
    Server(ServerStreamFn),
    Client(ClientStreamFn),
    Bidi(BidiFn),
}

type UnaryFn = Arc<dyn Fn(Bytes, MetadataMap) -> HandlerFuture + Send + Sync>;

#[derive(Clone)]
enum Entry {
    Unary(UnaryFn),
    Streaming(StreamingMethod),
}

/// A [`Handler`] made of one closure per method; unknown methods get `UNIMPLEMENTED`.
///
/// ```
/// use futures::stream;
/// use zkdubbo_triple::{Methods, Status};
/// use zkdubbo_triple::greeter::{GreeterReply, GreeterRequest};
///
/// let methods = Methods::new()
///     .unary("sayHello", |req: GreeterRequest, _metadata| async move {
///         if req.name.is_empty() {
///             return Err(Status::invalid_argument("name is required"));
///         }
///         Ok(GreeterReply { message: format!("Hello, {}!", req.name) })
///     })
///     .server_streaming("sayHelloTwice", |req: GreeterRequest, _metadata| async move {
///         let reply = GreeterReply { message: format!("Hello, {}!", req.name) };
///         Ok(stream::iter([Ok(reply.clone()), Ok(reply)]))
///     })
///     .raw("ping", |request, _metadata| async move { Ok(request) });
/// assert_eq!(methods.method_names(), vec!["ping", "sayHello", "sayHelloTwice"]);
/// ```
#[derive(Clone, Default)]
pub struct Methods {
    methods: HashMap<String, Entry>,
}

/// `bytes` as a `Req`, or `INVALID_ARGUMENT` naming the type.
fn decode<Req: Message + Default>(bytes: Bytes) -> Result<Req, Status> {
    Req::decode(bytes).map_err(|e| {
        Status::invalid_argument(format!(
            "cannot decode the request as {}: {e}",
            std::any::type_name::<Req>()
        ))
    })
}

fn encode<Resp: Message>(reply: &Resp) -> Bytes {
    Bytes::from(reply.encode_to_vec())
}

/// Requests as they arrive, decoded one by one (a message that does not decode ends the
/// stream with `INVALID_ARGUMENT`).
fn decoded<Req: Message + Default + 'static>(requests: MessageStream<Bytes>) -> MessageStream<Req> {
    Box::pin(requests.map(|r| r.and_then(decode::<Req>)))
}

fn encoded<Resp, S>(replies: S) -> MessageStream<Bytes>
where
    Resp: Message + 'static,
    S: Stream<Item = Result<Resp, Status>> + Send + 'static,
{
    Box::pin(replies.map(|r| r.map(|m| encode(&m))))
}

impl Methods {
    /// No methods yet.
    pub fn new() -> Self {
        Methods::default()
    }

    /// Serve `method` with a closure on the raw request message bytes.
    pub fn raw<F, Fut>(mut self, method: impl Into<String>, handler: F) -> Self
    where
        F: Fn(Bytes, MetadataMap) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Bytes, Status>> + Send + 'static,
    {
        let f: UnaryFn = Arc::new(move |request, metadata| Box::pin(handler(request, metadata)));
        self.methods.insert(method.into(), Entry::Unary(f));
        self
    }

    /// Serve `method` with a closure on prost messages: the request is decoded as `Req`
    /// (`INVALID_ARGUMENT` if it cannot be) and the reply encoded from `Resp`.
    pub fn unary<Req, Resp, F, Fut>(mut self, method: impl Into<String>, handler: F) -> Self
    where
        Req: Message + Default + 'static,
        Resp: Message + 'static,
        F: Fn(Req, MetadataMap) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let f: UnaryFn = Arc::new(move |request: Bytes, metadata| {
            let decoded = decode::<Req>(request);
            let handler = Arc::clone(&handler);
            Box::pin(async move { Ok(encode(&handler(decoded?, metadata).await?)) })
        });
        self.methods.insert(method.into(), Entry::Unary(f));
        self
    }

    /// Serve `method` as a server-streaming call: one `Req`, then the replies `handler`'s
    /// stream yields, sent as they come. Dropping the stream's consumer (the client cancelled
    /// or went away) drops the stream.
    pub fn server_streaming<Req, Resp, F, Fut, S>(self, method: impl Into<String>, handler: F) -> Self
    where
        Req: Message + Default + 'static,
        Resp: Message + 'static,
        F: Fn(Req, MetadataMap) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, Status>> + Send + 'static,
        S: Stream<Item = Result<Resp, Status>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let kind = StreamKind::Server(Arc::new(move |request: Bytes, metadata| {
            let decoded = decode::<Req>(request);
            let handler = Arc::clone(&handler);
            Box::pin(async move { Ok(encoded(handler(decoded?, metadata).await?)) })
        }));
        self.with_stream(method, kind)
    }

    /// Serve `method` as a client-streaming call: the requests as they arrive, then one reply.
    pub fn client_streaming<Req, Resp, F, Fut>(self, method: impl Into<String>, handler: F) -> Self
    where
        Req: Message + Default + 'static,
        Resp: Message + 'static,
        F: Fn(MessageStream<Req>, MetadataMap) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let kind = StreamKind::Client(Arc::new(move |requests, metadata| {
            let handler = Arc::clone(&handler);
            Box::pin(async move { Ok(encode(&handler(decoded(requests), metadata).await?)) })
        }));
        self.with_stream(method, kind)
    }

    /// Serve `method` as a bidirectional call: requests and replies stream independently.
    pub fn bidi_streaming<Req, Resp, F, Fut, S>(self, method: impl Into<String>, handler: F) -> Self
    where
        Req: Message + Default + 'static,
        Resp: Message + 'static,
        F: Fn(MessageStream<Req>, MetadataMap) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, Status>> + Send + 'static,
        S: Stream<Item = Result<Resp, Status>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let kind = StreamKind::Bidi(Arc::new(move |requests, metadata| {
            let handler = Arc::clone(&handler);
            Box::pin(async move { Ok(encoded(handler(decoded(requests), metadata).await?)) })
        }));
        self.with_stream(method, kind)
    }

    /// Serve `method` as a bidirectional call on raw message bytes (any streaming shape fits
    /// it: a client that sends one request or expects one reply is served the same way).
    pub fn raw_streaming<F, Fut, S>(self, method: impl Into<String>, handler: F) -> Self
    where
        F: Fn(MessageStream<Bytes>, MetadataMap) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, Status>> + Send + 'static,
        S: Stream<Item = Result<Bytes, Status>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let kind = StreamKind::Bidi(Arc::new(move |requests, metadata| {
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                let replies: MessageStream<Bytes> = Box::pin(handler(requests, metadata).await?);
                Ok(replies)
            })
        }));
        self.with_stream(method, kind)
    }

    fn with_stream(mut self, method: impl Into<String>, kind: StreamKind) -> Self {
        self.methods
            .insert(method.into(), Entry::Streaming(StreamingMethod(kind)));
        self
    }

    /// The names of the methods served, sorted (what a provider registers as `methods`).
    pub fn method_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.methods.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

impl fmt::Debug for Methods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Methods")
            .field("methods", &self.method_names())
            .finish()
    }
}

impl Handler for Methods {
    fn call(&self, method: &str, request: Bytes, metadata: MetadataMap) -> HandlerFuture {
        match self.methods.get(method) {
            Some(Entry::Unary(f)) => f(request, metadata),
            Some(Entry::Streaming(kind)) => {
                let status = Status::unimplemented(format!("method {method} is {kind:?}, not unary"));
                Box::pin(async move { Err(status) })
            }
            None => {
                let status = Status::unimplemented(format!("method {method} not found"));
                Box::pin(async move { Err(status) })
            }
        }
    }

    fn streaming(&self, method: &str) -> Option<StreamingMethod> {
        match self.methods.get(method) {
            Some(Entry::Streaming(kind)) => Some(kind.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn methods_dispatch_and_unknown_method() {
        let methods = Methods::new().raw("echo", |req, _| async move { Ok(req) });
        let out = methods
            .call("echo", Bytes::from_static(b"x"), MetadataMap::new())
            .await
            .unwrap();
        assert_eq!(&out[..], b"x");
        let err = methods
            .call("nope", Bytes::new(), MetadataMap::new())
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unimplemented);
        assert!(Handler::streaming(&methods, "echo").is_none());
    }

    #[tokio::test]
    async fn typed_method_rejects_undecodable_requests() {
        let methods = crate::greeter::service();
        let err = methods
            .call("sayHello", Bytes::from_static(b"\xff\xff"), MetadataMap::new())
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }

    #[tokio::test]
    async fn a_streaming_method_is_not_served_as_unary() {
        let methods = Methods::new().raw_streaming("chat", |requests, _| async move { Ok(requests) });
        assert!(matches!(
            Handler::streaming(&methods, "chat"),
            Some(StreamingMethod(StreamKind::Bidi(_)))
        ));
        let err = methods
            .call("chat", Bytes::new(), MetadataMap::new())
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unimplemented);
        assert!(err.message().contains("bidirectional"), "{}", err.message());
    }
}
