//! The kernel's clock state for ntpq's `kerninfo`: one read-only `adjtimex(2)`
//! (`modes = 0`, through glibc), which changes nothing and needs no privilege, copied
//! field by field into the core's plain [`KernelState`].

use slew_core::control::KernelState;

/// Reads the kernel's clock state; `None` if the call fails (ntpd then answers
/// zeros, as the core does for a missing state).
pub fn read() -> Option<KernelState> {
    // SAFETY: `timex` is plain old data; all zero is a valid value (modes = 0: read).
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: `tx` is a valid, exclusively borrowed `timex`; with `modes == 0` the
    // kernel only writes the current state into it.
    let r = unsafe { libc::adjtimex(&mut tx) };
    if r < 0 {
        return None;
    }
    Some(KernelState {
        offset: tx.offset,
        freq: tx.freq,
        maxerror: tx.maxerror,
        esterror: tx.esterror,
        status: tx.status,
        constant: tx.constant,
        precision: tx.precision,
        tolerance: tx.tolerance,
        ppsfreq: tx.ppsfreq,
        jitter: tx.jitter,
        shift: tx.shift,
        stabil: tx.stabil,
        jitcnt: tx.jitcnt,
        calcnt: tx.calcnt,
        errcnt: tx.errcnt,
        stbcnt: tx.stbcnt,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_kernel_without_privilege() {
        let k = super::read().expect("adjtimex(modes=0) works unprivileged");
        // The kernel's tolerance is 500 ppm, scaled by 2^16.
        assert_eq!(k.tolerance, 500 << 16);
        assert!(k.maxerror >= 0 && k.esterror >= 0);
    }
}
