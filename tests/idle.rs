//! An idle slewd sleeps: only a socket, a deadline or a helper thread's result wakes
//! its loop (no periodic wake-up, which costs a laptop or a VM host its idle states
//! and hides missed deadlines). Helper threads' results (a name lookup, a re-read
//! configuration) wake it at once through the mailboxes it polls.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;

const LOCAL: &str = "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n";

fn addr_answers(addr: SocketAddr) -> bool {
    measure(addr).is_some()
}

/// The main thread's voluntary context switches: one per wake-up from `poll`.
fn main_thread_switches(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

#[test]
fn an_idle_daemon_sleeps_and_a_sighup_wakes_it_at_once() {
    let dir = TempDir::new("idle");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let slewd = start_slewd(&dir, LOCAL, &[addr], &["--clock", "virtual"]);
    // Start-up done (the first answer was given): now nothing is due for an hour
    // (the driftfile) but the local clock's own updates.
    std::thread::sleep(Duration::from_secs(1));
    let before = main_thread_switches(slewd.pid());
    std::thread::sleep(Duration::from_secs(6));
    let wakes = main_thread_switches(slewd.pid()) - before;
    assert!(
        wakes <= 2,
        "the idle loop woke {wakes} times in 6 s\n{}",
        slewd.log_text()
    );
    // A SIGHUP: the re-read configuration wakes the loop through its mailbox.
    std::fs::write(
        dir.join("ntp.conf"),
        "server 127.127.1.0\nfudge 127.127.1.0 stratum 9\n",
    )
    .unwrap();
    let hup = Instant::now();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(slewd.pid(), libc::SIGHUP) };
    while !slewd.log_text().contains("reload: ") {
        assert!(
            hup.elapsed() < Duration::from_secs(2),
            "the re-read configuration was not applied within 2 s\n{}",
            slewd.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(addr_answers(addr), "{}", slewd.log_text());
}

#[test]
fn a_finished_name_lookup_wakes_the_loop_and_the_source_is_polled() {
    let dir = TempDir::new("idle-lookup");
    // The "server": a socket that only records the first request.
    let upstream = UdpSocket::bind("127.0.0.1:0").unwrap();
    upstream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let port = upstream.local_addr().unwrap().port();
    let conf = format!("{LOCAL}server -4 localhost port {port} iburst minpoll 4\n");
    let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let slewd = start_slewd(&dir, &conf, &[listen], &["--clock", "virtual"]);
    // slewd answers: the lookup was asked for at start-up, before the first turn.
    let started = Instant::now();
    let mut buf = [0u8; 512];
    let got = upstream.recv_from(&mut buf);
    assert!(
        got.is_ok(),
        "no request from slewd within 5 s: {got:?}\n{}",
        slewd.log_text()
    );
    let (n, _) = got.unwrap();
    assert!(
        n >= 48 && buf[0] & 0x07 == 3,
        "a client request: {:02x?}",
        &buf[..n.min(4)]
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}\n{}",
        started.elapsed(),
        slewd.log_text()
    );
}
