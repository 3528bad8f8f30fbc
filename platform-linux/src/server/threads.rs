//! Extra server threads (`slewd --server-threads N`): each binds its own
//! `SO_REUSEPORT` socket on every listen address and runs its own `poll(2)` loop over
//! them; the kernel spreads clients over the main thread's sockets and theirs by a
//! hash of the client's address and port.
//!
//! Each thread drives its own core endpoint ([`ServePoint`], inside its
//! [`TimeServer`]), exactly as the main thread's server does. What they share:
//! - one published state ([`Published`]: the system variables and the leap
//!   schedule the main endpoint serves, the [`Guard`](crate::server::guard::Guard) of the
//!   running configuration, the NTS keys, the node's control snapshot), swapped
//!   whole by the main thread when it changes and at once on SIGHUP, and the
//!   clock's offset from `CLOCK_REALTIME` in an atomic ([`Board`]). A worker looks
//!   once per wake-up (per batch), never per packet, and decides the leap
//!   announcement from each receive stamp itself;
//! - the rate limiter, inside that `Guard`: one table for every thread, locked
//!   once per batch, so a client has one limit however many threads serve it (its
//!   source ports spread it over several sockets);
//! - the control handler ([`SharedMonitor`]): a worker answers the mode 6 queries
//!   it receives itself, from the published snapshot (one query rate limit and one
//!   set of counters for all threads);
//! - their counters, written into a per-server `Mutex` once per wake-up and merged
//!   for the logs and for mode 6.
//!
//! A worker sleeps in `poll` until a datagram comes, its rate-limited log has a
//! summary due, or the daemon stops (the stop socket's peer is dropped): no
//! periodic wake-up.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use slew_core::server::ServerStats;
use slew_core::NtpTimestamp;

use crate::os::net::NtpSocket;
use crate::os::time::monotonic_now;
use crate::server::control_publish::SharedMonitor;
use crate::server::monitor::ServeState;
use crate::server::publish::{Board, Published};
use crate::server::{io_counters, TimeServer, TxLead};
use slew_core::Clock;

/// One server's counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkerStats {
    /// Answers and drops.
    pub server: ServerStats,
    /// Transmit-stamp lead.
    pub lead: TxLead,
    /// Answers not sent.
    pub send_errors: u64,
    /// Reads of a readable socket, and those that found datagrams.
    pub wakeups: u64,
    /// See `wakeups`.
    pub good_wakeups: u64,
}

impl WorkerStats {
    fn merge(&mut self, o: &WorkerStats) {
        self.server.merge(&o.server);
        self.lead.merge(&o.lead);
        self.send_errors += o.send_errors;
        self.wakeups += o.wakeups;
        self.good_wakeups += o.good_wakeups;
    }
}

#[derive(Debug)]
struct Shared {
    board: Board,
    stop: AtomicBool,
    /// One slot per worker.
    stats: Vec<Mutex<WorkerStats>>,
    /// The main thread's server's counters (for the workers' mode 6 answers).
    main: Mutex<WorkerStats>,
    monitor: SharedMonitor,
    /// Mode 6 queries the workers handled (answered, or refused by the rate).
    control_answered: AtomicU64,
}

impl Shared {
    /// Every server's counters, the main thread's included.
    fn merged_all(&self) -> WorkerStats {
        let mut out = self.main.lock().map(|m| *m).unwrap_or_default();
        for s in &self.stats {
            if let Ok(s) = s.lock() {
                out.merge(&s);
            }
        }
        out
    }
}

/// The running server threads.
#[derive(Debug)]
pub struct ServerThreads {
    shared: Arc<Shared>,
    /// Dropped to stop the workers: their end of the pair becomes readable.
    stop_tx: Option<UnixStream>,
    handles: Vec<JoinHandle<()>>,
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

    /// Starts one thread per server from [`ServerThreads::bind`], answering from
    /// `state` until the next [`ServerThreads::publish`], and mode 6 through
    /// `monitor`.
    pub fn spawn(
        servers: Vec<TimeServer>,
        state: Arc<Published>,
        monitor: SharedMonitor,
    ) -> io::Result<Self> {
        let n = servers.len();
        let shared = Arc::new(Shared {
            board: Board::new(state),
            stop: AtomicBool::new(false),
            stats: (0..n).map(|_| Mutex::new(WorkerStats::default())).collect(),
            main: Mutex::new(WorkerStats::default()),
            monitor,
            control_answered: AtomicU64::new(0),
        });
        let (stop_tx, stop_rx) = UnixStream::pair()?;
        let mut threads = Self {
            shared,
            stop_tx: Some(stop_tx),
            handles: Vec::with_capacity(n),
        };
        for (i, server) in servers.into_iter().enumerate() {
            let shared = Arc::clone(&threads.shared);
            let stop = stop_rx.try_clone()?;
            let h = std::thread::Builder::new()
                .name(format!("slewd-serve-{i}"))
                .spawn(move || worker(i, server, &shared, &stop))?;
            threads.handles.push(h);
        }
        Ok(threads)
    }

    /// Swaps in a new state (each worker takes it at its next wake-up).
    pub fn publish(&self, state: Arc<Published>) {
        self.shared.board.swap(state);
    }

    /// Publishes the daemon clock's offset from `CLOCK_REALTIME`.
    pub fn set_offset<C: Clock>(&self, clock: &mut C) {
        self.shared.board.set_offset(clock);
    }

    /// The main thread's server's counters, for the workers' mode 6 answers.
    pub fn record_main(&self, stats: WorkerStats) {
        if let Ok(mut m) = self.shared.main.lock() {
            *m = stats;
        }
    }

    /// The workers' counters, merged.
    pub fn merged(&self) -> WorkerStats {
        let mut out = WorkerStats::default();
        for s in &self.shared.stats {
            if let Ok(s) = s.lock() {
                out.merge(&s);
            }
        }
        out
    }

    /// Mode 6 queries the workers answered themselves.
    pub fn control_answered(&self) -> u64 {
        self.shared.control_answered.load(Ordering::Relaxed)
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
        // Every worker's poll sees the end of the stream.
        self.stop_tx.take();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn worker(index: usize, mut server: TimeServer, shared: &Shared, stop: &UnixStream) {
    let n = server.sockets().len();
    let mut readable = vec![false; n];
    server.adopt(&shared.board.current());
    while !shared.stop.load(Ordering::Relaxed) {
        // Asleep until a datagram, the log's next summary, or the stop.
        let timeout = server
            .log_due()
            .map(|t| t.saturating_duration_since(std::time::Instant::now()))
            .map_or(PollTimeout::NONE, |d| {
                PollTimeout::try_from(d.as_millis() as u64 + 1).unwrap_or(PollTimeout::MAX)
            });
        {
            // Rebuilt per wake-up (a few entries): it borrows the sockets that
            // `drain` needs mutably afterwards.
            let mut set: Vec<PollFd<'_>> = server
                .sockets()
                .iter()
                .map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN))
                .chain(std::iter::once(PollFd::new(
                    stop.as_fd(),
                    PollFlags::POLLIN,
                )))
                .collect();
            match poll(&mut set, timeout) {
                Ok(_) | Err(nix::Error::EINTR) => {}
                Err(e) => {
                    log::error!("server thread {index}: poll: {e}");
                    return;
                }
            }
            for (r, fd) in readable.iter_mut().zip(set.iter()) {
                *r = fd.revents().is_some_and(|e| !e.is_empty());
            }
            if set
                .last()
                .and_then(|fd| fd.revents())
                .is_some_and(|e| !e.is_empty())
            {
                return;
            }
        }
        server.flush_log();
        if !readable.contains(&true) {
            continue;
        }
        // Once per wake-up: the published state (an `Arc` clone, no table copied);
        // a key rotation shows as a new generation, installed here before the batch.
        let published = shared.board.current();
        server.adopt(&published);
        let mut clock = shared.board.clock();
        let mut control_clock = clock;
        for (i, _) in readable.iter().enumerate().filter(|(_, r)| **r) {
            server.drain(
                i,
                crate::server::DRAIN_BUDGET,
                &mut clock,
                &mut |socket, from, request| {
                    answer_control(
                        shared,
                        &published,
                        &mut control_clock,
                        socket,
                        from,
                        request,
                    )
                },
            );
        }
        if let Some(slot) = shared.stats.get(index) {
            if let Ok(mut s) = slot.lock() {
                *s = server.own_stats();
            }
        }
    }
}

/// A mode 6 query the worker's endpoint admitted, answered here from the published
/// control snapshot (silence until the main thread published one).
fn answer_control(
    shared: &Shared,
    published: &Published,
    clock: &mut impl Clock,
    socket: &NtpSocket,
    from: SocketAddr,
    request: &[u8],
) {
    let Some(snapshot) = &published.control else {
        return;
    };
    let now = monotonic_now();
    let view = snapshot.at(now, clock.now().unwrap_or(NtpTimestamp::ZERO));
    let all = shared.merged_all();
    let mut io = io_counters(
        &all.server,
        all.send_errors,
        shared.stats.len() + 1,
        all.wakeups,
        all.good_wakeups,
    );
    io.received += snapshot.client_rx;
    io.since_reset_s = view.uptime_s;
    let state = ServeState {
        server: all.server,
        io,
        guard: &published.guard,
    };
    shared
        .monitor
        .handle(socket, from, request, now, &view, &state);
    shared.control_answered.fetch_add(1, Ordering::Relaxed);
}
