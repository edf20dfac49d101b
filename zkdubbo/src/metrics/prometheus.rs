//! The Prometheus recorder and its `/metrics` endpoint.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Histogram buckets of every `_seconds` metric: 100 µs to 30 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often histograms and idle metrics are maintained.
const UPKEEP: Duration = Duration::from_secs(5);

/// Why the exporter could not start.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Another recorder is installed already (the process's metrics go there), or the
    /// exporter's settings were refused.
    #[error("cannot install the Prometheus recorder: {0}")]
    Recorder(String),
    /// The address could not be bound.
    #[error("cannot listen for scrapes on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The Prometheus endpoint: serves until dropped.
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    handle: PrometheusHandle,
    tasks: [JoinHandle<()>; 2],
}

impl MetricsServer {
    /// The address scrapes go to (with the port chosen when binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The metrics now, in Prometheus' text format (what a scrape gets).
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Install the Prometheus recorder for the whole process and serve `GET /metrics` on `addr`
/// (HTTP/1.1; bind `127.0.0.1` unless scrapes come from elsewhere).
///
/// # Errors
/// [`MetricsError::Recorder`] when a recorder is installed already (one per process), or
/// [`MetricsError::Bind`].
pub async fn serve_prometheus(addr: SocketAddr) -> Result<MetricsServer, MetricsError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| MetricsError::Bind { addr, source })?;
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
        .map_err(|e| MetricsError::Recorder(e.to_string()))?
        .install_recorder()
        .map_err(|e| MetricsError::Recorder(e.to_string()))?;
    let upkeep = {
        let handle = handle.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(UPKEEP);
            loop {
                ticks.tick().await;
                handle.run_upkeep();
            }
        })
    };
    let serving = tokio::spawn(serve(listener, handle.clone()));
    tracing::info!(%local_addr, "serving Prometheus metrics at /metrics");
    Ok(MetricsServer {
        local_addr,
        handle,
        tasks: [upkeep, serving],
    })
}

async fn serve(listener: TcpListener, handle: PrometheusHandle) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a metrics scrape");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let handle = handle.clone();
                async move { Ok::<_, Infallible>(answer(&request, &handle)) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "metrics scrape connection ended with an error");
            }
        });
    }
}

fn answer<B>(request: &http::Request<B>, handle: &PrometheusHandle) -> http::Response<Full<Bytes>> {
    let (status, content_type, body) = if request.method() != http::Method::GET {
        (
            http::StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET /metrics\n".to_owned(),
        )
    } else if request.uri().path() != "/metrics" {
        (
            http::StatusCode::NOT_FOUND,
            "text/plain",
            "metrics are at /metrics\n".to_owned(),
        )
    } else {
        (http::StatusCode::OK, "text/plain; version=0.0.4", handle.render())
    };
    let mut response = http::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    response
}
