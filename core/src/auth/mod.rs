//! Symmetric-key authentication (RFC 5905 §7.3, ntp_auth(5)): the key table and the
//! MAC trailer of NTP packets.
//!
//! A packet is authenticated by a trailer of a 32-bit key id and a digest of
//! everything before it (header and extension fields). Key id 0 alone (4 bytes) is
//! a crypto-NAK: "I could not authenticate you".
//!
//! For the server ([`crate::server`]) and the client side alike:
//!
//! - [`KeyTable::check`] reads a received packet's trailer and says whether it is
//!   unauthenticated, authentic (with which key), a crypto-NAK, or a failure;
//! - [`SymmetricKey::sign`] appends a MAC to a packet being built.
//!
//! Only *trusted* keys authenticate (ntpd's rule: a key in the keys file is used only
//! once `trustedkey` names it); a packet under a known but untrusted key is a
//! failure like a wrong digest.
//!
//! Available with the `auth` feature (on by default).
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod mac;
#[cfg(test)]
mod tests;

use core::fmt;

pub use mac::{compute, verify, MacAlgorithm, MAX_DIGEST_LEN, MAX_SECRET_LEN};

use crate::wire::{Packet, CRYPTO_NAK_LEN, HEADER_LEN, MAC_KEY_ID_LEN};

/// Longest MAC trailer, key id included, bytes.
pub const MAX_MAC_LEN: usize = MAC_KEY_ID_LEN + MAX_DIGEST_LEN;

/// One key: id, algorithm, secret, and whether `trustedkey` names it. The secret is
/// left out of `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SymmetricKey {
    id: u32,
    algorithm: MacAlgorithm,
    secret: heapless::Vec<u8, MAX_SECRET_LEN>,
    trusted: bool,
}

impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymmetricKey")
            .field("id", &self.id)
            .field("algorithm", &self.algorithm)
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .field("trusted", &self.trusted)
            .finish()
    }
}

impl SymmetricKey {
    /// A key; `None` when the id is 0 (reserved for the crypto-NAK) or the secret
    /// is empty or longer than [`MAX_SECRET_LEN`].
    pub fn new(id: u32, algorithm: MacAlgorithm, secret: &[u8], trusted: bool) -> Option<Self> {
        if id == 0 || secret.is_empty() {
            return None;
        }
        let secret = heapless::Vec::from_slice(secret).ok()?;
        Some(Self {
            id,
            algorithm,
            secret,
            trusted,
        })
    }

    /// The key id.
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// The algorithm.
    pub const fn algorithm(&self) -> MacAlgorithm {
        self.algorithm
    }

    /// Whether `trustedkey` names it.
    pub const fn is_trusted(&self) -> bool {
        self.trusted
    }

    /// The trailer length this key produces: key id and digest.
    pub const fn mac_len(&self) -> usize {
        MAC_KEY_ID_LEN + self.algorithm.digest_len()
    }

    /// Appends the MAC of `buf[..len]` (header and extension fields) at `len`;
    /// returns the signed packet's length, or `None` when `buf` has no room.
    pub fn sign(&self, buf: &mut [u8], len: usize) -> Option<usize> {
        let end = len.checked_add(self.mac_len())?;
        let (message, rest) = buf.get_mut(..end)?.split_at_mut_checked(len)?;
        let (id, digest) = rest.split_at_mut_checked(MAC_KEY_ID_LEN)?;
        id.copy_from_slice(&self.id.to_be_bytes());
        compute(self.algorithm, &self.secret, message, digest)?;
        Some(end)
    }

    /// Whether `digest` authenticates `message` under this key (constant time).
    pub fn verify(&self, message: &[u8], digest: &[u8]) -> bool {
        verify(self.algorithm, &self.secret, message, digest)
    }
}

/// Appends a crypto-NAK (key id 0, no digest) at `len`; returns the new length.
pub fn append_crypto_nak(buf: &mut [u8], len: usize) -> Option<usize> {
    let end = len.checked_add(CRYPTO_NAK_LEN)?;
    buf.get_mut(len..end)?.fill(0);
    Some(end)
}

/// What the trailer of a received packet says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthStatus<'k> {
    /// No MAC: an unauthenticated packet.
    None,
    /// A crypto-NAK (key id 0, no digest).
    CryptoNak,
    /// A valid MAC under this trusted key.
    Authentic(&'k SymmetricKey),
    /// A MAC that does not authenticate the packet.
    Failed(AuthFailure),
}

/// Why a MAC did not authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// The key id is not in the keys file.
    UnknownKey(u32),
    /// The key exists but `trustedkey` does not name it.
    UntrustedKey(u32),
    /// The digest length does not fit the key's algorithm.
    WrongLength(u32),
    /// The digest is wrong.
    BadDigest(u32),
}

impl AuthFailure {
    /// The key id the packet named.
    pub const fn key_id(self) -> u32 {
        match self {
            AuthFailure::UnknownKey(k)
            | AuthFailure::UntrustedKey(k)
            | AuthFailure::WrongLength(k)
            | AuthFailure::BadDigest(k) => k,
        }
    }
}

/// Why a key could not be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyTableError {
    /// The table holds `N` keys already.
    Full,
    /// A key with this id is there already.
    Duplicate(u32),
}

/// Up to `N` keys, sorted by id: lookups are a binary search, O(log N).
#[derive(Clone, Debug, Default)]
pub struct KeyTable<const N: usize> {
    keys: heapless::Vec<SymmetricKey, N>,
}

impl<const N: usize> KeyTable<N> {
    /// An empty table.
    pub const fn new() -> Self {
        Self {
            keys: heapless::Vec::new(),
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds a key.
    pub fn insert(&mut self, key: SymmetricKey) -> Result<(), KeyTableError> {
        match self.keys.binary_search_by_key(&key.id, |k| k.id) {
            Ok(_) => Err(KeyTableError::Duplicate(key.id)),
            Err(i) => self.keys.insert(i, key).map_err(|_| KeyTableError::Full),
        }
    }

    /// Marks key `id` trusted or not; false when there is no such key.
    pub fn set_trusted(&mut self, id: u32, trusted: bool) -> bool {
        match self.keys.binary_search_by_key(&id, |k| k.id) {
            Ok(i) => self.keys.get_mut(i).map(|k| k.trusted = trusted).is_some(),
            Err(_) => false,
        }
    }

    /// The key with this id, trusted or not.
    pub fn get(&self, id: u32) -> Option<&SymmetricKey> {
        let i = self.keys.binary_search_by_key(&id, |k| k.id).ok()?;
        self.keys.get(i)
    }

    /// The trusted key with this id: the one to sign with.
    pub fn trusted(&self, id: u32) -> Option<&SymmetricKey> {
        self.get(id).filter(|k| k.trusted)
    }

    /// Reads the trailer of a received packet (see [`AuthStatus`]). A packet whose
    /// trailer does not walk cleanly (see [`Packet::new_checked`]) has no MAC.
    pub fn check(&self, bytes: &[u8]) -> AuthStatus<'_> {
        let packet = Packet::new_unchecked(bytes);
        let Some(mac) = packet.mac() else {
            return AuthStatus::None;
        };
        if mac.is_crypto_nak() {
            return AuthStatus::CryptoNak;
        }
        let id = mac.key_id();
        let Some(key) = self.get(id) else {
            return AuthStatus::Failed(AuthFailure::UnknownKey(id));
        };
        if !key.trusted {
            return AuthStatus::Failed(AuthFailure::UntrustedKey(id));
        }
        if mac.digest().len() != key.algorithm.digest_len() {
            return AuthStatus::Failed(AuthFailure::WrongLength(id));
        }
        let signed_len = bytes.len().saturating_sub(mac.as_bytes().len());
        let message = bytes.get(..signed_len.max(HEADER_LEN)).unwrap_or(&[]);
        if key.verify(message, mac.digest()) {
            AuthStatus::Authentic(key)
        } else {
            AuthStatus::Failed(AuthFailure::BadDigest(id))
        }
    }
}
