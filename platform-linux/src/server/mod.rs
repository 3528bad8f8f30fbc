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
//! | `mod.rs` | [`TimeServer`]: its state, what it is published |
//! | `bind`, `drain`, `counters` | its sockets; the batch path; its counters and exit log |
//! | [`guard`] | the restrict table, rate limiter and keys every answer consults |
//! | [`threads`] | `--server-threads N`: workers on their own `SO_REUSEPORT` sockets |
//! | [`publish`] | the one state every server answers from, swapped when it changes |
//! | [`monitor`], [`snapshot`], [`control_publish`] | mode 6: who may ask, the node's state as ntpq reads it, the snapshot the workers answer from |
//! | `nts_answer` | NTS requests on the same path |
//! | [`nts`] | NTS-KE over TLS: the key-exchange server, the client's exchanges, the master keys |

mod bind;
pub mod control_publish;
mod counters;
mod drain;
pub mod guard;
pub mod monitor;
pub mod nts;
pub mod publish;
pub mod snapshot;
pub mod threads;

pub(crate) use counters::io_counters;
pub use counters::TxLead;

use std::net::SocketAddr;
use std::sync::Arc;

use slew_core::endpoint::LeapSchedule;
use slew_core::server::Server;
use slew_core::system::SystemVars;

use crate::os::batch::{RecvBatch, SendBatch, SendMode};
use crate::os::net::NtpSocket;
use crate::os::ratelog::RateLimitedLog;
use crate::server::control_publish::ControlSnapshot;
use crate::server::guard::{Guard, Hardening};
use crate::server::publish::{Published, ServePoint};
use crate::server::threads::ServerThreads;
use slew_core::Clock;

/// Datagrams handled per socket per turn, so a flood on one socket cannot starve the
/// others or the timers.
pub const DRAIN_BUDGET: usize = 256;

/// Largest datagram we read; anything longer is cut and dropped as malformed. NTP
/// packets with a MAC and extension fields stay far below this.
pub use crate::os::batch::MAX_DATAGRAM;

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

    /// How answers are sent: `sendmmsg` until it fails with ENOSYS/EINVAL.
    pub fn send_mode(&self) -> SendMode {
        self.tx.mode()
    }

    /// Forces a send mode (tests of the `sendmsg` fallback).
    pub fn set_send_mode(&mut self, mode: SendMode) {
        self.tx.set_mode(mode);
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

    /// This thread's core server, to install or rotate its NTS keys
    /// ([`Server::set_nts_keys`], [`Server::rotate_nts_key`]): `drain` then answers
    /// NTS requests on the batched path like any other.
    pub fn core_server_mut(&mut self) -> &mut Server {
        self.ep.server_mut()
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
