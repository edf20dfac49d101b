//! Dubbo-compatible service registration and discovery.
//!
//! The [`Registry`] trait is the capability; [`ZookeeperRegistry`] implements it on ZooKeeper
//! in Apache Dubbo's layout, and [`MemoryRegistry`] in memory for tests of the layers above.
//! Subscriptions deliver full, versioned, coalesced lists per category ([`Notification`]).

#![forbid(unsafe_code)]

pub mod cache;
pub mod error;
pub mod guard;
pub mod memory;
pub mod notification;
pub mod registry;
pub mod zookeeper;

pub use error::RegistryError;
pub use guard::Registration;
pub use memory::MemoryRegistry;
pub use notification::{
    Category, ListVersion, Notification, SinkOptions, Source, Subscription, SubscriptionSink, subscription_channel,
    subscription_channel_with,
};
pub use registry::Registry;
pub use zookeeper::{ZookeeperRegistry, registry_address};
