//! The whole chain (codec, peer sample, filter, discipline, step, clock) with a
//! client clock decades off: a box without an RTC that wakes in 1970.
//!
//! The four-timestamp offset used to be summed in saturating 32.32, so any offset
//! beyond 2^30 s came out as exactly 2^30 s: `-g` stepped by +1 073 741 824 s and the
//! next sample hit the panic threshold, 22 years wrong.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use slew_core::discipline::Algorithm;
use slew_core::sim::{Scenario, Simulator};

type Sim = Simulator<8>;

/// The simulator's true time is 2027-01-15 (Unix 1 800 000 000): a clock that reads
/// 1970 is that far behind.
const CLOCK_IN_1970_S: f64 = -1_800_000_000.0;

fn scenario(offset_s: f64, allow_big_first: bool) -> Scenario {
    let mut s = Scenario::by_name("step-2s", Algorithm::Kalman).expect("scenario");
    s.client.offset_s = offset_s;
    s.node.discipline.allow_big_first = allow_big_first;
    s.seed = 1;
    s
}

#[test]
fn clock_in_1970_with_g_is_stepped_once_to_within_a_millisecond() {
    for offset_s in [CLOCK_IN_1970_S, -CLOCK_IN_1970_S, -2_100_000_000.0] {
        let sc = scenario(offset_s, true);
        let mut sim = Sim::new(&sc);
        sim.run_until(600.0, &mut |_| {});
        let s = sim.summary();
        let left = sim.clock.offset_s();
        assert_eq!(s.steps, 1, "{offset_s}: one step (left {left} s)");
        assert_eq!(
            sim.events().panics,
            0,
            "{offset_s}: no panic after the step"
        );
        assert!(
            left.abs() < 1e-3,
            "{offset_s}: {left} s left after the step"
        );
    }
}

#[test]
fn clock_in_1970_without_g_panics_and_is_not_touched() {
    let sc = scenario(CLOCK_IN_1970_S, false);
    let mut sim = Sim::new(&sc);
    sim.run_until(120.0, &mut |_| {});
    assert_eq!(sim.summary().steps, 0);
    assert!(sim.events().panics > 0, "the panic threshold holds");
    assert!((sim.clock.offset_s() - CLOCK_IN_1970_S).abs() < 1.0);
}
