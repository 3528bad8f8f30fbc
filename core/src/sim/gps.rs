//! A simulated GPS receiver: once a true UTC second it sends an NMEA RMC sentence
//! naming that second, which arrives after a delay with serial jitter of tens of
//! milliseconds (and, now and then, a much later one: a receiver busy with other
//! sentences), and its PPS edge marks the top of the second within a microsecond.
//! Stretches without a fix send RMC with status `V`.
//!
//! The receiver knows true time; the local clock is the scenario's. What a port would
//! see is `(bytes, true arrival time)` for NMEA and `true edge time` for PPS; the
//! scenario stamps them with its local clock and feeds the core's refclock pieces.

use core::fmt::Write;

use super::rng::SimRng;
use crate::refclock::nmea::checksum;
use crate::refclock::{civil, UnixTime};

/// How the receiver and its serial line behave.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GpsSpec {
    /// Fixed part of the sentence's delay after the top of the second, seconds
    /// (receivers emit RMC some tens of ms after the second).
    pub nmea_delay_s: f64,
    /// Uniform jitter added to it, seconds (0..this).
    pub nmea_jitter_s: f64,
    /// Probability that a sentence is late by `nmea_late_s` on top.
    pub nmea_late_prob: f64,
    /// How late a late sentence is, seconds.
    pub nmea_late_s: f64,
    /// Standard deviation of the PPS edge, seconds (~1 µs on a serial DCD line).
    pub pps_jitter_s: f64,
    /// True seconds `[from, to)` without a fix (status V).
    pub no_fix: Option<(i64, i64)>,
}

impl Default for GpsSpec {
    fn default() -> Self {
        Self {
            nmea_delay_s: 0.050,
            nmea_jitter_s: 0.040,
            nmea_late_prob: 0.05,
            nmea_late_s: 0.300,
            pps_jitter_s: 1e-6,
            no_fix: None,
        }
    }
}

/// One second's output.
#[derive(Clone, Debug, PartialEq)]
pub struct GpsSecond {
    /// The RMC sentence with CR LF.
    pub sentence: heapless::String<96>,
    /// True time its first byte arrives.
    pub nmea_arrival: UnixTime,
    /// True time of the PPS edge (the top of the second plus jitter), if there is a
    /// fix (receivers stop pulsing without one).
    pub pps_edge: Option<UnixTime>,
}

/// The receiver.
#[derive(Clone, Debug)]
pub struct SimGps {
    spec: GpsSpec,
    rng: SimRng,
}

impl SimGps {
    /// A receiver with its own random stream.
    pub fn new(spec: GpsSpec, seed: u64) -> Self {
        Self {
            spec,
            rng: SimRng::new(seed ^ 0x6770_7300),
        }
    }

    /// The spec.
    pub fn spec(&self) -> &GpsSpec {
        &self.spec
    }

    /// What the receiver sends for true second `t` (Unix seconds).
    pub fn second(&mut self, t: i64) -> GpsSecond {
        let fix = !matches!(self.spec.no_fix, Some((a, b)) if t >= a && t < b);
        let mut delay = self.spec.nmea_delay_s + self.rng.uniform() * self.spec.nmea_jitter_s;
        if self.rng.uniform() < self.spec.nmea_late_prob {
            delay += self.spec.nmea_late_s;
        }
        let edge = UnixTime::new(t, 0).add_s(self.rng.normal() * self.spec.pps_jitter_s);
        GpsSecond {
            sentence: rmc(t, fix),
            nmea_arrival: UnixTime::new(t, 0).add_s(delay),
            pps_edge: fix.then_some(edge),
        }
    }
}

/// `$GPRMC` for second `t`, with a fix (A) or without (V).
pub fn rmc(t: i64, fix: bool) -> heapless::String<96> {
    let day = t.div_euclid(86_400);
    let sod = t.rem_euclid(86_400);
    let (y, m, d) = civil::civil_from_days(day);
    let mut body: heapless::String<96> = heapless::String::new();
    // 96 bytes hold the sentence; a failed write would only shorten it, and the
    // checksum would then refuse it.
    let _ = write!(
        body,
        "GPRMC,{:02}{:02}{:02}.00,{},4807.038,N,01131.000,E,0.0,0.0,{:02}{:02}{:02},,,A",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        if fix { 'A' } else { 'V' },
        d,
        m,
        y.rem_euclid(100)
    );
    let mut out: heapless::String<96> = heapless::String::new();
    let _ = write!(out, "${}*{:02X}\r\n", body, checksum(body.as_bytes()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refclock::nmea::parse;

    #[test]
    fn sentences_parse_and_name_their_second() {
        let mut gps = SimGps::new(GpsSpec::default(), 1);
        let t = 1_796_128_519;
        let s = gps.second(t);
        let line = s.sentence.trim_end();
        let p = parse(line.as_bytes()).expect("parses");
        assert_eq!(p.time.seconds_of_day() as i64, t % 86_400);
        let late = s.nmea_arrival.diff_s(UnixTime::new(t, 0));
        assert!((0.050..0.400).contains(&late), "{late}");
        let edge = s.pps_edge.expect("fix").diff_s(UnixTime::new(t, 0));
        assert!(edge.abs() < 10e-6, "{edge}");
    }

    #[test]
    fn no_fix_window_sends_v_and_no_pulse() {
        let spec = GpsSpec {
            no_fix: Some((10, 20)),
            ..GpsSpec::default()
        };
        let mut gps = SimGps::new(spec, 1);
        let s = gps.second(15);
        assert!(s.sentence.contains(",V,"));
        assert!(s.pps_edge.is_none());
        assert!(gps.second(20).pps_edge.is_some());
    }
}
