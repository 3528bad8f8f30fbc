//! Mode 6 from the endpoint's own state, for a port that keeps no snapshots of its
//! own (an appliance): the node's system variables and associations, the server's
//! counters.

use crate::control::{Extras, Identity, PeerVars, SystemSnapshot, LOCAL_CLOCK_ASSOC_ID};
use crate::time::{Instant, NtpTimestamp};

use super::{Endpoint, ServePolicy, ServerRole};

/// Associations [`Endpoint::answer_control_from_node`] reports (the local clock, the
/// sources, the refclocks): one [`PeerVars`] each on the stack while it answers.
pub const NODE_CONTROL_PEERS: usize = 8;

impl<P: ServePolicy, const N: usize, const R: usize, const S: usize, V: ServerRole>
    Endpoint<P, N, R, S, V>
{
    /// Answers a mode 6 query that [`Endpoint::handle_datagram`] admitted
    /// ([`Datagram::Control`](super::Datagram::Control)) from the node itself: `ntpq
    /// -p`, `ntpq -c rv` and ntpstat see what a port with snapshots would show,
    /// without the port copying anything. `now` is the monotonic time, `wall_now`
    /// the clock's reading, `uptime_s` the seconds since start; `buf` must hold
    /// [`CONTROL_MAX_PACKET`](crate::control::CONTROL_MAX_PACKET) bytes, `send`
    /// gets each fragment. At most [`NODE_CONTROL_PEERS`] associations are reported.
    /// Returns the number of datagrams sent.
    #[allow(clippy::too_many_arguments)]
    pub fn answer_control_from_node(
        &self,
        request: &[u8],
        identity: Identity<'_>,
        now: Instant,
        wall_now: NtpTimestamp,
        uptime_s: u64,
        buf: &mut [u8],
        send: impl FnMut(&[u8]),
    ) -> usize {
        let node = &self.node;
        let status = node.system();
        let sys = SystemSnapshot::of_node(&status, node.local_clock(), wall_now, identity);
        let mut peers: heapless::Vec<PeerVars, NODE_CONTROL_PEERS> = heapless::Vec::new();
        for p in node.peer_vars(now, wall_now, uptime_s) {
            if peers.push(p).is_err() {
                break;
            }
        }
        let sys_peer = match (sys.peer, status.vars.is_synchronized()) {
            (0, _) | (_, false) => None,
            (LOCAL_CLOCK_ASSOC_ID, _) => None,
            (id, true) => peers
                .iter()
                .find(|p| p.association_id == id)
                .map(|p| core::net::SocketAddr::new(p.srcadr, p.srcport)),
        };
        let extras = Extras {
            sys_peer,
            sys_peer_mode: if sys.peer != 0 {
                crate::control::host_mode::CLIENT
            } else {
                0
            },
            root_distance_s: sys.root_delay_s / 2.0 + sys.root_dispersion_s,
            uptime_s,
            stats_since_s: uptime_s,
            server: *self.server_stats(),
            ..Extras::NONE
        };
        self.answer_control(request, &sys, &peers, &extras, buf, send)
    }
}
