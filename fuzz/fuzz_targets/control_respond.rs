//! Hostile mode 6 requests through the control responder (what ntpq and ntpstat
//! talk to): no panic, every fragment a well-formed control response of at most
//! one maximum packet, and a bounded number of them.
#![no_main]

use core::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use slew_core::control::{
    host_mode, peer_event, sys_event, ClockSource, PeerSnapshot, PeerStatus, RefIdKind, Responder,
    SystemSnapshot, CONTROL_MAX_PACKET,
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
    let peer = |id: u16, host: Option<&'static str>| PeerSnapshot {
        association_id: id,
        srcadr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, id as u8)),
        srcport: 123,
        srchost: host,
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
        root_delay_s: 0.001,
        root_dispersion_s: 0.002,
        refid: RefId::from_bytes([10, 0, 0, 1]),
        refid_kind: RefIdKind::Address,
        reference_time: NtpTimestamp::from_parts(0xe9a0_0000, 0),
        received: NtpTimestamp::from_parts(0xe9a0_0001, 0),
        reach: 0o377,
        hmode: host_mode::CLIENT,
        hpoll: 6,
        ppoll: 6,
        offset_s: -2e-4,
        delay_s: 3e-4,
        dispersion_s: 1e-3,
        jitter_s: 5e-5,
        reason: "outlier",
    };
    let peers = [peer(1, Some("LOCAL(0)")), peer(2, None), peer(3, Some("ntp.example"))];
    let Some(mut responder) = Responder::new(data, &sys, &peers) else {
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
        assert!(fragments <= 64, "unbounded response");
    }
});
