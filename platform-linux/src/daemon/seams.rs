//! The daemon's seams to the core: the client sockets as a `Transport`, and the
//! read-only clock `-q` measures with.

use std::io;
use std::net::SocketAddr;

use slew_core::clock::ErrorKind;
use slew_core::{Clock, NtpDuration, Transport, WideDuration};

use crate::clock::DaemonClock;
use crate::net::NtpSocket;
use crate::time::{step_into_window, BASEDATE_UNIX_S};

/// The client sockets as the node's [`Transport`].
pub(super) struct ClientTransport<'a> {
    pub(super) v4: Option<&'a NtpSocket>,
    pub(super) v6: Option<&'a NtpSocket>,
}

/// A send error, for the core's `Transport` seam.
#[derive(Debug)]
pub struct SendError(io::Error);

impl slew_core::clock::Error for SendError {
    fn kind(&self) -> ErrorKind {
        match self.0.kind() {
            io::ErrorKind::WouldBlock => ErrorKind::WouldBlock,
            io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Other,
        }
    }
}

impl Transport for ClientTransport<'_> {
    type Error = SendError;
    fn send(&mut self, to: SocketAddr, bytes: &[u8]) -> Result<(), SendError> {
        let socket = if to.is_ipv4() { self.v4 } else { self.v6 };
        let family = crate::net::family_name(&to);
        let socket =
            socket.ok_or_else(|| SendError(io::Error::other(format!("no {family} socket"))))?;
        socket.send_to(bytes, to).map(|_| ()).map_err(SendError)
    }
}

/// The one correction `-q` makes: the node's first step or slew, as it decided it
/// (thresholds, `-g`, the panic check all applied).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum OnceCorrection {
    /// Beyond the step threshold: set the clock.
    Step(WideDuration),
    /// Below it: slew.
    Slew(NtpDuration),
}

/// A clock that reads like `C` but changes nothing: `-q` measures with it and
/// records the node's first correction in `asked`; the daemon then makes that one
/// correction on the real clock and says so (the node's own step event would claim
/// a step that never happened).
pub(super) struct ReadOnly<'a, C> {
    pub(super) clock: &'a mut C,
    pub(super) asked: &'a mut Option<OnceCorrection>,
}

impl<C: Clock> Clock for ReadOnly<'_, C> {
    type Error = C::Error;
    fn now(&mut self) -> Result<slew_core::NtpTimestamp, C::Error> {
        self.clock.now()
    }
    fn step(&mut self, d: WideDuration) -> Result<(), C::Error> {
        self.asked.get_or_insert(OnceCorrection::Step(d));
        Ok(())
    }
    fn slew(&mut self, _: NtpDuration) -> Result<(), C::Error> {
        // The node slews by frequency, never through here; `-q` takes a slew from
        // the node's first clock update instead (`Daemon::finish_once`).
        Ok(())
    }
    fn set_frequency_ppm(&mut self, _: f64) -> Result<(), C::Error> {
        Ok(())
    }
    fn frequency_ppm(&mut self) -> Result<f64, C::Error> {
        self.clock.frequency_ppm()
    }
    fn max_frequency_ppm(&self) -> f64 {
        self.clock.max_frequency_ppm()
    }
    fn set_status(&mut self, _: slew_core::ClockStatus) -> Result<(), C::Error> {
        Ok(())
    }
}

/// The correction `d` the node asked for, resolved into the basedate window when
/// `clock` is kept at full width (see [`step_into_window`]): what differs from `d`
/// is a whole number of NTP eras (2^32 s) the node cannot see.
pub(super) fn era_resolved<C: DaemonClock>(clock: &mut C, d: WideDuration) -> WideDuration {
    match clock.full_width_now_unix_ns() {
        Some(now_ns) => step_into_window(now_ns, d, BASEDATE_UNIX_S),
        None => d,
    }
}

/// The log line for a correction that era resolution changed.
pub(super) fn era_note(asked: WideDuration, resolved: WideDuration) -> String {
    format!(
        "the measured offset {asked} is known modulo the NTP era (2^32 s): stepping by {resolved}, which lands in 1976..2112"
    )
}

/// The clock with the leapfile's word on leap seconds: on the leap day, a status
/// that says "no warning" is published as the pending insertion or deletion, so the
/// kernel inserts the second at midnight even when the upstream servers do not
/// announce it.
pub(super) struct LeapArmed<'a, C> {
    pub(super) inner: &'a mut C,
    pub(super) pending: slew_core::LeapIndicator,
    /// `-g` (or no panic threshold): a step may be resolved into the era window.
    /// Without, the node's step is made as asked and the daemon's era check refuses
    /// what is left.
    pub(super) era_allowed: bool,
}

impl<C: DaemonClock> Clock for LeapArmed<'_, C> {
    type Error = C::Error;
    fn now(&mut self) -> Result<slew_core::NtpTimestamp, C::Error> {
        self.inner.now()
    }
    fn step(&mut self, d: WideDuration) -> Result<(), C::Error> {
        let resolved = era_resolved(self.inner, d);
        if resolved != d && self.era_allowed {
            log::warn!("{}", era_note(d, resolved));
            return self.inner.step(resolved);
        }
        self.inner.step(d)
    }
    fn slew(&mut self, d: NtpDuration) -> Result<(), C::Error> {
        self.inner.slew(d)
    }
    fn set_frequency_ppm(&mut self, ppm: f64) -> Result<(), C::Error> {
        self.inner.set_frequency_ppm(ppm)
    }
    fn frequency_ppm(&mut self) -> Result<f64, C::Error> {
        self.inner.frequency_ppm()
    }
    fn max_frequency_ppm(&self) -> f64 {
        self.inner.max_frequency_ppm()
    }
    fn set_status(&mut self, mut status: slew_core::ClockStatus) -> Result<(), C::Error> {
        if status.leap == slew_core::LeapIndicator::NoWarning {
            status.leap = self.pending;
        }
        self.inner.set_status(status)
    }
}
