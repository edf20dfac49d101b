//! The standard Dubbo Triple sample service, `org.apache.dubbo.samples.Greeter`.
//!
//! Its protobuf definition (as in the Dubbo, dubbo-go and dubbo-python samples):
//!
//! ```proto
//! syntax = "proto3";
//! package org.apache.dubbo.samples;
//! message GreeterRequest { string name = 1; }
//! message GreeterReply { string message = 1; }
//! service Greeter { rpc sayHello(GreeterRequest) returns (GreeterReply); }
//! ```
//!
//! The messages are hand-written `prost` structs (no `protoc` needed).
//!
//! ```
//! use zkdubbo_triple::greeter::{self, GreeterRequest};
//! let reply = greeter::say_hello(&GreeterRequest { name: "world".into() });
//! assert_eq!(reply.message, "Hello, world!");
//! ```

use tonic::Status;

use crate::Methods;

/// The service interface: `org.apache.dubbo.samples.Greeter`.
pub const INTERFACE: &str = "org.apache.dubbo.samples.Greeter";

/// The method name: `sayHello`.
pub const SAY_HELLO: &str = "sayHello";

/// `message GreeterRequest { string name = 1; }`
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct GreeterRequest {
    /// Who to greet.
    #[prost(string, tag = "1")]
    pub name: String,
}

/// `message GreeterReply { string message = 1; }`
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct GreeterReply {
    /// The greeting, `Hello, <name>!`.
    #[prost(string, tag = "1")]
    pub message: String,
}

/// The sample's business logic: `Hello, <name>!`.
pub fn say_hello(request: &GreeterRequest) -> GreeterReply {
    GreeterReply {
        message: format!("Hello, {}!", request.name),
    }
}

/// The Greeter service ready to be mounted on a [`TripleServer`](crate::TripleServer) under
/// [`INTERFACE`] (or any other interface name).
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use zkdubbo_triple::{TripleServer, greeter};
/// let server = TripleServer::builder()
///     .service(greeter::INTERFACE, greeter::service())
///     .bind("127.0.0.1:50051")
///     .await?;
/// server.serve().await
/// # }
/// ```
pub fn service() -> Methods {
    Methods::new().unary(SAY_HELLO, |request: GreeterRequest, _metadata| async move {
        Ok::<_, Status>(say_hello(&request))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn wire_format_matches_the_proto() {
        let bytes = GreeterRequest { name: "Bob".into() }.encode_to_vec();
        assert_eq!(bytes, b"\x0a\x03Bob");
        let reply = GreeterReply::decode(&b"\x0a\x0bHello, Bob!"[..]).unwrap();
        assert_eq!(reply.message, "Hello, Bob!");
        assert_eq!(say_hello(&GreeterRequest { name: "Bob".into() }), reply);
    }
}
