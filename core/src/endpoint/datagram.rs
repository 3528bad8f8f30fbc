//! Every datagram's one way in: dispatch by mode, then the server, the client node
//! or the control path decides.

use core::net::SocketAddr;

use crate::control::{Extras, PeerSnapshot, Responder, SystemSnapshot, CONTROL_MAX_PACKET};
use crate::time::{Instant, NtpTimestamp};

use super::{Batch, Datagram, Endpoint, ServePolicy, ServerRole};

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
    /// One datagram of [`Endpoint::batch`], which a port with many at once calls
    /// instead ([`Batch::handle_datagram`] decides the same).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        bytes: &[u8],
        rx_time: NtpTimestamp,
        out: &mut [u8],
    ) -> Datagram {
        self.batch(|b| b.handle_datagram(now, local, from, bytes, rx_time, out))
    }

    /// Hands `f` the endpoint for a batch of datagrams, with the server's tables
    /// taken once for all of them (one lock of a port's shared tables per
    /// `recvmmsg` batch, not per packet). Keep `f` to the batch: the tables stay
    /// held until it returns.
    pub fn batch<T>(&mut self, f: impl FnOnce(&mut Batch<'_, '_, N, R, S, V>) -> T) -> T {
        let Endpoint {
            node,
            server,
            policy,
            leap,
            adopted,
            wall,
            now,
            ..
        } = self;
        policy.with_policy(|policy| {
            f(&mut Batch {
                node,
                server,
                leap,
                adopted,
                wall,
                now,
                policy,
            })
        })
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
