//! Source selection (RFC 5905 §11.2): intersection, clustering and combining, as pure
//! functions over candidates. The node decides who is a candidate at all (reachable,
//! stratum below 16, not alarmed, root distance below MAXDIST, selectable); this
//! module decides who tells the truth, who is redundant and what the system offset is.
//!
//! - **Intersection** (§11.2.1, Marzullo's algorithm as the RFC adapts it): the
//!   largest set of sources whose correctness intervals [θ − λ, θ + λ] share a point,
//!   allowing f of n to be wrong for f = 0, 1, … while 2f < n. Sources outside that
//!   interval are **falsetickers**. If no majority agrees, nobody is selected.
//! - **Cluster** (§11.2.2): while more than `min_survivors` remain, drop the source
//!   whose offset is farthest (in RMS) from the others, unless that spread is already
//!   below the smallest peer jitter. Dropped ones are **outliers**.
//! - **Combine** (§11.2.3): offset and jitter averaged with weights 1/λ.

/// Tally code of a source, as `ntpq -p` shows it in its first column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tally {
    /// ' ': not a candidate (unreachable, unsynchronised, too far, noselect).
    #[default]
    Rejected,
    /// 'x': outside the intersection of the majority.
    Falseticker,
    /// '.': a candidate beyond the `maxclock` most meritorious ones (ntpd's "excess").
    Excess,
    /// '-': discarded by the cluster algorithm.
    Outlier,
    /// '+': a survivor, combined into the system offset.
    Candidate,
    /// '#': a survivor beyond those combined (backup).
    Backup,
    /// '*': the system peer.
    SystemPeer,
}

impl Tally {
    /// The character `ntpq -p` prints.
    pub const fn as_char(self) -> char {
        match self {
            Tally::Rejected => ' ',
            Tally::Falseticker => 'x',
            Tally::Excess => '.',
            Tally::Outlier => '-',
            Tally::Candidate => '+',
            Tally::Backup => '#',
            Tally::SystemPeer => '*',
        }
    }

    /// The low 3 bits of ntpd's peer status byte (mode 6 READSTAT).
    pub const fn select_code(self) -> u8 {
        match self {
            Tally::Rejected => 0,
            Tally::Falseticker => 1,
            Tally::Excess => 2,
            Tally::Outlier => 3,
            Tally::Candidate => 4,
            Tally::Backup => 5,
            Tally::SystemPeer => 6,
        }
    }
}

/// One source's figures for selection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// Offset θ, seconds.
    pub offset_s: f64,
    /// Root distance λ, seconds: half the correctness interval.
    pub root_distance_s: f64,
    /// Peer jitter, seconds.
    pub jitter_s: f64,
    /// Stratum of the source.
    pub stratum: u8,
    /// `prefer` was configured.
    pub prefer: bool,
}

/// Selection knobs (`tos`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelectConfig {
    /// Fewest survivors needed to update the clock (`tos minsane`, ntpd default 1).
    pub min_sane: usize,
    /// The cluster algorithm stops at this many survivors (NMIN / `tos minclock`, 3).
    pub min_survivors: usize,
    /// At most this many survivors are combined (`tos maxclock`: ntpd's default 10).
    pub max_combined: usize,
}

impl Default for SelectConfig {
    fn default() -> Self {
        Self {
            min_sane: 1,
            min_survivors: 3,
            max_combined: 10,
        }
    }
}

/// The result of one selection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Selection {
    /// Index of the system peer in the candidates.
    pub system_peer: usize,
    /// Combined offset, seconds.
    pub offset_s: f64,
    /// System jitter (peer jitter of the system peer and selection jitter combined).
    pub jitter_s: f64,
    /// Survivors of clustering.
    pub survivors: usize,
}

/// Why selection picked nobody.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoSelection {
    /// No candidates at all.
    NoCandidates,
    /// No majority of candidates agrees on the time (§11.2.1).
    NoMajority,
    /// Fewer survivors than `min_sane`.
    TooFewSurvivors,
}

/// Scratch the functions below work in; `N` is the node's source capacity.
struct Order<const N: usize> {
    idx: [usize; N],
    len: usize,
}

impl<const N: usize> Order<N> {
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.idx.iter().take(self.len).copied()
    }
}

fn sorted_values<const N: usize>(vals: impl Iterator<Item = f64>) -> ([f64; N], usize) {
    let mut out = [0.0; N];
    let mut n = 0;
    for v in vals.take(N) {
        let mut j = n;
        while j > 0 && out[j - 1] > v {
            out[j] = out[j - 1];
            j -= 1;
        }
        out[j] = v;
        n += 1;
    }
    (out, n)
}

/// The intersection interval (low, high) of the majority, or `None` when no majority
/// of `cands` agrees.
pub fn intersection<const N: usize>(cands: &[Candidate]) -> Option<(f64, f64)> {
    let n = cands.len().min(N);
    if n == 0 {
        return None;
    }
    let c = || cands.iter().take(N);
    let (lo, _) = sorted_values::<N>(c().map(|c| c.offset_s - c.root_distance_s));
    let (mid, _) = sorted_values::<N>(c().map(|c| c.offset_s));
    let (hi, _) = sorted_values::<N>(c().map(|c| c.offset_s + c.root_distance_s));
    let (lo, mid, hi) = (&lo[..n], &mid[..n], &hi[..n]);
    let mut allow = 0;
    while 2 * allow < n {
        let mut found = 0;
        // Ascending: lower edges raise the count of intervals we are inside, upper
        // edges lower it; midpoints met before the majority are outside it.
        let (mut i, mut j, mut k) = (0, 0, 0);
        let mut chime = 0usize;
        let mut low = None;
        while i < n || j < n || k < n {
            let vl = lo.get(i).copied().unwrap_or(f64::INFINITY);
            let vm = mid.get(j).copied().unwrap_or(f64::INFINITY);
            let vh = hi.get(k).copied().unwrap_or(f64::INFINITY);
            if vl <= vm && vl <= vh {
                chime += 1;
                i += 1;
                if chime >= n - allow {
                    low = Some(vl);
                    break;
                }
            } else if vm <= vh {
                found += 1;
                j += 1;
            } else {
                chime = chime.saturating_sub(1);
                k += 1;
            }
        }
        // Descending, the mirror image.
        let (mut i, mut j, mut k) = (n, n, n);
        let mut chime = 0usize;
        let mut high = None;
        while i > 0 || j > 0 || k > 0 {
            let vh = if k > 0 { hi[k - 1] } else { f64::NEG_INFINITY };
            let vm = if j > 0 { mid[j - 1] } else { f64::NEG_INFINITY };
            let vl = if i > 0 { lo[i - 1] } else { f64::NEG_INFINITY };
            if vh >= vm && vh >= vl {
                chime += 1;
                k -= 1;
                if chime >= n - allow {
                    high = Some(vh);
                    break;
                }
            } else if vm >= vl {
                found += 1;
                j -= 1;
            } else {
                chime = chime.saturating_sub(1);
                i -= 1;
            }
        }
        if found <= allow {
            if let (Some(l), Some(h)) = (low, high) {
                if l <= h {
                    return Some((l, h));
                }
            }
        }
        allow += 1;
    }
    None
}

/// Run intersection, clustering and combining over `cands`, writing each one's tally
/// into `tally` (same indices). `current` is the system peer so far: it stays system
/// peer while it survives, so the clock does not hop between equally good sources.
pub fn select<const N: usize>(
    cands: &[Candidate],
    config: &SelectConfig,
    current: Option<usize>,
    tally: &mut [Tally],
) -> Result<Selection, NoSelection> {
    for t in tally.iter_mut() {
        *t = Tally::Rejected;
    }
    let n = cands.len().min(N).min(tally.len());
    let cands = &cands[..n];
    if n == 0 {
        return Err(NoSelection::NoCandidates);
    }
    let Some((low, high)) = intersection::<N>(cands) else {
        for t in tally.iter_mut().take(n) {
            *t = Tally::Falseticker;
        }
        return Err(NoSelection::NoMajority);
    };
    // Truechimers, ordered by merit: stratum first, then root distance.
    let mut order = Order::<N> {
        idx: [0; N],
        len: 0,
    };
    for (i, c) in cands.iter().enumerate() {
        if c.offset_s + c.root_distance_s < low || c.offset_s - c.root_distance_s > high {
            tally[i] = Tally::Falseticker;
            continue;
        }
        let merit = |c: &Candidate| c.stratum as f64 * 16.0 + c.root_distance_s;
        let mut j = order.len;
        while j > 0 && merit(&cands[order.idx[j - 1]]) > merit(c) {
            order.idx[j] = order.idx[j - 1];
            j -= 1;
        }
        order.idx[j] = i;
        order.len += 1;
    }
    // Too many: the least meritorious are excess.
    while order.len > config.max_combined.max(1) {
        order.len -= 1;
        tally[order.idx[order.len]] = Tally::Excess;
    }
    // Cluster: drop the outlier while it stands out more than the best jitter.
    while order.len > config.min_survivors.max(1) {
        let mut worst = (0usize, f64::NEG_INFINITY);
        let mut min_jitter = f64::INFINITY;
        for (pos, i) in order.iter().enumerate() {
            let mut sum = 0.0;
            for j in order.iter() {
                let d = cands[i].offset_s - cands[j].offset_s;
                sum += d * d;
            }
            let phi = libm::sqrt(sum / (order.len - 1) as f64);
            if phi > worst.1 {
                worst = (pos, phi);
            }
            min_jitter = min_jitter.min(cands[i].jitter_s);
        }
        if worst.1 <= min_jitter {
            break;
        }
        let victim = order.idx[worst.0];
        // A prefer peer is never clustered away (ntpd keeps it).
        if cands[victim].prefer {
            break;
        }
        tally[victim] = Tally::Outlier;
        for k in worst.0..order.len - 1 {
            order.idx[k] = order.idx[k + 1];
        }
        order.len -= 1;
    }
    if order.len < config.min_sane.max(1) {
        for i in order.iter() {
            tally[i] = Tally::Backup;
        }
        return Err(NoSelection::TooFewSurvivors);
    }
    // System peer: a surviving prefer peer, else the current one, else the best.
    let first = order.idx[0];
    let sys = order
        .iter()
        .find(|&i| cands[i].prefer)
        .or_else(|| current.filter(|c| order.iter().any(|i| i == *c)))
        .unwrap_or(first);
    // Combine.
    let (mut w_sum, mut off_sum) = (0.0, 0.0);
    for i in order.iter() {
        let w = 1.0 / cands[i].root_distance_s.max(1e-9);
        w_sum += w;
        off_sum += w * cands[i].offset_s;
        tally[i] = Tally::Candidate;
    }
    let offset_s = off_sum / w_sum;
    let mut sel_var = 0.0;
    for i in order.iter() {
        let w = 1.0 / cands[i].root_distance_s.max(1e-9);
        let d = cands[i].offset_s - cands[sys].offset_s;
        sel_var += w * d * d;
    }
    sel_var /= w_sum;
    tally[sys] = Tally::SystemPeer;
    let pj = cands[sys].jitter_s;
    Ok(Selection {
        system_peer: sys,
        offset_s,
        jitter_s: libm::sqrt(pj * pj + sel_var),
        survivors: order.len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(offset_s: f64, root_distance_s: f64) -> Candidate {
        Candidate {
            offset_s,
            root_distance_s,
            jitter_s: 1e-4,
            stratum: 2,
            prefer: false,
        }
    }

    #[test]
    fn one_falseticker_of_four() {
        let cands = [c(0.001, 0.01), c(-0.001, 0.01), c(0.0, 0.01), c(1.0, 0.01)];
        assert!(intersection::<4>(&cands).is_some());
        let mut tally = [Tally::Rejected; 4];
        let sel = select::<4>(&cands, &SelectConfig::default(), None, &mut tally).unwrap();
        assert_eq!(tally[3], Tally::Falseticker);
        assert_ne!(sel.system_peer, 3);
        assert!(sel.offset_s.abs() < 0.001);
        assert!(tally[..3]
            .iter()
            .all(|t| matches!(t, Tally::Candidate | Tally::SystemPeer)));
    }

    #[test]
    fn two_of_four_wrong_means_no_majority() {
        // RFC 5905 §11.2.1: f may only grow while 2f < n; with two and two nobody wins.
        let cands = [c(0.0, 0.01), c(0.001, 0.01), c(1.0, 0.01), c(1.001, 0.01)];
        assert_eq!(intersection::<4>(&cands), None);
        let mut tally = [Tally::Rejected; 4];
        assert_eq!(
            select::<4>(&cands, &SelectConfig::default(), None, &mut tally),
            Err(NoSelection::NoMajority)
        );
    }

    #[test]
    fn two_of_five_wrong_is_outvoted() {
        let cands = [
            c(0.0, 0.01),
            c(0.001, 0.01),
            c(-0.001, 0.01),
            c(1.0, 0.01),
            c(1.001, 0.01),
        ];
        let mut tally = [Tally::Rejected; 5];
        let sel = select::<8>(&cands, &SelectConfig::default(), None, &mut tally).unwrap();
        assert_eq!(&tally[3..], &[Tally::Falseticker, Tally::Falseticker]);
        assert!(sel.system_peer < 3);
    }

    #[test]
    fn cluster_removes_the_outlier_and_prefer_wins() {
        // All intervals overlap (wide distances) but one stands off.
        let mut cands = [
            c(0.0, 0.5),
            c(0.0002, 0.5),
            c(-0.0002, 0.5),
            c(0.0001, 0.5),
            c(0.3, 0.5),
        ];
        cands[1].prefer = true;
        for c in cands.iter_mut() {
            // Peer jitter above the remaining spread: clustering stops at four.
            c.jitter_s = 1e-3;
        }
        let mut tally = [Tally::Rejected; 5];
        let sel = select::<5>(&cands, &SelectConfig::default(), None, &mut tally).unwrap();
        assert_eq!(tally[4], Tally::Outlier);
        assert_eq!(sel.system_peer, 1);
        assert_eq!(tally[1], Tally::SystemPeer);
        assert_eq!(sel.survivors, 4);
    }

    #[test]
    fn current_peer_is_kept_and_minsane_applies() {
        let cands = [c(0.0, 0.01), c(0.0001, 0.02)];
        let mut tally = [Tally::Rejected; 2];
        let sel = select::<2>(&cands, &SelectConfig::default(), Some(1), &mut tally).unwrap();
        assert_eq!(sel.system_peer, 1);
        let strict = SelectConfig {
            min_sane: 3,
            ..SelectConfig::default()
        };
        assert_eq!(
            select::<2>(&cands, &strict, None, &mut tally),
            Err(NoSelection::TooFewSurvivors)
        );
    }

    #[test]
    fn tally_chars_match_ntpq() {
        let chars: [char; 7] = [
            Tally::Rejected.as_char(),
            Tally::Falseticker.as_char(),
            Tally::Excess.as_char(),
            Tally::Outlier.as_char(),
            Tally::Candidate.as_char(),
            Tally::Backup.as_char(),
            Tally::SystemPeer.as_char(),
        ];
        assert_eq!(chars, [' ', 'x', '.', '-', '+', '#', '*']);
    }
}
