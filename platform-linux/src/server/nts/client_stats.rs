//! The NTS-KE client's cumulative counters, for the metrics page: key exchanges
//! that succeeded and those that failed, by reason, over every NTS source since
//! start (the sources' own status keeps only their last outcome, and a source
//! dropped by SIGHUP or a pool top-up takes its figures with it).

use slew_core::peer::KeFailure;

/// Every reason, in the order the metrics list them: the core's own list.
pub const REASONS: [KeFailure; KeFailure::ALL.len()] = KeFailure::ALL;

/// Counts of the client's NTS-KE outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeClientStats {
    /// Exchanges that gave cookies.
    pub succeeded: u64,
    /// Failures, indexed as [`REASONS`].
    failed: [u64; REASONS.len()],
}

impl KeClientStats {
    /// One more failure for `why`.
    pub fn record_failure(&mut self, why: KeFailure) {
        // `KeFailure` is non-exhaustive: a reason added later counts as "other".
        let i = REASONS
            .iter()
            .position(|r| *r == why)
            .unwrap_or(REASONS.len() - 1);
        if let Some(n) = self.failed.get_mut(i) {
            *n = n.saturating_add(1);
        }
    }

    /// One more exchange that gave cookies.
    pub fn record_success(&mut self) {
        self.succeeded = self.succeeded.saturating_add(1);
    }

    /// (reason code, failures), every reason listed.
    pub fn failures(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        REASONS.iter().zip(self.failed).map(|(r, n)| (r.code(), n))
    }

    /// Failures of any reason.
    pub fn failed_total(&self) -> u64 {
        self.failed.iter().fold(0u64, |a, n| a.saturating_add(*n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_accumulate_by_reason() {
        let mut s = KeClientStats::default();
        s.record_failure(KeFailure::Certificate);
        s.record_failure(KeFailure::Certificate);
        s.record_failure(KeFailure::Connect);
        s.record_success();
        let f: Vec<_> = s.failures().collect();
        assert_eq!(f.len(), REASONS.len());
        assert!(f.contains(&("certificate", 2)));
        assert!(f.contains(&("connect", 1)));
        assert!(f.contains(&("alpn", 0)));
        assert_eq!((s.succeeded, s.failed_total()), (1, 3));
    }
}
