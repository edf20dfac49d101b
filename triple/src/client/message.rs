//! Calls with prost messages: encoding the request, decoding the reply.

use prost::Message;
use zkdubbo_common::Invocation;
use zkdubbo_common::{Invoker, Response, RpcError};

/// Call `invoker` (any [`Invoker`], e.g. a cluster invoker) with a prost message as the
/// payload of `invocation`, and decode the reply as `Resp`.
///
/// ```no_run
/// # async fn run(invoker: &dyn zkdubbo_common::Invoker) -> Result<(), zkdubbo_common::RpcError> {
/// use zkdubbo_common::Invocation;
/// use zkdubbo_triple::greeter::{GreeterReply, GreeterRequest};
/// let request = GreeterRequest { name: "world".into() };
/// let invocation = Invocation::new("sayHello").with_argument("world");
/// let reply: GreeterReply = zkdubbo_triple::invoke_message(invoker, invocation, &request).await?;
/// # Ok(()) }
/// ```
pub async fn invoke_message<I, Req, Resp>(invoker: &I, invocation: Invocation, request: &Req) -> Result<Resp, RpcError>
where
    I: Invoker + ?Sized,
    Req: Message,
    Resp: Message + Default,
{
    let invocation = invocation.with_payload(request.encode_to_vec());
    let response = invoker.invoke(&invocation).await?;
    decode_reply(&response).map_err(|e| match e {
        RpcError::Codec { message, .. } => RpcError::Codec {
            message,
            context: format!(
                "service {}, method {}, provider {}",
                invoker.url().interface(),
                invocation.method(),
                invoker.url().address()
            ),
        },
        other => other,
    })
}

/// An [`Invocation`] of `method` whose payload is `request` encoded (for APIs that take an
/// invocation, such as a cluster reference; pair with [`decode_reply`]).
///
/// ```
/// use zkdubbo_common::Response;
/// use zkdubbo_triple::greeter::{GreeterReply, GreeterRequest};
/// use zkdubbo_triple::{decode_reply, message_invocation};
///
/// let inv = message_invocation("sayHello", &GreeterRequest { name: "Bob".into() });
/// assert_eq!(&inv.payload()[..], b"\x0a\x03Bob");
/// let response = Response::new(&b"\x0a\x0bHello, Bob!"[..]);
/// let reply: GreeterReply = decode_reply(&response).unwrap();
/// assert_eq!(reply.message, "Hello, Bob!");
/// ```
pub fn message_invocation<M: Message>(method: impl Into<String>, request: &M) -> Invocation {
    Invocation::new(method).with_payload(request.encode_to_vec())
}

/// Decode `response`'s payload as `M`. A payload that does not decode is a
/// [`RpcError::Codec`] error: the provider did run the call, so it must not be retried
/// blindly.
pub fn decode_reply<M: Message + Default>(response: &Response) -> Result<M, RpcError> {
    M::decode(response.payload.clone()).map_err(|e| {
        RpcError::codec(
            format!("cannot decode the reply as {}: {e}", std::any::type_name::<M>()),
            format!("a reply of {} bytes", response.payload.len()),
        )
    })
}
