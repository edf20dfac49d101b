//! A 3-node ZooKeeper ensemble on 127.0.0.1.

use std::path::Path;
use std::time::{Duration, Instant};

use super::error::{HarnessError, Result};
use super::process::{START_TIMEOUT, ZkNode, blocking, install_once, random_low_port, run_script};
use super::server::{ZkOptions, temp_dir};

/// How many port ranges to try when one is taken meanwhile.
const BASE_ATTEMPTS: usize = 10;

/// Number of nodes.
const NODES: usize = 3;

/// The ports `zk.sh ensemble DIR BASE` uses: clients BASE..BASE+2, quorum and election ports
/// BASE+100+2i and BASE+101+2i for i in 1..=3.
fn ensemble_ports(base: u16) -> Vec<u16> {
    let mut ports: Vec<u16> = (0..NODES as u16).map(|i| base + i).collect();
    for i in 1..=NODES as u16 {
        ports.push(base + 100 + 2 * i);
        ports.push(base + 101 + 2 * i);
    }
    ports
}

/// True if every port can be bound on 127.0.0.1 right now.
fn ports_free(ports: &[u16]) -> bool {
    ports
        .iter()
        .all(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
}

/// A 3-node ZooKeeper ensemble on 127.0.0.1 in one temporary directory.
///
/// Nodes are indexed 0..3 (node `i` has `myid` `i + 1`). Dropping the ensemble SIGKILLs every
/// node and removes the directory.
#[derive(Debug)]
pub struct ZkEnsemble {
    // Declared before `dir`: the processes are killed before the directory is removed.
    nodes: Vec<ZkNode>,
    options: ZkOptions,
    dir: tempfile::TempDir,
}

impl ZkEnsemble {
    /// Starts 3 nodes with `tickTime = tick_ms` and waits until every one serves as leader or
    /// follower (about 1.5 s here).
    pub fn start(tick_ms: u32) -> Result<ZkEnsemble> {
        ZkEnsemble::start_with(ZkOptions::with_tick(tick_ms))
    }

    /// Starts 3 nodes with the given options (see [`start`](Self::start)).
    pub fn start_with(options: ZkOptions) -> Result<ZkEnsemble> {
        blocking(|| {
            install_once()?;
            let (dir, path) = temp_dir("zkdubbo-zk-ensemble-")?;
            let envs = options.script_env();
            let mut last_error = None;
            for _ in 0..BASE_ATTEMPTS {
                let base = random_low_port();
                if !ports_free(&ensemble_ports(base)) {
                    continue;
                }
                let args = [
                    "ensemble".to_owned(),
                    path.to_string_lossy().into_owned(),
                    base.to_string(),
                    options.tick_ms.to_string(),
                ];
                match run_script(&args, &envs) {
                    Ok(_) => {
                        let nodes = (0..NODES)
                            .map(|i| ZkNode::started(path.join((i + 1).to_string()), base + i as u16, envs.clone()))
                            .collect::<Result<Vec<_>>>()?;
                        tracing::debug!(base, "started ZooKeeper ensemble");
                        return Ok(ZkEnsemble { nodes, options, dir });
                    }
                    Err(e @ HarnessError::PortInUse(_)) => {
                        tracing::debug!(base, "ensemble ports taken, retrying");
                        last_error = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(last_error
                .unwrap_or_else(|| HarnessError::PortInUse("found no free range of ensemble ports".to_owned())))
        })
    }

    /// The connect string, `127.0.0.1:a,127.0.0.1:b,127.0.0.1:c`.
    pub fn connect_string(&self) -> String {
        self.nodes.iter().map(ZkNode::addr).collect::<Vec<_>>().join(",")
    }

    /// The three nodes.
    pub fn nodes(&self) -> &[ZkNode] {
        &self.nodes
    }

    /// Node `i` (0-based). Panics if `i >= 3`.
    pub fn node(&self, i: usize) -> &ZkNode {
        &self.nodes[i]
    }

    /// Node `i` (0-based), mutable (for [`ZkNode::kill`], [`ZkNode::restart_no_wait`] ...).
    /// Panics if `i >= 3`.
    pub fn node_mut(&mut self, i: usize) -> &mut ZkNode {
        &mut self.nodes[i]
    }

    /// The `tickTime` in ms.
    pub fn tick_ms(&self) -> u32 {
        self.options.tick_ms
    }

    /// The ensemble's directory (node `i` lives in `DIR/<i+1>`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The index of the node that currently reports `Mode: leader`, if any. Paused and killed
    /// nodes are skipped.
    pub fn leader_index(&self) -> Option<usize> {
        blocking(|| {
            self.nodes
                .iter()
                .position(|n| n.is_running() && !n.is_paused() && n.mode().is_ok_and(|m| m == "leader"))
        })
    }

    /// Waits until some node reports `Mode: leader` and returns its index.
    pub fn wait_for_leader(&self, timeout: Duration) -> Result<usize> {
        blocking(|| {
            let deadline = Instant::now() + timeout;
            loop {
                if let Some(i) = self.leader_index() {
                    return Ok(i);
                }
                if Instant::now() >= deadline {
                    return Err(HarnessError::Timeout(format!(
                        "no leader among {} after {timeout:?}",
                        self.connect_string()
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    }

    /// Waits until every running, unpaused node serves (reports leader or follower).
    pub fn wait_serving(&self, timeout: Duration) -> Result<()> {
        blocking(|| {
            let deadline = Instant::now() + timeout;
            for node in &self.nodes {
                if node.is_running() && !node.is_paused() {
                    let left = deadline.saturating_duration_since(Instant::now());
                    node.wait_serving(left.max(Duration::from_millis(1)))?;
                }
            }
            Ok(())
        })
    }

    /// SIGKILLs node `i` and waits until it is gone.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        self.nodes[i].kill()
    }

    /// Restarts node `i` with its data and waits up to 30 s until it serves (it needs a quorum
    /// to: with two nodes down use [`ZkNode::restart_no_wait`] via [`node_mut`](Self::node_mut)).
    pub fn restart(&mut self, i: usize) -> Result<()> {
        let node = &mut self.nodes[i];
        node.restart_no_wait()?;
        node.wait_serving(START_TIMEOUT).map(|_| ())
    }

    /// Freezes node `i` (SIGSTOP).
    pub fn pause(&self, i: usize) -> Result<()> {
        self.nodes[i].pause()
    }

    /// Resumes node `i` (SIGCONT).
    pub fn resume(&self, i: usize) -> Result<()> {
        self.nodes[i].resume()
    }
}
