//! A simulated clock: an oscillator with a frequency error that wanders, disciplined
//! through the same [`Clock`] trait the ports implement.

use core::convert::Infallible;

use crate::clock::{Clock, ClockStatus};
use crate::time::{NtpDuration, NtpTimestamp, WideDuration};

use super::rng::SimRng;

/// The client's clock in a simulation. Offsets are local minus true time.
#[derive(Clone, Debug)]
pub struct SimClock {
    epoch: NtpTimestamp,
    now_s: f64,
    offset_s: f64,
    /// The oscillator's own frequency error, s/s (positive: runs fast).
    intrinsic: f64,
    /// Random-walk frequency noise, s/s per √s.
    wander: f64,
    freq_corr: f64,
    slew_left_s: f64,
    slew_rate: f64,
    steps: u32,
    max_freq_corr_ppm: f64,
    status: ClockStatus,
    rng: SimRng,
}

impl SimClock {
    /// A clock `offset_s` off true time, `freq_ppm` fast, wandering `wander_ppm_per_sqrt_s`,
    /// whose slews run at `slew_rate_ppm` (Linux adjtime: 500).
    pub fn new(
        epoch: NtpTimestamp,
        offset_s: f64,
        freq_ppm: f64,
        wander_ppm_per_sqrt_s: f64,
        slew_rate_ppm: f64,
        seed: u64,
    ) -> Self {
        Self {
            epoch,
            now_s: 0.0,
            offset_s,
            intrinsic: freq_ppm * 1e-6,
            wander: wander_ppm_per_sqrt_s * 1e-6,
            freq_corr: 0.0,
            slew_left_s: 0.0,
            slew_rate: slew_rate_ppm * 1e-6,
            steps: 0,
            max_freq_corr_ppm: 0.0,
            status: ClockStatus::default(),
            rng: SimRng::new(seed),
        }
    }

    /// Run the clock forward to true time `t_s`.
    pub fn advance(&mut self, t_s: f64) {
        // Sub-steps of at most 16 s keep the wander a random walk, not a ramp.
        while self.now_s < t_s {
            let dt = (t_s - self.now_s).min(16.0);
            let slew = libm::fmin(libm::fabs(self.slew_left_s), self.slew_rate * dt);
            let slew = libm::copysign(slew, self.slew_left_s);
            self.slew_left_s -= slew;
            self.offset_s += (self.intrinsic + self.freq_corr) * dt + slew;
            if self.wander > 0.0 {
                self.intrinsic += self.wander * libm::sqrt(dt) * self.rng.normal();
            }
            self.now_s += dt;
        }
    }

    /// True time now, seconds since the start.
    pub fn true_time_s(&self) -> f64 {
        self.now_s
    }

    /// Local minus true time, seconds.
    pub fn offset_s(&self) -> f64 {
        self.offset_s
    }

    /// Residual frequency error (oscillator plus correction), ppm.
    pub fn frequency_error_ppm(&self) -> f64 {
        (self.intrinsic + self.freq_corr) * 1e6
    }

    /// Steps taken.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Slew still to run, seconds.
    pub fn slew_left_s(&self) -> f64 {
        self.slew_left_s
    }

    /// The largest |frequency correction| ever set, ppm.
    pub fn max_freq_corr_ppm(&self) -> f64 {
        self.max_freq_corr_ppm
    }

    /// The status last published.
    pub fn status(&self) -> ClockStatus {
        self.status
    }

    /// The slew rate limit, ppm.
    pub fn slew_rate_ppm(&self) -> f64 {
        self.slew_rate * 1e6
    }

    /// True time as an NTP timestamp (what a perfect server reads).
    pub fn true_timestamp(&self) -> NtpTimestamp {
        self.epoch + NtpDuration::from_seconds_f64(self.now_s)
    }
}

impl Clock for SimClock {
    type Error = Infallible;

    fn now(&mut self) -> Result<NtpTimestamp, Infallible> {
        // Full width: the client may start decades off (a box without an RTC).
        Ok(self.epoch + WideDuration::from_seconds_f64(self.now_s + self.offset_s))
    }

    fn step(&mut self, offset: WideDuration) -> Result<(), Infallible> {
        self.offset_s += offset.to_seconds_f64();
        self.steps += 1;
        Ok(())
    }

    fn slew(&mut self, offset: NtpDuration) -> Result<(), Infallible> {
        self.slew_left_s = offset.to_seconds_f64();
        Ok(())
    }

    fn set_frequency_ppm(&mut self, ppm: f64) -> Result<(), Infallible> {
        self.freq_corr = ppm * 1e-6;
        self.max_freq_corr_ppm = self.max_freq_corr_ppm.max(libm::fabs(ppm));
        Ok(())
    }

    fn frequency_ppm(&mut self) -> Result<f64, Infallible> {
        Ok(self.freq_corr * 1e6)
    }

    fn set_status(&mut self, status: ClockStatus) -> Result<(), Infallible> {
        self.status = status;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slews_at_the_rate_limit() {
        let mut c = SimClock::new(NtpTimestamp::ZERO, 0.0, 0.0, 0.0, 500.0, 1);
        c.slew(NtpDuration::from_seconds_f64(0.01)).unwrap();
        c.advance(10.0);
        assert!((c.offset_s() - 0.005).abs() < 1e-12);
        c.advance(100.0);
        // 0.01 s in 32.32 fixed point is short by 2e-10 s.
        assert!((c.offset_s() - 0.01).abs() < 1e-9);
    }

    #[test]
    fn frequency_error_accumulates() {
        let mut c = SimClock::new(NtpTimestamp::ZERO, 0.0, 100.0, 0.0, 500.0, 1);
        c.set_frequency_ppm(-40.0).unwrap();
        c.advance(1000.0);
        assert!((c.offset_s() - 0.06).abs() < 1e-12);
        assert!((c.frequency_error_ppm() - 60.0).abs() < 1e-9);
    }
}
