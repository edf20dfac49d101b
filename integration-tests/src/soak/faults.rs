//! The faults of the soak, drawn from a seeded generator.

use std::fmt;

/// One fault, its target and how long it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL ZooKeeper server `i`, restart it after `ms`.
    KillServer { i: usize, ms: u64 },
    /// SIGSTOP server `i` for `ms`.
    PauseServer { i: usize, ms: u64 },
    /// SIGKILL server `i`, delete its data (not its `myid`), restart it.
    WipeServer { i: usize },
    /// SIGSTOP provider `p` for `ms` (longer than the 4 s session: it expires).
    PauseProvider { p: usize, ms: u64 },
    /// SIGKILL provider `p`, start it again on the same port after `ms`.
    KillProvider { p: usize, ms: u64 },
    /// Cut the proxied consumer from every server for `ms`: connections refused (0), packets
    /// dropped (1) or connections frozen (2).
    PartitionConsumer { ms: u64, mode: u8 },
    /// Delete provider `p`'s node by hand.
    DeleteProviderNode { p: usize },
    /// Write hostile rules (`retries=2147483647`, a blank condition rule) for `ms`.
    HostileRules { ms: u64 },
}

impl Fault {
    /// A fault drawn from `rng` for an ensemble of 3 servers and `providers` providers.
    pub fn draw(rng: &mut fastrand::Rng, providers: usize) -> Fault {
        let ms = |rng: &mut fastrand::Rng, lo: u64, hi: u64| rng.u64(lo..=hi);
        match rng.usize(0..8) {
            0 => Fault::KillServer {
                i: rng.usize(0..3),
                ms: ms(rng, 1000, 4000),
            },
            1 => Fault::PauseServer {
                i: rng.usize(0..3),
                ms: ms(rng, 500, 3000),
            },
            2 => Fault::WipeServer { i: rng.usize(0..3) },
            3 => Fault::PauseProvider {
                p: rng.usize(0..providers),
                ms: ms(rng, 500, 6000),
            },
            4 => Fault::KillProvider {
                p: rng.usize(0..providers),
                ms: ms(rng, 500, 3000),
            },
            5 => Fault::PartitionConsumer {
                ms: ms(rng, 500, 6000),
                mode: rng.u8(0..3),
            },
            6 => Fault::DeleteProviderNode {
                p: rng.usize(0..providers),
            },
            _ => Fault::HostileRules {
                ms: ms(rng, 1000, 3000),
            },
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fault::KillServer { i, ms } => write!(f, "kill -9 server {i}, restart after {ms} ms"),
            Fault::PauseServer { i, ms } => write!(f, "SIGSTOP server {i} for {ms} ms"),
            Fault::WipeServer { i } => write!(f, "kill server {i}, wipe its data, restart"),
            Fault::PauseProvider { p, ms } => write!(f, "SIGSTOP provider {p} for {ms} ms"),
            Fault::KillProvider { p, ms } => write!(f, "kill -9 provider {p}, restart after {ms} ms"),
            Fault::PartitionConsumer { ms, mode } => {
                let how = ["refused", "dropped", "frozen"][usize::from(mode % 3)];
                write!(f, "partition consumer 1 from ZooKeeper for {ms} ms (connections {how})")
            }
            Fault::DeleteProviderNode { p } => write!(f, "delete provider {p}'s node by hand"),
            Fault::HostileRules { ms } => write!(f, "hostile rules (retries=2147483647, blank condition) for {ms} ms"),
        }
    }
}
