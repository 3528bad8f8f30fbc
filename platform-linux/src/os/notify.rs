//! systemd's readiness protocol (`Type=notify`, sd_notify(3)), without libsystemd:
//! one datagram of `KEY=VALUE` lines to the `AF_UNIX` socket named by
//! `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace).
//!
//! slewd says `READY=1` once its sockets are bound, privileges dropped and signal
//! handlers installed, so `systemctl start` returns when time can be asked for and
//! units ordered `After=` it (a cluster's jobs) start on a serving daemon;
//! `RELOADING=1` and `READY=1` around a SIGHUP; `STOPPING=1` at exit. Outside
//! systemd (no variable) every call does nothing.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` to the service manager, if there is one. Errors are returned for
/// the caller to log once; nothing here is fatal to the daemon.
pub fn notify(state: &str) -> io::Result<()> {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(());
    };
    let target = target.to_string_lossy().into_owned();
    let socket = UnixDatagram::unbound()?;
    let addr = address(&target)?;
    socket.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

fn address(target: &str) -> io::Result<SocketAddr> {
    if let Some(name) = target.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        SocketAddr::from_abstract_name(name.as_bytes())
    } else if target.starts_with('/') {
        SocketAddr::from_pathname(target)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("NOTIFY_SOCKET={target}: neither a path nor @abstract"),
        ))
    }
}

/// [`notify`], with a failure logged (once per call site's message) instead of
/// returned.
pub fn notify_or_log(state: &str) {
    if let Err(e) = notify(state) {
        log::warn!("cannot tell systemd {state:?}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_paths_or_abstract_names() {
        assert!(address("/run/systemd/notify").is_ok());
        assert!(address("@/org/freedesktop/systemd1/notify").is_ok());
        assert!(address("relative/path").is_err());
    }
}
