//! Mode 6 on the server threads: the main thread publishes an owned copy of the
//! node's state ([`ControlSnapshot`]) whenever the node changed, and a server
//! thread answers a query it received from that copy, through the same
//! [`Monitor`] (one query rate limit, one set of counters) and the same snapshot
//! builder ([`NodeView`]'s) as the main thread: nothing is forwarded.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use slew_core::{Instant, NtpTimestamp};

use crate::os::net::NtpSocket;
use crate::server::monitor::{Identity, Monitor, MonitorStats, ServeState, SnapshotSource};
use crate::server::snapshot::NodeView;

/// The node's state as the main thread last published it.
#[derive(Clone, Debug)]
pub struct ControlSnapshot {
    /// The node, its sources and their names.
    pub view: NodeView,
    /// Datagrams the client sockets had received (ntpq's `iostats`).
    pub client_rx: u64,
}

impl ControlSnapshot {
    /// The view as of `now` (monotonic) and `wall_now` (the daemon clock): ages
    /// and the uptime run on from the copy; the node's figures are the copy's.
    pub fn at(&self, now: Instant, wall_now: NtpTimestamp) -> NodeView {
        let mut view = self.view.clone();
        let since_s = now.saturating_since(view.now).as_secs();
        view.uptime_s = view.uptime_s.saturating_add(since_s);
        view.now = now;
        view.wall_now = wall_now;
        view
    }
}

/// The control handler, shared by the main thread and every server thread.
#[derive(Clone, Debug)]
pub struct SharedMonitor(Arc<Mutex<Monitor>>);

impl SharedMonitor {
    /// A handler with a full token bucket.
    pub fn new(identity: Identity, now: Instant) -> Self {
        Self(Arc::new(Mutex::new(Monitor::new(identity, now))))
    }

    fn lock(&self) -> MutexGuard<'_, Monitor> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// See [`Monitor::handle`].
    pub fn handle(
        &self,
        socket: &NtpSocket,
        from: SocketAddr,
        request: &[u8],
        now: Instant,
        source: &dyn SnapshotSource,
        serve: &ServeState<'_>,
    ) {
        self.lock()
            .handle(socket, from, request, now, source, serve);
    }

    /// See [`Monitor::flush_log`].
    pub fn flush_log(&self) {
        self.lock().flush_log();
    }

    /// See [`Monitor::log_due`].
    pub fn log_due(&self) -> Option<std::time::Instant> {
        self.lock().log_due()
    }

    /// See [`Monitor::stats`].
    pub fn stats(&self) -> MonitorStats {
        self.lock().stats()
    }

    /// See [`Monitor::log_stats`].
    pub fn log_stats(&self) {
        self.lock().log_stats();
    }
}
