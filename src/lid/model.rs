//! The model: multinomial naive Bayes over hashed character n-grams, with per-language pruned
//! sparse tables of quantised log-probabilities, a calibrated softmax temperature, and a small
//! versioned binary file format with a SHA-256 integrity check.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::data::{sha256_hex, split_sentences, CorpusFile, HoldoutRule};
use super::features::{normalise, Extractor};
use super::tune::TuneConfig;
use super::{LidError, Result};
use crate::types::{LangScore, LanguageIdentifier};

/// Magic bytes at the start of a model file.
pub const MAGIC: &[u8; 8] = b"SCLIDNB\0";
/// Version of the model file format.
pub const FORMAT_VERSION: u32 = 2;

/// Hasher for keys that are already hashes (deterministic, no random state).
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

pub(crate) type KeyMap<V> = HashMap<u32, V, BuildHasherDefault<KeyHasher>>;

/// Extra weight for one language in training (the South African languages' weighting).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LangBoost {
    /// How many n-gram features this language keeps (instead of [`TrainConfig::top_k`]).
    pub top_k: usize,
    /// Multiplier on the counts from this language's corpus files.
    pub text_weight: f64,
    /// Weight of the word list relative to the language's text: its feature counts are scaled
    /// to sum to this times the text's (0: word list unused).
    pub wordlist_weight: f64,
    /// Log-prior bonus in nats added to this language's score (0: uniform prior). It weighs most
    /// on short texts, where the likelihood is weakest.
    #[serde(default)]
    pub log_prior: f64,
    /// Multiplier on the fine-tuning corrections learned from this language's texts (1: as
    /// every other language).
    #[serde(default = "one")]
    pub tune_weight: f64,
}

fn one() -> f64 {
    1.0
}

/// Training hyperparameters. Serialised into the model's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Model name, the first part of [`LidModel::model_id`].
    pub name: String,
    /// Additive (Lidstone) smoothing of feature counts.
    pub alpha: f64,
    /// Features kept per language (most frequent first, ties by key).
    pub top_k: usize,
    /// Lines never trained on (the evaluation split).
    pub holdout: HoldoutRule,
    /// Lines left out of a first training pass to fit the softmax temperature on; the final model
    /// trains on them too.
    pub calibration: HoldoutRule,
    /// Language codes never used as labels (`und`: undetermined).
    pub exclude: Vec<String>,
    /// Per-language weighting (the South African languages).
    pub boosts: BTreeMap<String, LangBoost>,
    /// Quantisation step of log-probabilities, in nats.
    pub quant_step: f64,
    /// Discriminative fine-tuning of the naive Bayes tables.
    #[serde(default)]
    pub tune: TuneConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            name: "synthcorpus-lid".into(),
            alpha: 0.02,
            top_k: 1500,
            holdout: HoldoutRule::default(),
            calibration: HoldoutRule {
                modulus: 5,
                remainder: 3,
            },
            exclude: vec!["und".into()],
            boosts: BTreeMap::new(),
            quant_step: 0.1,
            tune: TuneConfig::default(),
        }
    }
}

impl TrainConfig {
    /// The calibration rule in effect: [`TrainConfig::calibration`], moved to the next remainder
    /// when it coincides with the held-out rule.
    pub fn calibration_rule(&self) -> HoldoutRule {
        let mut c = self.calibration;
        if c == self.holdout && c.modulus > 1 {
            c.remainder = (c.remainder + 1) % c.modulus;
        }
        c
    }
}

/// A word list used as extra training signal for one language.
#[derive(Debug, Clone, PartialEq)]
pub struct WordListFile {
    /// File name (no directory).
    pub name: String,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
    /// The words, in file order.
    pub words: Vec<String>,
}

/// Everything a model is trained from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainInputs {
    /// Per-language text files (see [`super::read_corpus_dir`]).
    pub files: Vec<CorpusFile>,
    /// Word lists by language code.
    pub wordlists: BTreeMap<String, WordListFile>,
}

/// Record of one training source, kept in model metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// File name.
    pub file: String,
    /// Language code it trained.
    pub lang: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Lines (or words) trained on.
    pub units: usize,
}

/// Metadata stored in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Hyperparameters.
    pub config: TrainConfig,
    /// Text sources.
    pub sources: Vec<SourceRecord>,
    /// Word-list sources.
    pub wordlists: Vec<SourceRecord>,
    /// Fitted softmax temperature `T`: probabilities are a softmax of log-likelihoods divided by
    /// `T * n^length_exponent`, `n` the text's feature count.
    pub temperature: f64,
    /// Fitted exponent of the feature count in the temperature (longer texts' log-likelihoods
    /// grow with their length; their over-counted overlapping n-grams need a larger divisor).
    #[serde(default)]
    pub length_exponent: f64,
    /// Distinct features seen in training (the smoothing vocabulary size).
    pub vocabulary: usize,
}

/// Why a text got no opinion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoOpinion {
    /// No letters in the text.
    Empty,
    /// Most of the text's characters were never seen in training (a script the model lacks).
    UnseenScript,
}

/// The n-gram language identifier.
#[derive(Debug, Clone)]
pub struct LidModel {
    meta: ModelMeta,
    langs: Vec<String>,
    floors: Vec<f32>,
    /// Per-language learned score bias (discriminative fine-tuning; 0 without it).
    bias: Vec<f32>,
    /// Per-language log-prior (from the configuration's boosts).
    priors: Vec<f32>,
    step: f32,
    keys: Vec<u32>,
    starts: Vec<u32>,
    post_lang: Vec<u16>,
    post_w: Vec<i16>,
    /// Feature key -> posting list index, or `DENSE | row` for features kept by many languages.
    index: KeyMap<u32>,
    /// Dense rows (one weight per language) of the features with the longest posting lists:
    /// adding a contiguous row vectorises, scattered adds do not.
    dense: Vec<i16>,
    id: String,
}

/// Flag of a dense row in [`LidModel::index`].
const DENSE: u32 = 1 << 31;

/// Raw per-language log-likelihoods of one text.
struct Raw {
    scores: Vec<f32>,
    n: usize,
}

impl LidModel {
    /// Train a model. Deterministic: the same config and inputs give a byte-identical model.
    pub fn train(cfg: &TrainConfig, inputs: &TrainInputs) -> Result<LidModel> {
        if cfg.alpha.is_nan()
            || cfg.alpha <= 0.0
            || cfg.quant_step.is_nan()
            || cfg.quant_step <= 0.0
            || cfg.top_k == 0
        {
            return Err(LidError::Config(
                "alpha and quant_step must be > 0 and top_k >= 1".into(),
            ));
        }
        let usable = inputs
            .files
            .iter()
            .any(|f| !cfg.exclude.contains(&f.lang) && !f.lines.is_empty());
        if !usable {
            return Err(LidError::Config(
                "no training text (all languages excluded?)".into(),
            ));
        }
        // Pass 1: without the calibration lines, to fit the temperature on them.
        let calibration = cfg.calibration_rule();
        let skip1 = |n: usize| cfg.holdout.is_heldout(n) || calibration.is_heldout(n);
        let (tables1, _, _) = fit_tables(cfg, inputs, &skip1)?;
        let probe = assemble(cfg, &tables1, (1.0, 0.0), Vec::new(), Vec::new())?;
        let mut calib = Vec::new();
        for f in &inputs.files {
            let Ok(gold) = probe.langs.binary_search(&f.lang) else {
                continue;
            };
            for (i, line) in f.lines.iter().enumerate() {
                if calibration.is_heldout(i + 1) && !cfg.holdout.is_heldout(i + 1) {
                    for s in split_sentences(line) {
                        calib.push((gold, s));
                    }
                }
            }
        }
        let calibration = probe.fit_temperature(&calib);
        // Pass 2: the final model.
        let skip2 = |n: usize| cfg.holdout.is_heldout(n);
        let (tables, sources, wl) = fit_tables(cfg, inputs, &skip2)?;
        assemble(cfg, &tables, calibration, sources, wl)
    }

    /// Fit the temperature and its length exponent, minimising the mean negative log-likelihood of
    /// the gold labels.
    fn fit_temperature(&self, calib: &[(usize, String)]) -> (f64, f64) {
        let mut ex = Extractor::new();
        // Keep the 32 best scores and the gold score per sentence: the rest is negligible mass.
        let mut rows: Vec<(f64, Vec<f64>, f64)> = Vec::new();
        for (gold, text) in calib {
            let Some(raw) = self.raw(&normalise(text), &mut ex) else {
                continue;
            };
            if raw.n == 0 {
                continue;
            }
            let mut s: Vec<f64> = raw.scores.iter().map(|&x| f64::from(x)).collect();
            let g = s[*gold];
            s.sort_by(|a, b| b.total_cmp(a));
            s.truncate(32);
            rows.push((g, s, raw.n as f64));
        }
        if rows.is_empty() {
            return (1.0, 0.0);
        }
        let nll = |t0: f64, gamma: f64| -> f64 {
            let mut total = 0.0;
            for (g, s, n) in &rows {
                let t = t0 * n.powf(gamma);
                let m = s[0].max(*g);
                let z: f64 = s.iter().map(|x| ((x - m) / t).exp()).sum::<f64>();
                let z = if *g < *s.last().unwrap_or(&m) {
                    z + ((g - m) / t).exp()
                } else {
                    z
                };
                total += -((g - m) / t) + z.ln();
            }
            total / rows.len() as f64
        };
        // Grid: exponent in steps of 1/4, temperature in log space; then refine the temperature.
        let mut best = (f64::INFINITY, 1.0, 0.0);
        for k in 0..=4 {
            let gamma = f64::from(k) / 4.0;
            for i in 0..=120 {
                let t =
                    (0.001f64.ln() + (1000.0f64.ln() - 0.001f64.ln()) * f64::from(i) / 120.0).exp();
                let v = nll(t, gamma);
                if v < best.0 {
                    best = (v, t, gamma);
                }
            }
        }
        let (lo, hi, gamma) = (best.1 / 1.13, best.1 * 1.13, best.2);
        for i in 0..=40 {
            let t = lo + (hi - lo) * f64::from(i) / 40.0;
            let v = nll(t, gamma);
            if v < best.0 {
                best = (v, t, gamma);
            }
        }
        // Round so that the stored value is stable across float formatting.
        ((best.1 * 1e6).round() / 1e6, best.2)
    }

    /// Raw log-likelihood of normalised text under every language; `None` for no opinion.
    fn raw(&self, normalised: &str, ex: &mut Extractor) -> Option<Raw> {
        let mut acc = vec![0i32; self.langs.len()];
        let mut n = 0usize;
        let mut uni = 0usize;
        let mut uni_known = 0usize;
        ex.for_each(normalised, |key, order| {
            n += 1;
            let hit = self.index.get(&key);
            if order == 1 {
                uni += 1;
                if hit.is_some() {
                    uni_known += 1;
                }
            }
            match hit {
                Some(&i) if i & DENSE != 0 => {
                    let l = acc.len();
                    let r = (i & !DENSE) as usize * l;
                    for (a, &w) in acc.iter_mut().zip(&self.dense[r..r + l]) {
                        *a += i32::from(w);
                    }
                }
                Some(&i) => {
                    let (a, b) = (
                        self.starts[i as usize] as usize,
                        self.starts[i as usize + 1] as usize,
                    );
                    for (l, w) in self.post_lang[a..b].iter().zip(&self.post_w[a..b]) {
                        acc[*l as usize] += i32::from(*w);
                    }
                }
                None => {}
            }
        });
        if n == 0 || uni_known * 2 < uni {
            return None;
        }
        let nf = n as f32;
        let scores = acc
            .iter()
            .zip(self.floors.iter().zip(&self.priors))
            .zip(&self.bias)
            .map(|((&a, (&fl, &pr)), &b)| a as f32 * self.step + nf * fl + pr + b)
            .collect();
        Some(Raw { scores, n })
    }

    /// Why `text` gets no opinion, if it does.
    pub fn no_opinion(&self, text: &str) -> Option<NoOpinion> {
        let norm = normalise(text);
        if norm.is_empty() {
            return Some(NoOpinion::Empty);
        }
        let mut ex = Extractor::new();
        match self.raw(&norm, &mut ex) {
            None => Some(NoOpinion::UnseenScript),
            Some(_) => None,
        }
    }

    /// Ranked languages with calibrated probabilities, best first (ties by code). Over the label
    /// set in use the probabilities sum to 1; hypotheses under 1e-6 are left out. `restrict`
    /// limits the label set (codes the model lacks are ignored; see [`LidModel::check_labels`]).
    /// Empty for empty text or text in a script the model has not seen.
    pub fn identify(&self, text: &str, restrict: Option<&[String]>) -> Vec<LangScore> {
        let mut ex = Extractor::new();
        self.identify_with(text, restrict, &mut ex)
    }

    /// [`LidModel::identify`] with a reusable feature extractor (for loops).
    pub fn identify_with(
        &self,
        text: &str,
        restrict: Option<&[String]>,
        ex: &mut Extractor,
    ) -> Vec<LangScore> {
        let Some(raw) = self.raw(&normalise(text), ex) else {
            return Vec::new();
        };
        self.rank(&raw.scores, raw.n, restrict)
    }

    /// Raw per-language scores (log-likelihood plus biases, nats; indexed like
    /// [`LidModel::langs`]) of normalised text (see [`normalise`]) and its feature count; `None` for
    /// no opinion.
    pub(crate) fn raw_scores(
        &self,
        normalised: &str,
        ex: &mut Extractor,
    ) -> Option<(Vec<f32>, usize)> {
        self.raw(normalised, ex).map(|r| (r.scores, r.n))
    }

    /// Calibrated ranked hypotheses from raw scores of a text with `n` features (see
    /// [`LidModel::identify`]).
    pub(crate) fn rank(
        &self,
        scores: &[f32],
        n: usize,
        restrict: Option<&[String]>,
    ) -> Vec<LangScore> {
        let allowed: Vec<usize> = match restrict {
            Some(r) => self.label_indices(r),
            None => (0..self.langs.len()).collect(),
        };
        if allowed.is_empty() {
            return Vec::new();
        }
        let t = self.calibration_divisor(n);
        let m = allowed
            .iter()
            .map(|&i| f64::from(scores[i]))
            .fold(f64::NEG_INFINITY, f64::max);
        let mut z = 0.0;
        let mut probs: Vec<(usize, f64)> = Vec::with_capacity(allowed.len());
        for &i in &allowed {
            let x = (f64::from(scores[i]) - m) / t;
            // exp(-30) < 1e-13: such hypotheses add nothing visible to the normaliser.
            if x > -30.0 {
                let p = x.exp();
                z += p;
                probs.push((i, p));
            }
        }
        let mut out: Vec<LangScore> = probs
            .into_iter()
            .map(|(i, p)| (i, p / z))
            .filter(|&(_, p)| p >= 1e-6)
            .map(|(i, p)| LangScore {
                lang: self.langs[i].clone(),
                score: p,
            })
            .collect();
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.lang.cmp(&b.lang))
        });
        out
    }

    /// The best language only (fast path for evaluation and benchmarks): `None` for no opinion.
    pub fn best(
        &self,
        text: &str,
        restrict: Option<&[usize]>,
        ex: &mut Extractor,
    ) -> Option<usize> {
        let raw = self.raw(&normalise(text), ex)?;
        argmax(&raw.scores, restrict)
    }

    /// What raw scores of a text with `n` features are divided by before the softmax:
    /// `temperature * n^length_exponent` (the fitted calibration).
    pub(crate) fn calibration_divisor(&self, n: usize) -> f64 {
        self.meta.temperature * (n as f64).powf(self.meta.length_exponent)
    }

    /// Indices of label codes, sorted and without repeats; codes the model lacks are ignored.
    pub(crate) fn label_indices(&self, codes: &[String]) -> Vec<usize> {
        let mut v: Vec<usize> = codes
            .iter()
            .filter_map(|l| self.langs.binary_search(l).ok())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Replace the fitted temperature and length exponent (tests of calibrated-scale logic on
    /// toy models, whose fitted temperature sits at the grid's floor).
    #[cfg(test)]
    pub(crate) fn set_calibration_for_tests(&mut self, temperature: f64, length_exponent: f64) {
        self.meta.temperature = temperature;
        self.meta.length_exponent = length_exponent;
    }

    /// Indices of label codes, failing on a code the model does not know.
    pub fn check_labels(&self, labels: &[String]) -> Result<Vec<usize>> {
        let mut out = Vec::new();
        for l in labels {
            match self.langs.binary_search(l) {
                Ok(i) => out.push(i),
                Err(_) => return Err(LidError::UnknownLanguage(l.clone())),
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// The label set: ISO 639-3 codes, sorted.
    pub fn langs(&self) -> &[String] {
        &self.langs
    }

    /// Training metadata.
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// Stable identifier: model name and the first 16 hex digits of the model file's SHA-256.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Serialise to the binary model format.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut p = Vec::new();
        let meta = serde_json::to_vec(&self.meta)
            .map_err(|e| LidError::Config(format!("metadata does not serialise: {e}")))?;
        put_u32(&mut p, meta.len() as u32);
        p.extend_from_slice(&meta);
        put_u32(&mut p, self.langs.len() as u32);
        for ((l, f), b) in self.langs.iter().zip(&self.floors).zip(&self.bias) {
            p.push(l.len() as u8);
            p.extend_from_slice(l.as_bytes());
            p.extend_from_slice(&f.to_le_bytes());
            p.extend_from_slice(&b.to_le_bytes());
        }
        p.extend_from_slice(&self.step.to_le_bytes());
        put_u32(&mut p, self.keys.len() as u32);
        put_u32(&mut p, self.post_lang.len() as u32);
        for k in &self.keys {
            put_u32(&mut p, *k);
        }
        for w in self.starts.windows(2) {
            let n = w[1] - w[0];
            p.extend_from_slice(&(n as u16).to_le_bytes());
        }
        for l in &self.post_lang {
            p.extend_from_slice(&l.to_le_bytes());
        }
        for w in &self.post_w {
            p.extend_from_slice(&w.to_le_bytes());
        }
        let mut out = Vec::with_capacity(p.len() + 60);
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, FORMAT_VERSION);
        out.extend_from_slice(&(p.len() as u64).to_le_bytes());
        out.extend_from_slice(&p);
        let sum = sha2::Sha256::digest_bytes(&p);
        out.extend_from_slice(&sum);
        Ok(out)
    }

    /// Write the model file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| LidError::Io {
                path: dir.to_path_buf(),
                error,
            })?;
        }
        std::fs::write(path, bytes).map_err(|error| LidError::Io {
            path: path.to_path_buf(),
            error,
        })
    }

    /// Load a model file, checking magic, version, length and checksum.
    pub fn load(path: &Path) -> Result<LidModel> {
        let bytes = super::data::read_bytes(path)?;
        Self::from_bytes(&bytes, path)
    }

    /// Parse model bytes (`path` only names the source in errors).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<LidModel> {
        let corrupt = |reason: &str| LidError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        if bytes.len() < 20 || &bytes[..8] != MAGIC {
            return Err(corrupt("not a synthcorpus LID model (bad magic)"));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != FORMAT_VERSION {
            return Err(corrupt(&format!(
                "format version {version}, this build reads {FORMAT_VERSION} \
                 (retrain it with `synthcorpus lid train`, see lid/TRAINING.md)"
            )));
        }
        let mut len8 = [0u8; 8];
        len8.copy_from_slice(&bytes[12..20]);
        let len = u64::from_le_bytes(len8) as usize;
        if bytes.len() != 20usize.saturating_add(len).saturating_add(32) {
            return Err(corrupt(
                "truncated or trailing bytes (length field mismatch)",
            ));
        }
        let payload = &bytes[20..20 + len];
        if sha2::Sha256::digest_bytes(payload)[..] != bytes[20 + len..] {
            return Err(corrupt("checksum mismatch"));
        }
        let mut r = Reader {
            b: payload,
            pos: 0,
            path,
        };
        let meta_len = r.u32("metadata length")? as usize;
        let meta: ModelMeta = serde_json::from_slice(r.take(meta_len, "metadata")?)
            .map_err(|e| corrupt(&format!("metadata: {e}")))?;
        let n_langs = r.u32("language count")? as usize;
        let mut langs = Vec::with_capacity(n_langs);
        let mut floors = Vec::with_capacity(n_langs);
        let mut bias = Vec::with_capacity(n_langs);
        for _ in 0..n_langs {
            let l = r.take(1, "language code length")?[0] as usize;
            let code = std::str::from_utf8(r.take(l, "language code")?)
                .map_err(|_| corrupt("language code is not UTF-8"))?;
            langs.push(code.to_string());
            let floor = r.f32("language floor")?;
            let b = r.f32("language bias")?;
            if !floor.is_finite() || !b.is_finite() {
                return Err(corrupt("language floor or bias is not finite"));
            }
            floors.push(floor);
            bias.push(b);
        }
        if langs.windows(2).any(|w| w[0] >= w[1]) {
            return Err(corrupt("language codes not sorted"));
        }
        let step = r.f32("quantisation step")?;
        if !step.is_finite() || step <= 0.0 {
            return Err(corrupt("quantisation step is not a positive number"));
        }
        let n_keys = r.u32("feature count")? as usize;
        let n_post = r.u32("posting count")? as usize;
        // Keys (4 bytes), lengths (2) and postings (2 + 2) must fit in what is left.
        if n_keys
            .saturating_mul(6)
            .saturating_add(n_post.saturating_mul(4))
            != payload.len() - r.pos
        {
            return Err(corrupt(
                "feature and posting counts do not match the payload size",
            ));
        }
        let mut keys = Vec::with_capacity(n_keys);
        for _ in 0..n_keys {
            keys.push(r.u32("feature key")?);
        }
        if keys.windows(2).any(|w| w[0] >= w[1]) {
            return Err(corrupt("feature keys not sorted"));
        }
        let mut starts = Vec::with_capacity(n_keys + 1);
        starts.push(0u32);
        let mut total = 0u32;
        for _ in 0..n_keys {
            let b = r.take(2, "posting length")?;
            total = total.saturating_add(u32::from(u16::from_le_bytes([b[0], b[1]])));
            starts.push(total);
        }
        if total as usize != n_post {
            return Err(corrupt("posting lengths do not add up"));
        }
        let lb = r.take(n_post * 2, "posting languages")?;
        let post_lang: Vec<u16> = lb
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        if post_lang.iter().any(|&l| l as usize >= n_langs) {
            return Err(corrupt("posting names a language out of range"));
        }
        for w in starts.windows(2) {
            let ls = &post_lang[w[0] as usize..w[1] as usize];
            if ls.is_empty() || ls.windows(2).any(|p| p[0] >= p[1]) {
                return Err(corrupt(
                    "a posting list is empty or its languages are not sorted",
                ));
            }
        }
        let post_w: Vec<i16> = r
            .take(n_post * 2, "posting weights")?
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        if r.pos != payload.len() {
            return Err(corrupt("trailing bytes in payload"));
        }
        let name = meta.config.name.clone();
        let mut model = LidModel {
            meta,
            langs,
            floors,
            bias,
            priors: Vec::new(),
            step,
            keys,
            starts,
            post_lang,
            post_w,
            index: KeyMap::default(),
            dense: Vec::new(),
            id: format!("{name}@{}", &sha256_hex(bytes)[..16]),
        };
        model.build_index();
        Ok(model)
    }

    fn build_index(&mut self) {
        self.priors = self
            .langs
            .iter()
            .map(|l| {
                self.meta
                    .config
                    .boosts
                    .get(l)
                    .map_or(0.0, |b| b.log_prior as f32)
            })
            .collect();
        let mut index = KeyMap::with_capacity_and_hasher(self.keys.len(), Default::default());
        let l = self.langs.len();
        let mut dense = Vec::new();
        let mut rows = 0u32;
        for (i, k) in self.keys.iter().enumerate() {
            let (a, b) = (self.starts[i] as usize, self.starts[i + 1] as usize);
            if (b - a) * 24 >= l && b - a >= 16 {
                let start = dense.len();
                dense.resize(start + l, 0i16);
                for (lang, w) in self.post_lang[a..b].iter().zip(&self.post_w[a..b]) {
                    dense[start + *lang as usize] = *w;
                }
                index.insert(*k, DENSE | rows);
                rows += 1;
            } else {
                index.insert(*k, i as u32);
            }
        }
        self.index = index;
        self.dense = dense;
    }
}

impl LanguageIdentifier for LidModel {
    fn identify(&self, text: &str) -> Vec<LangScore> {
        LidModel::identify(self, text, None)
    }
    fn model_id(&self) -> String {
        self.id.clone()
    }
}

/// A model with a fixed restricted label set, as a [`LanguageIdentifier`] (e.g. Tshivenda against
/// its neighbours only).
#[derive(Debug, Clone)]
pub struct RestrictedLid {
    model: std::sync::Arc<LidModel>,
    labels: Vec<String>,
}

impl RestrictedLid {
    /// Restrict `model` to `labels`; fails on a code the model does not know.
    pub fn new(model: std::sync::Arc<LidModel>, labels: &[String]) -> Result<Self> {
        model.check_labels(labels)?;
        let mut labels = labels.to_vec();
        labels.sort();
        labels.dedup();
        Ok(Self { model, labels })
    }
}

impl LanguageIdentifier for RestrictedLid {
    fn identify(&self, text: &str) -> Vec<LangScore> {
        self.model.identify(text, Some(&self.labels))
    }
    fn model_id(&self) -> String {
        format!("{}[{}]", self.model.id(), self.labels.join(","))
    }
}

trait DigestBytes {
    fn digest_bytes(b: &[u8]) -> [u8; 32];
}

impl DigestBytes for sha2::Sha256 {
    fn digest_bytes(b: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        let d = sha2::Sha256::digest(b);
        let mut out = [0u8; 32];
        out.copy_from_slice(&d);
        out
    }
}

fn put_u32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        if self.pos.saturating_add(n) > self.b.len() {
            return Err(LidError::Corrupt {
                path: self.path.to_path_buf(),
                reason: format!("truncated at field `{field}`"),
            });
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u32(&mut self, field: &str) -> Result<u32> {
        let b = self.take(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn f32(&mut self, field: &str) -> Result<f32> {
        let b = self.take(4, field)?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

pub(crate) type Counts = BTreeMap<String, KeyMap<f64>>;

/// Count features per language over the lines (1-based numbers) that `skip` does not leave out.
pub(crate) fn count(
    cfg: &TrainConfig,
    inputs: &TrainInputs,
    skip: &(dyn Fn(usize) -> bool + Sync),
) -> (Counts, usize, Vec<SourceRecord>, Vec<SourceRecord>) {
    let mut counts: Counts = BTreeMap::new();
    let mut ex = Extractor::new();
    let mut sources = Vec::new();
    for f in &inputs.files {
        if cfg.exclude.contains(&f.lang) {
            continue;
        }
        let w = cfg.boosts.get(&f.lang).map_or(1.0, |b| b.text_weight);
        let map = counts.entry(f.lang.clone()).or_default();
        let mut units = 0;
        for (i, line) in f.lines.iter().enumerate() {
            let n = i + 1;
            if skip(n) {
                continue;
            }
            units += 1;
            ex.for_each(&normalise(line), |k, _| *map.entry(k).or_insert(0.0) += w);
        }
        sources.push(SourceRecord {
            file: f.name.clone(),
            lang: f.lang.clone(),
            sha256: f.sha256.clone(),
            units,
        });
    }
    let mut wl = Vec::new();
    for (lang, list) in &inputs.wordlists {
        let Some(b) = cfg.boosts.get(lang) else {
            continue;
        };
        if b.wordlist_weight <= 0.0 || cfg.exclude.contains(lang) {
            continue;
        }
        // The list's features are scaled so that together they weigh `wordlist_weight` times
        // the language's text: a list has no word frequencies, so it must not swamp the text.
        let mut raw: KeyMap<f64> = KeyMap::default();
        for word in &list.words {
            ex.for_each(&normalise(word), |k, _| *raw.entry(k).or_insert(0.0) += 1.0);
        }
        let map = counts.entry(lang.clone()).or_default();
        let text_total = sorted_sum(map.values().copied());
        let list_total = sorted_sum(raw.values().copied());
        if list_total <= 0.0 || text_total <= 0.0 {
            continue;
        }
        let scale = b.wordlist_weight * text_total / list_total;
        for (k, c) in raw {
            *map.entry(k).or_insert(0.0) += c * scale;
        }
        wl.push(SourceRecord {
            file: list.name.clone(),
            lang: lang.clone(),
            sha256: list.sha256.clone(),
            units: list.words.len(),
        });
    }
    counts.retain(|_, m| !m.is_empty());
    let mut all: Vec<u32> = counts.values().flat_map(|m| m.keys().copied()).collect();
    all.sort_unstable();
    all.dedup();
    (counts, all.len(), sources, wl)
}

/// Sum in a fixed order (sorted), so the result does not depend on hash-map iteration order.
fn sorted_sum(vals: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = vals.collect();
    v.sort_by(f64::total_cmp);
    v.iter().sum()
}

/// Tables of the lines `skip` does not leave out: naive Bayes, then discriminative fine-tuning
/// when configured; with the source records of the counted text.
fn fit_tables(
    cfg: &TrainConfig,
    inputs: &TrainInputs,
    skip: &(dyn Fn(usize) -> bool + Sync),
) -> Result<(Tables, Vec<SourceRecord>, Vec<SourceRecord>)> {
    let (counts, vocab, sources, wl) = count(cfg, inputs, skip);
    let mut tables = nb_tables(cfg, &counts, vocab)?;
    if cfg.tune.epochs > 0 {
        super::tune::fine_tune(cfg, inputs, skip, &mut tables)?;
    }
    Ok((tables, sources, wl))
}

/// Per-language log-probability tables before quantisation.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    /// Label set, sorted.
    pub langs: Vec<String>,
    /// Log-probability of a feature a language does not keep (nats).
    pub floors: Vec<f64>,
    /// Per-language additive score bias (nats; 0 for naive Bayes, learned by fine-tuning).
    pub bias: Vec<f64>,
    /// Feature key -> (language, log-probability above the language's floor), languages
    /// ascending. Entries may be negative after fine-tuning.
    pub rows: BTreeMap<u32, Vec<(u16, f64)>>,
    /// Distinct features seen in training.
    pub vocabulary: usize,
}

/// Naive Bayes tables from feature counts.
pub(crate) fn nb_tables(cfg: &TrainConfig, counts: &Counts, vocabulary: usize) -> Result<Tables> {
    if counts.len() > usize::from(u16::MAX) {
        return Err(LidError::Config("more than 65535 languages".into()));
    }
    let langs: Vec<String> = counts.keys().cloned().collect();
    let v = vocabulary.max(1) as f64;
    let mut floors = Vec::with_capacity(langs.len());
    let mut rows: BTreeMap<u32, Vec<(u16, f64)>> = BTreeMap::new();
    for (li, (lang, map)) in counts.iter().enumerate() {
        let total = sorted_sum(map.values().copied());
        let denom = total + cfg.alpha * v;
        let mut items: Vec<(u32, f64)> = map.iter().map(|(k, c)| (*k, *c)).collect();
        items.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let k = cfg.boosts.get(lang).map_or(cfg.top_k, |b| b.top_k);
        items.truncate(k);
        // Features pruned away share the remaining probability mass evenly, so that a language
        // keeping more features is not favoured: log P(unseen | lang) is the floor.
        let kept = sorted_sum(items.iter().map(|i| i.1));
        let rest = (v - items.len() as f64).max(1.0);
        let floor = ((total - kept).max(0.0) + cfg.alpha * rest).ln() - denom.ln() - rest.ln();
        floors.push(floor);
        for (key, c) in items {
            let lp = ((c + cfg.alpha) / denom).ln();
            // Features no more likely than the floor are left to it.
            if ((lp - floor) / cfg.quant_step).round() < 1.0 {
                continue;
            }
            rows.entry(key).or_default().push((li as u16, lp - floor));
        }
    }
    let bias = vec![0.0; langs.len()];
    Ok(Tables {
        langs,
        floors,
        bias,
        rows,
        vocabulary,
    })
}

/// Quantise tables into a model.
fn assemble(
    cfg: &TrainConfig,
    tables: &Tables,
    (temperature, length_exponent): (f64, f64),
    sources: Vec<SourceRecord>,
    wordlists: Vec<SourceRecord>,
) -> Result<LidModel> {
    let mut keys = Vec::with_capacity(tables.rows.len());
    let mut starts = vec![0u32];
    let mut post_lang = Vec::new();
    let mut post_w = Vec::new();
    for (k, ps) in &tables.rows {
        let before = post_lang.len();
        for &(l, x) in ps {
            let w = (x / cfg.quant_step).round().clamp(-32767.0, 32767.0);
            if w != 0.0 {
                post_lang.push(l);
                post_w.push(w as i16);
            }
        }
        if post_lang.len() > before {
            keys.push(*k);
            starts.push(post_lang.len() as u32);
        }
    }
    let meta = ModelMeta {
        config: cfg.clone(),
        sources,
        wordlists,
        temperature,
        length_exponent,
        vocabulary: tables.vocabulary,
    };
    let mut model = LidModel {
        meta,
        langs: tables.langs.clone(),
        floors: tables.floors.iter().map(|&f| f as f32).collect(),
        bias: tables.bias.iter().map(|&b| b as f32).collect(),
        priors: Vec::new(),
        step: cfg.quant_step as f32,
        keys,
        starts,
        post_lang,
        post_w,
        index: KeyMap::default(),
        dense: Vec::new(),
        id: String::new(),
    };
    model.build_index();
    // The id names the serialised bytes, as after a load.
    let bytes = model.to_bytes()?;
    model.id = format!("{}@{}", cfg.name, &sha256_hex(&bytes)[..16]);
    Ok(model)
}

/// Index of the highest score among `restrict` (all when `None`); the first on ties.
pub(crate) fn argmax(scores: &[f32], restrict: Option<&[usize]>) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    let mut consider = |i: usize| {
        if best.is_none_or(|(_, b)| scores[i] > b) {
            best = Some((i, scores[i]));
        }
    };
    match restrict {
        Some(r) => r.iter().for_each(|&i| consider(i)),
        None => (0..scores.len()).for_each(consider),
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> TrainInputs {
        let mk = |lang: &str, lines: &[&str]| CorpusFile {
            lang: lang.into(),
            name: format!("{lang}.txt"),
            sha256: "0".repeat(64),
            lines: lines.iter().map(|s| s.to_string()).collect(),
        };
        let ven = [
            "Vhathu vhoṱhe vha bebwa vho vhofholowa nahone vha eḓana",
            "Muthu muṅwe na muṅwe u na pfanelo ya u tshila",
            "A hu na muthu ane a ḓo farwa sa phuli",
            "Muthu muṅwe na muṅwe u na pfanelo ya mbofholowo",
            "Vhathu vhoṱhe vha a eḓana phanḓa ha mulayo",
            "Zwiṅwe zwa pfanelo dza vhathu zwi tshi khou tsireledzwa",
        ];
        let eng = [
            "All human beings are born free and equal in dignity",
            "Everyone has the right to life, liberty and security",
            "No one shall be held in slavery or servitude",
            "Everyone has the right to freedom of movement",
            "All are equal before the law and are entitled to protection",
            "Everyone has the right to own property alone",
        ];
        TrainInputs {
            files: vec![mk("eng", &eng), mk("ven", &ven)],
            wordlists: BTreeMap::new(),
        }
    }

    #[test]
    fn trains_identifies_and_calibrates() {
        let cfg = TrainConfig::default();
        let m = LidModel::train(&cfg, &toy()).unwrap();
        assert_eq!(m.langs(), &["eng".to_string(), "ven".to_string()]);
        let r = m.identify("vhathu vhoṱhe vha na pfanelo", None);
        assert_eq!(r[0].lang, "ven");
        let sum: f64 = r.iter().map(|s| s.score).sum();
        assert!((sum - 1.0).abs() < 1e-6);
        let r = m.identify("everyone has the right", None);
        assert_eq!(r[0].lang, "eng");
        // Restricted to one label: probability 1.
        let r = m.identify("everyone has the right", Some(&["ven".to_string()]));
        assert_eq!(r.len(), 1);
        assert!((r[0].score - 1.0).abs() < 1e-9);
        assert!(m.meta().temperature > 0.0);
    }

    #[test]
    fn no_opinion_on_empty_and_unseen_script() {
        let m = LidModel::train(&TrainConfig::default(), &toy()).unwrap();
        assert!(m.identify("", None).is_empty());
        assert!(m.identify("  123 !!! ", None).is_empty());
        assert_eq!(m.no_opinion("  "), Some(NoOpinion::Empty));
        assert!(m.identify("ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ", None).is_empty());
        assert_eq!(m.no_opinion("ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ"), Some(NoOpinion::UnseenScript));
    }

    #[test]
    fn round_trip_and_determinism() {
        let cfg = TrainConfig::default();
        let a = LidModel::train(&cfg, &toy()).unwrap();
        let b = LidModel::train(&cfg, &toy()).unwrap();
        let ba = a.to_bytes().unwrap();
        assert_eq!(ba, b.to_bytes().unwrap());
        let c = LidModel::from_bytes(&ba, Path::new("mem")).unwrap();
        assert_eq!(c.to_bytes().unwrap(), ba);
        assert_eq!(c.id(), a.id());
        assert_eq!(
            c.identify("muthu u na pfanelo", None),
            a.identify("muthu u na pfanelo", None)
        );
    }

    #[test]
    fn corrupt_models_are_rejected() {
        let a = LidModel::train(&TrainConfig::default(), &toy()).unwrap();
        let bytes = a.to_bytes().unwrap();
        let p = Path::new("x.bin");
        let mut flipped = bytes.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x40;
        let e = LidModel::from_bytes(&flipped, p).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
        let e = LidModel::from_bytes(&bytes[..bytes.len() - 5], p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.bin"), "{e}");
        let e = LidModel::from_bytes(b"hello world, not a model", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("magic"), "{e}");
        assert!(LidModel::from_bytes(&[], p).is_err());
        // Another format version (e.g. a version-1 file) is refused, by name.
        let mut v1 = bytes.clone();
        v1[8..12].copy_from_slice(&1u32.to_le_bytes());
        let e = LidModel::from_bytes(&v1, p).unwrap_err().to_string();
        assert!(e.contains("format version 1"), "{e}");
    }

    /// A payload with a valid checksum but inconsistent fields is still refused.
    #[test]
    fn inconsistent_payloads_are_rejected() {
        let a = LidModel::train(&TrainConfig::default(), &toy()).unwrap();
        let bytes = a.to_bytes().unwrap();
        let p = Path::new("x.bin");
        let reseal = |mut payload: Vec<u8>| -> Vec<u8> {
            let mut out = bytes[..12].to_vec();
            out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
            let sum = sha2::Sha256::digest_bytes(&payload);
            out.append(&mut payload);
            out.extend_from_slice(&sum);
            out
        };
        let payload = bytes[20..bytes.len() - 32].to_vec();
        // One trailing byte: the counts no longer match the size.
        let mut longer = payload.clone();
        longer.push(0);
        let e = LidModel::from_bytes(&reseal(longer), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("do not match"), "{e}");
        // A posting naming a language out of range (the last posting's language field).
        let mut bad = payload.clone();
        let n_post = a.post_lang.len();
        let at = bad.len() - n_post * 2 - 2;
        bad[at..at + 2].copy_from_slice(&u16::MAX.to_le_bytes());
        let e = LidModel::from_bytes(&reseal(bad), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("out of range"), "{e}");
        // The untouched payload resealed loads.
        assert!(LidModel::from_bytes(&reseal(payload), p).is_ok());
    }

    #[test]
    fn fine_tuning_is_deterministic_and_keeps_the_toy_right() {
        let mut cfg = TrainConfig::default();
        cfg.tune.epochs = 3;
        cfg.tune.folds = 2;
        cfg.tune.bias_rate = 0.1;
        let a = LidModel::train(&cfg, &toy()).unwrap();
        let b = LidModel::train(&cfg, &toy()).unwrap();
        assert_eq!(a.to_bytes().unwrap(), b.to_bytes().unwrap());
        assert_eq!(a.meta().config.tune, cfg.tune);
        assert_eq!(
            a.identify("vhathu vhoṱhe vha na pfanelo", None)[0].lang,
            "ven"
        );
        assert_eq!(a.identify("everyone has the right", None)[0].lang, "eng");
        let c = LidModel::from_bytes(&a.to_bytes().unwrap(), Path::new("mem")).unwrap();
        assert_eq!(c.bias, a.bias);
        assert_eq!(c.post_w, a.post_w);
    }

    #[test]
    fn unknown_restrict_label_is_an_error() {
        let m = LidModel::train(&TrainConfig::default(), &toy()).unwrap();
        assert!(m.check_labels(&["xyz".to_string()]).is_err());
        assert_eq!(m.check_labels(&["ven".to_string()]).unwrap(), vec![1]);
    }
}
