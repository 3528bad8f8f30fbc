//! The client's cookie jar (RFC 8915 §5.7): the session keys and up to eight cookies
//! from NTS-KE, the request being waited for, and when to go back to NTS-KE.
//!
//! Each request spends one cookie and carries one placeholder for every other cookie
//! missing from a full jar, so a full answer brings the jar back to eight. The
//! response must echo the request's Unique Identifier and carry an authenticator
//! (last) that verifies under S2C with the new cookies inside; anything else is refused
//! with a [`ResponseError`] and leaves the request waiting (a forgery must not cancel a
//! genuine answer still on its way). An accepted response ends the wait, so a replay
//! of it is refused.
//!
//! Re-key ([`CookieJar::needs_key_exchange`]) when the jar is empty, after an NTS NAK
//! with our Unique Identifier, or when the integration says the server became
//! unreachable ([`CookieJar::unreachable`]: cookies may have been lost to a key
//! rotation, or the server changed).

use heapless::Deque;

use super::ext::{
    FieldError, FieldWriter, InnerFields, NtsFields, COOKIE_PLACEHOLDER, MIN_NONCE_LEN, NTS_COOKIE,
    UNIQUE_IDENTIFIER, UNIQUE_ID_LEN,
};
use super::ke_msg::{Cookie, KeOutcome, MAX_COOKIES};
use super::{SessionKeys, NTS_NAK};
use crate::wire::{Packet, HEADER_LEN};

/// Largest plaintext of encrypted extension fields the client decrypts, bytes (eight
/// cookies of [`MAX_COOKIE_LEN`](super::ke_msg::MAX_COOKIE_LEN) plus headers).
pub const MAX_INNER_LEN: usize = MAX_COOKIES * (4 + super::ke_msg::MAX_COOKIE_LEN);

/// Why the jar wants a new NTS-KE session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekeyReason {
    /// No cookie left.
    OutOfCookies,
    /// The server sent an NTS NAK: it cannot open our cookies any more.
    Nak,
    /// The integration reported the server unreachable.
    Unreachable,
}

/// Why a request could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// Do NTS-KE first.
    NeedKeyExchange(RekeyReason),
    /// The packet buffer is too small.
    Field(FieldError),
}

/// Why a response was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseError {
    /// No request is waiting (never sent, already answered: a replay).
    NotWaiting,
    /// Not an acceptable NTP packet.
    Wire(crate::wire::Error),
    /// A malformed or misplaced NTS field.
    Field(FieldError),
    /// No Unique Identifier, or not the one of the waiting request.
    UniqueId,
    /// An NTS NAK for our request: the jar now wants NTS-KE.
    Nak,
    /// No authenticator.
    MissingAuthenticator,
    /// The authenticator does not verify under S2C.
    Forged,
    /// Authentic, but without a single usable cookie (chrony refuses these too).
    NoCookies,
}

impl From<FieldError> for ResponseError {
    fn from(e: FieldError) -> Self {
        ResponseError::Field(e)
    }
}

/// The client's NTS state for one server.
#[derive(Debug, Clone)]
pub struct CookieJar {
    keys: SessionKeys,
    cookies: Deque<Cookie, MAX_COOKIES>,
    waiting: Option<[u8; UNIQUE_ID_LEN]>,
    rekey: Option<RekeyReason>,
}

impl CookieJar {
    /// A jar from a successful NTS-KE: the exported keys and the cookies received.
    pub fn new(keys: SessionKeys, outcome: &KeOutcome) -> Self {
        let mut cookies = Deque::new();
        for c in &outcome.cookies {
            let _ = cookies.push_back(c.clone());
        }
        CookieJar {
            keys,
            cookies,
            waiting: None,
            rekey: None,
        }
    }

    /// The session's keys (for a load generator that builds its own requests).
    pub const fn keys(&self) -> &SessionKeys {
        &self.keys
    }

    /// The cookie the next request would spend, without spending it.
    pub fn next_cookie(&self) -> Option<&[u8]> {
        self.cookies.front().map(|c| &c[..])
    }

    /// Cookies in the jar.
    pub fn cookies(&self) -> usize {
        self.cookies.len()
    }

    /// Whether a request is waiting for its response.
    pub const fn waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// `Some(reason)` when the next step is NTS-KE, not a request.
    pub fn needs_key_exchange(&self) -> Option<RekeyReason> {
        self.rekey.or(if self.cookies.is_empty() {
            Some(RekeyReason::OutOfCookies)
        } else {
            None
        })
    }

    /// The server stopped answering (the integration decides when: e.g. the reach
    /// register went to zero). Re-key before the next request.
    pub fn unreachable(&mut self) {
        self.rekey = Some(RekeyReason::Unreachable);
    }

    /// Appends the NTS part of a request to `packet`, whose first 48 bytes hold the
    /// client header: Unique Identifier, one cookie, placeholders for the cookies
    /// missing from a full jar, and the authenticator (no encrypted fields). `unique_id`
    /// and `nonce` must be fresh random bytes. Returns the packet length.
    pub fn write_request(
        &mut self,
        packet: &mut [u8],
        unique_id: [u8; UNIQUE_ID_LEN],
        nonce: [u8; MIN_NONCE_LEN],
    ) -> Result<usize, RequestError> {
        if let Some(reason) = self.needs_key_exchange() {
            return Err(RequestError::NeedKeyExchange(reason));
        }
        let cookie = self
            .cookies
            .front()
            .ok_or(RequestError::NeedKeyExchange(RekeyReason::OutOfCookies))?;
        let padded = cookie.len().next_multiple_of(4);
        // After spending this one: left = cookies - 1; ask for 8 - left in all.
        let placeholders = MAX_COOKIES.saturating_sub(self.cookies.len());
        let mut w = FieldWriter::new(packet, HEADER_LEN);
        let mut write = || -> Result<usize, FieldError> {
            w.push(UNIQUE_IDENTIFIER, &unique_id)?;
            w.push(NTS_COOKIE, cookie)?;
            for _ in 0..placeholders {
                w.push_zeros(COOKIE_PLACEHOLDER, padded)?;
            }
            w.push_authenticator(&self.keys.c2s, &nonce, &[], 0)?;
            Ok(w.len())
        };
        let len = write().map_err(RequestError::Field)?;
        // Spent only once the request is complete: a cookie is never sent twice.
        let _ = self.cookies.pop_front();
        self.waiting = Some(unique_id);
        Ok(len)
    }

    /// Checks a response to the waiting request and refills the jar from it. Returns
    /// the number of cookies added.
    pub fn read_response(&mut self, response: &[u8]) -> Result<usize, ResponseError> {
        let uid = self.waiting.ok_or(ResponseError::NotWaiting)?;
        let packet = Packet::new_checked(response).map_err(ResponseError::Wire)?;
        let fields = NtsFields::parse(response)?;
        if fields.unique_id != Some(&uid[..]) {
            return Err(ResponseError::UniqueId);
        }
        let Some((auth_at, auth)) = fields.authenticator else {
            if packet.stratum() == 0 && packet.ref_id() == NTS_NAK {
                self.waiting = None;
                self.rekey = Some(RekeyReason::Nak);
                return Err(ResponseError::Nak);
            }
            return Err(ResponseError::MissingAuthenticator);
        };
        let ad = response
            .get(..auth_at)
            .ok_or(ResponseError::MissingAuthenticator)?;
        let mut inner = [0u8; MAX_INNER_LEN];
        let plaintext = auth
            .open(&self.keys.s2c, ad, &mut inner)
            .map_err(|_| ResponseError::Forged)?;
        // Two walks over the plaintext rather than a second 2 KiB buffer: the first
        // checks every field and counts usable cookies, the second stores them.
        let usable = |body: &[u8]| body.len() <= super::ke_msg::MAX_COOKIE_LEN;
        let mut found = 0usize;
        for item in InnerFields::new(plaintext) {
            let (field_type, body) = item?;
            if field_type == NTS_COOKIE && usable(body) {
                found += 1;
            }
        }
        if found == 0 {
            return Err(ResponseError::NoCookies);
        }
        self.waiting = None;
        let mut added = 0;
        for (_, body) in InnerFields::new(plaintext)
            .flatten()
            .filter(|(t, b)| *t == NTS_COOKIE && usable(b))
        {
            if let Ok(c) = Cookie::from_slice(body) {
                if self.cookies.push_back(c).is_ok() {
                    added += 1;
                }
            }
        }
        Ok(added)
    }
}
