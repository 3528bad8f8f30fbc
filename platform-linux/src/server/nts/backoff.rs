//! When to retry NTS-KE with a server after failures: exponential, capped, with a
//! little jitter supplied by the caller so a fleet restarted together does not retry
//! in lockstep. A pure function; the association keeps the failure count.

use std::time::Duration;

/// First retry after one failure.
pub const FIRST_RETRY: Duration = Duration::from_secs(16);
/// Longest wait between attempts (chrony's NTS-KE retry ceiling is of this order).
pub const MAX_RETRY: Duration = Duration::from_secs(4096);

/// Wait before the next attempt after `failures` consecutive failures (0: none, retry
/// at once), with `jitter` in [0, 1) adding up to a quarter of the wait.
pub fn retry_after(failures: u32, jitter: f64) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let shift = (failures - 1).min(16);
    let base = FIRST_RETRY.saturating_mul(1u32 << shift).min(MAX_RETRY);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    base + base.mul_f64(jitter / 4.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_sixteen_seconds_to_the_cap() {
        assert_eq!(retry_after(0, 0.0), Duration::ZERO);
        assert_eq!(retry_after(1, 0.0), Duration::from_secs(16));
        assert_eq!(retry_after(2, 0.0), Duration::from_secs(32));
        assert_eq!(retry_after(8, 0.0), Duration::from_secs(2048));
        assert_eq!(retry_after(9, 0.0), MAX_RETRY);
        assert_eq!(retry_after(u32::MAX, 0.0), MAX_RETRY);
    }

    #[test]
    fn jitter_adds_at_most_a_quarter_and_bad_jitter_adds_nothing() {
        assert_eq!(retry_after(1, 0.5), Duration::from_secs(18));
        assert!(retry_after(9, 0.999) < MAX_RETRY + MAX_RETRY / 4);
        assert_eq!(retry_after(1, f64::NAN), Duration::from_secs(16));
        assert_eq!(retry_after(1, 7.0), Duration::from_secs(20));
    }
}
