//! The host a process registers itself with.

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

fn outbound_ip() -> Option<IpAddr> {
    // Connecting a UDP socket only selects a route and a source address; no packet is sent.
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    socket.local_addr().ok().map(|a| a.ip())
}

/// Milliseconds since the Unix epoch, as Java's `System.currentTimeMillis()` (the `timestamp`
/// providers register for warm-up).
pub fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}
