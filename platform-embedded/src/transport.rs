//! slew's [`Transport`] over a smoltcp UDP socket, IPv4 and IPv6.
//!
//! The caller owns the `Interface`, the `SocketSet` and the socket's buffers; slew
//! borrows the socket for the length of one call, so the firmware keeps full control
//! of when the stack is polled.
//!
//! ```ignore
//! let socket = sockets.get_mut::<udp::Socket>(handle);
//! let mut transport = UdpTransport::new(socket);
//! slew_core::node::run_once(&mut node, &mut clock, &mut transport);
//! ```

use core::net::SocketAddr;

use slew_core::clock::{Error, ErrorKind};
use slew_core::Transport;
use smoltcp::socket::udp;
use smoltcp::wire::IpEndpoint;

/// Why a datagram was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendError {
    /// The socket's transmit buffer is full: the packet is lost, as on a congested
    /// network ([`ErrorKind::WouldBlock`]).
    BufferFull,
    /// The socket is not bound, or the destination is unspecified or port 0.
    Unaddressable,
}

impl Error for SendError {
    fn kind(&self) -> ErrorKind {
        match self {
            SendError::BufferFull => ErrorKind::WouldBlock,
            SendError::Unaddressable => ErrorKind::Other,
        }
    }
}

impl From<udp::SendError> for SendError {
    fn from(e: udp::SendError) -> Self {
        match e {
            udp::SendError::BufferFull => SendError::BufferFull,
            udp::SendError::Unaddressable => SendError::Unaddressable,
        }
    }
}

/// A [`Transport`] borrowing a bound smoltcp UDP socket.
#[derive(Debug)]
pub struct UdpTransport<'s, 'b> {
    socket: &'s mut udp::Socket<'b>,
}

impl<'s, 'b> UdpTransport<'s, 'b> {
    /// Wraps a socket the caller has bound (to port 123 for a server, or any port
    /// for a client only).
    pub fn new(socket: &'s mut udp::Socket<'b>) -> Self {
        Self { socket }
    }

    /// The socket, for receiving.
    pub fn socket(&mut self) -> &mut udp::Socket<'b> {
        self.socket
    }

    /// The next datagram waiting in the socket, copied into `buf`: its source and
    /// its bytes. `None` when the queue is empty. A datagram longer than `buf` is
    /// truncated by smoltcp; NTP requests slew answers are never longer than 48
    /// bytes plus extensions, and a truncated one is refused by the codec.
    pub fn recv<'x>(&mut self, buf: &'x mut [u8]) -> Option<(SocketAddr, &'x [u8])> {
        recv(self.socket, buf)
    }
}

/// The next datagram waiting in `socket`, copied into `buf`; see
/// [`UdpTransport::recv`].
pub fn recv<'x>(socket: &mut udp::Socket<'_>, buf: &'x mut [u8]) -> Option<(SocketAddr, &'x [u8])> {
    let (len, meta) = socket.recv_slice(buf).ok()?;
    let bytes = buf.get(..len)?;
    Some((to_socket_addr(meta.endpoint), bytes))
}

/// smoltcp's endpoint as a `core::net` address.
pub fn to_socket_addr(endpoint: IpEndpoint) -> SocketAddr {
    SocketAddr::new(endpoint.addr.into(), endpoint.port)
}

impl Transport for UdpTransport<'_, '_> {
    type Error = SendError;

    fn send(&mut self, to: SocketAddr, bytes: &[u8]) -> Result<(), SendError> {
        let endpoint = IpEndpoint::from(to);
        self.socket.send_slice(bytes, endpoint)?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "transport_tests.rs"]
mod tests;
