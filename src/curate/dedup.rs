//! Deduplication: exact (on the normalised text) and near-duplicate (MinHash-LSH), within the run
//! and against the seed corpora.
//!
//! Survivor rule, both kinds: seeds are indexed first, then samples in input order. A sample is
//! dropped when it matches a seed (`*_of_seed`) or any earlier sample of the run, and its
//! `duplicate_of` names the earliest match. So the first sample of every cluster survives, and no
//! sample is ever dropped because of a later one. For near duplicates the clusters are transitive:
//! a dropped sample stays in the index, so a chain A ≈ B ≈ C keeps only A.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use super::hash::{combine, hash64, key128, mix64, splitmix_stream, TOKEN_SEED};
use super::quality::is_punct;
use super::IdBuild;

/// Exact-deduplication settings (`[curate.exact_dedup]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExactDedupConfig {
    /// Run the stage (default true).
    pub enabled: bool,
    /// Also drop samples equal to a seed document (default true).
    pub against_seeds: bool,
}

impl Default for ExactDedupConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            against_seeds: true,
        }
    }
}

/// What a MinHash shingle is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ShingleUnit {
    /// Words (Unicode word boundaries, lower-cased, punctuation dropped).
    #[default]
    Word,
    /// Grapheme clusters (lower-cased, whitespace and punctuation dropped): for scripts written
    /// without spaces.
    Grapheme,
}

/// Near-deduplication settings (`[curate.near_dedup]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NearDedupConfig {
    /// Run the stage (default true).
    pub enabled: bool,
    /// Shingle unit (default `word`).
    pub unit: ShingleUnit,
    /// Units per shingle (default 5, as datatrove).
    pub ngram: usize,
    /// LSH bands (default 14, as datatrove's buckets).
    pub bands: usize,
    /// Rows (hashes) per band (default 8); `bands * rows` hashes in all (default 112).
    pub rows: usize,
    /// Seed of the hash permutations (default 1).
    pub seed: u64,
    /// Also drop samples near a seed document (default true).
    pub against_seeds: bool,
}

impl Default for NearDedupConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            unit: ShingleUnit::Word,
            ngram: 5,
            bands: 14,
            rows: 8,
            seed: 1,
            against_seeds: true,
        }
    }
}

impl NearDedupConfig {
    /// Number of hash functions, `bands * rows`.
    pub fn num_hashes(&self) -> usize {
        self.bands * self.rows
    }

    /// The Jaccard similarity at which a pair is caught with probability about one half,
    /// `(1/bands)^(1/rows)`.
    pub fn threshold(&self) -> f64 {
        if self.bands == 0 || self.rows == 0 {
            return 1.0;
        }
        (1.0 / self.bands as f64).powf(1.0 / self.rows as f64)
    }

    /// The probability that a pair with Jaccard similarity `s` shares at least one band.
    pub fn catch_probability(&self, s: f64) -> f64 {
        1.0 - (1.0 - s.powi(self.rows as i32)).powi(self.bands as i32)
    }
}

/// The tokens (units) of a text for MinHash, as 64-bit hashes.
pub fn unit_hashes(text: &str, unit: ShingleUnit) -> Vec<u64> {
    let lower = text.to_lowercase();
    match unit {
        ShingleUnit::Word => lower
            .unicode_words()
            .map(|w| hash64(w.as_bytes(), TOKEN_SEED))
            .collect(),
        ShingleUnit::Grapheme => lower
            .graphemes(true)
            .filter(|g| {
                g.chars()
                    .next()
                    .is_some_and(|c| !c.is_whitespace() && !is_punct(c))
            })
            .map(|g| hash64(g.as_bytes(), TOKEN_SEED))
            .collect(),
    }
}

/// Hashes of the n-grams of `units` (one n-gram of all units when there are fewer than `n`).
pub fn shingle_hashes(units: &[u64], n: usize) -> Vec<u64> {
    let n = n.max(1);
    if units.is_empty() {
        return Vec::new();
    }
    if units.len() < n {
        return vec![units.iter().fold(units.len() as u64, |h, &x| combine(h, x))];
    }
    (0..=units.len() - n)
        .map(|i| units[i..i + n].iter().fold(n as u64, |h, &x| combine(h, x)))
        .collect()
}

/// MinHash with `bands * rows` universal hash functions `(a*x + b) >> 32` (a odd), whose
/// parameters come from a SplitMix64 stream of the seed.
#[derive(Debug, Clone)]
pub struct MinHasher {
    cfg: NearDedupConfig,
    a: Vec<u64>,
    b: Vec<u64>,
}

impl MinHasher {
    /// A hasher for a configuration.
    pub fn new(cfg: &NearDedupConfig) -> Self {
        let k = cfg.num_hashes();
        let s = splitmix_stream(cfg.seed, 2 * k);
        Self {
            cfg: cfg.clone(),
            a: s[..k].iter().map(|x| x | 1).collect(),
            b: s[k..].to_vec(),
        }
    }

    /// The signature of a text; empty when it has no units.
    pub fn signature(&self, text: &str) -> Vec<u32> {
        let units = unit_hashes(text, self.cfg.unit);
        let shingles = shingle_hashes(&units, self.cfg.ngram);
        if shingles.is_empty() {
            return Vec::new();
        }
        let mut sig = vec![u32::MAX; self.a.len()];
        for &x in &shingles {
            for ((m, &a), &b) in sig.iter_mut().zip(&self.a).zip(&self.b) {
                let v = (a.wrapping_mul(x).wrapping_add(b) >> 32) as u32;
                if v < *m {
                    *m = v;
                }
            }
        }
        sig
    }

    /// One key per band: the band index and its rows, hashed.
    pub fn band_keys(&self, sig: &[u32]) -> Vec<u64> {
        let r = self.cfg.rows.max(1);
        sig.chunks(r)
            .enumerate()
            .map(|(i, rows)| {
                rows.iter()
                    .fold(mix64(i as u64 ^ 0xba5d), |h, &v| combine(h, v as u64))
            })
            .collect()
    }

    /// The estimated Jaccard similarity of two signatures (share of equal hashes).
    pub fn similarity(a: &[u32], b: &[u32]) -> f64 {
        if a.is_empty() || a.len() != b.len() {
            return 0.0;
        }
        a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
    }
}

/// An earlier item a sample duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The earlier item's id.
    pub id: String,
    /// Whether it is a seed document.
    pub seed: bool,
    /// For near duplicates: how many bands matched that item.
    pub bands: usize,
}

/// Ids of indexed items, seeds first.
#[derive(Debug, Default, Clone)]
struct Items {
    ids: Vec<String>,
    seeds: usize,
}

impl Items {
    fn push(&mut self, id: &str, seed: bool) -> u32 {
        self.ids.push(id.to_string());
        if seed {
            self.seeds += 1;
        }
        (self.ids.len() - 1) as u32
    }
    fn matched(&self, i: u32, bands: usize) -> Match {
        Match {
            id: self.ids[i as usize].clone(),
            seed: (i as usize) < self.seeds,
            bands,
        }
    }
}

/// The exact-duplicate index: 128-bit keys of normalised texts.
#[derive(Debug, Default, Clone)]
pub struct ExactIndex {
    keys: HashMap<u128, u32, IdBuild>,
    items: Items,
}

impl ExactIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a seed document (its normalised text).
    pub fn add_seed(&mut self, id: &str, text: &str) {
        let k = key128(text);
        if !self.keys.contains_key(&k) {
            let i = self.items.push(id, true);
            self.keys.insert(k, i);
        }
    }

    /// The earliest item with the same key, or `None` after inserting this one.
    pub fn check_insert(&mut self, id: &str, key: u128) -> Option<Match> {
        if let Some(&i) = self.keys.get(&key) {
            return Some(self.items.matched(i, 0));
        }
        let i = self.items.push(id, false);
        self.keys.insert(key, i);
        None
    }

    /// Items indexed.
    pub fn len(&self) -> usize {
        self.items.ids.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.items.ids.is_empty()
    }
}

/// The LSH index: band key to the first item that had it.
#[derive(Debug, Default, Clone)]
pub struct LshIndex {
    buckets: HashMap<u64, u32, IdBuild>,
    items: Items,
}

impl LshIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a seed document's band keys.
    pub fn add_seed(&mut self, id: &str, keys: &[u64]) {
        let i = self.items.push(id, true);
        for &k in keys {
            self.buckets.entry(k).or_insert(i);
        }
    }

    /// The earliest item sharing a band with these keys (`None` if none), then index these keys
    /// (a band already taken keeps its earlier item).
    pub fn check_insert(&mut self, id: &str, keys: &[u64]) -> Option<Match> {
        let best = keys
            .iter()
            .filter_map(|k| self.buckets.get(k).copied())
            .min();
        if keys.is_empty() {
            return None;
        }
        let me = self.items.push(id, false);
        for &k in keys {
            self.buckets.entry(k).or_insert(me);
        }
        best.map(|i| {
            let bands = keys
                .iter()
                .filter(|k| self.buckets.get(k) == Some(&i))
                .count();
            self.items.matched(i, bands)
        })
    }

    /// Band keys stored.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_recorded() {
        let c = NearDedupConfig::default();
        assert_eq!(c.num_hashes(), 112);
        assert!((c.threshold() - 0.7191).abs() < 1e-3);
    }

    #[test]
    fn near_duplicates_collide() {
        let c = NearDedupConfig::default();
        let h = MinHasher::new(&c);
        let a = "Muthu munwe na munwe u na pfanelo ya u tshila, ya mbofholowo na ya u tsireledzea ha muthu. Vhathu vhoṱhe vha bebwa vhe na mbofholowo na ndingano kha tshirunzi na pfanelo.";
        let b = "Muthu munwe na munwe u na pfanelo ya u tshila, ya mbofholowo na ya u tsireledzea ha muthu. Vhathu vhoṱhe vha bebwa vhe na mbofholowo na ndingano kha tshirunzi na pfanelo dzavho.";
        let (sa, sb) = (h.signature(a), h.signature(b));
        assert!(MinHasher::similarity(&sa, &sb) > 0.7);
        let mut idx = LshIndex::new();
        assert_eq!(idx.check_insert("a", &h.band_keys(&sa)), None);
        let m = idx.check_insert("b", &h.band_keys(&sb)).unwrap();
        assert_eq!(m.id, "a");
        let other = h.signature("Zwithu zwoṱhe zwi a shanduka musi ḓuvha ḽi tshi ṱavha.");
        assert_eq!(idx.check_insert("c", &h.band_keys(&other)), None);
    }
}
