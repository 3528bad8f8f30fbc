use core::convert::Infallible;
use std::collections::VecDeque;
use std::string::String;

use embedded_io::{ErrorType, Read, ReadReady};
use slew_core::refclock::nmea::{checksum, NmeaError};
use slew_core::refclock::nmea_mode::NmeaMode;
use slew_core::refclock::source::{Driver, RefclockConfig, RefclockSource};
use slew_core::refclock::UnixTime;
use slew_core::{Instant, PollInterval};

use super::UartGps;

/// A UART that hands out what the test queued, at most `chunk` bytes a read (as a
/// FIFO interrupt would), and says when nothing is waiting.
struct FakeUart {
    rx: VecDeque<u8>,
    chunk: usize,
}

impl ErrorType for FakeUart {
    type Error = Infallible;
}

impl Read for FakeUart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let n = buf.len().min(self.chunk).min(self.rx.len());
        for b in buf.iter_mut().take(n) {
            *b = self.rx.pop_front().unwrap_or(0);
        }
        Ok(n)
    }
}

impl ReadReady for FakeUart {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(!self.rx.is_empty())
    }
}

fn line(body: &str) -> String {
    std::format!("${body}*{:02X}\r\n", checksum(body.as_bytes()))
}

const T: i64 = 1_796_128_519; // 2026-12-01 12:35:19

fn rmc(hms: &str, status: char) -> String {
    line(&std::format!(
        "GNRMC,{hms},{status},4807.038,N,01131.000,E,0.0,0.0,011226,,,A"
    ))
}

fn source() -> RefclockSource {
    let mut c = RefclockConfig::new(Driver::Nmea, 0);
    c.minpoll = PollInterval::from_log2(4);
    RefclockSource::new(c, Instant::from_nanos(0))
}

#[test]
fn sentences_from_the_uart_become_samples_of_the_source() {
    let mut gps = UartGps::new(
        FakeUart {
            rx: VecDeque::new(),
            chunk: 16,
        },
        NmeaMode(0),
    );
    let mut src = source();
    let mut samples = 0;
    for k in 0..4i64 {
        // Sentence k names second T + k and arrives (over several 16-byte reads)
        // while the local clock reads 30 ms before that second.
        let text = rmc(&std::format!("1235{:02}.00", 19 + k), 'A');
        gps.uart_mut().rx.extend(text.bytes());
        let local = UnixTime::new(T + k, 0).add_s(-0.030);
        while let Some(r) = gps.poll_ready(|| local, &mut src).expect("infallible") {
            samples += r.samples;
        }
    }
    assert_eq!(samples, 4);
    assert_eq!(gps.counters().accepted, 4);
    let out = src.poll(Instant::from_nanos(16_000_000_000));
    let s = out.sample.expect("a poll with samples");
    assert!((s.offset_s - 0.030).abs() < 1e-9, "{s:?}");
    assert_eq!(s.delay_s, 0.0);
    assert!(out.became_reachable);
}

#[test]
fn no_fix_and_bad_checksum_are_counted_with_reasons() {
    let mut bad = rmc("123520.00", 'A');
    bad.replace_range(10..11, "7");
    let text = rmc("123519.00", 'V') + &bad;
    let mut gps = UartGps::new(
        FakeUart {
            rx: text.bytes().collect(),
            chunk: 64,
        },
        NmeaMode(0),
    );
    let mut src = source();
    let mut rejected = 0;
    while let Some(r) = gps
        .poll_ready(|| UnixTime::new(T, 0), &mut src)
        .expect("infallible")
    {
        assert_eq!(r.samples, 0);
        rejected += r.rejected;
    }
    assert_eq!(rejected, 2);
    let c = gps.counters();
    assert_eq!((c.no_fix, c.bad_checksum, c.accepted), (1, 1, 0));
    assert!(matches!(
        gps.last_reject(),
        Some(NmeaError::BadChecksum { .. })
    ));
    assert!(
        src.poll(Instant::from_nanos(16_000_000_000))
            .sample
            .is_none(),
        "never followed"
    );
}

#[test]
fn poll_ready_does_not_block_on_an_idle_uart() {
    let mut gps = UartGps::new(
        FakeUart {
            rx: VecDeque::new(),
            chunk: 8,
        },
        NmeaMode(0),
    );
    let mut src = source();
    assert_eq!(gps.poll_ready(|| UnixTime::new(T, 0), &mut src), Ok(None));
}
