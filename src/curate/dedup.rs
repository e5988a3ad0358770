//! Deduplication: exact (on the normalised text) and near-duplicate (MinHash-LSH), within the run
//! and against the seed corpora.
//!
//! Survivor rule, both kinds: seeds are indexed first, then samples in input order. A sample is
//! dropped when it matches a seed (`*_of_seed`) or any earlier sample of the run, and its
//! `duplicate_of` names the earliest match. So the first sample of every cluster survives, and no
//! sample is ever dropped because of a later one. For near duplicates the clusters are transitive:
//! a dropped sample stays in the index, so a chain A ≈ B ≈ C keeps only A.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use rayon::prelude::*;

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use super::chars;
use super::hash::{combine, combine_mixed, hash64, key128, mix64, splitmix_stream, TOKEN_SEED};
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
    /// LSH bands (default 16; datatrove's default is 14 buckets of 8).
    pub bands: usize,
    /// Rows (hashes) per band (default 7); `bands * rows` hashes in all (default 112, as
    /// datatrove's). 16 x 7 puts the threshold at Jaccard 0.67 (14 x 8: 0.72), which on the 1 GiB
    /// benchmark catches 75% of the injected near copies instead of 62% (BENCHMARKS.md).
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
            bands: 16,
            rows: 7,
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
    thread_local! {
        /// The lower-cased text, a buffer per thread.
        static LOWER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    LOWER.with(|buf| {
        let mut lower = buf.borrow_mut();
        let units = if unit == ShingleUnit::Word && !text.contains('Σ') {
            // Lower-case token by token, not the whole text first (the same tokens: without a
            // capital sigma lower-casing maps each character on its own, and no character
            // lower-cases to a space or a newline).
            word_units(text, Some(&mut lower))
        } else {
            chars::lowercase_into(text, &mut lower);
            units_of(&lower, unit)
        };
        if lower.capacity() > 1 << 20 {
            // Do not keep a buffer for one huge text.
            *lower = String::new();
        }
        units
    })
}

fn units_of(lower: &str, unit: ShingleUnit) -> Vec<u64> {
    match unit {
        ShingleUnit::Word => word_hashes(lower),
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

fn word_hash(w: &str) -> u64 {
    hash64(w.as_bytes(), TOKEN_SEED)
}

/// Hashes of `s.unicode_words()`, in order. Tokens between spaces and newlines that are a run of
/// [`chars::WORD_CORE`] characters (and [`chars::WORD_INNER`] ones, which WB4 skips) with
/// [`chars::WORD_EDGE`] ones at either end are one word (the run) or none; the segmenter handles every stretch of other tokens on its own, which
/// gives the same words because a word boundary always falls after a newline and after a space
/// followed by a [`chars::WORD_AFTER_SPACE`] character, and no rule looks across a space.
fn word_hashes(s: &str) -> Vec<u64> {
    word_units(s, None)
}

/// [`word_hashes`] of `s`, or, with a buffer, of its lower case (`s` then without a capital
/// sigma, whose lower case depends on its neighbours), lower-casing only the tokens that need it,
/// into the buffer.
fn word_units(s: &str, mut lower: Option<&mut String>) -> Vec<u64> {
    let lowering = lower.is_some();
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 6 + 1);
    // Start of the stretch of tokens left to the segmenter.
    let mut rest: Option<usize> = None;
    let mut pos = 0usize;
    while pos < b.len() {
        let end = b[pos..]
            .iter()
            .position(|&x| x == b' ' || x == b'\n')
            .map_or(b.len(), |k| pos + k);
        if end > pos {
            let tok = match lower.as_deref_mut() {
                Some(buf) => lower_token(&s[pos..end], buf),
                None => &s[pos..end],
            };
            match simple_word(tok) {
                Some(word) => {
                    let h = word.map(word_hash);
                    if let Some(r) = rest.take() {
                        segment_into(&mut out, &s[r..pos], lowering);
                    }
                    if let Some(h) = h {
                        out.push(h);
                    }
                }
                None if rest.is_none() => {
                    let after_space = pos > 0 && b[pos - 1] == b' ';
                    if after_space
                        && !tok
                            .chars()
                            .next()
                            .is_some_and(|c| chars::has(c, chars::WORD_AFTER_SPACE))
                    {
                        // A mark or joiner right after a space: no boundary there; leave the
                        // whole text to the segmenter.
                        out.clear();
                        segment_into(&mut out, s, lowering);
                        return out;
                    }
                    rest = Some(pos);
                }
                None => {}
            }
        }
        pos = end + 1;
    }
    if let Some(r) = rest {
        segment_into(&mut out, &s[r..], lowering);
    }
    out
}

/// Append the hashes of the segmenter's words of `t` (of its lower case when `lowering`).
fn segment_into(out: &mut Vec<u64>, t: &str, lowering: bool) {
    if lowering {
        out.extend(chars::to_lowercase(t).unicode_words().map(word_hash));
    } else {
        out.extend(t.unicode_words().map(word_hash));
    }
}

/// The lower case of a token without a capital sigma: the token itself when it is its own
/// lower case, else written into `buf`.
#[inline]
fn lower_token<'a>(tok: &'a str, buf: &'a mut String) -> &'a str {
    let own = if tok.is_ascii() {
        !tok.bytes().any(|c| c.is_ascii_uppercase())
    } else {
        tok.chars().all(|c| {
            if c.is_ascii() {
                !c.is_ascii_uppercase()
            } else {
                chars::has(c, chars::LOWER_SELF)
            }
        })
    };
    if own {
        return tok;
    }
    chars::lowercase_into(tok, buf);
    buf.as_str()
}

/// The word of a token made of [`chars::WORD_EDGE`] characters, a run of [`chars::WORD_CORE`]
/// ones (with [`chars::WORD_INNER`] ones after the first), and edge ones again:
/// `Some(Some(run))` when the run holds a letter or digit, `Some(None)` when there is no word;
/// `None` for any other token.
#[inline]
fn simple_word(tok: &str) -> Option<Option<&str>> {
    // 0: leading edge, 1: core, 2: trailing edge.
    let mut state = 0u8;
    let (mut start, mut end) = (0usize, 0usize);
    let mut alnum = false;
    for (i, c) in tok.char_indices() {
        let p = chars::props(c);
        let core = p & chars::WORD_CORE != 0;
        match state {
            0 if core => {
                state = 1;
                start = i;
            }
            0 | 2 if p & chars::WORD_EDGE != 0 => continue,
            1 if core || p & chars::WORD_INNER != 0 => {}
            1 if p & chars::WORD_EDGE != 0 => {
                state = 2;
                continue;
            }
            _ => return None,
        }
        end = i + c.len_utf8();
        alnum |= p & (chars::ALPHA | chars::NUMERIC) != 0;
    }
    Some((state > 0 && alnum).then(|| &tok[start..end]))
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
    // `combine(h, x) == combine_mixed(h, mix64(x))`: mix each unit once, not once per n-gram.
    let mixed: Vec<u64> = units.iter().map(|&x| mix64(x)).collect();
    mixed
        .windows(n)
        .map(|w| w.iter().fold(n as u64, |h, &m| combine_mixed(h, m)))
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
        min_hashes(&self.a, &self.b, &shingles, &mut sig);
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

/// Hash lanes computed together: one AVX-512 register of 64-bit values.
const LANES: usize = 8;

/// `sig[k] = min(sig[k], min over x in shingles of (a[k] * x + b[k]) >> 32)`, wrapping. The same
/// arithmetic in every build; the lanes are blocked so that the compiler keeps eight hash
/// functions in registers while it runs over the shingles.
#[inline(always)]
fn min_hashes_body(a: &[u64], b: &[u64], shingles: &[u64], sig: &mut [u32]) {
    let full = sig.len() / LANES * LANES;
    for ((ab, bb), mb) in a[..full]
        .chunks_exact(LANES)
        .zip(b[..full].chunks_exact(LANES))
        .zip(sig[..full].chunks_exact_mut(LANES))
    {
        let mut av = [0u64; LANES];
        let mut bv = [0u64; LANES];
        let mut mv = [0u64; LANES];
        for j in 0..LANES {
            av[j] = ab[j];
            bv[j] = bb[j];
            mv[j] = mb[j] as u64;
        }
        for &x in shingles {
            for j in 0..LANES {
                let v = av[j].wrapping_mul(x).wrapping_add(bv[j]) >> 32;
                mv[j] = mv[j].min(v);
            }
        }
        for j in 0..LANES {
            // Every value is below 2^32: the shift leaves 32 bits.
            mb[j] = mv[j] as u32;
        }
    }
    for ((m, &a), &b) in sig[full..].iter_mut().zip(&a[full..]).zip(&b[full..]) {
        for &x in shingles {
            let v = (a.wrapping_mul(x).wrapping_add(b) >> 32) as u32;
            *m = (*m).min(v);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
fn min_hashes_avx512(a: &[u64], b: &[u64], shingles: &[u64], sig: &mut [u32]) {
    min_hashes_body(a, b, shingles, sig)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn min_hashes_avx2(a: &[u64], b: &[u64], shingles: &[u64], sig: &mut [u32]) {
    min_hashes_body(a, b, shingles, sig)
}

/// [`min_hashes_body`] compiled for the best instruction set the CPU has (same results on all).
fn min_hashes(a: &[u64], b: &[u64], shingles: &[u64], sig: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512dq") {
            // SAFETY: the CPU supports AVX-512F and AVX-512DQ (checked just above), the only
            // requirement of this `target_feature` function.
            unsafe { min_hashes_avx512(a, b, shingles, sig) };
            return;
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of this
            // `target_feature` function.
            unsafe { min_hashes_avx2(a, b, shingles, sig) };
            return;
        }
    }
    min_hashes_body(a, b, shingles, sig)
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

/// Ids of indexed items, seeds first: one string holding them all and where each ends (no
/// allocation per item).
#[derive(Debug, Default, Clone)]
struct Items {
    text: String,
    ends: Vec<usize>,
    seeds: usize,
}

impl Items {
    fn push(&mut self, id: &str, seed: bool) -> u32 {
        self.text.push_str(id);
        self.ends.push(self.text.len());
        if seed {
            self.seeds += 1;
        }
        (self.ends.len() - 1) as u32
    }
    fn len(&self) -> usize {
        self.ends.len()
    }
    fn id(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
    fn matched(&self, i: u32, bands: usize) -> Match {
        Match {
            id: self.id(i).to_string(),
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
        self.items.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.items.len() == 0
    }
}

/// The LSH index: for each band, band key to the first item that had it.
///
/// The bands are kept apart (a key of band 2 is only ever compared with keys of band 2), so a
/// batch of items can be indexed one band per thread ([`LshIndex::check_insert_batch`]) with the
/// same outcome as indexing them one at a time in order.
#[derive(Debug, Default, Clone)]
pub struct LshIndex {
    bands: Vec<HashMap<u64, u32, IdBuild>>,
    items: Items,
}

impl LshIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    fn ensure_bands(&mut self, n: usize) {
        if self.bands.len() < n {
            self.bands.resize_with(n, HashMap::default);
        }
    }

    /// Add a seed document's band keys (band `i` is `keys[i]`).
    pub fn add_seed(&mut self, id: &str, keys: &[u64]) {
        let i = self.items.push(id, true);
        self.ensure_bands(keys.len());
        for (map, &k) in self.bands.iter_mut().zip(keys) {
            map.entry(k).or_insert(i);
        }
    }

    /// The earliest item sharing a band with these keys (`None` if none), then index these keys
    /// (a band already taken keeps its earlier item).
    pub fn check_insert(&mut self, id: &str, keys: &[u64]) -> Option<Match> {
        self.check_insert_batch(&[(id, keys)]).pop().flatten()
    }

    /// [`LshIndex::check_insert`] for each item in order, the bands in parallel: item `j` is
    /// compared with the seeds, earlier batches and items `0..j` of this one.
    pub fn check_insert_batch(&mut self, items: &[(&str, &[u64])]) -> Vec<Option<Match>> {
        // Item numbers first, in order (an item without keys is not indexed).
        let me: Vec<u32> = items
            .iter()
            .map(|(id, keys)| {
                if keys.is_empty() {
                    u32::MAX
                } else {
                    self.items.push(id, false)
                }
            })
            .collect();
        self.ensure_bands(items.iter().map(|(_, k)| k.len()).max().unwrap_or(0));
        // Per band: (item in batch, earlier item holding its key) for the keys already taken.
        let hits: Vec<Vec<(u32, u32)>> = self
            .bands
            .par_iter_mut()
            .enumerate()
            .map(|(b, map)| {
                let mut hits = Vec::new();
                for (j, (_, keys)) in items.iter().enumerate() {
                    if let Some(&k) = keys.get(b) {
                        match map.entry(k) {
                            Entry::Occupied(e) => hits.push((j as u32, *e.get())),
                            Entry::Vacant(e) => {
                                e.insert(me[j]);
                            }
                        }
                    }
                }
                hits
            })
            .collect();
        // The earliest earlier item per batch item, and how many bands it holds.
        let mut best = vec![(u32::MAX, 0usize); items.len()];
        for &(j, i) in hits.iter().flatten() {
            let b = &mut best[j as usize];
            if i < b.0 {
                *b = (i, 1);
            } else if i == b.0 {
                b.1 += 1;
            }
        }
        best.into_iter()
            .map(|(i, n)| (i != u32::MAX).then(|| self.items.matched(i, n)))
            .collect()
    }

    /// Band keys stored.
    pub fn len(&self) -> usize {
        self.bands.iter().map(HashMap::len).sum()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.bands.iter().all(HashMap::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Characters of every word break class, from many scripts, with spaces and newlines.
    fn any_text() -> impl Strategy<Value = String> {
        let pool: Vec<char> = "aeiouvhtnṱḓḽṅṋ AEKZ zwd.,;:!?'\"()-#…«»“”’‘1234567890_‿\n\n    \t\r\u{b}\u{85}\u{2028}\u{a0}\u{3000}\u{200b}\u{200d}\u{200c}\u{ad}\u{200e}\u{2060}\u{301}\u{32d}\u{93f}\u{94d}कषनमस्ते\u{e31}กข한\u{1100}\u{1161}привет ΣσςİẞΑ你好カタカナｶﾞ\u{5d0}\u{5d1}\u{5f3}\u{5f4}مرحبا\u{600}\u{64b}\u{66b}\u{66c}\u{102b}\u{1000}🇿🇦👩🏽\u{fe0f}\u{1f600}\u{2139}\u{10400}\u{1d400}·:@/$%&*+=<>"
            .chars()
            .collect();
        prop::collection::vec(prop::sample::select(pool), 0..80)
            .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn words_as_the_segmenter_finds_them(text in any_text()) {
            let lower = text.to_lowercase();
            let expect: Vec<u64> = lower.unicode_words().map(word_hash).collect();
            prop_assert_eq!(&word_hashes(&lower), &expect, "{:?}", lower);
            prop_assert_eq!(&unit_hashes(&text, ShingleUnit::Word), &expect, "{:?}", text);
        }
    }

    /// Word-like tokens in mixed case (capitals, titlecase, Venda letters, marks, punctuation),
    /// between spaces and newlines; no capital sigma (the text as a whole is lower-cased then,
    /// which `words_as_the_segmenter_finds_them` covers).
    fn wordy_text() -> impl Strategy<Value = String> {
        let tokens = vec![
            "The",
            "the",
            "ḒA",
            "ṱhi",
            "Ṱhi",
            "Hello,",
            "(a)",
            "İs",
            "x\u{301}",
            "\u{301}",
            "ǅ",
            "ΑΒΓ",
            "Ωμέγα",
            "ὈΔΥ",
            "Привет",
            "ẞ",
            "K\u{212a}",
            "«Word»",
            "'tis",
            "e.g.",
            "a.b",
            "1,5",
            "#",
            "…",
            "-",
            "ĲSSEL",
            "ÅÉÎ",
            "कषन",
            "ｶﾞ",
            "你好",
        ];
        let seps = vec![" ", " ", " ", "\n", "  ", "\n\n"];
        prop::collection::vec(
            (prop::sample::select(tokens), prop::sample::select(seps)),
            0..40,
        )
        .prop_map(|v| v.into_iter().flat_map(|(t, s)| [t, s]).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn words_of_wordy_text_as_the_segmenter_finds_them(text in wordy_text()) {
            let expect: Vec<u64> = text.to_lowercase().unicode_words().map(word_hash).collect();
            prop_assert_eq!(&unit_hashes(&text, ShingleUnit::Word), &expect, "{:?}", text);
        }
    }

    proptest! {
        /// Indexing a batch (bands in parallel) gives what indexing its items one at a time in
        /// order gives (a plain reference: one map per band, item by item): the same earliest
        /// match and band count for each item, and the same index after.
        #[test]
        fn batch_same_as_one_at_a_time(
            seeds in prop::collection::vec(prop::collection::vec(0u64..12, 0..4), 0..4),
            batches in prop::collection::vec(
                prop::collection::vec(prop::collection::vec(0u64..12, 0..4), 0..12), 1..4),
        ) {
            let mut reference: Vec<HashMap<u64, usize>> = vec![HashMap::new(); 4];
            let mut names: Vec<String> = Vec::new();
            let mut idx = LshIndex::new();
            for (i, k) in seeds.iter().enumerate() {
                names.push(format!("seed{i}"));
                for (b, &key) in k.iter().enumerate() {
                    reference[b].entry(key).or_insert(names.len() - 1);
                }
                idx.add_seed(&names[names.len() - 1], k);
            }
            for batch in &batches {
                let mut expect = Vec::new();
                let mut ids = Vec::new();
                for k in batch {
                    let id = format!("s{}", names.len());
                    let hits: Vec<usize> = k
                        .iter()
                        .enumerate()
                        .filter_map(|(b, key)| reference[b].get(key).copied())
                        .collect();
                    let best = hits.iter().copied().min();
                    expect.push(best.map(|i| Match {
                        id: names[i].clone(),
                        seed: i < seeds.len(),
                        bands: hits.iter().filter(|&&h| h == i).count(),
                    }));
                    if !k.is_empty() {
                        names.push(id.clone());
                        for (b, &key) in k.iter().enumerate() {
                            reference[b].entry(key).or_insert(names.len() - 1);
                        }
                    }
                    ids.push(id);
                }
                let items: Vec<(&str, &[u64])> =
                    ids.iter().map(String::as_str).zip(batch.iter().map(Vec::as_slice)).collect();
                prop_assert_eq!(idx.check_insert_batch(&items), expect);
            }
            prop_assert_eq!(idx.len(), reference.iter().map(HashMap::len).sum::<usize>());
            prop_assert_eq!(idx.items.len(), names.len());
        }
    }

    #[test]
    fn batch_counts_bands_of_the_earliest_match() {
        let mut idx = LshIndex::new();
        idx.add_seed("seed", &[1, 2, 3]);
        let got = idx.check_insert_batch(&[("a", &[9, 2, 3]), ("b", &[9, 8, 3]), ("c", &[])]);
        let m = |id: &str, seed, bands| {
            Some(Match {
                id: id.into(),
                seed,
                bands,
            })
        };
        assert_eq!(got, vec![m("seed", true, 2), m("seed", true, 1), None]);
        // "a" holds band 0's key 9, so a later item matching only there matches "a".
        assert_eq!(idx.check_insert("d", &[9, 7, 7]), m("a", false, 1));
    }

    #[test]
    fn word_fast_path_covers_common_tokens() {
        for t in [
            "muthu",
            "muthu,",
            "(pfanelo).",
            "ṱhoho",
            "1948",
            "«vhathu»",
            "привет!",
            "नमस्ते।",
            "مَرْحَبًا",
            "d\u{32d}ivha",
        ] {
            assert!(simple_word(t).is_some(), "{t}");
        }
        assert_eq!(simple_word("--"), Some(None));
        assert_eq!(simple_word("a.b"), None);
    }

    #[test]
    fn threshold_recorded() {
        let c = NearDedupConfig::default();
        assert_eq!(c.num_hashes(), 112);
        assert!((c.threshold() - 0.6729).abs() < 1e-3);
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
