//! The stock monitoring tools against slewd: ntpsec's `ntpq -p` and `ntpq -c rv`, and
//! Debian's C `ntpstat`. They talk to 127.0.0.1:123 only, so slewd runs inside a
//! network namespace each test creates and deletes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use common::mode6::ntpsec_ntpq_command;
use common::*;

const LOCAL_CLOCK_CONF: &str = "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n";
const NO_SOURCE_CONF: &str = "# nothing to follow\n";

fn port_123() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 123))
}

/// ntpsec's ntpq, unpacked by scripts/install-peers under target/peers; it runs on
/// the system python, which has the `ntp` module (python3-ntp).
fn ntpq(ns: &NetNs, args: &[&str]) -> Output {
    let cmd = ntpsec_ntpq_command(ns, args);
    assert!(
        PathBuf::from("/usr/lib/python3/dist-packages/ntp/packet.py").exists(),
        "ntpq's library is missing: install the Debian package `python3-ntp`"
    );
    run_with_timeout(cmd, Duration::from_secs(30))
}

fn ntpstat(ns: &NetNs) -> Output {
    let ntpstat = require("ntpstat", "ntpstat");
    run_with_timeout(
        ns.command(ntpstat.to_str().unwrap()),
        Duration::from_secs(20),
    )
}

fn start(ns: &NetNs, dir: &TempDir, conf: &str) -> Proc {
    let slewd = start_slewd_with(dir, conf, &[port_123()], &[], Some(ns));
    ns.wait_for_ntp(&slewd);
    slewd
}

#[test]
fn ntpq_p_shows_the_local_clock_as_system_peer() {
    let ns = NetNs::new("ntpqp");
    let dir = TempDir::new("ntpqp");
    let slewd = start(&ns, &dir, LOCAL_CLOCK_CONF);
    let out = ntpq(&ns, &["-p"]);
    let text = text(&out);
    assert!(
        out.status.success(),
        "ntpq -p failed:\n{text}\n{}",
        slewd.log_text()
    );
    let line = text
        .lines()
        .find(|l| l.contains("LOCAL(0)"))
        .unwrap_or_else(|| panic!("no LOCAL(0) line:\n{text}"));
    let cols: Vec<&str> = line[1..].split_whitespace().collect();
    assert!(
        line.starts_with('*'),
        "tally '*' for the system peer: {line:?}"
    );
    assert_eq!(&cols[..4], ["LOCAL(0)", ".LOCL.", "10", "l"], "{line:?}");
    assert_eq!(cols[5], "64", "poll: {line:?}");
    assert_eq!(cols[6], "1", "reach right after start: {line:?}");
    assert_eq!(&cols[7..], ["0.000", "0.000", "0.000"], "{line:?}");
    assert!(text.starts_with("     remote           refid      st t when poll reach"));
}

#[test]
fn ntpq_rv_prints_the_system_variables() {
    let ns = NetNs::new("ntpqrv");
    let dir = TempDir::new("ntpqrv");
    let _slewd = start(&ns, &dir, LOCAL_CLOCK_CONF);
    let out = ntpq(&ns, &["-c", "rv"]);
    let text = text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.starts_with("associd=0 status=0515 leap_none, sync_local, 1 event, clock_sync,"),
        "{text}"
    );
    for needle in [
        "version=\"slew ",
        "leap=00",
        "stratum=11",
        "rootdelay=0.0",
        "refid=LOCL",
        "peer=1",
        "tc=6",
        "mintc=3",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    // A list of names is answered in that order; an unknown name is refused.
    let out = ntpq(&ns, &["-c", "rv 0 stratum,refid"]);
    assert!(
        text_of(&out).contains("stratum=11, refid=LOCL"),
        "{}",
        text_of(&out)
    );
    let out = ntpq(&ns, &["-c", "rv 0 nosuchvar"]);
    assert!(text_of(&out).contains("UNKNOWNVAR"), "{}", text_of(&out));
}

fn text_of(out: &Output) -> String {
    text(out)
}

#[test]
fn ntpstat_synchronised_to_the_local_clock() {
    let ns = NetNs::new("ntpstat");
    let dir = TempDir::new("ntpstat");
    let _slewd = start(&ns, &dir, LOCAL_CLOCK_CONF);
    let out = ntpstat(&ns);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0].trim_end(),
        "synchronised to local net at stratum 11",
        "{text}"
    );
    assert_eq!(lines[1], "   time correct to within 10 ms", "{text}");
    assert_eq!(lines[2], "   polling server every 64 s", "{text}");
}

#[test]
fn ntpstat_unsynchronised_and_no_daemon() {
    let ns = NetNs::new("ntpstatu");
    let dir = TempDir::new("ntpstatu");
    let mut slewd = start(&ns, &dir, NO_SOURCE_CONF);
    let out = ntpstat(&ns);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(
        text,
        "unsynchronised\n  time server re-starting\n   polling server every 64 s\n"
    );
    // ntpq -p: no associations at all.
    let out = ntpq(&ns, &["-p"]);
    assert!(
        text_of(&out).contains("No association IDs returned"),
        "{}",
        text_of(&out)
    );
    // No daemon: exit 2.
    slewd
        .terminate(Duration::from_secs(5))
        .expect("slewd stops");
    let out = ntpstat(&ns);
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
}

#[test]
fn queries_from_other_addresses_get_no_answer() {
    // A documentation address on the namespace's lo: not a loopback address, so a
    // query from it stands for one from the network, and slewd stays silent.
    let ns = NetNs::new("ntpqfar");
    assert!(ns.exec_status(&["ip", "addr", "add", "192.0.2.1/32", "dev", "lo"]));
    let dir = TempDir::new("ntpqfar");
    let slewd = start_slewd_with(
        &dir,
        LOCAL_CLOCK_CONF,
        &[SocketAddr::from(([0, 0, 0, 0], 123))],
        &[],
        Some(&ns),
    );
    ns.wait_for_ntp(&slewd);
    let python = require("python3", "python3");
    let probe = "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);\
                 s.bind(('192.0.2.1',0));s.settimeout(1);\
                 s.sendto(bytes([0x16,2,0,1,0,0,0,0,0,0,0,0]),('192.0.2.1',123))\n\
                 try:\n s.recv(600);print('answered')\nexcept socket.timeout:\n print('silent')";
    let mut cmd = ns.command(python.to_str().unwrap());
    cmd.args(["-c", probe]);
    let out = run_with_timeout(cmd, Duration::from_secs(10));
    assert_eq!(text(&out).trim(), "silent", "{}", slewd.log_text());
    drop(slewd);
    // A restrict line naming that network (the article's intranet line, without
    // noquery) lets it query, as with ntpd.
    let conf = format!("{LOCAL_CLOCK_CONF}restrict 192.0.2.0 mask 255.255.255.0 nomodify notrap\n");
    let dir2 = TempDir::new("ntpqlan");
    let slewd = start_slewd_with(
        &dir2,
        &conf,
        &[SocketAddr::from(([0, 0, 0, 0], 123))],
        &[],
        Some(&ns),
    );
    ns.wait_for_ntp(&slewd);
    let mut cmd = ns.command(python.to_str().unwrap());
    cmd.args(["-c", probe]);
    let out = run_with_timeout(cmd, Duration::from_secs(10));
    assert_eq!(text(&out).trim(), "answered", "{}", slewd.log_text());
}

fn slewctl(args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(slew_bin("slewctl"));
    cmd.args(args);
    run_with_timeout(cmd, Duration::from_secs(20))
}

/// slewctl against slewd following a real chronyd (chronyd speaks no mode 6, so it
/// is the upstream that gives the peer table a real row): the upstream is `*` with
/// chronyd's refid, the local clock is the unselected backup, and status says
/// "synchronised to NTP server (127.0.0.1)" with exit 0. Everything on loopback,
/// any port: slewctl -s takes HOST:PORT, so no namespace is needed.
#[test]
fn slewctl_peers_and_status_against_slewd_following_chronyd() {
    let dir = TempDir::new("ctlchrony");
    let chrony_port = free_port();
    let _chronyd = start_chronyd_server(&dir, chrony_port, "");
    let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let conf = format!(
        "server 127.0.0.1 port {chrony_port} iburst minpoll 4 maxpoll 4\n{LOCAL_CLOCK_CONF}"
    );
    let slewd = start_slewd(&dir, &conf, &[listen], &["--clock", "virtual"]);
    let server = listen.to_string();
    // Bounded wait for the first selection (iburst: a few seconds).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        let out = slewctl(&["-s", &server, "status"]);
        if out.status.code() == Some(0) && text(&out).contains("NTP server") {
            break out;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "slewd never synchronised to chronyd:\n{}\n{}",
            text(&out),
            slewd.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let st = text(&status);
    let lines: Vec<&str> = st.lines().collect();
    assert_eq!(
        lines[0], "synchronised to NTP server (127.0.0.1) at stratum 11",
        "{st}"
    );
    assert!(lines[1].starts_with("   time correct to within "), "{st}");
    assert!(lines[2].starts_with("   polling server every "), "{st}");
    assert!(lines[3].starts_with("   frequency "), "{st}");
    assert!(lines[3].contains("discipline "), "{st}");

    let out = slewctl(&["-s", &server, "peers"]);
    let table = text(&out);
    assert!(out.status.success(), "{table}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("     remote           refid      st t when poll reach"));
    let up = lines
        .iter()
        .find(|l| l.contains("127.0.0.1 "))
        .unwrap_or_else(|| panic!("no upstream row:\n{table}"));
    // chronyd's `local stratum 10` refid is 127.127.1.1.
    assert!(
        up.starts_with("*127.0.0.1       127.127.1.1     10 u "),
        "{up:?}\n{table}"
    );
    let cols: Vec<&str> = up[1..].split_whitespace().collect();
    assert_eq!(cols[5], "16", "poll: {up:?}");
    assert_ne!(cols[6], "0", "reach: {up:?}");
    assert_eq!(cols.len(), 10, "no reason against the system peer: {up:?}");
    let local = lines
        .iter()
        .find(|l| l.contains("LOCAL(0)"))
        .unwrap_or_else(|| panic!("no LOCAL(0) row:\n{table}"));
    assert!(
        local.starts_with(" LOCAL(0)        .LOCL.          10 l "),
        "{local:?}"
    );
    assert!(local.ends_with(" backup"), "the reason column: {local:?}");

    let out = slewctl(&["-s", &server, "--json", "peers"]);
    let j = text(&out);
    assert!(
        j.contains("\"tally\": \"*\", \"selected\": true, \"remote\": \"127.0.0.1\""),
        "{j}"
    );
    assert!(j.contains("\"reason\": \"backup\""), "{j}");
    let out = slewctl(&["-s", &server, "--json", "status"]);
    let j = text(&out);
    assert_eq!(out.status.code(), Some(0), "{j}");
    assert!(j.contains("\"synchronised\": true, \"exit\": 0"), "{j}");
    assert!(j.contains("\"source\": \"NTP server (127.0.0.1)\""), "{j}");
}

/// No daemon behind the address: ntpstat's words and exit 2, for text and JSON.
#[test]
fn slewctl_status_without_a_daemon_exits_2() {
    let server = SocketAddr::from(([127, 0, 0, 1], free_port())).to_string();
    let out = slewctl(&["-s", &server, "--timeout", "0.3", "status"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).starts_with("Unable to talk to NTP daemon. Is it running?"));
    let out = slewctl(&["-s", &server, "--timeout", "0.3", "--json", "status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("\"exit\": 2"), "{}", text(&out));
    let out = slewctl(&["-s", &server, "--timeout", "0.3", "peers"]);
    assert_eq!(out.status.code(), Some(2));
}
