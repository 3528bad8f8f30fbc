//! Network Time Security for NTPv4 (RFC 8915): the building blocks, sans-IO, `no_std`
//! and without allocation, so the firmware can have NTS once it has a TLS stack.
//!
//! | module | stage |
//! |---|---|
//! | [`aead`] | AEAD_AES_SIV_CMAC_256 (RFC 5297) over caller buffers |
//! | [`ext`] | the NTS extension fields (RFC 8915 §5.3–§5.6) |
//! | [`ke`] | NTS-KE records (§4), and an incremental decoder for the TLS stream |
//! | [`ke_msg`] | NTS-KE requests and responses: negotiation rules, exporter context |
//! | [`cookie`] | the server's stateless cookies and master-key rotation |
//! | [`server`] | the server side of NTS-protected NTP: check a request, answer or NAK |
//! | [`jar`] | the client side: cookie jar, requests, response checks, when to re-key |
//! | [`rng`] | AES-CTR random bytes from a port-supplied seed (identifiers, nonces) |
//!
//! What is *not* here: TLS (the port brings it: ALPN [`ke_msg::ALPN`], keys from the
//! exporter with [`ke_msg::EXPORTER_LABEL`] and [`ke_msg::exporter_context`]). The
//! wiring into the state machines is [`crate::server::nts`] (the server's answer path)
//! and [`crate::node::nts`] (NTS sources of the node). The design, the formats and
//! what is left to integrate are in `docs/nts.md`.
//!
//! Randomness: the blocks take it from the caller (unique identifiers, nonces, cookie
//! nonces); the hooks draw it from an [`rng::NtsRng`] seeded by the port.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

pub mod aead;
pub mod cookie;
pub mod ext;
pub mod jar;
pub mod ke;
pub mod ke_msg;
#[cfg(test)]
mod proptests;
pub mod rng;
pub mod server;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

use crate::wire::RefId;
use aead::{AeadKey, KEY_LEN};

/// Kiss code of an NTS NAK (RFC 8915 §5.7): "I could not open your cookie or verify
/// your authenticator". Sent with stratum 0 and the Unique Identifier echoed.
pub const NTS_NAK: RefId = RefId::from_ascii(b"NTSN");

/// The two keys of one NTS-KE session (RFC 8915 §5.1): C2S authenticates requests,
/// S2C responses. Both are wiped on drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// Client to server.
    pub c2s: AeadKey,
    /// Server to client.
    pub s2c: AeadKey,
}

impl SessionKeys {
    /// The keys from the exporter's output (32 bytes each); shorter slices are
    /// zero-filled (never happens: the lengths are fixed by the AEAD).
    pub fn from_slices(c2s: &[u8], s2c: &[u8]) -> Self {
        fn key(bytes: &[u8]) -> AeadKey {
            let mut k = [0u8; KEY_LEN];
            for (d, s) in k.iter_mut().zip(bytes) {
                *d = *s;
            }
            AeadKey::new(k)
        }
        SessionKeys {
            c2s: key(c2s),
            s2c: key(s2c),
        }
    }
}
