//! slew on Linux: sockets, clocks, ntp.conf and the pieces of `slewd` and `slewctl`.

pub mod config;
