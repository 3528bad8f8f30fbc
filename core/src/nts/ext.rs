//! The four NTS extension fields of RFC 8915 §5.3–§5.6, on top of the RFC 7822 codec in
//! [`crate::wire`]: reading them out of a checked packet ([`NtsFields`]), walking the
//! plaintext of the encrypted extension fields ([`InnerFields`]), and writing them
//! ([`FieldWriter`]).
//!
//! | type | field | body |
//! |---|---|---|
//! | 0x0104 | Unique Identifier (§5.3) | ≥ 32 random bytes, echoed by the server |
//! | 0x0204 | NTS Cookie (§5.4) | one cookie, opaque to the client |
//! | 0x0304 | Cookie Placeholder (§5.5) | as long as the cookie; contents ignored |
//! | 0x0404 | NTS Authenticator and Encrypted Extension Fields (§5.6) | see [`Authenticator`] |
//!
//! Every field is padded with zeros to a multiple of 4 bytes and to at least 16 bytes
//! (RFC 7822 §3). A cookie is echoed back as the whole (padded) body, so a server
//! should issue cookies whose length is a multiple of 4 (ours are).

use super::aead::{AeadError, AeadKey, TAG_LEN};
use crate::wire::{Packet, EXT_HEADER_LEN, EXT_MIN_LEN, HEADER_LEN};

/// Field type of the Unique Identifier (RFC 8915 §5.3).
pub const UNIQUE_IDENTIFIER: u16 = 0x0104;
/// Field type of the NTS Cookie (RFC 8915 §5.4).
pub const NTS_COOKIE: u16 = 0x0204;
/// Field type of the NTS Cookie Placeholder (RFC 8915 §5.5).
pub const COOKIE_PLACEHOLDER: u16 = 0x0304;
/// Field type of the NTS Authenticator and Encrypted Extension Fields (RFC 8915 §5.6).
pub const AUTHENTICATOR: u16 = 0x0404;

/// Shortest Unique Identifier body accepted and the length sent (RFC 8915 §5.3: "at
/// least 32 octets"), bytes.
pub const UNIQUE_ID_LEN: usize = 32;
/// The nonce, its padding and the additional padding together must reach this
/// (RFC 8915 §5.6, for AES-SIV-CMAC's 16-byte minimum nonce), bytes. Also the nonce
/// length slew sends.
pub const MIN_NONCE_LEN: usize = 16;
/// Length of the authenticator's Nonce Length and Ciphertext Length words, bytes.
const AUTH_HEADER_LEN: usize = 4;

/// What is wrong with an NTS extension field or the NTS part of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    /// The output buffer cannot hold the field.
    BufferTooSmall,
    /// A body too long for a 16-bit field length.
    BodyTooLong,
    /// The authenticator's nonce and ciphertext lengths overrun its body.
    AuthenticatorLengths,
    /// The nonce (with its padding and the additional padding) is shorter than 16
    /// bytes, or empty.
    NonceTooShort,
    /// The ciphertext is shorter than the AES-SIV tag.
    CiphertextTooShort,
    /// A Unique Identifier shorter than 32 bytes.
    UniqueIdTooShort,
    /// More than one Unique Identifier.
    DuplicateUniqueId,
    /// More than one NTS Cookie in a request (RFC 8915 §5.7: exactly one).
    DuplicateCookie,
    /// A cookie placeholder whose length differs from the cookie's (RFC 8915 §5.5).
    PlaceholderLength,
    /// An extension field after the authenticator (RFC 8915 §5.6: it is the last).
    AuthenticatorNotLast,
    /// An encrypted extension field is malformed (length below 16, not a multiple of
    /// 4, or past the end of the plaintext).
    BadInnerField,
}

impl From<AeadError> for FieldError {
    fn from(_: AeadError) -> Self {
        FieldError::BufferTooSmall
    }
}

/// Writes two big-endian u16 into the first 4 bytes of `dst` (a field or an
/// authenticator header).
fn put_u16s(dst: &mut [u8], a: u16, b: u16) {
    if let Some(h) = dst.first_chunk_mut::<4>() {
        let ([a0, a1], [b0, b1]) = (a.to_be_bytes(), b.to_be_bytes());
        *h = [a0, a1, b0, b1];
    }
}

/// Padding after `len` bytes to the next multiple of 4.
const fn pad4(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// The body of an NTS Authenticator and Encrypted Extension Fields field (RFC 8915
/// §5.6): Nonce Length (16 bits), Ciphertext Length (16 bits), the nonce and the
/// ciphertext each padded to 4 bytes, then optional additional padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authenticator<'a> {
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

impl<'a> Authenticator<'a> {
    /// Reads an authenticator body (the field's value, padding included).
    ///
    /// Checks what RFC 8915 §5.6 requires of the layout: both lengths fit the body with
    /// their padding, the nonce is not empty and nonce + paddings reach 16 bytes, and
    /// the ciphertext holds at least the 16-byte SIV tag.
    pub fn parse(value: &'a [u8]) -> Result<Self, FieldError> {
        let (header, rest) = value
            .split_first_chunk::<AUTH_HEADER_LEN>()
            .ok_or(FieldError::AuthenticatorLengths)?;
        let nonce_len = usize::from(u16::from_be_bytes([header[0], header[1]]));
        let ciphertext_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        // At most 2 × (65535 + 3): no overflow.
        let padded_nonce = nonce_len + pad4(nonce_len);
        let padded_ciphertext = ciphertext_len + pad4(ciphertext_len);
        if padded_nonce + padded_ciphertext > rest.len() {
            return Err(FieldError::AuthenticatorLengths);
        }
        if nonce_len == 0 || rest.len() < MIN_NONCE_LEN + padded_ciphertext {
            return Err(FieldError::NonceTooShort);
        }
        if ciphertext_len < TAG_LEN {
            return Err(FieldError::CiphertextTooShort);
        }
        let nonce = rest
            .get(..nonce_len)
            .ok_or(FieldError::AuthenticatorLengths)?;
        let ciphertext = rest
            .get(padded_nonce..padded_nonce + ciphertext_len)
            .ok_or(FieldError::AuthenticatorLengths)?;
        Ok(Authenticator { nonce, ciphertext })
    }

    /// The nonce, without padding.
    pub const fn nonce(&self) -> &'a [u8] {
        self.nonce
    }

    /// The SIV output: 16-byte tag, then the encrypted extension fields.
    pub const fn ciphertext(&self) -> &'a [u8] {
        self.ciphertext
    }

    /// Verifies and decrypts into `out` under `key`, with `ad` the packet up to the
    /// start of this field. Returns the plaintext (the encrypted extension fields).
    pub fn open<'o>(
        &self,
        key: &AeadKey,
        ad: &[u8],
        out: &'o mut [u8],
    ) -> Result<&'o [u8], AeadError> {
        let n = key.open(self.nonce, ad, self.ciphertext, out)?;
        out.get(..n).ok_or(AeadError::BufferTooSmall)
    }
}

/// The NTS fields of a (checked) NTP packet, as RFC 8915 §5.7 lays them out.
///
/// Unknown extension fields are skipped (RFC 7822); the Unique Identifier may appear
/// once, the cookie once, placeholders any number of times but all as long as the
/// cookie, and nothing may follow the authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NtsFields<'a> {
    /// The Unique Identifier's body, padding included.
    pub unique_id: Option<&'a [u8]>,
    /// The NTS Cookie's body, padding included (requests only).
    pub cookie: Option<&'a [u8]>,
    /// How many Cookie Placeholders there were (outside the encryption).
    pub placeholders: usize,
    /// Body length of the placeholders (and of the cookie, if both are present).
    pub placeholder_len: Option<usize>,
    /// The authenticator and where its field starts in the packet (the end of the
    /// associated data).
    pub authenticator: Option<(usize, Authenticator<'a>)>,
    /// NTS Cookie fields outside the encryption (a server must not send them there;
    /// RFC 8915 §5.7 says a client ignores them).
    pub plain_cookies: usize,
}

impl<'a> NtsFields<'a> {
    /// Reads the NTS fields of the NTP packet in `bytes`, which
    /// [`Packet::new_checked`] has accepted (on other bytes the walk stops at the
    /// first malformed field).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FieldError> {
        let packet = Packet::new_unchecked(bytes);
        let mut fields = NtsFields {
            unique_id: None,
            cookie: None,
            placeholders: 0,
            placeholder_len: None,
            authenticator: None,
            plain_cookies: 0,
        };
        let mut offset = HEADER_LEN;
        for field in packet.extensions() {
            if fields.authenticator.is_some() {
                return Err(FieldError::AuthenticatorNotLast);
            }
            // The same bytes, borrowed from `bytes` rather than from the local view.
            let end = offset.saturating_add(field.len());
            let value = bytes
                .get(offset..end)
                .and_then(|raw| raw.get(EXT_HEADER_LEN..))
                .unwrap_or(&[]);
            match field.field_type() {
                UNIQUE_IDENTIFIER => {
                    if fields.unique_id.is_some() {
                        return Err(FieldError::DuplicateUniqueId);
                    }
                    if value.len() < UNIQUE_ID_LEN {
                        return Err(FieldError::UniqueIdTooShort);
                    }
                    fields.unique_id = Some(value);
                }
                NTS_COOKIE => {
                    fields.plain_cookies = fields.plain_cookies.saturating_add(1);
                    if fields.cookie.is_some() {
                        return Err(FieldError::DuplicateCookie);
                    }
                    fields.check_placeholder_len(value.len())?;
                    fields.cookie = Some(value);
                }
                COOKIE_PLACEHOLDER => {
                    fields.check_placeholder_len(value.len())?;
                    fields.placeholders = fields.placeholders.saturating_add(1);
                }
                AUTHENTICATOR => {
                    fields.authenticator = Some((offset, Authenticator::parse(value)?));
                }
                _ => {}
            }
            offset = end;
        }
        Ok(fields)
    }

    fn check_placeholder_len(&mut self, len: usize) -> Result<(), FieldError> {
        match self.placeholder_len {
            Some(l) if l != len => Err(FieldError::PlaceholderLength),
            _ => {
                self.placeholder_len = Some(len);
                Ok(())
            }
        }
    }
}

/// Walks the plaintext of the encrypted extension fields: yields `(type, body)` with
/// the body's padding included, or one [`FieldError::BadInnerField`] and then nothing.
#[derive(Debug, Clone)]
pub struct InnerFields<'a> {
    rest: &'a [u8],
}

impl<'a> InnerFields<'a> {
    /// Walks `plaintext`.
    pub const fn new(plaintext: &'a [u8]) -> Self {
        InnerFields { rest: plaintext }
    }
}

impl<'a> Iterator for InnerFields<'a> {
    type Item = Result<(u16, &'a [u8]), FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let parsed = (|| {
            let (header, _) = self.rest.split_first_chunk::<EXT_HEADER_LEN>()?;
            let field_type = u16::from_be_bytes([header[0], header[1]]);
            let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
            if len < EXT_MIN_LEN || len % 4 != 0 {
                return None;
            }
            let (field, after) = self.rest.split_at_checked(len)?;
            Some((field_type, field.get(EXT_HEADER_LEN..)?, after))
        })();
        match parsed {
            Some((field_type, body, after)) => {
                self.rest = after;
                Some(Ok((field_type, body)))
            }
            None => {
                self.rest = &[];
                Some(Err(FieldError::BadInnerField))
            }
        }
    }
}

/// Appends extension fields to a buffer (a packet after its header, or the plaintext
/// of the encrypted extension fields).
#[derive(Debug)]
pub struct FieldWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> FieldWriter<'b> {
    /// Writes after the first `start` bytes of `buf` (48 for a packet whose header is
    /// already there, 0 for a plaintext buffer).
    pub fn new(buf: &'b mut [u8], start: usize) -> Self {
        let len = start.min(buf.len());
        FieldWriter { buf, len }
    }

    /// Bytes written so far, `start` included.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// True while nothing (not even a `start`) is in the buffer.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Everything written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Reserves a field of type `field_type` with a body of `body_len` bytes, writes its
    /// header and zero padding and returns the body to fill.
    fn reserve(&mut self, field_type: u16, body_len: usize) -> Result<&mut [u8], FieldError> {
        let padded = body_len
            .checked_add(pad4(body_len))
            .ok_or(FieldError::BodyTooLong)?
            .max(EXT_MIN_LEN - EXT_HEADER_LEN);
        let total = padded
            .checked_add(EXT_HEADER_LEN)
            .ok_or(FieldError::BodyTooLong)?;
        let wire_len = u16::try_from(total).map_err(|_| FieldError::BodyTooLong)?;
        let end = self
            .len
            .checked_add(total)
            .ok_or(FieldError::BufferTooSmall)?;
        let field = self
            .buf
            .get_mut(self.len..end)
            .ok_or(FieldError::BufferTooSmall)?;
        field.fill(0);
        let (header, body) = field.split_at_mut(EXT_HEADER_LEN);
        put_u16s(header, field_type, wire_len);
        self.len = end;
        body.get_mut(..body_len).ok_or(FieldError::BufferTooSmall)
    }

    /// Appends a field with `body`, zero-padded.
    pub fn push(&mut self, field_type: u16, body: &[u8]) -> Result<(), FieldError> {
        self.reserve(field_type, body.len())?.copy_from_slice(body);
        Ok(())
    }

    /// Appends a field whose body is `body_len` zeros (a cookie placeholder).
    pub fn push_zeros(&mut self, field_type: u16, body_len: usize) -> Result<(), FieldError> {
        self.reserve(field_type, body_len).map(|_| ())
    }

    /// Appends the NTS Authenticator and Encrypted Extension Fields: `plaintext`
    /// sealed under `key` and `nonce` with everything written so far as associated
    /// data (RFC 8915 §5.6). Additional padding makes the field at least `min_len`
    /// bytes (used to make a response as long as its request) and nonce + padding at
    /// least 16 bytes.
    pub fn push_authenticator(
        &mut self,
        key: &AeadKey,
        nonce: &[u8],
        plaintext: &[u8],
        min_len: usize,
    ) -> Result<(), FieldError> {
        let ad_end = self.len;
        let slot_at = self.reserve_authenticator(nonce, plaintext.len(), min_len)?;
        let slot_end = slot_at + TAG_LEN + plaintext.len();
        let (ad, rest) = self.buf.split_at_mut(ad_end);
        let slot = rest
            .get_mut(slot_at - ad_end..slot_end - ad_end)
            .ok_or(FieldError::BufferTooSmall)?;
        slot.get_mut(TAG_LEN..)
            .ok_or(FieldError::BufferTooSmall)?
            .copy_from_slice(plaintext);
        key.seal_in_place(nonce, ad, slot)?;
        Ok(())
    }

    /// Lays out the authenticator as [`push_authenticator`](Self::push_authenticator)
    /// does (header, nonce, padding) but seals nothing: returns the offset in the
    /// buffer of the Ciphertext field, a 16-byte tag slot followed by `plaintext_len`
    /// zero bytes. The caller writes the plaintext after the tag slot, finishes the
    /// associated data (everything before this field) and seals in place with
    /// [`AeadKey::seal_in_place`]. A server uses this so that the transmit timestamp
    /// can be written after the cookies were sealed, right before the send.
    pub fn reserve_authenticator(
        &mut self,
        nonce: &[u8],
        plaintext_len: usize,
        min_len: usize,
    ) -> Result<usize, FieldError> {
        if nonce.is_empty() {
            return Err(FieldError::NonceTooShort);
        }
        let nonce_len = u16::try_from(nonce.len()).map_err(|_| FieldError::BodyTooLong)?;
        let ciphertext_len = plaintext_len
            .checked_add(TAG_LEN)
            .ok_or(FieldError::BodyTooLong)?;
        let ciphertext_len16 =
            u16::try_from(ciphertext_len).map_err(|_| FieldError::BodyTooLong)?;
        let padded_nonce = nonce.len() + pad4(nonce.len());
        let padded_ciphertext = ciphertext_len + pad4(ciphertext_len);
        let nonce_area = padded_nonce.max(MIN_NONCE_LEN);
        let body_len = (AUTH_HEADER_LEN + nonce_area)
            .checked_add(padded_ciphertext)
            .ok_or(FieldError::BodyTooLong)?
            .max(min_len.saturating_sub(EXT_HEADER_LEN));
        let field_at = self.len;
        let body = self.reserve(AUTHENTICATOR, body_len)?;
        let (header, rest) = body.split_at_mut(AUTH_HEADER_LEN);
        put_u16s(header, nonce_len, ciphertext_len16);
        rest.get_mut(..nonce.len())
            .ok_or(FieldError::BufferTooSmall)?
            .copy_from_slice(nonce);
        Ok(field_at + EXT_HEADER_LEN + AUTH_HEADER_LEN + padded_nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Packet;

    fn packet_with(build: impl FnOnce(&mut FieldWriter<'_>)) -> std::vec::Vec<u8> {
        let mut buf = [0u8; 1024];
        buf[0] = (4 << 3) | 3;
        let mut w = FieldWriter::new(&mut buf, HEADER_LEN);
        build(&mut w);
        let n = w.len();
        buf[..n].to_vec()
    }

    #[test]
    fn golden_fields() {
        let mut buf = [0u8; 64];
        let mut w = FieldWriter::new(&mut buf, 0);
        w.push(UNIQUE_IDENTIFIER, &[0xab; 2]).unwrap();
        w.push_zeros(COOKIE_PLACEHOLDER, 13).unwrap();
        assert_eq!(w.len(), 16 + 20);
        // Short bodies are padded to the 16-byte minimum, odd ones to 4.
        assert_eq!(&buf[..8], &[0x01, 0x04, 0x00, 0x10, 0xab, 0xab, 0, 0]);
        assert_eq!(&buf[16..20], &[0x03, 0x04, 0x00, 0x14]);
        assert_eq!(&buf[20..36], &[0; 16]);
    }

    #[test]
    fn authenticator_layout_and_open() {
        let key = AeadKey::new([3; 32]);
        let b = packet_with(|w| {
            w.push(UNIQUE_IDENTIFIER, &[1; 32]).unwrap();
            w.push_authenticator(&key, &[7; 5], b"inner", 0).unwrap();
        });
        // 5-byte nonce: padded to 8, additional padding to 16; 21-byte ciphertext
        // padded to 24. 4 + 4 + 16 + 24 = 48.
        assert_eq!(b.len(), 48 + 36 + 48);
        let auth = &b[84..];
        assert_eq!(&auth[..8], &[0x04, 0x04, 0, 48, 0, 5, 0, 21]);
        assert_eq!(&auth[8..13], &[7; 5]);
        assert_eq!(&auth[13..16], &[0; 3], "nonce padding");
        // Ciphertext at 16..37, its padding, then the additional padding at the end
        // (RFC 8915 §5.6's figure).
        assert_eq!(&auth[37..48], &[0; 11]);
        let f = NtsFields::parse(&b[..]).unwrap();
        assert_eq!(f.unique_id, Some(&[1u8; 32][..]));
        let (at, a) = f.authenticator.unwrap();
        assert_eq!(at, 84);
        assert_eq!(a.nonce(), &[7; 5]);
        let mut out = [0u8; 64];
        assert_eq!(a.open(&key, &b[..at], &mut out).unwrap(), b"inner");
        // The AD covers the header: change a header byte and it no longer opens.
        let mut bad = b.clone();
        bad[1] ^= 1;
        assert_eq!(a.open(&key, &bad[..at], &mut out), Err(AeadError::Forged));
    }

    #[test]
    fn min_len_pads_the_authenticator() {
        let key = AeadKey::new([3; 32]);
        let b = packet_with(|w| w.push_authenticator(&key, &[7; 16], &[], 100).unwrap());
        assert_eq!(b.len(), 48 + 100);
        let (_, a) = NtsFields::parse(&b[..]).unwrap().authenticator.unwrap();
        assert_eq!(a.ciphertext().len(), TAG_LEN);
    }

    /// Builds an authenticator body from raw lengths.
    fn auth_body(nonce_len: u16, ct_len: u16, body_len: usize) -> std::vec::Vec<u8> {
        let mut v = std::vec![0u8; body_len];
        v[..2].copy_from_slice(&nonce_len.to_be_bytes());
        v[2..4].copy_from_slice(&ct_len.to_be_bytes());
        v
    }

    #[test]
    fn hostile_authenticator_lengths() {
        use FieldError::*;
        let cases: &[(u16, u16, usize, Result<(), FieldError>)] = &[
            (16, 16, 36, Ok(())),
            (0, 16, 36, Err(NonceTooShort)),
            (4, 16, 24, Err(NonceTooShort)), // nonce padding missing
            (4, 16, 36, Ok(())),             // 12 bytes of additional padding
            (16, 15, 36, Err(CiphertextTooShort)),
            (16, 0, 36, Err(CiphertextTooShort)),
            (16, 17, 36, Err(AuthenticatorLengths)), // ciphertext padding missing
            (16, 16, 35, Err(AuthenticatorLengths)),
            (0xffff, 0xffff, 36, Err(AuthenticatorLengths)),
            (16, 0xffff, 36, Err(AuthenticatorLengths)),
        ];
        for &(n, c, len, expect) in cases {
            let body = auth_body(n, c, len);
            assert_eq!(
                Authenticator::parse(&body).map(|_| ()),
                expect,
                "nonce {n} ct {c} body {len}"
            );
        }
        for len in 0..4 {
            assert_eq!(
                Authenticator::parse(&std::vec![0; len]),
                Err(AuthenticatorLengths)
            );
        }
    }

    #[test]
    fn nts_field_rules() {
        let key = AeadKey::new([3; 32]);
        let dup_uid = packet_with(|w| {
            w.push(UNIQUE_IDENTIFIER, &[1; 32]).unwrap();
            w.push(UNIQUE_IDENTIFIER, &[1; 32]).unwrap();
        });
        let short_uid = packet_with(|w| w.push(UNIQUE_IDENTIFIER, &[1; 28]).unwrap());
        let two_cookies = packet_with(|w| {
            w.push(NTS_COOKIE, &[1; 32]).unwrap();
            w.push(NTS_COOKIE, &[1; 32]).unwrap();
        });
        let bad_placeholder = packet_with(|w| {
            w.push(NTS_COOKIE, &[1; 32]).unwrap();
            w.push_zeros(COOKIE_PLACEHOLDER, 36).unwrap();
        });
        let after_auth = packet_with(|w| {
            w.push_authenticator(&key, &[7; 16], &[], 0).unwrap();
            w.push(UNIQUE_IDENTIFIER, &[1; 32]).unwrap();
        });
        for (b, e) in [
            (dup_uid, FieldError::DuplicateUniqueId),
            (short_uid, FieldError::UniqueIdTooShort),
            (two_cookies, FieldError::DuplicateCookie),
            (bad_placeholder, FieldError::PlaceholderLength),
            (after_auth, FieldError::AuthenticatorNotLast),
        ] {
            Packet::new_checked(&b[..]).unwrap();
            assert_eq!(NtsFields::parse(&b[..]), Err(e));
        }
        // Unknown fields are skipped; placeholders are counted.
        let ok = packet_with(|w| {
            w.push(0x7777, &[0; 40]).unwrap();
            w.push(NTS_COOKIE, &[1; 32]).unwrap();
            w.push_zeros(COOKIE_PLACEHOLDER, 32).unwrap();
            w.push_zeros(COOKIE_PLACEHOLDER, 32).unwrap();
        });
        let f = NtsFields::parse(&ok[..]).unwrap();
        assert_eq!((f.placeholders, f.placeholder_len), (2, Some(32)));
        assert_eq!(f.cookie, Some(&[1u8; 32][..]));
    }

    #[test]
    fn inner_fields_walk() {
        let mut buf = [0u8; 128];
        let mut w = FieldWriter::new(&mut buf, 0);
        w.push(NTS_COOKIE, &[5; 20]).unwrap();
        w.push(0x1234, &[]).unwrap();
        let n = w.len();
        let got: std::vec::Vec<_> = InnerFields::new(&buf[..n]).collect();
        assert_eq!(
            got,
            [
                Ok((NTS_COOKIE, &[5u8; 20][..])),
                Ok((0x1234, &[0u8; 12][..]))
            ]
        );
        // Zero, short, odd and overlong lengths, and a stray tail.
        for bad in [0u16, 4, 12, 18, 64] {
            let mut b = buf;
            b[2..4].copy_from_slice(&bad.to_be_bytes());
            let mut it = InnerFields::new(&b[..n]);
            assert_eq!(it.next(), Some(Err(FieldError::BadInnerField)), "len {bad}");
            assert_eq!(it.next(), None);
        }
        let mut it = InnerFields::new(&buf[..3]);
        assert_eq!(it.next(), Some(Err(FieldError::BadInnerField)));
    }

    #[test]
    fn writer_limits() {
        let mut small = [0u8; 20];
        let mut w = FieldWriter::new(&mut small, 0);
        assert_eq!(
            w.push(NTS_COOKIE, &[0; 20]),
            Err(FieldError::BufferTooSmall)
        );
        assert_eq!(w.len(), 0, "nothing written on failure");
        let mut big = std::vec![0u8; 70000];
        let mut w = FieldWriter::new(&mut big, 0);
        assert_eq!(
            w.push(NTS_COOKIE, &[0; 65532]),
            Err(FieldError::BodyTooLong)
        );
        assert_eq!(w.push(NTS_COOKIE, &[0; 65528]), Ok(()));
        let key = AeadKey::new([0; 32]);
        let mut w = FieldWriter::new(&mut small, 0);
        assert_eq!(
            w.push_authenticator(&key, &[], &[], 0),
            Err(FieldError::NonceTooShort)
        );
    }
}
