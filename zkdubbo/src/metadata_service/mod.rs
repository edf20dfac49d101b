//! Dubbo's MetadataService, through which consumers get the metadata of instances whose
//! storage type is `local` (Dubbo 3's default): the client consumers use, and the services a
//! provider publishing `local` metadata serves.
//!
//! - V1 (`v1`): `org.apache.dubbo.metadata.MetadataService` over dubbo:// with Hessian2, on
//!   every Dubbo 3 provider with a dubbo:// port (feature `dubbo`);
//! - V2 (`v2`): `org.apache.dubbo.metadata.MetadataServiceV2` over Triple with protobuf (Dubbo
//!   3.3), named by instances that say `meta-v=2.0.0` (feature `triple`).
//!
//! Which one an instance serves, and where, is in its `dubbo.metadata-service.url-params`
//! (`protocol`, `port`) and `meta-v`.

use std::sync::Arc;

use zkdubbo_discovery::MetadataFetcher;

#[cfg(any(feature = "dubbo", feature = "triple"))]
mod client;
#[cfg(feature = "dubbo")]
mod v1;
#[cfg(feature = "triple")]
mod v2;

#[cfg(feature = "dubbo")]
pub(crate) use v1::{is_metadata_service, service, service_key};
#[cfg(feature = "triple")]
pub(crate) use v2::{INTERFACE as V2_INTERFACE, service as v2_service};

#[cfg(any(feature = "dubbo", feature = "triple"))]
use client::Endpoint;

/// The fetcher consumers use (with neither transport, none: such instances are then skipped
/// with a warning).
pub(crate) fn fetcher() -> Option<Arc<dyn MetadataFetcher>> {
    #[cfg(any(feature = "dubbo", feature = "triple"))]
    {
        Some(Arc::new(client::Client::default()))
    }
    #[cfg(not(any(feature = "dubbo", feature = "triple")))]
    {
        None
    }
}
