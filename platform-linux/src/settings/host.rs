//! What lowering needs to know about the host, asked through [`HostLookup`]: the
//! settings pass itself never calls DNS or `getifaddrs`, so it is pure and its tests
//! are deterministic. The daemon hands in the OS's answers
//! ([`crate::os::host::SystemHost`]), on the reload thread, off the poll loop.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host facts the settings need: interface addresses (`interface listen NAME`)
/// and names (`restrict HOST`).
pub trait HostLookup {
    /// The addresses of interface `name`; empty when there is no such interface.
    fn interface_addrs(&self, name: &str) -> Vec<IpAddr>;
    /// The addresses `name` resolves to.
    fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>>;
}

/// A host described by tables: for tests, and for tools that lower a file without
/// looking at the machine.
#[derive(Debug, Clone, Default)]
pub struct FixedHost {
    /// Interface name to its addresses.
    pub interfaces: HashMap<String, Vec<IpAddr>>,
    /// Name to its addresses; a name not here does not resolve.
    pub names: HashMap<String, Vec<IpAddr>>,
}

impl FixedHost {
    /// A host with `lo` (127.0.0.1, ::1) and the name `localhost` for both.
    pub fn loopback() -> Self {
        let lo = vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
        FixedHost {
            interfaces: HashMap::from([("lo".to_string(), lo.clone())]),
            names: HashMap::from([("localhost".to_string(), lo)]),
        }
    }
}

impl HostLookup for FixedHost {
    fn interface_addrs(&self, name: &str) -> Vec<IpAddr> {
        self.interfaces.get(name).cloned().unwrap_or_default()
    }
    fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        self.names
            .get(name)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such name"))
    }
}
