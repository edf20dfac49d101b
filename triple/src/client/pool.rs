//! The connections of a factory, shared by the invokers of each provider identity.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use zkdubbo_common::sync::lock;

use super::*;

pub(crate) struct Pool {
    pub(crate) config: TripleConfig,
    pub(crate) connections: Mutex<HashMap<String, PoolEntry>>,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            config: TripleConfig::default(),
            connections: Mutex::new(HashMap::new()),
        }
    }
}

pub(crate) struct PoolEntry {
    pub(crate) connection: Arc<Connection>,
    pub(crate) invokers: usize,
}

impl Pool {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<String, PoolEntry>> {
        // The map stays consistent even if a holder panicked: every update is one statement.
        lock(&self.connections)
    }

    /// One invoker of `connection` is gone; close it when it was the last.
    pub(crate) fn release(&self, connection: &Arc<Connection>) {
        let mut connections = self.lock();
        let Some(entry) = connections.get_mut(&connection.identity) else {
            return;
        };
        if !Arc::ptr_eq(&entry.connection, connection) {
            return;
        }
        entry.invokers = entry.invokers.saturating_sub(1);
        if entry.invokers == 0 {
            connections.remove(&connection.identity);
            drop(connections);
            tracing::debug!(provider = %connection.identity, "closing triple connection: last invoker gone");
            connection.close();
        }
    }
}
