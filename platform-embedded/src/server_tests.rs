#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use core::net::SocketAddr;
use slew_core::endpoint::{Datagram, Endpoint};
use slew_core::node::NodeConfig;
use slew_core::server::DropReason;
use slew_core::wire::{Mode, Packet};
use slew_core::{Instant, NtpTimestamp};

/// An appliance serving its local clock at stratum 10 by the LAN tables.
fn lan<const M: usize>(params: DiscardParams) -> Endpoint<LanPolicy<M>, 1> {
    let config = NodeConfig {
        local_clock_stratum: Some(10),
        ..NodeConfig::default()
    };
    let mut ep = Endpoint::new(config, lan_policy(params, [7; 16]));
    ep.handle_wall_time(Instant::ZERO, NtpTimestamp::from_unix(1_800_000_000, 0));
    ep.handle_timeout(Instant::ZERO);
    while ep.poll_action().is_some() {}
    ep
}

fn from(n: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, n], 40_000))
}

fn at_s(s: u64) -> Instant {
    Instant::from_nanos(s * 1_000_000_000)
}

fn request() -> [u8; 48] {
    let mut req = [0u8; 48];
    req[0] = 0x23; // version 4, client
    req[40..48].copy_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
    req
}

fn ask<const M: usize>(
    ep: &mut Endpoint<LanPolicy<M>, 1>,
    n: u8,
    now: Instant,
    bytes: &[u8],
    out: &mut [u8; 48],
) -> Datagram {
    let local = SocketAddr::from(([192, 0, 2, 2], 123));
    let rx = NtpTimestamp::from_unix(1_800_000_100, 0);
    ep.handle_datagram(now, local, from(n), bytes, rx, out)
}

#[test]
fn answers_at_the_local_clock_stratum_and_echoes_the_origin() {
    let mut ep = lan::<8>(DiscardParams::NTPD);
    let mut out = [0u8; 48];
    let Datagram::Answer(pending) = ask(&mut ep, 1, at_s(0), &request(), &mut out) else {
        panic!("not answered");
    };
    let bytes = pending.finish(&mut out, NtpTimestamp::from_unix(1_800_000_100, 0));
    let p = Packet::new_checked(bytes).unwrap();
    assert_eq!(p.mode(), Mode::Server);
    assert_eq!(p.stratum(), 11);
    assert_eq!(p.origin_timestamp().to_bits(), 0x1122_3344_5566_7788);
    assert_eq!(ep.server_stats().answered, 1);
}

#[test]
fn a_client_hammering_is_limited_silently_others_are_not() {
    let mut ep = lan::<8>(DiscardParams::NTPD);
    let mut out = [0u8; 48];
    assert!(matches!(
        ask(&mut ep, 1, at_s(10), &request(), &mut out),
        Datagram::Answer(_)
    ));
    // ntpd's `discard minimum 2`: a second request within 2 s gets nothing (no kiss).
    assert!(matches!(
        ask(&mut ep, 1, at_s(11), &request(), &mut out),
        Datagram::Dropped(DropReason::RateLimited)
    ));
    assert_eq!(
        ep.server_stats().dropped[DropReason::RateLimited.index()],
        1
    );
    assert_eq!(ep.server_stats().rate_kisses, 0);
    assert!(matches!(
        ask(&mut ep, 2, at_s(11), &request(), &mut out),
        Datagram::Answer(_)
    ));
    // A polite client (every 64 s) is never refused.
    for k in 1..20 {
        let r = ask(&mut ep, 1, at_s(11 + 64 * k), &request(), &mut out);
        assert!(matches!(r, Datagram::Answer(_)), "poll {k}: {r:?}");
    }
}

#[test]
fn garbage_is_dropped_by_the_core_with_its_reason() {
    let mut ep = lan::<4>(DiscardParams::NTPD);
    let mut out = [0u8; 48];
    assert!(matches!(
        ask(&mut ep, 2, at_s(0), &[0u8; 10], &mut out),
        Datagram::Dropped(DropReason::Truncated)
    ));
    assert_eq!(ep.server_stats().dropped[DropReason::Truncated.index()], 1);
}

/// A READVAR of the system variables (ntpq -c rv): version 2, mode 6, opcode 2.
fn readvar() -> [u8; 12] {
    let mut q = [0u8; 12];
    q[0] = (2 << 3) | 6;
    q[1] = 2;
    q[3] = 1; // sequence
    q
}

#[test]
fn only_a_network_allowed_to_query_gets_mode_6_answers_from_the_node() {
    let mut ep = lan::<8>(DiscardParams::NTPD);
    let mut out = [0u8; 48];
    // No restrict line: a LAN client's query is dropped and counted.
    assert!(matches!(
        ask(&mut ep, 9, at_s(0), &readvar(), &mut out),
        Datagram::Dropped(DropReason::NoQuery)
    ));
    allow_queries_from(ep.policy_mut(), "192.0.2.0".parse().unwrap(), 28).unwrap();
    // 192.0.2.9 is in 192.0.2.0/28; 192.0.2.99 is not.
    assert!(matches!(
        ask(&mut ep, 9, at_s(1), &readvar(), &mut out),
        Datagram::Control
    ));
    assert!(matches!(
        ask(&mut ep, 99, at_s(1), &readvar(), &mut out),
        Datagram::Dropped(DropReason::NoQuery)
    ));
    // The allowed network is still served time, limited like everyone.
    assert!(matches!(
        ask(&mut ep, 10, at_s(2), &request(), &mut out),
        Datagram::Answer(_)
    ));
    // The endpoint answers from the node: its stratum and who it is.
    let mut buf = [0u8; slew_core::control::CONTROL_MAX_PACKET];
    let mut answer = std::vec::Vec::new();
    let sent = ep.answer_control_from_node(
        &readvar(),
        crate::ntp::IDENTITY,
        at_s(2),
        NtpTimestamp::from_unix(1_800_000_102, 0),
        2,
        &mut buf,
        |f| answer.extend_from_slice(f.get(12..).unwrap_or_default()),
    );
    assert_eq!(sent, 1);
    let text = std::string::String::from_utf8_lossy(&answer).into_owned();
    assert!(text.contains("stratum=11"), "{text}");
    assert!(text.contains("version=\"slew-embedded "), "{text}");
    // The table holds LAN_QUERY_RULES networks.
    allow_queries_from(ep.policy_mut(), "2001:db8::".parse().unwrap(), 64).unwrap();
    assert!(allow_queries_from(ep.policy_mut(), "198.51.100.0".parse().unwrap(), 24).is_err());
}
