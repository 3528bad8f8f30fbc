//! What `ntpq`, `ntpstat` and `slewctl` see: the node's state copied out once per loop
//! turn that has a query to answer, as slew-core's one peer shape
//! ([`PeerVars`], one per association, the very type `slewctl` decodes) and the
//! system variables the responder reports.
//!
//! Association ids (slew-core's): the local clock (LOCAL(0)) is 1, each upstream
//! source its node id + 1, so ids stay stable while sources come and go.

use slew_core::control::{host_mode, PeerStatus, PeerVars, SystemSnapshot};
use slew_core::node::{LocalClockStatus, SystemStatus};
use slew_core::peer::SourceStatus;
use slew_core::{Instant, NtpTimestamp};

use crate::server::monitor::{Identity, SnapshotSource};

pub use slew_core::control::{association_id as assoc_id, LOCAL_CLOCK_ASSOC_ID};

/// The peer status word's fields for an upstream source (ntpq's tally, peerstats'
/// status column): slew-core's [`PeerStatus::of_source`].
pub fn source_peer_status(s: &SourceStatus) -> PeerStatus {
    PeerStatus::of_source(s)
}

/// A copy of the node's state for one loop turn.
#[derive(Debug, Clone)]
pub struct NodeView {
    /// System figures.
    pub system: SystemStatus,
    /// Every association as the responder reports it and slewctl reads it: the
    /// local clock first, if configured, then each upstream source with the name it
    /// was configured by and its refclock driver's reason.
    pub peers: Vec<PeerVars>,
    /// The local clock, if configured.
    pub local: Option<LocalClockStatus>,
    /// The monotonic time of the copy.
    pub now: Instant,
    /// The daemon clock's wall time at `now`.
    pub wall_now: NtpTimestamp,
    /// Seconds since the daemon started (the local clock's reach fills with it).
    pub uptime_s: u64,
}

impl NodeView {
    fn system_snapshot<'a>(&self, identity: &'a Identity) -> SystemSnapshot<'a> {
        SystemSnapshot::of_node(
            &self.system,
            self.local,
            self.wall_now,
            slew_core::control::Identity {
                version: &identity.version,
                processor: &identity.processor,
                system: &identity.system,
            },
        )
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
                self.peers
                    .iter()
                    .find(|p| p.association_id == assoc_id(id))
                    .map(|p| std::net::SocketAddr::new(p.srcadr, p.srcport)),
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
        answer: &mut dyn FnMut(&SystemSnapshot<'_>, &[PeerVars]),
    ) {
        answer(&self.system_snapshot(identity), &self.peers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slew_core::node::{Node, NodeConfig};
    use slew_core::peer::{Association, SourceConfig, SourceId};
    use slew_core::system::LOCAL_CLOCK_DISPERSION_S;

    fn view() -> NodeView {
        let node: Node<2> = Node::new(NodeConfig::default());
        NodeView {
            system: node.system(),
            peers: Vec::new(),
            local: None,
            now: Instant::from_nanos(1_000_000_000),
            wall_now: NtpTimestamp::from_unix(1_800_000_000, 0),
            uptime_s: 1,
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
        let p = PeerVars::of_source(&keyed, NtpTimestamp::ZERO);
        assert!(p.status.auth_enabled);
        assert!(!p.status.authentic, "no valid reply yet");
        assert_eq!(
            p.status.word() & 0x4000,
            0x4000,
            "0x40 in ntpd's peer status byte"
        );
        let plain =
            Association::new(SourceId(2), SourceConfig::new(addr), Instant::ZERO).status(v.now);
        let p = PeerVars::of_source(&plain, NtpTimestamp::ZERO);
        assert!(!p.status.auth_enabled && !p.status.authentic);
        assert_eq!(p.association_id, 3, "node id + 1");
    }
}
