//! The invoker factory: one shared connection per provider identity.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use zkdubbo_common::Url;
use zkdubbo_common::{Invoker, InvokerFactory, RpcError};

use super::*;

/// Creates [`TripleInvoker`]s for `tri://` (and `grpc://`) provider URLs, one shared HTTP/2
/// connection per provider identity. Clones share the same connections.
#[derive(Clone, Default)]
pub struct TripleInvokerFactory {
    pub(crate) pool: Arc<Pool>,
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
            prepared: Prepared::of(url),
        }))
    }
}

impl InvokerFactory for TripleInvokerFactory {
    fn create(&self, url: &Url) -> Result<Arc<dyn Invoker>, RpcError> {
        let invoker: Arc<dyn Invoker> = self.create_triple(url)?;
        Ok(invoker)
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
}
