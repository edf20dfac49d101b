//! Opening the registries a builder names.

use std::sync::Arc;

use zkdubbo_common::Url;
use zkdubbo_registry::{RegistryError, ZookeeperRegistry, registry_address};

/// Open the ZooKeeper registry of `spec` (an address as [`registry_address`] reads it). The
/// error comes with the registry's name for messages, its password hidden.
pub(crate) async fn open(spec: &str) -> Result<Arc<ZookeeperRegistry>, (String, RegistryError)> {
    let url = registry_address(spec).map_err(|source| (redacted_spec(spec), source))?;
    ZookeeperRegistry::connect(&url)
        .await
        .map_err(|source| (url.redacted().to_string(), source))
}

/// A registry address as given, with any password hidden, for an error about it.
fn redacted_spec(spec: &str) -> String {
    match spec.trim().parse::<Url>() {
        Ok(url) => url.redacted().to_string(),
        Err(_) => "(an unreadable registry address)".to_owned(),
    }
}
