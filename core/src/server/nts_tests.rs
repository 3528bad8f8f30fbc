//! The NTS hook on the server's answer path: verified requests get authenticated
//! time, bad cookies a NAK, malformed NTS requests nothing, each counted; no answer is
//! ever longer than its request.
use std::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::nts::ext::{COOKIE_PLACEHOLDER, NTS_COOKIE, UNIQUE_IDENTIFIER};
use crate::nts::jar::{CookieJar, ResponseError};
use crate::nts::testkit::{jar, master, server_keys};
use crate::nts::NTS_NAK;
use crate::time::NtpDuration;
use crate::wire::RefId;

const RX: NtpTimestamp = NtpTimestamp::from_parts(1000, 0);
const TX: NtpTimestamp = NtpTimestamp::from_parts(1000, 0x1000);
const ORIGIN: NtpTimestamp = NtpTimestamp::from_parts(77, 0x55);

fn synced() -> SystemVars {
    SystemVars {
        leap: LeapIndicator::NoWarning,
        stratum: 2,
        precision: -23,
        root_delay: NtpDuration::from_seconds_f64(0.01),
        root_dispersion: NtpDuration::from_seconds_f64(0.02),
        ref_id: RefId::from_bytes([127, 0, 0, 2]),
        reference_time: NtpTimestamp::from_parts(999, 0),
        poll: crate::PollInterval::from_log2(6),
    }
}

fn nts_server() -> Server {
    let mut s = Server::new();
    s.set_nts_keys(server_keys(), [7; 16]);
    s
}

/// A client header, then the jar's NTS fields.
fn request(jar: &mut CookieJar, uid: u8) -> Vec<u8> {
    let mut buf = [0u8; 1024];
    Repr::client_request(ORIGIN, 6).emit(&mut Packet::new_unchecked(&mut buf[..]));
    let n = jar
        .write_request(&mut buf, [uid; 32], [uid ^ 0xff; 16])
        .unwrap();
    buf[..n].to_vec()
}

/// The bytes sent for `req`, and their kind.
fn serve(server: &mut Server, req: &[u8]) -> Result<(Vec<u8>, ResponseKind), DropReason> {
    let mut out = [0u8; 1024];
    let p = server.respond(req, RX, &synced(), &mut out)?;
    let kind = p.kind();
    Ok((p.finish(&mut out, TX).to_vec(), kind))
}

/// A field of type `t` with `body` appended to a packet (its length field true).
fn push_field(v: &mut Vec<u8>, t: u16, body: &[u8]) {
    v.extend_from_slice(&t.to_be_bytes());
    v.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    v.extend_from_slice(body);
}

#[test]
fn a_verified_request_gets_authenticated_time_no_longer_than_the_request() {
    let mut server = nts_server();
    let mut jar = jar(&server_keys(), 8);
    let req = request(&mut jar, 1);
    let (resp, kind) = serve(&mut server, &req).unwrap();
    assert_eq!(kind, ResponseKind::Nts);
    assert_eq!(resp.len(), req.len());
    let p = Packet::new_checked(&resp[..]).unwrap();
    assert_eq!(p.mode(), Mode::Server);
    assert_eq!(p.stratum(), 2);
    assert_eq!(p.origin_timestamp(), ORIGIN);
    // The transmit timestamp was written before the seal: the jar verifies the
    // header as sent, so a header finished after sealing would be Forged here.
    assert_eq!(p.transmit_timestamp(), TX);
    assert_eq!(jar.read_response(&resp), Ok(1));
    assert_eq!(jar.cookies(), 8);
    let st = server.stats().nts;
    assert_eq!((st.served, st.cookies_issued, st.naks), (1, 1, 0));
    assert_eq!(server.stats().answered, 1);
}

#[test]
fn placeholders_are_answered_with_as_many_cookies() {
    let mut server = nts_server();
    let mut jar = jar(&server_keys(), 5);
    // 5 cookies: this request spends one and carries 3 placeholders.
    let req = request(&mut jar, 2);
    let (resp, _) = serve(&mut server, &req).unwrap();
    assert!(resp.len() <= req.len());
    assert_eq!(jar.read_response(&resp), Ok(3 + 1));
    assert_eq!(jar.cookies(), 8);
}

#[test]
fn the_transmit_timestamp_is_authenticated() {
    let mut server = nts_server();
    let mut jar = jar(&server_keys(), 8);
    let req = request(&mut jar, 3);
    let (mut resp, _) = serve(&mut server, &req).unwrap();
    resp[47] ^= 1;
    assert_eq!(jar.read_response(&resp), Err(ResponseError::Forged));
}

#[test]
fn a_cookie_from_an_unknown_key_gets_a_nak() {
    let mut server = nts_server();
    let mut jar = jar(&server_keys(), 8);
    // Two rotations: key 1 is neither current nor previous.
    assert!(server.rotate_nts_key(master(2, 0x34)));
    let req = request(&mut jar, 4);
    // After one rotation it still opens.
    assert_eq!(serve(&mut server, &req).unwrap().1, ResponseKind::Nts);
    assert!(server.rotate_nts_key(master(3, 0x35)));
    let req = request(&mut jar, 5);
    let (resp, kind) = serve(&mut server, &req).unwrap();
    assert_eq!(kind, ResponseKind::NtsNak);
    assert!(resp.len() < req.len());
    let p = Packet::new_checked(&resp[..]).unwrap();
    assert_eq!((p.stratum(), p.ref_id()), (0, NTS_NAK));
    assert_eq!(
        p.transmit_timestamp(),
        NtpTimestamp::ZERO,
        "a NAK carries no time"
    );
    assert_eq!(jar.read_response(&resp), Err(ResponseError::Nak));
    assert!(jar.needs_key_exchange().is_some());
    let st = server.stats().nts;
    assert_eq!((st.naks, st.nak_unknown_key, st.served), (1, 1, 1));
}

#[test]
fn a_forged_authenticator_gets_a_nak() {
    let mut server = nts_server();
    let mut jar = jar(&server_keys(), 8);
    let mut req = request(&mut jar, 6);
    let last = req.len() - 1;
    req[last - 20] ^= 0x80; // inside the authenticator's ciphertext
    let (_, kind) = serve(&mut server, &req).unwrap();
    assert_eq!(kind, ResponseKind::NtsNak);
    assert_eq!(server.stats().nts.nak_forged, 1);
}

#[test]
fn malformed_nts_requests_are_dropped_and_counted() {
    let mut server = nts_server();
    let header = {
        let mut b = [0u8; 48];
        Repr::client_request(ORIGIN, 6).emit(&mut Packet::new_unchecked(&mut b[..]));
        b.to_vec()
    };
    // A Unique Identifier alone: no cookie.
    let mut only_uid = header.clone();
    push_field(&mut only_uid, UNIQUE_IDENTIFIER, &[9; 32]);
    // A cookie alone: no Unique Identifier.
    let mut only_cookie = header.clone();
    push_field(&mut only_cookie, NTS_COOKIE, &[9; 104]);
    // A field whose length says zero, and one whose length runs past the end.
    let mut zero = header.clone();
    zero.extend_from_slice(&[0x01, 0x04, 0, 0]);
    zero.extend_from_slice(&[0; 28]);
    let mut oversized = header.clone();
    oversized.extend_from_slice(&[0x01, 0x04, 0x04, 0x00]);
    oversized.extend_from_slice(&[0; 28]);
    for req in [&only_uid, &only_cookie] {
        assert_eq!(serve(&mut server, req), Err(DropReason::NtsInvalid));
    }
    for req in [&zero, &oversized] {
        assert!(serve(&mut server, req).is_err(), "answered {req:?}");
    }
    let st = server.stats().nts;
    assert_eq!(st.dropped_no_cookie, 1);
    assert_eq!(st.dropped_no_unique_id, 1);
    assert_eq!(st.served + st.naks, 0);
    assert_eq!(server.stats().answered, 0);
}

#[test]
fn more_placeholders_than_allowed_give_eight_cookies_and_no_amplification() {
    let mut server = nts_server();
    let mut jar = jar(&server_keys(), 8);
    let mut req = request(&mut jar, 7);
    // Insert 12 extra placeholders before the authenticator: the MAC over them
    // fails, so build the request by hand with the jar's keys instead.
    let fields = crate::nts::ext::NtsFields::parse(&req).unwrap();
    let (auth_at, _) = fields.authenticator.unwrap();
    req.truncate(auth_at);
    for _ in 0..12 {
        push_field(&mut req, COOKIE_PLACEHOLDER, &[0; 104]);
    }
    let mut buf = [0u8; 2048];
    buf[..req.len()].copy_from_slice(&req);
    let mut w = crate::nts::ext::FieldWriter::new(&mut buf, req.len());
    w.push_authenticator(&crate::nts::testkit::session().c2s, &[1; 16], &[], 0)
        .unwrap();
    let n = w.len();
    let req = buf[..n].to_vec();
    let (resp, kind) = serve(&mut server, &req).unwrap();
    assert_eq!(kind, ResponseKind::Nts);
    assert!(resp.len() <= req.len());
    assert_eq!(server.stats().nts.cookies_issued, 8);
}

#[test]
fn without_keys_an_nts_request_gets_the_ordinary_answer() {
    let mut server = Server::new();
    let mut jar = jar(&server_keys(), 8);
    let req = request(&mut jar, 8);
    let (resp, kind) = serve(&mut server, &req).unwrap();
    assert_eq!((kind, resp.len()), (ResponseKind::Time, 48));
    // Which an NTS client refuses: no authenticator.
    assert_eq!(
        jar.read_response(&resp),
        Err(ResponseError::UniqueId),
        "an unauthenticated answer must not pass the jar"
    );
}

#[test]
fn nonces_differ_between_answers() {
    let mut server = nts_server();
    let mut jar = jar(&server_keys(), 8);
    let a = serve(&mut server, &request(&mut jar, 9)).unwrap().0;
    let b = serve(&mut server, &request(&mut jar, 9)).unwrap().0;
    // Same request bytes (same uid, nonce, and a cookie sealed the same way would
    // differ anyway); the answers' nonces come from the seeded generator.
    assert_ne!(a[48 + 36..48 + 36 + 20], b[48 + 36..48 + 36 + 20]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever is done to a genuine request (bytes flipped, cut, placeholders
    /// lost), the answer is never longer than it.
    #[test]
    fn no_answer_is_longer_than_its_request(
        cookies in 1usize..=8,
        flip in proptest::option::of((0usize..1024, 0u8..8)),
        cut in proptest::option::of(0usize..1024),
    ) {
        let mut server = nts_server();
        let mut jar = jar(&server_keys(), cookies);
        let mut req = request(&mut jar, 10);
        if let Some((at, bit)) = flip {
            let at = at % req.len();
            req[at] ^= 1 << bit;
        }
        if let Some(cut) = cut {
            req.truncate(cut.min(req.len()));
        }
        if let Ok((resp, _)) = serve(&mut server, &req) {
            prop_assert!(resp.len() <= req.len(), "{} > {}", resp.len(), req.len());
        }
    }
}
