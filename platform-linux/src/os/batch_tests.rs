use super::*;
use std::time::Duration;

fn pair() -> (NtpSocket, NtpSocket) {
    let a = NtpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let b = NtpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    (a, b)
}

fn recv_all(batch: &mut RecvBatch, s: &NtpSocket, want: usize) -> Vec<(Received, Vec<u8>)> {
    let mut got = Vec::new();
    for _ in 0..200 {
        let n = batch.recv(s).unwrap();
        for i in 0..n {
            let (m, b) = batch.get(i).unwrap();
            got.push((*m, b.to_vec()));
        }
        if got.len() >= want {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    got
}

#[test]
fn one_recvmmsg_takes_several_datagrams_each_with_its_own_kernel_stamp() {
    let (server, c1) = pair();
    let c2 = NtpSocket::bind("127.0.0.2:0".parse().unwrap()).unwrap();
    // Receive stamps are turned on through deferred work: wait for it (see
    // `kernel_stamps_on`).
    let _stamps_on = crate::os::net::test_support::kernel_stamps_on();
    for i in 0..6u8 {
        let from = if i % 2 == 0 { &c1 } else { &c2 };
        from.send_to(&[i; 48], server.local_addr()).unwrap();
        // Apart in time, so the stamps must differ.
        std::thread::sleep(Duration::from_micros(200));
    }
    std::thread::sleep(Duration::from_millis(20));
    let mut batch = RecvBatch::new();
    let n = batch.recv(&server).unwrap();
    assert_eq!(n, 6, "all six queued datagrams in one call");
    let mut last = NtpTimestamp::ZERO;
    for i in 0..n {
        let (m, bytes) = batch.get(i).unwrap();
        assert_eq!(bytes, &[i as u8; 48][..]);
        assert_eq!(
            m.from,
            if i % 2 == 0 {
                c1.local_addr()
            } else {
                c2.local_addr()
            }
        );
        assert!(m.kernel_stamp);
        assert!(!m.truncated);
        assert!(
            m.rx_time.to_bits() > last.to_bits(),
            "stamps increase per datagram"
        );
        last = m.rx_time;
    }
    assert!(batch.get(n).is_none());
    assert_eq!(batch.recv(&server).unwrap(), 0, "empty queue: no block");
}

#[test]
fn oversized_datagrams_are_flagged_truncated() {
    let (server, c) = pair();
    c.send_to(&[7u8; MAX_DATAGRAM + 10], server.local_addr())
        .unwrap();
    let got = recv_all(&mut RecvBatch::new(), &server, 1);
    assert_eq!(got.len(), 1);
    assert!(got[0].0.truncated);
}

fn send_batch_of(mode: SendMode) -> (Flushed, SendMode) {
    let (server, c) = pair();
    let c2 = NtpSocket::bind("127.0.0.3:0".parse().unwrap()).unwrap();
    let mut tx = SendBatch::new();
    tx.set_mode(mode);
    for i in 0..5u8 {
        let buf = tx.next_buf().unwrap();
        buf[..10].fill(i);
        let to = if i < 3 {
            c.local_addr()
        } else {
            c2.local_addr()
        };
        tx.push(10, to);
    }
    assert_eq!(tx.len(), 5);
    let flushed = tx.flush(&server);
    assert!(tx.is_empty());
    let a = recv_all(&mut RecvBatch::new(), &c, 3);
    let b = recv_all(&mut RecvBatch::new(), &c2, 2);
    let firsts: Vec<u8> = a.iter().chain(b.iter()).map(|(_, v)| v[0]).collect();
    assert_eq!(firsts, vec![0, 1, 2, 3, 4]);
    assert!(a
        .iter()
        .chain(b.iter())
        .all(|(m, v)| m.from == server.local_addr() && v.len() == 10));
    (flushed, tx.mode())
}

#[test]
fn sendmmsg_sends_a_whole_batch() {
    let (f, mode) = send_batch_of(SendMode::Batch);
    assert_eq!((f.sent, f.failed), (5, 0));
    assert_eq!(mode, SendMode::Batch);
}

#[test]
fn sendmsg_fallback_sends_the_same() {
    let (f, mode) = send_batch_of(SendMode::Single);
    assert_eq!((f.sent, f.failed), (5, 0));
    assert_eq!(mode, SendMode::Single);
}

#[test]
fn only_enosys_and_einval_switch_to_sendmsg() {
    assert!(sendmmsg_unsupported(libc::ENOSYS));
    assert!(sendmmsg_unsupported(libc::EINVAL));
    assert!(!sendmmsg_unsupported(libc::EAGAIN));
    assert!(!sendmmsg_unsupported(libc::ENOBUFS));
}

#[test]
fn a_full_batch_refuses_more() {
    let mut tx = SendBatch::new();
    let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
    for _ in 0..BATCH {
        assert!(tx.next_buf().is_some());
        tx.push(48, to);
    }
    assert!(tx.is_full());
    assert!(tx.next_buf().is_none());
    tx.push(48, to);
    assert_eq!(tx.len(), BATCH);
}

#[test]
fn every_header_is_rearmed_with_full_lengths_before_a_call() {
    // What the kernel leaves after an IPv4 datagram without a stamp: a 16-byte
    // name length and no control bytes. The next call must not inherit them.
    let mut batch = RecvBatch::new();
    for h in batch.slots.hdrs.iter_mut() {
        h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        h.msg_hdr.msg_controllen = 0;
        h.msg_hdr.msg_flags = libc::MSG_TRUNC;
    }
    batch.slots.arm(&mut batch.bufs);
    for (i, h) in batch.slots.hdrs.iter().enumerate() {
        let h = &h.msg_hdr;
        assert_eq!(
            h.msg_namelen as usize,
            std::mem::size_of::<libc::sockaddr_storage>(),
            "header {i}"
        );
        assert_eq!(h.msg_controllen, CMSG_ROOM, "header {i}");
        assert_eq!(h.msg_flags, 0);
        assert_eq!(h.msg_iovlen, 1);
    }
}

#[test]
fn an_ipv6_sender_after_an_ipv4_one_in_the_same_slot_is_whole() {
    let v4 = NtpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let v6 = NtpSocket::bind("[::1]:0".parse().unwrap()).unwrap();
    let c4 = NtpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let c6 = NtpSocket::bind("[::1]:0".parse().unwrap()).unwrap();
    let mut batch = RecvBatch::new();
    for _ in 0..3 {
        c4.send_to(b"4", v4.local_addr()).unwrap();
        let got = recv_all(&mut batch, &v4, 1);
        assert_eq!(got[0].0.from, c4.local_addr());
        c6.send_to(b"6", v6.local_addr()).unwrap();
        let got = recv_all(&mut batch, &v6, 1);
        assert_eq!(
            got[0].0.from,
            c6.local_addr(),
            "slot 0 held an IPv4 sender before"
        );
    }
}
