//! Serving a provider over Triple.

use std::net::SocketAddr;
use std::time::Duration;

use zkdubbo_common::Url;
use zkdubbo_triple::{Handler, ServerHandle, TonicService, TripleServer, TripleServerBuilder};

use super::health::Health;
use super::{Exported, ProviderError, ServiceBuilder};

impl ServiceBuilder {
    /// Bind a [`TripleServer`] on `bind` serving `handler`, register the service (with the
    /// bound port, unless [`ServiceBuilder::port`] set another) and run the server in the
    /// background.
    ///
    /// # Errors
    /// [`ProviderError::Server`] when binding fails, else as [`ServiceBuilder::register`]
    /// (the server is stopped again).
    pub async fn serve_triple(self, handler: impl Handler, bind: SocketAddr) -> Result<TripleService, ProviderError> {
        let server = TripleServer::builder().service(self.interface.clone(), handler);
        self.serve_on(server, bind).await
    }

    /// Serve a service tonic generated (`GreeterServer::new(my_greeter)`) over Triple on `bind`
    /// and register it, as [`ServiceBuilder::serve_triple`] does: the interface given to
    /// [`ServiceBuilder::new`] must be the service's `NamedService::NAME` (the proto's full
    /// service name, what Dubbo 3 uses for Triple + protobuf). Its calls are tonic's to serve:
    /// streaming included. Name its methods with [`ServiceBuilder::method`] (tonic's servers do
    /// not list them) so that they are registered.
    ///
    /// # Errors
    /// [`ProviderError::Config`] when the interface is not the service's name, else as
    /// [`ServiceBuilder::serve_triple`].
    pub async fn serve_tonic<S: TonicService>(
        self,
        service: S,
        bind: SocketAddr,
    ) -> Result<TripleService, ProviderError> {
        if self.interface != S::NAME {
            return Err(ProviderError::Config(format!(
                "interface {} is not the tonic service's name {}: consumers would call /{}/<method>, which it does not serve",
                self.interface,
                S::NAME,
                self.interface
            )));
        }
        let server = TripleServer::builder().tonic_service(service);
        self.serve_on(server, bind).await
    }

    /// Bind `server` (with the MetadataService V2 when this application's metadata is local),
    /// register, and run it in the background.
    async fn serve_on(
        mut self,
        mut server: TripleServerBuilder,
        bind: SocketAddr,
    ) -> Result<TripleService, ProviderError> {
        if let Some(application) = self.local_metadata_application() {
            server = server.service(
                crate::metadata_service::V2_INTERFACE,
                crate::metadata_service::v2_service(&application),
            );
        }
        let (mut health, health_service) = Health::new(&self.interface).await;
        let server = server.tonic_service(health_service).bind(bind).await?;
        self.bound_to(server.local_addr());
        let server = server.spawn();
        let unhealthy_after = self.unhealthy_after;
        match self.register().await {
            Ok(exported) => {
                health.follow(exported.registries(), unhealthy_after).await;
                Ok(TripleService {
                    exported,
                    server,
                    health,
                })
            }
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
    health: Health,
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
    /// serving while staying registered, as a crashed process would look to consumers). The
    /// health service keeps the status it has then.
    pub fn into_parts(self) -> (Exported, ServerHandle) {
        (self.exported, self.server)
    }

    /// Report NOT_SERVING, unregister everywhere, wait `drain` (consumers see the node go and
    /// stop sending), then stop the server, letting calls in flight finish.
    ///
    /// # Errors
    /// The first unregistration error or the server's error (both steps are always taken).
    pub async fn shutdown(mut self, drain: Duration) -> Result<(), ProviderError> {
        self.health.stop().await;
        let unregistered = self.exported.unregister().await;
        tokio::time::sleep(drain).await;
        let stopped = self.server.shutdown().await;
        unregistered?;
        stopped.map_err(ProviderError::Server)
    }
}
