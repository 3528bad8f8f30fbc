//! What slewd refuses over NTS, with its reason: an untrusted certificate, forged
//! and replayed answers (through relays between slewd and chronyd).

use super::*;

#[test]
fn untrusted_certificate_is_refused_and_explained() {
    let dir = TempDir::new("nts-slewd-badcert");
    pki(&dir);
    // slewd trusts another CA than the one that signed chronyd's certificate.
    let other_ca = make_ca(&dir, "other");
    let (ntp_port, ke_port) = (free_port(), free_tcp_port());
    let _chronyd = start_chronyd_nts(&dir, ntp_port, ke_port);
    let listen = loopback(free_port());
    let metrics = loopback(free_tcp_port());
    let slewd = start_slewd(
        &dir,
        &nts_server_line(&other_ca, ke_port),
        &[listen],
        &["--clock", "virtual", "--metrics", &metrics.to_string()],
    );
    let log = wait_for_log(
        &slewd,
        "not signed by a trusted CA",
        Duration::from_secs(30),
    );
    assert!(log.contains("`ca FILE`"), "says how to trust it:\n{log}");
    assert!(log.contains("next attempt in "), "backs off:\n{log}");
    let table = wait_for_peers(
        listen,
        Duration::from_secs(10),
        "the nts-ke reason",
        &slewd,
        |t| {
            t.lines().any(|l| {
                l.contains("127.0.0.1")
                    && l.split_whitespace().any(|w| w == "nts-ke")
                    && l.contains("ke:certificate")
            })
        },
    );
    assert!(!table.contains('*'), "nothing selected:\n{table}");
    assert!(!log.contains(" done: "), "no keys installed:\n{log}");
    // The failure is counted by reason on the metrics page (cumulative).
    let page = scrape(metrics);
    let failed = page
        .lines()
        .find_map(|l| l.strip_prefix("slew_nts_client_ke_failed_total{reason=\"certificate\"} "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no certificate failure counter:\n{page}"));
    assert!(failed >= 1, "{page}");
    assert!(
        page.contains("slew_nts_client_ke_succeeded_total 0\n"),
        "{page}"
    );
}

/// A TCP relay from `listen` to `to` (NTS-KE through another address), until
/// `stop`.
fn tcp_relay(listen: SocketAddr, to: SocketAddr, stop: Arc<AtomicBool>) {
    let l = std::net::TcpListener::bind(listen).unwrap();
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Ok((a, _)) = l.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            let Ok(b) = std::net::TcpStream::connect(to) else {
                continue;
            };
            a.set_nonblocking(false).unwrap();
            for (mut from, mut into) in [(a.try_clone().unwrap(), b.try_clone().unwrap()), (b, a)] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut into);
                    let _ = into.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
}

/// What the UDP relay did: answers forwarded, forged and replayed copies sent.
#[derive(Default)]
struct RelayCounts {
    forwarded: AtomicU64,
    tampered: AtomicU64,
}

/// A UDP relay on `listen` to `to`: the first `clean` answers pass unchanged;
/// after them each answer is preceded by a copy with one bit flipped at its end (in
/// the NTS authenticator) and by a replay of the first answer.
fn udp_relay(
    listen: SocketAddr,
    to: SocketAddr,
    clean: u64,
    stop: Arc<AtomicBool>,
    counts: Arc<RelayCounts>,
) {
    let front = UdpSocket::bind(listen).unwrap();
    let back = UdpSocket::bind("127.0.0.1:0").unwrap();
    back.connect(to).unwrap();
    front
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    back.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    std::thread::spawn(move || {
        let mut client = None;
        let mut first: Option<Vec<u8>> = None;
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = front.recv_from(&mut buf) {
                client = Some(from);
                let _ = back.send(&buf[..n]);
            }
            let (Ok(n), Some(c)) = (back.recv(&mut buf), client) else {
                continue;
            };
            let answer = buf[..n].to_vec();
            let k = counts.forwarded.fetch_add(1, Ordering::Relaxed);
            if k >= clean {
                let mut forged = answer.clone();
                if let Some(last) = forged.last_mut() {
                    *last ^= 0x01;
                }
                let _ = front.send_to(&forged, c);
                if let Some(old) = &first {
                    let _ = front.send_to(old, c);
                }
                counts.tampered.fetch_add(1, Ordering::Relaxed);
            }
            first.get_or_insert_with(|| answer.clone());
            let _ = front.send_to(&answer, c);
        }
    });
}

#[test]
fn forged_and_replayed_nts_answers_are_refused_with_their_reason() {
    let dir = TempDir::new("nts-slewd-forged");
    let (ca, _, _) = make_pki(&dir);
    // The certificate also names 127.0.0.2, where the relays listen.
    let (cert, key) = nts_ke_support::make_server_cert(
        &dir,
        "test",
        "relayed",
        "DNS:localhost,IP:127.0.0.1,IP:127.0.0.2",
    );
    std::fs::copy(cert, dir.join("cert.pem")).unwrap();
    std::fs::copy(key, dir.join("key.pem")).unwrap();
    let (ntp_port, ke_port) = (free_port(), free_tcp_port());
    let _chronyd = start_chronyd_nts(&dir, ntp_port, ke_port);
    // NTS-KE to 127.0.0.2 reaches chronyd through a TCP relay; its Port record then
    // sends NTP to 127.0.0.2:ntp_port, the UDP relay.
    let relay = |p: u16| SocketAddr::from(([127, 0, 0, 2], p));
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(RelayCounts::default());
    tcp_relay(relay(ke_port), loopback(ke_port), stop.clone());
    udp_relay(
        relay(ntp_port),
        loopback(ntp_port),
        3,
        stop.clone(),
        counts.clone(),
    );
    let listen = loopback(free_port());
    let slewd = start_slewd(
        &dir,
        &format!(
            "server 127.0.0.2 nts ca {} port {ke_port} iburst minpoll 3 maxpoll 3\n",
            ca.display()
        ),
        &[listen],
        &["--clock", "virtual"],
    );
    let log = wait_for_log(
        &slewd,
        "NTS answer refused (forged)",
        Duration::from_secs(60),
    );
    let log = if log.contains("NTS answer refused (unique-id)")
        || log.contains("NTS answer refused (not-waiting)")
    {
        log
    } else {
        wait_for_log(
            &slewd,
            "NTS answer refused (unique-id)",
            Duration::from_secs(30),
        )
    };
    assert!(log.contains("refused so far"), "{log}");
    assert!(
        counts.tampered.load(Ordering::Relaxed) >= 1,
        "the relay tampered"
    );
    // The genuine answers keep it in use: the forgeries reached no clock filter.
    let table = wait_for_peers(
        listen,
        Duration::from_secs(40),
        "the relayed server selected",
        &slewd,
        |t| t.lines().any(|l| l.starts_with("*127.0.0.2 ")),
    );
    // Selected, with no NTS reason held against it (`nts`, `nts-nak`, `nts-ke`),
    // while the NTS column keeps the refusals counted.
    let row = table
        .lines()
        .find(|l| l.starts_with("*127.0.0.2 "))
        .unwrap();
    assert!(
        !row.split_whitespace()
            .any(|w| matches!(w, "nts" | "nts-nak" | "nts-ke")),
        "{table}"
    );
    assert!(row.contains("refused:"), "{table}");
    stop.store(true, Ordering::Relaxed);
}
