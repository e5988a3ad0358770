//! Discriminative fine-tuning of the naive Bayes tables.
//!
//! Naive Bayes counts every overlapping n-gram as independent evidence, which serves well between
//! unrelated languages and less well between close neighbours (Zulu, Southern Ndebele, Xhosa;
//! English and Scots), where what matters is the few n-grams that tell them apart. This pass
//! corrects the per-language log-probability tables with an averaged perceptron with a margin,
//! so the scoring stays a sum of table weights (same speed, same file layout):
//!
//! - the training lines are cut into folds by line number (`n % folds`); every fold's sentences
//!   are scored by a naive Bayes model trained without that fold (cross-fitting: a model scoring
//!   its own training text is far too sure of it and would make no mistakes to learn from);
//! - each pass over those sentences (in a fixed pseudo-random order) looks at the gold language
//!   and the best-scoring wrong one; when the gold score does not lead by the margin
//!   (`margin * n^0.75` nats, `n` the text's feature count, the same length scaling as the
//!   calibrated temperature), every feature of the text gains `rate` nats per occurrence in the
//!   gold language's table and loses as much in the wrong one's, and so do the two languages'
//!   score biases by `bias_rate`;
//! - the corrections, averaged over all steps, are added to the tables of the model trained on
//!   all training lines.
//!
//! Deterministic: fixed fold rule, fixed order, sorted merges.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::{split_sentences, word_windows};
use super::features::{normalise, Extractor};
use super::model::{count, nb_tables, KeyMap, Tables, TrainConfig, TrainInputs};
use super::Result;

/// Hyperparameters of the fine-tuning (stored in the model's metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneConfig {
    /// Passes over the training texts (0: no fine-tuning, plain naive Bayes).
    pub epochs: usize,
    /// Cross-fitting folds: line `n` belongs to fold `n % folds`.
    pub folds: usize,
    /// Correction per feature occurrence per update, in nats.
    pub rate: f64,
    /// Required lead of the gold score over the best wrong one, in nats per `n^0.75`.
    pub margin: f64,
    /// Correction of the two languages' score biases per update, in nats.
    pub bias_rate: f64,
    /// Most competing languages kept per text (the best cross-fitted scores).
    pub candidates: usize,
    /// Competitors are the languages whose cross-fitted score is within `reach * n^0.75` nats of
    /// the gold's (texts without any are left out: a language further behind does not become the
    /// best wrong one).
    pub reach: f64,
    /// Averaged corrections of features a language's table lacks are dropped under this many
    /// nats (they would cost a table entry each).
    #[serde(default)]
    pub min_correction: f64,
    /// Besides sentences, train on word windows of the training lines of about these lengths in
    /// characters (empty: sentences only).
    #[serde(default)]
    pub windows: Vec<usize>,
}

impl Default for TuneConfig {
    fn default() -> Self {
        Self {
            epochs: 0,
            folds: 4,
            rate: 0.02,
            margin: 0.5,
            bias_rate: 0.0,
            candidates: 24,
            reach: 5.0,
            min_correction: 0.0,
            windows: Vec::new(),
        }
    }
}

/// One training text: its features and the cross-fitted scores of its candidate languages.
struct Example {
    /// Position of the gold language in `cands`.
    gold: usize,
    /// (feature key, occurrences), keys ascending.
    feats: Vec<(u32, f32)>,
    /// Feature count.
    n: f32,
    /// Candidate languages (indices into the tables' label set); gold included.
    cands: Vec<u16>,
    /// Their cross-fitted naive Bayes scores.
    base: Vec<f32>,
}

/// Naive Bayes tables flattened for scoring.
struct Flat {
    /// Fold label index -> index in the full label set.
    to_full: Vec<u16>,
    floors: Vec<f32>,
    index: KeyMap<(u32, u32)>,
    lang: Vec<u16>,
    w: Vec<f32>,
}

impl Flat {
    fn new(t: &Tables, full: &[String]) -> Flat {
        let to_full = t
            .langs
            .iter()
            .map(|l| full.binary_search(l).map_or(u16::MAX, |i| i as u16))
            .collect();
        let mut index = KeyMap::default();
        let (mut lang, mut w) = (Vec::new(), Vec::new());
        for (k, ps) in &t.rows {
            let a = lang.len() as u32;
            for &(l, x) in ps {
                lang.push(l);
                w.push(x as f32);
            }
            index.insert(*k, (a, lang.len() as u32));
        }
        Flat {
            to_full,
            floors: t.floors.iter().map(|&f| f as f32).collect(),
            index,
            lang,
            w,
        }
    }

    /// Scores over the full label set (`-inf` for languages this fold lacks).
    fn scores(&self, feats: &[(u32, f32)], n: f32, priors: &[f32], out: &mut [f32]) {
        out.fill(f32::NEG_INFINITY);
        let mut acc = vec![0f32; self.floors.len()];
        for (k, c) in feats {
            if let Some(&(a, b)) = self.index.get(k) {
                for i in a as usize..b as usize {
                    acc[self.lang[i] as usize] += c * self.w[i];
                }
            }
        }
        for (i, (&a, &fl)) in acc.iter().zip(&self.floors).enumerate() {
            let j = self.to_full[i];
            if j != u16::MAX {
                out[j as usize] = a + n * fl + priors[j as usize];
            }
        }
    }
}

/// A deterministic 64-bit mix (splitmix64).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fine-tune `tables` (naive Bayes trained on the lines `skip` leaves in) in place.
pub(crate) fn fine_tune(
    cfg: &TrainConfig,
    inputs: &TrainInputs,
    skip: &(dyn Fn(usize) -> bool + Sync),
    tables: &mut Tables,
) -> Result<()> {
    let tc = &cfg.tune;
    let t0 = std::time::Instant::now();
    let dbg = std::env::var_os("LID_DEBUG").is_some();
    let folds = tc.folds.max(2);
    let langs = tables.langs.clone();
    let priors: Vec<f32> = langs
        .iter()
        .map(|l| cfg.boosts.get(l).map_or(0.0, |b| b.log_prior as f32))
        .collect();
    // Training texts by fold: (gold, text).
    let mut texts: Vec<Vec<(u16, String)>> = vec![Vec::new(); folds];
    for f in &inputs.files {
        if cfg.exclude.contains(&f.lang) {
            continue;
        }
        let Ok(gold) = langs.binary_search(&f.lang) else {
            continue;
        };
        for (i, line) in f.lines.iter().enumerate() {
            let n = i + 1;
            if skip(n) {
                continue;
            }
            let bucket = &mut texts[n % folds];
            for s in split_sentences(line) {
                bucket.push((gold as u16, s));
            }
            for &t in &tc.windows {
                bucket.extend(word_windows(line, t).into_iter().map(|w| (gold as u16, w)));
            }
        }
    }
    // Cross-fitted scores.
    let per_fold: Vec<Result<Vec<Example>>> = (0..folds)
        .into_par_iter()
        .map(|j| {
            let fold_skip = |n: usize| skip(n) || n % folds == j;
            let (counts, vocab, _, _) = count(cfg, inputs, &fold_skip);
            let flat = Flat::new(&nb_tables(cfg, &counts, vocab)?, &langs);
            let mut ex = Extractor::new();
            let mut scores = vec![0f32; langs.len()];
            let mut out = Vec::with_capacity(texts[j].len());
            for (gold, text) in &texts[j] {
                let mut feats: BTreeMap<u32, f32> = BTreeMap::new();
                let mut n = 0f32;
                ex.for_each(&normalise(text), |k, _| {
                    *feats.entry(k).or_insert(0.0) += 1.0;
                    n += 1.0;
                });
                if n == 0.0 {
                    continue;
                }
                let feats: Vec<(u32, f32)> = feats.into_iter().collect();
                flat.scores(&feats, n, &priors, &mut scores);
                if !scores[*gold as usize].is_finite() {
                    continue;
                }
                // Competitors within reach: scores above the gold's less `reach * n^0.75`
                // nats (a language further behind does not become the best wrong one).
                let floor = scores[*gold as usize] - (tc.reach * f64::from(n).powf(0.75)) as f32;
                let mut order: Vec<u16> = (0..langs.len() as u16)
                    .filter(|&l| l != *gold && scores[l as usize] > floor)
                    .collect();
                if order.is_empty() {
                    continue;
                }
                order.sort_by(|a, b| {
                    scores[*b as usize]
                        .total_cmp(&scores[*a as usize])
                        .then(a.cmp(b))
                });
                order.truncate(tc.candidates.max(1));
                order.push(*gold);
                let gold_pos = order.iter().position(|l| l == gold).unwrap_or(0);
                out.push(Example {
                    gold: gold_pos,
                    base: order.iter().map(|&l| scores[l as usize]).collect(),
                    cands: order,
                    feats,
                    n,
                });
            }
            Ok(out)
        })
        .collect();
    let mut examples = Vec::new();
    for r in per_fold {
        examples.extend(r?);
    }
    if dbg {
        eprintln!(
            "examples {} in {:.1}s",
            examples.len(),
            t0.elapsed().as_secs_f64()
        );
    }
    // Averaged perceptron. Corrections per language: feature key -> (current, step-weighted sum).
    let mut delta: Vec<KeyMap<(f64, f64)>> = vec![KeyMap::default(); langs.len()];
    let mut bias = vec![(0f64, 0f64); langs.len()];
    let need: Vec<f64> = examples
        .iter()
        .map(|e| tc.margin * f64::from(e.n).powf(0.75))
        .collect();
    let weight: Vec<f64> = langs
        .iter()
        .map(|l| cfg.boosts.get(l).map_or(1.0, |b| b.tune_weight))
        .collect();
    let mut t = 0f64;
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut s = Vec::new();
    for epoch in 0..tc.epochs {
        order.sort_by_key(|&i| mix((i as u64) ^ ((epoch as u64 + 1) << 40)));
        let mut updates = 0usize;
        for &i in &order {
            let e = &examples[i];
            s.clear();
            for (&b, &l) in e.base.iter().zip(&e.cands) {
                let d = &delta[l as usize];
                let mut v = f64::from(b) + bias[l as usize].0;
                if !d.is_empty() {
                    for (k, c) in &e.feats {
                        if let Some(x) = d.get(k) {
                            v += f64::from(*c) * x.0;
                        }
                    }
                }
                s.push(v);
            }
            let mut wrong = usize::MAX;
            for (p, &v) in s.iter().enumerate() {
                if p != e.gold && (wrong == usize::MAX || v > s[wrong]) {
                    wrong = p;
                }
            }
            if wrong != usize::MAX && s[e.gold] - s[wrong] < need[i] {
                updates += 1;
                let gw = weight[e.cands[e.gold] as usize];
                for (l, sign) in [(e.cands[e.gold], gw), (e.cands[wrong], -gw)] {
                    let d = &mut delta[l as usize];
                    for (k, c) in &e.feats {
                        let v = sign * tc.rate * f64::from(*c);
                        let x = d.entry(*k).or_insert((0.0, 0.0));
                        x.0 += v;
                        x.1 += t * v;
                    }
                    let b = &mut bias[l as usize];
                    b.0 += sign * tc.bias_rate;
                    b.1 += t * sign * tc.bias_rate;
                }
            }
            t += 1.0;
        }
        if dbg {
            eprintln!(
                "epoch {epoch}: {updates} updates, {:.1}s",
                t0.elapsed().as_secs_f64()
            );
        }
    }
    if t == 0.0 {
        return Ok(());
    }
    // Averaged corrections onto the tables. A correction of a feature the language's table lacks
    // adds an entry (file size, time) and is kept only from `min_correction` nats on.
    let mut added = 0usize;
    for (l, d) in delta.iter().enumerate() {
        let mut items: Vec<(u32, f64)> = d.iter().map(|(k, &(w, u))| (*k, w - u / t)).collect();
        items.sort_unstable_by_key(|x| x.0);
        for (k, avg) in items {
            let row = tables.rows.entry(k).or_default();
            match row.binary_search_by_key(&(l as u16), |r| r.0) {
                Ok(p) => row[p].1 += avg,
                Err(p) => {
                    if avg.abs() >= tc.min_correction.max(cfg.quant_step / 2.0) {
                        row.insert(p, (l as u16, avg));
                        added += 1;
                    }
                }
            }
        }
    }
    tables.rows.retain(|_, r| !r.is_empty());
    if dbg {
        eprintln!(
            "perceptron done {:.1}s, {added} entries added",
            t0.elapsed().as_secs_f64()
        );
    }
    for (b, &(w, u)) in tables.bias.iter_mut().zip(&bias) {
        *b += w - u / t;
    }
    Ok(())
}
