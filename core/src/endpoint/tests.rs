//! The endpoint's dispatch, leap schedule and one-shot mode, without the simulator.

use core::net::SocketAddr;

use super::*;
use crate::access::{AccessFlags, AccessTable};
use crate::clock::LeapIndicator;
use crate::node::{Action, NodeConfig};
use crate::peer::SourceConfig;
use crate::ratelimit::DiscardParams;
use crate::server::DropReason;
use crate::time::{NtpDuration, PollInterval};
use crate::wire::{Packet, RefId, HEADER_LEN};

const LEAP_AT: i64 = 1_798_761_600; // 2027-01-01 00:00:00 UTC (invented leap)
const TABLE: [(i64, i32); 2] = [(1_483_228_800, 37), (LEAP_AT, 38)];
const SEED: [u8; 16] = *b"endpoint-tests!!";

type Small = Tables<4, 16, 2>;

fn local() -> SocketAddr {
    "192.0.2.2:123".parse().unwrap()
}

fn client() -> SocketAddr {
    "198.51.100.7:40000".parse().unwrap()
}

fn upstream() -> SocketAddr {
    "192.0.2.1:123".parse().unwrap()
}

fn request(first_byte: u8) -> [u8; HEADER_LEN] {
    let mut r = [0u8; HEADER_LEN];
    r[0] = first_byte;
    r
}

fn at_unix(s: i64) -> NtpTimestamp {
    NtpTimestamp::from_unix(s, 0)
}

/// An endpoint serving its local clock at stratum 10, after its first timeout.
fn serving<P: ServePolicy>(policy: P) -> Endpoint<P, 2> {
    let mut ep = Endpoint::new(
        NodeConfig {
            local_clock_stratum: Some(10),
            ..NodeConfig::default()
        },
        policy,
    );
    ep.handle_wall_time(Instant::ZERO, at_unix(LEAP_AT - 60 * 86_400));
    ep.handle_timeout(Instant::ZERO);
    while ep.poll_action().is_some() {}
    ep
}

fn answer_li<P: ServePolicy>(ep: &mut Endpoint<P, 2>, rx: NtpTimestamp) -> LeapIndicator {
    let mut out = [0u8; HEADER_LEN];
    match ep.handle_datagram(
        Instant::ZERO,
        local(),
        client(),
        &request(0x23),
        rx,
        &mut out,
    ) {
        Datagram::Answer(p) => {
            let bytes = p.finish(&mut out, rx);
            Packet::new_checked(bytes).unwrap().leap()
        }
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[test]
fn answers_carry_the_leap_announcement_only_within_four_weeks() {
    let mut ep = serving(Open);
    ep.set_leap_schedule(LeapSchedule::from_table(&TABLE, LEAP_AT - 60 * 86_400));
    assert_eq!(
        answer_li(&mut ep, at_unix(LEAP_AT - 60 * 86_400)),
        LeapIndicator::NoWarning
    );
    assert_eq!(
        answer_li(&mut ep, at_unix(LEAP_AT - 20 * 86_400)),
        LeapIndicator::Insert
    );
    assert_eq!(ep.served_vars(Instant::ZERO).leap, LeapIndicator::Insert);
    assert_eq!(
        answer_li(&mut ep, at_unix(LEAP_AT + 5)),
        LeapIndicator::NoWarning
    );
}

#[test]
fn an_unsynchronised_server_announces_nothing() {
    let mut ep: Endpoint<Open, 2> = Endpoint::new(NodeConfig::default(), Open);
    ep.set_leap_schedule(LeapSchedule::from_table(&TABLE, 0));
    assert_eq!(
        answer_li(&mut ep, at_unix(LEAP_AT - 86_400)),
        LeapIndicator::Unsynchronized
    );
}

#[test]
fn every_mode_is_dispatched_and_every_drop_counted() {
    let mut ep = serving(Small::new(AccessFlags::NONE, DiscardParams::NTPD, SEED));
    let mut out = [0u8; HEADER_LEN];
    let rx = at_unix(LEAP_AT - 60 * 86_400);
    let mut send = |ep: &mut Endpoint<Small, 2>, from: SocketAddr, bytes: &[u8]| {
        ep.handle_datagram(Instant::ZERO, local(), from, bytes, rx, &mut out)
    };
    // Mode 7 (ntpdc), mode 4 from nobody we follow, a short packet.
    assert!(matches!(
        send(&mut ep, client(), &request(0x27)),
        Datagram::Dropped(DropReason::ModeUnsupported)
    ));
    assert!(matches!(
        send(&mut ep, client(), &request(0x24)),
        Datagram::Dropped(DropReason::ModeServer)
    ));
    assert!(matches!(
        send(&mut ep, client(), &[0x23, 0, 0]),
        Datagram::Dropped(DropReason::Truncated)
    ));
    // Mode 6: loopback may ask, a remote address no restrict line names may not.
    let query = [0x16, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    let lo: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    assert!(matches!(send(&mut ep, lo, &query), Datagram::Control));
    assert!(matches!(
        send(&mut ep, client(), &query),
        Datagram::Dropped(DropReason::NoQuery)
    ));
    let stats = ep.server_stats();
    for reason in [
        DropReason::ModeUnsupported,
        DropReason::ModeServer,
        DropReason::Truncated,
        DropReason::NoQuery,
    ] {
        assert_eq!(stats.dropped[reason.index()], 1, "{reason:?}");
    }
    assert_eq!(stats.answered, 0);
}

#[test]
fn a_restrict_line_and_the_rate_limit_are_the_endpoints() {
    let mut tables = Small::new(AccessFlags::NONE, DiscardParams::NTPD, SEED);
    tables.access = AccessTable::new(AccessFlags::LIMITED);
    let mut ep = serving(tables);
    let rx = at_unix(LEAP_AT - 60 * 86_400);
    let mut out = [0u8; HEADER_LEN];
    let mut verdicts = [false; 4];
    for v in &mut verdicts {
        *v = matches!(
            ep.handle_datagram(
                Instant::ZERO,
                local(),
                client(),
                &request(0x23),
                rx,
                &mut out
            ),
            Datagram::Answer(_)
        );
    }
    assert!(verdicts[0], "the first request is served");
    assert!(
        verdicts[1..].iter().any(|&served| !served),
        "a burst at one instant is limited: {verdicts:?}"
    );
    assert!(ep.server_stats().dropped[DropReason::RateLimited.index()] > 0);
    // SIGHUP's new table: everyone ignored.
    ep.policy_mut().access = AccessTable::new(AccessFlags::IGNORE);
    assert!(matches!(
        ep.handle_datagram(
            Instant::ZERO,
            local(),
            client(),
            &request(0x23),
            rx,
            &mut out
        ),
        Datagram::Dropped(DropReason::Ignored)
    ));
}

/// A server's answer to `req`, `ahead_s` ahead of `t1`.
fn reply_to(req: &[u8], t1: NtpTimestamp, ahead_s: f64) -> [u8; HEADER_LEN] {
    let sys = SystemVars {
        leap: LeapIndicator::NoWarning,
        stratum: 1,
        precision: -20,
        root_delay: NtpDuration::ZERO,
        root_dispersion: NtpDuration::ZERO,
        ref_id: RefId::GPS,
        reference_time: t1,
        poll: PollInterval::DEFAULT_MIN,
    };
    let mut out = [0u8; HEADER_LEN];
    let rx = t1 + NtpDuration::from_seconds_f64(ahead_s + 0.005);
    let p = Server::new().respond(req, rx, &sys, &mut out).unwrap();
    let _ = p.finish(&mut out, rx);
    out
}

/// Polls `upstream()` (which is `ahead_s` ahead) until the endpoint goes quiet or
/// `stop` says so; returns every action's debug line kind in order.
fn follow(
    ep: &mut Endpoint<Open, 2>,
    ahead_s: f64,
    wall0_unix_s: i64,
) -> std::vec::Vec<EndpointActionKind> {
    let mut seen = std::vec::Vec::new();
    let mut now = Instant::from_nanos(1_000_000_000);
    for _ in 0..12 {
        let t1 = at_unix(wall0_unix_s) + NtpDuration::from_nanos(now.as_nanos() as i64);
        ep.handle_wall_time(now, t1);
        ep.handle_timeout(now);
        let mut reply = None;
        while let Some(a) = ep.poll_action() {
            match a {
                EndpointAction::Node(Action::Send { bytes, tx, .. }) => {
                    reply = Some((reply_to(bytes, t1, ahead_s), tx));
                    seen.push(EndpointActionKind::Send);
                }
                other => seen.push(EndpointActionKind::of(&other)),
            }
        }
        if let Some((bytes, tx)) = reply {
            ep.handle_tx_timestamp(tx, t1);
            let t4 = t1 + NtpDuration::from_seconds_f64(0.010);
            let later = now.saturating_add(core::time::Duration::from_millis(10));
            let mut out = [0u8; HEADER_LEN];
            assert!(matches!(
                ep.handle_datagram(later, local(), upstream(), &bytes, t4, &mut out),
                Datagram::Client(_)
            ));
            while let Some(a) = ep.poll_action() {
                seen.push(EndpointActionKind::of(&a));
            }
        }
        match ep.poll_timeout() {
            Some(t) => now = t.max(now.saturating_add(core::time::Duration::from_millis(20))),
            None => break,
        }
    }
    seen
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum EndpointActionKind {
    Send,
    Step,
    SetFrequency,
    Status(LeapIndicator),
    Event,
    Done(Correction),
}

impl EndpointActionKind {
    fn of(a: &EndpointAction<'_>) -> Self {
        match a {
            EndpointAction::Node(Action::Send { .. }) => Self::Send,
            EndpointAction::Node(Action::Step(_)) => Self::Step,
            EndpointAction::Node(Action::SetFrequency(_)) => Self::SetFrequency,
            EndpointAction::Node(Action::SetStatus(s)) => Self::Status(s.leap),
            EndpointAction::Node(_) => Self::Event,
            EndpointAction::OneShotDone(c) => Self::Done(*c),
        }
    }
}

fn following() -> Endpoint<Open, 2> {
    let mut ep: Endpoint<Open, 2> = Endpoint::new(NodeConfig::default(), Open);
    ep.node_mut()
        .add_source(SourceConfig::new(upstream()), Instant::ZERO)
        .unwrap();
    ep
}

#[test]
fn one_shot_holds_back_the_clock_and_reports_one_step() {
    let mut ep = following();
    ep.set_one_shot(StepRule::NTPDATE);
    let seen = follow(&mut ep, 2.0, LEAP_AT - 60 * 86_400);
    let done: std::vec::Vec<_> = seen
        .iter()
        .filter_map(|k| match k {
            EndpointActionKind::Done(c) => Some(*c),
            _ => None,
        })
        .collect();
    assert_eq!(done.len(), 1, "{seen:?}");
    let Correction::Step(d) = done[0] else {
        panic!("2 s is above ntpdate's 0.5 s: {done:?}");
    };
    assert!((d.to_seconds_f64() - 2.0).abs() < 0.01, "{d:?}");
    assert!(
        !seen.iter().any(|k| matches!(
            k,
            EndpointActionKind::Step
                | EndpointActionKind::SetFrequency
                | EndpointActionKind::Status(_)
        )),
        "one-shot touches no clock itself: {seen:?}"
    );
    assert_eq!(ep.one_shot_done(), Some(done[0]));
    assert_eq!(ep.poll_timeout(), None, "done: nothing more to do");
}

#[test]
fn one_shot_slews_what_the_rule_says_whatever_the_node_did() {
    // 0.2 s: the node steps it (above 128 ms), ntpdate's rule slews it (below 0.5 s).
    let mut ep = following();
    ep.set_one_shot(StepRule::NTPDATE);
    let _ = follow(&mut ep, 0.2, LEAP_AT - 60 * 86_400);
    let Some(Correction::Slew(d)) = ep.one_shot_done() else {
        panic!("0.2 s is below 0.5 s: {:?}", ep.one_shot_done());
    };
    assert!((d.to_seconds_f64() - 0.2).abs() < 0.01, "{d:?}");
}

#[test]
fn one_shot_measures_a_slewed_update_by_its_whole_correction() {
    // 50 ms: the node slews it; the system offset is booked to zero at once, the
    // correction is the slew scheduled.
    let mut ep = following();
    ep.set_one_shot(StepRule::for_discipline(&ep.node().config().discipline));
    let _ = follow(&mut ep, 0.05, LEAP_AT - 60 * 86_400);
    let Some(Correction::Slew(d)) = ep.one_shot_done() else {
        panic!("50 ms is below 128 ms: {:?}", ep.one_shot_done());
    };
    assert!((d.to_seconds_f64() - 0.05).abs() < 0.005, "{d:?}");
}

#[test]
fn the_clock_is_armed_only_on_the_leap_day() {
    let mut ep = following();
    ep.set_leap_schedule(LeapSchedule::from_table(&TABLE, 0));
    let far = follow(&mut ep, 0.001, LEAP_AT - 20 * 86_400);
    assert!(
        far.contains(&EndpointActionKind::Status(LeapIndicator::NoWarning)),
        "{far:?}"
    );
    assert!(
        !far.contains(&EndpointActionKind::Status(LeapIndicator::Insert)),
        "{far:?}"
    );
    let mut ep = following();
    ep.set_leap_schedule(LeapSchedule::from_table(&TABLE, 0));
    let near = follow(&mut ep, 0.001, LEAP_AT - 3600);
    assert!(
        near.contains(&EndpointActionKind::Status(LeapIndicator::Insert)),
        "{near:?}"
    );
}

#[test]
fn control_queries_are_answered_fragment_by_fragment() {
    use crate::control::{ClockSource, Extras, RefIdKind, SystemSnapshot, CONTROL_MAX_PACKET};
    let ep = serving(Open);
    let sys = SystemSnapshot {
        version: "slew test",
        processor: "test",
        system: "test",
        leap: 0,
        clock_source: ClockSource::Local,
        event_count: 0,
        last_event: 0,
        stratum: 11,
        precision: -20,
        root_delay_s: 0.0,
        root_dispersion_s: 0.0,
        refid: RefId::LOCL,
        refid_kind: RefIdKind::Code,
        reference_time: NtpTimestamp::ZERO,
        clock: NtpTimestamp::ZERO,
        peer: 0,
        tc: 6,
        mintc: 3,
        offset_s: 0.0,
        frequency_ppm: 0.0,
        sys_jitter_s: 0.0,
        clk_jitter_s: 0.0,
        clk_wander_ppm: 0.0,
        state: 4,
    };
    let mut buf = [0u8; CONTROL_MAX_PACKET];
    let mut sent = 0usize;
    // READSTAT (opcode 1) for the association list.
    let query = [0x16, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    let n = ep.answer_control(&query, &sys, &[], &Extras::NONE, &mut buf, |bytes| {
        assert!(bytes.len() >= 12);
        assert_eq!(bytes[1] & 0x80, 0x80, "a response");
        sent += 1;
    });
    assert_eq!((n, sent), (1, 1));
    // A response is never answered.
    let mut response = query;
    response[1] |= 0x80;
    assert_eq!(
        ep.answer_control(&response, &sys, &[], &Extras::NONE, &mut buf, |_| {}),
        0
    );
}

#[test]
fn a_client_only_endpoint_drops_requests_and_pays_nothing_for_a_server() {
    let mut ep: Endpoint<Open, 2, 0, 0, NoServer> = Endpoint::new(
        NodeConfig {
            local_clock_stratum: Some(10),
            ..NodeConfig::default()
        },
        Open,
    );
    ep.handle_wall_time(Instant::ZERO, at_unix(LEAP_AT - 60 * 86_400));
    ep.handle_timeout(Instant::ZERO);
    while ep.poll_action().is_some() {}
    let mut out = [0u8; HEADER_LEN];
    let rx = at_unix(LEAP_AT - 60 * 86_400);
    for first in [0x23, 0x16] {
        let r = ep.handle_datagram(
            Instant::ZERO,
            local(),
            client(),
            &request(first),
            rx,
            &mut out,
        );
        assert!(
            matches!(r, Datagram::Dropped(DropReason::NoServe)),
            "{first:#x}: {r:?}"
        );
    }
    assert_eq!(*ep.server_stats(), crate::server::ServerStats::ZERO);
    assert_eq!(
        core::mem::size_of::<Endpoint<Open, 2>>()
            - core::mem::size_of::<Endpoint<Open, 2, 0, 0, NoServer>>(),
        core::mem::size_of::<crate::server::Server>()
    );
}

/// A server thread's endpoint: no sources, the published variables and leap
/// schedule of the endpoint that has them.
#[test]
fn a_server_threads_endpoint_announces_the_leap_from_what_it_adopted() {
    let mut main = serving(Open);
    main.set_leap_schedule(LeapSchedule::from_table(&TABLE, LEAP_AT - 60 * 86_400));
    // (One source slot, unused: the node's queues need a capacity.)
    let mut worker: Endpoint<Open, 1> = Endpoint::new(NodeConfig::default(), Open);
    // Before it adopts anything it serves its own (unsynchronised) node.
    assert_eq!(
        {
            let mut out = [0u8; HEADER_LEN];
            let rx = at_unix(LEAP_AT - 86_400);
            match worker.handle_datagram(
                Instant::ZERO,
                local(),
                client(),
                &request(0x23),
                rx,
                &mut out,
            ) {
                Datagram::Answer(p) => Packet::new_checked(p.finish(&mut out, rx)).unwrap().leap(),
                other => panic!("{other:?}"),
            }
        },
        LeapIndicator::Unsynchronized
    );
    let published = main.published_vars();
    assert_eq!(
        published.leap,
        LeapIndicator::NoWarning,
        "no announcement in it"
    );
    worker.adopt_vars(Some(published));
    worker.set_leap_schedule(*main.leap_schedule());
    let mut li = |rx: NtpTimestamp| {
        let mut out = [0u8; HEADER_LEN];
        let got = worker.batch(|b| {
            match b.handle_datagram(
                Instant::ZERO,
                local(),
                client(),
                &request(0x23),
                rx,
                &mut out,
            ) {
                Datagram::Answer(p) => Some(p),
                _ => None,
            }
        });
        let p = got.expect("an answer");
        Packet::new_checked(p.finish(&mut out, rx)).unwrap().leap()
    };
    // The worker decides from its own receive stamp, as the main endpoint would.
    assert_eq!(li(at_unix(LEAP_AT - 60 * 86_400)), LeapIndicator::NoWarning);
    assert_eq!(li(at_unix(LEAP_AT - 20 * 86_400)), LeapIndicator::Insert);
    assert_eq!(li(at_unix(LEAP_AT + 5)), LeapIndicator::NoWarning);
    assert_eq!(worker.server_stats().answered, 4);
    assert_eq!(main.server_stats().answered, 0, "the worker counts its own");
}

#[test]
fn a_batch_counts_what_the_port_dropped_and_takes_the_tables_once() {
    struct Counting(u32);
    impl ServePolicy for Counting {
        fn with_policy<T>(&mut self, f: impl FnOnce(&mut crate::server::Policy<'_>) -> T) -> T {
            self.0 += 1;
            let mut open = crate::server::Policy::OPEN;
            f(&mut open)
        }
    }
    let mut ep = serving(Counting(0));
    let taken_before = ep.policy().0;
    let rx = at_unix(LEAP_AT - 60 * 86_400);
    let answered = ep.batch(|b| {
        let mut n = 0;
        for _ in 0..5 {
            let mut out = [0u8; HEADER_LEN];
            if let Datagram::Answer(p) = b.handle_datagram(
                Instant::ZERO,
                local(),
                client(),
                &request(0x23),
                rx,
                &mut out,
            ) {
                let _ = p.finish(&mut out, rx);
                n += 1;
            }
        }
        b.count_drop(DropReason::Malformed);
        n
    });
    assert_eq!(answered, 5);
    assert_eq!(ep.policy().0 - taken_before, 1, "one look at the tables");
    assert_eq!(ep.server_stats().answered, 5);
    assert_eq!(ep.server_stats().dropped_for(DropReason::Malformed), 1);
}
