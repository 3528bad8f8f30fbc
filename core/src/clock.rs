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
}
