//! The time-server path of `slewd`: drain each socket in `recvmmsg` batches, hand
//! each datagram to the core's [`Endpoint`](slew_core::endpoint::Endpoint) (one
//! [`ServePoint`] per server: the main loop's and each server thread's), which
//! decides it (answer, drop counted by reason, mode 6), stamp each answer's
//! transmit time right before it is queued, send the batch with one `sendmmsg`
//! (falling back to `sendmsg`). What every server answers with is the one
//! [`Published`] state ([`crate::server::publish`]).
//!
//! Nothing is allocated and no lock is taken per packet: the batch buffers are made
//! once ([`crate::os::batch`]); the tables are taken once per batch
//! ([`Endpoint::batch`](slew_core::endpoint::Endpoint::batch)); the restrict lookup
//! and the rate limiter are bounded per packet (`slew_core::access`,
//! `slew_core::ratelimit`).
//!
//! Transmit timestamps: each answer is stamped when it is complete, then queued; the
//! batch goes out after the last answer is built. The first answer of a batch thus
//! waits for the others to be built and for `sendmmsg`: that lead (stamp to send
//! returning) is measured per batch, and logged with the counters
//! ([`TxLead`]), so its cost is known, not guessed.
//!
//! | module | stage |
//! |---|---|
//! | `mod.rs` | [`TimeServer`]: the sockets, the batches, the answers |
//! | [`guard`] | the restrict table, rate limiter and keys every answer consults |
//! | [`threads`] | `--server-threads N`: workers on their own `SO_REUSEPORT` sockets |
//! | [`publish`] | the one state every server answers from, swapped when it changes |
//! | [`monitor`], [`snapshot`], [`control_publish`] | mode 6: who may ask, the node's state as ntpq reads it, the snapshot the workers answer from |
//! | `nts_answer` | NTS requests on the same path |
//! | [`nts`] | NTS-KE over TLS: the key-exchange server, the client's exchanges, the master keys |

pub mod control_publish;
pub mod guard;
pub mod monitor;
pub mod nts;
pub mod publish;
pub mod snapshot;
pub mod threads;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use slew_core::endpoint::{Datagram, LeapSchedule};
use slew_core::node::NodeConfig;
use slew_core::server::{DropReason, Server, ServerStats};
use slew_core::system::SystemVars;
use slew_core::NtpTimestamp;

use crate::os::batch::{RecvBatch, SendBatch, SendMode, BATCH};
use crate::os::net::{bind_error, family_missing, family_name, NtpSocket};
use crate::os::ratelog::RateLimitedLog;
use crate::os::time::monotonic_now;
use crate::server::control_publish::{ControlSnapshot, SharedMonitor};
use crate::server::guard::{Guard, Hardening};
use crate::server::publish::{Published, ServePoint, SharedGuard};
use crate::server::threads::ServerThreads;
use slew_core::Clock;

/// Datagrams handled per socket per turn, so a flood on one socket cannot starve the
/// others or the timers.
pub const DRAIN_BUDGET: usize = 256;

/// Largest datagram we read; anything longer is cut and dropped as malformed. NTP
/// packets with a MAC and extension fields stay far below this.
pub use crate::os::batch::MAX_DATAGRAM;

/// How long transmit stamps precede the send: per batch, from the first answer's
/// stamp to `sendmmsg` returning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxLead {
    /// Batches sent.
    pub batches: u64,
    /// Answers in them.
    pub answers: u64,
    /// Sum of the per-batch leads, nanoseconds.
    pub sum_ns: u64,
    /// Largest lead, nanoseconds.
    pub max_ns: u64,
    /// Sum over batches of first stamp to `sendmmsg` being called (building the rest
    /// of the batch), nanoseconds: what the first answer waits before the kernel
    /// starts sending.
    pub build_sum_ns: u64,
    /// Largest of those, nanoseconds.
    pub build_max_ns: u64,
}

impl TxLead {
    /// Adds another server's figures.
    pub fn merge(&mut self, o: &TxLead) {
        self.batches += o.batches;
        self.answers += o.answers;
        self.sum_ns += o.sum_ns;
        self.max_ns = self.max_ns.max(o.max_ns);
        self.build_sum_ns += o.build_sum_ns;
        self.build_max_ns = self.build_max_ns.max(o.build_max_ns);
    }

    /// One batch of `answers`: the first stamp, the time `sendmmsg` was called and
    /// the time it returned.
    pub fn note(
        &mut self,
        answers: u64,
        first: NtpTimestamp,
        before: NtpTimestamp,
        after: NtpTimestamp,
    ) {
        let build = (before - first).to_nanos().max(0) as u64;
        self.build_sum_ns += build;
        self.build_max_ns = self.build_max_ns.max(build);
        let lead = (after - first).to_nanos().max(0) as u64;
        self.batches += 1;
        self.answers += answers;
        self.sum_ns += lead;
        self.max_ns = self.max_ns.max(lead);
    }

    /// Mean lead per batch, nanoseconds.
    pub fn mean_ns(&self) -> u64 {
        self.sum_ns.checked_div(self.batches).unwrap_or(0)
    }

    /// Mean wait before `sendmmsg` per batch, nanoseconds.
    pub fn build_mean_ns(&self) -> u64 {
        self.build_sum_ns.checked_div(self.batches).unwrap_or(0)
    }
}

/// Answers requests arriving on a set of sockets.
#[derive(Debug)]
pub struct TimeServer {
    sockets: Vec<NtpSocket>,
    /// Wildcards of a family the host lacks, left out by `bind_available`.
    skipped: Vec<(SocketAddr, String)>,
    /// The core that decides every datagram, with the tables of `state`.
    ep: ServePoint,
    /// What this server answers with: the main thread's own (it publishes it to
    /// the threads), or the last a server thread adopted.
    state: Arc<Published>,
    rx: RecvBatch,
    tx: SendBatch,
    log: RateLimitedLog,
    no_kernel_stamp: u64,
    send_errors: u64,
    /// Send system calls made for answers (batched: one per batch).
    send_calls: u64,
    lead: TxLead,
    /// `--server-threads`: workers on `SO_REUSEPORT` sockets of the same addresses.
    threads: Option<ServerThreads>,
    /// Bound, not yet running.
    pending: Vec<TimeServer>,
    /// Reads of a readable socket (ntpq's `io_wakeups`), and those that found
    /// datagrams (`io_goodwakeups`): this thread's.
    wakeups: u64,
    good_wakeups: u64,
    /// The NTS key generation installed in `ep`'s server ([`serve_nts`](self)).
    nts_generation: Option<u64>,
}

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

    /// What the main endpoint serves: its [`published_vars`] and leap schedule
    /// (each server decides the announcement from its receive stamps), and the
    /// clock's offset for the server threads. Call every turn of the main loop: the
    /// state is replaced only when it changed (the offset is one atomic store).
    ///
    /// [`published_vars`]: slew_core::endpoint::Endpoint::published_vars
    pub fn publish<C: Clock>(&mut self, sys: SystemVars, leap: LeapSchedule, clock: &mut C) {
        if let Some(t) = &self.threads {
            t.set_offset(clock);
        }
        if self.state.sys != sys || self.state.leap != leap {
            self.republish(|p| {
                p.sys = sys;
                p.leap = leap;
            });
        }
    }

    /// The node's state for the mode 6 queries server threads answer (only with
    /// threads: without, the main thread answers from the live node).
    pub fn publish_control(&mut self, snapshot: ControlSnapshot) {
        if self.thread_count() > 0 {
            let snapshot = Arc::new(snapshot);
            self.republish(|p| p.control = Some(snapshot));
        }
    }

    /// A new state: `change` applied to a copy of the current one, installed here
    /// and swapped in for the server threads.
    pub(crate) fn republish(&mut self, change: impl FnOnce(&mut Published)) {
        let mut next = Published::clone(&self.state);
        change(&mut next);
        self.state = Arc::new(next);
        self.state.install(&mut self.ep);
        self.refresh_nts_keys();
        if let Some(t) = &self.threads {
            t.publish(Arc::clone(&self.state));
        }
    }

    /// A server thread's side of [`TimeServer::republish`]: answers from `state`
    /// (no table copied: one rate limiter for all), NTS keys refreshed after a
    /// rotation.
    pub(crate) fn adopt(&mut self, state: &Arc<Published>) {
        if !Arc::ptr_eq(&self.state, state) {
            self.note_store_change(state.nts.as_ref());
            self.state = Arc::clone(state);
            self.state.install(&mut self.ep);
        }
        self.refresh_nts_keys();
    }

    /// The state this server answers from.
    pub fn state(&self) -> &Arc<Published> {
        &self.state
    }

    /// Writes the rate-limited log's summaries whose window has ended (every turn).
    pub fn flush_log(&mut self) {
        self.log.flush();
    }

    /// When the next such summary is due; `None` when none is pending.
    pub fn log_due(&self) -> Option<std::time::Instant> {
        self.log.next_flush()
    }

    /// Counters of this thread and every server thread, merged.
    pub fn merged_stats(&self) -> ServerStats {
        let mut s = *self.ep.server_stats();
        if let Some(t) = &self.threads {
            s.merge(&t.merged().server);
        }
        s
    }

    /// ntpq's `iostats` as far as the server path knows them (all threads; wake-ups
    /// of this thread only). The daemon adds its client sockets' and the control
    /// path's traffic.
    pub fn io_counters(&self) -> slew_core::control::IoCounters {
        let s = self.merged_stats();
        let mut send_errors = self.send_errors;
        if let Some(t) = &self.threads {
            send_errors += t.merged().send_errors;
        }
        io_counters(
            &s,
            send_errors,
            1 + self.thread_count(),
            self.wakeups,
            self.good_wakeups,
        )
    }

    /// How answers are sent: `sendmmsg` until it fails with ENOSYS/EINVAL.
    pub fn send_mode(&self) -> SendMode {
        self.tx.mode()
    }

    /// Forces a send mode (tests of the `sendmsg` fallback).
    pub fn set_send_mode(&mut self, mode: SendMode) {
        self.tx.set_mode(mode);
    }

    /// Transmit-stamp lead figures so far.
    pub fn tx_lead(&self) -> TxLead {
        self.lead
    }

    /// Answers that could not be sent.
    pub fn send_errors(&self) -> u64 {
        self.send_errors
    }

    /// Send system calls made for answers so far.
    pub fn send_calls(&self) -> u64 {
        self.send_calls
    }

    /// Enforces `restrict`, `discard` and the keys from now on (until then everyone
    /// is served and no key is known), on this thread and, from their next batch on,
    /// on every server thread. The rate limiter starts afresh.
    pub fn set_hardening(&mut self, hardening: &Hardening) {
        let guard = Arc::new(Guard::new(hardening, crate::server::guard::random_seed()));
        self.republish(|p| p.guard = guard);
    }

    /// The restrict table, rate limiter and keys: the control path asks
    /// [`Guard::access`] for `nomodify`, `notrap`, `nomrulist`.
    pub fn guard(&self) -> &Guard {
        &self.state.guard
    }

    /// The bound sockets, in the order of the addresses given to [`TimeServer::bind`].
    pub fn sockets(&self) -> &[NtpSocket] {
        &self.sockets
    }

    /// The addresses actually bound (port 0 resolved), in [`TimeServer::bind`] order.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets.iter().map(|s| s.local_addr()).collect()
    }

    /// The server's counters.
    pub fn stats(&self) -> &ServerStats {
        self.ep.server_stats()
    }

    /// This thread's core server, to install or rotate its NTS keys
    /// ([`Server::set_nts_keys`], [`Server::rotate_nts_key`]): `drain` then answers
    /// NTS requests on the batched path like any other.
    pub fn core_server_mut(&mut self) -> &mut Server {
        self.ep.server_mut()
    }

    /// Datagrams that came without a kernel timestamp (answered with the time read
    /// after `recvmsg`).
    pub fn no_kernel_stamp(&self) -> u64 {
        self.no_kernel_stamp
    }

    /// Answers everything queued on socket `index`, until it would block or `budget`
    /// datagrams were handled (so one flooded socket cannot starve the others or the
    /// client work). The endpoint decides each datagram; the mode 6 queries it
    /// admits are handed to `control` with the socket to reply on, once the batch
    /// is answered and the tables are free again.
    pub fn drain<C: Clock>(
        &mut self,
        index: usize,
        budget: usize,
        clock: &mut C,
        control: &mut dyn FnMut(&NtpSocket, SocketAddr, &[u8]),
    ) -> usize {
        let Self {
            sockets,
            ep,
            rx,
            tx,
            log,
            no_kernel_stamp,
            lead,
            send_calls,
            send_errors,
            wakeups,
            good_wakeups,
            ..
        } = self;
        let Some(socket) = sockets.get(index) else {
            return 0;
        };
        let local = socket.local_addr();
        *wakeups += 1;
        let mut handled = 0;
        while handled < budget {
            let n = match rx.recv(socket) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    log.warn("recv", format_args!("receive error on {local}: {e}"));
                    break;
                }
            };
            handled += n;
            let mut first_stamp = None;
            // Mode 6 queries of this batch, answered after it (the control path
            // reads the tables the batch holds).
            let mut queries = [0usize; BATCH];
            let mut n_queries = 0;
            ep.batch(|batch| {
                for i in 0..n {
                    let Some((received, request)) = rx.get(i) else {
                        continue;
                    };
                    if !received.kernel_stamp {
                        *no_kernel_stamp += 1;
                    }
                    if received.truncated {
                        batch.count_drop(DropReason::Malformed);
                        continue;
                    }
                    let Some(out) = tx.next_buf() else {
                        continue;
                    };
                    match batch.handle_datagram(
                        monotonic_now(),
                        local,
                        received.from,
                        request,
                        clock.reading_at_stamp(received.rx_time),
                        out,
                    ) {
                        Datagram::Answer(pending) => {
                            // The transmit timestamp: read the clock once the answer
                            // is complete, right before queueing it.
                            let tx_time = clock.now().unwrap_or(NtpTimestamp::ZERO);
                            let len = pending.finish(out, tx_time).len();
                            first_stamp.get_or_insert(tx_time);
                            tx.push(len, received.from);
                        }
                        // Mode 6 the core admitted (loopback, or a source a restrict
                        // line names, never under noquery).
                        Datagram::Control => {
                            if let Some(q) = queries.get_mut(n_queries) {
                                *q = i;
                                n_queries += 1;
                            }
                        }
                        Datagram::Dropped(DropReason::NoQuery) => {
                            log.info(
                                "control-refused",
                                format_args!(
                                    "ignored a mode 6 query from {}: queries are answered from localhost and from addresses a restrict line names (without noquery)",
                                    received.from
                                ),
                            );
                        }
                        Datagram::Dropped(reason) => {
                            log.info(
                                reason.name(),
                                format_args!("dropped a packet from {}: {reason}", received.from),
                            );
                        }
                        // A server has no sources: replies are dropped (counted) by
                        // the endpoint and never come here.
                        Datagram::Client(_) => {}
                    }
                }
            });
            if !tx.is_empty() {
                let answers = tx.len() as u64;
                let before = first_stamp.map(|_| clock.now().unwrap_or(NtpTimestamp::ZERO));
                let flushed = tx.flush(socket);
                if let (Some(first), Some(before)) = (first_stamp, before) {
                    let after = clock.now().unwrap_or(NtpTimestamp::ZERO);
                    lead.note(answers, first, before, after);
                }
                *send_calls += flushed.calls as u64;
                if flushed.failed > 0 {
                    *send_errors += flushed.failed as u64;
                    let e = io::Error::from_raw_os_error(flushed.last_error.unwrap_or(0));
                    log.warn(
                        "send",
                        format_args!("{} answers not sent: {e}", flushed.failed),
                    );
                }
            }
            for &i in queries.get(..n_queries).unwrap_or_default() {
                if let Some((received, request)) = rx.get(i) {
                    control(socket, received.from, request);
                }
            }
            if n < BATCH {
                // The queue is empty: no need for another (empty) recvmmsg.
                break;
            }
        }
        if handled > 0 {
            *good_wakeups += 1;
        }
        if let Some(t) = &self.threads {
            t.record_main(self.own_stats());
        }
        handled
    }

    /// This server's counters, for the shared slots the control path merges.
    pub(crate) fn own_stats(&self) -> crate::server::threads::WorkerStats {
        crate::server::threads::WorkerStats {
            server: *self.ep.server_stats(),
            lead: self.lead,
            send_errors: self.send_errors,
            wakeups: self.wakeups,
            good_wakeups: self.good_wakeups,
        }
    }

    /// Logs the counters (at exit and on SIGUSR1).
    pub fn log_stats(&self) {
        let s = &self.merged_stats();
        let (mut lead, mut send_errors) = (self.lead, self.send_errors);
        if let Some(t) = &self.threads {
            let w = t.merged();
            lead.merge(&w.lead);
            send_errors += w.send_errors;
        }
        let mut line = format!("served {} requests", s.answered);
        if s.authenticated + s.rate_kisses + s.crypto_naks > 0 {
            line.push_str(&format!(
                " ({} authenticated, {} RATE kisses, {} crypto-NAKs)",
                s.authenticated, s.rate_kisses, s.crypto_naks
            ));
        }
        for reason in DropReason::ALL {
            let n = s.dropped_for(reason);
            if n > 0 {
                line.push_str(&format!(", dropped {n} {reason}"));
            }
        }
        if send_errors > 0 {
            line.push_str(&format!(", {send_errors} send errors"));
        }
        if s.nts.served + s.nts.naks > 0 {
            line.push_str(&format!(
                ", {} NTS-authenticated, {} NTS NAKs",
                s.nts.served, s.nts.naks
            ));
        }
        if let Some(t) = &self.threads {
            let w = t.merged().server;
            line.push_str(&format!(
                " (main loop and {} server threads; the threads answered {}, {} NTS-authenticated)",
                t.len(),
                w.answered,
                w.nts.served
            ));
            if t.control_answered() > 0 {
                line.push_str(&format!(
                    ", {} mode 6 queries handled by the threads",
                    t.control_answered()
                ));
            }
        }
        let l = lead;
        if l.batches > 0 {
            line.push_str(&format!(
                "; {} answers in {} batches; first transmit stamp of a batch to sendmmsg called: mean {} ns, max {} ns; to sendmmsg returned: mean {} ns, max {} ns",
                l.answers,
                l.batches,
                l.build_mean_ns(),
                l.build_max_ns,
                l.mean_ns(),
                l.max_ns
            ));
        }
        log::info!("{line}");
    }
}

/// ntpq's `iostats` from the server counters of `servers` servers (`BATCH`
/// receive buffers each): answers and drops both came in; the control path adds
/// its own answers.
pub(crate) fn io_counters(
    s: &ServerStats,
    send_errors: u64,
    servers: usize,
    wakeups: u64,
    good_wakeups: u64,
) -> slew_core::control::IoCounters {
    let rbufs = (BATCH * servers) as u64;
    slew_core::control::IoCounters {
        since_reset_s: 0,
        total_rbuf: rbufs,
        free_rbuf: rbufs,
        dropped: s.dropped_for(DropReason::NoBuffer),
        ignored: 0,
        received: s.received(),
        sent: s.answered.saturating_sub(send_errors),
        send_failed: send_errors,
        wakeups,
        good_wakeups,
    }
}

/// Whether two optional key stores are the same one.
fn same_store(
    a: Option<&Arc<crate::server::nts::KeyStore>>,
    b: Option<&Arc<crate::server::nts::KeyStore>>,
) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

mod nts_answer;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod nts_tests;
