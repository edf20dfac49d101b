//! A harness that runs real ZooKeeper servers for tests and demos.
//!
//! Everything here drives `scripts/zk.sh` (Debian's `zookeeper` package and a JRE; the
//! script installs them with apt-get when they are missing):
//!
//! * [`ZkServer`]: a throwaway standalone server on a free port, in its own temporary
//!   directory, with pause/resume/kill/restart for failure tests.
//! * [`ZkEnsemble`]: a 3-node ensemble on 127.0.0.1 with per-node failure control.
//! * [`TcpProxy`]: a TCP forwarder to put between one client and a server, so that one
//!   client's connection can be cut (or silenced) while the server keeps running.
//! * [`shared_server`]: the address of `ZK_ADDR`, or of one lazily started standalone server
//!   shared by every test of the process, so ordinary tests do not each start a JVM.
//!
//! The lifecycle methods block (they start JVMs and wait for them). Called from a
//! multi-threaded tokio runtime they run under `tokio::task::block_in_place`, so the other
//! tasks of the test (a ZooKeeper client's connection, for instance) keep running meanwhile;
//! on a current-thread runtime those tasks stall while the call blocks, so failure tests
//! should use `#[tokio::test(flavor = "multi_thread")]`.
//!
//! Every server process gets a watchdog that SIGKILLs it once the test process is gone, so an
//! aborted test run leaves no JVM behind.

mod ensemble;
mod error;
mod fourlw;
mod process;
mod proxy;
mod server;
mod shared;

pub use ensemble::ZkEnsemble;
pub use error::{HarnessError, Result};
pub use fourlw::{four_letter_word, server_mode};
pub use process::ZkNode;
pub use proxy::{PartitionMode, TcpProxy};
pub use server::{ZkOptions, ZkServer};
pub use shared::{shared_server, unique_path, zk_addr_from_env};

/// Path of `scripts/zk.sh` in this checkout.
pub fn zk_script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scripts")
        .join("zk.sh")
}
