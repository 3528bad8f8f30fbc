//! The time-server path of `slewd`: drain each socket, answer with `slew_core::server`,
//! stamp the transmit time as late as possible, send.

use std::io;
use std::net::SocketAddr;

use slew_core::server::{Client, DropReason, Server, ServerStats};
use slew_core::system::SystemVars;

use crate::access::{Guard, Hardening};
use slew_core::NtpTimestamp;

use crate::clock::DaemonClock;
use crate::net::NtpSocket;
use crate::ratelog::RateLimitedLog;
use crate::time::monotonic_now;

/// The time the server path stamps answers with: the daemon's clock (the kernel's,
/// or the virtual clock under test), reading kernel receive stamps in its terms.
pub trait ServeClock {
    /// The clock's reading when `CLOCK_REALTIME` read `realtime` (a kernel stamp).
    fn receive_time(&mut self, realtime: NtpTimestamp) -> NtpTimestamp;
    /// The clock's reading now: the transmit timestamp.
    fn transmit_time(&mut self) -> NtpTimestamp;
}

impl<C: DaemonClock> ServeClock for C {
    fn receive_time(&mut self, realtime: NtpTimestamp) -> NtpTimestamp {
        self.reading_at_realtime(realtime)
    }
    fn transmit_time(&mut self) -> NtpTimestamp {
        self.now().unwrap_or(NtpTimestamp::ZERO)
    }
}

/// Largest datagram we read; anything longer is cut and dropped as malformed. NTP
/// packets with a MAC and extension fields stay far below this.
pub const MAX_DATAGRAM: usize = 1024;

/// Answers requests arriving on a set of sockets.
#[derive(Debug)]
pub struct TimeServer {
    sockets: Vec<NtpSocket>,
    server: Server,
    /// restrict table, rate limiter, keys.
    guard: Guard,
    rx_buf: [u8; MAX_DATAGRAM],
    tx_buf: [u8; MAX_DATAGRAM],
    log: RateLimitedLog,
    no_kernel_stamp: u64,
    send_errors: u64,
}

impl TimeServer {
    /// Binds one socket per address.
    pub fn bind(listen: &[SocketAddr]) -> io::Result<Self> {
        let mut sockets = Vec::with_capacity(listen.len());
        for addr in listen {
            let s = NtpSocket::bind(*addr)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {addr}: {e}")))?;
            sockets.push(s);
        }
        Ok(Self {
            sockets,
            server: Server::new(),
            guard: Guard::default(),
            rx_buf: [0; MAX_DATAGRAM],
            tx_buf: [0; MAX_DATAGRAM],
            log: RateLimitedLog::new(10, 60),
            no_kernel_stamp: 0,
            send_errors: 0,
        })
    }

    /// Enforces `restrict`, `discard` and the keys from now on (until then everyone
    /// is served and no key is known).
    pub fn set_hardening(&mut self, hardening: &Hardening) {
        self.guard = Guard::new(hardening, crate::access::random_seed());
    }

    /// The restrict table, rate limiter and keys: the control path asks
    /// [`Guard::access`] for `nomodify`, `notrap`, `nomrulist`.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// The bound sockets, in the order of the addresses given to [`TimeServer::bind`].
    pub fn sockets(&self) -> &[NtpSocket] {
        &self.sockets
    }

    /// The server's counters.
    pub fn stats(&self) -> &ServerStats {
        self.server.stats()
    }

    /// Datagrams that came without a kernel timestamp (answered with the time read
    /// after `recvmsg`).
    pub fn no_kernel_stamp(&self) -> u64 {
        self.no_kernel_stamp
    }

    /// Answers everything queued on socket `index`, until it would block or `budget`
    /// datagrams were handled (so one flooded socket cannot starve the others or the
    /// client work). Control (mode 6) datagrams are handed to `control` with the
    /// socket to reply on.
    pub fn drain(
        &mut self,
        index: usize,
        sys: &SystemVars,
        budget: usize,
        clock: &mut dyn ServeClock,
        control: &mut dyn FnMut(&NtpSocket, SocketAddr, &[u8]),
    ) -> usize {
        let mut handled = 0;
        while handled < budget {
            let Some(socket) = self.sockets.get(index) else {
                return handled;
            };
            let received = match socket.recv(&mut self.rx_buf) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    self.log.warn(
                        "recv",
                        format_args!("receive error on {}: {e}", socket.local_addr()),
                    );
                    break;
                }
            };
            handled += 1;
            if !received.kernel_stamp {
                self.no_kernel_stamp += 1;
            }
            if received.truncated {
                self.server.count_drop(DropReason::Malformed);
                continue;
            }
            let request = self.rx_buf.get(..received.len).unwrap_or_default();
            let client = Client {
                addr: received.from.ip(),
                port: received.from.port(),
                now: monotonic_now(),
            };
            let mut policy = self.guard.policy();
            match self.server.respond_to(
                &mut policy,
                client,
                request,
                clock.receive_time(received.rx_time),
                sys,
                &mut self.tx_buf,
            ) {
                Ok(pending) => {
                    // The transmit timestamp: read the clock at the last moment.
                    let bytes = pending.finish(&mut self.tx_buf, clock.transmit_time());
                    if let Err(e) = socket.send_to(bytes, received.from) {
                        self.send_errors += 1;
                        self.log
                            .warn("send", format_args!("cannot answer {}: {e}", received.from));
                    }
                }
                Err(DropReason::Control) => control(socket, received.from, request),
                Err(reason) => {
                    self.log.info(
                        reason.name(),
                        format_args!("dropped a packet from {}: {reason}", received.from),
                    );
                }
            }
        }
        handled
    }

    /// Logs the counters (at exit and on SIGUSR1).
    pub fn log_stats(&self) {
        let s = self.stats();
        let mut line = format!("served {} requests", s.answered);
        if s.authenticated + s.rate_kisses + s.crypto_naks > 0 {
            line.push_str(&format!(
                " ({} authenticated, {} RATE kisses, {} crypto-NAKs)",
                s.authenticated, s.rate_kisses, s.crypto_naks
            ));
        }
        for reason in DropReason::ALL {
            let n = s.dropped_for(reason);
            if n > 0 {
                line.push_str(&format!(", dropped {n} {reason}"));
            }
        }
        if self.send_errors > 0 {
            line.push_str(&format!(", {} send errors", self.send_errors));
        }
        log::info!("{line}");
    }
}
