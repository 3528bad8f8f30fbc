//! The [`Clock`] seam: what a port must offer for slew to read and steer its clock.
//!
//! Minimal and fallible in embedded-hal's manner: every method returns a `Result`,
//! errors expose a [`ErrorKind`], and `&mut C` is a clock wherever `C` is.

use crate::time::{NtpDuration, NtpTimestamp, WideDuration};

/// What kind of failure a clock or transport reported, for logs and counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The operation is not offered by this clock (an observe-only clock asked to step).
    Unsupported,
    /// The OS refused (no CAP_SYS_TIME, for instance).
    PermissionDenied,
    /// A transient condition; the call may succeed later.
    WouldBlock,
    /// Anything else.
    Other,
}

/// An error of a [`Clock`] or [`Transport`](crate::Transport).
pub trait Error: core::fmt::Debug {
    /// Which kind of failure this is.
    fn kind(&self) -> ErrorKind;
}

impl Error for core::convert::Infallible {
    fn kind(&self) -> ErrorKind {
        match *self {}
    }
}

/// Leap second warning, as the leap indicator says it (RFC 5905 §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LeapIndicator {
    /// No warning.
    #[default]
    NoWarning,
    /// The last minute of the day has 61 seconds.
    Insert,
    /// The last minute of the day has 59 seconds.
    Delete,
    /// The clock is not synchronised (alarm).
    Unsynchronized,
}

impl LeapIndicator {
    /// From the two bits on the wire.
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0 => Self::NoWarning,
            1 => Self::Insert,
            2 => Self::Delete,
            _ => Self::Unsynchronized,
        }
    }

    /// The two bits for the wire.
    pub const fn to_bits(self) -> u8 {
        match self {
            Self::NoWarning => 0,
            Self::Insert => 1,
            Self::Delete => 2,
            Self::Unsynchronized => 3,
        }
    }
}

/// What the discipline tells the clock about its quality, so that the OS (the kernel's
/// 11-minute RTC sync, `adjtimex` readers) sees the same state the daemon does.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct ClockStatus {
    /// Leap warning; `Unsynchronized` keeps the kernel's STA_UNSYNC set.
    pub leap: LeapIndicator,
    /// Estimated error bound (root distance), seconds.
    pub max_error_s: f64,
    /// Estimated error (jitter), seconds.
    pub est_error_s: f64,
}

/// The frequency range a clock offers unless it says otherwise, ±ppm: what the
/// Linux kernel's `ADJ_FREQUENCY` accepts (its MAXFREQ) and RFC 5905's bound.
pub const BASE_FREQUENCY_RANGE_PPM: f64 = 500.0;

/// A clock that slew reads and disciplines.
///
/// Call order: `now` at will; `step` only when the discipline asks for one;
/// `set_frequency_ppm` after each clock update and whenever the node's slew schedule
/// changes the rate; `set_status` when the synchronisation state changes.
///
/// The node never uses `slew`: it carries every correction out as a frequency offset
/// for a duration of its choosing, within [`Clock::max_frequency_ppm`], so the same
/// code gives the same smoothness on every port. `slew` remains for one-shot tools
/// (`slewd -q`, `slewctl date`), which set the time the way ntpdate and adjtime do.
pub trait Clock {
    /// The error type.
    type Error: Error;

    /// The current wall time on the NTP timescale.
    fn now(&mut self) -> Result<NtpTimestamp, Self::Error>;

    /// Jump the clock by `offset` (positive: forward) at once. Full width: a clock
    /// that woke in 1970 is stepped by the whole 56 years, not by what 32.32 holds.
    fn step(&mut self, offset: WideDuration) -> Result<(), Self::Error>;

    /// Start a gradual correction of `offset`, replacing any correction in progress.
    /// The clock amortises it at its own rate; `slew` never makes time run backwards.
    /// For one-shot tools only (see above).
    fn slew(&mut self, offset: NtpDuration) -> Result<(), Self::Error>;

    /// Set the frequency correction, parts per million (positive: run faster). Any
    /// value within ±[`Clock::max_frequency_ppm`] is applied as given; beyond it the
    /// clock clamps.
    fn set_frequency_ppm(&mut self, ppm: f64) -> Result<(), Self::Error>;

    /// The frequency range this clock applies exactly, ±ppm: the discipline's
    /// frequency bound plus the fastest slew the node may add on top must fit
    /// ([`NodeConfig::fit_to_clock`](crate::node::NodeConfig::fit_to_clock)). Must
    /// stay below 10⁶ so time keeps running forward. Default
    /// [`BASE_FREQUENCY_RANGE_PPM`].
    fn max_frequency_ppm(&self) -> f64 {
        BASE_FREQUENCY_RANGE_PPM
    }

    /// The frequency correction in force, parts per million.
    fn frequency_ppm(&mut self) -> Result<f64, Self::Error>;

    /// Publish the synchronisation state.
    fn set_status(&mut self, status: ClockStatus) -> Result<(), Self::Error>;

    /// A name for logs (`kernel`, `virtual`…).
    fn name(&self) -> &'static str {
        "clock"
    }

    /// This clock's reading at the moment the port's stamp clock read `stamp`: the
    /// port's receive and transmit stamps (Linux's are `CLOCK_REALTIME`, a MAC's
    /// its own counter) translated into the time this clock keeps. Default: the
    /// stamp as it is, for a clock that is the stamp clock.
    fn reading_at_stamp(&mut self, stamp: NtpTimestamp) -> NtpTimestamp {
        stamp
    }

    /// For a clock apart from the host's system clock (a virtual one): its reading
    /// minus the system clock's, seconds, worth a log line when a one-shot run ends
    /// (the clock ends with the process). Default `None`: this is the system clock.
    fn offset_from_system_s(&mut self) -> Option<f64> {
        None
    }

    /// For a clock kept at full width (a kernel's 64-bit `time_t` has the era): its
    /// reading now, Unix nanoseconds, so that a step can be resolved into the era
    /// window ([`era_resolved`]). Default `None`: an era-less clock (its reading is
    /// an NTP timestamp), whose steps are made as asked.
    fn full_width_now_unix_ns(&mut self) -> Option<i128> {
        None
    }
}

/// Where the era window for a *server's* timestamps starts: 1976-01-01 00:00:00 UTC,
/// so its 2^32 s run to 2112-02-07. chrony's rule (its build time less 50 years) for
/// this release's year, fixed in the source so that builds are reproducible: a
/// timestamp is read as the one instant of that window with its bits, whatever our
/// own clock says (ntpsec's `basedate` is the same idea). Move it forward with the
/// releases, some decades before 2112.
pub const BASEDATE_UNIX_S: i64 = 189_302_400;

/// The step that lands where `step` does modulo the NTP era (2^32 s), inside the
/// window that starts at `basedate_unix_s`.
///
/// The node measures offsets from era-less timestamps, so an offset is known modulo
/// 2^32 s: exact within ±2^31 s (68 years), and beyond that off by a multiple of
/// 2^32 s (a box that reads 1970 in 2042 would measure −66 years, not +72). A clock
/// kept at full width (the kernel's `time_t`) knows where it stands, so its step is
/// resolved as chrony resolves a server's timestamps: the instant it lands on must lie
/// in the window.
pub fn step_into_window(
    now_unix_ns: i128,
    step: WideDuration,
    basedate_unix_s: i64,
) -> WideDuration {
    const ERA_NS: i128 = (1i128 << 32) * 1_000_000_000;
    let start = i128::from(basedate_unix_s) * 1_000_000_000;
    let target = now_unix_ns + step.to_nanos();
    let eras = (target - start).div_euclid(ERA_NS);
    let eras_s = i64::try_from(eras.saturating_mul(1 << 32)).unwrap_or(0);
    step - WideDuration::from_seconds(eras_s)
}

/// The correction `d` resolved into the [`BASEDATE_UNIX_S`] window when `clock` is
/// kept at full width ([`Clock::full_width_now_unix_ns`]): what differs from `d` is
/// a whole number of NTP eras (2^32 s) the node cannot see. An era-less clock's `d`
/// comes back as it is.
pub fn era_resolved<C: Clock + ?Sized>(clock: &mut C, d: WideDuration) -> WideDuration {
    match clock.full_width_now_unix_ns() {
        Some(now_ns) => step_into_window(now_ns, d, BASEDATE_UNIX_S),
        None => d,
    }
}

impl<C: Clock + ?Sized> Clock for &mut C {
    type Error = C::Error;
    fn now(&mut self) -> Result<NtpTimestamp, Self::Error> {
        C::now(self)
    }
    fn step(&mut self, offset: WideDuration) -> Result<(), Self::Error> {
        C::step(self, offset)
    }
    fn slew(&mut self, offset: NtpDuration) -> Result<(), Self::Error> {
        C::slew(self, offset)
    }
    fn set_frequency_ppm(&mut self, ppm: f64) -> Result<(), Self::Error> {
        C::set_frequency_ppm(self, ppm)
    }
    fn frequency_ppm(&mut self) -> Result<f64, Self::Error> {
        C::frequency_ppm(self)
    }
    fn max_frequency_ppm(&self) -> f64 {
        C::max_frequency_ppm(self)
    }
    fn set_status(&mut self, status: ClockStatus) -> Result<(), Self::Error> {
        C::set_status(self, status)
    }
    fn name(&self) -> &'static str {
        C::name(self)
    }
    fn reading_at_stamp(&mut self, stamp: NtpTimestamp) -> NtpTimestamp {
        C::reading_at_stamp(self, stamp)
    }
    fn offset_from_system_s(&mut self) -> Option<f64> {
        C::offset_from_system_s(self)
    }
    fn full_width_now_unix_ns(&mut self) -> Option<i128> {
        C::full_width_now_unix_ns(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A virtual-like clock: its own name, stamps an hour behind, full width.
    struct Own;

    impl Clock for Own {
        type Error = core::convert::Infallible;
        fn now(&mut self) -> Result<NtpTimestamp, Self::Error> {
            Ok(NtpTimestamp::ZERO)
        }
        fn step(&mut self, _: WideDuration) -> Result<(), Self::Error> {
            Ok(())
        }
        fn slew(&mut self, _: NtpDuration) -> Result<(), Self::Error> {
            Ok(())
        }
        fn set_frequency_ppm(&mut self, _: f64) -> Result<(), Self::Error> {
            Ok(())
        }
        fn frequency_ppm(&mut self) -> Result<f64, Self::Error> {
            Ok(0.0)
        }
        fn set_status(&mut self, _: ClockStatus) -> Result<(), Self::Error> {
            Ok(())
        }
        fn name(&self) -> &'static str {
            "own"
        }
        fn reading_at_stamp(&mut self, stamp: NtpTimestamp) -> NtpTimestamp {
            stamp - NtpDuration::from_seconds(3600)
        }
        fn offset_from_system_s(&mut self) -> Option<f64> {
            Some(-3600.0)
        }
        fn full_width_now_unix_ns(&mut self) -> Option<i128> {
            Some((1_800_000_000i128 + (1 << 35)) * 1_000_000_000)
        }
    }

    /// What a generic port sees of `C`, through `&mut C` as the drivers take it.
    fn seen<C: Clock>(mut c: C) -> (&'static str, NtpTimestamp, Option<f64>, WideDuration) {
        let stamp = NtpTimestamp::from_unix(1_800_000_000, 0);
        let step = era_resolved(&mut c, WideDuration::from_seconds(-3));
        (
            c.name(),
            c.reading_at_stamp(stamp),
            c.offset_from_system_s(),
            step,
        )
    }

    #[test]
    fn a_clocks_own_methods_reach_through_a_mutable_reference() {
        let mut own = Own;
        let (name, at, off, step) = seen(&mut own);
        assert_eq!(name, "own");
        assert_eq!(
            at,
            NtpTimestamp::from_unix(1_800_000_000, 0) - NtpDuration::from_seconds(3600)
        );
        assert_eq!(off, Some(-3600.0));
        assert_eq!(step, WideDuration::from_seconds(-3 - (1 << 35)));
    }

    #[test]
    fn an_era_less_clock_is_stepped_as_asked() {
        let mut c = crate::softclock::SoftClock::new(ZeroTicks, 1_000_000_000, NtpTimestamp::ZERO);
        let d = WideDuration::from_seconds(1 << 33);
        assert_eq!(era_resolved(&mut c, d), d);
        assert_eq!(c.name(), "clock");
        let stamp = NtpTimestamp::from_unix(1_800_000_000, 5);
        assert_eq!(c.reading_at_stamp(stamp), stamp);
        assert_eq!(c.offset_from_system_s(), None);
    }

    struct ZeroTicks;
    impl crate::softclock::TickSource for ZeroTicks {
        fn ticks(&mut self) -> u64 {
            0
        }
    }
}
