//! The node's state for the control responder and `slewctl`, built only when a
//! query asks.

use std::net::SocketAddr;

use slew_core::control::{association_id, PeerVars, LOCAL_CLOCK_ASSOC_ID};
use slew_core::node::Node;
use slew_core::{Clock, Instant};

use super::{refclocks, Assoc, Daemon, MAX_NTS, MAX_REFCLOCKS, MAX_SOURCES};
use crate::config::Host;
use crate::server::snapshot::NodeView;
use crate::settings::SourceSpec;

impl<C: Clock> Daemon<C> {
    /// The node's state for the control responder (ntpq, ntpstat, slewctl).
    pub fn view(&mut self, now: Instant) -> NodeView {
        let wall_now = self.clock.now().unwrap_or(slew_core::NtpTimestamp::ZERO);
        LazyView::new(
            self.ep.node(),
            &self.assocs,
            &self.settings.sources,
            &self.refclocks,
            now,
            wall_now,
            self.started,
        )
        .build()
    }
}

/// What a [`NodeView`] is made of, borrowed: the server path hands one to the
/// control handler on every turn with readable sockets, and the view is built only
/// when a mode 6 query actually asks (most turns carry only time requests).
pub(super) struct LazyView<'a> {
    node: &'a Node<MAX_SOURCES, MAX_REFCLOCKS, MAX_NTS>,
    assocs: &'a [Assoc],
    specs: &'a [SourceSpec],
    refclocks: &'a [refclocks::RefDriver],
    now: Instant,
    wall_now: slew_core::NtpTimestamp,
    pub(super) uptime_s: u64,
}

impl<'a> LazyView<'a> {
    pub(super) fn new(
        node: &'a Node<MAX_SOURCES, MAX_REFCLOCKS, MAX_NTS>,
        assocs: &'a [Assoc],
        specs: &'a [SourceSpec],
        refclocks: &'a [refclocks::RefDriver],
        now: Instant,
        wall_now: slew_core::NtpTimestamp,
        started: Instant,
    ) -> Self {
        Self {
            node,
            assocs,
            specs,
            refclocks,
            now,
            wall_now,
            uptime_s: now.saturating_since(started).as_secs(),
        }
    }

    fn build(&self) -> NodeView {
        let peers = self
            .node
            .peer_vars(self.now, self.wall_now, self.uptime_s)
            .map(|p| self.named(p))
            .collect();
        NodeView {
            system: self.node.system(),
            peers,
            local: self.node.local_clock(),
            now: self.now,
            wall_now: self.wall_now,
            uptime_s: self.uptime_s,
        }
    }

    /// An association with the name it was configured by: a refclock by its
    /// driver's name, as ntpd shows it, and with the driver's reason when it refuses
    /// what it reads (the row may still be the system peer on its earlier samples
    /// for a few polls); a server by its host name.
    fn named(&self, p: PeerVars) -> PeerVars {
        let id = p.association_id;
        if id == LOCAL_CLOCK_ASSOC_ID {
            return p;
        }
        if let Some(d) = self.refclocks.iter().find(|d| association_id(d.id) == id) {
            let p = p.with_srchost(Some(d.name.as_str()));
            return match d.reason {
                Some(r) => p.with_reason(r),
                None => p,
            };
        }
        let name = self
            .assocs
            .iter()
            .find(|a| association_id(a.id) == id)
            .and_then(|a| self.specs.get(a.spec))
            .and_then(|spec| match &spec.host {
                Host::Name(n) => Some(n.as_str()),
                Host::Ip(_) => None,
            });
        p.with_srchost(name)
    }
}

impl crate::server::monitor::SnapshotSource for LazyView<'_> {
    fn system_peer(&self) -> (Option<SocketAddr>, u8) {
        self.build().system_peer()
    }

    fn root_distance_s(&self) -> f64 {
        self.build().root_distance_s()
    }

    fn uptime_s(&self) -> u64 {
        self.uptime_s
    }

    fn wall_now(&self) -> slew_core::NtpTimestamp {
        self.wall_now
    }

    fn with_snapshots(
        &self,
        identity: &crate::server::monitor::Identity,
        answer: &mut dyn FnMut(&slew_core::control::SystemSnapshot<'_>, &[PeerVars]),
    ) {
        self.build().with_snapshots(identity, answer);
    }
}
