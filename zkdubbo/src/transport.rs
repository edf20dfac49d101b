//! Which transport calls a provider: the invoker factory a [`Reference`](crate::Reference)
//! uses unless it is given one, routing each provider URL by its protocol.

use std::sync::Arc;

use zkdubbo_common::{Invoker, InvokerFactory, RpcError, Url};

/// The invoker factory of the transports compiled in: `tri://` (feature `triple`) and
/// `dubbo://` (feature `dubbo`).
pub(crate) fn default_factory() -> Arc<dyn InvokerFactory> {
    Arc::new(Transports {
        #[cfg(feature = "triple")]
        triple: zkdubbo_triple::TripleInvokerFactory::new(),
        #[cfg(feature = "dubbo")]
        dubbo: zkdubbo_dubbo::DubboInvokerFactory::new(),
    })
}

/// Every compiled-in transport, chosen by the provider URL's protocol.
#[derive(Debug)]
struct Transports {
    #[cfg(feature = "triple")]
    triple: zkdubbo_triple::TripleInvokerFactory,
    #[cfg(feature = "dubbo")]
    dubbo: zkdubbo_dubbo::DubboInvokerFactory,
}

impl InvokerFactory for Transports {
    fn create(&self, url: &Url) -> Result<Arc<dyn Invoker>, RpcError> {
        match url.protocol() {
            #[cfg(feature = "triple")]
            "tri" | "grpc" => self.triple.create(url),
            #[cfg(feature = "dubbo")]
            "dubbo" => self.dubbo.create(url),
            other => Err(RpcError::transport(
                format!(
                    "protocol {other:?} has no transport here (compiled in: {}; the `triple` and `dubbo` \
                     features add tri:// and dubbo://)",
                    compiled().join(", ")
                ),
                format!("provider {}", url.address()),
            )),
        }
    }
}

fn compiled() -> Vec<&'static str> {
    let mut v = Vec::new();
    if cfg!(feature = "triple") {
        v.push("tri");
    }
    if cfg!(feature = "dubbo") {
        v.push("dubbo");
    }
    if v.is_empty() {
        v.push("none");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_protocol_and_names_the_missing_one() {
        let f = default_factory();
        #[cfg(feature = "dubbo")]
        assert!(f.create(&"dubbo://10.0.0.1:20880/com.foo.Bar".parse().unwrap()).is_ok());
        #[cfg(feature = "triple")]
        assert!(f.create(&"tri://10.0.0.1:50051/com.foo.Bar".parse().unwrap()).is_ok());
        let err = f
            .create(&"rest://10.0.0.1:80/com.foo.Bar".parse().unwrap())
            .unwrap_err();
        assert!(
            err.to_string().contains("protocol \"rest\" has no transport here"),
            "{err}"
        );
    }
}
