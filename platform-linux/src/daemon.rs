//! The `slewd` event loop: one thread, one `poll(2)` over the NTP sockets, signals
//! as flags checked after each wake-up.
//!
//! Each turn of the loop: refresh the system variables if their time has come, wait in
//! `poll` until a socket is readable or the next deadline, drain readable sockets with
//! a per-turn budget, then look at the signal flags.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use slew_core::system::SystemVars;
use slew_core::Instant;

use crate::serve::TimeServer;
use crate::signals;
use crate::time::{measure_precision, monotonic_now, realtime_now};

/// Datagrams handled per socket per turn, so a flood on one socket cannot starve the
/// others or the timers.
pub const DRAIN_BUDGET: usize = 256;

/// How often the local-clock reference is refreshed: ntpd's LOCAL driver updates at
/// its poll interval of 64 s.
pub const LOCAL_CLOCK_UPDATE: Duration = Duration::from_secs(64);

/// The local clock as a reference: ntp.conf's `server 127.127.1.0` with its `fudge`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalClock {
    /// The stratum the local clock claims (`fudge 127.127.1.0 stratum N`, default 5
    /// in ntpd's LOCAL driver docs, 10 in every CentOS config).
    pub stratum: u8,
}

/// What the daemon runs with, distilled from ntp.conf and the command line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// Addresses to serve on.
    pub listen: Vec<SocketAddr>,
    /// The local clock fallback, if configured.
    pub local_clock: Option<LocalClock>,
    /// `restrict`, `discard`, keys: filled by `settings::load`.
    pub hardening: crate::access::Hardening,
}

/// The running daemon.
#[derive(Debug)]
pub struct Daemon {
    settings: Settings,
    server: TimeServer,
    sys: SystemVars,
    precision: i8,
    next_sys_update: Instant,
}

impl Daemon {
    /// Binds the sockets; nothing is served until [`Daemon::run`].
    pub fn new(settings: Settings) -> io::Result<Self> {
        let mut server = TimeServer::bind(&settings.listen)?;
        server.set_hardening(&settings.hardening);
        let precision = measure_precision();
        let mut d = Self {
            settings,
            server,
            sys: SystemVars::unsynchronized(precision),
            precision,
            next_sys_update: Instant::ZERO,
        };
        d.update_system(monotonic_now());
        Ok(d)
    }

    /// The addresses actually bound (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.server
            .sockets()
            .iter()
            .map(|s| s.local_addr())
            .collect()
    }

    /// The system variables clients are being served.
    pub fn system(&self) -> &SystemVars {
        &self.sys
    }

    fn update_system(&mut self, now: Instant) {
        if now < self.next_sys_update {
            return;
        }
        self.sys = match self.settings.local_clock {
            Some(local) => SystemVars::local_clock(self.precision, local.stratum, realtime_now()),
            None => SystemVars::unsynchronized(self.precision),
        };
        self.next_sys_update = now.saturating_add(LOCAL_CLOCK_UPDATE);
    }

    /// Serves until SIGTERM or SIGINT.
    pub fn run(&mut self) -> io::Result<()> {
        let source = if self.settings.local_clock.is_some() {
            format!("the local clock (stratum {})", self.sys.stratum)
        } else {
            "nothing: unsynchronised, stratum 16".to_string()
        };
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
        log::info!("time source: {source}");
        let mut control_drops = 0u64;
        while !signals::terminate_requested() {
            let now = monotonic_now();
            self.update_system(now);
            let wait = self
                .next_sys_update
                .saturating_since(now)
                .min(Duration::from_secs(1));
            let timeout =
                PollTimeout::try_from(wait.as_millis() as i32 + 1).unwrap_or(PollTimeout::MAX);
            let mut readable = Vec::with_capacity(self.server.sockets().len());
            {
                let mut fds: Vec<PollFd<'_>> = self
                    .server
                    .sockets()
                    .iter()
                    .map(|s| PollFd::new(std::os::fd::AsFd::as_fd(s), PollFlags::POLLIN))
                    .collect();
                match poll(&mut fds, timeout) {
                    Ok(_) => {}
                    Err(nix::Error::EINTR) => {}
                    Err(e) => return Err(io::Error::from_raw_os_error(e as i32)),
                }
                for (i, fd) in fds.iter().enumerate() {
                    if fd.revents().is_some_and(|r| !r.is_empty()) {
                        readable.push(i);
                    }
                }
            }
            let sys = self.sys;
            for i in readable {
                self.server.drain(i, &sys, DRAIN_BUDGET, &mut |_, _, _| {
                    // Mode 6 is answered once the monitoring issue lands; counted here.
                    control_drops += 1;
                });
            }
            if signals::take_dump() {
                self.server.log_stats();
            }
            if signals::take_reload() {
                log::warn!("SIGHUP: reloading the configuration is not supported yet; restart slewd to apply changes");
            }
        }
        log::info!("terminating on signal");
        if control_drops > 0 {
            log::info!("{control_drops} mode 6 queries not answered (not supported yet)");
        }
        self.server.log_stats();
        Ok(())
    }
}
