//! Refclocks through the node: samples in, selection as stratum 0, served as
//! stratum 1 with the refclock's refid; noselect, prefer and unreachability.

use super::*;
use crate::clock::LeapIndicator;
use crate::refclock::source::{Driver, RefclockConfig};
use crate::refclock::{RefSample, UnixTime};
use crate::wire::RefId;

const START_UNIX_S: i64 = 1_796_083_200;

fn shm(unit: u8) -> RefclockConfig {
    RefclockConfig {
        minpoll: PollInterval::from_log2(4),
        maxpoll: PollInterval::from_log2(4),
        ..RefclockConfig::new(Driver::Shm, unit)
    }
}

/// Runs the node for `secs` seconds of an unsteered clock (the observe clock: no
/// action is applied), one sample a second at `offset_s` (plus a small ripple)
/// for each refclock in `feeding`. Returns the events seen.
fn run<const N: usize, const R: usize>(
    node: &mut Node<N, R>,
    from_s: u64,
    secs: u64,
    feeding: &[(SourceId, f64)],
) -> std::vec::Vec<Event> {
    let mut events = std::vec::Vec::new();
    for t in from_s..from_s + secs {
        let now = Instant::from_nanos(t * 1_000_000_000);
        let rx = UnixTime::new(START_UNIX_S + t as i64, 0);
        for (k, &(id, off)) in feeding.iter().enumerate() {
            let ripple = ((t + k as u64) % 3) as f64 * 1e-4;
            let s = RefSample {
                receive: rx,
                reference: rx.add_s(off + ripple),
                leap: LeapIndicator::NoWarning,
            };
            node.handle_refclock_sample(now, id, &s).unwrap();
        }
        node.handle_timeout(now);
        while let Some(a) = node.poll_action() {
            if let Action::Event(e) = a {
                events.push(e);
            }
        }
    }
    events
}

#[test]
fn a_refclock_alone_is_followed_and_served_at_stratum_1_with_its_refid() {
    let mut node: Node<4, 2> = Node::new(NodeConfig::default());
    let id = node.add_refclock(shm(0), Instant::ZERO).unwrap();
    // The first poll, before any correction: the median of +40.0..+40.2 ms.
    let _ = run(&mut node, 0, 17, &[(id, 0.040)]);
    let first = *node.refclock(id).unwrap().last_sample().unwrap();
    assert!((first.offset_s - 0.0401).abs() < 0.0002, "{first:?}");
    let _ = run(&mut node, 17, 183, &[(id, 0.040)]);
    let sys = node.system();
    assert_eq!(sys.system_peer, Some(id), "{sys:?}");
    assert_eq!(sys.vars.stratum, 1);
    assert_eq!(sys.vars.ref_id, RefId::from_ascii(b"SHM\0"));
    assert_eq!(sys.vars.root_delay, NtpDuration::ZERO);
    let st = node
        .source(id, Instant::from_nanos(200_000_000_000))
        .unwrap();
    assert_eq!(st.addr, "127.127.28.0:0".parse().unwrap());
    assert_eq!(st.stratum, 0);
    assert_eq!(st.reach, 0xff);
    assert_eq!(st.delay_s, 0.0);
    // The clock is never steered here, while the node counts the corrections it
    // asked for as made: the offsets it keeps are +40 ms less what it slewed.
    let last = node.refclock(id).unwrap().last_sample().unwrap();
    assert!(last.offset_s > 0.0 && last.offset_s < 0.0403, "{last:?}");
}

#[test]
fn fudged_refid_and_noselect_and_unreachable() {
    let mut node: Node<4, 2> = Node::new(NodeConfig::default());
    let mut gps = RefclockConfig {
        minpoll: PollInterval::from_log2(4),
        maxpoll: PollInterval::from_log2(4),
        ..RefclockConfig::new(Driver::Nmea, 0)
    };
    gps.fudge.refid = Some(RefId::from_ascii(b"GPSa"));
    let a = node.add_refclock(gps, Instant::ZERO).unwrap();
    let b = node
        .add_refclock(
            RefclockConfig {
                noselect: true,
                ..shm(1)
            },
            Instant::ZERO,
        )
        .unwrap();
    let _ = run(&mut node, 0, 200, &[(a, 0.010), (b, 0.500)]);
    let sys = node.system();
    assert_eq!(sys.system_peer, Some(a));
    assert_eq!(sys.vars.ref_id, RefId::from_ascii(b"GPSa"));
    let now = Instant::from_nanos(200_000_000_000);
    assert_eq!(node.source(b, now).unwrap().reason, Reason::NoSelect);
    // The writer stops: unreachable after eight empty polls, like a server.
    let ev = run(&mut node, 200, 16 * 9, &[]);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Unreachable { id, .. } if *id == a)),
        "{ev:?}"
    );
    let now = Instant::from_nanos(344_000_000_000);
    assert_eq!(node.source(a, now).unwrap().reach, 0);
    assert_eq!(node.source(a, now).unwrap().reason, Reason::Unreachable);
    assert_eq!(node.system().system_peer, None);
}

#[test]
fn a_refused_sample_is_not_followed() {
    let mut node: Node<2, 1> = Node::new(NodeConfig::default());
    let id = node.add_refclock(shm(0), Instant::ZERO).unwrap();
    let rx = UnixTime::new(START_UNIX_S, 0);
    let far = RefSample {
        receive: rx,
        reference: rx.add_s(5.0 * 3600.0),
        leap: LeapIndicator::NoWarning,
    };
    assert_eq!(
        node.handle_refclock_sample(Instant::ZERO, id, &far),
        Err(RefclockInputError::Rejected(
            crate::refclock::source::SampleReject::TooFar
        ))
    );
    let unsync = RefSample {
        leap: LeapIndicator::Unsynchronized,
        ..far
    };
    assert!(node
        .handle_refclock_sample(Instant::ZERO, id, &unsync)
        .is_err());
    assert_eq!(
        node.handle_refclock_sample(Instant::ZERO, SourceId(99), &far),
        Err(RefclockInputError::UnknownSource)
    );
    let _ = run(&mut node, 1, 40, &[]);
    assert_eq!(node.system().system_peer, None);
    // Capacity: one refclock slot.
    assert_eq!(node.add_refclock(shm(1), Instant::ZERO), Err(CapacityError));
}

#[test]
fn refclock_slots_cost_nothing_in_node_4() {
    // The default R = 0: the firmware's Node<4> budget is untouched.
    assert!(core::mem::size_of::<Node<4>>() < 4096);
}
