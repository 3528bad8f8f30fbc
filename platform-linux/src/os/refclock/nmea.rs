//! ntpd's NMEA refclock (type 20) on a serial device: `/dev/gpsU` (or any tty or
//! pseudo-terminal path), raw 8N1 at the baud rate of the `mode` bits, read without
//! blocking from the daemon's `poll(2)` loop. Each read is stamped with
//! `CLOCK_REALTIME` right after it returns, and each sentence takes the stamp of the
//! read its `$` came in (see `slew_core::refclock::nmea`); `fudge time2` covers the
//! receiver's and the line's delay.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use slew_core::refclock::nmea_mode::{NmeaCounters, NmeaDriver, NmeaEvent, NmeaMode};

/// The device of unit `unit`, as ntpd names it.
pub fn device_path(unit: u8) -> String {
    format!("/dev/gps{unit}")
}

fn speed(baud: u32) -> Option<libc::speed_t> {
    Some(match baud {
        4800 => libc::B4800,
        9600 => libc::B9600,
        19_200 => libc::B19200,
        38_400 => libc::B38400,
        57_600 => libc::B57600,
        115_200 => libc::B115200,
        _ => return None,
    })
}

/// Raw mode, 8N1, receiver on, modem lines ignored, at `baud`.
fn set_raw(fd: BorrowedFd<'_>, baud: u32) -> io::Result<()> {
    let sp = speed(baud)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "unsupported baud rate"))?;
    let raw = fd.as_raw_fd();
    // SAFETY: termios is plain data filled by tcgetattr.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and pointer.
    if unsafe { libc::tcgetattr(raw, &mut t) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: t is a valid termios.
    unsafe {
        libc::cfmakeraw(&mut t);
        libc::cfsetispeed(&mut t, sp);
        libc::cfsetospeed(&mut t, sp);
    }
    t.c_cflag |= libc::CLOCAL | libc::CREAD;
    t.c_cc[libc::VMIN] = 1;
    t.c_cc[libc::VTIME] = 0;
    // SAFETY: valid fd and pointer.
    if unsafe { libc::tcsetattr(raw, libc::TCSANOW, &t) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An open NMEA receiver.
#[derive(Debug)]
pub struct NmeaPort {
    file: File,
    driver: NmeaDriver,
}

impl NmeaPort {
    /// Open `path` read-only and non-blocking (no controlling terminal) and set the
    /// line up for the `mode` word's baud rate.
    pub fn open(path: &Path, mode: NmeaMode) -> io::Result<Self> {
        let baud = mode.baud().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "mode's baud-rate bits name no speed",
            )
        })?;
        // Read-only: slew never writes to the receiver (no configuration strings).
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)?;
        set_raw(file.as_fd(), baud)?;
        Ok(Self {
            file,
            driver: NmeaDriver::new(mode),
        })
    }

    /// The descriptor to wait on with `poll(2)` (POLLIN).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Counters of the driver.
    pub fn counters(&self) -> NmeaCounters {
        self.driver.counters()
    }

    /// Read everything there is (until the read would block), handing each line's
    /// outcome to `on_event`. Returns the bytes read; `Ok(0)` with nothing pending.
    pub fn read_available(&mut self, mut on_event: impl FnMut(NmeaEvent<'_>)) -> io::Result<usize> {
        let mut buf = [0u8; 512];
        let mut total = 0;
        loop {
            match self.file.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    let rx = super::realtime_unix();
                    total += n;
                    self.driver
                        .feed(buf.get(..n).unwrap_or(&[]), rx, &mut on_event);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(total),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}
