//! NTS in the daemon's [`Settings`](crate::settings::Settings): ntp.conf's `nts …`
//! lines and `server … nts` options lowered to what
//! [`KeServer`](crate::server::nts::KeServer), [`KeyStore`](crate::server::nts::KeyStore)
//! and [`KeClient`](crate::server::nts::KeClient) take.

use std::path::PathBuf;
use std::time::Duration;

use slew_core::nts::ke_msg::KE_PORT;

use crate::config::{Config, Host};

/// Default rotation period: daily (the default; chrony rotates hourly).
pub const DEFAULT_ROTATION: Duration = Duration::from_secs(24 * 3600);

/// Time allowed for each stage of one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeTimeouts {
    /// TCP connect, per address tried.
    pub connect: Duration,
    /// TLS handshake.
    pub handshake: Duration,
    /// Sending the request and reading the whole response.
    pub response: Duration,
}

impl Default for KeTimeouts {
    fn default() -> Self {
        KeTimeouts {
            connect: Duration::from_secs(5),
            handshake: Duration::from_secs(5),
            response: Duration::from_secs(5),
        }
    }
}

/// One NTS-KE to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeRequest {
    /// The KE server's name (verified against its certificate) or address.
    pub host: String,
    /// Its NTS-KE port (default [`KE_PORT`]).
    pub port: u16,
    /// Connect to this address instead of resolving `host` (a `pool … nts` member:
    /// the certificate is still checked against `host`, the name the admin wrote,
    /// as ntpsec does).
    pub addr: Option<std::net::IpAddr>,
    /// A PEM file of CAs to trust instead of the system store (`ca FILE`).
    pub ca_file: Option<PathBuf>,
    /// Stage timeouts.
    pub timeouts: KeTimeouts,
}

impl KeRequest {
    /// Port 4460, the system store, default timeouts.
    pub fn new(host: &str) -> Self {
        KeRequest {
            host: host.to_string(),
            port: KE_PORT,
            addr: None,
            ca_file: None,
            timeouts: KeTimeouts::default(),
        }
    }
}

/// Where the cookie master keys are kept without `nts cookie FILE`.
pub const DEFAULT_KEY_FILE: &str = "/var/lib/slew/nts-keys";

/// The NTS-KE server, when `nts enable` (with `cert` and `key`, which the parser
/// checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtsServerSettings {
    /// `nts cert FILE`.
    pub cert: PathBuf,
    /// `nts key FILE`.
    pub key: PathBuf,
    /// `nts cookie FILE`, or [`DEFAULT_KEY_FILE`].
    pub key_file: PathBuf,
    /// Master-key rotation period.
    pub rotation: std::time::Duration,
    /// The NTS-KE port (4460).
    pub port: u16,
}

/// One `server/pool … nts` line. A pool's members each run their own NTS-KE
/// with the pool's name (ntpsec's way; see `daemon/nts.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtsSource {
    /// Its index in `Settings::sources` (the same order as the file).
    pub source: usize,
    /// The NTS-KE to run for it: host, `port N` (default 4460), `ca FILE` (or
    /// `nts ca FILE`, else the system store).
    pub ke: KeRequest,
}

/// Everything NTS the daemon acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NtsSettings {
    /// The NTS-KE server, if enabled.
    pub server: Option<NtsServerSettings>,
    /// The NTS sources.
    pub sources: Vec<NtsSource>,
}

/// Lowers the NTS parts of `config`.
pub fn settings_from(config: &Config) -> NtsSettings {
    let n = &config.nts;
    let server = match (&n.enabled, &n.cert, &n.key) {
        (Some(on), Some(cert), Some(key)) if on.value => Some(NtsServerSettings {
            cert: cert.value.clone(),
            key: key.value.clone(),
            key_file: n
                .cookie
                .as_ref()
                .map_or_else(|| PathBuf::from(DEFAULT_KEY_FILE), |c| c.value.clone()),
            rotation: DEFAULT_ROTATION,
            port: KE_PORT,
        }),
        _ => None,
    };
    let default_ca = n.ca.as_ref().map(|c| c.value.clone());
    let sources = config
        .sources
        .iter()
        .enumerate()
        .filter(|(_, s)| s.options.nts)
        .map(|(i, s)| NtsSource {
            source: i,
            ke: KeRequest {
                host: match &s.host {
                    Host::Ip(ip) => ip.to_string(),
                    Host::Name(name) => name.clone(),
                },
                port: s.options.nts_port.unwrap_or(KE_PORT),
                // A pool member's address is set per association (daemon/nts.rs).
                addr: None,
                ca_file: s.options.ca.clone().or_else(|| default_ca.clone()),
                timeouts: KeTimeouts::default(),
            },
        })
        .collect();
    NtsSettings { server, sources }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;
    use std::path::Path;

    #[test]
    fn lowered_with_defaults_and_the_global_ca() {
        let c = parse_str(
            "nts enable cert c.pem key k.pem\nnts ca /ca.pem\nserver 192.0.2.1\n\
             server ke.example nts port 4461\nserver 192.0.2.2 nts ca /own.pem\n",
            Path::new("/etc/ntp.conf"),
        )
        .unwrap()
        .config;
        let n = settings_from(&c);
        let s = n.server.unwrap();
        assert_eq!((s.cert, s.key), ("/etc/c.pem".into(), "/etc/k.pem".into()));
        assert_eq!(s.key_file, Path::new(DEFAULT_KEY_FILE));
        assert_eq!(n.sources.len(), 2);
        assert_eq!(n.sources[0].source, 1);
        assert_eq!(
            (n.sources[0].ke.host.as_str(), n.sources[0].ke.port),
            ("ke.example", 4461)
        );
        assert_eq!(
            n.sources[0].ke.ca_file.as_deref(),
            Some(Path::new("/ca.pem"))
        );
        assert_eq!(
            (n.sources[1].ke.host.as_str(), n.sources[1].ke.port),
            ("192.0.2.2", 4460)
        );
        assert_eq!(
            n.sources[1].ke.ca_file.as_deref(),
            Some(Path::new("/own.pem"))
        );
        // A pool line is an NTS source too: its KE request names the pool (each
        // member's address is set by the daemon), its port and CA as written.
        let p = parse_str(
            "pool pool.example nts port 4470 ca /p.pem\n",
            Path::new("/etc/ntp.conf"),
        )
        .unwrap()
        .config;
        let n = settings_from(&p);
        assert_eq!(n.sources.len(), 1);
        let ke = &n.sources[0].ke;
        assert_eq!(
            (ke.host.as_str(), ke.port, ke.addr),
            ("pool.example", 4470, None)
        );
        assert_eq!(ke.ca_file.as_deref(), Some(Path::new("/p.pem")));
    }
}
