//! Configuration by builder: firmware has no ntp.conf.
//!
//! ```
//! use slew_embedded::config::{Builder, StepPolicy};
//! use slew_core::Instant;
//! # let seed_from_the_boards_rng = 0x0123_4567_89ab_cdef;
//! let node = Builder::<4>::new(seed_from_the_boards_rng)
//!     .server("192.0.2.1:123".parse().unwrap())
//!     .server("[2001:db8::1]:123".parse().unwrap())
//!     .poll_bounds(4, 8)
//!     .step_policy(StepPolicy::AtStartOnly { threshold_s: 0.128 })
//!     .build(Instant::ZERO)
//!     .unwrap();
//! assert_eq!(node.sources(Instant::ZERO).count(), 2);
//! ```

use core::net::SocketAddr;

use heapless::Vec;
use slew_core::discipline::StepMode;
use slew_core::node::{Node, NodeConfig, DEFAULT_MAX_SLEW_RATE_PPM};
use slew_core::peer::SourceConfig;
use slew_core::{Instant, PollInterval};

/// When the clock may jump instead of slewing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StepPolicy {
    /// ntpd's rule: step offsets above `threshold_s` at start, and later ones once
    /// they persist for the stepout interval.
    Always {
        /// The step threshold, seconds (ntpd: 0.128).
        threshold_s: f64,
    },
    /// Step only the first correction, when it is above `threshold_s` (a board that
    /// boots with its RTC off); slew forever after, so running code never sees time
    /// jump (chrony's `makestep` limited to the start).
    AtStartOnly {
        /// The step threshold, seconds.
        threshold_s: f64,
    },
    /// Never step: slew everything, at the clock's slew rate.
    SlewOnly,
}

impl Default for StepPolicy {
    fn default() -> Self {
        StepPolicy::AtStartOnly { threshold_s: 0.128 }
    }
}

/// What is wrong with a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// More servers than the node's table holds (`N`).
    TooManyServers,
    /// `minpoll` above `maxpoll`.
    PollBounds,
    /// Neither a server nor a local clock: nothing to follow or serve.
    NoTimeSource,
}

/// Builds a client [`Node`] for up to `N` servers.
#[derive(Clone, Debug)]
pub struct Builder<const N: usize> {
    servers: Vec<SocketAddr, N>,
    overflow: bool,
    minpoll: PollInterval,
    maxpoll: PollInterval,
    iburst: bool,
    step: StepPolicy,
    stepout_s: f64,
    panic_threshold_s: Option<f64>,
    max_slew_rate_ppm: f64,
    initial_frequency_ppm: Option<f64>,
    local_clock_stratum: Option<u8>,
    min_sane: usize,
    precision: i8,
    seed: u64,
}

impl<const N: usize> Builder<N> {
    /// No servers; polls 2^6..2^10 s with iburst; steps only at start; slews by
    /// frequency at up to 83 333 ppm (the node's default, within the software
    /// clock's ±100 000 ppm range).
    ///
    /// `seed` seeds the node's PRNG (the nonce in each request's transmit timestamp,
    /// poll jitter). Take it from the board: its hardware RNG, or its unique ID mixed
    /// with a boot counter kept in flash. Never a constant: boards sharing a seed
    /// send the same nonces, and an off-path attacker who can predict a nonce can
    /// forge the answer to it. There is deliberately no default.
    pub fn new(seed: u64) -> Self {
        Self {
            servers: Vec::new(),
            overflow: false,
            minpoll: PollInterval::DEFAULT_MIN,
            maxpoll: PollInterval::DEFAULT_MAX,
            iburst: true,
            step: StepPolicy::default(),
            stepout_s: 300.0,
            panic_threshold_s: None,
            max_slew_rate_ppm: DEFAULT_MAX_SLEW_RATE_PPM,
            initial_frequency_ppm: None,
            local_clock_stratum: None,
            min_sane: 1,
            precision: -20,
            seed,
        }
    }

    /// Follow this server (`server ADDR`). More than `N` is an error at
    /// [`Builder::build`].
    #[must_use]
    pub fn server(mut self, addr: SocketAddr) -> Self {
        if self.servers.push(addr).is_err() {
            self.overflow = true;
        }
        self
    }

    /// Poll interval bounds, log2 seconds (`minpoll`/`maxpoll`; ntpd: 6 and 10).
    /// Values below −7 or above 17 are clamped.
    #[must_use]
    pub fn poll_bounds(mut self, minpoll_log2: i8, maxpoll_log2: i8) -> Self {
        self.minpoll = PollInterval::from_log2(minpoll_log2);
        self.maxpoll = PollInterval::from_log2(maxpoll_log2);
        self
    }

    /// A burst of requests at start and while a server is unreachable (default on).
    #[must_use]
    pub fn iburst(mut self, on: bool) -> Self {
        self.iburst = on;
        self
    }

    /// Step or slew; see [`StepPolicy`].
    #[must_use]
    pub fn step_policy(mut self, policy: StepPolicy) -> Self {
        self.step = policy;
        self
    }

    /// How long a big offset must persist before it is acted on, seconds
    /// (`tinker stepout`, default 300).
    #[must_use]
    pub fn stepout_s(mut self, seconds: f64) -> Self {
        self.stepout_s = seconds;
        self
    }

    /// Refuse offsets above this as insane (`tinker panic`); `None` (the default
    /// here, unlike ntpd) accepts any first offset, since a board without an RTC
    /// boots decades off.
    #[must_use]
    pub fn panic_threshold_s(mut self, seconds: Option<f64>) -> Self {
        self.panic_threshold_s = seconds;
        self
    }

    /// The fastest the node slews, ppm, on top of the discipline's frequency (chrony's
    /// `maxslewrate`). [`Builder::build`] keeps it within the software clock's
    /// default frequency range; a port with a narrower clock calls
    /// [`NodeConfig::fit_to_clock`] on [`Builder::node_config`].
    #[must_use]
    pub fn max_slew_rate_ppm(mut self, ppm: f64) -> Self {
        self.max_slew_rate_ppm = ppm;
        self
    }

    /// A frequency remembered from the last run (the firmware's driftfile), ppm.
    #[must_use]
    pub fn initial_frequency_ppm(mut self, ppm: Option<f64>) -> Self {
        self.initial_frequency_ppm = ppm;
        self
    }

    /// Serve the local clock at this stratum when no server survives.
    #[must_use]
    pub fn local_clock_stratum(mut self, stratum: Option<u8>) -> Self {
        self.local_clock_stratum = stratum;
        self
    }

    /// Fewest agreeing servers needed to set the clock (`tos minsane`, default 1).
    #[must_use]
    pub fn min_sane(mut self, count: usize) -> Self {
        self.min_sane = count;
        self
    }

    /// The clock's precision, log2 seconds (default −20, about a microsecond).
    #[must_use]
    pub fn precision(mut self, log2_s: i8) -> Self {
        self.precision = log2_s;
        self
    }

    /// The node's configuration, without the servers.
    pub fn node_config(&self) -> NodeConfig {
        let mut c = NodeConfig::default();
        let d = &mut c.discipline;
        let (mode, threshold_s) = match self.step {
            StepPolicy::Always { threshold_s } => (StepMode::Always, threshold_s),
            StepPolicy::AtStartOnly { threshold_s } => (StepMode::AtStartOnly, threshold_s),
            StepPolicy::SlewOnly => (StepMode::SlewOnly, d.step_threshold_s),
        };
        d.step_mode = mode;
        d.step_threshold_s = threshold_s;
        d.stepout_s = self.stepout_s;
        d.panic_threshold_s = self.panic_threshold_s.unwrap_or(0.0);
        d.initial_frequency_ppm = self.initial_frequency_ppm;
        d.minpoll = self.minpoll;
        d.maxpoll = self.maxpoll;
        c.select.min_sane = self.min_sane;
        c.local_clock_stratum = self.local_clock_stratum;
        c.precision = self.precision;
        c.max_slew_rate_ppm = self.max_slew_rate_ppm;
        c.fit_to_clock(slew_core::softclock::DEFAULT_MAX_FREQUENCY_PPM);
        c.seed = self.seed;
        c
    }

    /// The node, with its servers added at `now`.
    pub fn build(&self, now: Instant) -> Result<Node<N>, ConfigError> {
        self.build_with(now)
    }

    /// As [`Builder::build`], for a node with room for `R` refclocks (a GPS on a
    /// UART: add it with `Node::add_refclock`). With a refclock to come, no server
    /// nor local clock is needed.
    pub fn build_with<const R: usize>(&self, now: Instant) -> Result<Node<N, R>, ConfigError> {
        if self.overflow {
            return Err(ConfigError::TooManyServers);
        }
        if self.minpoll > self.maxpoll {
            return Err(ConfigError::PollBounds);
        }
        if self.servers.is_empty() && self.local_clock_stratum.is_none() && R == 0 {
            return Err(ConfigError::NoTimeSource);
        }
        let mut node = Node::new(self.node_config());
        for &addr in &self.servers {
            let source = SourceConfig {
                minpoll: self.minpoll,
                maxpoll: self.maxpoll,
                iburst: self.iburst,
                ..SourceConfig::new(addr)
            };
            node.add_source(source, now)
                .map_err(|_| ConfigError::TooManyServers)?;
        }
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// Tests are the one place a constant seed belongs: they must be repeatable.
    const TEST_SEED: u64 = 0x7e57_5eed;

    fn addr(n: u8) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, n], 123))
    }

    #[test]
    fn the_boards_seed_reaches_the_node() {
        let a = Builder::<1>::new(1).node_config();
        let b = Builder::<1>::new(2).node_config();
        assert_eq!((a.seed, b.seed), (1, 2));
    }

    #[test]
    fn four_servers_fit_a_table_of_four_and_five_do_not() {
        let b = (1..=4).fold(Builder::<4>::new(TEST_SEED), |b, n| b.server(addr(n)));
        assert_eq!(
            b.build(Instant::ZERO)
                .unwrap()
                .sources(Instant::ZERO)
                .count(),
            4
        );
        let b = b.server(addr(5));
        assert_eq!(
            b.build(Instant::ZERO).unwrap_err(),
            ConfigError::TooManyServers
        );
    }

    #[test]
    fn refuses_inverted_poll_bounds_and_no_source() {
        let b = Builder::<2>::new(TEST_SEED)
            .server(addr(1))
            .poll_bounds(8, 4);
        assert_eq!(b.build(Instant::ZERO).unwrap_err(), ConfigError::PollBounds);
        assert_eq!(
            Builder::<2>::new(TEST_SEED)
                .build(Instant::ZERO)
                .unwrap_err(),
            ConfigError::NoTimeSource
        );
        assert!(Builder::<2>::new(TEST_SEED)
            .local_clock_stratum(Some(10))
            .build(Instant::ZERO)
            .is_ok());
    }

    #[test]
    fn policies_map_to_the_discipline() {
        let c = Builder::<1>::new(TEST_SEED)
            .step_policy(StepPolicy::SlewOnly)
            .node_config();
        assert_eq!(c.discipline.step_mode, StepMode::SlewOnly);
        let c = Builder::<1>::new(TEST_SEED)
            .step_policy(StepPolicy::Always { threshold_s: 0.5 })
            .poll_bounds(-2, 3)
            .panic_threshold_s(Some(1000.0))
            .node_config();
        assert_eq!(c.discipline.step_mode, StepMode::Always);
        assert_eq!(c.discipline.step_threshold_s, 0.5);
        assert_eq!(c.discipline.minpoll, PollInterval::from_log2(-2));
        assert_eq!(c.discipline.maxpoll, PollInterval::from_log2(3));
        assert_eq!(c.discipline.panic_threshold_s, 1000.0);
    }
}
