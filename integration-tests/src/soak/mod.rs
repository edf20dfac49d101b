//! The randomized fault soak (`scripts/soak.sh`): a 3-node ensemble, providers and consumers
//! in processes of their own under calls, and a seeded schedule of faults; after each heal a
//! checker compares every consumer's view with ZooKeeper's, checks that live providers are
//! registered and that no process crashed.

pub mod child;
pub mod faults;
pub mod run;

/// The interface the soak's providers serve.
pub const INTERFACE: &str = "org.apache.dubbo.samples.Greeter";

/// The registry URL children use: the whole ensemble, short sessions, quick retries and
/// self-checks, no cache file.
pub fn registry_url(connect: &str, root: &str) -> anyhow::Result<String> {
    let mut url = crate::harness_registry_address(connect)?;
    for (k, v) in [
        ("group", root),
        ("session", "4000"),
        ("timeout", "1000"),
        ("retry.period", "500"),
        ("registry.check.period", "1000"),
        ("file.cache", "false"),
    ] {
        url.set_param(k, v);
    }
    Ok(url.to_string())
}
