//! Every datagram's one way in: dispatch by mode, then the server, the client node
//! or the control path decides.

use core::net::SocketAddr;

use crate::control::{Extras, PeerSnapshot, Responder, SystemSnapshot, CONTROL_MAX_PACKET};
use crate::node::PacketVerdict;
use crate::server::{Client, DropReason};
use crate::time::{Instant, NtpTimestamp};
use crate::wire::Mode;

use super::{Datagram, Endpoint, ServePolicy, ServerRole};

impl<P: ServePolicy, const N: usize, const R: usize, const S: usize, V: ServerRole>
    Endpoint<P, N, R, S, V>
{
    /// Decides what to do with one datagram: `local` is the address it arrived on,
    /// `from` its sender, `rx_time` the wall-clock receive stamp (a kernel stamp
    /// when the port has one), `now` the monotonic time. A time request is answered
    /// straight into `out` (a header plus the longest MAC is enough; the port's
    /// batch buffer on the fast path); nothing here allocates.
    ///
    /// Server replies (mode 4) go to the client node; what it does not claim (no
    /// such source, malformed) is counted by the server like every other drop.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        bytes: &[u8],
        rx_time: NtpTimestamp,
        out: &mut [u8],
    ) -> Datagram {
        // The address a datagram arrived on does not change any decision yet
        // (interface-specific restrictions would use it).
        let _ = local;
        self.now = now;
        if !rx_time.is_zero() {
            self.wall = Some((now, rx_time));
        }
        if bytes.first().map(|&b| Mode::from_bits(b)) == Some(Mode::Server) {
            match self.node.handle_packet(now, from, bytes, rx_time) {
                v @ (PacketVerdict::Accepted | PacketVerdict::Refused(_)) => {
                    return Datagram::Client(v);
                }
                PacketVerdict::NotAReply
                | PacketVerdict::UnknownSource
                | PacketVerdict::Malformed => {}
            }
        }
        // The receive stamp is the wall time the answer is about.
        let sys = self.served_vars_at(self.leap.unix_s(rx_time));
        let client = Client {
            addr: from.ip(),
            port: from.port(),
            now,
        };
        let server = &mut self.server;
        let result = self
            .policy
            .with_policy(|policy| server.respond_to(policy, client, bytes, rx_time, &sys, out));
        match result {
            Ok(pending) => Datagram::Answer(pending),
            Err(DropReason::Control) => Datagram::Control,
            Err(reason) => Datagram::Dropped(reason),
        }
    }

    /// Answers a mode 6 query that [`Endpoint::handle_datagram`] admitted
    /// ([`Datagram::Control`]) from the port's snapshots, one datagram per
    /// fragment: `send` gets each in turn (`buf` must hold [`CONTROL_MAX_PACKET`]).
    /// Returns the number of datagrams sent; 0 when the query deserves no answer.
    pub fn answer_control(
        &self,
        request: &[u8],
        sys: &SystemSnapshot<'_>,
        peers: &[PeerSnapshot<'_>],
        extras: &Extras<'_>,
        buf: &mut [u8],
        mut send: impl FnMut(&[u8]),
    ) -> usize {
        let Some(mut responder) = Responder::with_extras(request, sys, peers, extras) else {
            return 0;
        };
        let mut sent = 0;
        while let Some(len) = responder.next_fragment(buf) {
            if let Some(bytes) = buf.get(..len.min(CONTROL_MAX_PACKET)) {
                send(bytes);
                sent += 1;
            }
        }
        sent
    }
}
