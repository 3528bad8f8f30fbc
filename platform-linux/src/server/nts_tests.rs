//! NTS on the batched server path: `drain` answers NTS requests through the core's
//! hook, with nothing NTS-specific here but the keys installed.
use super::*;
use slew_core::nts::aead::AeadKey;
use slew_core::nts::cookie::{CookieKeys, MasterKey, COOKIE_LEN};
use slew_core::nts::jar::CookieJar;
use slew_core::nts::ke::RecordDecoder;
use slew_core::nts::ke_msg::{write_accept, ResponseReader};
use slew_core::nts::SessionKeys;
use slew_core::wire::{Mode, Packet, Repr};
use slew_core::NtpTimestamp;
use std::time::Duration;

/// `CLOCK_REALTIME` itself, as a server thread reads it with no offset.
fn realtime() -> crate::server::publish::PublishedClock {
    crate::server::publish::PublishedClock(slew_core::NtpDuration::ZERO)
}

fn session() -> SessionKeys {
    SessionKeys {
        c2s: AeadKey::new([0x11; 32]),
        s2c: AeadKey::new([0x22; 32]),
    }
}

fn master_keys() -> CookieKeys {
    CookieKeys::new(MasterKey {
        id: 9,
        key: AeadKey::new([0x33; 32]),
    })
}

/// A jar as NTS-KE with this server would leave it: eight cookies sealed under
/// its master key, read by the client from the KE answer.
fn jar() -> CookieJar {
    let cookies: Vec<[u8; COOKIE_LEN]> = (0..8u8)
        .map(|i| {
            let mut c = [0u8; COOKIE_LEN];
            master_keys().seal(&session(), &[i; 16], &mut c).unwrap();
            c
        })
        .collect();
    let mut ke = [0u8; 2048];
    let n = write_accept(&mut ke, cookies.iter().map(|c| &c[..]), None, None).unwrap();
    let mut reader = ResponseReader::new();
    assert!(reader.feed(&mut RecordDecoder::new(), &ke[..n]).unwrap());
    CookieJar::new(session(), &reader.finish().unwrap())
}

#[test]
fn nts_requests_are_answered_in_a_batch_and_verify() {
    let mut server = TimeServer::bind(&["127.0.0.1:0".parse().unwrap()]).unwrap();
    server
        .core_server_mut()
        .set_nts_keys(master_keys(), [0x42; 16]);
    let to = server.local_addrs()[0];
    let client = NtpSocket::bind("127.0.5.1:0".parse().unwrap()).unwrap();
    // Four NTS requests from four jars (each waits for its own answer), and one
    // plain request, in one batch.
    let mut jars: Vec<CookieJar> = (0..4).map(|_| jar()).collect();
    for (i, j) in jars.iter_mut().enumerate() {
        let mut buf = [0u8; 1024];
        Repr::client_request(NtpTimestamp::from_bits(100 + i as u64), 6)
            .emit(&mut Packet::new_unchecked(&mut buf[..]));
        let n = j
            .write_request(&mut buf, [i as u8 + 1; 32], [i as u8; 16])
            .unwrap();
        client.send_to(&buf[..n], to).unwrap();
    }
    let mut plain = [0u8; 48];
    Repr::client_request(NtpTimestamp::from_bits(999), 6)
        .emit(&mut Packet::new_unchecked(&mut plain[..]));
    client.send_to(&plain, to).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let sys = SystemVars::unsynchronized(-20);
    server.publish(sys, LeapSchedule::NONE, &mut realtime());
    let handled = server.drain(0, 256, &mut realtime(), &mut |_, _, _| {});
    assert_eq!(handled, 5);
    let st = server.stats();
    assert_eq!((st.answered, st.nts.served), (5, 4));
    let mut buf = [0u8; 2048];
    let mut verified = 0;
    for _ in 0..5 {
        let mut got = None;
        for _ in 0..100 {
            if let Some(r) = client.recv(&mut buf).unwrap() {
                got = Some(r);
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let r = got.expect("an answer per request");
        let p = Packet::new_checked(&buf[..r.len]).unwrap();
        assert_eq!(p.mode(), Mode::Server);
        let origin = p.origin_timestamp().to_bits();
        if origin == 999 {
            assert_eq!(r.len, 48);
            continue;
        }
        // The transmit timestamp is written and authenticated.
        assert!(p.transmit_timestamp().to_bits() >= p.receive_timestamp().to_bits());
        let j = &mut jars[(origin - 100) as usize];
        assert_eq!(j.read_response(&buf[..r.len]), Ok(1));
        verified += 1;
    }
    assert_eq!(verified, 4);
}
