//! The consumer side: an [`InvokerFactory`](zkdubbo_common::InvokerFactory) for `dubbo://`
//! URLs, so the directory, routers, cluster and load balancers call Dubbo providers unchanged.

mod connection;
mod endpoint;
mod factory;
mod invoker;

use std::sync::atomic::{AtomicI64, Ordering};

pub use factory::{DubboConfig, DubboInvokerFactory};
pub use invoker::DubboInvoker;

pub(crate) use connection::heartbeat_reply;

/// Request ids are unique per process, as Java's are.
static NEXT_ID: AtomicI64 = AtomicI64::new(1);

pub(crate) fn next_id() -> i64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}
