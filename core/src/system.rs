//! System variables: what this node tells its clients about its own time (RFC 5905
//! §11.2.3), and the three situations a server can be in.
//!
//! - **Synchronised** to an upstream source: stratum = the source's + 1, refid = the
//!   source's address (or its hash for IPv6), root delay and dispersion accumulated.
//! - **Local clock** (ntp.conf's `server 127.127.1.0` + `fudge 127.127.1.0 stratum 10`):
//!   nothing better is available, so the node serves its own clock as a stratum-10
//!   reference; clients see stratum 11 and refid `LOCL`, as with ntpd's LOCAL(0).
//! - **Unsynchronised**: no source at all. Leap = 3 (alarm) and stratum 16, which every
//!   correct client rejects.

use crate::clock::LeapIndicator;
use crate::time::{NtpDuration, NtpTimestamp, PollInterval};
use crate::wire::RefId;

/// The highest stratum a client may synchronise to is 15; 16 means unsynchronised.
pub const MAXSTRAT: u8 = 16;

/// Frequency tolerance: how fast dispersion grows with age, s/s (RFC 5905 PHI).
pub const PHI: f64 = 15e-6;

/// The dispersion a fresh local-clock reference claims, seconds. ntpd's LOCAL(0)
/// driver reports a small fixed dispersion; slew uses RFC 5905's MINDISP of 10 ms.
pub const LOCAL_CLOCK_DISPERSION_S: f64 = 0.01;

/// The variables a server copies into each answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SystemVars {
    /// Leap indicator; `Unsynchronized` while there is no time source.
    pub leap: LeapIndicator,
    /// This node's stratum (1..=15), or 16 when unsynchronised.
    pub stratum: u8,
    /// log2 seconds of the clock's reading precision.
    pub precision: i8,
    /// Round-trip delay to the primary reference.
    pub root_delay: NtpDuration,
    /// Dispersion to the primary reference at `reference_time`.
    pub root_dispersion: NtpDuration,
    /// The system peer's refid (address or hash), `LOCL`, or `INIT` when unsynchronised.
    pub ref_id: RefId,
    /// When the clock was last updated.
    pub reference_time: NtpTimestamp,
    /// The system poll interval, for monitoring (`tc`).
    pub poll: PollInterval,
}

impl SystemVars {
    /// No time source: leap = 3, stratum 16, refid `INIT` (ntpd's start-up value).
    pub const fn unsynchronized(precision: i8) -> Self {
        Self {
            leap: LeapIndicator::Unsynchronized,
            stratum: MAXSTRAT,
            precision,
            root_delay: NtpDuration::ZERO,
            root_dispersion: NtpDuration::ZERO,
            ref_id: RefId::INIT,
            reference_time: NtpTimestamp::ZERO,
            poll: PollInterval::DEFAULT_MIN,
        }
    }

    /// The local clock as a reference of `fudge_stratum` (10 in the article's
    /// ntp.conf): this node serves at `fudge_stratum + 1` with refid `LOCL`, updated
    /// at `now`.
    pub fn local_clock(precision: i8, fudge_stratum: u8, now: NtpTimestamp) -> Self {
        Self {
            leap: LeapIndicator::NoWarning,
            stratum: fudge_stratum.saturating_add(1).min(MAXSTRAT),
            precision,
            root_delay: NtpDuration::ZERO,
            root_dispersion: NtpDuration::from_seconds_f64(LOCAL_CLOCK_DISPERSION_S),
            ref_id: RefId::LOCL,
            reference_time: now,
            poll: PollInterval::DEFAULT_MIN,
        }
    }

    /// True when clients may synchronise to this node.
    pub fn is_synchronized(&self) -> bool {
        self.leap != LeapIndicator::Unsynchronized && self.stratum < MAXSTRAT
    }

    /// Root dispersion as of `now`: the value at the last update plus PHI for each
    /// second since, so an answer never claims more certainty than the clock has.
    pub fn root_dispersion_at(&self, now: NtpTimestamp) -> NtpDuration {
        if !self.is_synchronized() || self.reference_time.is_zero() {
            return self.root_dispersion;
        }
        let age_s = (now - self.reference_time).to_seconds_f64().max(0.0);
        self.root_dispersion + NtpDuration::from_seconds_f64(PHI * age_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynchronized_is_stratum_16_leap_3() {
        let s = SystemVars::unsynchronized(-20);
        assert_eq!(s.stratum, 16);
        assert_eq!(s.leap, LeapIndicator::Unsynchronized);
        assert!(!s.is_synchronized());
    }

    #[test]
    fn local_clock_serves_one_below_fudged_stratum() {
        let now = NtpTimestamp::from_unix(1_800_000_000, 0);
        let s = SystemVars::local_clock(-20, 10, now);
        assert_eq!(s.stratum, 11);
        assert_eq!(s.ref_id.to_bytes(), *b"LOCL");
        assert!(s.is_synchronized());
        // A fudged stratum of 15 or more cannot make a usable server.
        assert_eq!(SystemVars::local_clock(-20, 15, now).stratum, 16);
        assert_eq!(SystemVars::local_clock(-20, 255, now).stratum, 16);
    }

    #[test]
    fn dispersion_grows_with_age() {
        let t0 = NtpTimestamp::from_unix(1_800_000_000, 0);
        let s = SystemVars::local_clock(-20, 10, t0);
        let later = t0 + NtpDuration::from_seconds(1000);
        let grown = s.root_dispersion_at(later).to_seconds_f64();
        assert!((grown - (LOCAL_CLOCK_DISPERSION_S + 1000.0 * PHI)).abs() < 1e-6);
        // Never shrinks for a timestamp before the update.
        assert!(s.root_dispersion_at(t0 - NtpDuration::from_seconds(5)) >= s.root_dispersion);
    }
}
