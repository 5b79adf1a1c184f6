//! Which receivers a webhook may target: public addresses only, checked when a budget is
//! saved ([`check_target`]) and again when a delivery connects ([`PublicOnly`]).

use std::net::{IpAddr, SocketAddr};

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// Whether `ip` is only reachable inside a network or host: loopback, private (RFC 1918,
/// unique-local IPv6), shared address space (RFC 6598), link-local (including the cloud
/// metadata address 169.254.169.254), unspecified, broadcast, multicast and reserved
/// ranges, also when written as an IPv4-mapped IPv6 address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0 // "this network"
                || (a == 100 && (64..128).contains(&b)) // shared address space
                || a >= 240 // reserved
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
        }
    }
}

/// Checks a budget's webhook URL: a well-formed http(s) URL with a host, and, unless
/// internal receivers are allowed, not a literal internal address or `localhost`.
/// Names that resolve inside are refused at delivery by [`PublicOnly`].
pub fn check_target(url: &str, allow_private: bool) -> Result<(), &'static str> {
    let uri: ureq::http::Uri = url.parse().map_err(|_| "must be an http(s) URL")?;
    let host = match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => host,
        _ => return Err("must be an http(s) URL"),
    };
    if allow_private {
        return Ok(());
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let internal = match host.parse::<IpAddr>() {
        Ok(ip) => is_internal(ip),
        Err(_) => host == "localhost" || host.ends_with(".localhost"),
    };
    if internal {
        return Err("must not target a loopback, private or link-local address");
    }
    Ok(())
}

/// The delivery client's resolver: the system's, keeping only public addresses. A
/// receiver whose name resolves only inside fails its attempt with a message saying so.
#[derive(Debug)]
pub(crate) struct PublicOnly;

impl Resolver for PublicOnly {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let resolved = DefaultResolver::default().resolve(uri, config, timeout)?;
        let public: Vec<SocketAddr> = resolved
            .iter()
            .copied()
            .filter(|a| !is_internal(a.ip()))
            .collect();
        if public.is_empty() {
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} resolves only to internal addresses, which webhooks may not target \
                     (LLMLAB_WEBHOOK_ALLOW_PRIVATE)",
                    uri.host().unwrap_or_default()
                ),
            )));
        }
        let mut kept = self.empty();
        for address in public {
            kept.push(address);
        }
        Ok(kept)
    }
}
