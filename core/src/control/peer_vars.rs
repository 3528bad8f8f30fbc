//! [`PeerVars`]: the one shape of a peer's state from the node to `slewctl`. The
//! node reports every association in it ([`Node::peer_vars`]: its local clock,
//! [`PeerVars::local_clock`], and each source's [`SourceStatus`],
//! [`PeerVars::of_source`]); the port adds the names it configured; the responder
//! encodes it as READVAR's variables ([`super::PeerVar`]); a monitoring client
//! decodes those variables back into it ([`PeerVars::decode`]) and only formats
//! what it gets.
//!
//! Figures are kept in the units mode 6 carries (milliseconds, log2 seconds), so a
//! decoded value is exactly what the server sent and a table or a JSON document shows
//! the same digits as ntpq. Strings are fixed-size (no allocation): a longer name or
//! reason is cut at a character boundary.

use core::net::{IpAddr, Ipv4Addr};

use super::snapshot::{host_mode, peer_event, PeerStatus, RefIdKind};
use crate::node::Node;
use crate::peer::{NtsSourceStatus, SourceId, SourceStatus};
use crate::select::Tally;
use crate::system::LOCAL_CLOCK_DISPERSION_S;
use crate::time::{Instant, NtpDuration, NtpTimestamp};
use crate::wire::RefId;

/// Longest `srchost` kept, bytes: a DNS name's 253 and then some.
pub const SRCHOST_MAX: usize = 255;
/// Longest `reason` kept, bytes (slew's codes and refclock reasons are under 16).
pub const REASON_MAX: usize = 64;

/// A configured host name or a reference clock's name (`LOCAL(0)`).
pub type HostName = heapless::String<SRCHOST_MAX>;
/// Why a source is not selected.
pub type ReasonText = heapless::String<REASON_MAX>;

/// The association id of the local clock (LOCAL(0)).
pub const LOCAL_CLOCK_ASSOC_ID: u16 = 1;

/// The association id of an upstream source: its node id + 1, so ids stay stable
/// while sources come and go (1 is the local clock's).
pub fn association_id(id: SourceId) -> u16 {
    u16::try_from(id.0.saturating_add(1)).unwrap_or(u16::MAX)
}

/// `s` cut to what fits in `N` bytes, at a character boundary.
pub fn bounded_text<const N: usize>(s: &str) -> heapless::String<N> {
    let mut out = heapless::String::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

/// One association, as of the query: what the responder reports, what slewctl reads.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerVars {
    /// Association id (non-zero).
    pub association_id: u16,
    /// The peer's address; `127.127.1.0` for the local clock.
    pub srcadr: IpAddr,
    /// The peer's port.
    pub srcport: u16,
    /// A name to show instead of the address: the clock name of a reference clock
    /// (`LOCAL(0)`, which also makes ntpq -p print type `l`) or the configured host
    /// name. `None` (and never `Some("")`): show the address.
    pub srchost: Option<HostName>,
    /// Status byte and events.
    pub status: PeerStatus,
    /// Leap indicator the peer announced, 0–3.
    pub leap: u8,
    /// Stratum the peer announced (16 until it answered).
    pub stratum: u8,
    /// The peer's precision, log2 s.
    pub precision: i8,
    /// Root delay it announced, milliseconds.
    pub root_delay_ms: f64,
    /// Root dispersion it announced, milliseconds.
    pub root_dispersion_ms: f64,
    /// Its refid.
    pub refid: RefId,
    /// How to show it (see [`RefIdKind::for_stratum`]).
    pub refid_kind: RefIdKind,
    /// Its reference time.
    pub reference_time: NtpTimestamp,
    /// When its last valid reply arrived (`rec`, ntpq's "when"); zero: never.
    pub received: NtpTimestamp,
    /// Reach register (ntpq shows it in octal).
    pub reach: u8,
    /// Our mode towards it ([`host_mode`]).
    pub hmode: u8,
    /// Our poll interval to it, log2 s.
    pub hpoll: i8,
    /// The poll interval it announced, log2 s (0: not known).
    pub ppoll: i8,
    /// Clock filter offset, milliseconds.
    pub offset_ms: f64,
    /// Clock filter delay, milliseconds.
    pub delay_ms: f64,
    /// Peer dispersion, milliseconds.
    pub dispersion_ms: f64,
    /// Peer jitter, milliseconds.
    pub jitter_ms: f64,
    /// Why it is not selected: a short code (`falseticker`, `unreach`…; the
    /// discipline's `Reason::code()`), empty when nothing is against it.
    pub reason: ReasonText,
    /// `Some` for an NTS source (RFC 8915): its cookies, key exchanges, NAKs and
    /// refusals, sent as the `nts*` variables.
    pub nts: Option<NtsSourceStatus>,
}

impl PeerStatus {
    /// The status of an upstream source (ntpq's tally, peerstats' status column).
    pub fn of_source(s: &SourceStatus) -> Self {
        PeerStatus {
            configured: true,
            // ntpd's auth bits: enabled for a `key N` source, authentic while its
            // last poll got a reply that passed the MAC check (refused replies never
            // reach the reach register).
            auth_enabled: s.key.is_some(),
            authentic: s.key.is_some() && s.reach & 1 != 0,
            reachable: s.reach != 0,
            select: s.tally.select_code(),
            event_count: 1,
            last_event: if s.tally == Tally::SystemPeer {
                peer_event::SYS_PEER
            } else if s.reach != 0 {
                peer_event::REACHABLE
            } else {
                peer_event::UNREACHABLE
            },
        }
    }
}

/// Seconds as the milliseconds mode 6 carries.
fn ms(s: f64) -> f64 {
    s * 1e3
}

impl PeerVars {
    /// An upstream source as the node reports it; `received` is the wall time of its
    /// last valid reply (zero: never). Add the name it was configured by with
    /// [`PeerVars::with_srchost`].
    pub fn of_source(s: &SourceStatus, received: NtpTimestamp) -> Self {
        let refid_kind = if s.stratum == 0 || s.stratum >= 16 {
            RefIdKind::Code
        } else {
            RefIdKind::for_stratum(s.stratum)
        };
        PeerVars {
            association_id: association_id(s.id),
            srcadr: s.addr.ip(),
            srcport: s.addr.port(),
            srchost: None,
            status: PeerStatus::of_source(s),
            leap: s.leap.to_bits(),
            stratum: s.stratum,
            precision: -20,
            root_delay_ms: ms(s.root_delay_s),
            root_dispersion_ms: ms(s.root_dispersion_s),
            refid: s.ref_id,
            refid_kind,
            reference_time: s.reference_time,
            received,
            reach: s.reach,
            hmode: host_mode::CLIENT,
            hpoll: s.poll.log2(),
            ppoll: s.peer_poll,
            offset_ms: ms(s.offset_s),
            delay_ms: ms(s.delay_s),
            dispersion_ms: ms(s.dispersion_s),
            jitter_ms: ms(s.jitter_s),
            reason: bounded_text(s.reason.code()),
            nts: s.nts,
        }
    }

    /// The local clock (LOCAL(0)) at `stratum`, the time source when `active`:
    /// reached once per 64-s update of the local reference since start
    /// (`uptime_s`), last at `wall_now` less the part of 64 s since.
    pub fn local_clock(
        stratum: u8,
        active: bool,
        precision: i8,
        wall_now: NtpTimestamp,
        uptime_s: u64,
    ) -> Self {
        let updates = uptime_s / 64 + 1;
        let reach = if updates >= 8 {
            0xff
        } else {
            ((1u16 << updates) - 1) as u8
        };
        PeerVars {
            association_id: LOCAL_CLOCK_ASSOC_ID,
            srcadr: IpAddr::V4(Ipv4Addr::new(127, 127, 1, 0)),
            srcport: 123,
            srchost: Some(bounded_text("LOCAL(0)")),
            status: PeerStatus {
                configured: true,
                reachable: true,
                select: if active { 6 } else { 0 },
                event_count: 1,
                last_event: peer_event::REACHABLE,
                ..PeerStatus::default()
            },
            leap: 0,
            stratum,
            precision,
            root_delay_ms: 0.0,
            root_dispersion_ms: 0.0,
            refid: RefId::LOCL,
            refid_kind: RefIdKind::Code,
            reference_time: wall_now,
            received: wall_now - NtpDuration::from_seconds((uptime_s % 64) as i64),
            reach,
            hmode: host_mode::CLIENT,
            hpoll: 6,
            ppoll: 6,
            offset_ms: 0.0,
            delay_ms: 0.0,
            dispersion_ms: ms(LOCAL_CLOCK_DISPERSION_S),
            jitter_ms: 0.0,
            reason: bounded_text(if active { "" } else { "backup" }),
            nts: None,
        }
    }

    /// With this name shown instead of the address (an empty one shows the address).
    pub fn with_srchost(mut self, name: Option<&str>) -> Self {
        self.srchost = name.filter(|n| !n.is_empty()).map(bounded_text);
        self
    }

    /// With this reason instead of the node's (a refclock driver's `no fix`, …).
    pub fn with_reason(mut self, reason: &str) -> Self {
        self.reason = bounded_text(reason);
        self
    }

    /// The tally character of its selection code.
    pub fn tally(&self) -> char {
        self.status.tally()
    }
}

/// The wall time of monotonic `t`, seen from `now` at `wall_now`; zero for never.
pub fn wall_at(now: Instant, wall_now: NtpTimestamp, t: Option<Instant>) -> NtpTimestamp {
    match t {
        Some(t) => wall_now - NtpDuration::from_core(now.saturating_since(t)),
        None => NtpTimestamp::ZERO,
    }
}

impl<const N: usize, const R: usize, const S: usize> Node<N, R, S> {
    /// Every association as mode 6 reports it, at monotonic `now` (wall time
    /// `wall_now`, `uptime_s` since start): the local clock first, if configured,
    /// then each source ([`PeerVars::of_source`]). The port adds the names it
    /// configured them by ([`PeerVars::with_srchost`]).
    pub fn peer_vars(
        &self,
        now: Instant,
        wall_now: NtpTimestamp,
        uptime_s: u64,
    ) -> impl Iterator<Item = PeerVars> + '_ {
        let precision = self.system().vars.precision;
        let local = self
            .local_clock()
            .map(|l| PeerVars::local_clock(l.stratum, l.active, precision, wall_now, uptime_s));
        local.into_iter().chain(
            self.sources(now)
                .map(move |s| PeerVars::of_source(&s, wall_at(now, wall_now, s.last_rx))),
        )
    }
}
