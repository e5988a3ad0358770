//! Likeness to real text: length distributions and character n-gram divergence.
//!
//! - **lengths** per document in graphemes (UAX #29), words (see [`super::text`]) and sentences
//!   (UAX #29 sentence boundaries, [`crate::ingest::sentences`]): a summary and a histogram over
//!   power-of-two bins `[0,1) [1,2) [2,4) ...`.
//! - **distances** between a subject's length distribution and the seed's: the two-sample
//!   Kolmogorov–Smirnov statistic `KS = sup_x |F₁(x) − F₂(x)|` (in [0, 1]) and the 1-Wasserstein
//!   distance `W₁ = ∫ |F₁(x) − F₂(x)| dx` (in the unit of the length).
//! - **character n-gram Jensen–Shannon divergence** (Lin 1991), n = 1..4: with `P` and `Q` the
//!   relative frequencies of character n-grams in the subject and the seed and `M = (P + Q)/2`,
//!   `JSD = ½ KL(P‖M) + ½ KL(Q‖M)` with base-2 logarithms, in [0, 1]; 0 for identical
//!   distributions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::diversity::CharCounts;
use super::text::{log2_edges, round6, Histogram, Summary};

/// One length distribution and its distance to the seed's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LengthDist {
    /// Summary of the lengths.
    pub summary: Option<Summary>,
    /// Histogram over power-of-two bins.
    pub histogram: Histogram,
    /// Kolmogorov–Smirnov statistic against the seed.
    pub ks_vs_seed: Option<f64>,
    /// 1-Wasserstein distance to the seed.
    pub wasserstein_vs_seed: Option<f64>,
}

/// The likeness block of a subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Likeness {
    /// Lengths in graphemes.
    pub graphemes: LengthDist,
    /// Lengths in words.
    pub words: LengthDist,
    /// Lengths in sentences.
    pub sentences: LengthDist,
    /// Character n-gram JSD to the seed, keyed by n ("1".."4").
    pub char_jsd_vs_seed: BTreeMap<String, Option<f64>>,
}

/// Two-sample Kolmogorov–Smirnov statistic (`None` if either is empty).
pub fn ks(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (a, b) = (sorted(a), sorted(b));
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    Some(round6(d))
}

/// 1-Wasserstein distance between two empirical distributions (`None` if either is empty).
pub fn wasserstein(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (a, b) = (sorted(a), sorted(b));
    let mut xs: Vec<f64> = a.iter().chain(b.iter()).copied().collect();
    xs.sort_by(|x, y| x.total_cmp(y));
    xs.dedup();
    let (mut i, mut j, mut w) = (0usize, 0usize, 0.0f64);
    for k in 0..xs.len().saturating_sub(1) {
        let x = xs[k];
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        let fa = i as f64 / a.len() as f64;
        let fb = j as f64 / b.len() as f64;
        w += (fa - fb).abs() * (xs[k + 1] - x);
    }
    Some(round6(w))
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut v = v.to_vec();
    v.sort_by(|x, y| x.total_cmp(y));
    v
}

/// Jensen–Shannon divergence (base 2) between two count maps (`None` if either is empty).
pub fn jsd<S: std::hash::BuildHasher>(
    p: &std::collections::HashMap<u64, u64, S>,
    q: &std::collections::HashMap<u64, u64, S>,
) -> Option<f64> {
    let tp: u64 = p.values().sum();
    let tq: u64 = q.values().sum();
    if tp == 0 || tq == 0 {
        return None;
    }
    let (tp, tq) = (tp as f64, tq as f64);
    let term = |x: f64, m: f64| if x > 0.0 { x * (x / m).log2() } else { 0.0 };
    // Keys of p (with their q), then keys only in q; summed in sorted key order for determinism.
    let mut parts: Vec<(u64, f64)> = Vec::with_capacity(p.len() + q.len());
    for (k, &cp) in p {
        let x = cp as f64 / tp;
        let y = q.get(k).copied().unwrap_or(0) as f64 / tq;
        let m = 0.5 * (x + y);
        parts.push((*k, 0.5 * term(x, m) + 0.5 * term(y, m)));
    }
    for (k, &cq) in q {
        if !p.contains_key(k) {
            let y = cq as f64 / tq;
            parts.push((*k, 0.5 * term(y, 0.5 * y)));
        }
    }
    parts.sort_by_key(|a| a.0);
    let s: f64 = parts.iter().map(|a| a.1).sum();
    Some(round6(s.clamp(0.0, 1.0)))
}

/// Length distribution of a subject against the seed's lengths.
pub fn length_dist(values: &[f64], seed: &[f64]) -> LengthDist {
    LengthDist {
        summary: Summary::of(values),
        histogram: Histogram::of(values, &log2_edges()),
        ks_vs_seed: ks(values, seed),
        wasserstein_vs_seed: wasserstein(values, seed),
    }
}

/// Per-document lengths.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Lengths {
    /// Graphemes.
    pub graphemes: usize,
    /// Words.
    pub words: usize,
    /// Sentences.
    pub sentences: usize,
}

/// The likeness block of a subject.
pub fn likeness(
    lens: &[&Lengths],
    seed_lens: &[Lengths],
    chars: &CharCounts,
    seed_chars: &CharCounts,
) -> Likeness {
    let col = |f: fn(&Lengths) -> usize, v: &[&Lengths]| -> Vec<f64> {
        v.iter().map(|l| f(l) as f64).collect()
    };
    let seed_refs: Vec<&Lengths> = seed_lens.iter().collect();
    let g: fn(&Lengths) -> usize = |l| l.graphemes;
    let w: fn(&Lengths) -> usize = |l| l.words;
    let s: fn(&Lengths) -> usize = |l| l.sentences;
    Likeness {
        graphemes: length_dist(&col(g, lens), &col(g, &seed_refs)),
        words: length_dist(&col(w, lens), &col(w, &seed_refs)),
        sentences: length_dist(&col(s, lens), &col(s, &seed_refs)),
        char_jsd_vs_seed: (1..=4usize)
            .map(|n| {
                let v = match (chars.counts.get(n - 1), seed_chars.counts.get(n - 1)) {
                    (Some(a), Some(b)) => jsd(a, b),
                    _ => None,
                };
                (n.to_string(), v)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::text::MixMap;

    #[test]
    fn ks_and_wasserstein_by_hand() {
        assert_eq!(ks(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), Some(0.0));
        assert_eq!(ks(&[1.0, 2.0], &[3.0, 4.0]), Some(1.0));
        // F1 steps at 1, 2; F2 at 2, 3 -> at x=1: |0.5 - 0| = 0.5
        assert_eq!(ks(&[1.0, 2.0], &[2.0, 3.0]), Some(0.5));
        // shifting by 1 moves all mass one unit
        assert_eq!(wasserstein(&[1.0, 2.0], &[2.0, 3.0]), Some(1.0));
        assert_eq!(wasserstein(&[0.0], &[10.0]), Some(10.0));
        assert_eq!(wasserstein(&[5.0, 5.0], &[5.0]), Some(0.0));
    }

    #[test]
    fn jsd_by_hand() {
        let mut p: MixMap<u64, u64> = MixMap::default();
        let mut q: MixMap<u64, u64> = MixMap::default();
        p.insert(1, 3);
        p.insert(2, 1);
        assert_eq!(jsd(&p, &p), Some(0.0));
        q.insert(3, 5);
        assert_eq!(jsd(&p, &q), Some(1.0));
        // P = (1, 0), Q = (1/2, 1/2): M = (3/4, 1/4);
        // JSD = ½ [1·log2(4/3)] + ½ [½ log2(2/3) + ½ log2(2)]
        let mut a: MixMap<u64, u64> = MixMap::default();
        a.insert(1, 2);
        let mut b: MixMap<u64, u64> = MixMap::default();
        b.insert(1, 1);
        b.insert(2, 1);
        let expect = 0.5 * (4.0f64 / 3.0).log2() + 0.5 * (0.5 * (2.0f64 / 3.0).log2() + 0.5 * 1.0);
        assert_eq!(jsd(&a, &b), Some(round6(expect)));
    }
}
