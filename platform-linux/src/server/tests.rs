use super::*;
use slew_core::server::DropReason;
use slew_core::wire::{Mode, Packet, Repr, HEADER_LEN};
use slew_core::NtpTimestamp;
use std::time::Duration;

/// `CLOCK_REALTIME` itself, as a server thread reads it with no offset.
fn realtime() -> crate::server::publish::PublishedClock {
    crate::server::publish::PublishedClock(slew_core::NtpDuration::ZERO)
}

fn synced() -> SystemVars {
    let mut sys = SystemVars::unsynchronized(-20);
    sys.leap = slew_core::clock::LeapIndicator::NoWarning;
    sys.stratum = 11;
    sys
}

fn request(nonce: u64) -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    Repr::client_request(NtpTimestamp::from_bits(nonce), 6)
        .emit(&mut Packet::new_unchecked(&mut b[..]));
    b
}

/// Sends `per_client` requests from each of `clients` sockets (on distinct loopback
/// addresses), drains the server once, and checks every answer.
fn batch_answers_all(mode: SendMode) -> TimeServer {
    let _stamps_on = crate::os::net::test_support::kernel_stamps_on();
    let mut server = TimeServer::bind(&["127.0.0.1:0".parse().unwrap()]).unwrap();
    server.set_send_mode(mode);
    let to = server.local_addrs()[0];
    let clients: Vec<NtpSocket> = (1..=4)
        .map(|i| NtpSocket::bind(format!("127.0.4.{i}:0").parse().unwrap()).unwrap())
        .collect();
    let mut nonce = 1000u64;
    for _ in 0..3 {
        for c in &clients {
            nonce += 1;
            c.send_to(&request(nonce), to).unwrap();
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    std::thread::sleep(Duration::from_millis(20));
    let mut control_calls = 0;
    server.publish(synced(), LeapSchedule::NONE, &mut realtime());
    let handled = server.drain(0, 256, &mut realtime(), &mut |_, _, _| control_calls += 1);
    assert_eq!(handled, 12, "twelve datagrams in one drain");
    assert_eq!(control_calls, 0);
    assert_eq!(server.stats().answered, 12);
    let mut origins = Vec::new();
    let mut rx_stamps = Vec::new();
    let mut buf = [0u8; 128];
    for c in &clients {
        for _ in 0..3 {
            let mut got = None;
            for _ in 0..100 {
                if let Some(r) = c.recv(&mut buf).unwrap() {
                    got = Some(r);
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            let r = got.expect("an answer per request");
            assert_eq!(r.from, to);
            let p = Packet::new_checked(&buf[..r.len]).unwrap();
            assert_eq!(p.mode(), Mode::Server);
            assert_eq!(p.stratum(), 11);
            assert!(p.transmit_timestamp().to_bits() >= p.receive_timestamp().to_bits());
            origins.push(p.origin_timestamp().to_bits());
            rx_stamps.push((
                p.origin_timestamp().to_bits(),
                p.receive_timestamp().to_bits(),
            ));
        }
    }
    origins.sort_unstable();
    assert_eq!(
        origins,
        (1001..=1012).collect::<Vec<_>>(),
        "each answer echoes its request"
    );
    // Per-packet kernel receive stamps, not one per batch: twelve distinct ones.
    // (Not "increasing in sending order": on loopback the kernel stamps a datagram
    // when it takes it off a per-CPU backlog, so a sender that moved to the other
    // core between two sends can have them stamped out of order.)
    let mut distinct: Vec<u64> = rx_stamps.iter().map(|s| s.1).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 12, "{rx_stamps:?}");
    assert_eq!(server.no_kernel_stamp(), 0);
    server
}

#[test]
fn a_batch_of_requests_from_many_clients_is_answered_by_sendmmsg() {
    let server = batch_answers_all(SendMode::Batch);
    // Twelve answers, one recvmmsg batch, one sendmmsg call.
    assert_eq!(server.send_calls(), 1, "one sendmmsg for the batch");
    let lead = server.tx_lead();
    assert_eq!((lead.answers, lead.batches), (12, 1));
}

#[test]
fn the_sendmsg_fallback_answers_the_same() {
    let server = batch_answers_all(SendMode::Single);
    assert_eq!(server.send_calls(), 12, "one sendmsg per answer");
    assert_eq!(server.send_errors(), 0);
}

#[test]
fn control_requests_in_a_batch_go_to_the_control_path() {
    let mut server = TimeServer::bind(&["127.0.0.1:0".parse().unwrap()]).unwrap();
    let to = server.local_addrs()[0];
    let c = NtpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    c.send_to(&request(5), to).unwrap();
    // A mode 6 READSTAT header.
    c.send_to(&[0x16, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], to)
        .unwrap();
    c.send_to(&request(6), to).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let mut control = Vec::new();
    server.publish(synced(), LeapSchedule::NONE, &mut realtime());
    server.drain(0, 256, &mut realtime(), &mut |_, from, bytes| {
        control.push((from, bytes.len()))
    });
    assert_eq!(control, vec![(c.local_addr(), 12)]);
    assert_eq!(server.stats().answered, 2);
}

/// One request from `client`, drained, and its answer (or `None` after 200 ms).
fn ask(server: &mut TimeServer, client: &NtpSocket, clock_offset_s: i64) -> Option<Vec<u8>> {
    let to = server.local_addrs()[0];
    client.send_to(&request(77), to).unwrap();
    std::thread::sleep(Duration::from_millis(10));
    let mut clock = crate::server::publish::PublishedClock(slew_core::NtpDuration::from_seconds(
        clock_offset_s,
    ));
    server.drain(0, 256, &mut clock, &mut |_, _, _| {});
    let mut buf = [0u8; 128];
    for _ in 0..100 {
        if let Some(r) = client.recv(&mut buf).unwrap() {
            return Some(buf[..r.len].to_vec());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

/// The server decides the leap announcement from each receive stamp and the
/// published schedule: the same published state announces four weeks before the
/// leap and not two months before (the clock's offset moves the stamps there).
#[test]
fn the_published_leap_schedule_is_announced_from_each_receive_stamp() {
    let now_s = crate::os::time::unix_now_s();
    let leap_at = now_s + 60 * 86_400;
    let leap = LeapSchedule::from_table(&[(0, 37), (leap_at, 38)], now_s);
    let mut server = TimeServer::bind(&["127.0.0.1:0".parse().unwrap()]).unwrap();
    server.publish(synced(), leap, &mut realtime());
    let client = NtpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let li = |b: &[u8]| Packet::new_checked(b).unwrap().leap();
    let now = ask(&mut server, &client, 0).expect("answered");
    assert_eq!(li(&now), slew_core::clock::LeapIndicator::NoWarning);
    let near = ask(&mut server, &client, 40 * 86_400).expect("answered");
    assert_eq!(li(&near), slew_core::clock::LeapIndicator::Insert);
    // What was published carries no announcement: each server makes its own.
    assert_eq!(
        server.state().sys.leap,
        slew_core::clock::LeapIndicator::NoWarning
    );
}

/// A second server (a thread's) that adopts the first one's state after a new
/// configuration enforces its restrict line, and counts the drop by its reason.
#[test]
fn an_adopted_state_carries_the_restrict_table() {
    let mut main = TimeServer::bind(&["127.0.0.1:0".parse().unwrap()]).unwrap();
    let mut worker = TimeServer::bind(&["127.0.0.1:0".parse().unwrap()]).unwrap();
    main.publish(synced(), LeapSchedule::NONE, &mut realtime());
    worker.adopt(main.state());
    let client = NtpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    assert!(ask(&mut worker, &client, 0).is_some(), "open before");
    let h = crate::settings::access::hardening_from(
        &crate::config::test_config("restrict 127.0.0.1 noserve\n"),
        &crate::settings::FixedHost::loopback(),
    )
    .unwrap();
    main.set_hardening(&h);
    assert!(ask(&mut worker, &client, 0).is_some(), "until it adopts");
    worker.adopt(main.state());
    assert!(ask(&mut worker, &client, 0).is_none(), "refused after");
    assert_eq!(worker.stats().dropped_for(DropReason::NoServe), 1);
    assert!(
        std::ptr::eq(main.guard(), worker.guard()),
        "one guard, one rate limiter"
    );
}
