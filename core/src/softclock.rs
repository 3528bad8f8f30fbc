//! THE software clock: a [`Clock`] kept in memory over a monotonic tick counter.
//!
//! An appliance has a timer that counts ticks at a known nominal rate and nothing
//! else; slew-linux's `virtual` clock has `CLOCK_MONOTONIC`. Both discipline this
//! one implementation, generic over a [`TickSource`], so what the firmware runs is
//! what the Linux tests measure.
//!
//! # Model
//!
//! Wall time is a pure function of the ticks elapsed since the last *anchor*:
//!
//! ```text
//! now = anchor_wall + elapsed · (1 + (frequency_ppm + error_ppm)·1e-6) + slewed(elapsed)
//! slewed(e) = sign(pending) · min(|pending|, max_slew_rate · e)
//! ```
//!
//! A new anchor is taken only when a parameter changes (step, slew, frequency), never
//! on a read, so reading the clock a million times adds no rounding drift.
//!
//! # Guarantees
//!
//! - Only [`Clock::step`] moves the clock backwards. The frequency correction is
//!   bounded by [`SoftClock::max_frequency_ppm`] (±100 000 ppm by default, the range
//!   the node's frequency slews need) and the single-shot slew rate by
//!   [`SoftClock::max_slew_rate_ppm`], both far below 10⁶ ppm, so the clock's rate
//!   stays positive and successive reads never decrease.
//! - A slew is amortised at exactly the bounded rate until it is done, then stops;
//!   a new slew replaces the part not yet made.
//! - The tick counter may wrap: elapsed ticks are a wrapping difference, so a
//!   32-bit timer widened to `u64` by the port, or a free-running `u64`, both work as
//!   long as the clock is read at least once per wrap period.
//!
//! # Testing hooks
//!
//! [`SoftClock::with_frequency_error_ppm`] makes the oscillator run fast or slow
//! (a crystal's error, which the discipline must learn), and the starting wall time
//! is any [`NtpTimestamp`] the caller picks (a true time plus an offset).

use crate::clock::{Clock, ClockStatus};
use crate::time::{Instant, NtpDuration, NtpTimestamp, WideDuration};

/// A monotonic counter of ticks at a fixed nominal rate (a hardware timer,
/// `CLOCK_MONOTONIC` in nanoseconds, a simulator's counter).
pub trait TickSource {
    /// The current count. Must not run backwards (it may wrap at `u64::MAX`).
    fn ticks(&mut self) -> u64;
}

impl<T: TickSource + ?Sized> TickSource for &mut T {
    fn ticks(&mut self) -> u64 {
        T::ticks(self)
    }
}

/// The rate of the clock's own single-shot [`Clock::slew`] unless told otherwise,
/// ppm: Linux's `adjtime`, for the one-shot tools that use it. The node never does:
/// it slews through the frequency.
pub const DEFAULT_MAX_SLEW_RATE_PPM: f64 = 500.0;

/// The largest rate any setter accepts, ppm: a tenth of real time. Keeps the clock's
/// rate positive whatever the caller asks for.
const RATE_CEILING_PPM: f64 = 100_000.0;

/// The frequency range unless told otherwise, ±ppm ([`Clock::max_frequency_ppm`]):
/// the whole ceiling, as the Linux kernel clock offers ±10 % through its tick, so
/// the node's frequency slews (up to 83 333 ppm on top of the discipline's 500 ppm)
/// run the same on a board as on a server.
pub const DEFAULT_MAX_FREQUENCY_PPM: f64 = RATE_CEILING_PPM;

/// A disciplined software clock over a [`TickSource`]; see the [module](self) docs.
#[derive(Debug, Clone)]
pub struct SoftClock<T: TickSource> {
    source: T,
    tick_hz: u64,
    anchor_ticks: u64,
    anchor_wall: NtpTimestamp,
    frequency_ppm: f64,
    error_ppm: f64,
    max_frequency_ppm: f64,
    /// Slew not yet made at the anchor, seconds (signed).
    pending_slew_s: f64,
    max_slew_rate_ppm: f64,
    status: ClockStatus,
    steps: u32,
}

impl<T: TickSource> SoftClock<T> {
    /// A clock reading `start` now, counting `tick_hz` ticks per nominal second.
    /// A `tick_hz` of zero is taken as one (a clock that must not divide by zero).
    pub fn new(mut source: T, tick_hz: u64, start: NtpTimestamp) -> Self {
        let anchor_ticks = source.ticks();
        Self {
            source,
            tick_hz: tick_hz.max(1),
            anchor_ticks,
            anchor_wall: start,
            frequency_ppm: 0.0,
            error_ppm: 0.0,
            max_frequency_ppm: DEFAULT_MAX_FREQUENCY_PPM,
            pending_slew_s: 0.0,
            max_slew_rate_ppm: DEFAULT_MAX_SLEW_RATE_PPM,
            status: ClockStatus::default(),
            steps: 0,
        }
    }

    /// The oscillator runs `error_ppm` fast (positive) or slow: what a crystal's
    /// tolerance does to a real board. For tests and simulations.
    #[must_use]
    pub fn with_frequency_error_ppm(mut self, error_ppm: f64) -> Self {
        self.reanchor();
        self.error_ppm = clamp_ppm(error_ppm, RATE_CEILING_PPM);
        self
    }

    /// Amortise single-shot slews at `rate_ppm` (default 500): only one-shot tools
    /// use them; the node slews through the frequency.
    #[must_use]
    pub fn with_max_slew_rate_ppm(mut self, rate_ppm: f64) -> Self {
        self.reanchor();
        self.max_slew_rate_ppm = clamp_ppm(rate_ppm, RATE_CEILING_PPM).max(0.0);
        self
    }

    /// Bound the frequency correction to ±`bound_ppm` (default 100 000; at most
    /// that). This is the clock's [`Clock::max_frequency_ppm`].
    #[must_use]
    pub fn with_max_frequency_ppm(mut self, bound_ppm: f64) -> Self {
        self.max_frequency_ppm = clamp_ppm(bound_ppm, RATE_CEILING_PPM).max(0.0);
        self
    }

    /// Nominal ticks per second.
    pub fn tick_hz(&self) -> u64 {
        self.tick_hz
    }

    /// The slew rate bound, ppm.
    pub fn max_slew_rate_ppm(&self) -> f64 {
        self.max_slew_rate_ppm
    }

    /// The frequency correction bound, ppm.
    pub fn max_frequency_ppm(&self) -> f64 {
        self.max_frequency_ppm
    }

    /// The injected oscillator error, ppm.
    pub fn frequency_error_ppm(&self) -> f64 {
        self.error_ppm
    }

    /// The status the discipline last published.
    pub fn status(&self) -> ClockStatus {
        self.status
    }

    /// How many times the clock was stepped.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// The tick source (a test advances its fake counter through this).
    pub fn source_mut(&mut self) -> &mut T {
        &mut self.source
    }

    /// Monotonic time since tick zero, for the node's timers: raw ticks, untouched
    /// by steps, slews and frequency corrections.
    pub fn instant(&mut self) -> Instant {
        let ticks = self.source.ticks();
        let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(self.tick_hz);
        Instant::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The wall time now.
    pub fn read(&mut self) -> NtpTimestamp {
        let ticks = self.source.ticks();
        self.wall_at(ticks).0
    }

    /// The slew not yet made, seconds (signed).
    pub fn pending_slew_s(&mut self) -> f64 {
        let ticks = self.source.ticks();
        self.wall_at(ticks).1
    }

    /// Wall time and the slew still pending at `ticks`.
    fn wall_at(&self, ticks: u64) -> (NtpTimestamp, f64) {
        let elapsed_ticks = ticks.wrapping_sub(self.anchor_ticks);
        // Nominal elapsed time in 32.32 seconds, exact up to the last bit: ticks·2³²/hz.
        let nominal_bits = (u128::from(elapsed_ticks) << 32) / u128::from(self.tick_hz);
        let nominal_bits = i64::try_from(nominal_bits).unwrap_or(i64::MAX);
        let nominal = NtpDuration::from_bits(nominal_bits);
        let elapsed_s = nominal.to_seconds_f64();
        // The rate terms are tiny next to the nominal time, so f64 keeps them to well
        // under a nanosecond for any realistic interval between anchors.
        let rate_ppm = self.frequency_ppm + self.error_ppm;
        let freq_s = elapsed_s * rate_ppm * 1e-6;
        let slew_budget_s = elapsed_s * self.max_slew_rate_ppm * 1e-6;
        let pending_abs = libm::fabs(self.pending_slew_s);
        let slewed_abs = if pending_abs < slew_budget_s {
            pending_abs
        } else {
            slew_budget_s
        };
        let slewed_s = libm::copysign(slewed_abs, self.pending_slew_s);
        let wall = self.anchor_wall + nominal + NtpDuration::from_seconds_f64(freq_s + slewed_s);
        (wall, self.pending_slew_s - slewed_s)
    }

    /// Fold the time elapsed so far into the anchor, before a parameter changes.
    fn reanchor(&mut self) {
        let ticks = self.source.ticks();
        let (wall, pending) = self.wall_at(ticks);
        self.anchor_ticks = ticks;
        self.anchor_wall = wall;
        self.pending_slew_s = pending;
    }
}

/// `ppm` limited to ±`bound`; NaN becomes zero (a correction nobody can apply).
fn clamp_ppm(ppm: f64, bound: f64) -> f64 {
    if ppm.is_nan() {
        0.0
    } else {
        ppm.clamp(-bound, bound)
    }
}

impl<T: TickSource> Clock for SoftClock<T> {
    type Error = core::convert::Infallible;

    fn now(&mut self) -> Result<NtpTimestamp, Self::Error> {
        Ok(self.read())
    }

    fn step(&mut self, offset: WideDuration) -> Result<(), Self::Error> {
        self.reanchor();
        // Wraps modulo the era, as the timestamp does: the reading is era-less.
        self.anchor_wall = self.anchor_wall + offset;
        // A step settles the offset the slew was working off: ntpd and the kernel
        // both cancel an adjtime in progress when the clock is set.
        self.pending_slew_s = 0.0;
        self.steps = self.steps.saturating_add(1);
        Ok(())
    }

    fn slew(&mut self, offset: NtpDuration) -> Result<(), Self::Error> {
        self.reanchor();
        self.pending_slew_s = offset.to_seconds_f64();
        Ok(())
    }

    fn set_frequency_ppm(&mut self, ppm: f64) -> Result<(), Self::Error> {
        self.reanchor();
        self.frequency_ppm = clamp_ppm(ppm, self.max_frequency_ppm);
        Ok(())
    }

    fn frequency_ppm(&mut self) -> Result<f64, Self::Error> {
        Ok(self.frequency_ppm)
    }

    fn max_frequency_ppm(&self) -> f64 {
        self.max_frequency_ppm
    }

    fn set_status(&mut self, status: ClockStatus) -> Result<(), Self::Error> {
        self.status = status;
        Ok(())
    }
}

#[cfg(test)]
#[path = "softclock_tests.rs"]
mod tests;
