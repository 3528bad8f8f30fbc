//! Hostile mode 6 requests through the control responder (what ntpq and ntpstat
//! talk to): no panic, every fragment a well-formed control response of at most
//! one maximum packet, and a bounded number of them. With the counters, kernel
//! state and a monitor list of 300 clients (READ_MRU, REQ_NONCE): the two bytes
//! `@N` in the input are replaced by a nonce valid for the fuzzer's client, so that
//! READ_MRU gets past the nonce check and its parameters are fuzzed too.
#![no_main]

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use libfuzzer_sys::fuzz_target;
use slew_core::control::{
    bounded_text, host_mode, mru, peer_event, sys_event, ClockSource, Extras, KernelState,
    MruContext, MruEntry, PeerStatus, PeerVars, RefIdKind, Responder, SystemSnapshot,
    CONTROL_MAX_PACKET,
};
use slew_core::wire::control::ControlPacket;
use slew_core::wire::RefId;
use slew_core::NtpTimestamp;

fuzz_target!(|data: &[u8]| {
    let sys = SystemSnapshot {
        version: "slew fuzz",
        processor: "x86_64",
        system: "Linux",
        leap: 0,
        clock_source: ClockSource::Ntp,
        event_count: 1,
        last_event: sys_event::CLOCK_SYNC,
        stratum: 3,
        precision: -20,
        root_delay_s: 0.01,
        root_dispersion_s: 0.02,
        refid: RefId::from_bytes([127, 0, 0, 2]),
        refid_kind: RefIdKind::Address,
        reference_time: NtpTimestamp::from_parts(0xe9a0_0000, 1),
        clock: NtpTimestamp::from_parts(0xe9a0_0010, 2),
        peer: 2,
        tc: 6,
        mintc: 3,
        offset_s: 1e-4,
        frequency_ppm: -12.5,
        sys_jitter_s: 1e-5,
        clk_jitter_s: 1e-6,
        clk_wander_ppm: 0.01,
        state: 4,
    };
    let peer = |id: u16, host: Option<&'static str>| PeerVars {
        association_id: id,
        srcadr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, id as u8)),
        srcport: 123,
        srchost: host.map(bounded_text),
        status: PeerStatus {
            configured: true,
            reachable: true,
            select: 4,
            event_count: 1,
            last_event: peer_event::REACHABLE,
            ..PeerStatus::default()
        },
        leap: 0,
        stratum: 2,
        precision: -20,
        root_delay_ms: 1.0,
        root_dispersion_ms: 2.0,
        refid: RefId::from_bytes([10, 0, 0, 1]),
        refid_kind: RefIdKind::Address,
        reference_time: NtpTimestamp::from_parts(0xe9a0_0000, 0),
        received: NtpTimestamp::from_parts(0xe9a0_0001, 0),
        reach: 0o377,
        hmode: host_mode::CLIENT,
        hpoll: 6,
        ppoll: 6,
        offset_ms: -0.2,
        delay_ms: 0.3,
        dispersion_ms: 1.0,
        jitter_ms: 0.05,
        reason: bounded_text("outlier"),
        nts: None,
    };
    let peers = [peer(1, Some("LOCAL(0)")), peer(2, None), peer(3, Some("ntp.example"))];
    respond(data, Responder::new(data, &sys, &peers));

    // The same request with the extras, a monitor list and a valid nonce for `@N`.
    let client = SocketAddr::from(([127, 0, 0, 9], 40000));
    let now = NtpTimestamp::from_parts(0xe9a0_0100, 0);
    let key = [7u8; 16];
    let nonce = mru::nonce(&key, client, now);
    let mut req = [0u8; 2048];
    let mut len = 0;
    let mut i = 0;
    while i < data.len() && len + 24 <= req.len() {
        if data[i..].starts_with(b"@N") {
            req[len..len + 24].copy_from_slice(&nonce);
            len += 24;
            i += 2;
        } else {
            req[len] = data[i];
            len += 1;
            i += 1;
        }
    }
    let entries: Vec<MruEntry> = (0..300u32)
        .map(|n| MruEntry {
            addr: if n % 3 == 0 {
                SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, n as u16], 123))
            } else {
                SocketAddr::from(([10, 0, (n >> 8) as u8, n as u8], 50000))
            },
            first: NtpTimestamp::from_parts(0xe9a0_0000 + n, 0),
            last: NtpTimestamp::from_parts(0xe9a0_0000 + n, 0xffff_ffff),
            count: u32::MAX - n,
            mode_version: 0x23,
            restrict: 0x2460,
            score: f64::from(n) * 1.5,
            dropped: u32::MAX,
        })
        .collect();
    let extras = Extras {
        sys_peer: Some(client),
        sys_peer_mode: 3,
        root_distance_s: 0.03,
        kernel: KernelState {
            status: -1,
            shift: 99,
            offset: i64::MIN,
            freq: i64::MAX,
            maxerror: i64::MAX,
            jitter: i64::MIN,
            ..KernelState::default()
        },
        mru: Some(MruContext {
            entries: &entries,
            nonce_key: key,
            client,
            received: now,
            allowed: data.first() != Some(&0xff),
        }),
        ..Extras::NONE
    };
    let req = &req[..len];
    respond(req, Responder::with_extras(req, &sys, &peers, &extras));
});

fn respond(_request: &[u8], responder: Option<Responder<'_>>) {
    let Some(mut responder) = responder else {
        return;
    };
    let mut buf = [0u8; CONTROL_MAX_PACKET];
    let mut fragments = 0;
    while let Some(len) = responder.next_fragment(&mut buf) {
        assert!(len <= CONTROL_MAX_PACKET);
        let bytes = &buf[..len];
        let packet = ControlPacket::new_checked(bytes).expect("our own fragment parses");
        assert!(packet.is_response());
        fragments += 1;
        // READ_MRU may be asked for up to 128 datagrams (ntpd's limit), plus the
        // one that may carry its closing `now=`.
        assert!(fragments <= 130, "unbounded response");
    }
}
