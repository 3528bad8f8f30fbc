//! Reference clocks in the node: `server 127.127.T.U` sources whose samples the
//! port hands in ([`Node::handle_refclock_sample`]) instead of packets.
//!
//! Each refclock is an association (clock filter, tally, peer-table row) plus its
//! [`RefclockSource`] (median filter, reach, fudge). At the source's poll the
//! median filter's output enters the association's clock filter with delay 0 and
//! the filter's jitter as dispersion (ntpd's `clock_filter(peer, offset, 0,
//! jitter)`), and selection takes it as a stratum-0 candidate with root delay and
//! dispersion 0: the node then serves stratum 1 with the refclock's refid. Eight
//! empty polls make it unreachable, with the same event as a server's.

use super::{Event, Fresh, Node};
use crate::peer::{Association, SourceId};
use crate::refclock::source::{RefclockConfig, RefclockSource, SampleReject};
use crate::refclock::RefSample;
use crate::time::Instant;

use super::CapacityError;

/// Why [`Node::handle_refclock_sample`] did not take a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefclockInputError {
    /// No refclock with that id.
    UnknownSource,
    /// The source refused it (counted; never followed).
    Rejected(SampleReject),
}

impl<const N: usize, const R: usize, const S: usize> Node<N, R, S> {
    /// Add a reference clock; its first poll is one poll interval from `now` (the
    /// median filter needs that long to collect samples). Takes one of the `N`
    /// association slots and one of the `R` refclock slots.
    pub fn add_refclock(
        &mut self,
        config: RefclockConfig,
        now: Instant,
    ) -> Result<SourceId, CapacityError> {
        if self.refclocks.is_full() || self.sources.is_full() {
            return Err(CapacityError);
        }
        let id = SourceId(self.next_id);
        let first = now.saturating_add(core::time::Duration::from_secs_f64(
            config.minpoll.as_seconds_f64(),
        ));
        let rc = RefclockSource::new(config, first);
        self.refclocks.push((id, rc)).map_err(|_| CapacityError)?;
        self.sources
            .push(Association::new_refclock(id, &config, first))
            .map_err(|_| CapacityError)?;
        self.next_id += 1;
        Ok(id)
    }

    /// A reading of refclock `id`, as the port took it: the local receive time and
    /// the reference time it carried (see [`RefSample`]). Refused readings (leap 3,
    /// beyond the driver's limit) are counted by the source and never followed; the
    /// port reports its own refusals (no fix, bad checksum, a stalled writer) and
    /// hands in only readings it could decode.
    pub fn handle_refclock_sample(
        &mut self,
        now: Instant,
        id: SourceId,
        sample: &RefSample,
    ) -> Result<(), RefclockInputError> {
        // The part of the last correction the clock has not made yet will still be
        // made: the offset once it is done is the one to keep (as for packets).
        let pending_s = self.pending_slew_s(now);
        let Some((_, rc)) = self.refclocks.iter_mut().find(|(rid, _)| *rid == id) else {
            return Err(RefclockInputError::UnknownSource);
        };
        let effective = RefSample {
            reference: sample.reference.add_s(-pending_s),
            ..*sample
        };
        rc.add_sample(&effective)
            .map_err(RefclockInputError::Rejected)?;
        // The wall clock at `now` is the sample's receive time: what `wall_now`
        // extrapolates from when serving.
        self.wall_anchor = Some((now, sample.receive.to_ntp()));
        self.first_reply.get_or_insert(now);
        Ok(())
    }

    /// The refclock state of `id` (counters, last refusal, median figures).
    pub fn refclock(&self, id: SourceId) -> Option<&RefclockSource> {
        self.refclocks
            .iter()
            .find(|(rid, _)| *rid == id)
            .map(|(_, r)| r)
    }

    /// The refclock state of `id`, to tell it the writer's precision (SHM).
    pub fn refclock_mut(&mut self, id: SourceId) -> Option<&mut RefclockSource> {
        self.refclocks
            .iter_mut()
            .find(|(rid, _)| *rid == id)
            .map(|(_, r)| r)
    }

    /// Every refclock, with its id.
    pub fn refclocks(&self) -> impl Iterator<Item = (SourceId, &RefclockSource)> + '_ {
        self.refclocks.iter().map(|(id, r)| (*id, r))
    }

    /// Poll the refclocks that are due and reselect after each. Returns whether any
    /// was polled.
    pub(super) fn poll_refclocks(&mut self, now: Instant) -> bool {
        // Known at compile time: a node without refclock slots (the firmware's
        // `Node<4>`) links none of the median filter's code.
        if R == 0 {
            return false;
        }
        let mut polled = false;
        let precision_s = self.config.discipline.precision_s;
        let wall = self.wall_now(now);
        let sys_poll = self.discipline.poll();
        for k in 0..self.refclocks.len() {
            let Some((id, rc)) = self.refclocks.get_mut(k) else {
                continue;
            };
            if rc.next_poll() > now {
                continue;
            }
            let id = *id;
            rc.set_system_poll(sys_poll);
            let outcome = rc.poll(now);
            let Some(a) = self.sources.iter_mut().find(|s| s.id == id) else {
                continue;
            };
            let filtered = a.refclock_polled(now, rc, &outcome, wall, precision_s);
            if outcome.sample.is_none() {
                a.refclock_missed();
            }
            let addr = a.config().addr;
            if outcome.became_unreachable {
                self.push_event(Event::Unreachable { id, addr });
            }
            if outcome.became_reachable {
                self.push_event(Event::Reachable { id, addr });
            }
            let fresh = outcome.sample.map(|s| Fresh {
                id,
                offset_s: s.offset_s,
                delay_s: s.delay_s,
                dispersion_s: s.dispersion_s,
                time_s: s.time_s,
                filtered: filtered.is_some(),
            });
            self.reselect(now, fresh);
            polled = true;
        }
        polled
    }
}
