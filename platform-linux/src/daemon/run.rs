//! The loop: one `poll(2)` over every socket, the endpoint's deadline and the
//! housekeeping timers; signals as flags checked after each wake-up.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::view::LazyView;
use super::{Daemon, Exit, DRAIN_BUDGET, DRIFT_WRITE_INTERVAL, ONCE_TIMEOUT};
use crate::os::net::family_name;
use crate::os::signals;
use crate::os::time::monotonic_now;
use crate::server::control_publish::ControlSnapshot;
use crate::server::monitor::ServeState;
use slew_core::Clock;

impl<C: Clock> Daemon<C> {
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
        // The server threads answer from the published state from their first
        // datagram on.
        self.publish_to_servers(monotonic_now());
        self.server.spawn_threads(self.monitor.clone())?;
        self.publish_to_servers(monotonic_now());
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
            // What the timers and refclocks changed reaches every server before
            // the loop sleeps (a server thread may answer meanwhile).
            self.publish_to_servers(now);
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
                // configuration by `reloader.collect`, a master-key rotation by
                // `refresh_nts_keys`.
                let ke_fd = self.nts_client.poll_fd().map(|fd| {
                    fds.push(PollFd::new(fd, PollFlags::POLLIN));
                    fds.len() - 1
                });
                let n_before_mail = fds.len();
                for fd in [
                    self.resolver.poll_fd(),
                    self.reloader.poll_fd(),
                    self.nts_rotation_fd(),
                ]
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
            // Every server (this thread's and the threads'): what the endpoint
            // serves, leap schedule included; the threads' control snapshot.
            self.publish_to_servers(now);
            if !readable.is_empty() {
                let wall_now = self.clock.now().unwrap_or(slew_core::NtpTimestamp::ZERO);
                // Queries met while draining are answered once the batch is done,
                // with the server's counters and monitor list as they then stand.
                let mut queries: Vec<(usize, SocketAddr, Vec<u8>)> = Vec::new();
                for i in readable {
                    self.server.drain(
                        i,
                        DRAIN_BUDGET,
                        &mut self.clock,
                        &mut |_socket, from, request| queries.push((i, from, request.to_vec())),
                    );
                }
                if !queries.is_empty() {
                    // Borrows disjoint from the server, which answers.
                    let view = LazyView::new(
                        self.ep.node(),
                        &self.assocs,
                        &self.settings.sources,
                        &self.refclocks,
                        now,
                        wall_now,
                        self.started,
                    );
                    let server = &self.server;
                    let mut io = server.io_counters();
                    io.received += self.client_rx;
                    io.since_reset_s = view.uptime_s;
                    let state = ServeState {
                        server: server.merged_stats(),
                        io,
                        guard: server.guard(),
                    };
                    for (i, from, request) in &queries {
                        if let Some(socket) = server.sockets().get(*i) {
                            self.monitor.handle(
                                socket,
                                *from,
                                request,
                                monotonic_now(),
                                &view,
                                &state,
                            );
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

    /// Hands every server what the endpoint serves (replaced only when it
    /// changed) and, with server threads, the node's control snapshot when the
    /// node changed since the last one.
    fn publish_to_servers(&mut self, now: slew_core::Instant) {
        let sys = self.ep.published_vars();
        let leap = *self.ep.leap_schedule();
        self.server.publish(sys, leap, &mut self.clock);
        if self.server.thread_count() > 0 && std::mem::take(&mut self.view_dirty) {
            let snapshot = ControlSnapshot {
                view: self.view(now),
                client_rx: self.client_rx,
            };
            self.server.publish_control(snapshot);
        }
    }
}
