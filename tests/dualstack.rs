//! IPv4 and IPv6 together (issue 11, first part): every answer goes to its own
//! sender, whatever the mix of families, sockets and batch sizes.
//!
//! Each test makes a network namespace whose lo serves 127.0.0.1-5 and carries
//! fd00::1-8 (unique local addresses, loopback only) and moves its own thread into
//! it. The IPv6 senders differ only in their last bytes, which is where a
//! `recvmmsg` header whose name length was cut to an IPv4 address's by the
//! datagram before mixes one sender up with another.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use slew_linux::os::batch::{RecvBatch, BATCH};
use slew_linux::os::net::NtpSocket;

/// A small deterministic generator (xorshift64*): the same seed, the same run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const V4_SOURCES: u8 = 5;
const V6_SOURCES: u16 = 8;

/// A namespace with the extra source addresses on lo; the calling thread is in it.
fn dual_stack_ns(tag: &str) -> NetNs {
    let ns = NetNs::new(tag);
    // 127.0.0.0/8 is local on lo already; the IPv6 senders need adding.
    for i in 1..=V6_SOURCES {
        ns.add_lo_addr(&format!("fd00::{i:x}/128"));
    }
    ns.enter_this_thread();
    ns
}

fn source_ips() -> Vec<std::net::IpAddr> {
    let mut v: Vec<std::net::IpAddr> = (1..=V4_SOURCES)
        .map(|i| std::net::IpAddr::from([127, 0, 0, i]))
        .collect();
    v.extend((1..=V6_SOURCES).map(|i| std::net::IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, i])));
    v
}

/// Batch level: one `RecvBatch` shared by an IPv4 and an IPv6 wildcard socket, as
/// the server path shares it; every batch size from 1 to BATCH, random senders.
#[test]
fn one_recv_batch_keeps_each_sender_across_families_and_sizes() {
    let _ns = dual_stack_ns("dsbatch");
    let servers = [
        NtpSocket::bind("0.0.0.0:0".parse().unwrap()).unwrap(),
        NtpSocket::bind("[::]:0".parse().unwrap()).unwrap(),
    ];
    let clients: Vec<UdpSocket> = source_ips()
        .into_iter()
        .map(|ip| UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap())
        .collect();
    let v4_clients: Vec<usize> = (0..clients.len())
        .filter(|&i| clients[i].local_addr().unwrap().is_ipv4())
        .collect();
    let v6_clients: Vec<usize> = (0..clients.len())
        .filter(|&i| clients[i].local_addr().unwrap().is_ipv6())
        .collect();
    // Kernel receive stamps may be off for the first moments (see batch_tests.rs).
    std::thread::sleep(Duration::from_millis(100));
    let mut rng = Rng(0x5EED_D0A1_57AC_0011);
    let mut rx = RecvBatch::new();
    let (mut checked, mut wrong_sender, mut no_stamp) = (0usize, 0usize, 0usize);
    let mut first_wrong = None;
    let mut id = 0u64;
    // Each round: a batch of `size` datagrams to one socket, then one to the other;
    // sizes 1..=BATCH each at least once per family, then random ones.
    let mut sizes: Vec<usize> = (1..=BATCH).chain(1..=BATCH).collect();
    sizes.extend((0..64).map(|_| 1 + rng.below(BATCH)));
    for (round, &size) in sizes.iter().enumerate() {
        let family = (round + rng.below(2)) % 2;
        let pool = if family == 0 {
            &v4_clients
        } else {
            &v6_clients
        };
        let to = servers[family].local_addr();
        let to = if family == 0 {
            SocketAddr::from(([127, 0, 0, 1], to.port()))
        } else {
            SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], to.port()))
        };
        let mut expect = Vec::with_capacity(size);
        for _ in 0..size {
            let c = &clients[pool[rng.below(pool.len())]];
            id += 1;
            c.send_to(&id.to_be_bytes(), to).unwrap();
            expect.push((c.local_addr().unwrap(), id));
        }
        let mut got = Vec::with_capacity(size);
        let deadline = Instant::now() + Duration::from_secs(2);
        while got.len() < size && Instant::now() < deadline {
            let n = rx.recv(&servers[family]).unwrap();
            for i in 0..n {
                let (m, bytes) = rx.get(i).unwrap();
                let mut b = [0u8; 8];
                b.copy_from_slice(&bytes[..8]);
                got.push((m.from, u64::from_be_bytes(b), m.kernel_stamp));
            }
            if n == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        assert_eq!(got.len(), size, "round {round}: all datagrams received");
        for ((from, gid, stamped), (want_from, want_id)) in got.into_iter().zip(expect) {
            assert_eq!(gid, want_id, "the kernel keeps a socket's order");
            checked += 1;
            if from != want_from {
                wrong_sender += 1;
                first_wrong.get_or_insert((round, size, from, want_from));
            }
            if !stamped {
                no_stamp += 1;
            }
        }
    }
    assert_eq!(
        wrong_sender, 0,
        "{wrong_sender} of {checked} datagrams with a wrong sender (first: round, size, got, sent by = {first_wrong:?})"
    );
    assert_eq!(
        no_stamp, 0,
        "{no_stamp} of {checked} without a kernel stamp"
    );
}

const CONF: &str = "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n";

/// Sends one mode 3 request with `origin` as its transmit timestamp.
fn request(origin: u64) -> [u8; 48] {
    let mut req = [0u8; 48];
    req[0] = 0x23;
    req[40..48].copy_from_slice(&origin.to_be_bytes());
    req
}

/// End to end: slewd on its default wildcard sockets (0.0.0.0:123 and [::]:123),
/// 13 sources in random order, bursts of 1..=BATCH requests; each answer must reach
/// the source that asked, echoing that request's transmit time.
#[test]
fn slewd_answers_every_source_of_both_families_at_its_own_address() {
    answers_reach_their_senders(&[]);
}

/// The same with two server threads: each has its own batch for its IPv4 and IPv6
/// sockets, and the kernel spreads the senders over the threads.
#[test]
fn server_threads_answer_every_source_of_both_families_at_its_own_address() {
    answers_reach_their_senders(&["--server-threads", "2"]);
}

fn answers_reach_their_senders(extra: &[&str]) {
    let _ns = dual_stack_ns("dsserve");
    let dir = TempDir::new("dualstack");
    // This thread is in the namespace: slewd, spawned from it, is too.
    let mut args = vec!["--clock", "observe"];
    args.extend_from_slice(extra);
    let slewd = start_slewd(&dir, CONF, &[], &args);
    let v4: SocketAddr = "127.0.0.1:123".parse().unwrap();
    let v6: SocketAddr = "[::1]:123".parse().unwrap();
    wait_for_ntp(v4, Duration::from_secs(10), &slewd);
    wait_for_ntp(v6, Duration::from_secs(10), &slewd);
    let clients: Vec<UdpSocket> = source_ips()
        .into_iter()
        .map(|ip| {
            let s = UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let mut rng = Rng(0xD0A1_57AC_0000_0123);
    let (mut sent, mut right, mut misdirected) = (0usize, 0usize, 0usize);
    let mut origin = 0xA5A5_0000_0000_0000u64;
    let sizes: Vec<usize> = (1..=BATCH)
        .chain((0..8).map(|_| 1 + rng.below(BATCH)))
        .collect();
    for size in sizes {
        // What each client asked in this burst.
        let mut asked: Vec<Vec<u64>> = vec![Vec::new(); clients.len()];
        for _ in 0..size {
            let i = rng.below(clients.len());
            let c = &clients[i];
            let to = if c.local_addr().unwrap().is_ipv4() {
                v4
            } else {
                v6
            };
            origin += 1;
            c.send_to(&request(origin), to).unwrap();
            asked[i].push(origin);
            sent += 1;
        }
        let deadline = Instant::now() + Duration::from_millis(500);
        let want: usize = asked.iter().map(Vec::len).sum();
        let mut got = 0;
        while got < want && Instant::now() < deadline {
            for (i, c) in clients.iter().enumerate() {
                let mut buf = [0u8; 128];
                while let Ok((n, _)) = c.recv_from(&mut buf) {
                    got += 1;
                    let mut o = [0u8; 8];
                    o.copy_from_slice(&buf[24..32]);
                    let o = u64::from_be_bytes(o);
                    if n == 48 && asked[i].contains(&o) {
                        right += 1;
                    } else {
                        misdirected += 1;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    assert_eq!(
        (right, misdirected),
        (sent, 0),
        "{right} of {sent} answered at the right address, {misdirected} at another's; log:\n{}",
        slewd.log_text()
    );
}

/// Mode 6 allowed for one IPv6 host only: its queries are answered even when the
/// datagram before them was IPv4 and the one before that came from a refused IPv6
/// host (the stale bytes of a cut address would make it that host).
#[test]
fn mode6_from_the_allowed_ipv6_host_is_never_taken_for_another() {
    let _ns = dual_stack_ns("dsctl");
    let dir = TempDir::new("dualstack");
    let conf = format!(
        "{CONF}restrict default nomodify notrap nopeer noquery\n\
         restrict 127.0.0.1\nrestrict ::1\nrestrict fd00::3 nomodify notrap nopeer\n"
    );
    let slewd = start_slewd(&dir, &conf, &[], &["--clock", "observe"]);
    let v4: SocketAddr = "127.0.0.1:123".parse().unwrap();
    let v6: SocketAddr = "[::1]:123".parse().unwrap();
    wait_for_ntp(v4, Duration::from_secs(10), &slewd);
    wait_for_ntp(v6, Duration::from_secs(10), &slewd);
    let bind = |ip: &str| {
        let s = UdpSocket::bind(SocketAddr::new(ip.parse().unwrap(), 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        s
    };
    let (refused, v4_client, allowed) = (bind("fd00::5"), bind("127.0.0.2"), bind("fd00::3"));
    let readstat = [0x16u8, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut buf = [0u8; 1024];
    let (mut answered, mut refused_answered) = (0, 0);
    const ROUNDS: usize = 20;
    for round in 0..ROUNDS {
        refused.send_to(&request(round as u64 + 1), v6).unwrap();
        refused.recv_from(&mut buf).expect("time for everyone");
        refused.send_to(&readstat, v6).unwrap();
        if refused.recv_from(&mut buf).is_ok() {
            refused_answered += 1;
        }
        v4_client.send_to(&request(round as u64 + 1), v4).unwrap();
        v4_client.recv_from(&mut buf).expect("time for everyone");
        allowed.send_to(&readstat, v6).unwrap();
        if let Ok((n, _)) = allowed.recv_from(&mut buf) {
            if n >= 12 && buf[1] & 0x80 != 0 {
                answered += 1;
            }
        }
    }
    assert_eq!(
        (answered, refused_answered),
        (ROUNDS, 0),
        "mode 6 answers to fd00::3 (allowed) and fd00::5 (noquery); log:\n{}",
        slewd.log_text()
    );
}
