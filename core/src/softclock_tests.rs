#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::clock::LeapIndicator;

/// A fake timer the test advances by hand.
#[derive(Debug, Clone, Default)]
struct FakeTicks(u64);

impl TickSource for FakeTicks {
    fn ticks(&mut self) -> u64 {
        self.0
    }
}

const MHZ: u64 = 1_000_000;

fn start() -> NtpTimestamp {
    NtpTimestamp::from_unix(1_800_000_000, 0)
}

fn clock(hz: u64) -> SoftClock<FakeTicks> {
    SoftClock::new(FakeTicks(0), hz, start())
}

fn advance_s(c: &mut SoftClock<FakeTicks>, seconds: f64) {
    let hz = c.tick_hz() as f64;
    c.source_mut().0 += (seconds * hz) as u64;
}

fn offset_s(c: &mut SoftClock<FakeTicks>, true_elapsed_s: f64) -> f64 {
    let truth = start() + NtpDuration::from_seconds_f64(true_elapsed_s);
    (c.now().unwrap() - truth).to_seconds_f64()
}

#[test]
fn counts_nominal_time_at_any_tick_rate() {
    for hz in [32_768, MHZ, 1_000_000_000, 3] {
        let mut c = clock(hz);
        c.source_mut().0 = hz * 1000;
        assert_eq!(
            c.now().unwrap(),
            start() + NtpDuration::from_seconds(1000),
            "hz={hz}"
        );
    }
}

#[test]
fn zero_tick_rate_does_not_divide_by_zero() {
    let mut c = clock(0);
    c.source_mut().0 = 5;
    assert_eq!(c.now().unwrap(), start() + NtpDuration::from_seconds(5));
}

#[test]
fn injected_frequency_error_makes_it_gain() {
    let mut c = clock(MHZ).with_frequency_error_ppm(25.0);
    advance_s(&mut c, 1000.0);
    let off = offset_s(&mut c, 1000.0);
    assert!((off - 0.025).abs() < 1e-9, "{off}");
}

#[test]
fn frequency_correction_cancels_the_error() {
    let mut c = clock(MHZ).with_frequency_error_ppm(25.0);
    c.set_frequency_ppm(-25.0).unwrap();
    assert_eq!(c.frequency_ppm().unwrap(), -25.0);
    advance_s(&mut c, 10_000.0);
    assert!(offset_s(&mut c, 10_000.0).abs() < 1e-9);
}

#[test]
fn frequency_correction_is_bounded() {
    let mut c = clock(MHZ);
    c.set_frequency_ppm(10_000.0).unwrap();
    assert_eq!(
        c.frequency_ppm().unwrap(),
        10_000.0,
        "frequency slews need it"
    );
    c.set_frequency_ppm(1e7).unwrap();
    assert_eq!(c.frequency_ppm().unwrap(), DEFAULT_MAX_FREQUENCY_PPM);
    assert_eq!(Clock::max_frequency_ppm(&c), DEFAULT_MAX_FREQUENCY_PPM);
    c.set_frequency_ppm(f64::NAN).unwrap();
    assert_eq!(c.frequency_ppm().unwrap(), 0.0);
    let mut c = clock(MHZ).with_max_frequency_ppm(50.0);
    c.set_frequency_ppm(-80.0).unwrap();
    assert_eq!(c.frequency_ppm().unwrap(), -50.0);
}

#[test]
fn step_jumps_both_ways_and_cancels_a_slew() {
    let mut c = clock(MHZ);
    c.slew(NtpDuration::from_seconds_f64(0.1)).unwrap();
    c.step(WideDuration::from_seconds_f64(-2.5)).unwrap();
    assert!((offset_s(&mut c, 0.0) + 2.5).abs() < 1e-9);
    assert_eq!(c.pending_slew_s(), 0.0);
    c.step(WideDuration::from_seconds(3)).unwrap();
    assert!((offset_s(&mut c, 0.0) - 0.5).abs() < 1e-9);
    assert_eq!(c.steps(), 2);
}

#[test]
fn slew_is_amortised_at_the_bounded_rate_then_stops() {
    let mut c = clock(MHZ);
    c.slew(NtpDuration::from_seconds_f64(0.010)).unwrap();
    // 500 ppm: 0.5 ms per second, so 10 ms take 20 s.
    advance_s(&mut c, 4.0);
    assert!((offset_s(&mut c, 4.0) - 0.002).abs() < 1e-9);
    assert!((c.pending_slew_s() - 0.008).abs() < 1e-9);
    advance_s(&mut c, 16.0);
    assert!((offset_s(&mut c, 20.0) - 0.010).abs() < 1e-9);
    advance_s(&mut c, 100.0);
    assert!((offset_s(&mut c, 120.0) - 0.010).abs() < 1e-9);
    assert_eq!(c.pending_slew_s(), 0.0);
}

#[test]
fn negative_slew_never_runs_time_backwards() {
    let mut c = clock(MHZ).with_max_slew_rate_ppm(100_000.0);
    c.slew(NtpDuration::from_seconds(-1000)).unwrap();
    let mut last = c.now().unwrap();
    for _ in 0..10_000 {
        c.source_mut().0 += 1;
        let t = c.now().unwrap();
        assert!(
            !(t - last).is_negative(),
            "time ran backwards: {last:?} -> {t:?}"
        );
        last = t;
    }
    // A tenth of real time is still forward progress.
    advance_s(&mut c, 1.0);
    assert!((c.now().unwrap() - last).to_seconds_f64() > 0.89);
}

#[test]
fn a_new_slew_replaces_the_rest_of_the_old_one() {
    let mut c = clock(MHZ);
    c.slew(NtpDuration::from_seconds_f64(0.010)).unwrap();
    advance_s(&mut c, 2.0); // 1 ms made
    c.slew(NtpDuration::from_seconds_f64(-0.001)).unwrap();
    advance_s(&mut c, 10.0);
    assert!((offset_s(&mut c, 12.0) - 0.0).abs() < 1e-9);
}

#[test]
fn reads_add_no_drift() {
    let mut c = clock(32_768).with_frequency_error_ppm(12.345);
    c.set_frequency_ppm(-3.0).unwrap();
    for _ in 0..100_000 {
        c.source_mut().0 += 7;
        let _ = c.now().unwrap();
    }
    let elapsed = 700_000.0 / 32_768.0;
    let want = elapsed * 9.345e-6;
    assert!((offset_s(&mut c, elapsed) - want).abs() < 1e-9);
}

#[test]
fn tick_counter_wrap_is_harmless() {
    let mut c = SoftClock::new(FakeTicks(u64::MAX - 500), MHZ, start());
    c.source_mut().0 = 499; // 1000 ticks later, across the wrap
    assert_eq!(
        c.now().unwrap(),
        start() + NtpDuration::from_nanos(1_000_000)
    );
}

#[test]
fn instant_is_raw_ticks_untouched_by_steps() {
    let mut c = clock(32_768);
    c.source_mut().0 = 32_768 * 3;
    c.step(WideDuration::from_seconds(-100)).unwrap();
    assert_eq!(c.instant(), Instant::from_nanos(3_000_000_000));
}

#[test]
fn status_is_kept() {
    let mut c = clock(MHZ);
    let s = ClockStatus {
        leap: LeapIndicator::Insert,
        max_error_s: 0.1,
        est_error_s: 0.01,
    };
    c.set_status(s).unwrap();
    assert_eq!(c.status(), s);
}

#[test]
fn works_through_a_mutable_reference_to_the_source() {
    let mut ticks = FakeTicks(0);
    let mut c = SoftClock::new(&mut ticks, MHZ, start());
    c.source_mut().0 = MHZ;
    assert_eq!(c.now().unwrap(), start() + NtpDuration::from_seconds(1));
}

#[test]
fn a_clock_started_in_1970_is_stepped_by_the_whole_56_years() {
    // An appliance without an RTC: its soft clock starts at the Unix epoch. The step
    // type used to hold ±2^31 s only; a step of 2^35 s lands exactly too (modulo the
    // era, which the timestamp does not carry).
    let mut c = SoftClock::new(FakeTicks(0), MHZ, NtpTimestamp::from_unix(0, 0));
    c.step(WideDuration::from_seconds(1_780_000_000)).unwrap();
    assert_eq!(c.read(), NtpTimestamp::from_unix(1_780_000_000, 0));
    c.step(WideDuration::from_seconds(1 << 35)).unwrap();
    assert_eq!(
        c.read(),
        NtpTimestamp::from_unix(1_780_000_000 + (1 << 35), 0)
    );
}
