//! slew on Linux: sockets, clocks, ntp.conf and the pieces of `slewd` and `slewctl`.
//!
//! The daemon is a `poll(2)` loop over plain libc calls (DESIGN.md explains why:
//! LD_PRELOAD-based clock and network simulators must be able to drive the real
//! binary).

pub mod access;
pub mod batch;
pub mod clock;
pub mod compat;
pub mod config;
pub mod control_publish;
pub mod ctl;
pub mod daemon;
pub mod drift;
pub mod entropy;
pub mod escape;
pub mod kernel_state;
pub mod leapfile;
pub mod listen;
pub mod load;
pub mod logger;
pub mod metrics;
pub mod monitor;
pub mod net;
pub mod notify;
pub mod nts;
pub mod privdrop;
pub mod query;
pub mod ratelog;
pub mod refclock;
pub mod resolve;
pub mod serve;
pub mod serve_publish;
pub mod serve_threads;
pub mod settings;
pub mod signals;
pub mod snapshot;
pub mod stats;
pub mod time;
