//! `slew-load --nts`: NTS-protected requests (RFC 8915) from one NTS-KE's keys and
//! one of its cookies, and answers counted only once they verify.
//!
//! A server's NTS is stateless (the cookie carries the keys), so every request may
//! carry the same cookie: each one gets a fresh Unique Identifier and AEAD nonce
//! (both derived from its load nonce, which is unique per request in a run) and is
//! sealed under C2S. An answer counts only if it echoes that Unique Identifier and its
//! authenticator verifies under S2C over the whole packet (one AES-SIV open per
//! answer, in the receiving thread); the NTP header checks of [`super::check_response`]
//! follow. No placeholders are sent, so an answer carries one new cookie and is as
//! long as its request.

use slew_core::nts::ext::{FieldWriter, NtsFields, NTS_COOKIE, UNIQUE_ID_LEN};
use slew_core::nts::ext::{MIN_NONCE_LEN, UNIQUE_IDENTIFIER};
use slew_core::nts::jar::{CookieJar, MAX_INNER_LEN};
use slew_core::nts::SessionKeys;
use slew_core::wire::{Packet, HEADER_LEN};

use super::{build_request, Bad};

/// What every request of a run is built from.
#[derive(Debug, Clone)]
pub struct NtsLoad {
    keys: SessionKeys,
    cookie: Vec<u8>,
    /// Mixed into the Unique Identifiers, so two runs never send the same one.
    salt: [u8; 8],
}

/// The Unique Identifier of the request with load nonce `nonce`.
fn unique_id(salt: [u8; 8], nonce: u64) -> [u8; UNIQUE_ID_LEN] {
    let mut id = [0u8; UNIQUE_ID_LEN];
    let n = nonce.to_be_bytes();
    for (i, chunk) in id.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&if i % 2 == 0 { n } else { salt });
    }
    id
}

impl NtsLoad {
    /// From a fresh NTS-KE's jar (its keys and its first cookie); `None` when it
    /// holds no cookie.
    pub fn new(jar: &CookieJar, salt: u64) -> Option<Self> {
        Some(NtsLoad {
            keys: jar.keys().clone(),
            cookie: jar.next_cookie()?.to_vec(),
            salt: salt.to_be_bytes(),
        })
    }

    /// Writes the request with load nonce `nonce` into `buf`; returns its length
    /// (0 if `buf` is too small).
    pub fn build(&self, buf: &mut [u8], nonce: u64) -> usize {
        let Some(header) = buf.get_mut(..HEADER_LEN) else {
            return 0;
        };
        let Ok(header): Result<&mut [u8; HEADER_LEN], _> = header.try_into() else {
            return 0;
        };
        build_request(header, nonce);
        let mut aead_nonce = [0u8; MIN_NONCE_LEN];
        aead_nonce[..8].copy_from_slice(&nonce.to_be_bytes());
        aead_nonce[8..].copy_from_slice(&self.salt);
        let mut w = FieldWriter::new(buf, HEADER_LEN);
        let ok = w
            .push(UNIQUE_IDENTIFIER, &unique_id(self.salt, nonce))
            .and_then(|()| w.push(NTS_COOKIE, &self.cookie))
            .and_then(|()| w.push_authenticator(&self.keys.c2s, &aead_nonce, &[], 0));
        match ok {
            Ok(()) => w.len(),
            Err(_) => 0,
        }
    }

    /// Verifies an answer's NTS part: the Unique Identifier of the request its origin
    /// names, and the authenticator under S2C. An NTS NAK (stratum 0, no
    /// authenticator) is a kiss.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), Bad> {
        let packet = Packet::new_checked(bytes).map_err(|_| Bad::Malformed)?;
        if packet.stratum() == 0 {
            return Err(Bad::Kiss);
        }
        let origin = packet.origin_timestamp().to_bits();
        let fields = NtsFields::parse(bytes).map_err(|_| Bad::NtsUnverified)?;
        if fields.unique_id != Some(&unique_id(self.salt, origin)[..]) {
            return Err(Bad::NtsUnverified);
        }
        let (auth_at, auth) = fields.authenticator.ok_or(Bad::NtsUnverified)?;
        let ad = bytes.get(..auth_at).ok_or(Bad::NtsUnverified)?;
        let mut inner = [0u8; MAX_INNER_LEN];
        auth.open(&self.keys.s2c, ad, &mut inner)
            .map_err(|_| Bad::NtsUnverified)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use slew_core::nts::aead::AeadKey;
    use slew_core::nts::cookie::{CookieKeys, MasterKey, COOKIE_LEN};
    use slew_core::nts::ke_msg::{Cookie, KeOutcome};
    use slew_core::nts::server::check_request;

    use super::*;

    fn setup() -> (NtsLoad, CookieKeys) {
        let keys = SessionKeys {
            c2s: AeadKey::new([1; 32]),
            s2c: AeadKey::new([2; 32]),
        };
        let master = CookieKeys::new(MasterKey {
            id: 7,
            key: AeadKey::new([3; 32]),
        });
        let mut c = [0u8; COOKIE_LEN];
        master.seal(&keys, &[4; 16], &mut c).unwrap();
        let mut outcome = KeOutcome {
            cookies: Default::default(),
            server: None,
            port: None,
        };
        outcome
            .cookies
            .push(Cookie::from_slice(&c).unwrap())
            .unwrap();
        let jar = CookieJar::new(keys, &outcome);
        (NtsLoad::new(&jar, 0x5a5a).unwrap(), master)
    }

    /// The server's answer to `req`, from slew-core's NTS server path.
    fn answer(req: &[u8], master: &CookieKeys) -> Vec<u8> {
        let v = check_request(req, master).expect("the server accepts the request");
        let mut resp = vec![0u8; 1024];
        resp[..HEADER_LEN].copy_from_slice(&req[..HEADER_LEN]);
        resp[0] = 0x24; // LI 0, version 4, mode 4
        resp[1] = 2;
        resp.copy_within(40..48, 24);
        let n = v
            .write_response(req, &mut resp, master, &mut |b| b.fill(9))
            .unwrap();
        resp.truncate(n);
        resp
    }

    #[test]
    fn requests_verify_at_the_server_and_only_true_answers_count() {
        let (load, master) = setup();
        let mut a = [0u8; 1024];
        let mut b = [0u8; 1024];
        let na = load.build(&mut a, 0x1111_2222_3333_4444);
        let nb = load.build(&mut b, 0x1111_2222_3333_4445);
        assert!(na > HEADER_LEN && na == nb);
        // Fresh Unique Identifiers, same cookie.
        assert_ne!(a[..na], b[..nb]);
        let ra = answer(&a[..na], &master);
        assert_eq!(ra.len(), na, "one cookie back: as long as the request");
        assert_eq!(load.verify(&ra), Ok(()));
        let rb = answer(&b[..nb], &master);
        assert_eq!(load.verify(&rb), Ok(()));

        // A damaged answer does not verify.
        let mut bad = ra.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(load.verify(&bad), Err(Bad::NtsUnverified));
        // Nor one whose origin names another request than its Unique Identifier.
        let mut swapped = ra.clone();
        swapped[24..32].copy_from_slice(&rb[24..32]);
        assert_eq!(load.verify(&swapped), Err(Bad::NtsUnverified));
        // A plain (unauthenticated) answer is not an NTS answer.
        assert_eq!(load.verify(&ra[..HEADER_LEN]), Err(Bad::NtsUnverified));
        // A forged request is refused by the server: our C2S matters.
        let mut forged = a;
        forged[na - 1] ^= 1;
        assert!(check_request(&forged[..na], &master).is_err());
    }
}
