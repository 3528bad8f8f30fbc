//! The clocks slewd can discipline: the kernel's (`--clock kernel`, the default), an
//! observer that never adjusts (`--clock observe`), and a virtual in-process clock
//! (`--clock virtual`) for tests and for running beside another daemon.

pub mod kernel;
pub mod observe;
pub mod virtual_clock;

use slew_core::{Clock, NtpTimestamp};

pub use kernel::KernelClock;
pub use observe::ObserveClock;
pub use virtual_clock::{virtual_clock, VirtualClock};

use crate::os::time::realtime_now;

/// A clock the daemon can run on: a core [`Clock`] that can also translate the
/// kernel's packet timestamps (always `CLOCK_REALTIME`) into its own time.
pub trait DaemonClock: Clock {
    /// The clock's reading at the moment `CLOCK_REALTIME` read `realtime`.
    fn reading_at_realtime(&mut self, realtime: NtpTimestamp) -> NtpTimestamp;
    /// A name for logs.
    fn name(&self) -> &'static str;
    /// For a clock apart from the system's (virtual): its reading minus the system
    /// clock's, seconds; logged when `-q` finishes, since the clock ends with the
    /// process. `None` for the system clock itself.
    fn offset_from_system_s(&mut self) -> Option<f64> {
        None
    }
    /// For a clock kept at full width (the kernel's, whose `time_t` has the era):
    /// its reading now, Unix nanoseconds, so that a step can be resolved into the
    /// basedate window ([`crate::os::time::step_into_window`]). `None` for an era-less
    /// clock (the virtual one: its reading is an NTP timestamp).
    fn full_width_now_unix_ns(&mut self) -> Option<i128> {
        None
    }
}

impl DaemonClock for KernelClock {
    fn reading_at_realtime(&mut self, realtime: NtpTimestamp) -> NtpTimestamp {
        realtime
    }
    fn name(&self) -> &'static str {
        "kernel"
    }
    fn full_width_now_unix_ns(&mut self) -> Option<i128> {
        Some(crate::os::time::realtime_unix_ns())
    }
}

impl DaemonClock for ObserveClock {
    fn reading_at_realtime(&mut self, realtime: NtpTimestamp) -> NtpTimestamp {
        realtime
    }
    fn name(&self) -> &'static str {
        "observe"
    }
    fn full_width_now_unix_ns(&mut self) -> Option<i128> {
        Some(crate::os::time::realtime_unix_ns())
    }
}

impl DaemonClock for VirtualClock {
    fn reading_at_realtime(&mut self, realtime: NtpTimestamp) -> NtpTimestamp {
        // The stamp is recent (microseconds to milliseconds): over that span the two
        // clocks' rates differ by at most a few hundred ppm, far below a nanosecond.
        let age = realtime_now() - realtime;
        self.read() - age
    }
    fn name(&self) -> &'static str {
        "virtual"
    }
    fn offset_from_system_s(&mut self) -> Option<f64> {
        Some(virtual_clock::offset_from_system(self))
    }
}
