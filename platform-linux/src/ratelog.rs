//! Log lines that a flood cannot multiply: at most `burst` lines per key in each
//! window, then one line saying how many were suppressed.

use std::fmt;
use std::time::Instant;

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
        Self {
            burst,
            window_s,
            slots: Vec::new(),
        }
    }

    /// Whether a line for `key` may be printed now; counts it either way.
    pub fn allow(&mut self, key: &'static str) -> bool {
        let now = Instant::now();
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
        let Some(slot) = self.slots.get_mut(idx) else {
            return false;
        };
        if now.duration_since(slot.window_start).as_secs() >= self.window_s {
            if slot.suppressed > 0 {
                log::warn!(
                    "{} more '{}' messages suppressed in the last {} s",
                    slot.suppressed,
                    key,
                    self.window_s
                );
            }
            slot.window_start = now;
            slot.printed = 0;
            slot.suppressed = 0;
        }
        if slot.printed < self.burst {
            slot.printed += 1;
            true
        } else {
            slot.suppressed += 1;
            false
        }
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
}
