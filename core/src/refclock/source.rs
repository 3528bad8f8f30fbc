//! A reference clock as a source (ntpd's `refclock_transmit`/`refclock_receive`):
//! samples come in whenever the port has them; at each poll the median filter's
//! output becomes one [`FilterSample`] for the association's clock filter, with zero
//! delay and the median filter's jitter as its dispersion, exactly as ntpd hands
//! `clock_filter(peer, offset, 0, jitter)`.
//!
//! Reach works as for a server: each poll shifts the register, a poll with samples
//! sets its low bit, eight empty polls in a row make the refclock unreachable.
//! When the last four polls were all empty, ntpd also pushes a dummy stage of maximum
//! dispersion into the clock filter so the old samples age out; [`PollOutcome`] says
//! when (`age_filter`) and the wiring does it.
//!
//! What selection sees: stratum 0 (unless `fudge stratum`), so the system runs at
//! stratum 1; root delay 0; root dispersion 0 (the sample's dispersion carries the
//! jitter); the driver's refid (`GPS`, `SHM`, `PPS`) unless `fudge refid`.

use super::filter::{MedianFilter, MedianOutput};
use super::RefSample;
use crate::clock::LeapIndicator;
use crate::filter::FilterSample;
use crate::peer::Reason;
use crate::time::{Instant, PollInterval};
use crate::wire::RefId;

/// Polls without a sample after which a refclock is unreachable (the reach register
/// is 8 bits wide, as for a server).
pub const UNREACHABLE_AFTER_POLLS: u32 = 8;

/// ntpd's default limit on |reference − local| for SHM (`fudge time2` overrides it
/// with a value in 1–86400 s): 4 hours.
pub const SHM_DEFAULT_MAXDIFF_S: f64 = 14_400.0;

/// The drivers slew knows, by ntpd's type number (`127.127.T.U`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Driver {
    /// Type 20: NMEA sentences from a serial GPS receiver (`/dev/gpsU`).
    Nmea,
    /// Type 22: PPS edges through RFC 2783 (`/dev/ppsU`).
    Pps,
    /// Type 28: ntpd's shared-memory segment (gpsd, chrony's tools, …).
    Shm,
}

impl Driver {
    /// From ntpd's type number.
    pub const fn from_type(t: u8) -> Option<Driver> {
        match t {
            20 => Some(Driver::Nmea),
            22 => Some(Driver::Pps),
            28 => Some(Driver::Shm),
            _ => None,
        }
    }

    /// ntpd's type number.
    pub const fn type_number(self) -> u8 {
        match self {
            Driver::Nmea => 20,
            Driver::Pps => 22,
            Driver::Shm => 28,
        }
    }

    /// The refid ntpd's driver announces.
    pub const fn default_refid(self) -> RefId {
        match self {
            Driver::Nmea => RefId::GPS,
            Driver::Pps => RefId::PPS,
            Driver::Shm => RefId::from_ascii(b"SHM\0"),
        }
    }

    /// The precision ntpd's driver assumes, log2 seconds: NMEA -9 (~2 ms), PPS -20
    /// (~1 µs); SHM takes the writer's from each record, -1 until then.
    pub const fn default_precision_log2(self) -> i8 {
        match self {
            Driver::Nmea => -9,
            Driver::Pps => -20,
            Driver::Shm => -1,
        }
    }
}

/// `fudge 127.127.T.U time1 … time2 … stratum … refid … flag1..4`: each driver gives
/// them its own meaning ([`RefclockSource::add_sample`] says which).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Fudge {
    /// `time1`, seconds: SHM and PPS add it to every offset; NMEA uses it for PPS.
    pub time1_s: f64,
    /// `time2`, seconds: NMEA adds it (the sentence's delay on the line); SHM takes
    /// it as the largest |offset| accepted.
    pub time2_s: f64,
    /// `stratum`: the refclock's own stratum (0 unless set).
    pub stratum: Option<u8>,
    /// `refid`: up to four characters instead of the driver's.
    pub refid: Option<RefId>,
    /// `flag1`..`flag4` as bits 0..3; SHM: flag1 turns the `time2` check off.
    pub flags: u8,
}

impl Fudge {
    /// True when `flagN` (1–4) is set.
    pub const fn flag(&self, n: u8) -> bool {
        n >= 1 && n <= 4 && self.flags & (1 << (n - 1)) != 0
    }
}

/// How one refclock is run (`server 127.127.T.U prefer noselect minpoll maxpoll mode`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefclockConfig {
    /// Which driver.
    pub driver: Driver,
    /// Unit number (the U of 127.127.T.U): device `/dev/gpsU`, SHM key base + U.
    pub unit: u8,
    /// Poll interval the median filter runs at (ntpd's default for refclocks is
    /// 2^6 s; GPS set-ups commonly say `minpoll 4`).
    pub minpoll: PollInterval,
    /// Longest poll interval.
    pub maxpoll: PollInterval,
    /// Preferred source.
    pub prefer: bool,
    /// Poll and display, never select.
    pub noselect: bool,
    /// The driver's `mode` word (NMEA: sentences and baud; SHM: segment permissions).
    pub mode: u32,
    /// Fudge factors.
    pub fudge: Fudge,
}

impl RefclockConfig {
    /// ntpd's defaults for `server 127.127.T.U`.
    pub const fn new(driver: Driver, unit: u8) -> Self {
        Self {
            driver,
            unit,
            minpoll: PollInterval::DEFAULT_MIN,
            maxpoll: PollInterval::DEFAULT_MAX,
            prefer: false,
            noselect: false,
            mode: 0,
            fudge: Fudge {
                time1_s: 0.0,
                time2_s: 0.0,
                stratum: None,
                refid: None,
                flags: 0,
            },
        }
    }
}

/// Why a sample was refused. Counted and logged by the port, never followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SampleReject {
    /// The reference says it is not synchronised (leap 3).
    Unsynchronized,
    /// |offset| beyond the driver's limit (SHM: `time2`, 4 h by default).
    TooFar,
    /// The offset is not a finite number.
    NotFinite,
}

impl SampleReject {
    /// A short reason for logs.
    pub const fn reason(self) -> &'static str {
        match self {
            SampleReject::Unsynchronized => "reference not synchronised",
            SampleReject::TooFar => "offset beyond the driver's limit",
            SampleReject::NotFinite => "offset not finite",
        }
    }
}

/// What a poll did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PollOutcome {
    /// The sample for the association's clock filter, if the poll had any.
    pub sample: Option<FilterSample>,
    /// The median filter's figures behind it.
    pub median: Option<MedianOutput>,
    /// The last four polls were empty: push a maximum-dispersion stage (ntpd does).
    pub age_filter: bool,
    /// This poll made it unreachable (eight empty polls).
    pub became_unreachable: bool,
    /// This poll made it reachable again.
    pub became_reachable: bool,
}

/// One reference clock's state.
#[derive(Clone, Debug)]
pub struct RefclockSource {
    config: RefclockConfig,
    filter: MedianFilter,
    reach: u8,
    hpoll: PollInterval,
    next_poll: Instant,
    precision_log2: i8,
    leap: LeapIndicator,
    last: Option<FilterSample>,
    last_reject: Option<SampleReject>,
    accepted: u64,
    rejected: u64,
}

impl RefclockSource {
    /// A refclock whose first poll is due at `first_poll`.
    pub fn new(config: RefclockConfig, first_poll: Instant) -> Self {
        let lo = config.minpoll;
        Self {
            config,
            filter: MedianFilter::new(),
            reach: 0,
            hpoll: lo,
            next_poll: first_poll,
            precision_log2: config.driver.default_precision_log2(),
            leap: LeapIndicator::Unsynchronized,
            last: None,
            last_reject: None,
            accepted: 0,
            rejected: 0,
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &RefclockConfig {
        &self.config
    }

    /// The precision the samples claim, log2 seconds (SHM writers say theirs).
    pub fn set_precision_log2(&mut self, p: i8) {
        self.precision_log2 = p.clamp(-30, 0);
    }

    /// Precision, seconds.
    pub fn precision_s(&self) -> f64 {
        // 2^n for an integer n, exactly, without libm's exp2 (a 4 KB table in a
        // firmware image).
        let mut v = 1.0f64;
        let step = if self.precision_log2 >= 0 { 2.0 } else { 0.5 };
        for _ in 0..self.precision_log2.unsigned_abs() {
            v *= step;
        }
        v
    }

    /// The driver's fudge applied to a raw offset: which `time` it adds is the
    /// driver's (ntpd: SHM and PPS add time1, NMEA's serial time adds time2).
    pub fn fudged_offset_s(&self, raw_s: f64) -> f64 {
        let f = &self.config.fudge;
        match self.config.driver {
            Driver::Shm | Driver::Pps => raw_s + f.time1_s,
            Driver::Nmea => raw_s + f.time2_s,
        }
    }

    /// A reading from the port. Refused readings change nothing but the counters.
    pub fn add_sample(&mut self, sample: &RefSample) -> Result<(), SampleReject> {
        let out = self.check(sample);
        match out {
            Ok(offset_s) => {
                self.filter.push(offset_s);
                self.leap = sample.leap;
                self.accepted += 1;
                self.last_reject = None;
                Ok(())
            }
            Err(r) => {
                self.rejected += 1;
                self.last_reject = Some(r);
                Err(r)
            }
        }
    }

    fn check(&self, sample: &RefSample) -> Result<f64, SampleReject> {
        if sample.leap == LeapIndicator::Unsynchronized {
            return Err(SampleReject::Unsynchronized);
        }
        let raw_s = sample.offset_s();
        if !raw_s.is_finite() {
            return Err(SampleReject::NotFinite);
        }
        if self.config.driver == Driver::Shm && !self.config.fudge.flag(1) {
            let t2 = self.config.fudge.time2_s;
            let limit = if (1.0..=86_400.0).contains(&t2) {
                t2
            } else {
                SHM_DEFAULT_MAXDIFF_S
            };
            if libm::fabs(raw_s) > limit {
                return Err(SampleReject::TooFar);
            }
        }
        Ok(self.fudged_offset_s(raw_s))
    }

    /// Move the offsets waiting for the poll by `delta_s`: the node corrected the
    /// clock by `-delta_s` after they were measured.
    pub fn shift_offsets(&mut self, delta_s: f64) {
        self.filter.shift_offsets(delta_s);
    }

    /// When the next poll is due.
    pub fn next_poll(&self) -> Instant {
        self.next_poll
    }

    /// Poll interval now.
    pub fn poll_interval(&self) -> PollInterval {
        self.hpoll
    }

    /// Follow the system poll interval within `minpoll`..`maxpoll`.
    pub fn set_system_poll(&mut self, sys: PollInterval) {
        let lo = self.config.minpoll;
        let hi = self.config.maxpoll.max(lo);
        self.hpoll = sys.max(lo).min(hi);
    }

    /// The poll: shift reach, run the median filter over what came since the last
    /// poll, and schedule the next one.
    pub fn poll(&mut self, now: Instant) -> PollOutcome {
        let was_reachable = self.reach != 0;
        self.reach <<= 1;
        let median = self.filter.take(self.precision_s());
        let sample = median.map(|m| {
            self.reach |= 1;
            FilterSample {
                offset_s: m.offset_s,
                delay_s: 0.0,
                dispersion_s: m.jitter_s,
                time_s: now.as_seconds_f64(),
            }
        });
        if sample.is_some() {
            self.last = sample;
        }
        let reachable = self.reach != 0;
        if !reachable {
            self.leap = LeapIndicator::Unsynchronized;
        }
        self.next_poll = now.saturating_add(core::time::Duration::from_secs_f64(
            self.hpoll.as_seconds_f64(),
        ));
        PollOutcome {
            sample,
            median,
            age_filter: self.reach & 0x0f == 0,
            became_unreachable: was_reachable && !reachable,
            became_reachable: !was_reachable && reachable,
        }
    }

    /// Reach register.
    pub fn reach(&self) -> u8 {
        self.reach
    }

    /// True while any of the last eight polls had a sample.
    pub fn is_reachable(&self) -> bool {
        self.reach != 0
    }

    /// Stratum of the refclock itself (the system is one more).
    pub fn stratum(&self) -> u8 {
        self.config.fudge.stratum.unwrap_or(0).min(15)
    }

    /// Reference id: `fudge refid` or the driver's.
    pub fn ref_id(&self) -> RefId {
        self.config
            .fudge
            .refid
            .unwrap_or(self.config.driver.default_refid())
    }

    /// Leap indicator of the last accepted sample (`Unsynchronized` until one, and
    /// again once unreachable).
    pub fn leap(&self) -> LeapIndicator {
        self.leap
    }

    /// Root delay and root dispersion, seconds: both 0 for a reference clock.
    pub fn root_figures_s(&self) -> (f64, f64) {
        (0.0, 0.0)
    }

    /// The last sample handed to the clock filter.
    pub fn last_sample(&self) -> Option<&FilterSample> {
        self.last.as_ref()
    }

    /// Why the last reading was refused, until one is accepted.
    pub fn last_reject(&self) -> Option<SampleReject> {
        self.last_reject
    }

    /// Readings accepted and refused so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.accepted, self.rejected)
    }

    /// Why it cannot be a selection candidate now, with the reasons a server has.
    pub fn unfit(&self) -> Option<Reason> {
        if self.config.noselect {
            Some(Reason::NoSelect)
        } else if self.reach == 0 && self.last.is_some() {
            Some(Reason::Unreachable)
        } else if self.last.is_none() {
            Some(Reason::NoData)
        } else if self.leap == LeapIndicator::Unsynchronized {
            Some(Reason::Unsynchronized)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::UnixTime;
    use super::*;
    use proptest::prelude::*;

    fn sample(offset_s: f64) -> RefSample {
        let rx = UnixTime::new(1_796_083_200, 0);
        RefSample {
            receive: rx,
            reference: rx.add_s(offset_s),
            leap: LeapIndicator::NoWarning,
        }
    }

    fn at(s: u64) -> Instant {
        Instant::from_nanos(s * 1_000_000_000)
    }

    fn nmea() -> RefclockConfig {
        let mut c = RefclockConfig::new(Driver::Nmea, 0);
        c.minpoll = PollInterval::from_log2(4);
        c.maxpoll = PollInterval::from_log2(4);
        c
    }

    #[test]
    fn poll_hands_the_median_filter_output_with_zero_delay() {
        let mut src = RefclockSource::new(nmea(), at(16));
        assert_eq!(src.unfit(), Some(Reason::NoData));
        for k in 0..16 {
            src.add_sample(&sample(0.040 + (k % 3) as f64 * 1e-3))
                .expect("ok");
        }
        let out = src.poll(at(16));
        let s = out.sample.expect("a sample");
        assert!((s.offset_s - 0.041).abs() < 1e-3, "{s:?}");
        assert_eq!(s.delay_s, 0.0);
        assert!(s.dispersion_s >= src.precision_s());
        assert_eq!(s.time_s, 16.0);
        assert!(out.became_reachable && !out.became_unreachable);
        assert_eq!(src.reach(), 1);
        assert_eq!(src.next_poll(), at(32));
        assert_eq!(src.unfit(), None);
        assert_eq!(src.stratum(), 0);
        assert_eq!(src.ref_id(), RefId::GPS);
        assert_eq!(src.root_figures_s(), (0.0, 0.0));
    }

    #[test]
    fn unreachable_after_eight_empty_polls() {
        let mut src = RefclockSource::new(nmea(), at(0));
        src.add_sample(&sample(0.0)).expect("ok");
        assert!(src.poll(at(0)).sample.is_some());
        for k in 1..8 {
            let out = src.poll(at(16 * k));
            assert!(out.sample.is_none() && !out.became_unreachable, "poll {k}");
            assert_eq!(out.age_filter, k >= 4, "poll {k}");
        }
        let out = src.poll(at(16 * 8));
        assert!(out.became_unreachable);
        assert!(!src.is_reachable());
        assert_eq!(src.unfit(), Some(Reason::Unreachable));
        assert_eq!(src.leap(), LeapIndicator::Unsynchronized);
        // And back.
        src.add_sample(&sample(0.0)).expect("ok");
        assert!(src.poll(at(16 * 9)).became_reachable);
        assert_eq!(src.unfit(), None);
    }

    #[test]
    fn fudge_is_per_driver() {
        let mut c = nmea();
        c.fudge.time1_s = 1.0;
        c.fudge.time2_s = -0.040;
        let nm = RefclockSource::new(c, at(0));
        assert!((nm.fudged_offset_s(0.040)).abs() < 1e-12, "NMEA adds time2");
        c.driver = Driver::Shm;
        let shm = RefclockSource::new(c, at(0));
        assert!(
            (shm.fudged_offset_s(0.040) - 1.040).abs() < 1e-12,
            "SHM adds time1"
        );
        c.driver = Driver::Pps;
        let pps = RefclockSource::new(c, at(0));
        assert!(
            (pps.fudged_offset_s(0.0) - 1.0).abs() < 1e-12,
            "PPS adds time1"
        );
    }

    #[test]
    fn fudge_stratum_and_refid() {
        let mut c = nmea();
        c.fudge.stratum = Some(3);
        c.fudge.refid = Some(RefId::from_ascii(b"GNSS"));
        let src = RefclockSource::new(c, at(0));
        assert_eq!(src.stratum(), 3);
        assert_eq!(src.ref_id(), RefId::from_ascii(b"GNSS"));
        c.noselect = true;
        assert_eq!(
            RefclockSource::new(c, at(0)).unfit(),
            Some(Reason::NoSelect)
        );
    }

    #[test]
    fn shm_limits_offset_unless_flag1() {
        let mut c = RefclockConfig::new(Driver::Shm, 2);
        let mut src = RefclockSource::new(c, at(0));
        assert_eq!(src.add_sample(&sample(14_401.0)), Err(SampleReject::TooFar));
        assert_eq!(src.last_reject(), Some(SampleReject::TooFar));
        assert!(src.add_sample(&sample(14_399.0)).is_ok());
        c.fudge.time2_s = 10.0;
        let mut src = RefclockSource::new(c, at(0));
        assert_eq!(src.add_sample(&sample(11.0)), Err(SampleReject::TooFar));
        c.fudge.flags = 1; // flag1: no limit
        let mut src = RefclockSource::new(c, at(0));
        assert!(src.add_sample(&sample(100_000.0)).is_ok());
        assert_eq!(src.counts(), (1, 0));
    }

    #[test]
    fn unsynchronised_samples_refused() {
        let mut src = RefclockSource::new(nmea(), at(0));
        let mut s = sample(0.0);
        s.leap = LeapIndicator::Unsynchronized;
        assert_eq!(src.add_sample(&s), Err(SampleReject::Unsynchronized));
        assert!(src.poll(at(0)).sample.is_none(), "never followed");
    }

    #[test]
    fn system_poll_is_clamped() {
        let mut c = nmea();
        c.maxpoll = PollInterval::from_log2(6);
        let mut src = RefclockSource::new(c, at(0));
        src.set_system_poll(PollInterval::from_log2(10));
        assert_eq!(src.poll_interval().log2(), 6);
        src.set_system_poll(PollInterval::from_log2(1));
        assert_eq!(src.poll_interval().log2(), 4);
    }

    proptest! {
        /// Whatever the sequence of full and empty polls, reach is the register of
        /// the last eight, and "unreachable" is announced exactly when it drops to 0.
        #[test]
        fn reach_tracks_last_eight_polls(pattern in proptest::collection::vec(any::<bool>(), 1..60)) {
            let mut src = RefclockSource::new(nmea(), at(0));
            let mut expect: u8 = 0;
            for (k, full) in pattern.iter().enumerate() {
                if *full { src.add_sample(&sample(0.01)).expect("ok"); }
                let before = expect;
                expect = (expect << 1) | u8::from(*full);
                let out = src.poll(at(16 * k as u64));
                prop_assert_eq!(src.reach(), expect);
                prop_assert_eq!(out.became_unreachable, before != 0 && expect == 0);
                prop_assert_eq!(out.sample.is_some(), *full);
            }
        }
    }
}
