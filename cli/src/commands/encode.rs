//! `zkdubbo encode` / `zkdubbo decode`: offline conversion between a URL and its node name.

use std::io::Write;

use anyhow::Context;
use zkdubbo_common::Url;
use zkdubbo_common::text::{excerpt, printable};

/// Print the ZooKeeper node name of `url` (params sorted, Java `URLEncoder` encoding).
pub fn encode(url: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let url = Url::parse(url).with_context(|| format!("cannot read URL {url:?}"))?;
    writeln!(out, "{}", url.to_node_name())?;
    Ok(())
}

/// Print the URL a node name stands for.
pub fn decode(node_name: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let url =
        Url::from_node_name(node_name).with_context(|| format!("cannot decode node name {}", excerpt(node_name)))?;
    // Escaped: a decoded name must not drive the terminal (colours, cursor moves).
    writeln!(out, "{}", printable(&url.to_string()))?;
    Ok(())
}
