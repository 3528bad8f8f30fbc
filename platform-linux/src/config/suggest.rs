//! "Did you mean …?" for near-miss keywords.
//!
//! The distance is optimal string alignment (Levenshtein plus adjacent
//! transpositions), so the article's own `perfer` is one edit from `prefer` rather
//! than two. Case differences count as edits: ntpd's keywords are lower case and
//! case-sensitive, and `Server` deserves a pointer to `server`.

/// Words longer than this are never near a keyword; skipping them keeps the cost of
/// hostile input (a 1 MB "word") bounded.
const MAX_WORD: usize = 64;

/// Optimal string alignment distance between `a` and `b`, over characters.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rolling rows: two back (for transpositions), previous, current.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        if let Some(c0) = cur.first_mut() {
            *c0 = i + 1;
        }
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let del = prev.get(j + 1).copied().unwrap_or(usize::MAX) + 1;
            let ins = cur.get(j).copied().unwrap_or(usize::MAX).saturating_add(1);
            let sub = prev
                .get(j)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(cost);
            let mut best = del.min(ins).min(sub);
            let transposed = i > 0
                && j > 0
                && a.get(i - 1) == Some(&cb)
                && b.get(j - 1) == Some(&ca)
                && ca != cb;
            if transposed {
                if let Some(&d) = prev2.get(j - 1) {
                    best = best.min(d + 1);
                }
            }
            if let Some(slot) = cur.get_mut(j + 1) {
                *slot = best;
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

/// The candidate nearest to `word`, if it is close enough to be a plausible typo:
/// at most one edit for short words, at most a third of the length for longer ones.
pub(crate) fn suggest(word: &str, candidates: &[&'static str]) -> Option<&'static str> {
    if word.is_empty() || word.len() > MAX_WORD {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'static str)> = None;
    for &c in candidates {
        if c == word {
            continue;
        }
        // A pure case difference is always worth pointing out.
        let d = if c == lower { 0 } else { distance(word, c) };
        let better = match best {
            None => true,
            Some((bd, _)) => d < bd,
        };
        if d <= limit && better {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("perfer", "prefer"), 1);
        assert_eq!(distance("ibust", "iburst"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("server", "server"), 0);
    }

    #[test]
    fn suggestions() {
        let opts = &["prefer", "iburst", "burst", "minpoll", "maxpoll"];
        assert_eq!(suggest("perfer", opts), Some("prefer"));
        assert_eq!(suggest("iburts", opts), Some("iburst"));
        assert_eq!(suggest("Prefer", opts), Some("prefer"));
        assert_eq!(suggest("xyzzy", opts), None);
        assert_eq!(suggest("", opts), None);
        assert_eq!(suggest(&"a".repeat(1000), opts), None);
    }
}
