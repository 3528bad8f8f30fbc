//! A node whose clock reads 1970 against a server in 2026, and clocks either side
//! of the 2036 era boundary: the peer's sample, the filter, the step decision and
//! the step action all carry the full offset (it used to saturate at 2^30 s).

use super::*;
use crate::clock::LeapIndicator;
use crate::server::Server;
use crate::time::{NtpDuration, WideDuration};
use crate::wire::RefId;

fn addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 123))
}

fn server_vars(reference: NtpTimestamp) -> SystemVars {
    SystemVars {
        leap: LeapIndicator::NoWarning,
        stratum: 1,
        precision: -20,
        root_delay: NtpDuration::ZERO,
        root_dispersion: NtpDuration::ZERO,
        ref_id: RefId::GPS,
        reference_time: reference,
        poll: PollInterval::DEFAULT_MIN,
    }
}

/// Polls the node's one iburst source until it asks for a step or `rounds` pass;
/// our clock reads `local_unix` at the first send and the server is `offset_s`
/// ahead (1 ms each way). Returns the step asked for and the source's filter offset.
fn run(local_unix: i64, offset_s: i64, allow_big_first: bool) -> (Option<WideDuration>, f64) {
    let mut config = NodeConfig::default();
    config.discipline.allow_big_first = allow_big_first;
    let mut node: Node<2> = Node::new(config);
    let src = SourceConfig {
        iburst: true,
        ..SourceConfig::new(addr())
    };
    node.add_source(src, Instant::ZERO).unwrap();
    let mut now = Instant::from_nanos(1_000_000_000);
    let mut step = None;
    let mut filter_offset_s = 0.0;
    for _ in 0..8 {
        let elapsed = WideDuration::from_nanos(i128::from(now.as_nanos()));
        let t1 = NtpTimestamp::from_unix(local_unix, 0) + elapsed;
        node.handle_timeout(now);
        let mut req = None;
        while let Some(a) = node.poll_action() {
            match a {
                Action::Send { bytes, tx, .. } => {
                    let mut b = [0u8; HEADER_LEN];
                    b.copy_from_slice(bytes);
                    req = Some((b, tx));
                }
                Action::Step(d) => step = Some(d),
                _ => {}
            }
        }
        if let Some((b, tx)) = req {
            node.handle_tx_timestamp(tx, t1);
            let ms = NtpDuration::from_seconds_f64(0.001);
            let t2 = t1 + WideDuration::from_seconds(offset_s) + ms;
            let mut out = [0u8; HEADER_LEN];
            let p = Server::new()
                .respond(&b, t2, &server_vars(t2), &mut out)
                .unwrap();
            let _ = p.finish(&mut out, t2);
            let t4 = t1 + ms + ms;
            let rx_at = Instant::from_nanos(now.as_nanos() + 2_000_000);
            let _ = node.handle_packet(rx_at, addr(), &out, t4);
            if let Some(st) = node.sources(rx_at).next() {
                if st.offset_s != 0.0 {
                    filter_offset_s = st.offset_s;
                }
            }
            while let Some(a) = node.poll_action() {
                if let Action::Step(d) = a {
                    step = Some(d);
                }
            }
        }
        if step.is_some() {
            break;
        }
        now = Instant::from_nanos(now.as_nanos() + 2_000_000_000);
    }
    (step, filter_offset_s)
}

/// 2036-02-07 06:28:16 UTC, where era 0 ends.
const ERA1_UNIX: i64 = (1 << 32) - 2_208_988_800;

#[test]
fn a_clock_in_1970_is_measured_and_stepped_by_the_whole_offset() {
    let offset_s = 1_780_000_000;
    let (step, filtered_s) = run(0, offset_s, true);
    assert!(
        (filtered_s - offset_s as f64).abs() < 1e-3,
        "the filter holds the offset: {filtered_s}"
    );
    let step = step.expect("-g: a step");
    assert!(
        (step.to_seconds_f64() - offset_s as f64).abs() < 1e-3,
        "stepped by {step}"
    );
}

#[test]
fn without_g_a_clock_in_1970_is_not_stepped() {
    let (step, filtered_s) = run(0, 1_780_000_000, false);
    assert_eq!(step, None);
    assert!((filtered_s - 1.78e9).abs() < 1e-3, "{filtered_s}");
}

#[test]
fn offsets_across_the_2036_boundary_are_exact() {
    // Our clock just before the boundary and the server just after, and the other
    // way round; and a clock 60 years behind a server in 2040.
    for (local, offset_s) in [
        (ERA1_UNIX - 3, 10),
        (ERA1_UNIX + 3, -10),
        (2_208_988_800 - 1_893_000_000, 1_893_000_000),
    ] {
        let (step, _) = run(local, offset_s, true);
        let step = step.expect("a step");
        assert!(
            (step.to_seconds_f64() - offset_s as f64).abs() < 1e-3,
            "local {local}, offset {offset_s}: stepped by {step}"
        );
    }
}
