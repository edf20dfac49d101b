//! The consumer's view of a service: registry notifications turned into immutable,
//! atomically swapped snapshots of routed providers.

pub mod configurator;
pub mod error;
pub mod merge;
pub mod router;
pub mod snapshot;
