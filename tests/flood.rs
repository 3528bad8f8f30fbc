//! A bounded flood (count and time) of garbage, truncated, oversized-trailer and valid
//! packets from 64 loopback addresses: slewd keeps answering the valid ones, its
//! memory stays flat, every drop is counted by reason, and the log stays short.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;

/// Packets sent, at most; the loop also stops after `FLOOD_TIME`.
const FLOOD_PACKETS: usize = 40_000;
const FLOOD_TIME: Duration = Duration::from_secs(15);

fn vm_rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn valid() -> Vec<u8> {
    let mut r = vec![0u8; 48];
    r[0] = 0x23;
    r[40..48].copy_from_slice(&7u64.to_be_bytes());
    r
}

#[test]
fn flood_of_garbage_and_valid_requests() {
    let dir = TempDir::new("flood");
    let port = free_port();
    let server = SocketAddr::from(([127, 0, 0, 1], port));
    let conf = "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n\
                restrict default limited kod nomodify notrap nopeer noquery\n\
                restrict 127.0.0.1\n";
    let mut slewd = start_slewd(&dir, conf, &[server], &[]);
    // Warm up, then measure.
    for _ in 0..20 {
        raw_query(server, Duration::from_millis(200));
    }
    let rss_before = vm_rss_kib(slewd.pid());

    let senders: Vec<UdpSocket> = (10..74u8)
        .map(|last| {
            let s = UdpSocket::bind(SocketAddr::from(([127, 0, 0, last], 0))).unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let mut kinds = [0usize; 6];
    let started = Instant::now();
    let mut sent = 0usize;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    while sent < FLOOD_PACKETS && started.elapsed() < FLOOD_TIME {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kind = (seed % 6) as usize;
        let pkt: Vec<u8> = match kind {
            0 => valid(),
            1 => valid()[..(seed >> 8) as usize % 48].to_vec(), // truncated
            2 => (0..(seed >> 16) as usize % 600)
                .map(|i| (seed >> (i % 56)) as u8)
                .collect(), // garbage
            3 => {
                let mut p = valid();
                p.extend_from_slice(&[0xff; 13]); // a trailer that is nothing
                p
            }
            4 => {
                let mut p = valid();
                p[0] = 0x16; // mode 6 from a noquery address
                p
            }
            _ => {
                let mut p = valid();
                p.resize(68, 0); // MD5-sized MAC with an unknown key
                p[48..52].copy_from_slice(&77u32.to_be_bytes());
                p
            }
        };
        let s = &senders[sent % senders.len()];
        if s.send_to(&pkt, server).is_ok() {
            kinds[kind] += 1;
        }
        sent += 1;
        if sent.is_multiple_of(2000) {
            // Drain the answers so the senders' buffers do not fill.
            let mut buf = [0u8; 1024];
            for s in &senders {
                while s.recv_from(&mut buf).is_ok() {}
            }
        }
    }
    let flood_time = started.elapsed();

    // Valid requests from an unrestricted address are still answered.
    let answered = (0..20)
        .filter(|_| raw_query(server, Duration::from_millis(500)).is_some())
        .count();
    let rss_after = vm_rss_kib(slewd.pid());
    slewd
        .terminate(Duration::from_secs(5))
        .expect("slewd exits");
    let log = slewd.log_text();
    eprintln!(
        "flood: {sent} packets in {:.1} s (valid {}, truncated {}, garbage {}, bad trailer {}, mode 6 {}, unknown key {}); RSS {rss_before} kB -> {rss_after} kB; {} log lines\ncounters: {}",
        flood_time.as_secs_f64(),
        kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], kinds[5],
        log.lines().count(),
        log.lines().filter(|l| l.contains("served")).collect::<Vec<_>>().join(" | ")
    );
    assert!(
        answered >= 19,
        "valid requests answered during/after the flood: {answered}/20"
    );
    assert!(
        rss_after <= rss_before + 1024,
        "RSS grew: {rss_before} kB -> {rss_after} kB"
    );
    for reason in ["truncated", "malformed", "restrict_noquery", "rate_limited"] {
        assert!(log.contains(reason), "{reason} counted:\n{log}");
    }
    assert!(
        log.lines().count() < 200,
        "log lines are rate limited: {} lines",
        log.lines().count()
    );
}

/// Issue 11: the "N more … suppressed" summary is written when its window ends,
/// even when no later packet of the kind comes (it used to wait for the next one).
/// A burst of 40 truncated packets, then silence; with a 2 s window (the hidden
/// `--log-window-s`; the default is 60 s) the summary must appear within the window
/// and a 1.5 s margin of the first packet.
#[test]
fn suppressed_summary_is_written_when_the_window_ends() {
    const WINDOW_S: u64 = 2;
    let dir = TempDir::new("ratelog");
    let server = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let conf = "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n";
    let window = WINDOW_S.to_string();
    let mut slewd = start_slewd(&dir, conf, &[server], &["--log-window-s", &window]);
    // slewd is up once it answers.
    let up = Instant::now() + Duration::from_secs(20);
    while raw_query(server, Duration::from_millis(200)).is_none() {
        assert!(
            Instant::now() < up,
            "slewd never answered:\n{}",
            slewd.log_text()
        );
    }
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let first = Instant::now();
    for _ in 0..40 {
        sender.send_to(&valid()[..20], server).unwrap();
    }
    let wanted = "30 more 'truncated' messages suppressed in the last 2 s";
    let limit = Duration::from_secs(WINDOW_S) + Duration::from_millis(1500);
    let seen = loop {
        let log = slewd.log_text();
        if log.contains(wanted) {
            break Some(first.elapsed());
        }
        if first.elapsed() > limit {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    slewd
        .terminate(Duration::from_secs(5))
        .expect("slewd exits");
    let log = slewd.log_text();
    eprintln!("summary after {seen:?} (window {WINDOW_S} s)");
    let seen = seen.unwrap_or_else(|| panic!("no {wanted:?} within {limit:?}:\n{log}"));
    assert!(
        seen >= Duration::from_secs(WINDOW_S),
        "not before the window ends: {seen:?}"
    );
    assert_eq!(
        log.matches("more 'truncated' messages suppressed").count(),
        1,
        "{log}"
    );
}
