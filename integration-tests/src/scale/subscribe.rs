//! Scenario 3: one consumer subscribing to many interfaces (providers, configurators and
//! routers of each, as a Dubbo consumer does): time until every snapshot is complete, and the
//! consumer process's peak resident memory (`VmHWM`).

use std::time::Duration;

use anyhow::{Context, Result, ensure};

use super::child::{ChildProc, field, parse_result, subscribe_interface};
use super::{Env, Sizes, populate, provider_url, raw_client};
use crate::harness::unique_path;

/// What scenario 3 measured.
#[derive(Debug, Clone)]
pub struct SubscribeResult {
    /// Interfaces subscribed.
    pub interfaces: usize,
    /// Providers per interface.
    pub providers: usize,
    /// From the start of the consumer's connect until every snapshot was complete.
    pub ready: Duration,
    /// Of which the connect.
    pub connect: Duration,
    /// Peak RSS of the consumer process, kB.
    pub hwm_kb: u64,
    /// RSS of the consumer process before it connected, kB.
    pub rss_start_kb: u64,
}

/// Run scenario 3.
pub async fn run(env: &Env, sizes: &Sizes) -> Result<SubscribeResult> {
    let root = unique_path("bench-subscribe");
    let (interfaces, providers) = (sizes.subscribe_interfaces, sizes.subscribe_providers);
    let raw = raw_client(&env.addr).await?;
    for k in 0..interfaces {
        let interface = subscribe_interface(k);
        let urls: Vec<_> = (0..providers).map(|i| provider_url(&interface, i)).collect();
        populate(&raw, &root, &interface, &urls).await?;
    }
    let mut child = ChildProc::spawn(
        &env.child_exe,
        &[
            "subscribe".to_owned(),
            env.addr.clone(),
            root,
            interfaces.to_string(),
            providers.to_string(),
        ],
    )?;
    let line = child.expect("RESULT", Duration::from_secs(300)).await?;
    child.finish().await?;
    let fields = parse_result(&line).context("RESULT line")?;
    let total: usize = field(&fields, "providers")?;
    ensure!(
        total == interfaces * providers,
        "consumer sees {total} providers, {} registered",
        interfaces * providers
    );
    Ok(SubscribeResult {
        interfaces,
        providers,
        ready: Duration::from_secs_f64(field::<f64>(&fields, "ready_ms")? / 1e3),
        connect: Duration::from_secs_f64(field::<f64>(&fields, "connect_ms")? / 1e3),
        hwm_kb: field(&fields, "hwm_kb")?,
        rss_start_kb: field(&fields, "rss_start_kb")?,
    })
}
