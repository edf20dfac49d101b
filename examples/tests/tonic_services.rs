//! Services and clients tonic generated (from `proto/`, by tonic-prost-build), registered and
//! found through zkdubbo: a generated server served by `ServiceBuilder::serve_tonic`, called by
//! a generated client on `Reference::grpc_channel()`; a server-streaming call; a status set by
//! the handler arriving intact.

use std::sync::Arc;
use std::time::Duration;

use tonic::{Request, Response, Status};
use zkdubbo::registry::MemoryRegistry;
use zkdubbo::{Reference, ServiceBuilder, TripleService};
use zkdubbo_examples::counter::Numbers;
use zkdubbo_examples::proto::counter::CountRequest;
use zkdubbo_examples::proto::greeter::greeter_client::GreeterClient;
use zkdubbo_examples::proto::greeter::greeter_server::{Greeter, GreeterServer};
use zkdubbo_examples::proto::greeter::{GreeterReply, GreeterRequest};

struct MyGreeter;

#[tonic::async_trait]
impl Greeter for MyGreeter {
    async fn say_hello(&self, request: Request<GreeterRequest>) -> Result<Response<GreeterReply>, Status> {
        let name = request.into_inner().name;
        if name.is_empty() {
            return Err(Status::invalid_argument("a name, please"));
        }
        Ok(Response::new(GreeterReply {
            message: format!("Hello, {name}! (tonic)"),
        }))
    }
}

async fn reference(registry: &Arc<MemoryRegistry>, interface: &str) -> Reference {
    let r = Reference::builder()
        .interface(interface)
        .registry_instance(registry.clone())
        .build()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while r.directories()[0].snapshot().providers().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no provider of {interface}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    r
}

async fn serve<S: zkdubbo::triple::TonicService>(
    registry: &Arc<MemoryRegistry>,
    interface: &str,
    method: &str,
    service: S,
) -> TripleService {
    ServiceBuilder::new(interface)
        .registry_instance(registry.clone())
        .host("127.0.0.1")
        .method(method)
        .serve_tonic(service, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_generated_client_calls_a_generated_server_through_zkdubbo() {
    let registry = Arc::new(MemoryRegistry::new());
    let server = serve(
        &registry,
        "org.apache.dubbo.samples.Greeter",
        "sayHello",
        GreeterServer::new(MyGreeter),
    )
    .await;
    assert_eq!(server.url().interface(), "org.apache.dubbo.samples.Greeter");
    assert_eq!(server.url().param("methods"), Some("sayHello"));
    let r = reference(&registry, "org.apache.dubbo.samples.Greeter").await;
    let mut client = GreeterClient::new(r.grpc_channel());
    let reply = client.say_hello(GreeterRequest { name: "Bob".into() }).await.unwrap();
    assert_eq!(reply.into_inner().message, "Hello, Bob! (tonic)");
    // The handler's status, as it set it.
    let status = client
        .say_hello(GreeterRequest { name: String::new() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(status.message(), "a name, please");
    // zkdubbo's own consumer path reaches it too.
    let reply: zkdubbo::triple::greeter::GreeterReply = r
        .call(
            "sayHello",
            &zkdubbo::triple::greeter::GreeterRequest { name: "Ada".into() },
        )
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello, Ada! (tonic)");
    r.shutdown().await;
    server.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test]
async fn the_generated_bindings_serve_register_and_call_a_streaming_service() {
    use zkdubbo_examples::proto::counter::counter_zkdubbo;
    assert_eq!(counter_zkdubbo::INTERFACE, "org.zkdubbo.examples.Counter");
    assert_eq!(counter_zkdubbo::METHODS, ["Count", "Double", "Sum", "Running"]);
    let registry = Arc::new(MemoryRegistry::new());
    let builder = counter_zkdubbo::service_builder()
        .registry_instance(registry.clone())
        .host("127.0.0.1");
    let server = counter_zkdubbo::serve(builder, Numbers, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        server.url().param("methods"),
        Some("Count,Double,Running,Sum"),
        "methods= from the proto"
    );
    let r = counter_zkdubbo::reference()
        .registry_instance(registry.clone())
        .build()
        .await
        .unwrap();
    let mut client = counter_zkdubbo::client(&r);
    let mut stream = client.count(CountRequest { n: 50 }).await.unwrap().into_inner();
    let mut got = Vec::new();
    while let Some(reply) = stream.message().await.unwrap() {
        got.push(reply.i);
    }
    assert_eq!(got, (0..50).collect::<Vec<_>>());
    r.shutdown().await;
    server.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test]
async fn a_tonic_service_under_another_name_is_refused() {
    let registry = Arc::new(MemoryRegistry::new());
    let err = ServiceBuilder::new("com.foo.NotTheGreeter")
        .registry_instance(registry.clone())
        .serve_tonic(GreeterServer::new(MyGreeter), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("org.apache.dubbo.samples.Greeter"), "{err}");
}
