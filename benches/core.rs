//! Criterion benchmarks of the protocol core's hot paths: wire parse/emit, building a
//! server response (plain, and NTS), and one filter + select + discipline update through the node
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
/// An NTS request as a client with a full jar sends it (one cookie, no
/// placeholders, 228 bytes), and the server holding the cookies' master key.
fn nts_setup() -> (Vec<u8>, Server) {
    use slew_core::nts::aead::AeadKey;
    use slew_core::nts::cookie::{CookieKeys, MasterKey, COOKIE_LEN};
    use slew_core::nts::jar::CookieJar;
    use slew_core::nts::ke::RecordDecoder;
    use slew_core::nts::ke_msg::{write_accept, ResponseReader};
    use slew_core::nts::SessionKeys;
    let session = || SessionKeys {
        c2s: AeadKey::new([0x11; 32]),
        s2c: AeadKey::new([0x22; 32]),
    };
    let keys = CookieKeys::new(MasterKey {
        id: 1,
        key: AeadKey::new([0x33; 32]),
    });
    let cookies: Vec<[u8; COOKIE_LEN]> = (0..8u8)
        .map(|i| {
            let mut c = [0u8; COOKIE_LEN];
            let _ = keys.seal(&session(), &[i; 16], &mut c);
            c
        })
        .collect();
    let mut ke = [0u8; 2048];
    let n = write_accept(&mut ke, cookies.iter().map(|c| &c[..]), None, None).unwrap_or(0);
    let mut reader = ResponseReader::new();
    let _ = reader.feed(&mut RecordDecoder::new(), ke.get(..n).unwrap_or(&[]));
    let mut req = vec![0u8; 1024];
    req[..HEADER_LEN].copy_from_slice(&request());
    let len = match reader.finish() {
        Ok(outcome) => CookieJar::new(session(), &outcome)
            .write_request(&mut req, [7; 32], [9; 16])
            .unwrap_or(0),
        Err(_) => 0,
    };
    req.truncate(len);
    let mut server = Server::new();
    server.set_nts_keys(keys, [0x42; 16]);
    (req, server)
}

fn respond_nts(c: &mut Criterion) {
    let (req, mut server) = nts_setup();
    let sys = synced();
    let mut out = [0u8; 1024];
    c.bench_function(
        "server/respond+finish NTS (open cookie, verify, seal 1 cookie + answer)",
        |b| {
            b.iter(|| {
                let rx = NtpTimestamp::from_bits(1 << 40);
                match server.respond(black_box(&req), rx, &sys, &mut out) {
                    Ok(p) => p.finish(&mut out, NtpTimestamp::from_bits(2 << 40)).len(),
                    Err(_) => 0,
                }
            })
        },
    );
    assert_eq!(
        server.stats().nts.naks,
        0,
        "every benchmarked request verified"
    );
}

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
    targets = wire, respond, respond_nts, node_update
}
criterion_main!(benches);
