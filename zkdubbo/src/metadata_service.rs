//! The client of Dubbo's MetadataService V1 (`org.apache.dubbo.metadata.MetadataService`,
//! version 1.0.0, group = the application, over dubbo://), through which consumers get the
//! metadata of instances whose storage type is `local`, Dubbo 3's default.

use std::sync::Arc;

use zkdubbo_discovery::MetadataFetcher;

/// The fetcher consumers use: the dubbo:// client with the `dubbo` feature, else none (such
/// instances are then skipped with a warning).
pub(crate) fn fetcher() -> Option<Arc<dyn MetadataFetcher>> {
    #[cfg(feature = "dubbo")]
    {
        Some(Arc::new(v1::MetadataServiceV1::default()))
    }
    #[cfg(not(feature = "dubbo"))]
    {
        None
    }
}

#[cfg(feature = "dubbo")]
mod v1 {
    use std::collections::BTreeMap;

    use async_trait::async_trait;
    use zkdubbo_common::{Url, keys};
    use zkdubbo_discovery::{METADATA_SERVICE_URL_PARAMS_KEY, MetadataFetcher, MetadataInfo, ServiceInstance};
    use zkdubbo_dubbo::hessian::Value;
    use zkdubbo_dubbo::{DubboInvokerFactory, PROTOCOL, reply, value_invocation};

    /// The interface of MetadataService V1.
    const INTERFACE: &str = "org.apache.dubbo.metadata.MetadataService";
    /// Its version.
    const VERSION: &str = "1.0.0";
    /// How long one call may take (Java's MetadataService reference uses 5 s too).
    const TIMEOUT_MS: &str = "5000";

    #[derive(Default)]
    pub(crate) struct MetadataServiceV1 {
        factory: DubboInvokerFactory,
    }

    /// The MetadataService URL of `instance`: its `dubbo.metadata-service.url-params`
    /// (protocol and port), else the instance's dubbo endpoint.
    pub(crate) fn service_url(instance: &ServiceInstance) -> Result<Url, String> {
        let params: BTreeMap<String, String> = match instance.metadata.get(METADATA_SERVICE_URL_PARAMS_KEY) {
            None => BTreeMap::new(),
            Some(text) => serde_json::from_str(text)
                .map_err(|e| format!("{METADATA_SERVICE_URL_PARAMS_KEY} is not a JSON object of strings: {e}"))?,
        };
        let protocol = params.get("protocol").map_or(PROTOCOL, String::as_str);
        if protocol != PROTOCOL {
            return Err(format!(
                "its MetadataService is served over {protocol}://, and zkdubbo calls it over dubbo:// only"
            ));
        }
        let port = match params.get("port") {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("MetadataService port {p:?} is not a port"))?,
            None => instance.port_of(PROTOCOL),
        };
        let mut url = Url::new(PROTOCOL, &instance.address, Some(port), INTERFACE).with_params(
            params
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "port" | "protocol"))
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        url.set_param(keys::INTERFACE, INTERFACE);
        url.set_param(keys::GROUP, instance.name.as_str());
        url.set_param(keys::VERSION, VERSION);
        url.set_param(keys::TIMEOUT, TIMEOUT_MS);
        Ok(url)
    }

    #[async_trait]
    impl MetadataFetcher for MetadataServiceV1 {
        async fn fetch(&self, instance: &ServiceInstance, revision: &str) -> Result<MetadataInfo, String> {
            use zkdubbo_common::InvokerFactory;
            let url = service_url(instance)?;
            let invoker = self.factory.create(&url).map_err(|e| e.to_string())?;
            let inv = value_invocation("getMetadataInfo", &["java.lang.String"], &[Value::from(revision)])
                .map_err(|e| e.to_string())?;
            let response = invoker.invoke(&inv).await;
            invoker.destroy();
            let response = response.map_err(|e| format!("getMetadataInfo on {}: {e}", url.address()))?;
            let info: Option<MetadataInfo> =
                reply(&response).map_err(|e| format!("getMetadataInfo on {}: {e}", url.address()))?;
            info.ok_or_else(|| format!("{} has no metadata of revision {revision}", url.address()))
        }
    }
}
