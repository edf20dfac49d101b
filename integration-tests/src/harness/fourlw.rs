//! ZooKeeper four-letter words (`srvr`, `stat`, `cons`, `wchc`, ...).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::error::{HarnessError, Result};

/// How long a four-letter word may take (a paused server never answers).
const FOUR_LW_TIMEOUT: Duration = Duration::from_secs(2);

/// Sends the four-letter word `cmd` (e.g. `"srvr"`, `"cons"`, `"wchc"`) to the server at
/// `addr` (`host:port`) and returns its answer. Every word is allowed by the harness's
/// servers (`4lw.commands.whitelist=*`). Fails after 2 s without an answer.
pub fn four_letter_word(addr: &str, cmd: &str) -> Result<String> {
    let sock: SocketAddr = addr
        .to_socket_addrs()
        .map_err(|e| HarnessError::io(format!("resolving {addr}"), e))?
        .next()
        .ok_or_else(|| {
            HarnessError::io(
                format!("resolving {addr}"),
                std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
            )
        })?;
    let ctx = |what: &str| format!("four-letter word {cmd:?} to {addr}: {what}");
    let mut stream =
        TcpStream::connect_timeout(&sock, FOUR_LW_TIMEOUT).map_err(|e| HarnessError::io(ctx("connect"), e))?;
    stream
        .set_read_timeout(Some(FOUR_LW_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(FOUR_LW_TIMEOUT)))
        .map_err(|e| HarnessError::io(ctx("set timeouts"), e))?;
    stream
        .write_all(cmd.as_bytes())
        .map_err(|e| HarnessError::io(ctx("write"), e))?;
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            return Err(HarnessError::Timeout(ctx("no answer within 2 s")));
        }
        // The server closes right after answering; a reset after a complete answer is fine.
        Err(e) if !answer.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => return Err(HarnessError::io(ctx("read"), e)),
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// The `Mode:` the server at `addr` reports through `srvr`: `"standalone"`, `"leader"`,
/// `"follower"` or `"observer"`. [`HarnessError::NotServing`] when it answers without a mode
/// (e.g. an ensemble member without quorum), an I/O or timeout error when it does not answer.
pub fn server_mode(addr: &str) -> Result<String> {
    let answer = four_letter_word(addr, "srvr")?;
    answer
        .lines()
        .find_map(|l| l.strip_prefix("Mode:"))
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| HarnessError::NotServing {
            addr: addr.to_owned(),
            answer: answer.trim().to_owned(),
        })
}
