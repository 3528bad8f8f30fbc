//! Signals as flags: handlers only store to atomics; the `poll(2)` loop reads them after
//! `poll` returns (EINTR) or times out. No self-pipe, no signalfd (DESIGN.md).

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static TERMINATE: AtomicBool = AtomicBool::new(false);
static RELOAD: AtomicBool = AtomicBool::new(false);
static DUMP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    // Only async-signal-safe work here: atomic stores.
    match sig {
        libc::SIGHUP => RELOAD.store(true, Ordering::SeqCst),
        libc::SIGUSR1 => DUMP.store(true, Ordering::SeqCst),
        _ => TERMINATE.store(true, Ordering::SeqCst),
    }
}

/// Installs the handlers for SIGTERM, SIGINT (stop), SIGHUP (reload) and SIGUSR1
/// (log counters). No `SA_RESTART`, so a blocked `poll` returns at once.
pub fn install() -> std::io::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
    ] {
        // SAFETY: the handler only stores to atomics, which is async-signal-safe.
        unsafe { sigaction(sig, &action) }
            .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
    }
    Ok(())
}

/// True once SIGTERM or SIGINT arrived.
pub fn terminate_requested() -> bool {
    TERMINATE.load(Ordering::SeqCst)
}

/// True once per SIGHUP.
pub fn take_reload() -> bool {
    RELOAD.swap(false, Ordering::SeqCst)
}

/// True once per SIGUSR1.
pub fn take_dump() -> bool {
    DUMP.swap(false, Ordering::SeqCst)
}

/// Asks the loop to stop, as SIGTERM would (for embedding and tests).
pub fn request_terminate() {
    TERMINATE.store(true, Ordering::SeqCst);
}
