//! Hostile NTS extension fields: arbitrary packets through the field parsers, the
//! server's request check and the client's response check (no panic; a server answer
//! is never longer than its request); and a genuine request with input-chosen byte
//! edits through the server (no panic; whatever still verifies gets an answer no
//! longer than the request, which the client's jar reads without panicking).
#![no_main]

use libfuzzer_sys::fuzz_target;
use slew_core::nts::aead::AeadKey;
use slew_core::nts::cookie::{CookieKeys, MasterKey, COOKIE_LEN};
use slew_core::nts::ext::{Authenticator, InnerFields, NtsFields};
use slew_core::nts::jar::CookieJar;
use slew_core::nts::ke_msg::{Cookie, KeOutcome};
use slew_core::nts::server::{check_request, write_nak};
use slew_core::nts::SessionKeys;
use slew_core::wire::{Packet, HEADER_LEN};

fn session() -> SessionKeys {
    SessionKeys {
        c2s: AeadKey::new([1; 32]),
        s2c: AeadKey::new([2; 32]),
    }
}

fn setup() -> (CookieKeys, CookieJar) {
    let keys = CookieKeys::new(MasterKey {
        id: 9,
        key: AeadKey::new([3; 32]),
    });
    let mut outcome = KeOutcome {
        cookies: heapless::Vec::new(),
        server: None,
        port: None,
    };
    for n in 0..8u8 {
        let mut c = [0u8; COOKIE_LEN];
        keys.seal(&session(), &[n; 16], &mut c).expect("seal");
        outcome
            .cookies
            .push(Cookie::from_slice(&c).expect("fits"))
            .expect("room");
    }
    (keys, CookieJar::new(session(), &outcome))
}

/// The server's whole answer path on `request`; checks the size rule.
fn serve(request: &[u8], keys: &CookieKeys) -> Option<Vec<u8>> {
    let mut response = vec![0u8; request.len().max(HEADER_LEN)];
    response[0] = 0x24; // v4, server
    match check_request(request, keys) {
        Ok(v) => {
            let mut n = 0u8;
            let len = v
                .write_response(request, &mut response, keys, &mut |b| {
                    for x in b {
                        n = n.wrapping_add(1);
                        *x = n;
                    }
                })
                .ok()?;
            assert!(
                len <= request.len(),
                "response {len} > request {}",
                request.len()
            );
            response.truncate(len);
            Some(response)
        }
        Err(e) => {
            if e.wants_nak() {
                if let Some(len) = write_nak(request, &mut response) {
                    assert!(
                        len <= request.len(),
                        "NAK {len} > request {}",
                        request.len()
                    );
                }
            }
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (keys, mut jar) = setup();

    // 1. The input as a packet.
    if Packet::new_checked(data).is_ok() {
        if let Ok(fields) = NtsFields::parse(data) {
            if let Some((at, _)) = fields.authenticator {
                assert!(at >= HEADER_LEN && at < data.len());
            }
        }
    }
    for field in Packet::new_unchecked(data).extensions() {
        let _ = Authenticator::parse(field.value());
    }
    for item in InnerFields::new(data) {
        let _ = item;
    }
    let _ = serve(data, &keys);

    // 2. A genuine request, edited: (offset, xor) pairs from the input.
    let mut request = [0u8; 1024];
    request[0] = 0x23; // v4, client
    let Ok(len) = jar.write_request(&mut request, [0x44; 32], [0x55; 16]) else {
        return;
    };
    let mut request = request[..len].to_vec();
    for pair in data.chunks_exact(3) {
        let at = usize::from(u16::from_be_bytes([pair[0], pair[1]])) % len;
        request[at] ^= pair[2];
    }
    if let Some(response) = serve(&request, &keys) {
        let _ = jar.read_response(&response);
    }
    // And the client's check on the input as a response to that request.
    let _ = jar.read_response(data);
});
