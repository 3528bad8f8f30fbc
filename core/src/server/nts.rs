//! The server's NTS hook (RFC 8915 §5.7), on the same answer path as every other
//! request, so the batched fast path of a port carries NTS without knowing it.
//!
//! With keys installed ([`Server::set_nts_keys`]), a time request that passed the
//! restrict table and the rate limiter goes through
//! [`crate::nts::server::check_request`] before its MAC is looked at:
//!
//! | request | answer | counted in [`NtsStats`] |
//! |---|---|---|
//! | no NTS field | the ordinary path | nothing |
//! | cookie does not open, authenticator forged | NTS NAK (stratum 0, `NTSN`, the Unique Identifier echoed, no time) | `nak_*` |
//! | malformed NTS field, no Unique Identifier, cookie or authenticator | none: [`DropReason::NtsInvalid`] | `dropped_*` |
//! | verified | the time, then the Unique Identifier and the authenticator with fresh cookies under S2C | `served`, `cookies_issued` |
//!
//! The header, Unique Identifier and cookies are written by
//! [`Server::respond_to`]; the authenticator, which covers the header, is sealed in
//! [`PendingResponse::finish`](super::PendingResponse::finish) once the transmit
//! timestamp is in. Responses are never longer than their requests (the NTS blocks
//! pad to exactly the request's length; a NAK is the header and the Unique
//! Identifier, which the request carried too).
//!
//! Randomness (the authenticator's nonce, each cookie's nonce) comes from an
//! [`NtsRng`] seeded by the port when it installs the keys.

use crate::nts::cookie::{CookieError, CookieKeys, MasterKey};
use crate::nts::rng::{NtsRng, SEED_LEN};
use crate::nts::server::{check_request, write_nak, RequestError, UnsealedResponse};
use crate::nts::NTS_NAK;
use crate::system::SystemVars;
use crate::time::NtpTimestamp;
use crate::wire::Packet;

use super::{emit, kiss, time_answer, DropReason, PendingResponse, ResponseKind, Server};

pub use super::stats::NtsStats;

/// The master keys and the nonce generator of an NTS server.
#[derive(Debug, Clone)]
pub(super) struct NtsServer {
    keys: CookieKeys,
    rng: NtsRng,
}

impl Server {
    /// Serves NTS from now on: `keys` opens the cookies in requests and seals the new
    /// ones, `rng_seed` (16 bytes from the operating system's entropy source, a
    /// different one per server thread) seeds the nonces. Replaces keys installed
    /// before. Cookies sealed under a master key with the same id and bytes (from
    /// the key file, after a restart) keep opening.
    pub fn set_nts_keys(&mut self, keys: CookieKeys, rng_seed: [u8; SEED_LEN]) {
        self.nts = Some(NtsServer {
            keys,
            rng: NtsRng::new(rng_seed),
        });
    }

    /// Rotates the master keys ([`CookieKeys::rotate`]): `next` seals from now on,
    /// the current key still opens, the previous one is forgotten. Returns false (and
    /// does nothing) when no keys are installed.
    pub fn rotate_nts_key(&mut self, next: MasterKey) -> bool {
        match &mut self.nts {
            Some(n) => {
                n.keys.rotate(next);
                true
            }
            None => false,
        }
    }

    /// Stops serving NTS: NTS requests get the ordinary (unauthenticated) answer.
    pub fn clear_nts_keys(&mut self) {
        self.nts = None;
    }

    /// The master keys in use, if NTS is on (to persist them).
    pub fn nts_keys(&self) -> Option<&CookieKeys> {
        self.nts.as_ref().map(|n| &n.keys)
    }
}

/// What the NTS hook made of a time request.
pub(super) enum Hook {
    /// No NTS field: continue on the ordinary path.
    NotNts,
    /// The answer (or the drop), final.
    Done(Result<PendingResponse, DropReason>),
}

/// Checks an NTS request and builds its answer into `out`.
pub(super) fn answer(
    nts: &mut NtsServer,
    stats: &mut NtsStats,
    packet: &Packet<&[u8]>,
    request: &[u8],
    rx_time: NtpTimestamp,
    sys: &SystemVars,
    out: &mut [u8],
) -> Hook {
    let verified = match check_request(request, &nts.keys) {
        Ok(v) => v,
        Err(RequestError::NotNts) => return Hook::NotNts,
        Err(e) if e.wants_nak() => {
            stats.count_nak(e);
            return Hook::Done(nak(packet, request, out));
        }
        Err(e) => {
            stats.count_drop(e);
            return Hook::Done(Err(DropReason::NtsInvalid));
        }
    };
    let mut p = match time_answer(packet, rx_time, sys, out, ResponseKind::Nts) {
        Ok(p) => p,
        Err(e) => return Hook::Done(Err(e)),
    };
    let rng = &mut nts.rng;
    let unsealed: UnsealedResponse =
        match verified.prepare_response(request, out, &nts.keys, &mut |b| rng.fill(b)) {
            Ok(u) => u,
            Err(_) => return Hook::Done(Err(DropReason::NoBuffer)),
        };
    stats.served += 1;
    stats.cookies_issued += unsealed.cookies() as u64;
    p.len = unsealed.len();
    p.nts_seal = Some(unsealed);
    Hook::Done(Ok(p))
}

/// An NTS NAK: a kiss with code `NTSN`, no time, the Unique Identifier echoed.
fn nak(
    packet: &Packet<&[u8]>,
    request: &[u8],
    out: &mut [u8],
) -> Result<PendingResponse, DropReason> {
    let header = kiss(packet, NTS_NAK, 0, NtpTimestamp::ZERO);
    emit(&header, out)?;
    let len = write_nak(request, out).ok_or(DropReason::NoBuffer)?;
    Ok(PendingResponse::unsigned(len, ResponseKind::NtsNak))
}

impl NtsStats {
    fn count_nak(&mut self, e: RequestError) {
        self.naks += 1;
        match e {
            RequestError::Cookie(CookieError::UnknownKey(_)) => self.nak_unknown_key += 1,
            RequestError::Cookie(_) => self.nak_bad_cookie += 1,
            _ => self.nak_forged += 1,
        }
    }

    fn count_drop(&mut self, e: RequestError) {
        match e {
            RequestError::MissingUniqueId => self.dropped_no_unique_id += 1,
            RequestError::MissingCookie => self.dropped_no_cookie += 1,
            RequestError::MissingAuthenticator => self.dropped_no_authenticator += 1,
            _ => self.dropped_malformed += 1,
        }
    }
}
