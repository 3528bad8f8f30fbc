#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::vec;
use std::vec::Vec;

use super::*;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::storage::PacketMetadata;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

/// A loopback interface with 127.0.0.1/8 and ::1/128, and two UDP sockets bound to
/// the ports given (0 leaves one unbound).
struct Net {
    iface: Interface,
    device: Loopback,
    sockets: SocketSet<'static>,
    a: SocketHandle,
    b: SocketHandle,
}

fn socket(packets: usize) -> udp::Socket<'static> {
    let rx = udp::PacketBuffer::new(vec![PacketMetadata::EMPTY; 4], vec![0; 1024]);
    let tx = udp::PacketBuffer::new(vec![PacketMetadata::EMPTY; packets], vec![0; 48 * packets]);
    udp::Socket::new(rx, tx)
}

fn net(port_a: u16, port_b: u16, tx_packets: usize) -> Net {
    let mut device = Loopback::new(Medium::Ip);
    let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut device, Instant::ZERO);
    iface.update_ip_addrs(|addrs| {
        addrs
            .push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8))
            .unwrap();
        addrs
            .push(IpCidr::new(IpAddress::v6(0, 0, 0, 0, 0, 0, 0, 1), 128))
            .unwrap();
    });
    let mut sockets = SocketSet::new(Vec::new());
    let mut sa = socket(tx_packets);
    if port_a != 0 {
        sa.bind(port_a).unwrap();
    }
    let mut sb = socket(tx_packets);
    sb.bind(port_b).unwrap();
    let a = sockets.add(sa);
    let b = sockets.add(sb);
    Net {
        iface,
        device,
        sockets,
        a,
        b,
    }
}

impl Net {
    fn poll(&mut self) {
        for ms in 1..4 {
            self.iface.poll(
                Instant::from_millis(ms),
                &mut self.device,
                &mut self.sockets,
            );
        }
    }
}

fn round_trip(to_b: SocketAddr, from_a: SocketAddr) {
    let mut n = net(40_000, 123, 4);
    let request = [0x23u8; 48];
    UdpTransport::new(n.sockets.get_mut::<udp::Socket>(n.a))
        .send(to_b, &request)
        .unwrap();
    n.poll();
    let mut buf = [0u8; 64];
    let mut t = UdpTransport::new(n.sockets.get_mut::<udp::Socket>(n.b));
    let (from, bytes) = t.recv(&mut buf).expect("a datagram on b");
    assert_eq!(from, from_a);
    assert_eq!(bytes, &request[..]);
    assert!(t.recv(&mut buf).is_none(), "exactly one datagram");
}

#[test]
fn delivers_over_ipv4_with_the_source_address() {
    round_trip(
        "127.0.0.1:123".parse().unwrap(),
        "127.0.0.1:40000".parse().unwrap(),
    );
}

#[test]
fn delivers_over_ipv6_with_the_source_address() {
    round_trip("[::1]:123".parse().unwrap(), "[::1]:40000".parse().unwrap());
}

#[test]
fn a_full_queue_is_would_block_and_loses_the_packet() {
    let mut n = net(40_000, 123, 2);
    let to: SocketAddr = "127.0.0.1:123".parse().unwrap();
    let mut t = UdpTransport::new(n.sockets.get_mut::<udp::Socket>(n.a));
    t.send(to, &[1; 48]).unwrap();
    t.send(to, &[2; 48]).unwrap();
    let err = t.send(to, &[3; 48]).unwrap_err();
    assert_eq!(err, SendError::BufferFull);
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    n.poll();
    let mut buf = [0u8; 64];
    let sb = n.sockets.get_mut::<udp::Socket>(n.b);
    assert_eq!(recv(sb, &mut buf).unwrap().1, &[1u8; 48][..]);
    assert_eq!(recv(sb, &mut buf).unwrap().1, &[2u8; 48][..]);
    assert!(recv(sb, &mut buf).is_none());
}

#[test]
fn unbound_socket_or_port_zero_is_unaddressable() {
    let mut n = net(0, 123, 2);
    let mut t = UdpTransport::new(n.sockets.get_mut::<udp::Socket>(n.a));
    let err = t
        .send("127.0.0.1:123".parse().unwrap(), &[0; 48])
        .unwrap_err();
    assert_eq!(err, SendError::Unaddressable);
    assert_eq!(err.kind(), ErrorKind::Other);
    let mut t = UdpTransport::new(n.sockets.get_mut::<udp::Socket>(n.b));
    let err = t
        .send("127.0.0.1:0".parse().unwrap(), &[0; 48])
        .unwrap_err();
    assert_eq!(err, SendError::Unaddressable);
}

#[test]
fn endpoint_converts_both_families() {
    let v4: SocketAddr = "192.0.2.1:123".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::1]:123".parse().unwrap();
    assert_eq!(to_socket_addr(IpEndpoint::from(v4)), v4);
    assert_eq!(to_socket_addr(IpEndpoint::from(v6)), v6);
}
