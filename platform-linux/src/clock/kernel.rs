//! The kernel's clock, steered through `clock_adjtime(CLOCK_REALTIME)`.
//!
//! - frequency: `ADJ_FREQUENCY` (ppm scaled by 2^16, the kernel's unit);
//! - slew: `ADJ_OFFSET_SINGLESHOT`, the adjtime(2) mechanism: the kernel amortises the
//!   offset at its fixed 500 ppm, so time never runs backwards and a slew can never
//!   exceed the 500 ppm the discipline allows;
//! - step: `ADJ_SETOFFSET | ADJ_NANO`, an atomic relative step;
//! - status: `STA_UNSYNC` cleared only while synchronised (the kernel's 11-minute RTC
//!   sync follows that bit), `maxerror`/`esterror` kept current, `STA_INS`/`STA_DEL`
//!   for a pending leap second.

use std::io;

use slew_core::clock::{ClockStatus, Error, ErrorKind};
use slew_core::{Clock, LeapIndicator, NtpDuration, NtpTimestamp, WideDuration};

use crate::time::realtime_now;

/// The kernel's unit for `timex.freq`: ppm with a 16-bit binary fraction.
const FREQ_SCALE: f64 = 65_536.0;

/// The largest single-shot slew handed to the kernel, microseconds (adjtime's
/// limit, about 2145 s; slewing that at 500 ppm takes seven weeks).
const MAX_SINGLESHOT_US: f64 = 2_000_000_000.0;

/// The kernel refuses frequencies beyond ±500 ppm (its MAXFREQ).
pub const KERNEL_MAX_FREQ_PPM: f64 = 500.0;

/// An OS error from `clock_adjtime`.
#[derive(Debug)]
pub struct KernelClockError(pub io::Error);

impl Error for KernelClockError {
    fn kind(&self) -> ErrorKind {
        match self.0.raw_os_error() {
            Some(libc::EPERM) => ErrorKind::PermissionDenied,
            Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => ErrorKind::Unsupported,
            _ => ErrorKind::Other,
        }
    }
}

impl std::fmt::Display for KernelClockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "clock_adjtime: {}", self.0)
    }
}

/// What `clock_adjtime` reports, in plain units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KernelState {
    /// Frequency correction, ppm.
    pub freq_ppm: f64,
    /// Remaining single-shot slew, seconds (from `ADJ_OFFSET_SS_READ`).
    pub offset_s: f64,
    /// The status bits (`STA_*`).
    pub status: i32,
    /// Maximum error, microseconds.
    pub maxerror_us: i64,
    /// Estimated error, microseconds.
    pub esterror_us: i64,
    /// The return value: `TIME_OK`, `TIME_INS`, … `TIME_ERROR`.
    pub state: i32,
}

fn zeroed_timex() -> libc::timex {
    // SAFETY: timex is a plain C struct of integers; all-zero is a valid value and
    // the "no modes" request.
    unsafe { std::mem::zeroed() }
}

fn adjtime(tx: &mut libc::timex) -> Result<i32, KernelClockError> {
    // SAFETY: `tx` is a valid, exclusively borrowed timex for the call's duration.
    let r = unsafe { libc::clock_adjtime(libc::CLOCK_REALTIME, tx) };
    if r < 0 {
        Err(KernelClockError(io::Error::last_os_error()))
    } else {
        Ok(r)
    }
}

/// Reads the kernel's clock state without changing anything.
pub fn read_state() -> Result<KernelState, KernelClockError> {
    let mut tx = zeroed_timex();
    tx.modes = libc::ADJ_OFFSET_SS_READ;
    let state = adjtime(&mut tx)?;
    let mut plain = zeroed_timex();
    adjtime(&mut plain)?;
    Ok(KernelState {
        freq_ppm: plain.freq as f64 / FREQ_SCALE,
        // With ADJ_OFFSET_SS_READ the offset is the remaining adjtime slew, in µs.
        offset_s: tx.offset as f64 * 1e-6,
        status: plain.status,
        maxerror_us: plain.maxerror,
        esterror_us: plain.esterror,
        state,
    })
}

/// Sets the frequency correction, ppm (clamped to the kernel's ±500 ppm).
pub fn set_frequency(ppm: f64) -> Result<(), KernelClockError> {
    let mut tx = zeroed_timex();
    tx.modes = libc::ADJ_FREQUENCY;
    tx.freq =
        (ppm.clamp(-KERNEL_MAX_FREQ_PPM, KERNEL_MAX_FREQ_PPM) * FREQ_SCALE).round() as libc::c_long;
    adjtime(&mut tx).map(|_| ())
}

/// Replaces the status word (only the writable bits matter to the kernel) and the
/// unit of its offsets (`STA_NANO`, which `ADJ_NANO`/`ADJ_MICRO` choose), so a saved
/// status can be put back exactly.
pub fn set_status_bits(status: i32) -> Result<(), KernelClockError> {
    let mut tx = zeroed_timex();
    let unit = if status & libc::STA_NANO != 0 {
        libc::ADJ_NANO
    } else {
        libc::ADJ_MICRO
    };
    tx.modes = libc::ADJ_STATUS | unit;
    tx.status = status;
    adjtime(&mut tx).map(|_| ())
}

/// The real clock of this machine. Needs CAP_SYS_TIME for anything but reading.
#[derive(Debug, Default)]
pub struct KernelClock {
    _private: (),
}

impl KernelClock {
    /// A handle on CLOCK_REALTIME.
    pub fn new() -> Self {
        Self { _private: () }
    }
}

impl Clock for KernelClock {
    type Error = KernelClockError;

    fn now(&mut self) -> Result<NtpTimestamp, Self::Error> {
        Ok(realtime_now())
    }

    fn step(&mut self, offset: WideDuration) -> Result<(), Self::Error> {
        let mut tx = zeroed_timex();
        tx.modes = libc::ADJ_SETOFFSET | libc::ADJ_NANO;
        // Full width: time_t is 64 bits, so decades (or 2^35 s) go in one call.
        let ns = offset.to_nanos();
        // With ADJ_NANO, time.tv_usec carries nanoseconds and must be non-negative.
        tx.time.tv_sec = ns
            .div_euclid(1_000_000_000)
            .clamp(i64::MIN.into(), i64::MAX.into()) as libc::time_t;
        tx.time.tv_usec = ns.rem_euclid(1_000_000_000) as libc::suseconds_t;
        adjtime(&mut tx).map(|_| ())
    }

    fn slew(&mut self, offset: NtpDuration) -> Result<(), Self::Error> {
        let mut tx = zeroed_timex();
        tx.modes = libc::ADJ_OFFSET_SINGLESHOT;
        // The single-shot offset is in microseconds. The ±0.5 s limit (MAXPHASE)
        // applies to ADJ_OFFSET, not to this adjtime-style mode; glibc's adjtime
        // allows about ±2145 s, so slew what is asked up to that.
        let us = (offset.to_seconds_f64() * 1e6)
            .round()
            .clamp(-MAX_SINGLESHOT_US, MAX_SINGLESHOT_US);
        tx.offset = us as libc::c_long;
        adjtime(&mut tx).map(|_| ())
    }

    fn set_frequency_ppm(&mut self, ppm: f64) -> Result<(), Self::Error> {
        set_frequency(ppm)
    }

    fn frequency_ppm(&mut self) -> Result<f64, Self::Error> {
        let mut tx = zeroed_timex();
        adjtime(&mut tx)?;
        Ok(tx.freq as f64 / FREQ_SCALE)
    }

    fn set_status(&mut self, status: ClockStatus) -> Result<(), Self::Error> {
        let mut read = zeroed_timex();
        adjtime(&mut read)?;
        let mut bits = read.status & !(libc::STA_UNSYNC | libc::STA_INS | libc::STA_DEL);
        match status.leap {
            LeapIndicator::Unsynchronized => bits |= libc::STA_UNSYNC,
            LeapIndicator::Insert => bits |= libc::STA_INS,
            LeapIndicator::Delete => bits |= libc::STA_DEL,
            LeapIndicator::NoWarning => {}
        }
        // Never let the kernel PLL act on our offsets: slew owns the discipline.
        bits &= !(libc::STA_PLL | libc::STA_FLL);
        let mut tx = zeroed_timex();
        tx.modes = libc::ADJ_STATUS | libc::ADJ_MAXERROR | libc::ADJ_ESTERROR;
        tx.status = bits;
        tx.maxerror = (status.max_error_s * 1e6).clamp(0.0, 16e6) as libc::c_long;
        tx.esterror = (status.est_error_s * 1e6).clamp(0.0, 16e6) as libc::c_long;
        adjtime(&mut tx).map(|_| ())
    }
}
