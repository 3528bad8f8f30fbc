//! A batch of datagrams under one look at the tables: the port's fast path
//! (a `recvmmsg` batch) takes the server's tables once, however many requests
//! it answers, and each datagram is still decided in [`Batch::handle_datagram`].

use core::net::SocketAddr;

use crate::clock::LeapIndicator;
use crate::node::{Node, PacketVerdict};
use crate::server::{Client, DropReason, Policy};
use crate::system::SystemVars;
use crate::time::{Instant, NtpTimestamp};
use crate::wire::Mode;

use super::{Datagram, LeapSchedule, ServerRole};

/// The endpoint while the port hands it one batch of datagrams
/// ([`Endpoint::batch`](super::Endpoint::batch)); borrowed parts of it, with the
/// server's tables held for the whole batch.
pub struct Batch<'e, 'p, const N: usize, const R: usize, const S: usize, V: ServerRole> {
    pub(super) node: &'e mut Node<N, R, S>,
    pub(super) server: &'e mut V,
    pub(super) leap: &'e LeapSchedule,
    pub(super) adopted: &'e Option<SystemVars>,
    pub(super) wall: &'e mut Option<(Instant, NtpTimestamp)>,
    pub(super) now: &'e mut Instant,
    pub(super) policy: &'e mut Policy<'p>,
}

impl<const N: usize, const R: usize, const S: usize, V: ServerRole> core::fmt::Debug
    for Batch<'_, '_, N, R, S, V>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Batch")
            .field("policy", &self.policy)
            .finish()
    }
}

impl<const N: usize, const R: usize, const S: usize, V: ServerRole> Batch<'_, '_, N, R, S, V> {
    /// Decides what to do with one datagram: `local` is the address it arrived on,
    /// `from` its sender, `rx_time` the wall-clock receive stamp (a kernel stamp
    /// when the port has one), `now` the monotonic time. A time request is answered
    /// straight into `out` (a header plus the longest MAC is enough; the port's
    /// batch buffer on the fast path); nothing here allocates.
    ///
    /// Server replies (mode 4) go to the client node; what it does not claim (no
    /// such source, malformed) is counted by the server like every other drop. The
    /// leap announcement an answer carries is decided from `rx_time` and the leap
    /// schedule, whoever publishes the system variables.
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
        *self.now = now;
        if !rx_time.is_zero() {
            *self.wall = Some((now, rx_time));
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
        let base = self.adopted.unwrap_or_else(|| self.node.system_vars());
        let sys = announced(base, self.leap, self.leap.unix_s(rx_time));
        let client = Client {
            addr: from.ip(),
            port: from.port(),
            now,
        };
        match self
            .server
            .respond_to(self.policy, client, bytes, rx_time, &sys, out)
        {
            Ok(pending) => Datagram::Answer(pending),
            Err(DropReason::Control) => Datagram::Control,
            Err(reason) => Datagram::Dropped(reason),
        }
    }

    /// Counts a datagram the port dropped before it could be handed in (cut to the
    /// port's buffer: [`DropReason::Malformed`]; no buffer: `NoBuffer`).
    pub fn count_drop(&mut self, reason: DropReason) {
        self.server.count_drop(reason);
    }
}

/// `sys` with the leap schedule's announcement at `unix_s`, while one is pending
/// and the sources do not already carry it.
pub(super) fn announced(
    mut sys: SystemVars,
    leap: &LeapSchedule,
    unix_s: Option<i64>,
) -> SystemVars {
    if sys.is_synchronized() && sys.leap == LeapIndicator::NoWarning {
        if let Some(unix_s) = unix_s {
            sys.leap = leap.announce(unix_s);
        }
    }
    sys
}
