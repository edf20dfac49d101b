//! What every URL a zkdubbo process registers carries about the process, as Java Dubbo
//! stamps it: interface, side, pid, start time, protocol version and release.

use zkdubbo_common::{keys, wall_clock_ms};

/// The `release` zkdubbo reports in the URLs it registers.
pub const RELEASE: &str = concat!("zkdubbo-", env!("CARGO_PKG_VERSION"));

/// The process parameters of a URL of `interface` registered by the `side` (provider or
/// consumer) of this process.
pub(crate) fn process_params(interface: &str, side: &str) -> [(&'static str, String); 6] {
    [
        (keys::INTERFACE, interface.to_owned()),
        (keys::SIDE, side.to_owned()),
        (keys::PID, std::process::id().to_string()),
        (keys::TIMESTAMP, wall_clock_ms().to_string()),
        (keys::DUBBO_VERSION, keys::DUBBO_PROTOCOL_VERSION.to_owned()),
        (keys::RELEASE, RELEASE.to_owned()),
    ]
}
