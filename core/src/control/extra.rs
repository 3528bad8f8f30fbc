//! The rest of what ntpq asks besides `rv` and `pe`: counters (`sysstats`,
//! `iostats`, `authinfo`, `monstats`), the kernel's clock state (`kerninfo`), the
//! system peer (`sysinfo`) and the monitor list (`mrulist`). Plain data, copied out
//! by the port when a query asks; [`Extras::NONE`] answers every variable with zero.

use core::net::SocketAddr;

use crate::server::ServerStats;
use crate::time::NtpTimestamp;

/// The kernel's clock state, as `adjtimex(2)` with `modes = 0` reports it (Linux's
/// `struct timex`, fields unconverted). ntpq's `kerninfo` shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelState {
    /// Remaining offset: µs, or ns when `status` has `STA_NANO`.
    pub offset: i64,
    /// Frequency offset, ppm scaled by 2^16.
    pub freq: i64,
    /// Maximum error, µs.
    pub maxerror: i64,
    /// Estimated error, µs.
    pub esterror: i64,
    /// `STA_*` bits.
    pub status: i32,
    /// PLL time constant.
    pub constant: i64,
    /// Clock precision, µs.
    pub precision: i64,
    /// Frequency tolerance, ppm scaled by 2^16.
    pub tolerance: i64,
    /// PPS frequency, ppm scaled by 2^16.
    pub ppsfreq: i64,
    /// PPS jitter: µs, or ns with `STA_NANO`.
    pub jitter: i64,
    /// PPS interval, log2 s (0: no PPS).
    pub shift: i32,
    /// PPS stability, ppm scaled by 2^16.
    pub stabil: i64,
    /// PPS jitter limit exceeded.
    pub jitcnt: i64,
    /// PPS calibration intervals.
    pub calcnt: i64,
    /// PPS calibration errors.
    pub errcnt: i64,
    /// PPS stability limit exceeded.
    pub stbcnt: i64,
}

/// `STA_NANO`: offset and jitter are in nanoseconds.
pub const STA_NANO: i32 = 0x2000;

/// ntpd's words for the `STA_*` bits, lowest bit first (ntpsec's `k_st_bits`).
pub const STA_WORDS: [&str; 16] = [
    "pll",
    "ppsfreq",
    "ppstime",
    "fll",
    "ins",
    "del",
    "unsync",
    "freqhold",
    "ppssignal",
    "ppsjitter",
    "ppswander",
    "ppserror",
    "clockerr",
    "nano",
    "mode=fll",
    "src=B",
];

impl KernelState {
    /// A field in `offset`'s or `jitter`'s unit, as milliseconds.
    pub fn fine_ms(&self, v: i64) -> f64 {
        if self.status & STA_NANO != 0 {
            v as f64 / 1e6
        } else {
            v as f64 / 1e3
        }
    }
}

/// The input and output counters of the daemon (ntpq's `iostats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoCounters {
    /// Seconds since the counters started (`iostats_reset`).
    pub since_reset_s: u64,
    /// Receive buffers (`total_rbuf`): the datagram slots of the receive batches.
    pub total_rbuf: u64,
    /// Of those, free between two reads (`free_rbuf`).
    pub free_rbuf: u64,
    /// Datagrams dropped on input (`io_dropped`): cut short by the receive buffer.
    pub dropped: u64,
    /// Datagrams ignored on input (`io_ignored`).
    pub ignored: u64,
    /// Datagrams received, on every socket (`io_received`).
    pub received: u64,
    /// Datagrams sent (`io_sent`).
    pub sent: u64,
    /// Datagrams that could not be sent (`io_sendfailed`).
    pub send_failed: u64,
    /// Input wake-ups (`io_wakeups`): reads of a readable socket.
    pub wakeups: u64,
    /// Of those, the ones that found a datagram (`io_goodwakeups`).
    pub good_wakeups: u64,
}

/// The monitor list's figures (ntpq's `monstats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonitorCounters {
    /// ntpd's `mon_enabled` bits: 1 monitoring on, 2 needed by `limited`; 0 off.
    pub enabled: u32,
    /// Hash buckets of the table.
    pub hash_slots: u64,
    /// Clients in the table.
    pub depth: u64,
    /// Most clients ever in the table.
    pub deepest: u64,
    /// Capacity, in clients.
    pub max_depth: u64,
    /// ntpd reclaims entries older than `maxage` only above this many; slew recycles
    /// a bucket's least recent client only when the bucket is full: 0.
    pub min_depth: u64,
    /// ntpd's `mru maxage`; slew has no age limit: 0.
    pub max_age_s: u64,
    /// ntpd's `mru minage`; 0.
    pub min_age_s: u64,
    /// Bytes per entry (for `mru_mem` and `mru_maxmem`, in KiB).
    pub entry_bytes: u64,
    /// Packets from clients already in the table.
    pub exists: u64,
    /// Clients that took a free slot.
    pub new: u64,
    /// Clients recycled for age: 0 (slew has no age limit).
    pub recycle_old: u64,
    /// Clients that pushed another out of a full bucket.
    pub recycle_full: u64,
    /// Packets that found no slot at all: 0 (a bucket always has one to recycle).
    pub none: u64,
    /// Seconds since the least recently seen client's last packet.
    pub oldest_age_s: u64,
}

/// The symmetric-key figures (ntpq's `authinfo`) besides the server path's MAC
/// counters ([`ServerStats::mac`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCounters {
    /// Seconds since the counters started (`authreset`).
    pub since_reset_s: u64,
    /// Keys loaded (`authkeys`).
    pub keys: u64,
    /// Room for more keys (`authfreek`).
    pub free: u64,
}

/// One client of the monitor list, in wall time (ntpq's `mrulist` row).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MruEntry {
    /// Its address and last source port.
    pub addr: SocketAddr,
    /// Its first packet.
    pub first: NtpTimestamp,
    /// Its last packet.
    pub last: NtpTimestamp,
    /// Packets seen.
    pub count: u32,
    /// Mode and version of the last packet (`version << 3 | mode`).
    pub mode_version: u8,
    /// ntpd `RES_*` restrict bits.
    pub restrict: u16,
    /// Bucket fill, in packets (see `slew_core::ratelimit::MonitorSlot::score`).
    pub score: f64,
    /// Packets over the limit.
    pub dropped: u32,
}

/// What a READ_MRU or REQ_NONCE request needs besides the entries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MruContext<'a> {
    /// The monitor list, least recently seen first (ntpd's order on the wire).
    pub entries: &'a [MruEntry],
    /// The secret the nonces are keyed with: random, from the port, at start.
    pub nonce_key: [u8; 16],
    /// Who asked: a nonce is valid only for the address and port it was given to.
    pub client: SocketAddr,
    /// When the request arrived (the nonce's timestamp), wall time.
    pub received: NtpTimestamp,
    /// `restrict` lets this client read the list (not `nomrulist`).
    pub allowed: bool,
}

/// Everything the responder reports beyond the system and peer snapshots.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extras<'a> {
    /// The system peer's address (`peeradr`), `None` for none (or the local clock:
    /// ntpd sends `0.0.0.0:0` unless the peer has a socket).
    pub sys_peer: Option<SocketAddr>,
    /// Our mode towards it (`peermode`), 0 for none.
    pub sys_peer_mode: u8,
    /// Root distance, seconds (`rootdist`).
    pub root_distance_s: f64,
    /// Seconds since start (`ss_uptime`).
    pub uptime_s: u64,
    /// Seconds since the server counters started (`ss_reset`).
    pub stats_since_s: u64,
    /// Control requests received (`ss_numctlreq`).
    pub control_requests: u64,
    /// The server path's counters, all threads together.
    pub server: ServerStats,
    /// Input and output.
    pub io: IoCounters,
    /// Keys.
    pub keys: KeyCounters,
    /// The monitor list's figures.
    pub monitor: MonitorCounters,
    /// The kernel's clock state; all zero when it cannot be read.
    pub kernel: KernelState,
    /// For `mrulist`; `None`: READ_MRU and REQ_NONCE get BADOP.
    pub mru: Option<MruContext<'a>>,
}

impl Extras<'static> {
    /// No system peer, every counter zero, no monitor list.
    pub const NONE: Extras<'static> = Extras {
        sys_peer: None,
        sys_peer_mode: 0,
        root_distance_s: 0.0,
        uptime_s: 0,
        stats_since_s: 0,
        control_requests: 0,
        server: ServerStats::ZERO,
        io: IoCounters {
            since_reset_s: 0,
            total_rbuf: 0,
            free_rbuf: 0,
            dropped: 0,
            ignored: 0,
            received: 0,
            sent: 0,
            send_failed: 0,
            wakeups: 0,
            good_wakeups: 0,
        },
        keys: KeyCounters {
            since_reset_s: 0,
            keys: 0,
            free: 0,
        },
        monitor: MonitorCounters {
            enabled: 0,
            hash_slots: 0,
            depth: 0,
            deepest: 0,
            max_depth: 0,
            min_depth: 0,
            max_age_s: 0,
            min_age_s: 0,
            entry_bytes: 0,
            exists: 0,
            new: 0,
            recycle_old: 0,
            recycle_full: 0,
            none: 0,
            oldest_age_s: 0,
        },
        kernel: KernelState {
            offset: 0,
            freq: 0,
            maxerror: 0,
            esterror: 0,
            status: 0,
            constant: 0,
            precision: 0,
            tolerance: 0,
            ppsfreq: 0,
            jitter: 0,
            shift: 0,
            stabil: 0,
            jitcnt: 0,
            calcnt: 0,
            errcnt: 0,
            stbcnt: 0,
        },
        mru: None,
    };
}
