//! Leakage and memorisation: does the corpus copy its seed?
//!
//! - **verbatim-copy rate**: the share of documents whose normalised text (NFC, whitespace
//!   folded) is identical to a seed document's; `contained_rate` the share whose whole word
//!   sequence occurs inside a seed document.
//! - **longest shared span**: for each document, the length in words of the longest run of
//!   consecutive words that also occurs, in that order, inside one seed document (computed
//!   exactly with a suffix automaton of the seed's word sequence, Blumer et al. 1985, in time
//!   linear in the seed plus the document); reported as a summary, a histogram, and the mean of
//!   `span / words`.
//! - **n-gram overlap**: for n ∈ {1, 2, 4, 8}, `overlap_n = |word n-gram occurrences of the
//!   corpus found among the seed's n-grams| / |word n-gram occurrences|`.
//! - **distance to closest record (DCR)**: the distance of a document `x` to a set `R` is
//!   `min_{r ∈ R} 1 − J(x, r)`, with `J` the Jaccard similarity of the sets of character 4-grams.
//!   On a seeded sample of documents: the distribution of DCR to the seed, beside the DCR of
//!   every held-out real document to the seed; `median_ratio = median DCR(synthetic → seed) /
//!   median DCR(held-out → seed)` (well below 1: closer to the seed than unseen real text is).
//!   And a text version of SDMetrics' `DCROverfittingProtection` (DataCebo 2024): with `d_s` the
//!   DCR of a sampled document and `d_h` that of a held-out real document, both to the seed,
//!   `closer_than_heldout_share = P(d_s < d_h) + ½ P(d_s = d_h)` over all pairs (the
//!   Mann–Whitney probability; 0.5 for text that behaves like unseen real text, 1 when every
//!   document sits closer to the seed than any real held-out document), and
//!   `overfitting_protection = min(1, 2 (1 − closer_than_heldout_share))`: 1 means no sign of
//!   memorisation, 0 means every document is closer to the seed than all unseen real text.

use std::collections::BTreeMap;

use rand::seq::index::sample as index_sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::text::{log2_edges, round6, seq_hash, Histogram, MixMap, MixSet, Summary};

/// The n-gram lengths of the n-gram overlap.
pub const OVERLAP_NS: [usize; 4] = [1, 2, 4, 8];

/// A suffix automaton over the seed's word-id sequence (documents separated by a token that
/// never occurs in a query), for longest-shared-span queries.
#[derive(Debug, Clone)]
pub struct SpanIndex {
    len: Vec<u32>,
    link: Vec<u32>,
    next: Vec<MixMap<u32, u32>>,
}

const SEP: u32 = u32::MAX;

impl SpanIndex {
    /// Build from the seed documents' word ids.
    pub fn build(docs: &[&[u32]]) -> Self {
        let mut s = Self {
            len: vec![0],
            link: vec![u32::MAX],
            next: vec![MixMap::default()],
        };
        let mut last = 0u32;
        for d in docs {
            for &t in d.iter() {
                last = s.extend(last, t);
            }
            last = s.extend(last, SEP);
        }
        s
    }

    fn extend(&mut self, last: u32, c: u32) -> u32 {
        let cur = self.len.len() as u32;
        self.len.push(self.len[last as usize] + 1);
        self.link.push(0);
        self.next.push(MixMap::default());
        let mut p = last;
        loop {
            if self.next[p as usize].contains_key(&c) {
                break;
            }
            self.next[p as usize].insert(c, cur);
            if self.link[p as usize] == u32::MAX {
                self.link[cur as usize] = 0;
                return cur;
            }
            p = self.link[p as usize];
        }
        let q = self.next[p as usize][&c];
        if self.len[p as usize] + 1 == self.len[q as usize] {
            self.link[cur as usize] = q;
        } else {
            let clone = self.len.len() as u32;
            self.len.push(self.len[p as usize] + 1);
            self.link.push(self.link[q as usize]);
            let nx = self.next[q as usize].clone();
            self.next.push(nx);
            loop {
                if self.next[p as usize].get(&c) != Some(&q) {
                    break;
                }
                self.next[p as usize].insert(c, clone);
                if self.link[p as usize] == u32::MAX {
                    break;
                }
                p = self.link[p as usize];
            }
            self.link[q as usize] = clone;
            self.link[cur as usize] = clone;
        }
        cur
    }

    /// Length in words of the longest run of `query` that occurs in one seed document.
    pub fn longest_span(&self, query: &[u32]) -> usize {
        let (mut v, mut l, mut best) = (0u32, 0u32, 0u32);
        for &t in query {
            loop {
                if let Some(&nx) = self.next[v as usize].get(&t) {
                    v = nx;
                    l += 1;
                    break;
                }
                if v == 0 {
                    l = 0;
                    break;
                }
                v = self.link[v as usize];
                l = self.len[v as usize];
            }
            best = best.max(l);
        }
        best as usize
    }
}

/// Hashed word n-grams of the seed, per n of [`OVERLAP_NS`].
#[derive(Debug, Clone, Default)]
pub struct SeedNgrams {
    sets: Vec<MixSet<u64>>,
}

impl SeedNgrams {
    /// Build from the seed documents' word ids.
    pub fn build(docs: &[&[u32]]) -> Self {
        Self {
            sets: OVERLAP_NS
                .iter()
                .map(|&n| {
                    docs.iter()
                        .flat_map(|d| d.windows(n).map(|w| seq_hash(w.iter().copied())))
                        .collect()
                })
                .collect(),
        }
    }

    /// `(found, total)` per n of [`OVERLAP_NS`] for one document.
    pub fn overlap(&self, doc: &[u32]) -> [(u32, u32); 4] {
        let mut out = [(0u32, 0u32); 4];
        for (i, &n) in OVERLAP_NS.iter().enumerate() {
            for w in doc.windows(n) {
                out[i].1 += 1;
                if self.sets[i].contains(&seq_hash(w.iter().copied())) {
                    out[i].0 += 1;
                }
            }
        }
        out
    }
}

/// Per-document leakage measures.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LeakDoc {
    /// Identical to a seed document.
    pub verbatim: bool,
    /// Longest shared span in words.
    pub span: usize,
    /// Words in the document.
    pub words: usize,
    /// `(found, total)` n-grams per n of [`OVERLAP_NS`].
    pub overlap: [(u32, u32); 4],
}

/// Distance-to-closest-record statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dcr {
    /// The distance used.
    pub distance: String,
    /// Documents sampled.
    pub sample_size: usize,
    /// DCR of the sampled documents to the seed.
    pub to_seed: Option<Summary>,
    /// DCR of the held-out real documents to the seed (the reference).
    pub heldout_to_seed: Option<Summary>,
    /// `median(to_seed) / median(heldout_to_seed)`.
    pub median_ratio: Option<f64>,
    /// `P(DCR of a sampled document < DCR of a held-out document)`, ties counting half.
    pub closer_than_heldout_share: Option<f64>,
    /// `min(1, 2 (1 − closer_than_heldout_share))`.
    pub overfitting_protection: Option<f64>,
}

/// The leakage block of a subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leakage {
    /// Documents identical to a seed document.
    pub verbatim_copies: usize,
    /// Share of documents identical to a seed document.
    pub verbatim_copy_rate: Option<f64>,
    /// Share of documents (with words) whose word sequence occurs inside a seed document.
    pub contained_rate: Option<f64>,
    /// Longest shared span (words) per document.
    pub longest_span_words: Option<Summary>,
    /// Histogram of the longest shared span (power-of-two bins).
    pub longest_span_histogram: Histogram,
    /// Mean of `span / words` over documents with words.
    pub longest_span_share_mean: Option<f64>,
    /// Word n-gram overlap with the seed, keyed by n.
    pub ngram_overlap: BTreeMap<String, Option<f64>>,
    /// Distance to closest record.
    pub dcr: Option<Dcr>,
}

/// Aggregate per-document measures.
pub fn leakage(docs: &[&LeakDoc], dcr: Option<Dcr>) -> Leakage {
    let n = docs.len();
    let verbatim = docs.iter().filter(|d| d.verbatim).count();
    let with_words: Vec<&&LeakDoc> = docs.iter().filter(|d| d.words > 0).collect();
    let contained = with_words.iter().filter(|d| d.span == d.words).count();
    let spans: Vec<f64> = docs.iter().map(|d| d.span as f64).collect();
    let share_mean = if with_words.is_empty() {
        None
    } else {
        Some(round6(
            with_words
                .iter()
                .map(|d| d.span as f64 / d.words as f64)
                .sum::<f64>()
                / with_words.len() as f64,
        ))
    };
    let mut ngram_overlap = BTreeMap::new();
    for (i, &k) in OVERLAP_NS.iter().enumerate() {
        let (f, t) = docs.iter().fold((0u64, 0u64), |(f, t), d| {
            (f + u64::from(d.overlap[i].0), t + u64::from(d.overlap[i].1))
        });
        ngram_overlap.insert(k.to_string(), (t > 0).then(|| round6(f as f64 / t as f64)));
    }
    Leakage {
        verbatim_copies: verbatim,
        verbatim_copy_rate: (n > 0).then(|| round6(verbatim as f64 / n as f64)),
        contained_rate: (!with_words.is_empty())
            .then(|| round6(contained as f64 / with_words.len() as f64)),
        longest_span_words: Summary::of(&spans),
        longest_span_histogram: Histogram::of(&spans, &log2_edges()[..12]),
        longest_span_share_mean: share_mean,
        ngram_overlap,
        dcr,
    }
}

/// Character 4-gram sets for the DCR.
pub fn gram_set(text: &str) -> Vec<u64> {
    let cs: Vec<u32> = text.chars().map(|c| c as u32).collect();
    let mut v: Vec<u64> = if cs.len() < 4 {
        vec![seq_hash(cs.iter().copied())]
    } else {
        cs.windows(4).map(|w| seq_hash(w.iter().copied())).collect()
    };
    v.sort_unstable();
    v.dedup();
    v
}

/// An inverted index of reference documents' character 4-gram sets, for nearest-record queries.
#[derive(Debug, Clone, Default)]
pub struct DcrIndex {
    sizes: Vec<u32>,
    postings: MixMap<u64, Vec<u32>>,
}

impl DcrIndex {
    /// Index the reference texts.
    pub fn build(texts: &[&str]) -> Self {
        let mut idx = Self::default();
        for (i, t) in texts.iter().enumerate() {
            let g = gram_set(t);
            idx.sizes.push(g.len() as u32);
            for h in g {
                idx.postings.entry(h).or_default().push(i as u32);
            }
        }
        idx
    }

    /// Whether the index holds no document.
    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    /// Distance (1 − Jaccard) to the closest reference document (`None` when empty).
    pub fn closest(&self, grams: &[u64], scratch: &mut Vec<u32>) -> Option<f64> {
        if self.sizes.is_empty() {
            return None;
        }
        scratch.clear();
        scratch.resize(self.sizes.len(), 0);
        for h in grams {
            if let Some(p) = self.postings.get(h) {
                for &d in p {
                    scratch[d as usize] += 1;
                }
            }
        }
        let mut best = 1.0f64;
        for (d, &inter) in scratch.iter().enumerate() {
            let union = grams.len() as f64 + f64::from(self.sizes[d]) - f64::from(inter);
            let dist = if union > 0.0 {
                1.0 - f64::from(inter) / union
            } else {
                0.0
            };
            best = best.min(dist);
        }
        Some(best)
    }
}

/// DCR context shared by every subject: the seed's index and the held-out split's DCRs.
#[derive(Debug, Clone)]
pub struct DcrContext {
    /// Index of the whole seed.
    pub seed: DcrIndex,
    /// DCR of every held-out document to the seed, sorted.
    pub heldout_to_seed: Vec<f64>,
}

/// `P(x < H) + ½ P(x = H)` for `H` drawn from `sorted`.
fn below_share(x: f64, sorted: &[f64]) -> f64 {
    let lt = sorted.partition_point(|&h| h <= x);
    let le = sorted.partition_point(|&h| h < x);
    let greater = sorted.len() - lt;
    let ties = lt - le;
    (greater as f64 + 0.5 * ties as f64) / sorted.len() as f64
}

impl DcrContext {
    /// Index the seed and measure the held-out split against it.
    pub fn build(seed_texts: &[&str], heldout_texts: &[&str]) -> Self {
        let seed_idx = DcrIndex::build(seed_texts);
        let mut scratch = Vec::new();
        let mut heldout_to_seed: Vec<f64> = heldout_texts
            .iter()
            .filter_map(|t| seed_idx.closest(&gram_set(t), &mut scratch))
            .collect();
        heldout_to_seed.sort_by(|a, b| a.total_cmp(b));
        Self {
            seed: seed_idx,
            heldout_to_seed,
        }
    }

    /// DCR statistics of the held-out split itself.
    pub fn heldout_only(&self) -> Dcr {
        let h = Summary::of(&self.heldout_to_seed);
        Dcr {
            distance: DCR_DISTANCE.into(),
            sample_size: self.heldout_to_seed.len(),
            to_seed: h.clone(),
            heldout_to_seed: h,
            median_ratio: None,
            closer_than_heldout_share: None,
            overfitting_protection: None,
        }
    }

    /// DCR statistics of `texts` (a seeded sample of at most `sample` of them).
    pub fn measure(&self, texts: &[&str], sample: usize, seed: u64) -> Dcr {
        use rayon::prelude::*;
        let chosen: Vec<&str> = if texts.len() > sample {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut idx = index_sample(&mut rng, texts.len(), sample).into_vec();
            idx.sort_unstable();
            idx.into_iter().map(|i| texts[i]).collect()
        } else {
            texts.to_vec()
        };
        let to_seed: Vec<f64> = chosen
            .par_iter()
            .map_init(Vec::new, |scratch, t| {
                self.seed.closest(&gram_set(t), scratch)
            })
            .collect::<Vec<Option<f64>>>()
            .into_iter()
            .flatten()
            .collect();
        let s = Summary::of(&to_seed);
        let h = Summary::of(&self.heldout_to_seed);
        let median_ratio = match (&s, &h) {
            (Some(a), Some(b)) if b.median > 0.0 => Some(round6(a.median / b.median)),
            _ => None,
        };
        let closer = if to_seed.is_empty() || self.heldout_to_seed.is_empty() {
            None
        } else {
            let c: f64 = to_seed
                .iter()
                .map(|&x| below_share(x, &self.heldout_to_seed))
                .sum();
            Some(round6(c / to_seed.len() as f64))
        };
        Dcr {
            distance: DCR_DISTANCE.into(),
            sample_size: chosen.len(),
            to_seed: s,
            heldout_to_seed: h,
            median_ratio,
            closer_than_heldout_share: closer,
            overfitting_protection: closer.map(|c| round6((2.0 * (1.0 - c)).min(1.0))),
        }
    }
}

/// The distance DCR uses, in words.
pub const DCR_DISTANCE: &str = "1 - Jaccard(character 4-gram sets)";

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(seed: &[&[u32]], q: &[u32]) -> usize {
        let mut best = 0;
        for s in seed {
            for i in 0..q.len() {
                for j in 0..s.len() {
                    let mut k = 0;
                    while i + k < q.len() && j + k < s.len() && q[i + k] == s[j + k] {
                        k += 1;
                    }
                    best = best.max(k);
                }
            }
        }
        best
    }

    #[test]
    fn longest_span_matches_brute_force() {
        let a: Vec<u32> = vec![1, 2, 3, 4, 5, 1, 2, 3];
        let b: Vec<u32> = vec![3, 4, 9, 9, 1];
        let seed = [a.as_slice(), b.as_slice()];
        let idx = SpanIndex::build(&seed);
        for q in [
            vec![1, 2, 3, 4, 9],
            vec![5, 1, 2, 3, 4, 9, 9, 1, 2],
            vec![7, 7],
            vec![],
            vec![4, 5, 3, 4, 9, 9, 1, 2, 3, 4, 5],
        ] {
            assert_eq!(idx.longest_span(&q), brute(&seed, &q), "{q:?}");
        }
        // spans never cross seed documents: 1 2 3 (end of a) then 3 4 (start of b)
        assert_eq!(idx.longest_span(&[2, 3, 3, 4]), 2);
    }

    #[test]
    fn overlap_by_hand() {
        let s: Vec<u32> = vec![1, 2, 3];
        let ng = SeedNgrams::build(&[&s]);
        let o = ng.overlap(&[1, 2, 4]);
        assert_eq!(o[0], (2, 3));
        assert_eq!(o[1], (1, 2));
        assert_eq!(o[2], (0, 0));
    }

    #[test]
    fn dcr_identical_is_zero() {
        let idx = DcrIndex::build(&["vhathu vhoṱhe", "zwiṅwe zwithu"]);
        let mut s = Vec::new();
        assert_eq!(idx.closest(&gram_set("vhathu vhoṱhe"), &mut s), Some(0.0));
        // "abcde" vs "abcdf": 4-grams {abcd, bcde} vs {abcd, bcdf}: J = 1/3
        let idx = DcrIndex::build(&["abcdf"]);
        let d = idx.closest(&gram_set("abcde"), &mut s).unwrap();
        assert!((d - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn overfitting_protection_by_hand() {
        // held-out DCRs 0.2, 0.4, 0.6: a copy (0.0) is below all -> share 1, protection 0
        assert_eq!(below_share(0.0, &[0.2, 0.4, 0.6]), 1.0);
        assert_eq!(below_share(0.4, &[0.2, 0.4, 0.6]), 0.5);
        assert_eq!(below_share(0.9, &[0.2, 0.4, 0.6]), 0.0);
        let ctx = DcrContext::build(
            &["vhathu vhothe vha bebwa", "zwithu zwothe"],
            &["muthu munwe na munwe"],
        );
        let d = ctx.measure(&["vhathu vhothe vha bebwa"], 10, 1);
        assert_eq!(d.closer_than_heldout_share, Some(1.0));
        assert_eq!(d.overfitting_protection, Some(0.0));
    }
}
