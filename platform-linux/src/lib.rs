//! slew on Linux: sockets, clocks, ntp.conf and the pieces of `slewd` and `slewctl`.
//!
//! The daemon is a `poll(2)` loop over plain libc calls (DESIGN.md explains why:
//! LD_PRELOAD-based clock and network simulators must be able to drive the real
//! binary).

pub mod config;
pub mod daemon;
pub mod os;
pub mod server;
pub mod settings;

pub mod compat;
pub mod ctl;
pub mod load;
