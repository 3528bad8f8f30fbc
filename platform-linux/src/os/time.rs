//! Reading the system clock on the NTP timescale.

use nix::time::{clock_gettime, ClockId};
use slew_core::NtpTimestamp;

/// A Unix timestamp from a `timespec`'s two fields.
pub fn timespec_to_ntp(sec: i64, nsec: i64) -> NtpTimestamp {
    NtpTimestamp::from_unix(sec, nsec.clamp(0, 999_999_999) as u32)
}

/// `CLOCK_REALTIME` now, on the NTP timescale.
pub fn realtime_now() -> NtpTimestamp {
    match clock_gettime(ClockId::CLOCK_REALTIME) {
        Ok(ts) => timespec_to_ntp(ts.tv_sec(), ts.tv_nsec()),
        // CLOCK_REALTIME cannot fail on Linux; zero is the protocol's "unknown".
        Err(_) => NtpTimestamp::ZERO,
    }
}

/// The era window's start and a step's resolution into it live with the core's
/// [`Clock`](slew_core::Clock) trait.
pub use slew_core::clock::{step_into_window, BASEDATE_UNIX_S};

/// `CLOCK_REALTIME` now at full width: Unix nanoseconds (any year `time_t` holds).
pub fn realtime_unix_ns() -> i128 {
    match clock_gettime(ClockId::CLOCK_REALTIME) {
        Ok(ts) => i128::from(ts.tv_sec()) * 1_000_000_000 + i128::from(ts.tv_nsec()),
        Err(_) => 0,
    }
}

/// Unix nanoseconds on the NTP timescale (the era dropped, as on the wire).
pub fn unix_ns_to_ntp(unix_ns: i128) -> NtpTimestamp {
    let s = unix_ns.div_euclid(1_000_000_000);
    let ns = unix_ns.rem_euclid(1_000_000_000);
    NtpTimestamp::from_unix(s.clamp(i64::MIN.into(), i64::MAX.into()) as i64, ns as u32)
}

/// `CLOCK_REALTIME` now, as Unix seconds; the pivot for resolving NTP eras.
pub fn unix_now_s() -> i64 {
    clock_gettime(ClockId::CLOCK_REALTIME)
        .map(|ts| ts.tv_sec())
        .unwrap_or(0)
}

/// `CLOCK_MONOTONIC` now, as a core [`Instant`](slew_core::Instant).
pub fn monotonic_now() -> slew_core::Instant {
    match clock_gettime(ClockId::CLOCK_MONOTONIC) {
        Ok(ts) => slew_core::Instant::from_nanos(
            (ts.tv_sec().max(0) as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(ts.tv_nsec().max(0) as u64),
        ),
        Err(_) => slew_core::Instant::ZERO,
    }
}

/// log2 of the time it takes to read the clock: the precision a server advertises
/// (RFC 5905 §7.3), measured like ntpd does, from the smallest step between reads.
pub fn measure_precision() -> i8 {
    let mut best_ns = i64::MAX;
    let mut last = realtime_now();
    for _ in 0..64 {
        let now = realtime_now();
        let d = (now - last).to_nanos();
        if d > 0 && d < best_ns {
            best_ns = d;
        }
        last = now;
    }
    if best_ns == i64::MAX {
        return -20;
    }
    let log2 = (best_ns as f64 * 1e-9).log2().ceil();
    log2.clamp(-30.0, 0.0) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realtime_agrees_with_std() {
        let ours = realtime_now().to_unix_f64(unix_now_s());
        let std_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!((ours - std_now).abs() < 0.5, "{ours} vs {std_now}");
    }

    #[test]
    fn steps_are_resolved_into_the_basedate_window() {
        use slew_core::WideDuration;
        let ns = |s: i64| i128::from(s) * 1_000_000_000;
        let era = 1i64 << 32;
        // A clock at 1970 in 2042 (Unix 2 300 000 000): the node measures the true
        // +2.3e9 s modulo the era, -1.99e9 s; resolved, the step is +2.3e9 s.
        let measured = WideDuration::from_seconds(2_300_000_000 - era);
        assert_eq!(
            step_into_window(0, measured, BASEDATE_UNIX_S),
            WideDuration::from_seconds(2_300_000_000)
        );
        // A clock 2^35 s ahead that the node stepped by the remainder only.
        let now = 1_800_000_000 + (1 << 35);
        let resolved = step_into_window(ns(now), WideDuration::from_seconds(-3), BASEDATE_UNIX_S);
        assert_eq!(resolved, WideDuration::from_seconds(-3 - (1 << 35)));
        // Landing inside the window already (1970 in 2026, a small step): unchanged.
        for (now, step) in [(0, 1_780_000_000), (1_800_000_000, -2), (1_800_000_000, 5)] {
            let d = WideDuration::from_nanos(ns(step) + 123);
            assert_eq!(step_into_window(ns(now), d, BASEDATE_UNIX_S), d);
        }
    }

    #[test]
    fn precision_is_plausible() {
        let p = measure_precision();
        // Between 1 ns and 1 s: anything else means the measurement is broken.
        assert!((-30..=0).contains(&p), "{p}");
    }
}
