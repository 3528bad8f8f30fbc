//! Full-width time differences: offsets beyond NTP's ±68-year window.
//!
//! [`NtpDuration`] is 32.32 and saturates at ±2^31 s. The four-timestamp offset
//! `((T2 − T1) + (T3 − T4)) / 2` sums two differences of about the offset each, so a
//! 32.32 sum saturates for any offset beyond 2^30 s (34 years): a box that wakes in
//! 1970 would step by exactly 2^30 s and stay 22 years wrong. [`WideDuration`] holds
//! the same 2^-32 s units in an `i128` (±2^95 s), so sums and steps carry the full
//! offset.
//!
//! What stays limited is the wire: a timestamp carries 32 bits of seconds and no era.
//! [`offset_and_delay`] reads each difference `T2 − T1`, `T3 − T4` as the nearest
//! (RFC 5905 §6), which is exact when the true offset is within ±2^31 s (68 years)
//! less half the round trip, wherever the two clocks are (either side of an era
//! boundary, a clock in 1970 against a server in 2036). Beyond that only a port that
//! knows its clock's full width (Unix time from `clock_gettime`) and resolves the
//! server's timestamps against a basedate ([`NtpTimestamp::to_unix_in_window`]) can
//! measure exactly; `slewctl date` does.

use core::fmt;
use core::ops::{Add, Neg, Sub};

use super::{NtpDuration, NtpTimestamp};

const FRAC_PER_S: f64 = 4_294_967_296.0;
const NANOS_PER_S: i128 = 1_000_000_000;

/// A signed span of time in 2^-32 s units, held in an `i128` (about ±2^95 s).
///
/// Arithmetic saturates at the `i128` bounds, which no clock reaches.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct WideDuration(i128);

impl WideDuration {
    /// Zero length.
    pub const ZERO: Self = Self(0);

    /// From raw 2^-32 s units.
    pub const fn from_bits(bits: i128) -> Self {
        Self(bits)
    }

    /// The raw 2^-32 s units.
    pub const fn to_bits(self) -> i128 {
        self.0
    }

    /// From whole seconds (any `i64`).
    pub const fn from_seconds(s: i64) -> Self {
        Self((s as i128) << 32)
    }

    /// From seconds as a float; NaN becomes zero, infinities saturate.
    pub fn from_seconds_f64(s: f64) -> Self {
        // `as` from float to int saturates and maps NaN to 0.
        Self((s * FRAC_PER_S) as i128)
    }

    /// Seconds as a float (53 bits: a 2^35 s offset keeps about 4 µs).
    pub fn to_seconds_f64(self) -> f64 {
        self.0 as f64 / FRAC_PER_S
    }

    /// From nanoseconds, rounded to the nearest unit (exact back to nanoseconds).
    pub fn from_nanos(ns: i128) -> Self {
        let scaled = ns.saturating_mul(1 << 32);
        Self((scaled + NANOS_PER_S / 2).div_euclid(NANOS_PER_S))
    }

    /// Nanoseconds, rounded to nearest.
    pub fn to_nanos(self) -> i128 {
        (self.0.saturating_mul(NANOS_PER_S) + (1 << 31)) >> 32
    }

    /// Half the span (for the offset formula), rounding towards negative infinity.
    pub const fn half(self) -> Self {
        Self(self.0 >> 1)
    }

    /// Absolute value.
    pub const fn abs(self) -> Self {
        Self(self.0.saturating_abs())
    }

    /// True when negative.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// As a 32.32 duration, saturating at ±2^31 s (for figures that are small by
    /// nature, such as a round-trip delay).
    pub fn to_duration_saturating(self) -> NtpDuration {
        NtpDuration::from_bits(self.0.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }
}

impl From<NtpDuration> for WideDuration {
    fn from(d: NtpDuration) -> Self {
        Self(d.to_bits() as i128)
    }
}

impl Add for WideDuration {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }
}

impl Sub for WideDuration {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Self(self.0.saturating_sub(rhs.0))
    }
}

impl Neg for WideDuration {
    type Output = Self;
    fn neg(self) -> Self {
        Self(self.0.saturating_neg())
    }
}

impl Add<WideDuration> for NtpTimestamp {
    type Output = NtpTimestamp;
    /// Wraps modulo the era, like the wire format: the era is not carried.
    fn add(self, rhs: WideDuration) -> Self {
        NtpTimestamp::from_bits(self.to_bits().wrapping_add(rhs.0 as u64))
    }
}

impl fmt::Debug for WideDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WideDuration({self})")
    }
}

impl fmt::Display for WideDuration {
    /// Signed seconds with six decimals, exact at any size (no float on the way).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.to_nanos();
        // Round half away from zero to microseconds.
        let us = (us.abs() + 500) / 1000 * us.signum();
        let sign = if us < 0 { '-' } else { '+' };
        let a = us.unsigned_abs();
        write!(f, "{sign}{}.{:06} s", a / 1_000_000, a % 1_000_000)
    }
}

impl NtpTimestamp {
    /// To Unix time in the era window that starts at `basedate_unix_s`: the one
    /// instant in `[basedate, basedate + 2^32 s)` with these bits. This is how a
    /// server's timestamps are resolved without trusting the local clock (chrony
    /// splits the eras at its build time less 50 years, ntpsec at its `basedate`).
    /// Returns (seconds, nanoseconds).
    pub fn to_unix_in_window(self, basedate_unix_s: i64) -> (i64, u32) {
        let base = NtpTimestamp::from_unix(basedate_unix_s, 0);
        // Unsigned: the distance forward from the window's start, 0 to 2^32 s.
        let ahead = self.to_bits().wrapping_sub(base.to_bits());
        let ahead_ns = (ahead as i128 * NANOS_PER_S + (1 << 31)) >> 32;
        let total = basedate_unix_s as i128 * NANOS_PER_S + ahead_ns;
        (
            total.div_euclid(NANOS_PER_S) as i64,
            total.rem_euclid(NANOS_PER_S) as u32,
        )
    }
}

/// Offset and delay from the four timestamps of an exchange (RFC 5905 §8), with no
/// saturating intermediate: each difference is read as the nearest (wrapping, signed)
/// and the two are summed at full width. Exact while |offset| + delay/2 < 2^31 s,
/// wherever the two clocks stand (either side of an era boundary). Nothing working
/// from era-less timestamps alone can do better: beyond that the offset is known
/// modulo 2^32 s, and only a port that keeps its clock at full width can resolve it
/// (slew-linux resolves a kernel clock's step into its basedate window, and
/// `slewctl date` measures at full width).
pub fn offset_and_delay(
    t1: NtpTimestamp,
    t2: NtpTimestamp,
    t3: NtpTimestamp,
    t4: NtpTimestamp,
) -> (WideDuration, WideDuration) {
    let (a, b) = (WideDuration::from(t2 - t1), WideDuration::from(t3 - t4));
    let offset = (a + b).half();
    let delay = WideDuration::from(t4 - t1) - WideDuration::from(t3 - t2);
    (offset, delay)
}

#[cfg(test)]
#[path = "time_wide_tests.rs"]
mod tests;
