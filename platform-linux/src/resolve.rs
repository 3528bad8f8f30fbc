//! Turning configured sources into addresses: numeric addresses as they are, DNS
//! names through the system resolver (getaddrinfo, so /etc/hosts and nsswitch apply),
//! `pool` names into several servers.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::config::{AddressFamily, Host, SourceKind};
use crate::settings::SourceSpec;

/// Servers taken from one `pool` name (chrony's `maxsources` default, ntpd's pool
/// takes as many as `tos maxclock` allows; four is plenty for a fleet).
pub const POOL_MAX: usize = 4;

/// The addresses `spec` stands for now: one for `server`, up to [`POOL_MAX`]
/// distinct ones for `pool`.
pub fn resolve(spec: &SourceSpec) -> Result<Vec<SocketAddr>, String> {
    let all: Vec<SocketAddr> = match &spec.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, spec.port)],
        Host::Name(name) => (name.as_str(), spec.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {name}: {e}"))?
            .collect(),
    };
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in all {
        let family_ok = match spec.family {
            Some(AddressFamily::V4) => a.is_ipv4(),
            Some(AddressFamily::V6) => a.is_ipv6(),
            None => true,
        };
        if family_ok && !out.contains(&a) {
            out.push(a);
        }
    }
    let want = if spec.kind == SourceKind::Pool {
        POOL_MAX
    } else {
        1
    };
    out.truncate(want);
    if out.is_empty() {
        return Err(format!("{} has no usable address", spec.display_name()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Location;
    use slew_core::peer::SourceConfig;

    fn spec(host: Host, kind: SourceKind, family: Option<AddressFamily>) -> SourceSpec {
        SourceSpec {
            kind,
            host,
            port: 12300,
            family,
            options: SourceConfig::new("0.0.0.0:0".parse().unwrap()),
            at: Location::new("t", 1, 1),
        }
    }

    #[test]
    fn numeric_and_names() {
        let ip = spec(
            Host::Ip("127.0.0.1".parse().unwrap()),
            SourceKind::Server,
            None,
        );
        assert_eq!(
            resolve(&ip).unwrap(),
            vec!["127.0.0.1:12300".parse().unwrap()]
        );
        let local = spec(
            Host::Name("localhost".into()),
            SourceKind::Server,
            Some(AddressFamily::V4),
        );
        assert_eq!(
            resolve(&local).unwrap(),
            vec!["127.0.0.1:12300".parse().unwrap()]
        );
        let bad = spec(
            Host::Name("no-such-host.invalid".into()),
            SourceKind::Pool,
            None,
        );
        assert!(resolve(&bad).unwrap_err().contains("no-such-host.invalid"));
    }
}
