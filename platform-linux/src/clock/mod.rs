//! The clocks slewd can discipline: the kernel's (`--clock kernel`, the default), an
//! observer that never adjusts (`--clock observe`), and a virtual in-process clock
//! (`--clock virtual`) for tests and for running beside another daemon.

pub mod kernel;
pub mod observe;

pub use kernel::KernelClock;
pub use observe::ObserveClock;
