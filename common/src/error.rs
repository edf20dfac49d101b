//! Errors raised while reading URLs and node names.

use thiserror::Error;

use crate::text::excerpt;

/// Why a string could not be read as a Dubbo URL or decoded from a ZooKeeper node name.
///
/// Every variant carries the offending input and, where it helps, the byte position of the
/// problem, so a log line names the culprit.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    /// The input was empty (or only a query string).
    #[error("empty URL")]
    Empty,
    /// No `protocol://` (or `protocol:/`) prefix.
    #[error("URL {} has no protocol (expected `protocol://host:port/path?params`)", excerpt(.input))]
    MissingProtocol {
        /// The whole input.
        input: String,
    },
    /// The text after the last `:` of the authority is not a port number in 0..=65535.
    #[error("URL {} has an invalid port {port:?} at byte {position}", excerpt(.input))]
    InvalidPort {
        /// The whole input.
        input: String,
        /// The text that should have been a port.
        port: String,
        /// Byte offset of the port text in `input`.
        position: usize,
    },
    /// An IPv6 host opened with `[` is never closed.
    #[error("URL {} has an unterminated IPv6 host `[` at byte {position}", excerpt(.input))]
    UnterminatedIpv6 {
        /// The whole input.
        input: String,
        /// Byte offset of the `[`.
        position: usize,
    },
    /// A `%` escape is cut short by the end of the input.
    #[error("truncated `%` escape at byte {position} of {}", excerpt(.input))]
    TruncatedEscape {
        /// The whole encoded input.
        input: String,
        /// Byte offset of the `%`.
        position: usize,
    },
    /// A `%` is followed by characters that are not two hex digits.
    #[error("invalid `%` escape at byte {position} of {}", excerpt(.input))]
    InvalidEscape {
        /// The whole encoded input.
        input: String,
        /// Byte offset of the `%`.
        position: usize,
    },
    /// The decoded bytes are not valid UTF-8.
    #[error("decoded bytes are not valid UTF-8 (at decoded byte {position}) in {}", excerpt(.input))]
    InvalidUtf8 {
        /// The whole encoded input.
        input: String,
        /// Byte offset in the decoded bytes where the invalid sequence starts.
        position: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_inputs_are_shortened_in_messages() {
        let err = UrlError::MissingProtocol {
            input: "x".repeat(10_000),
        };
        let msg = err.to_string();
        assert!(msg.len() < 400, "{msg}");
        assert!(msg.contains("10000 bytes"), "{msg}");
    }
}
