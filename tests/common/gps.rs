//! The GPS receiver's side of the refclock tests: NMEA lines with their checksum,
//! and a pseudo-terminal to write them to (as a receiver's serial line would).

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

use slew_core::refclock::nmea::checksum;

/// `$BODY*CS\r\n`, with the checksum a receiver puts on every sentence.
pub fn nmea_line(body: &str) -> String {
    format!("${body}*{:02X}\r\n", checksum(body.as_bytes()))
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
