//! slewd with `--server-threads 2`: three SO_REUSEPORT sockets share the address;
//! requests from 64 loopback addresses and many ports are all answered correctly
//! (whichever thread the kernel hands them to), mode 6 requests that land on a worker
//! are answered through the main thread, and the exit log merges every thread's
//! counters.
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
fn server_threads_answer_many_sources_and_forward_control() {
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
    // answered by the main thread from the same address.
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
