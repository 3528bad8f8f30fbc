//! An NTS-KE flood against the port's KE server (ntpd-rs' CVE-2024-38528 was KE
//! connections held open without bound): connections that never send, handshakes that
//! stall after a record header, and finished handshakes that never send a request.
//! Connections, threads and time stay bounded; another address is served during the
//! flood, and the flooding address again once the timeouts have closed its connections.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod nts_ke_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use nts_ke_support::*;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection};
use slew_core::nts::ke_msg::MAX_COOKIES;
use slew_linux::server::nts::keystore::DEFAULT_ROTATION;
use slew_linux::server::nts::{stream, tls, KeClient, KeRequest, KeyStore};

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    number_after(&status, "Threads:").unwrap() as usize
}

/// True if the server closed `tcp` within `wait`.
fn closed_within(tcp: &mut TcpStream, wait: Duration) -> bool {
    tcp.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 512];
    loop {
        match tcp.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue, // an alert on its way out
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

fn ke(client: &KeClient, id: usize, host: &str, port: u16, ca: &std::path::Path) -> usize {
    let mut r = KeRequest::new(host);
    r.port = port;
    r.ca_file = Some(ca.to_path_buf());
    client.spawn(id, r).unwrap();
    let done = client
        .recv_timeout(Duration::from_secs(10))
        .expect("KE result");
    assert_eq!(done.id, id);
    done.result
        .unwrap_or_else(|e| panic!("KE {id}: {e}"))
        .jar
        .cookies()
}

#[test]
fn nts_ke_flood_stays_bounded_and_service_goes_on() {
    let dir = TempDir::new("ntske-flood");
    let (ca, cert, key) = make_pki(&dir);
    let port = free_tcp_port();
    let limits = test_limits(); // 12 in all, 8 per address, 1 s + 1 s
    let keys = Arc::new(KeyStore::ephemeral(DEFAULT_ROTATION));
    let base_threads = threads();
    let srv = start_ke_server(
        cert,
        key,
        vec![
            SocketAddr::from(([127, 0, 0, 1], port)),
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
        ],
        limits,
        None,
        keys,
    );
    let started = Instant::now();

    // From 127.0.0.1: 40 connections; half send a TLS record header and stall, half
    // send nothing. Eight are admitted (the per-address limit), the rest closed at once.
    let mut flood: Vec<TcpStream> = (0..40)
        .map(|i| {
            let mut t = TcpStream::connect(("127.0.0.1", port)).unwrap();
            if i % 2 == 0 {
                let _ = t.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
            }
            t
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let fast = flood
        .iter_mut()
        .map(|t| closed_within(t, Duration::from_millis(10)))
        .filter(|c| *c)
        .count();
    assert_eq!(
        fast,
        40 - limits.per_address,
        "all but the admitted closed at once"
    );
    assert!(srv.stats().refused_busy.load(Relaxed) >= 32);

    // Another address is served meanwhile.
    let client = KeClient::new();
    assert_eq!(ke(&client, 1, "::1", port, &ca), MAX_COOKIES);

    // From ::1: finished handshakes that never send a request; only the room left
    // under the total limit (12 - 8) is admitted.
    let cfg = {
        let mut c =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&[&rustls::version::TLS13])
                .unwrap()
                .with_root_certificates(tls::roots(Some(&ca)).unwrap())
                .with_no_client_auth();
        c.alpn_protocols = vec![b"ntske/1".to_vec()];
        Arc::new(c)
    };
    let mut idle = Vec::new();
    for _ in 0..8 {
        let mut tcp = TcpStream::connect(("::1", port)).unwrap();
        let name = ServerName::try_from("::1").unwrap();
        let mut conn = Connection::Client(ClientConnection::new(cfg.clone(), name).unwrap());
        let hs = stream::handshake(
            &mut conn,
            &mut tcp,
            Instant::now() + Duration::from_millis(800),
        );
        if hs.is_ok() {
            idle.push((conn, tcp));
        }
    }
    let room = limits.max_connections - limits.per_address;
    assert!(
        !idle.is_empty() && idle.len() <= room,
        "{} idle handshakes admitted, room for {room}",
        idle.len()
    );
    let peak = srv.stats().peak_active.load(Relaxed);
    assert!(peak <= limits.max_connections, "peak {peak}");
    // One thread per admitted connection plus the accept thread, never more.
    let t = threads();
    assert!(
        t <= base_threads + limits.max_connections + 2,
        "{t} threads (base {base_threads})"
    );

    // The timeouts close every held connection (handshake 1 s, idle 1 s).
    for (i, t) in flood.iter_mut().enumerate() {
        assert!(
            closed_within(t, Duration::from_secs(3)),
            "flood connection {i} held"
        );
    }
    for (i, (_, t)) in idle.iter_mut().enumerate() {
        assert!(
            closed_within(t, Duration::from_secs(3)),
            "idle connection {i} held"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while srv.stats().active.load(Relaxed) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(srv.stats().active.load(Relaxed), 0);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    // The flooding address is served again.
    assert_eq!(ke(&client, 2, "127.0.0.1", port, &ca), MAX_COOKIES);
    assert_eq!(srv.stats().served.load(Relaxed), 2);
    srv.stop();
}
