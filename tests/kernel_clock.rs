//! The one test that touches the real clock: KernelClock's frequency, slew and step
//! through clock_adjtime, each reversible and tiny (+3 ppm, 1 ms), with the original
//! frequency, tick and status restored by a guard whatever happens (panics
//! included). The tick test runs +600 ppm (beyond ADJ_FREQUENCY's ±500, so through
//! ADJ_TICK) for 0.4 s: 0.24 ms of time error, well inside the few-ms budget, and
//! taken back by the guard and by KernelClock's own drop.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use slew_core::clock::{ClockStatus, LeapIndicator};
use slew_core::{Clock, NtpDuration};
use slew_linux::os::clock::kernel::{self, read_state, KernelClock};

/// The tests run one at a time: each measures the clock the others adjust.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Restores frequency, tick and status on drop, and cancels any slew left running.
struct Restore {
    freq_ppm: f64,
    tick_us: i64,
    status: i32,
}

impl Drop for Restore {
    fn drop(&mut self) {
        let mut clock = KernelClock::new();
        let _ = clock.slew(NtpDuration::ZERO);
        let _ = kernel::set_tick_and_frequency(self.tick_us, self.freq_ppm);
        let _ = kernel::set_status_bits(self.status);
    }
}

/// CLOCK_REALTIME − CLOCK_MONOTONIC_RAW in seconds: moves by exactly a step, by a
/// slew as it is applied, and by the frequency correction in force over time (RAW is
/// the only clock no adjustment reaches).
fn realtime_minus_monotonic() -> f64 {
    fn secs(id: nix::time::ClockId) -> f64 {
        let t = nix::time::clock_gettime(id).unwrap();
        t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9
    }
    // Bracket each realtime read between two RAW reads and keep the tightest bracket:
    // on a loaded machine a preemption between two reads would otherwise look like
    // a clock adjustment.
    let mut best = (f64::MAX, 0.0);
    for _ in 0..50 {
        let raw1 = secs(nix::time::ClockId::CLOCK_MONOTONIC_RAW);
        let rt = secs(nix::time::ClockId::CLOCK_REALTIME);
        let raw2 = secs(nix::time::ClockId::CLOCK_MONOTONIC_RAW);
        if raw2 - raw1 < best.0 {
            best = (raw2 - raw1, rt - (raw1 + raw2) / 2.0);
        }
    }
    best.1
}

#[test]
fn kernel_clock_frequency_slew_step_and_restore() {
    let _one = exclusive();
    let before = read_state().expect("clock_adjtime must be readable");
    let _guard = Restore {
        freq_ppm: before.freq_ppm,
        tick_us: before.tick_us,
        status: before.status,
    };
    let mut clock = KernelClock::new();

    // Frequency: +3 ppm relative to what was there, read back through adjtimex.
    let target = before.freq_ppm + 3.0;
    clock
        .set_frequency_ppm(target)
        .expect("setting the frequency needs root / CAP_SYS_TIME");
    let got = clock.frequency_ppm().unwrap();
    assert!((got - target).abs() < 0.001, "set {target} ppm, read {got}");
    let state = read_state().unwrap();
    assert!((state.freq_ppm - target).abs() < 0.001);
    clock.set_frequency_ppm(before.freq_ppm).unwrap();

    // Status: unsynchronised sets STA_UNSYNC, and maxerror/esterror are published.
    clock
        .set_status(ClockStatus {
            leap: LeapIndicator::Unsynchronized,
            max_error_s: 0.25,
            est_error_s: 0.001,
        })
        .unwrap();
    let s = read_state().unwrap();
    assert_ne!(s.status & libc::STA_UNSYNC, 0);
    // The kernel adds 500 µs/s of growth to maxerror; it starts from what we set.
    assert!(
        (250_000..260_000).contains(&s.maxerror_us),
        "{}",
        s.maxerror_us
    );
    assert_eq!(s.esterror_us, 1000);

    // Slew 1 ms: the kernel's remaining offset starts near 1 ms and drains (500 ppm
    // means 2 s for 1 ms); realtime moves forward against monotonic as it does.
    // The rate at which realtime drifts from RAW under the frequency in force, so it
    // can be taken out of the slew's measured effect.
    let r0 = realtime_minus_monotonic();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let drift_per_s = (realtime_minus_monotonic() - r0) / t0.elapsed().as_secs_f64();
    let base = realtime_minus_monotonic();
    let slew_start = Instant::now();
    clock.slew(NtpDuration::from_seconds_f64(0.001)).unwrap();
    let first = read_state().unwrap().offset_s;
    assert!(first > 0.0009 && first <= 0.001, "remaining {first}");
    // The kernel publishes the remainder once a second: watch it fall part way.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut later = first;
    while later >= first && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        later = read_state().unwrap().offset_s;
    }
    assert!(
        later > 0.0 && later < first,
        "drains gradually: {first} -> {later}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while read_state().unwrap().offset_s > 0.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(read_state().unwrap().offset_s, 0.0, "drained within 5 s");
    // The kernel moves each 500 µs chunk out of the remainder a second before it has
    // finished applying it: give the last chunk its second.
    std::thread::sleep(Duration::from_millis(1100));
    let moved =
        realtime_minus_monotonic() - base - drift_per_s * slew_start.elapsed().as_secs_f64();
    assert!((moved - 0.001).abs() < 0.0002, "slewed {moved} s");

    // Step +1 ms and back -1 ms.
    let base = realtime_minus_monotonic();
    clock
        .step(NtpDuration::from_seconds_f64(0.001).into())
        .unwrap();
    let up = realtime_minus_monotonic() - base;
    clock
        .step(NtpDuration::from_seconds_f64(-0.001).into())
        .unwrap();
    let back = realtime_minus_monotonic() - base;
    assert!((up - 0.001).abs() < 0.0002, "stepped +{up}");
    assert!(back.abs() < 0.0002, "back to {back}");
}

#[test]
fn kernel_clock_runs_beyond_500_ppm_through_the_tick_and_restores_it() {
    let _one = exclusive();
    let before = read_state().expect("clock_adjtime must be readable");
    let _guard = Restore {
        freq_ppm: before.freq_ppm,
        tick_us: before.tick_us,
        status: before.status,
    };
    let nominal = kernel::nominal_tick_us();
    assert_eq!(
        before.tick_us, nominal,
        "someone else holds the tick off nominal: not touching it"
    );
    let mut clock = KernelClock::new();
    assert!(clock.max_frequency_ppm() >= 83_333.0 + 500.0);
    // The frequency in force, and realtime's drift against RAW under it.
    clock
        .set_frequency_ppm(before.freq_ppm)
        .expect("setting the frequency needs root / CAP_SYS_TIME");
    let r0 = realtime_minus_monotonic();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(400));
    let base_rate = (realtime_minus_monotonic() - r0) / t0.elapsed().as_secs_f64();

    // +600 ppm on top: beyond ADJ_FREQUENCY's reach, so the tick moves.
    let target = before.freq_ppm + 600.0;
    let r1 = realtime_minus_monotonic();
    let t1 = Instant::now();
    clock.set_frequency_ppm(target).unwrap();
    let during = read_state().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    clock.set_frequency_ppm(before.freq_ppm).unwrap();
    let elapsed = t1.elapsed().as_secs_f64();
    let gained = realtime_minus_monotonic() - r1 - base_rate * elapsed;
    assert_ne!(during.tick_us, nominal, "the tick carried the excess");
    let read_back = during.freq_ppm + (during.tick_us - nominal) as f64 * (1e6 / nominal as f64);
    assert!((read_back - target).abs() < 0.01, "{read_back} vs {target}");
    // 600 ppm over ~0.4 s is ~240 µs; the reads bracket to a few µs.
    let expected = 600e-6 * elapsed;
    assert!(
        (gained - expected).abs() < 0.25 * expected,
        "gained {gained} s, expected {expected} s"
    );
    // Back within ±500 ppm: the tick is nominal again, the frequency as before.
    let after = read_state().unwrap();
    assert_eq!(after.tick_us, nominal);
    assert!((after.freq_ppm - before.freq_ppm).abs() < 0.001);

    // Dropping the clock mid-slew (the daemon's exit, a panic's unwinding) puts the
    // tick back too, leaving the last frequency set within ±500 ppm.
    let mut clock = KernelClock::new();
    clock.set_frequency_ppm(before.freq_ppm).unwrap();
    clock.set_frequency_ppm(target).unwrap();
    assert_ne!(read_state().unwrap().tick_us, nominal);
    drop(clock);
    let dropped = read_state().unwrap();
    assert_eq!(dropped.tick_us, nominal, "drop restores the tick");
    assert!((dropped.freq_ppm - before.freq_ppm).abs() < 0.001);

    // A frequency the kernel would refuse is clamped to the range, never an error
    // that leaves the tick moved.
    let mut clock = KernelClock::new();
    clock.set_frequency_ppm(before.freq_ppm).unwrap();
    clock.set_frequency_ppm(f64::NAN).unwrap();
    assert_eq!(read_state().unwrap().tick_us, nominal);
    clock.set_frequency_ppm(before.freq_ppm).unwrap();
}
