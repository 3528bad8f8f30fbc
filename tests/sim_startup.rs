//! Start-up honesty of the local clock (`server 127.127.1.0`): while configured
//! upstream sources are still settling, the node does not serve the local clock as
//! synchronised (ntpd at start: "unsynchronised / time server re-starting"); with
//! only the local clock configured it serves it at once; with upstreams that never
//! answer it falls back after their polls are missed.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use slew_core::discipline::Algorithm;
use slew_core::sim::{PathConfig, Record, Scenario, ServerSpec, Simulator};

type Sim = Simulator<8>;

/// Every record's (time, stratum served, system peer?) up to `end_s`.
fn strata(sc: &Scenario, end_s: f64) -> std::vec::Vec<(f64, u8, bool)> {
    let mut sim = Sim::new(sc);
    let mut out = std::vec::Vec::new();
    sim.run_until(end_s, &mut |r: &Record| {
        out.push((r.t_s, r.stratum, r.selected.is_some()))
    });
    out
}

fn holdover(seed: u64) -> Scenario {
    let mut sc = Scenario::by_name("holdover", Algorithm::Kalman).unwrap();
    sc.seed = seed;
    sc.record_interval_s = 0.5;
    sc
}

#[test]
fn the_local_clock_is_not_served_while_upstreams_settle() {
    for seed in 1..=8 {
        // Three good upstreams with iburst and `fudge 127.127.1.0 stratum 10`.
        let rows = strata(&holdover(seed), 120.0);
        let first_sync = rows
            .iter()
            .position(|r| r.2)
            .unwrap_or_else(|| panic!("seed {seed}: no system peer within 120 s"));
        // Before the first upstream is chosen the node is unsynchronised (16),
        // never the local clock's 11 (it was, from 2 s, before this change).
        for &(t, stratum, _) in &rows[..first_sync] {
            assert_eq!(stratum, 16, "seed {seed}: stratum {stratum} at {t} s");
        }
        let (t, stratum, _) = rows[first_sync];
        assert_eq!(stratum, 2, "seed {seed}: synchronised at {t} s");
    }
}

#[test]
fn a_local_clock_alone_is_served_at_once() {
    let mut sc = holdover(1);
    sc.servers.clear();
    let rows = strata(&sc, 10.0);
    let served = rows.iter().find(|r| r.1 == 11).expect("local clock served");
    assert!(served.0 <= 0.5, "served from {} s", served.0);
}

#[test]
fn upstreams_that_never_answer_give_way_to_the_local_clock() {
    let mut sc = holdover(1);
    let dead = ServerSpec {
        path: PathConfig {
            outage: Some((0.0, f64::INFINITY)),
            ..PathConfig::default()
        },
        ..ServerSpec::good()
    };
    sc.servers.clear();
    for _ in 0..2 {
        let _ = sc.servers.push(dead);
    }
    sc.record_interval_s = 4.0;
    let rows = strata(&sc, 600.0);
    // Two missed polls each (iburst's first requests, 2 s apart) end the wait;
    // measured: served from 8 s.
    let served = rows
        .iter()
        .find(|r| r.1 == 11)
        .expect("local clock served once the upstreams are given up");
    assert!(served.0 < 300.0, "served from {} s", served.0);
    assert!(rows.iter().all(|r| r.1 == 16 || r.1 == 11));
}
