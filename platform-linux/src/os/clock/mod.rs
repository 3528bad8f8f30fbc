//! The clocks slewd can discipline: the kernel's (`--clock kernel`, the default), an
//! observer that never adjusts (`--clock observe`), and a virtual in-process clock
//! (`--clock virtual`) for tests and for running beside another daemon. Each is a
//! plain core [`Clock`](slew_core::Clock): its name, how it reads the kernel's packet stamps
//! (`CLOCK_REALTIME`) and whether it keeps the era are that trait's methods.

pub mod kernel;
pub mod observe;
pub mod virtual_clock;

pub use kernel::KernelClock;
pub use observe::ObserveClock;
pub use virtual_clock::{virtual_clock, VirtualClock};
