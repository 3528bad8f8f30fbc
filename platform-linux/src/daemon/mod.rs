//! The `slewd` event loop: one thread, one `poll(2)` over the NTP sockets, signals
//! as flags checked after each wake-up.
//!
//! Each turn: let the node act on its deadline, wait in `poll` until a socket is
//! readable or the next deadline, answer clients from the server sockets (budgeted),
//! hand replies from upstream servers to the node, carry out the node's actions on
//! the clock and the sockets, then look at the signal flags and the housekeeping
//! timers (driftfile, name re-resolution).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use slew_core::clock::ErrorKind;
use slew_core::endpoint::{run_once_with, Correction, Endpoint, LeapSchedule, Open, StepRule};
use slew_core::node::{Event, Node, PacketVerdict, Report};
use slew_core::peer::{Reason, SourceId};
use slew_core::system::SystemVars;
use slew_core::Instant;

use crate::clock::DaemonClock;
use crate::config::Host;
use crate::drift;
use crate::monitor::{Identity, Monitor, ServeState};
use crate::net::{bind_error, family_missing, family_name, NtpSocket};
use crate::serve::TimeServer;
use crate::settings::{Settings, SourceSpec};
use crate::signals;
use crate::snapshot::NodeView;
use crate::time::{measure_precision, monotonic_now};

mod lifecycle;
mod refclocks;
mod reload;
mod seams;
mod sources;
mod txstamp;

pub use reload::ReloadSource;
pub use seams::SendError;
use seams::{ClientTransport, EraResolving};

/// Datagrams handled per socket per turn, so a flood on one socket cannot starve the
/// others or the timers.
pub const DRAIN_BUDGET: usize = 256;

/// Upstream associations one daemon can hold.
pub const MAX_SOURCES: usize = 16;

/// Most reference clocks (`server 127.127.T.U`); each also takes a source slot.
pub const MAX_REFCLOCKS: usize = 4;

/// How often the driftfile is rewritten while synchronised (ntpd: hourly).
pub const DRIFT_WRITE_INTERVAL: Duration = Duration::from_secs(3600);

/// How long a named source may stay unreachable before its name is resolved again.
pub const RERESOLVE_AFTER: Duration = Duration::from_secs(900);

/// How often names that did not resolve are tried again.
pub const RESOLVE_RETRY: Duration = Duration::from_secs(60);

/// `-q` gives up after this long without a usable server.
pub const ONCE_TIMEOUT: Duration = Duration::from_secs(60);

/// One association and the configuration line it came from.
#[derive(Clone, Debug)]
struct Assoc {
    spec: usize,
    id: SourceId,
    addr: SocketAddr,
    unreachable_since: Option<Instant>,
    /// The authentication refusal last logged (one line per change, not per packet).
    auth_logged: Option<Reason>,
    /// When it was added, and whether its silence was reported (`key N` sources).
    added: Instant,
    silence_logged: bool,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// SIGTERM/SIGINT, or `-q` done.
    Clean,
    /// `-q` found no usable server.
    NoServer,
    /// An offset beyond the panic threshold: ntpd exits here too.
    Panic,
    /// SIGHUP: the configuration has been read again (off the loop, from the
    /// [`ReloadSource`]); the caller takes it with [`Daemon::take_reloaded`], applies
    /// it with [`Daemon::reload`] and runs again.
    Reload,
}

/// The daemon's protocol core.
type Daemonpoint = Endpoint<Open, MAX_SOURCES, MAX_REFCLOCKS>;

/// The running daemon, generic over the clock it disciplines.
pub struct Daemon<C: DaemonClock> {
    settings: Settings,
    server: TimeServer,
    /// The client sockets; `None` for a family the host lacks.
    client_v4: Option<NtpSocket>,
    client_v6: Option<NtpSocket>,
    /// Why a family has no client socket, for the sources of that family.
    client_missing: Vec<(bool, String)>,
    /// The families left out at start were logged (once, not on every reload).
    skipped_logged: bool,
    /// The protocol core: the client node, the leap schedule, `-q`'s one-shot mode.
    /// The server sockets still answer through [`TimeServer`] (and its threads)
    /// with the tables of its shared guard, so the endpoint's own are open.
    ep: Box<Daemonpoint>,
    clock: C,
    assocs: Vec<Assoc>,
    unresolved: Vec<usize>,
    next_resolve: Instant,
    next_drift_write: Instant,
    monitor: Monitor,
    stats: crate::stats::Recorder,
    metrics: Option<crate::metrics::MetricsServer>,
    started: Instant,
    exit: Option<Exit>,
    /// DNS lookups, off the loop.
    resolver: crate::resolve::Resolver,
    /// For each lookup under way, the address it must not hand back.
    resolve_except: Vec<(usize, Option<SocketAddr>)>,
    /// SIGHUP's re-read of the configuration, off the loop.
    reloader: reload::Reloader,
    /// `-q`: the one correction the endpoint decided, not yet made.
    once_done: Option<Correction>,
    /// The era check made its one step (or refusal).
    era_checked: bool,
    /// Requests waiting for their kernel transmit stamp.
    tx_pending: txstamp::TxPending,
    /// Replies received on the client sockets (ntpq's `io_received` adds them).
    client_rx: u64,
    /// The reference clocks' drivers (SHM segments, NMEA ttys).
    refclocks: Vec<refclocks::RefDriver>,
}

impl<C: DaemonClock> std::fmt::Debug for Daemon<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("listen", &self.settings.listen)
            .field("assocs", &self.assocs)
            .finish_non_exhaustive()
    }
}

impl<C: DaemonClock> Daemon<C> {
    /// Binds the sockets, reads the driftfile and sets up the associations; nothing
    /// is sent until [`Daemon::run`].
    pub fn new(mut settings: Settings, clock: C) -> io::Result<Self> {
        let mut server = if settings.listen_explicit {
            TimeServer::bind(&settings.listen)?
        } else {
            TimeServer::bind_available(&settings.listen)?
        };
        server.set_hardening(&settings.hardening);
        let mut client_missing = Vec::new();
        let mut client_socket = |any: SocketAddr| match NtpSocket::bind(any) {
            Ok(s) => Ok(Some(s)),
            Err(e) if family_missing(&e, &any) => {
                client_missing.push((any.is_ipv6(), e.to_string()));
                Ok(None)
            }
            Err(e) => Err(bind_error(&any, &e)),
        };
        let client_v4 = client_socket(SocketAddr::from(([0, 0, 0, 0], 0)))?;
        // An IPv6 client socket that fails for another reason is not fatal either
        // (as before): IPv6 sources are then reported, IPv4 ones polled.
        let client_v6 = client_socket(SocketAddr::from(([0u16; 8], 0))).unwrap_or_else(|e| {
            client_missing.push((true, e.to_string()));
            None
        });
        // T1 from the kernel's transmit stamp; without it, the clock read after send.
        for s in client_v4.iter().chain(client_v6.iter()) {
            if !s.enable_tx_timestamps() {
                log::info!(
                    "no kernel transmit stamps on {}: T1 is read after send",
                    s.local_addr()
                );
            }
        }
        settings.node.precision = measure_precision();
        if let Some(path) = &settings.driftfile {
            match drift::read(path) {
                Ok(ppm) => {
                    log::info!("frequency {ppm:+.3} ppm from {}", path.display());
                    settings.node.discipline.initial_frequency_ppm = Some(ppm);
                }
                Err(drift::DriftError::Missing) => {
                    log::info!(
                        "no driftfile at {} yet: measuring the frequency",
                        path.display()
                    )
                }
                Err(e) => log::warn!(
                    "ignoring driftfile {}: {e}; measuring the frequency afresh",
                    path.display()
                ),
            }
        }
        let seed = seed();
        settings.node.seed = seed;
        // The node slews through the clock's frequency: keep the fastest slew within
        // what this clock applies on top of the discipline's bound.
        let wanted = settings.node.max_slew_rate_ppm;
        let kept = settings.node.fit_to_clock(clock.max_frequency_ppm());
        if kept < wanted {
            log::warn!(
                "maxslewrate {wanted} ppm is beyond the {} clock's range: slewing at up to {kept} ppm",
                clock.name()
            );
        }
        let mut ep: Box<Daemonpoint> = Box::new(Endpoint::new(settings.node.clone(), Open));
        if let Some(t) = settings.leapfile.as_deref().and_then(load_leapfile) {
            ep.set_leap_schedule(LeapSchedule::from_table(
                &t.entries,
                crate::time::unix_now_s(),
            ));
        }
        if settings.once {
            ep.set_one_shot(StepRule::for_discipline(&settings.node.discipline));
        }
        let now = monotonic_now();
        let mut drivers = Vec::new();
        for rc in &settings.refclocks {
            match ep.node_mut().add_refclock(*rc, now) {
                Ok(id) => drivers.push(refclocks::RefDriver::new(id, *rc, now)),
                Err(_) => log::error!(
                    "{}: no room (at most {MAX_REFCLOCKS} reference clocks)",
                    refclocks::clock_name(rc)
                ),
            }
        }
        let stats = crate::stats::Recorder::new(&settings.stats);
        let mut d = Self {
            unresolved: (0..settings.sources.len()).collect(),
            settings,
            server,
            client_v4,
            client_v6,
            client_missing,
            skipped_logged: false,
            ep,
            clock,
            assocs: Vec::new(),
            next_resolve: now,
            next_drift_write: now.saturating_add(DRIFT_WRITE_INTERVAL),
            monitor: Monitor::new(Identity::current(), now),
            stats,
            metrics: None,
            started: now,
            exit: None,
            resolver: crate::resolve::Resolver::default(),
            resolve_except: Vec::new(),
            reloader: reload::Reloader::default(),
            once_done: None,
            era_checked: false,
            tx_pending: txstamp::TxPending::default(),
            client_rx: 0,
            refclocks: drivers,
        };
        d.resolve_pending(now);
        Ok(d)
    }

    /// The server addresses actually bound (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.server
            .sockets()
            .iter()
            .map(|s| s.local_addr())
            .collect()
    }

    /// The system variables clients are being served.
    pub fn system(&self) -> SystemVars {
        self.ep.served_vars(monotonic_now())
    }

    /// The node, for monitoring.
    pub fn node(&self) -> &Node<MAX_SOURCES, MAX_REFCLOCKS> {
        self.ep.node()
    }

    /// `--server-threads N`: N more threads will serve the listen addresses on
    /// `SO_REUSEPORT` sockets of their own ([`crate::serve_threads`]). Binds them
    /// now (call before forking and dropping privileges); [`Daemon::run`] starts
    /// the threads.
    pub fn prepare_server_threads(&mut self, n: usize) -> io::Result<()> {
        self.server.prepare_threads(n)
    }

    /// The clock, for monitoring and tests.
    pub fn clock_mut(&mut self) -> &mut C {
        &mut self.clock
    }

    /// Carries out what the node asks, logging its events.
    fn drive(&mut self, now: Instant) {
        let mut events: Vec<Event> = Vec::new();
        let mut clock_errors: Vec<ErrorKind> = Vec::new();
        {
            let mut transport = ClientTransport {
                v4: self.client_v4.as_ref(),
                v6: self.client_v6.as_ref(),
            };
            let era_allowed = self.era_allowed();
            let sent = &mut self.tx_pending;
            let mut report = |r: Report<'_>| match r {
                Report::Event(e) => events.push(*e),
                Report::ClockError(k) => clock_errors.push(k),
                Report::SendError(k) => log::debug!("send failed: {k:?}"),
                Report::Sent(tx) => sent.note(tx, now),
            };
            // The endpoint arms the leap bit and, with -q, holds back every clock
            // action until its one correction is decided.
            let mut clock = EraResolving {
                inner: &mut self.clock,
                era_allowed,
            };
            if let Some(c) = run_once_with(&mut self.ep, &mut clock, &mut transport, &mut report) {
                self.once_done = Some(c);
            }
        }
        self.collect_tx_stamps(now);
        for k in clock_errors {
            log::error!(
                "the {} clock refused an adjustment: {k:?}",
                self.clock.name()
            );
        }
        for e in events {
            self.on_event(&e, now);
        }
        if self.stats.active() {
            let wall = self.clock.now().unwrap_or(slew_core::NtpTimestamp::ZERO);
            self.stats.after_drive(self.ep.node(), now, wall);
        }
    }

    /// Reads the refclocks that are due, and the ttys in `readable`.
    fn service_refclocks(&mut self, now: Instant, readable: &[usize]) {
        let clock = &mut self.clock;
        let mut to_clock = |t: slew_core::refclock::UnixTime| {
            let at = clock.reading_at_realtime(t.to_ntp());
            slew_core::refclock::UnixTime::from_ntp(at, t.secs)
        };
        for (k, d) in self.refclocks.iter_mut().enumerate() {
            let ready = readable.contains(&k);
            if ready || d.deadline().is_some_and(|t| t <= now) {
                d.service(self.ep.node_mut(), now, ready, &mut to_clock);
            }
            let addr = slew_core::peer::refclock_addr(d.config()).ip();
            for (rx, code) in d.clockstats.drain(..) {
                let unix_s = rx.secs as f64 + f64::from(rx.nanos) * 1e-9;
                self.stats.record_clock(unix_s, addr, &code);
            }
        }
    }

    /// Kernel transmit stamps of the requests just sent (see [`txstamp`]).
    fn collect_tx_stamps(&mut self, now: Instant) {
        for socket in self.client_v4.iter().chain(self.client_v6.iter()) {
            self.tx_pending
                .collect(socket, self.ep.node_mut(), &mut self.clock, now);
        }
    }

    fn drain_clients(&mut self, now: Instant) {
        // A stamp that came late wakes the loop (POLLERR) like a datagram does.
        self.collect_tx_stamps(now);
        let mut buf = [0u8; 1024];
        for v6 in [false, true] {
            for _ in 0..DRAIN_BUDGET {
                let socket = if v6 {
                    self.client_v6.as_ref()
                } else {
                    self.client_v4.as_ref()
                };
                let Some(socket) = socket else { break };
                let received = match socket.recv(&mut buf) {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => {
                        log::debug!("client socket: {e}");
                        break;
                    }
                };
                self.client_rx += 1;
                let rx = self.clock.reading_at_realtime(received.rx_time);
                let bytes = buf.get(..received.len).unwrap_or_default();
                // Only replies come to the client sockets' ephemeral ports.
                let verdict = self
                    .ep
                    .node_mut()
                    .handle_packet(now, received.from, bytes, rx);
                if let PacketVerdict::Refused(reason) = verdict {
                    log::debug!("{}: reply refused ({})", received.from, reason.code());
                }
                self.log_auth(received.from, verdict);
                self.drive(now);
            }
        }
    }

    /// Serves and disciplines until SIGTERM or SIGINT (or, with `-q`, until the time
    /// is set once).
    pub fn run(&mut self) -> io::Result<Exit> {
        if !self.skipped_logged {
            self.skipped_logged = true;
            for (addr, e) in self.server.skipped() {
                log::warn!(
                    "no {} on this host: not serving on {addr} ({e}); serving the other family",
                    family_name(addr)
                );
            }
        }
        for addr in self.local_addrs() {
            log::info!("serving NTP on {addr}");
        }
        if let Some(w) = self
            .settings
            .hardening
            .wildcard_warning(&self.local_addrs())
        {
            log::warn!("{w}");
        }
        for w in &self.settings.hardening.unresolved {
            log::warn!("{w}");
        }
        log::info!(
            "disciplining the {} clock with {} source(s){}{}",
            self.clock.name(),
            self.settings.sources.len(),
            if self.refclocks.is_empty() {
                String::new()
            } else {
                let names: Vec<&str> = self.refclocks.iter().map(|d| d.name.as_str()).collect();
                format!(" and reference clock(s) {}", names.join(", "))
            },
            match self.settings.local_clock {
                Some(l) => format!(", local clock at stratum {} as fallback", l.stratum),
                None => String::new(),
            }
        );
        let sys = self.served_vars();
        self.server.spawn_threads(sys)?;
        let started = monotonic_now();
        while !signals::terminate_requested() {
            let now = monotonic_now();
            self.service_refclocks(now, &[]);
            if self.ep.poll_timeout().is_some_and(|t| t <= now) {
                // The wall time, for the local clock's reference time (which no
                // reply brings) and the leap schedule.
                if let Ok(wall) = self.clock.now() {
                    self.ep.handle_wall_time(now, wall);
                }
                self.ep.handle_timeout(now);
                self.drive(now);
            }
            if !self.settings.once {
                self.check_era();
            }
            if let Some(exit) = self.exit {
                return Ok(exit);
            }
            if self.settings.once {
                if let Some(exit) = self.finish_once() {
                    return Ok(exit);
                }
                if now.saturating_since(started) > ONCE_TIMEOUT {
                    self.log_no_server();
                    return Ok(Exit::NoServer);
                }
            }
            self.collect_resolved(now);
            self.resolve_pending(now);
            self.report_auth_silence(now);
            if now >= self.next_drift_write {
                self.write_drift();
                self.next_drift_write = now.saturating_add(DRIFT_WRITE_INTERVAL);
            }
            // Rate-limited log summaries are written when their window ends, not
            // when the next line of their kind happens to come.
            self.server.flush_log();
            self.monitor.flush_log();
            let log_due = [self.server.log_due(), self.monitor.log_due()]
                .into_iter()
                .flatten()
                .min()
                .map(|t| t.saturating_duration_since(std::time::Instant::now()));
            let deadline = self
                .ep
                .poll_timeout()
                .map_or(Duration::from_secs(1), |t| t.saturating_since(now))
                .min(self.server.max_wait())
                .min(
                    // A metrics connection's deadline, or when an idle one may make
                    // room for a waiting scraper.
                    self.metrics
                        .as_ref()
                        .and_then(|m| m.next_deadline(now))
                        .map_or(Duration::MAX, |t| t.saturating_since(now)),
                )
                .min(log_due.unwrap_or(Duration::MAX))
                .min(
                    self.refclocks
                        .iter()
                        .filter_map(|r| r.deadline())
                        .min()
                        .map_or(Duration::MAX, |t| t.saturating_since(now)),
                );
            let deadline = if self.reloader.is_pending() {
                deadline.min(reload::RELOAD_POLL)
            } else {
                deadline
            };
            let timeout =
                PollTimeout::try_from(deadline.as_millis() as i32 + 1).unwrap_or(PollTimeout::MAX);
            let n_server = self.server.sockets().len();
            let mut readable = Vec::new();
            let mut client_ready = false;
            let mut metrics_ready = false;
            let mut refclock_ready: Vec<usize> = Vec::new();
            {
                let mut fds: Vec<PollFd<'_>> = self
                    .server
                    .sockets()
                    .iter()
                    .chain(self.client_v4.iter())
                    .chain(self.client_v6.iter())
                    .map(|s| PollFd::new(std::os::fd::AsFd::as_fd(s), PollFlags::POLLIN))
                    .collect();
                let n_ntp = fds.len();
                for (fd, out) in self.metrics.iter().flat_map(|m| m.poll_fds(now)) {
                    let f = if out {
                        PollFlags::POLLOUT
                    } else {
                        PollFlags::POLLIN
                    };
                    fds.push(PollFd::new(fd, f));
                }
                let n_metrics = fds.len();
                let mut tty_of = Vec::new();
                for (k, d) in self.refclocks.iter().enumerate() {
                    if let Some(fd) = d.poll_fd() {
                        fds.push(PollFd::new(fd, PollFlags::POLLIN));
                        tty_of.push(k);
                    }
                }
                match poll(&mut fds, timeout) {
                    Ok(_) | Err(nix::Error::EINTR) => {}
                    Err(e) => return Err(io::Error::from_raw_os_error(e as i32)),
                }
                for (i, fd) in fds.iter().enumerate() {
                    if fd.revents().is_some_and(|r| !r.is_empty()) {
                        if i >= n_metrics {
                            if let Some(&k) = tty_of.get(i - n_metrics) {
                                refclock_ready.push(k);
                            }
                        } else if i >= n_ntp {
                            metrics_ready = true;
                        } else if i < n_server {
                            readable.push(i);
                        } else {
                            client_ready = true;
                        }
                    }
                }
            }
            let now = monotonic_now();
            if !refclock_ready.is_empty() {
                self.service_refclocks(now, &refclock_ready);
            }
            if client_ready {
                self.drain_clients(now);
            }
            if metrics_ready || self.metrics.as_ref().is_some_and(|m| m.connections() > 0) {
                self.serve_metrics(now);
            }
            // Server threads (if any): what this thread serves, leap announcement
            // included; then the mode 6 requests they forwarded.
            let served = self.served_vars();
            self.server.publish(&served, &mut self.clock);
            let control_waiting = self.server.has_control();
            if control_waiting || !readable.is_empty() {
                let wall_now = self.clock.now().unwrap_or(slew_core::NtpTimestamp::ZERO);
                let sys = self.served_vars();
                // Borrows disjoint from the server and the clock, which drain uses.
                let view = LazyView::new(
                    self.ep.node(),
                    &self.assocs,
                    &self.settings.sources,
                    &self.refclocks,
                    now,
                    wall_now,
                    self.started,
                );
                let monitor = &mut self.monitor;
                let client_rx = self.client_rx;
                let serve_state = |server: &TimeServer| {
                    let mut io = server.io_counters();
                    io.received += client_rx;
                    io.since_reset_s = view.uptime_s;
                    io
                };
                if control_waiting {
                    let server = &self.server;
                    let io = serve_state(server);
                    let state = ServeState {
                        server: server.merged_stats(),
                        io,
                        guard: server.guard(),
                    };
                    server.take_control(&mut |socket, from, request| {
                        monitor.handle(socket, from, request, monotonic_now(), &view, &state);
                    });
                }
                // Queries met while draining are answered once the batch is done, with
                // the server's counters and monitor list as they then stand.
                let mut queries: Vec<(usize, SocketAddr, Vec<u8>)> = Vec::new();
                for i in readable {
                    self.server.drain(
                        i,
                        &sys,
                        DRAIN_BUDGET,
                        &mut self.clock,
                        &mut |_socket, from, request| queries.push((i, from, request.to_vec())),
                    );
                }
                if !queries.is_empty() {
                    let server = &self.server;
                    let state = ServeState {
                        server: server.merged_stats(),
                        io: serve_state(server),
                        guard: server.guard(),
                    };
                    for (i, from, request) in &queries {
                        if let Some(socket) = server.sockets().get(*i) {
                            monitor.handle(socket, *from, request, monotonic_now(), &view, &state);
                        }
                    }
                }
            }
            if signals::take_dump() {
                self.server.log_stats();
            }
            if signals::take_reload() {
                self.reloader.start();
            }
            if self.reloader.collect() {
                return Ok(Exit::Reload);
            }
        }
        log::info!("terminating on signal");
        Ok(Exit::Clean)
    }

    /// Where SIGHUP reads the configuration from.
    pub fn set_reload_source(&mut self, source: ReloadSource) {
        self.reloader.set_source(source);
    }

    /// The configuration SIGHUP read, after [`Exit::Reload`].
    pub fn take_reloaded(
        &mut self,
    ) -> Option<Result<crate::settings::Loaded, crate::settings::LoadError>> {
        self.reloader.take_ready()
    }

    /// `--metrics`: serves the Prometheus page on `addr` from now on.
    pub fn enable_metrics(&mut self, addr: SocketAddr) -> io::Result<SocketAddr> {
        let m = crate::metrics::MetricsServer::bind(addr).map_err(|e| {
            if family_missing(&e, &addr) {
                io::Error::new(
                    e.kind(),
                    format!("{e} (no {} on this host)", family_name(&addr)),
                )
            } else {
                e
            }
        })?;
        let bound = m.local_addr();
        log::info!("metrics on http://{bound}/metrics");
        self.metrics = Some(m);
        Ok(bound)
    }

    fn serve_metrics(&mut self, now: Instant) {
        let Some(mut m) = self.metrics.take() else {
            return;
        };
        let mut page = || {
            let sources: Vec<_> = self.ep.node().sources(now).collect();
            crate::metrics::render(&crate::metrics::MetricsInput {
                system: &self.ep.node().system(),
                sources: &sources,
                server: self.server.stats(),
                control: self.monitor.stats(),
            })
        };
        m.service(now, &mut page);
        self.metrics = Some(m);
    }

    /// The system variables the server path answers with: the endpoint's (the
    /// leapfile's announcement included while one is pending).
    pub fn served_vars(&self) -> slew_core::system::SystemVars {
        self.ep.served_vars(monotonic_now())
    }

    /// True when the running configuration has symmetric keys.
    pub fn has_keys(&self) -> bool {
        !self.settings.hardening.keys.is_empty()
    }

    /// Re-reads the leapfile (SIGHUP).
    /// A leapfile that cannot be read now keeps the table read before, so a
    /// passing problem (an update in progress, permissions after `-u`) cannot disarm
    /// a pending leap second.
    pub fn reload_leapfile(&mut self) {
        match self.settings.leapfile.as_deref() {
            None => self.ep.set_leap_schedule(LeapSchedule::NONE),
            Some(path) => {
                if let Some(t) = load_leapfile(path) {
                    let now_s = crate::time::unix_now_s();
                    self.ep.set_leap_schedule(t.schedule(now_s));
                } else if *self.ep.leap_schedule() != LeapSchedule::NONE {
                    log::warn!("keeping the leap-second table read before");
                }
            }
        }
    }

    /// The node's state for the control responder (ntpq, ntpstat, slewctl).
    pub fn view(&mut self, now: Instant) -> NodeView {
        let wall_now = self.clock.now().unwrap_or(slew_core::NtpTimestamp::ZERO);
        LazyView::new(
            self.ep.node(),
            &self.assocs,
            &self.settings.sources,
            &self.refclocks,
            now,
            wall_now,
            self.started,
        )
        .build()
    }
}

/// What a [`NodeView`] is made of, borrowed: the server path hands one to the
/// control handler on every turn with readable sockets, and the view is built only
/// when a mode 6 query actually asks (most turns carry only time requests).
struct LazyView<'a> {
    node: &'a Node<MAX_SOURCES, MAX_REFCLOCKS>,
    assocs: &'a [Assoc],
    specs: &'a [SourceSpec],
    refclocks: &'a [refclocks::RefDriver],
    now: Instant,
    wall_now: slew_core::NtpTimestamp,
    uptime_s: u64,
}

impl<'a> LazyView<'a> {
    fn new(
        node: &'a Node<MAX_SOURCES, MAX_REFCLOCKS>,
        assocs: &'a [Assoc],
        specs: &'a [SourceSpec],
        refclocks: &'a [refclocks::RefDriver],
        now: Instant,
        wall_now: slew_core::NtpTimestamp,
        started: Instant,
    ) -> Self {
        Self {
            node,
            assocs,
            specs,
            refclocks,
            now,
            wall_now,
            uptime_s: now.saturating_since(started).as_secs(),
        }
    }

    fn build(&self) -> NodeView {
        let sources = self
            .node
            .sources(self.now)
            .map(|s| {
                // A refclock is shown by its driver's name, as ntpd does.
                if let Some(d) = self.refclocks.iter().find(|d| d.id == s.id) {
                    return (s, Some(d.name.clone()));
                }
                let name = self
                    .assocs
                    .iter()
                    .find(|a| a.id == s.id)
                    .and_then(|a| self.specs.get(a.spec))
                    .and_then(|spec| match &spec.host {
                        Host::Name(n) => Some(n.clone()),
                        Host::Ip(_) => None,
                    });
                (s, name)
            })
            .collect();
        NodeView {
            system: self.node.system(),
            sources,
            local: self.node.local_clock(),
            now: self.now,
            wall_now: self.wall_now,
            uptime_s: self.uptime_s,
            refclock_reasons: self
                .refclocks
                .iter()
                .filter_map(|d| d.reason.map(|r| (d.id, r)))
                .collect(),
        }
    }
}

impl crate::monitor::SnapshotSource for LazyView<'_> {
    fn system_peer(&self) -> (Option<SocketAddr>, u8) {
        self.build().system_peer()
    }

    fn root_distance_s(&self) -> f64 {
        self.build().root_distance_s()
    }

    fn uptime_s(&self) -> u64 {
        self.uptime_s
    }

    fn wall_now(&self) -> slew_core::NtpTimestamp {
        self.wall_now
    }

    fn with_snapshots(
        &self,
        identity: &crate::monitor::Identity,
        answer: &mut dyn FnMut(
            &slew_core::control::SystemSnapshot<'_>,
            &[slew_core::control::PeerSnapshot<'_>],
        ),
    ) {
        self.build().with_snapshots(identity, answer);
    }
}

/// A seed for the node's PRNG: nonces must not be guessable by an off-path attacker.
fn seed() -> u64 {
    crate::entropy::random_u64()
}

/// Reads a leapfile, logging why it cannot be used.
fn load_leapfile(path: &std::path::Path) -> Option<crate::leapfile::LeapTable> {
    match crate::leapfile::read(path) {
        Ok(t) => {
            let now = crate::time::unix_now_s();
            if t.expired(now) {
                log::warn!(
                    "leapfile {} has expired: fetch a current leap-seconds.list",
                    path.display()
                );
            }
            match t.next_leap(now) {
                Some((kind, at)) => log::info!(
                    "leapfile {}: next leap second ({kind:?}) at the end of the day before {}",
                    path.display(),
                    crate::logger::format_utc(at)
                ),
                None => log::info!("leapfile {}: no leap second pending", path.display()),
            }
            Some(t)
        }
        Err(e) => {
            log::warn!("ignoring leapfile {}: {e}", path.display());
            None
        }
    }
}
