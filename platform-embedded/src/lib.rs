//! slew on a network appliance: the smoltcp [`Transport`](slew_core::Transport) and
//! the software clock live here. This crate is `no_std` and allocates nothing.
//!
//! Status: a placeholder that links slew-core into the firmware check; the port itself
//! is tracked by its own issue.
#![no_std]
#![forbid(unsafe_code)]

pub use slew_core;
