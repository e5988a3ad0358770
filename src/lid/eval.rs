//! Evaluation: accuracy, per-language precision/recall/F1, confusion matrix, accuracy by length.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::LabelledText;
use super::features::Extractor;
use super::fusion::FusedLid;
use super::model::LidModel;
use super::Result;

/// Label given when the identifier has no opinion.
pub const NO_OPINION_LABEL: &str = "und";

/// Precision, recall and F1 of one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    /// Test texts of this language.
    pub support: u64,
    /// Texts predicted as this language.
    pub predicted: u64,
    /// Correct predictions of this language.
    pub correct: u64,
    /// `correct / predicted` (0 when nothing was predicted).
    pub precision: f64,
    /// `correct / support`.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// Accuracy over texts of one length bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Texts in the bucket.
    pub n: u64,
    /// Correct predictions.
    pub correct: u64,
    /// `correct / n`.
    pub accuracy: f64,
}

/// An evaluation report (serialisable, ordered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Identifier evaluated.
    pub model: String,
    /// Label set: `full` or the restricted codes joined by commas.
    pub label_set: String,
    /// Test texts.
    pub n: u64,
    /// Correct predictions.
    pub correct: u64,
    /// `correct / n`.
    pub accuracy: f64,
    /// Texts with no opinion (counted wrong, predicted as `und`).
    pub no_opinion: u64,
    /// Per gold language.
    pub per_lang: BTreeMap<String, Prf>,
    /// Gold language → predicted language → count.
    pub confusion: BTreeMap<String, BTreeMap<String, u64>>,
    /// Accuracy by input length in characters: `10-20`, `20-50`, `50+` (and `<10`).
    pub by_length: BTreeMap<String, Bucket>,
    /// Per gold language, accuracy by length bucket.
    pub by_lang_length: BTreeMap<String, BTreeMap<String, Bucket>>,
    /// Per gold language, a 95% interval of its F1 (percentile bootstrap over the test texts,
    /// 1,000 resamples, a fixed seed): how far the F1 of a language with a few dozen test texts
    /// can be trusted.
    #[serde(default)]
    pub f1_interval: BTreeMap<String, [f64; 2]>,
}

/// Resamples of the F1 bootstrap in [`score`].
pub const BOOTSTRAP_RESAMPLES: usize = 1000;
/// Seed of the F1 bootstrap in [`score`] (the same test set and predictions give the same interval).
pub const BOOTSTRAP_SEED: u64 = 0x005e_edf1;

fn f1_of(correct: u64, predicted: u64, support: u64) -> f64 {
    if correct == 0 {
        return 0.0;
    }
    2.0 * correct as f64 / (predicted + support) as f64
}

/// Percentile-bootstrap 95% intervals of each gold language's F1: `resamples` test sets of
/// `samples.len()` texts drawn with replacement (a seeded ChaCha8 stream), the F1 of each, and
/// the 2.5th and 97.5th percentiles (nearest rank); resamples holding no text of a language and
/// no prediction of it are left out of its interval. Deterministic for a given seed.
pub fn bootstrap_f1(
    samples: &[LabelledText],
    predictions: &[String],
    resamples: usize,
    seed: u64,
) -> BTreeMap<String, [f64; 2]> {
    use rand::{Rng, SeedableRng};
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    for s in samples {
        let next = codes.len();
        codes.entry(s.lang.as_str()).or_insert(next);
    }
    let k = codes.len();
    let n = samples.len().min(predictions.len());
    if n == 0 || resamples == 0 {
        return BTreeMap::new();
    }
    // Per text: gold index, predicted index among gold languages (k: another label).
    let items: Vec<(usize, usize)> = samples
        .iter()
        .zip(predictions)
        .map(|(s, p)| {
            (
                codes[s.lang.as_str()],
                codes.get(p.as_str()).copied().unwrap_or(k),
            )
        })
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut f1s: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples); k];
    let (mut support, mut predicted, mut correct) =
        (vec![0u64; k + 1], vec![0u64; k + 1], vec![0u64; k + 1]);
    for _ in 0..resamples {
        support.fill(0);
        predicted.fill(0);
        correct.fill(0);
        for _ in 0..n {
            let (g, p) = items[rng.random_range(0..n)];
            support[g] += 1;
            predicted[p] += 1;
            correct[g] += u64::from(g == p);
        }
        for (l, f) in f1s.iter_mut().enumerate() {
            // A resample with no text of the language and no prediction of it says nothing of it.
            if support[l] + predicted[l] > 0 {
                f.push(f1_of(correct[l], predicted[l], support[l]));
            }
        }
    }
    let pick = |v: &[f64], q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    codes
        .into_iter()
        .filter_map(|(code, l)| {
            let v = &mut f1s[l];
            v.sort_by(f64::total_cmp);
            (!v.is_empty()).then(|| (code.to_string(), [pick(v, 0.025), pick(v, 0.975)]))
        })
        .collect()
}

/// The length bucket of a text (characters).
pub fn length_bucket(text: &str) -> &'static str {
    match text.chars().count() {
        0..=9 => "<10",
        10..=19 => "10-20",
        20..=49 => "20-50",
        _ => "50+",
    }
}

/// Score predictions against gold labels (`predictions[i]` is the label for `samples[i]`).
pub fn score(
    model: &str,
    label_set: &str,
    samples: &[LabelledText],
    predictions: &[String],
) -> EvalReport {
    let mut confusion: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut by_length: BTreeMap<String, Bucket> = BTreeMap::new();
    let mut by_lang_length: BTreeMap<String, BTreeMap<String, Bucket>> = BTreeMap::new();
    let mut predicted: BTreeMap<String, u64> = BTreeMap::new();
    let mut correct = 0u64;
    let mut no_opinion = 0u64;
    for (s, p) in samples.iter().zip(predictions) {
        *confusion
            .entry(s.lang.clone())
            .or_default()
            .entry(p.clone())
            .or_default() += 1;
        *predicted.entry(p.clone()).or_default() += 1;
        let ok = *p == s.lang;
        correct += u64::from(ok);
        no_opinion += u64::from(p == NO_OPINION_LABEL);
        let b = length_bucket(&s.text).to_string();
        for bucket in [
            by_length.entry(b.clone()).or_insert(Bucket {
                n: 0,
                correct: 0,
                accuracy: 0.0,
            }),
            by_lang_length
                .entry(s.lang.clone())
                .or_default()
                .entry(b)
                .or_insert(Bucket {
                    n: 0,
                    correct: 0,
                    accuracy: 0.0,
                }),
        ] {
            bucket.n += 1;
            bucket.correct += u64::from(ok);
            bucket.accuracy = bucket.correct as f64 / bucket.n as f64;
        }
    }
    let per_lang = confusion
        .iter()
        .map(|(gold, row)| {
            let support: u64 = row.values().sum();
            let ok = row.get(gold).copied().unwrap_or(0);
            let pred = predicted.get(gold).copied().unwrap_or(0);
            let precision = if pred == 0 {
                0.0
            } else {
                ok as f64 / pred as f64
            };
            let recall = if support == 0 {
                0.0
            } else {
                ok as f64 / support as f64
            };
            let f1 = f1_of(ok, pred, support);
            (
                gold.clone(),
                Prf {
                    support,
                    predicted: pred,
                    correct: ok,
                    precision,
                    recall,
                    f1,
                },
            )
        })
        .collect();
    let n = samples.len() as u64;
    EvalReport {
        model: model.to_string(),
        label_set: label_set.to_string(),
        n,
        correct,
        accuracy: if n == 0 {
            0.0
        } else {
            correct as f64 / n as f64
        },
        no_opinion,
        per_lang,
        confusion,
        by_length,
        by_lang_length,
        f1_interval: bootstrap_f1(samples, predictions, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED),
    }
}

/// Top-1 predictions of the model (in parallel, order kept); `und` for no opinion.
pub fn predict_all(
    model: &LidModel,
    samples: &[LabelledText],
    restrict: Option<&[String]>,
) -> Result<Vec<String>> {
    predict_with(model, samples, restrict, |t, r, ex| model.best(t, r, ex))
}

/// Top-1 predictions of the fused identifier (in parallel, order kept); `und` for no opinion.
pub fn predict_all_fused(
    fused: &FusedLid,
    samples: &[LabelledText],
    restrict: Option<&[String]>,
) -> Result<Vec<String>> {
    predict_with(fused.model(), samples, restrict, |t, r, ex| {
        fused.best(t, r, ex)
    })
}

fn predict_with(
    model: &LidModel,
    samples: &[LabelledText],
    restrict: Option<&[String]>,
    best: impl Fn(&str, Option<&[usize]>, &mut Extractor) -> Option<usize> + Sync,
) -> Result<Vec<String>> {
    let idx = match restrict {
        Some(r) => Some(model.check_labels(r)?),
        None => None,
    };
    Ok(samples
        .par_iter()
        .map_init(Extractor::new, |ex, s| {
            best(&s.text, idx.as_deref(), ex).map_or_else(
                || NO_OPINION_LABEL.to_string(),
                |i| model.langs()[i].clone(),
            )
        })
        .collect())
}

/// Evaluate the model on labelled texts, with the full label set or a restricted one.
pub fn evaluate(
    model: &LidModel,
    samples: &[LabelledText],
    restrict: Option<&[String]>,
) -> Result<EvalReport> {
    let preds = predict_all(model, samples, restrict)?;
    let label_set = restrict.map_or_else(|| "full".to_string(), |r| r.join(","));
    Ok(score(model.id(), &label_set, samples, &preds))
}

/// [`evaluate`] for the model with the word-list signal fused in.
pub fn evaluate_fused(
    fused: &FusedLid,
    samples: &[LabelledText],
    restrict: Option<&[String]>,
) -> Result<EvalReport> {
    use crate::types::LanguageIdentifier;
    let preds = predict_all_fused(fused, samples, restrict)?;
    let label_set = restrict.map_or_else(|| "full".to_string(), |r| r.join(","));
    Ok(score(&fused.model_id(), &label_set, samples, &preds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prf_and_confusion() {
        let s = |l: &str, t: &str| LabelledText {
            lang: l.into(),
            text: t.into(),
        };
        let samples = vec![
            s("ven", "0123456789ab"),
            s("ven", "0123456789abcdefghijklm"),
            s("zul", "short one!"),
            s("zul", "x"),
        ];
        let preds: Vec<String> = ["ven", "zul", "zul", "und"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        let r = score("m", "full", &samples, &preds);
        assert_eq!(r.n, 4);
        assert_eq!(r.correct, 2);
        assert_eq!(r.no_opinion, 1);
        let v = &r.per_lang["ven"];
        assert_eq!((v.support, v.predicted, v.correct), (2, 1, 1));
        assert!((v.precision - 1.0).abs() < 1e-12 && (v.recall - 0.5).abs() < 1e-12);
        let z = &r.per_lang["zul"];
        assert!((z.precision - 0.5).abs() < 1e-12 && (z.recall - 0.5).abs() < 1e-12);
        assert_eq!(r.confusion["ven"]["zul"], 1);
        assert_eq!(r.by_length["10-20"].n, 2);
        assert_eq!(r.by_length["20-50"].n, 1);
        assert_eq!(r.by_length["<10"].n, 1);
        for (l, [lo, hi]) in &r.f1_interval {
            let f1 = r.per_lang[l].f1;
            assert!(0.0 <= *lo && lo <= hi && *hi <= 1.0, "{l}: {lo} {hi}");
            assert!(
                *lo <= f1 + 1e-12 && f1 <= *hi + 1e-12,
                "{l}: {f1} outside {lo}..{hi}"
            );
        }
    }

    fn labelled(langs: &[(&str, &str)]) -> (Vec<LabelledText>, Vec<String>) {
        langs
            .iter()
            .map(|(g, p)| {
                (
                    LabelledText {
                        lang: g.to_string(),
                        text: "text".into(),
                    },
                    p.to_string(),
                )
            })
            .unzip()
    }

    #[test]
    fn bootstrap_of_a_perfect_language_is_a_point_and_of_a_mixed_one_is_wide() {
        let mut pairs = vec![("ven", "ven"); 20];
        pairs.extend(vec![("zul", "zul"); 17]);
        pairs.extend(vec![("zul", "nbl"); 3]);
        pairs.extend(vec![("nbl", "nbl"); 20]);
        let (s, p) = labelled(&pairs);
        let ci = bootstrap_f1(&s, &p, 500, 1);
        assert_eq!(ci["ven"], [1.0, 1.0]);
        let [lo, hi] = ci["zul"];
        let f1 = 2.0 * 17.0 / (17.0 + 20.0);
        assert!(lo < f1 && f1 < hi && hi <= 1.0, "{lo} {f1} {hi}");
        assert!(
            hi - lo > 0.05,
            "three errors in twenty leave a wide interval: {lo}..{hi}"
        );
        // nbl: 20 right, 3 false positives.
        assert!(ci["nbl"][0] < 2.0 * 20.0 / 43.0 && ci["nbl"][1] > 2.0 * 20.0 / 43.0);
        // Deterministic; another seed gives another (close) interval.
        assert_eq!(ci, bootstrap_f1(&s, &p, 500, 1));
        assert!(bootstrap_f1(&[], &[], 500, 1).is_empty());
    }

    #[test]
    fn more_test_texts_narrow_the_interval() {
        let mut small = vec![("zul", "zul"); 9];
        small.push(("zul", "nbl"));
        small.extend(vec![("nbl", "nbl"); 10]);
        let mut big = Vec::new();
        for _ in 0..20 {
            big.extend(small.iter().copied());
        }
        let w = |pairs: &[(&str, &str)]| {
            let (s, p) = labelled(pairs);
            let [lo, hi] = bootstrap_f1(&s, &p, 400, 3)["zul"];
            hi - lo
        };
        assert!(w(&big) < w(&small) / 2.0, "{} vs {}", w(&big), w(&small));
    }
}
