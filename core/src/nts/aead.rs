//! AEAD_AES_SIV_CMAC_256 (RFC 5297 §2.6, IANA AEAD id 15), the one algorithm every
//! NTS implementation must support (RFC 8915 §5.1), through RustCrypto's `aes-siv`.
//!
//! SIV takes a vector of associated-data strings; NTS passes two, in the order of
//! RFC 5297 §3 (nonce-based use): the associated data, then the nonce. Its output is the
//! 16-byte synthetic IV (the tag) followed by the ciphertext, as long as the plaintext;
//! NTS carries exactly that in the authenticator's Ciphertext field (RFC 8915 §5.6).
//!
//! Everything happens in caller-supplied buffers: no allocation.

use aes::Aes128Enc;
use aes_siv::siv::CmacSiv;
use aes_siv::KeyInit;
use zeroize::Zeroize;

/// Key length of AEAD_AES_SIV_CMAC_256, bytes (two AES-128 keys: MAC, then CTR).
pub const KEY_LEN: usize = 32;
/// Length of the synthetic IV that precedes the ciphertext, bytes.
pub const TAG_LEN: usize = 16;
/// IANA "AEAD Algorithms" number of AEAD_AES_SIV_CMAC_256.
pub const AEAD_AES_SIV_CMAC_256: u16 = 15;

/// Why a seal or open failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadError {
    /// The output buffer is too small for tag + ciphertext (seal) or plaintext (open).
    BufferTooSmall,
    /// Shorter than a tag: cannot be an AES-SIV output.
    TooShort,
    /// The tag does not verify: wrong key, or the nonce, associated data or ciphertext
    /// were changed.
    Forged,
}

/// One AES-SIV-CMAC-256 key (C2S, S2C or a server master key), wiped on drop and left
/// out of `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct AeadKey([u8; KEY_LEN]);

impl AeadKey {
    /// The key from its 32 bytes.
    pub const fn new(bytes: [u8; KEY_LEN]) -> Self {
        AeadKey(bytes)
    }

    /// The key's bytes (to seal them into a cookie, or to persist a master key).
    pub const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// SIV on the encrypting half of AES only (CMAC and CTR never decrypt a block):
    /// `aes_siv`'s `Aes128Siv` would also expand the decryption round keys of both
    /// keys on every seal and open, which the NTS server path does four times per
    /// request.
    fn cipher(&self) -> CmacSiv<Aes128Enc> {
        CmacSiv::<Aes128Enc>::new(&self.0.into())
    }

    /// Encrypts `plaintext` under `nonce` and `ad` into `out`: 16-byte tag, then the
    /// ciphertext. Returns the bytes written (`TAG_LEN + plaintext.len()`).
    pub fn seal(
        &self,
        nonce: &[u8],
        ad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, AeadError> {
        self.seal_headers(&[ad, nonce], plaintext, out)
    }

    /// Decrypts `sealed` (tag then ciphertext) under `nonce` and `ad` into `out`.
    /// Returns the plaintext length. On failure nothing of the plaintext is left in
    /// `out`.
    pub fn open(
        &self,
        nonce: &[u8],
        ad: &[u8],
        sealed: &[u8],
        out: &mut [u8],
    ) -> Result<usize, AeadError> {
        self.open_headers(&[ad, nonce], sealed, out)
    }

    /// Encrypts in place: `buf` holds a 16-byte slot for the tag, then the plaintext,
    /// which becomes the ciphertext. For a response whose associated data (the header
    /// with its transmit timestamp) is complete only after the plaintext was laid out.
    pub fn seal_in_place(&self, nonce: &[u8], ad: &[u8], buf: &mut [u8]) -> Result<(), AeadError> {
        if buf.len() < TAG_LEN {
            return Err(AeadError::BufferTooSmall);
        }
        let (tag_out, body) = buf.split_at_mut(TAG_LEN);
        let tag = self
            .cipher()
            .encrypt_in_place_detached([ad, nonce], body)
            .map_err(|_| AeadError::BufferTooSmall)?;
        tag_out.copy_from_slice(&tag);
        Ok(())
    }

    /// SIV over an arbitrary associated-data vector (RFC 5297's general form; the
    /// known-answer tests use it with the RFC's own header lists).
    pub(super) fn seal_headers(
        &self,
        headers: &[&[u8]],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, AeadError> {
        let total = plaintext
            .len()
            .checked_add(TAG_LEN)
            .ok_or(AeadError::BufferTooSmall)?;
        let (tag_out, body) = out
            .get_mut(..total)
            .ok_or(AeadError::BufferTooSmall)?
            .split_at_mut(TAG_LEN);
        body.copy_from_slice(plaintext);
        let tag = self
            .cipher()
            .encrypt_in_place_detached(headers, body)
            // Only fails for more than 126 headers; we pass at most a handful.
            .map_err(|_| AeadError::BufferTooSmall)?;
        tag_out.copy_from_slice(&tag);
        Ok(total)
    }

    pub(super) fn open_headers(
        &self,
        headers: &[&[u8]],
        sealed: &[u8],
        out: &mut [u8],
    ) -> Result<usize, AeadError> {
        let (tag, ciphertext) = sealed
            .split_first_chunk::<TAG_LEN>()
            .ok_or(AeadError::TooShort)?;
        let body = out
            .get_mut(..ciphertext.len())
            .ok_or(AeadError::BufferTooSmall)?;
        body.copy_from_slice(ciphertext);
        match self
            .cipher()
            .decrypt_in_place_detached(headers, body, tag.into())
        {
            Ok(()) => Ok(body.len()),
            Err(_) => {
                // aes-siv leaves the CTR output behind on a bad tag: wipe it so no
                // unauthenticated plaintext is ever visible to the caller.
                body.zeroize();
                Err(AeadError::Forged)
            }
        }
    }
}

impl Drop for AeadKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl core::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AeadKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> std::vec::Vec<u8> {
        let s: std::string::String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn key(s: &str) -> AeadKey {
        AeadKey::new(hex(s).try_into().unwrap())
    }

    /// RFC 5297 appendix A.1, "Deterministic Authenticated Encryption Example": a
    /// 256-bit key, one associated-data string, no nonce.
    #[test]
    fn rfc5297_a1_deterministic() {
        let k = key("fffefdfc fbfaf9f8 f7f6f5f4 f3f2f1f0 f0f1f2f3 f4f5f6f7 f8f9fafb fcfdfeff");
        let ad = hex("10111213 14151617 18191a1b 1c1d1e1f 20212223 24252627");
        let pt = hex("11223344 55667788 99aabbcc ddee");
        let expect = hex("85632d07 c6e8f37f 950acd32 0a2ecc93 40c02b96 90c4dc04 daef7f6a fe5c");
        let mut out = [0u8; 64];
        let n = k.seal_headers(&[&ad], &pt, &mut out).unwrap();
        assert_eq!(&out[..n], &expect[..]);
        let mut back = [0u8; 64];
        let m = k.open_headers(&[&ad], &out[..n], &mut back).unwrap();
        assert_eq!(&back[..m], &pt[..]);
    }

    /// RFC 5297 appendix A.2, "Nonce-Based Authenticated Encryption Example": two
    /// associated-data strings and a nonce, last.
    #[test]
    fn rfc5297_a2_nonce_based() {
        let k = key("7f7e7d7c 7b7a7978 77767574 73727170 40414243 44454647 48494a4b 4c4d4e4f");
        let ad1 = hex(
            "00112233 44556677 8899aabb ccddeeff deaddada deaddada ffeeddcc bbaa9988 \
             77665544 33221100",
        );
        let ad2 = hex("10203040 50607080 90a0");
        let nonce = hex("09f91102 9d74e35b d84156c5 635688c0");
        let pt = hex(
            "74686973 20697320 736f6d65 20706c61 696e7465 78742074 6f20656e 63727970 \
             74207573 696e6720 5349562d 414553",
        );
        let expect = hex(
            "7bdb6e3b 432667eb 06f4d14b ff2fbd0f cb900f2f ddbe4043 26601965 c889bf17 \
             dba77ceb 094fa663 b7a3f748 ba8af829 ea64ad54 4a272e9c 485b62a3 fd5c0d",
        );
        let mut out = [0u8; 128];
        let n = k
            .seal_headers(&[&ad1, &ad2, &nonce], &pt, &mut out)
            .unwrap();
        assert_eq!(&out[..n], &expect[..]);
        let mut back = [0u8; 128];
        let m = k
            .open_headers(&[&ad1, &ad2, &nonce], &out[..n], &mut back)
            .unwrap();
        assert_eq!(&back[..m], &pt[..]);
    }

    #[test]
    fn nts_form_is_ad_then_nonce() {
        let k = AeadKey::new([7; KEY_LEN]);
        let mut a = [0u8; 40];
        let mut b = [0u8; 40];
        let n = k
            .seal(b"nonce-16-bytes!!", b"ad", b"plaintext", &mut a)
            .unwrap();
        k.seal_headers(&[b"ad", b"nonce-16-bytes!!"], b"plaintext", &mut b)
            .unwrap();
        assert_eq!(n, TAG_LEN + 9);
        assert_eq!(a, b);
    }

    #[test]
    fn tampering_is_forged_and_leaves_no_plaintext() {
        let k = AeadKey::new([1; KEY_LEN]);
        let mut sealed = [0u8; 48];
        let n = k
            .seal(&[9; 16], b"header", &[0x55; 32], &mut sealed)
            .unwrap();
        let mut out = [0xaa; 32];
        // Each of: a flipped ciphertext bit, a flipped tag bit, other AD, other nonce,
        // other key.
        let mut flipped = sealed;
        flipped[40] ^= 1;
        assert_eq!(
            k.open(&[9; 16], b"header", &flipped[..n], &mut out),
            Err(AeadError::Forged)
        );
        assert_eq!(out, [0; 32], "wiped");
        let mut flipped = sealed;
        flipped[0] ^= 0x80;
        assert_eq!(
            k.open(&[9; 16], b"header", &flipped[..n], &mut out),
            Err(AeadError::Forged)
        );
        assert_eq!(
            k.open(&[9; 16], b"headeR", &sealed[..n], &mut out),
            Err(AeadError::Forged)
        );
        assert_eq!(
            k.open(&[8; 16], b"header", &sealed[..n], &mut out),
            Err(AeadError::Forged)
        );
        assert_eq!(
            AeadKey::new([2; KEY_LEN]).open(&[9; 16], b"header", &sealed[..n], &mut out),
            Err(AeadError::Forged)
        );
        assert_eq!(k.open(&[9; 16], b"header", &sealed[..n], &mut out), Ok(32));
        assert_eq!(out, [0x55; 32]);
    }

    #[test]
    fn sizes() {
        let k = AeadKey::new([1; KEY_LEN]);
        let mut small = [0u8; 20];
        assert_eq!(
            k.seal(&[0; 16], &[], &[0; 8], &mut small),
            Err(AeadError::BufferTooSmall)
        );
        assert_eq!(k.seal(&[0; 16], &[], &[], &mut small), Ok(TAG_LEN));
        assert_eq!(
            k.open(&[0; 16], &[], &[0; 15], &mut small),
            Err(AeadError::TooShort)
        );
        let mut sealed = [0u8; 40];
        let n = k.seal(&[0; 16], &[], &[3; 24], &mut sealed).unwrap();
        assert_eq!(
            k.open(&[0; 16], &[], &sealed[..n], &mut small),
            Err(AeadError::BufferTooSmall)
        );
        assert_eq!(std::format!("{k:?}"), "AeadKey(..)");
    }
}
