//! Serving a provider over dubbo://.

use std::net::SocketAddr;
use std::time::Duration;

use zkdubbo_common::Url;
use zkdubbo_dubbo::{DubboServer, DubboServerHandle, ServerConfig, Service};

use super::{Exported, ProviderError, ServiceBuilder};

impl ServiceBuilder {
    /// Bind a dubbo:// server on `bind` serving `service` (e.g.
    /// [`DubboMethods`](crate::dubbo::DubboMethods)), register
    /// `dubbo://<host>:<port>/<interface>?serialization=hessian2&prefer.serialization=hessian2&methods=…`
    /// (the last so Dubbo 3.2+ consumers do not pick fastjson2) and serve in the background.
    ///
    /// # Errors
    /// [`ProviderError::Server`] when binding fails, else as [`ServiceBuilder::register`]
    /// (the server is stopped again).
    pub async fn serve_dubbo(self, service: impl Service, bind: SocketAddr) -> Result<DubboService, ProviderError> {
        self.serve_dubbo_with(service, bind, ServerConfig::default()).await
    }

    /// [`ServiceBuilder::serve_dubbo`] with server settings (heartbeat, payload limit,
    /// connection limit).
    ///
    /// # Errors
    /// As [`ServiceBuilder::serve_dubbo`].
    pub async fn serve_dubbo_with(
        mut self,
        service: impl Service,
        bind: SocketAddr,
        config: ServerConfig,
    ) -> Result<DubboService, ProviderError> {
        self.protocol = zkdubbo_dubbo::PROTOCOL.to_owned();
        for m in service.methods() {
            if !self.methods.contains(&m) {
                self.methods.push(m);
            }
        }
        for (k, v) in [
            ("serialization", "hessian2"),
            ("prefer.serialization", "hessian2"),
            ("heartbeat", &config.heartbeat.as_millis().to_string()),
        ] {
            self.params.entry(k.to_owned()).or_insert_with(|| v.to_owned());
        }
        let server = DubboServer::builder()
            .service(self.interface.clone(), service)
            .config(config)
            .bind(bind)
            .await?;
        if self.port.is_none() {
            self.port = Some(server.local_addr().port());
        }
        if self.host.is_none() {
            self.host = Some(zkdubbo_common::host::register_host(server.local_addr().ip()));
        }
        let server = server.spawn();
        match self.register().await {
            Ok(exported) => Ok(DubboService { exported, server }),
            Err(e) => {
                server.shutdown(Duration::ZERO).await;
                Err(e)
            }
        }
    }
}

/// A service served over dubbo:// and registered: [`DubboService::shutdown`] unregisters
/// first, waits for consumers to notice, then tells connected consumers it is read-only and
/// stops once the calls in flight are done.
#[derive(Debug)]
pub struct DubboService {
    exported: Exported,
    server: DubboServerHandle,
}

impl DubboService {
    /// The registered URL.
    pub fn url(&self) -> &Url {
        self.exported.url()
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The registration guard and the server handle, to stop them separately.
    pub fn into_parts(self) -> (Exported, DubboServerHandle) {
        (self.exported, self.server)
    }

    /// Unregister everywhere, wait `drain` (consumers see the node go), then send the
    /// read-only event and stop the server, letting calls in flight finish (up to `drain`
    /// more).
    ///
    /// # Errors
    /// The first unregistration error (the server is stopped in every case).
    pub async fn shutdown(self, drain: Duration) -> Result<(), ProviderError> {
        let unregistered = self.exported.unregister().await;
        tokio::time::sleep(drain).await;
        self.server.shutdown(drain.max(Duration::from_millis(100))).await;
        unregistered
    }
}
