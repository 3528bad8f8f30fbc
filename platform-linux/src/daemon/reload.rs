//! SIGHUP: the configuration is read again on a helper thread while the loop keeps
//! serving, and applied once it is ready.
//!
//! Reading it is not only parsing: `restrict HOSTNAME` lines are resolved through
//! getaddrinfo, which a dead DNS server stalls for the resolver's whole timeout
//! (5 s per try by default, several tries). Inside the loop that stopped the time
//! service; on this thread it only delays the reload, and the tables in force keep
//! applying until then (so a `restrict … ignore` being added is not a window in
//! which everyone is served).

use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use crate::settings::{LoadError, Loaded};

/// Reads the configuration: given by the binary, which knows the path and the
/// command-line overrides.
pub type ReloadSource = Arc<dyn Fn() -> Result<Loaded, LoadError> + Send + Sync>;

/// How often the loop looks for the result while a reload is under way (it cannot
/// be woken by the helper thread: the poll set holds only the daemon's sockets).
pub(super) const RELOAD_POLL: Duration = Duration::from_millis(50);

/// The reload under way, if any, and the one ready to apply.
#[derive(Default)]
pub(super) struct Reloader {
    source: Option<ReloadSource>,
    pending: Option<Receiver<Result<Loaded, LoadError>>>,
    ready: Option<Result<Loaded, LoadError>>,
}

impl Reloader {
    pub(super) fn set_source(&mut self, source: ReloadSource) {
        self.source = Some(source);
    }

    /// SIGHUP arrived: starts reading, unless a read is already under way (a second
    /// SIGHUP meanwhile is covered by it: the file is read after both).
    pub(super) fn start(&mut self) {
        if self.pending.is_some() {
            log::info!("SIGHUP: a reload is already under way");
            return;
        }
        let Some(source) = self.source.clone() else {
            log::warn!("SIGHUP: this daemon was started without a configuration to re-read");
            return;
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("slewd-reload".into())
            .spawn(move || {
                let _ = tx.send(source());
            });
        match spawned {
            Ok(_) => self.pending = Some(rx),
            Err(e) => log::error!("SIGHUP: cannot start the reload thread: {e}"),
        }
    }

    pub(super) fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// True once the configuration has been read (well or not): the loop returns
    /// so that the binary applies it.
    pub(super) fn collect(&mut self) -> bool {
        let Some(rx) = &self.pending else {
            return false;
        };
        match rx.try_recv() {
            Ok(result) => {
                self.pending = None;
                self.ready = Some(result);
                true
            }
            Err(TryRecvError::Empty) => false,
            Err(TryRecvError::Disconnected) => {
                self.pending = None;
                log::error!("SIGHUP: the reload thread ended without a result");
                false
            }
        }
    }

    pub(super) fn take_ready(&mut self) -> Option<Result<Loaded, LoadError>> {
        self.ready.take()
    }
}
