use super::*;
use crate::time::{ERA_S, UNIX_OFFSET_S};
use std::string::ToString;

/// 2036-02-07 06:28:16 UTC, where era 0 ends.
const ERA1_UNIX: i64 = ERA_S - UNIX_OFFSET_S as i64;
/// 2026-05-28: a "true" time for the cases below.
const TRUE_UNIX: i64 = 1_780_000_000;

/// One exchange: the client's clock reads `client_unix` when it sends, the server is
/// `offset_s` ahead of it, the path is symmetric with `delay_s` round trip.
fn exchange(client_unix: i64, offset_s: i64, delay_ms: i64) -> [NtpTimestamp; 4] {
    let ns = |unix_ns: i128| {
        NtpTimestamp::from_unix(
            unix_ns.div_euclid(1_000_000_000) as i64,
            unix_ns.rem_euclid(1_000_000_000) as u32,
        )
    };
    let t1 = client_unix as i128 * 1_000_000_000;
    let half = delay_ms as i128 * 500_000;
    let off = offset_s as i128 * 1_000_000_000;
    [
        ns(t1),
        ns(t1 + half + off),
        ns(t1 + half + off + 1_000),
        ns(t1 + 2 * half + 1_000),
    ]
}

#[test]
fn offsets_beyond_2_pow_30_are_not_saturated() {
    // A box in 1970 against a server in 2026: the 32.32 sum of the two differences
    // saturated at 2^31 s, halved to exactly 2^30 s.
    let [t1, t2, t3, t4] = exchange(0, TRUE_UNIX, 10);
    let (offset, delay) = offset_and_delay(t1, t2, t3, t4);
    assert_eq!(offset.to_nanos(), TRUE_UNIX as i128 * 1_000_000_000);
    assert_eq!(delay.to_nanos(), 10_000_000);
    // And backwards: a clock 1.78e9 s ahead.
    let [t1, t2, t3, t4] = exchange(TRUE_UNIX, -TRUE_UNIX, 10);
    assert_eq!(
        offset_and_delay(t1, t2, t3, t4).0.to_nanos(),
        -(TRUE_UNIX as i128) * 1_000_000_000
    );
}

#[test]
fn offsets_near_2_pow_31_are_exact_across_the_2036_boundary() {
    // Just inside the nearest-rule window, the client before the era boundary and
    // the server after it, both ways round.
    let just_inside = (1i64 << 31) - 10;
    for (client, off) in [
        (ERA1_UNIX - 1_000, just_inside),
        (ERA1_UNIX + 1_000, -just_inside),
        (ERA1_UNIX - 5, 10),
        (ERA1_UNIX + 5, -10),
    ] {
        let [t1, t2, t3, t4] = exchange(client, off, 4);
        let (offset, delay) = offset_and_delay(t1, t2, t3, t4);
        assert_eq!(
            offset.to_nanos(),
            off as i128 * 1_000_000_000,
            "{client} {off}"
        );
        assert_eq!(delay.to_nanos(), 4_000_000);
    }
}

#[test]
fn window_resolves_the_era_from_the_basedate_not_the_local_clock() {
    let basedate = 189_302_400; // 1976-01-01
                                // A server's stamp in 2026, 2036 (after the boundary) and 2100: one era each.
    for unix in [TRUE_UNIX, ERA1_UNIX + 3, 4_100_000_000] {
        let t = NtpTimestamp::from_unix(unix, 123_456_789);
        assert_eq!(t.to_unix_in_window(basedate), (unix, 123_456_789));
    }
    // The window's edges: its start maps to itself, one ns before to 2^32 s later.
    assert_eq!(
        NtpTimestamp::from_unix(basedate, 0).to_unix_in_window(basedate),
        (basedate, 0)
    );
    let before = NtpTimestamp::from_unix(basedate - 1, 0);
    assert_eq!(before.to_unix_in_window(basedate).0, basedate - 1 + ERA_S);
}

#[test]
fn full_width_offsets_of_2_pow_31_32_35_from_a_known_local_time() {
    // What a port with full-width local time (slewctl date) computes: local time in
    // i128 ns, the server's stamps resolved in the basedate window.
    let basedate = 189_302_400;
    for off in [
        1i64 << 31,
        -(1i64 << 31),
        1 << 32,
        -(1 << 32),
        1 << 35,
        -(1 << 35),
    ] {
        let server = TRUE_UNIX;
        let local = server - off;
        let t2 = NtpTimestamp::from_unix(server, 0);
        let (s, ns) = t2.to_unix_in_window(basedate);
        let server_ns = s as i128 * 1_000_000_000 + ns as i128;
        let offset = WideDuration::from_nanos(server_ns - local as i128 * 1_000_000_000);
        assert_eq!(offset, WideDuration::from_seconds(off));
        assert_eq!(offset.to_nanos(), off as i128 * 1_000_000_000);
    }
}

#[test]
fn conversions_and_display_are_exact() {
    for ns in [0i128, 1, -1, 999_999_999, 1 << 40, -(1 << 45) - 7] {
        assert_eq!(WideDuration::from_nanos(ns).to_nanos(), ns, "{ns}");
    }
    assert_eq!(
        WideDuration::from_seconds(1 << 35).to_string(),
        "+34359738368.000000 s"
    );
    assert_eq!(
        (-WideDuration::from_nanos(2_000_000_000_123_456_789)).to_string(),
        "-2000000000.123457 s"
    );
    let d = NtpDuration::from_seconds_f64(-1.5);
    assert_eq!(WideDuration::from(d).to_seconds_f64(), -1.5);
    assert_eq!(WideDuration::from(d).to_duration_saturating(), d);
    assert_eq!(
        WideDuration::from_seconds(1 << 40).to_duration_saturating(),
        NtpDuration::MAX
    );
    assert_eq!(WideDuration::from_seconds_f64(f64::NAN), WideDuration::ZERO);
    // Adding to a timestamp wraps modulo the era: 2^32 s later reads the same bits.
    let t = NtpTimestamp::from_unix(TRUE_UNIX, 0);
    assert_eq!(t + WideDuration::from_seconds(ERA_S), t);
    assert_eq!(
        t + WideDuration::from_seconds(-(1 << 35) - 1),
        NtpTimestamp::from_unix(TRUE_UNIX - (1 << 35) - 1, 0)
    );
}
