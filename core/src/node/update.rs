//! Selection and clock updates: what the node does after every reply and poll.

use super::{Event, Fresh, Node, Queued};
use crate::clock::{ClockStatus, LeapIndicator};
use crate::discipline::slew::{
    SlewLimits, SlewSchedule, MIN_DURATION_S, SMOOTH_FROM_FREQUENCY_SD_PPM,
};
use crate::discipline::{Algorithm, Correction, IgnoreReason, Measurement, State};
use crate::filter::PHI;
use crate::peer::Reason;
use crate::select::{self, Candidate, NoSelection, Tally};
use crate::system::{SystemVars, MAXSTRAT};
use crate::time::{Instant, NtpShort, PollInterval, WideDuration};
use crate::wire::RefId;
use heapless::Vec;

/// How long, after the node's first reply, sources still settling may hold the first
/// clock update back: ten minutes is about what ntpd takes to its first update at
/// `minpoll 6` without `iburst`. It counts from one instant that no source's
/// behaviour moves, and bounds both waits (for sources warming up, and for the
/// start-up majority), so no source can hold the clock unset for longer.
pub const STARTUP_SETTLE_WAIT: core::time::Duration = core::time::Duration::from_secs(600);

/// Before the first clock update the truechimers must agree to within this (or the
/// step threshold, when one is set): RFC 5905's STEPT, 128 ms.
pub const STARTUP_AGREEMENT_S: f64 = 0.128;

impl<const N: usize, const R: usize, const S: usize> Node<N, R, S> {
    /// Re-run selection; if `fresh` is a new sample, let the discipline have it.
    pub(super) fn reselect(&mut self, now: Instant, fresh: Option<Fresh>) {
        let starting = !self.ever_synced && !self.startup_wait_over(now);
        let mut cands: Vec<Candidate, N> = Vec::new();
        let mut map: Vec<usize, N> = Vec::new();
        for (i, s) in self.sources.iter_mut().enumerate() {
            if let Some(reason) = s.unfit(now) {
                s.tally = Tally::Rejected;
                s.reason = reason;
                continue;
            }
            let Some(f) = s.filtered() else { continue };
            let c = Candidate {
                offset_s: f.offset_s,
                root_distance_s: s.root_distance_s(now),
                jitter_s: f.jitter_s,
                stratum: s.stratum(),
                prefer: s.config().prefer,
            };
            if cands.push(c).is_err() || map.push(i).is_err() {
                break;
            }
        }
        // Before the clock is first set, give every configured source its chance to
        // answer: selecting on the first reply alone would let a falseticker that
        // happens to answer first set the clock (RFC 5905's intersection needs the
        // others' samples to outvote it). Missed polls, unusable answers and
        // STARTUP_SETTLE_WAIT end the wait (`warming_up`). The unfit sources' reasons
        // above are already set, so monitoring shows why while we wait.
        if starting && self.sources.iter().any(|s| s.warming_up()) {
            return;
        }
        let current = self.sys_peer.and_then(|id| {
            map.iter()
                .position(|&i| self.sources.get(i).is_some_and(|s| s.id == id))
        });
        let mut tally = [Tally::Rejected; N];
        let n = cands.len();
        let result = select::select::<N>(&cands, &self.config.select, current, &mut tally[..n]);
        let no_majority = result == Err(NoSelection::NoMajority);
        for (k, &i) in map.iter().enumerate() {
            let Some(s) = self.sources.get_mut(i) else {
                continue;
            };
            let t = tally.get(k).copied().unwrap_or_default();
            let became_false = t == Tally::Falseticker && s.tally != Tally::Falseticker;
            s.tally = t;
            s.reason = match t {
                Tally::Falseticker if no_majority => Reason::NoMajority,
                Tally::Falseticker => Reason::Falseticker,
                Tally::Outlier => Reason::Outlier,
                Tally::Excess => Reason::Excess,
                Tally::Backup => Reason::TooFewSurvivors,
                _ => Reason::None,
            };
            if became_false && !no_majority {
                let (id, addr) = (s.id, s.config().addr);
                self.push_event(Event::Falseticker { id, addr });
            }
        }
        if result.is_ok() && starting && !self.startup_settled(now) {
            return;
        }
        match result {
            Ok(sel) => {
                let Some(&sys_idx) = map.get(sel.system_peer) else {
                    return;
                };
                let Some(p) = self.sources.get(sys_idx) else {
                    return;
                };
                let (id, addr) = (p.id, p.config().addr);
                self.lost_since = None;
                self.orphan_active = false;
                let changed = self.sys_peer != Some(id);
                self.sys_peer = Some(id);
                self.sys_reason = Reason::None;
                self.local_active = false;
                self.sys_offset_s = sel.offset_s;
                self.sys_jitter_s = sel.jitter_s;
                if let Some(f) = fresh {
                    self.discipline_sample(now, f, sel.offset_s, sel.jitter_s, id);
                }
                if self.ever_synced {
                    let updated = self.update_system_vars(now, sys_idx, sel.offset_s, sel.jitter_s);
                    if changed && updated {
                        let stratum = self.sys.stratum;
                        self.push_event(Event::SystemPeer { id, addr, stratum });
                    } else if changed {
                        // No filter output yet (a step just cleared the filters): the
                        // system variables are not this peer's yet, so neither is the
                        // announcement; it comes with the first update that is.
                        self.sys_peer = None;
                    }
                }
            }
            Err(e) => {
                let reason = match e {
                    // Nobody fit: say why the most promising source was not.
                    NoSelection::NoCandidates => {
                        let has = |r: Reason| self.sources.iter().any(|s| s.reason == r);
                        if has(Reason::Unsynchronized) {
                            Reason::Unsynchronized
                        } else if has(Reason::DistanceTooLarge) {
                            Reason::DistanceTooLarge
                        } else if self.sources.is_empty() || has(Reason::Unreachable) {
                            Reason::Unreachable
                        } else {
                            Reason::NoData
                        }
                    }
                    NoSelection::NoMajority => Reason::NoMajority,
                    NoSelection::TooFewSurvivors => Reason::TooFewSurvivors,
                };
                self.sys_reason = reason;
                if self.sys_peer.take().is_some() {
                    self.push_event(Event::NoSystemPeer { reason });
                }
                let lost_since = *self.lost_since.get_or_insert(now);
                let orphan = self
                    .config
                    .orphan
                    .filter(|o| now.saturating_since(lost_since) >= o.wait);
                if let (None, Some(o)) = (self.config.local_clock_stratum, orphan) {
                    if !self.orphan_active {
                        self.orphan_active = true;
                        self.push_event(Event::Orphan { stratum: o.stratum });
                    }
                    // ntpsec's orphan mode keeps the reference time of the last
                    // real update (zero if there never was one); only the local
                    // clock (ntpd 4.2.8's LOCAL(0)) refreshes it at each update.
                    let mut vars = SystemVars::local_clock(
                        self.config.precision,
                        o.stratum,
                        self.sys.reference_time,
                    );
                    // ntpd serves orphan mode at exactly the orphan stratum, with the
                    // loopback address as refid.
                    vars.stratum = o.stratum.min(MAXSTRAT);
                    vars.ref_id = RefId::from_bytes([127, 0, 0, 1]);
                    vars.poll = self.discipline.poll();
                    self.sys = vars;
                } else if let (Some(stratum), false) =
                    (self.config.local_clock_stratum, self.upstream_settling(now))
                {
                    if !self.local_active {
                        self.local_active = true;
                        self.push_event(Event::LocalClock {
                            stratum: stratum.saturating_add(1),
                        });
                    }
                    let mut vars =
                        SystemVars::local_clock(self.config.precision, stratum, self.wall_now(now));
                    vars.poll = self.discipline.poll();
                    self.sys = vars;
                } else if !self.ever_synced {
                    self.sys = SystemVars::unsynchronized(self.config.precision);
                }
                // Otherwise: holdover. The system variables stand and their root
                // dispersion grows with age (SystemVars::root_dispersion_at), as
                // with ntpd; the frequency correction keeps the clock going.
            }
        }
    }

    /// Before the clock is first set, the sources must have settled and agree:
    ///
    /// - no source that answers is still too dispersed to be a candidate;
    /// - the truechimers (survivors of the intersection) are a majority of the
    ///   sources that answer with time;
    /// - they agree with each other to within the step threshold.
    ///
    /// Early samples carry wide error bounds, so at first a falseticker 1 s off still
    /// intersects with everyone; choosing then would let it set the clock (ntpd steps
    /// towards it, REFERENCE.md notes), and slewing back from a wrong step takes over
    /// half an hour per second. As the filters fill, the bounds shrink and the
    /// intersection votes it out. Sources whose answers are unusable (unsynchronised,
    /// stratum 0, refused) are not "sources that answer with time". The caller stops
    /// asking after [`STARTUP_SETTLE_WAIT`], so a source that answers but never
    /// qualifies cannot hold the clock unset forever.
    fn startup_settled(&self, now: Instant) -> bool {
        let answering = self.sources.iter().filter(|s| s.answers_with_time());
        let mut n_answering = 0usize;
        for s in answering {
            n_answering += 1;
            if matches!(
                s.unfit(now),
                Some(Reason::NoData) | Some(Reason::DistanceTooLarge)
            ) {
                return false;
            }
        }
        let mut n_true = 0usize;
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for s in &self.sources {
            let truechimer = matches!(
                s.tally,
                Tally::SystemPeer
                    | Tally::Candidate
                    | Tally::Backup
                    | Tally::Outlier
                    | Tally::Excess
            );
            if let (true, Some(f)) = (truechimer, s.filtered()) {
                n_true += 1;
                lo = lo.min(f.offset_s);
                hi = hi.max(f.offset_s);
            }
        }
        let agreement_s = if self.config.discipline.step_threshold_s > 0.0 {
            self.config.discipline.step_threshold_s
        } else {
            STARTUP_AGREEMENT_S
        };
        n_true * 2 > n_answering && hi - lo <= agreement_s
    }

    /// True once [`STARTUP_SETTLE_WAIT`] has passed since the node's first reply
    /// (set once, by whichever source answered first).
    fn startup_wait_over(&self, now: Instant) -> bool {
        self.first_reply
            .is_some_and(|t| now.saturating_since(t) >= STARTUP_SETTLE_WAIT)
    }

    fn discipline_sample(
        &mut self,
        now: Instant,
        f: Fresh,
        sys_offset_s: f64,
        sys_jitter_s: f64,
        sys_id: crate::peer::SourceId,
    ) {
        let m = match self.config.discipline.algorithm {
            Algorithm::Kalman => {
                // Every fresh sample of a survivor counts, weighted by its delay: the
                // error of an offset is at most half the round trip beyond the path's
                // best, and the filter's jitter bounds the best sample's own error.
                let Some(s) = self.sources.iter().find(|s| s.id == f.id) else {
                    return;
                };
                if !matches!(s.tally, Tally::Candidate | Tally::SystemPeer) {
                    return;
                }
                let min_delay = s.filter.min_delay_s().unwrap_or(f.delay_s);
                let excess = (f.delay_s - min_delay).max(0.0);
                let prec = self.config.discipline.precision_s;
                // Before the first update nothing is known about the path: the
                // honest bound is half the round trip (uniform within it).
                // A refclock's delay is 0: its median filter's jitter is the error.
                let variance_s2 = if self.ever_synced {
                    prec * prec + excess * excess / 4.0
                } else {
                    prec * prec + f.delay_s * f.delay_s / 12.0
                } + f.dispersion_s * f.dispersion_s;
                Measurement {
                    time_s: f.time_s,
                    offset_s: f.offset_s,
                    variance_s2,
                }
            }
            Algorithm::Rfc5905 => {
                // ntpd updates the clock when the system peer's filter has a new
                // sample, with the combined offset; before the first update any
                // sample will do (RFC 5905 clock_filter: "anything goes before first
                // synchronized").
                if f.id != sys_id || (!f.filtered && self.ever_synced) {
                    return;
                }
                let Some(out) = self
                    .sources
                    .iter()
                    .find(|s| s.id == f.id)
                    .and_then(|s| s.filtered())
                else {
                    return;
                };
                // The winner's own time: the PLL's update interval and the FREQ
                // state's frequency measurement run on sample times.
                let _ = now;
                // While the frequency is still unknown (NSET, FREQ) the other sources'
                // filter outputs can be several polls old, each poll another 6 ms at
                // 100 ppm: use the system peer's fresh output alone, not the
                // combination (a deviation from ntpd, whose FREQ state suffers from it).
                let offset_s = match self.discipline.state() {
                    State::Nset | State::Fset | State::Freq => out.offset_s,
                    _ => sys_offset_s,
                };
                Measurement {
                    time_s: out.time_s,
                    offset_s,
                    variance_s2: sys_jitter_s * sys_jitter_s,
                }
            }
        };
        // The slew schedule spreads a correction over this source's sample interval
        // (chrony's update interval): two seconds during an iburst, the poll after.
        let interval_s = self
            .sources
            .iter()
            .find(|s| s.id == f.id)
            .and_then(|s| s.filter.sample_interval_s());
        let correction = self.discipline.update(m);
        self.apply(now, correction, interval_s);
        let poll = self.discipline.poll();
        for s in self.sources.iter_mut() {
            s.set_system_poll(poll);
        }
    }

    fn apply(&mut self, now: Instant, c: Correction, interval_s: Option<f64>) {
        let pending = self.pending_slew_s(now);
        match c {
            Correction::Ignore(IgnoreReason::Spike) => {
                self.push_event(Event::Spike {
                    offset_s: self.sys_offset_s,
                });
            }
            Correction::Ignore(_) => {}
            Correction::Slew {
                phase_s,
                frequency_ppm,
            } => {
                // The correction still to make, carried out as a rate added to the
                // frequency for a duration the schedule chooses from the noise.
                let total = pending + phase_s;
                let poll_s = self.discipline.poll().as_seconds_f64();
                let limits = SlewLimits {
                    noise_s: self.discipline.offset_sd_s(),
                    interval_s: interval_s.unwrap_or(poll_s).clamp(MIN_DURATION_S, poll_s),
                    max_duration_s: poll_s * self.discipline.slew_intervals(),
                    max_rate_ppm: self.config.max_slew_rate_ppm,
                    // The smoothness bound holds once the frequency is known to a
                    // ppm. Before (the first correction, which sets the clock where
                    // ntpd would step, and the iburst that follows) the clock's rate
                    // is tens of ppm off anyway: chrony's rule alone.
                    free_rate_ppm: if self.ever_synced
                        && self.discipline.frequency_sd_ppm() < SMOOTH_FROM_FREQUENCY_SD_PPM
                    {
                        0.0
                    } else {
                        self.config.max_slew_rate_ppm
                    },
                };
                self.slew = SlewSchedule::start(now.as_seconds_f64(), total, &limits);
                self.push(Queued::SetFrequency(frequency_ppm + self.slew.rate_ppm()));
                self.shift_filters(-phase_s);
                self.ever_synced = true;
                self.clock_updates = self.clock_updates.wrapping_add(1);
                self.push_status();
            }
            Correction::Step {
                offset_s,
                frequency_ppm,
            } => {
                // The step makes what the slew in progress had not: stop it.
                let total = pending + offset_s;
                self.slew = SlewSchedule::IDLE;
                // Full width: an offset of decades is stepped whole.
                let step = WideDuration::from_seconds_f64(total);
                self.push(Queued::Step(step));
                self.push(Queued::SetFrequency(frequency_ppm));
                self.clock_updates = self.clock_updates.wrapping_add(1);
                // As ntpd: after a step every stored sample is history; start over.
                self.shift_filters(-offset_s);
                for s in self.sources.iter_mut() {
                    s.filter.clear();
                }
                if let Some((at, wall)) = self.wall_anchor {
                    self.wall_anchor = Some((at, wall + step));
                }
                self.ever_synced = true;
                self.push_event(Event::Step { offset_s: total });
                self.push_status();
            }
            Correction::Panic { offset_s } => {
                self.push_event(Event::Panic { offset_s });
            }
        }
    }

    fn shift_filters(&mut self, delta_s: f64) {
        for s in self.sources.iter_mut() {
            s.filter.shift_offsets(delta_s);
        }
        if R > 0 {
            for (_, r) in self.refclocks.iter_mut() {
                r.shift_offsets(delta_s);
            }
        }
        self.sys_offset_s += delta_s;
    }

    fn push_status(&mut self) {
        let status = ClockStatus {
            leap: if self.ever_synced {
                self.sys.leap
            } else {
                LeapIndicator::Unsynchronized
            },
            max_error_s: self.sys.root_delay.to_seconds_f64() / 2.0
                + self.sys.root_dispersion.to_seconds_f64(),
            est_error_s: self.discipline.offset_sd_s(),
        };
        self.push(Queued::SetStatus(status));
    }

    /// Copies the system peer's figures into the system variables; false when the
    /// peer has no filter output to copy.
    fn update_system_vars(
        &mut self,
        now: Instant,
        idx: usize,
        offset_s: f64,
        jitter_s: f64,
    ) -> bool {
        let Some(p) = self.sources.get(idx) else {
            return false;
        };
        let Some(f) = p.filtered() else { return false };
        let (rd, rdisp) = p.root_figures_s();
        let age_s = (now.as_seconds_f64() - f.time_s).max(0.0);
        let root_delay_s = rd + f.delay_s;
        let root_disp_s = rdisp
            + p.filter.dispersion_at(now.as_seconds_f64())
            + jitter_s
            + PHI * age_s
            + libm::fabs(offset_s);
        // A refclock's refid is its own (`GPS`, `SHM`, or fudged), as ntpd serves.
        let ref_id = match p.config().addr {
            _ if p.is_refclock() => p.status(now).ref_id,
            core::net::SocketAddr::V4(a) => RefId::from_ipv4(*a.ip()),
            core::net::SocketAddr::V6(a) => RefId::from_ipv6(*a.ip()),
        };
        self.sys = SystemVars {
            leap: p.leap(),
            stratum: p.stratum().saturating_add(1).min(MAXSTRAT),
            precision: self.config.precision,
            root_delay: NtpShort::from_seconds_f64(root_delay_s).to_duration(),
            root_dispersion: NtpShort::from_seconds_f64(root_disp_s).to_duration(),
            ref_id,
            reference_time: self.wall_now(now),
            // ntpd bounds its system poll (`tc`, ntpstat's "polling server every")
            // by the system peer's minpoll and maxpoll: the interval the server is
            // actually polled at.
            poll: bounded_poll(
                self.discipline.poll(),
                p.config().minpoll,
                p.config().maxpoll,
            ),
        };
        true
    }
}

/// `poll` within `[minpoll, maxpoll]` (a `maxpoll` below `minpoll` counts as
/// `minpoll`).
fn bounded_poll(poll: PollInterval, minpoll: PollInterval, maxpoll: PollInterval) -> PollInterval {
    let lo = minpoll.log2();
    let hi = maxpoll.log2().max(lo);
    PollInterval::from_log2(poll.log2().clamp(lo, hi))
}

#[cfg(test)]
mod poll_tests {
    use super::*;

    #[test]
    fn the_system_poll_stays_within_the_peers_bounds() {
        let p = PollInterval::from_log2;
        assert_eq!(
            bounded_poll(p(6), p(3), p(3)).log2(),
            3,
            "minpoll 3 maxpoll 3"
        );
        assert_eq!(bounded_poll(p(4), p(6), p(10)).log2(), 6);
        assert_eq!(bounded_poll(p(8), p(6), p(10)).log2(), 8);
        assert_eq!(bounded_poll(p(12), p(6), p(10)).log2(), 10);
        assert_eq!(
            bounded_poll(p(8), p(6), p(4)).log2(),
            6,
            "maxpoll < minpoll"
        );
    }
}
