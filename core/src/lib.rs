//! slew-core: the sans-IO heart of slew, an NTP implementation.
//!
//! The core never reads a clock, opens a socket, sleeps or draws from a global RNG;
//! everything that happens to it is a call with the time as an argument. It is
//! `no_std` and allocates nothing, so the same code runs in `slewd` on a Linux server
//! and in an appliance's firmware.
//!
//! # Data flow
//!
//! ```text
//! port: datagram ──► endpoint::Endpoint::handle_datagram(now, local, from, bytes, rx, out)
//!                     ├─ mode 3 ─► server (restrict, rate limit, MAC) ─► answer in `out`
//!                     ├─ mode 4 ─► node (association ─► filter ─► select ─► discipline)
//!                     ├─ mode 6 ─► admitted? ─► Endpoint::answer_control (control responder)
//!                     └─ other  ─► dropped, reason counted
//! port: deadline ──► Endpoint::handle_timeout(now)        (Endpoint::poll_timeout says when)
//! port ◄── Endpoint::poll_action(): send, set frequency, step, status (+ leap), events
//! ```
//!
//! | module | stage |
//! |---|---|
//! | [`endpoint`] | the one protocol core: every datagram and deadline in, actions out |
//! | [`time`] | timestamps, durations, poll intervals |
//! | [`wire`] | the NTP packet codec (no panics on any input) |
//! | [`system`] | system variables served to clients |
//! | [`server`] | answering client requests |
//! | [`control`] | mode 6 (`ntpq`, `ntpstat`): snapshots in, answers out; `PeerVars`, the one peer shape, decoded back by `slewctl` |
//! | [`access`] | the `restrict` table |
//! | `auth` (feature) | symmetric keys: MD5, SHA1, AES128CMAC MACs |
//! | `nts` (feature) | Network Time Security (RFC 8915) building blocks |
//! | [`ratelimit`] | `limited`/`kod` with a fixed-size table |
//! | [`refclock`] | reference clocks: NMEA and SHM decoding, median filter, the source |
//! | [`softclock`] | the software clock over a tick counter (appliances, tests) |
//! | [`clock`], [`transport`] | the seams a port implements (one `Clock`: also its name, stamp reading, era width) |
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(feature = "std", test))]
extern crate std;

pub mod access;
#[cfg(feature = "auth")]
pub mod auth;
pub mod clock;
pub mod control;
pub mod discipline;
pub mod endpoint;
pub mod filter;
pub mod node;
#[cfg(feature = "nts")]
pub mod nts;
pub mod peer;
pub mod ratelimit;
pub mod refclock;
pub mod select;
pub mod server;
pub mod softclock;
pub mod system;
pub mod time;
pub mod transport;
pub mod wire;

pub use clock::{Clock, ClockStatus, ErrorKind, LeapIndicator};
pub use time::{Instant, NtpDuration, NtpShort, NtpTimestamp, PollInterval, WideDuration};
pub use transport::Transport;
#[cfg(feature = "sim")]
pub mod sim;
