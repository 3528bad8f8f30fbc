//! A deterministic simulator that drives real [`Node`]s through the same
//! [`Clock`](crate::Clock) and [`Transport`](crate::Transport) traits the ports use:
//! a client clock with an offset, a frequency error and random-walk wander; network
//! paths with delay, exponential jitter, asymmetry, loss and outages; servers that
//! are good, falsetickers, unsynchronised (or at stratum 0) for a while, or send
//! kisses of death.
//!
//! Everything is seeded; the same scenario gives the same numbers on every machine.
//! Time advances from event to event (the node's deadline, the next packet, the next
//! record), so hours of simulated time take milliseconds. No std, no alloc.

mod clock;
pub mod gps;
mod net;
mod rng;
pub mod scenario;

pub use clock::SimClock;
pub use gps::{GpsSpec, SimGps};
pub use net::{server_addr, Behaviour, PathConfig, ServerSpec, SimNet};
pub use rng::SimRng;
pub use scenario::{ClientSpec, Scenario};

use heapless::Vec;

use crate::node::{run_once_with, Event, Node, Report};
use crate::peer::SourceId;
use crate::server::Server;
use crate::time::{Instant, NtpTimestamp};

use net::InFlight;

/// The rate of the simulated clock's single-shot slew (Linux adjtime's), ppm. The
/// node never uses it; it is there for tools that do.
pub const ADJTIME_RATE_PPM: f64 = 500.0;

/// Most servers a simulation holds.
pub const MAX_SERVERS: usize = 8;

/// One row of the time series (the CSV).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Record {
    /// True time since the start, seconds.
    pub t_s: f64,
    /// Local minus true time, seconds.
    pub offset_s: f64,
    /// Residual frequency error, ppm.
    pub freq_error_ppm: f64,
    /// Discipline state (0 NSET … 4 SYNC).
    pub state: u8,
    /// System poll, log2 s.
    pub poll: i8,
    /// Index of the server that is system peer, if any.
    pub selected: Option<usize>,
    /// Stratum the node serves at.
    pub stratum: u8,
}

/// What a run amounts to.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Summary {
    /// Simulated seconds.
    pub duration_s: f64,
    /// First time |offset| was below 1 ms, seconds (exact, not sampled).
    pub first_below_1ms_s: Option<f64>,
    /// First time after which |offset| stayed below 1 ms to the end, seconds
    /// (exact, not sampled).
    pub converged_s: Option<f64>,
    /// RMS of the offset over the records from `stats_from_s`, seconds.
    pub rms_offset_s: f64,
    /// Largest |offset| from `stats_from_s`, seconds.
    pub max_offset_s: f64,
    /// Residual frequency error at the end, ppm.
    pub freq_error_ppm: f64,
    /// Steps.
    pub steps: u32,
    /// Largest |local clock rate − true rate| between records without a step, ppm.
    pub max_rate_ppm: f64,
    /// Largest frequency correction ever set, ppm.
    pub max_freq_corr_ppm: f64,
    /// RMS of the clock's rate error (oscillator + correction + slew) from
    /// `stats_from_s`, time-weighted, ppm: how evenly the clock ticks.
    pub rms_freq_error_ppm: f64,
    /// Largest |rate error| from `stats_from_s`, ppm.
    pub max_freq_error_ppm: f64,
    /// Records in which each server was the system peer.
    pub selected: [u32; MAX_SERVERS],
    /// Requests each server received.
    pub requests: [u32; MAX_SERVERS],
    /// Records without a system peer.
    pub unselected: u32,
}

/// A running simulation.
#[derive(Debug)]
pub struct Simulator<const N: usize> {
    /// The node under test.
    pub node: Node<N>,
    /// Its clock.
    pub clock: SimClock,
    servers: Vec<(ServerSpec, Server, Option<SourceId>), MAX_SERVERS>,
    inflight: Vec<InFlight, 64>,
    net: SimNet,
    rng: SimRng,
    record_interval_s: f64,
    next_record_s: f64,
    stats_from_s: f64,
    sum_sq: f64,
    n_stats: u32,
    last_record: Option<(f64, f64, u32)>,
    summary: Summary,
    events: EventCounts,
}

/// How many of each event the node reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// Step events.
    pub steps: u32,
    /// Spike events.
    pub spikes: u32,
    /// Panic events.
    pub panics: u32,
    /// System peer changes.
    pub system_peer_changes: u32,
    /// Falseticker events.
    pub falsetickers: u32,
    /// Kiss events.
    pub kisses: u32,
    /// Demobilised associations.
    pub demobilized: u32,
    /// Local clock takeovers.
    pub local_clock: u32,
}

fn instant(t_s: f64) -> Instant {
    Instant::from_nanos((t_s * 1e9) as u64)
}

impl<const N: usize> Simulator<N> {
    /// Set up `scenario`: the node, its clock, the servers.
    pub fn new(scenario: &Scenario) -> Self {
        let epoch = NtpTimestamp::from_unix(1_800_000_000, 0);
        let c = &scenario.client;
        let mut clock = SimClock::new(
            epoch,
            c.offset_s,
            c.freq_ppm,
            c.wander_ppm_per_sqrt_s,
            ADJTIME_RATE_PPM,
            scenario.seed ^ 0xc10c,
        );
        clock.set_stats_from_s(scenario.stats_from_s);
        let mut config = scenario.node.clone();
        config.fit_to_clock(crate::Clock::max_frequency_ppm(&clock));
        let mut node = Node::new(config);
        let mut servers = Vec::new();
        for (i, spec) in scenario.servers.iter().enumerate() {
            let mut src = scenario.source;
            src.addr = server_addr(i);
            src.prefer |= spec.prefer;
            src.noselect |= spec.noselect;
            let id = node.add_source(src, Instant::ZERO).ok();
            let _ = servers.push((*spec, Server::new(), id));
        }
        Self {
            node,
            clock,
            servers,
            inflight: Vec::new(),
            net: SimNet::default(),
            rng: SimRng::new(scenario.seed),
            record_interval_s: scenario.record_interval_s,
            next_record_s: 0.0,
            stats_from_s: scenario.stats_from_s,
            sum_sq: 0.0,
            n_stats: 0,
            last_record: None,
            summary: Summary::default(),
            events: EventCounts::default(),
        }
    }

    /// True time now, seconds.
    pub fn now_s(&self) -> f64 {
        self.clock.true_time_s()
    }

    /// The source id of server `i`.
    pub fn source_id(&self, i: usize) -> Option<SourceId> {
        self.servers.get(i).and_then(|s| s.2)
    }

    /// The events seen so far.
    pub fn events(&self) -> EventCounts {
        self.events
    }

    /// The figures so far.
    pub fn summary(&self) -> Summary {
        let mut s = self.summary;
        s.duration_s = self.now_s();
        s.rms_offset_s = if self.n_stats > 0 {
            libm::sqrt(self.sum_sq / self.n_stats as f64)
        } else {
            0.0
        };
        let m = self.clock.metrics();
        s.first_below_1ms_s = m.first_below_1ms_s;
        s.converged_s = match m.last_above_1ms_s {
            None => Some(0.0),
            Some(t) if t < self.now_s() => Some(t),
            Some(_) => None,
        };
        s.rms_freq_error_ppm = m.rms_freq_error_ppm();
        s.max_freq_error_ppm = m.max_freq_error_ppm;
        s.freq_error_ppm = self.clock.frequency_error_ppm();
        s.steps = self.clock.steps();
        s.max_freq_corr_ppm = self.clock.max_freq_corr_ppm();
        s
    }

    /// Run to true time `end_s`, calling `on_record` for every record.
    pub fn run_until(&mut self, end_s: f64, on_record: &mut impl FnMut(&Record)) {
        loop {
            let t_timeout = self
                .node
                .poll_timeout()
                .map_or(f64::INFINITY, |i| i.as_nanos() as f64 * 1e-9);
            let (pkt_idx, t_packet) =
                self.inflight
                    .iter()
                    .enumerate()
                    .fold((None, f64::INFINITY), |acc, (i, p)| {
                        if p.arrive_s < acc.1 {
                            (Some(i), p.arrive_s)
                        } else {
                            acc
                        }
                    });
            let t = t_timeout.min(t_packet).min(self.next_record_s);
            if t > end_s {
                self.clock.advance(end_s);
                return;
            }
            let t = t.max(self.clock.true_time_s());
            self.clock.advance(t);
            if let (Some(i), true) = (pkt_idx, t_packet <= t) {
                let p = self.inflight.swap_remove(i);
                self.deliver(t, p);
            } else if t_timeout <= t {
                self.node.handle_timeout(instant(t));
                self.drive(t);
            } else {
                self.next_record_s += self.record_interval_s;
                self.record(t, on_record);
            }
        }
    }

    fn deliver(&mut self, t: f64, p: InFlight) {
        let Some((spec, server, _)) = self.servers.get_mut(p.server) else {
            return;
        };
        if p.to_server {
            if let Some(r) = self.summary.requests.get_mut(p.server) {
                *r += 1;
            }
            let true_rx = self.clock.true_timestamp();
            let spec = *spec;
            if let Some(reply) = net::answer(&spec, server, &p.bytes, true_rx, t) {
                let depart = t + 20e-6;
                if let Some(d) = net::one_way(&spec.path, depart, false, &mut self.rng) {
                    let _ = self.inflight.push(InFlight {
                        arrive_s: depart + d,
                        server: p.server,
                        to_server: false,
                        bytes: reply,
                    });
                }
            }
        } else {
            let rx = match crate::Clock::now(&mut self.clock) {
                Ok(ts) => ts,
                Err(e) => match e {},
            };
            let _ = self
                .node
                .handle_packet(instant(t), server_addr(p.server), &p.bytes, rx);
            self.drive(t);
        }
    }

    fn drive(&mut self, t: f64) {
        let events = &mut self.events;
        run_once_with(&mut self.node, &mut self.clock, &mut self.net, |r| {
            if let Report::Event(e) = r {
                match e {
                    Event::Step { .. } => events.steps += 1,
                    Event::Spike { .. } => events.spikes += 1,
                    Event::Panic { .. } => events.panics += 1,
                    Event::SystemPeer { .. } => events.system_peer_changes += 1,
                    Event::Falseticker { .. } => events.falsetickers += 1,
                    Event::Kiss { .. } => events.kisses += 1,
                    Event::Demobilized { .. } => events.demobilized += 1,
                    Event::LocalClock { .. } => events.local_clock += 1,
                    _ => {}
                }
            }
        });
        while let Some((to, bytes)) = self.net.outbox.pop() {
            let Some(idx) = (0..self.servers.len()).find(|&i| server_addr(i) == to) else {
                continue;
            };
            let Some((spec, _, _)) = self.servers.get(idx) else {
                continue;
            };
            if let Some(d) = net::one_way(&spec.path, t, true, &mut self.rng) {
                let _ = self.inflight.push(InFlight {
                    arrive_s: t + d,
                    server: idx,
                    to_server: true,
                    bytes,
                });
            }
        }
    }

    fn record(&mut self, t: f64, on_record: &mut impl FnMut(&Record)) {
        let offset_s = self.clock.offset_s();
        let sys = self.node.system();
        let selected = sys
            .system_peer
            .and_then(|id| self.servers.iter().position(|s| s.2 == Some(id)));
        match selected.and_then(|i| self.summary.selected.get_mut(i)) {
            Some(c) => *c += 1,
            None => self.summary.unselected += 1,
        }
        let steps = self.clock.steps();
        if let Some((t0, o0, s0)) = self.last_record {
            if s0 == steps && t > t0 {
                let rate = libm::fabs(offset_s - o0) / (t - t0) * 1e6;
                self.summary.max_rate_ppm = self.summary.max_rate_ppm.max(rate);
            }
        }
        self.last_record = Some((t, offset_s, steps));
        if t >= self.stats_from_s {
            self.sum_sq += offset_s * offset_s;
            self.n_stats += 1;
            self.summary.max_offset_s = self.summary.max_offset_s.max(libm::fabs(offset_s));
        }
        let rec = Record {
            t_s: t,
            offset_s,
            freq_error_ppm: self.clock.frequency_error_ppm(),
            state: sys.state as u8,
            poll: self.node.poll().log2(),
            selected,
            stratum: sys.vars.stratum,
        };
        on_record(&rec);
    }
}
