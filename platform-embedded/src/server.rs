//! The server role's tables: slew-core's [`Endpoint`](slew_core::endpoint::Endpoint)
//! answers the LAN's clients ([`crate::Ntp::serving`]); this module only says what
//! an appliance's tables are: every client `limited` by ntpd's `discard` rule in a
//! fixed table of `M` slots ([`RateLimiter`], 64 bytes each), over-limit requests
//! silenced (no `kod`: it costs nothing and reflects nothing), no restrict lines,
//! no keys.

use slew_core::access::AccessFlags;
use slew_core::endpoint::Tables;
pub use slew_core::ratelimit::{DiscardParams, RateLimiter};

/// An appliance's serving tables: no restrict lines, a limiter of `M` clients, no
/// keys.
pub type LanPolicy<const M: usize> = Tables<0, M, 0>;

/// Every client limited by `params` (ntpd's defaults: [`DiscardParams::NTPD`]).
/// `seed` keys the limiter's address hash: the integrator takes it from the board's
/// RNG or unique ID (never a constant), so that nobody can aim at a victim's slot.
pub const fn lan_policy<const M: usize>(params: DiscardParams, seed: [u8; 16]) -> LanPolicy<M> {
    Tables::new(AccessFlags::LIMITED, params, seed)
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
