//! One-shot queries of NTP servers (the `ntpdate -q` habit): send a few client
//! requests to each server, check each answer, and explain every server that cannot be
//! used.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use slew_core::wire::{KissCode, Mode, Packet, RefId, Repr};
use slew_core::{LeapIndicator, NtpDuration, NtpShort, NtpTimestamp};

use crate::net::NtpSocket;
use crate::time::realtime_now;

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
    /// Server clock minus ours: ((T2 - T1) + (T3 - T4)) / 2.
    pub offset: NtpDuration,
    /// Round trip less the server's processing: (T4 - T1) - (T3 - T2).
    pub delay: NtpDuration,
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
    Resolve(String),
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
            Self::Kiss(code) => write!(f, "kiss-o'-death {code:?}: the server refuses to serve us"),
            Self::TooFar { distance_s } => write!(
                f,
                "root distance {distance_s:.3} s is above the 1.5 s limit: its time is too uncertain"
            ),
            Self::Send(e) => write!(f, "cannot send: {e}"),
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

/// Parses `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address and resolves it.
pub fn resolve(target: &str) -> Result<SocketAddr, String> {
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
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| "no address".to_string())
}

struct Outstanding {
    sent: NtpTimestamp,
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
            }
        })
        .collect();
    // A family the host lacks leaves its socket out; its servers say why.
    let bind = |any: SocketAddr| NtpSocket::bind(any).map_err(|e| crate::net::bind_error(&any, &e));
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
            let sent = realtime_now();
            request.transmit_timestamp = sent;
            let mut bytes = [0u8; 48];
            request.emit(&mut Packet::new_unchecked(&mut bytes[..]));
            match socket.send_to(&bytes, addr) {
                Ok(_) => outstanding.push(Some(Outstanding { sent })),
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
                    match check_answer(buf.get(..r.len).unwrap_or_default(), out.sent, r.rx_time) {
                        Ok(Some(sample)) => {
                            report.samples.push(sample);
                            *slot = None;
                        }
                        Ok(None) => report.bogus += 1,
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
                report.problem = Some(Unusable::NoResponse);
            }
        }
    }
    reports
}

/// Checks one answer: `Ok(None)` for a packet that is not the answer to our request
/// (ignored, as RFC 5905's bogus and duplicate tests say), `Err` for a real answer
/// that says the server cannot be used.
pub fn check_answer(
    bytes: &[u8],
    sent: NtpTimestamp,
    rx_time: NtpTimestamp,
) -> Result<Option<Sample>, Unusable> {
    let Ok(packet) = Packet::new_checked(bytes) else {
        return Ok(None);
    };
    let Ok(repr) = Repr::parse(&packet) else {
        return Ok(None);
    };
    if repr.mode != Mode::Server || repr.origin_timestamp != sent {
        return Ok(None);
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
        return Ok(None);
    }
    let t1 = sent;
    let t2 = repr.receive_timestamp;
    let t3 = repr.transmit_timestamp;
    let t4 = rx_time;
    let offset = ((t2 - t1) + (t3 - t4)).half();
    let delay = (t4 - t1) - (t3 - t2);
    Ok(Some(Sample {
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

    fn answer(sent: NtpTimestamp, stratum: u8, leap: LeapIndicator) -> [u8; 48] {
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
            reference_timestamp: sent,
            origin_timestamp: sent,
            receive_timestamp: sent + NtpDuration::from_seconds_f64(0.5),
            transmit_timestamp: sent + NtpDuration::from_seconds_f64(0.5),
        };
        let mut b = [0u8; 48];
        repr.emit(&mut Packet::new_unchecked(&mut b[..]));
        b
    }

    #[test]
    fn offset_and_delay_from_four_timestamps() {
        let t1 = NtpTimestamp::from_unix(1_800_000_000, 0);
        let t4 = t1 + NtpDuration::from_seconds_f64(0.002);
        let s = check_answer(&answer(t1, 2, LeapIndicator::NoWarning), t1, t4)
            .unwrap()
            .unwrap();
        // Server 0.5 s ahead, 2 ms round trip: offset 0.499 s, delay 2 ms.
        assert!((s.offset.to_seconds_f64() - 0.499).abs() < 1e-6);
        assert!((s.delay.to_seconds_f64() - 0.002).abs() < 1e-6);
    }

    #[test]
    fn unsynchronised_and_kod_are_explained() {
        let t1 = NtpTimestamp::from_unix(1_800_000_000, 0);
        let e = check_answer(&answer(t1, 16, LeapIndicator::Unsynchronized), t1, t1).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("stratum 16, server is not synchronised"));
        let mut kod = answer(t1, 0, LeapIndicator::Unsynchronized);
        kod[12..16].copy_from_slice(b"RATE");
        assert_eq!(
            check_answer(&kod, t1, t1).unwrap_err(),
            Unusable::Kiss(KissCode::Rate)
        );
    }

    #[test]
    fn wrong_origin_is_ignored_not_fatal() {
        let t1 = NtpTimestamp::from_unix(1_800_000_000, 0);
        let other = t1 + NtpDuration::from_seconds(1);
        assert!(
            check_answer(&answer(other, 2, LeapIndicator::NoWarning), t1, t1)
                .unwrap()
                .is_none()
        );
        assert!(check_answer(&[1, 2, 3], t1, t1).unwrap().is_none());
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
        assert!(resolve("no-such-host.invalid").is_err());
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
