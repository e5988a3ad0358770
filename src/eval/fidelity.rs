//! Language fidelity: is the corpus in the target language?
//!
//! - **LID**: a [`LanguageIdentifier`](crate::types::LanguageIdentifier) scores every document.
//!   `target_share` is the share of documents whose top-1 language is the target; `confusion[l]`
//!   the share whose top-1 is the neighbour `l`; `mean_scores[l]` the mean score of `l` (0 where
//!   the identifier did not list it); the distribution of the target language's score is given
//!   as a summary and a 10-bin histogram over [0, 1]. `target_share_interval` is the 95% Wilson
//!   score interval of `target_share` (documents as independent trials). Absent (`null`) when no
//!   identifier is given: never estimated some other way.
//! - **word-list coverage** (FineWeb-2's 0.85-precision word lists, Penedo et al. 2024): for each
//!   language `l` with a list, `coverage[l] = |word tokens in list(l)| / |word tokens|`;
//!   `target_wins_share` is the share of documents (with words) whose coverage by the target's
//!   list is positive and at least every neighbour's. `target_coverage_interval` is a 95%
//!   percentile-bootstrap interval (type-7 quantiles) of the target's coverage over documents
//!   ([`BOOTSTRAP_RESAMPLES`] resamples of the documents with replacement, a ChaCha8 stream
//!   seeded with [`BOOTSTRAP_SEED`]): tokens of one document are not independent, documents are.
//! - **character-set purity**: the seed alphabet `A` is the set of lower-cased letters
//!   (`char::is_alphabetic`) of the seed. `seed_alphabet_share = |letters in A| / |letters|`
//!   (lower-cased); `latin_share` the share of letters in Latin blocks (for Latin-script targets);
//!   `special_letters[c]` the rate per 1,000 letters of each non-ASCII letter `c` of `A` (for
//!   Venda ḓ ḽ ṅ ṋ ṱ), to be read against the same rates in the seed.
//!
//! The intervals say how far a corpus of a few dozen documents pins its metric down; a gate can
//! read either bound (`fidelity.wordlist.target_coverage_interval.1`: "not clearly under").

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::text::{quantile, round6, unit_edges, Histogram, Summary};
use crate::types::LangScore;

/// One document's language identification.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LidDoc {
    /// Top-1 language (`None`: no opinion).
    pub top: Option<String>,
    /// Top-1 score.
    pub top_score: f64,
    /// Score of the target language (0 when not listed).
    pub target_score: f64,
    /// All hypotheses.
    pub scores: Vec<LangScore>,
}

impl LidDoc {
    /// From an identifier's ranked output.
    pub fn from_scores(mut scores: Vec<LangScore>, target: &str) -> Self {
        scores.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.lang.cmp(&b.lang)));
        let target_score = scores
            .iter()
            .find(|s| s.lang == target)
            .map_or(0.0, |s| s.score);
        Self {
            top: scores.first().map(|s| s.lang.clone()),
            top_score: scores.first().map_or(0.0, |s| s.score),
            target_score,
            scores,
        }
    }
}

/// LID statistics of a subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LidStats {
    /// The identifier's model id.
    pub model: String,
    /// Share of documents whose top-1 language is the target.
    pub target_share: Option<f64>,
    /// Share of documents per top-1 language (every language seen and every neighbour).
    pub top1: BTreeMap<String, f64>,
    /// Share of documents whose top-1 is each neighbour.
    pub confusion: BTreeMap<String, f64>,
    /// Mean score per language.
    pub mean_scores: BTreeMap<String, f64>,
    /// Share of documents the identifier had no opinion on.
    pub no_opinion_share: Option<f64>,
    /// Distribution of the target language's score.
    pub target_score: Option<Summary>,
    /// Histogram of the target language's score (10 bins over [0, 1]).
    pub target_score_histogram: Histogram,
    /// 95% Wilson score interval of `target_share`.
    #[serde(default)]
    pub target_share_interval: Option<[f64; 2]>,
}

/// Word-list coverage of a subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordlistStats {
    /// Token coverage per language list.
    pub coverage: BTreeMap<String, Option<f64>>,
    /// Coverage by the target's list.
    pub target_coverage: Option<f64>,
    /// The neighbour whose list covers most tokens.
    pub best_neighbour: Option<String>,
    /// Its coverage.
    pub best_neighbour_coverage: Option<f64>,
    /// Share of documents where the target list wins.
    pub target_wins_share: Option<f64>,
    /// 95% bootstrap interval (over documents) of `target_coverage`.
    #[serde(default)]
    pub target_coverage_interval: Option<[f64; 2]>,
}

/// Resamples of the coverage bootstrap.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;
/// Seed of the coverage bootstrap (the same documents give the same interval).
pub const BOOTSTRAP_SEED: u64 = 0x00c0_7e4a;

/// The 95% Wilson score interval of `k` successes in `n` trials (`None` for `n` = 0).
pub fn wilson_interval(k: usize, n: usize) -> Option<[f64; 2]> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k.min(n) as f64, n as f64);
    let z = 1.959_963_984_540_054_f64;
    let p = k / n;
    let z2n = z * z / n;
    let centre = (p + z2n / 2.0) / (1.0 + z2n);
    let half = z * (p * (1.0 - p) / n + z2n / (4.0 * n)).sqrt() / (1.0 + z2n);
    Some([
        round6((centre - half).max(0.0)),
        round6((centre + half).min(1.0)),
    ])
}

/// A 95% percentile-bootstrap interval of the ratio `sum(hits) / sum(tokens)` over documents
/// (`docs[i] = (hits, tokens)`), resampling documents with replacement. `None` without tokens.
pub fn bootstrap_ratio(docs: &[(u64, u64)], resamples: usize, seed: u64) -> Option<[f64; 2]> {
    use rand::{Rng, SeedableRng};
    if docs.iter().all(|d| d.1 == 0) || resamples == 0 {
        return None;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n = docs.len();
    let mut ratios: Vec<f64> = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let (mut hits, mut tokens) = (0u64, 0u64);
        for _ in 0..n {
            let (h, t) = docs[rng.random_range(0..n)];
            hits += h;
            tokens += t;
        }
        if tokens > 0 {
            ratios.push(hits as f64 / tokens as f64);
        }
    }
    ratios.sort_by(f64::total_cmp);
    Some([
        round6(quantile(&ratios, 0.025)?),
        round6(quantile(&ratios, 0.975)?),
    ])
}

/// Character-set purity of a subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Charset {
    /// Letters counted.
    pub letters: u64,
    /// Share of letters in the seed alphabet.
    pub seed_alphabet_share: Option<f64>,
    /// Share of letters in Latin blocks (`None` for non-Latin targets).
    pub latin_share: Option<f64>,
    /// Rate per 1,000 letters of each special (non-ASCII) letter of the seed alphabet.
    pub special_letters: BTreeMap<String, f64>,
    /// Rate per 1,000 letters of all special letters together.
    pub special_letters_total: f64,
    /// Letters outside the seed alphabet, most frequent first (at most 10), with counts.
    pub foreign_letters: Vec<(String, u64)>,
}

/// The fidelity block of a subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fidelity {
    /// LID statistics (`null` without an identifier).
    pub lid: Option<LidStats>,
    /// Word-list coverage (`null` without word lists).
    pub wordlist: Option<WordlistStats>,
    /// Character-set purity.
    pub charset: Charset,
}

/// The lower-cased letters of the seed.
pub fn seed_alphabet<'a>(seed: impl IntoIterator<Item = &'a str>) -> BTreeSet<char> {
    let mut a = BTreeSet::new();
    for t in seed {
        for c in t.chars().filter(|c| c.is_alphabetic()) {
            for l in c.to_lowercase() {
                a.insert(l);
            }
        }
    }
    a
}

/// Whether `c` is in a Latin Unicode block.
pub fn is_latin(c: char) -> bool {
    matches!(c as u32,
        0x41..=0x5A | 0x61..=0x7A | 0xAA | 0xBA | 0xC0..=0xD6 | 0xD8..=0xF6 | 0xF8..=0x24F
        | 0x250..=0x2AF | 0x1D00..=0x1DBF | 0x1E00..=0x1EFF | 0x2C60..=0x2C7F | 0xA720..=0xA7FF
        | 0xAB30..=0xAB6F | 0xFB00..=0xFB06 | 0xFF21..=0xFF3A | 0xFF41..=0xFF5A)
}

/// Character-set purity of `texts` against the seed alphabet.
pub fn charset(texts: &[&str], alphabet: &BTreeSet<char>, latin: bool) -> Charset {
    let mut letters = 0u64;
    let mut inside = 0u64;
    let mut latin_n = 0u64;
    let mut special: BTreeMap<char, u64> = alphabet
        .iter()
        .filter(|c| !c.is_ascii())
        .map(|&c| (c, 0))
        .collect();
    let mut foreign: BTreeMap<char, u64> = BTreeMap::new();
    for t in texts {
        for c in t.chars().filter(|c| c.is_alphabetic()) {
            if is_latin(c) {
                latin_n += 1;
            }
            for l in c.to_lowercase() {
                letters += 1;
                if alphabet.contains(&l) {
                    inside += 1;
                    if let Some(n) = special.get_mut(&l) {
                        *n += 1;
                    }
                } else {
                    *foreign.entry(l).or_default() += 1;
                }
            }
        }
    }
    let per_k = |n: u64| {
        if letters == 0 {
            0.0
        } else {
            round6(n as f64 * 1000.0 / letters as f64)
        }
    };
    let mut foreign: Vec<(String, u64)> = foreign
        .into_iter()
        .map(|(c, n)| (c.to_string(), n))
        .collect();
    foreign.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    foreign.truncate(10);
    Charset {
        letters,
        seed_alphabet_share: (letters > 0).then(|| round6(inside as f64 / letters as f64)),
        latin_share: (latin && letters > 0).then(|| round6(latin_n as f64 / letters as f64)),
        special_letters_total: per_k(special.values().sum()),
        special_letters: special
            .into_iter()
            .map(|(c, n)| (c.to_string(), per_k(n)))
            .collect(),
        foreign_letters: foreign,
    }
}

/// LID statistics of a subject's documents.
pub fn lid_stats(docs: &[&LidDoc], target: &str, neighbours: &[String], model: &str) -> LidStats {
    let n = docs.len();
    let share = |k: usize| {
        if n == 0 {
            0.0
        } else {
            round6(k as f64 / n as f64)
        }
    };
    let mut top1: BTreeMap<String, usize> = BTreeMap::new();
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    let mut none = 0usize;
    for nb in neighbours
        .iter()
        .chain(std::iter::once(&target.to_string()))
    {
        top1.entry(nb.clone()).or_default();
        sums.entry(nb.clone()).or_default();
    }
    for d in docs {
        match &d.top {
            Some(t) => *top1.entry(t.clone()).or_default() += 1,
            None => none += 1,
        }
        for s in &d.scores {
            *sums.entry(s.lang.clone()).or_default() += s.score;
        }
    }
    let target_scores: Vec<f64> = docs.iter().map(|d| d.target_score).collect();
    LidStats {
        model: model.to_string(),
        target_share: (n > 0).then(|| share(top1.get(target).copied().unwrap_or(0))),
        confusion: top1
            .iter()
            .filter(|(l, _)| l.as_str() != target)
            .map(|(l, &k)| (l.clone(), share(k)))
            .collect(),
        top1: top1.iter().map(|(l, &k)| (l.clone(), share(k))).collect(),
        mean_scores: sums
            .into_iter()
            .map(|(l, s)| (l, if n == 0 { 0.0 } else { round6(s / n as f64) }))
            .collect(),
        no_opinion_share: (n > 0).then(|| share(none)),
        target_score: Summary::of(&target_scores),
        target_score_histogram: Histogram::of(&target_scores, &unit_edges()),
        target_share_interval: wilson_interval(top1.get(target).copied().unwrap_or(0), n),
    }
}

/// Word lists as membership tables over word ids: `lang -> in_list[word id]`.
#[derive(Debug, Clone, Default)]
pub struct WordlistIndex {
    /// The target language.
    pub target: String,
    /// Membership per language.
    pub lists: BTreeMap<String, Vec<bool>>,
}

/// Word-list coverage of documents (word ids).
pub fn wordlist_stats(docs: &[&[u32]], idx: &WordlistIndex) -> Option<WordlistStats> {
    if !idx.lists.contains_key(&idx.target) {
        return None;
    }
    let langs: Vec<&String> = idx.lists.keys().collect();
    let mut totals = vec![0u64; langs.len()];
    let mut tokens = 0u64;
    let (mut wins, mut with_words) = (0usize, 0usize);
    let ti = langs.iter().position(|l| **l == idx.target).unwrap_or(0);
    let mut per = vec![0u64; langs.len()];
    let mut target_per_doc: Vec<(u64, u64)> = Vec::with_capacity(docs.len());
    for d in docs {
        if d.is_empty() {
            continue;
        }
        with_words += 1;
        per.iter_mut().for_each(|x| *x = 0);
        for &t in d.iter() {
            for (li, l) in langs.iter().enumerate() {
                if idx.lists[*l].get(t as usize).copied().unwrap_or(false) {
                    per[li] += 1;
                }
            }
        }
        tokens += d.len() as u64;
        target_per_doc.push((per[ti], d.len() as u64));
        for (a, b) in totals.iter_mut().zip(&per) {
            *a += b;
        }
        if per[ti] > 0 && per.iter().all(|&x| x <= per[ti]) {
            wins += 1;
        }
    }
    let cov = |k: u64| (tokens > 0).then(|| round6(k as f64 / tokens as f64));
    let coverage: BTreeMap<String, Option<f64>> = langs
        .iter()
        .zip(&totals)
        .map(|(l, &k)| ((*l).clone(), cov(k)))
        .collect();
    let best = langs
        .iter()
        .zip(&totals)
        .filter(|(l, _)| ***l != idx.target)
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)));
    Some(WordlistStats {
        target_coverage: cov(totals[ti]),
        best_neighbour: best.map(|(l, _)| (*l).clone()),
        best_neighbour_coverage: best.and_then(|(_, &k)| cov(k)),
        target_wins_share: (with_words > 0).then(|| round6(wins as f64 / with_words as f64)),
        target_coverage_interval: bootstrap_ratio(
            &target_per_doc,
            BOOTSTRAP_RESAMPLES,
            BOOTSTRAP_SEED,
        ),
        coverage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_by_hand() {
        // 8 of 10: the textbook interval 0.490-0.943.
        let [lo, hi] = wilson_interval(8, 10).unwrap();
        assert!(
            (lo - 0.4902).abs() < 1e-3 && (hi - 0.9433).abs() < 1e-3,
            "{lo} {hi}"
        );
        // All right still leaves room below 1; none right leaves room above 0.
        let [lo, hi] = wilson_interval(20, 20).unwrap();
        assert!(lo < 0.9 && hi == 1.0, "{lo} {hi}");
        assert_eq!(wilson_interval(0, 20).unwrap()[0], 0.0);
        assert!(wilson_interval(0, 0).is_none());
        // More documents, narrower.
        let w = |k, n| {
            let [a, b] = wilson_interval(k, n).unwrap();
            b - a
        };
        assert!(w(800, 1000) < w(8, 10) / 5.0);
    }

    #[test]
    fn bootstrap_ratio_brackets_the_ratio_and_is_seeded() {
        let docs: Vec<(u64, u64)> = (0..40u64).map(|i| (i % 5, 10)).collect();
        let ratio = docs.iter().map(|d| d.0).sum::<u64>() as f64 / 400.0;
        let [lo, hi] = bootstrap_ratio(&docs, 500, 7).unwrap();
        assert!(
            lo < ratio && ratio < hi && hi - lo < 0.2,
            "{lo} {ratio} {hi}"
        );
        assert_eq!(bootstrap_ratio(&docs, 500, 7), Some([lo, hi]));
        // Identical documents: no spread.
        assert_eq!(bootstrap_ratio(&[(3, 10); 8], 200, 1), Some([0.3, 0.3]));
        assert_eq!(bootstrap_ratio(&[(0, 0); 3], 200, 1), None);
        assert_eq!(bootstrap_ratio(&[], 200, 1), None);
    }

    #[test]
    fn charset_by_hand() {
        let a = seed_alphabet(["ḓa ṱa"]);
        assert_eq!(a.iter().collect::<String>(), "aḓṱ");
        // letters: ḓ a x ṱ -> 3 of 4 in the alphabet; ḓ rate 250 per 1000
        let c = charset(&["Ḓa x ṱ!"], &a, true);
        assert_eq!(c.letters, 4);
        assert_eq!(c.seed_alphabet_share, Some(0.75));
        assert_eq!(c.latin_share, Some(1.0));
        assert_eq!(c.special_letters["ḓ"], 250.0);
        assert_eq!(c.special_letters_total, 500.0);
        assert_eq!(c.foreign_letters, vec![("x".to_string(), 1)]);
    }

    #[test]
    fn lid_by_hand() {
        let ls = |l: &str, s: f64| LangScore {
            lang: l.into(),
            score: s,
        };
        let d1 = LidDoc::from_scores(vec![ls("ven", 0.9), ls("tso", 0.1)], "ven");
        let d2 = LidDoc::from_scores(vec![ls("ven", 0.3), ls("tso", 0.7)], "ven");
        let d3 = LidDoc::from_scores(vec![], "ven");
        let s = lid_stats(&[&d1, &d2, &d3], "ven", &["tso".into(), "zul".into()], "m");
        assert_eq!(s.target_share, Some(round6(1.0 / 3.0)));
        assert_eq!(s.confusion["tso"], round6(1.0 / 3.0));
        assert_eq!(s.confusion["zul"], 0.0);
        assert_eq!(s.mean_scores["ven"], 0.4);
        assert_eq!(s.no_opinion_share, Some(round6(1.0 / 3.0)));
        assert_eq!(s.target_score_histogram.counts[9], 1);
        assert_eq!(s.target_score_histogram.counts[0], 1);
    }

    #[test]
    fn wordlist_by_hand() {
        // words 0..4; ven list {0, 1}, tso list {1, 2, 3}
        let mut lists = BTreeMap::new();
        lists.insert("ven".to_string(), vec![true, true, false, false]);
        lists.insert("tso".to_string(), vec![false, true, true, true]);
        let idx = WordlistIndex {
            target: "ven".into(),
            lists,
        };
        let a: Vec<u32> = vec![0, 0, 1];
        let b: Vec<u32> = vec![2, 3, 1];
        let w = wordlist_stats(&[&a, &b], &idx).unwrap();
        assert_eq!(w.coverage["ven"], Some(0.666667));
        assert_eq!(w.coverage["tso"], Some(round6(4.0 / 6.0)));
        assert_eq!(w.target_wins_share, Some(0.5));
        assert_eq!(w.best_neighbour.as_deref(), Some("tso"));
    }
}
