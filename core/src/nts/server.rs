//! The server side of NTS-protected NTPv4 (RFC 8915 §5.7): check a request
//! ([`check_request`]), then answer it ([`VerifiedRequest::write_response`]) or NAK it
//! ([`write_nak`]).
//!
//! A request is NTS when it carries any NTS field. It must then hold a Unique
//! Identifier, exactly one NTS Cookie and an authenticator as the last field; anything
//! malformed is dropped without an answer. A cookie that does not open, or an
//! authenticator that does not verify under the cookie's C2S key, gets an NTS NAK.
//!
//! The response echoes the Unique Identifier and carries, encrypted under S2C, one new
//! cookie per cookie and placeholder in the request (at most eight), and never makes
//! the response longer than the request: it is padded to exactly the request's length
//! (as chrony does), and cookies that would not fit are left out. So NTS gives an
//! attacker with a spoofed source no amplification.

use super::cookie::{CookieError, CookieKeys, COOKIE_LEN, COOKIE_NONCE_LEN};
use super::ext::{
    FieldError, FieldWriter, InnerFields, NtsFields, COOKIE_PLACEHOLDER, MIN_NONCE_LEN, NTS_COOKIE,
    UNIQUE_IDENTIFIER,
};
use super::ke_msg::MAX_COOKIES;
use super::{SessionKeys, NTS_NAK};
use crate::wire::{Packet, EXT_HEADER_LEN, HEADER_LEN};

/// Largest plaintext of encrypted extension fields the server decrypts, bytes.
pub const MAX_INNER_LEN: usize = 1024;
/// Field length of one of our cookies in the encrypted part, bytes.
const COOKIE_FIELD_LEN: usize = EXT_HEADER_LEN + COOKIE_LEN;

/// Why a request gets no NTS answer, and what to do instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// No NTS field at all: an ordinary request, for the non-NTS path (or to refuse
    /// when the server requires NTS).
    NotNts,
    /// The packet does not pass the wire codec. Drop.
    Wire(crate::wire::Error),
    /// An NTS field is malformed or out of place. Drop.
    Field(FieldError),
    /// No Unique Identifier. Drop (there is nothing a NAK could echo).
    MissingUniqueId,
    /// No NTS Cookie. Drop.
    MissingCookie,
    /// No authenticator. Drop.
    MissingAuthenticator,
    /// The cookie does not open: NAK.
    Cookie(CookieError),
    /// The authenticator does not verify under the cookie's C2S key: NAK.
    Forged,
}

impl RequestError {
    /// Whether the answer is an NTS NAK ([`write_nak`]) rather than silence.
    pub const fn wants_nak(&self) -> bool {
        matches!(self, RequestError::Cookie(_) | RequestError::Forged)
    }
}

impl From<FieldError> for RequestError {
    fn from(e: FieldError) -> Self {
        RequestError::Field(e)
    }
}

/// A request whose cookie opened and whose authenticator verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    keys: SessionKeys,
    cookies_wanted: usize,
    request_len: usize,
}

/// Checks an NTS request (the whole UDP payload) against the master keys.
pub fn check_request(request: &[u8], keys: &CookieKeys) -> Result<VerifiedRequest, RequestError> {
    Packet::new_checked(request).map_err(RequestError::Wire)?;
    let fields = NtsFields::parse(request)?;
    if fields.unique_id.is_none() && fields.cookie.is_none() && fields.authenticator.is_none() {
        return Err(RequestError::NotNts);
    }
    fields.unique_id.ok_or(RequestError::MissingUniqueId)?;
    let cookie = fields.cookie.ok_or(RequestError::MissingCookie)?;
    let (auth_at, auth) = fields
        .authenticator
        .ok_or(RequestError::MissingAuthenticator)?;
    let session = keys.open(cookie).map_err(RequestError::Cookie)?;
    let ad = request
        .get(..auth_at)
        .ok_or(RequestError::MissingAuthenticator)?;
    let mut inner = [0u8; MAX_INNER_LEN];
    let plaintext = match auth.open(&session.c2s, ad, &mut inner) {
        Ok(p) => p,
        Err(super::aead::AeadError::BufferTooSmall) => {
            return Err(RequestError::Field(FieldError::BufferTooSmall))
        }
        Err(_) => return Err(RequestError::Forged),
    };
    // Placeholders may also travel encrypted (RFC 8915 §5.5 allows either); they
    // count the same, and must be as long as the cookie too.
    let mut cookies_wanted = fields.placeholders.saturating_add(1);
    for item in InnerFields::new(plaintext) {
        let (field_type, body) = item?;
        if field_type == COOKIE_PLACEHOLDER {
            if body.len() != cookie.len() {
                return Err(RequestError::Field(FieldError::PlaceholderLength));
            }
            cookies_wanted = cookies_wanted.saturating_add(1);
        }
    }
    Ok(VerifiedRequest {
        keys: session,
        cookies_wanted: cookies_wanted.min(MAX_COOKIES),
        request_len: request.len(),
    })
}

/// Bytes an authenticator with a 16-byte nonce and `plaintext_len` bytes adds.
const fn auth_field_len(plaintext_len: usize) -> usize {
    EXT_HEADER_LEN + 4 + MIN_NONCE_LEN + super::aead::TAG_LEN + plaintext_len
}

/// The Unique Identifier's body in a checked request.
fn unique_id(request: &[u8]) -> Option<&[u8]> {
    Packet::new_checked(request).ok()?;
    NtsFields::parse(request).ok()?.unique_id
}

impl VerifiedRequest {
    /// The session keys from the cookie (the integration may want S2C elsewhere).
    pub const fn keys(&self) -> &SessionKeys {
        &self.keys
    }

    /// How many new cookies the client asked for (cookie + placeholders, at most 8).
    pub const fn cookies_wanted(&self) -> usize {
        self.cookies_wanted
    }

    /// Appends the NTS part of the response to `response`, whose first 48 bytes hold
    /// the server's header: the echoed Unique Identifier, then the authenticator with
    /// the new cookies sealed under S2C. `fill_random` supplies the response nonce and
    /// each cookie's nonce. Returns the response length (≤ the request's).
    ///
    /// The header must be final, transmit timestamp included: it is authenticated.
    /// [`prepare_response`](Self::prepare_response) splits this in two for a server
    /// that writes the transmit timestamp last.
    pub fn write_response(
        &self,
        request: &[u8],
        response: &mut [u8],
        cookie_keys: &CookieKeys,
        fill_random: &mut dyn FnMut(&mut [u8]),
    ) -> Result<usize, FieldError> {
        self.prepare_response(request, response, cookie_keys, fill_random)?
            .seal(response)
    }

    /// The first half of [`write_response`](Self::write_response): writes the Unique
    /// Identifier, lays out the authenticator with its nonce and puts the new cookies
    /// (sealed under the master key) where its plaintext goes. The header may still
    /// change; [`UnsealedResponse::seal`] then encrypts under S2C with the header as it
    /// is by then.
    pub fn prepare_response(
        &self,
        request: &[u8],
        response: &mut [u8],
        cookie_keys: &CookieKeys,
        fill_random: &mut dyn FnMut(&mut [u8]),
    ) -> Result<UnsealedResponse, FieldError> {
        let uid = unique_id(request).ok_or(FieldError::BufferTooSmall)?;
        let limit = self.request_len.min(response.len());
        let response = response
            .get_mut(..limit)
            .ok_or(FieldError::BufferTooSmall)?;
        let mut w = FieldWriter::new(response, HEADER_LEN);
        w.push(UNIQUE_IDENTIFIER, uid)?;
        let auth_at = w.len();
        // As many cookies as asked for and as fit in the request's length (and the
        // caller's buffer).
        let room = limit.saturating_sub(auth_at);
        let mut count = self.cookies_wanted;
        while count > 0 && auth_field_len(count * COOKIE_FIELD_LEN) > room {
            count -= 1;
        }
        let plaintext_len = count * COOKIE_FIELD_LEN;
        let mut nonce = [0u8; MIN_NONCE_LEN];
        fill_random(&mut nonce);
        // Pad the authenticator so the response is exactly as long as the request.
        let slot_at = w.reserve_authenticator(&nonce, plaintext_len, room)?;
        let len = w.len();
        let plaintext_at = slot_at + super::aead::TAG_LEN;
        let plaintext = response
            .get_mut(plaintext_at..plaintext_at + plaintext_len)
            .ok_or(FieldError::BufferTooSmall)?;
        let mut iw = FieldWriter::new(plaintext, 0);
        for _ in 0..count {
            let mut cookie_nonce = [0u8; COOKIE_NONCE_LEN];
            fill_random(&mut cookie_nonce);
            let mut cookie = [0u8; COOKIE_LEN];
            cookie_keys
                .seal(&self.keys, &cookie_nonce, &mut cookie)
                .map_err(|_| FieldError::BufferTooSmall)?;
            iw.push(NTS_COOKIE, &cookie)?;
        }
        Ok(UnsealedResponse {
            s2c: self.keys.s2c.clone(),
            nonce,
            auth_at,
            slot_at,
            plaintext_len,
            len,
        })
    }
}

/// An NTS response laid out by [`VerifiedRequest::prepare_response`] whose
/// authenticator is not sealed yet: the plaintext (the new cookies) sits in the clear
/// in the buffer until [`seal`](Self::seal). Holds a copy of S2C (wiped on drop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsealedResponse {
    s2c: super::aead::AeadKey,
    nonce: [u8; MIN_NONCE_LEN],
    /// Where the authenticator field starts: the associated data ends here.
    auth_at: usize,
    /// Where the Ciphertext field (tag slot, then plaintext) starts.
    slot_at: usize,
    plaintext_len: usize,
    len: usize,
}

impl UnsealedResponse {
    /// The response length, bytes (≤ the request's).
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Never true: a response has a header. (For clippy's `len_without_is_empty`.)
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// New cookies inside.
    pub const fn cookies(&self) -> usize {
        self.plaintext_len / COOKIE_FIELD_LEN
    }

    /// Seals the authenticator in `response` (the buffer given to
    /// `prepare_response`, header now final) and returns the response length.
    pub fn seal(&self, response: &mut [u8]) -> Result<usize, FieldError> {
        let slot_end = self.slot_at + super::aead::TAG_LEN + self.plaintext_len;
        let response = response
            .get_mut(..slot_end)
            .ok_or(FieldError::BufferTooSmall)?;
        let (ad, rest) = response.split_at_mut(self.auth_at);
        let slot = rest
            .get_mut(self.slot_at - self.auth_at..)
            .ok_or(FieldError::BufferTooSmall)?;
        self.s2c.seal_in_place(&self.nonce, ad, slot)?;
        Ok(self.len)
    }
}

/// Turns `response` (48 header bytes already written) into an NTS NAK for `request`:
/// stratum 0, kiss code NTSN, the Unique Identifier echoed and nothing else (RFC 8915
/// §5.7). Returns its length, or `None` when the request has no Unique Identifier (no
/// NAK is possible then: drop).
pub fn write_nak(request: &[u8], response: &mut [u8]) -> Option<usize> {
    let uid = unique_id(request)?;
    {
        let mut p = Packet::new_unchecked(&mut *response);
        p.set_stratum(0);
        p.set_ref_id(NTS_NAK);
    }
    let mut w = FieldWriter::new(response, HEADER_LEN);
    w.push(UNIQUE_IDENTIFIER, uid).ok()?;
    Some(w.len())
}
