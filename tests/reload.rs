//! SIGHUP with a dead DNS server: reading the configuration again resolves
//! `restrict HOSTNAME` lines through getaddrinfo, which a DNS server that never
//! answers stalls for the resolver's timeout. slewd must keep serving time meanwhile
//! and apply the new configuration once the lookup has given up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;

const CONF: &str = "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n";

/// A DNS server that reads every query and answers none, on 127.0.0.1:53 of `ns`.
fn blackhole_dns(ns: &NetNs, dir: &TempDir) -> Proc {
    let mut cmd = ns.command("python3");
    cmd.args([
        "-c",
        "import socket,time\n\
         s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         s.bind(('127.0.0.1',53))\n\
         print('ready',flush=True)\n\
         end=time.time()+120\n\
         while time.time()<end:\n    s.recv(2048)\n",
    ]);
    let p = spawn_logged(cmd, "blackhole-dns", dir.join("dns.log"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.log_text().contains("ready") {
        assert!(Instant::now() < deadline, "dns stand-in: {}", p.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

/// One `slewctl date -q` inside `ns`: the offset line, if slewd answered in time.
fn ask(ns: &NetNs, port: u16) -> bool {
    let mut c = ns.command(slew_bin("slewctl").to_str().unwrap());
    c.args(["date", "-q", "-p", "1", "-t", "0.3"])
        .arg(format!("127.0.0.1:{port}"));
    let out = run_with_timeout(c, Duration::from_secs(5));
    text(&out).contains("stratum 11")
}

#[test]
fn sighup_with_a_dead_dns_server_keeps_serving_and_applies_later() {
    let ns = NetNs::new("reload");
    let dir = TempDir::new("reload");
    // `ip netns exec` bind-mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf.
    let etc = std::path::PathBuf::from("/etc/netns").join(&ns.name);
    std::fs::create_dir_all(&etc).unwrap();
    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(etc.clone());
    std::fs::write(
        etc.join("resolv.conf"),
        "nameserver 127.0.0.1\noptions timeout:4 attempts:1\n",
    )
    .unwrap();
    let _dns = blackhole_dns(&ns, &dir);
    let port = 12300;
    let slewd = start_slewd_with(
        &dir,
        CONF,
        &[std::net::SocketAddr::from(([127, 0, 0, 1], port))],
        &["--clock", "observe"],
        Some(&ns),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ask(&ns, port) {
        assert!(Instant::now() < deadline, "{}", slewd.log_text());
    }
    std::fs::write(
        dir.join("ntp.conf"),
        format!("{CONF}restrict timeserver.slew-test.example ignore\n"),
    )
    .unwrap();
    let hup = Instant::now();
    // SAFETY: kill(2) on our own child's PID (ip netns exec execs slewd in place).
    unsafe { libc::kill(slewd.pid(), libc::SIGHUP) };
    // While the lookup hangs (4 s per query, A and AAAA), every query is answered.
    let mut answered = 0;
    while hup.elapsed() < Duration::from_secs(3) {
        assert!(
            ask(&ns, port),
            "no answer {:?} after SIGHUP: the loop waits for DNS\n{}",
            hup.elapsed(),
            slewd.log_text()
        );
        answered += 1;
    }
    assert!(answered >= 3, "{answered}");
    // Then the reload lands, the name skipped as ntpd skips it, time still served.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !slewd.log_text().contains("reload:") {
        assert!(Instant::now() < deadline, "{}", slewd.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = slewd.log_text();
    assert!(
        log.contains("`restrict timeserver.slew-test.example` skipped"),
        "{log}"
    );
    assert!(ask(&ns, port));
}
