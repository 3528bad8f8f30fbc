//! Reference clocks: sources whose time comes from local hardware (a GPS receiver, a
//! PPS signal, another program writing ntpd's shared-memory segment) rather than
//! from packets. A port reads the hardware; the core keeps the protocol policy.
//!
//! The pieces, each its own stage:
//!
//! | module | does |
//! |---|---|
//! | [`nmea`] | NMEA 0183 framing, checksum, RMC/GGA/GLL/ZDA parsing (any talker) |
//! | [`nmea_mode`] | ntpd's NMEA driver without I/O: `mode` bits, one sample a second |
//! | [`shm`] | ntpd's `shmTime` record: the checks on a copy the port took |
//! | [`filter`] | ntpd's refclock median filter: a poll's samples, outliers trimmed |
//! | [`source`] | the refclock as a source: poll, reach, fudge, what selection sees |
//! | [`config`] | `server 127.127.T.U …` and `fudge 127.127.T.U …` lines |
//!
//! The flow: the port timestamps what the hardware says and hands the core
//! [`RefSample`]s (receive time, reference time); [`source::RefclockSource`] applies
//! the driver's fudge, collects them in its [`filter::MedianFilter`], and at each
//! poll yields a [`crate::filter::FilterSample`] with zero delay and the median
//! filter's jitter as dispersion, stratum 0 (unless fudged) and the driver's refid:
//! what the association's clock filter and selection take from a server.

pub mod civil;
pub mod config;
pub mod filter;
pub mod nmea;
pub mod nmea_mode;
pub mod shm;
pub mod source;

use crate::clock::LeapIndicator;
use crate::time::NtpTimestamp;

/// A wall-clock time as Unix seconds and nanoseconds: what `clock_gettime`,
/// `struct shmTime` and a receiver's UTC date speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime {
    /// Seconds since 1970-01-01 00:00:00 UTC.
    pub secs: i64,
    /// Nanoseconds, 0–999 999 999.
    pub nanos: u32,
}

impl UnixTime {
    /// From seconds and nanoseconds (nanoseconds above a second carry over).
    pub const fn new(secs: i64, nanos: u32) -> Self {
        Self {
            secs: secs.saturating_add((nanos / 1_000_000_000) as i64),
            nanos: nanos % 1_000_000_000,
        }
    }

    /// `self - earlier`, seconds (exact to the nanosecond for spans below ~100 days).
    pub fn diff_s(self, earlier: UnixTime) -> f64 {
        let ds = self.secs.saturating_sub(earlier.secs) as f64;
        let dn = f64::from(self.nanos) - f64::from(earlier.nanos);
        ds + dn * 1e-9
    }

    /// Plus (or minus) seconds.
    pub fn add_s(self, s: f64) -> UnixTime {
        let whole = libm::floor(s);
        let mut secs = self.secs.saturating_add(whole as i64);
        let mut nanos = i64::from(self.nanos) + libm::round((s - whole) * 1e9) as i64;
        if nanos >= 1_000_000_000 {
            nanos -= 1_000_000_000;
            secs = secs.saturating_add(1);
        }
        UnixTime {
            secs,
            nanos: nanos.clamp(0, 999_999_999) as u32,
        }
    }

    /// The instant of an NTP timestamp, taking the era nearest `pivot_unix_s` (what
    /// a port without a Unix clock, such as an appliance's software clock, has).
    pub fn from_ntp(ts: NtpTimestamp, pivot_unix_s: i64) -> Self {
        let (secs, nanos) = ts.to_unix(pivot_unix_s);
        Self::new(secs, nanos)
    }

    /// The NTP timestamp of this instant (era-wrapped, as on the wire).
    pub fn to_ntp(self) -> NtpTimestamp {
        NtpTimestamp::from_unix(self.secs, self.nanos)
    }
}

/// One reading of a reference clock, as the port took it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefSample {
    /// Local clock when the reading arrived (the first byte of an NMEA sentence,
    /// the receive stamp a SHM writer recorded, a PPS edge's capture).
    pub receive: UnixTime,
    /// The time the reference says it was at that moment.
    pub reference: UnixTime,
    /// Leap warning from the reference; `Unsynchronized` samples are refused.
    pub leap: LeapIndicator,
}

impl RefSample {
    /// Raw offset, seconds: reference minus local, so positive means the local clock
    /// is behind (the sign of an NTP offset).
    pub fn offset_s(&self) -> f64 {
        self.reference.diff_s(self.receive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_time_arithmetic() {
        let a = UnixTime::new(100, 900_000_000);
        let b = a.add_s(0.2);
        assert_eq!(b, UnixTime::new(101, 100_000_000));
        assert!((b.diff_s(a) - 0.2).abs() < 1e-12);
        let c = a.add_s(-1.95);
        assert_eq!(c, UnixTime::new(98, 950_000_000));
        assert_eq!(
            UnixTime::new(1, 2_500_000_000),
            UnixTime::new(3, 500_000_000)
        );
        let s = RefSample {
            receive: a,
            reference: a.add_s(0.040),
            leap: LeapIndicator::NoWarning,
        };
        assert!((s.offset_s() - 0.040).abs() < 1e-9);
        let u = UnixTime::new(1_796_083_200, 250_000_000);
        assert_eq!(UnixTime::from_ntp(u.to_ntp(), 1_796_000_000), u);
    }
}
