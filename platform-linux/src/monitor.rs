//! Answering mode 6 control queries (`ntpq`, `ntpstat`, `slewctl`) in `slewd`.
//!
//! slew-core's [`Responder`] decides what to answer; this module decides whether:
//!
//! - only from loopback addresses, as ntpsec's default `restrict default noquery`
//!   leaves it (an answer can be 30 times the size of its request: open to the world
//!   it would be an amplifier);
//! - at most [`QUERY_BURST`] queries at once and [`QUERY_RATE_PER_S`] a second
//!   sustained, all sources together; beyond that, silence;
//! - mode 7 (ntpdc) never reaches this module: the time server drops it.
//!
//! The daemon hands over its state through [`SnapshotSource`], only when a query is
//! to be answered, so the time-serving path pays nothing for monitoring.

use std::net::{IpAddr, SocketAddr};

use slew_core::control::{PeerSnapshot, Responder, SystemSnapshot, CONTROL_MAX_PACKET};
use slew_core::Instant;

use crate::net::NtpSocket;
use crate::ratelog::RateLimitedLog;

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
/// `identity`) and one [`PeerSnapshot`] per association, then calls `answer` with
/// them. It runs only for queries that will be answered.
pub trait SnapshotSource {
    /// Builds the snapshots and passes them to `answer`.
    fn with_snapshots(
        &self,
        identity: &Identity,
        answer: &mut dyn FnMut(&SystemSnapshot<'_>, &[PeerSnapshot<'_>]),
    );
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

/// The control handler of `slewd`.
#[derive(Debug)]
pub struct Monitor {
    identity: Identity,
    tokens: f64,
    last_refill: Instant,
    stats: MonitorStats,
    log: RateLimitedLog,
    tx: Box<[u8; CONTROL_MAX_PACKET]>,
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

    /// Loopback, including IPv4-mapped loopback on an IPv6 socket: always allowed to
    /// query (unless `restrict … noquery` says otherwise).
    pub fn allowed(from: &SocketAddr) -> bool {
        match from.ip() {
            IpAddr::V4(a) => a.is_loopback(),
            IpAddr::V6(a) => {
                a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
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

    /// Handles one mode 6 datagram that arrived on `socket` from `from`.
    pub fn handle(
        &mut self,
        socket: &NtpSocket,
        from: SocketAddr,
        request: &[u8],
        now: Instant,
        source: &dyn SnapshotSource,
    ) {
        // Who may query is decided before (serve.rs: loopback, or a source a
        // restrict line names without noquery); here only the rate.
        if !self.admit(now) {
            self.stats.rate_limited += 1;
            return;
        }
        let Self {
            identity,
            tx,
            stats,
            log,
            ..
        } = self;
        source.with_snapshots(identity, &mut |sys, peers| {
            let Some(mut responder) = Responder::new(request, sys, peers) else {
                stats.malformed += 1;
                return;
            };
            stats.answered += 1;
            while let Some(len) = responder.next_fragment(&mut tx[..]) {
                let bytes = tx.get(..len).unwrap_or_default();
                if let Err(e) = socket.send_to(bytes, from) {
                    log.warn("control-send", format_args!("cannot answer {from}: {e}"));
                    break;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_loopback_may_query() {
        for ok in [
            "127.0.0.1:5000",
            "127.1.2.3:1",
            "[::1]:5000",
            "[::ffff:127.0.0.1]:9",
        ] {
            assert!(Monitor::allowed(&ok.parse().unwrap()), "{ok}");
        }
        for no in [
            "192.0.2.1:123",
            "[2001:db8::1]:123",
            "[::ffff:192.0.2.1]:9",
            "0.0.0.0:1",
        ] {
            assert!(!Monitor::allowed(&no.parse().unwrap()), "{no}");
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
