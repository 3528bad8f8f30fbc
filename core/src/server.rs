//! Answering client requests: a request becomes a response in the caller's buffer.
//!
//! Call order, per received datagram:
//!
//! 1. [`Server::respond`] with the request bytes, the kernel's receive timestamp and
//!    the current [`SystemVars`]. It either fills the caller's buffer with a response
//!    (all fields but the transmit timestamp) and returns a [`PendingResponse`], or
//!    returns the [`DropReason`] and counts it.
//! 2. Read the clock as late as possible, then [`PendingResponse::finish`] writes the
//!    transmit timestamp and hands back the bytes to send.
//!
//! The split exists so that the transmit timestamp is taken after all the work of
//! building the answer, right before the send: the client's offset estimate depends
//! on it (RFC 5905 §8).
//!
//! Amplification: a response is never larger than its request. Every request is at
//! least [`HEADER_LEN`](crate::wire::HEADER_LEN) bytes and every response is exactly
//! that, so an unauthenticated request can never draw more bytes than it sent.

use crate::clock::LeapIndicator;
use crate::system::SystemVars;
use crate::time::{NtpShort, NtpTimestamp};
use crate::wire::{self, Mode, Packet, Repr};

/// Why a datagram got no answer. Each has its own counter in [`ServerStats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// Shorter than an NTP header, or a trailer that runs past the end.
    Truncated,
    /// Version 0 or 5 and above.
    BadVersion,
    /// Extension fields or a trailer that do not parse.
    Malformed,
    /// Mode 0 (reserved) from a version 2–4 sender.
    ModeReserved,
    /// A server-mode packet (mode 4) sent to us: we did not ask.
    ModeServer,
    /// A kiss-o'-death sent to us.
    KissOfDeath,
    /// Symmetric, broadcast or private mode: not served by this node.
    ModeUnsupported,
    /// Mode 6 control query: answered by the control path, not the time server.
    Control,
    /// The caller's output buffer cannot hold a response.
    NoBuffer,
}

impl DropReason {
    /// Number of reasons; the size of [`ServerStats::dropped`].
    pub const COUNT: usize = 9;

    /// All reasons, in counter order.
    pub const ALL: [DropReason; Self::COUNT] = [
        Self::Truncated,
        Self::BadVersion,
        Self::Malformed,
        Self::ModeReserved,
        Self::ModeServer,
        Self::KissOfDeath,
        Self::ModeUnsupported,
        Self::Control,
        Self::NoBuffer,
    ];

    /// Counter index.
    pub const fn index(self) -> usize {
        match self {
            Self::Truncated => 0,
            Self::BadVersion => 1,
            Self::Malformed => 2,
            Self::ModeReserved => 3,
            Self::ModeServer => 4,
            Self::KissOfDeath => 5,
            Self::ModeUnsupported => 6,
            Self::Control => 7,
            Self::NoBuffer => 8,
        }
    }

    /// A short name for logs and metrics labels.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::BadVersion => "bad_version",
            Self::Malformed => "malformed",
            Self::ModeReserved => "mode_reserved",
            Self::ModeServer => "mode_server",
            Self::KissOfDeath => "kiss_of_death",
            Self::ModeUnsupported => "mode_unsupported",
            Self::Control => "control",
            Self::NoBuffer => "no_buffer",
        }
    }
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Counters of the server path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Requests answered.
    pub answered: u64,
    /// Datagrams dropped, indexed by [`DropReason::index`].
    pub dropped: [u64; DropReason::COUNT],
}

impl ServerStats {
    /// Drops of one reason.
    pub fn dropped_for(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason.index()).copied().unwrap_or(0)
    }

    /// Drops of every reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// Adds another thread's counters into these.
    pub fn merge(&mut self, other: &ServerStats) {
        self.answered += other.answered;
        for (a, b) in self.dropped.iter_mut().zip(other.dropped.iter()) {
            *a += *b;
        }
    }
}

/// A response whose every field but the transmit timestamp is written.
#[derive(Debug)]
#[must_use = "a pending response must be finished with the transmit time and sent"]
pub struct PendingResponse {
    len: usize,
}

impl PendingResponse {
    /// Length of the response in bytes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Always false: a response has a header. (For clippy's `len_without_is_empty`.)
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the transmit timestamp, read from the clock as late as possible, and
    /// returns the bytes to send: the first [`len`](Self::len) bytes of `buf`, the
    /// same buffer given to [`Server::respond`].
    pub fn finish(self, buf: &mut [u8], transmit: NtpTimestamp) -> &[u8] {
        let out = buf.get_mut(..self.len).unwrap_or_default();
        let mut packet = Packet::new_unchecked(&mut *out);
        packet.set_transmit_timestamp(transmit);
        out
    }
}

/// The time server: stateless apart from its counters.
#[derive(Clone, Debug, Default)]
pub struct Server {
    stats: ServerStats,
}

impl Server {
    /// A server with zeroed counters.
    pub const fn new() -> Self {
        Self {
            stats: ServerStats {
                answered: 0,
                dropped: [0; DropReason::COUNT],
            },
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Counts a drop decided outside [`Server::respond`] (by access rules, say).
    pub fn count_drop(&mut self, reason: DropReason) {
        if let Some(c) = self.stats.dropped.get_mut(reason.index()) {
            *c += 1;
        }
    }

    /// Builds the answer to `request`, received at `rx_time`, into `out`.
    ///
    /// The answer is mode 4 with the request's version and poll, origin = the
    /// request's transmit timestamp, receive = `rx_time`, and the system variables.
    /// Version 1 predates the mode field and sends mode 0 as a client; that one case
    /// of mode 0 is served (RFC 1305 appendix), every other mode 0 is dropped.
    pub fn respond(
        &mut self,
        request: &[u8],
        rx_time: NtpTimestamp,
        sys: &SystemVars,
        out: &mut [u8],
    ) -> Result<PendingResponse, DropReason> {
        let result = Self::build(request, rx_time, sys, out);
        match result {
            Ok(_) => self.stats.answered += 1,
            Err(reason) => self.count_drop(reason),
        }
        result
    }

    fn build(
        request: &[u8],
        rx_time: NtpTimestamp,
        sys: &SystemVars,
        out: &mut [u8],
    ) -> Result<PendingResponse, DropReason> {
        let packet = Packet::new_checked(request).map_err(|e| match e {
            wire::Error::Truncated => DropReason::Truncated,
            wire::Error::BadVersion(_) => DropReason::BadVersion,
            _ => DropReason::Malformed,
        })?;
        let version = packet.version();
        match packet.mode() {
            Mode::Client => {}
            Mode::Reserved if version == 1 => {}
            Mode::Reserved => return Err(DropReason::ModeReserved),
            Mode::Server if packet.is_kiss() => return Err(DropReason::KissOfDeath),
            Mode::Server => return Err(DropReason::ModeServer),
            Mode::Control => return Err(DropReason::Control),
            _ => return Err(DropReason::ModeUnsupported),
        }
        let response = Repr {
            leap: if sys.is_synchronized() {
                sys.leap
            } else {
                LeapIndicator::Unsynchronized
            },
            version,
            mode: Mode::Server,
            stratum: sys.stratum,
            poll: packet.poll(),
            precision: sys.precision,
            root_delay: NtpShort::from_duration(sys.root_delay),
            root_dispersion: NtpShort::from_duration(sys.root_dispersion_at(rx_time)),
            ref_id: sys.ref_id,
            reference_timestamp: sys.reference_time,
            origin_timestamp: packet.transmit_timestamp(),
            receive_timestamp: rx_time,
            // Written by `PendingResponse::finish`; until then the receive time, so a
            // caller who forgets to finish still sends a self-consistent packet.
            transmit_timestamp: rx_time,
        };
        let len = response.buffer_len();
        debug_assert!(len <= request.len());
        let out = out.get_mut(..len).ok_or(DropReason::NoBuffer)?;
        response.emit(&mut Packet::new_unchecked(out));
        Ok(PendingResponse { len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::NtpDuration;
    use crate::wire::RefId;

    fn request(version: u8, mode: u8, transmit: u64) -> [u8; 48] {
        let mut b = [0u8; 48];
        b[0] = (version << 3) | mode;
        b[2] = 6; // poll 64 s
        b[40..48].copy_from_slice(&transmit.to_be_bytes());
        b
    }

    fn synced() -> SystemVars {
        SystemVars {
            leap: LeapIndicator::NoWarning,
            stratum: 3,
            precision: -23,
            root_delay: NtpDuration::from_seconds_f64(0.25),
            root_dispersion: NtpDuration::from_seconds_f64(0.5),
            ref_id: RefId::from_bytes([127, 0, 0, 2]),
            reference_time: NtpTimestamp::from_parts(1000, 0),
            poll: crate::PollInterval::from_log2(6),
        }
    }

    #[test]
    fn client_request_becomes_server_response() {
        let mut server = Server::new();
        let req = request(4, 3, 0x1122_3344_5566_7788);
        let rx = NtpTimestamp::from_parts(1000, 0);
        let tx = NtpTimestamp::from_parts(1000, 0x1000);
        let mut buf = [0u8; 64];
        let pending = server.respond(&req, rx, &synced(), &mut buf).unwrap();
        assert_eq!(pending.len(), 48);
        let out = pending.finish(&mut buf, tx);
        let p = Packet::new_checked(out).unwrap();
        assert_eq!(p.mode(), Mode::Server);
        assert_eq!(p.version(), 4);
        assert_eq!(p.stratum(), 3);
        assert_eq!(p.poll(), 6);
        assert_eq!(p.precision(), -23);
        assert_eq!(p.leap(), LeapIndicator::NoWarning);
        assert_eq!(p.ref_id(), RefId::from_bytes([127, 0, 0, 2]));
        assert_eq!(p.origin_timestamp().to_bits(), 0x1122_3344_5566_7788);
        assert_eq!(p.receive_timestamp(), rx);
        assert_eq!(p.transmit_timestamp(), tx);
        assert_eq!(p.reference_timestamp(), NtpTimestamp::from_parts(1000, 0));
        assert_eq!(p.root_delay().to_bits(), 0x0000_4000);
        assert_eq!(p.root_dispersion().to_bits(), 0x0000_8000);
        assert_eq!(server.stats().answered, 1);
    }

    #[test]
    fn version_is_echoed() {
        for v in 1..=4u8 {
            let mut server = Server::new();
            let mode = if v == 1 { 0 } else { 3 };
            let mut buf = [0u8; 48];
            let p = server
                .respond(
                    &request(v, mode, 1),
                    NtpTimestamp::ZERO,
                    &synced(),
                    &mut buf,
                )
                .unwrap();
            let out = p.finish(&mut buf, NtpTimestamp::ZERO);
            assert_eq!(out[0] >> 3 & 7, v);
            assert_eq!(out[0] & 7, 4);
        }
    }

    #[test]
    fn unsynchronized_answers_leap3_stratum16() {
        let mut server = Server::new();
        let mut buf = [0u8; 48];
        let sys = SystemVars::unsynchronized(-20);
        let p = server
            .respond(&request(4, 3, 9), NtpTimestamp::ZERO, &sys, &mut buf)
            .unwrap();
        let out = p.finish(&mut buf, NtpTimestamp::ZERO);
        assert_eq!(out[0] >> 6, 3);
        assert_eq!(out[1], 16);
    }

    #[test]
    fn response_never_larger_than_request() {
        let mut server = Server::new();
        // A request with a 20-byte MAC trailer (52+16): still a 48-byte answer.
        let mut req = [0u8; 68];
        req[..48].copy_from_slice(&request(4, 3, 5));
        req[48..52].copy_from_slice(&7u32.to_be_bytes());
        let mut buf = [0u8; 128];
        let p = server
            .respond(&req, NtpTimestamp::ZERO, &synced(), &mut buf)
            .unwrap();
        assert!(p.len() <= req.len());
    }

    #[test]
    fn drops_are_counted_by_reason() {
        let mut server = Server::new();
        let sys = synced();
        let mut buf = [0u8; 48];
        let mut kod = request(4, 4, 1);
        kod[0] |= 0xC0;
        kod[1] = 0;
        kod[12..16].copy_from_slice(b"RATE");
        let cases: [(&[u8], DropReason); 8] = [
            (&[0u8; 47], DropReason::Truncated),
            (&request(0, 3, 1), DropReason::BadVersion),
            (&request(5, 3, 1), DropReason::BadVersion),
            (&request(4, 0, 1), DropReason::ModeReserved),
            (&request(4, 4, 1), DropReason::ModeServer),
            (&kod, DropReason::KissOfDeath),
            (&request(4, 1, 1), DropReason::ModeUnsupported),
            (&request(2, 6, 1), DropReason::Control),
        ];
        for (bytes, reason) in cases {
            let before = server.stats().dropped_for(reason);
            let got = server.respond(bytes, NtpTimestamp::ZERO, &sys, &mut buf);
            assert_eq!(got.unwrap_err(), reason, "{reason:?}");
            assert_eq!(server.stats().dropped_for(reason), before + 1, "{reason:?}");
        }
        assert_eq!(server.stats().answered, 0);
        assert_eq!(server.stats().dropped_total(), 8);
        // A buffer too small is a drop, not a panic.
        let mut tiny = [0u8; 10];
        let got = server.respond(&request(4, 3, 1), NtpTimestamp::ZERO, &sys, &mut tiny);
        assert_eq!(got.unwrap_err(), DropReason::NoBuffer);
    }
}
