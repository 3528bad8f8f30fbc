//! The client node: associations, selection and the discipline behind one sans-IO
//! interface. See [`Node`].

mod action;
mod drive;
#[cfg(feature = "nts")]
pub mod nts;
#[cfg(feature = "nts")]
#[cfg(test)]
mod nts_tests;
mod refclock;

pub use refclock::RefclockInputError;

pub use action::{Action, Event, TxId};
pub use drive::{carry_out, run_once, run_once_with, Report};

use core::net::SocketAddr;

use heapless::{Deque, Vec};

use crate::discipline::slew::SlewSchedule;
use crate::discipline::{Discipline, DisciplineConfig, State};
use crate::peer::{Association, Reason, ReplyOutcome, SourceConfig, SourceId, SourceStatus};
use crate::select::SelectConfig;
use crate::system::SystemVars;
use crate::time::{Instant, NtpDuration, NtpTimestamp, PollInterval};
use crate::wire::{Packet, Repr, HEADER_LEN};

use action::Queued;

/// Capacity of the queue of clock actions and events (sends have their own, one per
/// source). One update makes at most four clock actions plus a few events, and the
/// port drains the queue after every `handle_*` call; when it does not, the oldest
/// events are dropped, never clock actions. Each entry is about 56 bytes (an event
/// carries an IPv6-sized address), so this is also the largest single item in the
/// firmware's 4 KiB client budget: 16 entries leave room for four sources.
pub const ACTION_QUEUE: usize = 16;

/// The request buffer: a header and, for `key N` sources, the longest MAC.
#[cfg(feature = "auth")]
pub const REQUEST_BUF_LEN: usize = HEADER_LEN + crate::auth::MAX_MAC_LEN;
/// The request buffer: a header (no MACs without the `auth` feature).
#[cfg(not(feature = "auth"))]
pub const REQUEST_BUF_LEN: usize = HEADER_LEN;

/// Everything a node is configured with.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    /// The discipline (`tinker`, step mode, driftfile frequency, estimator).
    pub discipline: DisciplineConfig,
    /// Selection (`tos minsane`, `minclock`, `maxclock`).
    pub select: SelectConfig,
    /// Serve the local clock at this fudged stratum when no real source survives
    /// (`server 127.127.1.0` + `fudge 127.127.1.0 stratum 10`).
    pub local_clock_stratum: Option<u8>,
    /// Orphan mode (`tos orphan N`): with no real source and no local clock, serve
    /// this node's own time at stratum `N` after `wait` (`tos orphanwait`).
    pub orphan: Option<Orphan>,
    /// Our clock's precision, log2 seconds.
    pub precision: i8,
    /// The largest rate the node adds to the frequency correction to slew an
    /// offset away, ppm (`tinker maxslewrate`; default
    /// [`DEFAULT_MAX_SLEW_RATE_PPM`]). The clock must accept the discipline's
    /// frequency bound plus this: [`NodeConfig::fit_to_clock`] makes sure.
    pub max_slew_rate_ppm: f64,
    /// Seed of the node's PRNG (request nonces, poll jitter).
    pub seed: u64,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            discipline: DisciplineConfig::default(),
            select: SelectConfig::default(),
            local_clock_stratum: None,
            orphan: None,
            precision: -20,
            max_slew_rate_ppm: DEFAULT_MAX_SLEW_RATE_PPM,
            seed: 0x5eed_5eed_5eed_5eed,
        }
    }
}

/// The default maximum slew rate, ppm: chrony's `maxslewrate` (1/12 s per second).
/// A 0.1 s start-up offset is gone in 1.2 s and a second (`-x`) in 12 s instead of
/// ntpd's 200 s and 33 minutes at adjtime's 500 ppm, while the clock still runs
/// forward at 92 % of real time at worst, within Linux's ±10 % tick range. Only
/// corrections much larger than the noise run anywhere near it (see
/// [`crate::discipline::slew`]): steady-state ones move the rate by fractions of a ppm.
pub const DEFAULT_MAX_SLEW_RATE_PPM: f64 = 83_333.0;

impl NodeConfig {
    /// Limit the slew rate to what a clock whose frequency range is
    /// ±`clock_max_frequency_ppm` ([`Clock::max_frequency_ppm`](crate::Clock::max_frequency_ppm))
    /// can carry on top of the discipline's frequency bound; returns the rate kept.
    ///
    /// A clock with no room beyond that bound (one that keeps the trait's default
    /// ±500 ppm) still gets slews of up to its whole range: the clock clamps the sum
    /// when the frequency correction is large, and the next measurement sees what was
    /// not made. Slewing must never be switched off by a narrow clock.
    pub fn fit_to_clock(&mut self, clock_max_frequency_ppm: f64) -> f64 {
        let room = clock_max_frequency_ppm - self.discipline.max_frequency_ppm;
        let room = if room > 0.0 {
            room
        } else {
            clock_max_frequency_ppm.max(0.0)
        };
        self.max_slew_rate_ppm = self.max_slew_rate_ppm.clamp(0.0, room);
        self.max_slew_rate_ppm
    }
}

/// `tos orphan N orphanwait S`: how an isolated node keeps serving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Orphan {
    /// The stratum served in orphan mode (ntpd: clients see exactly this).
    pub stratum: u8,
    /// How long without a usable source before orphan mode starts (ntpd: 300 s).
    pub wait: core::time::Duration,
}

/// What [`Node::handle_packet`] made of a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketVerdict {
    /// A reply from one of our sources, used.
    Accepted,
    /// A reply from one of our sources, refused for this reason.
    Refused(Reason),
    /// Not a server reply (a request or a control query): hand it to the server or
    /// control path.
    NotAReply,
    /// A reply from an address that is not one of our sources.
    UnknownSource,
    /// Not an NTP packet.
    Malformed,
}

/// The node could not take another source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapacityError;

/// The local clock's line in the peer table (`LOCAL(0) .LOCL. 10 l`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalClockStatus {
    /// The fudged stratum.
    pub stratum: u8,
    /// True while it is the system's time source.
    pub active: bool,
}

/// System-level figures for `ntpq -c rv` and `slewctl status`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SystemStatus {
    /// What the server path copies into answers.
    pub vars: SystemVars,
    /// The system peer, if any.
    pub system_peer: Option<SourceId>,
    /// Why there is none, when there is none.
    pub reason: Reason,
    /// Combined offset at the last update, seconds.
    pub offset_s: f64,
    /// System jitter, seconds.
    pub jitter_s: f64,
    /// Frequency correction in force, ppm (`frequency`, and the driftfile).
    pub frequency_ppm: f64,
    /// Clock jitter, seconds.
    pub clock_jitter_s: f64,
    /// Clock wander, ppm.
    pub clock_wander_ppm: f64,
    /// Discipline state.
    pub state: State,
    /// Steps made since start.
    pub steps: u32,
    /// Clock updates (slews and steps) made since start: one loopstats line each.
    pub updates: u32,
}

/// An NTP client node: up to `N` upstream sources, selection and the clock
/// discipline, with no I/O of its own.
///
/// # Method families, and the order to call them in
///
/// - **Configuration**: [`Node::new`], [`Node::add_source`], [`Node::remove_source`].
/// - **Input** (`handle_*`): [`Node::handle_packet`] for every datagram from port
///   123 of a source, with the wall-clock receive timestamp (a kernel stamp when the
///   port has one); [`Node::handle_timeout`] when the deadline passes;
///   [`Node::handle_tx_timestamp`] right after sending a request, with the time it
///   left (a kernel transmit stamp, or the clock read right after `send`).
/// - **Output** (`poll_*`): after any input, call [`Node::poll_action`] until it
///   returns `None` and carry out each [`Action`]; then sleep until
///   [`Node::poll_timeout`] or the next datagram. [`run_once`] does the draining
///   against a [`Clock`](crate::Clock) and a [`Transport`](crate::Transport).
/// - **Getters**: [`Node::sources`], [`Node::source`], [`Node::system`],
///   [`Node::system_vars`] (for the server path), [`Node::local_clock`].
///
/// `now` is always the port's monotonic [`Instant`]; wall time only enters through
/// timestamps.
///
/// ```
/// use slew_core::node::{Node, NodeConfig, run_once};
/// use slew_core::peer::SourceConfig;
/// use slew_core::Instant;
/// let mut node: Node<4> = Node::new(NodeConfig::default());
/// let server = "192.0.2.1:123".parse().unwrap();
/// node.add_source(SourceConfig { iburst: true, ..SourceConfig::new(server) }, Instant::ZERO)
///     .unwrap();
/// node.handle_timeout(Instant::from_nanos(3_000_000_000));
/// // The first request of the burst is ready:
/// assert!(node.poll_action().is_some());
/// ```
///
/// `N` associations, `R` of them may be reference clocks, `S` of them NTS sources
/// (each NTS slot holds a cookie jar and a request buffer, about 4.5 KiB, so the
/// default is none: a port that speaks NTS says how many, e.g. `Node<N, R, N>`).
#[derive(Debug)]
pub struct Node<const N: usize, const R: usize = 0, const S: usize = 0> {
    config: NodeConfig,
    sources: Vec<Association, N>,
    /// The reference clocks' own state (median filter, reach), each also an
    /// association in `sources` under the same id.
    refclocks: Vec<(SourceId, crate::refclock::source::RefclockSource), R>,
    next_id: u32,
    discipline: Discipline,
    rng: u64,
    sends: Deque<(SourceId, NtpTimestamp), N>,
    queue: Deque<Queued, ACTION_QUEUE>,
    buf: [u8; REQUEST_BUF_LEN],
    /// The correction in progress, carried out as an added frequency.
    slew: SlewSchedule,
    sys: SystemVars,
    sys_peer: Option<SourceId>,
    sys_reason: Reason,
    sys_offset_s: f64,
    sys_jitter_s: f64,
    local_active: bool,
    wall_anchor: Option<(Instant, NtpTimestamp)>,
    ever_synced: bool,
    /// When the local clock reference is next refreshed (its 64-s "poll").
    local_due: Instant,
    /// When the first reply from any source arrived (the start-up quorum's clock).
    first_reply: Option<Instant>,
    /// Since when no source has been selectable (orphan mode's wait).
    lost_since: Option<Instant>,
    /// True while serving in orphan mode.
    orphan_active: bool,
    /// Clock updates made (see [`SystemStatus::updates`]).
    clock_updates: u32,
    /// The NTS state of the NTS sources (see [`nts`]).
    #[cfg(feature = "nts")]
    nts: Vec<nts::NtsSource, S>,
}

/// The local clock reference is refreshed at ntpd's LOCAL driver poll, 64 s.
pub const LOCAL_CLOCK_POLL: core::time::Duration = core::time::Duration::from_secs(64);

impl<const N: usize, const R: usize, const S: usize> Node<N, R, S> {
    /// A node with no sources.
    pub fn new(mut config: NodeConfig) -> Self {
        config.discipline.precision_s = libm::ldexp(1.0, config.precision as i32);
        Self {
            discipline: Discipline::new(config.discipline.clone()),
            rng: config.seed ^ 0x9e37_79b9_7f4a_7c15,
            sys: SystemVars::unsynchronized(config.precision),
            config,
            sources: Vec::new(),
            refclocks: Vec::new(),
            next_id: 1,
            sends: Deque::new(),
            queue: Deque::new(),
            buf: [0; REQUEST_BUF_LEN],
            slew: SlewSchedule::IDLE,
            sys_peer: None,
            sys_reason: Reason::NoData,
            sys_offset_s: 0.0,
            sys_jitter_s: 0.0,
            local_active: false,
            wall_anchor: None,
            ever_synced: false,
            local_due: Instant::ZERO,
            first_reply: None,
            lost_since: None,
            orphan_active: false,
            clock_updates: 0,
            #[cfg(feature = "nts")]
            nts: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Add a source; its first poll comes within two seconds of `now`.
    pub fn add_source(
        &mut self,
        config: SourceConfig,
        now: Instant,
    ) -> Result<SourceId, CapacityError> {
        let id = SourceId(self.next_id);
        let delay_ns = self.next_rand() % 2_000_000_000;
        let first = Instant::from_nanos(now.as_nanos().saturating_add(delay_ns));
        self.sources
            .push(Association::new(id, config, first))
            .map_err(|_| CapacityError)?;
        self.next_id += 1;
        Ok(id)
    }

    /// Gives a `key N` source ([`SourceConfig::key`]) its key, which must be key N
    /// and trusted. Returns whether it was taken.
    #[cfg(feature = "auth")]
    pub fn set_source_key(&mut self, id: SourceId, key: crate::auth::SymmetricKey) -> bool {
        self.sources
            .iter_mut()
            .find(|s| s.id == id)
            .is_some_and(|s| s.set_key(key))
    }

    /// Remove a source (SIGHUP reload). Returns whether it existed.
    pub fn remove_source(&mut self, id: SourceId) -> bool {
        let Some(pos) = self.sources.iter().position(|s| s.id == id) else {
            return false;
        };
        self.sources.swap_remove(pos);
        #[cfg(feature = "nts")]
        self.nts_remove(id);
        if let Some(r) = self.refclocks.iter().position(|(rid, _)| *rid == id) {
            self.refclocks.swap_remove(r);
        }
        if self.sys_peer == Some(id) {
            self.sys_peer = None;
        }
        true
    }

    /// The status of every source.
    pub fn sources(&self, now: Instant) -> impl Iterator<Item = SourceStatus> + '_ {
        self.sources
            .iter()
            .map(move |s| self.with_nts(s.status(now)))
    }

    /// The status of one source.
    pub fn source(&self, id: SourceId, now: Instant) -> Option<SourceStatus> {
        self.sources
            .iter()
            .find(|s| s.id == id)
            .map(|s| self.with_nts(s.status(now)))
    }

    /// A source's status with its NTS part, if it is an NTS source.
    fn with_nts(&self, st: SourceStatus) -> SourceStatus {
        #[cfg(feature = "nts")]
        return self.nts_status(st);
        #[cfg(not(feature = "nts"))]
        st
    }

    /// The local clock's line, if one is configured.
    pub fn local_clock(&self) -> Option<LocalClockStatus> {
        self.config
            .local_clock_stratum
            .map(|stratum| LocalClockStatus {
                stratum,
                active: self.local_active,
            })
    }

    /// The system variables the server path answers with.
    pub fn system_vars(&self) -> SystemVars {
        self.sys
    }

    /// System-level status.
    pub fn system(&self) -> SystemStatus {
        SystemStatus {
            vars: self.sys,
            system_peer: self.sys_peer,
            reason: self.sys_reason,
            offset_s: self.sys_offset_s,
            jitter_s: self.sys_jitter_s,
            frequency_ppm: self.discipline.frequency_ppm(),
            clock_jitter_s: self.discipline.jitter_s(),
            clock_wander_ppm: self.discipline.wander_ppm(),
            state: self.discipline.state(),
            steps: self.discipline.steps(),
            updates: self.clock_updates,
        }
    }

    /// The frequency correction in force, ppm: write it to the driftfile.
    pub fn frequency_ppm(&self) -> f64 {
        self.discipline.frequency_ppm()
    }

    /// The system poll interval.
    pub fn poll(&self) -> PollInterval {
        self.discipline.poll()
    }

    /// The earliest time the node wants [`Node::handle_timeout`] called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let fallback = self.config.local_clock_stratum.is_some() || self.config.orphan.is_some();
        let local = fallback.then_some(self.local_due);
        let slew_end = self
            .slew
            .end_s()
            .map(|s| Instant::from_nanos(libm::ceil(s.max(0.0) * 1e9) as u64));
        self.sources
            .iter()
            .filter(|s| !s.is_refclock())
            .map(|s| s.next_poll())
            .chain(self.refclocks.iter().map(|(_, r)| r.next_poll()))
            .chain(local)
            .chain(slew_end)
            .min()
    }

    /// Timers: end the slew in progress when it is done, send the requests that
    /// are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.end_slew(now);
        let mut polled = false;
        for i in 0..self.sources.len() {
            let due = self
                .sources
                .get(i)
                .is_some_and(|s| !s.is_refclock() && s.next_poll() <= now);
            if !due {
                continue;
            }
            let rand = self.next_rand();
            let Some(s) = self.sources.get_mut(i) else {
                continue;
            };
            let (nonce, became_unreachable) = s.poll_now(now, rand);
            let (id, addr) = (s.id, s.config().addr);
            // An NTS source without usable cookies sends nothing: it waits for NTS-KE.
            #[cfg(feature = "nts")]
            let send = self.nts_may_send(id, addr, became_unreachable);
            #[cfg(not(feature = "nts"))]
            let send = true;
            // A full send queue means the port is not draining: the request is lost,
            // as on a congested network.
            if send {
                let _ = self.sends.push_back((id, nonce));
            }
            if became_unreachable {
                self.push_event(Event::Unreachable { id, addr });
            }
            polled = true;
        }
        // Refclocks reselect themselves, each with its fresh sample.
        self.poll_refclocks(now);
        // The local clock: with no source at all it is the time source from the
        // start (ntpd's LOCAL(0) alone); while it serves, its reference time is
        // refreshed at its poll so clients see a live reference.
        let mut local_tick = false;
        let fallback = self.config.local_clock_stratum.is_some() || self.config.orphan.is_some();
        if fallback && now >= self.local_due {
            // Waiting for orphan mode: look again when the wait may be over.
            let period = match self.config.orphan {
                Some(o) if !self.orphan_active => {
                    LOCAL_CLOCK_POLL.min(o.wait.max(core::time::Duration::from_secs(1)))
                }
                _ => LOCAL_CLOCK_POLL,
            };
            self.local_due = now.saturating_add(period);
            local_tick = self.sources.is_empty() || self.local_active || self.orphan_active;
        }
        if polled || local_tick {
            self.reselect(now, None);
        }
    }

    /// The port reports the wall time `wall` its clock read at `now`. The node knows
    /// wall time otherwise only from replies (their receive stamps), so a node with
    /// only the local clock needs this for the reference time it serves, which ntpd's
    /// LOCAL(0) sets to the time of its last update. (Orphan mode keeps the last real
    /// update's, zero if none, as ntpsec.) Call it before
    /// [`Node::handle_timeout`]; calling it more often does no harm.
    pub fn handle_wall_time(&mut self, now: Instant, wall: NtpTimestamp) {
        if !wall.is_zero() {
            self.wall_anchor = Some((now, wall));
        }
    }

    /// The port reports the wall time a request left at (T1).
    pub fn handle_tx_timestamp(&mut self, tx: TxId, t1: NtpTimestamp) {
        if let Some(s) = self.sources.iter_mut().find(|s| s.id == tx.source) {
            s.note_transmit(tx.nonce, t1);
        }
    }

    /// A datagram arrived from `from`, received at wall time `rx_timestamp` (T4).
    pub fn handle_packet(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
        rx_timestamp: NtpTimestamp,
    ) -> PacketVerdict {
        let Ok(packet) = Packet::new_checked(bytes) else {
            return PacketVerdict::Malformed;
        };
        if packet.mode() != crate::wire::Mode::Server {
            return PacketVerdict::NotAReply;
        }
        let Some(idx) = self.sources.iter().position(|s| s.config().addr == from) else {
            return PacketVerdict::UnknownSource;
        };
        // An NTS source's answers are authenticated before the association sees them.
        #[cfg(feature = "nts")]
        if let Some(id) = self.sources.get(idx).map(|s| s.id) {
            if let Some(refused) = self.nts_check_reply(id, from, bytes) {
                return refused;
            }
        }
        self.wall_anchor = Some((now, rx_timestamp));
        self.first_reply.get_or_insert(now);
        let pending_s = self.pending_slew_s(now);
        let precision_s = self.config.discipline.precision_s;
        let Some(src) = self.sources.get_mut(idx) else {
            return PacketVerdict::UnknownSource;
        };
        let was_reachable = src.reach() != 0;
        let outcome = src.handle_reply(now, &packet, rx_timestamp, pending_s, precision_s);
        let (id, addr, reach) = (src.id, src.config().addr, src.reach());
        if !was_reachable && reach != 0 {
            self.push_event(Event::Reachable { id, addr });
        }
        match outcome {
            ReplyOutcome::Refused(r) => PacketVerdict::Refused(r),
            ReplyOutcome::Unsynchronized => {
                self.reselect(now, None);
                PacketVerdict::Refused(Reason::Unsynchronized)
            }
            ReplyOutcome::KissRate => {
                self.push_event(Event::Kiss {
                    id,
                    addr,
                    code: Reason::KissRate,
                });
                PacketVerdict::Refused(Reason::KissRate)
            }
            ReplyOutcome::KissDemobilize(reason) => {
                self.push_event(Event::Kiss {
                    id,
                    addr,
                    code: reason,
                });
                self.remove_source(id);
                self.push_event(Event::Demobilized { id, addr, reason });
                self.reselect(now, None);
                PacketVerdict::Refused(reason)
            }
            ReplyOutcome::Sample { sample, filtered } => {
                let fresh = Fresh {
                    id,
                    offset_s: sample.offset_s,
                    delay_s: sample.delay_s,
                    dispersion_s: 0.0,
                    time_s: sample.time_s,
                    filtered: filtered.is_some(),
                };
                self.reselect(now, Some(fresh));
                PacketVerdict::Accepted
            }
        }
    }

    /// The next queued action that is not a send (clock actions and events, which
    /// borrow nothing), or `None` when only sends (or nothing) remain: what a wrapper
    /// such as [`crate::endpoint::Endpoint`] inspects before [`Node::poll_action`].
    pub fn poll_queued(&mut self) -> Option<Action<'static>> {
        self.queue.pop_front().map(Queued::into_action)
    }

    /// The next action for the port, or `None` when there is nothing to do.
    pub fn poll_action(&mut self) -> Option<Action<'_>> {
        if let Some(q) = self.queue.pop_front() {
            return Some(q.into_action());
        }
        loop {
            let (source, nonce) = self.sends.pop_front()?;
            let Some(s) = self.sources.iter().find(|s| s.id == source) else {
                continue;
            };
            let addr = s.config().addr;
            let repr = Repr::client_request(nonce, s.poll().log2());
            let tx = TxId { source, nonce };
            #[cfg(feature = "nts")]
            match self.nts_write_request(source, &repr) {
                Some(Ok((slot, len))) => {
                    return Some(Action::Send {
                        to: addr,
                        bytes: self.nts_request(slot, len),
                        tx,
                    })
                }
                Some(Err(())) => continue,
                None => {}
            }
            let Some(s) = self.sources.iter().find(|s| s.id == source) else {
                continue;
            };
            let mut packet = Packet::new_unchecked(&mut self.buf[..]);
            repr.emit(&mut packet);
            let len = s.sign_request(&mut self.buf, HEADER_LEN);
            return Some(Action::Send {
                to: addr,
                bytes: self.buf.get(..len).unwrap_or_default(),
                tx,
            });
        }
    }

    fn next_rand(&mut self) -> u64 {
        // splitmix64: tiny, good enough for nonces and jitter, and seedable.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn push_event(&mut self, ev: Event) {
        self.push(Queued::Event(ev));
    }

    fn push(&mut self, q: Queued) {
        if self.queue.is_full() {
            // Drop the oldest event to make room; clock actions are never dropped.
            // A request for NTS-KE is asked once: it is kept like a clock action.
            let pos = self.queue.iter().position(
                |q| matches!(q, Queued::Event(e) if !matches!(e, Event::NeedKeyExchange { .. })),
            );
            if let Some(pos) = pos {
                let mut kept: Deque<Queued, ACTION_QUEUE> = Deque::new();
                for (i, q) in self.queue.iter().enumerate() {
                    if i != pos {
                        let _ = kept.push_back(*q);
                    }
                }
                self.queue = kept;
            }
        }
        let _ = self.queue.push_back(q);
    }

    /// The part of the last correction the clock has not made yet at `now`, seconds
    /// (right after a slewed update: the whole of it).
    pub fn pending_slew_s(&self, now: Instant) -> f64 {
        self.slew.remaining_s(now.as_seconds_f64())
    }

    /// The slew's end: take the added rate back, leaving the discipline's frequency.
    fn end_slew(&mut self, now: Instant) {
        if self
            .slew
            .end_s()
            .is_some_and(|end| now.as_seconds_f64() >= end)
        {
            self.slew.stop(now.as_seconds_f64());
            self.push(Queued::SetFrequency(self.discipline.frequency_ppm()));
        }
    }

    /// Before the clock is first set, true while a configured upstream may still
    /// become selectable: one that has not answered yet and has missed fewer than two
    /// polls, or one that answers but whose samples are not yet good enough (no
    /// filter output, too large a distance), within [`update::STARTUP_SETTLE_WAIT`]
    /// of the first reply. The local clock is not served as synchronised meanwhile:
    /// ntpd's start says "unsynchronised / time server re-starting", and a client
    /// that took the local clock's time now would be moved again seconds later. A
    /// node with no upstream at all serves its local clock at once.
    fn upstream_settling(&self, now: Instant) -> bool {
        if self.ever_synced {
            return false;
        }
        if self
            .first_reply
            .is_some_and(|t| now.saturating_since(t) >= update::STARTUP_SETTLE_WAIT)
        {
            return false;
        }
        self.sources.iter().any(|s| {
            s.warming_up()
                || (s.reach() != 0
                    && !s.config().noselect
                    && matches!(
                        s.unfit(now),
                        Some(Reason::NoData) | Some(Reason::DistanceTooLarge)
                    ))
        })
    }

    fn wall_now(&self, now: Instant) -> NtpTimestamp {
        match self.wall_anchor {
            Some((at, wall)) => wall + NtpDuration::from_core(now.saturating_since(at)),
            None => NtpTimestamp::ZERO,
        }
    }
}

/// A sample just taken, for the discipline.
#[derive(Clone, Copy, Debug)]
struct Fresh {
    id: SourceId,
    offset_s: f64,
    delay_s: f64,
    /// The sample's own dispersion (a refclock's median-filter jitter).
    dispersion_s: f64,
    time_s: f64,
    filtered: bool,
}

mod update;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod wide_tests;

#[cfg(all(test, feature = "auth"))]
mod auth_tests;

#[cfg(test)]
mod refclock_tests;
