//! slew on a network appliance: an NTP client (filter, selection, discipline) and
//! server over smoltcp, in a few KiB of RAM, with no heap.
//!
//! | piece | what it is |
//! |---|---|
//! | [`transport`] | slew's `Transport` over a smoltcp `udp::Socket` (IPv4 and IPv6) |
//! | [`SoftClock`] | the software clock over a tick counter (re-exported from slew-core, the same one slew-linux's `virtual` clock uses) |
//!
//! The caller owns the smoltcp `Interface`, `SocketSet` and socket buffers; slew
//! borrows a socket for one call at a time.
//!
//! Logging: `defmt` behind the `defmt` feature, the `log` facade behind `log`;
//! with neither (the default) the crate logs nothing and links no formatting code.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod transport;

pub use slew_core;
pub use slew_core::softclock::{SoftClock, TickSource};
pub use transport::UdpTransport;
