//! The time path without restrictions: fields, versions, drops by reason.
use super::*;
use crate::time::NtpDuration;
use crate::wire::RefId;

fn request(version: u8, mode: u8, transmit: u64) -> [u8; 48] {
    let mut b = [0u8; 48];
    b[0] = (version << 3) | mode;
    b[2] = 6; // poll 64 s
    b[40..48].copy_from_slice(&transmit.to_be_bytes());
    b
}

fn synced() -> SystemVars {
    SystemVars {
        leap: LeapIndicator::NoWarning,
        stratum: 3,
        precision: -23,
        root_delay: NtpDuration::from_seconds_f64(0.25),
        root_dispersion: NtpDuration::from_seconds_f64(0.5),
        ref_id: RefId::from_bytes([127, 0, 0, 2]),
        reference_time: NtpTimestamp::from_parts(1000, 0),
        poll: crate::PollInterval::from_log2(6),
    }
}

#[test]
fn client_request_becomes_server_response() {
    let mut server = Server::new();
    let req = request(4, 3, 0x1122_3344_5566_7788);
    let rx = NtpTimestamp::from_parts(1000, 0);
    let tx = NtpTimestamp::from_parts(1000, 0x1000);
    let mut buf = [0u8; 64];
    let pending = server.respond(&req, rx, &synced(), &mut buf).unwrap();
    assert_eq!(pending.len(), 48);
    let out = pending.finish(&mut buf, tx);
    let p = Packet::new_checked(out).unwrap();
    assert_eq!(p.mode(), Mode::Server);
    assert_eq!(p.version(), 4);
    assert_eq!(p.stratum(), 3);
    assert_eq!(p.poll(), 6);
    assert_eq!(p.precision(), -23);
    assert_eq!(p.leap(), LeapIndicator::NoWarning);
    assert_eq!(p.ref_id(), RefId::from_bytes([127, 0, 0, 2]));
    assert_eq!(p.origin_timestamp().to_bits(), 0x1122_3344_5566_7788);
    assert_eq!(p.receive_timestamp(), rx);
    assert_eq!(p.transmit_timestamp(), tx);
    assert_eq!(p.reference_timestamp(), NtpTimestamp::from_parts(1000, 0));
    assert_eq!(p.root_delay().to_bits(), 0x0000_4000);
    assert_eq!(p.root_dispersion().to_bits(), 0x0000_8000);
    assert_eq!(server.stats().answered, 1);
}

#[test]
fn version_is_echoed() {
    for v in 1..=4u8 {
        let mut server = Server::new();
        let mode = if v == 1 { 0 } else { 3 };
        let mut buf = [0u8; 48];
        let p = server
            .respond(
                &request(v, mode, 1),
                NtpTimestamp::ZERO,
                &synced(),
                &mut buf,
            )
            .unwrap();
        let out = p.finish(&mut buf, NtpTimestamp::ZERO);
        assert_eq!(out[0] >> 3 & 7, v);
        assert_eq!(out[0] & 7, 4);
    }
}

#[test]
fn unsynchronized_answers_leap3_stratum16() {
    let mut server = Server::new();
    let mut buf = [0u8; 48];
    let sys = SystemVars::unsynchronized(-20);
    let p = server
        .respond(&request(4, 3, 9), NtpTimestamp::ZERO, &sys, &mut buf)
        .unwrap();
    let out = p.finish(&mut buf, NtpTimestamp::ZERO);
    assert_eq!(out[0] >> 6, 3);
    assert_eq!(out[1], 16);
}

#[test]
fn response_never_larger_than_request() {
    let mut server = Server::new();
    // A request with a 20-byte MAC trailer (52+16): still a 48-byte answer.
    let mut req = [0u8; 68];
    req[..48].copy_from_slice(&request(4, 3, 5));
    req[48..52].copy_from_slice(&7u32.to_be_bytes());
    let mut buf = [0u8; 128];
    let p = server
        .respond(&req, NtpTimestamp::ZERO, &synced(), &mut buf)
        .unwrap();
    assert!(p.len() <= req.len());
}

#[test]
fn drops_are_counted_by_reason() {
    let mut server = Server::new();
    let sys = synced();
    let mut buf = [0u8; 48];
    let mut kod = request(4, 4, 1);
    kod[0] |= 0xC0;
    kod[1] = 0;
    kod[12..16].copy_from_slice(b"RATE");
    let cases: [(&[u8], DropReason); 8] = [
        (&[0u8; 47], DropReason::Truncated),
        (&request(0, 3, 1), DropReason::BadVersion),
        (&request(5, 3, 1), DropReason::BadVersion),
        (&request(4, 0, 1), DropReason::ModeReserved),
        (&request(4, 4, 1), DropReason::ModeServer),
        (&kod, DropReason::KissOfDeath),
        (&request(4, 1, 1), DropReason::ModeUnsupported),
        (&request(2, 6, 1), DropReason::Control),
    ];
    for (bytes, reason) in cases {
        let before = server.stats().dropped_for(reason);
        let got = server.respond(bytes, NtpTimestamp::ZERO, &sys, &mut buf);
        assert_eq!(got.unwrap_err(), reason, "{reason:?}");
        assert_eq!(server.stats().dropped_for(reason), before + 1, "{reason:?}");
    }
    assert_eq!(server.stats().answered, 0);
    assert_eq!(server.stats().dropped_total(), 8);
    // ntpq's 12-byte control request is handed on as control, not called truncated.
    let ntpq: [u8; 12] = [0xd6, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    let got = server.respond(&ntpq, NtpTimestamp::ZERO, &sys, &mut buf);
    assert_eq!(got.unwrap_err(), DropReason::Control);
    // A buffer too small is a drop, not a panic.
    let mut tiny = [0u8; 10];
    let got = server.respond(&request(4, 3, 1), NtpTimestamp::ZERO, &sys, &mut tiny);
    assert_eq!(got.unwrap_err(), DropReason::NoBuffer);
}
