//! slewctl's monitoring commands over NTP control messages (mode 6): `peers`
//! (ntpq -p) and `status` (ntpstat), against slewd or any ntpd.
//!
//! [`client`] speaks the protocol with slew-core's codec; [`peers`] and [`status`]
//! turn answers into rows and lines; their format functions are pure, so the golden
//! tests run on fixed snapshots.

pub mod client;
pub mod json;
pub mod peers;
pub mod query;
pub mod status;

#[cfg(test)]
mod tests;

pub use client::{parse_server, ControlClient, CtlError};
