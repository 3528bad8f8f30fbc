//! The server role's tables: slew-core's [`Endpoint`](slew_core::endpoint::Endpoint)
//! answers the LAN's clients ([`crate::Ntp::serving`]); this module only says what
//! an appliance's tables are: every client `limited` by ntpd's `discard` rule in a
//! fixed table of `M` slots ([`RateLimiter`], 64 bytes each), over-limit requests
//! silenced (no `kod`: it costs nothing and reflects nothing), no keys, and room
//! for [`LAN_QUERY_RULES`] networks allowed to ask it mode 6 queries (`ntpq -p`,
//! ntpstat: [`allow_queries_from`]); from anywhere else, as from a port with no
//! restrict line, queries are dropped and counted.

use core::net::IpAddr;

use slew_core::access::{AccessError, AccessFlags};
use slew_core::endpoint::Tables;
pub use slew_core::ratelimit::{DiscardParams, RateLimiter};

/// Restrict entries an appliance's tables hold: the networks that may query it.
pub const LAN_QUERY_RULES: usize = 2;

/// An appliance's serving tables: up to [`LAN_QUERY_RULES`] restrict lines, a
/// limiter of `M` clients, no keys.
pub type LanPolicy<const M: usize> = Tables<LAN_QUERY_RULES, M, 0>;

/// Lets `net/prefix_len` ask mode 6 queries (ntpd's `restrict NET mask M` without
/// `noquery`); its time requests are treated as the default's (`limited`, or not
/// served at all when the default says `noserve`/`ignore`). Errors when the table
/// already holds [`LAN_QUERY_RULES`] networks.
pub fn allow_queries_from<const M: usize>(
    policy: &mut LanPolicy<M>,
    net: IpAddr,
    prefix_len: u8,
) -> Result<(), AccessError> {
    let mask = match net {
        IpAddr::V4(_) => {
            let bits = u32::MAX
                .checked_shl(32 - u32::from(prefix_len.min(32)))
                .unwrap_or(0);
            IpAddr::from(bits.to_be_bytes())
        }
        IpAddr::V6(_) => {
            let bits = u128::MAX
                .checked_shl(128 - u32::from(prefix_len.min(128)))
                .unwrap_or(0);
            IpAddr::from(bits.to_be_bytes())
        }
    };
    // The default's time service for that network, without `ignore`/`noquery`.
    let served = policy.access.lookup(net, 123).flags;
    let flags = if served.contains(AccessFlags::IGNORE) || served.contains(AccessFlags::NOSERVE) {
        AccessFlags::NOSERVE
    } else if served.contains(AccessFlags::LIMITED) {
        AccessFlags::LIMITED
    } else {
        AccessFlags::NONE
    };
    policy.access.insert(net, mask, false, flags)
}

/// Every client limited by `params` (ntpd's defaults: [`DiscardParams::NTPD`]).
/// `seed` keys the limiter's address hash: the integrator takes it from the board's
/// RNG or unique ID (never a constant), so that nobody can aim at a victim's slot.
pub const fn lan_policy<const M: usize>(params: DiscardParams, seed: [u8; 16]) -> LanPolicy<M> {
    Tables::new(AccessFlags::LIMITED, params, seed)
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
