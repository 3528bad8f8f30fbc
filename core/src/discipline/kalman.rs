//! A two-state Kalman filter on clock offset and frequency: slew's default estimator.
//!
//! State: θ, the correction the clock still needs (seconds), and ν, the frequency
//! correction it still needs (s/s), both relative to the corrections already made.
//! The model is the textbook one for a free-running oscillator: ν follows a random
//! walk (spectral density `wander`, s²/s³) and θ integrates ν, plus a little white
//! frequency noise. Each measurement of θ comes with its own variance, which the node
//! derives from how much longer that sample's round trip was than the path's best
//! (the offset error of a sample is at most half its excess delay): good samples pull
//! hard, queued ones barely count. After each update the whole estimate is applied
//! (θ as a slew, ν to the frequency) and the state returns to zero: the filter then
//! describes the residual, which keeps it linear.
//!
//! Measurements far outside the predicted spread (more than `GATE_SIGMA` standard
//! deviations) are held back; if they keep coming the filter accepts that the clock
//! really moved and widens its uncertainty instead of fighting the data.

/// Innovations beyond this many standard deviations are held back as outliers.
pub const GATE_SIGMA: f64 = 5.0;
/// After this many outliers in a row, the next one is believed.
pub const GATE_MAX_HELD: u32 = 3;
/// White frequency noise density of the model, s²/s: a floor that keeps the filter
/// from trusting its phase prediction beyond what a real oscillator allows
/// (1e-9 s per √s, about a nanosecond of phase noise per second).
pub const PHASE_NOISE: f64 = 1e-18;

/// The estimator's state and covariance.
#[derive(Clone, Debug)]
pub struct Kalman {
    time_s: f64,
    offset_s: f64,
    freq: f64,
    /// Covariance [[θθ, θν], [θν, νν]].
    p: [[f64; 2]; 2],
    /// Random-walk frequency noise density, s²/s³.
    wander: f64,
    held: u32,
    /// Running average of the measurement variances, s².
    r_avg: f64,
    /// Last normalised innovation y/√S, for the poll decision and for tests.
    last_nis: f64,
    /// Measurement noise the caller's variance does not explain (the error of the
    /// best samples), s²: learnt from the innovations, because no client can know
    /// in advance how good its path's best case is.
    floor_s2: f64,
}

/// What one measurement did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KalmanStep {
    /// Apply this correction: (phase seconds, frequency change s/s).
    Correct(f64, f64),
    /// The measurement was an outlier and was held back.
    Held,
}

impl Kalman {
    /// A filter with random-walk frequency noise density `wander` (s²/s³).
    pub fn new(wander: f64) -> Self {
        Self {
            time_s: 0.0,
            offset_s: 0.0,
            freq: 0.0,
            p: [[1.0, 0.0], [0.0, 1e-8]],
            wander,
            held: 0,
            r_avg: 0.0,
            last_nis: 0.0,
            floor_s2: 0.0,
        }
    }

    /// Start over at `time_s` right after the clock was set from a measurement of
    /// variance `var_s2`; `freq_sd` is the standard deviation of the frequency still
    /// unknown (large without a driftfile, small with one).
    pub fn reset(&mut self, time_s: f64, var_s2: f64, freq_sd: f64) {
        self.time_s = time_s;
        self.offset_s = 0.0;
        self.freq = 0.0;
        self.p = [[var_s2, 0.0], [0.0, freq_sd * freq_sd]];
        self.held = 0;
        self.r_avg = var_s2;
        // Until the innovations say otherwise, assume the first sample was as bad as
        // its round trip allows.
        self.floor_s2 = var_s2;
    }

    /// The learnt measurement noise floor, s².
    pub fn floor_s2(&self) -> f64 {
        self.floor_s2
    }

    /// Offset uncertainty now, seconds (1 σ).
    pub fn offset_sd_s(&self) -> f64 {
        libm::sqrt(self.p[0][0].max(0.0))
    }

    /// Frequency uncertainty, s/s (1 σ).
    pub fn freq_sd(&self) -> f64 {
        libm::sqrt(self.p[1][1].max(0.0))
    }

    /// Typical measurement variance seen lately, s².
    pub fn typical_var_s2(&self) -> f64 {
        self.r_avg
    }

    /// The phase variance that would build up over `interval_s` without a
    /// measurement: what a longer poll interval costs.
    pub fn predicted_growth_s2(&self, interval_s: f64) -> f64 {
        let t = interval_s;
        self.p[1][1] * t * t + self.wander * t * t * t / 3.0 + PHASE_NOISE * t
    }

    /// Last normalised innovation.
    pub fn last_nis(&self) -> f64 {
        self.last_nis
    }

    /// Fold in a measurement `offset_s` taken at `time_s` with variance `var_s2`.
    pub fn update(&mut self, time_s: f64, offset_s: f64, var_s2: f64) -> KalmanStep {
        let dt = (time_s - self.time_s).max(0.0);
        // Predict.
        let [[p00, p01], [_, p11]] = self.p;
        let q = self.wander;
        let mut pp00 =
            p00 + 2.0 * dt * p01 + dt * dt * p11 + q * dt * dt * dt / 3.0 + PHASE_NOISE * dt;
        let pp01 = p01 + dt * p11 + q * dt * dt / 2.0;
        let pp11 = p11 + q * dt;
        let mut pp11 = pp11;
        let predicted = self.offset_s + self.freq * dt;
        let y = offset_s - predicted;
        let r = var_s2 + self.floor_s2;
        let s = pp00 + r;
        if y * y > GATE_SIGMA * GATE_SIGMA * s {
            if self.held < GATE_MAX_HELD {
                self.held += 1;
                return KalmanStep::Held;
            }
            // The clock (or the network) really changed: widen instead of fighting,
            // in phase and in frequency (a persistent error grows with time).
            pp00 += y * y;
            let f = y / dt.max(1.0);
            pp11 += f * f;
        }
        self.held = 0;
        // What this innovation says about the noise the caller did not account for:
        // E[y²] = P⁻ + R. Averaged slowly, clamped to stay positive.
        let unexplained = (y * y - pp00 - var_s2).max(1e-14);
        self.floor_s2 += (unexplained - self.floor_s2) / 16.0;
        let r = var_s2 + self.floor_s2;
        let s = pp00 + r;
        self.last_nis = y / libm::sqrt(s);
        let k0 = pp00 / s;
        let k1 = pp01 / s;
        let offset = predicted + k0 * y;
        let freq = self.freq + k1 * y;
        self.p = [
            [(1.0 - k0) * pp00, (1.0 - k0) * pp01],
            [(1.0 - k0) * pp01, pp11 - k1 * pp01],
        ];
        self.time_s = time_s;
        self.r_avg += (r - self.r_avg) / 8.0;
        // Apply everything; the state becomes the residual.
        self.offset_s = 0.0;
        self.freq = 0.0;
        KalmanStep::Correct(offset, freq)
    }

    /// The clock was stepped by the node's own decision: the residual is unknown
    /// again at the measurement's precision, the frequency estimate stands.
    pub fn after_step(&mut self, time_s: f64, var_s2: f64) {
        self.time_s = time_s;
        self.offset_s = 0.0;
        self.p[0][0] = var_s2;
        self.p[0][1] = 0.0;
        self.p[1][0] = 0.0;
        self.held = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_constant_frequency_error() {
        // A clock 50 ppm slow, measured every 64 s with 100 µs noise-free samples.
        let mut k = Kalman::new(1e-18);
        k.reset(0.0, 1e-8, 500e-6);
        let true_freq = 50e-6;
        let mut applied_freq = 0.0;
        let mut offset = 0.0;
        for i in 1..40 {
            offset += (true_freq - applied_freq) * 64.0;
            match k.update(i as f64 * 64.0, offset, 1e-8) {
                KalmanStep::Correct(ph, df) => {
                    offset -= ph;
                    applied_freq += df;
                }
                KalmanStep::Held => panic!("held a clean sample at {i}"),
            }
        }
        assert!((applied_freq - true_freq).abs() < 1e-9, "{applied_freq}");
        assert!(offset.abs() < 1e-7, "{offset}");
        assert!(k.freq_sd() < 1e-7);
    }

    #[test]
    fn holds_outliers_then_gives_in() {
        let mut k = Kalman::new(1e-18);
        k.reset(0.0, 1e-10, 1e-8);
        for i in 1..=GATE_MAX_HELD {
            assert_eq!(k.update(i as f64 * 64.0, 0.5, 1e-10), KalmanStep::Held);
        }
        match k.update(1000.0, 0.5, 1e-10) {
            KalmanStep::Correct(ph, _) => assert!((ph - 0.5).abs() < 1e-3, "{ph}"),
            KalmanStep::Held => panic!("should accept after {GATE_MAX_HELD} held"),
        }
    }

    #[test]
    fn noisy_samples_weigh_less() {
        let mut a = Kalman::new(1e-18);
        let mut b = a.clone();
        a.reset(0.0, 1e-8, 1e-6);
        b.reset(0.0, 1e-8, 1e-6);
        let KalmanStep::Correct(good, _) = a.update(64.0, 100e-6, 1e-10) else {
            panic!()
        };
        let KalmanStep::Correct(bad, _) = b.update(64.0, 100e-6, 1e-6) else {
            panic!()
        };
        assert!(good > 10.0 * bad, "{good} vs {bad}");
    }
}
