//! The pieces of `slew-load`, the open-loop load generator: request nonces, the
//! response checker, and the tallies (counts and a latency histogram) it reports.
//!
//! Every request carries a unique transmit timestamp (the *nonce*) that a server must
//! echo as the origin timestamp of its answer. The nonce encodes the request's sequence
//! number and the microsecond it was sent, XORed with a per-run key, so the receiver
//! needs no shared table: it decodes the origin, checks that the sequence number was
//! really sent and not answered before, and takes the latency from the send time.

use std::net::SocketAddr;

pub mod nts;

use slew_core::wire::{Mode, Packet, Repr, HEADER_LEN};
use slew_core::NtpTimestamp;

/// Latencies up to this many microseconds are kept at 1 µs resolution; longer ones
/// land in one overflow bucket (the exact maximum is kept separately).
pub const HISTOGRAM_US: usize = 100_000;

/// Encodes sequence number `seq` (low 32 bits used) and send time `sent_us`
/// (microseconds since the run started, low 32 bits used) under `key`.
pub fn nonce(key: u64, seq: u64, sent_us: u64) -> u64 {
    ((seq & 0xFFFF_FFFF) << 32 | (sent_us & 0xFFFF_FFFF)) ^ key
}

/// The inverse of [`nonce`]: `(seq, sent_us)`.
pub fn decode(key: u64, origin: u64) -> (u64, u64) {
    let v = origin ^ key;
    (v >> 32, v & 0xFFFF_FFFF)
}

/// Writes a version 4 mode 3 request carrying `nonce` as its transmit timestamp.
pub fn build_request(buf: &mut [u8; HEADER_LEN], nonce: u64) {
    let repr = Repr::client_request(NtpTimestamp::from_bits(nonce), 6);
    repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
}

/// Why a response was not counted as an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bad {
    /// Shorter than an NTP header, or otherwise unparsable.
    Malformed,
    /// Not mode 4 (server).
    NotServerMode,
    /// A kiss-o'-death (stratum 0).
    Kiss,
    /// Stratum 16 or leap 3: the server is not synchronised.
    Unsynchronised,
    /// The origin timestamp is not one of our requests.
    UnknownOrigin,
    /// A second answer to the same request.
    Duplicate,
    /// From an address other than the server's.
    WrongServer,
    /// `--nts`: not an NTS answer to our request, or its authenticator does not
    /// verify.
    NtsUnverified,
}

impl Bad {
    /// Every reason, in counter order.
    pub const ALL: [Bad; 8] = [
        Bad::Malformed,
        Bad::NotServerMode,
        Bad::Kiss,
        Bad::Unsynchronised,
        Bad::UnknownOrigin,
        Bad::Duplicate,
        Bad::WrongServer,
        Bad::NtsUnverified,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Bad::Malformed => "malformed",
            Bad::NotServerMode => "not-mode-4",
            Bad::Kiss => "kiss",
            Bad::Unsynchronised => "unsynchronised",
            Bad::UnknownOrigin => "unknown-origin",
            Bad::Duplicate => "duplicate",
            Bad::WrongServer => "wrong-server",
            Bad::NtsUnverified => "nts-unverified",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Checks one response. `sent` is how many requests were sent so far (sequence
/// numbers below it are ours), `answered` the bitmap of sequence numbers already
/// answered (updated on success). Returns `(seq, sent_us)` of the request answered.
pub fn check_response(
    bytes: &[u8],
    from: SocketAddr,
    server: SocketAddr,
    key: u64,
    sent: u64,
    answered: &mut Bitmap,
) -> Result<(u64, u64), Bad> {
    if from != server {
        return Err(Bad::WrongServer);
    }
    let packet = Packet::new_checked(bytes).map_err(|_| Bad::Malformed)?;
    if packet.mode() != Mode::Server {
        return Err(Bad::NotServerMode);
    }
    let stratum = packet.stratum();
    if stratum == 0 {
        return Err(Bad::Kiss);
    }
    if stratum >= 16 || packet.leap() == slew_core::clock::LeapIndicator::Unsynchronized {
        return Err(Bad::Unsynchronised);
    }
    let (seq, sent_us) = decode(key, packet.origin_timestamp().to_bits());
    if seq >= sent {
        return Err(Bad::UnknownOrigin);
    }
    if !answered.set(seq) {
        return Err(Bad::Duplicate);
    }
    Ok((seq, sent_us))
}

/// A fixed bitmap over sequence numbers (bounded by the run's `--count`).
#[derive(Clone, Debug)]
pub struct Bitmap {
    words: Vec<u64>,
}

impl Bitmap {
    /// Room for sequence numbers `0..n`.
    pub fn new(n: u64) -> Self {
        Self {
            words: vec![0; (n as usize).div_ceil(64)],
        }
    }

    /// Sets bit `i`; false when it was already set or is out of range.
    pub fn set(&mut self, i: u64) -> bool {
        let Some(w) = self.words.get_mut((i / 64) as usize) else {
            return false;
        };
        let bit = 1u64 << (i % 64);
        let fresh = *w & bit == 0;
        *w |= bit;
        fresh
    }
}

/// Counts and latencies of one measurement step.
#[derive(Clone, Debug)]
pub struct Tally {
    /// Valid answers.
    pub answered: u64,
    /// Answers to requests of an earlier step (not counted as answered).
    pub late: u64,
    /// Rejected responses, by [`Bad`].
    pub bad: [u64; Bad::ALL.len()],
    histogram: Vec<u32>,
    overflow: u64,
    max_us: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

/// Latency percentiles, microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest seen.
    pub max: u64,
}

impl Tally {
    /// Empty counters.
    pub fn new() -> Self {
        Self {
            answered: 0,
            late: 0,
            bad: [0; Bad::ALL.len()],
            histogram: vec![0; HISTOGRAM_US],
            overflow: 0,
            max_us: 0,
        }
    }

    /// Counts a valid answer with its latency.
    pub fn answer(&mut self, latency_us: u64) {
        self.answered += 1;
        match self.histogram.get_mut(latency_us as usize) {
            Some(c) => *c = c.saturating_add(1),
            None => self.overflow += 1,
        }
        self.max_us = self.max_us.max(latency_us);
    }

    /// Counts a rejected response.
    pub fn reject(&mut self, why: Bad) {
        if let Some(c) = self.bad.get_mut(why.index()) {
            *c += 1;
        }
    }

    /// All rejected responses.
    pub fn bad_total(&self) -> u64 {
        self.bad.iter().sum()
    }

    /// Latency percentiles of the valid answers.
    pub fn percentiles(&self) -> Percentiles {
        let total = self.answered;
        if total == 0 {
            return Percentiles::default();
        }
        let rank = |q: f64| ((total as f64 * q).ceil() as u64).clamp(1, total);
        let targets = [rank(0.50), rank(0.90), rank(0.99)];
        let mut out = [self.max_us; 3];
        let mut seen = 0u64;
        let mut next = 0;
        for (us, &c) in self.histogram.iter().enumerate() {
            seen += u64::from(c);
            while next < targets.len() && targets.get(next).is_some_and(|&t| seen >= t) {
                if let Some(o) = out.get_mut(next) {
                    *o = us as u64;
                }
                next += 1;
            }
            if next == targets.len() {
                break;
            }
        }
        Percentiles {
            p50: out[0],
            p90: out[1],
            p99: out[2],
            max: self.max_us,
        }
    }
}

/// Why `--sources` was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourcesError {
    /// One end of the range is not an IPv4 address.
    BadAddress {
        /// The text as written.
        text: String,
        /// What the parser said.
        source: std::net::AddrParseError,
    },
    /// Backwards, or more than 1024 addresses.
    RangeSize {
        /// The range as written.
        spec: String,
    },
    /// Not inside 127.0.0.0/8.
    NotLoopback {
        /// The range as written.
        spec: String,
    },
}

impl std::fmt::Display for SourcesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadAddress { text, source } => write!(f, "{text}: {source}"),
            Self::RangeSize { spec } => write!(f, "{spec}: give a range of 1 to 1024 addresses"),
            Self::NotLoopback { spec } => {
                write!(
                    f,
                    "{spec}: slew-load only sends from loopback (127.0.0.0/8)"
                )
            }
        }
    }
}

impl std::error::Error for SourcesError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::BadAddress { source, .. } => Some(source),
            Self::RangeSize { .. } | Self::NotLoopback { .. } => None,
        }
    }
}

/// For callers whose own errors are still messages (`slew-load`'s `run`).
impl From<SourcesError> for String {
    fn from(e: SourcesError) -> Self {
        e.to_string()
    }
}

/// Parses `--sources`: `A-B` (an inclusive IPv4 range, at most 1024 addresses) or
/// a single address.
pub fn parse_sources(s: &str) -> Result<Vec<std::net::Ipv4Addr>, SourcesError> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let parse = |text: &str| {
        text.trim()
            .parse::<std::net::Ipv4Addr>()
            .map_err(|source| SourcesError::BadAddress {
                text: text.to_string(),
                source,
            })
    };
    let (a, b) = (parse(a)?, parse(b)?);
    let (lo, hi) = (u32::from(a), u32::from(b));
    if hi < lo || hi - lo >= 1024 {
        return Err(SourcesError::RangeSize { spec: s.into() });
    }
    if !a.is_loopback() || !b.is_loopback() {
        return Err(SourcesError::NotLoopback { spec: s.into() });
    }
    Ok((lo..=hi).map(std::net::Ipv4Addr::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use slew_core::server::Server;
    use slew_core::system::SystemVars;

    fn server() -> SocketAddr {
        "127.0.0.1:12300".parse().unwrap()
    }

    fn answer_to(request: &[u8; HEADER_LEN], sys: &SystemVars) -> Vec<u8> {
        let mut s = Server::new();
        let mut out = [0u8; 64];
        let p = s
            .respond(request, NtpTimestamp::from_bits(1 << 40), sys, &mut out)
            .unwrap();
        p.finish(&mut out, NtpTimestamp::from_bits(2 << 40))
            .to_vec()
    }

    fn synced() -> SystemVars {
        let mut sys = SystemVars::unsynchronized(-20);
        sys.leap = slew_core::clock::LeapIndicator::NoWarning;
        sys.stratum = 11;
        sys
    }

    #[test]
    fn nonce_round_trips() {
        let key = 0xDEAD_BEEF_0BAD_F00D;
        for (seq, us) in [(0, 0), (1, 2), (0xFFFF_FFFF, 0xFFFF_FFFF), (12345, 678)] {
            assert_eq!(decode(key, nonce(key, seq, us)), (seq, us));
        }
        assert_ne!(nonce(key, 1, 0), nonce(key, 2, 0));
    }

    #[test]
    fn a_real_answer_passes_once_then_is_a_duplicate() {
        let key = 42;
        let mut req = [0u8; HEADER_LEN];
        build_request(&mut req, nonce(key, 7, 1000));
        let resp = answer_to(&req, &synced());
        let mut seen = Bitmap::new(100);
        assert_eq!(
            check_response(&resp, server(), server(), key, 8, &mut seen),
            Ok((7, 1000))
        );
        assert_eq!(
            check_response(&resp, server(), server(), key, 8, &mut seen),
            Err(Bad::Duplicate)
        );
    }

    #[test]
    fn wrong_origin_server_mode_and_stratum_are_caught() {
        let key = 42;
        let mut req = [0u8; HEADER_LEN];
        build_request(&mut req, nonce(key, 7, 1000));
        let resp = answer_to(&req, &synced());
        let mut seen = Bitmap::new(100);
        // Not yet sent: sequence 7 when only 5 went out.
        assert_eq!(
            check_response(&resp, server(), server(), key, 5, &mut seen),
            Err(Bad::UnknownOrigin)
        );
        // Another key: the origin decodes to garbage.
        assert_eq!(
            check_response(&resp, server(), server(), key ^ (1 << 63), 8, &mut seen),
            Err(Bad::UnknownOrigin)
        );
        let other: SocketAddr = "127.0.0.2:12300".parse().unwrap();
        assert_eq!(
            check_response(&resp, other, server(), key, 8, &mut seen),
            Err(Bad::WrongServer)
        );
        // Our own request echoed back is mode 3.
        assert_eq!(
            check_response(&req, server(), server(), key, 8, &mut seen),
            Err(Bad::NotServerMode)
        );
        assert_eq!(
            check_response(&resp[..40], server(), server(), key, 8, &mut seen),
            Err(Bad::Malformed)
        );
        // An unsynchronised server (stratum 16, leap 3).
        let unsync = answer_to(&req, &SystemVars::unsynchronized(-20));
        assert_eq!(
            check_response(&unsync, server(), server(), key, 8, &mut seen),
            Err(Bad::Unsynchronised)
        );
        // A kiss: stratum 0.
        let mut kiss = resp.clone();
        kiss[1] = 0;
        assert_eq!(
            check_response(&kiss, server(), server(), key, 8, &mut seen),
            Err(Bad::Kiss)
        );
        // None of the failures marked the request answered.
        assert_eq!(
            check_response(&resp, server(), server(), key, 8, &mut seen),
            Ok((7, 1000))
        );
    }

    #[test]
    fn percentiles_from_the_histogram() {
        let mut t = Tally::new();
        for us in 1..=100 {
            t.answer(us);
        }
        t.answer(HISTOGRAM_US as u64 + 5);
        let p = t.percentiles();
        assert_eq!((p.p50, p.p90, p.p99), (51, 91, 100));
        assert_eq!(p.max, HISTOGRAM_US as u64 + 5);
        assert_eq!(Tally::new().percentiles(), Percentiles::default());
    }

    #[test]
    fn sources_are_loopback_ranges() {
        let v = parse_sources("127.1.0.1-127.1.0.64").unwrap();
        assert_eq!(v.len(), 64);
        assert_eq!(v[63], std::net::Ipv4Addr::new(127, 1, 0, 64));
        assert_eq!(parse_sources("127.0.0.1").unwrap().len(), 1);
        assert!(matches!(
            parse_sources("10.0.0.1-10.0.0.2"),
            Err(SourcesError::NotLoopback { .. })
        ));
        assert!(matches!(
            parse_sources("127.0.0.9-127.0.0.1"),
            Err(SourcesError::RangeSize { .. })
        ));
        let e = parse_sources("127.0.0.x").unwrap_err();
        assert!(matches!(e, SourcesError::BadAddress { .. }));
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(e.to_string(), "127.0.0.x: invalid IPv4 address syntax");
    }
}
