//! The `slew` package is the workspace's root: it holds the cross-crate tests in
//! `tests/` and the runnable examples in `examples/`. The code lives in `slew-core`,
//! `slew-linux` and `slew-embedded`.
pub use slew_core;
pub use slew_linux;
