//! `zkdubbo apps` and `zkdubbo instances <app>`: Dubbo 3 application-level discovery as it
//! is in ZooKeeper — the applications under `/services` with their instance counts, and an
//! application's instances with their endpoints and metadata revision.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use zkdubbo_common::text::{excerpt, printable};
use zkdubbo_discovery::{ServiceInstance, StorageType};

use crate::target::{Target, list_children};

/// Where Dubbo 3 writes instance nodes by default (`ZookeeperServiceDiscovery`'s root).
const DEFAULT_SERVICES_ROOT: &str = "/services";

/// Arguments of `zkdubbo apps`.
#[derive(clap::Args, Debug)]
pub struct AppsArgs {
    /// Root of the instance nodes (Dubbo's registry `rootPath`).
    #[arg(long = "services-root", default_value = DEFAULT_SERVICES_ROOT)]
    pub services_root: String,
    /// One JSON array instead of a line per application.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `zkdubbo instances`.
#[derive(clap::Args, Debug)]
pub struct InstancesArgs {
    /// The application, e.g. `demo-provider`.
    pub application: String,
    /// Root of the instance nodes (Dubbo's registry `rootPath`).
    #[arg(long = "services-root", default_value = DEFAULT_SERVICES_ROOT)]
    pub services_root: String,
    /// One JSON array instead of a line per instance.
    #[arg(long)]
    pub json: bool,
}

async fn children(client: &zookeeper_client::Client, path: &str) -> anyhow::Result<Vec<String>> {
    let mut names = list_children(client, path).await?;
    names.sort();
    Ok(names)
}

fn root(services_root: &str) -> String {
    let trimmed = services_root.trim_end_matches('/');
    if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

/// Print each application under the services root with its number of instances.
pub async fn apps(target: &Target, args: &AppsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let client = target.raw_client().await?;
    let root = root(&args.services_root);
    let mut rows = Vec::new();
    for app in children(&client, &root).await? {
        let instances = children(&client, &format!("{root}/{app}")).await?.len();
        rows.push((app, instances));
    }
    if args.json {
        let list: Vec<_> = rows
            .iter()
            .map(|(app, n)| json!({"application": app, "instances": n}))
            .collect();
        serde_json::to_writer(&mut *out, &list)?;
        writeln!(out)?;
    } else {
        for (app, n) in rows {
            writeln!(out, "{}\t{n}", printable(&app))?;
        }
    }
    Ok(())
}

/// Print the instances of an application: address, endpoints, revision and where its
/// metadata is. A node that is not an instance is reported on stderr, naming it, and skipped.
pub async fn instances(target: &Target, args: &InstancesArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let client = target.raw_client().await?;
    let dir = format!("{}/{}", root(&args.services_root), args.application);
    let mut found = Vec::new();
    for name in children(&client, &dir).await? {
        let path = format!("{dir}/{name}");
        let data = match tokio::time::timeout(Duration::from_secs(10), client.get_data(&path)).await {
            Ok(Ok((data, _))) => data,
            // Gone since the list: not an instance any more.
            Ok(Err(zookeeper_client::Error::NoNode)) => continue,
            Ok(Err(e)) => return Err(e).with_context(|| format!("cannot read {path}")),
            Err(_) => anyhow::bail!("reading {path} timed out"),
        };
        match ServiceInstance::from_json(&data) {
            Ok(instance) => found.push(instance),
            Err(e) => eprintln!("zkdubbo: skipping node {dir}/{}: {e}", excerpt(&name)),
        }
    }
    if args.json {
        let list: Vec<_> = found.iter().map(instance_json).collect();
        serde_json::to_writer(&mut *out, &list)?;
        writeln!(out)?;
    } else {
        for i in &found {
            let endpoints = match i.endpoints() {
                Ok(list) if !list.is_empty() => list
                    .iter()
                    .map(|e| format!("{}:{}", e.protocol, e.port))
                    .collect::<Vec<_>>()
                    .join(","),
                Ok(_) => format!("-:{}", i.port),
                Err(e) => {
                    eprintln!("zkdubbo: instance {}: {e}", printable(&i.id));
                    format!("-:{}", i.port)
                }
            };
            writeln!(
                out,
                "{}\tendpoints={}\trevision={}\tmetadata={}",
                printable(&i.id),
                printable(&endpoints),
                printable(i.revision().unwrap_or("-")),
                storage(i.storage_type())
            )?;
        }
    }
    Ok(())
}

fn storage(s: StorageType) -> &'static str {
    match s {
        StorageType::Local => "local",
        StorageType::Remote => "remote",
    }
}

fn instance_json(i: &ServiceInstance) -> serde_json::Value {
    let endpoints: Vec<_> = i
        .endpoints()
        .unwrap_or_default()
        .into_iter()
        .map(|e| json!({"protocol": e.protocol, "port": e.port}))
        .collect();
    json!({
        "application": i.name,
        "id": i.id,
        "address": i.address,
        "port": i.port,
        "endpoints": endpoints,
        "revision": i.revision(),
        "metadata_storage": storage(i.storage_type()),
        "registered_at": crate::json::iso8601(i.registration_time_utc),
        "metadata": i.metadata,
    })
}
