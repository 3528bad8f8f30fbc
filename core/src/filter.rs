//! The clock filter of one association (RFC 5905 §10).
//!
//! Eight stages hold the most recent samples. Each new sample shifts the oldest out;
//! the stage with the least round-trip delay wins, because delay bounds the error of
//! a sample's offset (the error is at most half the delay above the path's minimum).
//! The filter also yields the peer dispersion (older and worse samples weigh less),
//! the peer jitter (RMS of the stages' offsets about the winner) and suppresses
//! "popcorn" spikes: a winner far from the last output, judged against the jitter, is
//! held back once.
//!
//! Times here are seconds of the node's monotonic [`Instant`](crate::Instant) as
//! `f64`; offsets are "server minus local", so a positive offset means the local clock
//! is behind.

/// Number of filter stages (NSTAGE).
pub const NSTAGE: usize = 8;
/// Frequency tolerance of a clock, s/s (PHI): dispersion grows this fast with age.
pub const PHI: f64 = 15e-6;
/// Maximum dispersion, seconds (MAXDISP): an empty or stale stage counts as this bad.
pub const MAXDISP_S: f64 = 16.0;
/// Spike gate (SGATE): a winner more than this many jitters from the last output is
/// a popcorn spike.
pub const SGATE: f64 = 3.0;

/// One measurement, as the association computed it from the four timestamps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterSample {
    /// Clock offset θ, seconds (server minus local).
    pub offset_s: f64,
    /// Round-trip delay δ, seconds (never below the local precision).
    pub delay_s: f64,
    /// Dispersion ε at the time of the sample, seconds (precisions plus PHI over the
    /// round trip).
    pub dispersion_s: f64,
    /// When the sample was taken, monotonic seconds.
    pub time_s: f64,
}

/// What the filter hands on when it has a new, usable winner.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterOutput {
    /// Offset of the winning stage, seconds.
    pub offset_s: f64,
    /// Delay of the winning stage, seconds.
    pub delay_s: f64,
    /// Peer dispersion, seconds.
    pub dispersion_s: f64,
    /// Peer jitter, seconds.
    pub jitter_s: f64,
    /// When the winning sample was taken, monotonic seconds.
    pub time_s: f64,
}

/// Why [`ClockFilter::add`] produced no output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterReject {
    /// The best stage is not newer than the one used last: a sample is used only once
    /// and never one older than the last used (RFC 5905 §10).
    NotNewer,
    /// The winner is a popcorn spike: held back once.
    Popcorn,
}

/// The 8-stage clock filter of one association.
#[derive(Clone, Debug)]
pub struct ClockFilter {
    stages: [Option<FilterSample>; NSTAGE],
    /// Index where the next sample goes (the stages form a ring).
    next: usize,
    last: Option<FilterOutput>,
    /// Set after a popcorn spike was held back, so the next one is let through: a
    /// genuine change of offset must not be suppressed for ever.
    spike_held: bool,
}

impl Default for ClockFilter {
    fn default() -> Self {
        Self::new()
    }
}

impl ClockFilter {
    /// An empty filter.
    pub const fn new() -> Self {
        Self {
            stages: [None; NSTAGE],
            next: 0,
            last: None,
            spike_held: false,
        }
    }

    /// Forget every sample (a new association, or a demobilised one).
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// The last output, if any.
    pub fn last(&self) -> Option<&FilterOutput> {
        self.last.as_ref()
    }

    /// Seconds between the two newest samples (two during an iburst, the poll
    /// interval after), if there are two.
    pub fn sample_interval_s(&self) -> Option<f64> {
        let newest = self
            .stages
            .get((self.next + NSTAGE - 1) % NSTAGE)?
            .as_ref()?;
        let before = self
            .stages
            .get((self.next + NSTAGE - 2) % NSTAGE)?
            .as_ref()?;
        Some((newest.time_s - before.time_s).max(0.0))
    }

    /// Number of stages that hold a sample.
    pub fn len(&self) -> usize {
        self.stages.iter().flatten().count()
    }

    /// True when no stage holds a sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The smallest delay among the stages, seconds.
    pub fn min_delay_s(&self) -> Option<f64> {
        self.stages
            .iter()
            .flatten()
            .map(|s| s.delay_s)
            .fold(None, |m, d| Some(m.map_or(d, |m: f64| m.min(d))))
    }

    /// Move every stored offset by `delta_s`: the node calls this when it corrects
    /// the clock by `-delta_s`, so that stored samples keep describing the clock as
    /// it will be, and an older winner does not re-apply a correction already made.
    pub fn shift_offsets(&mut self, delta_s: f64) {
        for s in self.stages.iter_mut().flatten() {
            s.offset_s += delta_s;
        }
        if let Some(l) = self.last.as_mut() {
            l.offset_s += delta_s;
        }
    }

    /// The peer dispersion now: the winner's ordering weighs each stage by 2^-(i+1),
    /// each aged by PHI since it was taken; empty stages count as MAXDISP.
    pub fn dispersion_at(&self, now_s: f64) -> f64 {
        let mut sorted = self.sorted();
        let mut eps = 0.0;
        let mut weight = 0.5;
        for slot in sorted.iter_mut() {
            let d = match slot {
                Some(s) => aged(s, now_s),
                None => MAXDISP_S,
            };
            eps += weight * d;
            weight *= 0.5;
        }
        eps
    }

    /// Stages sorted by increasing delay, ties broken by age (newer first), empty
    /// stages last.
    fn sorted(&self) -> [Option<FilterSample>; NSTAGE] {
        let mut s = self.stages;
        // Insertion sort: eight elements, no allocation, stable.
        for i in 1..NSTAGE {
            let mut j = i;
            while j > 0 && before(&s[j], &s[j - 1]) {
                s.swap(j, j - 1);
                j -= 1;
            }
        }
        s
    }

    /// Shift in a sample taken now (`sample.time_s`) and pick a winner. `poll_s` is
    /// the association's poll interval (the popcorn gate only applies to a winner
    /// that is recent compared to it); `precision_s` floors the jitter.
    pub fn add(
        &mut self,
        sample: FilterSample,
        poll_s: f64,
        precision_s: f64,
    ) -> Result<FilterOutput, FilterReject> {
        let now_s = sample.time_s;
        if let Some(slot) = self.stages.get_mut(self.next) {
            *slot = Some(sample);
        }
        self.next = (self.next + 1) % NSTAGE;

        let sorted = self.sorted();
        let Some(best) = sorted.first().copied().flatten() else {
            return Err(FilterReject::NotNewer);
        };
        let dispersion_s = self.dispersion_at(now_s);
        // Jitter: RMS of the other stages' offsets about the winner's.
        let mut sum_sq = 0.0;
        let mut n = 0usize;
        for s in sorted.iter().skip(1).flatten() {
            let d = s.offset_s - best.offset_s;
            sum_sq += d * d;
            n += 1;
        }
        let jitter_s = if n > 0 {
            libm::sqrt(sum_sq / n as f64).max(precision_s)
        } else {
            precision_s
        };

        if let Some(last) = self.last {
            if best.time_s <= last.time_s {
                return Err(FilterReject::NotNewer);
            }
            // Popcorn spike: far from the last output in units of jitter, and recent
            // (an old winner after a long gap is let through: the offset may have
            // really changed while we were not looking).
            let jump = libm::fabs(best.offset_s - last.offset_s);
            if !self.spike_held
                && n > 0
                && jump > SGATE * last.jitter_s.max(precision_s)
                && best.time_s - last.time_s < 2.0 * poll_s
            {
                self.spike_held = true;
                return Err(FilterReject::Popcorn);
            }
        }
        self.spike_held = false;
        let out = FilterOutput {
            offset_s: best.offset_s,
            delay_s: best.delay_s,
            dispersion_s,
            jitter_s,
            time_s: best.time_s,
        };
        self.last = Some(out);
        Ok(out)
    }
}

fn aged(s: &FilterSample, now_s: f64) -> f64 {
    (s.dispersion_s + PHI * (now_s - s.time_s).max(0.0)).min(MAXDISP_S)
}

/// Sort order of the stages: least delay first; equal delays (every stage of a
/// refclock has delay 0) by least distance, i.e. least dispersion aged to a common
/// moment (ntpd's rule), then newer first.
fn before(a: &Option<FilterSample>, b: &Option<FilterSample>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            // disp + PHI·(now − t) compared for any common `now`.
            let da = a.dispersion_s - PHI * a.time_s;
            let db = b.dispersion_s - PHI * b.time_s;
            a.delay_s < b.delay_s
                || (a.delay_s == b.delay_s && (da < db || (da == db && a.time_s > b.time_s)))
        }
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(offset_s: f64, delay_s: f64, time_s: f64) -> FilterSample {
        FilterSample {
            offset_s,
            delay_s,
            dispersion_s: 1e-6,
            time_s,
        }
    }

    #[test]
    fn picks_minimum_delay_and_uses_a_sample_once() {
        let mut f = ClockFilter::new();
        let a = f.add(s(0.010, 0.020, 0.0), 64.0, 1e-6).unwrap();
        assert_eq!(a.offset_s, 0.010);
        // A worse (longer delay) newer sample: the old winner stays, and it was used.
        assert_eq!(
            f.add(s(0.011, 0.030, 64.0), 64.0, 1e-6),
            Err(FilterReject::NotNewer)
        );
        // A better one wins.
        let b = f.add(s(0.0101, 0.010, 128.0), 64.0, 1e-6).unwrap();
        assert_eq!(b.delay_s, 0.010);
        assert_eq!(b.time_s, 128.0);
    }

    #[test]
    fn oldest_stage_shifts_out() {
        let mut f = ClockFilter::new();
        f.add(s(0.0, 0.001, 0.0), 64.0, 1e-6).unwrap();
        for i in 1..NSTAGE {
            let _ = f.add(s(0.0, 0.002, 64.0 * i as f64), 64.0, 1e-6);
        }
        assert_eq!(f.min_delay_s(), Some(0.001));
        // The ninth sample pushes the 1 ms stage out: a 2 ms stage wins, newer first.
        let out = f.add(s(0.0, 0.002, 64.0 * 8.0), 64.0, 1e-6).unwrap();
        assert_eq!(out.delay_s, 0.002);
        assert_eq!(out.time_s, 512.0);
        assert_eq!(f.len(), NSTAGE);
    }

    #[test]
    fn dispersion_weights_and_ages() {
        let mut f = ClockFilter::new();
        f.add(s(0.0, 0.001, 0.0), 64.0, 1e-6).unwrap();
        // One stage of ~0 dispersion, seven empty ones at MAXDISP: 16 * (1/4 + ... + 1/256).
        let empty = MAXDISP_S * (0.5 - 1.0 / 256.0);
        assert!((f.dispersion_at(0.0) - (0.5e-6 + empty)).abs() < 1e-9);
        // After 1000 s the stage has aged by PHI * 1000 = 15 ms, weighted by 1/2.
        let d = f.dispersion_at(1000.0) - empty;
        assert!((d - 0.5 * (1e-6 + 0.015)).abs() < 1e-9, "{d}");
    }

    #[test]
    fn jitter_is_rms_about_the_winner() {
        let mut f = ClockFilter::new();
        f.add(s(0.000, 0.001, 0.0), 64.0, 1e-9).unwrap();
        let _ = f.add(s(0.003, 0.002, 1.0), 64.0, 1e-9);
        let _ = f.add(s(-0.004, 0.003, 2.0), 64.0, 1e-9);
        // Winner still the first; RMS of {3 ms, -4 ms} = sqrt(12.5) ms.
        let out = f.add(s(0.0, 0.0005, 3.0), 64.0, 1e-9).unwrap();
        let expect = libm::sqrt((0.0 + 0.003f64.powi(2) + 0.004f64.powi(2)) / 3.0);
        assert!((out.jitter_s - expect).abs() < 1e-12);
    }

    #[test]
    fn popcorn_spike_held_back_once() {
        let mut f = ClockFilter::new();
        for i in 0..4 {
            let _ = f.add(
                s(0.0001 * i as f64, 0.002 - 1e-4 * i as f64, i as f64 * 64.0),
                64.0,
                1e-6,
            );
        }
        let before = *f.last().unwrap();
        // A 50 ms jump with the lowest delay: a spike, held back...
        assert_eq!(
            f.add(s(0.050, 0.0001, 256.0), 64.0, 1e-6),
            Err(FilterReject::Popcorn)
        );
        assert_eq!(f.last().unwrap().offset_s, before.offset_s);
        // ...but a second one in a row is a real change and passes.
        let out = f.add(s(0.050, 0.00005, 320.0), 64.0, 1e-6).unwrap();
        assert_eq!(out.offset_s, 0.050);
    }

    #[test]
    fn shift_follows_clock_corrections() {
        let mut f = ClockFilter::new();
        f.add(s(0.010, 0.001, 0.0), 64.0, 1e-6).unwrap();
        f.shift_offsets(-0.010);
        assert!(f.last().unwrap().offset_s.abs() < 1e-15);
        let out = f.add(s(0.0, 0.0005, 64.0), 64.0, 1e-6).unwrap();
        assert!(out.offset_s.abs() < 1e-15);
    }
}
