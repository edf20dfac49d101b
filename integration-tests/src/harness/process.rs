//! One ZooKeeper server process (a directory holding `zoo.cfg`, `data/`, `zk.log`, `zk.pid`)
//! and the plumbing around `scripts/zk.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::error::{HarnessError, Result};
use super::fourlw::server_mode;
use super::zk_script;

/// How long a (re)started server may take to report a `Mode:`.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a SIGKILLed server may take to disappear.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a blocking closure; on a multi-threaded tokio runtime through `block_in_place`, so the
/// runtime's other tasks keep running meanwhile.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Runs `zk.sh install` once per process (a no-op when ZooKeeper and Java are present).
pub(crate) fn install_once() -> Result<()> {
    static INSTALL: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    INSTALL
        .get_or_init(|| {
            run_script(&["install".to_owned()], &[])
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|msg| HarnessError::Script {
            args: "install".to_owned(),
            status: "earlier failure".to_owned(),
            output: msg,
        })
}

/// Runs `bash scripts/zk.sh ARGS...` with `envs`, returning its standard output. Exit code 3
/// (a port is in use) becomes [`HarnessError::PortInUse`].
pub(crate) fn run_script(args: &[String], envs: &[(String, String)]) -> Result<String> {
    let script = zk_script();
    tracing::debug!(script = %script.display(), ?args, "running zk.sh");
    let output = Command::new("bash")
        .arg(&script)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        // The script's watchdog kills the server once this process is gone.
        .env("ZK_WATCH_PID", std::process::id().to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HarnessError::io(format!("running {}", script.display()), e))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let text = format!("{stdout}{stderr}");
    if output.status.code() == Some(3) {
        return Err(HarnessError::PortInUse(text));
    }
    Err(HarnessError::Script {
        args: args.join(" "),
        status: output.status.to_string(),
        output: text,
    })
}

/// A random number from the standard library's randomly seeded hasher.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// A random port in [20000, 32000): below Linux's ephemeral range (32768+), so neither the
/// kernel (for `bind(0)` or an outgoing connection) nor another test's proxy hands it out
/// while a killed server waits to be restarted on it. Leaves room for `port + 107`.
pub(crate) fn random_low_port() -> u16 {
    20000 + (random_u64() % 12000) as u16
}

/// A free TCP port on 127.0.0.1: a random low port (see [`random_low_port`]) that can be
/// bound right now, or else whatever `bind(127.0.0.1:0)` gives.
pub(crate) fn free_port() -> Result<u16> {
    for _ in 0..20 {
        let port = random_low_port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| HarnessError::io("binding 127.0.0.1:0 to find a free port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| HarnessError::io("reading the bound port", e))?
        .port();
    Ok(port)
}

/// The process state letter from `/proc/PID/stat` (`R`, `S`, `T`, `Z` ...), if it exists.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the ")" that closes the command name.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.trim_start().chars().next()
}

/// True while `pid` is a live process. A zombie counts as gone (nobody may reap it: the
/// server is not our child) once its last thread has exited; until then a JVM's main thread
/// can be a zombie while other threads still hold its sockets.
fn pid_alive(pid: u32) -> bool {
    match proc_state(pid) {
        None | Some('X') => false,
        Some('Z') => std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| tasks.count() > 1)
            .unwrap_or(false),
        Some(_) => true,
    }
}

/// True if `pid` is the ZooKeeper server started with `dir/zoo.cfg` (guards against PID reuse).
fn pid_is_server(pid: u32, dir: &Path) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let cfg = dir.join("zoo.cfg");
    let cfg = cfg.to_string_lossy();
    cmdline.split(|b| *b == 0).any(|arg| arg == cfg.as_bytes())
}

/// Sends `sig` to `pid`.
fn signal(pid: u32, sig: libc::c_int, what: &str) -> Result<()> {
    let pid_t = libc::pid_t::try_from(pid).map_err(|_| HarnessError::NotRunning(format!("pid {pid} out of range")))?;
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid_t, sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(HarnessError::io(
            format!("sending {what} to pid {pid}"),
            std::io::Error::last_os_error(),
        ))
    }
}

/// One ZooKeeper server process: a standalone server or a member of an ensemble.
///
/// Obtained from [`ZkServer`](super::ZkServer) or [`ZkEnsemble`](super::ZkEnsemble); the
/// process is SIGKILLed when the value is dropped.
#[derive(Debug)]
pub struct ZkNode {
    dir: PathBuf,
    port: u16,
    pid: Option<u32>,
    envs: Vec<(String, String)>,
}

impl ZkNode {
    /// A node whose server was just started by `zk.sh` in `dir` (reads `dir/zk.pid`).
    pub(crate) fn started(dir: PathBuf, port: u16, envs: Vec<(String, String)>) -> Result<Self> {
        let mut node = ZkNode {
            dir,
            port,
            pid: None,
            envs,
        };
        node.pid = Some(node.read_pid()?);
        Ok(node)
    }

    fn read_pid(&self) -> Result<u32> {
        let file = self.dir.join("zk.pid");
        let text =
            std::fs::read_to_string(&file).map_err(|e| HarnessError::io(format!("reading {}", file.display()), e))?;
        text.trim()
            .parse()
            .map_err(|_| HarnessError::NotRunning(format!("{} holds {text:?}, not a pid", file.display())))
    }

    /// The client address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's PID, or `None` after [`kill`](Self::kill).
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The node's directory (`zoo.cfg`, `data/`, `zk.log`, `zk.pid`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True while the server process exists (also when paused).
    pub fn is_running(&self) -> bool {
        self.pid.is_some_and(|pid| pid_is_server(pid, &self.dir))
    }

    /// True while the server process is stopped by [`pause`](Self::pause).
    pub fn is_paused(&self) -> bool {
        self.pid
            .is_some_and(|pid| proc_state(pid) == Some('T') && pid_is_server(pid, &self.dir))
    }

    fn running_pid(&self) -> Result<u32> {
        match self.pid {
            Some(pid) if pid_is_server(pid, &self.dir) => Ok(pid),
            _ => Err(HarnessError::NotRunning(format!(
                "no server process for {}",
                self.dir.display()
            ))),
        }
    }

    /// The `Mode:` from `srvr`: `"standalone"`, `"leader"` or `"follower"`. Fails when the
    /// server does not answer (e.g. paused, killed) or is not serving (no quorum).
    pub fn mode(&self) -> Result<String> {
        server_mode(&self.addr())
    }

    /// Freezes the server process (SIGSTOP) and waits until it is stopped: connections stay
    /// open but nothing is answered.
    pub fn pause(&self) -> Result<()> {
        let pid = self.running_pid()?;
        tracing::debug!(pid, port = self.port, "pausing ZooKeeper");
        signal(pid, libc::SIGSTOP, "SIGSTOP")?;
        self.wait_state(pid, "stopped", |s| s == Some('T'))
    }

    /// Resumes a paused server process (SIGCONT) and waits until it runs again.
    pub fn resume(&self) -> Result<()> {
        let pid = self.running_pid()?;
        tracing::debug!(pid, port = self.port, "resuming ZooKeeper");
        signal(pid, libc::SIGCONT, "SIGCONT")?;
        self.wait_state(pid, "running", |s| s != Some('T'))
    }

    /// Waits (up to 5 s) until the process state satisfies `ok`; signals to a multi-threaded
    /// JVM take effect asynchronously.
    fn wait_state(&self, pid: u32, what: &str, ok: impl Fn(Option<char>) -> bool) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ok(proc_state(pid)) {
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout(format!("pid {pid} not {what} after 5 s")));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// SIGKILLs the server and waits until the process is gone. A no-op if it is not running.
    pub fn kill(&mut self) -> Result<()> {
        blocking(|| self.kill_blocking())
    }

    fn kill_blocking(&mut self) -> Result<()> {
        let Some(pid) = self.pid else {
            return Ok(());
        };
        if pid_is_server(pid, &self.dir) {
            tracing::debug!(pid, port = self.port, "killing ZooKeeper");
            signal(pid, libc::SIGKILL, "SIGKILL")?;
            let deadline = Instant::now() + KILL_TIMEOUT;
            while pid_alive(pid) {
                if Instant::now() >= deadline {
                    return Err(HarnessError::Timeout(format!(
                        "pid {pid} still alive {KILL_TIMEOUT:?} after SIGKILL"
                    )));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.pid = None;
        let _ = std::fs::remove_file(self.dir.join("zk.pid"));
        Ok(())
    }

    /// Starts the server again with the same directory, port and data (kills it first if it is
    /// still running), then waits up to 30 s until it serves. An ensemble member only serves
    /// once it is part of a quorum: use [`restart_no_wait`](Self::restart_no_wait) when no
    /// quorum can form yet.
    pub fn restart(&mut self) -> Result<()> {
        blocking(|| {
            self.relaunch()?;
            self.wait_serving_blocking(START_TIMEOUT).map(|_| ())
        })
    }

    /// Like [`restart`](Self::restart) but returns as soon as the process is launched.
    pub fn restart_no_wait(&mut self) -> Result<()> {
        blocking(|| self.relaunch())
    }

    fn relaunch(&mut self) -> Result<()> {
        self.kill_blocking()?;
        let args = [
            "restart".to_owned(),
            self.dir.to_string_lossy().into_owned(),
            "--no-wait".to_owned(),
        ];
        run_script(&args, &self.envs)?;
        self.pid = Some(self.read_pid()?);
        tracing::debug!(pid = self.pid, port = self.port, "relaunched ZooKeeper");
        Ok(())
    }

    /// Waits until the server reports a `Mode:` and returns it.
    pub fn wait_serving(&self, timeout: Duration) -> Result<String> {
        blocking(|| self.wait_serving_blocking(timeout))
    }

    fn wait_serving_blocking(&self, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let pid = match self.running_pid() {
                Ok(pid) => pid,
                // Just launched: until the shell's child has exec'd java, its command line is
                // the shell's. Alive, it is waited for like a server still starting (the
                // restart of a loaded machine was once taken for a server that had exited).
                Err(_) if self.pid.is_some_and(pid_alive) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                Err(_) => return Err(self.died_error()),
            };
            if proc_state(pid) != Some('T')
                && let Ok(mode) = self.mode()
            {
                return Ok(mode);
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout(format!(
                    "ZooKeeper at {} not serving after {timeout:?}; log tail:\n{}",
                    self.addr(),
                    self.log_tail(30)
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn died_error(&self) -> HarnessError {
        let tail = self.log_tail(30);
        if tail.contains("Address already in use") {
            HarnessError::PortInUse(format!("{}:\n{tail}", self.addr()))
        } else {
            HarnessError::NotRunning(format!("ZooKeeper at {} exited; log tail:\n{tail}", self.addr()))
        }
    }

    /// The last `lines` lines of the server's log (`zk.log`), for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.dir.join("zk.log")).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Best-effort SIGKILL without error reporting (drop, exit handlers).
    pub(crate) fn terminate(&self) {
        let Some(pid) = self.pid else {
            return;
        };
        if pid_is_server(pid, &self.dir) && signal(pid, libc::SIGKILL, "SIGKILL").is_ok() {
            let deadline = Instant::now() + Duration::from_secs(3);
            while pid_alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

impl Drop for ZkNode {
    fn drop(&mut self) {
        self.terminate();
    }
}
