//! The NTS-KE server's TCP sockets, bound as the NTP sockets are: one per family,
//! IPv6 with IPV6_V6ONLY so the two are independent, and a host without one family
//! still serves the other.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    bind, listen, setsockopt, socket, sockopt, AddressFamily, Backlog, SockFlag, SockType,
};

use crate::os::net::{bind_error, family_missing, to_storage};

fn io_err(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Binds one non-blocking TCP listener on `addr`.
pub fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let family = if addr.is_ipv6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    let fd = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(io_err)?;
    if addr.is_ipv6() {
        setsockopt(&fd, sockopt::Ipv6V6Only, &true).map_err(io_err)?;
    }
    setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(io_err)?;
    bind(fd.as_raw_fd(), &to_storage(addr)).map_err(io_err)?;
    listen(&fd, Backlog::new(128).map_err(io_err)?).map_err(io_err)?;
    let l = TcpListener::from(fd);
    l.set_nonblocking(true)?;
    Ok(l)
}

/// The listeners for `addrs`, or for both wildcards on `port` when `addrs` is empty.
/// A wildcard whose family the host lacks is skipped; any other failure is an error.
pub fn bind_all(addrs: &[SocketAddr], port: u16) -> io::Result<Vec<TcpListener>> {
    let wild = [
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
    ];
    let wanted: &[SocketAddr] = if addrs.is_empty() { &wild } else { addrs };
    let mut out = Vec::new();
    for a in wanted {
        match bind_tcp(*a) {
            Ok(l) => out.push(l),
            Err(e) if addrs.is_empty() && family_missing(&e, a) => {}
            Err(e) => return Err(bind_error(a, &e)),
        }
    }
    if out.is_empty() {
        return Err(io::Error::other("NTS-KE: no address to listen on"));
    }
    Ok(out)
}
