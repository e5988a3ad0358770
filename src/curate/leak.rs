//! Source-leak protection: how much of a sample is copied verbatim from the seed corpora.
//!
//! The seeds' word n-grams are hashed into a set ([`LeakIndex`], built once, linear in the seed
//! size; a lookup per n-gram of the sample, never a pairwise scan). For each sample it reports
//! - `ngram_share`: the share of its word n-grams found in the seeds;
//! - `longest_span_words`: the longest run of consecutive words whose every n-gram is in the seeds
//!   (`run + n - 1` words; 0 when no n-gram matches). For a span of at least `n` words this is the
//!   longest span shared verbatim with the seeds, up to 64-bit hash collisions; two seed passages
//!   that overlap by `n - 1` words can chain into one run.
//!
//! Words are Unicode words, lower-cased, punctuation dropped.

use std::collections::HashSet;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dedup::{shingle_hashes, unit_hashes, ShingleUnit};
use super::IdBuild;
use crate::types::Document;

/// Source-leak settings (`[curate.leak]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeakConfig {
    /// Run the stage (default true; it is skipped, and reported so, when there are no seeds).
    pub enabled: bool,
    /// Words per n-gram (default 6).
    pub ngram: usize,
    /// Drop a sample sharing a verbatim span longer than this many words with the seeds
    /// (default 25).
    pub max_span_words: usize,
    /// Drop a sample with more than this share of its word n-grams in the seeds (default 0.5).
    pub max_ngram_share: f64,
}

impl Default for LeakConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ngram: 6,
            max_span_words: 25,
            max_ngram_share: 0.5,
        }
    }
}

/// What a sample shares with the seeds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LeakMeasure {
    /// Word n-grams in the sample.
    pub ngrams: usize,
    /// Of them, found in the seeds.
    pub shared_ngrams: usize,
    /// `shared_ngrams / ngrams`.
    pub ngram_share: f64,
    /// Longest verbatim span shared with the seeds, in words.
    pub longest_span_words: usize,
}

/// A hash set of the seeds' word n-grams.
#[derive(Debug, Clone, Default)]
pub struct LeakIndex {
    set: HashSet<u64, IdBuild>,
    n: usize,
    docs: usize,
}

fn ngrams(text: &str, n: usize) -> Vec<u64> {
    let units = unit_hashes(text, ShingleUnit::Word);
    if units.len() < n {
        return Vec::new();
    }
    shingle_hashes(&units, n)
}

impl LeakIndex {
    /// Index the word n-grams of the seed documents.
    pub fn build(seeds: &[Document], n: usize) -> Self {
        let n = n.max(1);
        let per_doc: Vec<Vec<u64>> = seeds.par_iter().map(|d| ngrams(&d.text, n)).collect();
        let total = per_doc.iter().map(Vec::len).sum();
        let mut set = HashSet::with_capacity_and_hasher(total, IdBuild);
        for v in per_doc {
            set.extend(v);
        }
        Self {
            set,
            n,
            docs: seeds.len(),
        }
    }

    /// Distinct n-grams indexed.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Seed documents indexed.
    pub fn documents(&self) -> usize {
        self.docs
    }

    /// Measure a sample against the seeds.
    pub fn measure(&self, text: &str) -> LeakMeasure {
        let grams = ngrams(text, self.n);
        let mut m = LeakMeasure {
            ngrams: grams.len(),
            ..Default::default()
        };
        let mut run = 0usize;
        let mut best = 0usize;
        for g in &grams {
            if self.set.contains(g) {
                m.shared_ngrams += 1;
                run += 1;
                best = best.max(run);
            } else {
                run = 0;
            }
        }
        m.ngram_share = if m.ngrams == 0 {
            0.0
        } else {
            m.shared_ngrams as f64 / m.ngrams as f64
        };
        m.longest_span_words = if best == 0 { 0 } else { best + self.n - 1 };
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Provenance;

    fn doc(text: &str) -> Document {
        Document {
            id: "d".into(),
            corpus: "c".into(),
            text: text.into(),
            lang: "ven".into(),
            script: "Latn".into(),
            provenance: Provenance::Real,
            lineage_depth: 0,
            source: "s".into(),
            line: 1,
        }
    }

    #[test]
    fn span_and_share() {
        let idx = LeakIndex::build(&[doc("a b c d e f g h i j")], 3);
        let m = idx.measure("x y b c d e f z");
        assert_eq!(m.longest_span_words, 5);
        assert_eq!(m.shared_ngrams, 3);
        assert_eq!(m.ngrams, 6);
        assert_eq!(idx.measure("p q r s").longest_span_words, 0);
    }
}
