//! `--metrics ADDR:PORT`: a Prometheus endpoint inside slewd's one poll loop; the page
//! is encoded by `prometheus-client` (OpenMetrics text), the HTTP around it is ours.
//!
//! The listening socket is a plain `SOCK_STREAM` made with nix, close-on-exec and
//! non-blocking through `fcntl` (DESIGN.md's rules for a simulator-driven binary);
//! it and at most [`MAX_CONNECTIONS`] accepted connections sit in the daemon's
//! `poll(2)` set. Every call is non-blocking: a connection is read into a
//! [`REQUEST_MAX`]-byte buffer until the end of the request head, answered from a
//! snapshot of the daemon's state, written as far as the socket takes it and closed;
//! one that dawdles past [`CONNECTION_DEADLINE`] is closed. The NTP path never waits
//! for a scraper.
//!
//! Idle clients cannot starve real scrapes (issue 11: 16 clients that connect, send
//! nothing and reconnect held all 8 slots, and 5 scrapes in 6 failed): when the
//! table is full, the oldest connection that has not sent a complete request and
//! has had [`EVICT_AFTER`] to do so is closed to admit the next one. A scraper sends
//! its GET with the connection's last handshake packet, so it is answered long
//! before; a connection being answered is never evicted. Connections stay at most
//! [`MAX_CONNECTIONS`], and each lives at most [`CONNECTION_DEADLINE`].
//!
//! Metrics (gauges unless noted): `slew_offset_seconds`, `slew_frequency_ppm`,
//! `slew_jitter_seconds`, `slew_stratum`, `slew_synchronised`,
//! `slew_discipline_state`, per source (label `address`) `slew_source_reach`,
//! `slew_source_delay_seconds`, `slew_source_offset_seconds`,
//! `slew_source_jitter_seconds`, `slew_source_selected`; counters
//! `slew_packets_served_total`, `slew_packets_dropped_total{reason=…}`,
//! `slew_control_queries_total{result=…}`; the NTS metrics of `metrics_nts.rs`
//! (the NTS-KE server's only through [`render_with_ke_server`]).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::socket::{
    accept, bind, listen, setsockopt, socket, sockopt, AddressFamily, Backlog, SockFlag, SockType,
};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use slew_core::node::SystemStatus;
use slew_core::peer::SourceStatus;
use slew_core::select::Tally;
use slew_core::server::{DropReason, ServerStats};
use slew_core::Instant;

use crate::server::monitor::MonitorStats;

#[path = "metrics_nts.rs"]
mod nts;
use crate::os::net::to_storage;

/// Connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 8;
/// The most of a request read (a scraper's GET head is a few hundred bytes).
pub const REQUEST_MAX: usize = 2048;
/// How long a connection may take from accept to close.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(2);
/// How long a connection without a complete request is safe from eviction when the
/// table is full. It bounds the churn an idle flood causes to
/// [`MAX_CONNECTIONS`] accepts per this interval.
pub const EVICT_AFTER: Duration = Duration::from_millis(250);
/// The kernel's queue of connections not yet accepted: room for a burst of idle
/// reconnects beside the scrapers, so that a scraper's SYN is queued, not dropped
/// (a dropped SYN costs the scraper a 1 s retransmission).
pub const LISTEN_BACKLOG: i32 = 64;

/// What the page is rendered from.
#[derive(Debug)]
pub struct MetricsInput<'a> {
    /// The node's system state.
    pub system: &'a SystemStatus,
    /// Its sources.
    pub sources: &'a [SourceStatus],
    /// The time server's counters.
    pub server: &'a ServerStats,
    /// The control path's counters.
    pub control: MonitorStats,
}

/// Labels of the per-source metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    address: String,
}

/// Labels of the dropped-datagram counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Labels of the control-query counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

type F64Gauge = Gauge<f64, AtomicU64>;

/// The OpenMetrics text exposition of `m` (prometheus-client's encoder; Prometheus
/// reads it as it reads its own text format). Built afresh for each scrape from a
/// snapshot: slewd keeps no registry between scrapes, so nothing in the NTP path
/// touches a metric.
pub fn render(m: &MetricsInput<'_>) -> String {
    render_with_ke_server(m, None)
}

/// [`render`], plus the NTS-KE server's counters when it runs
/// (`KeServer::stats()`).
pub fn render_with_ke_server(
    m: &MetricsInput<'_>,
    ke_server: Option<&crate::server::nts::server::KeServerStats>,
) -> String {
    render_with_nts(m, ke_server, None)
}

/// [`render_with_ke_server`], plus the NTS-KE client's outcomes since start when
/// any source uses NTS (`Daemon::nts_ke_client_stats`).
pub fn render_with_nts(
    m: &MetricsInput<'_>,
    ke_server: Option<&crate::server::nts::server::KeServerStats>,
    ke_client: Option<&crate::server::nts::KeClientStats>,
) -> String {
    let mut registry = Registry::default();
    let sys = m.system;
    let mut gauge = |name: &str, help: &str, v: f64| {
        let g = F64Gauge::default();
        g.set(v);
        registry.register(name, help, g);
    };
    gauge(
        "slew_offset_seconds",
        "Combined offset at the last clock update",
        sys.offset_s,
    );
    gauge(
        "slew_frequency_ppm",
        "Frequency correction in force",
        sys.frequency_ppm,
    );
    gauge("slew_jitter_seconds", "System jitter", sys.jitter_s);
    gauge(
        "slew_stratum",
        "Stratum served to clients",
        f64::from(sys.vars.stratum),
    );
    gauge(
        "slew_synchronised",
        "1 when clients may synchronise to this server",
        if sys.vars.is_synchronized() { 1.0 } else { 0.0 },
    );
    gauge(
        "slew_discipline_state",
        "Discipline state: 0 NSET, 1 FSET, 2 SPIK, 3 FREQ, 4 SYNC",
        f64::from(sys.state as u8),
    );
    type Field = fn(&SourceStatus) -> f64;
    let per_source: [(&str, &str, Field); 5] = [
        ("slew_source_reach", "Reach register (8 bits)", |s| {
            f64::from(s.reach)
        }),
        ("slew_source_delay_seconds", "Clock filter delay", |s| {
            s.delay_s
        }),
        ("slew_source_offset_seconds", "Clock filter offset", |s| {
            s.offset_s
        }),
        ("slew_source_jitter_seconds", "Source jitter", |s| {
            s.jitter_s
        }),
        ("slew_source_selected", "1 for the system peer", |s| {
            if s.tally == Tally::SystemPeer {
                1.0
            } else {
                0.0
            }
        }),
    ];
    for (name, help, f) in per_source {
        let family = Family::<SourceLabels, F64Gauge>::default();
        for s in m.sources {
            family
                .get_or_create(&SourceLabels {
                    address: s.addr.to_string(),
                })
                .set(f(s));
        }
        registry.register(name, help, family);
    }
    let served = Counter::<u64>::default();
    served.inc_by(m.server.answered);
    // The encoder appends `_total` to counters.
    registry.register("slew_packets_served", "Time requests answered", served);
    let dropped = Family::<ReasonLabels, Counter<u64>>::default();
    for r in DropReason::ALL {
        dropped
            .get_or_create(&ReasonLabels { reason: r.name() })
            .inc_by(m.server.dropped_for(r));
    }
    registry.register(
        "slew_packets_dropped",
        "Datagrams not answered, by reason",
        dropped,
    );
    let c = m.control;
    let control = Family::<ResultLabels, Counter<u64>>::default();
    for (result, n) in [
        ("answered", c.answered),
        ("rate_limited", c.rate_limited),
        ("malformed", c.malformed),
    ] {
        control.get_or_create(&ResultLabels { result }).inc_by(n);
    }
    registry.register("slew_control_queries", "Mode 6 queries, by result", control);
    nts::register_server(&mut registry, &m.server.nts);
    nts::register_ke_server(&mut registry, ke_server);
    nts::register_ke_client(&mut registry, ke_client);
    nts::register_sources(&mut registry, m.sources);
    let mut out = String::with_capacity(4096);
    // Writing into a String cannot fail; an encoder error would be a bug in the
    // labels, and the page then ends early rather than taking the daemon down.
    if let Err(e) = encode(&mut out, &registry) {
        log::warn!("metrics page incomplete: {e}");
    }
    out
}

/// One accepted connection.
#[derive(Debug)]
struct Conn {
    fd: OwnedFd,
    request: Vec<u8>,
    /// The response, once the request is in, and how much of it was written.
    response: Option<(Vec<u8>, usize)>,
    accepted: Instant,
    deadline: Instant,
}

impl Conn {
    /// Closing it to admit another loses no scrape: no complete request in, and
    /// it had [`EVICT_AFTER`] to send one.
    fn evictable(&self, now: Instant) -> bool {
        self.response.is_none() && now.saturating_since(self.accepted) >= EVICT_AFTER
    }
}

/// The endpoint.
#[derive(Debug)]
pub struct MetricsServer {
    listener: OwnedFd,
    conns: Vec<Conn>,
    addr: SocketAddr,
    /// Scrapes answered.
    pub served: u64,
    /// Idle connections closed to admit others.
    pub evicted: u64,
}

fn nonblocking_cloexec(fd: &OwnedFd) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    fcntl(raw, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(io::Error::from)?;
    let fl = OFlag::from_bits_truncate(fcntl(raw, FcntlArg::F_GETFL).map_err(io::Error::from)?);
    fcntl(raw, FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK)).map_err(io::Error::from)?;
    Ok(())
}

impl MetricsServer {
    /// Binds and listens on `addr`.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let family = if addr.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        let fd = socket(family, SockType::Stream, SockFlag::empty(), None)?;
        nonblocking_cloexec(&fd)?;
        setsockopt(&fd, sockopt::ReuseAddr, &true)?;
        bind(fd.as_raw_fd(), &to_storage(addr))?;
        listen(&fd, Backlog::new(LISTEN_BACKLOG).map_err(io::Error::from)?)?;
        let bound =
            nix::sys::socket::getsockname::<nix::sys::socket::SockaddrStorage>(fd.as_raw_fd())
                .ok()
                .and_then(|s| crate::os::net::from_storage(&s))
                .unwrap_or(addr);
        Ok(Self {
            listener: fd,
            conns: Vec::new(),
            addr: bound,
            served: 0,
            evicted: 0,
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The descriptors for the poll set, with what to wait for on each, as of
    /// `now`. The listener is left out while the connection table is full and no
    /// connection may be evicted yet: a pending connection would make `poll` return
    /// at once on every turn (a busy loop) although nothing can accept it until a
    /// slot frees ([`MetricsServer::next_deadline`] says when one may).
    pub fn poll_fds(&self, now: Instant) -> Vec<(BorrowedFd<'_>, bool)> {
        let mut v = Vec::with_capacity(self.conns.len() + 1);
        if self.can_admit(now) {
            v.push((self.listener.as_fd(), false));
        }
        for c in &self.conns {
            v.push((c.fd.as_fd(), c.response.is_some()));
        }
        v
    }

    /// Connections open (at most [`MAX_CONNECTIONS`]).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// The next instant after `now` that something is due without any socket
    /// becoming ready: a connection's deadline, or the moment an idle one becomes
    /// evictable while the table is full (from then on the listener is polled, so
    /// a waiting connection wakes the loop: no timeout is needed for it). The
    /// daemon's poll timeout includes it.
    pub fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let full = self.conns.len() >= MAX_CONNECTIONS;
        self.conns
            .iter()
            .flat_map(|c| {
                let evict = Some(c.accepted.saturating_add(EVICT_AFTER))
                    .filter(|t| full && c.response.is_none() && *t > now);
                [Some(c.deadline), evict]
            })
            .flatten()
            .min()
    }

    /// Whether a new connection could be taken now: a free slot, or one to evict.
    fn can_admit(&self, now: Instant) -> bool {
        self.conns.len() < MAX_CONNECTIONS || self.conns.iter().any(|c| c.evictable(now))
    }

    /// Whether a connection waits in the kernel's queue (a zero-timeout poll), so
    /// that no idle connection is closed for nothing.
    fn pending(&self) -> bool {
        let mut fds = [nix::poll::PollFd::new(
            self.listener.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0)
    }

    /// Frees a slot by closing the oldest evictable connection; false when none is.
    fn evict_one(&mut self, now: Instant) -> bool {
        let oldest = self
            .conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.evictable(now))
            .min_by_key(|(_, c)| c.accepted)
            .map(|(i, _)| i);
        match oldest {
            Some(i) => {
                self.conns.swap_remove(i);
                self.evicted += 1;
                true
            }
            None => false,
        }
    }

    /// Accepts, reads, answers and closes whatever is ready, without blocking;
    /// `page` renders the metrics when a request is complete.
    pub fn service(&mut self, now: Instant, page: &mut dyn FnMut() -> String) {
        // Read and answer what is already open first: a request that has arrived
        // is answered before its connection could be counted idle.
        self.step_all(now, page);
        // Accept, bounded by the table; when it is full, an idle connection makes
        // room. Those accepted now are not evictable on this turn (EVICT_AFTER).
        loop {
            if self.conns.len() >= MAX_CONNECTIONS && !(self.pending() && self.evict_one(now)) {
                break;
            }
            match accept(self.listener.as_raw_fd()) {
                Ok(raw) => {
                    // SAFETY: accept just returned this descriptor; we own it.
                    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
                    if nonblocking_cloexec(&fd).is_ok() {
                        self.conns.push(Conn {
                            fd,
                            request: Vec::new(),
                            response: None,
                            accepted: now,
                            deadline: now.saturating_add(CONNECTION_DEADLINE),
                        });
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
        // The new ones: a scraper's request is usually there already.
        self.step_all(now, page);
    }

    fn step_all(&mut self, now: Instant, page: &mut dyn FnMut() -> String) {
        let mut i = 0;
        while i < self.conns.len() {
            let done = match self.conns.get_mut(i) {
                Some(c) => c.step(now, page, &mut self.served),
                None => true,
            };
            if done {
                self.conns.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }
}

impl Conn {
    /// Advances the connection; true when it is finished (and is to be closed).
    fn step(&mut self, now: Instant, page: &mut dyn FnMut() -> String, served: &mut u64) -> bool {
        if now >= self.deadline {
            return true;
        }
        if self.response.is_none() {
            let mut buf = [0u8; 512];
            loop {
                match nix::unistd::read(self.fd.as_raw_fd(), &mut buf) {
                    Ok(0) => return true,
                    Ok(n) => {
                        let room = REQUEST_MAX.saturating_sub(self.request.len());
                        self.request
                            .extend_from_slice(buf.get(..n.min(room)).unwrap_or_default());
                        if head_complete(&self.request) || self.request.len() >= REQUEST_MAX {
                            break;
                        }
                    }
                    Err(Errno::EINTR) => continue,
                    Err(Errno::EAGAIN) => return false,
                    Err(_) => return true,
                }
            }
            let body = if self.request.starts_with(b"GET ") {
                *served += 1;
                ("200 OK", page())
            } else {
                ("405 Method Not Allowed", "only GET\n".to_string())
            };
            let head = format!(
                "HTTP/1.0 {}\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.0,
                body.1.len()
            );
            let mut bytes = head.into_bytes();
            bytes.extend_from_slice(body.1.as_bytes());
            self.response = Some((bytes, 0));
        }
        let Some((bytes, sent)) = self.response.as_mut() else {
            return true;
        };
        while *sent < bytes.len() {
            match nix::unistd::write(&self.fd, bytes.get(*sent..).unwrap_or_default()) {
                Ok(n) => *sent += n,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return false,
                Err(_) => return true,
            }
        }
        true
    }
}

/// The blank line that ends an HTTP request head.
fn head_complete(req: &[u8]) -> bool {
    req.windows(4).any(|w| w == b"\r\n\r\n") || req.windows(2).any(|w| w == b"\n\n")
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
