//! ntpd's NMEA driver (type 20) without the I/O: the `mode` bits, and
//! [`NmeaDriver`], which turns the receiver's byte stream into [`RefSample`]s.
//!
//! `mode` bits (ntpd's `refclock_nmea.c` / `driver_nmea` documentation):
//!
//! | bits | value | meaning |
//! |---|---|---|
//! | 0 | 1 | process RMC |
//! | 1 | 2 | process GGA |
//! | 2 | 4 | process GLL |
//! | 3 | 8 | process ZDA (ntpd: also ZDG) |
//! | 4–6 | 0x70 | baud rate: 0 = 4800, 1 = 9600, 2 = 19200, 3 = 38400, 4 = 57600, 5 = 115200 |
//! | 7 | 0x80 | log the receive fraction for calibrating `time2` (ignored here) |
//!
//! With no sentence bit set, every supported sentence is processed. Of those, only the
//! first one of each second is used (ntpd discards a sentence whose reference time
//! equals the last one's; gpsd ships one time per second): later sentences of the
//! same second arrive later on the line and would pull the offset down.

use super::nmea::{parse, LineReader, NmeaError, Sentence, SentenceKind};
use super::{civil, RefSample, UnixTime};
use crate::clock::LeapIndicator;

/// `mode` bit: process RMC.
pub const MODE_RMC: u32 = 0x01;
/// `mode` bit: process GGA.
pub const MODE_GGA: u32 = 0x02;
/// `mode` bit: process GLL.
pub const MODE_GLL: u32 = 0x04;
/// `mode` bit: process ZDA.
pub const MODE_ZDA: u32 = 0x08;
/// Sentence-selection bits (ntpd's `NMEA_MESSAGE_MASK` less PGRMF, which slew lacks).
pub const MODE_SENTENCES: u32 = 0x0f;
/// Baud-rate bits.
pub const MODE_BAUD_MASK: u32 = 0x70;

/// The `mode` word of an NMEA refclock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct NmeaMode(pub u32);

impl NmeaMode {
    /// True when sentences of `kind` are to be used.
    pub const fn accepts(self, kind: SentenceKind) -> bool {
        self.0 & MODE_SENTENCES == 0 || self.0 & kind.mode_bit() != 0
    }

    /// The line speed, bits per second, or `None` for the two unassigned codes (6, 7).
    pub const fn baud(self) -> Option<u32> {
        match (self.0 & MODE_BAUD_MASK) >> 4 {
            0 => Some(4800),
            1 => Some(9600),
            2 => Some(19_200),
            3 => Some(38_400),
            4 => Some(57_600),
            5 => Some(115_200),
            _ => None,
        }
    }
}

/// Counters of one NMEA driver, for monitoring (ntpd's clockstats tallies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NmeaCounters {
    /// Lines seen.
    pub lines: u64,
    /// Sentences turned into samples.
    pub accepted: u64,
    /// Sentences refused because the receiver had no fix.
    pub no_fix: u64,
    /// Bad checksums.
    pub bad_checksum: u64,
    /// Other malformed lines (framing, fields, length, bytes).
    pub malformed: u64,
    /// Well-formed sentences without a time we use.
    pub unknown: u64,
    /// Left out by the mode bits, or a second already used.
    pub filtered: u64,
}

/// What one line came to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NmeaEvent<'a> {
    /// A sample for the refclock source, the sentence, and the line it came from
    /// (without its CR LF: ntpd's clockstats timecode for NMEA).
    Sample(RefSample, Sentence, &'a [u8]),
    /// The line was refused; `line` is what arrived (for a rate-limited log line).
    Rejected(NmeaError, &'a [u8]),
    /// A good sentence not used: not selected by the mode bits, or its second was
    /// already used.
    Filtered(SentenceKind),
}

/// ntpd's NMEA driver logic over a byte stream: framing, parsing, mode bits, one
/// sample per second, and the reference time of each sentence.
#[derive(Clone, Debug)]
pub struct NmeaDriver {
    reader: LineReader<UnixTime>,
    mode: NmeaMode,
    /// Whole second of the last sentence used.
    last_second: Option<i64>,
    counters: NmeaCounters,
}

impl NmeaDriver {
    /// A driver with the given `mode` word.
    pub const fn new(mode: NmeaMode) -> Self {
        Self {
            reader: LineReader::new(),
            mode,
            last_second: None,
            counters: NmeaCounters {
                lines: 0,
                accepted: 0,
                no_fix: 0,
                bad_checksum: 0,
                malformed: 0,
                unknown: 0,
                filtered: 0,
            },
        }
    }

    /// The mode word.
    pub fn mode(&self) -> NmeaMode {
        self.mode
    }

    /// Counters so far.
    pub fn counters(&self) -> NmeaCounters {
        self.counters
    }

    /// Forget a partial line (after reopening the device).
    pub fn reset(&mut self) {
        self.reader.reset();
    }

    /// Feed bytes read at `rx` (the port's wall-clock time of the read); `on_event`
    /// hears about every line completed in them. A line is stamped with the time of
    /// the read in which its `$` arrived.
    pub fn feed(&mut self, chunk: &[u8], rx: UnixTime, mut on_event: impl FnMut(NmeaEvent<'_>)) {
        let Self {
            reader,
            mode,
            last_second,
            counters,
        } = self;
        reader.feed(chunk, rx, |started, line| {
            counters.lines += 1;
            let (bytes, parsed) = match line {
                Ok(l) => (l, parse(l)),
                Err(e) => (&[][..], Err(e)),
            };
            let event = match parsed {
                Err(e) => {
                    match e {
                        NmeaError::NoFix => counters.no_fix += 1,
                        NmeaError::BadChecksum { .. } => counters.bad_checksum += 1,
                        NmeaError::UnknownSentence => counters.unknown += 1,
                        _ => counters.malformed += 1,
                    }
                    NmeaEvent::Rejected(e, bytes)
                }
                Ok(s) if !mode.accepts(s.kind) => {
                    counters.filtered += 1;
                    NmeaEvent::Filtered(s.kind)
                }
                Ok(s) => {
                    let reference = reference_time(&s, started);
                    if *last_second == Some(reference.secs) {
                        counters.filtered += 1;
                        NmeaEvent::Filtered(s.kind)
                    } else {
                        *last_second = Some(reference.secs);
                        counters.accepted += 1;
                        let sample = RefSample {
                            receive: started,
                            reference,
                            leap: LeapIndicator::NoWarning,
                        };
                        NmeaEvent::Sample(sample, s, bytes)
                    }
                }
            };
            on_event(event);
        });
    }
}

/// The UTC instant a sentence names. A sentence without a date (GGA, GLL) takes the
/// date that puts it nearest to the receive time `rx`, as ntpd does with the system
/// date: the receiver's time of day is trusted, the local date only to ±12 hours.
pub fn reference_time(s: &Sentence, rx: UnixTime) -> UnixTime {
    let tod = i64::from(s.time.seconds_of_day());
    let secs = match s.date {
        Some(d) => civil::days_from_civil(i32::from(d.year), d.month, d.day) * 86_400 + tod,
        None => {
            let rx_day = rx.secs.div_euclid(86_400);
            let candidate = rx_day * 86_400 + tod;
            let diff = candidate - rx.secs;
            if diff > 43_200 {
                candidate - 86_400
            } else if diff < -43_200 {
                candidate + 86_400
            } else {
                candidate
            }
        }
    };
    UnixTime {
        secs,
        nanos: s.time.nanos,
    }
}
