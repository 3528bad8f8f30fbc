//! The driver's era resolution: a clock kept at full width that reads 2^35 s ahead
//! (year 3115) syncs to the right NTP timestamps, so the node asks for a small step;
//! with `-g` the driver steps it by the whole eras too and says so, without it makes
//! the step as asked.

use core::convert::Infallible;
use core::net::SocketAddr;
use std::vec::Vec;

use super::super::{Endpoint, NoServer, Open};
use super::run_once_with;
use crate::clock::{Clock, ClockStatus};
use crate::node::{Event, NodeConfig, Report};
use crate::peer::SourceConfig;
use crate::server::Server;
use crate::system::SystemVars;
use crate::time::{Instant, NtpDuration, NtpTimestamp, PollInterval, WideDuration};
use crate::transport::Transport;
use crate::wire::{RefId, HEADER_LEN};

/// Reads `reading`; knows it stands at `full_unix_ns`; records its steps.
struct FullWidth {
    reading: NtpTimestamp,
    full_unix_ns: i128,
    steps: Vec<WideDuration>,
}

impl Clock for FullWidth {
    type Error = Infallible;
    fn now(&mut self) -> Result<NtpTimestamp, Infallible> {
        Ok(self.reading)
    }
    fn step(&mut self, d: WideDuration) -> Result<(), Infallible> {
        self.steps.push(d);
        Ok(())
    }
    fn slew(&mut self, _: NtpDuration) -> Result<(), Infallible> {
        Ok(())
    }
    fn set_frequency_ppm(&mut self, _: f64) -> Result<(), Infallible> {
        Ok(())
    }
    fn frequency_ppm(&mut self) -> Result<f64, Infallible> {
        Ok(0.0)
    }
    fn set_status(&mut self, _: ClockStatus) -> Result<(), Infallible> {
        Ok(())
    }
    fn full_width_now_unix_ns(&mut self) -> Option<i128> {
        Some(self.full_unix_ns)
    }
}

/// Keeps the last request sent.
#[derive(Default)]
struct Wire(Option<[u8; HEADER_LEN]>);

impl Transport for Wire {
    type Error = Infallible;
    fn send(&mut self, _: SocketAddr, bytes: &[u8]) -> Result<(), Infallible> {
        let mut b = [0u8; HEADER_LEN];
        if let Some(head) = bytes.get(..HEADER_LEN) {
            b.copy_from_slice(head);
        }
        self.0 = Some(b);
        Ok(())
    }
}

fn server() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 123))
}

/// Polls one iburst source that is 3 s ahead of the clock's era-less reading until
/// the node steps; returns the steps made and the era notes reported.
fn run(allow_big_first: bool) -> (Vec<WideDuration>, Vec<(WideDuration, WideDuration)>) {
    let mut config = NodeConfig::default();
    config.discipline.allow_big_first = allow_big_first;
    let mut ep: Endpoint<Open, 2, 0, 0, NoServer> = Endpoint::new(config, Open);
    let src = SourceConfig {
        iburst: true,
        ..SourceConfig::new(server())
    };
    ep.node_mut().add_source(src, Instant::ZERO).unwrap();
    let unix_s: i64 = 1_800_000_000;
    let mut clock = FullWidth {
        reading: NtpTimestamp::from_unix(unix_s, 0),
        full_unix_ns: (i128::from(unix_s) + (1 << 35)) * 1_000_000_000,
        steps: Vec::new(),
    };
    let mut notes = Vec::new();
    let mut now = Instant::from_nanos(1_000_000_000);
    for _ in 0..8 {
        clock.reading = NtpTimestamp::from_unix(unix_s, 0)
            + WideDuration::from_nanos(i128::from(now.as_nanos()));
        let mut wire = Wire::default();
        ep.handle_timeout(now);
        let mut report = |r: Report<'_>| {
            if let Report::Event(Event::EraStep { asked, resolved }) = r {
                notes.push((*asked, *resolved));
            }
        };
        let _ = run_once_with(&mut ep, &mut clock, &mut wire, &mut report);
        if let Some(req) = wire.0 {
            let t1 = clock.reading;
            let ms = NtpDuration::from_seconds_f64(0.001);
            let t2 = t1 + WideDuration::from_seconds(3) + ms;
            let vars = SystemVars {
                stratum: 1,
                ref_id: RefId::GPS,
                reference_time: t2,
                poll: PollInterval::DEFAULT_MIN,
                ..SystemVars::local_clock(-20, 1, t2)
            };
            let mut out = [0u8; HEADER_LEN];
            let p = Server::new().respond(&req, t2, &vars, &mut out).unwrap();
            let _ = p.finish(&mut out, t2);
            let rx_at = Instant::from_nanos(now.as_nanos() + 2_000_000);
            let _ = ep
                .node_mut()
                .handle_packet(rx_at, server(), &out, t1 + ms + ms);
            let _ = run_once_with(&mut ep, &mut clock, &mut wire, &mut report);
        }
        if !clock.steps.is_empty() {
            break;
        }
        now = Instant::from_nanos(now.as_nanos() + 2_000_000_000);
    }
    (clock.steps, notes)
}

#[test]
fn a_full_width_clock_eras_ahead_is_stepped_back_by_them_with_g_only() {
    let era_s = 1i64 << 32;
    let (steps, notes) = run(true);
    assert_eq!(steps.len(), 1, "{steps:?}");
    let asked_s = (steps[0] + WideDuration::from_seconds(8 * era_s)).to_seconds_f64();
    assert!((asked_s - 3.0).abs() < 0.01, "+3 s less 8 eras: {steps:?}");
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].1, steps[0]);
    assert!(
        (notes[0].0.to_seconds_f64() - 3.0).abs() < 0.01,
        "{notes:?}"
    );

    // Without -g the step is made as the node asked (the port's era check refuses
    // the rest), and nothing is said.
    let (steps, notes) = run(false);
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert!((steps[0].to_seconds_f64() - 3.0).abs() < 0.01, "{steps:?}");
    assert!(notes.is_empty());
}
