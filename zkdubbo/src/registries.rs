//! Opening the registries a builder names.

use std::sync::Arc;

use zkdubbo_registry::{RegistryError, ZookeeperRegistry, redact_address, registry_address};

/// Open the ZooKeeper registry of `spec` (an address as [`registry_address`] reads it). The
/// error comes with the registry's name for messages, its password hidden.
pub(crate) async fn open(spec: &str) -> Result<Arc<ZookeeperRegistry>, (String, RegistryError)> {
    let url = registry_address(spec).map_err(|source| (redact_address(spec), source))?;
    ZookeeperRegistry::connect(&url)
        .await
        .map_err(|source| (url.redacted().to_string(), source))
}
