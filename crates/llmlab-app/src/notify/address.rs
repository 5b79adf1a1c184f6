//! Which addresses an email channel may send to: a mailbox at a public domain name.
//!
//! Anyone can sign up and create a channel, and the server sends from the operator's own
//! SMTP account, so a recipient is refused when it names the server's own network or no
//! network at all: an IP literal (`x@[127.0.0.1]`, `x@[IPv6:::1]`, and the dotted or
//! numeric forms a resolver reads as an address, `x@127.0.0.1`, `x@0x7f.1`), a single-label
//! host (`x@intranet`, which a relay resolves in its own search domains), and the names
//! reserved for no public use: `localhost` (RFC 6761), `local` (mDNS, RFC 6762),
//! `home.arpa` and every other `arpa` name (RFC 8375; `in-addr.arpa` names are addresses),
//! `test`, `invalid` and `example` (RFC 6761), `onion` (RFC 7686), `alt` (RFC 9476), and the
//! private suffixes RFC 6762 (appendix G) lists as seen in use: `intranet`, `internal`,
//! `private`, `corp`, `home`, `lan`, besides `localdomain`. Names are compared after IDNA
//! mapping (`ｌｏｃａｌｈｏｓｔ` is `localhost`) and without case; a trailing dot is no address at
//! all.

use url::Host;

use super::email::valid_address;

/// Longest address: RFC 5321's limit on a path, less its angle brackets.
pub const MAX_LEN: usize = 254;

/// Top-level names that never reach a public mailbox.
const RESERVED: [&str; 16] = [
    "localhost",
    "local",
    "arpa",
    "test",
    "invalid",
    "example",
    "onion",
    "alt",
    "internal",
    "intranet",
    "private",
    "corp",
    "home",
    "lan",
    "localdomain",
    "localnet",
];

/// Why `address` may not receive a channel's email, for a person; `None` when it may.
pub fn refused(address: &str) -> Option<String> {
    if !valid_address(address) || address.contains(',') {
        return Some(format!("{address:?} is not an email address"));
    }
    if address.len() > MAX_LEN {
        return Some(format!("{address:?} is longer than {MAX_LEN} bytes"));
    }
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    if domain.starts_with('[') {
        return Some(format!(
            "{address:?} names an IP address; use a public domain name"
        ));
    }
    let name = match Host::parse(domain) {
        Ok(Host::Domain(name)) => name,
        Ok(Host::Ipv4(_) | Host::Ipv6(_)) => {
            return Some(format!(
                "{address:?} names an IP address; use a public domain name"
            ));
        }
        Err(_) => return Some(format!("{address:?} does not name a valid domain")),
    };
    let labels: Vec<&str> = name.split('.').collect();
    let top = labels.last().copied().unwrap_or_default();
    if labels.len() < 2 {
        return Some(format!(
            "{address:?} names a single-label host, which only an internal network resolves"
        ));
    }
    if top.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!(
            "{address:?} names an IP address; use a public domain name"
        ));
    }
    if RESERVED.contains(&top) {
        return Some(format!(
            "{address:?} is at a reserved or internal domain (.{top}), not a public mailbox"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::refused;

    #[test]
    fn public_mailboxes_pass_and_internal_ones_are_refused() {
        for ok in [
            "ops@example.com",
            "first.last+tag@sub.example.co.uk",
            "ü@bücher.de",
            "x@localhost.example.com",
            "x@xn--bcher-kva.de",
        ] {
            assert_eq!(refused(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("x@[127.0.0.1]", "IP address"),
            ("x@[IPv6:::1]", "IP address"),
            ("x@127.0.0.1", "IP address"),
            ("x@2130706433", "IP address"),
            ("x@0x7f.1", "IP address"),
            ("x@1.2.3.4.", "not an email address"),
            ("x@localhost", "single-label"),
            ("x@ｌｏｃａｌｈｏｓｔ", "single-label"),
            ("x@ｌｏｃａｌｈｏｓｔ.ｌａｎ", ".lan"),
            ("x@a.LOCALHOST", ".localhost"),
            ("x@printer.local", ".local"),
            ("x@router.home.arpa", ".arpa"),
            ("x@4.3.2.1.in-addr.arpa", ".arpa"),
            ("x@svc.cluster.internal", ".internal"),
            ("x@a.test", ".test"),
            ("x@a.invalid", ".invalid"),
            ("x@a.example", ".example"),
            ("x@a.onion", ".onion"),
            ("x@a.lan", ".lan"),
            ("not an address", "not an email address"),
            ("a@b.com,c@d.com", "not an email address"),
        ] {
            let why = refused(bad).unwrap_or_else(|| panic!("{bad} was accepted"));
            assert!(why.contains(says), "{bad}: {why}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(refused(&long).is_some());
    }
}
