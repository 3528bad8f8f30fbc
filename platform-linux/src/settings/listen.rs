//! ntp.conf's `interface` rules: which addresses slewd serves on.
//!
//! slewd binds wildcard sockets (one IPv4, one IPv6) by default, where ntpd binds one
//! socket per address; the rules an admin writes map onto that as follows, in file
//! order:
//!
//! | rule | effect |
//! |---|---|
//! | `interface listen ADDR` / `… listen NAME` | also serve on that address / every address of that interface, port 123 |
//! | `interface listen all`/`wildcard`/`ipv4`/`ipv6` | serve on the wildcard of those families |
//! | `interface ignore`/`drop wildcard`/`all`/`ipv4`/`ipv6` | stop serving on those wildcards (and specific addresses of those families) |
//! | `interface ignore`/`drop ADDR`/`NAME` while a wildcard of its family is still served | refused: a wildcard socket cannot leave one address out; write `interface ignore wildcard` and list what to serve |
//!
//! `--listen` on the command line replaces all of this. Interface names are looked up
//! through the [`HostLookup`] the caller hands in (the OS's, [`crate::os::host`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::HostLookup;
use crate::config::{InterfaceAction, InterfaceMatch, InterfaceRule, Location};

/// The NTP port.
const NTP_PORT: u16 = 123;

const V4_ANY: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), NTP_PORT);
const V6_ANY: SocketAddr = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), NTP_PORT);

fn family_matches(m: &InterfaceMatch, addr: &SocketAddr) -> bool {
    match m {
        InterfaceMatch::All => true,
        InterfaceMatch::Wildcard => addr.ip().is_unspecified(),
        InterfaceMatch::Ipv4 => addr.is_ipv4(),
        InterfaceMatch::Ipv6 => addr.is_ipv6(),
        _ => false,
    }
}

/// Applies the rules to the default wildcards; `Err` lists the rules that cannot be
/// honoured, with where they are.
pub fn listen_addrs(
    rules: &[InterfaceRule],
    host: &dyn HostLookup,
) -> Result<Vec<SocketAddr>, Vec<(Location, String)>> {
    let mut out = vec![V4_ANY, V6_ANY];
    let mut errors = Vec::new();
    for rule in rules {
        let specific: Option<Vec<IpAddr>> = match &rule.matches {
            InterfaceMatch::Prefix { addr, len: None } => Some(vec![*addr]),
            InterfaceMatch::Prefix { len: Some(_), .. } => {
                errors.push((
                    rule.at.clone(),
                    "`interface` with an address prefix; name the addresses one by one".into(),
                ));
                continue;
            }
            InterfaceMatch::Name(name) => {
                let found = host.interface_addrs(name);
                if found.is_empty() {
                    errors.push((
                        rule.at.clone(),
                        format!("`interface … {name}`: no such interface, or it has no address"),
                    ));
                    continue;
                }
                Some(found)
            }
            _ => None,
        };
        match (rule.action, specific) {
            (InterfaceAction::Listen, Some(ips)) => {
                for ip in ips {
                    let a = SocketAddr::new(ip, NTP_PORT);
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
            }
            (InterfaceAction::Listen, None) => {
                for any in [V4_ANY, V6_ANY] {
                    if family_matches(&rule.matches, &any) && !out.contains(&any) {
                        out.push(any);
                    }
                }
            }
            (InterfaceAction::Ignore | InterfaceAction::Drop, Some(ips)) => {
                for ip in ips {
                    let wildcard_kept = out
                        .iter()
                        .any(|a| a.ip().is_unspecified() && a.is_ipv4() == ip.is_ipv4());
                    if wildcard_kept {
                        errors.push((
                            rule.at.clone(),
                            format!("`interface ignore {ip}` while the wildcard is served; add `interface ignore wildcard` before it and list the addresses to serve"),
                        ));
                    }
                    out.retain(|a| a.ip() != ip);
                }
            }
            (InterfaceAction::Ignore | InterfaceAction::Drop, None) => {
                out.retain(|a| !family_matches(&rule.matches, a));
            }
        }
    }
    if out.is_empty() && errors.is_empty() {
        if let Some(last) = rules.last() {
            errors.push((
                last.at.clone(),
                "the `interface` rules leave no address to serve on".into(),
            ));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<InterfaceRule> {
        crate::config::test_config(text).interfaces
    }

    /// `lo` with 127.0.0.1 and ::1; no other interface.
    fn listen_addrs(rules: &[InterfaceRule]) -> Result<Vec<SocketAddr>, Vec<(Location, String)>> {
        super::listen_addrs(rules, &crate::settings::FixedHost::loopback())
    }

    #[test]
    fn default_is_both_wildcards() {
        assert_eq!(listen_addrs(&[]).unwrap(), vec![V4_ANY, V6_ANY]);
    }

    #[test]
    fn ignore_wildcard_then_listen_on_addresses() {
        let got = listen_addrs(&rules(
            "interface ignore wildcard\ninterface listen 127.0.0.1\ninterface listen ::1\n",
        ))
        .unwrap();
        assert_eq!(
            got,
            vec![
                "127.0.0.1:123".parse().unwrap(),
                "[::1]:123".parse().unwrap()
            ]
        );
    }

    #[test]
    fn ignore_ipv6_and_listen_by_interface_name() {
        let got = listen_addrs(&rules("interface ignore ipv6\ninterface listen lo\n")).unwrap();
        assert!(got.contains(&V4_ANY));
        assert!(!got.contains(&V6_ANY));
        assert!(got.contains(&"127.0.0.1:123".parse().unwrap()), "{got:?}");
    }

    #[test]
    fn what_a_wildcard_cannot_do_is_refused_at_its_line() {
        let e =
            listen_addrs(&rules("server 127.127.1.0\ninterface ignore 10.0.0.1\n")).unwrap_err();
        assert_eq!(e[0].0.line, 2);
        assert!(e[0].1.contains("ignore wildcard"), "{}", e[0].1);
        let e = listen_addrs(&rules("interface listen no-such-if0\n")).unwrap_err();
        assert!(e[0].1.contains("no such interface"));
        let e = listen_addrs(&rules("interface ignore all\n")).unwrap_err();
        assert!(e[0].1.contains("no address"));
    }
}
