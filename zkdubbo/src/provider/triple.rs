//! Serving a provider over Triple.

use std::net::SocketAddr;
use std::time::Duration;

use zkdubbo_common::Url;
use zkdubbo_triple::{Handler, ServerHandle, TripleServer};

use super::{Exported, ProviderError, ServiceBuilder};

impl ServiceBuilder {
    /// Bind a [`TripleServer`] on `bind` serving `handler`, register the service (with the
    /// bound port, unless [`ServiceBuilder::port`] set another) and run the server in the
    /// background.
    ///
    /// # Errors
    /// [`ProviderError::Server`] when binding fails, else as [`ServiceBuilder::register`]
    /// (the server is stopped again).
    pub async fn serve_triple(
        mut self,
        handler: impl Handler,
        bind: SocketAddr,
    ) -> Result<TripleService, ProviderError> {
        let mut builder = TripleServer::builder().service(self.interface.clone(), handler);
        if self.register_mode.instance() && self.metadata_type == zkdubbo_discovery::StorageType::Local {
            let application = self
                .params
                .get(zkdubbo_common::keys::APPLICATION)
                .cloned()
                .unwrap_or_default();
            builder = builder.service(
                crate::metadata_service::V2_INTERFACE,
                crate::metadata_service::v2_service(&application),
            );
        }
        let server = builder.bind(bind).await?;
        if self.port.is_none() {
            self.port = Some(server.local_addr().port());
        }
        if self.host.is_none() {
            self.host = Some(zkdubbo_common::host::register_host(server.local_addr().ip()));
        }
        let server = server.spawn();
        match self.register().await {
            Ok(exported) => Ok(TripleService { exported, server }),
            Err(e) => {
                let _ = server.shutdown().await;
                Err(e)
            }
        }
    }
}

/// A service served over Triple and registered: [`TripleService::shutdown`] unregisters
/// first, waits for consumers to notice, then stops the server gracefully.
#[derive(Debug)]
pub struct TripleService {
    exported: Exported,
    server: ServerHandle,
}

impl TripleService {
    /// The registered URL.
    pub fn url(&self) -> &Url {
        self.exported.url()
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The registration guard and the server handle, to stop them separately (e.g. to stop
    /// serving while staying registered, as a crashed process would look to consumers).
    pub fn into_parts(self) -> (Exported, ServerHandle) {
        (self.exported, self.server)
    }

    /// Unregister everywhere, wait `drain` (consumers see the node go and stop sending), then
    /// stop the server, letting calls in flight finish.
    ///
    /// # Errors
    /// The first unregistration error or the server's error (both steps are always taken).
    pub async fn shutdown(self, drain: Duration) -> Result<(), ProviderError> {
        let unregistered = self.exported.unregister().await;
        tokio::time::sleep(drain).await;
        let stopped = self.server.shutdown().await;
        unregistered?;
        stopped.map_err(ProviderError::Server)
    }
}
