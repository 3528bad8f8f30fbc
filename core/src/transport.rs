//! The [`Transport`] seam: how slew's packets leave. Packets arrive by the port calling
//! the node's `handle_packet`; the core never blocks on a receive.

use core::net::SocketAddr;

use crate::clock::Error;

/// A datagram sender (UDP on Linux, a smoltcp socket on an appliance).
pub trait Transport {
    /// The error type.
    type Error: Error;

    /// Send `bytes` to `to`. A full queue is `ErrorKind::WouldBlock`: the packet is
    /// lost, as on a real network, and the protocol recovers.
    fn send(&mut self, to: SocketAddr, bytes: &[u8]) -> Result<(), Self::Error>;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    type Error = T::Error;
    fn send(&mut self, to: SocketAddr, bytes: &[u8]) -> Result<(), Self::Error> {
        T::send(self, to, bytes)
    }
}
