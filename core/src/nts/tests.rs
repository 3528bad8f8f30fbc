//! A client and a server entirely in the core: NTS-KE over an in-memory "TLS" stream
//! (split at arbitrary points), then NTS-protected NTP requests and responses, and
//! the forged, replayed and mutated variants each refused with its reason.

use std::vec::Vec;

use super::aead::AeadKey;
use super::cookie::{CookieKeys, MasterKey, COOKIE_LEN};
use super::ext::{NtsFields, COOKIE_PLACEHOLDER, UNIQUE_ID_LEN};
use super::jar::{CookieJar, RekeyReason, RequestError as JarRequestError, ResponseError};
use super::ke::{parse_record, Feed, RecordDecoder};
use super::ke_msg::{
    write_accept, write_request, RequestOutcome, RequestReader, ResponseReader, MAX_COOKIES,
};
use super::server::{check_request, write_nak, RequestError};
use super::{SessionKeys, NTS_NAK};
use crate::wire::{Mode, Packet, Repr, HEADER_LEN};
use crate::NtpTimestamp;

/// A deterministic byte source standing in for the caller's RNG.
struct Rng(u64);

impl Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (self.0 >> 33) as u8;
        }
    }
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0; N];
        self.fill(&mut a);
        a
    }
}

/// The keys both sides would export from the TLS session.
fn exported() -> SessionKeys {
    SessionKeys {
        c2s: AeadKey::new([0x11; 32]),
        s2c: AeadKey::new([0x22; 32]),
    }
}

fn master_keys() -> CookieKeys {
    CookieKeys::new(MasterKey {
        id: 1,
        key: AeadKey::new([0x33; 32]),
    })
}

/// NTS-KE between the two sides, the byte streams cut into `chunk`-byte pieces.
fn key_exchange(server_keys: &CookieKeys, rng: &mut Rng, chunk: usize) -> CookieJar {
    // Client -> server.
    let mut req = [0u8; 64];
    let n = write_request(&mut req).unwrap();
    let mut dec = RecordDecoder::new();
    let mut reader = RequestReader::new();
    for piece in req[..n].chunks(chunk) {
        let mut piece = piece;
        while let Feed::Ready { consumed } = dec.feed(piece).unwrap() {
            reader.record(dec.record().unwrap());
            piece = &piece[consumed..];
        }
    }
    assert!(reader.ended());
    assert_eq!(reader.finish(), RequestOutcome::Accept);
    // The server seals the exported keys into eight cookies.
    let cookies: Vec<[u8; COOKIE_LEN]> = (0..MAX_COOKIES)
        .map(|_| {
            let mut c = [0u8; COOKIE_LEN];
            server_keys.seal(&exported(), &rng.array(), &mut c).unwrap();
            c
        })
        .collect();
    let mut resp = [0u8; 2048];
    let n = write_accept(&mut resp, cookies.iter().map(|c| &c[..]), None, None).unwrap();
    // Server -> client.
    let mut dec = RecordDecoder::new();
    let mut reader = ResponseReader::new();
    let mut ended = false;
    for piece in resp[..n].chunks(chunk) {
        ended = reader.feed(&mut dec, piece).unwrap();
    }
    assert!(ended);
    let outcome = reader.finish().unwrap();
    assert_eq!(outcome.cookies.len(), MAX_COOKIES);
    CookieJar::new(exported(), &outcome)
}

fn client_request(jar: &mut CookieJar, rng: &mut Rng) -> Vec<u8> {
    let mut buf = [0u8; 1500];
    let repr = Repr::client_request(NtpTimestamp::from_bits(0x1234_5678_9abc_def0), 6);
    repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
    let n = jar
        .write_request(&mut buf, rng.array(), rng.array())
        .unwrap();
    buf[..n].to_vec()
}

/// The server's answer: header (mode 4) + NTS part, or a NAK.
fn serve(request: &[u8], keys: &CookieKeys, rng: &mut Rng) -> Result<Vec<u8>, RequestError> {
    let mut buf = [0u8; 4000];
    let mut repr = Repr::parse(&Packet::new_checked(request).unwrap()).unwrap();
    repr.mode = Mode::Server;
    repr.stratum = 2;
    repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
    match check_request(request, keys) {
        Ok(v) => {
            let n = v
                .write_response(request, &mut buf, keys, &mut |b| rng.fill(b))
                .unwrap();
            Ok(buf[..n].to_vec())
        }
        Err(e) => Err(e),
    }
}

#[test]
fn round_trip_keeps_the_jar_full() {
    let keys = master_keys();
    let mut rng = Rng(1);
    let mut jar = key_exchange(&keys, &mut rng, 7);
    for _ in 0..20 {
        let req = client_request(&mut jar, &mut rng);
        assert_eq!(jar.cookies(), MAX_COOKIES - 1);
        // One cookie and, from a full jar, no placeholder: one cookie back refills it.
        let f = NtsFields::parse(&req[..]).unwrap();
        assert_eq!((f.placeholders, f.placeholder_len), (0, Some(COOKIE_LEN)));
        let resp = serve(&req, &keys, &mut rng).unwrap();
        assert_eq!(
            resp.len(),
            req.len(),
            "response exactly as long as the request"
        );
        assert_eq!(jar.read_response(&resp), Ok(1));
        assert_eq!(jar.cookies(), MAX_COOKIES);
        assert_eq!(jar.needs_key_exchange(), None);
    }
}

#[test]
fn lost_responses_mean_more_placeholders() {
    let keys = master_keys();
    let mut rng = Rng(2);
    let mut jar = key_exchange(&keys, &mut rng, 1);
    for _ in 0..3 {
        client_request(&mut jar, &mut rng); // lost
    }
    assert_eq!(jar.cookies(), 5);
    let req = client_request(&mut jar, &mut rng);
    // Four cookies left after this one: three placeholders, four cookies wanted.
    assert_eq!(NtsFields::parse(&req[..]).unwrap().placeholders, 3);
    let resp = serve(&req, &keys, &mut rng).unwrap();
    assert_eq!(resp.len(), req.len());
    assert_eq!(jar.read_response(&resp), Ok(4));
    assert_eq!(jar.cookies(), MAX_COOKIES);
}

#[test]
fn out_of_cookies_wants_key_exchange() {
    let keys = master_keys();
    let mut rng = Rng(3);
    let mut jar = key_exchange(&keys, &mut rng, 100);
    for _ in 0..MAX_COOKIES {
        client_request(&mut jar, &mut rng);
    }
    assert_eq!(jar.needs_key_exchange(), Some(RekeyReason::OutOfCookies));
    let mut buf = [0u8; 1500];
    assert_eq!(
        jar.write_request(&mut buf, [0; 32], [0; 16]),
        Err(JarRequestError::NeedKeyExchange(RekeyReason::OutOfCookies))
    );
}

#[test]
fn unreachable_wants_key_exchange() {
    let keys = master_keys();
    let mut rng = Rng(4);
    let mut jar = key_exchange(&keys, &mut rng, 3);
    jar.unreachable();
    assert_eq!(jar.needs_key_exchange(), Some(RekeyReason::Unreachable));
    let mut buf = [0u8; 1500];
    assert!(matches!(
        jar.write_request(&mut buf, [0; 32], [0; 16]),
        Err(JarRequestError::NeedKeyExchange(RekeyReason::Unreachable))
    ));
}

#[test]
fn server_naks_a_cookie_it_cannot_open_and_the_client_rekeys() {
    let mut keys = master_keys();
    let mut rng = Rng(5);
    let mut jar = key_exchange(&keys, &mut rng, 5);
    // Two rotations later, the cookies' key is gone.
    keys.rotate(MasterKey {
        id: 2,
        key: AeadKey::new([0x44; 32]),
    });
    let req = client_request(&mut jar, &mut rng);
    assert!(
        serve(&req, &keys, &mut rng).is_ok(),
        "previous key still opens"
    );
    keys.rotate(MasterKey {
        id: 3,
        key: AeadKey::new([0x55; 32]),
    });
    let err = serve(&req, &keys, &mut rng).unwrap_err();
    assert_eq!(
        err,
        RequestError::Cookie(super::cookie::CookieError::UnknownKey(1))
    );
    assert!(err.wants_nak());
    let mut nak = [0u8; 1500];
    let mut repr = Repr::parse(&Packet::new_checked(&req[..]).unwrap()).unwrap();
    repr.mode = Mode::Server;
    repr.emit(&mut Packet::new_unchecked(&mut nak[..]));
    let n = write_nak(&req, &mut nak).unwrap();
    assert_eq!(n, HEADER_LEN + 4 + UNIQUE_ID_LEN);
    let p = Packet::new_checked(&nak[..n]).unwrap();
    assert_eq!((p.stratum(), p.ref_id()), (0, NTS_NAK));
    assert!(n <= req.len());
    assert_eq!(jar.read_response(&nak[..n]), Err(ResponseError::Nak));
    assert_eq!(jar.needs_key_exchange(), Some(RekeyReason::Nak));
    assert!(!jar.waiting());
}

#[test]
fn forged_replayed_and_mutated_responses_are_refused() {
    let keys = master_keys();
    let mut rng = Rng(6);
    let mut jar = key_exchange(&keys, &mut rng, 9);
    let req = client_request(&mut jar, &mut rng);
    let resp = serve(&req, &keys, &mut rng).unwrap();
    let auth_at = {
        NtsFields::parse(&resp[..])
            .unwrap()
            .authenticator
            .unwrap()
            .0
    };

    // Every header byte and every byte of the authenticator's nonce and ciphertext
    // is covered: a flipped bit anywhere is refused.
    for i in (0..HEADER_LEN).chain(auth_at + 8..resp.len()) {
        let mut bad = resp.clone();
        bad[i] ^= 0x01;
        let r = jar.read_response(&bad);
        assert!(
            matches!(
                r,
                Err(ResponseError::Forged | ResponseError::Field(_) | ResponseError::Wire(_))
            ),
            "byte {i}: {r:?}"
        );
    }
    // Another unique id.
    let mut bad = resp.clone();
    bad[HEADER_LEN + 4] ^= 1;
    assert_eq!(jar.read_response(&bad), Err(ResponseError::UniqueId));
    // The authenticator stripped: not a NAK (stratum 2), so missing.
    let stripped = &resp[..auth_at];
    assert_eq!(
        jar.read_response(stripped),
        Err(ResponseError::MissingAuthenticator)
    );
    // An unauthenticated NAK with another unique id does nothing.
    let mut fake_nak = stripped.to_vec();
    {
        let mut p = Packet::new_unchecked(&mut fake_nak[..]);
        p.set_stratum(0);
        p.set_ref_id(NTS_NAK);
    }
    fake_nak[HEADER_LEN + 4] ^= 1;
    assert_eq!(jar.read_response(&fake_nak), Err(ResponseError::UniqueId));
    // A response sealed under the wrong key (C2S instead of S2C).
    let wrong_key = {
        let mut b = resp[..auth_at].to_vec();
        b.resize(1500, 0);
        let mut w = super::ext::FieldWriter::new(&mut b, auth_at);
        w.push_authenticator(&exported().c2s, &[1; 16], &[], 0)
            .unwrap();
        let n = w.len();
        b.truncate(n);
        b
    };
    assert_eq!(jar.read_response(&wrong_key), Err(ResponseError::Forged));
    assert!(jar.waiting(), "refusals leave the request waiting");

    // The genuine response, once; then its replay.
    assert_eq!(jar.read_response(&resp), Ok(1));
    assert_eq!(jar.read_response(&resp), Err(ResponseError::NotWaiting));
    // An old response to a newer request: another unique id.
    let _req2 = client_request(&mut jar, &mut rng);
    assert_eq!(jar.read_response(&resp), Err(ResponseError::UniqueId));
}

#[test]
fn forged_and_mutated_requests_are_refused_with_their_reason() {
    let keys = master_keys();
    let mut rng = Rng(7);
    let mut jar = key_exchange(&keys, &mut rng, 11);
    let req = client_request(&mut jar, &mut rng);
    assert!(serve(&req, &keys, &mut rng).is_ok());
    let (uid_at, cookie_at, auth_at) = (HEADER_LEN, HEADER_LEN + 36, req.len() - 40);

    // A flipped bit in the header or the unique id (the AD): the authenticator fails,
    // NAK. In the cookie: the cookie fails, NAK.
    for i in (0..HEADER_LEN).chain(uid_at + 4..uid_at + 36) {
        let mut bad = req.clone();
        bad[i] ^= 0x80;
        let e = serve(&bad, &keys, &mut rng).unwrap_err();
        assert!(
            e == RequestError::Forged || matches!(e, RequestError::Wire(_)),
            "byte {i}: {e:?}"
        );
    }
    for i in cookie_at + 4..cookie_at + 4 + COOKIE_LEN {
        let mut bad = req.clone();
        bad[i] ^= 0x01;
        let e = serve(&bad, &keys, &mut rng).unwrap_err();
        assert!(matches!(e, RequestError::Cookie(_)), "byte {i}: {e:?}");
        assert!(e.wants_nak());
    }
    // The nonce and the tag.
    for i in auth_at + 8..req.len() {
        let mut bad = req.clone();
        bad[i] ^= 0x01;
        assert_eq!(
            serve(&bad, &keys, &mut rng),
            Err(RequestError::Forged),
            "byte {i}"
        );
    }
    // Missing pieces: dropped, no NAK.
    let mut no_auth = req[..auth_at].to_vec();
    assert_eq!(
        check_request(&no_auth, &keys),
        Err(RequestError::MissingAuthenticator)
    );
    no_auth.truncate(cookie_at);
    assert_eq!(
        check_request(&no_auth, &keys),
        Err(RequestError::MissingCookie)
    );
    assert!(!RequestError::MissingCookie.wants_nak());
    // A plain request is not NTS.
    assert_eq!(
        check_request(&req[..HEADER_LEN], &keys),
        Err(RequestError::NotNts)
    );
    // A replayed request verifies again (NTP requests are not replay-protected by NTS,
    // the client's unique id check is): the server stays stateless.
    assert!(serve(&req, &keys, &mut rng).is_ok());
}

#[test]
fn more_placeholders_than_allowed_get_eight_cookies_and_no_amplification() {
    let keys = master_keys();
    let mut rng = Rng(8);
    let mut jar = key_exchange(&keys, &mut rng, 13);
    let req = client_request(&mut jar, &mut rng);
    // Add 12 more placeholders before the authenticator and re-seal.
    let auth_at = req.len() - 40;
    let mut big = req[..auth_at].to_vec();
    big.resize(4000, 0);
    let mut w = super::ext::FieldWriter::new(&mut big, auth_at);
    for _ in 0..12 {
        w.push_zeros(COOKIE_PLACEHOLDER, COOKIE_LEN).unwrap();
    }
    w.push_authenticator(&exported().c2s, &[9; 16], &[], 0)
        .unwrap();
    let n = w.len();
    big.truncate(n);
    let v = check_request(&big, &keys).unwrap();
    assert_eq!(v.cookies_wanted(), MAX_COOKIES);
    let resp = serve(&big, &keys, &mut rng).unwrap();
    assert_eq!(resp.len(), big.len());
    // Exactly eight cookies inside the encryption.
    let (at, auth) = NtsFields::parse(&resp[..]).unwrap().authenticator.unwrap();
    let mut plain = [0u8; 2048];
    let inner = auth.open(&exported().s2c, &resp[..at], &mut plain).unwrap();
    let cookies = super::ext::InnerFields::new(inner)
        .filter(|f| matches!(f, Ok((super::ext::NTS_COOKIE, c)) if c.len() == COOKIE_LEN))
        .count();
    assert_eq!(cookies, MAX_COOKIES);
    // The jar had seven left and takes one.
    assert_eq!(
        jar.read_response(&resp),
        Ok(1),
        "the jar takes only what fits"
    );
    assert_eq!(jar.cookies(), MAX_COOKIES);

    // Placeholders without room in the request: no cookie beyond what fits, never a
    // longer response. A request with one cookie and no placeholders gets one back.
    let mut jar = key_exchange(&keys, &mut rng, 13);
    let req = client_request(&mut jar, &mut rng);
    let uid = NtsFields::parse(&req[..])
        .unwrap()
        .unique_id
        .unwrap()
        .to_vec();
    let cookie = NtsFields::parse(&req[..]).unwrap().cookie.unwrap().to_vec();
    let mut small = req[..HEADER_LEN].to_vec();
    small.resize(1500, 0);
    let mut w = super::ext::FieldWriter::new(&mut small, HEADER_LEN);
    w.push(super::ext::UNIQUE_IDENTIFIER, &uid).unwrap();
    w.push(super::ext::NTS_COOKIE, &cookie).unwrap();
    w.push_authenticator(&exported().c2s, &[9; 16], &[], 0)
        .unwrap();
    let n = w.len();
    small.truncate(n);
    let resp = serve(&small, &keys, &mut rng).unwrap();
    assert_eq!(resp.len(), small.len());
    assert_eq!(jar.read_response(&resp), Ok(1));
}

#[test]
fn placeholder_of_the_wrong_length_is_dropped() {
    let keys = master_keys();
    let mut rng = Rng(9);
    let mut jar = key_exchange(&keys, &mut rng, 13);
    let req = client_request(&mut jar, &mut rng);
    let auth_at = req.len() - 40;
    let mut bad = req[..auth_at].to_vec();
    bad.resize(2000, 0);
    let mut w = super::ext::FieldWriter::new(&mut bad, auth_at);
    w.push_zeros(COOKIE_PLACEHOLDER, COOKIE_LEN + 4).unwrap();
    w.push_authenticator(&exported().c2s, &[9; 16], &[], 0)
        .unwrap();
    let n = w.len();
    bad.truncate(n);
    assert_eq!(
        check_request(&bad, &keys),
        Err(RequestError::Field(
            super::ext::FieldError::PlaceholderLength
        ))
    );
}

#[test]
fn ke_records_parse_as_a_whole_too() {
    let mut req = [0u8; 64];
    let n = write_request(&mut req).unwrap();
    let mut rest = &req[..n];
    let mut count = 0;
    while !rest.is_empty() {
        let (_, after) = parse_record(rest).unwrap();
        rest = after;
        count += 1;
    }
    assert_eq!(count, 3);
}

/// The state a port keeps, in bytes (docs/nts.md quotes these).
#[test]
fn state_sizes() {
    use core::mem::size_of;
    let sizes = [
        ("CookieJar", size_of::<CookieJar>()),
        ("RecordDecoder", size_of::<RecordDecoder>()),
        ("ResponseReader", size_of::<ResponseReader>()),
        ("RequestReader", size_of::<RequestReader>()),
        ("CookieKeys", size_of::<CookieKeys>()),
    ];
    std::println!("{sizes:?}");
    // A jar is eight cookies of up to 256 bytes plus the keys and the waiting id.
    assert!(sizes[0].1 <= 8 * (256 + 8) + 2 * 32 + 64, "{sizes:?}");
    assert!(sizes[1].1 <= 1024 + 32, "{sizes:?}");
}
