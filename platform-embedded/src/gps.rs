//! A GPS receiver on a UART as a reference clock: bytes from any `embedded-io`
//! [`Read`] go through the core's NMEA driver (`slew_core::refclock::nmea_mode`), each
//! read stamped with the appliance's clock, and the samples feed a
//! [`RefclockSource`] exactly as slewd's NMEA driver does on Linux.
//!
//! `embedded-io` 0.6 is the byte-stream half of the embedded-hal 1.0 family (HAL
//! UARTs implement it). `read` blocks until at least one byte is there; with a UART
//! that implements [`ReadReady`], [`UartGps::poll_ready`] reads only what has
//! arrived and never blocks the main loop.

use embedded_io::{Read, ReadReady};
use slew_core::node::{Node, RefclockInputError};
use slew_core::peer::SourceId;
use slew_core::refclock::nmea_mode::{NmeaCounters, NmeaDriver, NmeaEvent, NmeaMode};
use slew_core::refclock::source::{RefclockSource, SampleReject};
use slew_core::refclock::RefSample;
use slew_core::refclock::UnixTime;
use slew_core::Instant;

/// Bytes taken from the UART per read: a sentence is up to 82, so most reads of
/// a 9600-bd line hold less than one.
pub const READ_CHUNK: usize = 64;

/// What one read brought.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Bytes read.
    pub bytes: usize,
    /// Samples handed to the source.
    pub samples: u32,
    /// Lines refused (no fix, bad checksum, …); their reasons are in the counters.
    pub rejected: u32,
    /// Samples the source refused.
    pub source_rejected: u32,
}

/// An NMEA receiver on a UART.
#[derive(Debug)]
pub struct UartGps<U> {
    uart: U,
    driver: NmeaDriver,
    last_reject: Option<slew_core::refclock::nmea::NmeaError>,
    last_source_reject: Option<SampleReject>,
}

impl<U: Read> UartGps<U> {
    /// A receiver on `uart`, sentences chosen by ntpd's NMEA `mode` bits (the baud
    /// bits are the integrator's to apply when setting up the UART: see
    /// [`NmeaMode::baud`]).
    pub fn new(uart: U, mode: NmeaMode) -> Self {
        Self {
            uart,
            driver: NmeaDriver::new(mode),
            last_reject: None,
            last_source_reject: None,
        }
    }

    /// One `read` from the UART (blocks until a byte comes, as `embedded-io` reads
    /// do), stamped with `now()` taken right after it returns; samples go to
    /// `source`.
    pub fn read_once(
        &mut self,
        now: impl FnOnce() -> UnixTime,
        source: &mut impl SampleSink,
    ) -> Result<ReadReport, U::Error> {
        let mut buf = [0u8; READ_CHUNK];
        let n = self.uart.read(&mut buf)?;
        let rx = now();
        let mut report = ReadReport {
            bytes: n,
            ..ReadReport::default()
        };
        let last_reject = &mut self.last_reject;
        let last_source_reject = &mut self.last_source_reject;
        self.driver
            .feed(buf.get(..n).unwrap_or(&[]), rx, |e| match e {
                NmeaEvent::Sample(s, _, _) => match source.take(&s) {
                    Ok(()) => report.samples += 1,
                    Err(r) => {
                        report.source_rejected += 1;
                        *last_source_reject = Some(r);
                    }
                },
                NmeaEvent::Rejected(e, _) => {
                    report.rejected += 1;
                    *last_reject = Some(e);
                }
                NmeaEvent::Filtered(_) => {}
            });
        Ok(report)
    }

    /// The driver's counters (lines, accepted, no fix, bad checksum, …).
    pub fn counters(&self) -> NmeaCounters {
        self.driver.counters()
    }

    /// The reason of the last refused line.
    pub fn last_reject(&self) -> Option<slew_core::refclock::nmea::NmeaError> {
        self.last_reject
    }

    /// The reason of the last sample the source refused.
    pub fn last_source_reject(&self) -> Option<SampleReject> {
        self.last_source_reject
    }

    /// The UART, for the integrator's own use of it (baud changes, error flags).
    pub fn uart_mut(&mut self) -> &mut U {
        &mut self.uart
    }

    /// The UART back.
    pub fn release(self) -> U {
        self.uart
    }
}

impl<U: Read + ReadReady> UartGps<U> {
    /// Read only if bytes are waiting: `Ok(None)` when there are none, so the main
    /// loop never blocks on the receiver.
    pub fn poll_ready(
        &mut self,
        now: impl FnOnce() -> UnixTime,
        source: &mut impl SampleSink,
    ) -> Result<Option<ReadReport>, U::Error> {
        if self.uart.read_ready()? {
            self.read_once(now, source).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Where decoded samples go: a bare [`RefclockSource`], or a node's refclock
/// ([`NodeRefclock`]) so that the appliance selects it and serves stratum 1.
pub trait SampleSink {
    /// One reading; refused ones come back with the source's reason.
    fn take(&mut self, sample: &RefSample) -> Result<(), SampleReject>;
}

impl SampleSink for RefclockSource {
    fn take(&mut self, sample: &RefSample) -> Result<(), SampleReject> {
        self.add_sample(sample)
    }
}

/// Refclock `id` of a node, at monotonic time `now` (the read's).
#[derive(Debug)]
pub struct NodeRefclock<'a, const N: usize, const R: usize> {
    /// The node.
    pub node: &'a mut Node<N, R>,
    /// The refclock's id ([`Node::add_refclock`]).
    pub id: SourceId,
    /// When the bytes were read.
    pub now: Instant,
}

impl<const N: usize, const R: usize> SampleSink for NodeRefclock<'_, N, R> {
    fn take(&mut self, sample: &RefSample) -> Result<(), SampleReject> {
        match self.node.handle_refclock_sample(self.now, self.id, sample) {
            Ok(()) => Ok(()),
            Err(RefclockInputError::Rejected(r)) => Err(r),
            // A wrong id drops the sample: there is no refclock to refuse it.
            Err(RefclockInputError::UnknownSource) => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "gps_tests.rs"]
mod tests;
