//! The one source of randomness of the Linux port: the node's PRNG seed (request
//! nonces, poll jitter) and the rate limiter's hash key both come from here.
//!
//! `getrandom(2)` through glibc, then `/dev/urandom` (a kernel older than 3.17, a
//! seccomp profile that forbids the call). Both failing is not expected on any Linux
//! slewd runs on; the clocks and the process id are mixed in then, so two daemons
//! still differ, and it is logged once, because such a seed is guessable.

use std::io::Read;

/// `N` random bytes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if !fill_from_kernel(&mut out) {
        log::warn!("no kernel random source (getrandom, /dev/urandom): nonces are guessable");
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            ^ u128::from(crate::os::time::monotonic_now().as_nanos()) << 64
            ^ u128::from(std::process::id());
        for (b, t) in out.iter_mut().zip(t.to_le_bytes().iter().cycle()) {
            *b = *t;
        }
    }
    out
}

/// A random `u64`.
pub fn random_u64() -> u64 {
    u64::from_ne_bytes(random_bytes())
}

fn fill_from_kernel(buf: &mut [u8]) -> bool {
    let mut filled = 0;
    // getrandom may return fewer bytes than asked (signals, > 256 bytes): loop, bounded.
    for _ in 0..8 {
        let Some(rest) = buf.get_mut(filled..) else {
            return true;
        };
        if rest.is_empty() {
            return true;
        }
        // SAFETY: `rest` is a valid, writable buffer of `rest.len()` bytes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n <= 0 {
            break;
        }
        filled += n as usize;
    }
    if filled >= buf.len() {
        return true;
    }
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_draws_differ_and_are_not_zero() {
        let (a, b) = (random_bytes::<16>(), random_bytes::<16>());
        assert_ne!(a, b);
        assert_ne!(a, [0; 16]);
        assert_ne!(random_u64(), random_u64());
    }
}
