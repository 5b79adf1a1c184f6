//! Which receivers a webhook may target: public addresses only, checked when a URL is
//! saved ([`check_target`]) and again, with the same table ([`is_internal`]), by the
//! server's delivery client when it connects, whatever a host name resolves to then.

use std::net::IpAddr;

use super::special::special_purpose;

/// Whether `ip` may not be a receiver: it is in a block of the special-purpose table
/// (loopback, private, link-local with the cloud metadata address, documentation,
/// benchmarking, translation prefixes, multicast, …; see `special.rs`), directly or
/// through the IPv4 address it embeds.
pub fn is_internal(ip: IpAddr) -> bool {
    special_purpose(ip).is_some()
}

/// Checks a receiver's URL (a budget's webhook, a channel): a well-formed http(s) URL
/// with a host, and, unless internal receivers are allowed, not a literal internal or
/// special-purpose address or `localhost`.
/// Names that resolve inside are refused at delivery, when the client connects.
pub fn check_target(url: &str, allow_private: bool) -> Result<(), String> {
    let must = || "must be an http(s) URL".to_string();
    // The host as an HTTP client reads it: after `scheme://` and any `user@`, before the
    // port, path, query or fragment. (Not the URL standard's host, which would rewrite
    // `2130706433` as `127.0.0.1`: such names are refused when the delivery connects.)
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(must)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map(|(h, _)| h).ok_or_else(must)?,
        None => host_port.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(must());
    }
    if allow_private {
        return Ok(());
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let refused = match host.parse::<IpAddr>() {
        Ok(ip) => special_purpose(ip),
        Err(_) if host == "localhost" || host.ends_with(".localhost") => Some("loopback"),
        Err(_) => None,
    };
    match refused {
        Some(block) => Err(format!(
            "must not target an internal or special-purpose address ({block})"
        )),
        None => Ok(()),
    }
}
