//! Rejecting answers that are not gRPC before tonic tries to decode them.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::CONTENT_TYPE;
use tonic::body::Body;
use tonic::transport::Channel;

use super::*;
use crate::call::is_grpc_content_type;

/// The provider answered something that is not gRPC.
#[derive(Debug)]
pub(crate) struct UnexpectedContentType {
    pub(crate) content_type: Option<String>,
    pub(crate) http_status: http::StatusCode,
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
pub(crate) struct CheckContentType {
    pub(crate) inner: Channel,
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
