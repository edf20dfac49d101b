//! The harness error type.

use std::io;

/// Result type of the harness.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

/// Everything that can go wrong while running ZooKeeper servers or proxies.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// An I/O operation failed; `context` says which.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `scripts/zk.sh` failed; `output` holds what it printed (including the log tail).
    #[error("`zk.sh {args}` failed ({status}):\n{output}")]
    Script {
        /// The arguments it was given.
        args: String,
        /// Its exit status.
        status: String,
        /// Its standard output and standard error.
        output: String,
    },
    /// A port the server needed was taken by another process (the caller may retry with
    /// another one).
    #[error("port already in use: {0}")]
    PortInUse(String),
    /// Something did not happen in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The server answered `srvr` without a `Mode:` line (it is not serving requests).
    #[error("ZooKeeper at {addr} is not serving: {answer}")]
    NotServing {
        /// The server's address.
        addr: String,
        /// What it answered.
        answer: String,
    },
    /// The operation needs a running server process and there is none.
    #[error("no running ZooKeeper process: {0}")]
    NotRunning(String),
    /// The process-wide shared server could not be started (the message of the first error).
    #[error("the shared ZooKeeper server could not be started: {0}")]
    Shared(String),
}

impl HarnessError {
    /// Wraps an I/O error with a description of what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        HarnessError::Io {
            context: context.into(),
            source,
        }
    }
}
