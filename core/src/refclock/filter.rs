//! The median filter of a reference clock (ntpd's `refclock_sample`, ntpsec
//! `ntpd/ntp_refclock.c`): the offsets collected during one poll interval are sorted,
//! the ones farthest from the median are dropped until about 60 % remain (ntpd keeps
//! `n - n*4/10`, which rounds the kept count up), and the rest give the offset (their
//! mean) and the jitter.
//!
//! ntpd's buffer holds `MAXSTAGE` = 60 offsets and overwrites the oldest when a driver
//! delivers more in a poll; this one holds [`CAPACITY`] = 64 and does the same, so a
//! 1 Hz source polled every 64 s loses nothing. The jitter is ntpsec's: the RMS of
//! the differences between neighbours of the sorted, kept offsets (divided by the
//! kept count), floored at the driver's precision here so that a perfectly steady
//! reference still claims no better than it can resolve.

/// Offsets kept per poll.
pub const CAPACITY: usize = 64;

/// What one poll's samples came to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MedianOutput {
    /// Mean of the kept offsets, seconds.
    pub offset_s: f64,
    /// Jitter of the kept offsets, seconds (at least the precision given to `take`).
    pub jitter_s: f64,
    /// Samples the poll had.
    pub samples: usize,
    /// Samples kept after trimming.
    pub kept: usize,
}

/// The offsets collected since the last poll.
#[derive(Clone, Debug)]
pub struct MedianFilter {
    ring: [f64; CAPACITY],
    /// Next slot to write.
    next: usize,
    len: usize,
    overwritten: u64,
}

impl Default for MedianFilter {
    fn default() -> Self {
        Self::new()
    }
}

impl MedianFilter {
    /// An empty filter.
    pub const fn new() -> Self {
        Self {
            ring: [0.0; CAPACITY],
            next: 0,
            len: 0,
            overwritten: 0,
        }
    }

    /// Offsets waiting for the next poll.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no offset waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Offsets lost because more than [`CAPACITY`] came in one poll.
    pub fn overwritten(&self) -> u64 {
        self.overwritten
    }

    /// Add an offset, seconds. Not-a-number and infinities are ignored (returns
    /// false); past [`CAPACITY`] the oldest is overwritten.
    pub fn push(&mut self, offset_s: f64) -> bool {
        if !offset_s.is_finite() {
            return false;
        }
        if let Some(slot) = self.ring.get_mut(self.next) {
            *slot = offset_s;
        }
        self.next = (self.next + 1) % CAPACITY;
        if self.len == CAPACITY {
            self.overwritten += 1;
        } else {
            self.len += 1;
        }
        true
    }

    /// Move every waiting offset by `delta_s` (the node corrected the clock by
    /// `-delta_s` since they were measured).
    pub fn shift_offsets(&mut self, delta_s: f64) {
        let n = self.len;
        for o in self.ring.iter_mut().take(n) {
            *o += delta_s;
        }
    }

    /// Forget the waiting offsets.
    pub fn clear(&mut self) {
        self.next = 0;
        self.len = 0;
    }

    /// Process and empty the filter (the poll). `None` when no offset came.
    pub fn take(&mut self, precision_s: f64) -> Option<MedianOutput> {
        let n = self.len;
        if n == 0 {
            return None;
        }
        let mut off = [0.0f64; CAPACITY];
        let src = self.ring.get(..n).unwrap_or(&[]);
        for (d, s) in off.iter_mut().zip(src) {
            *d = *s;
        }
        self.clear();
        let off = off.get_mut(..n).unwrap_or(&mut []);
        insertion_sort(off);
        let out = trimmed(off, precision_s);
        Some(MedianOutput { samples: n, ..out })
    }
}

/// Sorts at most [`CAPACITY`] offsets by `f64::total_cmp`. An insertion sort: for
/// one poll's samples it costs nothing that matters, and it is a few hundred bytes
/// of code where core's pdqsort is over 20 KB in a firmware image.
fn insertion_sort(v: &mut [f64]) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 {
            let (Some(&a), Some(&b)) = (v.get(j - 1), v.get(j)) else {
                break;
            };
            if a.total_cmp(&b).is_le() {
                break;
            }
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// ntpd's trimming over sorted offsets, then mean and jitter of the rest.
fn trimmed(sorted: &[f64], precision_s: f64) -> MedianOutput {
    let n = sorted.len();
    let keep = n - n * 4 / 10;
    let (mut i, mut j) = (0, n);
    while j - i > keep {
        let median = sorted.get((i + j) / 2).copied().unwrap_or(0.0);
        let lo = sorted.get(i).copied().unwrap_or(0.0);
        let hi = sorted.get(j - 1).copied().unwrap_or(0.0);
        if hi - median < median - lo {
            i += 1; // the low end is farther: drop it
        } else {
            j -= 1;
        }
    }
    let kept = sorted.get(i..j).unwrap_or(&[]);
    let m = kept.len().max(1) as f64;
    let offset_s = kept.iter().sum::<f64>() / m;
    let sq: f64 = kept.windows(2).map(|w| (w[1] - w[0]) * (w[1] - w[0])).sum();
    let jitter_s = libm::sqrt(sq / m).max(precision_s);
    MedianOutput {
        offset_s,
        jitter_s,
        samples: n,
        kept: kept.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_insertion_sort_agrees_with_cores_sort() {
        // A deterministic spread of values, duplicates, signs, NaN and infinities.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for n in 0..=CAPACITY {
            let mut a = [0.0f64; CAPACITY];
            for v in a.iter_mut().take(n) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *v = match x % 11 {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    2 => -0.0,
                    3 => 0.0,
                    _ => (x % 2001) as f64 / 1000.0 - 1.0,
                };
            }
            let mut ours = a;
            insertion_sort(&mut ours[..n]);
            let mut theirs = a;
            theirs[..n].sort_unstable_by(f64::total_cmp);
            let bits = |v: &[f64]| {
                v.iter()
                    .map(|f| f.to_bits())
                    .collect::<heapless::Vec<u64, CAPACITY>>()
            };
            assert_eq!(bits(&ours[..n]), bits(&theirs[..n]), "n = {n}");
        }
    }
    use proptest::prelude::*;

    #[test]
    fn empty_poll_gives_nothing() {
        let mut f = MedianFilter::new();
        assert_eq!(f.take(1e-6), None);
    }

    #[test]
    fn one_sample_is_its_own_mean() {
        let mut f = MedianFilter::new();
        assert!(f.push(0.040));
        let out = f.take(1e-6).expect("one");
        assert_eq!(out.offset_s, 0.040);
        assert_eq!((out.samples, out.kept), (1, 1));
        assert_eq!(out.jitter_s, 1e-6, "floored at the precision");
        assert!(f.is_empty(), "the poll empties it");
    }

    #[test]
    fn outliers_are_trimmed() {
        // 16 good samples around 40 ms and 4 wild ones: n = 20, keep 12.
        let mut f = MedianFilter::new();
        for k in 0..16 {
            f.push(0.040 + (k as f64 - 7.5) * 1e-4);
        }
        for wild in [1.0, -1.0, 0.5, 2.0] {
            f.push(wild);
        }
        let out = f.take(1e-9).expect("samples");
        assert_eq!((out.samples, out.kept), (20, 12));
        assert!((out.offset_s - 0.040).abs() < 5e-4, "{out:?}");
        assert!(out.jitter_s < 1e-3, "{out:?}");
    }

    #[test]
    fn keeps_sixty_percent_rounded_up() {
        for (n, keep) in [(1, 1), (2, 2), (3, 2), (5, 3), (10, 6), (60, 36), (64, 39)] {
            let mut f = MedianFilter::new();
            for k in 0..n {
                f.push(k as f64);
            }
            assert_eq!(f.take(0.0).expect("samples").kept, keep, "n = {n}");
        }
    }

    #[test]
    fn overflow_overwrites_the_oldest() {
        let mut f = MedianFilter::new();
        for _ in 0..CAPACITY {
            f.push(5.0); // old, to be overwritten
        }
        for _ in 0..CAPACITY {
            f.push(0.001);
        }
        assert_eq!(f.overwritten(), CAPACITY as u64);
        let out = f.take(0.0).expect("samples");
        assert_eq!(out.samples, CAPACITY);
        assert!((out.offset_s - 0.001).abs() < 1e-12);
    }

    #[test]
    fn non_finite_ignored() {
        let mut f = MedianFilter::new();
        assert!(!f.push(f64::NAN));
        assert!(!f.push(f64::INFINITY));
        assert!(f.is_empty());
    }

    proptest! {
        /// The mean of the kept samples lies between the smallest and the largest
        /// sample, the jitter is finite, and at least 60 % are kept.
        #[test]
        fn output_within_input(xs in proptest::collection::vec(-10.0f64..10.0, 1..100)) {
            let mut f = MedianFilter::new();
            for x in &xs { f.push(*x); }
            let tail = &xs[xs.len().saturating_sub(CAPACITY)..];
            let lo = tail.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = tail.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let out = f.take(1e-9).expect("samples");
            prop_assert!(out.offset_s >= lo - 1e-9 && out.offset_s <= hi + 1e-9);
            prop_assert!(out.jitter_s.is_finite() && out.jitter_s >= 1e-9);
            prop_assert!(out.kept * 10 >= out.samples * 6);
            prop_assert_eq!(out.samples, tail.len());
        }

        /// A minority of wild values (under 40 %) cannot drag the result far from
        /// the cluster of good ones.
        #[test]
        fn minority_of_outliers_rejected(
            good in proptest::collection::vec(-0.001f64..0.001, 10..40),
            wild in proptest::collection::vec(prop_oneof![5.0f64..50.0, -50.0f64..-5.0], 0..6),
        ) {
            prop_assume!(wild.len() * 10 < (good.len() + wild.len()) * 3);
            let mut f = MedianFilter::new();
            for x in good.iter().chain(&wild) { f.push(*x); }
            let out = f.take(0.0).expect("samples");
            prop_assert!(out.offset_s.abs() <= 0.001, "{:?}", out);
        }
    }
}
