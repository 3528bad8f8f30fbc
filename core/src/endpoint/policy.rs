//! What the endpoint's server consults for each request: the restrict table, the
//! rate limiter and the keys, behind one trait so that a port can keep them where
//! it needs them (owned here in [`Tables`]; shared with server threads in
//! slew-linux) while the endpoint decides with them.

use crate::access::{AccessFlags, AccessTable};
#[cfg(feature = "auth")]
use crate::auth::KeyTable;
use crate::ratelimit::{DiscardParams, RateLimiter};
use crate::server::Policy;

/// Hands the server one [`Policy`] per datagram.
pub trait ServePolicy {
    /// Runs `f` with the tables for one request (under a lock, if the port shares
    /// them with other threads: the closure keeps the lock's scope to one request).
    fn with_policy<T>(&mut self, f: impl FnOnce(&mut Policy<'_>) -> T) -> T;
}

/// No restrictions, no rate limit, no keys.
#[derive(Clone, Copy, Debug, Default)]
pub struct Open;

impl ServePolicy for Open {
    fn with_policy<T>(&mut self, f: impl FnOnce(&mut Policy<'_>) -> T) -> T {
        let mut open = Policy::OPEN;
        f(&mut open)
    }
}

/// The tables, owned: `A` restrict lines, `L` rate-limiter slots, `K` keys.
#[derive(Clone, Debug)]
pub struct Tables<const A: usize, const L: usize, const K: usize> {
    /// The restrict table.
    pub access: AccessTable<A>,
    /// The rate limiter (`discard`, `limited`, the monitor list).
    pub limiter: RateLimiter<L>,
    /// The symmetric keys.
    #[cfg(feature = "auth")]
    pub keys: KeyTable<K>,
}

impl<const A: usize, const L: usize, const K: usize> Tables<A, L, K> {
    /// A table that applies `default` to everyone and limits by `discard`; `seed`
    /// keys the limiter's address hash: take it from a real entropy source (never a
    /// constant), so that nobody can aim at a victim's slot.
    pub const fn new(default: AccessFlags, discard: DiscardParams, seed: [u8; 16]) -> Self {
        Self {
            access: AccessTable::new(default),
            limiter: RateLimiter::new(discard, seed),
            #[cfg(feature = "auth")]
            keys: KeyTable::new(),
        }
    }
}

impl<const A: usize, const L: usize, const K: usize> ServePolicy for Tables<A, L, K> {
    fn with_policy<T>(&mut self, f: impl FnOnce(&mut Policy<'_>) -> T) -> T {
        f(&mut Policy {
            access: Some(&self.access),
            limiter: Some(&mut self.limiter),
            #[cfg(feature = "auth")]
            keys: Some(&self.keys),
        })
    }
}
