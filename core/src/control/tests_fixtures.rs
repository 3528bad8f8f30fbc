//! Fixtures shared by the responder's test modules: golden requests captured from
//! the real tools (see `capture-requests.py`), a system and a peer snapshot, and
//! helpers that collect and read a response's fragments.

use std::string::String;
use std::vec::Vec;

use super::*;
use crate::time::NtpTimestamp;
use crate::wire::control::ControlPacket;
use crate::wire::RefId;
use core::net::{IpAddr, Ipv4Addr};

/// ntpsec's `ntpq -p`, first query: READSTAT, association 0, version 2, sequence 1
/// (ntpq puts LI = 3 in its requests).
pub(super) const NTPQ_READSTAT: [u8; 12] = [
    0xd6, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];
/// `ntpq -p`, second query: READVAR for association 1 with no names (all variables).
pub(super) const NTPQ_READVAR_ASSOC1: [u8; 12] = [
    0xd6, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
];
/// `ntpq -c rv`: READVAR for association 0 with no names.
pub(super) const NTPQ_RV: [u8; 12] = [
    0xd6, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];
/// `ntpq -c "rv 0 stratum,refid"`: 13 bytes of names, padded to 28.
pub(super) const NTPQ_RV_NAMES: &[u8] =
    b"\xd6\x02\x00\x02\x00\x00\x00\x00\x00\x00\x00\x0dstratum,refid\x00\x00\x00";
/// `ntpq -c mrulist` starts with REQ_NONCE.
pub(super) const NTPQ_REQ_NONCE: [u8; 12] = [
    0xd6, 0x0c, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// Debian's C `ntpstat`: READVAR, version 2, sequence 1, association 0, sent as its
/// whole 576-byte struct (header + zeroed payload, count 0).
pub(super) fn ntpstat_request() -> [u8; 576] {
    let mut r = [0u8; 576];
    r[..4].copy_from_slice(&[0x16, 0x02, 0x00, 0x01]);
    r
}

pub(super) fn sys() -> SystemSnapshot<'static> {
    SystemSnapshot {
        version: "slew 0.1.0",
        processor: "x86_64",
        system: "Linux/6.1.0",
        leap: 0,
        clock_source: ClockSource::Local,
        event_count: 1,
        last_event: sys_event::CLOCK_SYNC,
        stratum: 11,
        precision: -20,
        root_delay_s: 0.0,
        root_dispersion_s: 0.010_5,
        refid: RefId::LOCL,
        refid_kind: RefIdKind::Code,
        reference_time: NtpTimestamp::from_parts(0xe9a0_0000, 0x8000_0000),
        clock: NtpTimestamp::from_parts(0xe9a0_0010, 0),
        peer: 1,
        tc: 6,
        mintc: 3,
        offset_s: 0.0,
        frequency_ppm: 0.0,
        sys_jitter_s: 0.0,
        clk_jitter_s: 0.0,
        clk_wander_ppm: 0.0,
        state: 4,
    }
}

pub(super) fn local_peer() -> PeerVars {
    PeerVars {
        association_id: 1,
        srcadr: IpAddr::V4(Ipv4Addr::new(127, 127, 1, 0)),
        srcport: 123,
        srchost: Some(bounded_text("LOCAL(0)")),
        status: PeerStatus {
            configured: true,
            reachable: true,
            select: 6,
            event_count: 1,
            last_event: peer_event::REACHABLE,
            ..PeerStatus::default()
        },
        leap: 0,
        stratum: 10,
        precision: -20,
        root_delay_ms: 0.0,
        root_dispersion_ms: 0.0,
        refid: RefId::LOCL,
        refid_kind: RefIdKind::Code,
        reference_time: NtpTimestamp::from_parts(0xe9a0_0000, 0),
        received: NtpTimestamp::from_parts(0xe9a0_0000, 0),
        reach: 0xff,
        hmode: host_mode::CLIENT,
        hpoll: 6,
        ppoll: 6,
        offset_ms: 0.0,
        delay_ms: 0.0,
        dispersion_ms: 0.95,
        jitter_ms: 0.0,
        reason: ReasonText::new(),
        nts: None,
    }
}

/// Every datagram of the response.
pub(super) fn respond(req: &[u8], sys: &SystemSnapshot<'_>, peers: &[PeerVars]) -> Vec<Vec<u8>> {
    let mut r = Responder::new(req, sys, peers).expect("answered");
    let mut out = Vec::new();
    let mut buf = [0u8; CONTROL_MAX_PACKET];
    while let Some(n) = r.next_fragment(&mut buf) {
        out.push(buf[..n].to_vec());
        assert!(out.len() < 100, "runaway fragments");
    }
    out
}

pub(super) fn text(frags: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for f in frags {
        let p = ControlPacket::new_checked(&f[..]).expect("valid fragment");
        s.push_str(core::str::from_utf8(p.data()).expect("ascii"));
    }
    s
}

pub(super) fn error_of(frags: &[Vec<u8>]) -> (u8, u8) {
    assert_eq!(frags.len(), 1);
    let f = &frags[0];
    assert_eq!(f.len(), 12, "errors carry no data");
    (f[1], f[4])
}

/// A request: header (version 2, sequence 7, association 0), data padded to 4.
pub(super) fn request(opcode: u8, data: &[u8]) -> Vec<u8> {
    let mut r = std::vec![0x16, opcode, 0, 7, 0, 0, 0, 0, 0, 0];
    r.extend_from_slice(&(data.len() as u16).to_be_bytes());
    r.extend_from_slice(data);
    while r.len() % 4 != 0 {
        r.push(0);
    }
    r
}

pub(super) fn respond_x(req: &[u8], x: &Extras<'_>) -> Option<Vec<Vec<u8>>> {
    let sys = sys();
    let peers = [local_peer()];
    let mut r = Responder::with_extras(req, &sys, &peers, x)?;
    let mut out = Vec::new();
    let mut buf = [0u8; CONTROL_MAX_PACKET];
    while let Some(n) = r.next_fragment(&mut buf) {
        out.push(buf[..n].to_vec());
        assert!(out.len() <= 130, "runaway fragments");
    }
    Some(out)
}

/// `name=value` pairs of a text response, in order.
pub(super) fn pairs(frags: &[Vec<u8>]) -> Vec<(String, String)> {
    text(frags)
        .split(',')
        .filter_map(|i| {
            let (k, v) = i.trim().split_once('=')?;
            Some((k.trim().into(), v.trim().into()))
        })
        .collect()
}

pub(super) fn rv_x(names: &[&str], x: &Extras<'_>) -> Vec<(String, String)> {
    let frags = respond_x(&request(2, names.join(",").as_bytes()), x).expect("answered");
    assert_eq!(frags[0][1] & 0x40, 0, "no error: {:?}", frags[0]);
    pairs(&frags)
}

pub(super) fn value(p: &[(String, String)], name: &str) -> String {
    p.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("{name} missing in {p:?}"))
}
