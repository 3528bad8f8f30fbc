//! A host with one address family only (issue 11, second part): slewd started where
//! `socket(AF_INET6)` fails with EAFNOSUPPORT (a kernel booted with
//! `ipv6.disable=1`), or `socket(AF_INET)` does, logs the family it skips and
//! serves the other one on its default wildcard socket, with and without server
//! threads; an upstream source of the missing family is reported, not fatal.
//!
//! The missing family is a seccomp filter on slewd alone (tests/common/seccomp.rs);
//! slewd runs in a namespace the test makes, on port 123, as it does by default.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

use common::*;

/// The local clock to serve, plus an upstream source of the missing family: it
/// cannot be polled, must be reported, and must not keep the local clock from
/// serving.
fn conf(denied: i32) -> String {
    let upstream = if denied == libc::AF_INET6 {
        "fd00::9"
    } else {
        "127.0.0.9"
    };
    format!("server 127.127.1.0\nfudge 127.127.1.0 stratum 10\nserver {upstream} iburst\n")
}

/// slewd in namespace `ns`, on its default sockets, unable to open `denied` sockets.
fn start_one_family(ns: &NetNs, dir: &TempDir, denied: i32, extra: &[&str]) -> Proc {
    let conf_path = dir.join("ntp.conf");
    std::fs::write(&conf_path, conf(denied)).unwrap();
    let netns = std::fs::File::open(format!("/run/netns/{}", ns.name)).unwrap();
    let mut cmd = Command::new(slew_bin("slewd"));
    cmd.arg("-n")
        .arg("-c")
        .arg(&conf_path)
        .args(["--clock", "observe"])
        .args(extra);
    common::seccomp::deny_family(&mut cmd, denied, Some(netns.as_raw_fd()));
    let p = spawn_logged(cmd, "slewd", dir.join("slewd.log"));
    drop(netns);
    p
}

fn check_one_family(denied: i32, extra: &[&str]) {
    let (served, skipped, host, name) = if denied == libc::AF_INET6 {
        ("127.0.0.1:123", "[::]:123", "127.0.0.1", "IPv6")
    } else {
        ("[::1]:123", "0.0.0.0:123", "::1", "IPv4")
    };
    let served: SocketAddr = served.parse().unwrap();
    let ns = NetNs::new("onefam");
    ns.add_lo_addr("fd00::9/128");
    ns.enter_this_thread();
    let dir = TempDir::new("onefam");
    let mut slewd = start_one_family(&ns, &dir, denied, extra);
    wait_for_ntp(served, Duration::from_secs(10), &slewd);
    let (ok, out) = chronyd_query(host, 123);
    assert!(
        ok,
        "chronyd -Q of {host}:123: {out}\nslewd log:\n{}",
        slewd.log_text()
    );
    // slewctl date on the same host: the served family measured, the other's
    // server explained.
    let netns = std::fs::File::open(format!("/run/netns/{}", ns.name)).unwrap();
    let mut ctl = Command::new(slew_bin("slewctl"));
    ctl.args([
        "date",
        "-q",
        "--json",
        "-p",
        "1",
        "-t",
        "1",
        "127.0.0.1",
        "::1",
    ]);
    common::seccomp::deny_family(&mut ctl, denied, Some(netns.as_raw_fd()));
    let out = run_with_timeout(ctl, Duration::from_secs(20));
    drop(netns);
    let t = text(&out);
    let packed: String = t.split_whitespace().collect();
    assert!(packed.contains("\"chosen\":true,\"stratum\":11"), "{t}");
    assert!(t.contains(&format!("no {name} on this host")), "{t}");
    assert!(
        slewd.child.try_wait().unwrap().is_none(),
        "slewd still running; log:\n{}",
        slewd.log_text()
    );
    let status = slewd
        .terminate(Duration::from_secs(5))
        .expect("exits on SIGTERM");
    assert!(status.success(), "clean exit: {status:?}");
    let log = slewd.log_text();
    assert!(log.contains("serving NTP on "), "{log}");
    if extra.contains(&"--server-threads") {
        assert!(log.contains("2 server thread(s)"), "{log}");
    }
    let skip_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!("no {name} on this host")))
        .collect();
    assert!(
        skip_lines.iter().any(|l| l.contains(skipped)),
        "the skipped wildcard {skipped} is logged; log:\n{log}"
    );
    assert!(
        !log.contains(&format!("serving NTP on {skipped}")),
        "{skipped} not served; log:\n{log}"
    );
    let source = if denied == libc::AF_INET6 {
        "fd00::9"
    } else {
        "127.0.0.9"
    };
    assert!(
        log.lines()
            .any(|l| l.contains(source) && l.contains(&format!("no {name}"))),
        "the {name} source {source} is reported; log:\n{log}"
    );
}

#[test]
fn without_ipv6_slewd_serves_ipv4() {
    check_one_family(libc::AF_INET6, &[]);
}

#[test]
fn without_ipv4_slewd_serves_ipv6() {
    check_one_family(libc::AF_INET, &[]);
}

#[test]
fn without_ipv6_server_threads_serve_ipv4() {
    check_one_family(libc::AF_INET6, &["--server-threads", "2"]);
}

#[test]
fn without_ipv4_server_threads_serve_ipv6() {
    check_one_family(libc::AF_INET, &["--server-threads", "2"]);
}

/// An address given explicitly (`--listen`) of the missing family is fatal, with a
/// message that says why.
#[test]
fn an_explicit_listen_address_of_the_missing_family_is_fatal() {
    let ns = NetNs::new("onefam");
    let dir = TempDir::new("onefam");
    let mut slewd = start_one_family(&ns, &dir, libc::AF_INET6, &["--listen", "[::1]:123"]);
    let mut status = None;
    for _ in 0..250 {
        status = slewd.child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = status.expect("slewd exits");
    assert_eq!(status.code(), Some(1));
    let log = slewd.log_text();
    assert!(
        log.contains("cannot bind [::1]:123") && log.contains("no IPv6"),
        "{log}"
    );
}

/// The metrics listener is an explicit address too: of the missing family, a clear
/// refusal; of the other, it serves beside the time server.
#[test]
fn metrics_listener_of_each_family_without_ipv6() {
    let ns = NetNs::new("onefam");
    ns.enter_this_thread();
    let dir = TempDir::new("onefam");
    let mut slewd = start_one_family(&ns, &dir, libc::AF_INET6, &["--metrics", "[::1]:9975"]);
    let mut status = None;
    for _ in 0..250 {
        status = slewd.child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(status.expect("slewd exits").code(), Some(1));
    let log = slewd.log_text();
    assert!(
        log.contains("--metrics [::1]:9975") && log.contains("no IPv6 on this host"),
        "{log}"
    );

    let dir = TempDir::new("onefam");
    let slewd = start_one_family(&ns, &dir, libc::AF_INET6, &["--metrics", "127.0.0.1:9975"]);
    wait_for_ntp(
        "127.0.0.1:123".parse().unwrap(),
        Duration::from_secs(10),
        &slewd,
    );
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect("127.0.0.1:9975").unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut page = String::new();
    let _ = tcp.read_to_string(&mut page);
    assert!(page.starts_with("HTTP/1."), "{page}");
    assert!(page.contains("200"), "{page}");
}
