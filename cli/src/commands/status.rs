//! `zkdubbo status`: connect once and print the session.

use std::io::Write;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::target::Target;

/// Arguments of `zkdubbo status`.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Session timeout to ask for, in milliseconds.
    #[arg(long = "session-timeout", value_name = "MS", default_value_t = 10_000)]
    pub session_timeout: u64,
}

/// Connect, print session id, negotiated timeout, state and the server it landed on, exit.
pub async fn run(target: &Target, args: &StatusArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let client = target
        .raw_client_with(Duration::from_millis(args.session_timeout))
        .await?;
    let session_id = client.session_id();
    writeln!(out, "session:     {session_id}")?;
    writeln!(
        out,
        "timeout:     {} ms (negotiated; asked for {} ms)",
        client.session_timeout().as_millis(),
        args.session_timeout
    )?;
    writeln!(out, "state:       {:?}", client.state())?;
    let servers = target.config()?.servers;
    let server = find_server(&servers, session_id.0).await;
    writeln!(
        out,
        "server:      {}",
        server
            .as_deref()
            .unwrap_or("unknown (the `cons` four-letter word is not allowed)")
    )?;
    drop(client);
    Ok(())
}

/// The server whose `cons` output lists our session, with its `Mode:` from `srvr`.
async fn find_server(servers: &[String], session_id: i64) -> Option<String> {
    let needle = format!("sid=0x{session_id:x}");
    for server in servers {
        let Some(cons) = four_letter_word(server, "cons").await else {
            continue;
        };
        if cons.contains(&needle) {
            let mode = four_letter_word(server, "srvr")
                .await
                .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Mode: ").map(str::to_owned)));
            return Some(match mode {
                Some(mode) => format!("{server} ({mode})"),
                None => server.to_string(),
            });
        }
    }
    None
}

async fn four_letter_word(server: &str, word: &str) -> Option<String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(server).await.ok()?;
        stream.write_all(word.as_bytes()).await.ok()?;
        let mut buf = String::new();
        stream.read_to_string(&mut buf).await.ok()?;
        Some(buf)
    };
    tokio::time::timeout(Duration::from_secs(3), exchange)
        .await
        .ok()
        .flatten()
}
