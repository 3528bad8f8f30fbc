//! NTS in the loop (RFC 8915): the client's key exchanges and the server's keys.
//!
//! Client: an association of a `server … nts` line is made an NTS source; when the
//! node asks for NTS-KE ([`Event::NeedKeyExchange`](slew_core::node::Event)), the
//! exchange runs on a thread of its own ([`KeClient`]), after the back-off of the
//! failures before it; the loop polls the client's wake-up socket and drains the
//! results without blocking: the jar is installed, or the failure logged (its
//! `Display` says what to do), counted and retried later.
//!
//! Server: `nts enable` loads (or makes) the master keys, starts their rotation
//! and the NTS-KE listener, and hands the store to the server path (main loop and
//! threads), which installs the keys again after each rotation.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use slew_core::peer::{KeNeed, SourceId};
use slew_core::Instant;

use super::Daemon;
use crate::os::mailbox::Mailbox;
use crate::server::nts::{
    backoff, KeClient, KeServer, KeServerConfig, KeyStore, LoadOutcome, RotationTimer,
};
use slew_core::Clock;

/// One NTS source's key-exchange schedule.
#[derive(Debug)]
struct KeState {
    id: SourceId,
    /// Consecutive failures (the back-off's exponent).
    failures: u32,
    /// When to start the next exchange.
    due: Option<Instant>,
    /// The token of the exchange under way.
    running: Option<usize>,
    /// A `pool … nts` member: its NTS-KE goes to this address, the certificate
    /// checked against the pool's name (ntpsec's way). `None` for a `server` line,
    /// whose KE resolves the name itself.
    member: Option<IpAddr>,
}

/// The client side: exchanges under way and due.
#[derive(Debug, Default)]
pub(super) struct NtsClient {
    ke: KeClient,
    states: Vec<KeState>,
    next_token: usize,
    /// Outcomes since start, every source (metrics).
    stats: crate::server::nts::KeClientStats,
}

impl NtsClient {
    /// Readable when an exchange finished.
    pub(super) fn poll_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        if self.states.iter().any(|s| s.running.is_some()) {
            self.ke.poll_fd()
        } else {
            None
        }
    }

    /// How long until an exchange is due to start.
    pub(super) fn wait(&self, now: Instant) -> Option<Duration> {
        self.states
            .iter()
            .filter(|s| s.running.is_none())
            .filter_map(|s| s.due)
            .min()
            .map(|t| t.saturating_since(now))
    }
}

/// Why `nts enable` could not start (slewd exits with it: an admin who enabled NTS
/// must not get a server without it).
#[derive(Debug)]
pub enum NtsServerError {
    /// The master-key file cannot be kept.
    KeyFile {
        /// The `nts cookie` file.
        path: std::path::PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The rotation thread could not be started.
    RotationThread(std::io::Error),
    /// The NTS-KE server did not start.
    KeServer(crate::server::nts::KeServerError),
}

impl std::fmt::Display for NtsServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::KeyFile { path, error } => write!(
                f,
                "nts: cannot keep the master keys in {}: {error}",
                path.display()
            ),
            Self::RotationThread(e) => write!(f, "nts: cannot start the key rotation thread: {e}"),
            Self::KeServer(e) => write!(f, "nts: the NTS-KE server did not start: {e}"),
        }
    }
}

impl std::error::Error for NtsServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::KeyFile { error, .. } | Self::RotationThread(error) => Some(error),
            Self::KeServer(e) => Some(e),
        }
    }
}

/// The server side, while `nts enable` runs.
#[derive(Debug)]
pub(super) struct NtsServing {
    ke: Option<KeServer>,
    _rotation: Option<RotationTimer>,
    /// Woken by the rotation thread after each rotation, so the loop logs it and
    /// installs the keys at once rather than at its next deadline.
    rotated: Mailbox<()>,
    store: Arc<KeyStore>,
    /// The store's generation last seen by the loop (a rotation is logged once).
    generation: u64,
}

/// Test and operations knobs for the NTS-KE server (slewd's command line).
#[derive(Debug, Clone, Copy, Default)]
pub struct NtsServerOptions {
    /// The NTS-KE port (default 4460).
    pub ke_port: Option<u16>,
    /// The master-key rotation period (default daily).
    pub rotation: Option<Duration>,
}

/// A jitter in [0, 1) for the back-off, so that a fleet does not retry in step.
fn jitter() -> f64 {
    (crate::os::entropy::random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

impl<C: Clock> Daemon<C> {
    /// A new association `id` (polling `addr`) of configuration line `spec`: NTS if
    /// the line says so. A pool's member keeps its address for its own NTS-KE.
    pub(super) fn mark_nts(&mut self, spec: usize, id: SourceId, name: &str, addr: SocketAddr) {
        let Some(src) = self.settings.nts.sources.iter().find(|s| s.source == spec) else {
            return;
        };
        let member = self
            .settings
            .sources
            .get(spec)
            .filter(|s| s.kind == crate::config::SourceKind::Pool)
            .map(|_| addr.ip());
        if !self.ep.node_mut().set_source_nts(id) {
            log::error!(
                "{name}: no NTS slot left (at most {} NTS sources): nothing is sent to it",
                super::MAX_NTS
            );
            return;
        }
        match member {
            Some(ip) => log::info!(
                "{name}: NTS, keys from NTS-KE with {} (certificate for {}); unauthenticated answers refused",
                SocketAddr::new(ip, src.ke.port),
                src.ke.host
            ),
            None => log::info!(
                "{name}: NTS, keys from NTS-KE with {}:{}; unauthenticated answers refused",
                src.ke.host,
                src.ke.port
            ),
        }
        self.nts_client.states.push(KeState {
            id,
            failures: 0,
            due: None,
            running: None,
            member,
        });
    }

    /// The node asked for NTS-KE for `id`: due now, or after the back-off.
    pub(super) fn on_need_key_exchange(&mut self, id: SourceId, reason: KeNeed, now: Instant) {
        let Some(st) = self.nts_client.states.iter_mut().find(|s| s.id == id) else {
            return;
        };
        if st.running.is_some() || st.due.is_some() {
            return;
        }
        let wait = backoff::retry_after(st.failures, jitter());
        st.due = Some(now.saturating_add(wait));
        log::debug!("source {id:?}: NTS-KE needed ({})", reason.code());
    }

    /// Each turn: takes the finished exchanges, starts the due ones.
    pub(super) fn service_nts(&mut self, now: Instant) {
        let assocs = &self.assocs;
        self.nts_client
            .states
            .retain(|s| assocs.iter().any(|a| a.id == s.id));
        while let Some(done) = self.nts_client.ke.try_recv() {
            let Some(k) = self
                .nts_client
                .states
                .iter()
                .position(|s| s.running == Some(done.id))
            else {
                continue; // its association was dropped meanwhile
            };
            let id = self.nts_client.states[k].id;
            self.nts_client.states[k].running = None;
            let Some(a) = self.assocs.iter().position(|a| a.id == id) else {
                continue;
            };
            let name = self.name_of(self.assocs[a].addr);
            match done.result {
                Ok(ok) => {
                    let cookies = ok.jar.cookies();
                    let seed = crate::os::entropy::random_bytes();
                    if self
                        .ep
                        .node_mut()
                        .install_nts(id, ok.jar, ok.ntp_addr, seed)
                    {
                        self.nts_client.stats.record_success();
                        self.nts_client.states[k].failures = 0;
                        self.assocs[a].addr = ok.ntp_addr;
                        log::info!(
                            "{name}: NTS-KE with {} done: {cookies} cookies, NTP to {}",
                            ok.ke_addr,
                            ok.ntp_addr
                        );
                    }
                }
                Err(e) => {
                    self.nts_client.stats.record_failure(e.kind());
                    let st = &mut self.nts_client.states[k];
                    st.failures = st.failures.saturating_add(1);
                    let wait = backoff::retry_after(st.failures, jitter());
                    st.due = Some(now.saturating_add(wait));
                    self.ep.node_mut().key_exchange_failed(id, e.kind());
                    log::warn!(
                        "{name}: {e} (failure {}; next attempt in {} s)",
                        st.failures,
                        wait.as_secs()
                    );
                }
            }
        }
        for k in 0..self.nts_client.states.len() {
            let st = &self.nts_client.states[k];
            if st.running.is_some() || st.due.is_none_or(|t| t > now) {
                continue;
            }
            let id = st.id;
            let member = st.member;
            let Some(mut req) = self
                .assocs
                .iter()
                .find(|a| a.id == id)
                .and_then(|a| {
                    self.settings
                        .nts
                        .sources
                        .iter()
                        .find(|s| s.source == a.spec)
                })
                .map(|s| s.ke.clone())
            else {
                continue;
            };
            req.addr = member;
            let token = self.nts_client.next_token;
            self.nts_client.next_token = token.wrapping_add(1);
            let st = &mut self.nts_client.states[k];
            st.due = None;
            match self.nts_client.ke.spawn(token, req.clone()) {
                Ok(()) => {
                    st.running = Some(token);
                    log::debug!("NTS-KE with {}:{} started", req.host, req.port);
                }
                Err(e) => {
                    st.failures = st.failures.saturating_add(1);
                    let wait = backoff::retry_after(st.failures, jitter());
                    st.due = Some(now.saturating_add(wait));
                    self.nts_client
                        .stats
                        .record_failure(slew_core::peer::KeFailure::Other);
                    log::warn!("NTS-KE with {}: cannot start a thread: {e}", req.host);
                }
            }
        }
    }

    /// `nts enable`: the master keys (loaded, or made and saved), their rotation,
    /// the NTS-KE listener, and the keys on the server path. Call before dropping
    /// privileges (the key file and the TLS key are root's) and after detaching
    /// (threads do not survive the fork). Nothing to do without `nts enable`.
    pub fn start_nts_server(&mut self, opts: NtsServerOptions) -> Result<(), NtsServerError> {
        let Some(cfg) = self.settings.nts.server.clone() else {
            return Ok(());
        };
        let rotation = opts.rotation.unwrap_or(cfg.rotation);
        let (store, outcome) = KeyStore::load_or_create(&cfg.key_file, rotation).map_err(|e| {
            NtsServerError::KeyFile {
                path: cfg.key_file.clone(),
                error: e,
            }
        })?;
        match &outcome {
            LoadOutcome::Loaded => log::info!("{outcome} from {}", cfg.key_file.display()),
            LoadOutcome::Created => log::info!("{outcome}, saved to {}", cfg.key_file.display()),
            LoadOutcome::Replaced(..) => log::warn!("{outcome}"),
        }
        let store = Arc::new(store);
        // Checked a few times per period (at least every 10 minutes), so a rotation
        // is late by a fraction of the period at most.
        let check_every =
            (rotation / 8).clamp(Duration::from_millis(200), Duration::from_secs(600));
        let rotated = Mailbox::new();
        let wake = rotated.poster();
        let rotation_timer = store
            .spawn_rotation(
                check_every,
                |e| {
                    log::error!(
                        "nts: cannot save the rotated master key: {e} (it is in use anyway)"
                    )
                },
                move || {
                    wake.post(());
                },
            )
            .map_err(NtsServerError::RotationThread)?;
        let local = self.local_addrs();
        let ke_port = opts.ke_port.unwrap_or(cfg.port);
        let mut ke_cfg = KeServerConfig::new(cfg.cert.clone(), cfg.key.clone());
        ke_cfg.port = ke_port;
        ke_cfg.listen = Vec::new();
        for a in &local {
            let l = SocketAddr::new(a.ip(), ke_port);
            if !ke_cfg.listen.contains(&l) {
                ke_cfg.listen.push(l);
            }
        }
        // Clients send NTP where the KE server says: this daemon's port, when not 123.
        ke_cfg.ntp_port = local
            .first()
            .map(SocketAddr::port)
            .filter(|p| *p != crate::server::nts::client::NTP_PORT);
        let ke = KeServer::start(&ke_cfg, Arc::clone(&store)).map_err(NtsServerError::KeServer)?;
        for a in ke.local_addrs() {
            log::info!("serving NTS-KE on {a} (certificate {})", cfg.cert.display());
        }
        self.server.set_nts_store(Some(Arc::clone(&store)));
        self.nts_server = Some(NtsServing {
            ke: Some(ke),
            _rotation: Some(rotation_timer),
            rotated,
            generation: store.generation(),
            store,
        });
        Ok(())
    }

    /// Readable after a master-key rotation (taken by [`Daemon::refresh_nts_keys`]).
    pub(super) fn nts_rotation_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.nts_server.as_ref().and_then(|s| s.rotated.poll_fd())
    }

    /// Each turn: after a master-key rotation, this thread's server takes the new
    /// keys (the server threads do on their next batch) and the rotation is logged.
    pub(super) fn refresh_nts_keys(&mut self) {
        let Some(s) = &mut self.nts_server else {
            return;
        };
        let _ = s.rotated.drain();
        let generation = s.store.generation();
        if generation != s.generation {
            s.generation = generation;
            log::info!("NTS master key rotated (generation {generation}): new cookies under the new key, the previous one still opens");
        }
        self.server.refresh_nts_keys();
    }

    /// SIGHUP, before `new` replaces the settings: what of `nts enable/cert/key/
    /// cookie` can change now does, the rest is logged and left as it runs (so
    /// `new.server` is made what is in force, and the next SIGHUP compares against
    /// that). The certificate and key are read again on every SIGHUP while the
    /// NTS-KE server runs, even from the same paths: a renewed certificate is
    /// usually written over the old file. Sources' `nts`/`ca` lines are the
    /// source reload's business (a changed line is a new association, a global
    /// `nts ca` applies from each source's next NTS-KE).
    pub(super) fn reload_nts_server(&mut self, new: &mut crate::settings::nts::NtsSettings) {
        let old = self.settings.nts.server.clone();
        let Some(old) = old else {
            if new.server.take().is_some() {
                log::warn!("reload: `nts enable` applies only on restart (the NTS-KE server and its master keys start with the daemon, before privileges are dropped); not serving NTS now");
            }
            return;
        };
        let Some(wanted) = new.server.clone() else {
            log::warn!("reload: removing `nts enable` applies only on restart; still serving NTS-KE and NTS with {}", old.cert.display());
            new.server = Some(old);
            return;
        };
        let mut effective = old.clone();
        if let Some(ke) = self.nts_server.as_ref().and_then(|s| s.ke.as_ref()) {
            match ke.replace_certificate(&wanted.cert, &wanted.key) {
                Ok(()) => {
                    effective.cert = wanted.cert.clone();
                    effective.key = wanted.key.clone();
                    log::info!(
                        "reload: NTS-KE serves the certificate {} (key {}) read again; connections from now on use it",
                        wanted.cert.display(),
                        wanted.key.display()
                    );
                }
                Err(e) => log::error!(
                    "reload: NTS-KE keeps the certificate in use ({}): cannot use the new one: {e}",
                    old.cert.display()
                ),
            }
        }
        if wanted.key_file != old.key_file {
            log::warn!(
                "reload: `nts cookie {}` applies only on restart; the master keys stay in {}",
                wanted.key_file.display(),
                old.key_file.display()
            );
        }
        new.server = Some(effective);
    }

    /// The NTS-KE client's outcomes since start (for metrics), when any source
    /// uses NTS.
    pub fn nts_ke_client_stats(&self) -> Option<&crate::server::nts::KeClientStats> {
        (!self.settings.nts.sources.is_empty()).then_some(&self.nts_client.stats)
    }

    /// The NTS-KE server's counters (for metrics), when `nts enable` runs.
    pub fn nts_ke_stats(&self) -> Option<&crate::server::nts::KeServerStats> {
        self.nts_server.as_ref()?.ke.as_ref().map(KeServer::stats)
    }

    /// The master keys served with, when `nts enable` runs.
    pub fn nts_key_store(&self) -> Option<&Arc<KeyStore>> {
        self.nts_server.as_ref().map(|s| &s.store)
    }

    /// Stops the NTS-KE listener (connections in flight end by their deadlines)
    /// and the rotation.
    pub(super) fn stop_nts_server(&mut self) {
        if let Some(mut s) = self.nts_server.take() {
            if let Some(ke) = s.ke.take() {
                ke.stop();
            }
        }
    }
}
