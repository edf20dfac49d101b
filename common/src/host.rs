//! The address a process registers itself with.
//!
//! Java Dubbo registers the bound address when a service binds a specific one, and this
//! host's outbound IP (or `DUBBO_IP_TO_REGISTRY`) when it binds a wildcard; [`register_host`]
//! makes that choice, [`local_ip`] is the wildcard case.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};

/// Environment variable naming the IP to register (Dubbo's `DUBBO_IP_TO_REGISTRY`).
pub const IP_TO_REGISTRY_ENV: &str = "DUBBO_IP_TO_REGISTRY";

/// The IP this host is reached at: `DUBBO_IP_TO_REGISTRY` if set, else the address of the
/// interface that routes to the outside (found without sending anything), else `127.0.0.1`.
pub fn local_ip() -> String {
    if let Ok(ip) = std::env::var(IP_TO_REGISTRY_ENV) {
        let ip = ip.trim();
        if !ip.is_empty() {
            return ip.to_owned();
        }
    }
    outbound_ip()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .to_string()
}

/// The host to register for a server bound to `bound`: that address itself when it is a
/// specific one (consumers can reach nothing else), [`local_ip`] for a wildcard bind.
///
/// ```
/// use zkdubbo_common::host::register_host;
/// assert_eq!(register_host("127.0.0.1".parse().unwrap()), "127.0.0.1");
/// assert_ne!(register_host("0.0.0.0".parse().unwrap()), "0.0.0.0");
/// ```
pub fn register_host(bound: IpAddr) -> String {
    if bound.is_unspecified() {
        local_ip()
    } else {
        bound.to_string()
    }
}

fn outbound_ip() -> Option<IpAddr> {
    // Connecting a UDP socket only selects a route and a source address; no packet is sent.
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    socket.local_addr().ok().map(|a| a.ip())
}
