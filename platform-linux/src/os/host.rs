//! The OS's answers to [`HostLookup`]: `getifaddrs` for interface names, the system
//! resolver for names. Both block; the daemon calls them when it loads or reloads
//! its settings, on the reload thread.

use std::io;
use std::net::{IpAddr, ToSocketAddrs};

use crate::settings::HostLookup;

/// This machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemHost;

impl HostLookup for SystemHost {
    fn interface_addrs(&self, name: &str) -> Vec<IpAddr> {
        let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
            return Vec::new();
        };
        addrs
            .filter(|a| a.interface_name == name)
            .filter_map(|a| a.address)
            .filter_map(|s| {
                if let Some(v4) = s.as_sockaddr_in() {
                    Some(IpAddr::V4(v4.ip()))
                } else {
                    s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
                }
            })
            .collect()
    }

    fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        Ok((name, 0u16).to_socket_addrs()?.map(|a| a.ip()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_found_by_name_and_localhost_resolves() {
        let lo = SystemHost.interface_addrs("lo");
        assert!(lo.contains(&IpAddr::from([127, 0, 0, 1])), "{lo:?}");
        assert!(SystemHost.interface_addrs("no-such-if0").is_empty());
        let l = SystemHost.resolve("localhost").unwrap();
        assert!(l.iter().all(|a| a.is_loopback()) && !l.is_empty(), "{l:?}");
        assert!(SystemHost.resolve("no-such-host.invalid").is_err());
    }
}
