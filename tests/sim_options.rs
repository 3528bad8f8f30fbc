//! Scenario tests of the per-source options at node level: `prefer`, `noselect` and
//! `burst`, driven through the simulator with real nodes.

use slew_core::discipline::Algorithm;
use slew_core::peer::Reason;
use slew_core::select::Tally;
use slew_core::sim::{PathConfig, Scenario, ServerSpec, Simulator};
use slew_core::Instant;

type Sim = Simulator<8>;

fn at(sim: &Sim) -> Instant {
    Instant::from_nanos((sim.now_s() * 1e9) as u64)
}

/// Three good servers; the best path is server 0, but server 2 (a noisier path) is
/// `prefer`: as in ntpd, a preferred source that survives is the system peer.
#[test]
fn a_surviving_prefer_source_is_the_system_peer() {
    let mut sc = Scenario::by_name("reference", Algorithm::Kalman).unwrap();
    let quiet = PathConfig {
        jitter_mean_s: 0.000_2,
        ..PathConfig::default()
    };
    let noisy = PathConfig {
        jitter_mean_s: 0.002,
        ..PathConfig::default()
    };
    sc.servers.clear();
    for spec in [
        ServerSpec {
            path: quiet,
            ..ServerSpec::good()
        },
        ServerSpec {
            path: noisy,
            ..ServerSpec::good()
        },
        ServerSpec {
            path: noisy,
            prefer: true,
            ..ServerSpec::good()
        },
    ] {
        sc.servers.push(spec).unwrap();
    }
    sc.duration_s = 6.0 * 3600.0;
    let mut sim = Sim::new(&sc);
    sim.run_until(sc.duration_s, &mut |_| {});
    let s = sim.summary();
    let with_peer: u32 = s.selected.iter().sum();
    assert!(with_peer > 0);
    // Measured: the preferred server is the system peer in every record once
    // selection has run; allow 10 % for the start and for reselection after noise.
    assert!(
        s.selected[2] * 10 >= with_peer * 9,
        "prefer was system peer in {} of {} records ({:?})",
        s.selected[2],
        with_peer,
        &s.selected[..3]
    );
    let st = sim
        .node
        .source(sim.source_id(2).unwrap(), at(&sim))
        .unwrap();
    assert!(st.prefer);
    assert_eq!(st.tally, Tally::SystemPeer);
}

/// `noselect`: polled and shown, never selected; with every source `noselect` the
/// clock is never touched and the reason says why.
#[test]
fn noselect_sources_are_polled_but_never_selected() {
    let mut sc = Scenario::by_name("reference", Algorithm::Kalman).unwrap();
    sc.servers.clear();
    for noselect in [false, true, false] {
        sc.servers
            .push(ServerSpec {
                noselect,
                ..ServerSpec::good()
            })
            .unwrap();
    }
    sc.duration_s = 3600.0;
    let mut sim = Sim::new(&sc);
    sim.run_until(sc.duration_s, &mut |_| {});
    let s = sim.summary();
    assert_eq!(s.selected[1], 0, "the noselect source was chosen");
    assert!(s.requests[1] > 0, "but it was polled");
    let st = sim
        .node
        .source(sim.source_id(1).unwrap(), at(&sim))
        .unwrap();
    assert_eq!(st.reason, Reason::NoSelect);
    assert!(st.reach != 0);

    let mut all = sc.clone();
    for spec in all.servers.iter_mut() {
        spec.noselect = true;
    }
    let mut sim = Sim::new(&all);
    sim.run_until(all.duration_s, &mut |_| {});
    let s = sim.summary();
    assert_eq!(s.selected.iter().sum::<u32>(), 0);
    assert_eq!(s.steps, 0);
    assert_eq!(s.max_freq_corr_ppm, 0.0, "the clock was left alone");
}

/// `burst`: eight requests at every poll instead of one.
#[test]
fn burst_sends_eight_requests_per_poll() {
    let mut sc = Scenario::by_name("reference", Algorithm::Kalman).unwrap();
    sc.duration_s = 3600.0;
    let mut plain = Sim::new(&sc);
    plain.run_until(sc.duration_s, &mut |_| {});
    let mut bursty = sc.clone();
    bursty.source.burst = true;
    let mut b = Sim::new(&bursty);
    b.run_until(bursty.duration_s, &mut |_| {});
    let (n1, n8) = (plain.summary().requests[0], b.summary().requests[0]);
    // 64 s polls for an hour: about 56 polls; a burst is 8 requests (the poll
    // interval is fixed in this scenario, so the ratio is the burst size).
    assert!(n1 >= 50, "{n1} requests");
    assert!(
        n8 >= 7 * n1 && n8 <= 9 * n1,
        "burst: {n8} requests against {n1} without"
    );
    assert!(b.summary().rms_offset_s < 0.001);
}
