//! MetadataService V2 (Dubbo 3.3's `metadata_service_v2.proto`):
//! `org.apache.dubbo.metadata.MetadataServiceV2/GetMetadataInfo(MetadataRequest{revision})`
//! answering `MetadataInfoV2`, over Triple with protobuf, version 2.0.0, group = the
//! application.

use std::collections::HashMap;

use zkdubbo_discovery::{MetadataInfo, ServiceInfo, ServiceInstance};
use zkdubbo_triple::{Methods, Status, TripleInvokerFactory, decode_reply, message_invocation};

use super::Endpoint;

/// The service of MetadataService V2.
pub(crate) const INTERFACE: &str = "org.apache.dubbo.metadata.MetadataServiceV2";
/// Its version, also the instance's `meta-v` when it serves V2.
pub(crate) const VERSION: &str = "2.0.0";
const METHOD: &str = "GetMetadataInfo";

/// `MetadataRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct MetadataRequest {
    #[prost(string, tag = "1")]
    pub revision: String,
}

/// `MetadataInfoV2` (`version` is the revision).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct MetadataInfoV2 {
    #[prost(string, tag = "1")]
    pub app: String,
    #[prost(string, tag = "2")]
    pub version: String,
    #[prost(map = "string, message", tag = "3")]
    pub services: HashMap<String, ServiceInfoV2>,
}

/// `ServiceInfoV2`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ServiceInfoV2 {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub group: String,
    #[prost(string, tag = "3")]
    pub version: String,
    #[prost(string, tag = "4")]
    pub protocol: String,
    #[prost(int32, tag = "5")]
    pub port: i32,
    #[prost(string, tag = "6")]
    pub path: String,
    #[prost(map = "string, string", tag = "7")]
    pub params: HashMap<String, String>,
}

impl From<&MetadataInfo> for MetadataInfoV2 {
    fn from(info: &MetadataInfo) -> Self {
        MetadataInfoV2 {
            app: info.app.clone(),
            version: info.revision.clone(),
            services: info
                .services
                .iter()
                .map(|(key, s)| {
                    let v2 = ServiceInfoV2 {
                        name: s.name.clone(),
                        group: s.group.clone().unwrap_or_default(),
                        version: s.version.clone().unwrap_or_default(),
                        protocol: s.protocol.clone(),
                        port: s.port,
                        path: s.path.clone(),
                        params: s.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    };
                    (key.clone(), v2)
                })
                .collect(),
        }
    }
}

impl From<MetadataInfoV2> for MetadataInfo {
    fn from(v2: MetadataInfoV2) -> Self {
        // proto3 has no null: an empty group or version is none.
        let some = |s: String| (!s.is_empty()).then_some(s);
        MetadataInfo {
            app: v2.app,
            revision: v2.version,
            services: v2
                .services
                .into_iter()
                .map(|(key, s)| {
                    let info = ServiceInfo {
                        name: s.name,
                        group: some(s.group),
                        version: some(s.version),
                        protocol: s.protocol,
                        port: s.port,
                        path: s.path,
                        params: s.params.into_iter().collect(),
                    };
                    (key, info)
                })
                .collect(),
        }
    }
}

/// The MetadataService V2 of `application`: the metadata this process publishes for it
/// (`NOT_FOUND` for a revision it does not have).
pub(crate) fn service(application: &str) -> Methods {
    let application = application.to_owned();
    Methods::new().unary(METHOD, move |request: MetadataRequest, _metadata| {
        let found = crate::discovery::metadata_of(&application, &request.revision);
        let application = application.clone();
        async move {
            found.map(|m| MetadataInfoV2::from(&*m)).ok_or_else(|| {
                Status::not_found(format!(
                    "{application} has no metadata of revision {}",
                    request.revision
                ))
            })
        }
    })
}

/// The client: calls of the MetadataService V2 of instances.
#[derive(Default)]
pub(crate) struct Client {
    factory: TripleInvokerFactory,
}

impl Client {
    /// `GetMetadataInfo(revision)` of the MetadataService at `endpoint`.
    pub(crate) async fn fetch(
        &self,
        endpoint: &Endpoint,
        instance: &ServiceInstance,
        revision: &str,
    ) -> Result<MetadataInfo, String> {
        let url = endpoint.url("tri", INTERFACE, instance, VERSION);
        let request = MetadataRequest {
            revision: revision.to_owned(),
        };
        let inv = message_invocation(METHOD, &request);
        let response = super::client::call_once(&self.factory, &url, &inv).await?;
        let info: MetadataInfoV2 =
            decode_reply(&response).map_err(|e| format!("GetMetadataInfo on {}: {e}", url.address()))?;
        Ok(info.into())
    }
}
