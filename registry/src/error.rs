//! Registry errors.

use std::time::Duration;

use thiserror::Error;
use zkdubbo_common::UrlError;

/// Why a registry operation failed. Each variant names what was being done and where.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The registry URL (`zookeeper://...`) is unusable.
    #[error("invalid registry URL {url}: {reason}")]
    InvalidRegistryUrl {
        /// The registry URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL handed to the registry is unusable (e.g. no interface to file it under).
    #[error("cannot {op} {url}: {reason}")]
    InvalidUrl {
        /// The operation (`register`, `subscribe`...).
        op: &'static str,
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL could not be parsed.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// Could not reach any server of the registry.
    #[error("cannot connect to ZooKeeper at {servers}: {source}")]
    Connect {
        /// The servers tried.
        servers: String,
        /// The client's error.
        #[source]
        source: zookeeper_client::Error,
    },
    /// TLS to ZooKeeper could not be set up or negotiated: certificate files that cannot be
    /// read, a handshake that failed, or a server that speaks TLS to a client that does not
    /// (and the reverse).
    #[error("TLS with ZooKeeper at {servers}: {reason}")]
    Tls {
        /// The servers tried.
        servers: String,
        /// What went wrong and what to check.
        reason: String,
    },
    /// A ZooKeeper call failed.
    #[error("ZooKeeper {op} {path} failed: {source}")]
    ZooKeeper {
        /// The call (`create`, `delete`, `list`...).
        op: &'static str,
        /// The node path.
        path: String,
        /// The client's error.
        #[source]
        source: zookeeper_client::Error,
    },
    /// A ZooKeeper call did not answer in time.
    #[error("ZooKeeper {op} {path} timed out after {after:?}")]
    Timeout {
        /// The call.
        op: &'static str,
        /// The node path.
        path: String,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The registry has no usable session at the moment.
    #[error("registry {registry} is not available: {reason}")]
    Unavailable {
        /// The registry URL.
        registry: String,
        /// Why.
        reason: String,
    },
    /// A compare-and-set write found the node changed (the memory registry's form; on
    /// ZooKeeper the server's `BadVersion`/`NodeExists` is reported as
    /// [`RegistryError::ZooKeeper`]). See [`RegistryError::is_conflict`].
    #[error("{op} {path}: the node changed meanwhile (expected version {expected:?}); read it again")]
    Conflict {
        /// What was attempted.
        op: &'static str,
        /// The node.
        path: String,
        /// The version the writer expected (`None`: that it did not exist).
        expected: Option<i32>,
    },
    /// The registry was shut down.
    #[error("registry {registry} has been shut down")]
    Shutdown {
        /// The registry URL.
        registry: String,
    },
}

impl RegistryError {
    /// Whether trying again later may succeed: a timeout, a lost connection, a session being
    /// replaced, an unreachable ensemble. Invalid input, missing rights and shutdown are not.
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Timeout { .. }
            | RegistryError::Unavailable { .. }
            | RegistryError::Connect { .. }
            | RegistryError::Tls { .. } => true,
            RegistryError::ZooKeeper { source, .. } => is_transient_zk(source),
            _ => false,
        }
    }

    /// The ZooKeeper client's error, when a ZooKeeper call failed.
    pub fn zookeeper_error(&self) -> Option<&zookeeper_client::Error> {
        match self {
            RegistryError::ZooKeeper { source, .. } | RegistryError::Connect { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Whether a ZooKeeper call failed because its node does not exist.
    pub fn is_no_node(&self) -> bool {
        matches!(self.zookeeper_error(), Some(zookeeper_client::Error::NoNode))
    }

    /// Whether a ZooKeeper call failed because its node already exists.
    pub fn is_node_exists(&self) -> bool {
        matches!(self.zookeeper_error(), Some(zookeeper_client::Error::NodeExists))
    }

    /// Whether a compare-and-set write lost a race: the node changed (`BadVersion`), or was
    /// created by someone else meanwhile (`NodeExists`).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self.zookeeper_error(),
            Some(zookeeper_client::Error::BadVersion | zookeeper_client::Error::NodeExists)
        ) || matches!(self, RegistryError::Conflict { .. })
    }
}

fn is_transient_zk(e: &zookeeper_client::Error) -> bool {
    use zookeeper_client::Error as E;
    // Whatever is not a definite answer about the request itself is worth retrying: lost
    // connections surface as `ConnectionLoss` but also as I/O errors (`Custom`), and a retried
    // registration is never worse than a lost one.
    !matches!(
        e,
        E::NoNode
            | E::NodeExists
            | E::NotEmpty
            | E::BadVersion
            | E::NoAuth
            | E::InvalidAcl
            | E::BadArguments(_)
            | E::NoChildrenForEphemerals
            | E::QuotaExceeded
            | E::Unimplemented
            | E::ReconfigDisabled
            | E::NoWatcher
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors() {
        let zk = |source| RegistryError::ZooKeeper {
            op: "create",
            path: "/x".into(),
            source,
        };
        assert!(zk(zookeeper_client::Error::ConnectionLoss).is_transient());
        assert!(zk(zookeeper_client::Error::SessionExpired).is_transient());
        assert!(zk(zookeeper_client::Error::UnexpectedError("connection reset".into())).is_transient());
        assert!(!zk(zookeeper_client::Error::NoAuth).is_transient());
        assert!(zk(zookeeper_client::Error::NoNode).is_no_node());
        assert!(zk(zookeeper_client::Error::NodeExists).is_node_exists());
        assert!(
            RegistryError::Timeout {
                op: "list",
                path: "/x".into(),
                after: Duration::from_secs(1)
            }
            .is_transient()
        );
        assert!(!RegistryError::Shutdown { registry: "r".into() }.is_transient());
    }
}
