//! The formats of Dubbo 3's application-level service discovery on ZooKeeper, as Java Dubbo
//! 3.3 and dubbo-go write and read them (ARCHITECTURE: Application-level discovery):
//!
//! - [`ServiceInstance`]: an instance node `/services/<application>/<ip>:<port>`, whose data
//!   is Curator x-discovery's JSON with Dubbo's `ZookeeperInstance` payload.
//! - [`MetadataInfo`] and [`ServiceInfo`]: the services an instance exports, the JSON of
//!   `/dubbo/metadata/<application>/<revision>` (and of `getMetadataInfo`), and the revision,
//!   computed as Java's `MetadataInfo.calAndGetRevision` does so that caches keyed by it are
//!   shared with Java.
//! - [`mapping`]: the applications of `/dubbo/mapping/<interface>`.
//!
//! Everything read from outside is bounded and checked: a node that is not what it should be
//! is a [`DiscoveryError`] naming what is wrong, never a panic.

#![forbid(unsafe_code)]

mod application;
mod error;
mod instance;
pub mod mapping;
mod metadata;
pub mod migration;
mod publish;
mod registry;
mod urls;

pub use application::{AppInstances, MetadataFetcher, Paths, ResolvedInstance};
pub use error::DiscoveryError;
pub use instance::{
    ENDPOINTS_KEY, Endpoint, INSTANCE_PAYLOAD_CLASS, MAX_INSTANCE_BYTES, METADATA_SERVICE_URL_PARAMS_KEY,
    METADATA_SERVICE_VERSION_KEY, METADATA_STORAGE_TYPE_KEY, REVISION_KEY, ServiceInstance, StorageType,
};
pub use metadata::{EMPTY_REVISION, MAX_METADATA_BYTES, MetadataInfo, ServiceInfo};
pub use migration::{Level, Migration, MigrationRule, MigrationStep};
pub use publish::{InstancePublisher, REGISTER_MODE_KEY, RegisterMode, register_mode};
pub use registry::{MigrationState, PROVIDED_BY_KEY, ServiceDiscoveryRegistry};
pub use urls::{LEVEL_KEY, provider_urls};
