//! The one state every server (the main loop's and each server thread's) answers
//! from, published by the main thread: an immutable [`Published`] behind an `Arc`,
//! replaced whole when something in it changes (the served system variables or the
//! leap schedule, SIGHUP's tables, the NTS keys, the node's control snapshot), and
//! the clock's offset from `CLOCK_REALTIME` beside it in an atomic.
//!
//! A server thread looks once per wake-up (a mutex held for an `Arc` clone); no
//! thread is woken for a change: the next datagram finds the new state.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use slew_core::clock::ClockStatus;
use slew_core::endpoint::{Endpoint, LeapSchedule, ServePolicy};
use slew_core::server::{Policy, Server};
use slew_core::system::SystemVars;
use slew_core::{Clock, NtpDuration, NtpTimestamp, WideDuration};

use crate::os::time::realtime_now;
use crate::server::control_publish::ControlSnapshot;
use crate::server::guard::Guard;
use crate::server::nts::KeyStore;

/// A server's core: an endpoint with no sources (one unused slot: the node's
/// queues need a capacity), answering with what the main thread published.
pub type ServePoint = Endpoint<SharedGuard, 1, 0, 0, Server>;

/// The running configuration's tables as the endpoint's policy: the restrict
/// table, keys and the one rate limiter every thread shares, locked once per
/// [`Endpoint::batch`].
#[derive(Clone, Debug, Default)]
pub struct SharedGuard(pub Arc<Guard>);

impl ServePolicy for SharedGuard {
    fn with_policy<T>(&mut self, f: impl FnOnce(&mut Policy<'_>) -> T) -> T {
        let mut tables = self.0.lock();
        let mut policy = tables.policy();
        f(&mut policy)
    }
}

/// What every server answers from, immutable once published.
#[derive(Clone, Debug)]
pub struct Published {
    /// The main endpoint's [`Endpoint::published_vars`]: no leap announcement,
    /// which each server decides from its receive stamps and `leap`.
    pub sys: SystemVars,
    /// The leapfile's schedule.
    pub leap: LeapSchedule,
    /// The running configuration's tables, the same `Arc` on every thread.
    pub guard: Arc<Guard>,
    /// `nts enable`: the master keys; each server installs them (with a nonce
    /// seed of its own) when the store's generation changes.
    pub nts: Option<Arc<KeyStore>>,
    /// The node's state for mode 6 queries a server thread answers (`None`
    /// without server threads: the main thread answers from the live node).
    pub control: Option<Arc<ControlSnapshot>>,
}

impl Published {
    /// Hands `ep` the variables, schedule and tables (no copy of a table: `Arc`s).
    pub fn install(&self, ep: &mut ServePoint) {
        ep.adopt_vars(Some(self.sys));
        ep.set_leap_schedule(self.leap);
        if !Arc::ptr_eq(&ep.policy().0, &self.guard) {
            ep.policy_mut().0 = Arc::clone(&self.guard);
        }
    }
}

/// The published state and the clock offset, shared by the main thread and the
/// server threads.
#[derive(Debug)]
pub struct Board {
    current: Mutex<Arc<Published>>,
    /// The daemon clock's reading minus `CLOCK_REALTIME`, nanoseconds.
    offset_ns: AtomicI64,
}

impl Board {
    /// A board holding `state`, offset zero.
    pub fn new(state: Arc<Published>) -> Self {
        Self {
            current: Mutex::new(state),
            offset_ns: AtomicI64::new(0),
        }
    }

    /// The state in force.
    pub fn current(&self) -> Arc<Published> {
        match self.current.lock() {
            Ok(p) => Arc::clone(&p),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the state (readers keep the one they hold until their next look).
    pub fn swap(&self, state: Arc<Published>) {
        match self.current.lock() {
            Ok(mut p) => *p = state,
            Err(poisoned) => *poisoned.into_inner() = state,
        }
    }

    /// Publishes `clock`'s offset from `CLOCK_REALTIME` (one atomic store).
    pub fn set_offset<C: Clock>(&self, clock: &mut C) {
        let r = realtime_now();
        let offset = clock.reading_at_stamp(r) - r;
        self.offset_ns.store(offset.to_nanos(), Ordering::Relaxed);
    }

    /// The clock a server thread reads: `CLOCK_REALTIME` plus the offset published.
    pub fn clock(&self) -> PublishedClock {
        PublishedClock(NtpDuration::from_nanos(
            self.offset_ns.load(Ordering::Relaxed),
        ))
    }
}

/// The daemon clock as a server thread reads it: `CLOCK_REALTIME` plus the offset
/// last published (exact for the kernel and observe clocks; for the virtual clock,
/// as fresh as the main thread's last turn). Read-only: a server thread never
/// adjusts the clock, so every adjustment is refused.
#[derive(Clone, Copy, Debug)]
pub struct PublishedClock(pub NtpDuration);

/// A server thread asked to adjust the clock it only reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOnlyClock;

impl std::fmt::Display for ReadOnlyClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a server thread's clock is read-only")
    }
}

impl std::error::Error for ReadOnlyClock {}

impl slew_core::clock::Error for ReadOnlyClock {
    fn kind(&self) -> slew_core::clock::ErrorKind {
        slew_core::clock::ErrorKind::Unsupported
    }
}

impl Clock for PublishedClock {
    type Error = ReadOnlyClock;

    fn now(&mut self) -> Result<NtpTimestamp, Self::Error> {
        Ok(realtime_now() + self.0)
    }
    fn step(&mut self, _offset: WideDuration) -> Result<(), Self::Error> {
        Err(ReadOnlyClock)
    }
    fn slew(&mut self, _offset: NtpDuration) -> Result<(), Self::Error> {
        Err(ReadOnlyClock)
    }
    fn set_frequency_ppm(&mut self, _ppm: f64) -> Result<(), Self::Error> {
        Err(ReadOnlyClock)
    }
    fn frequency_ppm(&mut self) -> Result<f64, Self::Error> {
        Err(ReadOnlyClock)
    }
    fn set_status(&mut self, _status: ClockStatus) -> Result<(), Self::Error> {
        Err(ReadOnlyClock)
    }
    fn name(&self) -> &'static str {
        "published"
    }
    fn reading_at_stamp(&mut self, stamp: NtpTimestamp) -> NtpTimestamp {
        stamp + self.0
    }
}
