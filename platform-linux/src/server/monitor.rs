//! Answering mode 6 control queries (`ntpq`, `ntpstat`, `slewctl`) in `slewd`.
//!
//! slew-core's [`Responder`] decides what to answer; this module decides whether:
//!
//! - who may ask is slew-core's decision, made before a query gets here: loopback,
//!   or a source a `restrict` line more specific than `default` names, never under
//!   `noquery` (an answer can be 30 times the size of its request: open to the
//!   world it would be an amplifier);
//! - at most [`QUERY_BURST`] queries at once and [`QUERY_RATE_PER_S`] a second
//!   sustained, all sources together; beyond that, silence;
//! - mode 7 (ntpdc) never reaches this module: the time server drops it.
//!
//! The daemon hands over its state through [`SnapshotSource`], only when a query is
//! to be answered, so the time-serving path pays nothing for monitoring.

use std::net::SocketAddr;

use slew_core::control::{
    Extras, IoCounters, KeyCounters, MruContext, PeerVars, Responder, SystemSnapshot,
    CONTROL_MAX_PACKET,
};
use slew_core::server::ServerStats;
use slew_core::wire::control::Opcode;
use slew_core::{Instant, NtpTimestamp};

use crate::server::guard::{Guard, MAX_KEYS};

use crate::os::net::NtpSocket;
use crate::os::ratelog::RateLimitedLog;

/// Queries allowed in a burst.
pub const QUERY_BURST: f64 = 40.0;
/// Queries allowed per second, sustained. `ntpq -p` sends one per association plus
/// one; a monitoring system polling every few seconds stays far below.
pub const QUERY_RATE_PER_S: f64 = 20.0;

/// Who slewd is, for `version`, `processor` and `system`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `slew 0.1.0`.
    pub version: String,
    /// The CPU architecture.
    pub processor: String,
    /// `Linux/<release>`.
    pub system: String,
}

impl Identity {
    /// This build on this kernel (the release from `/proc`, which needs no libc call
    /// that a simulator would have to know about).
    pub fn current() -> Self {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Self {
            version: format!("slew {}", env!("CARGO_PKG_VERSION")),
            processor: std::env::consts::ARCH.to_string(),
            system: format!("Linux/{}", release.trim()),
        }
    }
}

/// The daemon's side of the seam: produce the snapshots for one query.
///
/// `with_snapshots` builds a [`SystemSnapshot`] (borrowing the strings of
/// `identity`) and one [`PeerVars`] per association, then calls `answer` with
/// them. It runs only for queries that will be answered.
pub trait SnapshotSource {
    /// Builds the snapshots and passes them to `answer`.
    fn with_snapshots(
        &self,
        identity: &Identity,
        answer: &mut dyn FnMut(&SystemSnapshot<'_>, &[PeerVars]),
    );

    /// The system peer's address and our mode towards it, for `sysinfo`'s
    /// `peeradr`/`peermode` (`None`: no system peer; the local clock answers
    /// `0.0.0.0:0` with mode 3, as ntpd's LOCAL(0), which has no socket).
    fn system_peer(&self) -> (Option<SocketAddr>, u8) {
        (None, 0)
    }

    /// Root distance, seconds (`rootdist`).
    fn root_distance_s(&self) -> f64 {
        0.0
    }

    /// Seconds since the daemon started.
    fn uptime_s(&self) -> u64 {
        0
    }

    /// The daemon clock's wall time for this query (nonces, `mrulist` times).
    fn wall_now(&self) -> NtpTimestamp {
        NtpTimestamp::ZERO
    }
}

/// What the server path knows, for `sysstats`, `iostats`, `authinfo`, `monstats`
/// and `mrulist`: copied when a query is handled.
#[derive(Debug, Clone, Copy)]
pub struct ServeState<'a> {
    /// The server counters, all threads together.
    pub server: ServerStats,
    /// Input and output counters (the control path's own are added here).
    pub io: IoCounters,
    /// The restrict table, rate limiter (the monitor list) and keys.
    pub guard: &'a Guard,
}

/// Counters of the control path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonitorStats {
    /// Queries answered (each may take several datagrams).
    pub answered: u64,
    /// Queries over the rate limit.
    pub rate_limited: u64,
    /// Datagrams that were no valid request.
    pub malformed: u64,
}

/// The control path's datagrams out, for `iostats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SendStats {
    sent: u64,
    failed: u64,
}

/// The control handler of `slewd`.
#[derive(Debug)]
pub struct Monitor {
    identity: Identity,
    tokens: f64,
    last_refill: Instant,
    stats: MonitorStats,
    log: RateLimitedLog,
    tx: Box<[u8; CONTROL_MAX_PACKET]>,
    /// The secret `mrulist` nonces are keyed with (random, for the daemon's life).
    nonce_key: [u8; 16],
    started: Instant,
    out: SendStats,
}

impl Monitor {
    /// A handler with a full token bucket.
    pub fn new(identity: Identity, now: Instant) -> Self {
        Self {
            identity,
            tokens: QUERY_BURST,
            last_refill: now,
            stats: MonitorStats::default(),
            log: RateLimitedLog::new(5, 60),
            tx: Box::new([0; CONTROL_MAX_PACKET]),
            nonce_key: crate::server::guard::random_seed(),
            started: now,
            out: SendStats::default(),
        }
    }

    /// Writes the rate-limited log's summaries whose window has ended (every turn).
    pub fn flush_log(&mut self) {
        self.log.flush();
    }

    /// When the next such summary is due; `None` when none is pending.
    pub fn log_due(&self) -> Option<std::time::Instant> {
        self.log.next_flush()
    }

    /// Control requests received (`ss_numctlreq`): answered or not.
    pub fn requests(&self) -> u64 {
        let m = self.stats;
        m.answered + m.rate_limited + m.malformed
    }

    /// The counters.
    pub fn stats(&self) -> MonitorStats {
        self.stats
    }

    /// Logs the counters (at exit), when there were any queries.
    pub fn log_stats(&self) {
        let m = self.stats;
        if m.answered + m.rate_limited + m.malformed > 0 {
            log::info!(
                "mode 6: answered {}, rate limited {}, malformed {} (refusals count as restrict_noquery drops)",
                m.answered,
                m.rate_limited,
                m.malformed
            );
        }
    }

    /// Takes one token if there is one.
    fn admit(&mut self, now: Instant) -> bool {
        let elapsed_s = now.saturating_since(self.last_refill).as_secs_f64();
        self.last_refill = now;
        self.tokens = (self.tokens + elapsed_s * QUERY_RATE_PER_S).min(QUERY_BURST);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Handles one mode 6 datagram that arrived on `socket` from `from`; `serve` is
    /// what the server path counted and guards.
    pub fn handle(
        &mut self,
        socket: &NtpSocket,
        from: SocketAddr,
        request: &[u8],
        now: Instant,
        source: &dyn SnapshotSource,
        serve: &ServeState<'_>,
    ) {
        // Who may query is decided before (serve.rs: loopback, or a source a
        // restrict line names without noquery); here only the rate.
        if !self.admit(now) {
            self.stats.rate_limited += 1;
            return;
        }
        let wall_now = source.wall_now();
        let opcode = request.get(1).map(|&b| Opcode::from_bits(b));
        // The monitor list is copied only for the request that reads it.
        let entries = if opcode == Some(Opcode::ReadMru) {
            serve.guard.monitor_entries(now, wall_now)
        } else {
            Vec::new()
        };
        let (sys_peer, sys_peer_mode) = source.system_peer();
        let uptime_s = source.uptime_s();
        let keys = serve.guard.keys().len() as u64;
        // The server path counted every datagram in, mode 6 included; what went out
        // on the control path is counted here.
        let mut io = serve.io;
        io.sent += self.out.sent;
        io.send_failed += self.out.failed;
        let extras = Extras {
            sys_peer,
            sys_peer_mode,
            root_distance_s: source.root_distance_s(),
            uptime_s,
            stats_since_s: uptime_s,
            control_requests: self.requests() + 1,
            server: serve.server,
            io,
            keys: KeyCounters {
                since_reset_s: now.saturating_since(self.started).as_secs(),
                keys,
                free: (MAX_KEYS as u64).saturating_sub(keys),
            },
            monitor: serve.guard.monitor_counters(now),
            kernel: crate::os::kernel_state::read().unwrap_or_default(),
            mru: Some(MruContext {
                entries: &entries,
                nonce_key: self.nonce_key,
                client: from,
                received: wall_now,
                allowed: serve.guard.access(from).may_read_mru(),
            }),
        };
        let Self {
            identity,
            tx,
            stats,
            log,
            out,
            ..
        } = self;
        source.with_snapshots(identity, &mut |sys, peers| {
            let Some(mut responder) = Responder::with_extras(request, sys, peers, &extras) else {
                stats.malformed += 1;
                return;
            };
            stats.answered += 1;
            while let Some(len) = responder.next_fragment(&mut tx[..]) {
                let bytes = tx.get(..len).unwrap_or_default();
                if let Err(e) = socket.send_to(bytes, from) {
                    out.failed += 1;
                    log.warn("control-send", format_args!("cannot answer {from}: {e}"));
                    break;
                }
                out.sent += 1;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The rule the daemon follows, as the core decides it for the server path:
    /// loopback and sources a restrict line names may query; `noquery` refuses
    /// both; everyone else is refused.
    #[test]
    fn who_may_query_is_loopback_or_a_named_restrict_line() {
        let h = crate::settings::access::hardening_from(&crate::config::test_config(
            "restrict default nomodify\nrestrict 192.0.2.0 mask 255.255.255.0 nomodify\nrestrict 127.0.0.2 noquery\nrestrict -6 2001:db8::7\n",
        ), &crate::os::host::SystemHost)
        .unwrap();
        let guard = crate::server::guard::Guard::new(&h, [7; 16]);
        let verdict = |from: &str| {
            let from: SocketAddr = from.parse().unwrap();
            let mut server = slew_core::server::Server::new();
            let sys = slew_core::system::SystemVars::unsynchronized(-20);
            let request = [0x16u8, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
            let client = slew_core::server::Client {
                addr: from.ip(),
                port: from.port(),
                now: Instant::ZERO,
            };
            let mut tables = guard.lock();
            let mut out = [0u8; 64];
            server
                .respond_to(
                    &mut tables.policy(),
                    client,
                    &request,
                    slew_core::NtpTimestamp::ZERO,
                    &sys,
                    &mut out,
                )
                .unwrap_err()
        };
        use slew_core::server::DropReason::{Control, NoQuery};
        for (from, want) in [
            ("127.0.0.1:5000", Control),
            ("[::1]:5000", Control),
            ("[::ffff:127.0.0.1]:9", Control),
            ("192.0.2.1:123", Control),
            ("[2001:db8::7]:40000", Control),
            ("127.0.0.2:5000", NoQuery),
            ("198.51.100.1:123", NoQuery),
            ("[2001:db8::1]:123", NoQuery),
            ("0.0.0.0:1", NoQuery),
        ] {
            assert_eq!(verdict(from), want, "{from}");
        }
    }

    #[test]
    fn bucket_limits_bursts_and_refills() {
        let t0 = Instant::ZERO;
        let mut m = Monitor::new(Identity::current(), t0);
        let admitted = (0..100).filter(|_| m.admit(t0)).count();
        assert_eq!(admitted, QUERY_BURST as usize);
        assert!(!m.admit(t0));
        let later = t0.saturating_add(Duration::from_millis(500));
        let more = (0..100).filter(|_| m.admit(later)).count();
        assert_eq!(more, (QUERY_RATE_PER_S * 0.5) as usize);
    }

    #[test]
    fn identity_names_slew_and_linux() {
        let id = Identity::current();
        assert!(id.version.starts_with("slew "));
        assert!(id.system.starts_with("Linux/"));
    }
}
