//! The server half of an [`Endpoint`](super::Endpoint), or none: a client-only
//! endpoint (an appliance that only follows its servers) pays nothing for the
//! server's counters.

use crate::server::{Client, DropReason, PendingResponse, Policy, Server, ServerStats};
use crate::system::SystemVars;
use crate::time::NtpTimestamp;

/// What answers the datagrams that are not replies for the client node.
pub trait ServerRole: Default {
    /// Answers `request` into `out` by `policy`, or says why not (counted).
    fn respond_to(
        &mut self,
        policy: &mut Policy<'_>,
        client: Client,
        request: &[u8],
        rx_time: NtpTimestamp,
        sys: &SystemVars,
        out: &mut [u8],
    ) -> Result<PendingResponse, DropReason>;

    /// Counts a datagram dropped before it reached [`ServerRole::respond_to`].
    fn count_drop(&mut self, reason: DropReason);

    /// Answered and dropped requests, by reason.
    fn stats(&self) -> &ServerStats;
}

impl ServerRole for Server {
    fn respond_to(
        &mut self,
        policy: &mut Policy<'_>,
        client: Client,
        request: &[u8],
        rx_time: NtpTimestamp,
        sys: &SystemVars,
        out: &mut [u8],
    ) -> Result<PendingResponse, DropReason> {
        Server::respond_to(self, policy, client, request, rx_time, sys, out)
    }

    fn count_drop(&mut self, reason: DropReason) {
        Server::count_drop(self, reason);
    }

    fn stats(&self) -> &ServerStats {
        Server::stats(self)
    }
}

/// No server: every datagram that is not a reply for the client node is dropped as
/// [`DropReason::NoServe`] (as `restrict default noserve noquery` would), and
/// nothing is counted (zero-sized: [`ServerRole::stats`] is always zero).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoServer;

impl ServerRole for NoServer {
    fn respond_to(
        &mut self,
        _policy: &mut Policy<'_>,
        _client: Client,
        _request: &[u8],
        _rx_time: NtpTimestamp,
        _sys: &SystemVars,
        _out: &mut [u8],
    ) -> Result<PendingResponse, DropReason> {
        Err(DropReason::NoServe)
    }

    fn count_drop(&mut self, _reason: DropReason) {}

    fn stats(&self) -> &ServerStats {
        &ServerStats::ZERO
    }
}
