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
use std::convert::Infallible;

use slew_core::clock::ClockStatus;
use slew_core::{Clock, NtpDuration, NtpTimestamp, WideDuration};

use crate::os::time::realtime_now;

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

/// The in-process clock slewd disciplines with `--clock virtual`: the core's
/// [`SoftClock`], which also knows where it stands against the system clock (the
/// packet stamps' clock).
#[derive(Debug)]
pub struct VirtualClock(SoftClock<MonotonicNanos>);

/// A virtual clock reading the system time plus `offset_s`, its oscillator
/// `frequency_error_ppm` fast (positive) or slow.
pub fn virtual_clock(offset_s: f64, frequency_error_ppm: f64) -> VirtualClock {
    // Full width: a clock started decades (even 2^35 s) away, as an appliance
    // without an RTC would be.
    let start = realtime_now() + WideDuration::from_seconds_f64(offset_s);
    VirtualClock(
        SoftClock::new(MonotonicNanos, 1_000_000_000, start)
            .with_frequency_error_ppm(frequency_error_ppm),
    )
}

/// The virtual clock's reading minus the system clock's, seconds.
pub fn offset_from_system(clock: &mut VirtualClock) -> f64 {
    let ours = clock.now().unwrap_or(NtpTimestamp::ZERO);
    (ours - realtime_now()).to_seconds_f64()
}

impl Clock for VirtualClock {
    type Error = Infallible;

    fn now(&mut self) -> Result<NtpTimestamp, Infallible> {
        self.0.now()
    }
    fn step(&mut self, offset: WideDuration) -> Result<(), Infallible> {
        self.0.step(offset)
    }
    fn slew(&mut self, offset: NtpDuration) -> Result<(), Infallible> {
        self.0.slew(offset)
    }
    fn set_frequency_ppm(&mut self, ppm: f64) -> Result<(), Infallible> {
        self.0.set_frequency_ppm(ppm)
    }
    fn max_frequency_ppm(&self) -> f64 {
        self.0.max_frequency_ppm()
    }
    fn frequency_ppm(&mut self) -> Result<f64, Infallible> {
        self.0.frequency_ppm()
    }
    fn set_status(&mut self, status: ClockStatus) -> Result<(), Infallible> {
        self.0.set_status(status)
    }
    fn name(&self) -> &'static str {
        "virtual"
    }
    fn reading_at_stamp(&mut self, realtime: NtpTimestamp) -> NtpTimestamp {
        // The stamp is recent (microseconds to milliseconds): over that span the two
        // clocks' rates differ by at most a few hundred ppm, far below a nanosecond.
        let age = realtime_now() - realtime;
        self.0.read() - age
    }
    fn offset_from_system_s(&mut self) -> Option<f64> {
        Some(offset_from_system(self))
    }
    // Era-less (its reading is an NTP timestamp): `full_width_now_unix_ns` is `None`.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_the_injected_offset_and_runs_at_the_injected_rate() {
        let mut c = virtual_clock(0.3, 50.0);
        let first = offset_from_system(&mut c);
        assert!((first - 0.3).abs() < 0.001, "{first}");
        // The rate against the clock it counts (CLOCK_MONOTONIC). Each reading is
        // bracketed by two monotonic reads and kept only when they are close: on a
        // loaded 2-core machine the thread can be preempted for hundreds of µs
        // between two reads, which would swamp the 50 µs being measured.
        let read = |c: &mut VirtualClock| {
            let mut best: Option<(NtpTimestamp, u64, u64)> = None;
            for _ in 0..50 {
                let before = MonotonicNanos.ticks();
                let v = c.now().unwrap();
                let after = MonotonicNanos.ticks();
                let width = after - before;
                if best.is_none_or(|(_, _, w)| width < w) {
                    best = Some((v, before + width / 2, width));
                }
                if width < 5_000 {
                    break;
                }
            }
            let (v, mid, _) = best.unwrap();
            (v, mid)
        };
        let (v0, m0) = read(&mut c);
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let (v1, m1) = read(&mut c);
        let elapsed_s = (m1 - m0) as f64 * 1e-9;
        let gained_s = (v1 - v0).to_seconds_f64() - elapsed_s;
        let ppm = gained_s / elapsed_s * 1e6;
        assert!((ppm - 50.0).abs() < 5.0, "{ppm} ppm");
    }
}
