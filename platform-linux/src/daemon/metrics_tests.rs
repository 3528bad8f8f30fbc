use std::io::{Read, Write};
use std::net::TcpStream;

use slew_core::node::Node;

use super::*;

fn page() -> String {
    let mut node: Node<4> = Node::new(Default::default());
    let addr: std::net::SocketAddr = "192.0.2.1:123".parse().unwrap();
    node.add_source(slew_core::peer::SourceConfig::new(addr), Instant::ZERO)
        .unwrap();
    let sources: Vec<_> = node.sources(Instant::ZERO).collect();
    let mut server = ServerStats::ZERO;
    server.answered = 42;
    server.dropped[DropReason::RateLimited.index()] = 7;
    let control = MonitorStats {
        answered: 3,
        rate_limited: 0,
        malformed: 2,
    };
    render(&MetricsInput {
        system: &node.system(),
        sources: &sources,
        server: &server,
        control,
    })
}

#[test]
fn page_is_prometheus_text() {
    let p = page();
    for needle in [
        "# TYPE slew_offset_seconds gauge\nslew_offset_seconds 0.0\n",
        "# TYPE slew_stratum gauge\nslew_stratum 16.0\n",
        "slew_synchronised 0.0\n",
        "# TYPE slew_packets_served counter\nslew_packets_served_total 42\n",
        "slew_packets_dropped_total{reason=\"rate_limited\"} 7\n",
        "slew_packets_dropped_total{reason=\"truncated\"} 0\n",
        "slew_control_queries_total{result=\"malformed\"} 2\n",
        "# TYPE slew_source_reach gauge\nslew_source_reach{address=\"192.0.2.1:123\"} 0.0\n",
    ] {
        assert!(p.contains(needle), "{needle:?} missing:\n{p}");
    }
    // OpenMetrics: the page ends with `# EOF`; help texts end without a doubled dot.
    assert!(p.ends_with("# EOF\n"), "{p}");
    assert!(!p.contains(".."), "{p}");
    // Every sample line is `name{labels} value` with a number Prometheus parses.
    for line in p.lines().filter(|l| !l.starts_with('#')) {
        let (_, v) = line.rsplit_once(' ').unwrap();
        assert!(v.parse::<f64>().is_ok(), "{line:?}");
    }
}

fn serve_until(m: &mut MetricsServer, client: &mut TcpStream) -> String {
    client.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    let t0 = Instant::ZERO;
    for _ in 0..2000 {
        m.service(t0, &mut || "body\n".to_string());
        let mut buf = [0u8; 4096];
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
        }
    }
    String::from_utf8(got).unwrap()
}

#[test]
fn get_is_answered_and_the_connection_closed() {
    let mut m = MetricsServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut c = TcpStream::connect(m.local_addr()).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = serve_until(&mut m, &mut c);
    assert!(r.starts_with("HTTP/1.0 200 OK\r\n"), "{r}");
    assert!(r.contains("Content-Length: 5\r\n"), "{r}");
    assert!(r.ends_with("\r\n\r\nbody\n"), "{r}");
    assert_eq!(m.served, 1);
    assert_eq!(
        m.poll_fds(Instant::ZERO).len(),
        1,
        "closed after the answer"
    );
}

#[test]
fn other_methods_and_idle_clients() {
    let mut m = MetricsServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut c = TcpStream::connect(m.local_addr()).unwrap();
    c.write_all(b"POST / HTTP/1.0\r\n\r\n").unwrap();
    assert!(serve_until(&mut m, &mut c).starts_with("HTTP/1.0 405"));
    // A client that sends nothing is held without blocking, then dropped at the deadline.
    let _idle = TcpStream::connect(m.local_addr()).unwrap();
    for _ in 0..100 {
        m.service(Instant::ZERO, &mut String::new);
        if m.poll_fds(Instant::ZERO).len() == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(m.poll_fds(Instant::ZERO).len(), 2);
    m.service(
        Instant::ZERO.saturating_add(CONNECTION_DEADLINE),
        &mut String::new,
    );
    assert_eq!(m.poll_fds(Instant::ZERO).len(), 1);
    // More connections than the table: the rest wait in the backlog, nothing blocks.
    let _many: Vec<TcpStream> = (0..MAX_CONNECTIONS + 3)
        .map(|_| TcpStream::connect(m.local_addr()).unwrap())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    m.service(Instant::ZERO, &mut String::new);
    // A full table: the connections are polled, the listener is not (a pending
    // connection would otherwise wake poll at once on every turn).
    assert_eq!(m.poll_fds(Instant::ZERO).len(), MAX_CONNECTIONS);
    assert_eq!(m.served, 0);
}

/// Issue 11: a table full of idle connections must not keep a scraper out. After
/// EVICT_AFTER the oldest idle one makes room and the scraper, whose GET waits in
/// the kernel, is answered; before that, and without anyone waiting, nothing is
/// closed early.
#[test]
fn an_idle_connection_makes_room_for_a_scraper() {
    let mut m = MetricsServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let t0 = Instant::ZERO;
    let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS)
        .map(|_| TcpStream::connect(m.local_addr()).unwrap())
        .collect();
    for _ in 0..100 {
        m.service(t0, &mut String::new);
        if m.connections() == MAX_CONNECTIONS {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(m.connections(), MAX_CONNECTIONS);
    // Nobody waits: at EVICT_AFTER the idle ones stay (the listener is polled again,
    // since one could now make room), and the next deadline is when they expire.
    let later = t0.saturating_add(EVICT_AFTER);
    m.service(later, &mut String::new);
    assert_eq!((m.connections(), m.evicted), (MAX_CONNECTIONS, 0));
    assert_eq!(m.poll_fds(later).len(), MAX_CONNECTIONS + 1);
    assert_eq!(
        m.poll_fds(t0).len(),
        MAX_CONNECTIONS,
        "full, none evictable"
    );
    assert_eq!(m.next_deadline(t0), Some(later));
    // Once they are evictable, only their deadline needs a wake-up (a waiting
    // connection wakes the loop through the listener).
    assert_eq!(
        m.next_deadline(later),
        Some(t0.saturating_add(CONNECTION_DEADLINE))
    );

    let mut scraper = TcpStream::connect(m.local_addr()).unwrap();
    scraper.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Too early: every idle connection is still within its grace.
    m.service(t0, &mut || "body\n".to_string());
    assert_eq!((m.served, m.evicted), (0, 0));
    // Later: one idle connection is closed, the scraper answered.
    m.service(later, &mut || "body\n".to_string());
    assert_eq!((m.served, m.evicted), (1, 1));
    assert!(m.connections() <= MAX_CONNECTIONS);
    scraper.set_nonblocking(false).unwrap();
    scraper
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let mut got = String::new();
    scraper.read_to_string(&mut got).unwrap();
    assert!(got.starts_with("HTTP/1.0 200 OK\r\n"), "{got}");
    // The evicted client sees the connection closed.
    let closed = idle
        .into_iter()
        .filter(|c| {
            c.set_read_timeout(Some(std::time::Duration::from_millis(50)))
                .unwrap();
            matches!((&*c).read(&mut [0u8; 1]), Ok(0))
        })
        .count();
    assert_eq!(closed, 1);
}

/// The NTS metrics: the KE server's handshakes and failures, the server's
/// authenticated answers, NAKs and drops by reason, a source's cookies, KE outcome,
/// NAKs and refusals; a page without NTS has none of them but the server's zeros.
#[test]
fn nts_metrics_from_the_ke_server_the_server_and_the_sources() {
    use std::sync::atomic::Ordering;

    use slew_core::peer::{KeFailure, KeNeed, KeResult, NtsRefusal, NtsSourceStatus};

    use crate::server::nts::server::KeServerStats;

    let mut node: Node<4> = Node::new(Default::default());
    for a in ["192.0.2.1:123", "192.0.2.2:123"] {
        node.add_source(
            slew_core::peer::SourceConfig::new(a.parse().unwrap()),
            Instant::ZERO,
        )
        .unwrap();
    }
    let mut sources: Vec<_> = node.sources(Instant::ZERO).collect();
    sources[0].nts = Some(NtsSourceStatus {
        cookies: 6,
        needs_key_exchange: None,
        key_exchanges: 2,
        last_key_exchange: Some(KeResult::Ok { cookies: 8 }),
        refused: 4,
        last_refusal: Some(NtsRefusal::Nak),
        naks: 3,
    });
    let mut server = ServerStats::ZERO;
    server.nts.served = 1000;
    server.nts.cookies_issued = 1001;
    server.nts.naks = 9;
    server.nts.nak_unknown_key = 5;
    server.nts.nak_forged = 4;
    server.nts.dropped_no_cookie = 11;
    let ke = KeServerStats::default();
    ke.served.store(17, Ordering::Relaxed);
    ke.failed_handshake.store(2, Ordering::Relaxed);
    ke.refused_busy.store(1, Ordering::Relaxed);
    ke.active.store(3, Ordering::Relaxed);
    let control = MonitorStats {
        answered: 0,
        rate_limited: 0,
        malformed: 0,
    };
    let system = node.system();
    let p = render_with_ke_server(
        &MetricsInput {
            system: &system,
            sources: &sources,
            server: &server,
            control,
        },
        Some(&ke),
    );
    for needle in [
        "# TYPE slew_nts_ke_served counter\nslew_nts_ke_served_total 17\n",
        "slew_nts_ke_failed_total{reason=\"handshake\"} 2\n",
        "slew_nts_ke_failed_total{reason=\"busy\"} 1\n",
        "slew_nts_ke_failed_total{reason=\"request\"} 0\n",
        "slew_nts_ke_connections 3\n",
        "slew_nts_requests_served_total 1000\n",
        "slew_nts_cookies_issued_total 1001\n",
        "slew_nts_naks_sent_total{reason=\"unknown_key\"} 5\n",
        "slew_nts_naks_sent_total{reason=\"forged\"} 4\n",
        "slew_nts_naks_sent_total{reason=\"bad_cookie\"} 0\n",
        "slew_nts_requests_dropped_total{reason=\"no_cookie\"} 11\n",
        "slew_source_nts_cookies{address=\"192.0.2.1:123\"} 6\n",
        "slew_source_nts_needs_key_exchange{address=\"192.0.2.1:123\"} 0\n",
        "slew_source_nts_last_key_exchange{address=\"192.0.2.1:123\",result=\"ok\"} 1\n",
        "slew_source_nts_key_exchanges_total{address=\"192.0.2.1:123\"} 2\n",
        "slew_source_nts_naks_received_total{address=\"192.0.2.1:123\"} 3\n",
        "slew_source_nts_refused_total{address=\"192.0.2.1:123\"} 4\n",
    ] {
        assert!(p.contains(needle), "{needle:?} missing:\n{p}");
    }
    // The plain source has no NTS rows.
    assert!(
        !p.contains("slew_source_nts_cookies{address=\"192.0.2.2:123\"}"),
        "{p}"
    );
    assert!(p.ends_with("# EOF\n"), "{p}");

    // A failed KE and a wait for the next one.
    sources[0].nts = Some(NtsSourceStatus {
        cookies: 0,
        needs_key_exchange: Some(KeNeed::Initial),
        key_exchanges: 0,
        last_key_exchange: Some(KeResult::Failed(KeFailure::Certificate)),
        refused: 0,
        last_refusal: None,
        naks: 0,
    });
    let p = render(&MetricsInput {
        system: &system,
        sources: &sources,
        server: &server,
        control,
    });
    assert!(
        p.contains(
            "slew_source_nts_last_key_exchange{address=\"192.0.2.1:123\",result=\"certificate\"} 1\n"
        ),
        "{p}"
    );
    assert!(p.contains("slew_source_nts_needs_key_exchange{address=\"192.0.2.1:123\"} 1\n"));
    // Without a KE server, no KE server metrics.
    assert!(!p.contains("slew_nts_ke_served"), "{p}");

    // No NTS source at all: no per-source NTS family.
    let p = page();
    assert!(!p.contains("slew_source_nts"), "{p}");
    assert!(p.contains("slew_nts_requests_served_total 0\n"), "{p}");
}

#[test]
fn nts_client_key_exchange_failures_accumulate_by_reason() {
    use slew_core::peer::KeFailure;

    use crate::server::nts::KeClientStats;

    let node: Node<4> = Node::new(Default::default());
    let sources: Vec<_> = node.sources(Instant::ZERO).collect();
    let server = ServerStats::ZERO;
    let system = node.system();
    let control = MonitorStats {
        answered: 0,
        rate_limited: 0,
        malformed: 0,
    };
    let input = MetricsInput {
        system: &system,
        sources: &sources,
        server: &server,
        control,
    };
    let mut ke = KeClientStats::default();
    for why in [
        KeFailure::Certificate,
        KeFailure::Connect,
        KeFailure::Certificate,
        KeFailure::Timeout,
    ] {
        ke.record_failure(why);
    }
    ke.record_success();
    let p = render_with_nts(&input, None, Some(&ke));
    for needle in [
        "# TYPE slew_nts_client_ke_succeeded counter\nslew_nts_client_ke_succeeded_total 1\n",
        "slew_nts_client_ke_failed_total{reason=\"certificate\"} 2\n",
        "slew_nts_client_ke_failed_total{reason=\"connect\"} 1\n",
        "slew_nts_client_ke_failed_total{reason=\"timeout\"} 1\n",
        "slew_nts_client_ke_failed_total{reason=\"alpn\"} 0\n",
        "slew_nts_client_ke_failed_total{reason=\"no-common-aead\"} 0\n",
    ] {
        assert!(p.contains(needle), "{needle:?} missing:\n{p}");
    }
    // Counted, not a last outcome: one more failure adds to the same row.
    ke.record_failure(KeFailure::Certificate);
    let p = render_with_nts(&input, None, Some(&ke));
    assert!(
        p.contains("slew_nts_client_ke_failed_total{reason=\"certificate\"} 3\n"),
        "{p}"
    );
    // No NTS source: no client KE family.
    let p = render_with_nts(&input, None, None);
    assert!(!p.contains("slew_nts_client_ke"), "{p}");
}
