//! The `virtual` clock: slew-core's [`SoftClock`] over `CLOCK_MONOTONIC`, started at
//! the system time plus an injectable offset and running with an injectable frequency
//! error. It is the very clock an appliance disciplines (not a copy), so the tests that
//! follow real chronyd with it measure the firmware's behaviour too.
//!
//! `CLOCK_MONOTONIC` runs at the system clock's disciplined rate (it takes the kernel's
//! frequency corrections, never its steps), so the only frequency error the
//! discipline has to learn is the one injected.

use nix::time::{clock_gettime, ClockId};
use slew_core::softclock::{SoftClock, TickSource};
use slew_core::{Clock, NtpTimestamp, WideDuration};

use crate::time::realtime_now;

/// Nanoseconds of `CLOCK_MONOTONIC`.
#[derive(Debug, Default, Clone, Copy)]
pub struct MonotonicNanos;

impl TickSource for MonotonicNanos {
    fn ticks(&mut self) -> u64 {
        match clock_gettime(ClockId::CLOCK_MONOTONIC) {
            Ok(ts) => (ts.tv_sec().max(0) as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(ts.tv_nsec().max(0) as u64),
            Err(_) => 0,
        }
    }
}

/// The in-process clock slewd disciplines with `--clock virtual`.
pub type VirtualClock = SoftClock<MonotonicNanos>;

/// A virtual clock reading the system time plus `offset_s`, its oscillator
/// `frequency_error_ppm` fast (positive) or slow.
pub fn virtual_clock(offset_s: f64, frequency_error_ppm: f64) -> VirtualClock {
    // Full width: a clock started decades (even 2^35 s) away, as an appliance
    // without an RTC would be.
    let start = realtime_now() + WideDuration::from_seconds_f64(offset_s);
    SoftClock::new(MonotonicNanos, 1_000_000_000, start)
        .with_frequency_error_ppm(frequency_error_ppm)
}

/// The virtual clock's reading minus the system clock's, seconds.
pub fn offset_from_system(clock: &mut VirtualClock) -> f64 {
    let ours = clock.now().unwrap_or(NtpTimestamp::ZERO);
    (ours - realtime_now()).to_seconds_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_the_injected_offset_and_runs_at_the_injected_rate() {
        let mut c = virtual_clock(0.3, 50.0);
        let first = offset_from_system(&mut c);
        assert!((first - 0.3).abs() < 0.001, "{first}");
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let later = offset_from_system(&mut c);
        // 50 ppm over 1 s is 50 µs; allow for scheduling noise in the reads.
        assert!(later > first, "{first} -> {later}");
        assert!((later - first - 50e-6).abs() < 15e-6, "{}", later - first);
    }
}
