//! Building dubbo:// calls: the arguments as Hessian2, with their Java types.

use serde::Serialize;
use zkdubbo_common::{Invocation, Response};
use zkdubbo_hessian::{Encoder, Value};

use crate::PROTOCOL;

/// A call of `method` with Java parameter `types` and serde `args` (a tuple, one element per
/// parameter; `()` for none).
///
/// ```
/// let inv = zkdubbo_dubbo::invocation("add", &["int", "int"], &(2, 3)).unwrap();
/// assert_eq!(inv.method(), "add");
/// assert!(inv.payload_for("dubbo").is_some());
/// ```
pub fn invocation<S: AsRef<str>, A: Serialize + ?Sized>(
    method: &str,
    types: &[S],
    args: &A,
) -> Result<Invocation, zkdubbo_hessian::Error> {
    let mut enc = Encoder::new();
    enc.write_str(&crate::descriptor(types));
    let start = enc.as_bytes().len();
    enc.serialize_each(args)?;
    let mut inv = Invocation::new(method);
    // The textual arguments routers and consistent hashing look at.
    if let Ok(values) = zkdubbo_hessian::decode_all(&enc.as_bytes()[start..], zkdubbo_hessian::Limits::default()) {
        for v in &values {
            inv = inv.with_argument(text(v));
        }
    }
    Ok(inv.with_encoding(PROTOCOL, enc.into_bytes()))
}

/// A call with [`Value`] arguments.
pub fn value_invocation<S: AsRef<str>>(
    method: &str,
    types: &[S],
    args: &[Value],
) -> Result<Invocation, zkdubbo_hessian::Error> {
    let mut enc = Encoder::new();
    enc.write_str(&crate::descriptor(types));
    let mut inv = Invocation::new(method);
    for a in args {
        enc.write_value(a)?;
        inv = inv.with_argument(text(a));
    }
    Ok(inv.with_encoding(PROTOCOL, enc.into_bytes()))
}

/// The result of a dubbo:// response as a `T`.
pub fn reply<T: serde::de::DeserializeOwned>(response: &Response) -> Result<T, zkdubbo_hessian::Error> {
    zkdubbo_hessian::from_slice(&response.payload)
}

/// The result of a dubbo:// response as a [`Value`].
pub fn reply_value(response: &Response) -> Result<Value, zkdubbo_hessian::Error> {
    zkdubbo_hessian::decode(&response.payload)
}

/// What Dubbo's routers see of an argument: its `toString()` for scalars.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Long(l) => l.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Null => "null".to_owned(),
        other => other.kind().to_owned(),
    }
}
