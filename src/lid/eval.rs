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
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
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
    }
}
