//! The daemon's seams to the core: the client sockets as a `Transport`, and the
//! read-only clock `-q` measures with.

use std::io;
use std::net::SocketAddr;

use slew_core::clock::ErrorKind;
use slew_core::{Clock, NtpDuration, Transport};

use crate::net::NtpSocket;

/// The client sockets as the node's [`Transport`].
pub(super) struct ClientTransport<'a> {
    pub(super) v4: &'a NtpSocket,
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
        let socket = if to.is_ipv4() { Some(self.v4) } else { self.v6 };
        let socket = socket.ok_or_else(|| SendError(io::Error::other("no IPv6 socket")))?;
        socket.send_to(bytes, to).map(|_| ()).map_err(SendError)
    }
}

/// A clock that reads like `C` but changes nothing: `-q` measures with it, then makes
/// its one correction itself.
pub(super) struct ReadOnly<'a, C>(pub(super) &'a mut C);

impl<C: Clock> Clock for ReadOnly<'_, C> {
    type Error = C::Error;
    fn now(&mut self) -> Result<slew_core::NtpTimestamp, C::Error> {
        self.0.now()
    }
    fn step(&mut self, _: NtpDuration) -> Result<(), C::Error> {
        Ok(())
    }
    fn slew(&mut self, _: NtpDuration) -> Result<(), C::Error> {
        Ok(())
    }
    fn set_frequency_ppm(&mut self, _: f64) -> Result<(), C::Error> {
        Ok(())
    }
    fn frequency_ppm(&mut self) -> Result<f64, C::Error> {
        self.0.frequency_ppm()
    }
    fn max_frequency_ppm(&self) -> f64 {
        self.0.max_frequency_ppm()
    }
    fn set_status(&mut self, _: slew_core::ClockStatus) -> Result<(), C::Error> {
        Ok(())
    }
}

/// The clock with the leapfile's word on leap seconds: on the leap day, a status
/// that says "no warning" is published as the pending insertion or deletion, so the
/// kernel inserts the second at midnight even when the upstream servers do not
/// announce it.
pub(super) struct LeapArmed<'a, C> {
    pub(super) inner: &'a mut C,
    pub(super) pending: slew_core::LeapIndicator,
}

impl<C: Clock> Clock for LeapArmed<'_, C> {
    type Error = C::Error;
    fn now(&mut self) -> Result<slew_core::NtpTimestamp, C::Error> {
        self.inner.now()
    }
    fn step(&mut self, d: NtpDuration) -> Result<(), C::Error> {
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
