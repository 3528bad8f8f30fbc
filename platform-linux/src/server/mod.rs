//! The time-server path of `slewd`: drain each socket in `recvmmsg` batches, answer
//! with `slew_core::server`, stamp each answer's transmit time right before it is
//! queued, send the batch with one `sendmmsg` (falling back to `sendmsg`).
//!
//! Nothing is allocated and no lock is taken per packet: the batch buffers are made
//! once ([`crate::os::batch`]); the restrict lookup and the rate limiter are bounded per
//! packet (`slew_core::access`, `slew_core::ratelimit`).
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
//! | `nts_answer` | NTS requests on the same path |
//! | [`nts`] | NTS-KE over TLS: the key-exchange server, the client's exchanges, the master keys |

pub mod guard;
pub mod nts;
pub mod threads;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use slew_core::server::{Client, DropReason, Server, ServerStats};
use slew_core::system::SystemVars;

use crate::server::guard::{Guard, Hardening};
use slew_core::NtpTimestamp;

use crate::os::batch::{RecvBatch, SendBatch, SendMode, BATCH};
use crate::os::clock::DaemonClock;
use crate::os::net::{bind_error, family_missing, family_name, NtpSocket};
use crate::os::ratelog::RateLimitedLog;
use crate::os::time::monotonic_now;
use crate::server::threads::ServerThreads;

/// Datagrams handled per socket per turn, so a flood on one socket cannot starve the
/// others or the timers.
pub const DRAIN_BUDGET: usize = 256;

/// The time the server path stamps answers with: the daemon's clock (the kernel's,
/// or the virtual clock under test), reading kernel receive stamps in its terms.
pub trait ServeClock {
    /// The clock's reading when `CLOCK_REALTIME` read `realtime` (a kernel stamp).
    fn receive_time(&mut self, realtime: NtpTimestamp) -> NtpTimestamp;
    /// The clock's reading now: the transmit timestamp.
    fn transmit_time(&mut self) -> NtpTimestamp;
}

impl<C: DaemonClock> ServeClock for C {
    fn receive_time(&mut self, realtime: NtpTimestamp) -> NtpTimestamp {
        self.reading_at_realtime(realtime)
    }
    fn transmit_time(&mut self) -> NtpTimestamp {
        self.now().unwrap_or(NtpTimestamp::ZERO)
    }
}

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
    server: Server,
    /// restrict table, rate limiter, keys: shared with the server threads.
    guard: Arc<Guard>,
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
    /// `nts enable`: the shared master keys, and the generation installed in
    /// `server` ([`serve_nts`](self)).
    nts_store: Option<Arc<crate::server::nts::KeyStore>>,
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
        Ok(Self {
            sockets,
            skipped,
            server: Server::new(),
            guard: Arc::new(Guard::default()),
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
            nts_store: None,
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

    /// Starts the threads [`TimeServer::prepare_threads`] bound (if any).
    pub fn spawn_threads(&mut self, sys: SystemVars) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let servers = std::mem::take(&mut self.pending);
        let n = servers.len();
        self.threads = Some(ServerThreads::spawn(
            servers,
            sys,
            Arc::clone(&self.guard),
            self.nts_store.clone(),
        )?);
        log::info!("{n} server thread(s) beside the main loop (SO_REUSEPORT)");
        Ok(())
    }

    /// Server threads running.
    pub fn thread_count(&self) -> usize {
        self.threads.as_ref().map_or(0, ServerThreads::len)
    }

    /// Hands the server threads what this thread serves: the system variables (the
    /// leap announcement included), the clock's offset and the current [`Guard`]
    /// (once per turn of the main loop; nothing without threads).
    pub fn publish(&self, sys: &SystemVars, clock: &mut dyn ServeClock) {
        if let Some(t) = &self.threads {
            t.publish(sys, clock, &self.guard, self.nts_store.as_ref());
        }
    }

    /// True when server threads forwarded control (mode 6) requests.
    pub fn has_control(&self) -> bool {
        self.threads
            .as_ref()
            .is_some_and(ServerThreads::has_control)
    }

    /// Answers the control requests the server threads forwarded, from this
    /// thread's socket on the same address.
    pub fn take_control(&self, control: &mut dyn FnMut(&NtpSocket, SocketAddr, &[u8])) {
        if let Some(t) = &self.threads {
            t.take_control(&mut |i, from, bytes| {
                if let Some(s) = self.sockets.get(i) {
                    control(s, from, bytes);
                }
            });
        }
    }

    /// Writes the rate-limited log's summaries whose window has ended (every turn).
    pub fn flush_log(&mut self) {
        self.log.flush();
    }

    /// When the next such summary is due; `None` when none is pending.
    pub fn log_due(&self) -> Option<std::time::Instant> {
        self.log.next_flush()
    }

    /// The longest the main loop should wait in `poll`: short with server threads,
    /// so that forwarded control requests are answered promptly; otherwise only the
    /// sockets and the deadlines wake it.
    pub fn max_wait(&self) -> std::time::Duration {
        if self.threads.is_some() {
            std::time::Duration::from_millis(20)
        } else {
            std::time::Duration::MAX
        }
    }

    /// Counters of this thread and every server thread, merged.
    pub fn merged_stats(&self) -> ServerStats {
        let mut s = *self.server.stats();
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
        let rbufs = (BATCH * (1 + self.thread_count())) as u64;
        // Answers and drops both came in; the control path's answers are its own.
        slew_core::control::IoCounters {
            since_reset_s: 0,
            total_rbuf: rbufs,
            free_rbuf: rbufs,
            dropped: s.dropped_for(DropReason::NoBuffer),
            ignored: 0,
            received: s.received(),
            sent: s.answered.saturating_sub(send_errors),
            send_failed: send_errors,
            wakeups: self.wakeups,
            good_wakeups: self.good_wakeups,
        }
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
        self.guard = Arc::new(Guard::new(hardening, crate::server::guard::random_seed()));
        if let Some(t) = &self.threads {
            t.publish_guard(&self.guard);
        }
    }

    /// A server thread's side of [`TimeServer::set_hardening`]: answers with the
    /// tables the main thread published (no copy: one rate limiter for all).
    pub(crate) fn adopt_guard(&mut self, guard: &Arc<Guard>) {
        if !Arc::ptr_eq(&self.guard, guard) {
            self.guard = Arc::clone(guard);
        }
    }

    /// The restrict table, rate limiter and keys: the control path asks
    /// [`Guard::access`] for `nomodify`, `notrap`, `nomrulist`.
    pub fn guard(&self) -> &Guard {
        &self.guard
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
        self.server.stats()
    }

    /// This thread's core server, to install or rotate its NTS keys
    /// ([`Server::set_nts_keys`], [`Server::rotate_nts_key`]): `drain` then answers
    /// NTS requests on the batched path like any other.
    pub fn core_server_mut(&mut self) -> &mut Server {
        &mut self.server
    }

    /// Datagrams that came without a kernel timestamp (answered with the time read
    /// after `recvmsg`).
    pub fn no_kernel_stamp(&self) -> u64 {
        self.no_kernel_stamp
    }

    /// Answers everything queued on socket `index`, until it would block or `budget`
    /// datagrams were handled (so one flooded socket cannot starve the others or the
    /// client work). Control (mode 6) datagrams are handed to `control` with the
    /// socket to reply on.
    pub fn drain(
        &mut self,
        index: usize,
        sys: &SystemVars,
        budget: usize,
        clock: &mut dyn ServeClock,
        control: &mut dyn FnMut(&NtpSocket, SocketAddr, &[u8]),
    ) -> usize {
        let Some(socket) = self.sockets.get(index) else {
            return 0;
        };
        self.wakeups += 1;
        let mut handled = 0;
        while handled < budget {
            let n = match self.rx.recv(socket) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    self.log.warn(
                        "recv",
                        format_args!("receive error on {}: {e}", socket.local_addr()),
                    );
                    break;
                }
            };
            handled += n;
            let mut first_stamp = None;
            // One lock of the shared rate limiter per batch (the guard is cloned so
            // that the lock does not borrow `self`, which the loop mutates).
            let guard = Arc::clone(&self.guard);
            let mut tables = guard.lock();
            for i in 0..n {
                let Some((received, request)) = self.rx.get(i) else {
                    continue;
                };
                if !received.kernel_stamp {
                    self.no_kernel_stamp += 1;
                }
                if received.truncated {
                    self.server.count_drop(DropReason::Malformed);
                    continue;
                }
                let Some(out) = self.tx.next_buf() else {
                    continue;
                };
                let client = Client {
                    addr: received.from.ip(),
                    port: received.from.port(),
                    now: monotonic_now(),
                };
                let mut policy = tables.policy();
                match self.server.respond_to(
                    &mut policy,
                    client,
                    request,
                    clock.receive_time(received.rx_time),
                    sys,
                    out,
                ) {
                    Ok(pending) => {
                        // The transmit timestamp: read the clock once the answer is
                        // complete, right before queueing it.
                        let tx_time = clock.transmit_time();
                        let len = pending.finish(out, tx_time).len();
                        first_stamp.get_or_insert(tx_time);
                        self.tx.push(len, received.from);
                    }
                    // Mode 6 the core admitted (see slew_core::server: loopback,
                    // or a source a restrict line names, never under noquery).
                    Err(DropReason::Control) => control(socket, received.from, request),
                    Err(DropReason::NoQuery) => {
                        self.log.info(
                            "control-refused",
                            format_args!(
                                "ignored a mode 6 query from {}: queries are answered from localhost and from addresses a restrict line names (without noquery)",
                                received.from
                            ),
                        );
                    }
                    Err(reason) => {
                        self.log.info(
                            reason.name(),
                            format_args!("dropped a packet from {}: {reason}", received.from),
                        );
                    }
                }
            }
            // Other threads may use the limiter while this one sends.
            drop(tables);
            if !self.tx.is_empty() {
                let answers = self.tx.len() as u64;
                let before = first_stamp.map(|_| clock.transmit_time());
                let flushed = self.tx.flush(socket);
                if let (Some(first), Some(before)) = (first_stamp, before) {
                    let build = (before - first).to_nanos().max(0) as u64;
                    self.lead.build_sum_ns += build;
                    self.lead.build_max_ns = self.lead.build_max_ns.max(build);
                    let lead = (clock.transmit_time() - first).to_nanos().max(0) as u64;
                    self.lead.batches += 1;
                    self.lead.answers += answers;
                    self.lead.sum_ns += lead;
                    self.lead.max_ns = self.lead.max_ns.max(lead);
                }
                self.send_calls += flushed.calls as u64;
                if flushed.failed > 0 {
                    self.send_errors += flushed.failed as u64;
                    let e = io::Error::from_raw_os_error(flushed.last_error.unwrap_or(0));
                    self.log.warn(
                        "send",
                        format_args!("{} answers not sent: {e}", flushed.failed),
                    );
                }
            }
            if n < BATCH {
                // The queue is empty: no need for another (empty) recvmmsg.
                break;
            }
        }
        if handled > 0 {
            self.good_wakeups += 1;
        }
        handled
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
            if t.control_dropped() > 0 {
                line.push_str(&format!(
                    ", {} control requests dropped (queue full)",
                    t.control_dropped()
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

mod nts_answer;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod nts_tests;
