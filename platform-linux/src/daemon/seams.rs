//! The daemon's seams to the core: the client sockets as a `Transport`, and the
//! era resolution of a correction (slew-core's, for `-q` and the era check).

use std::io;
use std::net::SocketAddr;

use slew_core::clock::ErrorKind;
use slew_core::{Clock, Transport, WideDuration};

use crate::os::net::NtpSocket;

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
/// `clock` is kept at full width (slew-core's [`era_resolved`](slew_core::clock::era_resolved)).
pub(super) fn era_resolved<C: Clock>(clock: &mut C, d: WideDuration) -> WideDuration {
    slew_core::clock::era_resolved(clock, d)
}

/// The log line for a correction that era resolution changed.
pub(super) fn era_note(asked: WideDuration, resolved: WideDuration) -> String {
    format!(
        "the measured offset {asked} is known modulo the NTP era (2^32 s): stepping by {resolved}, which lands in 1976..2112"
    )
}
