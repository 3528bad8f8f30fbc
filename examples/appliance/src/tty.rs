//! A tty (a GPS receiver's serial line, or a pty in tests) as the `embedded-io`
//! UART an appliance's HAL would hand slew-embedded's `UartGps`: non-blocking, and
//! `read_ready` asks `poll(2)` whether bytes wait.

use std::fs::File;
use std::io::Read as _;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;

/// The receiver's line, read-only.
pub struct Tty(File);

/// A read that failed (anything but "no bytes yet").
#[derive(Debug)]
pub struct TtyError(pub std::io::ErrorKind);

impl embedded_io::Error for TtyError {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self.0 {
            std::io::ErrorKind::Interrupted => embedded_io::ErrorKind::Interrupted,
            _ => embedded_io::ErrorKind::Other,
        }
    }
}

impl Tty {
    /// Opens `path` non-blocking, without making it our controlling terminal.
    pub fn open(path: &str) -> std::io::Result<Self> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)?;
        Ok(Self(f))
    }
}

impl embedded_io::ErrorType for Tty {
    type Error = TtyError;
}

impl embedded_io::Read for Tty {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TtyError> {
        match self.0.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(TtyError(e.kind())),
        }
    }
}

impl embedded_io::ReadReady for Tty {
    fn read_ready(&mut self) -> Result<bool, TtyError> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(n) => Ok(n > 0
                && fds[0]
                    .revents()
                    .is_some_and(|r| r.contains(PollFlags::POLLIN))),
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(TtyError(std::io::Error::from(e).kind())),
        }
    }
}
