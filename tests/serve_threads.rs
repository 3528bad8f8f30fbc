//! slewd with `--server-threads 2`: three SO_REUSEPORT sockets share the address;
//! requests from 64 loopback addresses and many ports are all answered correctly
//! (whichever thread the kernel hands them to), mode 6 requests that land on a worker
//! are answered by that worker itself, and the exit log merges every thread's
//! counters. Every thread answers with what the main thread serves: a pending leap
//! second, the restrict lines of a SIGHUP'd configuration, one rate limit per client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;

const CONF: &str = "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n";

fn tasks(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn server_threads_answer_many_sources_and_control_queries() {
    let dir = TempDir::new("threads");
    let server = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut slewd = start_slewd(
        &dir,
        CONF,
        &[server],
        &["--clock", "observe", "--server-threads", "2"],
    );
    assert!(
        tasks(slewd.pid()) >= 3,
        "main thread plus two server threads"
    );

    // 64 addresses x 2 ports, 4 requests each, every one with its own origin.
    let clients: Vec<UdpSocket> = (1..=64u8)
        .flat_map(|last| {
            (0..2).map(move |_| {
                let s = UdpSocket::bind(SocketAddr::from(([127, 2, 0, last], 0))).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
                s
            })
        })
        .collect();
    let mut answered = 0;
    for round in 0..4u64 {
        for (i, c) in clients.iter().enumerate() {
            let mut req = [0u8; 48];
            req[0] = 0x23;
            let nonce = 0xA5A5_0000_0000_0000 | (round << 16) | i as u64;
            req[40..48].copy_from_slice(&nonce.to_be_bytes());
            c.send_to(&req, server).unwrap();
        }
        for (i, c) in clients.iter().enumerate() {
            let mut buf = [0u8; 128];
            let (n, from) = c.recv_from(&mut buf).expect("every request answered");
            assert_eq!(from, server, "answer from the address asked");
            assert_eq!(n, 48);
            assert_eq!(buf[0] & 7, 4, "mode 4");
            assert_eq!(buf[1], 11, "stratum 11 from the local clock");
            let nonce = 0xA5A5_0000_0000_0000 | (round << 16) | i as u64;
            assert_eq!(
                &buf[24..32],
                &nonce.to_be_bytes(),
                "origin echoes the request"
            );
            answered += 1;
        }
    }
    assert_eq!(answered, 4 * 128);

    // Mode 6 READSTAT from 12 source ports: some land on worker sockets and are
    // answered from the same address.
    let started = Instant::now();
    for _ in 0..12 {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.send_to(&[0x16, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], server)
            .unwrap();
        let mut buf = [0u8; 600];
        let (n, from) = s.recv_from(&mut buf).expect("mode 6 answered");
        assert_eq!(from, server);
        assert!(n >= 12 && buf[1] & 0x80 != 0, "a control response");
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    slewd.terminate(Duration::from_secs(5)).expect("clean exit");
    let log = slewd.log_text();
    assert!(log.contains("main loop and 2 server threads"), "{log}");
    let served: u64 = log
        .split("served ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(served >= 4 * 128, "merged counters: {log}");
}

/// One request from each of `n` fresh sockets on `ip` (so `n` source ports, which
/// SO_REUSEPORT spreads over every thread's socket); the answers, in order, `None`
/// where none came within half a second.
fn ask_from_many_ports(server: SocketAddr, ip: [u8; 4], n: usize) -> Vec<Option<Vec<u8>>> {
    let sockets: Vec<UdpSocket> = (0..n)
        .map(|_| {
            let s = UdpSocket::bind(SocketAddr::from((ip, 0))).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            s
        })
        .collect();
    for (i, s) in sockets.iter().enumerate() {
        let mut req = [0u8; 48];
        req[0] = 0x23;
        req[40..48].copy_from_slice(&(0x5A5A_0000_0000_0000u64 | i as u64).to_be_bytes());
        s.send_to(&req, server).unwrap();
    }
    sockets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut buf = [0u8; 128];
            let (n, _) = s.recv_from(&mut buf).ok()?;
            let origin = 0x5A5A_0000_0000_0000u64 | i as u64;
            assert_eq!(&buf[24..32], &origin.to_be_bytes(), "its own origin");
            Some(buf[..n].to_vec())
        })
        .collect()
}

#[test]
fn every_server_thread_announces_a_pending_leap_second() {
    let dir = TempDir::new("threads-leap");
    let conf = format!(
        "{CONF}leapfile {}\n",
        write_leapfile_ten_days_ahead(&dir).display()
    );
    let server = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let _slewd = start_slewd(
        &dir,
        &conf,
        &[server],
        &["--clock", "observe", "--server-threads", "2"],
    );
    // 48 source ports: the chance that none lands on a worker is 3^-48.
    let answers = ask_from_many_ports(server, [127, 5, 0, 1], 48);
    for (i, a) in answers.iter().enumerate() {
        let a = a.as_ref().unwrap_or_else(|| panic!("request {i} answered"));
        assert_eq!(a[0] >> 6, 1, "request {i}: leap indicator 'insert'");
        assert_eq!(a[1], 11, "request {i}: stratum");
    }
}

#[test]
fn a_sighup_restrict_line_reaches_every_server_thread() {
    let dir = TempDir::new("threads-hup");
    let server = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let slewd = start_slewd(
        &dir,
        CONF,
        &[server],
        &["--clock", "observe", "--server-threads", "2"],
    );
    let before = ask_from_many_ports(server, [127, 6, 0, 1], 48);
    assert!(before.iter().all(Option::is_some), "all served before");
    std::fs::write(
        dir.join("ntp.conf"),
        format!("{CONF}restrict 127.6.0.0 mask 255.255.0.0 ignore\n"),
    )
    .unwrap();
    // SAFETY: kill(2) on our own child's PID.
    unsafe { libc::kill(slewd.pid(), libc::SIGHUP) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !slewd.log_text().contains("reload:") {
        assert!(Instant::now() < deadline, "{}", slewd.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let ignored = ask_from_many_ports(server, [127, 6, 0, 1], 48);
    let leaked = ignored.iter().filter(|a| a.is_some()).count();
    assert_eq!(leaked, 0, "no thread answers an ignored address");
    let others = ask_from_many_ports(server, [127, 7, 0, 1], 48);
    assert!(others.iter().all(Option::is_some), "the rest still served");
}

#[test]
fn one_client_has_one_rate_limit_however_many_threads_serve_it() {
    // `limited` with ntpd's discard defaults: a second packet less than 2 s after
    // the first from the same address is over the limit, whatever its port.
    let conf = format!("{CONF}restrict default limited\nrestrict 127.0.0.1\n");
    let served = |threads: &[&str]| {
        let dir = TempDir::new("threads-limit");
        let server = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut args = vec!["--clock", "observe"];
        args.extend_from_slice(threads);
        let _slewd = start_slewd(&dir, &conf, &[server], &args);
        let answers = ask_from_many_ports(server, [127, 8, 0, 1], 32);
        answers.iter().filter(|a| a.is_some()).count()
    };
    let alone = served(&[]);
    let threaded = served(&["--server-threads", "2"]);
    assert_eq!(alone, 1, "the first request of the burst only");
    assert_eq!(threaded, alone, "three threads, one limit");
}

/// A mode 6 READVAR of `names` (one fragment's worth) from a fresh socket: the
/// variables text of the answer.
fn read_vars(server: SocketAddr, names: &str) -> String {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut req = vec![0x16, 0x02, 0, 7, 0, 0, 0, 0, 0, 0, 0, names.len() as u8];
    req.extend_from_slice(names.as_bytes());
    while req.len() % 4 != 0 {
        req.push(0);
    }
    s.send_to(&req, server).unwrap();
    let mut buf = [0u8; 600];
    let (n, from) = s.recv_from(&mut buf).expect("mode 6 answered");
    assert_eq!(from, server);
    assert!(
        n >= 12 && buf[1] == 0x82,
        "a whole READVAR response: {:?}",
        &buf[..n.min(12)]
    );
    let count = u16::from_be_bytes([buf[10], buf[11]]) as usize;
    String::from_utf8_lossy(&buf[12..12 + count.min(n - 12)]).into_owned()
}

/// Mode 6 queries that land on a server thread's socket are answered by that
/// thread from the published control snapshot (the exit log counts them), with the
/// same node state as the main thread's answers.
#[test]
fn server_threads_answer_mode_6_themselves() {
    let dir = TempDir::new("threads-mode6");
    let server = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut slewd = start_slewd(
        &dir,
        CONF,
        &[server],
        &["--clock", "observe", "--server-threads", "2"],
    );
    // The local clock is selected once the node has polled it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !read_vars(server, "stratum").contains("stratum=11") {
        assert!(Instant::now() < deadline, "{}", slewd.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    // 24 source ports: the chance that none lands on a worker is 3^-24.
    let answers: Vec<String> = (0..24)
        .map(|_| read_vars(server, "stratum,refid,leap"))
        .collect();
    for a in &answers {
        assert!(a.contains("stratum=11"), "{a}");
        assert_eq!(a, &answers[0], "every thread answers with the same state");
    }
    slewd.terminate(Duration::from_secs(5)).expect("clean exit");
    let log = slewd.log_text();
    let handled: u64 = log
        .split(" mode 6 queries handled by the threads")
        .next()
        .and_then(|t| t.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        handled >= 1,
        "the threads answered some queries themselves: {log}"
    );
}
