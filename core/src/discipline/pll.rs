//! The RFC 5905 §11.3 hybrid PLL/FLL, with ntpd 4.2.8's gains.
//!
//! RFC 5905's appendix prints PLL = 65536, which with its formula gives a loop that
//! never moves; ntpd 4.2.8 uses `CLOCK_PLL` = 16 and `CLOCK_FLL` = 0.25, and that is
//! the behaviour people know, so we follow ntpd and say so.
//!
//! ntpd drains the phase correction every second (`clock_adjust`: the residual decays
//! with time constant T = 16·2^poll) and discards what is left at the next update,
//! which re-measures it. Here the node slews once per update by the part ntpd would
//! drain before the next one, `θ·(1 − e^(−μ/T))`, which is the same loop sampled at
//! the updates.

/// ntpd's PLL loop gain (`CLOCK_PLL`): the phase time constant is this × 2^poll.
pub const PLL_GAIN: f64 = 16.0;
/// ntpd's FLL gain (`CLOCK_FLL`).
pub const FLL_GAIN: f64 = 0.25;
/// Above this poll interval the FLL contributes (ntpd's `allan_xpt`, 2^11 s).
pub const ALLAN_S: f64 = 2048.0;
/// Averaging constant of the clock jitter and wander estimates (ntpd's `CLOCK_AVG`).
pub const AVG: f64 = 8.0;

/// The PLL/FLL state between updates.
#[derive(Clone, Debug, Default)]
pub struct Pll {
    last_time_s: Option<f64>,
    /// Effective offset seen at the last update, seconds.
    last_offset_s: f64,
    /// Phase correction made at the last update, seconds.
    last_phase_s: f64,
}

impl Pll {
    /// Start over after the clock was set (by a step or the first slew).
    pub fn reset(&mut self, time_s: f64) {
        *self = Self {
            last_time_s: Some(time_s),
            ..Self::default()
        };
    }

    /// One update with effective offset `offset_s` at `time_s`, at poll interval
    /// `poll_s`. Returns (phase correction to slew, seconds; frequency change, s/s).
    pub fn update(&mut self, time_s: f64, offset_s: f64, poll_s: f64) -> (f64, f64) {
        let mu = self.last_time_s.map_or(poll_s, |t| (time_s - t).max(1.0));
        let tc = PLL_GAIN * poll_s;
        let mut dfreq = 0.0;
        if poll_s >= ALLAN_S {
            // FLL: the part of the offset that the last correction did not explain is
            // frequency error accumulated over mu.
            let expected = self.last_offset_s - self.last_phase_s;
            dfreq += (offset_s - expected) / mu.max(poll_s) * FLL_GAIN;
        }
        // PLL: the frequency integrates the offset.
        let dtemp = 4.0 * tc;
        dfreq += offset_s * mu.min(ALLAN_S) / (dtemp * dtemp);
        let phase = offset_s * (1.0 - libm::exp(-mu / tc));
        self.last_time_s = Some(time_s);
        self.last_offset_s = offset_s;
        self.last_phase_s = phase;
        (phase, dfreq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gains_match_ntpd() {
        let mut p = Pll::default();
        p.reset(0.0);
        let (phase, dfreq) = p.update(64.0, 0.001, 64.0);
        // T = 1024 s: 1 - e^(-1/16) of the offset is slewed now.
        assert!((phase - 0.001 * (1.0 - (-1.0f64 / 16.0).exp())).abs() < 1e-15);
        // Frequency: θ·μ/(4T)² = 1e-3 · 64 / 4096².
        assert!((dfreq - 1e-3 * 64.0 / (4096.0 * 4096.0)).abs() < 1e-18);
    }

    #[test]
    fn fll_joins_at_long_polls() {
        let mut p = Pll::default();
        p.reset(0.0);
        let _ = p.update(2048.0, 0.0, 2048.0);
        // Offset grew 2 ms over 2048 s with nothing applied: ~1 ppm, FLL takes a quarter.
        let (_, dfreq) = p.update(4096.0, 0.002, 2048.0);
        let pll = 0.002 * 2048.0 / (4.0 * 16.0 * 2048.0f64).powi(2);
        assert!((dfreq - pll - 0.002 / 2048.0 * 0.25).abs() < 1e-15);
    }
}
