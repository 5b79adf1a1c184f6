//! Which receivers a webhook may target: public addresses only, checked when a budget is
//! saved ([`check_target`]) and again when a delivery connects ([`PublicOnly`]).

use std::net::{IpAddr, SocketAddr};

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

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
/// Names that resolve inside are refused at delivery by [`PublicOnly`].
pub fn check_target(url: &str, allow_private: bool) -> Result<(), String> {
    let must = || "must be an http(s) URL".to_string();
    let uri: ureq::http::Uri = url.parse().map_err(|_| must())?;
    let host = match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => host,
        _ => return Err(must()),
    };
    if allow_private {
        return Ok(());
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
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
