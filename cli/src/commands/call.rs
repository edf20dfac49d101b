//! `zkdubbo call <interface> <method> [ARGS_JSON...]`: find the providers in ZooKeeper and
//! make a generic call through the cluster (failover, load balancing), like Dubbo's telnet
//! `invoke`.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use zkdubbo::{Reference, SERVED_BY};

use crate::json::{from_json, infer_type, to_json};
use crate::target::Target;

/// Arguments of `zkdubbo call`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Arguments are JSON values, one per parameter. Without --types, Java types are inferred:
string → java.lang.String, integer → int (long when it does not fit), other number → double,
true/false → boolean, array → java.util.List, object → java.util.Map (give a \"class\" entry
to make Java build that class, as Dubbo's generic call does), null → java.lang.Object.
The result is printed as JSON: POJOs as objects with their \"class\"; a remote exception is
reported with its Java class and the command exits with status 1.

Example: zkdubbo call org.apache.dubbo.samples.DemoService add 2 3")]
pub struct CallArgs {
    /// The service interface, e.g. `org.apache.dubbo.samples.DemoService`.
    pub interface: String,
    /// The method.
    pub method: String,
    /// The arguments, one JSON value each.
    pub args: Vec<String>,
    /// Java parameter types, comma-separated (`java.lang.String,int`), when inference is not
    /// enough (overloads, `long`, POJO classes).
    #[arg(long, value_delimiter = ',')]
    pub types: Option<Vec<String>>,
    /// The service version.
    #[arg(long)]
    pub version: Option<String>,
    /// The service group.
    #[arg(long)]
    pub group: Option<String>,
    /// Only providers of this protocol (dubbo:// is what generic calls speak).
    #[arg(long, default_value = "dubbo", value_parser = ["dubbo", "tri"])]
    pub protocol: String,
    /// Call timeout in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub timeout: u64,
    /// How long to wait for providers to be listed, in milliseconds.
    #[arg(long = "wait", default_value_t = 5000)]
    pub wait: u64,
    /// Print one JSON object with the result, the provider and the time taken.
    #[arg(long)]
    pub json: bool,
}

/// Run `zkdubbo call`.
pub async fn run(target: &Target, args: &CallArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.protocol == "tri" {
        anyhow::bail!(
            "zkdubbo call makes Dubbo generic calls ($invoke with Hessian2), which Triple providers do not \
             take: their methods take protobuf messages this command cannot build without their .proto"
        );
    }
    let values: Vec<serde_json::Value> = args
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| serde_json::from_str(a).with_context(|| format!("argument {} is not JSON: {a}", i + 1)))
        .collect::<anyhow::Result<_>>()?;
    let types: Vec<String> = match &args.types {
        Some(t) if t.len() != values.len() => {
            anyhow::bail!("--types names {} types for {} arguments", t.len(), values.len())
        }
        Some(t) => t.iter().map(|s| s.trim().to_owned()).collect(),
        None => values.iter().map(|v| infer_type(v).to_owned()).collect(),
    };
    let hessian = values
        .iter()
        .zip(&types)
        .enumerate()
        .map(|(i, (v, t))| from_json(v, t).with_context(|| format!("argument {}", i + 1)))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let registry = target.registry(&crate::target::SessionArgs::default()).await?;
    let mut builder = Reference::builder()
        .interface(&args.interface)
        .registry_instance(registry.clone())
        .application("zkdubbo-call")
        .param("protocol", &args.protocol)
        .timeout(Duration::from_millis(args.timeout))
        .ready_timeout(Duration::from_millis(args.wait));
    if let Some(v) = &args.version {
        builder = builder.version(v);
    }
    if let Some(g) = &args.group {
        builder = builder.group(g);
    }
    let result = async {
        let reference = builder.build().await?;
        let started = Instant::now();
        let inv = zkdubbo::dubbo::generic_invocation(&args.method, &types, hessian)?;
        let response = reference.invoke(&inv).await;
        let elapsed = started.elapsed();
        reference.shutdown().await;
        let response = response?;
        let value = zkdubbo::dubbo::reply_value(&response)?;
        let result = to_json(&value, false);
        if args.json {
            let provider = response.attachments.get(SERVED_BY).cloned().unwrap_or_default();
            let line = serde_json::json!({
                "result": result,
                "provider": provider,
                "types": types,
                "elapsed_ms": elapsed.as_secs_f64() * 1e3,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{}", serde_json::to_string_pretty(&result)?)?;
        }
        anyhow::Ok(())
    }
    .await;
    zkdubbo_registry::Registry::shutdown(&*registry).await;
    result
}
