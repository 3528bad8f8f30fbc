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
use slew_core::control::{PeerSnapshot, SystemSnapshot};
use slew_core::system::SystemVars;
use slew_core::Instant;

use crate::monitor::{Identity, Monitor, SnapshotSource};
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
    monitor: Monitor,
    started: Instant,
}

impl Daemon {
    /// Binds the sockets; nothing is served until [`Daemon::run`].
    pub fn new(settings: Settings) -> io::Result<Self> {
        let mut server = TimeServer::bind(&settings.listen)?;
        server.set_hardening(&settings.hardening);
        let precision = measure_precision();
        let started = monotonic_now();
        let mut d = Self {
            settings,
            server,
            sys: SystemVars::unsynchronized(precision),
            precision,
            next_sys_update: Instant::ZERO,
            monitor: Monitor::new(Identity::current(), started),
            started,
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
            let view = self.control_view();
            let monitor = &mut self.monitor;
            for i in readable {
                self.server
                    .drain(i, &sys, DRAIN_BUDGET, &mut |socket, from, request| {
                        monitor.handle(socket, from, request, monotonic_now(), &view);
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
        self.monitor.log_stats();
        self.server.log_stats();
        Ok(())
    }
}

// ---- Monitoring: what ntpq, ntpstat and slewctl see (monitor.rs answers). ----
// Kept apart from the loop so that the discipline's daemon can replace
// `control_view` with a view over its associations without touching the rest.

impl Daemon {
    /// The state the control responder reports, copied for one loop turn.
    fn control_view(&self) -> LocalClockView {
        LocalClockView {
            sys: self.sys,
            local_clock: self.settings.local_clock,
            uptime_s: monotonic_now().saturating_since(self.started).as_secs(),
        }
    }
}

/// Today's only association: the local clock, LOCAL(0), as ntpd shows it.
#[derive(Debug, Clone, Copy)]
struct LocalClockView {
    sys: SystemVars,
    local_clock: Option<LocalClock>,
    uptime_s: u64,
}

/// The association id slewd gives the local clock.
const LOCAL_CLOCK_ASSOC_ID: u16 = 1;

impl SnapshotSource for LocalClockView {
    fn with_snapshots(
        &self,
        identity: &Identity,
        answer: &mut dyn FnMut(&SystemSnapshot<'_>, &[PeerSnapshot<'_>]),
    ) {
        use slew_core::control::{sys_event, ClockSource, RefIdKind};
        let synced = self.sys.is_synchronized();
        let now = realtime_now();
        let sys = SystemSnapshot {
            version: &identity.version,
            processor: &identity.processor,
            system: &identity.system,
            leap: self.sys.leap as u8,
            clock_source: if synced {
                ClockSource::Local
            } else {
                ClockSource::Unspecified
            },
            event_count: 1,
            // ntpd starting without a drift file reports freq_not_set, which the C
            // ntpstat prints as "time server re-starting".
            last_event: if synced {
                sys_event::CLOCK_SYNC
            } else {
                sys_event::FREQ_NOT_SET
            },
            stratum: self.sys.stratum,
            precision: self.sys.precision,
            root_delay_s: self.sys.root_delay.to_seconds_f64(),
            root_dispersion_s: self.sys.root_dispersion_at(now).to_seconds_f64(),
            refid: self.sys.ref_id,
            refid_kind: RefIdKind::Code,
            reference_time: self.sys.reference_time,
            clock: now,
            peer: if synced { LOCAL_CLOCK_ASSOC_ID } else { 0 },
            tc: self.sys.poll.log2(),
            mintc: slew_core::PollInterval::NTPD_MIN.log2(),
            offset_s: 0.0,
            frequency_ppm: 0.0,
            sys_jitter_s: 0.0,
            clk_jitter_s: 0.0,
            clk_wander_ppm: 0.0,
            // The local clock is served as is: SYNC while it is the source, NSET
            // without any source.
            state: if synced { 4 } else { 0 },
        };
        let peers: Vec<PeerSnapshot<'_>> = self
            .local_clock
            .map(|local| local_clock_peer(local, &self.sys, self.uptime_s))
            .into_iter()
            .collect();
        answer(&sys, &peers);
    }
}

/// LOCAL(0) as a peer: always reachable, its reach register filling one bit per
/// 64-s update since start, the system peer whenever it is the time source.
fn local_clock_peer(local: LocalClock, sys: &SystemVars, uptime_s: u64) -> PeerSnapshot<'static> {
    use slew_core::control::{host_mode, peer_event, PeerStatus, RefIdKind};
    let updates = uptime_s / LOCAL_CLOCK_UPDATE.as_secs() + 1;
    let reach = if updates >= 8 {
        0xff
    } else {
        ((1u16 << updates) - 1) as u8
    };
    let selected = sys.is_synchronized();
    PeerSnapshot {
        association_id: LOCAL_CLOCK_ASSOC_ID,
        srcadr: std::net::IpAddr::from([127, 127, 1, 0]),
        srcport: 123,
        srchost: Some("LOCAL(0)"),
        status: PeerStatus {
            configured: true,
            reachable: true,
            select: if selected { 6 } else { 0 },
            event_count: 1,
            last_event: peer_event::REACHABLE,
            ..PeerStatus::default()
        },
        leap: 0,
        stratum: local.stratum,
        precision: sys.precision,
        root_delay_s: 0.0,
        root_dispersion_s: 0.0,
        refid: slew_core::wire::RefId::LOCL,
        refid_kind: RefIdKind::Code,
        reference_time: sys.reference_time,
        received: sys.reference_time,
        reach,
        hmode: host_mode::CLIENT,
        hpoll: sys.poll.log2(),
        ppoll: sys.poll.log2(),
        offset_s: 0.0,
        delay_s: 0.0,
        dispersion_s: slew_core::system::LOCAL_CLOCK_DISPERSION_S,
        jitter_s: 0.0,
        reason: if selected { "" } else { "unsync" },
    }
}
