//! Rate limiting for `restrict … limited` (and `kod`), with `discard` parameters, in a
//! table whose size does not depend on how many addresses send to us.
//!
//! # The rule (ntp_acc(5), `discard`)
//!
//! For each client address the limiter keeps the time of its last packet and a
//! leaky bucket:
//!
//! - a packet less than `minimum` seconds (default 2) after the previous one from the
//!   same address is over the limit;
//! - each packet that is served adds `2^average` seconds (default 2³ = 8 s) to the
//!   bucket, which drains at one second per second; a packet that would fill it past
//!   `8 · 2^average` is over the limit. So a client may send a burst of eight
//!   (ntpd's `iburst`) and must then keep a mean interval of at least `2^average`;
//! - the time of the last packet is updated by every packet, served or not, so a
//!   client that keeps hammering stays over the limit; an over-limit packet adds
//!   nothing to the bucket, so a client that slows down recovers.
//!
//! Over-limit requests are dropped, or, with `kod`, answered by a RATE kiss. Kisses
//! are limited in turn: at most one per client per `2^average` seconds, and at most
//! [`KOD_BURST`] in a burst and [`KOD_PER_SECOND`] per second in total, so spoofed
//! sources cannot turn the server into a reflector.
//!
//! # Memory
//!
//! `N` slots (a multiple of [`WAYS`]), fixed at compile time: `N` × 64 bytes whatever
//! the traffic. A source address picks a bucket of [`WAYS`] slots by a keyed hash
//! (SipHash-1-3 with a 128-bit key from the port's random source); a new address
//! takes a free slot of its bucket or evicts the one seen least recently. Without the
//! key an attacker cannot choose addresses that land in a victim's bucket. Eviction
//! fails open: a flood of new addresses can make the limiter forget a client, which
//! is then served again — never refused for somebody else's traffic.
//!
//! # The monitor list (ntpq's `mrulist`)
//!
//! The same table is ntpd's MRU list: the server path records every client it sees
//! ([`RateLimiter::record`]), limited or not, unless monitoring is off (`disable
//! monitor`) and the client is not `limited`. Each slot keeps what `ntpq -c mrulist`
//! shows: address and port, first and last packet, count, mode and version, the
//! restrict flags, packets dropped; [`RateLimiter::entries`] hands them out as plain
//! data. A slot is 64 bytes whatever it holds.
//!
//! Time is a monotonic [`Instant`] passed in by the caller; the limiter reads no clock.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use core::net::IpAddr;

use crate::time::Instant;

/// Slots per bucket.
pub const WAYS: usize = 4;
/// Most RATE kisses sent back to back (all clients together).
pub const KOD_BURST: u32 = 32;
/// Sustained RATE kisses per second (all clients together).
pub const KOD_PER_SECOND: u32 = 16;
/// How many `2^average` intervals the bucket holds: the burst a client may send.
pub const BURST_PACKETS: u64 = 8;

const NS_PER_S: u64 = 1_000_000_000;

/// The `discard` parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiscardParams {
    /// `average`: log2 of the minimum mean interval, seconds (ntpd default 3).
    pub average_log2: u8,
    /// `minimum`: minimum interval between two packets, seconds (ntpd default 2).
    pub minimum_s: u32,
}

impl DiscardParams {
    /// ntpd's defaults: `discard average 3 minimum 2`.
    pub const NTPD: DiscardParams = DiscardParams {
        average_log2: 3,
        minimum_s: 2,
    };

    fn head_ns(self) -> u64 {
        // `average` is at most 17 in ntp.conf; cap the shift so no value overflows.
        NS_PER_S.saturating_mul(1u64 << self.average_log2.min(30))
    }

    fn minimum_ns(self) -> u64 {
        NS_PER_S.saturating_mul(u64::from(self.minimum_s))
    }
}

impl Default for DiscardParams {
    fn default() -> Self {
        Self::NTPD
    }
}

/// What to do with a request from a `limited` client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Under the limit: serve it.
    Serve,
    /// Over the limit: send nothing.
    Drop,
    /// Over the limit and a RATE kiss is due (only when asked for with `kod`).
    Kiss,
}

/// `last_kiss_ns` of a client never kissed.
const NEVER: u64 = u64::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    /// 0 = empty, 4 = IPv4, 6 = IPv6.
    family: u8,
    /// Mode and version of its last packet, ntpd's `mv` (version << 3 | mode).
    mode_version: u8,
    /// Its last source port.
    port: u16,
    /// The restrict flags its last packet met, ntpd's `RES_*` bits.
    flags: u16,
    addr: u128,
    /// Monotonic nanoseconds of the last packet.
    last_ns: u64,
    /// Monotonic nanoseconds of the first packet.
    first_ns: u64,
    /// Bucket level at `last_ns`, nanoseconds of credit used.
    level_ns: u64,
    /// Monotonic nanoseconds of the last kiss, [`NEVER`] if none yet.
    last_kiss_ns: u64,
    /// Packets seen (saturating).
    count: u32,
    /// Packets over the limit (saturating).
    dropped: u32,
}

impl Slot {
    const EMPTY: Slot = Slot {
        family: 0,
        mode_version: 0,
        port: 0,
        flags: 0,
        addr: 0,
        last_ns: 0,
        first_ns: 0,
        level_ns: 0,
        last_kiss_ns: NEVER,
        count: 0,
        dropped: 0,
    };
}

/// What the server path knows of a packet besides its source address and time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Source port.
    pub port: u16,
    /// Mode and version, as ntpd's `mv`: `version << 3 | mode`.
    pub mode_version: u8,
    /// The restrict flags that applied, as ntpd's `RES_*` bits
    /// ([`AccessFlags::ntpd_bits`](crate::access::AccessFlags::ntpd_bits)).
    pub flags: u16,
}

/// One client in the table, as `ntpq -c mrulist` shows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MonitorSlot {
    /// Its address (IPv4-mapped addresses appear as IPv4).
    pub addr: IpAddr,
    /// Its last source port.
    pub port: u16,
    /// Monotonic time of its first packet.
    pub first: Instant,
    /// Monotonic time of its last packet.
    pub last: Instant,
    /// Packets seen.
    pub count: u32,
    /// Packets over the limit.
    pub dropped: u32,
    /// Mode and version of the last packet (`version << 3 | mode`).
    pub mode_version: u8,
    /// Restrict flags (`RES_*` bits) its last packet met.
    pub flags: u16,
    /// How full its bucket is, in packets of `2^average` s, as of `last`: 8 is the
    /// limit ([`BURST_PACKETS`]). ntpq prints it as `score`.
    pub score: f64,
}

/// Counters of the limiter, for logs and monitoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateStats {
    /// Clients that took a free slot.
    pub inserted: u64,
    /// Clients that pushed another out of its slot.
    pub evicted: u64,
    /// Over-limit requests.
    pub limited: u64,
    /// RATE kisses allowed.
    pub kisses: u64,
    /// RATE kisses suppressed by the per-client or global kiss limit.
    pub kisses_suppressed: u64,
    /// Packets from clients already in the table (ntpd's `mru_exists`).
    pub exists: u64,
    /// Most slots ever in use (ntpd's `mru_deepest`).
    pub peak: u64,
}

/// The rate limiter: `N` slots (rounded down to a multiple of [`WAYS`]).
#[derive(Clone, Debug)]
pub struct RateLimiter<const N: usize> {
    slots: [Slot; N],
    key: (u64, u64),
    params: DiscardParams,
    /// Global kiss budget: tokens (scaled by `NS_PER_S`) and when last refilled.
    kiss_tokens: u64,
    kiss_refill_ns: u64,
    stats: RateStats,
    /// Slots in use.
    in_use: usize,
    /// Record sources that are not `limited` too (`enable monitor`, the default).
    monitor_all: bool,
}

impl<const N: usize> RateLimiter<N> {
    /// An empty limiter. `seed` keys the address hash: take it from a random source
    /// (the Linux port reads `getrandom`), never a constant, in anything that faces a
    /// network.
    pub const fn new(params: DiscardParams, seed: [u8; 16]) -> Self {
        let [a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7] = seed;
        Self {
            slots: [Slot::EMPTY; N],
            key: (
                u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
                u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]),
            ),
            params,
            kiss_tokens: KOD_BURST as u64 * NS_PER_S,
            kiss_refill_ns: 0,
            stats: RateStats {
                inserted: 0,
                evicted: 0,
                limited: 0,
                kisses: 0,
                kisses_suppressed: 0,
                exists: 0,
                peak: 0,
            },
            in_use: 0,
            monitor_all: true,
        }
    }

    /// `disable monitor` (`false`): only `limited` sources are recorded.
    pub fn set_monitor_all(&mut self, on: bool) {
        self.monitor_all = on;
    }

    /// Whether every source is recorded, not only `limited` ones.
    pub fn monitors_all(&self) -> bool {
        self.monitor_all
    }

    /// Bytes one slot takes (64: the table is `N` × this, whatever the traffic).
    pub const SLOT_BYTES: usize = core::mem::size_of::<Slot>();

    /// The `discard` parameters in force.
    pub fn params(&self) -> DiscardParams {
        self.params
    }

    /// Replaces the `discard` parameters; known clients are kept.
    pub fn set_params(&mut self, params: DiscardParams) {
        self.params = params;
    }

    /// The counters so far.
    pub fn stats(&self) -> &RateStats {
        &self.stats
    }

    /// Slots in use.
    pub fn occupied(&self) -> usize {
        self.in_use
    }

    /// Every client in the table, in slot order (not sorted), as plain data.
    pub fn entries(&self) -> impl Iterator<Item = MonitorSlot> + '_ {
        let head = self.params.head_ns().max(1);
        self.slots
            .iter()
            .filter(|s| s.family != 0)
            .map(move |s| MonitorSlot {
                addr: if s.family == 4 {
                    IpAddr::V4(core::net::Ipv4Addr::from(s.addr as u32))
                } else {
                    IpAddr::V6(core::net::Ipv6Addr::from(s.addr))
                },
                port: s.port,
                first: Instant::from_nanos(s.first_ns),
                last: Instant::from_nanos(s.last_ns),
                count: s.count,
                dropped: s.dropped,
                mode_version: s.mode_version,
                flags: s.flags,
                score: s.level_ns as f64 / head as f64,
            })
    }

    /// The capacity, in clients.
    pub const fn capacity(&self) -> usize {
        N - N % WAYS
    }

    /// Records a packet from `addr` at `now` and says whether to serve it. `kod`: the
    /// source's restrict entry has `kod`, so an over-limit packet may get a kiss.
    pub fn check(&mut self, addr: IpAddr, now: Instant, kod: bool) -> Verdict {
        self.record(addr, now, Seen::default(), Some(kod))
    }

    /// Records a packet from `addr` at `now` with what else is known of it, and, when
    /// `limit` is given (the source is `limited`; `Some(kod)`), says whether to serve
    /// it. Without `limit` the verdict is always [`Verdict::Serve`]: the packet is
    /// only monitored.
    pub fn record(
        &mut self,
        addr: IpAddr,
        now: Instant,
        seen: Seen,
        limit: Option<bool>,
    ) -> Verdict {
        let now_ns = now.as_nanos();
        let params = self.params;
        let (family, bits) = match addr {
            IpAddr::V4(a) => (4u8, u128::from(u32::from(a))),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => (4, u128::from(u32::from(v4))),
                None => (6, u128::from(a)),
            },
        };
        let head = params.head_ns();
        let before = self.stats.inserted;
        // What the client's own slot says; the borrow ends before the counters.
        let (over, client_may_kiss, known) = {
            let Some(slot) = self.slot_for(family, bits) else {
                // N < WAYS: no table at all; serve (fail open).
                return Verdict::Serve;
            };
            slot.port = seen.port;
            slot.mode_version = seen.mode_version;
            slot.flags = seen.flags;
            if slot.family != family || slot.addr != bits {
                *slot = Slot {
                    family,
                    addr: bits,
                    last_ns: now_ns,
                    first_ns: now_ns,
                    level_ns: head,
                    count: 1,
                    ..*slot
                };
                (false, false, false)
            } else {
                let interval = now_ns.saturating_sub(slot.last_ns);
                slot.last_ns = now_ns;
                slot.count = slot.count.saturating_add(1);
                let drained = slot.level_ns.saturating_sub(interval);
                let filled = drained.saturating_add(head);
                let over =
                    interval < params.minimum_ns() || filled > head.saturating_mul(BURST_PACKETS);
                let over = over && limit.is_some();
                slot.level_ns = if over { drained } else { filled };
                if over {
                    slot.dropped = slot.dropped.saturating_add(1);
                }
                let may_kiss =
                    slot.last_kiss_ns == NEVER || now_ns.saturating_sub(slot.last_kiss_ns) >= head;
                (over, may_kiss, true)
            }
        };
        if known {
            self.stats.exists += 1;
        } else if self.stats.inserted > before {
            self.in_use = self.in_use.saturating_add(1);
            self.stats.peak = self.stats.peak.max(self.in_use as u64);
        }
        if !over {
            return Verdict::Serve;
        }
        self.stats.limited += 1;
        if limit != Some(true) {
            return Verdict::Drop;
        }
        if client_may_kiss && self.take_kiss_token(now_ns) {
            if let Some(s) = self.slot_for(family, bits) {
                s.last_kiss_ns = now_ns;
            }
            self.stats.kisses += 1;
            Verdict::Kiss
        } else {
            self.stats.kisses_suppressed += 1;
            Verdict::Drop
        }
    }

    /// The global kiss bucket: [`KOD_PER_SECOND`] tokens per second, at most
    /// [`KOD_BURST`].
    fn take_kiss_token(&mut self, now_ns: u64) -> bool {
        let elapsed = now_ns.saturating_sub(self.kiss_refill_ns);
        self.kiss_refill_ns = now_ns;
        let cap = u64::from(KOD_BURST) * NS_PER_S;
        self.kiss_tokens = self
            .kiss_tokens
            .saturating_add(elapsed.saturating_mul(u64::from(KOD_PER_SECOND)))
            .min(cap);
        if self.kiss_tokens >= NS_PER_S {
            self.kiss_tokens -= NS_PER_S;
            true
        } else {
            false
        }
    }

    /// The slot of `addr`: its own if known, else a free one or the least recently
    /// seen one of its bucket (counted as inserted or evicted).
    fn slot_for(&mut self, family: u8, bits: u128) -> Option<&mut Slot> {
        let buckets = N / WAYS;
        if buckets == 0 {
            return None;
        }
        let h = sip13(
            self.key,
            u64::from(family),
            (bits >> 64) as u64,
            bits as u64,
        );
        // Multiply-shift keeps the bucket choice uniform for any bucket count.
        let bucket = ((u128::from(h) * buckets as u128) >> 64) as usize;
        let start = bucket * WAYS;
        let ways = self.slots.get_mut(start..start + WAYS)?;
        let mut found = None;
        let mut free = None;
        let mut oldest = 0;
        for (i, s) in ways.iter().enumerate() {
            if s.family == family && s.addr == bits {
                found = Some(i);
                break;
            }
            if s.family == 0 && free.is_none() {
                free = Some(i);
            }
            if ways.get(oldest).is_some_and(|o| s.last_ns < o.last_ns) {
                oldest = i;
            }
        }
        let i = match (found, free) {
            (Some(i), _) => i,
            (None, Some(i)) => {
                self.stats.inserted += 1;
                i
            }
            (None, None) => {
                self.stats.evicted += 1;
                oldest
            }
        };
        let slot = ways.get_mut(i)?;
        if found.is_none() {
            *slot = Slot::EMPTY;
        }
        Some(slot)
    }
}

/// SipHash-1-3 of three 64-bit words (family, address high, address low). A keyed
/// PRF: without the key, collisions cannot be aimed.
pub(crate) fn sip13(key: (u64, u64), m0: u64, m1: u64, m2: u64) -> u64 {
    let mut v = [
        key.0 ^ 0x736f_6d65_7073_6575,
        key.1 ^ 0x646f_7261_6e64_6f6d,
        key.0 ^ 0x6c79_6765_6e65_7261,
        key.1 ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        let [mut v0, mut v1, mut v2, mut v3] = *v;
        v0 = v0.wrapping_add(v1);
        v1 = v1.rotate_left(13) ^ v0;
        v0 = v0.rotate_left(32);
        v2 = v2.wrapping_add(v3);
        v3 = v3.rotate_left(16) ^ v2;
        v0 = v0.wrapping_add(v3);
        v3 = v3.rotate_left(21) ^ v0;
        v2 = v2.wrapping_add(v1);
        v1 = v1.rotate_left(17) ^ v2;
        v2 = v2.rotate_left(32);
        *v = [v0, v1, v2, v3];
    }
    // 24 bytes of message, then the length byte in the top of the last block.
    for m in [m0, m1, m2, 24u64 << 56] {
        v[3] ^= m;
        round(&mut v);
        v[0] ^= m;
    }
    v[2] ^= 0xff;
    for _ in 0..3 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    const SEED: [u8; 16] = *b"0123456789abcdef";

    fn at(s: f64) -> Instant {
        Instant::from_nanos((s * 1e9) as u64)
    }

    fn ip(i: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + i))
    }

    #[test]
    fn polite_client_is_always_served() {
        let mut r: RateLimiter<64> = RateLimiter::new(DiscardParams::NTPD, SEED);
        for i in 0..1000 {
            assert_eq!(
                r.check(ip(1), at(f64::from(i) * 8.0), false),
                Verdict::Serve
            );
        }
        assert_eq!(r.stats().limited, 0);
    }

    #[test]
    fn iburst_is_allowed_then_the_mean_interval_counts() {
        let mut r: RateLimiter<64> = RateLimiter::new(DiscardParams::NTPD, SEED);
        // ntpd's iburst: 8 packets 2 s apart.
        for i in 0..8 {
            assert_eq!(
                r.check(ip(1), at(f64::from(i) * 2.0), false),
                Verdict::Serve,
                "{i}"
            );
        }
        // Keeping up one every 2 s overflows the bucket soon after.
        let served = (8..40)
            .filter(|&i| r.check(ip(1), at(f64::from(i) * 2.0), false) == Verdict::Serve)
            .count();
        assert!(
            served < 32 / 3,
            "mean interval 2 s is over average 8 s: {served}"
        );
        // After a pause, one every 8 s is fine again.
        for i in 0..20 {
            assert_eq!(
                r.check(ip(1), at(200.0 + f64::from(i) * 8.0), false),
                Verdict::Serve
            );
        }
    }

    #[test]
    fn minimum_interval() {
        let mut r: RateLimiter<64> = RateLimiter::new(DiscardParams::NTPD, SEED);
        assert_eq!(r.check(ip(1), at(0.0), false), Verdict::Serve);
        assert_eq!(r.check(ip(1), at(1.9), false), Verdict::Drop);
        // The dropped packet moved "last": 2.5 s after it is fine, 2.5 after start not.
        assert_eq!(r.check(ip(1), at(3.0), false), Verdict::Drop);
        assert_eq!(r.check(ip(1), at(5.0), false), Verdict::Serve);
        // Another client is not affected.
        assert_eq!(r.check(ip(2), at(5.1), false), Verdict::Serve);
        let mut r: RateLimiter<64> = RateLimiter::new(
            DiscardParams {
                average_log2: 0,
                minimum_s: 0,
            },
            SEED,
        );
        for i in 0..8 {
            assert_eq!(r.check(ip(1), at(f64::from(i)), false), Verdict::Serve);
        }
    }

    #[test]
    fn kisses_are_limited_per_client_and_globally() {
        let mut r: RateLimiter<4096> = RateLimiter::new(DiscardParams::NTPD, SEED);
        assert_eq!(r.check(ip(1), at(0.0), true), Verdict::Serve);
        assert_eq!(r.check(ip(1), at(0.1), true), Verdict::Kiss);
        // Within 2^average = 8 s of that kiss: silence.
        for i in 0..79 {
            assert_eq!(
                r.check(ip(1), at(0.2 + f64::from(i) * 0.1), true),
                Verdict::Drop
            );
        }
        assert_eq!(r.check(ip(1), at(8.2), true), Verdict::Kiss);
        // A spoofed flood of 1000 sources, each twice at once: at most the burst.
        let mut kisses = 0;
        for i in 100..1100 {
            r.check(ip(i), at(20.0), true);
            if r.check(ip(i), at(20.0), true) == Verdict::Kiss {
                kisses += 1;
            }
        }
        assert!(kisses <= KOD_BURST, "{kisses}");
        // A second later, at most KOD_PER_SECOND more.
        let mut more = 0;
        for i in 2000..3000 {
            r.check(ip(i), at(21.0), true);
            if r.check(ip(i), at(21.0), true) == Verdict::Kiss {
                more += 1;
            }
        }
        assert!(more <= KOD_PER_SECOND, "{more}");
        assert!(r.stats().kisses_suppressed > 0);
    }

    #[test]
    fn memory_is_bounded_and_eviction_fails_open() {
        let mut r: RateLimiter<64> = RateLimiter::new(DiscardParams::NTPD, SEED);
        assert_eq!(
            core::mem::size_of_val(&r.slots),
            64 * core::mem::size_of::<Slot>()
        );
        // 100 000 distinct sources: the table never grows, every first packet served.
        for i in 0..100_000 {
            assert_eq!(
                r.check(ip(i), at(f64::from(i) * 1e-4), false),
                Verdict::Serve
            );
        }
        assert_eq!(r.occupied(), 64);
        assert_eq!(r.capacity(), 64);
        assert_eq!(r.stats().inserted, 64);
        assert_eq!(r.stats().evicted, 100_000 - 64);
    }

    #[test]
    fn a_slot_is_64_bytes_and_monitoring_never_limits() {
        assert!(core::mem::size_of::<Slot>() <= 64);
        assert_eq!(RateLimiter::<64>::SLOT_BYTES, core::mem::size_of::<Slot>());
        let mut r: RateLimiter<64> = RateLimiter::new(DiscardParams::NTPD, SEED);
        let seen = Seen {
            port: 123,
            mode_version: 0x23,
            flags: 0,
        };
        // A flood from an unlimited client is recorded and always served.
        for i in 0..100 {
            assert_eq!(
                r.record(ip(1), at(f64::from(i) * 0.01), seen, None),
                Verdict::Serve
            );
        }
        let e: std::vec::Vec<MonitorSlot> = r.entries().collect();
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].count, e[0].dropped, e[0].port), (100, 0, 123));
        assert_eq!(e[0].first, at(0.0));
        assert_eq!(e[0].last, at(0.99));
        assert_eq!(r.stats().limited, 0);
        assert_eq!(
            (r.stats().inserted, r.stats().exists, r.stats().peak),
            (1, 99, 1)
        );
        // Evictions keep the occupancy and the peak honest.
        let mut small: RateLimiter<WAYS> = RateLimiter::new(DiscardParams::NTPD, SEED);
        for i in 0..10 {
            small.record(ip(i), at(f64::from(i)), seen, None);
        }
        assert_eq!(small.occupied(), WAYS);
        assert_eq!(small.stats().peak, WAYS as u64);
        assert_eq!(small.stats().evicted, 10 - WAYS as u64);
    }

    #[test]
    fn least_recently_seen_is_evicted() {
        // One bucket: WAYS slots.
        let mut r: RateLimiter<WAYS> = RateLimiter::new(DiscardParams::NTPD, SEED);
        for i in 0..WAYS as u32 {
            r.check(ip(i), at(f64::from(i)), false);
        }
        // Client 0 polls again (recent), client 1 is now the oldest.
        r.check(ip(0), at(10.0), false);
        r.check(ip(99), at(11.0), false);
        // Client 0 is still known: an immediate repeat is over the minimum interval.
        assert_eq!(r.check(ip(0), at(11.5), false), Verdict::Drop);
        // Client 1 was forgotten: an immediate pair from it starts fresh.
        assert_eq!(r.check(ip(1), at(11.6), false), Verdict::Serve);
    }

    #[test]
    fn ipv6_and_mapped_share_rules() {
        let mut r: RateLimiter<64> = RateLimiter::new(DiscardParams::NTPD, SEED);
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        assert_eq!(r.check(v4, at(0.0), false), Verdict::Serve);
        assert_eq!(
            r.check(mapped, at(0.5), false),
            Verdict::Drop,
            "same client"
        );
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(r.check(v6, at(0.6), false), Verdict::Serve);
        assert_eq!(r.check(v6, at(0.7), false), Verdict::Drop);
    }

    #[test]
    fn keyed_hash_depends_on_the_key() {
        let a = sip13((1, 2), 4, 0, 0x0A00_0001);
        assert_ne!(a, sip13((1, 3), 4, 0, 0x0A00_0001));
        assert_ne!(a, sip13((1, 2), 4, 0, 0x0A00_0002));
        assert_eq!(a, sip13((1, 2), 4, 0, 0x0A00_0001));
        // Spread: 4096 consecutive addresses over 64 buckets, none badly overfull.
        let mut counts = [0u32; 64];
        for i in 0..4096u64 {
            let h = sip13((7, 9), 4, 0, i);
            counts[((u128::from(h) * 64) >> 64) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (32..=100).contains(&c)),
            "{counts:?}"
        );
    }
}
