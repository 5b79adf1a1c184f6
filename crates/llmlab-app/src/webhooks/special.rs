//! The one table of addresses a receiver may not have: the IANA IPv4 and IPv6
//! Special-Purpose Address Registries (as of 2025), multicast, and the deprecated IPv6
//! blocks, judged when a URL is saved and again when a delivery connects.
//!
//! Every block of the registries is refused, including the few the registry marks
//! globally reachable (the PCP, TURN and DNS-SD anycast addresses, AS112, AMT, ORCHIDv2,
//! drone remote ID): none of them is a webhook receiver, and a shorter table with no
//! exceptions is one a reviewer can check against the registry line by line. Addresses
//! that carry an IPv4 address inside (IPv4-mapped, the NAT64 well-known prefix, 6to4,
//! Teredo) are judged by the IPv4 address they embed, since that is where a translator
//! or relay would connect.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 special-purpose blocks (RFC 6890 and its updates) and multicast.
const V4: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "\"this network\" (RFC 791)"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private-use (RFC 1918)"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "shared address space (RFC 6598)",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback (RFC 1122)"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local (RFC 3927)"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private-use (RFC 1918)"),
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        "IETF protocol assignments (RFC 6890)",
    ),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        "documentation, TEST-NET-1 (RFC 5737)",
    ),
    (Ipv4Addr::new(192, 31, 196, 0), 24, "AS112-v4 (RFC 7535)"),
    (Ipv4Addr::new(192, 52, 193, 0), 24, "AMT (RFC 7450)"),
    (
        Ipv4Addr::new(192, 88, 99, 0),
        24,
        "deprecated 6to4 relay anycast (RFC 7526)",
    ),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private-use (RFC 1918)"),
    (
        Ipv4Addr::new(192, 175, 48, 0),
        24,
        "AS112 direct delegation (RFC 7534)",
    ),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking (RFC 2544)"),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        "documentation, TEST-NET-2 (RFC 5737)",
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        "documentation, TEST-NET-3 (RFC 5737)",
    ),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast (RFC 5771)"),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        "reserved (RFC 1112), broadcast (RFC 919)",
    ),
];

/// IPv6 special-purpose blocks (RFC 6890 and its updates), multicast, and the
/// deprecated site-local and IPv4-compatible blocks. The blocks that embed an IPv4
/// address are in [`embedded_v4`], not here.
const V6: &[(Ipv6Addr, u8, &str)] = &[
    (
        Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0),
        96,
        "unspecified, loopback and deprecated IPv4-compatible (RFC 4291)",
    ),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "local-use IPv4/IPv6 translation (RFC 8215)",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "discard-only (RFC 6666)",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0),
        64,
        "dummy IPv6 prefix (RFC 9780)",
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        "IETF protocol assignments (RFC 2928)",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "documentation (RFC 3849)",
    ),
    (
        Ipv6Addr::new(0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0),
        48,
        "AS112 direct delegation (RFC 7534)",
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "documentation (RFC 9637)",
    ),
    (
        Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0),
        16,
        "segment routing SIDs (RFC 9602)",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "unique-local (RFC 4193)",
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        "link-local (RFC 4291)",
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        "deprecated site-local (RFC 3879)",
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        "multicast (RFC 4291)",
    ),
];

/// Why `ip` may not be a receiver (the block it is in), or `None` for a public address.
pub fn special_purpose(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            V4.iter()
                .find(|(net, len, _)| prefix_v4(bits, *len) == prefix_v4(u32::from(*net), *len))
                .map(|(_, _, why)| *why)
        }
        IpAddr::V6(v6) => {
            // Embedded first: 2001::/32 (Teredo) lies inside 2001::/23.
            if let Some(inner) = embedded_v4(v6) {
                return inner.iter().find_map(|v4| special_purpose(IpAddr::V4(*v4)));
            }
            let bits = u128::from(v6);
            V6.iter()
                .find(|(net, len, _)| prefix_v6(bits, *len) == prefix_v6(u128::from(*net), *len))
                .map(|(_, _, why)| *why)
        }
    }
}

/// The IPv4 addresses an IPv6 address stands for, when it is one of the forms that
/// carry one: IPv4-mapped (`::ffff:0:0/96`) and SIIT's IPv4-translated
/// (`::ffff:0:0:0/96`), the NAT64 well-known prefix (`64:ff9b::/96`, RFC 6052), 6to4
/// (`2002::/16`, RFC 3056: the relay's address in bits 16–47) and Teredo (`2001::/32`,
/// RFC 4380: the server in bits 32–63 and the client, inverted, in the last 32; both
/// must be public).
fn embedded_v4(v6: Ipv6Addr) -> Option<Vec<Ipv4Addr>> {
    let bits = u128::from(v6);
    let low32 = Ipv4Addr::from(bits as u32);
    let s = v6.segments();
    if prefix_v6(bits, 96) == 0xffff || prefix_v6(bits, 96) == 0xffff << 16 {
        return Some(vec![low32]);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(vec![low32]);
    }
    if s[0] == 0x2002 {
        return Some(vec![Ipv4Addr::from((bits >> 80) as u32)]);
    }
    if s[0] == 0x2001 && s[1] == 0 {
        let server = Ipv4Addr::from((bits >> 64) as u32);
        let client = Ipv4Addr::from(!(bits as u32));
        return Some(vec![server, client]);
    }
    None
}

fn prefix_v4(bits: u32, len: u8) -> u32 {
    bits.checked_shr(32 - u32::from(len)).unwrap_or(0)
}

fn prefix_v6(bits: u128, len: u8) -> u128 {
    bits.checked_shr(128 - u32::from(len)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(ip: &str) -> Option<&'static str> {
        special_purpose(ip.parse().expect("an address"))
    }

    #[test]
    fn every_ipv4_block_is_refused_at_both_ends() {
        for (net, len, reason) in V4 {
            let first = u32::from(*net);
            let last = first | (u32::MAX.checked_shr(u32::from(*len)).unwrap_or(0));
            assert_eq!(why(&Ipv4Addr::from(first).to_string()), Some(*reason));
            assert_eq!(why(&Ipv4Addr::from(last).to_string()), Some(*reason));
            // Just outside the block is judged by another entry or is public.
            if let Some(after) = last.checked_add(1) {
                assert_ne!(
                    why(&Ipv4Addr::from(after).to_string()),
                    Some(*reason),
                    "{net}/{len}"
                );
            }
        }
    }

    #[test]
    fn every_ipv6_block_is_refused_at_both_ends() {
        for (net, len, reason) in V6 {
            let first = u128::from(*net);
            let last = first | (u128::MAX.checked_shr(u32::from(*len)).unwrap_or(0));
            for end in [first, last] {
                let ip = Ipv6Addr::from(end);
                // The embedded forms inside a block are judged by their IPv4 address.
                if embedded_v4(ip).is_none() {
                    assert_eq!(special_purpose(IpAddr::V6(ip)), Some(*reason), "{ip}");
                }
            }
        }
    }

    #[test]
    fn addresses_are_judged_by_the_ipv4_address_they_embed() {
        for internal in [
            "::ffff:127.0.0.1",
            "::ffff:0:a9fe:a9fe",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            // Teredo: client 127.0.0.1 (inverted 80ff:fffe), public server.
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            // Teredo: public client, server in 10/8.
            "2001:0:a00:1::f7f7:f7f7",
        ] {
            assert!(why(internal).is_some(), "{internal} is internal");
        }
        for public in [
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        ] {
            assert_eq!(why(public), None, "{public} is public");
        }
    }

    #[test]
    fn the_first_round_of_addresses_seen_and_public_ones() {
        for internal in [
            "::127.0.0.1",
            "::",
            "::1",
            "64:ff9b:1::a00:1",
            "fec0::1",
            "198.18.0.1",
            "198.19.255.255",
            "255.255.255.255",
            "0.1.2.3",
        ] {
            assert!(why(internal).is_some(), "{internal} is internal");
        }
        for public in [
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "198.20.0.1",
            "2606:4700::1111",
            "2001:4860:4860::8888",
        ] {
            assert_eq!(why(public), None, "{public} is public");
        }
    }
}
