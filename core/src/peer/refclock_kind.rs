//! The refclock kind of association: no packets, its "replies" are the
//! [`RefclockSource`]'s polls. Everything after the clock filter (selection, the
//! discipline, the peer table) sees it as any other association; what differs is
//! where reach, stratum, refid and leap come from.

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use super::{Association, SourceConfig, SourceId};
use crate::filter::FilterOutput;
use crate::refclock::source::{PollOutcome, RefclockConfig, RefclockSource};
use crate::time::{Instant, NtpTimestamp};

/// The address ntpd gives a refclock, `127.127.T.U`, with port 0 (no reply can
/// come from port 0, so no packet is ever matched to it).
pub const fn refclock_addr(config: &RefclockConfig) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(127, 127, config.driver.type_number(), config.unit),
        0,
    ))
}

impl Association {
    /// A refclock association: its poll schedule and reach are its
    /// [`RefclockSource`]'s; `prefer` and `noselect` come from its `server` line.
    pub fn new_refclock(id: SourceId, config: &RefclockConfig, first_poll: Instant) -> Self {
        let sc = SourceConfig {
            minpoll: config.minpoll,
            maxpoll: config.maxpoll,
            prefer: config.prefer,
            noselect: config.noselect,
            ..SourceConfig::new(refclock_addr(config))
        };
        let mut a = Association::new(id, sc, first_poll);
        a.refclock = true;
        a.stratum = config.fudge.stratum.unwrap_or(0).min(15);
        a.ref_id = config.fudge.refid.unwrap_or(config.driver.default_refid());
        a.precision = config.driver.default_precision_log2();
        a
    }

    /// True for a refclock (`server 127.127.T.U`).
    pub fn is_refclock(&self) -> bool {
        self.refclock
    }

    /// A refclock poll happened: copy what the source says and hand its sample
    /// to the clock filter (delay 0, the median filter's jitter as dispersion).
    /// Returns the filter's new output, if the sample made one.
    pub fn refclock_polled(
        &mut self,
        now: Instant,
        rc: &RefclockSource,
        outcome: &PollOutcome,
        wall: NtpTimestamp,
        precision_s: f64,
    ) -> Option<FilterOutput> {
        self.reach = rc.reach();
        self.hpoll = rc.poll_interval();
        self.next_poll = rc.next_poll();
        self.stratum = rc.stratum();
        self.ref_id = rc.ref_id();
        self.leap = rc.leap();
        self.precision = libm::round(libm::log2(rc.precision_s())) as i8;
        self.unusable = None;
        let sample = outcome.sample?;
        self.unreach = 0;
        self.last_rx = Some(now);
        self.reference_time = wall;
        self.filter
            .add(sample, self.hpoll.as_seconds_f64(), precision_s)
            .ok()
    }

    /// An empty refclock poll: count it as a missed one (start-up stops waiting
    /// after two, as for a server).
    pub fn refclock_missed(&mut self) {
        self.unreach = self.unreach.saturating_add(1);
    }
}
