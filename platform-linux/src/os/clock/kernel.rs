//! The kernel's clock, steered through `clock_adjtime(CLOCK_REALTIME)`.
//!
//! - frequency: the whole ±[`KERNEL_MAX_TOTAL_PPM`] range the node's frequency slews
//!   need. Within ±500 ppm through `ADJ_FREQUENCY` alone (ppm scaled by 2^16, the
//!   kernel's unit) with the tick nominal; beyond, `ADJ_TICK` carries the bulk (one
//!   µs of the 10 000 µs tick at USER_HZ 100 is 100 ppm; the kernel accepts ±10 %)
//!   and `ADJ_FREQUENCY` the remainder, both in one call so they change together.
//!   Every frequency call sets the tick, so coming back within ±500 ppm restores it;
//!   dropping the clock restores it too (the daemon's exit, a panic's unwinding), and
//!   a refused call changes neither;
//! - slew (one-shot tools only; the node slews through the frequency):
//!   `ADJ_OFFSET_SINGLESHOT`, the adjtime(2) mechanism, which the kernel amortises at
//!   its fixed 500 ppm;
//! - step: `ADJ_SETOFFSET | ADJ_NANO`, an atomic relative step;
//! - status: `STA_UNSYNC` cleared only while synchronised (the kernel's 11-minute RTC
//!   sync follows that bit), `maxerror`/`esterror` kept current, `STA_INS`/`STA_DEL`
//!   for a pending leap second.

use std::io;

use slew_core::clock::{ClockStatus, Error, ErrorKind};
use slew_core::{Clock, LeapIndicator, NtpDuration, NtpTimestamp, WideDuration};

use crate::os::time::realtime_now;

/// The kernel's unit for `timex.freq`: ppm with a 16-bit binary fraction.
const FREQ_SCALE: f64 = 65_536.0;

/// The largest single-shot slew handed to the kernel, microseconds (adjtime's
/// limit, about 2145 s; slewing that at 500 ppm takes seven weeks).
const MAX_SINGLESHOT_US: f64 = 2_000_000_000.0;

/// The kernel refuses frequencies beyond ±500 ppm (its MAXFREQ).
pub const KERNEL_MAX_FREQ_PPM: f64 = 500.0;

/// The frequency range the kernel clock offers with the tick, ±ppm: the kernel
/// accepts a tick within ±10 % of nominal; with ADJ_FREQUENCY's ±500 ppm on top this
/// keeps a margin.
pub const KERNEL_MAX_TOTAL_PPM: f64 = 100_000.0;

/// The kernel's USER_HZ (the unit of `timex.tick`): 100 on every Linux ABI slew runs
/// on; asked of sysconf in case.
fn user_hz() -> i64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as i64
    } else {
        100
    }
}

/// The nominal tick, microseconds.
pub fn nominal_tick_us() -> i64 {
    1_000_000 / user_hz()
}

/// What one microsecond of tick changes the rate by, ppm (100 at USER_HZ 100).
fn ppm_per_tick_us() -> f64 {
    1e6 / nominal_tick_us() as f64
}

/// Splits a frequency into the tick (µs) and the `ADJ_FREQUENCY` part (ppm):
/// the nominal tick within ±500 ppm, else the nearest tick and a remainder within
/// half a tick step.
pub fn split_frequency(ppm: f64) -> (i64, f64) {
    let nominal = nominal_tick_us();
    let ppm = if ppm.is_nan() { 0.0 } else { ppm };
    let ppm = ppm.clamp(-KERNEL_MAX_TOTAL_PPM, KERNEL_MAX_TOTAL_PPM);
    if ppm.abs() <= KERNEL_MAX_FREQ_PPM {
        return (nominal, ppm);
    }
    let step = ppm_per_tick_us();
    let max_delta = nominal / 10;
    let delta = ((ppm / step).round() as i64).clamp(-max_delta, max_delta);
    let rest = (ppm - delta as f64 * step).clamp(-KERNEL_MAX_FREQ_PPM, KERNEL_MAX_FREQ_PPM);
    (nominal + delta, rest)
}

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
    /// Frequency correction (`ADJ_FREQUENCY` alone), ppm.
    pub freq_ppm: f64,
    /// The tick, microseconds ([`nominal_tick_us`] unless a fast slew is running).
    pub tick_us: i64,
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
        // c_long is i64 here but i32 on 32-bit targets.
        #[allow(clippy::unnecessary_cast)]
        tick_us: plain.tick as i64,
        // With ADJ_OFFSET_SS_READ the offset is the remaining adjtime slew, in µs.
        offset_s: tx.offset as f64 * 1e-6,
        status: plain.status,
        maxerror_us: plain.maxerror,
        esterror_us: plain.esterror,
        state,
    })
}

/// Sets the frequency correction, ppm, over the whole ±[`KERNEL_MAX_TOTAL_PPM`]
/// (see [`split_frequency`]); within ±500 ppm the tick is set back to nominal.
pub fn set_frequency(ppm: f64) -> Result<(), KernelClockError> {
    let (tick_us, freq_ppm) = split_frequency(ppm);
    let mut tx = zeroed_timex();
    tx.modes = libc::ADJ_FREQUENCY | libc::ADJ_TICK;
    tx.freq = (freq_ppm * FREQ_SCALE).round() as libc::c_long;
    tx.tick = tick_us as libc::c_long;
    adjtime(&mut tx).map(|_| ())
}

/// The frequency in force, tick included, ppm.
pub fn total_frequency_ppm() -> Result<f64, KernelClockError> {
    let mut tx = zeroed_timex();
    adjtime(&mut tx)?;
    // c_long is i64 here but i32 on 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    let tick_us = tx.tick as i64;
    let tick_part = (tick_us - nominal_tick_us()) as f64 * ppm_per_tick_us();
    Ok(tick_part + tx.freq as f64 / FREQ_SCALE)
}

/// Sets the tick (µs) and the `ADJ_FREQUENCY` part (ppm) exactly as given, in one
/// call: for putting back a state read with [`read_state`].
pub fn set_tick_and_frequency(tick_us: i64, freq_ppm: f64) -> Result<(), KernelClockError> {
    let mut tx = zeroed_timex();
    tx.modes = libc::ADJ_FREQUENCY | libc::ADJ_TICK;
    tx.freq = (freq_ppm.clamp(-KERNEL_MAX_FREQ_PPM, KERNEL_MAX_FREQ_PPM) * FREQ_SCALE).round()
        as libc::c_long;
    tx.tick = tick_us as libc::c_long;
    adjtime(&mut tx).map(|_| ())
}

/// Puts the tick back to nominal, keeping `freq_ppm` (within ±500 ppm) as the
/// frequency: for exits and error paths after a fast slew.
pub fn restore_tick(freq_ppm: f64) -> Result<(), KernelClockError> {
    set_frequency(freq_ppm.clamp(-KERNEL_MAX_FREQ_PPM, KERNEL_MAX_FREQ_PPM))
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
///
/// Dropping it while a fast slew holds the tick off nominal puts the tick back and
/// leaves the last frequency set within ±500 ppm (the discipline's, in practice).
#[derive(Debug)]
pub struct KernelClock {
    /// True while this handle has the tick off nominal.
    tick_moved: bool,
    /// The last frequency set within ±500 ppm, for the restore.
    last_plain_ppm: f64,
}

impl KernelClock {
    /// A handle on CLOCK_REALTIME.
    pub fn new() -> Self {
        Self {
            tick_moved: false,
            // What to leave behind if the first frequency set is a fast slew.
            last_plain_ppm: total_frequency_ppm()
                .unwrap_or(0.0)
                .clamp(-KERNEL_MAX_FREQ_PPM, KERNEL_MAX_FREQ_PPM),
        }
    }
}

impl Default for KernelClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for KernelClock {
    fn drop(&mut self) {
        if self.tick_moved {
            // Nothing more to do if it fails: the error has nowhere to go, and the
            // next slewd (or ntpd, chronyd) sets the tick on its first update.
            let _ = restore_tick(self.last_plain_ppm);
        }
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
        // A refused call changed nothing (tick and frequency go in one call), so the
        // flag follows successes only.
        set_frequency(ppm)?;
        let (tick_us, _) = split_frequency(ppm);
        self.tick_moved = tick_us != nominal_tick_us();
        if !self.tick_moved {
            self.last_plain_ppm = ppm;
        }
        Ok(())
    }

    fn frequency_ppm(&mut self) -> Result<f64, Self::Error> {
        total_frequency_ppm()
    }

    fn max_frequency_ppm(&self) -> f64 {
        KERNEL_MAX_TOTAL_PPM
    }

    fn name(&self) -> &'static str {
        "kernel"
    }

    /// The kernel's packet stamps are this clock's readings.
    fn reading_at_stamp(&mut self, realtime: NtpTimestamp) -> NtpTimestamp {
        realtime
    }

    /// `time_t` has the era.
    fn full_width_now_unix_ns(&mut self) -> Option<i128> {
        Some(crate::os::time::realtime_unix_ns())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequency_splits_into_tick_and_remainder() {
        let nominal = nominal_tick_us();
        assert_eq!(split_frequency(0.0), (nominal, 0.0));
        assert_eq!(split_frequency(-500.0), (nominal, -500.0));
        // 600 ppm at USER_HZ 100: one µs of tick (100 ppm) would leave 500; the
        // nearest tick is +6 µs and nothing left.
        let (tick, rest) = split_frequency(600.0);
        let step = ppm_per_tick_us();
        assert!((((tick - nominal) as f64) * step + rest - 600.0).abs() < 1e-9);
        assert!(rest.abs() <= step / 2.0 + 1e-9);
        let (tick, rest) = split_frequency(-83_333.0);
        assert!((((tick - nominal) as f64) * step + rest + 83_333.0).abs() < 1e-9);
        // Beyond the range: clamped, never past the kernel's ±10 % tick.
        let (tick, _) = split_frequency(1e9);
        assert!(tick <= nominal + nominal / 10);
        assert_eq!(split_frequency(f64::NAN), (nominal, 0.0));
    }
}
