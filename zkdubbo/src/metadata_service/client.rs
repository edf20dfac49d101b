//! Which MetadataService an instance names, and the client that calls it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use zkdubbo_common::{Url, keys};
use zkdubbo_discovery::{
    METADATA_SERVICE_URL_PARAMS_KEY, METADATA_SERVICE_VERSION_KEY, MetadataFetcher, MetadataInfo, ServiceInstance,
};

/// How long one call may take (Java's MetadataService reference uses 5 s too).
const TIMEOUT_MS: &str = "5000";

/// Where an instance's MetadataService is.
pub(crate) struct Endpoint {
    /// `dubbo` or `tri`.
    pub protocol: String,
    pub port: u16,
    /// The other URL parameters the instance names.
    pub params: BTreeMap<String, String>,
    /// `meta-v`: the MetadataService version (`2.0.0` for V2).
    pub version: Option<String>,
}

impl Endpoint {
    /// The endpoint `instance` names: its `dubbo.metadata-service.url-params`, else its dubbo
    /// endpoint.
    fn of(instance: &ServiceInstance) -> Result<Endpoint, String> {
        let mut params: BTreeMap<String, String> = match instance.metadata.get(METADATA_SERVICE_URL_PARAMS_KEY) {
            None => BTreeMap::new(),
            Some(text) => serde_json::from_str(text)
                .map_err(|e| format!("{METADATA_SERVICE_URL_PARAMS_KEY} is not a JSON object of strings: {e}"))?,
        };
        let protocol = params.remove("protocol").unwrap_or_else(|| "dubbo".to_owned());
        let port = match params.remove("port") {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("MetadataService port {p:?} is not a port"))?,
            None => instance.port_of(&protocol),
        };
        Ok(Endpoint {
            protocol,
            port,
            params,
            version: instance.metadata.get(METADATA_SERVICE_VERSION_KEY).cloned(),
        })
    }

    /// The URL of `interface` (version `version`, group the application) at this endpoint.
    pub(crate) fn url(&self, protocol: &str, interface: &str, instance: &ServiceInstance, version: &str) -> Url {
        let mut url = Url::new(protocol, &instance.address, Some(self.port), interface)
            .with_params(self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        url.set_param(keys::INTERFACE, interface);
        url.set_param(keys::GROUP, instance.name.as_str());
        url.set_param(keys::VERSION, version);
        url.set_param(keys::TIMEOUT, TIMEOUT_MS);
        url
    }
}

/// Call `inv` once on a fresh invoker of `url` from `factory` (the factory shares connections
/// per address; the invoker is released after). Errors name the method and the address.
pub(crate) async fn call_once(
    factory: &dyn zkdubbo_common::InvokerFactory,
    url: &Url,
    inv: &zkdubbo_common::Invocation,
) -> Result<zkdubbo_common::Response, String> {
    let invoker = factory.create(url).map_err(|e| e.to_string())?;
    let response = invoker.invoke(inv).await;
    invoker.destroy();
    response.map_err(|e| format!("{} on {}: {e}", inv.method(), url.address()))
}

/// Calls the MetadataService an instance names, as Java's `MetadataUtils.referMetadataService`
/// chooses it: V2 over Triple when the instance says `meta-v=2.0.0` and serves it over `tri`,
/// else V1 over dubbo://.
#[derive(Default)]
pub(crate) struct Client {
    #[cfg(feature = "dubbo")]
    v1: super::v1::Client,
    #[cfg(feature = "triple")]
    v2: super::v2::Client,
}

#[async_trait]
impl MetadataFetcher for Client {
    async fn fetch(&self, instance: &ServiceInstance, revision: &str) -> Result<MetadataInfo, String> {
        let endpoint = Endpoint::of(instance)?;
        match (endpoint.protocol.as_str(), endpoint.version.as_deref()) {
            #[cfg(feature = "triple")]
            ("tri", Some(super::v2::VERSION)) => self.v2.fetch(&endpoint, instance, revision).await,
            #[cfg(feature = "dubbo")]
            ("dubbo", _) => self.v1.fetch(&endpoint, instance, revision).await,
            (protocol, version) => Err(format!(
                "its MetadataService (version {}) is served over {protocol}://; zkdubbo calls V1 over dubbo:// \
                 and V2 over tri://",
                version.unwrap_or("1.0.0")
            )),
        }
    }
}
