//! The GPS receiver's side of the refclock tests: NMEA lines with their checksum,
//! and a pseudo-terminal to write them to (as a receiver's serial line would).

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use slew_core::refclock::nmea::checksum;
use slew_core::refclock::UnixTime;
use slew_linux::os::refclock::realtime_unix;

/// `$BODY*CS\r\n`, with the checksum a receiver puts on every sentence.
pub fn nmea_line(body: &str) -> String {
    format!("${body}*{:02X}\r\n", checksum(body.as_bytes()))
}

/// The sentences a receiver at 48°07.038' N 11°31.000' E sends for UTC second `t`,
/// each a whole line with its checksum.
pub struct Sentences {
    /// RMC: status `A`, or `V` without a fix.
    pub rmc: String,
    /// GGA: fix quality 1, or 0 without a fix.
    pub gga: String,
    /// ZDA: the date and time.
    pub zda: String,
}

/// Second `t`'s RMC, GGA and ZDA, with a fix or without.
pub fn sentences(t: i64, fix: bool) -> Sentences {
    let day = t.div_euclid(86_400);
    let sod = t.rem_euclid(86_400);
    let (y, m, d) = slew_core::refclock::civil::civil_from_days(day);
    let hms = format!("{:02}{:02}{:02}.00", sod / 3600, sod / 60 % 60, sod % 60);
    let status = if fix { "A" } else { "V" };
    let quality = if fix { 1 } else { 0 };
    Sentences {
        rmc: nmea_line(&format!(
            "GPRMC,{hms},{status},4807.038,N,01131.000,E,0.0,0.0,{d:02}{m:02}{:02},,,A",
            y % 100
        )),
        gga: nmea_line(&format!(
            "GPGGA,{hms},4807.038,N,01131.000,E,{quality},08,0.9,545.4,M,46.9,M,,"
        )),
        zda: nmea_line(&format!("GPZDA,{hms},{d:02},{m:02},{y:04},00,00")),
    }
}

/// Sleeps until the system clock reads `t` (returns at once if it is past).
pub fn sleep_until(t: UnixTime) {
    let left = t.diff_s(realtime_unix());
    if left > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(left));
    }
}

/// A pseudo-terminal: the test writes to `master`; a driver opens `slave`.
pub struct Pty {
    pub master: std::fs::File,
    pub slave: PathBuf,
}

/// Opens a fresh pseudo-terminal pair.
pub fn open_pty() -> Pty {
    // SAFETY: plain libc calls; the fd is owned by the File.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(fd >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(fd), 0);
        assert_eq!(libc::unlockpt(fd), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        let slave = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_string_lossy()
            .into_owned();
        Pty {
            master: std::fs::File::from(OwnedFd::from_raw_fd(fd)),
            slave: PathBuf::from(slave),
        }
    }
}
