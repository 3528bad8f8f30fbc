//! The slew schedule: how the core carries out a phase correction as a frequency
//! offset for a duration, instead of handing the kernel a single-shot slew that it
//! runs off at a fixed 500 ppm (a 0.1 s start-up offset would take 200 s, and every
//! steady-state correction would be a short burst at 500 ppm).
//!
//! The rule is chrony's: the duration of a correction is inversely proportional to its
//! size, `duration = c / |θ|` with `c = ratio · ½ · noise · interval`, so a correction
//! of the size the measurement noise explains takes `ratio/2` update intervals and a
//! large one is made quickly; the rate `θ / duration` is capped by the maximum slew
//! rate. A correction therefore runs at `θ² / c`: small corrections barely move the
//! clock's rate, large ones (a start-up offset, a `-x` slew of a second) run at the
//! fastest allowed rate.
//!
//! One addition, for smoothness once the frequency is known: the rate is at most
//! `SMOOTH_RATE_PPM · (θ / FULL_RATE_OFFSET_S)²`, so only an offset of the step
//! threshold's size (128 ms) may use the default full rate and one ten times smaller a
//! hundredth of it. The curve does not depend on the configured maximum, which only
//! caps it: a `maxslewrate 500` clock slews 10 ms at 500 ppm, not at 3 ppm.
//! Without it a well-measured clock (small noise) that drifted a few milliseconds in
//! holdover would be pulled back at hundreds of ppm; with it that takes minutes at a
//! few ppm. The bound never goes below `free_rate_ppm`: the node lifts it (sets the
//! full rate) until the frequency is known to [`SMOOTH_FROM_FREQUENCY_SD_PPM`], so
//! the start-up 0.1 s takes 1.2 s and the residual of that first correction goes as
//! quickly, while the clock's rate is tens of ppm off anyway.
//! The duration is bounded above by the caller's `max_duration_s` and below by
//! [`MIN_DURATION_S`] and by the maximum rate.

//! The schedule is exact about what the clock did: the added rate is in force from
//! [`SlewSchedule::start`] until the node takes it back ([`SlewSchedule::stop`]), which
//! it does at the first `handle_timeout` at or after [`SlewSchedule::end_s`]; whatever
//! that lateness over- or under-corrects is still in [`SlewSchedule::remaining_s`], so
//! the next update sees it.

/// chrony's `corrtimeratio` default: a typical correction is spread over 1.5 update
/// intervals (`ratio · ½`), which keeps the offset within the noise while moving the
/// rate by no more than the correction needs.
pub const CORRECTION_TIME_RATIO: f64 = 3.0;

/// The rate of the smoothness curve at [`FULL_RATE_OFFSET_S`], ppm: the default
/// maximum slew rate.
pub const SMOOTH_RATE_PPM: f64 = crate::node::DEFAULT_MAX_SLEW_RATE_PPM;

/// The offset at and above which a correction may run at the full slew rate,
/// seconds: RFC 5905's step threshold (STEPT), the largest offset ntpd would slew.
pub const FULL_RATE_OFFSET_S: f64 = 0.128;

/// The smoothness bound applies once the frequency is known to this (1 σ), ppm:
/// before, the clock's rate is that far off anyway and a faster slew is no jerk.
pub const SMOOTH_FROM_FREQUENCY_SD_PPM: f64 = 1.0;

/// No correction is made faster than this, seconds: a schedule has to be carried
/// out by a port's event loop, whose timers are good to milliseconds.
pub const MIN_DURATION_S: f64 = 1.0;

/// What bounds a correction's schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlewLimits {
    /// Measurement noise (1 σ), seconds.
    pub noise_s: f64,
    /// Update interval, seconds.
    pub interval_s: f64,
    /// Longest duration, seconds.
    pub max_duration_s: f64,
    /// Largest added rate, ppm (`tinker maxslewrate`).
    pub max_rate_ppm: f64,
    /// The smoothness bound never goes below this, ppm (the frequency's own
    /// uncertainty).
    pub free_rate_ppm: f64,
}

impl SlewLimits {
    /// chrony's rule alone: no smoothness bound, no upper duration.
    pub fn chrony(noise_s: f64, interval_s: f64, max_rate_ppm: f64) -> Self {
        Self {
            noise_s,
            interval_s,
            max_duration_s: f64::INFINITY,
            max_rate_ppm,
            free_rate_ppm: max_rate_ppm,
        }
    }
}

/// One correction in progress: an added rate from `start_s` until stopped.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct SlewSchedule {
    /// When the added rate took effect, monotonic seconds.
    start_s: f64,
    /// The correction planned at `start_s`, seconds (positive: forward).
    total_s: f64,
    /// The added rate, s/s (signed as `total_s`).
    rate: f64,
    /// When the rate is due to be taken back, monotonic seconds.
    end_s: f64,
    /// When it was taken back, if it was.
    stopped_s: Option<f64>,
}

impl SlewSchedule {
    /// No correction in progress.
    pub const IDLE: Self = Self {
        start_s: 0.0,
        total_s: 0.0,
        rate: 0.0,
        end_s: 0.0,
        stopped_s: Some(0.0),
    };

    /// Plan a correction of `correction_s` at `now_s` (see the [module](self) docs).
    pub fn start(now_s: f64, correction_s: f64, limits: &SlewLimits) -> Self {
        let SlewLimits {
            noise_s,
            interval_s,
            max_duration_s,
            max_rate_ppm,
            free_rate_ppm,
        } = *limits;
        let abs = libm::fabs(correction_s);
        let max_rate = (max_rate_ppm * 1e-6).max(0.0);
        if abs == 0.0 || max_rate == 0.0 || !abs.is_finite() {
            return Self {
                start_s: now_s,
                stopped_s: Some(now_s),
                ..Self::IDLE
            };
        }
        let spread_s2 = CORRECTION_TIME_RATIO * 0.5 * noise_s.max(0.0) * interval_s.max(0.0);
        let ratio = abs / FULL_RATE_OFFSET_S;
        let smooth_rate =
            (SMOOTH_RATE_PPM * 1e-6 * ratio * ratio).max(free_rate_ppm.max(0.0) * 1e-6);
        let duration_s = (spread_s2 / abs)
            .max(abs / smooth_rate)
            .min(max_duration_s)
            .max(MIN_DURATION_S)
            .max(abs / max_rate);
        Self {
            start_s: now_s,
            total_s: correction_s,
            rate: correction_s / duration_s,
            end_s: now_s + duration_s,
            stopped_s: None,
        }
    }

    /// True while the added rate is in force.
    pub fn is_active(&self) -> bool {
        self.stopped_s.is_none()
    }

    /// When the added rate is due to be taken back, if it is still in force.
    pub fn end_s(&self) -> Option<f64> {
        self.is_active().then_some(self.end_s)
    }

    /// The added rate in force, ppm (0 once stopped).
    pub fn rate_ppm(&self) -> f64 {
        if self.is_active() {
            self.rate * 1e6
        } else {
            0.0
        }
    }

    /// Take the added rate back at `now_s`.
    pub fn stop(&mut self, now_s: f64) {
        if self.stopped_s.is_none() {
            self.stopped_s = Some(now_s.max(self.start_s));
        }
    }

    /// The part of the correction the clock has not made by `now_s`, seconds
    /// (negative when a late stop overshot).
    pub fn remaining_s(&self, now_s: f64) -> f64 {
        if self.total_s == 0.0 {
            return 0.0;
        }
        let until = match self.stopped_s {
            Some(t) => t.min(now_s),
            None => now_s,
        };
        self.total_s - self.rate * (until - self.start_s).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_corrections_run_at_the_cap_small_ones_are_spread() {
        // 0.1 s with 1 ms of noise at 64 s: chrony's rule wants 0.96 s, the cap
        // (83 333 ppm) needs 1.2 s.
        let s = SlewSchedule::start(0.0, 0.1, &SlewLimits::chrony(1e-3, 64.0, 83_333.0));
        assert!((s.end_s().unwrap() - 1.2).abs() < 1e-3);
        assert!((s.rate_ppm() - 83_333.0).abs() < 1e-6);
        // 50 µs with 100 µs of noise at 64 s: 192 s at about a quarter ppm.
        let s = SlewSchedule::start(0.0, 50e-6, &SlewLimits::chrony(100e-6, 64.0, 83_333.0));
        assert!((s.end_s().unwrap() - 192.0).abs() < 1e-9);
        assert!((s.rate_ppm() - 50e-6 / 192.0 * 1e6).abs() < 1e-9);
        // Negative corrections run backwards, at the same magnitude.
        let n = SlewSchedule::start(0.0, -50e-6, &SlewLimits::chrony(100e-6, 64.0, 83_333.0));
        assert_eq!(n.rate_ppm(), -s.rate_ppm());
    }

    #[test]
    fn once_the_frequency_is_known_small_offsets_are_slewed_gently() {
        let smooth = |theta: f64, free: f64| {
            SlewSchedule::start(
                0.0,
                theta,
                &SlewLimits {
                    noise_s: 20e-6,
                    interval_s: 64.0,
                    max_duration_s: 256.0,
                    max_rate_ppm: 83_333.0,
                    free_rate_ppm: free,
                },
            )
        };
        // 3 ms after a holdover, frequency known to 0.1 ppm: at most
        // 83 333 · (3/128)² ≈ 46 ppm, not the ~7000 ppm chrony's rule alone gives.
        let s = smooth(3e-3, 0.1);
        assert!((s.rate_ppm() - 83_333.0 * (3.0f64 / 128.0).powi(2)).abs() < 1e-6);
        // The same while the frequency is still 100 ppm unknown: faster.
        assert!(smooth(3e-3, 300.0).rate_ppm() >= 300.0 - 1e-9);
        // 0.128 s and more may use the full rate.
        assert!((smooth(0.2, 0.1).rate_ppm() - 83_333.0).abs() < 1e-6);
        // Tiny ones take at most the longest duration.
        assert_eq!(smooth(10e-6, 0.01).end_s(), Some(256.0));
    }

    #[test]
    fn remaining_follows_the_clock_and_a_late_stop_overshoots() {
        let mut s = SlewSchedule::start(10.0, 0.01, &SlewLimits::chrony(1e-3, 64.0, 500.0));
        // 500 ppm: 20 s.
        assert_eq!(s.end_s(), Some(30.0));
        assert!((s.remaining_s(20.0) - 0.005).abs() < 1e-12);
        assert!((s.remaining_s(30.0)).abs() < 1e-12);
        // Stopped a second late: 500 µs too far, and it stays so.
        s.stop(31.0);
        assert!(!s.is_active());
        assert_eq!(s.rate_ppm(), 0.0);
        assert!((s.remaining_s(40.0) + 500e-6).abs() < 1e-12);
    }

    #[test]
    fn nothing_to_do_is_idle() {
        let s = SlewSchedule::start(5.0, 0.0, &SlewLimits::chrony(1e-3, 64.0, 500.0));
        assert!(!s.is_active());
        assert_eq!(s.remaining_s(100.0), 0.0);
        let s = SlewSchedule::start(5.0, 0.01, &SlewLimits::chrony(1e-3, 64.0, 0.0));
        assert!(!s.is_active());
        assert_eq!(SlewSchedule::IDLE.remaining_s(3.0), 0.0);
    }
}
