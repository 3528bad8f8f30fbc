//! From ntp.conf's `restrict`, `discard`, `keys` and `trustedkey` to [`Hardening`]:
//! the plain, comparable description carried in the daemon's settings. The server
//! builds its tables from it ([`crate::server::guard::Guard`]).
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use slew_core::access::{AccessFlags, Family};
use slew_core::auth::{MacAlgorithm, SymmetricKey};
use slew_core::ratelimit::DiscardParams;

use crate::config::{
    AddressFamily, Config, KeyType, Location, RestrictFlag, RestrictFlags, RestrictTarget,
};

/// Most `restrict` entries (after `default` without `-4`/`-6` became two).
pub const MAX_RESTRICTS: usize = 512;
/// Most keys in the keys file.
pub const MAX_KEYS: usize = 1024;

/// One resolved restrict entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRule {
    /// The address (host bits are cleared by the table).
    pub addr: IpAddr,
    /// The mask, same family.
    pub mask: IpAddr,
    /// `ntpport`: only packets from source port 123.
    pub ntp_port_only: bool,
    /// The flags.
    pub flags: AccessFlags,
}

/// What the daemon enforces, distilled from the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Hardening {
    /// `restrict` lines, resolved, `default` split per family.
    pub rules: Vec<AccessRule>,
    /// `restrict source` flags, for associations the discipline mobilises.
    pub source_flags: Option<AccessFlags>,
    /// `discard average/minimum` (ntpd's defaults where not given).
    pub discard: DiscardParams,
    /// The keys file, each key marked trusted when `trustedkey` names it.
    pub keys: Vec<SymmetricKey>,
    /// `controlkey`: the key mode 6 writes must be signed with.
    pub control_key: Option<u32>,
    /// `requestkey` (mode 7, never answered: carried so the line is not an error).
    pub request_key: Option<u32>,
    /// `enable monitor` (ntpd's default) or `disable monitor`: whether the monitor
    /// list (`ntpq -c mrulist`) records every client or only `limited` ones.
    pub monitor: bool,
    /// `restrict HOSTNAME` lines that did not resolve at start: skipped, as ntpd
    /// skips them, and logged so the admin sees it (a dead DNS server at boot must
    /// not keep a time server from starting).
    pub unresolved: Vec<String>,
}

impl Hardening {
    /// Whether a `restrict default` line covers `family`.
    pub fn has_default(&self, family: Family) -> bool {
        self.rules.iter().any(|r| {
            let fam = if r.addr.is_ipv4() {
                Family::V4
            } else {
                Family::V6
            };
            fam == family && is_zero(r.mask)
        })
    }

    /// The start-up warning for a wildcard address served without `restrict
    /// default` for its family, if any.
    pub fn wildcard_warning(&self, listen: &[SocketAddr]) -> Option<String> {
        let open: Vec<String> = listen
            .iter()
            .filter(|a| a.ip().is_unspecified())
            .filter(|a| {
                let fam = if a.is_ipv4() { Family::V4 } else { Family::V6 };
                !self.has_default(fam)
            })
            .map(|a| a.to_string())
            .collect();
        if open.is_empty() {
            return None;
        }
        Some(format!(
            "serving on {} with no `restrict default` line: every host may get time and \
             send mode 6 queries (ntpd 4.2.8's built-in default); add e.g. \
             `restrict default kod limited nomodify notrap nopeer noquery`",
            open.join(", ")
        ))
    }
}

impl Default for Hardening {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            source_flags: None,
            discard: DiscardParams::default(),
            keys: Vec::new(),
            control_key: None,
            request_key: None,
            monitor: true,
            unresolved: Vec::new(),
        }
    }
}

fn is_zero(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a == Ipv4Addr::UNSPECIFIED,
        IpAddr::V6(a) => a == Ipv6Addr::UNSPECIFIED,
    }
}

fn all_ones(v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::BROADCAST)
    } else {
        IpAddr::V6(Ipv6Addr::from(u128::MAX))
    }
}

/// The core's flags for the parser's flag set; `Err` names a flag slewd cannot honour.
fn core_flags(flags: RestrictFlags) -> Result<(AccessFlags, bool), &'static str> {
    let mut out = AccessFlags::NONE;
    let mut ntp_port_only = false;
    for f in flags.iter() {
        out |= match f {
            RestrictFlag::Ignore => AccessFlags::IGNORE,
            RestrictFlag::NoServe => AccessFlags::NOSERVE,
            RestrictFlag::NoQuery => AccessFlags::NOQUERY,
            RestrictFlag::NoModify => AccessFlags::NOMODIFY,
            RestrictFlag::NoTrap => AccessFlags::NOTRAP,
            RestrictFlag::NoPeer => AccessFlags::NOPEER,
            RestrictFlag::Limited => AccessFlags::LIMITED,
            RestrictFlag::Kod => AccessFlags::KOD,
            RestrictFlag::NoMruList => AccessFlags::NOMRULIST,
            RestrictFlag::Version => AccessFlags::VERSION,
            RestrictFlag::NoTrust => AccessFlags::NOTRUST,
            RestrictFlag::NoEpeer => AccessFlags::NOEPEER,
            RestrictFlag::LowPrioTrap => AccessFlags::LOWPRIOTRAP,
            RestrictFlag::NtpPort => {
                ntp_port_only = true;
                AccessFlags::NONE
            }
            RestrictFlag::Flake => return Err("`flake` (dropping packets at random)"),
            RestrictFlag::ServerResponseFuzz => return Err("`serverresponse fuzz`"),
        };
    }
    Ok((out, ntp_port_only))
}

fn algorithm(t: KeyType) -> MacAlgorithm {
    match t {
        KeyType::Md5 => MacAlgorithm::Md5,
        KeyType::Sha1 => MacAlgorithm::Sha1,
        KeyType::Aes128Cmac => MacAlgorithm::Aes128Cmac,
    }
}

/// Builds the [`Hardening`] of a configuration; errors point at the lines slewd
/// cannot honour (a flag it does not implement, a name that does not resolve, a key
/// limited to addresses).
pub fn hardening_from(
    config: &Config,
    host: &dyn super::HostLookup,
) -> Result<Hardening, Vec<(Location, String)>> {
    let mut errors = Vec::new();
    let mut h = Hardening {
        discard: DiscardParams {
            average_log2: config
                .discard
                .average
                .unwrap_or(DiscardParams::NTPD.average_log2),
            minimum_s: config
                .discard
                .minimum
                .unwrap_or(DiscardParams::NTPD.minimum_s),
        },
        control_key: config.control_key.as_ref().map(|k| u32::from(k.value)),
        request_key: config.request_key.as_ref().map(|k| u32::from(k.value)),
        monitor: config
            .system_flag(crate::config::SystemFlag::Monitor)
            .unwrap_or(true),
        ..Hardening::default()
    };
    for r in &config.restricts {
        let (flags, ntp_port_only) = match core_flags(r.flags) {
            Ok(f) => f,
            Err(what) => {
                errors.push((r.at.clone(), format!("{what} in `restrict`")));
                continue;
            }
        };
        let mut push = |addr: IpAddr, mask: IpAddr| {
            h.rules.push(AccessRule {
                addr,
                mask,
                ntp_port_only,
                flags,
            })
        };
        match &r.target {
            RestrictTarget::Default { family } => {
                if *family != Some(AddressFamily::V6) {
                    push(
                        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    );
                }
                if *family != Some(AddressFamily::V4) {
                    push(
                        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    );
                }
            }
            RestrictTarget::Source => {
                h.source_flags = Some(h.source_flags.unwrap_or_default() | flags);
            }
            RestrictTarget::Network { addr, mask } => push(*addr, *mask),
            RestrictTarget::Host { name, family, mask } => {
                // ntpd resolves restrict host names once, at start; so does slewd.
                match host.resolve(name) {
                    Ok(addrs) => {
                        let mut any = false;
                        for ip in addrs {
                            let fam_ok = match family {
                                Some(AddressFamily::V4) => ip.is_ipv4(),
                                Some(AddressFamily::V6) => ip.is_ipv6(),
                                None => true,
                            };
                            let m = mask.unwrap_or_else(|| all_ones(ip.is_ipv4()));
                            if fam_ok && m.is_ipv4() == ip.is_ipv4() {
                                push(ip, m);
                                any = true;
                            }
                        }
                        if !any {
                            errors.push((
                                r.at.clone(),
                                format!("`restrict {name}`: no address of the right family"),
                            ));
                        }
                    }
                    Err(e) => h.unresolved.push(format!(
                        "{}: `restrict {name}` skipped: cannot resolve the name ({e}); restart slewd once DNS works",
                        r.at
                    )),
                }
            }
        }
    }
    if let Some(file) = config.keys.as_ref().and_then(|k| k.file.as_ref()) {
        for key in &file.keys {
            if !key.allowed.is_empty() {
                errors.push((
                    key.at.clone(),
                    format!("key {}: an address list on a key", key.id),
                ));
                continue;
            }
            let trusted = config.trusted_keys.contains(&key.id);
            match SymmetricKey::new(
                u32::from(key.id),
                algorithm(key.key_type),
                &key.secret,
                trusted,
            ) {
                Some(k) => h.keys.push(k),
                None => errors.push((key.at.clone(), format!("key {}", key.id))),
            }
        }
    }
    if h.rules.len() > MAX_RESTRICTS {
        if let Some(r) = config.restricts.get(MAX_RESTRICTS) {
            errors.push((
                r.at.clone(),
                format!("more than {MAX_RESTRICTS} `restrict` entries"),
            ));
        }
    }
    if h.keys.len() > MAX_KEYS {
        if let Some(k) = config.keys.as_ref() {
            errors.push((k.at.clone(), format!("more than {MAX_KEYS} keys")));
        }
    }
    if errors.is_empty() {
        Ok(h)
    } else {
        Err(errors)
    }
}
