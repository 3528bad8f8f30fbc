//! One-shot queries of NTP servers (the `ntpdate -q` habit): send a few client
//! requests to each server, check each answer, and explain every server that cannot be
//! used.
//!
//! Offsets are exact at any size. Our own clock is read at full width
//! (`clock_gettime`, Unix nanoseconds in an `i128`), and the server's era-less
//! timestamps are resolved in the era window that starts at [`BASEDATE_UNIX_S`]
//! (1976-01-01 to 2112-02-07), never against our own possibly broken clock. So a
//! clock in 1970, or 2^31, 2^32, 2^35 s off, is measured right, as long as the
//! *server's* time lies in that window.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use slew_core::wire::{KissCode, Mode, Packet, RefId, Repr};
use slew_core::{LeapIndicator, NtpShort, NtpTimestamp, WideDuration};

use crate::os::net::NtpSocket;
pub use crate::os::time::BASEDATE_UNIX_S;
use crate::os::time::{realtime_unix_ns, unix_ns_to_ntp};

/// The NTP port.
pub const NTP_PORT: u16 = 123;

/// How to query.
#[derive(Clone, Debug)]
pub struct QueryOptions {
    /// Samples per server (ntpdate's `-p`, 1..=8).
    pub samples: u32,
    /// How long to wait for each answer.
    pub timeout: Duration,
    /// Pause between rounds of requests.
    pub interval: Duration,
    /// NTP version of the requests.
    pub version: u8,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            samples: 4,
            timeout: Duration::from_secs(1),
            interval: Duration::from_millis(250),
            version: 4,
        }
    }
}

/// One good exchange with a server.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Server clock minus ours: ((T2 - T1) + (T3 - T4)) / 2, at full width.
    pub offset: WideDuration,
    /// Round trip less the server's processing: (T4 - T1) - (T3 - T2).
    pub delay: WideDuration,
    /// The answer's header.
    pub repr: Repr,
}

impl Sample {
    /// Root distance of this sample: how far off the server's time could be, as
    /// RFC 5905 §11.2 bounds it (without the age term, the sample is fresh).
    pub fn root_distance_s(&self) -> f64 {
        let root_delay = self.repr.root_delay.to_seconds_f64();
        let root_disp = self.repr.root_dispersion.to_seconds_f64();
        (self.delay.to_seconds_f64().max(0.0) + root_delay) / 2.0 + root_disp
    }
}

/// Why a server's answers cannot be used.
#[derive(Clone, Debug, PartialEq)]
pub enum Unusable {
    /// The name did not resolve.
    Resolve(ResolveError),
    /// No answer within the timeout.
    NoResponse,
    /// Leap 3 or stratum 16: the server itself has no time.
    NotSynchronized {
        /// Its stratum.
        stratum: u8,
        /// Its leap indicator.
        leap: LeapIndicator,
    },
    /// A kiss-o'-death.
    Kiss(KissCode),
    /// Root distance above the limit.
    TooFar {
        /// The distance, seconds.
        distance_s: f64,
    },
    /// The request could not be sent.
    Send(String),
    /// Something answered, but not with an answer to our request.
    Bogus(Bogus),
}

/// An answer that is not an answer to our request: ignored (RFC 5905's bogus
/// tests), and named if nothing better comes.
#[derive(Clone, Debug, PartialEq)]
pub enum Bogus {
    /// Shorter than the 48-byte header.
    TooShort {
        /// Its length, bytes.
        len: usize,
    },
    /// Long enough, but not an NTP packet we can read.
    Malformed {
        /// Its length, bytes.
        len: usize,
        /// What is wrong.
        why: slew_core::wire::Error,
    },
    /// Not in server mode.
    WrongMode(Mode),
    /// The origin timestamp is not our request's transmit timestamp.
    WrongOrigin,
    /// A zero receive or transmit timestamp.
    ZeroTimestamps,
}

/// The name of a mode, for messages.
fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Reserved => "reserved",
        Mode::SymmetricActive => "symmetric active",
        Mode::SymmetricPassive => "symmetric passive",
        Mode::Client => "client",
        Mode::Server => "server",
        Mode::Broadcast => "broadcast",
        Mode::Control => "control",
        Mode::Private => "private",
    }
}

impl fmt::Display for Bogus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { len } => write!(
                f,
                "answered with a {len}-byte datagram: too short (an NTP header is 48 bytes)"
            ),
            Self::Malformed { len, why } => {
                write!(
                    f,
                    "answered with a {len}-byte datagram that is not NTP: {why}"
                )
            }
            Self::WrongMode(m) => write!(
                f,
                "answered in mode {} ({}), not mode 4 (server)",
                m.to_bits(),
                mode_name(*m)
            ),
            Self::WrongOrigin => f.write_str(
                "answer's origin timestamp does not match our request (stale or spoofed)",
            ),
            Self::ZeroTimestamps => f.write_str("answer has a zero receive or transmit timestamp"),
        }
    }
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Resolve(e) => write!(f, "cannot resolve the name: {e}"),
            Self::NoResponse => write!(f, "no response (is a server running on that address and port?)"),
            Self::NotSynchronized { stratum, leap } if *stratum >= 16 => write!(
                f,
                "stratum {stratum}, server is not synchronised (leap {}): it has no time source yet; wait for it to synchronise, or give it a local clock (server 127.127.1.0 + fudge 127.127.1.0 stratum 10)",
                leap.to_bits()
            ),
            Self::NotSynchronized { stratum, leap } => write!(
                f,
                "leap indicator {} (alarm) at stratum {stratum}, server is not synchronised",
                leap.to_bits()
            ),
            Self::Kiss(code) => write!(f, "kiss code {code}: the server refuses to serve us"),
            Self::TooFar { distance_s } => write!(
                f,
                "root distance {distance_s:.3} s is above the 1.5 s limit: its time is too uncertain"
            ),
            Self::Send(e) => write!(f, "cannot send: {e}"),
            Self::Bogus(b) => write!(f, "{b}; ignored, and no valid answer came"),
        }
    }
}

/// The largest root distance a server may have to be usable (ntpd's MAXDISTANCE).
pub const MAX_DISTANCE_S: f64 = 1.5;

/// What came of querying one server.
#[derive(Clone, Debug)]
pub struct ServerReport {
    /// The name as given.
    pub name: String,
    /// The resolved address.
    pub addr: Option<SocketAddr>,
    /// Good samples.
    pub samples: Vec<Sample>,
    /// The last reason an answer was refused, if any.
    pub problem: Option<Unusable>,
    /// Answers that did not match our request (wrong origin, mode): ignored.
    pub bogus: u32,
    /// What the last of them was.
    pub last_bogus: Option<Bogus>,
}

impl ServerReport {
    /// The sample with the smallest delay: the least disturbed by the network.
    pub fn best(&self) -> Option<&Sample> {
        self.samples.iter().min_by(|a, b| a.delay.cmp(&b.delay))
    }

    /// Why this server cannot be used, or `None` if it can.
    pub fn unusable(&self) -> Option<Unusable> {
        match self.best() {
            Some(s) if s.root_distance_s() > MAX_DISTANCE_S => Some(Unusable::TooFar {
                distance_s: s.root_distance_s(),
            }),
            Some(_) => None,
            None => Some(self.problem.clone().unwrap_or(Unusable::NoResponse)),
        }
    }
}

/// A bound socket, or why there is none.
fn split(r: std::io::Result<NtpSocket>) -> (Option<NtpSocket>, String) {
    match r {
        Ok(s) => (Some(s), String::new()),
        Err(e) => (None, e.to_string()),
    }
}

/// Why a server's name gave no address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// The resolver failed (getaddrinfo's message as the system gives it).
    Lookup {
        /// Its kind.
        kind: std::io::ErrorKind,
        /// Its text ("Name or service not known").
        message: String,
    },
    /// The name resolved to no address.
    NoAddress,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lookup { message, .. } => f.write_str(message),
            Self::NoAddress => f.write_str("no address"),
        }
    }
}

impl std::error::Error for ResolveError {}

impl From<std::io::Error> for ResolveError {
    fn from(e: std::io::Error) -> Self {
        Self::Lookup {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// Parses `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address and resolves it.
pub fn resolve(target: &str) -> Result<SocketAddr, ResolveError> {
    if let Ok(sa) = target.parse::<SocketAddr>() {
        return Ok(sa);
    }
    if let Ok(ip) = target.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, NTP_PORT));
    }
    let with_port = if target
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        target.to_string()
    } else {
        format!("{target}:{NTP_PORT}")
    };
    with_port
        .to_socket_addrs()?
        .next()
        .ok_or(ResolveError::NoAddress)
}

struct Outstanding {
    /// The transmit timestamp as sent (the answer's origin must match it).
    sent: NtpTimestamp,
    /// The same instant at full width, Unix nanoseconds.
    sent_unix_ns: i128,
}

/// Queries every target `opts.samples` times and reports on each.
pub fn query(targets: &[String], opts: &QueryOptions) -> Vec<ServerReport> {
    let mut reports: Vec<ServerReport> = targets
        .iter()
        .map(|name| {
            let resolved = resolve(name);
            ServerReport {
                name: name.clone(),
                addr: resolved.as_ref().ok().copied(),
                samples: Vec::new(),
                problem: resolved.err().map(Unusable::Resolve),
                bogus: 0,
                last_bogus: None,
            }
        })
        .collect();
    // A family the host lacks leaves its socket out; its servers say why.
    let bind =
        |any: SocketAddr| NtpSocket::bind(any).map_err(|e| crate::os::net::bind_error(&any, &e));
    let (v4, v4_err) = split(bind(SocketAddr::from(([0, 0, 0, 0], 0))));
    let (v6, v6_err) = split(bind(SocketAddr::from(([0u16; 8], 0))));
    let mut buf = [0u8; 1024];
    for round in 0..opts.samples.max(1) {
        if round > 0 {
            std::thread::sleep(opts.interval);
        }
        let mut outstanding: Vec<Option<Outstanding>> = Vec::with_capacity(reports.len());
        for report in reports.iter_mut() {
            let Some(addr) = report.addr else {
                outstanding.push(None);
                continue;
            };
            let (socket, why) = if addr.is_ipv4() {
                (v4.as_ref(), &v4_err)
            } else {
                (v6.as_ref(), &v6_err)
            };
            let Some(socket) = socket else {
                report.problem = Some(Unusable::Send(why.clone()));
                outstanding.push(None);
                continue;
            };
            let mut request = Repr::client_request(NtpTimestamp::ZERO, 6);
            request.version = opts.version;
            let sent_unix_ns = realtime_unix_ns();
            let sent = unix_ns_to_ntp(sent_unix_ns);
            request.transmit_timestamp = sent;
            let mut bytes = [0u8; 48];
            request.emit(&mut Packet::new_unchecked(&mut bytes[..]));
            match socket.send_to(&bytes, addr) {
                Ok(_) => outstanding.push(Some(Outstanding { sent, sent_unix_ns })),
                Err(e) => {
                    report.problem = Some(Unusable::Send(e.to_string()));
                    outstanding.push(None);
                }
            }
        }
        let deadline = Instant::now() + opts.timeout;
        while outstanding.iter().any(Option::is_some) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let mut fds: Vec<PollFd<'_>> = [v4.as_ref(), v6.as_ref()]
                .into_iter()
                .flatten()
                .map(|s| PollFd::new(std::os::fd::AsFd::as_fd(s), PollFlags::POLLIN))
                .collect();
            let ms = PollTimeout::try_from(left.as_millis().min(60_000) as i32 + 1)
                .unwrap_or(PollTimeout::MAX);
            if poll(&mut fds, ms).is_err() {
                continue;
            }
            for socket in [v4.as_ref(), v6.as_ref()].into_iter().flatten() {
                while let Ok(Some(r)) = socket.recv(&mut buf) {
                    let Some(i) = reports.iter().position(|rep| rep.addr == Some(r.from)) else {
                        continue;
                    };
                    let (Some(report), Some(slot)) = (reports.get_mut(i), outstanding.get_mut(i))
                    else {
                        continue;
                    };
                    let Some(out) = slot.as_ref() else {
                        report.bogus += 1;
                        continue;
                    };
                    let bytes = buf.get(..r.len).unwrap_or_default();
                    let sent = Sent {
                        bits: out.sent,
                        unix_ns: out.sent_unix_ns,
                    };
                    let rx_unix_ns = receive_time_ns(r.rx_time);
                    match check_answer(bytes, sent, rx_unix_ns, BASEDATE_UNIX_S) {
                        Ok(Ok(sample)) => {
                            report.samples.push(sample);
                            *slot = None;
                        }
                        Ok(Err(bogus)) => {
                            report.bogus += 1;
                            report.last_bogus = Some(bogus);
                        }
                        Err(problem) => {
                            report.problem = Some(problem);
                            *slot = None;
                        }
                    }
                }
            }
        }
        for (report, slot) in reports.iter_mut().zip(outstanding.iter()) {
            if slot.is_some() && report.samples.is_empty() && report.problem.is_none() {
                // Something that answered is not "no response": name what came.
                report.problem = Some(match report.last_bogus.clone() {
                    Some(b) => Unusable::Bogus(b),
                    None => Unusable::NoResponse,
                });
            }
        }
    }
    reports
}

/// When an answer arrived, Unix nanoseconds at full width: the kernel's receive
/// stamp, placed by a read of our clock just after. A stamp that is not less than a
/// second old by that read is not of this clock (libfaketime fakes `clock_gettime`,
/// never the kernel's stamps): then the read itself is T4.
fn receive_time_ns(stamp: NtpTimestamp) -> i128 {
    let read_ns = realtime_unix_ns();
    let age_ns = (unix_ns_to_ntp(read_ns) - stamp).to_nanos_i128();
    if (0..1_000_000_000).contains(&age_ns) {
        read_ns - age_ns
    } else {
        read_ns
    }
}

/// When a request left: its transmit timestamp's bits and the same instant at full
/// width.
#[derive(Clone, Copy, Debug)]
pub struct Sent {
    /// The transmit timestamp as sent.
    pub bits: NtpTimestamp,
    /// Unix nanoseconds (`CLOCK_REALTIME` at full width).
    pub unix_ns: i128,
}

/// Checks one answer: `Ok(Err(_))` for a packet that is not the answer to our
/// request (ignored, as RFC 5905's bogus and duplicate tests say, but named),
/// `Err` for a real answer that says the server cannot be used.
///
/// The offset is exact for any size: T1 (`sent`) and T4 (`rx_unix_ns`) are our
/// clock at full width, T2 and T3 are resolved in the era window starting at
/// `basedate_unix_s`.
pub fn check_answer(
    bytes: &[u8],
    sent: Sent,
    rx_unix_ns: i128,
    basedate_unix_s: i64,
) -> Result<Result<Sample, Bogus>, Unusable> {
    let len = bytes.len();
    if len < slew_core::wire::HEADER_LEN {
        return Ok(Err(Bogus::TooShort { len }));
    }
    let repr = match Packet::new_checked(bytes).and_then(|p| Repr::parse(&p)) {
        Ok(r) => r,
        Err(why) => return Ok(Err(Bogus::Malformed { len, why })),
    };
    if repr.mode != Mode::Server {
        return Ok(Err(Bogus::WrongMode(repr.mode)));
    }
    if repr.origin_timestamp != sent.bits {
        return Ok(Err(Bogus::WrongOrigin));
    }
    if repr.stratum == 0 {
        return Err(Unusable::Kiss(repr.ref_id.kiss_code()));
    }
    if repr.leap == LeapIndicator::Unsynchronized || repr.stratum >= 16 {
        return Err(Unusable::NotSynchronized {
            stratum: repr.stratum,
            leap: repr.leap,
        });
    }
    if repr.transmit_timestamp.is_zero() || repr.receive_timestamp.is_zero() {
        return Ok(Err(Bogus::ZeroTimestamps));
    }
    let full = |t: NtpTimestamp| {
        let (s, ns) = t.to_unix_in_window(basedate_unix_s);
        i128::from(s) * 1_000_000_000 + i128::from(ns)
    };
    let t1 = sent.unix_ns;
    let t2 = full(repr.receive_timestamp);
    let t3 = full(repr.transmit_timestamp);
    let t4 = rx_unix_ns;
    let offset = WideDuration::from_nanos((t2 - t1) + (t3 - t4)).half();
    let delay = WideDuration::from_nanos((t4 - t1) - (t3 - t2));
    Ok(Ok(Sample {
        offset,
        delay,
        repr,
    }))
}

/// Picks the server to believe: among the usable ones, the lowest stratum, then the
/// smallest root distance. Returns its index.
pub fn choose(reports: &[ServerReport]) -> Option<usize> {
    reports
        .iter()
        .enumerate()
        .filter(|(_, r)| r.unusable().is_none())
        .filter_map(|(i, r)| r.best().map(|s| (i, s.repr.stratum, s.root_distance_s())))
        .min_by(|a, b| a.1.cmp(&b.1).then(a.2.total_cmp(&b.2)))
        .map(|(i, _, _)| i)
}

/// For display: a refid the way ntpq shows it for the given stratum.
pub fn refid_text(refid: RefId, stratum: u8) -> String {
    format!("{}", refid.display_for_stratum(stratum))
}

/// Short-format helper for reports.
pub fn short_s(v: NtpShort) -> f64 {
    v.to_seconds_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use slew_core::NtpDuration;

    fn answer(sent: NtpTimestamp, stratum: u8, leap: LeapIndicator) -> [u8; 48] {
        answer_at(
            sent,
            sent + NtpDuration::from_seconds_f64(0.5),
            stratum,
            leap,
        )
    }

    fn answer_at(
        sent: NtpTimestamp,
        server: NtpTimestamp,
        stratum: u8,
        leap: LeapIndicator,
    ) -> [u8; 48] {
        let repr = Repr {
            leap,
            version: 4,
            mode: Mode::Server,
            stratum,
            poll: 6,
            precision: -20,
            root_delay: NtpShort::ZERO,
            root_dispersion: NtpShort::from_seconds_f64(0.01),
            ref_id: RefId::LOCL,
            reference_timestamp: server,
            origin_timestamp: sent,
            receive_timestamp: server,
            transmit_timestamp: server,
        };
        let mut b = [0u8; 48];
        repr.emit(&mut Packet::new_unchecked(&mut b[..]));
        b
    }

    fn sent_at(unix_s: i64) -> Sent {
        let unix_ns = i128::from(unix_s) * 1_000_000_000;
        Sent {
            bits: unix_ns_to_ntp(unix_ns),
            unix_ns,
        }
    }

    fn check(
        bytes: &[u8],
        sent: Sent,
        t4: NtpTimestamp,
    ) -> Result<Result<Sample, Bogus>, Unusable> {
        // T4 as a short span after T1, placed at full width.
        let t4_ns = sent.unix_ns + (t4 - sent.bits).to_nanos_i128();
        check_answer(bytes, sent, t4_ns, BASEDATE_UNIX_S)
    }

    #[test]
    fn offset_and_delay_from_four_timestamps() {
        let sent = sent_at(1_800_000_000);
        let t4 = sent.bits + NtpDuration::from_seconds_f64(0.002);
        let s = check(&answer(sent.bits, 2, LeapIndicator::NoWarning), sent, t4)
            .unwrap()
            .unwrap();
        // Server 0.5 s ahead, 2 ms round trip: offset 0.499 s, delay 2 ms.
        assert!((s.offset.to_seconds_f64() - 0.499).abs() < 1e-6);
        assert!((s.delay.to_seconds_f64() - 0.002).abs() < 1e-6);
    }

    #[test]
    fn offsets_of_any_size_are_exact() {
        // The server at a true time in 2026, and in 2040 (past the era boundary);
        // our clock 1970 (56 years behind), and ±2^31, ±2^32, ±2^35 s away.
        for server_unix in [1_780_000_000i64, 2_208_988_800] {
            for off in [
                server_unix,
                1 << 31,
                -(1 << 31),
                1 << 32,
                -(1 << 32),
                1 << 35,
                -(1 << 35),
            ] {
                let sent = sent_at(server_unix - off);
                let server = unix_ns_to_ntp(i128::from(server_unix) * 1_000_000_000);
                let t4 = sent.bits + NtpDuration::from_seconds_f64(0.002);
                let s = check(
                    &answer_at(sent.bits, server, 2, LeapIndicator::NoWarning),
                    sent,
                    t4,
                )
                .unwrap()
                .unwrap();
                // 1 ms of the 2 ms round trip is on the way back.
                let want = i128::from(off) * 1_000_000_000 - 1_000_000;
                assert_eq!(
                    s.offset.to_nanos(),
                    want,
                    "server {server_unix}, offset {off}"
                );
                assert_eq!(s.delay.to_nanos(), 2_000_000);
            }
        }
    }

    #[test]
    fn unsynchronised_and_kod_are_explained() {
        let sent = sent_at(1_800_000_000);
        let t1 = sent.bits;
        let e = check(&answer(t1, 16, LeapIndicator::Unsynchronized), sent, t1).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("stratum 16, server is not synchronised"));
        let mut kod = answer(t1, 0, LeapIndicator::Unsynchronized);
        kod[12..16].copy_from_slice(b"RATE");
        let e = check(&kod, sent, t1).unwrap_err();
        assert_eq!(e, Unusable::Kiss(KissCode::Rate));
        assert!(e.to_string().starts_with("kiss code RATE:"), "{e}");
        kod[12..16].copy_from_slice(&[27, b'[', b'2', b'J']);
        let e = check(&kod, sent, t1).unwrap_err().to_string();
        assert!(e.starts_with("kiss code \\x1b[2J:"), "{e}");
        assert!(!e.contains('\u{1b}'));
    }

    #[test]
    fn bogus_answers_are_ignored_and_named() {
        let sent = sent_at(1_800_000_000);
        let t1 = sent.bits;
        let other = t1 + NtpDuration::from_seconds(1);
        let bogus = |bytes: &[u8]| check(bytes, sent, t1).unwrap().unwrap_err().to_string();
        assert_eq!(
            bogus(&answer(other, 2, LeapIndicator::NoWarning)),
            "answer's origin timestamp does not match our request (stale or spoofed)"
        );
        assert_eq!(
            bogus(&[1u8; 12]),
            "answered with a 12-byte datagram: too short (an NTP header is 48 bytes)"
        );
        let mut client = answer(t1, 2, LeapIndicator::NoWarning);
        client[0] = (client[0] & !0b111) | 3;
        assert_eq!(
            bogus(&client),
            "answered in mode 3 (client), not mode 4 (server)"
        );
        let mut v0 = answer(t1, 2, LeapIndicator::NoWarning);
        v0[0] &= !0b0011_1000;
        assert!(bogus(&v0).contains("48-byte datagram that is not NTP"));
    }

    #[test]
    fn resolve_forms() {
        assert_eq!(
            resolve("127.0.0.1").unwrap(),
            "127.0.0.1:123".parse().unwrap()
        );
        assert_eq!(
            resolve("127.0.0.1:12300").unwrap(),
            "127.0.0.1:12300".parse().unwrap()
        );
        assert_eq!(resolve("::1").unwrap(), "[::1]:123".parse().unwrap());
        assert_eq!(resolve("[::1]:5").unwrap(), "[::1]:5".parse().unwrap());
        assert_eq!(resolve("localhost:9").unwrap().port(), 9);
        let e = resolve("no-such-host.invalid").unwrap_err();
        assert!(matches!(e, ResolveError::Lookup { .. }), "{e:?}");
        assert!(!e.to_string().is_empty());
    }

    #[test]
    fn no_response_is_reported() {
        // A bound socket nobody answers on: a port we hold but never read.
        let silent = NtpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let opts = QueryOptions {
            samples: 1,
            timeout: Duration::from_millis(200),
            ..Default::default()
        };
        let reports = query(&[silent.local_addr().to_string()], &opts);
        assert_eq!(reports[0].unusable(), Some(Unusable::NoResponse));
        assert_eq!(choose(&reports), None);
    }
}
