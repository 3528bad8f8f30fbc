//! One association with an upstream server (client mode): its poll schedule
//! (`minpoll`/`maxpoll`, `iburst`, `burst`, backoff while unreachable), the reach
//! register, the RFC 5905 §8 checks on each reply (origin, duplicate, unsynchronised
//! server), kiss-o'-death handling and the clock filter it feeds.
//!
//! The transmit timestamp of a request is a random nonce (RFC 9109): it tells the
//! server nothing about our clock and makes off-path forgery a guess of 64 bits. The
//! real send time (T1) comes back through the node's `handle_tx_timestamp`.

use core::net::SocketAddr;

mod nts_status;
mod refclock_kind;
pub use nts_status::{KeFailure, KeNeed, KeResult, NtsRefusal, NtsSourceStatus};
pub use refclock_kind::refclock_addr;

#[cfg(feature = "auth")]
use crate::auth::{AuthStatus, KeyTable, SymmetricKey};
use crate::clock::LeapIndicator;
use crate::filter::{ClockFilter, FilterOutput, FilterSample, PHI};
use crate::select::Tally;
use crate::time::{offset_and_delay, Instant, NtpTimestamp, PollInterval};
use crate::wire::{KissCode, Mode, Packet, RefId};

/// Maximum root distance of a selectable source, seconds. RFC 5905 says 1 s; ntpd
/// 4.2.8 uses 1.5 s (`MAXDISTANCE`), and slew follows ntpd so that sources ntpd users
/// see selected are selected here too.
pub const MAXDIST_S: f64 = 1.5;
/// Requests in a burst (`iburst` and `burst`), and their spacing in seconds.
pub const BURST_COUNT: u8 = 8;
/// Seconds between the packets of a burst (ntpd: 2 s).
pub const BURST_SPACING_S: u64 = 2;
/// Polls without a reply before the poll interval starts to back off.
pub const UNREACH_BACKOFF_AFTER: u8 = 8;

/// A stable handle to a source of the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub u32);

/// How one upstream server is polled (`server ADDR iburst prefer …`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceConfig {
    /// Where to send requests.
    pub addr: SocketAddr,
    /// Shortest poll interval (default 2^6 s).
    pub minpoll: PollInterval,
    /// Longest poll interval (default 2^10 s).
    pub maxpoll: PollInterval,
    /// A burst of eight requests at start and while unreachable.
    pub iburst: bool,
    /// A burst of eight requests at every poll while reachable.
    pub burst: bool,
    /// Preferred source: kept by clustering and chosen as system peer if it survives.
    pub prefer: bool,
    /// Poll and display, but never select.
    pub noselect: bool,
    /// `key N`: sign requests with key N and accept only answers signed with it.
    /// The key itself comes through [`Association::set_key`] (the node's
    /// `set_source_key`); until it does, every answer is refused.
    pub key: Option<u32>,
}

impl SourceConfig {
    /// ntpd's defaults for a `server ADDR` line.
    pub const fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            minpoll: PollInterval::DEFAULT_MIN,
            maxpoll: PollInterval::DEFAULT_MAX,
            iburst: false,
            burst: false,
            prefer: false,
            noselect: false,
            key: None,
        }
    }
}

/// Why a source is not selected, or why its last reply was refused. Monitoring tools
/// show these; [`Reason::code`] is the short form for a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Reason {
    /// Nothing against it (selected, or a candidate).
    #[default]
    None,
    /// No usable sample yet.
    NoData,
    /// No reply to the last eight polls.
    Unreachable,
    /// The server says it is not synchronised: leap 3, stratum 16, or stratum 0
    /// outside a kiss we act on (an unsynchronised chronyd answers leap 3, stratum 0,
    /// refid 0.0.0.0; ntpd sends its stratum 16 as 0 on the wire).
    Unsynchronized,
    /// Its root distance exceeds MAXDIST.
    DistanceTooLarge,
    /// A reply whose origin timestamp is not our last request (bogus or replayed).
    BadOrigin,
    /// A reply whose mode is not server (4).
    BadMode,
    /// A second reply to the same request.
    Duplicate,
    /// A reply with zero receive or transmit timestamp.
    BadTimestamps,
    /// The server sent RATE: we poll less often.
    KissRate,
    /// The server sent DENY: association dropped.
    KissDeny,
    /// The server sent RSTR: association dropped.
    KissRestricted,
    /// Configured `noselect`.
    NoSelect,
    /// Outside the majority's intersection.
    Falseticker,
    /// Discarded by clustering.
    Outlier,
    /// Beyond `maxclock`.
    Excess,
    /// No majority of sources agrees on the time.
    NoMajority,
    /// Fewer survivors than `minsane`.
    TooFewSurvivors,
    /// We never learnt when our request left (the port did not report T1).
    NoTransmitTime,
    /// An authenticated association got an answer without a valid MAC under its key.
    AuthFailed,
    /// The server sent a crypto-NAK: it could not authenticate our request.
    CryptoNak,
    /// An NTS source's answer failed the NTS checks (forged, replayed, not ours):
    /// [`NtsSourceStatus::last_refusal`] says which.
    NtsRefused,
    /// An NTS source got an NTS NAK: it needs a new key exchange.
    NtsNak,
    /// An NTS source waits for NTS-KE (no cookies): nothing is sent to it.
    NtsKeyExchange,
}

impl Reason {
    /// A short lowercase code for tables and JSON.
    pub const fn code(self) -> &'static str {
        match self {
            Reason::None => "",
            Reason::NoData => "nodata",
            Reason::Unreachable => "unreach",
            Reason::Unsynchronized => "unsync",
            Reason::DistanceTooLarge => "distance",
            Reason::BadOrigin => "bogus",
            Reason::BadMode => "badmode",
            Reason::Duplicate => "dup",
            Reason::BadTimestamps => "badts",
            Reason::KissRate => "kod-rate",
            Reason::KissDeny => "kod-deny",
            Reason::KissRestricted => "kod-rstr",
            Reason::NoSelect => "noselect",
            Reason::Falseticker => "falseticker",
            Reason::Outlier => "outlier",
            Reason::Excess => "excess",
            Reason::NoMajority => "nomajority",
            Reason::TooFewSurvivors => "minsane",
            Reason::NoTransmitTime => "notxtime",
            Reason::AuthFailed => "auth",
            Reason::CryptoNak => "crypto-nak",
            Reason::NtsRefused => "nts",
            Reason::NtsNak => "nts-nak",
            Reason::NtsKeyExchange => "nts-ke",
        }
    }
}

/// What a reply did to the association.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReplyOutcome {
    /// Refused with this reason (nothing changed but counters).
    Refused(Reason),
    /// A valid reply from a server that is not synchronised: reach counts it, the
    /// sample does not.
    Unsynchronized,
    /// A fresh sample; `filtered` is the clock filter's new output, if any.
    Sample {
        /// The raw sample (effective offset).
        sample: FilterSample,
        /// The filter's output, if this sample made a new one.
        filtered: Option<FilterOutput>,
    },
    /// RATE kiss: the poll interval was raised.
    KissRate,
    /// DENY or RSTR: the association must be dropped.
    KissDemobilize(Reason),
}

/// What `ntpq -p` and `slewctl peers` show for a source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SourceStatus {
    /// The source's handle.
    pub id: SourceId,
    /// Its address.
    pub addr: SocketAddr,
    /// Tally code.
    pub tally: Tally,
    /// Why it is not selected ([`Reason::None`] when it is).
    pub reason: Reason,
    /// The last reply refused, if the last one was.
    pub last_refusal: Option<Reason>,
    /// Reach register (octal in ntpq).
    pub reach: u8,
    /// Our poll interval to it (hpoll).
    pub poll: PollInterval,
    /// The poll interval the server announced (ppoll).
    pub peer_poll: i8,
    /// Stratum it announced (16 until it answered; 0 and anything above 16 show as
    /// 16, as in ntpd).
    pub stratum: u8,
    /// Its refid.
    pub ref_id: RefId,
    /// Its leap indicator.
    pub leap: LeapIndicator,
    /// When the last valid reply arrived ("when" counts from this).
    pub last_rx: Option<Instant>,
    /// Filter delay, seconds.
    pub delay_s: f64,
    /// Filter offset, seconds.
    pub offset_s: f64,
    /// Peer jitter, seconds.
    pub jitter_s: f64,
    /// Peer dispersion now, seconds.
    pub dispersion_s: f64,
    /// Root delay it announced, seconds.
    pub root_delay_s: f64,
    /// Root dispersion it announced, seconds.
    pub root_dispersion_s: f64,
    /// Its reference time.
    pub reference_time: NtpTimestamp,
    /// Configured `prefer`.
    pub prefer: bool,
    /// Configured `key N` (answers must be signed with it).
    pub key: Option<u32>,
    /// `Some` for an NTS source: cookies, key exchanges, refusals.
    pub nts: Option<NtsSourceStatus>,
}

/// One client association.
#[derive(Clone, Debug)]
pub struct Association {
    pub(crate) id: SourceId,
    pub(crate) config: SourceConfig,
    pub(crate) filter: ClockFilter,
    reach: u8,
    unreach: u8,
    hpoll: PollInterval,
    /// Raised by RATE kisses.
    kod_minpoll: PollInterval,
    next_poll: Instant,
    burst_left: u8,
    nonce: NtpTimestamp,
    t1: Option<NtpTimestamp>,
    outstanding: bool,
    // From the last valid reply.
    stratum: u8,
    ref_id: RefId,
    leap: LeapIndicator,
    peer_poll: i8,
    precision: i8,
    root_delay_s: f64,
    root_dispersion_s: f64,
    reference_time: NtpTimestamp,
    last_rx: Option<Instant>,
    pub(crate) tally: Tally,
    pub(crate) reason: Reason,
    last_refusal: Option<Reason>,
    /// Why its last answer (our request's, authentic, not a duplicate) gave no
    /// sample, if it did not: such a source answers but is not settling, so start-up
    /// must not wait for it (see [`Association::warming_up`]).
    unusable: Option<Reason>,
    /// The one key of a `key N` association (empty until set).
    #[cfg(feature = "auth")]
    key: Option<SymmetricKey>,
    /// A refclock (`127.127.T.U`): fed by polls of its source, never sends.
    refclock: bool,
}

impl Association {
    /// A new association; its first poll is at `first_poll`.
    pub fn new(id: SourceId, config: SourceConfig, first_poll: Instant) -> Self {
        let minpoll = config.minpoll;
        let maxpoll = if config.maxpoll < minpoll {
            minpoll
        } else {
            config.maxpoll
        };
        Self {
            id,
            config: SourceConfig { maxpoll, ..config },
            filter: ClockFilter::new(),
            reach: 0,
            unreach: 0,
            hpoll: minpoll,
            kod_minpoll: minpoll,
            next_poll: first_poll,
            burst_left: 0,
            nonce: NtpTimestamp::ZERO,
            t1: None,
            outstanding: false,
            stratum: 16,
            ref_id: RefId::INIT,
            leap: LeapIndicator::Unsynchronized,
            peer_poll: 0,
            precision: 0,
            root_delay_s: 0.0,
            root_dispersion_s: 0.0,
            reference_time: NtpTimestamp::ZERO,
            last_rx: None,
            tally: Tally::Rejected,
            reason: Reason::NoData,
            last_refusal: None,
            unusable: None,
            #[cfg(feature = "auth")]
            key: None,
            refclock: false,
        }
    }

    /// The handle.
    pub fn id(&self) -> SourceId {
        self.id
    }

    /// The configuration.
    pub fn config(&self) -> &SourceConfig {
        &self.config
    }

    /// Gives a `key N` association its key: it must be key N and trusted. Returns
    /// whether it was taken.
    #[cfg(feature = "auth")]
    pub fn set_key(&mut self, key: SymmetricKey) -> bool {
        if self.config.key != Some(key.id()) || !key.is_trusted() {
            return false;
        }
        self.key = Some(key);
        true
    }

    /// Signs the request in `buf[..len]` when this association has a key; returns
    /// the length to send. Without its key (or room), the request goes unsigned and
    /// the answer will be refused.
    pub fn sign_request(&self, buf: &mut [u8], len: usize) -> usize {
        #[cfg(feature = "auth")]
        if let Some(key) = &self.key {
            return key.sign(buf, len).unwrap_or(len);
        }
        let _ = buf;
        len
    }

    /// Why an answer fails authentication, if it does: an association with a key
    /// takes only answers signed with that key (a crypto-NAK or an unsigned kiss is
    /// no answer either); one without a key ignores any MAC.
    fn auth_refusal(&self, bytes: &[u8]) -> Option<Reason> {
        let want = self.config.key?;
        #[cfg(feature = "auth")]
        {
            // A one-key table on the stack: the trailer rules of KeyTable::check.
            let mut table = KeyTable::<1>::new();
            if let Some(key) = &self.key {
                let _ = table.insert(key.clone());
            }
            match table.check(bytes) {
                AuthStatus::Authentic(k) if k.id() == want => None,
                AuthStatus::CryptoNak => Some(Reason::CryptoNak),
                _ => Some(Reason::AuthFailed),
            }
        }
        #[cfg(not(feature = "auth"))]
        {
            let _ = (want, bytes);
            Some(Reason::AuthFailed)
        }
    }

    /// When this association next wants to send.
    pub fn next_poll(&self) -> Instant {
        self.next_poll
    }

    /// Reach register.
    pub fn reach(&self) -> u8 {
        self.reach
    }

    /// Current poll interval.
    pub fn poll(&self) -> PollInterval {
        self.hpoll
    }

    /// Stratum it announced.
    pub fn stratum(&self) -> u8 {
        self.stratum
    }

    /// Leap indicator it announced.
    pub fn leap(&self) -> LeapIndicator {
        self.leap
    }

    /// Root delay + root dispersion announced by the server, seconds.
    pub fn root_figures_s(&self) -> (f64, f64) {
        (self.root_delay_s, self.root_dispersion_s)
    }

    /// Follow the system poll interval within this source's bounds.
    pub fn set_system_poll(&mut self, sys: PollInterval) {
        if self.reach == 0 {
            return; // unreachable: the backoff owns hpoll
        }
        let lo = self.config.minpoll.max(self.kod_minpoll);
        let hi = self.config.maxpoll.max(lo);
        self.hpoll = sys.max(lo).min(hi);
    }

    /// Time to send: returns the nonce to put in the request's transmit timestamp and
    /// schedules the next poll. `rand` is a fresh random word.
    pub fn poll_now(&mut self, now: Instant, rand: u64) -> (NtpTimestamp, bool) {
        let was_reachable = self.reach != 0;
        // A request still outstanding is a miss: shift the reach register.
        self.reach <<= 1;
        if self.outstanding {
            self.unreach = self.unreach.saturating_add(1);
        }
        let became_unreachable = was_reachable && self.reach == 0;
        self.nonce = NtpTimestamp::from_bits(rand | 1);
        self.t1 = None;
        self.outstanding = true;

        let interval_s = if self.burst_left > 0 {
            // Inside a burst: the next request follows in 2 s, except after the
            // burst's last one, which waits for the rest of the poll interval (so
            // polls keep their cadence, and a `burst` source does not start its
            // next burst at once, forever).
            self.burst_left -= 1;
            if self.burst_left == 0 {
                let burst_s = (BURST_SPACING_S * u64::from(BURST_COUNT - 1)) as f64;
                (self.poll_interval_s(rand) - burst_s).max(BURST_SPACING_S as f64)
            } else {
                BURST_SPACING_S as f64
            }
        } else {
            let start_burst =
                (self.reach == 0 && self.config.iburst && self.unreach < UNREACH_BACKOFF_AFTER)
                    || (self.reach != 0 && self.config.burst);
            if self.reach == 0 && self.unreach >= UNREACH_BACKOFF_AFTER {
                // Unreachable for a while: back off towards maxpoll (ntpd does).
                self.hpoll = self.hpoll.inc(self.config.maxpoll);
            }
            if start_burst {
                // This request and BURST_COUNT - 1 more.
                self.burst_left = BURST_COUNT - 1;
                BURST_SPACING_S as f64
            } else {
                self.poll_interval_s(rand)
            }
        };
        self.next_poll = now.saturating_add(core::time::Duration::from_secs_f64(interval_s));
        (self.nonce, became_unreachable)
    }

    /// The poll interval with up to 1/16 randomly taken off, so that clients
    /// started together do not stay in step.
    fn poll_interval_s(&self, rand: u64) -> f64 {
        let p = self.hpoll.as_seconds_f64();
        let frac = (rand >> 40) as f64 / (1u64 << 24) as f64;
        p - p / 16.0 * frac
    }

    /// The port reports when the request with `nonce` left.
    pub fn note_transmit(&mut self, nonce: NtpTimestamp, t1: NtpTimestamp) -> bool {
        if self.outstanding && nonce == self.nonce {
            self.t1 = Some(t1);
            true
        } else {
            false
        }
    }

    /// Process a reply. `pending_s` is the part of the node's last slew the clock
    /// has not yet made: subtracting it gives the offset as it will be once the slew
    /// is done. `precision_s` is our clock's precision.
    pub fn handle_reply(
        &mut self,
        now: Instant,
        packet: &Packet<&[u8]>,
        t4: NtpTimestamp,
        pending_s: f64,
        precision_s: f64,
    ) -> ReplyOutcome {
        let was_outstanding = self.outstanding;
        let out = self.reply_inner(now, packet, t4, pending_s, precision_s);
        self.last_refusal = match out {
            ReplyOutcome::Refused(r) => Some(r),
            ReplyOutcome::Unsynchronized => Some(Reason::Unsynchronized),
            ReplyOutcome::KissRate => Some(Reason::KissRate),
            ReplyOutcome::KissDemobilize(r) => Some(r),
            ReplyOutcome::Sample { .. } => None,
        };
        // reply_inner clears `outstanding` exactly when the answer is the server's
        // own to our request (origin, MAC and duplicate checks passed): only such an
        // answer says anything about the server. Forgeries change nothing here.
        if was_outstanding && !self.outstanding {
            self.unusable = self.last_refusal;
        }
        out
    }

    fn reply_inner(
        &mut self,
        now: Instant,
        packet: &Packet<&[u8]>,
        t4: NtpTimestamp,
        pending_s: f64,
        precision_s: f64,
    ) -> ReplyOutcome {
        if packet.mode() != Mode::Server {
            return ReplyOutcome::Refused(Reason::BadMode);
        }
        // The origin check comes first, for kisses too: otherwise anyone could make us
        // drop a server with a forged DENY.
        if packet.origin_timestamp() != self.nonce || self.nonce.is_zero() {
            return ReplyOutcome::Refused(Reason::BadOrigin);
        }
        // Then the MAC, before anything in the packet is believed. A failure leaves
        // the request outstanding: a forgery cannot suppress the real answer.
        if let Some(r) = self.auth_refusal(packet.as_ref()) {
            return ReplyOutcome::Refused(r);
        }
        if !self.outstanding {
            return ReplyOutcome::Refused(Reason::Duplicate);
        }
        self.outstanding = false;
        if let Some(code) = packet.kiss_code() {
            match code {
                KissCode::Rate => {
                    // Poll less often, again on each further RATE, and never faster
                    // than the server asked in its poll field.
                    let asked = PollInterval::from_log2(packet.poll());
                    let raised = self.hpoll.inc(PollInterval::MAX).max(asked);
                    self.kod_minpoll = raised.min(PollInterval::MAX);
                    self.hpoll = self.kod_minpoll;
                    self.config.maxpoll = self.config.maxpoll.max(self.kod_minpoll);
                    self.burst_left = 0;
                    self.reason = Reason::KissRate;
                    return ReplyOutcome::KissRate;
                }
                KissCode::Deny => return ReplyOutcome::KissDemobilize(Reason::KissDeny),
                KissCode::Rstr => return ReplyOutcome::KissDemobilize(Reason::KissRestricted),
                // Other codes carry no instruction for us: it is an answer from a
                // server that is not synchronised (chronyd's refid 0.0.0.0, ntpd's
                // INIT), handled as such below.
                _ => {}
            }
        }
        let t2 = packet.receive_timestamp();
        let t3 = packet.transmit_timestamp();
        if t2.is_zero() || t3.is_zero() {
            return ReplyOutcome::Refused(Reason::BadTimestamps);
        }
        let Some(t1) = self.t1 else {
            return ReplyOutcome::Refused(Reason::NoTransmitTime);
        };
        // The packet passed the protocol checks: it counts as reachable.
        self.reach |= 1;
        self.unreach = 0;
        self.last_rx = Some(now);
        // Stratum 0 outside a kiss is "unspecified or invalid" (RFC 5905 Fig. 11):
        // ntpd takes it, and anything above 16, as 16.
        self.stratum = match packet.stratum() {
            0 => 16,
            s => s.min(16),
        };
        self.ref_id = packet.ref_id();
        self.leap = packet.leap();
        self.peer_poll = packet.poll();
        self.precision = packet.precision();
        self.root_delay_s = packet.root_delay().to_seconds_f64();
        self.root_dispersion_s = packet.root_dispersion().to_seconds_f64();
        self.reference_time = packet.reference_timestamp();
        if self.leap == LeapIndicator::Unsynchronized || self.stratum >= 16 {
            return ReplyOutcome::Unsynchronized;
        }
        // Summed at full width: a 32.32 sum saturated every offset beyond 2^30 s.
        let (offset, delay) = offset_and_delay(t1, t2, t3, t4);
        let offset_s = offset.to_seconds_f64() - pending_s;
        let delay_s = delay.to_seconds_f64().max(precision_s);
        let server_precision_s = libm::ldexp(1.0, self.precision as i32);
        let dispersion_s = precision_s + server_precision_s + PHI * (t4 - t1).to_seconds_f64();
        let sample = FilterSample {
            offset_s,
            delay_s,
            dispersion_s,
            time_s: now.as_seconds_f64(),
        };
        // NotNewer and Popcorn both mean "nothing new for selection".
        let filtered = self
            .filter
            .add(sample, self.hpoll.as_seconds_f64(), precision_s)
            .ok();
        ReplyOutcome::Sample { sample, filtered }
    }

    /// Root distance λ now (RFC 5905 §11.2.1): half the root delay, plus the root
    /// dispersion, plus dispersion and jitter of our own path.
    pub fn root_distance_s(&self, now: Instant) -> f64 {
        let now_s = now.as_seconds_f64();
        match self.filter.last() {
            Some(f) => {
                (self.root_delay_s + f.delay_s).max(0.001) / 2.0
                    + self.root_dispersion_s
                    + self.filter.dispersion_at(now_s)
                    + f.jitter_s
            }
            None => f64::INFINITY,
        }
    }

    /// Why this source cannot be a selection candidate at all, if it cannot.
    pub fn unfit(&self, now: Instant) -> Option<Reason> {
        if self.config.noselect {
            return Some(Reason::NoSelect);
        }
        // Three polls in a row unanswered: unfit, as ntpd makes it by stuffing its
        // filter with MAXDISP samples. Waiting for all eight bits to clear would take
        // over two hours at a 1024 s poll before the local clock could take over.
        if self.reach & 0b111 == 0 {
            return Some(if !self.filter.is_empty() {
                Reason::Unreachable
            } else if let (0, Some(r)) = (self.unreach, self.unusable) {
                // It answers, but every answer was refused (zero timestamps, no
                // transmit time, RATE…): say why rather than "no data".
                r
            } else {
                Reason::NoData
            });
        }
        if self.leap == LeapIndicator::Unsynchronized || self.stratum >= 16 {
            return Some(Reason::Unsynchronized);
        }
        if self.filter.last().is_none() {
            return Some(Reason::NoData);
        }
        if self.root_distance_s(now) > MAXDIST_S {
            return Some(Reason::DistanceTooLarge);
        }
        None
    }

    /// Still starting up: selectable, no filter output yet, fewer than two polls
    /// missed, and its last answer (if any) was usable. Before the clock is first
    /// set, selection waits for such sources so that the first server to answer
    /// cannot set the clock alone (a falseticker that answers first would otherwise
    /// be stepped to). A source that answers but unusably (unsynchronised, stratum
    /// 0, zero timestamps…) is not settling: it would be waited for forever.
    pub fn warming_up(&self) -> bool {
        !self.config.noselect
            && self.filter.last().is_none()
            && self.unreach < 2
            && self.unusable.is_none()
    }

    /// Answers with time: reachable, selectable, and its last answer was a usable
    /// sample (not unsynchronised, stratum 0 or otherwise refused). The start-up
    /// majority counts these sources.
    pub fn answers_with_time(&self) -> bool {
        self.reach != 0
            && !self.config.noselect
            && self.unusable.is_none()
            && self.leap != LeapIndicator::Unsynchronized
            && self.stratum < 16
    }

    /// The filter's output, if any.
    pub fn filtered(&self) -> Option<&FilterOutput> {
        self.filter.last()
    }

    /// Everything a monitoring tool shows.
    pub fn status(&self, now: Instant) -> SourceStatus {
        let f = self.filter.last();
        SourceStatus {
            id: self.id,
            addr: self.config.addr,
            tally: self.tally,
            reason: self.reason,
            last_refusal: self.last_refusal,
            reach: self.reach,
            poll: self.hpoll,
            peer_poll: self.peer_poll,
            stratum: self.stratum,
            ref_id: self.ref_id,
            leap: self.leap,
            last_rx: self.last_rx,
            delay_s: f.map_or(0.0, |f| f.delay_s),
            offset_s: f.map_or(0.0, |f| f.offset_s),
            jitter_s: f.map_or(0.0, |f| f.jitter_s),
            dispersion_s: self.filter.dispersion_at(now.as_seconds_f64()),
            root_delay_s: self.root_delay_s,
            root_dispersion_s: self.root_dispersion_s,
            reference_time: self.reference_time,
            prefer: self.config.prefer,
            key: self.config.key,
            nts: None,
        }
    }
}
