//! The operating system's seams: everything slewd asks of Linux, behind small
//! functions and types the server and the daemon call. Nothing here decides NTP.
//!
//! | module | seam |
//! |---|---|
//! | [`net`] | UDP sockets, kernel receive and transmit stamps, address families |
//! | [`batch`] | `recvmmsg`/`sendmmsg` batches for the server path |
//! | [`host`] | the host facts settings ask for: interface addresses (`getifaddrs`), names (DNS) |
//! | [`resolve`] | names into addresses, on a thread off the loop |
//! | [`mailbox`] | helper threads' results, waking the poll loop when they arrive |
//! | [`clock`] | the clocks slewd disciplines: kernel (adjtimex), observe, virtual |
//! | [`time`] | `CLOCK_REALTIME`/`CLOCK_MONOTONIC` readings, precision, the era window |
//! | [`kernel_state`] | the kernel clock's status for monitoring |
//! | [`refclock`] | reference clock drivers: gpsd's SHM segments, NMEA on a serial line |
//! | [`privdrop`] | dropping root: user, capabilities, chroot |
//! | [`signals`] | SIGHUP/SIGTERM/SIGUSR1 as flags |
//! | [`notify`] | systemd's readiness notification |
//! | [`entropy`] | random bytes from the kernel |
//! | [`drift`], [`leapfile`] | the driftfile and the leap-seconds file |
//! | [`logger`], [`ratelog`] | syslog/stderr logging, rate-limited log lines |

pub mod batch;
pub mod clock;
pub mod drift;
pub mod entropy;
pub mod host;
pub mod kernel_state;
pub mod leapfile;
pub mod logger;
pub mod mailbox;
pub mod net;
pub mod notify;
pub mod privdrop;
pub mod ratelog;
pub mod refclock;
pub mod resolve;
pub mod signals;
pub mod time;
