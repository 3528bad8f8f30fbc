//! The node's packet checks, without the simulator.

use super::*;
use crate::clock::LeapIndicator;
use crate::server::Server;
use crate::time::NtpDuration;
use crate::wire::RefId;

fn addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 123))
}

fn stratum1() -> SystemVars {
    SystemVars {
        leap: LeapIndicator::NoWarning,
        stratum: 1,
        precision: -20,
        root_delay: NtpDuration::ZERO,
        root_dispersion: NtpDuration::ZERO,
        ref_id: RefId::GPS,
        reference_time: NtpTimestamp::from_unix(1_800_000_000, 0),
        poll: PollInterval::DEFAULT_MIN,
    }
}

/// Sends the first request and returns it with the time it "left".
fn request(node: &mut Node<2>) -> ([u8; HEADER_LEN], NtpTimestamp) {
    node.handle_timeout(Instant::from_nanos(3_000_000_000));
    let t1 = NtpTimestamp::from_unix(1_800_000_000, 0);
    let mut req = [0u8; HEADER_LEN];
    let tx = match node.poll_action() {
        Some(Action::Send { to, bytes, tx }) => {
            assert_eq!(to, addr());
            req.copy_from_slice(bytes);
            tx
        }
        other => panic!("expected a send, got {other:?}"),
    };
    node.handle_tx_timestamp(tx, t1);
    (req, t1)
}

fn reply(req: &[u8], rx: NtpTimestamp) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    let p = Server::new()
        .respond(req, rx, &stratum1(), &mut out)
        .unwrap();
    let _ = p.finish(&mut out, rx);
    out
}

#[test]
fn reply_is_accepted_once_and_forgeries_are_refused() {
    let mut node: Node<2> = Node::new(NodeConfig::default());
    node.add_source(SourceConfig::new(addr()), Instant::ZERO)
        .unwrap();
    let (req, t1) = request(&mut node);
    // The request's transmit timestamp is a nonce, not our clock.
    let sent = Packet::new_checked(&req[..]).unwrap();
    assert_ne!(sent.transmit_timestamp(), t1);
    let now = Instant::from_nanos(3_010_000_000);
    let t4 = t1 + NtpDuration::from_seconds_f64(0.010);
    // Server 1 s ahead, 10 ms round trip.
    let good = reply(&req, t1 + NtpDuration::from_seconds_f64(1.005));
    // A forged reply with a different origin.
    let mut forged = good;
    forged[24] ^= 0xff;
    assert_eq!(
        node.handle_packet(now, addr(), &forged, t4),
        PacketVerdict::Refused(Reason::BadOrigin)
    );
    assert_eq!(
        node.handle_packet(now, addr(), &good, t4),
        PacketVerdict::Accepted
    );
    assert_eq!(
        node.handle_packet(now, addr(), &good, t4),
        PacketVerdict::Refused(Reason::Duplicate)
    );
    let st = node.sources(now).next().unwrap();
    assert_eq!(st.reach, 1);
    assert!((st.offset_s - 1.0).abs() < 1e-6, "{}", st.offset_s);
    assert!((st.delay_s - 0.010).abs() < 1e-6);
    // From a stranger, and a request rather than a reply.
    let stranger = SocketAddr::from(([192, 0, 2, 9], 123));
    assert_eq!(
        node.handle_packet(now, stranger, &good, t4),
        PacketVerdict::UnknownSource
    );
    assert_eq!(
        node.handle_packet(now, addr(), &req, t4),
        PacketVerdict::NotAReply
    );
    assert_eq!(
        node.handle_packet(now, addr(), &req[..20], t4),
        PacketVerdict::Malformed
    );
}

#[test]
fn reply_without_transmit_time_is_refused() {
    let mut node: Node<2> = Node::new(NodeConfig::default());
    node.add_source(SourceConfig::new(addr()), Instant::ZERO)
        .unwrap();
    node.handle_timeout(Instant::from_nanos(3_000_000_000));
    let mut req = [0u8; HEADER_LEN];
    if let Some(Action::Send { bytes, .. }) = node.poll_action() {
        req.copy_from_slice(bytes);
    }
    let rx = NtpTimestamp::from_unix(1_800_000_000, 0);
    let r = reply(&req, rx);
    assert_eq!(
        node.handle_packet(Instant::from_nanos(3_100_000_000), addr(), &r, rx),
        PacketVerdict::Refused(Reason::NoTransmitTime)
    );
}

#[test]
fn capacity_is_enforced_and_poll_timeout_tracks_sources() {
    let mut node: Node<2> = Node::new(NodeConfig::default());
    assert_eq!(node.poll_timeout(), None);
    let a = node
        .add_source(SourceConfig::new(addr()), Instant::ZERO)
        .unwrap();
    node.add_source(
        SourceConfig::new(SocketAddr::from(([192, 0, 2, 2], 123))),
        Instant::ZERO,
    )
    .unwrap();
    assert_eq!(
        node.add_source(
            SourceConfig::new(SocketAddr::from(([192, 0, 2, 3], 123))),
            Instant::ZERO
        ),
        Err(CapacityError)
    );
    assert!(node.poll_timeout().unwrap() < Instant::from_nanos(2_000_000_001));
    assert!(node.remove_source(a));
    assert!(!node.remove_source(a));
}

#[test]
fn footprint_for_four_sources() {
    // The embedded port's budget is 4 KiB of client state for four sources.
    let size = core::mem::size_of::<Node<4>>();
    std::println!("Node<4> is {size} bytes");
    assert!(size < 4096, "Node<4> is {size} bytes");
}

#[test]
fn local_clock_alone_serves_at_once_and_stays_fresh() {
    let mut node: Node<4> = Node::new(NodeConfig {
        local_clock_stratum: Some(10),
        ..NodeConfig::default()
    });
    assert_eq!(
        node.system_vars().stratum,
        16,
        "nothing before the first timeout"
    );
    let t0 = Instant::from_nanos(1_000_000_000);
    assert_eq!(node.poll_timeout(), Some(Instant::ZERO), "due at once");
    node.handle_timeout(t0);
    while node.poll_action().is_some() {}
    let vars = node.system_vars();
    assert_eq!(vars.stratum, 11);
    assert_eq!(vars.ref_id.to_bytes(), *b"LOCL");
    assert!(node.local_clock().is_some_and(|l| l.active));
    // Refreshed at its 64-s poll.
    let next = node.poll_timeout().unwrap();
    assert_eq!(next.saturating_since(t0).as_secs(), 64);
}

#[test]
fn orphan_mode_after_orphanwait_at_exactly_the_orphan_stratum() {
    let mut node: Node<4> = Node::new(NodeConfig {
        orphan: Some(Orphan {
            stratum: 10,
            wait: core::time::Duration::from_secs(300),
        }),
        ..NodeConfig::default()
    });
    let mut t = Instant::from_nanos(1_000_000_000);
    node.handle_timeout(t);
    while node.poll_action().is_some() {}
    assert_eq!(node.system_vars().stratum, 16, "not before orphanwait");
    let mut saw_event = false;
    for _ in 0..6 {
        t = node.poll_timeout().unwrap();
        node.handle_timeout(t);
        while let Some(a) = node.poll_action() {
            if let Action::Event(Event::Orphan { stratum: 10 }) = a {
                saw_event = true;
            }
        }
    }
    let vars = node.system_vars();
    assert!(t.saturating_since(Instant::ZERO).as_secs() >= 300);
    assert_eq!(
        vars.stratum, 10,
        "ntpd serves orphan mode at the orphan stratum"
    );
    assert_eq!(vars.ref_id.to_bytes(), [127, 0, 0, 1]);
    assert!(vars.is_synchronized());
    assert!(saw_event);
}

#[test]
fn the_slew_rate_fits_the_clock() {
    let mut c = NodeConfig::default();
    assert_eq!(c.max_slew_rate_ppm, DEFAULT_MAX_SLEW_RATE_PPM);
    // The kernel's ±100 000 ppm carries the default on top of the 500 ppm bound.
    assert_eq!(c.fit_to_clock(100_000.0), DEFAULT_MAX_SLEW_RATE_PPM);
    // A narrower clock: what is left beyond the discipline's bound.
    assert_eq!(c.fit_to_clock(10_500.0), 10_000.0);
    // A clock with the trait's default ±500 ppm still slews, at up to 500 ppm.
    assert_eq!(c.fit_to_clock(500.0), 500.0);
}

#[test]
fn a_slew_is_a_frequency_for_a_duration_taken_back_at_its_end() {
    use crate::discipline::slew::{SlewLimits, SlewSchedule};
    let mut node: Node<2> = Node::new(NodeConfig::default());
    // A correction of 10 ms in progress, planned at 1 s (as `apply` would).
    node.slew = SlewSchedule::start(1.0, 0.01, &SlewLimits::chrony(1e-3, 64.0, 500.0));
    let end = node.slew.end_s().unwrap();
    assert!((end - 21.0).abs() < 1e-9, "10 ms at 500 ppm: 20 s");
    // The node wants to be woken at the end.
    let wake = node.poll_timeout().unwrap();
    assert!((wake.as_seconds_f64() - end).abs() < 1e-6);
    // Before the end nothing happens; at it, the added rate is taken back.
    node.handle_timeout(Instant::from_nanos(10_000_000_000));
    assert!(node.poll_action().is_none());
    assert!((node.pending_slew_s(Instant::from_nanos(11_000_000_000)) - 0.005).abs() < 1e-9);
    node.handle_timeout(wake);
    match node.poll_action() {
        Some(Action::SetFrequency(ppm)) => assert_eq!(ppm, node.frequency_ppm()),
        other => panic!("expected the base frequency back, got {other:?}"),
    }
    assert!(node.slew.end_s().is_none());
    assert!(node.pending_slew_s(wake).abs() < 1e-9);
    assert!(node.poll_timeout().is_none(), "nothing else to wake for");
}

#[test]
fn the_local_clock_reference_time_is_its_last_update_and_orphan_keeps_ntpsecs() {
    let wall0 = NtpTimestamp::from_unix(1_800_000_000, 0);
    let mut node: Node<4> = Node::new(NodeConfig {
        local_clock_stratum: Some(10),
        ..NodeConfig::default()
    });
    let t0 = Instant::from_nanos(1_000_000_000);
    node.handle_wall_time(t0, wall0);
    node.handle_timeout(t0);
    while node.poll_action().is_some() {}
    assert_eq!(node.system_vars().reference_time, wall0, "ntpd's LOCAL(0)");
    // At its next 64-s poll the reference time moves with it.
    let t1 = node.poll_timeout().unwrap();
    let wall1 = wall0 + NtpDuration::from_seconds(64);
    node.handle_wall_time(t1, wall1);
    node.handle_timeout(t1);
    while node.poll_action().is_some() {}
    assert_eq!(node.system_vars().reference_time, wall1);
    // What a server answers with.
    let mut out = [0u8; 48];
    let mut req = [0u8; 48];
    req[0] = 0x23;
    let len = Server::new()
        .respond(&req, wall1, &node.system_vars(), &mut out)
        .unwrap()
        .finish(&mut out, wall1)
        .len();
    let p = crate::wire::Packet::new_checked(&out[..len]).unwrap();
    assert_eq!(p.reference_timestamp(), wall1);

    // Orphan mode never updated the clock: zero, as ntpsec 1.2.2 answers.
    let mut node: Node<4> = Node::new(NodeConfig {
        orphan: Some(Orphan {
            stratum: 10,
            wait: core::time::Duration::from_secs(1),
        }),
        ..NodeConfig::default()
    });
    let mut t = t0;
    for _ in 0..4 {
        node.handle_wall_time(t, wall0);
        node.handle_timeout(t);
        while node.poll_action().is_some() {}
        t = node.poll_timeout().unwrap();
    }
    assert_eq!(node.system_vars().stratum, 10);
    assert!(node.system_vars().reference_time.is_zero());
}
