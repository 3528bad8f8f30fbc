//! slew-embedded end to end: the appliance example (smoltcp over a TAP device,
//! linux-embedded-hal delays, the software clock) follows a real server on the other
//! side of the link, over IPv4 and IPv6, and must end within 1 ms of the system
//! clock, which is what the server serves.
//!
//! Everything lives in a network namespace the test creates and deletes: the TAP
//! device, its documentation-range addresses, the server. Processes are killed by
//! PID. A missing `ip` or `chronyd` fails the test loudly.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::mode6::ntpsec_ntpq_command_at;
use common::*;

/// How long the appliance runs: its first step comes after about 6 s (iburst
/// spacing, the filter wanting a few samples); the rest shows it staying put.
const RUN_S: u64 = 25;

/// The soft clock's start: half a second fast and 30 ppm fast, like a board with a
/// bad RTC and a cheap crystal.
const START_OFFSET_S: &str = "0.5";
const FREQ_ERROR_PPM: &str = "30";

/// Runs the appliance against `link`'s two server addresses; returns its output.
fn run_appliance(ns: &NetNs, link: &TapLink, dir: &TempDir) -> String {
    run_appliance_with(ns, link, dir, &[], |_| {})
}

/// As [`run_appliance`], with `extra` arguments, calling `during` with the
/// appliance's process half way through its run.
fn run_appliance_with(
    ns: &NetNs,
    link: &TapLink,
    dir: &TempDir,
    extra: &[&str],
    during: impl FnOnce(&Proc),
) -> String {
    let bin = appliance_bin();
    let v4 = SocketAddr::new(link.host_v4, 123).to_string();
    let v6 = SocketAddr::new(link.host_v6, 123).to_string();
    let mut cmd = ns.command(bin.to_str().expect("utf-8 path"));
    cmd.args(["--tap", &link.dev])
        .args([
            "--addr",
            link.appliance_cidrs[0],
            "--addr",
            link.appliance_cidrs[1],
        ])
        .args(["--server", &v4, "--server", &v6])
        .args(["--seconds", &RUN_S.to_string()])
        .args(["--offset", START_OFFSET_S, "--freq-error", FREQ_ERROR_PPM])
        .args(["--minpoll", "0", "--maxpoll", "2", "--serve"])
        .args(extra);
    let mut p = spawn_logged(cmd, "appliance", dir.join("appliance.log"));
    let started = Instant::now();
    let mut during = Some(during);
    let deadline = Instant::now() + Duration::from_secs(RUN_S + 20);
    let status = loop {
        if let Ok(Some(s)) = p.child.try_wait() {
            break s;
        }
        if started.elapsed() >= Duration::from_secs(RUN_S * 2 / 3) {
            if let Some(f) = during.take() {
                f(&p);
            }
        }
        assert!(
            Instant::now() < deadline,
            "appliance did not finish in time; output:\n{}",
            p.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = p.log_text();
    assert!(status.success(), "appliance failed ({status}):\n{out}");
    out
}

/// The figures of the appliance's last line: (final offset s, converged after s).
fn final_figures(out: &str) -> (f64, Option<f64>) {
    let line = out
        .lines()
        .find(|l| l.contains("final offset vs system clock"))
        .unwrap_or_else(|| panic!("no final line in:\n{out}"));
    let offset: f64 = line
        .split("system clock ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot parse {line}"));
    let since = line
        .split("within 1 ms since ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok());
    (offset, since)
}

/// `stratum`: the appliance's own, one below its server's (chronyd's `local stratum
/// 10` serves 10; slewd's fudged local clock at 10 serves 11, as ntpd's does).
fn check(out: &str, server: &str, stratum: u8) {
    let (offset, since) = final_figures(out);
    eprintln!("{server}: final offset {offset:+.6} s, within 1 ms since {since:?} s");
    assert!(
        offset.abs() < 1e-3,
        "offset {offset} s is over 1 ms:\n{out}"
    );
    assert!(since.is_some(), "never converged:\n{out}");
    assert!(
        out.contains("steps 1"),
        "the 0.5 s start must be stepped once:\n{out}"
    );
    let synced = format!("stratum {stratum} state Sync");
    assert!(
        out.contains(&synced),
        "never synchronised ({synced}):\n{out}"
    );
}

#[test]
fn appliance_follows_a_real_chronyd_over_a_tap_link() {
    require("ip", "iproute2");
    let ns = NetNs::new("tap-chrony");
    let link = add_tap_link(&ns);
    let dir = TempDir::new("tap-chrony");
    let _chronyd = start_chronyd_on_link(&ns, &dir, &link);
    let out = run_appliance(&ns, &link, &dir);
    check(&out, "chronyd", 11);
}

#[test]
fn appliance_follows_slewd_over_a_tap_link() {
    require("ip", "iproute2");
    let ns = NetNs::new("tap-slewd");
    let link = add_tap_link(&ns);
    let dir = TempDir::new("tap-slewd");
    let conf = "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n";
    let listen = [
        SocketAddr::new(link.host_v4, 123),
        SocketAddr::new(link.host_v6, 123),
    ];
    // A namespace does not isolate the clock: slewd must only observe it.
    let _slewd = start_slewd_with(&dir, conf, &listen, &["--clock", "observe"], Some(&ns));
    // The admin's networks may ask it mode 6 queries: ntpsec's ntpq, from the host
    // side of the link, over IPv4 and IPv6, once it is synchronised.
    let mut peers = String::new();
    let mut rv = String::new();
    let out = run_appliance_with(
        &ns,
        &link,
        &dir,
        &[
            "--query-from",
            "192.0.2.0/24",
            "--query-from",
            "2001:db8::/64",
        ],
        |_| {
            let ask = |host: &str, args: &[&str]| {
                let out = run_with_timeout(
                    ntpsec_ntpq_command_at(&ns, host, args),
                    Duration::from_secs(10),
                );
                text(&out)
            };
            peers = ask("192.0.2.2", &["-n", "-p"]);
            rv = ask("2001:db8::2", &["-c", "rv"]);
        },
    );
    check(&out, "slewd", 12);
    // `ntpq -p`: both servers, one of them the system peer, at slewd's stratum 11.
    let rows: Vec<&str> = peers
        .lines()
        .filter(|l| l.contains("192.0.2.1") || l.contains("2001:db8::1"))
        .collect();
    assert_eq!(rows.len(), 2, "ntpq -p:\n{peers}\nappliance:\n{out}");
    assert!(
        rows.iter().any(|r| r.starts_with('*')),
        "no system peer in ntpq -p:\n{peers}"
    );
    assert!(
        rows.iter()
            .all(|r| r.split_whitespace().nth(2) == Some("11")),
        "servers' stratum:\n{peers}"
    );
    // `ntpq -c rv`: who answers, synchronised at stratum 12.
    assert!(rv.contains("version=\"slew-embedded"), "ntpq -c rv:\n{rv}");
    assert!(rv.contains("stratum=12"), "ntpq -c rv:\n{rv}");
    assert!(rv.contains("processor=\"x86_64\""), "ntpq -c rv:\n{rv}");
}
