//! Not a test: prints the figures the scenario tests' bounds come from, over seeds.
//! Run with `cargo test --release --test sim_measure -- --ignored --nocapture`.

use slew_core::discipline::Algorithm;
use slew_core::sim::{Scenario, Simulator};

#[test]
#[ignore = "measurement, not a check"]
fn measure() {
    for name in slew_core::sim::scenario::NAMES {
        for alg in [Algorithm::Kalman, Algorithm::Rfc5905] {
            for seed in 1..=8u64 {
                let mut sc = Scenario::by_name(name, alg).unwrap();
                sc.seed = seed;
                let mut sim: Simulator<8> = Simulator::new(&sc);
                sim.run_until(7200.0, &mut |_| {});
                let f2h = sim.clock.frequency_error_ppm();
                sim.run_until(sc.duration_s, &mut |_| {});
                let s = sim.summary();
                println!(
                    "{name:22} {alg:?} seed {seed}: first {:.1?} conv {:.1?} rms {:.1} µs max {:.1} µs frms {:.3} fmax {:.2} f2h {:+.4} fend {:+.4} steps {} rate {:.0} sel {:?} ev {:?}",
                    s.first_below_1ms_s, s.converged_s, s.rms_offset_s * 1e6, s.max_offset_s * 1e6, s.rms_freq_error_ppm, s.max_freq_error_ppm, f2h, s.freq_error_ppm, s.steps, s.max_rate_ppm, &s.selected[..sc.servers.len()], sim.events()
                );
            }
        }
    }
}
