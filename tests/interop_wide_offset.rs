//! Clocks far off, through the whole chain against a real chronyd: slewd `-g` and
//! `-q` with the virtual clock decades away, `slewctl date` under libfaketime at
//! 2^31, 2^32 and 2^35 s, and `slewctl date` naming the bad answers it refuses.
//!
//! The four-timestamp offset used to be summed in saturating 32.32, so any offset
//! beyond 2^30 s read as exactly 2^30 s (issue 11, items 4 to 6).

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::UdpSocket;
use std::process::{Command, Output};
use std::time::Duration;

use common::follow::{follow_fresh_chronyd, loopback as addr, slewd_q_against_fresh_chronyd};
use common::*;

/// 56 years behind (about 1970 today): where a box without an RTC starts.
const FIFTY_SIX_YEARS_S: f64 = 56.0 * 365.25 * 86_400.0;

#[test]
fn slewd_g_with_its_clock_1_78e9_s_behind_steps_once_onto_chronyd() {
    let dir = TempDir::new("wide-g");
    // The figure: 1 780 000 000 s behind (1970 today), -g.
    let behind_s = 1_780_000_000.0;
    let behind = format!("{}", -behind_s);
    let mut f = follow_fresh_chronyd(
        &dir,
        "",
        &["-g", "--clock", "virtual", "--virtual-offset", &behind],
    );
    let port = f.port;
    let slewd = &mut f.slewd;
    let (offset, _, _) = wait_until(
        addr(port),
        Duration::from_secs(60),
        "|offset| < 1 ms at stratum 11",
        slewd,
        |o, st, _| o.abs() < 0.001 && st == 11,
    );
    // Still there two polls later: no second step, no panic exit.
    std::thread::sleep(Duration::from_secs(17));
    let (later, st, _) = measure(addr(port)).expect("still serving");
    assert!(later.abs() < 0.001 && st == 11, "{later} at stratum {st}");
    assert!(slewd.terminate(Duration::from_secs(5)).unwrap().success());
    let log = slewd.log_text();
    let steps: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("stepped the clock"))
        .collect();
    assert_eq!(steps.len(), 1, "{log}");
    let stepped = number_after(&log, "stepped the clock by ").unwrap();
    assert!((stepped - behind_s).abs() < 0.01, "{log}");
    assert!(!log.contains("panic threshold"), "{log}");
    eprintln!("stepped by {stepped:+.6} s; offset {offset:+.6} s, then {later:+.6} s");
}

/// `slewd -q` with the virtual clock `offset_s` off and `extra` arguments.
fn slewd_q(offset_s: f64, extra: &[&str]) -> (Output, String) {
    let offset = format!("--virtual-offset={offset_s}");
    let args: Vec<&str> = std::iter::once(offset.as_str())
        .chain(extra.iter().copied())
        .collect();
    let out = slewd_q_against_fresh_chronyd("wide-q", &args);
    let t = text(&out);
    (out, t)
}

/// `slewd -q -g` off by `offset_s`: one true step, exit 0, the clock right after.
fn q_g_sets_the_clock(offset_s: f64) {
    let (out, t) = slewd_q(offset_s, &["-g"]);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let stepped = number_after(&t, "-q: stepped the clock by ").unwrap_or_else(|| panic!("{t}"));
    assert!((stepped + offset_s).abs() < 0.01, "{t}");
    let left = number_after(&t, "clock is now ").unwrap_or_else(|| panic!("{t}"));
    assert!(left.abs() < 0.005, "left {left} s:\n{t}");
    assert_eq!(t.matches("stepped the clock").count(), 1, "{t}");
    assert!(!t.contains("panic threshold"), "{t}");
    eprintln!("-q -g from {offset_s:+} s: stepped by {stepped:+.6} s, left {left:+.6} s");
}

#[test]
fn slewd_q_g_from_1500_s_off_sets_the_clock_and_exits_0() {
    q_g_sets_the_clock(-1500.0);
}

#[test]
fn slewd_q_g_from_56_years_off_sets_the_clock_and_exits_0() {
    q_g_sets_the_clock(-FIFTY_SIX_YEARS_S);
}

#[test]
fn slewd_q_without_g_beyond_the_panic_threshold_exits_1_untouched() {
    let (out, t) = slewd_q(-1500.0, &[]);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("exceeds the panic threshold"), "{t}");
    assert!(
        t.contains("slewd -q -g"),
        "the message says what to run:\n{t}"
    );
    assert!(!t.contains("stepped the clock"), "{t}");
}

/// `slewctl date -q` against chronyd with slewctl's own clock moved by libfaketime.
fn slewctl_date_faked(port: u16, faketime: &str) -> String {
    let mut cmd = Command::new(slew_bin("slewctl"));
    cmd.env("LD_PRELOAD", libfaketime())
        .env("FAKETIME", faketime)
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .args(["date", "-q", "-p", "2"])
        .arg(format!("127.0.0.1:{port}"));
    let out = run_with_timeout(cmd, Duration::from_secs(20));
    let t = text(&out);
    assert!(out.status.success(), "FAKETIME={faketime}:\n{t}");
    t
}

#[test]
fn slewctl_date_is_exact_with_the_client_2_pow_31_32_35_s_off() {
    let dir = TempDir::new("wide-date");
    let port = free_port();
    let _chronyd = start_chronyd_server(&dir, port, "");
    for shift in [1i64 << 31, 1 << 32, 1 << 35, -(1 << 31), -1_780_000_000] {
        let t = slewctl_date_faked(port, &format!("{shift:+}"));
        let offset = number_after(&t, "server 127.0.0.1, stratum 10, offset ")
            .unwrap_or_else(|| panic!("{t}"));
        // Our clock is `shift` ahead: the server is `shift` behind us.
        let err = offset + shift as f64;
        assert!(
            err.abs() < 0.01,
            "FAKETIME={shift:+}: offset {offset}:\n{t}"
        );
        let summary = number_after(&t, "step time server 127.0.0.1 offset ")
            .unwrap_or_else(|| panic!("ntpdate's step line:\n{t}"));
        assert!((summary + shift as f64).abs() < 0.01, "{t}");
        eprintln!("FAKETIME={shift:+}: offset {offset:+.6} (error {err:+.6} s)");
    }
}

/// Builds a responder's answer from the request.
type MakeAnswer = dyn Fn(&[u8]) -> Vec<u8> + Send;

/// A UDP responder on loopback: answers up to four requests, each with
/// `make(request)`. Returns its port.
fn responder(make: impl Fn(&[u8]) -> Vec<u8> + Send + 'static) -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = s.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        // Answer each request for a while (slewctl sends one per sample).
        for _ in 0..4 {
            let Ok((n, from)) = s.recv_from(&mut buf) else {
                return;
            };
            let _ = s.send_to(&make(&buf[..n]), from);
        }
    });
    port
}

/// A well-formed server answer to `req`, then `edit` applied.
fn answer(req: &[u8], edit: impl Fn(&mut [u8])) -> Vec<u8> {
    let mut a = vec![0u8; 48];
    a[0] = 0x24; // leap 0, version 4, mode 4
    a[1] = 2;
    a[24..32].copy_from_slice(&req[40..48]); // origin = their transmit
    a[32..40].copy_from_slice(&req[40..48]);
    a[40..48].copy_from_slice(&req[40..48]);
    edit(&mut a);
    a
}

/// slewctl's line about the server on `port`.
fn why_refused(port: u16) -> String {
    let mut cmd = Command::new(slew_bin("slewctl"));
    cmd.args(["date", "-q", "-p", "1", "-t", "0.5"])
        .arg(format!("127.0.0.1:{port}"));
    let out = run_with_timeout(cmd, Duration::from_secs(10));
    assert!(!out.status.success());
    assert!(
        !out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b),
        "no ESC reaches the terminal"
    );
    let t = text(&out);
    t.lines()
        .find(|l| l.contains(&format!("127.0.0.1:{port}: ")))
        .unwrap_or_else(|| panic!("no reason line:\n{t}"))
        .to_string()
}

#[test]
fn slewctl_date_names_each_kind_of_bad_answer() {
    let cases: Vec<(&str, Box<MakeAnswer>)> = vec![
        (
            "answered with a 12-byte datagram: too short",
            Box::new(|_| vec![0x24; 12]),
        ),
        (
            "answer's origin timestamp does not match our request (stale or spoofed)",
            Box::new(|r| answer(r, |a| a[31] ^= 1)),
        ),
        (
            "answered in mode 3 (client), not mode 4 (server)",
            Box::new(|r| answer(r, |a| a[0] = 0x23)),
        ),
        (
            "kiss code RATE",
            Box::new(|r| {
                answer(r, |a| {
                    a[0] = 0xe4;
                    a[1] = 0;
                    a[12..16].copy_from_slice(b"RATE");
                })
            }),
        ),
        (
            "kiss code \\x1b[2J",
            Box::new(|r| {
                answer(r, |a| {
                    a[0] = 0xe4;
                    a[1] = 0;
                    a[12..16].copy_from_slice(&[0x1b, b'[', b'2', b'J']);
                })
            }),
        ),
    ];
    for (want, make) in cases {
        let port = responder(make);
        let line = why_refused(port);
        assert!(line.contains(want), "want {want:?}, got {line:?}");
        assert!(!line.contains("no response"), "{line}");
    }
}

/// slewd with the `observe` clock (the system clock, at full width like the kernel
/// clock) under libfaketime: its clock `shift` s ahead of chronyd's.
fn slewd_observe_faked(dir: &TempDir, upstream: u16, shift: i64, extra: &[&str]) -> Proc {
    let conf = dir.join("ntp.conf");
    std::fs::write(
        &conf,
        format!("server 127.0.0.1 port {upstream} iburst minpoll 3 maxpoll 3\n"),
    )
    .unwrap();
    let mut cmd = Command::new(slew_bin("slewd"));
    cmd.env("LD_PRELOAD", libfaketime())
        .env("FAKETIME", format!("{shift:+}"))
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .args(["-n", "--clock", "observe", "--listen", "127.0.0.1:0"])
        .args(extra)
        .arg("-c")
        .arg(&conf);
    spawn_logged(cmd, "slewd", dir.join("slewd.log"))
}

/// Waits (bounded) until `log` of `p` contains `needle` or `p` exits.
fn wait_for_log(p: &mut Proc, needle: &str, limit: Duration) -> String {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        let log = p.log_text();
        if log.contains(needle) || matches!(p.child.try_wait(), Ok(Some(_))) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    p.log_text()
}

#[test]
fn a_full_width_clock_whole_eras_ahead_is_stepped_back_by_them_with_g() {
    // 2^32 and 2^35 s ahead: the same NTP timestamps as the truth, so the node
    // syncs at once; only the full-width reading (year 2162, 3115) shows the error.
    for shift in [1i64 << 32, 1 << 35] {
        let dir = TempDir::new("wide-era");
        let upstream = free_port();
        let _chronyd = start_chronyd_server(&dir, upstream, "");
        let mut slewd = slewd_observe_faked(&dir, upstream, shift, &["-g"]);
        let log = wait_for_log(
            &mut slewd,
            "whole number of NTP eras",
            Duration::from_secs(40),
        );
        let would = number_after(&log, "observe: would step the clock by ")
            .unwrap_or_else(|| panic!("shift {shift}:\n{log}"));
        assert_eq!(would, -shift as f64, "{log}");
        assert!(
            log.contains(&format!("stepped the clock by -{shift}.000000 s")),
            "{log}"
        );
        assert!(slewd.terminate(Duration::from_secs(5)).unwrap().success());
    }
}

#[test]
fn a_full_width_clock_whole_eras_ahead_without_g_exits_1_untouched() {
    let dir = TempDir::new("wide-era-nog");
    let upstream = free_port();
    let _chronyd = start_chronyd_server(&dir, upstream, "");
    let mut slewd = slewd_observe_faked(&dir, upstream, 1 << 35, &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Ok(Some(s)) = slewd.child.try_wait() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running:\n{}",
            slewd.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let log = slewd.log_text();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("beyond the panic threshold"), "{log}");
    assert!(!log.contains("would step"), "{log}");
}

#[test]
fn slewd_q_g_with_a_full_width_clock_2_pow_35_s_ahead_steps_it_back_whole() {
    let dir = TempDir::new("wide-era-q");
    let upstream = free_port();
    let _chronyd = start_chronyd_server(&dir, upstream, "");
    let mut slewd = slewd_observe_faked(&dir, upstream, 1 << 35, &["-q", "-g"]);
    let log = wait_for_log(
        &mut slewd,
        "-q: stepped the clock by",
        Duration::from_secs(40),
    );
    let stepped =
        number_after(&log, "-q: stepped the clock by ").unwrap_or_else(|| panic!("{log}"));
    // The whole 2^35 s, plus the node's own sub-millisecond remainder.
    assert!((stepped + (1i64 << 35) as f64).abs() < 0.01, "{log}");
    let status = slewd.terminate(Duration::from_secs(5)).unwrap();
    assert!(status.success(), "{log}");
}
