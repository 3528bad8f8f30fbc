//! Extra server threads (`slewd --server-threads N`): each binds its own
//! `SO_REUSEPORT` socket on every listen address and runs its own `poll(2)` loop over
//! them; the kernel spreads clients over the main thread's sockets and theirs by a
//! hash of the client's address and port.
//!
//! What the threads share with the main thread, and how often they touch it:
//! - one published state: the system variables exactly as the main thread serves
//!   them (a leapfile's announcement included), the clock's offset from
//!   `CLOCK_REALTIME`, and the [`Guard`] (restrict table, keys, rate limiter) of the
//!   running configuration. The main thread replaces it each turn of its loop and at
//!   once on SIGHUP; a worker copies it once per wake-up (per batch), never per
//!   packet;
//! - the rate limiter itself, inside that `Guard`: one table for every thread, locked
//!   once per batch, so a client has one limit however many threads serve it (its
//!   source ports spread it over several sockets);
//! - their counters, written into a per-worker `Mutex` once per wake-up and merged
//!   for the logs;
//! - mode 6 requests: a worker cannot answer them (the node lives on the main
//!   thread), so it queues them (a bounded queue; overflow is dropped and counted)
//!   and the main thread answers from its own socket on the same address.
//!

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use slew_core::server::ServerStats;
use slew_core::system::SystemVars;
use slew_core::{NtpDuration, NtpTimestamp};

use crate::os::time::realtime_now;
use crate::server::guard::Guard;
use crate::server::nts::KeyStore;
use crate::server::{ServeClock, TimeServer, TxLead};

/// Control requests waiting for the main thread, at most.
pub const CONTROL_QUEUE: usize = 32;

/// Longest control request forwarded (mode 6 requests are short).
pub const CONTROL_MAX: usize = 512;

/// How long a worker sleeps in `poll` before it looks at the stop flag.
const WORKER_POLL_MS: u16 = 100;

/// What the main thread publishes to the workers.
#[derive(Clone, Debug)]
struct Published {
    /// What the main thread answers with (`Daemon::served_vars`).
    sys: SystemVars,
    /// The daemon clock's reading minus `CLOCK_REALTIME`.
    offset: NtpDuration,
    /// The running configuration's tables, the same `Arc` the main thread uses.
    guard: Arc<Guard>,
    /// `nts enable`: the master keys; each worker installs them again (with a seed
    /// of its own) when the store's generation changes.
    nts: Option<Arc<KeyStore>>,
}

/// One worker's counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkerStats {
    /// Answers and drops.
    pub server: ServerStats,
    /// Transmit-stamp lead.
    pub lead: TxLead,
    /// Answers not sent.
    pub send_errors: u64,
}

/// A forwarded control request.
#[derive(Clone, Copy, Debug)]
struct ControlRequest {
    listen: usize,
    from: SocketAddr,
    len: usize,
    bytes: [u8; CONTROL_MAX],
}

#[derive(Debug)]
struct Shared {
    published: Mutex<Published>,
    stop: AtomicBool,
    stats: Vec<Mutex<WorkerStats>>,
    control: Mutex<Vec<ControlRequest>>,
    control_dropped: AtomicU64,
}

/// The running server threads.
#[derive(Debug)]
pub struct ServerThreads {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
}

/// The daemon clock as the workers see it: `CLOCK_REALTIME` plus the offset last
/// published (exact for the kernel and observe clocks; for the virtual clock, as
/// fresh as the main thread's last turn).
struct OffsetClock(NtpDuration);

impl ServeClock for OffsetClock {
    fn receive_time(&mut self, realtime: NtpTimestamp) -> NtpTimestamp {
        realtime + self.0
    }
    fn transmit_time(&mut self) -> NtpTimestamp {
        realtime_now() + self.0
    }
}

impl ServerThreads {
    /// Binds `n` workers' sockets on `listen` (addresses already bound by the main
    /// thread with `SO_REUSEPORT`, ports resolved); nothing runs until
    /// [`ServerThreads::spawn`]. Binding comes first so that it can happen before the
    /// daemon forks and drops privileges, the threads after.
    pub fn bind(n: usize, listen: &[SocketAddr]) -> io::Result<Vec<TimeServer>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(TimeServer::bind_with(listen, true)?);
        }
        Ok(out)
    }

    /// Starts one thread per server from [`ServerThreads::bind`], answering with
    /// `sys` and the main thread's `guard` until the first [`ServerThreads::publish`].
    pub fn spawn(
        servers: Vec<TimeServer>,
        sys: SystemVars,
        guard: Arc<Guard>,
        nts: Option<Arc<KeyStore>>,
    ) -> io::Result<Self> {
        let n = servers.len();
        let shared = Arc::new(Shared {
            published: Mutex::new(Published {
                sys,
                offset: NtpDuration::ZERO,
                guard,
                nts,
            }),
            stop: AtomicBool::new(false),
            stats: (0..n).map(|_| Mutex::new(WorkerStats::default())).collect(),
            control: Mutex::new(Vec::with_capacity(CONTROL_QUEUE)),
            control_dropped: AtomicU64::new(0),
        });
        let mut threads = Self {
            shared,
            handles: Vec::with_capacity(n),
        };
        for (i, server) in servers.into_iter().enumerate() {
            let shared = Arc::clone(&threads.shared);
            let h = std::thread::Builder::new()
                .name(format!("slewd-serve-{i}"))
                .spawn(move || worker(i, server, &shared))?;
            threads.handles.push(h);
        }
        Ok(threads)
    }

    /// Publishes what the main thread serves: system variables, the clock's offset
    /// from realtime, the running configuration's tables.
    pub fn publish(
        &self,
        sys: &SystemVars,
        clock: &mut dyn ServeClock,
        guard: &Arc<Guard>,
        nts: Option<&Arc<KeyStore>>,
    ) {
        let r = realtime_now();
        let offset = clock.receive_time(r) - r;
        if let Ok(mut p) = self.shared.published.lock() {
            p.sys = *sys;
            p.offset = offset;
            if !Arc::ptr_eq(&p.guard, guard) {
                p.guard = Arc::clone(guard);
            }
            let same = match (&p.nts, nts) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            };
            if !same {
                p.nts = nts.cloned();
            }
        }
    }

    /// Publishes new tables at once (SIGHUP), before the main loop's next turn.
    pub fn publish_guard(&self, guard: &Arc<Guard>) {
        if let Ok(mut p) = self.shared.published.lock() {
            p.guard = Arc::clone(guard);
        }
    }

    /// Hands each queued control request to `f` (listen index, client, bytes).
    pub fn take_control(&self, f: &mut dyn FnMut(usize, SocketAddr, &[u8])) {
        let pending = match self.shared.control.lock() {
            Ok(mut q) if !q.is_empty() => std::mem::take(&mut *q),
            _ => return,
        };
        for c in &pending {
            f(c.listen, c.from, c.bytes.get(..c.len).unwrap_or_default());
        }
    }

    /// True when control requests wait for the main thread.
    pub fn has_control(&self) -> bool {
        self.shared.control.lock().is_ok_and(|q| !q.is_empty())
    }

    /// The workers' counters, merged.
    pub fn merged(&self) -> WorkerStats {
        let mut out = WorkerStats::default();
        for s in &self.shared.stats {
            if let Ok(s) = s.lock() {
                out.server.merge(&s.server);
                out.lead.merge(&s.lead);
                out.send_errors += s.send_errors;
            }
        }
        out
    }

    /// Control requests dropped because the queue was full.
    pub fn control_dropped(&self) -> u64 {
        self.shared.control_dropped.load(Ordering::Relaxed)
    }

    /// Number of workers.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// True when there are no workers.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }
}

impl Drop for ServerThreads {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn worker(index: usize, mut server: TimeServer, shared: &Shared) {
    let n = server.sockets().len();
    let mut readable = vec![false; n];
    while !shared.stop.load(Ordering::Relaxed) {
        {
            // Rebuilt per wake-up (a few entries): it borrows the sockets that
            // `drain` needs mutably afterwards.
            let mut set: Vec<PollFd<'_>> = server
                .sockets()
                .iter()
                .map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN))
                .collect();
            match poll(&mut set, PollTimeout::from(WORKER_POLL_MS)) {
                Ok(_) | Err(nix::Error::EINTR) => {}
                Err(e) => {
                    log::error!("server thread {index}: poll: {e}");
                    return;
                }
            }
            for (r, fd) in readable.iter_mut().zip(set.iter()) {
                *r = fd.revents().is_some_and(|e| !e.is_empty());
            }
        }
        // The log's "N more … suppressed" summaries are due at their window's end
        // (this loop wakes every WORKER_POLL_MS anyway).
        server.flush_log();
        if !readable.contains(&true) {
            continue;
        }
        // Once per wake-up: the published state (an `Arc` clone, no table copied).
        let Ok(published) = shared.published.lock().map(|p| p.clone()) else {
            return;
        };
        server.adopt_guard(&published.guard);
        // A rotation shows as a new generation: the keys are installed again here,
        // in this thread, before the batch is answered.
        server.adopt_nts_store(published.nts.as_ref());
        let mut clock = OffsetClock(published.offset);
        for (i, _) in readable.iter().enumerate().filter(|(_, r)| **r) {
            server.drain(
                i,
                &published.sys,
                crate::server::DRAIN_BUDGET,
                &mut clock,
                &mut |_, from, bytes| forward_control(shared, i, from, bytes),
            );
        }
        if let Some(slot) = shared.stats.get(index) {
            if let Ok(mut s) = slot.lock() {
                *s = WorkerStats {
                    server: *server.stats(),
                    lead: server.tx_lead(),
                    send_errors: server.send_errors(),
                };
            }
        }
    }
}

fn forward_control(shared: &Shared, listen: usize, from: SocketAddr, bytes: &[u8]) {
    let Ok(mut q) = shared.control.lock() else {
        return;
    };
    if q.len() >= CONTROL_QUEUE || bytes.len() > CONTROL_MAX {
        shared.control_dropped.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut c = ControlRequest {
        listen,
        from,
        len: bytes.len(),
        bytes: [0; CONTROL_MAX],
    };
    if let Some(dst) = c.bytes.get_mut(..bytes.len()) {
        dst.copy_from_slice(bytes);
    }
    q.push(c);
}
