//! A simulated clock: an oscillator with a frequency error that wanders, disciplined
//! through the same [`Clock`] trait the ports implement.

use core::convert::Infallible;

use crate::clock::{Clock, ClockStatus};
use crate::time::{NtpDuration, NtpTimestamp, WideDuration};

use super::rng::SimRng;

/// The simulated clock's frequency range, ±ppm: what the Linux kernel clock offers
/// (±10 % through the tick, ±500 ppm through the frequency).
pub const SIM_MAX_FREQUENCY_PPM: f64 = 100_500.0;

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
    metrics: ClockMetrics,
}

/// What a user feels of the clock, measured exactly on the piecewise-linear offset
/// (not sampled at the records): when it first came and for good stayed within
/// 1 ms, and how evenly it ticked (its rate error, slews included) from
/// `stats_from_s` on.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClockMetrics {
    /// Statistics count from here, true seconds.
    pub stats_from_s: f64,
    /// First time |offset| < 1 ms, seconds.
    pub first_below_1ms_s: Option<f64>,
    /// Last time |offset| ≥ 1 ms, seconds (`None`: never).
    pub last_above_1ms_s: Option<f64>,
    /// ∫ (rate error)² dt from `stats_from_s`, ppm²·s.
    pub freq_error_sq_integral: f64,
    /// Seconds integrated.
    pub freq_error_time_s: f64,
    /// Largest |rate error| from `stats_from_s`, ppm.
    pub max_freq_error_ppm: f64,
}

/// The offset bound the convergence figures are about.
const BOUND_S: f64 = 1e-3;

impl ClockMetrics {
    /// One linear stretch of the offset: from `o0` at `t0` for `dt` seconds at rate
    /// error `rate` (s/s).
    fn segment(&mut self, t0: f64, o0: f64, dt: f64, rate: f64) {
        let o1 = o0 + rate * dt;
        let t1 = t0 + dt;
        // Where a linear stretch crosses ±1 ms, if it does.
        let cross = |o_from: f64| {
            let target = libm::copysign(BOUND_S, o_from);
            if rate == 0.0 {
                t0
            } else {
                (t0 + (target - o0) / rate).clamp(t0, t1)
            }
        };
        if self.first_below_1ms_s.is_none() {
            if libm::fabs(o0) < BOUND_S {
                self.first_below_1ms_s = Some(t0);
            } else if libm::fabs(o1) < BOUND_S {
                self.first_below_1ms_s = Some(cross(o0));
            }
        }
        if libm::fabs(o1) >= BOUND_S {
            self.last_above_1ms_s = Some(t1);
        } else if libm::fabs(o0) >= BOUND_S {
            self.last_above_1ms_s = Some(cross(o0));
        }
        let from = t0.max(self.stats_from_s);
        if t1 > from {
            let ppm = rate * 1e6;
            self.freq_error_sq_integral += ppm * ppm * (t1 - from);
            self.freq_error_time_s += t1 - from;
            self.max_freq_error_ppm = self.max_freq_error_ppm.max(libm::fabs(ppm));
        }
    }

    /// A step lands the offset at `o` at `t`.
    fn jump(&mut self, t: f64, o: f64) {
        if libm::fabs(o) >= BOUND_S {
            self.last_above_1ms_s = Some(t);
        } else if self.first_below_1ms_s.is_none() {
            self.first_below_1ms_s = Some(t);
        }
    }

    /// RMS of the rate error from `stats_from_s`, ppm.
    pub fn rms_freq_error_ppm(&self) -> f64 {
        if self.freq_error_time_s > 0.0 {
            libm::sqrt(self.freq_error_sq_integral / self.freq_error_time_s)
        } else {
            0.0
        }
    }
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
            metrics: ClockMetrics::default(),
        }
    }

    /// Count the frequency-error statistics from true time `t_s` on.
    pub fn set_stats_from_s(&mut self, t_s: f64) {
        self.metrics.stats_from_s = t_s;
    }

    /// The figures measured so far.
    pub fn metrics(&self) -> ClockMetrics {
        self.metrics
    }

    /// Run the clock forward to true time `t_s`.
    pub fn advance(&mut self, t_s: f64) {
        // Sub-steps of at most 16 s keep the wander a random walk, not a ramp.
        while self.now_s < t_s {
            let dt = (t_s - self.now_s).min(16.0);
            let base = self.intrinsic + self.freq_corr;
            // A single-shot slew runs at its full rate until done, then stops: two
            // linear stretches.
            let slew_dt = if self.slew_rate > 0.0 {
                libm::fmin(dt, libm::fabs(self.slew_left_s) / self.slew_rate)
            } else {
                0.0
            };
            if slew_dt > 0.0 {
                let rate = libm::copysign(self.slew_rate, self.slew_left_s);
                self.metrics
                    .segment(self.now_s, self.offset_s, slew_dt, base + rate);
                self.offset_s += (base + rate) * slew_dt;
                self.slew_left_s -= rate * slew_dt;
                if libm::fabs(self.slew_left_s) < 1e-15 {
                    self.slew_left_s = 0.0;
                }
            }
            let rest = dt - slew_dt;
            if rest > 0.0 {
                self.metrics
                    .segment(self.now_s + slew_dt, self.offset_s, rest, base);
                self.offset_s += base * rest;
            }
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
        self.metrics.jump(self.now_s, self.offset_s);
        Ok(())
    }

    fn slew(&mut self, offset: NtpDuration) -> Result<(), Infallible> {
        self.slew_left_s = offset.to_seconds_f64();
        Ok(())
    }

    fn set_frequency_ppm(&mut self, ppm: f64) -> Result<(), Infallible> {
        let ppm = ppm.clamp(-SIM_MAX_FREQUENCY_PPM, SIM_MAX_FREQUENCY_PPM);
        self.freq_corr = ppm * 1e-6;
        self.max_freq_corr_ppm = self.max_freq_corr_ppm.max(libm::fabs(ppm));
        Ok(())
    }

    fn frequency_ppm(&mut self) -> Result<f64, Infallible> {
        Ok(self.freq_corr * 1e6)
    }

    /// Linux's range with `ADJ_TICK`: ±10 % by the tick plus ±500 ppm.
    fn max_frequency_ppm(&self) -> f64 {
        SIM_MAX_FREQUENCY_PPM
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
