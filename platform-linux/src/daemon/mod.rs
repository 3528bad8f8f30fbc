//! The `slewd` event loop: one thread, one `poll(2)` over the NTP sockets, signals
//! as flags checked after each wake-up.
//!
//! Each turn: let the node act on its deadline, wait in `poll` until a socket is
//! readable or the next deadline, answer clients from the server sockets (budgeted),
//! hand replies from upstream servers to the node, carry out the node's actions on
//! the clock and the sockets, then look at the signal flags and the housekeeping
//! timers (driftfile, name re-resolution).
//!
//! | file | stage |
//! |---|---|
//! | `mod.rs` | the daemon's state, start-up, carrying out the endpoint's actions |
//! | `run` | the loop |
//! | `sources` | associations, names, events for the log |
//! | `leap` | the leapfile, handed to the endpoint |
//! | `lifecycle` | driftfile, `-q`'s one correction, SIGHUP reloads |
//! | `view` | the node's state for mode 6 and `slewctl` |
//! | [`metrics`] | the Prometheus text for `slewctl metrics` |
//! | [`stats`] | ntpd's statistics files (loopstats, peerstats, clockstats) |
//! | `seams`, `txstamp`, `refclocks`, `reload` | the clock and socket seams, T1 stamps, refclock drivers, the reload thread |

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use slew_core::clock::ErrorKind;
use slew_core::endpoint::{run_once_with, Correction, Endpoint, LeapSchedule, Open, StepRule};
use slew_core::node::{Event, Node, PacketVerdict, Report};
use slew_core::peer::{Reason, SourceId};
use slew_core::system::SystemVars;
use slew_core::Instant;

use crate::os::drift;
use crate::os::net::{bind_error, family_missing, family_name, NtpSocket};
use crate::os::time::{measure_precision, monotonic_now};
use crate::server::control_publish::SharedMonitor;
use crate::server::monitor::Identity;
use crate::server::TimeServer;
use crate::settings::Settings;
use slew_core::Clock;

mod leap;
mod lifecycle;
pub mod metrics;
mod nts;
mod refclocks;
mod reload;
mod run;
mod seams;
mod sources;
pub mod stats;
mod txstamp;
mod view;

pub use nts::{NtsServerError, NtsServerOptions};
pub use reload::ReloadSource;
use seams::ClientTransport;
pub use seams::SendError;

pub use crate::server::DRAIN_BUDGET;

/// Upstream associations one daemon can hold.
pub const MAX_SOURCES: usize = 16;

/// Most reference clocks (`server 127.127.T.U`); each also takes a source slot.
pub const MAX_REFCLOCKS: usize = 4;

/// Most NTS sources (`server … nts`); each also takes a source slot.
pub const MAX_NTS: usize = MAX_SOURCES;

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
    /// The NTS refusal last logged (likewise).
    nts_logged: Option<slew_core::peer::NtsRefusal>,
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
type Daemonpoint = Endpoint<Open, MAX_SOURCES, MAX_REFCLOCKS, MAX_NTS>;

/// The running daemon, generic over the clock it disciplines.
pub struct Daemon<C: Clock> {
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
    /// The server sockets answer through [`TimeServer`]'s own endpoints (and its
    /// threads'), with what this one publishes ([`Daemonpoint::published_vars`],
    /// the leap schedule) and the tables of the shared guard, so this endpoint's
    /// own are open.
    ep: Box<Daemonpoint>,
    clock: C,
    assocs: Vec<Assoc>,
    unresolved: Vec<usize>,
    next_resolve: Instant,
    next_drift_write: Instant,
    /// The control handler, shared with the server threads.
    monitor: SharedMonitor,
    /// The node changed since the server threads' control snapshot was taken.
    view_dirty: bool,
    stats: crate::daemon::stats::Recorder,
    metrics: Option<crate::daemon::metrics::MetricsServer>,
    started: Instant,
    exit: Option<Exit>,
    /// DNS lookups, off the loop.
    resolver: crate::os::resolve::Resolver,
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
    /// NTS sources' key exchanges.
    nts_client: nts::NtsClient,
    /// `nts enable`: the NTS-KE server and the master keys.
    nts_server: Option<nts::NtsServing>,
}

impl<C: Clock> std::fmt::Debug for Daemon<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("listen", &self.settings.listen)
            .field("assocs", &self.assocs)
            .finish_non_exhaustive()
    }
}

impl<C: Clock> Daemon<C> {
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
        if let Some(t) = settings.leapfile.as_deref().and_then(leap::load_leapfile) {
            ep.set_leap_schedule(LeapSchedule::from_table(
                &t.entries,
                crate::os::time::unix_now_s(),
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
        let stats = crate::daemon::stats::Recorder::new(&settings.stats);
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
            monitor: SharedMonitor::new(Identity::current(), now),
            view_dirty: true,
            stats,
            metrics: None,
            started: now,
            exit: None,
            resolver: crate::os::resolve::Resolver::default(),
            resolve_except: Vec::new(),
            reloader: reload::Reloader::default(),
            once_done: None,
            era_checked: false,
            tx_pending: txstamp::TxPending::default(),
            client_rx: 0,
            refclocks: drivers,
            nts_client: nts::NtsClient::default(),
            nts_server: None,
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
    pub fn node(&self) -> &Node<MAX_SOURCES, MAX_REFCLOCKS, MAX_NTS> {
        self.ep.node()
    }

    /// `--server-threads N`: N more threads will serve the listen addresses on
    /// `SO_REUSEPORT` sockets of their own ([`crate::server::threads`]). Binds them
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
        self.view_dirty = true;
        let mut events: Vec<Event> = Vec::new();
        let mut clock_errors: Vec<ErrorKind> = Vec::new();
        {
            let mut transport = ClientTransport {
                v4: self.client_v4.as_ref(),
                v6: self.client_v6.as_ref(),
            };
            let sent = &mut self.tx_pending;
            let mut report = |r: Report<'_>| match r {
                Report::Event(e) => events.push(*e),
                Report::ClockError(k) => clock_errors.push(k),
                Report::SendError(k) => log::debug!("send failed: {k:?}"),
                Report::Sent(tx) => sent.note(tx, now),
            };
            // The endpoint arms the leap bit, resolves a full-width clock's step into
            // the era window and, with -q, holds back every clock action until its
            // one correction is decided.
            if let Some(c) =
                run_once_with(&mut self.ep, &mut self.clock, &mut transport, &mut report)
            {
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
            let at = clock.reading_at_stamp(t.to_ntp());
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
                let rx = self.clock.reading_at_stamp(received.rx_time);
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
        let m = crate::daemon::metrics::MetricsServer::bind(addr).map_err(|e| {
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
            // Every server thread's answers, NTS ones included, and the KE server's.
            let served = self.server.merged_stats();
            crate::daemon::metrics::render_with_nts(
                &crate::daemon::metrics::MetricsInput {
                    system: &self.ep.node().system(),
                    sources: &sources,
                    server: &served,
                    control: self.monitor.stats(),
                },
                self.nts_ke_stats(),
                self.nts_ke_client_stats(),
            )
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
}

/// A seed for the node's PRNG: nonces must not be guessable by an off-path attacker.
fn seed() -> u64 {
    crate::os::entropy::random_u64()
}
