//! ntpd's shared-memory refclock (type 28) without the I/O: the `struct shmTime`
//! record and the checks ntpd applies to a copy of it (ntpsec `refclock_shm.c`,
//! gpsd `ntpshm.h`). The port attaches the segment, copies the record with the
//! count/valid handshake and hands the copy here.
//!
//! The writer's protocol (gpsd uses mode 1): clear `valid`, bump `count`, write the
//! fields, bump `count`, set `valid`. The reader: if `valid` is set, note `count`,
//! copy, clear `valid`; in mode 1 a `count` changed during the copy is a clash and
//! the copy is dropped. The nanosecond fields are used when they agree with the
//! microsecond ones (old writers leave them 0 or garbage).

use super::{RefSample, UnixTime};
use crate::clock::LeapIndicator;

/// Key of unit 0 ("NTP0"); unit N is at `SHM_KEY_BASE + N`.
pub const SHM_KEY_BASE: u32 = 0x4E54_5030;
/// Size of `struct shmTime` on LP64 Linux (x86_64, aarch64): 96 bytes.
pub const SHM_SIZE_LP64: usize = 96;
/// ntpd drops a record whose receive stamp is older than this when read, seconds.
pub const MAX_AGE_S: f64 = 5.0;
/// Reads in a row without a new record before the writer is reported stalled
/// (ntpd reads once a second).
pub const STALL_READS: u32 = 10;

/// A copy of the record's fields (`struct shmTime`, less the spare words).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShmRecord {
    /// 0 or 1: the writer's protocol.
    pub mode: i32,
    /// Bumped by the writer around each update (mode 1).
    pub count: i32,
    /// Reference time, seconds.
    pub clock_sec: i64,
    /// Reference time, microseconds.
    pub clock_usec: i32,
    /// Local receive time, seconds.
    pub receive_sec: i64,
    /// Local receive time, microseconds.
    pub receive_usec: i32,
    /// 0 none, 1 insert, 2 delete, 3 not synchronised.
    pub leap: i32,
    /// log2 of the writer's precision, seconds.
    pub precision: i32,
    /// Unused by ntpd's SHM driver.
    pub nsamples: i32,
    /// Set by the writer when a record is ready; cleared by the reader.
    pub valid: i32,
    /// Reference time, nanoseconds (when consistent with `clock_usec`).
    pub clock_nsec: u32,
    /// Receive time, nanoseconds (when consistent with `receive_usec`).
    pub receive_nsec: u32,
}

/// Why a read of the segment gave no sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShmError {
    /// `valid` is clear: no new record since the last read (not an error by itself).
    NotReady,
    /// `count` changed while the record was copied (mode 1): a torn read, dropped.
    Clash,
    /// A `mode` other than 0 and 1.
    BadMode(i32),
    /// Microseconds out of 0..1 000 000.
    BadTimestamp,
    /// The receive stamp is older than [`MAX_AGE_S`] (or in the future by as much):
    /// a writer that set `valid` long ago and died.
    Stale,
    /// The same record again (identical stamps): a writer that sets `valid` without
    /// writing anything new.
    Duplicate,
    /// No new record for [`STALL_READS`] reads in a row.
    Stalled {
        /// Reads since the last new record.
        reads: u32,
    },
    /// The segment at the unit's key exists with another size than `struct shmTime`
    /// (another program's segment, or a 32-bit writer): never read.
    WrongSize {
        /// The segment's size.
        found: usize,
        /// [`SHM_SIZE_LP64`].
        expected: usize,
    },
}

impl ShmError {
    /// A short reason for logs and monitoring.
    pub const fn reason(self) -> &'static str {
        match self {
            ShmError::NotReady => "no new record",
            ShmError::Clash => "record changed while being read",
            ShmError::BadMode(_) => "record mode is neither 0 nor 1",
            ShmError::BadTimestamp => "record timestamps out of range",
            ShmError::Stale => "record too old",
            ShmError::Duplicate => "same record again",
            ShmError::Stalled { .. } => "writer stalled",
            ShmError::WrongSize { .. } => "segment has the wrong size",
        }
    }
}

impl core::fmt::Display for ShmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ShmError::BadMode(m) => write!(f, "record mode {m} is neither 0 nor 1"),
            ShmError::Stalled { reads } => {
                write!(f, "writer stalled ({reads} reads without a new record)")
            }
            ShmError::WrongSize { found, expected } => {
                write!(
                    f,
                    "segment has {found} bytes, struct shmTime has {expected}"
                )
            }
            e => f.write_str(e.reason()),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ShmError {}

fn stamp(sec: i64, usec: i32, nsec: u32) -> Result<UnixTime, ShmError> {
    let usec = u32::try_from(usec).map_err(|_| ShmError::BadTimestamp)?;
    if usec >= 1_000_000 {
        return Err(ShmError::BadTimestamp);
    }
    // ntpd: use the ns field when it is within 1 µs above the µs one.
    let from_us = usec * 1000;
    let nanos = if nsec.wrapping_sub(from_us) < 1000 {
        nsec
    } else {
        from_us
    };
    Ok(UnixTime::new(sec, nanos))
}

/// The sample a copied record holds. `count_after` is `count` read again after the
/// copy; `now` is the local clock at the read (for the age check).
pub fn sample_from(
    rec: &ShmRecord,
    count_after: i32,
    now: UnixTime,
) -> Result<RefSample, ShmError> {
    if rec.valid == 0 {
        return Err(ShmError::NotReady);
    }
    match rec.mode {
        0 => {}
        1 if rec.count != count_after => return Err(ShmError::Clash),
        1 => {}
        m => return Err(ShmError::BadMode(m)),
    }
    let reference = stamp(rec.clock_sec, rec.clock_usec, rec.clock_nsec)?;
    let receive = stamp(rec.receive_sec, rec.receive_usec, rec.receive_nsec)?;
    if libm::fabs(now.diff_s(receive)) > MAX_AGE_S {
        return Err(ShmError::Stale);
    }
    let leap = match rec.leap {
        1 => LeapIndicator::Insert,
        2 => LeapIndicator::Delete,
        3 => LeapIndicator::Unsynchronized,
        _ => LeapIndicator::NoWarning,
    };
    Ok(RefSample {
        receive,
        reference,
        leap,
    })
}

/// Tells new records from old ones across reads, and a stalled writer.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShmWatch {
    last: Option<(UnixTime, UnixTime)>,
    idle_reads: u32,
}

impl ShmWatch {
    /// A watch that has seen nothing.
    pub const fn new() -> Self {
        Self {
            last: None,
            idle_reads: 0,
        }
    }

    /// Judge one read's result. A sample equal to the last one becomes `Duplicate`;
    /// after [`STALL_READS`] reads in a row without a new sample every further one
    /// is reported as `Stalled` (whatever the read said) until a new one arrives.
    pub fn judge(&mut self, read: Result<RefSample, ShmError>) -> Result<RefSample, ShmError> {
        let read = match read {
            Ok(s) if self.last == Some((s.receive, s.reference)) => Err(ShmError::Duplicate),
            other => other,
        };
        match read {
            Ok(s) => {
                self.last = Some((s.receive, s.reference));
                self.idle_reads = 0;
                Ok(s)
            }
            Err(e) => {
                self.idle_reads = self.idle_reads.saturating_add(1);
                if self.idle_reads >= STALL_READS {
                    Err(ShmError::Stalled {
                        reads: self.idle_reads,
                    })
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Reads since the last new sample.
    pub fn idle_reads(&self) -> u32 {
        self.idle_reads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(mode: i32) -> ShmRecord {
        ShmRecord {
            mode,
            count: 7,
            clock_sec: 1_796_083_200,
            clock_usec: 40_000,
            receive_sec: 1_796_083_200,
            receive_usec: 0,
            leap: 0,
            precision: -1,
            nsamples: 3,
            valid: 1,
            clock_nsec: 40_000_123,
            receive_nsec: 0,
        }
    }

    fn now() -> UnixTime {
        UnixTime::new(1_796_083_200, 500_000_000)
    }

    #[test]
    fn mode_0_and_1_records_give_the_offset() {
        for mode in [0, 1] {
            let s = sample_from(&rec(mode), 7, now()).expect("sample");
            assert!(
                (s.offset_s() - 0.040_000_123).abs() < 1e-12,
                "ns used: {s:?}"
            );
            assert_eq!(s.leap, LeapIndicator::NoWarning);
        }
        // mode 0 has no count handshake.
        assert!(sample_from(&rec(0), 9, now()).is_ok());
    }

    #[test]
    fn inconsistent_nanoseconds_fall_back_to_micro() {
        let mut r = rec(1);
        r.clock_nsec = 999; // an old writer's leftovers
        let s = sample_from(&r, 7, now()).expect("sample");
        assert_eq!(s.reference.nanos, 40_000_000);
    }

    #[test]
    fn refused_records_say_why() {
        let mut r = rec(1);
        r.valid = 0;
        assert_eq!(sample_from(&r, 7, now()), Err(ShmError::NotReady));
        assert_eq!(sample_from(&rec(1), 9, now()), Err(ShmError::Clash));
        assert_eq!(sample_from(&rec(2), 7, now()), Err(ShmError::BadMode(2)));
        let mut r = rec(1);
        r.clock_usec = 1_000_000;
        assert_eq!(sample_from(&r, 7, now()), Err(ShmError::BadTimestamp));
        r.clock_usec = -1;
        assert_eq!(sample_from(&r, 7, now()), Err(ShmError::BadTimestamp));
        assert_eq!(
            sample_from(&rec(1), 7, now().add_s(6.0)),
            Err(ShmError::Stale)
        );
        let mut r = rec(1);
        r.leap = 3;
        assert_eq!(
            sample_from(&r, 7, now()).expect("sample").leap,
            LeapIndicator::Unsynchronized
        );
    }

    #[test]
    fn watch_reports_duplicates_and_stall() {
        let mut w = ShmWatch::new();
        let first = sample_from(&rec(1), 7, now());
        assert!(w.judge(first).is_ok());
        assert_eq!(w.judge(first), Err(ShmError::Duplicate));
        for _ in 2..STALL_READS {
            assert_eq!(w.judge(Err(ShmError::NotReady)), Err(ShmError::NotReady));
        }
        assert_eq!(
            w.judge(Err(ShmError::NotReady)),
            Err(ShmError::Stalled { reads: STALL_READS })
        );
        let mut r = rec(1);
        r.clock_sec += 1;
        r.receive_sec += 1;
        assert!(
            w.judge(sample_from(&r, 7, now().add_s(1.0))).is_ok(),
            "a new record ends it"
        );
        assert_eq!(w.idle_reads(), 0);
    }
}
