//! One call: the method, its arguments as text (for routing and hashing), attachments and
//! the encoded request body.

use std::collections::BTreeMap;

use bytes::Bytes;

/// A call about to be routed, balanced and sent.
///
/// Arguments are kept as their textual form because that is what Dubbo's routers
/// (`arguments[N]`) and consistent hashing (`hash.arguments`) look at; the request body that
/// goes on the wire is the opaque `payload`.
///
/// ```
/// use zkdubbo_common::Invocation;
/// let inv = Invocation::new("sayHello").with_argument("world").with_attachment("dubbo.tag", "gray");
/// assert_eq!(inv.method(), "sayHello");
/// assert_eq!(inv.argument(0), Some("world"));
/// assert_eq!(inv.attachment("dubbo.tag"), Some("gray"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    method: String,
    arguments: Vec<String>,
    attachments: BTreeMap<String, String>,
    payload: Bytes,
    /// Bodies for particular protocols (`dubbo` takes Hessian2, `tri` protobuf), so one call
    /// can go to providers of either.
    encodings: Vec<(String, Bytes)>,
}

impl Invocation {
    /// A call of `method` with no arguments.
    pub fn new(method: impl Into<String>) -> Self {
        Invocation {
            method: method.into(),
            ..Default::default()
        }
    }

    /// Append an argument's textual form.
    pub fn with_argument(mut self, arg: impl Into<String>) -> Self {
        self.arguments.push(arg.into());
        self
    }

    /// Set an attachment.
    pub fn with_attachment(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attachments.insert(key.into(), value.into());
        self
    }

    /// Set the encoded request body.
    pub fn with_payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Set the request body for providers of `protocol` (`tri`, `dubbo`). A call that has
    /// bodies for particular protocols cannot go to a provider of another one.
    ///
    /// ```
    /// use zkdubbo_common::Invocation;
    /// let inv = Invocation::new("sayHello").with_encoding("dubbo", &b"\x12Ljava/lang/String;\x03Bob"[..]);
    /// assert!(inv.payload_for("dubbo").is_some());
    /// assert!(inv.payload_for("tri").is_none());
    /// assert!(Invocation::new("x").payload_for("tri").is_some()); // the plain payload goes anywhere
    /// ```
    pub fn with_encoding(mut self, protocol: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        let protocol = protocol.into();
        self.encodings.retain(|(p, _)| *p != protocol);
        self.encodings.push((protocol, payload.into()));
        self
    }

    /// The body for a provider of `protocol`: its own encoding, else the plain payload when
    /// the call has no protocol-specific ones.
    pub fn payload_for(&self, protocol: &str) -> Option<&Bytes> {
        if self.encodings.is_empty() {
            return Some(&self.payload);
        }
        self.encodings.iter().find(|(p, _)| p == protocol).map(|(_, b)| b)
    }

    /// The protocols this call has bodies for (empty: the plain payload, for any).
    pub fn encodings(&self) -> impl Iterator<Item = &str> {
        self.encodings.iter().map(|(p, _)| p.as_str())
    }

    /// Set an attachment in place.
    pub fn set_attachment(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.attachments.insert(key.into(), value.into());
    }

    /// The method name.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The textual form of argument `index`.
    pub fn argument(&self, index: usize) -> Option<&str> {
        self.arguments.get(index).map(String::as_str)
    }

    /// All arguments' textual forms.
    pub fn arguments(&self) -> &[String] {
        &self.arguments
    }

    /// An attachment.
    pub fn attachment(&self, key: &str) -> Option<&str> {
        self.attachments.get(key).map(String::as_str)
    }

    /// All attachments.
    pub fn attachments(&self) -> &BTreeMap<String, String> {
        &self.attachments
    }

    /// The encoded request body.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }
}
