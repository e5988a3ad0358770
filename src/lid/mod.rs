//! synthcorpus's own language identifier.
//!
//! A multinomial naive Bayes classifier over hashed character 1- to 5-grams (plus whole words),
//! in the spirit of langid.py and CLD2: each language keeps its most frequent n-grams as a sparse
//! table of quantised log-probabilities, and a softmax temperature fitted on held-out lines turns
//! log-likelihoods into calibrated probabilities. The shipped model ([`DEFAULT_MODEL_PATH`]) is
//! trained on the UDHR in 400+ languages with the South African languages weighted in (their
//! FineWeb-2 word lists as extra signal); `lid/TRAINING.md` records its data and how to retrain.
//!
//! Besides the model:
//! - restricted label sets ([`LidModel::identify`] with `restrict`, [`RestrictedLid`]) and
//!   per-language thresholds ([`Thresholds`]);
//! - an independent word-list signal ([`WordLists`]), and its fusion with the model among close
//!   neighbours (Nguni, Sotho-Tswana) at prediction time ([`FusedLid`], [`FusionTables`]);
//! - evaluation ([`evaluate`], [`EvalReport`]) on a held-out split fixed by [`HoldoutRule`].
//!
//! Curation and evaluation use it through [`crate::types::LanguageIdentifier`], which
//! [`LidModel`], [`RestrictedLid`] and [`FusedLid`] implement.

mod data;
mod eval;
mod features;
mod fusion;
mod model;
mod tune;
mod wordlists;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use data::{
    heldout_sentences, heldout_windows, read_corpus_dir, read_labelled_tsv, sha256_hex,
    split_sentences, CorpusFile, HoldoutRule, LabelledText, MIN_SENTENCE_CHARS,
};
pub use eval::{
    evaluate, evaluate_fused, length_bucket, predict_all, predict_all_fused, score, Bucket,
    EvalReport, Prf, NO_OPINION_LABEL,
};
pub use features::{normalise, Extractor, MAX_ORDER};
pub use fusion::{
    default_groups, FusedLid, FusionGroup, FusionTables, DEFAULT_SMOOTHING, FUSION_FORMAT,
    MAX_GROUP, NGUNI, NGUNI_LAMBDA, SOTHO_TSWANA, SOTHO_TSWANA_LAMBDA,
};
pub use model::{
    LangBoost, LidModel, ModelMeta, NoOpinion, RestrictedLid, SourceRecord, TrainConfig,
    TrainInputs, WordListFile, FORMAT_VERSION, MAGIC,
};
pub use tune::TuneConfig;
pub use wordlists::{WordListSignal, WordLists};

use crate::types::LangScore;

/// The shipped model, relative to the repository root.
pub const DEFAULT_MODEL_PATH: &str = "lid/udhr-lid.bin";

/// Environment variable that overrides the model path.
pub const MODEL_ENV: &str = "SYNTHCORPUS_LID_MODEL";

/// The South African weighting shipped with the model, relative to the repository root.
pub const DEFAULT_WEIGHTING_PATH: &str = "lid/sa-weighting.tsv";

/// The eleven official languages of South Africa (ISO 639-3).
pub const SOUTH_AFRICAN: [&str; 11] = [
    "afr", "eng", "nbl", "nso", "sot", "ssw", "tsn", "tso", "ven", "xho", "zul",
];

/// Errors of the language identifier.
#[derive(Debug, thiserror::Error)]
pub enum LidError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// A model file is not a valid model.
    #[error("{path}: corrupt language-ID model: {reason}")]
    Corrupt {
        /// The model file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A text input (index, test set, weighting) is malformed.
    #[error("{path}: line {line}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line (0: the whole file).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A folder holds no usable training data.
    #[error("{path}: no training data found")]
    NoTrainingData {
        /// The folder.
        path: PathBuf,
    },
    /// A label the model does not know.
    #[error("language `{0}` is not in the model's label set")]
    UnknownLanguage(String),
    /// Bad configuration.
    #[error("configuration: {0}")]
    Config(String),
}

/// Result of the language identifier.
pub type Result<T> = std::result::Result<T, LidError>;

/// Where the model is: `$SYNTHCORPUS_LID_MODEL` if set, else [`DEFAULT_MODEL_PATH`] if it exists
/// relative to the working directory, else the path in the source tree this binary was built from.
pub fn default_model_path() -> PathBuf {
    if let Some(p) = std::env::var_os(MODEL_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let local = PathBuf::from(DEFAULT_MODEL_PATH);
    if local.is_file() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/lid/udhr-lid.bin"))
}

/// Load the model at [`default_model_path`].
pub fn load_default() -> Result<LidModel> {
    LidModel::load(&default_model_path())
}

/// Parse a weighting file: `#` comments, then
/// `lang<TAB>top_k<TAB>text_weight<TAB>wordlist_weight[<TAB>log_prior[<TAB>tune_weight]]` (see
/// [`LangBoost`]).
pub fn read_weighting(path: &Path) -> Result<BTreeMap<String, LangBoost>> {
    let (text, _) = data::read_text(path)?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let bad = |reason: String| LidError::Format {
            path: path.to_path_buf(),
            line: i + 1,
            reason,
        };
        let cols: Vec<&str> = t.split('\t').collect();
        if !(4..=6).contains(&cols.len()) {
            return Err(bad(format!(
                "expected 4 to 6 tab-separated fields (lang, top_k, text_weight, wordlist_weight[, log_prior[, tune_weight]]), got {}",
                cols.len()
            )));
        }
        let top_k = cols[1]
            .parse::<usize>()
            .map_err(|e| bad(format!("field top_k: {e}")))?;
        let num = |i: usize, name: &str| -> Result<f64> {
            cols[i]
                .parse::<f64>()
                .map_err(|e| bad(format!("field {name}: {e}")))
        };
        let text_weight = num(2, "text_weight")?;
        let wordlist_weight = num(3, "wordlist_weight")?;
        let log_prior = if cols.len() >= 5 {
            num(4, "log_prior")?
        } else {
            0.0
        };
        let tune_weight = if cols.len() == 6 {
            num(5, "tune_weight")?
        } else {
            1.0
        };
        let bad_weight = |w: f64| w.is_nan() || w < 0.0;
        if top_k == 0
            || bad_weight(text_weight)
            || bad_weight(wordlist_weight)
            || !log_prior.is_finite()
            || !tune_weight.is_finite()
            || tune_weight < 0.0
        {
            return Err(bad(
                "top_k must be >= 1, weights >= 0 and log_prior finite".into()
            ));
        }
        out.insert(
            cols[0].to_string(),
            LangBoost {
                top_k,
                text_weight,
                wordlist_weight,
                log_prior,
                tune_weight,
            },
        );
    }
    Ok(out)
}

/// Per-language minimum scores: a top hypothesis under its language's threshold is not accepted.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Thresholds {
    /// Threshold for languages not listed.
    pub default: f64,
    /// Per-language thresholds.
    pub per_lang: BTreeMap<String, f64>,
}

impl Thresholds {
    /// Parse `lang=value` items (and `*=value` for the default), comma-separated.
    pub fn parse(spec: &str) -> Result<Self> {
        let mut t = Thresholds::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((lang, v)) = item.split_once('=') else {
                return Err(LidError::Config(format!(
                    "threshold `{item}`: expected lang=value"
                )));
            };
            let v: f64 = v
                .trim()
                .parse()
                .map_err(|e| LidError::Config(format!("threshold `{item}`: {e}")))?;
            if !(0.0..=1.0).contains(&v) {
                return Err(LidError::Config(format!(
                    "threshold `{item}`: must be in [0, 1]"
                )));
            }
            if lang.trim() == "*" {
                t.default = v;
            } else {
                t.per_lang.insert(lang.trim().to_string(), v);
            }
        }
        Ok(t)
    }

    /// The threshold of a language.
    pub fn of(&self, lang: &str) -> f64 {
        self.per_lang.get(lang).copied().unwrap_or(self.default)
    }

    /// The accepted top language of ranked hypotheses, or `None` (no opinion or under threshold).
    pub fn accept<'a>(&self, ranked: &'a [LangScore]) -> Option<&'a LangScore> {
        ranked.first().filter(|b| b.score >= self.of(&b.lang))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_and_accept() {
        let t = Thresholds::parse("ven=0.9, *=0.5").unwrap();
        assert_eq!(t.of("ven"), 0.9);
        assert_eq!(t.of("zul"), 0.5);
        let r = vec![LangScore {
            lang: "ven".into(),
            score: 0.8,
        }];
        assert!(t.accept(&r).is_none());
        let r = vec![LangScore {
            lang: "zul".into(),
            score: 0.8,
        }];
        assert_eq!(t.accept(&r).map(|s| s.lang.as_str()), Some("zul"));
        assert!(Thresholds::parse("ven").is_err());
        assert!(Thresholds::parse("ven=2").is_err());
    }

    #[test]
    fn weighting_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.tsv");
        std::fs::write(&p, "# c\nven\t100\t1\t1\nzul\tx\t1\t1\n").unwrap();
        let e = read_weighting(&p).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("top_k"), "{e}");
    }
}

#[cfg(test)]
mod shipped_tests;
