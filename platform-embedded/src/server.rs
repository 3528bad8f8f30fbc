//! The server role: answer the LAN's clients with [`slew_core::server`], behind
//! slew-core's per-client rate limiter ([`RateLimiter`], ntpd's `discard` rule in a
//! fixed table of `M` slots, 64 bytes each).

use core::net::{IpAddr, SocketAddr};

use slew_core::ratelimit::Verdict;
pub use slew_core::ratelimit::{DiscardParams, RateLimiter};
use slew_core::server::{DropReason, PendingResponse, Server, ServerStats};
use slew_core::system::SystemVars;
use slew_core::wire::HEADER_LEN;
use slew_core::{Instant, NtpTimestamp};
use smoltcp::socket::udp;

/// The LAN time server: slew-core's [`Server`] and a [`RateLimiter`] of `M` clients
/// (every client is `limited`; over-limit requests get silence, not a kiss, which
/// costs nothing and reflects nothing).
#[derive(Clone, Debug)]
pub struct LanServer<const M: usize> {
    server: Server,
    limiter: RateLimiter<M>,
    rate_limited: u64,
}

impl<const M: usize> LanServer<M> {
    /// A server limiting every client by `params` (ntpd's defaults:
    /// [`DiscardParams::NTPD`]). `seed` keys the limiter's address hash: take it
    /// from the board's RNG or unique ID, so that nobody can aim at a victim's slot.
    pub const fn new(params: DiscardParams, seed: [u8; 16]) -> Self {
        Self::with_limiter(RateLimiter::new(params, seed))
    }

    /// A server with this rate limiter.
    pub const fn with_limiter(limiter: RateLimiter<M>) -> Self {
        Self {
            server: Server::new(),
            limiter,
            rate_limited: 0,
        }
    }

    /// Builds the answer to `request` from `from` into `out`, or says why not
    /// (`None`: rate limited, silently, as ntpd's `limited` without `kod`).
    /// Finish the answer with the clock read as late as possible.
    pub fn respond(
        &mut self,
        from: IpAddr,
        now: Instant,
        request: &[u8],
        rx_time: NtpTimestamp,
        sys: &SystemVars,
        out: &mut [u8],
    ) -> Option<Result<PendingResponse, DropReason>> {
        if self.limiter.check(from, now, false) != Verdict::Serve {
            self.rate_limited = self.rate_limited.saturating_add(1);
            return None;
        }
        Some(self.server.respond(request, rx_time, sys, out))
    }

    /// Answers `request` from `from` on `socket`, reading the transmit time from
    /// `transmit_time` as late as possible. Drops are counted, never answered.
    #[allow(clippy::too_many_arguments)]
    pub fn answer(
        &mut self,
        socket: &mut udp::Socket<'_>,
        from: SocketAddr,
        now: Instant,
        request: &[u8],
        rx_time: NtpTimestamp,
        sys: &SystemVars,
        transmit_time: impl FnOnce() -> NtpTimestamp,
    ) {
        // A plain answer is exactly a header; on the stack, only while answering.
        let mut out = [0u8; HEADER_LEN];
        if let Some(Ok(pending)) = self.respond(from.ip(), now, request, rx_time, sys, &mut out) {
            let bytes = pending.finish(&mut out, transmit_time());
            // A full queue loses the answer; the client will ask again.
            let _ = socket.send_slice(bytes, smoltcp::wire::IpEndpoint::from(from));
        }
    }

    /// Answered and dropped requests, by reason.
    pub fn stats(&self) -> &ServerStats {
        self.server.stats()
    }

    /// Requests dropped by the rate limiter.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited
    }

    /// The rate limiter.
    pub fn limiter(&self) -> &RateLimiter<M> {
        &self.limiter
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
