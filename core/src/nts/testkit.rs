//! Shared by the tests of the NTS hooks (server and node): keys, and a cookie jar as
//! NTS-KE would leave it, without running NTS-KE.

use super::aead::AeadKey;
use super::cookie::{CookieKeys, MasterKey, COOKIE_LEN};
use super::jar::CookieJar;
use super::ke_msg::{Cookie, KeOutcome};
use super::rng::NtsRng;
use super::SessionKeys;

/// The C2S/S2C keys both sides would export from the TLS session.
pub(crate) fn session() -> SessionKeys {
    SessionKeys {
        c2s: AeadKey::new([0x11; 32]),
        s2c: AeadKey::new([0x22; 32]),
    }
}

/// Master key `id`, its bytes all `byte`.
pub(crate) fn master(id: u32, byte: u8) -> MasterKey {
    MasterKey {
        id,
        key: AeadKey::new([byte; 32]),
    }
}

/// A server's master keys with key 1 current.
pub(crate) fn server_keys() -> CookieKeys {
    CookieKeys::new(master(1, 0x33))
}

/// A jar holding `n` cookies sealed under `keys` (as the NTS-KE server would send).
pub(crate) fn jar(keys: &CookieKeys, n: usize) -> CookieJar {
    let mut rng = NtsRng::new([0x44; 16]);
    let mut outcome = KeOutcome {
        cookies: heapless::Vec::new(),
        server: None,
        port: None,
    };
    for _ in 0..n {
        let mut c = [0u8; COOKIE_LEN];
        keys.seal(&session(), &rng.bytes(), &mut c).unwrap();
        outcome
            .cookies
            .push(Cookie::from_slice(&c).unwrap())
            .unwrap();
    }
    CookieJar::new(session(), &outcome)
}
