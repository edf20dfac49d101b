//! Serving a provider over dubbo://. Services of one process given the same bind address share
//! one server and one port, as in Java Dubbo (where every service is on 20880).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use zkdubbo_common::Url;
use zkdubbo_common::sync::lock;
use zkdubbo_dubbo::{DubboServer, DubboServerHandle, ServerConfig, Service};

use super::{Exported, ProviderError, ServiceBuilder};

/// The dubbo:// servers of this process by bind address (ephemeral ports are never shared).
fn servers() -> &'static Mutex<HashMap<SocketAddr, Weak<DubboPort>>> {
    static SERVERS: OnceLock<Mutex<HashMap<SocketAddr, Weak<DubboPort>>>> = OnceLock::new();
    SERVERS.get_or_init(Mutex::default)
}

impl ServiceBuilder {
    /// Serve `service` (e.g. [`DubboMethods`](crate::dubbo::DubboMethods)) over dubbo:// on
    /// `bind`, register
    /// `dubbo://<host>:<port>/<interface>?serialization=hessian2&prefer.serialization=hessian2&methods=…`
    /// (the last so Dubbo 3.2+ consumers do not pick fastjson2) and serve in the background.
    /// Services of this process given the same address share its server and port (the first
    /// one's [`ServerConfig`] applies).
    ///
    /// # Errors
    /// [`ProviderError::Server`] when binding fails, [`ProviderError::Config`] when the port
    /// already serves this interface, else as [`ServiceBuilder::register`] (the service is
    /// removed again).
    pub async fn serve_dubbo(self, service: impl Service, bind: SocketAddr) -> Result<DubboService, ProviderError> {
        self.serve_dubbo_with(service, bind, ServerConfig::default()).await
    }

    /// [`ServiceBuilder::serve_dubbo`] with server settings (heartbeat, payload limit,
    /// connection and in-flight limits).
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
        // Several groups or versions of one interface may share a port: served by service key.
        let interface = zkdubbo_common::service_key(
            &self.interface,
            self.params.get(zkdubbo_common::keys::GROUP).map(String::as_str),
            self.params.get(zkdubbo_common::keys::VERSION).map(String::as_str),
        );
        let port = DubboPort::serve(&interface, service, bind, config).await?;
        if let Some(application) = self.local_metadata_application() {
            // Before the instance names it: consumers may call it as soon as they see it.
            port.serve_metadata(&application);
        }
        self.bound_to(port.local_addr);
        match self.register().await {
            Ok(exported) => Ok(DubboService {
                exported,
                port,
                interface,
            }),
            Err(e) => {
                port.leave(&interface, Duration::ZERO).await;
                Err(e)
            }
        }
    }
}

/// A dubbo:// server and port shared by the services of this process bound to one address.
#[derive(Debug)]
pub struct DubboPort {
    local_addr: SocketAddr,
    bind: SocketAddr,
    handle: Mutex<Option<DubboServerHandle>>,
}

impl DubboPort {
    /// The port serving `bind` with `interface` added: an existing one of this process, or a
    /// new server.
    async fn serve(
        interface: &str,
        service: impl Service,
        bind: SocketAddr,
        config: ServerConfig,
    ) -> Result<Arc<DubboPort>, ProviderError> {
        if bind.port() != 0 {
            let existing = lock(servers()).get(&bind).and_then(Weak::upgrade);
            if let Some(port) = existing {
                let guard = lock(&port.handle);
                if let Some(handle) = guard.as_ref() {
                    if handle.services().iter().any(|s| s == interface) {
                        return Err(ProviderError::Config(format!("{bind} already serves {interface}")));
                    }
                    handle.add_service(interface, service);
                    drop(guard);
                    return Ok(port);
                }
            }
        }
        let server = DubboServer::builder()
            .service(interface, service)
            .config(config)
            .bind(bind)
            .await?;
        let port = Arc::new(DubboPort {
            local_addr: server.local_addr(),
            bind,
            handle: Mutex::new(Some(server.spawn())),
        });
        if bind.port() != 0 {
            lock(servers()).insert(bind, Arc::downgrade(&port));
        }
        Ok(port)
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serve `application`'s MetadataService V1 too, unless it is served already. It is not one
    /// of the port's services: it goes with the last of them.
    fn serve_metadata(&self, application: &str) {
        let key = crate::metadata_service::service_key(application);
        if let Some(handle) = lock(&self.handle).as_ref()
            && !handle.services().contains(&key)
        {
            handle.add_service(key, crate::metadata_service::service(application));
        }
    }

    /// The interfaces it serves.
    pub fn services(&self) -> Vec<String> {
        lock(&self.handle)
            .as_ref()
            .map(DubboServerHandle::services)
            .unwrap_or_default()
    }

    /// Stop the whole server at once, as a crash of the process would (every service on it).
    pub fn abort(&self) {
        if let Some(handle) = lock(&self.handle).take() {
            handle.abort();
        }
        self.forget();
    }

    /// Remove `interface`; the last one to leave stops the server gracefully (read-only
    /// event, calls in flight finish within `drain`).
    async fn leave(&self, interface: &str, drain: Duration) {
        let last = {
            let mut guard = lock(&self.handle);
            let empty = guard.as_ref().is_none_or(|h| {
                h.remove_service(interface);
                h.services()
                    .iter()
                    .all(|s| crate::metadata_service::is_metadata_service(s))
            });
            if empty { guard.take() } else { None }
        };
        if let Some(handle) = last {
            self.forget();
            handle.shutdown(drain).await;
        }
    }

    fn forget(&self) {
        let mut map = lock(servers());
        if map
            .get(&self.bind)
            .is_some_and(|w| w.upgrade().is_none_or(|p| std::ptr::eq(&*p, self)))
        {
            map.remove(&self.bind);
        }
    }
}

impl Drop for DubboPort {
    /// Nobody uses the server any more: stop it.
    fn drop(&mut self) {
        if let Some(handle) = lock(&self.handle).take() {
            handle.abort();
        }
    }
}

/// A service served over dubbo:// and registered: [`DubboService::shutdown`] unregisters
/// first, waits for consumers to notice, then stops serving it (the last service of its port
/// also tells connected consumers the provider is read-only and stops the server once the
/// calls in flight are done).
#[derive(Debug)]
pub struct DubboService {
    exported: Exported,
    port: Arc<DubboPort>,
    interface: String,
}

impl DubboService {
    /// The registered URL.
    pub fn url(&self) -> &Url {
        self.exported.url()
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.port.local_addr
    }

    /// The registration guard and the port, to stop them separately (e.g.
    /// [`DubboPort::abort`] while staying registered, as a crashed process would look).
    pub fn into_parts(self) -> (Exported, Arc<DubboPort>) {
        (self.exported, self.port)
    }

    /// Unregister everywhere, wait `drain` (consumers see the node go), then stop serving this
    /// interface; the last service of the port sends the read-only event and stops the
    /// server, letting calls in flight finish (up to `drain` more).
    ///
    /// # Errors
    /// The first unregistration error (serving stops in every case).
    pub async fn shutdown(self, drain: Duration) -> Result<(), ProviderError> {
        let unregistered = self.exported.unregister().await;
        tokio::time::sleep(drain).await;
        self.port
            .leave(&self.interface, drain.max(Duration::from_millis(100)))
            .await;
        unregistered
    }
}
