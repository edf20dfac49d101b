//! Services tonic generated, served by the Triple server beside zkdubbo handlers: a request
//! whose path names such a service (`/<NamedService::NAME>/<method>`) is handed to it as it
//! came, streaming included, and its response is sent back as it goes.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What tonic generates for a service (`GreeterServer<T>`): a cloneable tower `Service` of
/// HTTP requests that never fails, with the service's name. Implemented for every such type.
pub trait TonicService:
    tower_service::Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + tonic::server::NamedService
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> TonicService for S where
    S: tower_service::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// A tonic service, type-erased: one call, answered.
pub(crate) type TonicRoute = Arc<
    dyn Fn(http::Request<tonic::body::Body>) -> Pin<Box<dyn Future<Output = http::Response<tonic::body::Body>> + Send>>
        + Send
        + Sync,
>;

/// `service` as a route: a clone of it per call (tonic's generated servers are cheap to
/// clone: an `Arc` of the implementation).
pub(crate) fn route<S: TonicService>(service: S) -> TonicRoute {
    Arc::new(move |request| {
        let mut service = service.clone();
        Box::pin(async move {
            // Generated servers are always ready; the error type is `Infallible`.
            match futures::future::poll_fn(|cx| service.poll_ready(cx)).await {
                Ok(()) => {}
                Err(never) => match never {},
            }
            match service.call(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        })
    })
}
