//! The standard scenarios: the reference setup of REFERENCE.md and the situations the
//! scenario tests in `tests/sim_*.rs` assert on.

use heapless::Vec;

use crate::discipline::{Algorithm, StepMode};
use crate::node::NodeConfig;
use crate::peer::SourceConfig;
use crate::time::PollInterval;
use crate::wire::RefId;

use super::net::{server_addr, Behaviour, PathConfig, ServerSpec};
use super::MAX_SERVERS;

/// The client's clock at the start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientSpec {
    /// Local minus true time, seconds.
    pub offset_s: f64,
    /// Oscillator frequency error, ppm.
    pub freq_ppm: f64,
    /// Random-walk frequency noise, ppm per √s.
    pub wander_ppm_per_sqrt_s: f64,
}

/// A whole simulation setup.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name on the command line.
    pub name: &'static str,
    /// The client's clock.
    pub client: ClientSpec,
    /// The servers (the node gets one source per server, in order).
    pub servers: Vec<ServerSpec, MAX_SERVERS>,
    /// The node's configuration.
    pub node: NodeConfig,
    /// Template of each source's configuration (its address is filled in).
    pub source: SourceConfig,
    /// How long to run, seconds.
    pub duration_s: f64,
    /// Statistics (RMS, max) count from here, seconds.
    pub stats_from_s: f64,
    /// Seconds between records.
    pub record_interval_s: f64,
    /// Seed of everything random.
    pub seed: u64,
}

/// Names accepted by [`Scenario::by_name`].
pub const NAMES: &[&str] = &[
    "reference",
    "reference-iburst",
    "reference-falseticker",
    "slew-50ms",
    "step-2s",
    "slew-only-2s",
    "falseticker",
    "two-wrong",
    "holdover",
    "unsync-restart",
    "kod-rate",
    "kod-deny",
];

/// 0.001 ppm/√s: about 0.06 ppm of frequency drift per hour, a crystal in a room.
const WANDER: f64 = 0.001;

fn servers(specs: &[ServerSpec]) -> Vec<ServerSpec, MAX_SERVERS> {
    let mut v = Vec::new();
    for s in specs {
        let _ = v.push(*s);
    }
    v
}

impl Scenario {
    /// A scenario by name, with the given estimator.
    pub fn by_name(name: &str, algorithm: Algorithm) -> Option<Scenario> {
        let good = ServerSpec::good();
        let fixed64 = SourceConfig {
            minpoll: PollInterval::from_log2(6),
            maxpoll: PollInterval::from_log2(6),
            ..SourceConfig::new(server_addr(0))
        };
        let iburst = SourceConfig {
            iburst: true,
            ..SourceConfig::new(server_addr(0))
        };
        let mut s = Scenario {
            name: "reference",
            // REFERENCE.md: 0.1 s off, +100 ppm with wander, 1 ms + exp(1 ms),
            // fixed poll 64 s, 40 000 s, statistics after 10 000 s.
            client: ClientSpec {
                offset_s: 0.1,
                freq_ppm: 100.0,
                wander_ppm_per_sqrt_s: WANDER,
            },
            servers: servers(&[good]),
            node: NodeConfig::default(),
            source: fixed64,
            duration_s: 40_000.0,
            stats_from_s: 10_000.0,
            record_interval_s: 16.0,
            seed: 1,
        };
        s.node.discipline.algorithm = algorithm;
        // The reference runs keep a fixed poll: the system poll must not exceed it.
        s.node.discipline.maxpoll = PollInterval::from_log2(6);
        match name {
            "reference" => {}
            "reference-iburst" => {
                // The same with iburst: the start-up figure chronyd is quoted at (6 s
                // to |offset| < 1 ms).
                s.name = "reference-iburst";
                s.source.iburst = true;
            }
            "reference-falseticker" => {
                s.name = "reference-falseticker";
                s.servers = servers(&[
                    good,
                    good,
                    good,
                    ServerSpec {
                        behaviour: Behaviour::Falseticker { offset_s: 1.0 },
                        ..good
                    },
                ]);
            }
            "slew-50ms" => {
                s.name = "slew-50ms";
                s.client.offset_s = 0.05;
                s.source = iburst;
                s.node.discipline.maxpoll = PollInterval::DEFAULT_MAX;
                s.duration_s = 4.0 * 3600.0;
                s.stats_from_s = 2.0 * 3600.0;
            }
            "step-2s" | "slew-only-2s" => {
                s.name = if name == "step-2s" {
                    "step-2s"
                } else {
                    "slew-only-2s"
                };
                s.client.offset_s = 2.0;
                s.source = iburst;
                s.node.discipline.maxpoll = PollInterval::DEFAULT_MAX;
                if name == "slew-only-2s" {
                    s.node.discipline.step_mode = StepMode::SlewOnly;
                    s.duration_s = 6.0 * 3600.0;
                    s.stats_from_s = 4.0 * 3600.0;
                } else {
                    s.duration_s = 4.0 * 3600.0;
                    s.stats_from_s = 2.0 * 3600.0;
                }
            }
            "falseticker" | "two-wrong" => {
                s.name = if name == "falseticker" {
                    "falseticker"
                } else {
                    "two-wrong"
                };
                let bad = ServerSpec {
                    behaviour: Behaviour::Falseticker { offset_s: 1.0 },
                    ..good
                };
                s.servers = if name == "falseticker" {
                    servers(&[good, good, good, bad])
                } else {
                    servers(&[good, good, bad, bad])
                };
                s.client.offset_s = 0.05;
                s.source = iburst;
                s.node.discipline.maxpoll = PollInterval::DEFAULT_MAX;
                s.duration_s = 4.0 * 3600.0;
                s.stats_from_s = 2.0 * 3600.0;
            }
            "holdover" => {
                // Converge for 3 h, lose every upstream for 2 h, get them back.
                s.name = "holdover";
                s.client.offset_s = 0.05;
                s.source = iburst;
                s.node.discipline.maxpoll = PollInterval::DEFAULT_MAX;
                s.node.local_clock_stratum = Some(10);
                let path = PathConfig {
                    outage: Some((3.0 * 3600.0, 5.0 * 3600.0)),
                    ..PathConfig::default()
                };
                let g = ServerSpec { path, ..good };
                s.servers = servers(&[g, g, g]);
                s.duration_s = 7.0 * 3600.0;
                s.stats_from_s = 2.0 * 3600.0;
            }
            "unsync-restart" => {
                s.name = "unsync-restart";
                s.client.offset_s = 0.01;
                s.source = iburst;
                s.node.discipline.maxpoll = PollInterval::DEFAULT_MAX;
                s.servers = servers(&[ServerSpec {
                    behaviour: Behaviour::UnsyncWindow {
                        from_s: 2.0 * 3600.0,
                        until_s: 2.5 * 3600.0,
                    },
                    ..good
                }]);
                s.duration_s = 4.0 * 3600.0;
                s.stats_from_s = 1.0 * 3600.0;
            }
            "kod-rate" | "kod-deny" => {
                s.name = if name == "kod-rate" {
                    "kod-rate"
                } else {
                    "kod-deny"
                };
                s.client.offset_s = 0.01;
                s.source = iburst;
                s.node.discipline.maxpoll = PollInterval::DEFAULT_MAX;
                let code = if name == "kod-rate" {
                    RefId::RATE
                } else {
                    RefId::DENY
                };
                s.servers = servers(&[
                    good,
                    ServerSpec {
                        behaviour: Behaviour::Kiss {
                            code,
                            from_s: 1800.0,
                        },
                        ..good
                    },
                ]);
                s.duration_s = 3.0 * 3600.0;
                s.stats_from_s = 1800.0;
            }
            _ => return None,
        }
        Some(s)
    }
}
