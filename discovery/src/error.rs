//! Errors reading discovery data.

/// What is wrong with a node's data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// More bytes than such a node ever holds.
    #[error("{what} is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// What was read (`instance node`, `metadata`).
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not the JSON expected (the parser's message, with line and column).
    #[error("{what} is not valid: {message}")]
    Json {
        /// What was read.
        what: &'static str,
        /// Why it does not parse.
        message: String,
    },
    /// Valid JSON with a field that cannot be used.
    #[error("{what}: field {field} {problem}")]
    Field {
        /// What was read.
        what: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}
