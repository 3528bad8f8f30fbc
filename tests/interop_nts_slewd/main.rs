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

#[path = "../common/mod.rs"]
mod common;
#[path = "../nts_ke_support/mod.rs"]
mod nts_ke_support;

mod chronyd;
mod ntpsec;
mod refusals;
mod reload;

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

/// slewd's NTS counts now: (NTS-authenticated answers, of them answered by the
/// server threads), from the stats line it logs on SIGUSR1.
fn nts_counts_now(slewd: &Proc) -> (u64, u64) {
    let before = slewd.log_text().len();
    // SAFETY: kill(2) on our own child's PID.
    unsafe { libc::kill(slewd.pid(), libc::SIGUSR1) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let log = slewd.log_text();
        if log.len() > before && log[before..].contains("served ") {
            return served_nts(&log[before..]);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no stats line after SIGUSR1:\n{}", slewd.log_text());
}
