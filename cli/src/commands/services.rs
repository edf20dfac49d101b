//! `zkdubbo services`: the interfaces under the root.

use std::io::Write;

use zkdubbo_registry::Registry;

use crate::target::{SessionArgs, Target};

/// Print the interfaces under the root, one per line, sorted.
pub async fn run(target: &Target, out: &mut dyn Write) -> anyhow::Result<()> {
    let registry = target.registry(&SessionArgs::default()).await?;
    let result = registry.services().await;
    registry.shutdown().await;
    let mut services = result?;
    services.sort();
    for service in services {
        writeln!(out, "{service}")?;
    }
    Ok(())
}
