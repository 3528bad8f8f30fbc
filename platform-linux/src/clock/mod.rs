//! The clocks slewd can discipline: the kernel's (`--clock kernel`, the default), an
//! observer that never adjusts (`--clock observe`), and a virtual in-process clock
//! (`--clock virtual`) for tests and for running beside another daemon. Each is a
//! plain core [`Clock`]: its name, how it reads the kernel's packet stamps
//! (`CLOCK_REALTIME`) and whether it keeps the era are that trait's methods.

pub mod kernel;
pub mod observe;
pub mod virtual_clock;

use slew_core::{Clock, NtpTimestamp};

pub use kernel::KernelClock;
pub use observe::ObserveClock;
pub use virtual_clock::{virtual_clock, VirtualClock};

/// The name the daemon's code used for its clock bound before the core [`Clock`]
/// carried everything: any core clock is one. Kept, with `reading_at_realtime`, for
/// the server path until it is merged onto [`Clock::reading_at_stamp`]; new code
/// bounds on [`Clock`].
pub trait DaemonClock: Clock {
    /// [`Clock::reading_at_stamp`] of a kernel stamp (`CLOCK_REALTIME`).
    fn reading_at_realtime(&mut self, realtime: NtpTimestamp) -> NtpTimestamp {
        self.reading_at_stamp(realtime)
    }
}

impl<C: Clock + ?Sized> DaemonClock for C {}
