//! The appliance's NTP service: a client node of `N` sources disciplining a
//! [`SoftClock`] over one smoltcp UDP socket, and, when the firmware passes one in,
//! a [`LanServer`] answering the LAN's clients on the same socket.
//!
//! The server is the caller's, not a field: a client-only build pays nothing for it,
//! and the client state stays under 4 KiB for four sources.
//!
//! # The main loop
//!
//! ```text
//! loop {
//!     iface.poll(ntp.smoltcp_now(), &mut device, &mut sockets);
//!     let deadline = ntp.poll(sockets.get_mut::<udp::Socket>(handle), Some(&mut server));
//!     iface.poll(ntp.smoltcp_now(), &mut device, &mut sockets);  // flush what it sent
//!     sleep_until(&mut delay, ntp.now(), deadline, TICK_NS);
//! }
//! ```
//!
//! [`Ntp::poll`] reads the clock for a receive timestamp as soon as it takes each
//! datagram off the socket, so the loop's sleep between stack polls is what limits
//! the timestamps' accuracy: keep it short (a microcontroller would wake on the
//! Ethernet interrupt instead).

use core::time::Duration;

use embedded_hal::delay::DelayNs;
use slew_core::node::{run_once_with, Node, PacketVerdict};
use slew_core::softclock::{SoftClock, TickSource};
use slew_core::wire::HEADER_LEN;
use slew_core::Instant;
use smoltcp::socket::udp;

use crate::server::LanServer;
use crate::transport::{recv, UdpTransport};

/// Receive buffer: a header and the longest MAC trailer (key id + SHA1 digest). A
/// longer datagram (extension fields, NTS) is truncated by smoltcp and then refused
/// by the codec: slew-embedded speaks neither.
pub const RX_BUF_LEN: usize = HEADER_LEN + 24;

/// The NTP era is taken nearest this Unix time when a GPS stamp is turned into a
/// date (2026-12-01): right until 2094.
pub const GPS_ERA_PIVOT_UNIX_S: i64 = 1_796_083_200;

/// Client and clock state, with the receive buffer.
#[derive(Debug)]
pub struct Ntp<T: TickSource, const N: usize, const R: usize = 0> {
    clock: SoftClock<T>,
    node: Node<N, R>,
    rx: [u8; RX_BUF_LEN],
}

impl<T: TickSource, const N: usize, const R: usize> Ntp<T, N, R> {
    /// A client only (build the node with [`crate::config::Builder`]; for a
    /// refclock, [`crate::config::Builder::build_with`] and `Node::add_refclock`).
    pub fn new(clock: SoftClock<T>, node: Node<N, R>) -> Self {
        Self {
            clock,
            node,
            rx: [0; RX_BUF_LEN],
        }
    }

    /// Monotonic time for the node's timers.
    pub fn now(&mut self) -> Instant {
        self.clock.instant()
    }

    /// Monotonic time as smoltcp counts it, for `Interface::poll`.
    pub fn smoltcp_now(&mut self) -> smoltcp::time::Instant {
        let micros = self.clock.instant().as_nanos() / 1000;
        smoltcp::time::Instant::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
    }

    /// The disciplined clock.
    pub fn clock(&mut self) -> &mut SoftClock<T> {
        &mut self.clock
    }

    /// The client node (sources, system status).
    pub fn node(&self) -> &Node<N, R> {
        &self.node
    }

    /// The client node, to add a refclock.
    pub fn node_mut(&mut self) -> &mut Node<N, R> {
        &mut self.node
    }

    /// Reads what the GPS receiver on `gps` has sent (never blocks), stamped with
    /// the disciplined clock, into refclock `id`: the appliance then selects it at
    /// stratum 0 and serves stratum 1 with refid GPS. Call every loop turn (and
    /// from the UART's interrupt where there is one: the stamp is taken at the read).
    pub fn feed_gps<U: embedded_io::Read + embedded_io::ReadReady>(
        &mut self,
        gps: &mut crate::gps::UartGps<U>,
        id: slew_core::peer::SourceId,
    ) -> Result<Option<crate::gps::ReadReport>, U::Error> {
        let clock = &mut self.clock;
        let now = clock.instant();
        let mut sink = crate::gps::NodeRefclock {
            node: &mut self.node,
            id,
            now,
        };
        // Stamped right after the read returns (poll_ready calls it then).
        gps.poll_ready(
            || slew_core::refclock::UnixTime::from_ntp(clock.read(), GPS_ERA_PIVOT_UNIX_S),
            &mut sink,
        )
    }

    /// Takes every datagram off `socket` (replies for the client; requests for
    /// `server`, dropped without one), runs the node's timers, sends what is due
    /// and adjusts the clock. Returns when the node next wants to run; call again
    /// then, or as soon as the stack has received something.
    pub fn poll<const M: usize>(
        &mut self,
        socket: &mut udp::Socket<'_>,
        mut server: Option<&mut LanServer<M>>,
    ) -> Instant {
        while let Some((from, bytes)) = recv(socket, &mut self.rx) {
            // The receive timestamp first: everything after it is processing delay.
            let rx_time = self.clock.read();
            let now = self.clock.instant();
            let verdict = self.node.handle_packet(now, from, bytes, rx_time);
            if verdict == PacketVerdict::NotAReply {
                if let Some(server) = server.as_deref_mut() {
                    let sys = self.node.system_vars();
                    let clock = &mut self.clock;
                    server.answer(socket, from, now, bytes, rx_time, &sys, || clock.read());
                }
            }
            run_once_with(
                &mut self.node,
                &mut self.clock,
                &mut UdpTransport::new(socket),
                |r| crate::log::report(&r),
            );
        }
        let now = self.clock.instant();
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            // The wall time, for the local clock's reference time (no reply brings it).
            let Ok(wall) = slew_core::Clock::now(&mut self.clock);
            self.node.handle_wall_time(now, wall);
            self.node.handle_timeout(now);
            run_once_with(
                &mut self.node,
                &mut self.clock,
                &mut UdpTransport::new(socket),
                |r| crate::log::report(&r),
            );
        }
        // No source (a local-clock-only server): check back in a second.
        self.node
            .poll_timeout()
            .unwrap_or_else(|| now.saturating_add(Duration::from_secs(1)))
    }
}

/// Blocks on `delay` until `deadline`, for at most `max_ns` (so the stack is polled
/// often enough for incoming packets). Returns at once when the deadline is past.
pub fn sleep_until(delay: &mut impl DelayNs, now: Instant, deadline: Instant, max_ns: u32) {
    let wait = deadline.saturating_since(now).as_nanos();
    let ns = u32::try_from(wait).unwrap_or(u32::MAX).min(max_ns);
    if ns > 0 {
        delay.delay_ns(ns);
    }
}

#[cfg(test)]
#[path = "ntp_tests.rs"]
mod tests;
