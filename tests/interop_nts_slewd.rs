//! NTS (RFC 8915) through slewd itself, against real daemons on loopback with a
//! test CA made by the openssl CLI:
//!
//! - slewd (virtual clock) follows chronyd's NTS server (`server 127.0.0.1 nts ca
//!   CA port KE`) and `slewctl peers` shows it selected;
//! - `chronyd -Q` as NTS client accepts slewd's `nts enable` server;
//! - the same two with ntpsec's ntpd, in a network namespace (its ports are fixed);
//! - replayed and bit-flipped NTS answers (a UDP relay between slewd and chronyd)
//!   are refused with their reason in the log, and never reach the clock filter;
//! - a server whose certificate is not trusted is refused, explained in the log and
//!   shown as `nts-ke` in `slewctl peers`;
//! - with `--server-threads 2`, the threads answer chronyd's NTS requests, before
//!   and after a master-key rotation.
//! - `pool localhost nts`: each member's NTS-KE at its address, the certificate
//!   checked against the pool name;
//! - SIGHUP: a replaced `nts cert`/`nts key` is served to later KE clients; an
//!   added `server … nts` line is followed;
//! - the client's KE failures are counted by reason on the metrics page.
//!
//! Every wait is bounded; peers are killed by PID (dropped `Proc`s); files in temp
//! dirs; nothing touches the clock (slewd `--clock virtual`, chronyd `-x`, ntpd
//! without CAP_SYS_TIME).

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod nts_ke_support;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::follow::loopback;
use common::ntpsec::spawn_ntpsec_ntpd;
use common::nts::{current_user, start_chronyd_nts};
use common::{
    chronyd_offset, free_port, require, run_with_timeout, slew_bin, start_slewd, start_slewd_with,
    text, NetNs, Proc, TempDir,
};
use nts_ke_support::{free_tcp_port, make_ca, make_pki};

fn slewctl(args: &[&str]) -> Output {
    let mut cmd = Command::new(slew_bin("slewctl"));
    cmd.args(args);
    run_with_timeout(cmd, Duration::from_secs(20))
}

/// `slewctl peers` of the slewd serving on `listen`.
fn peers(listen: SocketAddr) -> String {
    text(&slewctl(&["-s", &listen.to_string(), "peers"]))
}

/// Waits (bounded) until `check` holds for `slewctl peers`; returns the table.
fn wait_for_peers(
    listen: SocketAddr,
    limit: Duration,
    what: &str,
    slewd: &Proc,
    check: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + limit;
    let mut last = String::new();
    while Instant::now() < deadline {
        last = peers(listen);
        if check(&last) {
            return last;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!(
        "{what}: not seen within {limit:?}; slewctl peers:\n{last}\nslewd log:\n{}",
        slewd.log_text()
    );
}

/// Waits (bounded) until slewd's log contains `needle`.
fn wait_for_log(slewd: &Proc, needle: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let log = slewd.log_text();
        if log.contains(needle) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "`{needle}` not in slewd's log within {limit:?}:\n{}",
        slewd.log_text()
    );
}

/// The test CA and a server certificate of it for localhost/127.0.0.1/::1, also
/// as `cert.pem`/`key.pem` (the names `start_chronyd_nts` takes). Returns the CA.
fn pki(dir: &TempDir) -> PathBuf {
    let (ca, cert, key) = make_pki(dir);
    std::fs::copy(&cert, dir.join("cert.pem")).unwrap();
    std::fs::copy(&key, dir.join("key.pem")).unwrap();
    ca
}

/// slewd's ntp.conf line for an NTS source at 127.0.0.1 (KE on `ke_port`).
fn nts_server_line(ca: &Path, ke_port: u16) -> String {
    format!(
        "server 127.0.0.1 nts ca {} port {ke_port} iburst minpoll 3 maxpoll 3\n",
        ca.display()
    )
}

/// slewd's ntp.conf for an NTS server: `nts enable` with the test certificate.
fn nts_enable_conf(dir: &TempDir) -> String {
    format!(
        "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n\
         nts enable\nnts cert {d}/cert.pem\nnts key {d}/key.pem\nnts cookie {d}/nts-keys\n",
        d = dir.path().display()
    )
}

/// `chronyd -Q` as NTS client of 127.0.0.1 (NTP `port`, NTS-KE `ke_port`), trusting
/// `ca`; up to three runs (see `common::chronyd_query`). Returns (success, output).
fn chronyd_nts_query(dir: &TempDir, port: u16, ke_port: u16, ca: &Path) -> (bool, String) {
    let chronyd = require("chronyd", "chrony");
    let mut all = String::new();
    for attempt in 1..=3 {
        let conf = dir.join(&format!("chrony-q{attempt}.conf"));
        std::fs::write(
            &conf,
            format!(
                "server 127.0.0.1 port {port} nts ntsport {ke_port} iburst minpoll -6 maxpoll -6 maxsamples 4\n\
                 ntstrustedcerts {ca}\nntsdumpdir {d}\ncmdport 0\npidfile {d}/chrony-q.pid\n",
                ca = ca.display(),
                d = dir.path().display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new(&chronyd);
        // As the current user, so that it can read the CA and write its dump dir.
        cmd.args(["-Q", "-t", "10", "-u", &current_user(), "-f"])
            .arg(&conf);
        let out = run_with_timeout(cmd, Duration::from_secs(30));
        let t = text(&out);
        all.push_str(&format!("--- chronyd -Q attempt {attempt}\n{t}"));
        if out.status.success() && chronyd_offset(&t).is_some() {
            return (true, t);
        }
    }
    (false, all)
}

#[test]
fn slewd_follows_chronyd_over_nts() {
    let dir = TempDir::new("nts-slewd-follow");
    let ca = pki(&dir);
    let (ntp_port, ke_port) = (free_port(), free_tcp_port());
    let _chronyd = start_chronyd_nts(&dir, ntp_port, ke_port);
    let listen = loopback(free_port());
    let slewd = start_slewd(
        &dir,
        &nts_server_line(&ca, ke_port),
        &[listen],
        &["--clock", "virtual"],
    );
    let table = wait_for_peers(
        listen,
        Duration::from_secs(60),
        "chronyd selected over NTS",
        &slewd,
        |t| t.lines().any(|l| l.starts_with("*127.0.0.1 ")),
    );
    let log = slewd.log_text();
    assert!(log.contains("NTS-KE with 127.0.0.1:"), "{log}");
    assert!(
        log.contains(&format!("NTP to 127.0.0.1:{ntp_port}")),
        "chronyd's Port record honoured:\n{log}"
    );
    assert!(log.contains("synchronised to 127.0.0.1"), "{table}\n{log}");
    assert!(!log.contains("NTS answer refused"), "{log}");
}

/// `pool localhost nts`: each member's NTS-KE goes to the member's address with the
/// certificate checked against the pool's name (ntpsec's way). chronyd's certificate
/// names only `localhost` (no IP), so a KE that checked the address would fail.
#[test]
fn slewd_follows_a_pool_over_nts_checked_against_the_pool_name() {
    let dir = TempDir::new("nts-slewd-pool");
    let ca = make_ca(&dir, "test");
    let (cert, key) = nts_ke_support::make_server_cert(&dir, "test", "server", "DNS:localhost");
    std::fs::copy(&cert, dir.join("cert.pem")).unwrap();
    std::fs::copy(&key, dir.join("key.pem")).unwrap();
    let (ntp_port, ke_port) = (free_port(), free_tcp_port());
    let _chronyd = start_chronyd_nts(&dir, ntp_port, ke_port);
    let listen = loopback(free_port());
    let slewd = start_slewd(
        &dir,
        &format!(
            "pool localhost nts ca {} port {ke_port} iburst minpoll 3 maxpoll 3\n",
            ca.display()
        ),
        &[listen],
        &["--clock", "virtual"],
    );
    let table = wait_for_peers(
        listen,
        Duration::from_secs(60),
        "the pool member selected over NTS",
        &slewd,
        |t| t.lines().any(|l| l.starts_with("*localhost ")),
    );
    let log = slewd.log_text();
    assert!(
        log.contains(&format!(
            "NTS, keys from NTS-KE with 127.0.0.1:{ke_port} (certificate for localhost)"
        )),
        "the member's KE goes to its address, checked against the pool name:\n{log}"
    );
    assert!(
        log.contains(&format!("NTS-KE with 127.0.0.1:{ke_port} done")),
        "{log}"
    );
    assert!(
        log.contains(&format!("NTP to 127.0.0.1:{ntp_port}")),
        "chronyd's Port record honoured:\n{log}"
    );
    assert!(
        !log.contains("cannot honour"),
        "pool … nts is accepted:\n{log}"
    );
    assert!(!log.contains("NTS answer refused"), "{log}");
    let member = table
        .lines()
        .find(|l| l.starts_with("*localhost "))
        .unwrap();
    assert!(member.contains("nts:"), "an NTS source in peers:\n{table}");
}

#[test]
fn chronyd_accepts_slewd_as_nts_server() {
    let dir = TempDir::new("nts-slewd-serve");
    let ca = pki(&dir);
    let (port, ke_port) = (free_port(), free_tcp_port());
    let mut slewd = start_slewd(
        &dir,
        &nts_enable_conf(&dir),
        &[loopback(port)],
        &["--clock", "virtual", "--nts-ke-port", &ke_port.to_string()],
    );
    wait_for_log(
        &slewd,
        "serving NTS-KE on 127.0.0.1:",
        Duration::from_secs(10),
    );
    let (ok, out) = chronyd_nts_query(&dir, port, ke_port, &ca);
    assert!(
        ok,
        "chronyd -Q over NTS failed:\n{out}\nslewd log:\n{}",
        slewd.log_text()
    );
    let offset = chronyd_offset(&out).unwrap();
    assert!(offset.abs() < 0.05, "offset {offset}:\n{out}");
    // A restart keeps the master keys (the key file, 0600).
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.join("nts-keys"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "key file mode {mode:o}");
    slewd
        .terminate(Duration::from_secs(5))
        .expect("slewd exits");
    let log = slewd.log_text();
    assert!(log.contains("NTS master key created"), "{log}");
    let served = served_nts(&log);
    assert!(served.0 >= 1, "NTS-authenticated answers counted: {log}");
}

/// slewd's metrics page at `addr` (`--metrics`).
fn scrape(addr: SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut page = String::new();
    let _ = c.read_to_string(&mut page);
    page
}

/// One NTS-KE with slewd's KE server at 127.0.0.1:`ke_port` as `localhost`,
/// trusting only `ca`.
fn ke_with(ke_port: u16, ca: &Path) -> Result<(), String> {
    let mut req = slew_linux::server::nts::KeRequest::new("localhost");
    req.port = ke_port;
    req.ca_file = Some(ca.to_path_buf());
    slew_linux::server::nts::client::exchange(&req)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// SIGHUP re-reads `nts cert`/`nts key` (here renewed in place, as certbot does, by
/// one of another CA): KE clients from then on see the new certificate; a broken
/// key on a later SIGHUP is refused and the certificate in use stays.
#[test]
fn sighup_serves_a_replaced_nts_certificate() {
    let dir = TempDir::new("nts-slewd-hup");
    let ca = pki(&dir);
    let other = make_ca(&dir, "other");
    let (renewed, renewed_key) =
        nts_ke_support::make_server_cert(&dir, "other", "renewed", "DNS:localhost,IP:127.0.0.1");
    let (port, ke_port) = (free_port(), free_tcp_port());
    let slewd = start_slewd(
        &dir,
        &nts_enable_conf(&dir),
        &[loopback(port)],
        &["--clock", "virtual", "--nts-ke-port", &ke_port.to_string()],
    );
    wait_for_log(
        &slewd,
        "serving NTS-KE on 127.0.0.1:",
        Duration::from_secs(10),
    );
    ke_with(ke_port, &ca).expect("KE with the first certificate");
    assert!(ke_with(ke_port, &other).is_err(), "not yet the other CA's");

    std::fs::copy(&renewed, dir.join("cert.pem")).unwrap();
    std::fs::copy(&renewed_key, dir.join("key.pem")).unwrap();
    // SAFETY: kill(2) on our own child's PID.
    unsafe { libc::kill(slewd.pid(), libc::SIGHUP) };
    wait_for_log(
        &slewd,
        "reload: NTS-KE serves the certificate",
        Duration::from_secs(10),
    );
    ke_with(ke_port, &other)
        .unwrap_or_else(|e| panic!("KE with the renewed certificate: {e}\n{}", slewd.log_text()));
    let old = ke_with(ke_port, &ca).expect_err("the old certificate is no longer served");
    assert!(old.contains("certificate"), "{old}");

    std::fs::write(dir.join("key.pem"), "not a key\n").unwrap();
    // SAFETY: as above.
    unsafe { libc::kill(slewd.pid(), libc::SIGHUP) };
    wait_for_log(
        &slewd,
        "reload: NTS-KE keeps the certificate in use",
        Duration::from_secs(10),
    );
    ke_with(ke_port, &other).expect("the renewed certificate is still served");
    // NTP service went on throughout.
    common::wait_for_ntp(loopback(port), Duration::from_secs(5), &slewd);
}

/// A `server … nts` line added by SIGHUP is a new NTS source: its NTS-KE runs and
/// slewd follows it (the source reload, with the NTS settings read again).
#[test]
fn sighup_adds_an_nts_source() {
    let dir = TempDir::new("nts-slewd-hup-source");
    let ca = pki(&dir);
    let (ntp_port, ke_port) = (free_port(), free_tcp_port());
    let _chronyd = start_chronyd_nts(&dir, ntp_port, ke_port);
    let listen = loopback(free_port());
    let slewd = start_slewd(
        &dir,
        "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n",
        &[listen],
        &["--clock", "virtual"],
    );
    std::fs::write(dir.join("ntp.conf"), nts_server_line(&ca, ke_port)).unwrap();
    // SAFETY: kill(2) on our own child's PID.
    unsafe { libc::kill(slewd.pid(), libc::SIGHUP) };
    wait_for_log(
        &slewd,
        &format!("NTS-KE with 127.0.0.1:{ke_port} done"),
        Duration::from_secs(30),
    );
    wait_for_peers(
        listen,
        Duration::from_secs(60),
        "the added NTS source selected",
        &slewd,
        |t| {
            t.lines()
                .any(|l| l.starts_with("*127.0.0.1 ") && l.contains("nts:"))
        },
    );
}

/// (NTS-authenticated answers, answered by the threads with NTS) from the
/// "served N requests" line slewd logs at exit.
fn served_nts(log: &str) -> (u64, u64) {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("served ") && l.contains("requests"))
        .unwrap_or_else(|| panic!("no served line:\n{log}"));
    let before = |marker: &str| -> u64 {
        line.split(marker)
            .next()
            .filter(|_| line.contains(marker))
            .and_then(|h| h.split([' ', ',']).rfind(|w| !w.is_empty()))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let threads = line
        .split("the threads answered ")
        .nth(1)
        .and_then(|t| t.split(", ").nth(1))
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (before(" NTS-authenticated"), threads)
}

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

#[test]
fn server_threads_answer_nts_before_and_after_a_key_rotation() {
    let dir = TempDir::new("nts-slewd-threads");
    let ca = pki(&dir);
    let (port, ke_port) = (free_port(), free_tcp_port());
    let slewd = start_slewd(
        &dir,
        &nts_enable_conf(&dir),
        &[loopback(port)],
        &[
            "--clock",
            "virtual",
            "--server-threads",
            "2",
            "--nts-ke-port",
            &ke_port.to_string(),
            "--nts-rotation-s",
            "4",
        ],
    );
    wait_for_log(
        &slewd,
        "serving NTS-KE on 127.0.0.1:",
        Duration::from_secs(10),
    );
    // The threads' NTS count, from the stats slewd logs on SIGUSR1.
    let threads_nts = |slewd: &Proc| -> u64 {
        let before = slewd.log_text().len();
        // SAFETY: kill(2) on our own child's PID.
        unsafe { libc::kill(slewd.pid(), libc::SIGUSR1) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let log = slewd.log_text();
            if log.len() > before && log[before..].contains("served ") {
                return served_nts(&log[before..]).1;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no stats line after SIGUSR1:\n{}", slewd.log_text());
    };
    // SO_REUSEPORT spreads chronyd's requests (a new source port each) over the
    // three sockets: a run or two reach the threads.
    let mut seen = 0;
    for _ in 0..3 {
        let (ok, out) = chronyd_nts_query(&dir, port, ke_port, &ca);
        assert!(ok, "chronyd -Q:\n{out}\nslewd log:\n{}", slewd.log_text());
        seen = threads_nts(&slewd);
        if seen > 0 {
            break;
        }
    }
    assert!(
        seen > 0,
        "no NTS answer from a server thread:\n{}",
        slewd.log_text()
    );
    wait_for_log(&slewd, "NTS master key rotated", Duration::from_secs(20));
    let mut after = seen;
    for _ in 0..3 {
        let (ok, out) = chronyd_nts_query(&dir, port, ke_port, &ca);
        assert!(
            ok,
            "after the rotation, chronyd -Q:\n{out}\nslewd log:\n{}",
            slewd.log_text()
        );
        after = threads_nts(&slewd);
        if after > seen {
            break;
        }
    }
    assert!(
        after > seen,
        "the threads answered no NTS after the rotation:\n{}",
        slewd.log_text()
    );
    // No client's cookie failed to open (the previous key still opens).
    let log = slewd.log_text();
    let last = log
        .lines()
        .rfind(|l| l.contains("served "))
        .unwrap_or_default();
    assert!(last.contains(", 0 NTS NAKs"), "{log}");
}

/// `slewctl peers` inside `ns`.
fn peers_in(ns: &NetNs, listen: SocketAddr) -> String {
    let mut cmd = ns.command(slew_bin("slewctl").to_str().unwrap());
    cmd.args(["-s", &listen.to_string(), "peers"]);
    text(&run_with_timeout(cmd, Duration::from_secs(20)))
}

/// The NTS-authenticated answers slewd counted, from its SIGUSR1 stats line.
fn nts_served_now(slewd: &Proc) -> u64 {
    let before = slewd.log_text().len();
    // SAFETY: kill(2) on our own child's PID.
    unsafe { libc::kill(slewd.pid(), libc::SIGUSR1) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let log = slewd.log_text();
        if log.len() > before && log[before..].contains("served ") {
            return served_nts(&log[before..]).0;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no stats line after SIGUSR1:\n{}", slewd.log_text());
}

#[test]
fn slewd_follows_ntpsec_over_nts() {
    let ns = NetNs::new("nts-slewd-ntpsec");
    let dir = TempDir::new("nts-slewd-ntpsec");
    let ca = pki(&dir);
    std::fs::write(
        dir.join("ntp.conf"),
        format!(
            "tos orphan 10 orphanwait 1\ndriftfile {d}/ntpd.drift\nstatsdir {d}/\n\
             nts enable\nnts cert {d}/cert.pem\nnts key {d}/key.pem\nnts cookie {d}/ntpsec-keys\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let ntpd = spawn_ntpsec_ntpd(ns.command("setpriv"), &dir);
    ns.wait_for_ntp(&ntpd);
    // slewd's own files beside ntpd's: its ntp.conf goes to a sub-directory.
    let sdir = TempDir::new("nts-slewd-ntpsec-slewd");
    let listen = loopback(12300);
    let slewd = start_slewd_with(
        &sdir,
        &format!(
            "server localhost nts ca {} iburst minpoll 3 maxpoll 3\n",
            ca.display()
        ),
        &[listen],
        &["--clock", "virtual"],
        Some(&ns),
    );
    let log = wait_for_log(&slewd, " done: ", Duration::from_secs(30));
    assert!(
        log.contains("NTP to 127.0.0.1:123") || log.contains("NTP to [::1]:123"),
        "{log}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut table = String::new();
    while Instant::now() < deadline {
        table = peers_in(&ns, listen);
        if table.lines().any(|l| l.starts_with('*')) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        table.lines().any(|l| l.starts_with('*')),
        "ntpsec not selected:\n{table}\nslewd log:\n{}\nntpd log:\n{}",
        slewd.log_text(),
        std::fs::read_to_string(dir.join("ntpd.log")).unwrap_or_default()
    );
    assert!(
        !slewd.log_text().contains("NTS answer refused"),
        "{}",
        slewd.log_text()
    );
}

#[test]
fn ntpsec_follows_slewd_over_nts() {
    let ns = NetNs::new("nts-ntpsec-slewd");
    let dir = TempDir::new("nts-ntpsec-slewd");
    let ca = pki(&dir);
    // ntpsec's ports are fixed (KE 4460, its own NTP socket on 123): slewd serves
    // NTS-KE on 4460 here and NTP on 12300, which its Port record names.
    let slewd = start_slewd_with(
        &dir,
        &nts_enable_conf(&dir),
        &[loopback(12300)],
        &["--clock", "virtual"],
        Some(&ns),
    );
    wait_for_log(
        &slewd,
        "serving NTS-KE on 127.0.0.1:4460",
        Duration::from_secs(10),
    );
    let ndir = TempDir::new("nts-ntpsec-slewd-ntpd");
    std::fs::write(
        ndir.join("ntp.conf"),
        format!(
            "server localhost nts ca {} iburst minpoll 3 maxpoll 3\n\
             driftfile {d}/ntpd.drift\nstatsdir {d}/\n",
            ca.display(),
            d = ndir.path().display()
        ),
    )
    .unwrap();
    let _ntpd = spawn_ntpsec_ntpd(ns.command("setpriv"), &ndir);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut served = 0;
    while Instant::now() < deadline && served < 2 {
        std::thread::sleep(Duration::from_secs(2));
        served = nts_served_now(&slewd);
    }
    assert!(
        served >= 2,
        "NTS-authenticated answers to ntpsec: {served}\nslewd log:\n{}\nntpd log:\n{}",
        slewd.log_text(),
        std::fs::read_to_string(ndir.join("ntpd.log")).unwrap_or_default()
    );
    let log = slewd.log_text();
    let last = log
        .lines()
        .rfind(|l| l.contains("served "))
        .unwrap_or_default();
    assert!(last.contains(", 0 NTS NAKs"), "{log}");
}
