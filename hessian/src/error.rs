//! [`Error`]: what went wrong, and at which byte of the stream.

/// Why a stream could not be decoded or a value could not be encoded.
///
/// Decoding errors name the byte offset where the problem was seen and what the decoder
/// expected there, so a captured payload can be inspected by hand.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The stream ended inside a value.
    #[error("hessian: stream ends at byte {offset}, expected {expected}")]
    Eof {
        /// Where the stream ended.
        offset: usize,
        /// What was being read.
        expected: &'static str,
    },
    /// A byte that cannot start what was expected.
    #[error("hessian: unexpected byte 0x{tag:02x} at byte {offset}, expected {expected}")]
    UnexpectedTag {
        /// Where.
        offset: usize,
        /// The byte.
        tag: u8,
        /// What was being read.
        expected: &'static str,
    },
    /// A length, count or index that the stream cannot hold or that is negative.
    #[error("hessian: {what} {value} at byte {offset} is out of range")]
    BadLength {
        /// Where.
        offset: usize,
        /// Which length ("list length", "string chunk"...).
        what: &'static str,
        /// The value read.
        value: i64,
    },
    /// A back-reference (`0x51`) to a list, map or object not yet seen.
    #[error("hessian: reference #{index} at byte {offset}, but only {known} lists, maps and objects came before")]
    BadReference {
        /// Where.
        offset: usize,
        /// The index read.
        index: i64,
        /// How many referable values the stream had at that point.
        known: usize,
    },
    /// An object instance of a class definition never declared, or a type reference never
    /// declared.
    #[error("hessian: {what} #{index} at byte {offset}, but only {known} were defined")]
    UndefinedClass {
        /// Where.
        offset: usize,
        /// "class definition" or "type".
        what: &'static str,
        /// The index read.
        index: i64,
        /// How many were defined.
        known: usize,
    },
    /// Values nested deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("hessian: values nested deeper than {limit} at byte {offset}")]
    TooDeep {
        /// Where.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// The stream is bigger than [`Limits::max_bytes`](crate::Limits::max_bytes).
    #[error("hessian: stream of {len} bytes is over the limit of {limit}")]
    TooLarge {
        /// The stream's size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Bytes that are not UTF-8 as Java writes it.
    #[error("hessian: bad UTF-8 in a string at byte {offset}")]
    BadUtf8 {
        /// Where.
        offset: usize,
    },
    /// A value that does not fit what was asked for (serde), or a custom error.
    #[error("hessian: {0}")]
    Message(String),
}

impl serde::ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}
