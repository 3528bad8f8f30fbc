//! The daemon's seams to the core: the client sockets as a `Transport`, and the
//! read-only clock `-q` measures with.

use std::io;
use std::net::SocketAddr;

use slew_core::clock::ErrorKind;
use slew_core::{Clock, NtpDuration, Transport, WideDuration};

use crate::os::clock::DaemonClock;
use crate::os::net::NtpSocket;
use crate::os::time::{step_into_window, BASEDATE_UNIX_S};

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
        let family = crate::os::net::family_name(&to);
        let socket =
            socket.ok_or_else(|| SendError(io::Error::other(format!("no {family} socket"))))?;
        socket.send_to(bytes, to).map(|_| ()).map_err(SendError)
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

/// The clock with steps resolved into the era window (the endpoint arms leap
/// seconds itself, from the leapfile's schedule).
pub(super) struct EraResolving<'a, C> {
    pub(super) inner: &'a mut C,
    /// `-g` (or no panic threshold): a step may be resolved into the era window.
    /// Without, the node's step is made as asked and the daemon's era check refuses
    /// what is left.
    pub(super) era_allowed: bool,
}

impl<C: DaemonClock> Clock for EraResolving<'_, C> {
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
    fn set_status(&mut self, status: slew_core::ClockStatus) -> Result<(), C::Error> {
        self.inner.set_status(status)
    }
}
