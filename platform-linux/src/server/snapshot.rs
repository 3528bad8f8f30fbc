//! What `ntpq`, `ntpstat` and `slewctl` see: the node's state copied into the control
//! responder's snapshot types, once per loop turn that has a query to answer.
//!
//! Association ids: the local clock (LOCAL(0)) is 1, each upstream source its node
//! id + 1, so ids stay stable while sources come and go.

use std::net::IpAddr;

use slew_core::control::{
    host_mode, peer_event, sys_event, ClockSource, PeerSnapshot, PeerStatus, RefIdKind,
    SystemSnapshot,
};
use slew_core::node::{LocalClockStatus, SystemStatus};
use slew_core::peer::{SourceId, SourceStatus};
use slew_core::select::Tally;
use slew_core::system::LOCAL_CLOCK_DISPERSION_S;
use slew_core::wire::RefId;
use slew_core::{Instant, NtpDuration, NtpTimestamp, PollInterval};

use crate::server::monitor::{Identity, SnapshotSource};

/// The association id of the local clock.
pub const LOCAL_CLOCK_ASSOC_ID: u16 = 1;

/// The association id of an upstream source.
pub fn assoc_id(id: SourceId) -> u16 {
    u16::try_from(id.0.saturating_add(1)).unwrap_or(u16::MAX)
}

/// The peer status word's fields for an upstream source (ntpq's tally, peerstats'
/// status column).
pub fn source_peer_status(s: &SourceStatus) -> PeerStatus {
    PeerStatus {
        configured: true,
        // ntpd's auth bits: enabled for a `key N` source, authentic while its last
        // poll got a reply that passed the MAC check (refused replies never reach
        // the reach register).
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

/// A copy of the node's state for one loop turn.
#[derive(Debug, Clone)]
pub struct NodeView {
    /// System figures.
    pub system: SystemStatus,
    /// Each upstream source, with the name it was configured by.
    pub sources: Vec<(SourceStatus, Option<String>)>,
    /// The local clock, if configured.
    pub local: Option<LocalClockStatus>,
    /// The monotonic time of the copy.
    pub now: Instant,
    /// The daemon clock's wall time at `now`.
    pub wall_now: NtpTimestamp,
    /// Seconds since the daemon started (the local clock's reach fills with it).
    pub uptime_s: u64,
    /// Refclocks whose driver refuses what it reads, with the reason (`no fix`,
    /// `bad checksum`, `writer stalled`, …): shown as the row's `reason`.
    pub refclock_reasons: Vec<(SourceId, &'static str)>,
}

/// How to show a refid slewd made up itself: `LOCL` and `INIT` as codes; orphan
/// mode's loopback address (ntpd's `127.0.0.1`) as an address, as ntpd shows any
/// refid at strata 2 to 15.
fn own_refid_kind(refid: RefId, stratum: u8) -> RefIdKind {
    let printable = refid
        .to_bytes()
        .iter()
        .all(|&b| b == 0 || b.is_ascii_graphic());
    if printable {
        RefIdKind::Code
    } else {
        RefIdKind::for_stratum(stratum)
    }
}

impl NodeView {
    fn wall_at(&self, t: Option<Instant>) -> NtpTimestamp {
        match t {
            Some(t) => {
                let age = self.now.saturating_since(t);
                self.wall_now - NtpDuration::from_core(age)
            }
            None => NtpTimestamp::ZERO,
        }
    }

    fn system_snapshot<'a>(&self, identity: &'a Identity) -> SystemSnapshot<'a> {
        let sys = &self.system;
        let vars = &sys.vars;
        let synced = vars.is_synchronized();
        let local_active = self.local.is_some_and(|l| l.active);
        let (clock_source, peer) = match (synced, sys.system_peer) {
            (true, Some(id)) => (ClockSource::Ntp, assoc_id(id)),
            (true, None) if local_active => (ClockSource::Local, LOCAL_CLOCK_ASSOC_ID),
            _ => (ClockSource::Unspecified, 0),
        };
        SystemSnapshot {
            version: &identity.version,
            processor: &identity.processor,
            system: &identity.system,
            leap: vars.leap.to_bits(),
            clock_source,
            event_count: 1,
            // Unsynchronised after start reads as ntpd's freq_not_set, which the C
            // ntpstat prints as "time server re-starting".
            last_event: if synced {
                sys_event::CLOCK_SYNC
            } else {
                sys_event::FREQ_NOT_SET
            },
            stratum: vars.stratum,
            precision: vars.precision,
            root_delay_s: vars.root_delay.to_seconds_f64(),
            root_dispersion_s: vars.root_dispersion_at(self.wall_now).to_seconds_f64(),
            refid: vars.ref_id,
            refid_kind: if clock_source == ClockSource::Ntp {
                RefIdKind::for_stratum(vars.stratum)
            } else {
                own_refid_kind(vars.ref_id, vars.stratum)
            },
            reference_time: vars.reference_time,
            clock: self.wall_now,
            peer,
            tc: vars.poll.log2(),
            mintc: PollInterval::NTPD_MIN.log2(),
            offset_s: sys.offset_s,
            frequency_ppm: sys.frequency_ppm,
            sys_jitter_s: sys.jitter_s,
            clk_jitter_s: sys.clock_jitter_s,
            clk_wander_ppm: sys.clock_wander_ppm,
            state: sys.state as u8,
        }
    }

    fn peer_snapshot<'a>(&self, s: &SourceStatus, name: Option<&'a str>) -> PeerSnapshot<'a> {
        let refid_kind = if s.stratum == 0 || s.stratum >= 16 {
            RefIdKind::Code
        } else {
            RefIdKind::for_stratum(s.stratum)
        };
        PeerSnapshot {
            association_id: assoc_id(s.id),
            srcadr: s.addr.ip(),
            srcport: s.addr.port(),
            srchost: name,
            status: source_peer_status(s),
            leap: s.leap.to_bits(),
            stratum: s.stratum,
            precision: -20,
            root_delay_s: s.root_delay_s,
            root_dispersion_s: s.root_dispersion_s,
            refid: s.ref_id,
            refid_kind,
            reference_time: s.reference_time,
            received: self.wall_at(s.last_rx),
            reach: s.reach,
            hmode: host_mode::CLIENT,
            hpoll: s.poll.log2(),
            ppoll: s.peer_poll,
            offset_s: s.offset_s,
            delay_s: s.delay_s,
            dispersion_s: s.dispersion_s,
            jitter_s: s.jitter_s,
            // A refclock whose driver refuses what it reads says why (the row may
            // still be the system peer on its earlier samples for a few polls).
            reason: match self.refclock_reasons.iter().find(|(id, _)| *id == s.id) {
                Some((_, r)) => r,
                None => s.reason.code(),
            },
            nts: s.nts,
        }
    }

    fn local_snapshot(&self, local: LocalClockStatus) -> PeerSnapshot<'static> {
        let vars = &self.system.vars;
        // One bit of reach per 64-s update of the local reference since start.
        let updates = self.uptime_s / 64 + 1;
        let reach = if updates >= 8 {
            0xff
        } else {
            ((1u16 << updates) - 1) as u8
        };
        PeerSnapshot {
            association_id: LOCAL_CLOCK_ASSOC_ID,
            srcadr: IpAddr::from([127, 127, 1, 0]),
            srcport: 123,
            srchost: Some("LOCAL(0)"),
            status: PeerStatus {
                configured: true,
                reachable: true,
                select: if local.active { 6 } else { 0 },
                event_count: 1,
                last_event: peer_event::REACHABLE,
                ..PeerStatus::default()
            },
            leap: 0,
            stratum: local.stratum,
            precision: vars.precision,
            root_delay_s: 0.0,
            root_dispersion_s: 0.0,
            refid: RefId::LOCL,
            refid_kind: RefIdKind::Code,
            reference_time: self.wall_now,
            received: self.wall_now - NtpDuration::from_seconds((self.uptime_s % 64) as i64),
            reach,
            hmode: host_mode::CLIENT,
            hpoll: 6,
            ppoll: 6,
            offset_s: 0.0,
            delay_s: 0.0,
            dispersion_s: LOCAL_CLOCK_DISPERSION_S,
            jitter_s: 0.0,
            reason: if local.active { "" } else { "backup" },
            nts: None,
        }
    }
}

impl NodeView {
    /// The system peer's address and mode (`sysinfo`): an upstream source's
    /// address, or for the local clock none with mode 3 (ntpd's LOCAL(0) has no
    /// socket, so ntpd sends `0.0.0.0:0`); orphan mode and no peer: none, mode 0.
    pub fn system_peer(&self) -> (Option<std::net::SocketAddr>, u8) {
        let synced = self.system.vars.is_synchronized();
        match (synced, self.system.system_peer) {
            (true, Some(id)) => (
                self.sources
                    .iter()
                    .find(|(s, _)| s.id == id)
                    .map(|(s, _)| s.addr),
                host_mode::CLIENT,
            ),
            (true, None) if self.local.is_some_and(|l| l.active) => (None, host_mode::CLIENT),
            _ => (None, 0),
        }
    }

    /// Root distance as ntpd's `rootdist`: root delay / 2 + root dispersion.
    pub fn root_distance_s(&self) -> f64 {
        let v = &self.system.vars;
        v.root_delay.to_seconds_f64() / 2.0 + v.root_dispersion_at(self.wall_now).to_seconds_f64()
    }
}

impl SnapshotSource for NodeView {
    fn system_peer(&self) -> (Option<std::net::SocketAddr>, u8) {
        NodeView::system_peer(self)
    }

    fn root_distance_s(&self) -> f64 {
        NodeView::root_distance_s(self)
    }

    fn uptime_s(&self) -> u64 {
        self.uptime_s
    }

    fn wall_now(&self) -> NtpTimestamp {
        self.wall_now
    }

    fn with_snapshots(
        &self,
        identity: &Identity,
        answer: &mut dyn FnMut(&SystemSnapshot<'_>, &[PeerSnapshot<'_>]),
    ) {
        let sys = self.system_snapshot(identity);
        let mut peers: Vec<PeerSnapshot<'_>> = Vec::with_capacity(self.sources.len() + 1);
        if let Some(local) = self.local {
            peers.push(self.local_snapshot(local));
        }
        for (s, name) in &self.sources {
            peers.push(self.peer_snapshot(s, name.as_deref()));
        }
        answer(&sys, &peers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slew_core::node::{Node, NodeConfig};
    use slew_core::peer::{Association, SourceConfig};

    fn view() -> NodeView {
        let node: Node<2> = Node::new(NodeConfig::default());
        NodeView {
            system: node.system(),
            sources: Vec::new(),
            local: None,
            now: Instant::from_nanos(1_000_000_000),
            wall_now: NtpTimestamp::from_unix(1_800_000_000, 0),
            uptime_s: 1,
            refclock_reasons: Vec::new(),
        }
    }

    #[test]
    fn sysinfo_peer_and_refid_of_the_local_clock_and_orphan_mode() {
        let mut v = view();
        // Nothing at all: no peer.
        assert_eq!(v.system_peer(), (None, 0));
        // The local clock: ntpd's LOCAL(0) has no socket, mode 3.
        v.system = slew_core::node::SystemStatus {
            vars: slew_core::system::SystemVars::local_clock(-20, 10, v.wall_now),
            ..v.system
        };
        v.local = Some(LocalClockStatus {
            stratum: 10,
            active: true,
        });
        assert_eq!(v.system_peer(), (None, host_mode::CLIENT));
        assert!((v.root_distance_s() - LOCAL_CLOCK_DISPERSION_S).abs() < 1e-9);
        assert_eq!(own_refid_kind(RefId::LOCL, 11), RefIdKind::Code);
        assert_eq!(own_refid_kind(RefId::INIT, 16), RefIdKind::Code);
        // Orphan mode's loopback refid shows as ntpd's `127.0.0.1`.
        assert_eq!(
            own_refid_kind(RefId::from_bytes([127, 0, 0, 1]), 10),
            RefIdKind::Address
        );
    }

    #[test]
    fn keyed_sources_carry_ntpds_auth_bits() {
        let v = view();
        let addr = "127.0.0.1:123".parse().unwrap();
        let keyed = Association::new(
            SourceId(1),
            SourceConfig {
                key: Some(7),
                ..SourceConfig::new(addr)
            },
            Instant::ZERO,
        )
        .status(v.now);
        let p = v.peer_snapshot(&keyed, None);
        assert!(p.status.auth_enabled);
        assert!(!p.status.authentic, "no valid reply yet");
        assert_eq!(
            p.status.word() & 0x4000,
            0x4000,
            "0x40 in ntpd's peer status byte"
        );
        let plain =
            Association::new(SourceId(2), SourceConfig::new(addr), Instant::ZERO).status(v.now);
        let p = v.peer_snapshot(&plain, None);
        assert!(!p.status.auth_enabled && !p.status.authentic);
        assert_eq!(p.association_id, 3, "node id + 1");
    }
}
