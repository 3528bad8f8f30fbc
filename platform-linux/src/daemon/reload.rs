//! SIGHUP: the configuration is read again on a helper thread while the loop keeps
//! serving, and applied once it is ready.
//!
//! Reading it is not only parsing: `restrict HOSTNAME` lines are resolved through
//! getaddrinfo, which a dead DNS server stalls for the resolver's whole timeout
//! (5 s per try by default, several tries). Inside the loop that stopped the time
//! service; on this thread it only delays the reload, and the tables in force keep
//! applying until then (so a `restrict … ignore` being added is not a window in
//! which everyone is served).

use std::sync::Arc;

use crate::os::mailbox::Mailbox;
use crate::settings::{LoadError, Loaded};

/// Reads the configuration: given by the binary, which knows the path and the
/// command-line overrides.
pub type ReloadSource = Arc<dyn Fn() -> Result<Loaded, LoadError> + Send + Sync>;

/// The reload under way, if any, and the one ready to apply.
#[derive(Default)]
pub(super) struct Reloader {
    source: Option<ReloadSource>,
    /// The reload thread's result; its poll fd wakes the loop when it comes.
    done: Mailbox<Result<Loaded, LoadError>>,
    /// The reload thread, while it runs.
    pending: Option<std::thread::JoinHandle<()>>,
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
        let done = self.done.poster();
        let spawned = std::thread::Builder::new()
            .name("slewd-reload".into())
            .spawn(move || {
                done.post(source());
            });
        match spawned {
            Ok(thread) => self.pending = Some(thread),
            Err(e) => log::error!("SIGHUP: cannot start the reload thread: {e}"),
        }
    }

    /// Readable when the reload thread has its result.
    pub(super) fn poll_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.done.poll_fd()
    }

    /// True once the configuration has been read (well or not): the loop returns
    /// so that the binary applies it.
    pub(super) fn collect(&mut self) -> bool {
        let Some(thread) = &self.pending else {
            return false;
        };
        if let Some(result) = self.done.try_recv() {
            self.pending = None;
            self.ready = Some(result);
            return true;
        }
        if thread.is_finished() {
            self.pending = None;
            // It may have posted between the two looks.
            if let Some(result) = self.done.try_recv() {
                self.ready = Some(result);
                return true;
            }
            // Finished without posting: it panicked. The next SIGHUP tries again.
            log::error!("SIGHUP: the reload thread ended without a result");
        }
        false
    }

    pub(super) fn take_ready(&mut self) -> Option<Result<Loaded, LoadError>> {
        self.ready.take()
    }
}
