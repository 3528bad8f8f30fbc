//! Log lines that a flood cannot multiply: at most `burst` lines per key in each
//! window, then one line saying how many were suppressed.
//!
//! The summary is due when its window ends, whether or not another line of the same
//! kind comes (issue 11: it used to wait for the next one, once 15 minutes late):
//! the loop that owns a limiter calls [`RateLimitedLog::flush`] on every turn and
//! wakes no later than [`RateLimitedLog::next_flush`], which is `None` (no extra
//! wake-up) unless a summary is pending.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A window length that replaces every limiter's own (0: none). slewd's hidden
/// `--log-window-s` sets it, so that an end-to-end test need not wait a minute.
static WINDOW_OVERRIDE_S: AtomicU64 = AtomicU64::new(0);

/// Makes every limiter created from now on use `window_s` (0 restores their own).
pub fn set_window_override(window_s: u64) {
    WINDOW_OVERRIDE_S.store(window_s, Ordering::Relaxed);
}

#[derive(Debug)]
struct Slot {
    key: &'static str,
    window_start: Instant,
    printed: u32,
    suppressed: u64,
}

/// A per-key rate limiter for log lines.
#[derive(Debug)]
pub struct RateLimitedLog {
    burst: u32,
    window_s: u64,
    slots: Vec<Slot>,
}

impl RateLimitedLog {
    /// At most `burst` lines per key every `window_s` seconds.
    pub fn new(burst: u32, window_s: u64) -> Self {
        let window_s = match WINDOW_OVERRIDE_S.load(Ordering::Relaxed) {
            0 => window_s,
            o => o,
        };
        Self {
            burst,
            window_s,
            slots: Vec::new(),
        }
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.window_s)
    }

    /// Whether a line for `key` may be printed now; counts it either way.
    pub fn allow(&mut self, key: &'static str) -> bool {
        let (allowed, summary) = self.count(key, Instant::now());
        if let Some(line) = summary {
            log::warn!("{line}");
        }
        allowed
    }

    /// Counts a line for `key` at `now`: whether it may be printed, and the summary
    /// of the window that ended before it, if one is still owed.
    fn count(&mut self, key: &'static str, now: Instant) -> (bool, Option<String>) {
        let window = self.window();
        let idx = match self.slots.iter().position(|s| s.key == key) {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    key,
                    window_start: now,
                    printed: 0,
                    suppressed: 0,
                });
                self.slots.len() - 1
            }
        };
        let window_s = self.window_s;
        let Some(slot) = self.slots.get_mut(idx) else {
            return (false, None);
        };
        let mut summary = None;
        if now.saturating_duration_since(slot.window_start) >= window {
            summary = take_summary(slot, window_s);
            slot.window_start = now;
            slot.printed = 0;
        }
        let allowed = if slot.printed < self.burst {
            slot.printed += 1;
            true
        } else {
            slot.suppressed += 1;
            false
        };
        (allowed, summary)
    }

    /// The summaries whose window has ended by `now`, each given once.
    fn due(&mut self, now: Instant) -> Vec<String> {
        let (window, window_s) = (self.window(), self.window_s);
        self.slots
            .iter_mut()
            .filter(|s| now.saturating_duration_since(s.window_start) >= window)
            .filter_map(|s| take_summary(s, window_s))
            .collect()
    }

    /// Writes the summaries whose window has ended: call on every turn of the loop.
    pub fn flush(&mut self) {
        if self.slots.iter().any(|s| s.suppressed > 0) {
            for line in self.due(Instant::now()) {
                log::warn!("{line}");
            }
        }
    }

    /// When the next summary is due; `None` when none is pending (then nothing
    /// needs a wake-up).
    pub fn next_flush(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter(|s| s.suppressed > 0)
            .map(|s| s.window_start + self.window())
            .min()
    }

    /// Logs at info level if `key` is under its limit.
    pub fn info(&mut self, key: &'static str, args: fmt::Arguments<'_>) {
        if self.allow(key) {
            log::info!("{args}");
        }
    }

    /// Logs at warn level if `key` is under its limit.
    pub fn warn(&mut self, key: &'static str, args: fmt::Arguments<'_>) {
        if self.allow(key) {
            log::warn!("{args}");
        }
    }
}

/// The slot's summary line, if it suppressed any; the count starts again.
fn take_summary(slot: &mut Slot, window_s: u64) -> Option<String> {
    let n = std::mem::take(&mut slot.suppressed);
    (n > 0).then(|| {
        format!(
            "{n} more '{}' messages suppressed in the last {window_s} s",
            slot.key
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_suppressed_per_key() {
        let mut l = RateLimitedLog::new(3, 3600);
        let allowed = (0..100).filter(|_| l.allow("a")).count();
        assert_eq!(allowed, 3);
        assert!(l.allow("b"), "another key has its own budget");
        assert_eq!(l.slots[0].suppressed, 97);
    }

    /// The summary is due at the window's end with no later line of its kind, is
    /// given once, and nothing is due (no wake-up) when nothing was suppressed.
    #[test]
    fn summary_is_due_when_the_window_ends() {
        let mut l = RateLimitedLog::new(3, 60);
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(l.next_flush(), None);
        let allowed = (0..3).filter(|_| l.count("a", t0).0).count();
        assert_eq!(allowed, 3);
        assert_eq!(l.next_flush(), None, "nothing suppressed: no wake-up");
        let allowed = (0..97).filter(|_| l.count("a", t0 + s(1)).0).count();
        assert_eq!(allowed, 0);
        assert_eq!(l.next_flush(), Some(t0 + s(60)));
        assert!(l.due(t0 + s(59)).is_empty());
        assert_eq!(
            l.due(t0 + s(60)),
            ["97 more 'a' messages suppressed in the last 60 s"]
        );
        assert_eq!(l.next_flush(), None);
        assert!(l.due(t0 + s(120)).is_empty(), "given once");
        // The next line starts a new window with a full budget, and no summary.
        assert_eq!(l.count("a", t0 + s(900)), (true, None));
    }

    /// Without a flush (a loop that never calls it), the next line still carries
    /// the summary, as before.
    #[test]
    fn a_late_line_still_carries_an_unflushed_summary() {
        let mut l = RateLimitedLog::new(1, 60);
        let t0 = Instant::now();
        assert!(l.count("a", t0).0);
        assert!(!l.count("a", t0).0);
        let (allowed, summary) = l.count("a", t0 + Duration::from_secs(61));
        assert!(allowed);
        assert_eq!(
            summary.as_deref(),
            Some("1 more 'a' messages suppressed in the last 60 s")
        );
    }
}
