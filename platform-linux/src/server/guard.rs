//! The guard the time server consults for every packet: the fixed-capacity core
//! access table, rate limiter and key table built from the settings'
//! [`Hardening`] (boxed, so their size is paid once, on the heap, at start), handing
//! out the [`Policy`] for each packet without allocating.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use slew_core::access::{Access, AccessFlags, AccessTable};
use slew_core::auth::KeyTable;
use slew_core::control::{MonitorCounters, MruEntry};
use slew_core::ratelimit::{RateLimiter, RateStats, WAYS};
use slew_core::server::Policy;
use slew_core::{Instant, NtpDuration, NtpTimestamp};

pub use crate::settings::access::{AccessRule, Hardening, MAX_KEYS, MAX_RESTRICTS};

/// Clients the rate limiter remembers: 4096 × 64 bytes = 256 KiB, whatever the
/// traffic.
pub const RATE_SLOTS: usize = 4096;

/// 16 random bytes for the rate limiter's hash key ([`crate::os::entropy`]).
pub fn random_seed() -> [u8; 16] {
    crate::os::entropy::random_bytes()
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
    use std::net::{IpAddr, Ipv4Addr};
    use std::path::Path;

    use slew_core::access::Family;
    use slew_core::ratelimit::DiscardParams;

    use super::*;
    use crate::config;
    use crate::config::Config;
    use crate::settings::access::hardening_from;

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
        let h = hardening_from(&parse(&text), &crate::os::host::SystemHost).unwrap();
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
        let h = hardening_from(&parse(&text), &crate::os::host::SystemHost).unwrap();
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
        let h = hardening_from(
            &parse("restrict -4 default noquery\n"),
            &crate::os::host::SystemHost,
        )
        .unwrap();
        assert!(h.has_default(Family::V4) && !h.has_default(Family::V6));
        let w = h
            .wildcard_warning(&["0.0.0.0:123".parse().unwrap(), "[::]:123".parse().unwrap()])
            .unwrap();
        assert!(w.contains("[::]:123") && !w.contains("0.0.0.0"), "{w}");
        assert!(h
            .wildcard_warning(&["127.0.0.1:123".parse().unwrap()])
            .is_none());
        let none = hardening_from(&parse(""), &crate::os::host::SystemHost).unwrap();
        assert!(none
            .wildcard_warning(&["0.0.0.0:123".parse().unwrap()])
            .is_some());
        assert_eq!(none.discard, DiscardParams::NTPD);
    }

    #[test]
    fn unhonoured_flags_point_at_their_line() {
        let e = hardening_from(
            &parse("restrict default flake\nrestrict 10.0.0.1 ntpport noquery\n"),
            &crate::os::host::SystemHost,
        )
        .unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0.line, 1);
        assert!(e[0].1.contains("flake"));
        let h = hardening_from(
            &parse("restrict 10.0.0.1 ntpport noquery\nrestrict source nopeer\n"),
            &crate::os::host::SystemHost,
        )
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
        let h = hardening_from(
            &parse("restrict localhost noquery\n"),
            &crate::os::host::SystemHost,
        )
        .unwrap();
        assert!(h
            .rules
            .iter()
            .any(|r| r.addr == IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert!(h.unresolved.is_empty());
    }

    #[test]
    fn an_unresolvable_restrict_host_is_skipped_and_reported_not_fatal() {
        let h = hardening_from(
            &parse("restrict no-such-host.invalid ignore\n"),
            &crate::os::host::SystemHost,
        )
        .unwrap();
        assert!(h.rules.is_empty());
        assert_eq!(h.unresolved.len(), 1);
        assert!(h.unresolved[0].contains(":1:1: `restrict no-such-host.invalid` skipped"));
    }
}
