#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use slew_core::wire::{Mode, Packet};

fn ip(n: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, n])
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

#[test]
fn answers_at_the_local_clock_stratum_and_echoes_the_origin() {
    let mut s = LanServer::<8>::new(DiscardParams::NTPD, [7; 16]);
    let sys = SystemVars::local_clock(-20, 10, NtpTimestamp::from_unix(1_800_000_000, 0));
    let rx = NtpTimestamp::from_unix(1_800_000_100, 0);
    let mut out = [0u8; 48];
    let pending = s
        .respond(ip(1), at_s(0), &request(), rx, &sys, &mut out)
        .expect("not limited")
        .expect("answered");
    let bytes = pending.finish(&mut out, rx);
    let p = Packet::new_checked(bytes).unwrap();
    assert_eq!(p.mode(), Mode::Server);
    assert_eq!(p.stratum(), 11);
    assert_eq!(p.origin_timestamp().to_bits(), 0x1122_3344_5566_7788);
    assert_eq!(s.stats().answered, 1);
}

#[test]
fn a_client_hammering_is_limited_silently_others_are_not() {
    let mut s = LanServer::<8>::new(DiscardParams::NTPD, [7; 16]);
    let sys = SystemVars::local_clock(-20, 10, NtpTimestamp::ZERO);
    let mut out = [0u8; 48];
    let rx = NtpTimestamp::from_unix(1_800_000_000, 0);
    assert!(s
        .respond(ip(1), at_s(10), &request(), rx, &sys, &mut out)
        .is_some());
    // ntpd's `discard minimum 2`: a second request within 2 s gets nothing.
    assert!(s
        .respond(ip(1), at_s(11), &request(), rx, &sys, &mut out)
        .is_none());
    assert_eq!(s.rate_limited(), 1);
    assert!(s
        .respond(ip(2), at_s(11), &request(), rx, &sys, &mut out)
        .is_some());
    // A polite client (every 64 s) is never refused.
    for k in 1..20 {
        let r = s.respond(ip(1), at_s(11 + 64 * k), &request(), rx, &sys, &mut out);
        assert!(matches!(r, Some(Ok(_))), "poll {k}");
    }
}

#[test]
fn garbage_is_dropped_by_the_core_server_with_its_reason() {
    let mut s = LanServer::<4>::new(DiscardParams::NTPD, [1; 16]);
    let sys = SystemVars::local_clock(-20, 10, NtpTimestamp::ZERO);
    let mut out = [0u8; 48];
    let r = s.respond(
        ip(2),
        at_s(0),
        &[0u8; 10],
        NtpTimestamp::ZERO,
        &sys,
        &mut out,
    );
    assert_eq!(r.unwrap().unwrap_err(), DropReason::Truncated);
}
