//! The loop: one `poll(2)` over every socket, the endpoint's deadline and the
//! housekeeping timers; signals as flags checked after each wake-up.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::view::LazyView;
use super::{Daemon, Exit, DRAIN_BUDGET, DRIFT_WRITE_INTERVAL, ONCE_TIMEOUT};
use crate::daemon::monitor::ServeState;
use crate::os::clock::DaemonClock;
use crate::os::net::family_name;
use crate::os::signals;
use crate::os::time::monotonic_now;
use crate::server::TimeServer;

impl<C: DaemonClock> Daemon<C> {
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
            self.service_nts(now);
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
            // Only a deadline or a descriptor wakes the loop (helper threads post
            // through mailboxes it polls): no periodic wake-up.
            let timers = [
                Some(self.next_drift_write),
                (!self.unresolved.is_empty()).then_some(self.next_resolve),
                self.settings
                    .once
                    .then(|| started.saturating_add(ONCE_TIMEOUT)),
            ];
            let deadline = self
                .ep
                .poll_timeout()
                .into_iter()
                .chain(timers.into_iter().flatten())
                .min()
                .map_or(Duration::MAX, |t| t.saturating_since(now))
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
                )
                // An NTS-KE due (after its back-off); a finished one wakes the poll
                // through its socket.
                .min(self.nts_client.wait(now).unwrap_or(Duration::MAX));
            // Rounded up to the next millisecond, so the deadline has passed on waking.
            let timeout = i32::try_from(deadline.as_millis().saturating_add(1))
                .ok()
                .and_then(|ms| PollTimeout::try_from(ms).ok())
                .unwrap_or(PollTimeout::MAX);
            let n_server = self.server.sockets().len();
            let mut readable = Vec::new();
            let mut client_ready = false;
            let mut metrics_ready = false;
            let mut refclock_ready: Vec<usize> = Vec::new();
            let mut ke_ready = false;
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
                // Last: the helper threads' mailboxes. NTS-KE results are taken by
                // `service_nts`, lookups by `collect_resolved`, a re-read
                // configuration by `reloader.collect`, each on the turn after.
                let ke_fd = self.nts_client.poll_fd().map(|fd| {
                    fds.push(PollFd::new(fd, PollFlags::POLLIN));
                    fds.len() - 1
                });
                let n_before_mail = fds.len();
                for fd in [self.resolver.poll_fd(), self.reloader.poll_fd()]
                    .into_iter()
                    .flatten()
                {
                    fds.push(PollFd::new(fd, PollFlags::POLLIN));
                }
                match poll(&mut fds, timeout) {
                    Ok(_) | Err(nix::Error::EINTR) => {}
                    Err(e) => return Err(io::Error::from_raw_os_error(e as i32)),
                }
                for (i, fd) in fds.iter().enumerate() {
                    if fd.revents().is_some_and(|r| !r.is_empty()) {
                        if i >= n_before_mail {
                            // A mailbox: read where its results are taken.
                        } else if Some(i) == ke_fd {
                            ke_ready = true;
                        } else if i >= n_metrics {
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
            // After a master-key rotation, before answering: this thread's copy (one
            // atomic load otherwise).
            self.refresh_nts_keys();
            if !refclock_ready.is_empty() {
                self.service_refclocks(now, &refclock_ready);
            }
            if ke_ready {
                self.service_nts(now);
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
}
