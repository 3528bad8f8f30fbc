//! Criterion benchmarks of the protocol core's hot paths: wire parse/emit, building a
//! server response, and one filter + select + discipline update through the node
//! (driven by the simulator, one poll interval per iteration).
//!
//! `cargo bench --bench core` (the whole set takes about a minute);
//! `cargo test --benches` runs each once as a smoke test.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use slew_core::discipline::Algorithm;
use slew_core::server::Server;
use slew_core::sim::{scenario::Scenario, Simulator};
use slew_core::system::SystemVars;
use slew_core::wire::{Packet, Repr, HEADER_LEN};
use slew_core::{LeapIndicator, NtpTimestamp};

fn request() -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    Repr::client_request(NtpTimestamp::from_bits(0x0123_4567_89ab_cdef), 6)
        .emit(&mut Packet::new_unchecked(&mut b[..]));
    b
}

fn synced() -> SystemVars {
    let mut sys = SystemVars::unsynchronized(-20);
    sys.leap = LeapIndicator::NoWarning;
    sys.stratum = 11;
    sys
}

fn wire(c: &mut Criterion) {
    let req = request();
    c.bench_function("wire/parse", |b| {
        b.iter(|| {
            let p = Packet::new_checked(black_box(&req[..])).ok();
            p.and_then(|p| Repr::parse(&p).ok())
        })
    });
    let repr = Repr::client_request(NtpTimestamp::from_bits(42), 6);
    let mut out = [0u8; HEADER_LEN];
    c.bench_function("wire/emit", |b| {
        b.iter(|| {
            black_box(&repr).emit(&mut Packet::new_unchecked(&mut out[..]));
            out[0]
        })
    });
}

fn respond(c: &mut Criterion) {
    let req = request();
    let sys = synced();
    let mut server = Server::new();
    let mut out = [0u8; 1024];
    c.bench_function("server/respond+finish", |b| {
        b.iter(|| {
            let rx = NtpTimestamp::from_bits(1 << 40);
            match server.respond(black_box(&req), rx, &sys, &mut out) {
                Ok(p) => p.finish(&mut out, NtpTimestamp::from_bits(2 << 40)).len(),
                Err(_) => 0,
            }
        })
    });
}

/// A simulator past start-up (filter full, discipline locked).
fn warmed() -> Option<Simulator<4>> {
    let sc = Scenario::by_name("reference", Algorithm::Kalman)?;
    let mut sim: Simulator<4> = Simulator::new(&sc);
    sim.run_until(4_000.0, &mut |_| {});
    Some(sim)
}

/// Polls per simulator before a fresh one is taken: keeps every measured update in
/// the steady state of the standard scenario (under 18 simulated hours).
const POLLS_PER_SIM: u64 = 1_000;

fn node_update(c: &mut Criterion) {
    if warmed().is_none() {
        return;
    }
    c.bench_function("node/poll+filter+select+discipline (one 64 s poll)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let Some(mut sim) = warmed() else {
                    break;
                };
                let n = left.min(POLLS_PER_SIM);
                let start = std::time::Instant::now();
                for _ in 0..n {
                    let t = sim.now_s() + 64.0;
                    sim.run_until(t, &mut |_| {});
                }
                total += start.elapsed();
                left -= n;
            }
            total
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = wire, respond, node_update
}
criterion_main!(benches);
