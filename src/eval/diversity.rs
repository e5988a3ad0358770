//! Diversity: is the corpus varied?
//!
//! Every metric here is defined on a list of documents, each a sequence of word ids (see
//! [`super::text`]) and its text; n-grams never cross document boundaries.
//!
//! - **distinct-n** (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural
//!   Conversation Models"): `distinct_n = |unique n-grams| / |n-gram occurrences|`, over words and
//!   over characters, n = 1..4.
//! - **n-gram diversity score** (Meister et al. 2023; Padmakumar & He 2024):
//!   `NGD = Σ_{n=1..4} distinct_n` over words (between 0 and 4).
//! - **compression ratio** (Shaib et al. 2024, "Standardizing the Measurement of Text
//!   Diversity"): `bytes(C) / bytes(gzip(C))` of the documents joined by `\n` (gzip, level 6);
//!   higher means more repetitive.
//! - **Self-BLEU** (Zhu et al. 2018, Texygen): on a seeded sample of documents with at least 4
//!   words, each document's sentence BLEU-4 (uniform weights, clipped counts against all other
//!   sampled documents as references, brevity penalty against the closest reference length,
//!   shorter on ties, and "method 1" smoothing of Chen & Cherry 2014: a zero precision becomes
//!   `0.1 / total`), averaged; higher means less diverse.
//! - **self-repetition** (after Salkar et al. 2022): for word n-grams of length `n` (default 6),
//!   the share of documents holding at least one n-gram that also occurs in another document, and
//!   the share of n-gram occurrences whose n-gram occurs in two documents or more.
//! - **MATTR** (Covington & McFall 2010; McCarthy & Jarvis 2010): the mean type-token ratio of
//!   every window of `w` consecutive words (default 50) of the documents' words in corpus order;
//!   the plain type-token ratio when there are fewer than `w` words.
//! - **vocabulary**: types, tokens, the growth curve `V(N)` (types among the first N tokens, at
//!   N = 1, 2, 5, 10, 20, 50, ... and at the end) and Heaps' law `V = K N^β` fitted by least
//!   squares on `ln V` against `ln N` over the curve's points with `N ≥ 10` (Heaps 1978).
//! - **size-matched distinct-n**: distinct-n depends on corpus size (it falls as a corpus grows),
//!   so it is also given on a seeded sample of documents, drawn in random order until it holds at
//!   least as many words as the seed (`matched`); only this one compares fairly with the seed.
//! - **novel words**: the share of word tokens (and of word types) not in the seed's vocabulary.

use std::collections::BTreeMap;
use std::io::Write;

use rand::seq::index::sample as index_sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::text::{round6, seq_hash, MixMap, MixSet};

/// Self-BLEU on a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfBleu {
    /// Mean sentence BLEU-4 of each sampled document against the others.
    pub value: f64,
    /// Documents in the sample.
    pub sample_size: usize,
}

/// Self-repetition of long word n-grams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfRepetition {
    /// The n-gram length in words.
    pub n: usize,
    /// Share of documents (with at least one n-gram) holding an n-gram found in another document.
    pub documents_share: Option<f64>,
    /// Share of n-gram occurrences whose n-gram occurs in two or more documents.
    pub ngrams_share: Option<f64>,
}

/// Vocabulary size and growth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vocabulary {
    /// Distinct words.
    pub types: usize,
    /// Word tokens.
    pub tokens: usize,
    /// `types / tokens`.
    pub ttr: Option<f64>,
    /// `[N, V(N)]` pairs.
    pub growth: Vec<[u64; 2]>,
    /// Heaps' law exponent β.
    pub heaps_beta: Option<f64>,
    /// Heaps' law constant K.
    pub heaps_k: Option<f64>,
}

/// Words not in the seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NovelWords {
    /// Share of word tokens whose word is not in the seed.
    pub token_share: Option<f64>,
    /// Share of word types not in the seed.
    pub type_share: Option<f64>,
}

/// distinct-n on a size-matched sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matched {
    /// Words in the sample (at least the seed's, unless the corpus is smaller).
    pub words: usize,
    /// Documents in the sample.
    pub documents: usize,
    /// distinct-n over words, keyed by n ("1".."4").
    pub distinct_words: BTreeMap<String, Option<f64>>,
}

/// distinct-n (n = 1..4) over a seeded sample of documents holding at least `target` words.
pub fn matched(docs: &[&[u32]], target: usize, seed: u64) -> Matched {
    use rand::seq::SliceRandom;
    let mut order: Vec<usize> = (0..docs.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut picked = Vec::new();
    let mut words = 0usize;
    for i in order {
        if words >= target {
            break;
        }
        words += docs[i].len();
        picked.push(i);
    }
    picked.sort_unstable();
    let sample: Vec<&[u32]> = picked.iter().map(|&i| docs[i]).collect();
    Matched {
        words,
        documents: sample.len(),
        distinct_words: (1..=4usize)
            .map(|n| (n.to_string(), distinct_n(&sample, n)))
            .collect(),
    }
}

/// The diversity block of a subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diversity {
    /// distinct-n over words, keyed by n ("1".."4").
    pub distinct_words: BTreeMap<String, Option<f64>>,
    /// distinct-n over characters, keyed by n ("1".."4").
    pub distinct_chars: BTreeMap<String, Option<f64>>,
    /// Σ distinct-n over words, n = 1..4.
    pub ngram_diversity: f64,
    /// distinct-n over words on a sample as large as the seed (in words).
    pub matched: Matched,
    /// gzip compression ratio of the joined documents.
    pub compression_ratio: Option<f64>,
    /// Self-BLEU on a seeded sample.
    pub self_bleu: Option<SelfBleu>,
    /// Self-repetition of long word n-grams.
    pub self_repetition: SelfRepetition,
    /// Moving-average type-token ratio.
    pub mattr: Option<f64>,
    /// MATTR window.
    pub mattr_window: usize,
    /// Vocabulary size and growth.
    pub vocabulary: Vocabulary,
    /// Words not in the seed (absent for the seed itself).
    pub novel_words: Option<NovelWords>,
}

/// Settings of the diversity metrics.
#[derive(Debug, Clone)]
pub struct DiversitySettings {
    /// RNG seed of the Self-BLEU sample.
    pub seed: u64,
    /// Documents in the Self-BLEU sample.
    pub self_bleu_sample: usize,
    /// n-gram length of self-repetition.
    pub self_repetition_n: usize,
    /// MATTR window.
    pub mattr_window: usize,
    /// Words of the seed: the size of the `matched` sample.
    pub match_words: usize,
}

/// Character n-gram counts of a corpus, n = 1..=4 (index n - 1).
#[derive(Debug, Default, Clone)]
pub struct CharCounts {
    /// Counts per hashed n-gram.
    pub counts: Vec<MixMap<u64, u64>>,
    /// Occurrences per n.
    pub totals: Vec<u64>,
}

/// Count character n-grams (n = 1..=`max_n`) of the texts, in parallel.
pub fn char_counts(texts: &[&str], max_n: usize) -> CharCounts {
    use rayon::prelude::*;
    let per_n: Vec<(MixMap<u64, u64>, u64)> = (1..=max_n)
        .into_par_iter()
        .map(|n| {
            texts
                .par_chunks(2048)
                .map(|chunk| {
                    let mut m: MixMap<u64, u64> = MixMap::default();
                    let mut total = 0u64;
                    let mut cs: Vec<u32> = Vec::new();
                    for t in chunk {
                        cs.clear();
                        cs.extend(t.chars().map(|c| c as u32));
                        for w in cs.windows(n) {
                            *m.entry(seq_hash(w.iter().copied())).or_default() += 1;
                            total += 1;
                        }
                    }
                    (m, total)
                })
                .reduce(
                    || (MixMap::default(), 0),
                    |(a, ta), (b, tb)| {
                        let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
                        for (k, v) in small {
                            *big.entry(k).or_default() += v;
                        }
                        (big, ta + tb)
                    },
                )
        })
        .collect();
    let mut out = CharCounts::default();
    for (m, t) in per_n {
        out.counts.push(m);
        out.totals.push(t);
    }
    out
}

/// distinct-n over word ids: unique n-grams / n-gram occurrences (`None` without any n-gram).
pub fn distinct_n(docs: &[&[u32]], n: usize) -> Option<f64> {
    let mut set: MixSet<u64> = MixSet::default();
    let mut total = 0usize;
    for d in docs {
        for w in d.windows(n) {
            set.insert(seq_hash(w.iter().copied()));
            total += 1;
        }
    }
    ratio_opt(set.len(), total)
}

fn ratio_opt(a: usize, b: usize) -> Option<f64> {
    if b == 0 {
        None
    } else {
        Some(round6(a as f64 / b as f64))
    }
}

/// gzip compression ratio of the texts joined by `\n` (`None` when empty).
pub fn compression_ratio(texts: &[&str]) -> Option<f64> {
    struct Count(u64);
    impl Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut enc = flate2::write::GzEncoder::new(Count(0), flate2::Compression::new(6));
    let mut raw = 0u64;
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            enc.write_all(b"\n").ok()?;
            raw += 1;
        }
        enc.write_all(t.as_bytes()).ok()?;
        raw += t.len() as u64;
    }
    let compressed = enc.finish().ok()?.0;
    if raw == 0 || compressed == 0 {
        return None;
    }
    Some(round6(raw as f64 / compressed as f64))
}

/// Self-BLEU over a seeded sample of at most `sample` documents of 4 words or more.
pub fn self_bleu(docs: &[&[u32]], sample: usize, seed: u64) -> Option<SelfBleu> {
    let eligible: Vec<&[u32]> = docs.iter().copied().filter(|d| d.len() >= 4).collect();
    if eligible.len() < 2 || sample < 2 {
        return None;
    }
    let chosen: Vec<&[u32]> = if eligible.len() > sample {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut idx = index_sample(&mut rng, eligible.len(), sample).into_vec();
        idx.sort_unstable();
        idx.into_iter().map(|i| eligible[i]).collect()
    } else {
        eligible
    };
    Some(SelfBleu {
        value: round6(self_bleu_of(&chosen)),
        sample_size: chosen.len(),
    })
}

/// Mean sentence BLEU-4 of each document against all the others (see the module documentation).
pub fn self_bleu_of(docs: &[&[u32]]) -> f64 {
    let m = docs.len();
    // Per n: for every n-gram, the largest count in a document, which document, and the second
    // largest count (over the other documents): the clip count against "all but h" is then O(1).
    let mut log_p_sum = vec![0.0f64; m];
    for n in 1..=4usize {
        let mut best: MixMap<u64, (u32, u32, u32)> = MixMap::default();
        let mut local: Vec<MixMap<u64, u32>> = Vec::with_capacity(m);
        for (di, d) in docs.iter().enumerate() {
            let mut c: MixMap<u64, u32> = MixMap::default();
            for w in d.windows(n) {
                *c.entry(seq_hash(w.iter().copied())).or_default() += 1;
            }
            for (&g, &k) in &c {
                let e = best.entry(g).or_insert((0, u32::MAX, 0));
                if k > e.0 {
                    e.2 = e.0;
                    e.0 = k;
                    e.1 = di as u32;
                } else if k > e.2 {
                    e.2 = k;
                }
            }
            local.push(c);
        }
        for (di, c) in local.iter().enumerate() {
            let total = docs[di].len() + 1 - n;
            let mut clipped = 0u64;
            for (g, &k) in c {
                let &(m1, arg, m2) = &best[g];
                let other = if arg == di as u32 { m2 } else { m1 };
                clipped += u64::from(k.min(other));
            }
            let p = if clipped == 0 {
                0.1 / total as f64
            } else {
                clipped as f64 / total as f64
            };
            log_p_sum[di] += 0.25 * p.ln();
        }
    }
    // Closest reference length among the others (shorter on ties).
    let mut lens: BTreeMap<usize, usize> = BTreeMap::new();
    for d in docs {
        *lens.entry(d.len()).or_default() += 1;
    }
    let mut sum = 0.0;
    for (di, d) in docs.iter().enumerate() {
        let c = d.len();
        let own = lens.get(&c).copied().unwrap_or(0);
        let r = if own >= 2 {
            c
        } else {
            let below = lens.range(..c).next_back().map(|(&l, _)| l);
            let above = lens.range(c + 1..).next().map(|(&l, _)| l);
            match (below, above) {
                (Some(b), Some(a)) => {
                    if c - b <= a - c {
                        b
                    } else {
                        a
                    }
                }
                (Some(b), None) => b,
                (None, Some(a)) => a,
                (None, None) => c,
            }
        };
        let bp = if c > r {
            1.0
        } else {
            (1.0 - r as f64 / c as f64).exp()
        };
        sum += bp * log_p_sum[di].exp();
    }
    sum / m as f64
}

/// Self-repetition of word n-grams of length `n`.
pub fn self_repetition(docs: &[&[u32]], n: usize) -> SelfRepetition {
    // n-gram -> (first document, seen in a second document)
    let mut df: MixMap<u64, (u32, bool)> = MixMap::default();
    let hashes: Vec<Vec<u64>> = docs
        .iter()
        .map(|d| d.windows(n).map(|w| seq_hash(w.iter().copied())).collect())
        .collect();
    for (di, hs) in hashes.iter().enumerate() {
        for &h in hs {
            let e = df.entry(h).or_insert((di as u32, false));
            if e.0 != di as u32 {
                e.1 = true;
            }
        }
    }
    let (mut docs_with, mut docs_any, mut rep, mut total) = (0usize, 0usize, 0usize, 0usize);
    for hs in &hashes {
        if hs.is_empty() {
            continue;
        }
        docs_any += 1;
        let r = hs.iter().filter(|h| df[*h].1).count();
        if r > 0 {
            docs_with += 1;
        }
        rep += r;
        total += hs.len();
    }
    SelfRepetition {
        n,
        documents_share: ratio_opt(docs_with, docs_any),
        ngrams_share: ratio_opt(rep, total),
    }
}

/// MATTR with window `w` over the word stream (plain TTR when shorter than `w`).
pub fn mattr(docs: &[&[u32]], w: usize, vocab_size: usize) -> Option<f64> {
    let stream: Vec<u32> = docs.iter().flat_map(|d| d.iter().copied()).collect();
    if stream.is_empty() || w == 0 {
        return None;
    }
    let mut counts = vec![0u32; vocab_size.max(1 + *stream.iter().max().unwrap_or(&0) as usize)];
    if stream.len() <= w {
        let mut types = 0usize;
        for &t in &stream {
            if counts[t as usize] == 0 {
                types += 1;
            }
            counts[t as usize] += 1;
        }
        return Some(round6(types as f64 / stream.len() as f64));
    }
    let mut types = 0usize;
    for &t in &stream[..w] {
        if counts[t as usize] == 0 {
            types += 1;
        }
        counts[t as usize] += 1;
    }
    let mut sum = types as f64;
    let mut windows = 1usize;
    for i in w..stream.len() {
        let out = stream[i - w] as usize;
        counts[out] -= 1;
        if counts[out] == 0 {
            types -= 1;
        }
        let inn = stream[i] as usize;
        if counts[inn] == 0 {
            types += 1;
        }
        counts[inn] += 1;
        sum += types as f64;
        windows += 1;
    }
    Some(round6(sum / (windows as f64 * w as f64)))
}

/// Vocabulary size, growth curve and Heaps' law fit.
pub fn vocabulary(docs: &[&[u32]], vocab_size: usize) -> Vocabulary {
    let mut seen = vec![false; vocab_size];
    let mut types = 0u64;
    let mut n = 0u64;
    let mut growth = Vec::new();
    let mut next = 1u64;
    let mut step = 0usize;
    for d in docs {
        for &t in d.iter() {
            let t = t as usize;
            if t >= seen.len() {
                seen.resize(t + 1, false);
            }
            if !seen[t] {
                seen[t] = true;
                types += 1;
            }
            n += 1;
            if n == next {
                growth.push([n, types]);
                step += 1;
                next = [1u64, 2, 5][step % 3] * 10u64.pow((step / 3) as u32);
            }
        }
    }
    if growth.last().is_none_or(|p| p[0] != n) && n > 0 {
        growth.push([n, types]);
    }
    let pts: Vec<(f64, f64)> = growth
        .iter()
        .filter(|p| p[0] >= 10)
        .map(|p| ((p[0] as f64).ln(), (p[1] as f64).ln()))
        .collect();
    let (heaps_beta, heaps_k) = if pts.len() >= 2 {
        let k = pts.len() as f64;
        let mx = pts.iter().map(|p| p.0).sum::<f64>() / k;
        let my = pts.iter().map(|p| p.1).sum::<f64>() / k;
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        if sxx > 0.0 {
            let b = sxy / sxx;
            (Some(round6(b)), Some(round6((my - b * mx).exp())))
        } else {
            (None, None)
        }
    } else {
        (None, None)
    };
    Vocabulary {
        types: types as usize,
        tokens: n as usize,
        ttr: ratio_opt(types as usize, n as usize),
        growth,
        heaps_beta,
        heaps_k,
    }
}

/// Share of word tokens and types not in `seed_vocab` (indexed by word id).
pub fn novel_words(docs: &[&[u32]], seed_vocab: &[bool]) -> NovelWords {
    let in_seed = |t: u32| seed_vocab.get(t as usize).copied().unwrap_or(false);
    let mut types: MixSet<u32> = MixSet::default();
    let (mut novel_tok, mut tok) = (0usize, 0usize);
    for d in docs {
        for &t in d.iter() {
            tok += 1;
            if !in_seed(t) {
                novel_tok += 1;
            }
            types.insert(t);
        }
    }
    let novel_types = types.iter().filter(|&&t| !in_seed(t)).count();
    NovelWords {
        token_share: ratio_opt(novel_tok, tok),
        type_share: ratio_opt(novel_types, types.len()),
    }
}

/// The diversity block.
pub fn diversity(
    docs: &[&[u32]],
    texts: &[&str],
    chars: &CharCounts,
    vocab_size: usize,
    seed_vocab: Option<&[bool]>,
    s: &DiversitySettings,
) -> Diversity {
    use rayon::prelude::*;
    let dw: Vec<Option<f64>> = (1..=4usize)
        .into_par_iter()
        .map(|n| distinct_n(docs, n))
        .collect();
    let distinct_words: BTreeMap<String, Option<f64>> = dw
        .iter()
        .enumerate()
        .map(|(i, v)| ((i + 1).to_string(), *v))
        .collect();
    let distinct_chars = (1..=4usize)
        .map(|n| {
            let v = chars
                .counts
                .get(n - 1)
                .and_then(|m| ratio_opt(m.len(), chars.totals[n - 1] as usize));
            (n.to_string(), v)
        })
        .collect();
    let ngram_diversity = round6(dw.iter().map(|v| v.unwrap_or(0.0)).sum());
    let ((compression, bleu), (rep, (mattr_v, vocab))) = rayon::join(
        || {
            rayon::join(
                || compression_ratio(texts),
                || self_bleu(docs, s.self_bleu_sample, s.seed),
            )
        },
        || {
            rayon::join(
                || self_repetition(docs, s.self_repetition_n),
                || {
                    (
                        mattr(docs, s.mattr_window, vocab_size),
                        vocabulary(docs, vocab_size),
                    )
                },
            )
        },
    );
    Diversity {
        distinct_words,
        distinct_chars,
        ngram_diversity,
        matched: matched(docs, s.match_words, s.seed ^ 0x6d61),
        compression_ratio: compression,
        self_bleu: bleu,
        self_repetition: rep,
        mattr: mattr_v,
        mattr_window: s.mattr_window,
        vocabulary: vocab,
        novel_words: seed_vocab.map(|v| novel_words(docs, v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_n_by_hand() {
        // a b a b c: unigrams 3/5, bigrams {ab, ba, bc} 3/4
        let d: Vec<u32> = vec![0, 1, 0, 1, 2];
        let docs = [d.as_slice()];
        assert_eq!(distinct_n(&docs, 1), Some(0.6));
        assert_eq!(distinct_n(&docs, 2), Some(0.75));
        assert_eq!(distinct_n(&docs, 6), None);
        // n-grams do not cross documents: [a b] [a b] -> bigrams 1/2
        let a: Vec<u32> = vec![0, 1];
        assert_eq!(distinct_n(&[&a, &a], 2), Some(0.5));
    }

    #[test]
    fn mattr_by_hand() {
        // stream a b a c, window 2: windows ab ba ac -> TTR 1, 1, 1; window 3: aba (2/3), bac (1)
        let d: Vec<u32> = vec![0, 1, 0, 2];
        assert_eq!(mattr(&[&d], 2, 3), Some(1.0));
        assert_eq!(mattr(&[&d], 3, 3), Some(round6((2.0 / 3.0 + 1.0) / 2.0)));
        // shorter than the window: TTR 3/4
        assert_eq!(mattr(&[&d], 50, 3), Some(0.75));
    }

    #[test]
    fn self_bleu_identical_and_disjoint() {
        let a: Vec<u32> = vec![0, 1, 2, 3, 4];
        let b: Vec<u32> = vec![5, 6, 7, 8, 9];
        assert!((self_bleu_of(&[&a, &a]) - 1.0).abs() < 1e-12);
        // Disjoint: every precision is 0.1/total -> BLEU = geometric mean of 0.1/5, 0.1/4, 0.1/3, 0.1/2
        let expect =
            ((0.1f64 / 5.0).ln() + (0.1f64 / 4.0).ln() + (0.1f64 / 3.0).ln() + (0.1f64 / 2.0).ln())
                / 4.0;
        assert!((self_bleu_of(&[&a, &b]) - expect.exp()).abs() < 1e-12);
    }

    #[test]
    fn self_bleu_brevity_penalty() {
        // hyp a b c d (4) vs ref a b c d e f (6): precisions 1, BP = exp(1 - 6/4)
        let h: Vec<u32> = vec![0, 1, 2, 3];
        let r: Vec<u32> = vec![0, 1, 2, 3, 4, 5];
        let bleu_h = (1.0f64 - 6.0 / 4.0).exp();
        // ref as hypothesis: precisions 4/6, 3/5, 2/4, 1/3, no penalty
        let bleu_r =
            ((4.0f64 / 6.0).ln() + (3.0f64 / 5.0).ln() + 0.5f64.ln() + (1.0f64 / 3.0).ln()) / 4.0;
        let got = self_bleu_of(&[&h, &r]);
        assert!((got - (bleu_h + bleu_r.exp()) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn self_repetition_by_hand() {
        let a: Vec<u32> = vec![0, 1, 2];
        let b: Vec<u32> = vec![0, 1, 9];
        let c: Vec<u32> = vec![5];
        let r = self_repetition(&[&a, &b, &c], 2);
        // bigrams: a {01, 12}, b {01, 19}; 01 is shared; c has none
        assert_eq!(r.documents_share, Some(1.0));
        assert_eq!(r.ngrams_share, Some(0.5));
    }

    #[test]
    fn vocabulary_growth_and_novel() {
        let d: Vec<u32> = (0..25).map(|i| i % 10).collect();
        let v = vocabulary(&[&d], 10);
        assert_eq!(v.types, 10);
        assert_eq!(v.tokens, 25);
        assert_eq!(
            v.growth,
            vec![[1, 1], [2, 2], [5, 5], [10, 10], [20, 10], [25, 10]]
        );
        let seed = vec![
            true, true, false, false, false, false, false, false, false, false,
        ];
        let n = novel_words(&[&d], &seed);
        // tokens of 0 and 1: 3 + 3 = 6 of 25 are known
        assert_eq!(n.token_share, Some(round6(19.0 / 25.0)));
        assert_eq!(n.type_share, Some(0.8));
    }

    #[test]
    fn compression_ratio_repetitive_is_higher() {
        let rep = vec!["vhathu vhothe"; 200];
        let varied: Vec<String> = (0..200).map(|i| format!("{}", i * 7919 % 10007)).collect();
        let v: Vec<&str> = varied.iter().map(|s| s.as_str()).collect();
        assert!(compression_ratio(&rep).unwrap() > compression_ratio(&v).unwrap());
        assert_eq!(compression_ratio(&[]), None);
    }

    #[test]
    fn char_counts_distinct() {
        let c = char_counts(&["abab", "ḓa"], 2);
        // unigrams a b ḓ: 3 distinct of 6; bigrams ab ba ab ḓa: 3 distinct of 4
        assert_eq!((c.counts[0].len(), c.totals[0]), (3, 6));
        assert_eq!((c.counts[1].len(), c.totals[1]), (3, 4));
    }
}
