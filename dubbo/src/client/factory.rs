//! [`DubboInvokerFactory`]: one shared set of connections per provider address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use zkdubbo_common::sync::lock;
use zkdubbo_common::{Invoker, InvokerFactory, RpcError, Url};

use super::connection::ConnConfig;
use super::endpoint::Endpoint;
use super::invoker::DubboInvoker;
use crate::PROTOCOL;
use crate::frame::DEFAULT_PAYLOAD;

/// Consumer settings (URL parameters of the provider override `heartbeat`, `payload`,
/// `connections` and `timeout`).
#[derive(Debug, Clone, Copy)]
pub struct DubboConfig {
    /// How long to wait for a TCP connection (Dubbo's `connect.timeout`, 3 s).
    pub connect_timeout: Duration,
    /// Heartbeat interval (Dubbo's `heartbeat`, 60 s); a connection silent for 3 × this is
    /// closed.
    pub heartbeat: Duration,
    /// Largest frame body accepted (Dubbo's `payload`, 8 MiB).
    pub payload: usize,
    /// Default call timeout when the URL has none (Dubbo's 1 s).
    pub timeout: Duration,
}

impl Default for DubboConfig {
    fn default() -> Self {
        DubboConfig {
            connect_timeout: Duration::from_secs(3),
            heartbeat: Duration::from_secs(60),
            payload: DEFAULT_PAYLOAD,
            timeout: Duration::from_secs(1),
        }
    }
}

/// Creates [`DubboInvoker`]s for `dubbo://` provider URLs. Invokers of the same address share
/// its connections (one, or the URL's `connections`), opened on the first call.
///
/// ```
/// use zkdubbo_common::InvokerFactory;
/// let factory = zkdubbo_dubbo::DubboInvokerFactory::new();
/// let url = "dubbo://10.0.0.5:20880/com.foo.Bar?serialization=hessian2".parse().unwrap();
/// assert!(factory.create(&url).is_ok());
/// let json = "dubbo://10.0.0.5:20880/com.foo.Bar?serialization=fastjson2".parse().unwrap();
/// assert!(factory.create(&json).unwrap_err().to_string().contains("hessian2"));
/// ```
#[derive(Debug, Default)]
pub struct DubboInvokerFactory {
    config: DubboConfig,
    endpoints: Mutex<Endpoints>,
}

/// The endpoints by address, held weakly: an endpoint lives while an invoker uses it.
#[derive(Debug, Default)]
struct Endpoints {
    by_address: HashMap<String, Weak<Endpoint>>,
    /// How many there were after the last sweep of those gone: the next sweep comes when the
    /// map has doubled, so that sweeping costs O(1) per endpoint made however many there are.
    swept_at: usize,
}

impl DubboInvokerFactory {
    /// A factory with the default [`DubboConfig`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A factory with `config`.
    pub fn with_config(config: DubboConfig) -> Self {
        DubboInvokerFactory {
            config,
            endpoints: Mutex::default(),
        }
    }
}

impl InvokerFactory for DubboInvokerFactory {
    fn create(&self, url: &Url) -> Result<Arc<dyn Invoker>, RpcError> {
        let context = || format!("provider {}", url.address());
        if url.protocol() != PROTOCOL {
            return Err(RpcError::transport(
                format!("protocol {:?} is not dubbo", url.protocol()),
                context(),
            ));
        }
        if let Some(s) = url.param("serialization").filter(|s| !s.is_empty() && *s != "hessian2") {
            return Err(RpcError::codec(
                format!("serialization {s:?} is not supported: zkdubbo speaks dubbo:// with hessian2 only"),
                context(),
            ));
        }
        let num = |key: &str, default: u64| url.param(key).and_then(|v| v.parse::<u64>().ok()).unwrap_or(default);
        let config = ConnConfig {
            connect_timeout: self.config.connect_timeout,
            heartbeat: Duration::from_millis(num("heartbeat", self.config.heartbeat.as_millis() as u64).max(10)),
            payload: num("payload", self.config.payload as u64).clamp(1024, 1 << 30) as usize,
        };
        let connections = num("connections", 1).clamp(1, 64) as usize;
        let address = url.address();
        let endpoint = {
            let mut endpoints = lock(&self.endpoints);
            match endpoints.by_address.get(&address).and_then(Weak::upgrade) {
                Some(e) => e,
                None => {
                    if endpoints.by_address.len() >= 2 * endpoints.swept_at.max(16) {
                        endpoints.by_address.retain(|_, w| w.strong_count() > 0);
                        endpoints.swept_at = endpoints.by_address.len();
                    }
                    let e = Arc::new(Endpoint::new(address.clone(), connections, config));
                    endpoints.by_address.insert(address, Arc::downgrade(&e));
                    e
                }
            }
        };
        Ok(Arc::new(DubboInvoker::new(url.clone(), endpoint, self.config.timeout)))
    }
}
