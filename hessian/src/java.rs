//! Java types Dubbo users send every day, in the form Java's Hessian writes them.

use serde::{Deserialize, Serialize};

use crate::value::Value;

/// A `java.util.Date`: milliseconds since the Unix epoch, UTC.
///
/// ```
/// use zkdubbo_hessian::Date;
/// let bytes = zkdubbo_hessian::to_bytes(&Date(60_000)).unwrap();
/// assert_eq!(bytes, [0x4b, 0, 0, 0, 1]); // whole minutes: the compact form
/// assert_eq!(zkdubbo_hessian::from_slice::<Date>(&bytes).unwrap(), Date(60_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename = "$hessian::Date")]
pub struct Date(pub i64);

/// A `java.math.BigDecimal`, which Java's Hessian writes as an object with one field,
/// `value`, its decimal string.
///
/// ```
/// use zkdubbo_hessian::{BigDecimal, Value};
/// let v = zkdubbo_hessian::decode(&zkdubbo_hessian::to_bytes(&BigDecimal::new("12.50")).unwrap()).unwrap();
/// let Value::Object(o) = v else { panic!() };
/// assert_eq!(&*o.class, "java.math.BigDecimal");
/// assert_eq!(o.get("value"), Some(&Value::from("12.50")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename = "java.math.BigDecimal")]
pub struct BigDecimal {
    /// The decimal string (`BigDecimal.toString()`).
    pub value: String,
}

impl BigDecimal {
    /// A BigDecimal of `value` (not checked: Java parses it).
    pub fn new(value: impl Into<String>) -> Self {
        BigDecimal { value: value.into() }
    }
}

/// A Java exception read from a stream: what a Dubbo provider sends back when a method
/// throws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaException {
    /// The exception's class (`java.lang.IllegalArgumentException`).
    pub class: String,
    /// `getMessage()`: the `detailMessage` field.
    pub message: Option<String>,
    /// The cause, when it is another exception (Java marks "no cause" with a reference to
    /// the exception itself).
    pub cause: Option<Box<JavaException>>,
}

impl JavaException {
    /// Read an exception object; `None` when `v` is not an object. References in `cause`
    /// are resolved against `stream`, the values of the stream it came from; a cause chain
    /// longer than 32 is cut.
    pub fn from_value(v: &Value, stream: &[Value]) -> Option<JavaException> {
        Self::read(v, stream, 32)
    }

    fn read(v: &Value, stream: &[Value], depth: usize) -> Option<JavaException> {
        let Value::Object(o) = v else { return None };
        let message = o.get("detailMessage").and_then(Value::as_str).map(str::to_owned);
        let cause = match o.get("cause") {
            Some(Value::Ref(i)) if depth > 0 => {
                let target = crate::refs::nth(stream, *i as usize);
                // A reference to this very exception means "no cause".
                target
                    .filter(|t| !std::ptr::eq(*t, v))
                    .and_then(|t| Self::read(t, stream, depth - 1))
            }
            Some(c @ Value::Object(_)) if depth > 0 => Self::read(c, stream, depth - 1),
            _ => None,
        };
        Some(JavaException {
            class: o.class.to_string(),
            message,
            cause: cause.map(Box::new),
        })
    }
}

impl JavaException {
    /// The exception as Java's Hessian writes it, for a stream in which it is the first
    /// list, map or object (as in a Dubbo response): `detailMessage`, `cause` (a reference to
    /// itself when there is none, as Java marks it) and an empty `stackTrace`.
    pub fn to_value(&self) -> Value {
        self.value_at(0).0
    }

    /// The value when this exception is reference `index`, and the next free index.
    fn value_at(&self, index: u32) -> (Value, u32) {
        let (cause, next) = match &self.cause {
            Some(c) => c.value_at(index + 1),
            None => (Value::Ref(index), index + 1),
        };
        let o = crate::value::Object::new(self.class.as_str())
            .field("detailMessage", self.message.clone())
            .field("cause", cause)
            .field(
                "stackTrace",
                crate::value::List::typed("[java.lang.StackTraceElement", Vec::new()),
            );
        (Value::Object(o), next + 1)
    }
}

impl std::fmt::Display for JavaException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{}: {m}", self.class)?,
            None => f.write_str(&self.class)?,
        }
        if let Some(c) = &self.cause {
            write!(f, "; caused by {c}")?;
        }
        Ok(())
    }
}
