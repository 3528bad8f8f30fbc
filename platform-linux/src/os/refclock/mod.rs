//! Reference-clock drivers on Linux: they read the hardware and hand the core's
//! `slew_core::refclock` samples (receive time, reference time).
//!
//! | driver | ntpd address | module |
//! |---|---|---|
//! | SHM | `127.127.28.U` | [`shm`]: System V segment at key `0x4E545030 + U` (gpsd writes it) |
//! | NMEA | `127.127.20.U` | [`nmea`]: a serial GPS receiver on `/dev/gpsU` |
//!
//! PPS (`127.127.22.U`, RFC 2783 `/dev/ppsU`) needs a real pulse on a real line
//! (or the `pps-ktimer`/`pps-gpio` kernel modules); it is left for hardware: see
//! docs/refclock.md.

pub mod nmea;
pub mod shm;

#[cfg(test)]
mod tests;

use slew_core::refclock::UnixTime;

/// `CLOCK_REALTIME` now, as the core's Unix time.
pub fn realtime_unix() -> UnixTime {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME) {
        Ok(ts) => UnixTime::new(ts.tv_sec(), ts.tv_nsec().clamp(0, 999_999_999) as u32),
        Err(_) => UnixTime::default(),
    }
}
