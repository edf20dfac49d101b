//! A throwaway standalone ZooKeeper server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{HarnessError, Result};
use super::process::{ZkNode, blocking, free_port, install_once, run_script};

/// How many fresh ports to try when the chosen one is taken meanwhile.
const PORT_ATTEMPTS: usize = 8;

/// Options for [`ZkServer::start_with`] and [`ZkEnsemble::start_with`](super::ZkEnsemble::start_with).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkOptions {
    /// `tickTime` in ms (default 200). Session timeouts are clamped by the server to
    /// `[2, 20] × tickTime`, so 200 ms allows sessions of 0.4 s to 4 s.
    pub tick_ms: u32,
    /// The server's `jute.maxbuffer` in bytes (largest packet it accepts or sends, e.g. a long
    /// child list); `None` keeps ZooKeeper's default (about 1 MiB) or `ZK_JUTE_MAXBUFFER`
    /// from the environment.
    pub jute_maxbuffer: Option<u32>,
    /// `maxSessionTimeout` in ms; `None` keeps ZooKeeper's default of 20 × `tick_ms`.
    pub max_session_timeout_ms: Option<u32>,
    /// Lines appended to `zoo.cfg` (TLS, SASL settings).
    pub extra_cfg: Vec<String>,
    /// Jars added to the server's classpath.
    pub extra_classpath: Vec<String>,
    /// Extra JVM options (e.g. a JAAS configuration).
    pub java_opts: Vec<String>,
}

impl Default for ZkOptions {
    fn default() -> Self {
        ZkOptions {
            tick_ms: 200,
            jute_maxbuffer: None,
            max_session_timeout_ms: None,
            extra_cfg: Vec::new(),
            extra_classpath: Vec::new(),
            java_opts: Vec::new(),
        }
    }
}

impl ZkOptions {
    /// Default options with the given `tickTime`.
    pub fn with_tick(tick_ms: u32) -> Self {
        ZkOptions {
            tick_ms,
            ..ZkOptions::default()
        }
    }

    /// The environment `zk.sh` reads these options from.
    pub(crate) fn script_env(&self) -> Vec<(String, String)> {
        let mut envs = Vec::new();
        if let Some(bytes) = self.jute_maxbuffer {
            envs.push(("ZK_JUTE_MAXBUFFER".to_owned(), bytes.to_string()));
        }
        if let Some(ms) = self.max_session_timeout_ms {
            envs.push(("ZK_MAX_SESSION_TIMEOUT".to_owned(), ms.to_string()));
        }
        if !self.extra_cfg.is_empty() {
            envs.push(("ZK_EXTRA_CFG".to_owned(), self.extra_cfg.join("\n")));
        }
        if !self.extra_classpath.is_empty() {
            envs.push(("ZK_EXTRA_CLASSPATH".to_owned(), self.extra_classpath.join(":")));
        }
        if !self.java_opts.is_empty() {
            envs.push(("ZK_JAVA_OPTS".to_owned(), self.java_opts.join(" ")));
        }
        envs
    }
}

/// Creates a temporary directory and returns it with its canonical path (the path `zk.sh`
/// writes into `zoo.cfg` and finds in the server's command line).
pub(crate) fn temp_dir(prefix: &str) -> Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| HarnessError::io("creating a temporary directory", e))?;
    let path = dir
        .path()
        .canonicalize()
        .map_err(|e| HarnessError::io(format!("canonicalizing {}", dir.path().display()), e))?;
    Ok((dir, path))
}

/// A standalone ZooKeeper server on `127.0.0.1` with its own temporary directory.
///
/// Dropping it SIGKILLs the server and removes the directory.
///
/// ```no_run
/// # fn main() -> zkdubbo_integration_tests::harness::Result<()> {
/// use zkdubbo_integration_tests::harness::ZkServer;
/// let zk = ZkServer::start(200)?;
/// let addr = zk.addr(); // "127.0.0.1:PORT": hand it to a client
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ZkServer {
    // Declared before `dir`: the process is killed before the directory is removed.
    node: ZkNode,
    options: ZkOptions,
    dir: tempfile::TempDir,
}

impl ZkServer {
    /// Starts a standalone server with `tickTime = tick_ms` on a free port and waits until it
    /// serves (normally well under a second). Installs ZooKeeper first if it is missing
    /// (`zk.sh install`, once per process).
    pub fn start(tick_ms: u32) -> Result<ZkServer> {
        ZkServer::start_with(ZkOptions::with_tick(tick_ms))
    }

    /// Starts a standalone server with the given options (see [`start`](Self::start)).
    pub fn start_with(options: ZkOptions) -> Result<ZkServer> {
        blocking(|| {
            install_once()?;
            let (dir, path) = temp_dir("zkdubbo-zk-")?;
            let envs = options.script_env();
            let mut last_error = None;
            for _ in 0..PORT_ATTEMPTS {
                let port = free_port()?;
                let args = [
                    "start".to_owned(),
                    path.to_string_lossy().into_owned(),
                    port.to_string(),
                    options.tick_ms.to_string(),
                ];
                match run_script(&args, &envs) {
                    Ok(_) => {
                        let node = ZkNode::started(path, port, envs)?;
                        tracing::debug!(port, pid = node.pid(), "started standalone ZooKeeper");
                        return Ok(ZkServer { node, options, dir });
                    }
                    Err(e @ HarnessError::PortInUse(_)) => {
                        tracing::debug!(port, "port taken, retrying with another one");
                        last_error = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(last_error.unwrap_or_else(|| HarnessError::PortInUse("no attempt".to_owned())))
        })
    }

    /// The client address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.node.addr()
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.node.port()
    }

    /// The server's PID, or `None` after [`kill`](Self::kill).
    pub fn pid(&self) -> Option<u32> {
        self.node.pid()
    }

    /// The `tickTime` in ms.
    pub fn tick_ms(&self) -> u32 {
        self.options.tick_ms
    }

    /// The options the server was started with.
    pub fn options(&self) -> &ZkOptions {
        &self.options
    }

    /// The largest session timeout the server grants (`maxSessionTimeout`, by default
    /// 20 × tickTime); longer requests are clamped to it.
    pub fn max_session_timeout(&self) -> Duration {
        let ms = self
            .options
            .max_session_timeout_ms
            .unwrap_or(self.options.tick_ms.saturating_mul(20));
        Duration::from_millis(u64::from(ms))
    }

    /// The server's directory (`zoo.cfg`, `data/`, `zk.log`, `zk.pid`).
    pub fn dir(&self) -> &Path {
        self.node.dir()
    }

    /// The underlying process handle.
    pub fn node(&self) -> &ZkNode {
        &self.node
    }

    /// True while the server process exists (also when paused).
    pub fn is_running(&self) -> bool {
        self.node.is_running()
    }

    /// `srvr`'s `Mode:`, i.e. `"standalone"`. Fails when the server does not answer.
    pub fn mode(&self) -> Result<String> {
        self.node.mode()
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is answered, and its
    /// session clocks stop too.
    pub fn pause(&self) -> Result<()> {
        self.node.pause()
    }

    /// Resumes a paused server (SIGCONT).
    pub fn resume(&self) -> Result<()> {
        self.node.resume()
    }

    /// SIGKILLs the server and waits until it is gone; the data directory stays.
    pub fn kill(&mut self) -> Result<()> {
        self.node.kill()
    }

    /// Starts the server again on the same port with the same data (killing it first if it is
    /// still running) and waits until it serves. Persistent nodes survive; so do sessions
    /// that have not expired (ZooKeeper restores them from its log), with their ephemerals.
    pub fn restart(&mut self) -> Result<()> {
        self.node.restart()
    }

    /// The last `lines` lines of the server's log, for diagnostics.
    pub fn log_tail(&self, lines: usize) -> String {
        self.node.log_tail(lines)
    }

    /// Kills the server and removes its directory now (what drop does), reporting errors.
    pub fn stop(self) -> Result<()> {
        let ZkServer { mut node, dir, .. } = self;
        node.kill()?;
        drop(node);
        let path = dir.path().display().to_string();
        dir.close().map_err(|e| HarnessError::io(format!("removing {path}"), e))
    }

    /// Best-effort kill and directory removal for process-exit cleanup.
    pub(crate) fn cleanup_at_exit(&self) {
        self.node.terminate();
        let _ = std::fs::remove_dir_all(self.dir.path());
    }
}
