//! Simulated network paths and servers. Servers answer through slew's own
//! [`Server`](crate::server::Server), so the client is tested against the server
//! code that ships.

use core::convert::Infallible;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use heapless::Vec;

use crate::clock::LeapIndicator;
use crate::server::Server;
use crate::system::SystemVars;
use crate::time::{NtpDuration, NtpShort, NtpTimestamp, PollInterval};
use crate::transport::Transport;
use crate::wire::{Mode, Packet, RefId, Repr, HEADER_LEN};

use super::rng::SimRng;

/// One direction-symmetric network path between the client and a server.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathConfig {
    /// Fixed one-way delay, seconds.
    pub base_delay_s: f64,
    /// Mean of the exponential queueing delay added in each direction, seconds.
    pub jitter_mean_s: f64,
    /// Extra delay on the way to the server only, seconds (asymmetry: biases the
    /// measured offset by half of it, which no client can see).
    pub asymmetry_s: f64,
    /// Probability that a packet is lost, each direction.
    pub loss: f64,
    /// A window [from, until) of true time in which every packet is lost.
    pub outage: Option<(f64, f64)>,
}

impl Default for PathConfig {
    /// The reference path: 1 ms one way plus exponential jitter of mean 1 ms.
    fn default() -> Self {
        Self {
            base_delay_s: 0.001,
            jitter_mean_s: 0.001,
            asymmetry_s: 0.0,
            loss: 0.0,
            outage: None,
        }
    }
}

/// How a simulated server behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behaviour {
    /// A good stratum-1 server.
    Good,
    /// A server whose clock is `offset_s` wrong (and does not know it).
    Falseticker {
        /// Its error, seconds.
        offset_s: f64,
    },
    /// Restarted: answers unsynchronised (leap 3, stratum 16) in [from, until).
    UnsyncWindow {
        /// Start, true seconds.
        from_s: f64,
        /// End, true seconds.
        until_s: f64,
    },
    /// Answers at stratum 0 with leap 0 in [from, until): not a kiss (that needs
    /// leap 3), not a usable answer either (RFC 5905: stratum 0 is "unspecified or
    /// invalid").
    Stratum0Window {
        /// Start, true seconds.
        from_s: f64,
        /// End, true seconds.
        until_s: f64,
    },
    /// From `from_s` on, answers every request with this kiss code.
    Kiss {
        /// RATE, DENY, RSTR…
        code: RefId,
        /// Start, true seconds.
        from_s: f64,
    },
}

/// A simulated server and the path to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServerSpec {
    /// Network path.
    pub path: PathConfig,
    /// Behaviour.
    pub behaviour: Behaviour,
    /// Stratum it serves at (1: a reference clock).
    pub stratum: u8,
    /// The client configures this server `prefer` (on top of the scenario's source
    /// configuration).
    pub prefer: bool,
    /// The client configures this server `noselect`.
    pub noselect: bool,
}

impl ServerSpec {
    /// A good stratum-1 server on the reference path.
    pub fn good() -> Self {
        Self {
            path: PathConfig::default(),
            behaviour: Behaviour::Good,
            stratum: 1,
            prefer: false,
            noselect: false,
        }
    }
}

/// The simulated address of server `i`.
pub fn server_addr(i: usize) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(10, 0, 0, 1 + (i as u8)),
        123,
    ))
}

/// A packet on the wire.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InFlight {
    pub arrive_s: f64,
    pub server: usize,
    pub to_server: bool,
    pub bytes: [u8; HEADER_LEN],
}

/// The client's side of the network: what it sends is collected here.
#[derive(Debug, Default)]
pub struct SimNet {
    pub(crate) outbox: Vec<(SocketAddr, [u8; HEADER_LEN]), 16>,
}

impl Transport for SimNet {
    type Error = Infallible;
    fn send(&mut self, to: SocketAddr, bytes: &[u8]) -> Result<(), Infallible> {
        let mut b = [0u8; HEADER_LEN];
        let n = bytes.len().min(HEADER_LEN);
        b[..n].copy_from_slice(&bytes[..n]);
        // A full outbox drops the packet, like a full socket buffer.
        let _ = self.outbox.push((to, b));
        Ok(())
    }
}

/// One-way delay for a packet sent at `t_s`, or `None` if it is lost.
pub(crate) fn one_way(
    path: &PathConfig,
    t_s: f64,
    outbound: bool,
    rng: &mut SimRng,
) -> Option<f64> {
    let jitter = rng.exponential(path.jitter_mean_s);
    let lost = rng.uniform() < path.loss;
    if lost || path.outage.is_some_and(|(a, b)| t_s >= a && t_s < b) {
        return None;
    }
    let asym = if outbound { path.asymmetry_s } else { 0.0 };
    Some(path.base_delay_s + jitter + asym)
}

/// The answer of server `spec` to `request`, received at true time `true_rx`
/// (`t_s` seconds into the run). `None`: no answer.
pub(crate) fn answer(
    spec: &ServerSpec,
    server: &mut Server,
    request: &[u8],
    true_rx: NtpTimestamp,
    t_s: f64,
) -> Option<[u8; HEADER_LEN]> {
    let own_offset = match spec.behaviour {
        Behaviour::Falseticker { offset_s } => offset_s,
        _ => 0.0,
    };
    let rx = true_rx + NtpDuration::from_seconds_f64(own_offset);
    let mut out = [0u8; HEADER_LEN];
    if let Behaviour::Kiss { code, from_s } = spec.behaviour {
        if t_s >= from_s {
            let req = Packet::new_checked(request).ok()?;
            let repr = Repr {
                leap: LeapIndicator::Unsynchronized,
                version: 4,
                mode: Mode::Server,
                stratum: 0,
                // A RATE kiss says how often the server is willing to be asked.
                poll: 10,
                precision: -20,
                root_delay: NtpShort::ZERO,
                root_dispersion: NtpShort::ZERO,
                ref_id: code,
                reference_timestamp: NtpTimestamp::ZERO,
                origin_timestamp: req.transmit_timestamp(),
                receive_timestamp: rx,
                transmit_timestamp: rx,
            };
            repr.emit(&mut Packet::new_unchecked(&mut out[..]));
            return Some(out);
        }
    }
    let within = |from_s: f64, until_s: f64| t_s >= from_s && t_s < until_s;
    let (unsync, stratum) = match spec.behaviour {
        Behaviour::UnsyncWindow { from_s, until_s } => (within(from_s, until_s), spec.stratum),
        Behaviour::Stratum0Window { from_s, until_s } if within(from_s, until_s) => (false, 0),
        _ => (false, spec.stratum),
    };
    let sys = if unsync {
        SystemVars::unsynchronized(-20)
    } else {
        SystemVars {
            leap: LeapIndicator::NoWarning,
            stratum,
            precision: -20,
            root_delay: NtpDuration::ZERO,
            root_dispersion: NtpDuration::from_seconds_f64(0.0001),
            ref_id: RefId::GPS,
            reference_time: rx,
            poll: PollInterval::DEFAULT_MIN,
        }
    };
    let pending = server.respond(request, rx, &sys, &mut out).ok()?;
    // 20 µs between receive and transmit stamps, as on a quiet server.
    let tx = rx + NtpDuration::from_seconds_f64(20e-6);
    let _ = pending.finish(&mut out, tx);
    Some(out)
}
