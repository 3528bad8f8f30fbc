#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use core::cell::Cell;
use core::net::SocketAddr;
use std::vec;
use std::vec::Vec;

use super::*;
use crate::config::{Builder, StepPolicy};
use crate::server::{lan_policy, DiscardParams};
use slew_core::system::SystemVars;
use slew_core::{NtpDuration, NtpTimestamp};
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::storage::PacketMetadata;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

/// One timer shared by the client's and the server's clocks, in microseconds.
#[derive(Debug, Clone, Copy)]
struct Shared<'a>(&'a Cell<u64>);

impl TickSource for Shared<'_> {
    fn ticks(&mut self) -> u64 {
        self.0.get()
    }
}

const TRUTH_UNIX_S: i64 = 1_800_000_000;

fn truth(ticks: &Cell<u64>) -> NtpTimestamp {
    NtpTimestamp::from_unix(TRUTH_UNIX_S, 0) + NtpDuration::from_nanos(ticks.get() as i64 * 1000)
}

fn udp_socket() -> udp::Socket<'static> {
    let rx = udp::PacketBuffer::new(vec![PacketMetadata::EMPTY; 8], vec![0; 1024]);
    let tx = udp::PacketBuffer::new(vec![PacketMetadata::EMPTY; 8], vec![0; 1024]);
    udp::Socket::new(rx, tx)
}

/// smoltcp's loopback device with an interface on 127.0.0.1/8.
fn loopback_iface() -> (Loopback, Interface) {
    let mut device = Loopback::new(Medium::Ip);
    let mut iface = Interface::new(
        Config::new(HardwareAddress::Ip),
        &mut device,
        smoltcp::time::Instant::ZERO,
    );
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8)).unwrap();
    });
    (device, iface)
}

/// A client 0.5 s fast and 40 ppm off follows a local-clock server over smoltcp's
/// loopback, with the real node, transport and software clock; a second client of
/// that server shows it serving too.
#[test]
fn client_follows_a_lan_server_over_loopback() {
    let ticks = Cell::new(0u64);
    let (mut device, mut iface) = loopback_iface();
    let mut sockets = SocketSet::new(Vec::new());
    let mut cs = udp_socket();
    cs.bind(1123).unwrap();
    let mut ss = udp_socket();
    ss.bind(123).unwrap();
    let mut ps = udp_socket();
    ps.bind(40_000).unwrap();
    let client_h = sockets.add(cs);
    let server_h = sockets.add(ss);
    let probe_h = sockets.add(ps);

    let server_addr: SocketAddr = "127.0.0.1:123".parse().unwrap();
    let client_clock = SoftClock::new(
        Shared(&ticks),
        1_000_000,
        truth(&ticks) + NtpDuration::from_seconds_f64(0.5),
    )
    .with_frequency_error_ppm(40.0);
    let node = Builder::<4>::new(0x7e57_5eed)
        .server(server_addr)
        .poll_bounds(0, 2)
        .step_policy(StepPolicy::AtStartOnly { threshold_s: 0.128 })
        .build(Instant::ZERO)
        .unwrap();
    let mut client = Ntp::serving(
        client_clock,
        node,
        lan_policy::<4>(DiscardParams::NTPD, [3; 16]),
    );

    // The upstream: slew-core's server on a true clock, at the local clock's stratum.
    let mut upstream = slew_core::server::Server::new();
    let mut buf = [0u8; 128];
    let mut out = [0u8; 48];

    let mut worst_late_s: f64 = 0.0;
    let step_us = 1_000;
    let seconds = 120;
    for i in 0..(seconds * 1_000_000 / step_us) {
        ticks.set(ticks.get() + step_us);
        let now = client.smoltcp_now();
        iface.poll(now, &mut device, &mut sockets);
        let socket = sockets.get_mut::<udp::Socket>(server_h);
        while let Some((from, req)) = crate::transport::recv(socket, &mut buf) {
            let sys = SystemVars::local_clock(-20, 10, truth(&ticks));
            let t = truth(&ticks);
            if let Ok(p) = upstream.respond(req, t, &sys, &mut out) {
                socket.send_slice(p.finish(&mut out, t), from).unwrap();
            }
        }
        let _ = client.poll(sockets.get_mut::<udp::Socket>(client_h));
        iface.poll(now, &mut device, &mut sockets);
        let off = (client.clock().read() - truth(&ticks)).to_seconds_f64();
        if i > (seconds - 30) * 1_000_000 / step_us {
            worst_late_s = worst_late_s.max(off.abs());
        }
    }
    assert_eq!(
        client.clock().steps(),
        1,
        "the 0.5 s start was stepped, once"
    );
    assert!(
        worst_late_s < 200e-6,
        "offset in the last 30 s up to {worst_late_s} s"
    );
    let status = client.node().system();
    assert!(status.system_peer.is_some(), "{status:?}");
    assert_eq!(status.vars.stratum, 12);

    // The client now serves its LAN at stratum 12.
    let mut req = [0u8; 48];
    req[0] = 0x23;
    let to: SocketAddr = "127.0.0.1:1123".parse().unwrap();
    sockets
        .get_mut::<udp::Socket>(probe_h)
        .send_slice(&req, to)
        .unwrap();
    for _ in 0..3 {
        let now = client.smoltcp_now();
        iface.poll(now, &mut device, &mut sockets);
        let _ = client.poll(sockets.get_mut::<udp::Socket>(client_h));
        iface.poll(now, &mut device, &mut sockets);
    }
    let (from, answer) =
        crate::transport::recv(sockets.get_mut::<udp::Socket>(probe_h), &mut buf).unwrap();
    assert_eq!(from, to);
    let p = slew_core::wire::Packet::new_checked(answer).unwrap();
    assert_eq!(p.stratum(), 12);
    assert_eq!(client.endpoint().server_stats().answered, 1);
}

#[derive(Debug, Default)]
struct CountingDelay(u64, u32);

impl DelayNs for CountingDelay {
    fn delay_ns(&mut self, ns: u32) {
        self.0 += u64::from(ns);
        self.1 += 1;
    }
}

#[test]
fn sleep_until_is_bounded_and_skips_past_deadlines() {
    let mut d = CountingDelay::default();
    sleep_until(
        &mut d,
        Instant::from_nanos(0),
        Instant::from_nanos(5_000),
        1_000_000,
    );
    assert_eq!(d.0, 5_000);
    sleep_until(
        &mut d,
        Instant::from_nanos(0),
        Instant::from_nanos(u64::MAX),
        1_000,
    );
    assert_eq!(d.0, 6_000);
    sleep_until(
        &mut d,
        Instant::from_nanos(9),
        Instant::from_nanos(3),
        1_000,
    );
    assert_eq!((d.0, d.1), (6_000, 2));
}

/// A UART with the receiver's bytes queued, read in 16-byte chunks.
struct GpsUart(std::collections::VecDeque<u8>);

impl embedded_io::ErrorType for GpsUart {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for GpsUart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(16).min(self.0.len());
        for b in buf.iter_mut().take(n) {
            *b = self.0.pop_front().unwrap_or(0);
        }
        Ok(n)
    }
}

impl embedded_io::ReadReady for GpsUart {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(!self.0.is_empty())
    }
}

/// `$GPRMC` for Unix second `t` with a fix.
fn rmc(t: i64) -> std::string::String {
    let day = t.div_euclid(86_400);
    let sod = t.rem_euclid(86_400);
    let (y, m, d) = slew_core::refclock::civil::civil_from_days(day);
    let body = std::format!(
        "GPRMC,{:02}{:02}{:02}.00,A,4807.038,N,01131.000,E,0.0,0.0,{d:02}{m:02}{:02},,,A",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        y % 100
    );
    let sum = slew_core::refclock::nmea::checksum(body.as_bytes());
    std::format!("${body}*{sum:02X}\r\n")
}

/// The appliance on a GPS: an NMEA receiver on a UART is its refclock
/// (`Node<2, 1>`, `Ntp::feed_gps`); its clock starts 0.2 s fast and 30 ppm off and
/// ends within 1 ms of the sentences' time, at stratum 1 with refid GPS, which is
/// what its LAN server answers with.
#[test]
fn appliance_on_a_uart_gps_serves_stratum_1() {
    use slew_core::refclock::nmea_mode::NmeaMode;
    use slew_core::refclock::source::{Driver, RefclockConfig};
    let ticks = Cell::new(0u64);
    let clock = SoftClock::new(
        Shared(&ticks),
        1_000_000,
        truth(&ticks) + NtpDuration::from_seconds_f64(0.2),
    )
    .with_frequency_error_ppm(30.0);
    let node = Builder::<2>::new(0x7e57_5eed)
        .build_with::<1>(Instant::ZERO)
        .unwrap();
    let mut ntp: Ntp<_, 2, 1> = Ntp::new(clock, node);
    let mut cfg = RefclockConfig::new(Driver::Nmea, 0);
    cfg.minpoll = slew_core::PollInterval::from_log2(4);
    cfg.maxpoll = slew_core::PollInterval::from_log2(4);
    let id = ntp.node_mut().add_refclock(cfg, Instant::ZERO).unwrap();
    let mut gps = crate::gps::UartGps::new(GpsUart(Default::default()), NmeaMode(0));
    let mut socket = udp_socket();
    let step_us = 10_000;
    let seconds = 900u64;
    for _ in 0..(seconds * 1_000_000 / step_us) {
        ticks.set(ticks.get() + step_us);
        // Each true second's RMC arrives at the top of that second.
        if ticks.get().is_multiple_of(1_000_000) {
            let t = TRUTH_UNIX_S + (ticks.get() / 1_000_000) as i64;
            gps.uart_mut().0.extend(rmc(t).bytes());
        }
        ntp.feed_gps(&mut gps, id).unwrap();
        let _ = ntp.poll(&mut socket);
    }
    let sys = ntp.node().system_vars();
    assert_eq!(sys.stratum, 1, "{:?}", ntp.node().system());
    assert_eq!(sys.ref_id, slew_core::wire::RefId::GPS);
    let off = (ntp.clock().read() - truth(&ticks)).to_seconds_f64();
    std::println!("appliance on GPS: {:+.3} ms after {seconds} s", off * 1e3);
    // Each sentence is read in the loop turn it arrives in: the stamp is exact, and
    // what is left is the discipline's.
    assert!(off.abs() < 0.001, "offset {off}");
}

/// A client-only service (`Ntp::new`, `NoServer`) answers nobody: the endpoint drops
/// the request, and nothing goes back on the wire.
#[test]
fn a_client_only_appliance_answers_no_request() {
    let ticks = Cell::new(0u64);
    let (mut device, mut iface) = loopback_iface();
    let mut sockets = SocketSet::new(Vec::new());
    let mut cs = udp_socket();
    cs.bind(1123).unwrap();
    let mut ps = udp_socket();
    ps.bind(40_000).unwrap();
    let client_h = sockets.add(cs);
    let probe_h = sockets.add(ps);
    let node = Builder::<1>::new(0x7e57_5eed)
        .local_clock_stratum(Some(10))
        .build(Instant::ZERO)
        .unwrap();
    let mut ntp: Ntp<_, 1> = Ntp::new(
        SoftClock::new(Shared(&ticks), 1_000_000, truth(&ticks)),
        node,
    );
    let mut req = [0u8; 48];
    req[0] = 0x23;
    let to: SocketAddr = "127.0.0.1:1123".parse().unwrap();
    sockets
        .get_mut::<udp::Socket>(probe_h)
        .send_slice(&req, to)
        .unwrap();
    for _ in 0..3 {
        ticks.set(ticks.get() + 1_000);
        let now = ntp.smoltcp_now();
        iface.poll(now, &mut device, &mut sockets);
        let _ = ntp.poll(sockets.get_mut::<udp::Socket>(client_h));
        iface.poll(now, &mut device, &mut sockets);
    }
    let mut buf = [0u8; 128];
    assert!(crate::transport::recv(sockets.get_mut::<udp::Socket>(probe_h), &mut buf).is_none());
    assert!(
        sockets.get_mut::<udp::Socket>(client_h).recv().is_err(),
        "the request was taken"
    );
}
