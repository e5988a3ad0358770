//! Text primitives of evaluation: word tokens, a word interner, n-gram hashes and summaries.
//!
//! Words: the text is split on whitespace, every piece loses the characters that are neither
//! letters nor digits (`char::is_alphanumeric`) at both ends (so `vhathu,` and `"vhathu` are
//! `vhathu`, while `mu-thu` and `u'` inner marks stay), and is lower-cased; pieces that become
//! empty are dropped. Characters are Unicode scalar values of the NFC text, spaces included:
//! Venda's ḓ ḽ ṅ ṋ ṱ are one character each after NFC. Lengths in graphemes follow UAX #29.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

/// A hasher for keys that are already well-mixed 64-bit hashes (or small integers, which it
/// mixes): no per-process randomness, so iteration over sets built with it is reproducible.
#[derive(Debug, Default, Clone, Copy)]
pub struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix64(self.0 ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = mix64(self.0 ^ n);
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = mix64(self.0 ^ u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = mix64(self.0 ^ n as u64);
    }
}

/// `BuildHasher` of [`MixHasher`].
pub type MixBuild = BuildHasherDefault<MixHasher>;
/// A hash map keyed by pre-hashed values.
pub type MixMap<K, V> = HashMap<K, V, MixBuild>;
/// A hash set of pre-hashed values.
pub type MixSet<K> = std::collections::HashSet<K, MixBuild>;

/// SplitMix64's finaliser: a bijective mix of 64 bits.
#[inline]
pub fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The 64-bit hash of a sequence of token ids (word ids or characters).
#[inline]
pub fn seq_hash(tokens: impl IntoIterator<Item = u32>) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15u64;
    for t in tokens {
        h = mix64(h ^ (u64::from(t) + 1));
    }
    h
}

/// Calls `f` with every word of `text` (see the module documentation), lower-cased in `buf`.
pub fn for_each_word(text: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    for piece in text.split_whitespace() {
        let w = piece.trim_matches(|c: char| !c.is_alphanumeric());
        if w.is_empty() {
            continue;
        }
        buf.clear();
        for c in w.chars() {
            if c.is_lowercase() || !c.is_uppercase() {
                buf.push(c);
            } else {
                buf.extend(c.to_lowercase());
            }
        }
        f(buf);
    }
}

/// The words of `text` as owned strings (see the module documentation).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = String::new();
    for_each_word(text, &mut buf, |w| out.push(w.to_string()));
    out
}

/// Assigns dense `u32` ids to words, in first-seen order.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    map: HashMap<Box<str>, u32, ahash::RandomState>,
}

impl Interner {
    /// An empty interner (fixed hash seeds: ids depend only on the order of the words).
    pub fn new() -> Self {
        Self {
            map: HashMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4)),
        }
    }

    /// The id of `word`, assigning the next one when it is new.
    pub fn intern(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.map.get(word) {
            return id;
        }
        let id = self.map.len() as u32;
        self.map.insert(word.into(), id);
        id
    }

    /// The id of `word`, if it was seen.
    pub fn get(&self, word: &str) -> Option<u32> {
        self.map.get(word).copied()
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no word was seen.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Word ids of `text`.
    pub fn tokenize(&mut self, text: &str, buf: &mut String) -> Vec<u32> {
        let mut ids = Vec::new();
        for_each_word(text, buf, |w| ids.push(self.intern(w)));
        ids
    }
}

/// Order statistics of a list of numbers.
///
/// Quantiles interpolate linearly between order statistics (Hyndman & Fan 1996, type 7, the
/// default of R and NumPy): the q-quantile of sorted `x[0..n]` is `x[h] + (h - ⌊h⌋)(x[⌊h⌋+1] - x[⌊h⌋])`
/// with `h = (n - 1) q`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Smallest value.
    pub min: f64,
    /// 5th percentile.
    pub p05: f64,
    /// First quartile.
    pub p25: f64,
    /// Median.
    pub median: f64,
    /// Third quartile.
    pub p75: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest value.
    pub max: f64,
}

/// The type-7 quantile of sorted values (`None` when empty).
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

impl Summary {
    /// Summarise values (`None` when there are none).
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        let q = |p| round6(quantile(&v, p).unwrap_or(0.0));
        Some(Self {
            count: v.len(),
            mean: round6(v.iter().sum::<f64>() / v.len() as f64),
            min: v[0],
            p05: q(0.05),
            p25: q(0.25),
            median: q(0.5),
            p75: q(0.75),
            p95: q(0.95),
            max: v[v.len() - 1],
        })
    }
}

/// A histogram over fixed bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Bin edges: bin `i` holds values in `[edges[i], edges[i+1])`; the last bin is closed.
    pub edges: Vec<f64>,
    /// Values per bin.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// Count `values` into the bins given by `edges` (values outside are clamped to the first or
    /// last bin).
    pub fn of(values: &[f64], edges: &[f64]) -> Self {
        let bins = edges.len().saturating_sub(1).max(1);
        let mut counts = vec![0u64; bins];
        for &x in values {
            // partition_point: first edge > x
            let i = edges.partition_point(|&e| e <= x);
            let b = i.saturating_sub(1).min(bins - 1);
            counts[b] += 1;
        }
        Self {
            edges: edges.to_vec(),
            counts,
        }
    }

    /// Shares per bin (zeros when empty).
    pub fn shares(&self) -> Vec<f64> {
        let total: u64 = self.counts.iter().sum();
        self.counts
            .iter()
            .map(|&c| {
                if total == 0 {
                    0.0
                } else {
                    c as f64 / total as f64
                }
            })
            .collect()
    }
}

/// Length bins: 0, 1, 2, 4, 8, ... 2^20 (powers of two; the last bin is open-ended in practice).
pub fn log2_edges() -> Vec<f64> {
    let mut e = vec![0.0];
    let mut x = 1.0;
    while x <= 1_048_576.0 {
        e.push(x);
        x *= 2.0;
    }
    e
}

/// Ten equal bins over `[0, 1]`.
pub fn unit_edges() -> Vec<f64> {
    (0..=10).map(|i| i as f64 / 10.0).collect()
}

/// Round to 6 decimals, so that reports do not depend on the last bits of float arithmetic.
#[inline]
pub fn round6(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e6).round() / 1e6
    } else {
        x
    }
}

/// `a / b` rounded to 6 decimals, `None` when `b` is zero.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    if b == 0.0 {
        None
    } else {
        Some(round6(a / b))
    }
}

/// Number of extended grapheme clusters.
pub fn grapheme_count(text: &str) -> usize {
    use unicode_segmentation::UnicodeSegmentation;
    if text.is_ascii() {
        // ASCII graphemes are characters, except CR LF, which is one.
        return text.len() - text.matches("\r\n").count();
    }
    text.graphemes(true).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_trim_and_lowercase() {
        assert_eq!(
            words("Vhathu vhoṱhe, \"VHA\" bebwa-vho (vhe) ..."),
            vec!["vhathu", "vhoṱhe", "vha", "bebwa-vho", "vhe"]
        );
    }

    #[test]
    fn quantiles_type7() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert_eq!(quantile(&v, 0.25), Some(1.75));
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max, s.mean), (1.0, 2.5, 4.0, 2.5));
        assert!(Summary::of(&[]).is_none());
    }

    #[test]
    fn histogram_bins() {
        let h = Histogram::of(&[0.0, 0.5, 1.0, 3.0, 100.0], &[0.0, 1.0, 2.0, 4.0]);
        assert_eq!(h.counts, vec![2, 1, 2]);
    }

    #[test]
    fn graphemes_count_venda_letters() {
        assert_eq!(grapheme_count("ṱhe"), 3);
        assert_eq!(grapheme_count("t\u{32d}he"), 3);
        assert_eq!(grapheme_count("abc"), 3);
    }
}
