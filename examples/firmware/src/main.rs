//! A firmware image for the host target: `#![no_std]`, `#![no_main]`, its own panic
//! handler and entry point. It links slew-core and slew-embedded; if anything in them
//! pulls in `std` or `alloc`, this fails to link. Build it with
//! `.ci/nostd-check` (see the README).
#![no_std]
#![no_main]

use core::panic::PanicInfo;

use slew_core::{NtpDuration, NtpTimestamp};

#[panic_handler]
fn panic(_info: &PanicInfo) -> ! {
    loop {}
}

/// The entry point the linker looks for when no C runtime is linked
/// (`-C link-arg=-nostartfiles`).
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let t = NtpTimestamp::from_unix(1_800_000_000, 0);
    let later = t + NtpDuration::from_seconds(1);
    let d = later - t;
    // Keep the work observable so the optimiser cannot drop the linked code.
    let _ = core::hint::black_box(d);
    loop {}
}
