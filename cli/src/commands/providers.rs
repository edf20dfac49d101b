//! `zkdubbo providers <interface>`: what is registered now.

use std::io::Write;

use zkdubbo_common::Url;
use zkdubbo_common::text::{excerpt, printable};

use crate::target::{Target, list_children};

/// Arguments of `zkdubbo providers`.
#[derive(clap::Args, Debug)]
pub struct ProvidersArgs {
    /// The service interface, e.g. `com.foo.BarService`.
    pub interface: String,
    /// Category to list: providers, consumers, routers or configurators.
    #[arg(long, default_value = "providers")]
    pub category: String,
    /// One JSON array of URL strings instead of one URL per line.
    #[arg(long)]
    pub json: bool,
}

/// Print the decoded URLs registered under `<root>/<interface>/<category>`, sorted. Node names
/// that are not URLs are reported on stderr and skipped.
pub async fn run(target: &Target, args: &ProvidersArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    args.category
        .parse::<zkdubbo_registry::Category>()
        .map_err(|e| anyhow::anyhow!("--category: {e}"))?;
    let client = target.raw_client().await?;
    let path = target.category_path(&args.interface, &args.category);
    let children = list_children(&client, &path).await?;
    let mut urls: Vec<String> = Vec::with_capacity(children.len());
    for child in &children {
        match Url::from_node_name(child) {
            Ok(url) => urls.push(url.to_string()),
            Err(e) => eprintln!("zkdubbo: skipping node {path}/{}: {e}", excerpt(child)),
        }
    }
    urls.sort();
    if args.json {
        serde_json::to_writer(&mut *out, &urls)?;
        writeln!(out)?;
    } else {
        for url in urls {
            writeln!(out, "{}", printable(&url))?;
        }
    }
    Ok(())
}
