//! From ntp.conf's `restrict`, `discard`, `keys` and `trustedkey` to the core's
//! access table, rate limiter and key table, and the guard the time server consults
//! for every packet.
//!
//! [`Hardening`] is the plain, comparable description carried in the daemon's
//! settings; [`Guard`] holds the fixed-capacity core tables built from it (boxed, so
//! their size is paid once, on the heap, at start) and hands out the
//! [`Policy`](slew_core::server::Policy) for each packet without allocating.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::{Mutex, MutexGuard, PoisonError};

use slew_core::access::{Access, AccessFlags, AccessTable, Family};
use slew_core::auth::{KeyTable, MacAlgorithm, SymmetricKey};
use slew_core::control::{MonitorCounters, MruEntry};
use slew_core::ratelimit::{DiscardParams, RateLimiter, RateStats, WAYS};
use slew_core::server::Policy;
use slew_core::{Instant, NtpDuration, NtpTimestamp};

use crate::config::{
    AddressFamily, Config, KeyType, Location, RestrictFlag, RestrictFlags, RestrictTarget,
};

/// Most `restrict` entries (after `default` without `-4`/`-6` became two).
pub const MAX_RESTRICTS: usize = 512;
/// Most keys in the keys file.
pub const MAX_KEYS: usize = 1024;
/// Clients the rate limiter remembers: 4096 × 64 bytes = 256 KiB, whatever the
/// traffic.
pub const RATE_SLOTS: usize = 4096;

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
pub fn hardening_from(config: &Config) -> Result<Hardening, Vec<(Location, String)>> {
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
                match (name.as_str(), 0u16).to_socket_addrs() {
                    Ok(addrs) => {
                        let mut any = false;
                        for a in addrs {
                            let ip = a.ip();
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

/// 16 random bytes for the rate limiter's hash key ([`crate::entropy`]).
pub fn random_seed() -> [u8; 16] {
    crate::entropy::random_bytes()
}

/// The core tables the time server consults for every packet: one per
/// configuration, shared by the main thread and every server thread.
///
/// The restrict table and the keys never change once built (SIGHUP builds a new
/// `Guard`); the rate limiter is the one mutable part and sits behind a mutex, so a
/// client is counted against one bucket however many threads answer it. A thread
/// locks it once per received batch ([`Guard::lock`]), not once per packet.
#[derive(Debug)]
pub struct Guard {
    access: Box<AccessTable<MAX_RESTRICTS>>,
    limiter: Mutex<Box<RateLimiter<RATE_SLOTS>>>,
    keys: Box<KeyTable<MAX_KEYS>>,
    control_key: Option<u32>,
}

impl Default for Guard {
    fn default() -> Self {
        Self::new(&Hardening::default(), random_seed())
    }
}

/// A [`Guard`] with its rate limiter locked: hands out one [`Policy`] per packet.
#[derive(Debug)]
pub struct GuardLock<'a> {
    guard: &'a Guard,
    limiter: MutexGuard<'a, Box<RateLimiter<RATE_SLOTS>>>,
}

impl GuardLock<'_> {
    /// The policy for one packet: borrows the tables, allocates nothing.
    pub fn policy(&mut self) -> Policy<'_> {
        Policy {
            access: Some(&*self.guard.access),
            limiter: Some(&mut **self.limiter),
            keys: Some(&*self.guard.keys),
        }
    }
}

impl Guard {
    /// Builds the tables; entries beyond the capacities were refused by
    /// [`hardening_from`] already, so insert errors cannot happen here.
    pub fn new(h: &Hardening, seed: [u8; 16]) -> Self {
        let mut access = Box::new(AccessTable::new(AccessFlags::NONE));
        for r in &h.rules {
            if let Err(e) = access.insert(r.addr, r.mask, r.ntp_port_only, r.flags) {
                log::warn!("restrict {}/{}: {e}", r.addr, r.mask);
            }
        }
        let mut keys = Box::new(KeyTable::new());
        for k in &h.keys {
            if keys.insert(k.clone()).is_err() {
                log::warn!("key {} not loaded", k.id());
            }
        }
        let mut limiter = Box::new(RateLimiter::new(h.discard, seed));
        limiter.set_monitor_all(h.monitor);
        Self {
            access,
            limiter: Mutex::new(limiter),
            keys,
            control_key: h.control_key,
        }
    }

    /// Locks the rate limiter for a batch of packets. A poisoned lock (a thread
    /// panicked while holding it) is taken over as it is: the limiter's state is a
    /// table of timestamps, valid after any partial update.
    pub fn lock(&self) -> GuardLock<'_> {
        GuardLock {
            guard: self,
            limiter: self.limiter.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// The restrict flags for a source (for the control path: `may_query`,
    /// `may_modify`, `may_trap`, `may_read_mru`).
    pub fn access(&self, from: SocketAddr) -> Access {
        self.access.lookup(from.ip(), from.port())
    }

    /// Whether a `restrict` line more specific than `default` names `from`.
    pub fn matches_specific(&self, from: SocketAddr) -> bool {
        self.access.matches_specific(from.ip(), from.port())
    }

    /// Whether `from` may send mode 6 queries (neither `ignore` nor `noquery`).
    pub fn may_query(&self, from: SocketAddr) -> bool {
        self.access(from).may_query()
    }

    /// The keys: the client side signs requests and checks answers with them.
    pub fn keys(&self) -> &KeyTable<MAX_KEYS> {
        &self.keys
    }

    /// `controlkey`, for the control path.
    pub fn control_key(&self) -> Option<u32> {
        self.control_key
    }

    /// The rate limiter's counters (all threads together).
    pub fn rate_stats(&self) -> RateStats {
        *self.lock().limiter.stats()
    }

    /// ntpq's `monstats` figures, `mono_now` being the monotonic time now.
    pub fn monitor_counters(&self, mono_now: Instant) -> MonitorCounters {
        let lock = self.lock();
        let l = &**lock.limiter;
        let s = l.stats();
        let oldest = l.entries().map(|e| e.last).min();
        MonitorCounters {
            // ntpd's bits: 1 every client recorded (`enable monitor`), 2 the table
            // kept for `limited` (always: slew's rate limiter is that table).
            // ntpsec 1.2.2 answers 3 with its defaults, as slew does.
            enabled: u32::from(l.monitors_all()) | 2,
            hash_slots: (l.capacity() / WAYS) as u64,
            depth: l.occupied() as u64,
            deepest: s.peak,
            max_depth: l.capacity() as u64,
            min_depth: 0,
            max_age_s: 0,
            min_age_s: 0,
            entry_bytes: RateLimiter::<RATE_SLOTS>::SLOT_BYTES as u64,
            exists: s.exists,
            new: s.inserted,
            recycle_old: 0,
            recycle_full: s.evicted,
            none: 0,
            oldest_age_s: oldest.map_or(0, |t| mono_now.saturating_since(t).as_secs()),
        }
    }

    /// The monitor list for `mrulist`, least recently seen first, in the daemon
    /// clock's wall time (`wall_now` read at `mono_now`).
    pub fn monitor_entries(&self, mono_now: Instant, wall_now: NtpTimestamp) -> Vec<MruEntry> {
        let lock = self.lock();
        let mut slots: Vec<_> = lock.limiter.entries().collect();
        drop(lock);
        slots.sort_by_key(|e| e.last);
        let wall = |t: Instant| wall_now - NtpDuration::from_core(mono_now.saturating_since(t));
        slots
            .into_iter()
            .map(|e| MruEntry {
                addr: SocketAddr::new(e.addr, e.port),
                first: wall(e.first),
                last: wall(e.last),
                count: e.count,
                mode_version: e.mode_version,
                restrict: e.flags,
                score: e.score,
                dropped: e.dropped,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config;

    fn parse(text: &str) -> Config {
        config::test_config(text)
    }

    #[test]
    fn article_restricts() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/fixtures/seed-server-ntp.conf"),
        )
        .unwrap_or_default()
        .replace("perfer", "prefer")
        .replace("includefile /etc/ntp/crypto/pw", "")
        .replace("keys /etc/ntp/keys", "");
        if text.is_empty() {
            return;
        }
        let h = hardening_from(&parse(&text)).unwrap();
        // default and -6 default both: the v6 default gets its flags twice (ORed).
        assert!(h.has_default(Family::V4) && h.has_default(Family::V6));
        let g = Guard::new(&h, [1; 16]);
        let from = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(g.may_query(from("127.0.0.1:5000")));
        assert!(!g.may_query(from("127.0.0.2:5000")));
        assert!(g.may_query(from("192.168.40.3:5000")));
        assert!(!g.access(from("192.168.40.3:5000")).may_modify());
        assert!(!g.may_query(from("[2001:db8::1]:5000")));
        assert!(g.may_query(from("[::1]:5000")));
        assert!(h.wildcard_warning(&[from("0.0.0.0:123")]).is_none());
    }

    #[test]
    fn discard_keys_and_trust() {
        let dir = std::env::temp_dir().join(format!("slew-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let keys = dir.join("ntp.keys");
        std::fs::write(
            &keys,
            "1 MD5 secret\n2 SHA1 0123456789abcdef0123456789abcdef01234567\n",
        )
        .unwrap();
        let text = format!(
            "discard average 4 minimum 1\nkeys {}\ntrustedkey 2\ncontrolkey 2\nrequestkey 1\n",
            keys.display()
        );
        let h = hardening_from(&parse(&text)).unwrap();
        assert_eq!(
            h.discard,
            DiscardParams {
                average_log2: 4,
                minimum_s: 1
            }
        );
        assert_eq!(h.keys.len(), 2);
        assert!(!h.keys[0].is_trusted() && h.keys[1].is_trusted());
        assert_eq!((h.control_key, h.request_key), (Some(2), Some(1)));
        let g = Guard::new(&h, [0; 16]);
        assert!(g.keys().trusted(2).is_some() && g.keys().trusted(1).is_none());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn defaults_per_family_and_wildcard_warning() {
        let h = hardening_from(&parse("restrict -4 default noquery\n")).unwrap();
        assert!(h.has_default(Family::V4) && !h.has_default(Family::V6));
        let w = h
            .wildcard_warning(&["0.0.0.0:123".parse().unwrap(), "[::]:123".parse().unwrap()])
            .unwrap();
        assert!(w.contains("[::]:123") && !w.contains("0.0.0.0"), "{w}");
        assert!(h
            .wildcard_warning(&["127.0.0.1:123".parse().unwrap()])
            .is_none());
        let none = hardening_from(&parse("")).unwrap();
        assert!(none
            .wildcard_warning(&["0.0.0.0:123".parse().unwrap()])
            .is_some());
        assert_eq!(none.discard, DiscardParams::NTPD);
    }

    #[test]
    fn unhonoured_flags_point_at_their_line() {
        let e = hardening_from(&parse(
            "restrict default flake\nrestrict 10.0.0.1 ntpport noquery\n",
        ))
        .unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0.line, 1);
        assert!(e[0].1.contains("flake"));
        let h = hardening_from(&parse(
            "restrict 10.0.0.1 ntpport noquery\nrestrict source nopeer\n",
        ))
        .unwrap();
        assert!(h.rules[0].ntp_port_only);
        assert_eq!(h.source_flags, Some(AccessFlags::NOPEER));
    }

    #[test]
    fn the_monitor_list_in_wall_time_least_recent_first() {
        let g = Guard::new(&Hardening::default(), [3; 16]);
        let t = |s: u64| Instant::from_nanos(s * 1_000_000_000);
        {
            let mut lock = g.lock();
            let mut p = lock.policy();
            let l = p.limiter.as_deref_mut().unwrap();
            let seen = slew_core::ratelimit::Seen {
                port: 5000,
                mode_version: 0x23,
                flags: 0,
            };
            l.record("10.0.0.2".parse().unwrap(), t(20), seen, None);
            l.record("10.0.0.1".parse().unwrap(), t(10), seen, None);
            l.record("10.0.0.1".parse().unwrap(), t(15), seen, None);
        }
        let wall_now = NtpTimestamp::from_parts(1000, 0);
        let e = g.monitor_entries(t(30), wall_now);
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0].addr,
            "10.0.0.1:5000".parse().unwrap(),
            "least recent first"
        );
        assert_eq!((e[0].first.seconds(), e[0].last.seconds()), (980, 985));
        assert_eq!(e[0].count, 2);
        assert_eq!(e[1].last.seconds(), 990);
        let m = g.monitor_counters(t(30));
        assert_eq!((m.enabled, m.depth, m.max_depth), (3, 2, RATE_SLOTS as u64));
        assert_eq!((m.new, m.exists, m.oldest_age_s), (2, 1, 15));
        assert_eq!(m.entry_bytes, 64);
        // `disable monitor`: ntpd's bit 1 off.
        let off = Guard::new(
            &Hardening {
                monitor: false,
                ..Hardening::default()
            },
            [3; 16],
        );
        assert_eq!(off.monitor_counters(t(30)).enabled, 2);
    }

    #[test]
    fn host_names_resolve_once() {
        let h = hardening_from(&parse("restrict localhost noquery\n")).unwrap();
        assert!(h
            .rules
            .iter()
            .any(|r| r.addr == IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert!(h.unresolved.is_empty());
    }

    #[test]
    fn an_unresolvable_restrict_host_is_skipped_and_reported_not_fatal() {
        let h = hardening_from(&parse("restrict no-such-host.invalid ignore\n")).unwrap();
        assert!(h.rules.is_empty());
        assert_eq!(h.unresolved.len(), 1);
        assert!(h.unresolved[0].contains(":1:1: `restrict no-such-host.invalid` skipped"));
    }
}
