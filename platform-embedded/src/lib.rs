//! slew on a network appliance: an NTP client (filter, selection, discipline) and
//! server over smoltcp, in a few KiB of RAM, with no heap.
//!
//! | piece | what it is |
//! |---|---|
//! | [`transport`] | slew's `Transport` over a smoltcp `udp::Socket` (IPv4 and IPv6) |
//! | [`config`] | the builder: servers, poll bounds, step/slew policy |
//! | [`ntp`] | the service: slew-core's `Endpoint` (client node, optional server) + clock, one `poll` per loop |
//! | [`server`] | the LAN server's tables: a fixed-table rate limiter for every client |
//! | [`gps`] | an NMEA GPS receiver on an `embedded-io` UART as a reference clock |
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

pub mod config;
pub mod gps;
mod log;
pub mod ntp;
pub mod server;
pub mod transport;

pub use config::{Builder, StepPolicy};
pub use ntp::{sleep_until, Ntp};
pub use server::{
    allow_queries_from, lan_policy, DiscardParams, LanPolicy, RateLimiter, LAN_QUERY_RULES,
};
pub use slew_core;
pub use slew_core::endpoint::{NoServer, Open};
pub use slew_core::server::Server;
pub use slew_core::softclock::{SoftClock, TickSource};
pub use transport::UdpTransport;
