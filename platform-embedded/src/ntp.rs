//! The appliance's NTP service: slew-core's [`Endpoint`] (a client node of `N`
//! sources and `R` refclocks, and a server `S` with its tables `P`) disciplining a
//! [`SoftClock`] over one smoltcp UDP socket. This port only carries bytes: every
//! datagram goes into [`Endpoint::handle_datagram`], which decides (reply for the
//! client, answer, drop by the restrict/limit tables), and its actions come out.
//!
//! [`Ntp::new`] is a client only ([`NoServer`]: the client state stays under 4 KiB for
//! four sources); [`Ntp::serving`] also answers the LAN, by the tables it is given
//! ([`crate::server::lan_policy`]).
//!
//! # The main loop
//!
//! ```text
//! loop {
//!     iface.poll(ntp.smoltcp_now(), &mut device, &mut sockets);
//!     let deadline = ntp.poll(sockets.get_mut::<udp::Socket>(handle));
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

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use embedded_hal::delay::DelayNs;
use slew_core::control::{Identity, CONTROL_MAX_PACKET};
use slew_core::endpoint::{
    run_once_with, Datagram, Endpoint, NoServer, Open, ServePolicy, ServerRole,
};
use slew_core::node::Node;
use slew_core::server::Server;
use slew_core::softclock::{SoftClock, TickSource};
use slew_core::wire::HEADER_LEN;
use slew_core::Instant;
use smoltcp::socket::udp;
use smoltcp::wire::IpEndpoint;

use crate::transport::{recv, UdpTransport};

/// Receive buffer: the longest mode 6 request ntpq sends (a 12-byte header and
/// 468 bytes of variable names); a time request is a header and at most the longest
/// MAC trailer (key id + SHA1 digest). A longer datagram (extension fields, NTS) is
/// cut by smoltcp and then refused by the codec: slew-embedded speaks neither.
pub const RX_BUF_LEN: usize = CONTROL_MAX_PACKET;

/// An answer to a time request: a header and the longest MAC trailer.
pub const ANSWER_BUF_LEN: usize = HEADER_LEN + 24;

/// What `ntpq -c rv` shows as `version`, `processor` and `system`.
pub const IDENTITY: Identity<'static> = Identity {
    version: concat!("slew-embedded ", env!("CARGO_PKG_VERSION")),
    processor: ARCH,
    system: "none",
};

#[cfg(target_arch = "x86_64")]
const ARCH: &str = "x86_64";
#[cfg(target_arch = "arm")]
const ARCH: &str = "arm";
#[cfg(target_arch = "aarch64")]
const ARCH: &str = "aarch64";
#[cfg(target_arch = "riscv32")]
const ARCH: &str = "riscv32";
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "arm",
    target_arch = "aarch64",
    target_arch = "riscv32"
)))]
const ARCH: &str = "unknown";

/// The NTP era is taken nearest this Unix time when a GPS stamp is turned into a
/// date (2026-12-01): right until 2094.
pub const GPS_ERA_PIVOT_UNIX_S: i64 = 1_796_083_200;

/// The endpoint and the clock. The receive and answer buffers live on the stack,
/// only while [`Ntp::poll`] runs ([`RX_BUF_LEN`] + [`ANSWER_BUF_LEN`] bytes; a mode
/// 6 answer takes more, only while it is built: see [`Ntp::poll`]).
#[derive(Debug)]
pub struct Ntp<
    T: TickSource,
    const N: usize,
    const R: usize = 0,
    P: ServePolicy = Open,
    S: ServerRole = NoServer,
> {
    clock: SoftClock<T>,
    ep: Endpoint<P, N, R, 0, S>,
    /// When the service started (monotonic): ntpq's `ss_uptime`, the local clock's
    /// reach.
    started: Instant,
}

impl<T: TickSource, const N: usize, const R: usize> Ntp<T, N, R> {
    /// A client only (build the node with [`crate::config::Builder`]; for a
    /// refclock, [`crate::config::Builder::build_with`] and `Node::add_refclock`).
    /// Requests from others are dropped by the endpoint, unanswered.
    pub fn new(clock: SoftClock<T>, node: Node<N, R>) -> Self {
        Self::with_endpoint(clock, Endpoint::from_node(node, Open))
    }
}

impl<T: TickSource, const N: usize, const R: usize, P: ServePolicy> Ntp<T, N, R, P, Server> {
    /// A client that also serves its LAN, by the tables `policy` (restrict lines,
    /// rate limiter; [`crate::server::lan_policy`] limits every client).
    pub fn serving(clock: SoftClock<T>, node: Node<N, R>, policy: P) -> Self {
        Self::with_endpoint(clock, Endpoint::from_node(node, policy))
    }
}

impl<T: TickSource, const N: usize, const R: usize, P: ServePolicy, S: ServerRole>
    Ntp<T, N, R, P, S>
{
    /// The service around an endpoint the caller has set up (a leap schedule, say).
    pub fn with_endpoint(mut clock: SoftClock<T>, ep: Endpoint<P, N, R, 0, S>) -> Self {
        let started = clock.instant();
        Self { clock, ep, started }
    }

    /// Time since the service started (ntpq's `ss_uptime`).
    pub fn uptime(&mut self) -> Duration {
        self.clock.instant().saturating_since(self.started)
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
        self.ep.node()
    }

    /// The client node, to add a refclock.
    pub fn node_mut(&mut self) -> &mut Node<N, R> {
        self.ep.node_mut()
    }

    /// The endpoint: server counters, tables, leap schedule.
    pub fn endpoint(&self) -> &Endpoint<P, N, R, 0, S> {
        &self.ep
    }

    /// The endpoint, to change its tables or hand it a leap schedule.
    pub fn endpoint_mut(&mut self) -> &mut Endpoint<P, N, R, 0, S> {
        &mut self.ep
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
            node: self.ep.node_mut(),
            id,
            now,
        };
        // Stamped right after the read returns (poll_ready calls it then).
        gps.poll_ready(
            || slew_core::refclock::UnixTime::from_ntp(clock.read(), GPS_ERA_PIVOT_UNIX_S),
            &mut sink,
        )
    }

    /// Takes every datagram off `socket` into the endpoint (replies for the client;
    /// requests answered or dropped as the endpoint decides), runs the node's
    /// timers, sends what is due and adjusts the clock. Returns when the node next
    /// wants to run; call again then, or as soon as the stack has received something.
    pub fn poll(&mut self, socket: &mut udp::Socket<'_>) -> Instant {
        let local = local_addr(socket);
        let mut rx = [0u8; RX_BUF_LEN];
        while let Some((from, bytes)) = recv(socket, &mut rx) {
            // The receive timestamp first: everything after it is processing delay.
            let rx_time = self.clock.read();
            let now = self.clock.instant();
            // A plain answer is a header; a signed one a MAC more. On the stack,
            // only while answering.
            let mut out = [0u8; ANSWER_BUF_LEN];
            match self
                .ep
                .handle_datagram(now, local, from, bytes, rx_time, &mut out)
            {
                Datagram::Answer(pending) => {
                    let bytes = pending.finish(&mut out, self.clock.read());
                    // A full queue loses the answer; the client will ask again.
                    let _ = socket.send_slice(bytes, IpEndpoint::from(from));
                }
                // A query the endpoint admitted (restrict lines, never under
                // `noquery`): answered from the node itself (feature `control`;
                // without it, unanswered as a drop would be).
                #[cfg(feature = "control")]
                Datagram::Control => self.answer_control(socket, from, bytes, now),
                _ => {}
            }
            self.drain(socket);
        }
        let now = self.clock.instant();
        if self.ep.poll_timeout().is_some_and(|t| t <= now) {
            // The wall time, for the local clock's reference time and the leap
            // schedule (no reply brings it).
            let Ok(wall) = slew_core::Clock::now(&mut self.clock);
            self.ep.handle_wall_time(now, wall);
            self.ep.handle_timeout(now);
            self.drain(socket);
        }
        // No source (a local-clock-only server): check back in a second.
        self.ep
            .poll_timeout()
            .unwrap_or_else(|| now.saturating_add(Duration::from_secs(1)))
    }

    /// `ntpq -p`, `ntpq -c rv`, ntpstat: the endpoint answers from the node. Not
    /// inlined, so the answer's buffers (a fragment and one [`PeerVars`] per
    /// association, about 4 KiB) are on the stack only while a query is answered.
    ///
    /// [`PeerVars`]: slew_core::control::PeerVars
    #[cfg(feature = "control")]
    #[inline(never)]
    fn answer_control(
        &mut self,
        socket: &mut udp::Socket<'_>,
        from: SocketAddr,
        request: &[u8],
        now: Instant,
    ) {
        let wall_now = self.clock.read();
        let uptime_s = now.saturating_since(self.started).as_secs();
        let mut buf = [0u8; CONTROL_MAX_PACKET];
        self.ep.answer_control_from_node(
            request,
            IDENTITY,
            now,
            wall_now,
            uptime_s,
            &mut buf,
            // A full queue loses a fragment; ntpq asks again.
            |fragment| {
                let _ = socket.send_slice(fragment, IpEndpoint::from(from));
            },
        );
    }

    /// Carries out the endpoint's actions (no one-shot mode here: its correction,
    /// never set, is never returned).
    fn drain(&mut self, socket: &mut udp::Socket<'_>) {
        let _ = run_once_with(
            &mut self.ep,
            &mut self.clock,
            &mut UdpTransport::new(socket),
            |r| crate::log::report(&r),
        );
    }
}

/// The address `socket` is bound to (unspecified when bound to every address).
fn local_addr(socket: &udp::Socket<'_>) -> SocketAddr {
    let ep = socket.endpoint();
    let ip = ep
        .addr
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::from);
    SocketAddr::new(ip, ep.port)
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
