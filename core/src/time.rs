//! Time types: wall time on the wire, signed differences, the 16.16 short format,
//! poll intervals and a monotonic instant.
//!
//! Wrapping and saturating rules, stated once and followed by every impl below:
//!
//! - [`NtpTimestamp`] is a point on the NTP timescale *within an era* (32 bits of
//!   seconds, 32 bits of fraction). Adding a duration wraps, as the wire format does at
//!   the era boundary (2036-02-07 06:28:16 UTC). The difference of two timestamps is
//!   taken modulo 2^64 and read as a signed value, so it is right across the boundary as
//!   long as the two points are less than 68 years apart (RFC 5905 §6).
//! - [`NtpDuration`] is signed 32.32 seconds and saturates at its bounds instead of
//!   wrapping: a hostile or broken packet can make an offset huge, never flip its sign.
//! - [`NtpShort`] (16.16, root delay and dispersion) saturates at its maximum, and a
//!   negative duration becomes zero.
//! - [`WideDuration`] is the same 2^-32 s unit in an `i128`: the four-timestamp sum
//!   (two differences of about the offset each) and the step are carried in it, so a
//!   clock 56 years off is measured and stepped whole. What remains limited is the
//!   wire's 32-bit era-less seconds: [`offset_and_delay`] is exact within ±2^31 s.

use core::fmt;
use core::ops::{Add, AddAssign, Neg, Sub, SubAssign};

#[path = "time_wide.rs"]
mod wide;
pub use wide::{offset_and_delay, WideDuration};

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const UNIX_OFFSET_S: u64 = 2_208_988_800;

/// Seconds in one NTP era (2^32).
pub const ERA_S: i64 = 1 << 32;

const FRAC_PER_S: f64 = 4_294_967_296.0;

/// An NTP timestamp: 32.32 fixed point seconds since the start of an NTP era.
///
/// Era 0 began 1900-01-01 00:00:00 UTC; era 1 begins 2036-02-07 06:28:16 UTC. The era
/// is not carried on the wire; [`NtpTimestamp::to_unix`] resolves it against a pivot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NtpTimestamp(u64);

impl NtpTimestamp {
    /// The all-zero timestamp, which the protocol uses for "unknown".
    pub const ZERO: Self = Self(0);

    /// From the 64 bits as they stand on the wire.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The 64 bits as they go on the wire.
    pub const fn to_bits(self) -> u64 {
        self.0
    }

    /// From whole seconds and a 32-bit binary fraction.
    pub const fn from_parts(seconds: u32, fraction: u32) -> Self {
        Self(((seconds as u64) << 32) | fraction as u64)
    }

    /// Whole seconds within the era.
    pub const fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The 32-bit binary fraction of a second.
    pub const fn fraction(self) -> u32 {
        self.0 as u32
    }

    /// True for the zero timestamp ("unknown" on the wire).
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// From Unix time. Any Unix second maps to exactly one point of some era; the era
    /// number is dropped, as on the wire. `nanos` above 999 999 999 is clamped.
    pub fn from_unix(unix_s: i64, nanos: u32) -> Self {
        let ntp_s = (unix_s as i128 + UNIX_OFFSET_S as i128).rem_euclid(ERA_S as i128) as u64;
        let nanos = nanos.min(999_999_999) as u64;
        // Round to the nearest fraction so that nanos -> fraction -> nanos is exact.
        let frac = ((nanos << 32) + 500_000_000) / 1_000_000_000;
        Self((ntp_s << 32).wrapping_add(frac))
    }

    /// To Unix time, choosing the era that puts the result nearest `pivot_unix_s`
    /// (RFC 5905 §6: an implementation resolves the era from a nearby known time, such
    /// as the build date or the system clock). Returns (seconds, nanoseconds).
    pub fn to_unix(self, pivot_unix_s: i64) -> (i64, u32) {
        let pivot = NtpTimestamp::from_unix(pivot_unix_s, 0);
        let delta = self - pivot;
        let nanos_total = delta.to_nanos_i128() + pivot_unix_s as i128 * 1_000_000_000;
        let secs = nanos_total.div_euclid(1_000_000_000);
        let nanos = nanos_total.rem_euclid(1_000_000_000);
        (secs as i64, nanos as u32)
    }

    /// Unix seconds as a float, resolved near `pivot_unix_s`; for logs and statistics.
    pub fn to_unix_f64(self, pivot_unix_s: i64) -> f64 {
        let (s, ns) = self.to_unix(pivot_unix_s);
        s as f64 + ns as f64 * 1e-9
    }
}

impl fmt::Debug for NtpTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtpTimestamp({:#018x})", self.0)
    }
}

impl Sub for NtpTimestamp {
    type Output = NtpDuration;
    /// Wrapping difference read as signed: right across an era boundary.
    fn sub(self, rhs: Self) -> NtpDuration {
        NtpDuration(self.0.wrapping_sub(rhs.0) as i64)
    }
}

impl Add<NtpDuration> for NtpTimestamp {
    type Output = NtpTimestamp;
    /// Wraps at the era boundary, like the wire format.
    fn add(self, rhs: NtpDuration) -> Self {
        Self(self.0.wrapping_add(rhs.0 as u64))
    }
}

impl Sub<NtpDuration> for NtpTimestamp {
    type Output = NtpTimestamp;
    fn sub(self, rhs: NtpDuration) -> Self {
        Self(self.0.wrapping_sub(rhs.0 as u64))
    }
}

impl AddAssign<NtpDuration> for NtpTimestamp {
    fn add_assign(&mut self, rhs: NtpDuration) {
        *self = *self + rhs;
    }
}

/// A signed span of time in 32.32 fixed point seconds (about ±68 years).
///
/// Arithmetic saturates at [`NtpDuration::MIN`] and [`NtpDuration::MAX`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpDuration(i64);

impl NtpDuration {
    /// Zero length.
    pub const ZERO: Self = Self(0);
    /// The longest negative span.
    pub const MIN: Self = Self(i64::MIN);
    /// The longest positive span.
    pub const MAX: Self = Self(i64::MAX);
    /// One second.
    pub const ONE_SECOND: Self = Self(1 << 32);

    /// From raw signed 32.32 bits.
    pub const fn from_bits(bits: i64) -> Self {
        Self(bits)
    }

    /// The raw signed 32.32 bits.
    pub const fn to_bits(self) -> i64 {
        self.0
    }

    /// From whole seconds, saturating.
    pub const fn from_seconds(s: i64) -> Self {
        if s > i32::MAX as i64 {
            Self::MAX
        } else if s < i32::MIN as i64 {
            Self::MIN
        } else {
            Self(s << 32)
        }
    }

    /// From seconds as a float, saturating; NaN becomes zero.
    pub fn from_seconds_f64(s: f64) -> Self {
        // `as` from float to int saturates and maps NaN to 0, which is the rule we want.
        Self((s * FRAC_PER_S) as i64)
    }

    /// Seconds as a float.
    pub fn to_seconds_f64(self) -> f64 {
        self.0 as f64 / FRAC_PER_S
    }

    /// From nanoseconds, saturating.
    pub fn from_nanos(ns: i64) -> Self {
        let bits = ((ns as i128) << 32) / 1_000_000_000;
        Self(bits.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }

    /// Nanoseconds, rounded to nearest, as i128 so no value can overflow.
    pub fn to_nanos_i128(self) -> i128 {
        (self.0 as i128 * 1_000_000_000 + (1 << 31)) >> 32
    }

    /// Nanoseconds, saturating to i64 (about ±292 years: never reached).
    pub fn to_nanos(self) -> i64 {
        self.to_nanos_i128() as i64
    }

    /// Absolute value, saturating (|MIN| becomes MAX).
    pub const fn abs(self) -> Self {
        Self(self.0.saturating_abs())
    }

    /// True when negative.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Halves the span (for the offset formula), rounding towards negative infinity.
    pub const fn half(self) -> Self {
        Self(self.0 >> 1)
    }

    /// From a `core::time::Duration`, saturating.
    pub fn from_core(d: core::time::Duration) -> Self {
        let bits = ((d.as_nanos()) << 32) / 1_000_000_000;
        Self(bits.min(i64::MAX as u128) as i64)
    }
}

impl fmt::Debug for NtpDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtpDuration({:.9} s)", self.to_seconds_f64())
    }
}

impl fmt::Display for NtpDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:+.6} s", self.to_seconds_f64())
    }
}

impl Add for NtpDuration {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }
}

impl Sub for NtpDuration {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Self(self.0.saturating_sub(rhs.0))
    }
}

impl AddAssign for NtpDuration {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl SubAssign for NtpDuration {
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

impl Neg for NtpDuration {
    type Output = Self;
    fn neg(self) -> Self {
        Self(self.0.saturating_neg())
    }
}

/// The NTP short format: unsigned 16.16 seconds, used for root delay and root
/// dispersion on the wire.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpShort(u32);

impl NtpShort {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// The largest value (about 65 536 s).
    pub const MAX: Self = Self(u32::MAX);

    /// From the 32 bits on the wire.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The 32 bits for the wire.
    pub const fn to_bits(self) -> u32 {
        self.0
    }

    /// From a duration: negative becomes zero, too large saturates. Rounds up, so a
    /// bound (dispersion, delay) is never understated.
    pub fn from_duration(d: NtpDuration) -> Self {
        if d.0 <= 0 {
            return Self::ZERO;
        }
        let bits = (d.0 as u64).div_ceil(1 << 16);
        Self(bits.min(u32::MAX as u64) as u32)
    }

    /// As a signed duration (always non-negative).
    pub const fn to_duration(self) -> NtpDuration {
        NtpDuration((self.0 as i64) << 16)
    }

    /// Seconds as a float.
    pub fn to_seconds_f64(self) -> f64 {
        self.0 as f64 / 65_536.0
    }

    /// From seconds as a float (negative and NaN become zero; saturating).
    pub fn from_seconds_f64(s: f64) -> Self {
        Self::from_duration(NtpDuration::from_seconds_f64(s))
    }
}

impl fmt::Debug for NtpShort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtpShort({:.6} s)", self.to_seconds_f64())
    }
}

/// A poll interval as log2 seconds, as on the wire (a signed 8-bit exponent).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PollInterval(i8);

impl PollInterval {
    /// The smallest interval slew will poll at (2^-7 s ≈ 8 ms), as chrony's minimum.
    pub const MIN: Self = Self(-7);
    /// ntpd's smallest configurable interval (2^3 = 8 s).
    pub const NTPD_MIN: Self = Self(3);
    /// ntpd's and RFC 5905's largest interval (2^17 s ≈ 36 h).
    pub const MAX: Self = Self(17);
    /// Default `minpoll` (64 s).
    pub const DEFAULT_MIN: Self = Self(6);
    /// Default `maxpoll` (1024 s).
    pub const DEFAULT_MAX: Self = Self(10);

    /// From log2 seconds, clamped to [`PollInterval::MIN`]..=[`PollInterval::MAX`].
    pub const fn from_log2(log2_s: i8) -> Self {
        if log2_s < Self::MIN.0 {
            Self::MIN
        } else if log2_s > Self::MAX.0 {
            Self::MAX
        } else {
            Self(log2_s)
        }
    }

    /// Log2 seconds.
    pub const fn log2(self) -> i8 {
        self.0
    }

    /// The interval in seconds as a float.
    pub fn as_seconds_f64(self) -> f64 {
        libm::ldexp(1.0, self.0 as i32)
    }

    /// The interval as a duration.
    pub const fn as_duration(self) -> NtpDuration {
        // 2^log2 seconds in 32.32: shift one second by log2 (negative shifts right).
        if self.0 >= 0 {
            NtpDuration(1i64 << (32 + self.0 as u32))
        } else {
            NtpDuration(1i64 << (32 - (-self.0) as u32))
        }
    }

    /// One step longer, not beyond `max`.
    #[must_use]
    pub fn inc(self, max: Self) -> Self {
        if self.0 < max.0 {
            Self(self.0 + 1)
        } else {
            max
        }
    }

    /// One step shorter, not below `min`.
    #[must_use]
    pub fn dec(self, min: Self) -> Self {
        if self.0 > min.0 {
            Self(self.0 - 1)
        } else {
            min
        }
    }
}

impl Default for PollInterval {
    fn default() -> Self {
        Self::DEFAULT_MIN
    }
}

/// A monotonic instant in nanoseconds since an origin the port chooses (boot, process
/// start, simulation start). Kept apart from wall time: timers run on this, and a clock
/// step never moves it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Instant {
    nanos: u64,
}

impl Instant {
    /// The origin.
    pub const ZERO: Self = Self { nanos: 0 };

    /// From nanoseconds since the origin.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self { nanos }
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// Seconds since the origin as a float.
    pub fn as_seconds_f64(self) -> f64 {
        self.nanos as f64 * 1e-9
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> core::time::Duration {
        core::time::Duration::from_nanos(self.nanos.saturating_sub(earlier.nanos))
    }

    /// `self + d`, saturating.
    #[must_use]
    pub fn saturating_add(self, d: core::time::Duration) -> Self {
        let add = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Self {
            nanos: self.nanos.saturating_add(add),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2036-02-07 06:28:16 UTC, where era 0 ends.
    const ERA1_UNIX: i64 = ERA_S - UNIX_OFFSET_S as i64;

    #[test]
    fn unix_epoch_is_ntp_2208988800() {
        let t = NtpTimestamp::from_unix(0, 0);
        assert_eq!(t.seconds() as u64, UNIX_OFFSET_S);
        assert_eq!(t.fraction(), 0);
        assert_eq!(t.to_unix(0), (0, 0));
    }

    #[test]
    fn era_boundary_difference_is_small_and_positive() {
        let before = NtpTimestamp::from_unix(ERA1_UNIX - 1, 500_000_000);
        let after = NtpTimestamp::from_unix(ERA1_UNIX + 2, 0);
        // The raw seconds wrapped to near zero.
        assert!(after.seconds() < 3);
        assert!(before.seconds() > u32::MAX - 2);
        let d = after - before;
        assert_eq!(d.to_nanos(), 2_500_000_000);
        assert_eq!((before - after).to_nanos(), -2_500_000_000);
        // Adding across the boundary wraps the same way.
        assert_eq!(before + d, after);
    }

    #[test]
    fn era_resolved_against_pivot() {
        let t = NtpTimestamp::from_unix(ERA1_UNIX + 100, 250_000_000);
        // A 2026 pivot: the nearest era for a timestamp 10 years away is era 1.
        assert_eq!(t.to_unix(1_795_000_000), (ERA1_UNIX + 100, 250_000_000));
        // The same bits with a pivot in 1906 resolve to era 0, 136 years earlier.
        let (s, _) = t.to_unix(-2_000_000_000);
        assert_eq!(s, ERA1_UNIX + 100 - ERA_S);
    }

    #[test]
    fn unix_nanos_round_trip() {
        for ns in [0u32, 1, 999, 123_456_789, 999_999_999] {
            let t = NtpTimestamp::from_unix(1_700_000_000, ns);
            assert_eq!(t.to_unix(1_700_000_000), (1_700_000_000, ns), "ns={ns}");
        }
    }

    #[test]
    fn negative_durations() {
        let a = NtpTimestamp::from_parts(100, 0);
        let b = NtpTimestamp::from_parts(101, 1 << 31);
        let d = a - b;
        assert!(d.is_negative());
        assert_eq!(d.to_seconds_f64(), -1.5);
        assert_eq!(d.abs().to_seconds_f64(), 1.5);
        assert_eq!((-d).to_seconds_f64(), 1.5);
        assert_eq!(NtpDuration::from_nanos(-1_500_000_000), d);
        assert_eq!(d.half().to_seconds_f64(), -0.75);
    }

    #[test]
    fn durations_saturate() {
        assert_eq!(NtpDuration::MAX + NtpDuration::ONE_SECOND, NtpDuration::MAX);
        assert_eq!(NtpDuration::MIN - NtpDuration::ONE_SECOND, NtpDuration::MIN);
        assert_eq!(-NtpDuration::MIN, NtpDuration::MAX);
        assert_eq!(NtpDuration::MIN.abs(), NtpDuration::MAX);
        assert_eq!(NtpDuration::from_seconds_f64(1e30), NtpDuration::MAX);
        assert_eq!(NtpDuration::from_seconds_f64(-1e30), NtpDuration::MIN);
        assert_eq!(NtpDuration::from_seconds_f64(f64::NAN), NtpDuration::ZERO);
        assert_eq!(NtpDuration::from_seconds(i64::MAX), NtpDuration::MAX);
        assert_eq!(NtpDuration::from_nanos(i64::MIN), NtpDuration::MIN);
    }

    #[test]
    fn short_format() {
        assert_eq!(
            NtpShort::from_duration(NtpDuration::from_seconds(-3)),
            NtpShort::ZERO
        );
        assert_eq!(NtpShort::from_duration(NtpDuration::MAX), NtpShort::MAX);
        let s = NtpShort::from_seconds_f64(0.5);
        assert_eq!(s.to_bits(), 0x0000_8000);
        assert_eq!(s.to_duration().to_seconds_f64(), 0.5);
        // Rounds up: a tiny positive dispersion is never reported as zero.
        assert_eq!(
            NtpShort::from_duration(NtpDuration::from_bits(1)).to_bits(),
            1
        );
    }

    #[test]
    fn poll_interval() {
        assert_eq!(PollInterval::from_log2(6).as_seconds_f64(), 64.0);
        assert_eq!(
            PollInterval::from_log2(6).as_duration(),
            NtpDuration::from_seconds(64)
        );
        assert_eq!(
            PollInterval::from_log2(-2).as_duration().to_seconds_f64(),
            0.25
        );
        assert_eq!(PollInterval::from_log2(100), PollInterval::MAX);
        assert_eq!(PollInterval::from_log2(-100), PollInterval::MIN);
        let p = PollInterval::from_log2(10);
        assert_eq!(p.inc(PollInterval::DEFAULT_MAX), p);
        assert_eq!(p.dec(PollInterval::DEFAULT_MIN).log2(), 9);
    }

    #[test]
    fn instant_saturates() {
        let a = Instant::from_nanos(10);
        assert_eq!(
            Instant::ZERO.saturating_since(a),
            core::time::Duration::ZERO
        );
        assert_eq!(
            Instant::from_nanos(u64::MAX).saturating_add(core::time::Duration::from_secs(1)),
            Instant::from_nanos(u64::MAX)
        );
    }
}
