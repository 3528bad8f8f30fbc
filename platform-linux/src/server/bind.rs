//! The server's sockets: one per listen address and family, a family the host does
//! not have skipped and said, and the `SO_REUSEPORT` sockets of the worker threads.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use slew_core::endpoint::LeapSchedule;
use slew_core::node::NodeConfig;

use crate::os::batch::{RecvBatch, SendBatch};
use crate::os::net::{bind_error, family_missing, family_name, NtpSocket};
use crate::os::ratelog::RateLimitedLog;
use crate::server::control_publish::SharedMonitor;
use crate::server::publish::{Published, ServePoint, SharedGuard};
use crate::server::threads::ServerThreads;

use super::{TimeServer, TxLead};

impl TimeServer {
    /// Binds one socket per address.
    pub fn bind(listen: &[SocketAddr]) -> io::Result<Self> {
        Self::bind_inner(listen, false, false)
    }

    /// Binds one socket per address, with `SO_REUSEPORT` when `reuse_port` (so that
    /// server threads can bind the same addresses: [`crate::server::threads`]).
    pub fn bind_with(listen: &[SocketAddr], reuse_port: bool) -> io::Result<Self> {
        Self::bind_inner(listen, reuse_port, false)
    }

    /// Binds one socket per address, leaving out a wildcard (`0.0.0.0`, `[::]`) of a
    /// family the host lacks ([`family_missing`]: a kernel booted with
    /// `ipv6.disable=1`), as ntpd does; what was left out and why is in
    /// [`TimeServer::skipped`]. Fails when a specific address cannot be bound, or
    /// when nothing at all could be.
    pub fn bind_available(listen: &[SocketAddr]) -> io::Result<Self> {
        Self::bind_inner(listen, false, true)
    }

    fn bind_inner(
        listen: &[SocketAddr],
        reuse_port: bool,
        skip_missing_family: bool,
    ) -> io::Result<Self> {
        let mut sockets = Vec::with_capacity(listen.len());
        let mut skipped = Vec::new();
        for addr in listen {
            match NtpSocket::bind_with(*addr, reuse_port) {
                Ok(s) => sockets.push(s),
                Err(e)
                    if skip_missing_family
                        && addr.ip().is_unspecified()
                        && family_missing(&e, addr) =>
                {
                    skipped.push((*addr, e.to_string()));
                }
                Err(e) => return Err(bind_error(addr, &e)),
            }
        }
        if sockets.is_empty() && !listen.is_empty() {
            let why: Vec<String> = skipped
                .iter()
                .map(|(a, e)| format!("{a}: {e} (no {} on this host)", family_name(a)))
                .collect();
            return Err(io::Error::other(format!(
                "no socket to serve on could be bound: {}",
                why.join("; ")
            )));
        }
        let ep = ServePoint::new(NodeConfig::default(), SharedGuard::default());
        let state = Arc::new(Published {
            sys: ep.published_vars(),
            leap: LeapSchedule::NONE,
            guard: Arc::clone(&ep.policy().0),
            nts: None,
            control: None,
        });
        Ok(Self {
            sockets,
            skipped,
            ep,
            state,
            rx: RecvBatch::new(),
            tx: SendBatch::new(),
            log: RateLimitedLog::new(10, 60),
            no_kernel_stamp: 0,
            send_errors: 0,
            send_calls: 0,
            lead: TxLead::default(),
            threads: None,
            pending: Vec::new(),
            wakeups: 0,
            good_wakeups: 0,
            nts_generation: None,
        })
    }

    /// The wildcard addresses [`TimeServer::bind_available`] left out, with the
    /// error binding them gave.
    pub fn skipped(&self) -> &[(SocketAddr, String)] {
        &self.skipped
    }

    /// Prepares `n` server threads (none when `n` is 0): this server's sockets are
    /// bound again with `SO_REUSEPORT` on the same addresses (ports resolved), and
    /// each thread's sockets are bound beside them. Call before forking and dropping
    /// privileges; [`TimeServer::spawn_threads`] starts them afterwards.
    pub fn prepare_threads(&mut self, n: usize) -> io::Result<()> {
        if n == 0 || self.threads.is_some() || !self.pending.is_empty() {
            return Ok(());
        }
        let addrs = self.local_addrs();
        self.sockets.clear();
        for addr in &addrs {
            let s = NtpSocket::bind_with(*addr, true).map_err(|e| bind_error(addr, &e))?;
            self.sockets.push(s);
        }
        self.pending = ServerThreads::bind(n, &addrs)?;
        Ok(())
    }

    /// Starts the threads [`TimeServer::prepare_threads`] bound (if any), answering
    /// with this server's published state from their first datagram on and mode 6
    /// queries through `monitor`.
    pub fn spawn_threads(&mut self, monitor: SharedMonitor) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let servers = std::mem::take(&mut self.pending);
        let n = servers.len();
        self.threads = Some(ServerThreads::spawn(
            servers,
            Arc::clone(&self.state),
            monitor,
        )?);
        log::info!("{n} server thread(s) beside the main loop (SO_REUSEPORT)");
        Ok(())
    }

    /// Server threads running, or bound to run.
    pub fn thread_count(&self) -> usize {
        self.threads
            .as_ref()
            .map_or(self.pending.len(), ServerThreads::len)
    }
}
