//! Generic invocation: `$invoke(String method, String[] types, Object[] args)`, so a caller
//! without the provider's classes calls any method with [`Value`]s (POJOs as maps with a
//! `class` entry, as Java's `GenericService` sends and receives them).

use zkdubbo_common::Invocation;
use zkdubbo_hessian::{Encoder, List, Map, Value};

use crate::PROTOCOL;

/// The method name of a generic call.
pub const GENERIC_METHOD: &str = "$invoke";
/// The parameter types of `$invoke`.
pub const GENERIC_TYPES: [&str; 3] = ["java.lang.String", "java.lang.String[]", "java.lang.Object[]"];

/// A generic call of `method` with Java parameter `types` and `args`, carrying the
/// `generic=true` attachment; the textual arguments (for routers and consistent hashing) are
/// those of the real method's arguments.
///
/// ```
/// use zkdubbo_hessian::Value;
/// let inv = zkdubbo_dubbo::generic_invocation("sayHello", &["java.lang.String"], vec![Value::from("Bob")]).unwrap();
/// assert_eq!(inv.method(), "$invoke");
/// assert_eq!(inv.attachment("generic"), Some("true"));
/// assert_eq!(inv.argument(0), Some("Bob"));
/// ```
pub fn generic_invocation<S: AsRef<str>>(
    method: &str,
    types: &[S],
    args: Vec<Value>,
) -> Result<Invocation, zkdubbo_hessian::Error> {
    let mut enc = Encoder::new();
    enc.write_str(&crate::descriptor(&GENERIC_TYPES));
    enc.write_str(method);
    enc.write_value(&Value::List(List::typed(
        "[string",
        types.iter().map(|t| Value::from(t.as_ref())).collect(),
    )))?;
    let mut inv = Invocation::new(GENERIC_METHOD);
    for a in &args {
        inv = inv.with_argument(crate::call::text(a));
    }
    enc.write_value(&Value::List(List::typed("[object", args)))?;
    Ok(inv
        .with_attachment("generic", "true")
        .with_encoding(PROTOCOL, enc.into_bytes()))
}

/// A value as Java's `PojoUtils.generalize` hands it to a generic caller: objects become maps
/// with a `class` entry, recursively.
pub fn generalize(v: Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut entries = vec![(Value::from("class"), Value::from(&*o.class))];
            entries.extend(o.fields.into_iter().map(|(k, x)| (Value::from(&*k), generalize(x))));
            Value::Map(Map { r#type: None, entries })
        }
        Value::List(l) => Value::List(List {
            r#type: l.r#type,
            items: l.items.into_iter().map(generalize).collect(),
        }),
        Value::Map(m) => Value::Map(Map {
            r#type: m.r#type,
            entries: m
                .entries
                .into_iter()
                .map(|(k, x)| (generalize(k), generalize(x)))
                .collect(),
        }),
        other => other,
    }
}
