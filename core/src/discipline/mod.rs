//! The clock discipline: the RFC 5905 §11.3 state machine (NSET, FSET, SPIK, FREQ,
//! SYNC), step versus slew, the panic threshold, frequency in and out for a driftfile,
//! and the poll-adaptive time constant, around one of two estimators:
//!
//! - [`Algorithm::Kalman`] (default): a Kalman filter on offset and frequency, fed
//!   with every fresh sample weighted by its delay (see [`kalman`]);
//! - [`Algorithm::Rfc5905`]: the hybrid PLL/FLL with ntpd's gains (see [`pll`]).
//!
//! The simulator measures both (docs/discipline.md); the Kalman filter converges
//! faster and holds tighter, so it is the default.
//!
//! Offsets here are *effective* offsets: the node subtracts the part of its last slew
//! that the clock has not yet made, so a long slew in progress is not mistaken for a
//! frequency error. The node carries each slew out as a frequency offset for a
//! duration it chooses ([`slew`]), never as a kernel single-shot slew.

pub mod kalman;
pub mod pll;
pub mod slew;

use crate::time::PollInterval;
use kalman::{Kalman, KalmanStep};
use pll::Pll;

/// The estimator behind the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// Kalman filter on offset and frequency (slew's default).
    #[default]
    Kalman,
    /// RFC 5905's hybrid PLL/FLL with ntpd 4.2.8's gains.
    Rfc5905,
}

/// When the clock may be stepped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StepMode {
    /// ntpd's default: step whenever the offset stays above the step threshold for
    /// the stepout interval (and at start).
    #[default]
    Always,
    /// Step only before the first slew, then never again: ntpdate-then-ntpd, or
    /// chrony's `makestep` limited to the start.
    AtStartOnly,
    /// Never step, slew everything (`ntpd -x`).
    SlewOnly,
}

/// The discipline's configuration, `tinker`-style; defaults are ntpd 4.2.8's.
#[derive(Clone, Debug, PartialEq)]
pub struct DisciplineConfig {
    /// The estimator.
    pub algorithm: Algorithm,
    /// When stepping is allowed.
    pub step_mode: StepMode,
    /// Offsets above this are stepped (when allowed), seconds. `tinker step`; 0
    /// disables stepping as in ntpd.
    pub step_threshold_s: f64,
    /// How long an offset must stay above the step threshold before it is acted on,
    /// seconds (`tinker stepout`: ntpd 4.2.8 uses 300 s, RFC 5905's WATCH is 900 s).
    pub stepout_s: f64,
    /// Offsets above this are refused as insane, seconds (`tinker panic`); 0 disables.
    pub panic_threshold_s: f64,
    /// Allow one big first correction beyond the panic threshold (`ntpd -g`).
    pub allow_big_first: bool,
    /// Frequency from a driftfile, ppm: skips the FREQ state.
    pub initial_frequency_ppm: Option<f64>,
    /// Frequency correction bound, ppm (MAXFREQ).
    pub max_frequency_ppm: f64,
    /// Bounds of the system poll interval.
    pub minpoll: PollInterval,
    /// Upper bound of the system poll interval.
    pub maxpoll: PollInterval,
    /// Precision of the local clock, seconds: floors jitter.
    pub precision_s: f64,
    /// Random-walk frequency noise the Kalman filter assumes, s²/s³.
    pub wander: f64,
}

impl Default for DisciplineConfig {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::default(),
            step_mode: StepMode::default(),
            step_threshold_s: 0.128,
            stepout_s: 300.0,
            panic_threshold_s: 1000.0,
            allow_big_first: false,
            initial_frequency_ppm: None,
            max_frequency_ppm: 500.0,
            minpoll: PollInterval::DEFAULT_MIN,
            maxpoll: PollInterval::DEFAULT_MAX,
            // 2^-20 s, about a microsecond: a typical Linux clock_gettime precision.
            precision_s: 9.5367431640625e-7,
            // 1e-18 s²/s³: frequency wanders by ~1 ppb per √s, ~0.06 ppm per hour.
            wander: 1e-18,
        }
    }
}

/// The discipline state (RFC 5905 §11.3), numbered as ntpd numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Never set.
    Nset = 0,
    /// Frequency set from a file, clock not yet set.
    Fset = 1,
    /// Spike: an offset above the step threshold, waiting out stepout.
    Spik = 2,
    /// Measuring the frequency (no driftfile).
    Freq = 3,
    /// Synchronised: normal operation.
    Sync = 4,
}

/// Why an update made no correction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgnoreReason {
    /// Above the step threshold, inside the stepout interval.
    Spike,
    /// Measuring the frequency: waiting for the stepout interval to pass.
    FrequencyWait,
    /// An outlier for the estimator.
    Outlier,
}

/// What the discipline wants done with one measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
#[must_use]
pub enum Correction {
    /// Nothing now.
    Ignore(IgnoreReason),
    /// Slew the clock by `phase_s` (on top of whatever the node already asked for)
    /// and set the frequency correction.
    Slew {
        /// Seconds to slew (positive: forward).
        phase_s: f64,
        /// Frequency correction in force from now on, ppm.
        frequency_ppm: f64,
    },
    /// Step the clock by `offset_s` and set the frequency correction.
    Step {
        /// Seconds to step (positive: forward).
        offset_s: f64,
        /// Frequency correction in force from now on, ppm.
        frequency_ppm: f64,
    },
    /// The offset exceeds the panic threshold: refuse it (ntpd exits; the port
    /// decides).
    Panic {
        /// The offending offset, seconds.
        offset_s: f64,
    },
}

/// One measurement for the discipline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    /// When it was taken, monotonic seconds.
    pub time_s: f64,
    /// Effective offset, seconds (positive: the clock is behind).
    pub offset_s: f64,
    /// Its error variance, s² (Kalman weight).
    pub variance_s2: f64,
}

/// The clock discipline.
#[derive(Clone, Debug)]
pub struct Discipline {
    config: DisciplineConfig,
    state: State,
    frequency_ppm: f64,
    /// When the current spike or frequency measurement started.
    watch_start_s: f64,
    /// Set once any correction other than a step was made.
    slewed: bool,
    updated: bool,
    pll: Pll,
    kalman: Kalman,
    poll: PollInterval,
    poll_count: i32,
    jitter_s: f64,
    wander_ppm: f64,
    last_offset_s: f64,
    last_update_s: Option<f64>,
    steps: u32,
}

/// The longest a Kalman correction is spread, in poll intervals.
const KALMAN_SLEW_INTERVALS: f64 = 4.0;

/// ntpd's poll-adjust limit (`CLOCK_LIMIT`).
const POLL_LIMIT: i32 = 30;
/// ntpd's poll gate (`CLOCK_PGATE`): offsets within this many jitters count as good.
const POLL_GATE: f64 = 4.0;

impl Discipline {
    /// A discipline in NSET (or FSET, with a driftfile frequency).
    pub fn new(config: DisciplineConfig) -> Self {
        let max = config.max_frequency_ppm;
        let (state, frequency_ppm) = match config.initial_frequency_ppm {
            Some(f) => (State::Fset, f.clamp(-max, max)),
            None => (State::Nset, 0.0),
        };
        let poll = config.minpoll;
        Self {
            kalman: Kalman::new(config.wander),
            jitter_s: config.precision_s,
            config,
            state,
            frequency_ppm,
            watch_start_s: 0.0,
            slewed: false,
            updated: false,
            pll: Pll::default(),
            poll,
            poll_count: 0,
            wander_ppm: 0.0,
            last_offset_s: 0.0,
            last_update_s: None,
            steps: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DisciplineConfig {
        &self.config
    }

    /// The state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The frequency correction in force, ppm: what goes to the driftfile.
    pub fn frequency_ppm(&self) -> f64 {
        self.frequency_ppm
    }

    /// The system poll interval (the time constant follows it).
    pub fn poll(&self) -> PollInterval {
        self.poll
    }

    /// Clock jitter (ntpd's `clk_jitter`), seconds.
    pub fn jitter_s(&self) -> f64 {
        self.jitter_s
    }

    /// Clock wander (ntpd's `clk_wander`), ppm.
    pub fn wander_ppm(&self) -> f64 {
        self.wander_ppm
    }

    /// The last effective offset seen, seconds.
    pub fn last_offset_s(&self) -> f64 {
        self.last_offset_s
    }

    /// When the clock was last updated, monotonic seconds.
    pub fn last_update_s(&self) -> Option<f64> {
        self.last_update_s
    }

    /// Steps made so far.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// True once the clock has been set and is being disciplined.
    pub fn is_synchronised(&self) -> bool {
        matches!(self.state, State::Sync | State::Spik | State::Freq)
    }

    fn may_step(&self) -> bool {
        if self.config.step_threshold_s <= 0.0 {
            return false;
        }
        match self.config.step_mode {
            StepMode::Always => true,
            StepMode::AtStartOnly => !self.slewed,
            StepMode::SlewOnly => false,
        }
    }

    fn clamp_freq(&mut self, ppm: f64) -> f64 {
        let max = self.config.max_frequency_ppm;
        self.frequency_ppm = ppm.clamp(-max, max);
        self.frequency_ppm
    }

    fn note(&mut self, m: &Measurement) {
        // ntpd's clock jitter: exponential average of offset differences.
        let d = libm::fabs(m.offset_s - self.last_offset_s).max(self.config.precision_s);
        let j2 = self.jitter_s * self.jitter_s;
        self.jitter_s = libm::sqrt(j2 + (d * d - j2) / pll::AVG);
        self.last_offset_s = m.offset_s;
        self.last_update_s = Some(m.time_s);
        self.updated = true;
    }

    fn step(&mut self, m: &Measurement) -> Correction {
        self.steps += 1;
        self.note(m);
        self.last_offset_s = 0.0;
        self.pll.reset(m.time_s);
        let freq_known = self.config.initial_frequency_ppm.is_some()
            || self.state == State::Sync
            || self.state == State::Spik;
        if freq_known {
            self.kalman.after_step(m.time_s, m.variance_s2);
            self.state = State::Sync;
        } else {
            self.kalman.reset(
                m.time_s,
                m.variance_s2,
                self.config.max_frequency_ppm * 1e-6,
            );
            self.state = State::Freq;
            self.watch_start_s = m.time_s;
        }
        self.poll = self.config.minpoll;
        self.poll_count = 0;
        Correction::Step {
            offset_s: m.offset_s,
            frequency_ppm: self.frequency_ppm,
        }
    }

    /// Feed one measurement; returns what to do with the clock.
    pub fn update(&mut self, m: Measurement) -> Correction {
        let abs = libm::fabs(m.offset_s);
        let first = !self.updated;
        if self.config.panic_threshold_s > 0.0
            && abs > self.config.panic_threshold_s
            && !(first && self.config.allow_big_first)
        {
            return Correction::Panic {
                offset_s: m.offset_s,
            };
        }
        let big = abs > self.config.step_threshold_s;

        if matches!(self.state, State::Nset | State::Fset) {
            if big && self.may_step() {
                return self.step(&m);
            }
            // Set the clock by slewing the whole first offset.
            self.note(&m);
            self.slewed = true;
            self.pll.reset(m.time_s);
            let freq_sd = match self.config.initial_frequency_ppm {
                // A driftfile value is good to about a ppm (temperature since).
                Some(_) => 1e-6,
                None => self.config.max_frequency_ppm * 1e-6,
            };
            self.kalman.reset(m.time_s, m.variance_s2, freq_sd);
            self.state = if self.state == State::Fset || self.config.algorithm == Algorithm::Kalman
            {
                State::Sync
            } else {
                self.watch_start_s = m.time_s;
                State::Freq
            };
            return Correction::Slew {
                phase_s: m.offset_s,
                frequency_ppm: self.frequency_ppm,
            };
        }

        if big {
            match self.state {
                State::Sync => {
                    self.state = State::Spik;
                    self.watch_start_s = m.time_s;
                    return Correction::Ignore(IgnoreReason::Spike);
                }
                _ => {
                    if m.time_s - self.watch_start_s < self.config.stepout_s {
                        return Correction::Ignore(IgnoreReason::Spike);
                    }
                    if self.may_step() {
                        return self.step(&m);
                    }
                    // Not allowed to step: slew it like any other offset.
                }
            }
        }

        if self.state == State::Spik {
            self.state = State::Sync;
        }
        match self.config.algorithm {
            Algorithm::Rfc5905 => self.update_pll(m),
            Algorithm::Kalman => self.update_kalman(m),
        }
    }

    fn update_pll(&mut self, m: Measurement) -> Correction {
        if self.state == State::Freq {
            let mu = m.time_s - self.watch_start_s;
            if mu < self.config.stepout_s {
                return Correction::Ignore(IgnoreReason::FrequencyWait);
            }
            // ntpd's direct frequency measurement: everything the first slew left
            // over after mu seconds is frequency error.
            let f = self.frequency_ppm + m.offset_s / mu * 1e6;
            self.clamp_freq(f);
            self.state = State::Sync;
            self.note(&m);
            self.pll.reset(m.time_s);
            self.slewed = true;
            return Correction::Slew {
                phase_s: m.offset_s,
                frequency_ppm: self.frequency_ppm,
            };
        }
        let poll_s = self.poll.as_seconds_f64();
        let (phase_s, dfreq) = self.pll.update(m.time_s, m.offset_s, poll_s);
        let old = self.frequency_ppm;
        self.clamp_freq(old + dfreq * 1e6);
        self.note_wander(self.frequency_ppm - old);
        self.note(&m);
        self.slewed = true;
        // ntpd's poll rule: offsets small against the jitter lengthen the poll.
        if libm::fabs(m.offset_s) < POLL_GATE * self.jitter_s {
            self.poll_count += self.poll.log2() as i32;
            if self.poll_count > POLL_LIMIT {
                self.poll_count = 0;
                self.poll = self.poll.inc(self.config.maxpoll);
            }
        } else {
            self.poll_count -= 2 * self.poll.log2() as i32;
            if self.poll_count < -POLL_LIMIT {
                self.poll_count = 0;
                self.poll = self.poll.dec(self.config.minpoll);
            }
        }
        Correction::Slew {
            phase_s,
            frequency_ppm: self.frequency_ppm,
        }
    }

    fn update_kalman(&mut self, m: Measurement) -> Correction {
        match self.kalman.update(m.time_s, m.offset_s, m.variance_s2) {
            KalmanStep::Held => Correction::Ignore(IgnoreReason::Outlier),
            KalmanStep::Correct(phase_s, dfreq) => {
                let old = self.frequency_ppm;
                self.clamp_freq(old + dfreq * 1e6);
                self.note_wander(self.frequency_ppm - old);
                self.note(&m);
                self.state = State::Sync;
                self.slewed = true;
                // Lengthen the poll while the phase that would build up over twice
                // the interval stays below the measurement noise; shorten it when
                // even one interval lets more build up than twice that noise.
                let poll_s = self.poll.as_seconds_f64();
                let r = self
                    .kalman
                    .typical_var_s2()
                    .max(self.config.precision_s * self.config.precision_s);
                if self.kalman.predicted_growth_s2(2.0 * poll_s) < r {
                    self.poll_count += 1;
                } else if self.kalman.predicted_growth_s2(poll_s) > 2.0 * r {
                    self.poll_count -= 1;
                } else {
                    self.poll_count -= self.poll_count.signum();
                }
                if self.poll_count >= 4 {
                    self.poll_count = 0;
                    self.poll = self.poll.inc(self.config.maxpoll);
                } else if self.poll_count <= -2 {
                    self.poll_count = 0;
                    self.poll = self.poll.dec(self.config.minpoll);
                }
                Correction::Slew {
                    phase_s,
                    frequency_ppm: self.frequency_ppm,
                }
            }
        }
    }

    fn note_wander(&mut self, dppm: f64) {
        let w2 = self.wander_ppm * self.wander_ppm;
        self.wander_ppm = libm::sqrt(w2 + (dppm * dppm - w2) / pll::AVG);
    }

    /// The longest a slew may take, in poll intervals. The PLL's phase is the part
    /// ntpd drains before the next update, so it must be made within one; the Kalman
    /// filter sees what is still pending and may spread a correction further.
    pub fn slew_intervals(&self) -> f64 {
        match self.config.algorithm {
            Algorithm::Kalman => KALMAN_SLEW_INTERVALS,
            Algorithm::Rfc5905 => 1.0,
        }
    }

    /// How well the frequency is known (1 σ), ppm: the Kalman filter's own figure;
    /// for the PLL, the bound while it is still measuring (NSET, FREQ) and the clock
    /// wander once synchronised.
    pub fn frequency_sd_ppm(&self) -> f64 {
        match (self.config.algorithm, self.state) {
            (Algorithm::Kalman, _) => self.kalman.freq_sd() * 1e6,
            (Algorithm::Rfc5905, State::Nset | State::Fset | State::Freq) => {
                self.config.max_frequency_ppm
            }
            (Algorithm::Rfc5905, _) => self.wander_ppm,
        }
    }

    /// Kalman offset uncertainty (1 σ), seconds; for the status the clock publishes.
    pub fn offset_sd_s(&self) -> f64 {
        match self.config.algorithm {
            Algorithm::Kalman => self.kalman.offset_sd_s(),
            Algorithm::Rfc5905 => self.jitter_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(time_s: f64, offset_s: f64) -> Measurement {
        Measurement {
            time_s,
            offset_s,
            variance_s2: 1e-8,
        }
    }

    fn cfg(algorithm: Algorithm, step_mode: StepMode) -> DisciplineConfig {
        DisciplineConfig {
            algorithm,
            step_mode,
            ..DisciplineConfig::default()
        }
    }

    #[test]
    fn first_big_offset_steps_small_one_slews() {
        for alg in [Algorithm::Kalman, Algorithm::Rfc5905] {
            let mut d = Discipline::new(cfg(alg, StepMode::Always));
            assert!(
                matches!(d.update(m(0.0, 2.0)), Correction::Step { offset_s, .. } if offset_s == 2.0)
            );
            let mut d = Discipline::new(cfg(alg, StepMode::Always));
            assert!(
                matches!(d.update(m(0.0, 0.05)), Correction::Slew { phase_s, .. } if phase_s == 0.05)
            );
        }
    }

    #[test]
    fn slew_only_never_steps() {
        let mut d = Discipline::new(cfg(Algorithm::Kalman, StepMode::SlewOnly));
        assert!(matches!(d.update(m(0.0, 2.0)), Correction::Slew { .. }));
        // A later big offset: a spike first, then after stepout a slew, never a step.
        assert_eq!(
            d.update(m(64.0, 1.0)),
            Correction::Ignore(IgnoreReason::Spike)
        );
        assert!(matches!(
            d.update(m(400.0, 1.0)),
            Correction::Slew { .. } | Correction::Ignore(IgnoreReason::Outlier)
        ));
        assert_eq!(d.steps(), 0);
    }

    #[test]
    fn spike_waits_for_stepout_then_steps() {
        let mut d = Discipline::new(cfg(Algorithm::Kalman, StepMode::Always));
        let _ = d.update(m(0.0, 0.001));
        assert_eq!(
            d.update(m(64.0, 0.5)),
            Correction::Ignore(IgnoreReason::Spike)
        );
        assert_eq!(d.state(), State::Spik);
        assert_eq!(
            d.update(m(128.0, 0.5)),
            Correction::Ignore(IgnoreReason::Spike)
        );
        assert!(matches!(d.update(m(400.0, 0.5)), Correction::Step { .. }));
        // A spike that goes away is forgotten.
        let _ = d.update(m(464.0, 0.4));
        assert_eq!(d.state(), State::Spik);
        assert!(matches!(d.update(m(528.0, 0.0)), Correction::Slew { .. }));
        assert_eq!(d.state(), State::Sync);
    }

    #[test]
    fn at_start_only_steps_before_the_first_slew() {
        let mut d = Discipline::new(cfg(Algorithm::Kalman, StepMode::AtStartOnly));
        assert!(matches!(d.update(m(0.0, 0.01)), Correction::Slew { .. }));
        let _ = d.update(m(64.0, 0.5));
        assert!(!matches!(d.update(m(400.0, 0.5)), Correction::Step { .. }));
    }

    #[test]
    fn panic_threshold_and_g() {
        let mut d = Discipline::new(DisciplineConfig::default());
        assert_eq!(
            d.update(m(0.0, 2000.0)),
            Correction::Panic { offset_s: 2000.0 }
        );
        let mut d = Discipline::new(DisciplineConfig {
            allow_big_first: true,
            ..DisciplineConfig::default()
        });
        assert!(matches!(d.update(m(0.0, 2000.0)), Correction::Step { .. }));
        assert_eq!(
            d.update(m(64.0, -2000.0)),
            Correction::Panic { offset_s: -2000.0 }
        );
        let mut d = Discipline::new(DisciplineConfig {
            panic_threshold_s: 0.0,
            ..DisciplineConfig::default()
        });
        assert!(matches!(d.update(m(0.0, 2000.0)), Correction::Step { .. }));
    }

    #[test]
    fn driftfile_skips_freq_state() {
        let mut d = Discipline::new(DisciplineConfig {
            algorithm: Algorithm::Rfc5905,
            initial_frequency_ppm: Some(12.5),
            ..DisciplineConfig::default()
        });
        assert_eq!(d.state(), State::Fset);
        assert!(
            matches!(d.update(m(0.0, 0.001)), Correction::Slew { frequency_ppm, .. } if frequency_ppm == 12.5)
        );
        assert_eq!(d.state(), State::Sync);
        // Without one, the RFC discipline measures the frequency over stepout first.
        let mut d = Discipline::new(cfg(Algorithm::Rfc5905, StepMode::Always));
        let _ = d.update(m(0.0, 0.001));
        assert_eq!(d.state(), State::Freq);
        assert_eq!(
            d.update(m(64.0, 0.0)),
            Correction::Ignore(IgnoreReason::FrequencyWait)
        );
        match d.update(m(300.0, 0.003)) {
            Correction::Slew { frequency_ppm, .. } => assert!((frequency_ppm - 10.0).abs() < 1e-9),
            other => panic!("{other:?}"),
        }
        assert_eq!(d.state(), State::Sync);
    }

    #[test]
    fn frequency_is_clamped() {
        let mut d = Discipline::new(DisciplineConfig {
            algorithm: Algorithm::Rfc5905,
            initial_frequency_ppm: Some(900.0),
            ..DisciplineConfig::default()
        });
        assert_eq!(d.frequency_ppm(), 500.0);
        let _ = d.update(m(0.0, 0.0));
    }
}
