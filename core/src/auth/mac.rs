//! The three MAC algorithms of ntp.keys, over RustCrypto crates (no_std, no alloc).
//!
//! - MD5 (RFC 5905 §7.3 and appendix A.2): digest = MD5(key ‖ message), 16 bytes.
//! - SHA1 (ntpd's OpenSSL digests, same construction): SHA1(key ‖ message), 20 bytes.
//! - AES128CMAC (RFC 8573): AES-128-CMAC(key, message), 16 bytes. The key is 16
//!   bytes; as in ntpd, a shorter key from the keys file is padded with zero bytes
//!   and a longer one cut to 16.
//!
//! "message" is the packet up to the MAC: the header and any extension fields.

use cmac::Mac as _;
use md5::Digest as _;

/// Longest digest, bytes (SHA1).
pub const MAX_DIGEST_LEN: usize = 20;
/// Longest secret a key may have, bytes (64 hex digits in ntp.keys).
pub const MAX_SECRET_LEN: usize = 32;

/// The MAC algorithm of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MacAlgorithm {
    /// MD5(key ‖ message), 16 bytes.
    Md5,
    /// SHA1(key ‖ message), 20 bytes.
    Sha1,
    /// AES-128-CMAC, 16 bytes.
    Aes128Cmac,
}

impl MacAlgorithm {
    /// The digest length on the wire, bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            MacAlgorithm::Md5 | MacAlgorithm::Aes128Cmac => 16,
            MacAlgorithm::Sha1 => 20,
        }
    }

    /// The name used in keys files.
    pub const fn name(self) -> &'static str {
        match self {
            MacAlgorithm::Md5 => "MD5",
            MacAlgorithm::Sha1 => "SHA1",
            MacAlgorithm::Aes128Cmac => "AES128CMAC",
        }
    }
}

/// Computes the digest of `message` with `secret` into the start of `out`; returns
/// its length, or `None` when `out` is shorter than the digest.
pub fn compute(
    algorithm: MacAlgorithm,
    secret: &[u8],
    message: &[u8],
    out: &mut [u8],
) -> Option<usize> {
    let len = algorithm.digest_len();
    let out = out.get_mut(..len)?;
    match algorithm {
        MacAlgorithm::Md5 => {
            let mut h = md5::Md5::new();
            h.update(secret);
            h.update(message);
            out.copy_from_slice(&h.finalize());
        }
        MacAlgorithm::Sha1 => {
            let mut h = sha1::Sha1::new();
            h.update(secret);
            h.update(message);
            out.copy_from_slice(&h.finalize());
        }
        MacAlgorithm::Aes128Cmac => {
            let mut key = [0u8; 16];
            for (k, s) in key.iter_mut().zip(secret) {
                *k = *s;
            }
            let mut m = <cmac::Cmac<aes::Aes128> as cmac::Mac>::new(&key.into());
            m.update(message);
            out.copy_from_slice(&m.finalize().into_bytes());
        }
    }
    Some(len)
}

/// Whether `digest` is the MAC of `message`, compared in constant time (the time
/// taken does not tell how many leading bytes were right).
pub fn verify(algorithm: MacAlgorithm, secret: &[u8], message: &[u8], digest: &[u8]) -> bool {
    let mut expected = [0u8; MAX_DIGEST_LEN];
    let Some(len) = compute(algorithm, secret, message, &mut expected) else {
        return false;
    };
    if digest.len() != len {
        return false;
    }
    let expected = expected.get(..len).unwrap_or(&[]);
    bool::from(subtle::ConstantTimeEq::ct_eq(expected, digest))
}
