//! The server's stateless cookies: the C2S and S2C keys of one NTS-KE session, sealed
//! under a server master key (RFC 8915 §6 recommends this shape; the format is the
//! server's own business, clients treat cookies as opaque).
//!
//! slew's cookie, 104 bytes (a multiple of 4, so the padding a client adds when it
//! echoes the cookie in an extension field changes nothing):
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | master key id (u32, big-endian): which key sealed it |
//! | 4..20 | nonce (16 random bytes) |
//! | 20..36 | SIV tag |
//! | 36..104 | AES-SIV-CMAC-256 encryption of AEAD id (u16) ‖ 0 (u16) ‖ C2S (32) ‖ S2C (32) |
//!
//! The associated data is the key id, so a cookie cannot be moved to another key id.
//! The AEAD id inside keeps the format open to a second algorithm.
//!
//! Rotation: [`CookieKeys`] holds the current master key, which seals, and the previous
//! one, which still opens. Rotate more often than a client's cookies last (chrony
//! rotates hourly and keeps a few old keys; slew keeps one): a client that has been
//! away longer than two rotations gets an NTS NAK and repeats NTS-KE.

use zeroize::Zeroize;

use super::aead::{AeadError, AeadKey, AEAD_AES_SIV_CMAC_256, KEY_LEN, TAG_LEN};
use super::SessionKeys;

/// Length of slew's cookies, bytes.
pub const COOKIE_LEN: usize = 4 + COOKIE_NONCE_LEN + TAG_LEN + PLAINTEXT_LEN;
/// Length of the random nonce in a cookie, bytes.
pub const COOKIE_NONCE_LEN: usize = 16;
const PLAINTEXT_LEN: usize = 4 + 2 * KEY_LEN;

/// Why a cookie does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieError {
    /// Not [`COOKIE_LEN`] bytes.
    Length,
    /// Sealed under a key id that is neither the current nor the previous one.
    UnknownKey(u32),
    /// The tag does not verify.
    Forged,
    /// It opened, but names an AEAD this server does not do.
    UnsupportedAead(u16),
    /// The output buffer is too small (sealing).
    BufferTooSmall,
}

/// One master key and its id. The id travels in the clear in every cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterKey {
    /// The id (any value; unique among the keys in use).
    pub id: u32,
    /// The key.
    pub key: AeadKey,
}

/// The current and the previous master key.
#[derive(Debug, Clone)]
pub struct CookieKeys {
    current: MasterKey,
    previous: Option<MasterKey>,
}

impl CookieKeys {
    /// Starts with one key.
    pub const fn new(current: MasterKey) -> Self {
        CookieKeys {
            current,
            previous: None,
        }
    }

    /// Makes `next` the sealing key; the current one becomes the previous one (still
    /// opens) and the previous one is forgotten (wiped).
    pub fn rotate(&mut self, next: MasterKey) {
        let old = core::mem::replace(&mut self.current, next);
        self.previous = Some(old);
    }

    /// Id of the key that seals new cookies.
    pub const fn current_id(&self) -> u32 {
        self.current.id
    }

    /// The sealing key (the port persists it, so a restart keeps cookies valid).
    pub const fn current_key(&self) -> &MasterKey {
        &self.current
    }

    /// The previous key, if any (persisted with the current one).
    pub const fn previous_key(&self) -> Option<&MasterKey> {
        self.previous.as_ref()
    }

    /// Seals `keys` into a cookie under the current master key, with `nonce` fresh
    /// random bytes. Returns [`COOKIE_LEN`].
    pub fn seal(
        &self,
        keys: &SessionKeys,
        nonce: &[u8; COOKIE_NONCE_LEN],
        out: &mut [u8],
    ) -> Result<usize, CookieError> {
        let out = out
            .get_mut(..COOKIE_LEN)
            .ok_or(CookieError::BufferTooSmall)?;
        let id = self.current.id.to_be_bytes();
        let mut plain = [0u8; PLAINTEXT_LEN];
        let (aead, rest) = plain.split_at_mut(4);
        let (c2s, s2c) = rest.split_at_mut(KEY_LEN);
        aead.copy_from_slice(&[0, 0, 0, 0]);
        if let Some(a) = aead.first_chunk_mut::<2>() {
            *a = AEAD_AES_SIV_CMAC_256.to_be_bytes();
        }
        c2s.copy_from_slice(keys.c2s.as_bytes());
        s2c.copy_from_slice(keys.s2c.as_bytes());
        let (head, sealed) = out.split_at_mut(4 + COOKIE_NONCE_LEN);
        let (id_out, nonce_out) = head.split_at_mut(4);
        id_out.copy_from_slice(&id);
        nonce_out.copy_from_slice(nonce);
        let r = self.current.key.seal(nonce, &id, &plain, sealed);
        plain.zeroize();
        r.map_err(|_| CookieError::BufferTooSmall)?;
        Ok(COOKIE_LEN)
    }

    /// Opens a cookie (the body of a client's NTS Cookie field) under the current or
    /// the previous master key.
    pub fn open(&self, cookie: &[u8]) -> Result<SessionKeys, CookieError> {
        if cookie.len() != COOKIE_LEN {
            return Err(CookieError::Length);
        }
        let (id, rest) = cookie.split_first_chunk::<4>().ok_or(CookieError::Length)?;
        let (nonce, sealed) = rest
            .split_first_chunk::<COOKIE_NONCE_LEN>()
            .ok_or(CookieError::Length)?;
        let key_id = u32::from_be_bytes(*id);
        let master = if key_id == self.current.id {
            &self.current
        } else {
            match &self.previous {
                Some(p) if p.id == key_id => p,
                _ => return Err(CookieError::UnknownKey(key_id)),
            }
        };
        let mut plain = [0u8; PLAINTEXT_LEN];
        let r = master.key.open(nonce, id, sealed, &mut plain);
        let keys = match r {
            Ok(_) => {
                let aead = u16::from_be_bytes([plain[0], plain[1]]);
                if aead == AEAD_AES_SIV_CMAC_256 {
                    Ok(SessionKeys::from_slices(
                        &plain[4..4 + KEY_LEN],
                        &plain[4 + KEY_LEN..],
                    ))
                } else {
                    Err(CookieError::UnsupportedAead(aead))
                }
            }
            Err(AeadError::Forged | AeadError::TooShort) => Err(CookieError::Forged),
            Err(AeadError::BufferTooSmall) => Err(CookieError::Length),
        };
        plain.zeroize();
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> SessionKeys {
        SessionKeys {
            c2s: AeadKey::new([0xc2; 32]),
            s2c: AeadKey::new([0x52; 32]),
        }
    }

    fn master(id: u32, b: u8) -> MasterKey {
        MasterKey {
            id,
            key: AeadKey::new([b; 32]),
        }
    }

    #[test]
    fn layout_and_round_trip() {
        let keys = CookieKeys::new(master(0x01020304, 1));
        let mut c = [0u8; 200];
        assert_eq!(keys.seal(&session(), &[0xaa; 16], &mut c), Ok(104));
        assert_eq!(COOKIE_LEN, 104);
        assert_eq!(&c[..4], &[1, 2, 3, 4]);
        assert_eq!(&c[4..20], &[0xaa; 16]);
        // The keys are not visible in the cookie.
        assert!(!c[..104]
            .windows(8)
            .any(|w| w == [0xc2; 8] || w == [0x52; 8]));
        assert_eq!(keys.open(&c[..104]), Ok(session()));
        // Other nonces give other cookies for the same keys.
        let mut d = [0u8; 104];
        keys.seal(&session(), &[0xab; 16], &mut d).unwrap();
        assert_ne!(&c[20..104], &d[20..]);
    }

    #[test]
    fn rotation_keeps_one_previous_key() {
        let mut keys = CookieKeys::new(master(1, 1));
        let mut old = [0u8; 104];
        keys.seal(&session(), &[1; 16], &mut old).unwrap();
        keys.rotate(master(2, 2));
        assert_eq!(keys.current_id(), 2);
        let mut new = [0u8; 104];
        keys.seal(&session(), &[1; 16], &mut new).unwrap();
        assert_eq!(&new[..4], &[0, 0, 0, 2]);
        assert_eq!(keys.open(&old), Ok(session()), "previous key still opens");
        assert_eq!(keys.open(&new), Ok(session()));
        keys.rotate(master(3, 3));
        assert_eq!(keys.open(&old), Err(CookieError::UnknownKey(1)));
        assert_eq!(keys.open(&new), Ok(session()));
    }

    #[test]
    fn forged_and_malformed_cookies() {
        let keys = CookieKeys::new(master(7, 1));
        let mut c = [0u8; 104];
        keys.seal(&session(), &[5; 16], &mut c).unwrap();
        for i in [4, 19, 20, 35, 36, 103] {
            let mut bad = c;
            bad[i] ^= 0x10;
            assert_eq!(keys.open(&bad), Err(CookieError::Forged), "byte {i}");
        }
        // A cookie re-labelled with another key id under the same key does not open.
        let other = CookieKeys::new(master(8, 1));
        let mut relabelled = c;
        relabelled[3] = 8;
        assert_eq!(other.open(&relabelled), Err(CookieError::Forged));
        assert_eq!(keys.open(&c[..103]), Err(CookieError::Length));
        assert_eq!(keys.open(&[]), Err(CookieError::Length));
        let mut long = [0u8; 108];
        long[..104].copy_from_slice(&c);
        assert_eq!(keys.open(&long), Err(CookieError::Length));
        assert_eq!(
            keys.seal(&session(), &[0; 16], &mut [0; 103]),
            Err(CookieError::BufferTooSmall)
        );
    }
}
