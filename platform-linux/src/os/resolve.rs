//! Turning configured sources into addresses: numeric addresses as they are, DNS
//! names through the system resolver (getaddrinfo, so /etc/hosts and nsswitch apply),
//! `pool` names into several servers.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use crate::config::{AddressFamily, Host, SourceKind};
use crate::os::mailbox::Mailbox;
use crate::settings::SourceSpec;

/// Servers taken from one `pool` name (chrony's `maxsources` default, ntpd's pool
/// takes as many as `tos maxclock` allows; four is plenty for a fleet).
pub const POOL_MAX: usize = 4;

/// Why a configured source gave no address to poll.
#[derive(Debug)]
pub enum ResolveError {
    /// The resolver failed: no such name, no DNS server answering.
    Lookup {
        /// The name as configured.
        name: String,
        /// What getaddrinfo said.
        error: io::Error,
    },
    /// The name resolved, but to no address of the family the line asks for.
    NoUsableAddress {
        /// The line's name, with its port when it is not 123.
        name: String,
    },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lookup { name, error } => write!(f, "cannot resolve {name}: {error}"),
            Self::NoUsableAddress { name } => write!(f, "{name} has no usable address"),
        }
    }
}

impl std::error::Error for ResolveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Lookup { error, .. } => Some(error),
            Self::NoUsableAddress { .. } => None,
        }
    }
}

/// The addresses `spec` stands for now: one for `server`, up to [`POOL_MAX`]
/// distinct ones for `pool`.
pub fn resolve(spec: &SourceSpec) -> Result<Vec<SocketAddr>, ResolveError> {
    let all: Vec<SocketAddr> = match &spec.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, spec.port)],
        Host::Name(name) => (name.as_str(), spec.port)
            .to_socket_addrs()
            .map_err(|error| ResolveError::Lookup {
                name: name.clone(),
                error,
            })?
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
        return Err(ResolveError::NoUsableAddress {
            name: spec.display_name(),
        });
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
        let e = resolve(&bad).unwrap_err();
        assert!(
            matches!(&e, ResolveError::Lookup { name, .. } if name == "no-such-host.invalid"),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("cannot resolve no-such-host.invalid: "),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_some());
        // ::1 only, asked for IPv4: resolved, nothing usable.
        let v6_only = spec(
            Host::Ip("::1".parse().unwrap()),
            SourceKind::Server,
            Some(AddressFamily::V4),
        );
        let e = resolve(&v6_only).unwrap_err();
        assert!(matches!(e, ResolveError::NoUsableAddress { .. }), "{e:?}");
        assert_eq!(e.to_string(), "::1 port 12300 has no usable address");
    }
}

/// Name lookups off the main loop: getaddrinfo can block for many seconds when the
/// resolver is unreachable, and the loop must keep answering clients meanwhile (ntpd
/// runs its lookups in a separate child for the same reason). One worker thread,
/// started on the first request; the loop collects results with
/// [`Resolver::take_results`] when [`Resolver::poll_fd`] wakes it.
#[derive(Debug, Default)]
pub struct Resolver {
    requests: Option<std::sync::mpsc::Sender<Request>>,
    results: Mailbox<Answer>,
    pending: Vec<usize>,
}

/// A lookup to make: the configuration line's index and what it says.
type Request = (usize, SourceSpec);
/// Its outcome.
pub type Answer = (usize, Result<Vec<SocketAddr>, ResolveError>);

impl Resolver {
    /// Asks for configuration line `index` to be resolved, unless it already is
    /// being. Returns false if the worker could not be started.
    pub fn request(&mut self, index: usize, spec: &SourceSpec) -> bool {
        if self.pending.contains(&index) {
            return true;
        }
        if self.requests.is_none() {
            let (req_tx, req_rx) = std::sync::mpsc::channel::<Request>();
            let answers = self.results.poster();
            let spawned = std::thread::Builder::new()
                .name("slewd-resolver".into())
                .spawn(move || {
                    for (index, spec) in req_rx {
                        if !answers.post((index, resolve(&spec))) {
                            break;
                        }
                    }
                });
            if spawned.is_err() {
                return false;
            }
            self.requests = Some(req_tx);
        }
        let sent = self
            .requests
            .as_ref()
            .is_some_and(|tx| tx.send((index, spec.clone())).is_ok());
        if sent {
            self.pending.push(index);
        }
        sent
    }

    /// True while a lookup for line `index` is under way.
    pub fn is_pending(&self, index: usize) -> bool {
        self.pending.contains(&index)
    }

    /// Readable when a lookup finished: poll it, then call
    /// [`take_results`](Self::take_results).
    pub fn poll_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.results.poll_fd()
    }

    /// The lookups finished since the last call.
    pub fn take_results(&mut self) -> Vec<Answer> {
        let done: Vec<Answer> = self.results.drain();
        self.pending.retain(|i| !done.iter().any(|(d, _)| d == i));
        done
    }
}

#[cfg(test)]
mod resolver_tests {
    use super::*;
    use crate::config::Location;
    use slew_core::peer::SourceConfig;

    #[test]
    fn lookups_run_off_the_calling_thread_and_come_back() {
        let spec = SourceSpec {
            kind: SourceKind::Server,
            host: Host::Name("localhost".into()),
            port: 123,
            family: Some(AddressFamily::V4),
            options: SourceConfig::new("0.0.0.0:0".parse().unwrap()),
            at: Location::new("t", 1, 1),
        };
        let mut r = Resolver::default();
        assert!(r.request(3, &spec));
        assert!(
            r.request(3, &spec),
            "a second request for the same line is merged"
        );
        assert!(r.is_pending(3));
        let mut got = Vec::new();
        for _ in 0..200 {
            got.extend(r.take_results());
            if !got.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 3);
        assert_eq!(
            got[0].1.as_ref().unwrap(),
            &vec!["127.0.0.1:123".parse::<SocketAddr>().unwrap()]
        );
        assert!(!r.is_pending(3));
    }
}
