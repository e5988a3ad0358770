//! The runner: samples, the stage traits, statistics, and [`Curator`], which runs every stage in
//! order over chunks of input and writes the outputs.
//!
//! One small trait per kind of stage: a [`Normalizer`] rewrites a sample's text, an [`Annotator`]
//! writes scores under `annotations.<stage>`, a [`Filter`] reads them and keeps or drops the sample
//! with a reason code, a [`Deduplicator`] computes a key per sample (in parallel) and then checks
//! it against everything seen before (in input order). A sample dropped by one stage is not seen
//! by later ones; [`StageStats`] count seen, kept and dropped-by-reason per stage.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::dedup::{ExactIndex, LshIndex, Match, MinHasher, ShingleUnit};
use super::hash::{hash64, key128};
use super::input::{self, detect_format, io_err, parse_line, InputFormat, LineReader, RawLine};
use super::leak::{LeakConfig, LeakIndex};
use super::normalize::{
    normalize_cow, normalize_text, strip_prompt_echo, trim_to_sentence, NormalizeConfig, TrimMode,
};
use super::profiles::{resolve_profile, Profile};
use super::quality::{QualityAnnotator, QualityCheck, QualityFilter};
use super::{CurateConfig, CurateError, IdBuild, OnMalformed};
use crate::types::{Document, LanguageIdentifier};

/// Stage names, in the order they run.
pub const STAGES: [&str; 7] = [
    "read",
    "normalize",
    "exact_dedup",
    "quality",
    "lid",
    "leak",
    "near_dedup",
];
const READ: usize = 0;
const NORMALIZE: usize = 1;
const EXACT: usize = 2;
const QUALITY: usize = 3;
const LID: usize = 4;
const LEAK: usize = 5;
const NEAR: usize = 6;

/// Lines read and processed together (memory is bounded by this, plus the indexes).
pub const CHUNK_LINES: usize = 8192;

pub use super::scoremap::AnnotationKey;
use super::scoremap::ScoreMap;

/// One stage's scores, by name.
pub type Scores = ScoreMap<Value>;

/// The name as a borrowed [`AnnotationKey`]: each distinct name is stored once for the life of
/// the process (for names made at run time, like `dup_5_gram_frac`, whose number is bounded by
/// the configuration), so that the samples' maps can share it.
pub fn annotation_key(name: &str) -> AnnotationKey {
    static NAMES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(&n) = names.get(name) {
        return Cow::Borrowed(n);
    }
    let n: &'static str = Box::leak(name.into());
    names.insert(n);
    Cow::Borrowed(n)
}

/// Why a sample was dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reject {
    /// The stage that dropped it.
    pub stage: String,
    /// Reason code, e.g. `exact_duplicate`, `too_short`, `top_2_gram`.
    pub reason: String,
    /// Human-readable detail (values and thresholds).
    pub detail: String,
    /// For duplicates: the id of the earlier sample or seed document it duplicates.
    pub duplicate_of: Option<String>,
}

impl Reject {
    /// A rejection without a duplicate reference.
    pub fn new(stage: &str, reason: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            stage: stage.to_string(),
            reason: reason.into(),
            detail: detail.into(),
            duplicate_of: None,
        }
    }
}

/// One sample in curation.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The record id (given, or content-derived).
    pub id: String,
    /// Whether the id was derived from the content (the record had none).
    pub id_generated: bool,
    /// The input record's fields, untouched but for the text field, whose string may have been
    /// moved out into `original_text` (an empty string left in its place; the output writes
    /// `text` there). Plain text: just the text field.
    pub record: Map<String, Value>,
    /// The text as read, when normalisation changed it (`None`: [`Sample::text`] is the text
    /// as read; see [`Sample::original`]).
    pub original_text: Option<String>,
    /// The text after normalisation (what later stages see and what is written); before it,
    /// the text as read.
    pub text: String,
    /// Input file.
    pub file: Arc<str>,
    /// 1-based line in the input file.
    pub line: usize,
    /// Scores, per stage.
    pub annotations: ScoreMap<Scores>,
    /// Set when a stage dropped the sample.
    pub reject: Option<Reject>,
    /// For lines that are not valid records: the line as read.
    pub raw_line: Option<String>,
}

impl Sample {
    /// A sample from a record; its text starts as `text` (normalised later).
    pub fn new(
        id: String,
        record: Map<String, Value>,
        text: String,
        file: Arc<str>,
        line: usize,
    ) -> Self {
        Self {
            id,
            id_generated: false,
            record,
            original_text: None,
            text,
            file,
            line,
            annotations: ScoreMap::new(),
            reject: None,
            raw_line: None,
        }
    }

    /// A plain-text sample (no other fields), with a content-derived id.
    pub fn from_text(text: &str, file: &str, line: usize) -> Self {
        let mut record = Map::new();
        record.insert("text".into(), Value::String(text.to_string()));
        let mut s = Self::new(
            content_id(text),
            record,
            text.to_string(),
            file.into(),
            line,
        );
        s.id_generated = true;
        s
    }

    /// The text as read.
    pub fn original(&self) -> &str {
        self.original_text.as_deref().unwrap_or(&self.text)
    }

    /// Whether no stage dropped it.
    pub fn is_kept(&self) -> bool {
        self.reject.is_none()
    }

    /// Write a score.
    pub fn annotate(
        &mut self,
        stage: &'static str,
        key: impl Into<AnnotationKey>,
        value: impl Into<Value>,
    ) {
        self.annotations
            .get_or_default(Cow::Borrowed(stage))
            .insert(key.into(), value.into());
    }

    /// Read a numeric score.
    pub fn score(&self, stage: &str, key: &str) -> Option<f64> {
        self.annotations.get(stage)?.get(key)?.as_f64()
    }

    /// The output record: input fields in their order (text normalised; an `id` first when it
    /// was derived), then `annotations` and `curation`.
    pub fn to_json(&self, cfg: &CurateConfig) -> Value {
        let mut curation = Map::new();
        curation.insert(
            "verdict".into(),
            Value::String(if self.is_kept() { "kept" } else { "rejected" }.into()),
        );
        if let Some(r) = &self.reject {
            curation.insert("stage".into(), Value::String(r.stage.clone()));
            curation.insert("reason".into(), Value::String(r.reason.clone()));
            curation.insert("detail".into(), Value::String(r.detail.clone()));
            if let Some(d) = &r.duplicate_of {
                curation.insert("duplicate_of".into(), Value::String(d.clone()));
            }
        }
        let mut source = Map::new();
        source.insert("file".into(), Value::String(self.file.to_string()));
        source.insert("line".into(), self.line.into());
        curation.insert("source".into(), Value::Object(source));
        let mut out = Map::new();
        if let Some(raw) = &self.raw_line {
            curation.insert("raw_line".into(), Value::String(raw.clone()));
            out.insert("curation".into(), Value::Object(curation));
            return Value::Object(out);
        }
        if self.id_generated {
            curation.insert("id_generated".into(), Value::Bool(true));
            out.insert(cfg.id_field.clone(), Value::String(self.id.clone()));
        }
        if let Some(original) = &self.original_text {
            curation.insert("original_text".into(), Value::String(original.clone()));
        }
        for (k, v) in &self.record {
            if k == "annotations" || k == "curation" || (self.id_generated && *k == cfg.id_field) {
                continue;
            }
            if *k == cfg.text_field {
                out.insert(k.clone(), Value::String(self.text.clone()));
            } else {
                out.insert(k.clone(), v.clone());
            }
        }
        let ann: Map<String, Value> = self
            .annotations
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Value::Object(v.iter().map(|(a, b)| (a.to_string(), b.clone())).collect()),
                )
            })
            .collect();
        out.insert("annotations".into(), Value::Object(ann));
        out.insert("curation".into(), Value::Object(curation));
        Value::Object(out)
    }
}

impl Sample {
    /// Append the output record ([`Sample::to_json`]) to `out` as compact JSON, byte for byte the
    /// same as `serde_json::to_string(&sample.to_json(cfg))`, without building it first.
    pub fn write_json(&self, cfg: &CurateConfig, out: &mut Vec<u8>) -> serde_json::Result<()> {
        if self.id_generated && (cfg.id_field == "annotations" || cfg.id_field == "curation") {
            // The derived id takes the place of a key written later: let the map sort it out.
            return serde_json::to_writer(out, &self.to_json(cfg));
        }
        serde_json::to_writer(out, &OutRecord { s: self, cfg })
    }
}

/// [`Sample::to_json`] as a serialisation of borrowed parts.
struct OutRecord<'a> {
    s: &'a Sample,
    cfg: &'a CurateConfig,
}

impl Serialize for OutRecord<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (s, cfg) = (self.s, self.cfg);
        let mut m = ser.serialize_map(None)?;
        if s.raw_line.is_none() {
            if s.id_generated {
                m.serialize_entry(&cfg.id_field, &s.id)?;
            }
            for (k, v) in &s.record {
                if k == "annotations" || k == "curation" || (s.id_generated && *k == cfg.id_field) {
                    continue;
                }
                if *k == cfg.text_field {
                    m.serialize_entry(k, &s.text)?;
                } else {
                    m.serialize_entry(k, v)?;
                }
            }
            m.serialize_entry("annotations", &s.annotations)?;
        }
        m.serialize_entry("curation", &OutCuration(s))?;
        m.end()
    }
}

/// The `curation` object of [`Sample::to_json`].
struct OutCuration<'a>(&'a Sample);

impl Serialize for OutCuration<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Source<'a>(&'a Sample);
        impl Serialize for Source<'_> {
            fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
                let mut m = ser.serialize_map(None)?;
                m.serialize_entry("file", &*self.0.file)?;
                m.serialize_entry("line", &(self.0.line as u64))?;
                m.end()
            }
        }
        let s = self.0;
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("verdict", if s.is_kept() { "kept" } else { "rejected" })?;
        if let Some(r) = &s.reject {
            m.serialize_entry("stage", &r.stage)?;
            m.serialize_entry("reason", &r.reason)?;
            m.serialize_entry("detail", &r.detail)?;
            if let Some(d) = &r.duplicate_of {
                m.serialize_entry("duplicate_of", d)?;
            }
        }
        m.serialize_entry("source", &Source(s))?;
        if let Some(raw) = &s.raw_line {
            m.serialize_entry("raw_line", raw)?;
            return m.end();
        }
        if s.id_generated {
            m.serialize_entry("id_generated", &true)?;
        }
        if let Some(original) = &s.original_text {
            m.serialize_entry("original_text", original)?;
        }
        m.end()
    }
}

/// Serialised output lines of a run of samples: the kept ones, then the rejected ones.
type OutputRun = (Vec<u8>, Vec<u8>);

/// Write output runs in order; the error says which file (true: the kept one).
fn write_parts(
    parts: &[OutputRun],
    kept: &mut impl Write,
    rejected: &mut impl Write,
) -> Result<(), (bool, std::io::Error)> {
    for (k, r) in parts {
        kept.write_all(k).map_err(|e| (true, e))?;
        rejected.write_all(r).map_err(|e| (false, e))?;
    }
    Ok(())
}

/// The content-derived id of a text: `sha256:` and the first 16 hex digits of its sha256.
pub fn content_id(text: &str) -> String {
    let d = Sha256::digest(text.as_bytes());
    let hex: String = d.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Makes content-derived ids unique in input order: repeats get `-2`, `-3`, ...
#[derive(Debug, Default)]
pub struct IdAssigner {
    seen: HashMap<u64, u32, IdBuild>,
}

impl IdAssigner {
    /// Give `s` its final id when it was content-derived.
    pub fn assign(&mut self, s: &mut Sample) {
        if !s.id_generated {
            return;
        }
        let n = self.seen.entry(hash64(s.id.as_bytes(), 0)).or_insert(0);
        *n += 1;
        if *n > 1 {
            s.id = format!("{}-{}", s.id, n);
        }
    }
}

/// Rewrites a sample's text; may drop it.
pub trait Normalizer: Send + Sync {
    /// Stage name.
    fn name(&self) -> &'static str;
    /// Normalise `sample.text` (from `sample.original_text`); `Some` drops the sample.
    fn normalize(&self, sample: &mut Sample) -> Option<Reject>;
}

/// Writes scores under `annotations.<name>`.
pub trait Annotator: Send + Sync {
    /// Stage name (the annotation key).
    fn name(&self) -> &'static str;
    /// Compute and write the scores.
    fn annotate(&self, sample: &mut Sample);
}

/// Reads scores and keeps (`None`) or drops a sample.
pub trait Filter: Send + Sync {
    /// Filter name.
    fn name(&self) -> &'static str;
    /// The verdict.
    fn check(&self, sample: &Sample) -> Option<Reject>;
}

/// A stateful duplicate check: keys in parallel, decisions in input order.
pub trait Deduplicator: Send + Sync {
    /// What is compared.
    type Key: Send;
    /// Stage name.
    fn name(&self) -> &'static str;
    /// The sample's key (may annotate nothing; runs in parallel).
    fn key(&self, sample: &Sample) -> Self::Key;
    /// Compare with everything indexed before, then index the sample.
    fn check_insert(&mut self, sample: &mut Sample, key: Self::Key) -> Option<Reject>;
    /// [`Deduplicator::check_insert`] for each sample with a key, in order, setting
    /// `Sample::reject` (an implementation may do it in parallel with the same outcome).
    fn check_insert_all(&mut self, samples: &mut [Sample], keys: Vec<Option<Self::Key>>) {
        for (s, k) in samples.iter_mut().zip(keys) {
            if let Some(k) = k {
                if let Some(r) = self.check_insert(s, k) {
                    s.reject = Some(r);
                }
            }
        }
    }
}

/// Counts of one stage; mergeable across chunks, files or runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StageStats {
    /// Samples that reached the stage.
    pub seen: u64,
    /// Samples it kept.
    pub kept: u64,
    /// Samples it dropped, by reason code.
    pub dropped: BTreeMap<String, u64>,
    /// Wall-clock seconds spent in it.
    pub seconds: f64,
}

impl StageStats {
    /// Add another's counts and time to these.
    pub fn merge(&mut self, other: &StageStats) {
        self.seen += other.seen;
        self.kept += other.kept;
        for (k, v) in &other.dropped {
            *self.dropped.entry(k.clone()).or_insert(0) += v;
        }
        self.seconds += other.seconds;
    }

    /// Samples dropped, all reasons.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

/// One stage in `curate.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    /// Stage name.
    pub stage: String,
    /// `ran`, `skipped` (cannot run: no identifier, no seeds) or `disabled` (by configuration).
    pub status: String,
    /// Why it was skipped or disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The counts.
    #[serde(flatten)]
    pub stats: StageStats,
}

/// One input in `curate.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputReport {
    /// The path as given.
    pub file: String,
    /// `jsonl` or `text`.
    pub format: InputFormat,
    /// Non-blank lines (records, valid or not).
    pub records: u64,
    /// Blank lines skipped.
    pub blank_lines: u64,
    /// Lines that were not valid records.
    pub malformed: u64,
}

/// The effective near-dedup parameters and threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearDedupReport {
    /// Shingle unit.
    pub unit: ShingleUnit,
    /// Units per shingle.
    pub ngram: usize,
    /// Hash functions (`bands * rows`).
    pub num_hashes: usize,
    /// Bands.
    pub bands: usize,
    /// Rows per band.
    pub rows: usize,
    /// Permutation seed.
    pub seed: u64,
    /// `(1/bands)^(1/rows)`: the Jaccard similarity caught with probability about 1/2.
    pub threshold: f64,
    /// Probability that a pair is caught at Jaccard 0.5, 0.7, 0.8, 0.9.
    pub catch_probability: BTreeMap<String, f64>,
}

/// The seeds curation compared against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedReport {
    /// Seed documents.
    pub documents: usize,
    /// Documents per corpus id.
    pub corpora: BTreeMap<String, usize>,
    /// Distinct word n-grams in the leak index.
    pub leak_ngrams: usize,
}

/// The profile in use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileReport {
    /// Language of the profile.
    pub lang: String,
    /// Language name.
    pub name: String,
    /// Where its thresholds come from.
    pub source: String,
    /// The full profile.
    pub values: Profile,
}

/// Totals over all stages.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Input records (non-blank lines).
    pub records: u64,
    /// Kept.
    pub kept: u64,
    /// Rejected.
    pub rejected: u64,
}

/// `curate.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurateReport {
    /// Tool and version.
    pub tool: String,
    /// Target language.
    pub lang: String,
    /// Inputs.
    pub inputs: Vec<InputReport>,
    /// Totals.
    pub totals: Totals,
    /// Per-stage statistics, in order.
    pub stages: Vec<StageReport>,
    /// The profile.
    pub profile: ProfileReport,
    /// Near-dedup parameters.
    pub near_dedup: NearDedupReport,
    /// Seeds.
    pub seeds: SeedReport,
    /// The language identifier's model id, when one was given.
    pub lid_model: Option<String>,
    /// Warnings (profile for another language, malformed lines...).
    pub warnings: Vec<String>,
    /// The effective configuration.
    pub config: CurateConfig,
}

struct StandardNormalizer {
    cfg: NormalizeConfig,
    prompt_field: String,
    finish_field: String,
}

impl Normalizer for StandardNormalizer {
    fn name(&self) -> &'static str {
        STAGES[NORMALIZE]
    }

    fn normalize(&self, s: &mut Sample) -> Option<Reject> {
        let stage = STAGES[NORMALIZE];
        // Always from the text as read (normalising twice gives the same result).
        let original = match s.original_text.take() {
            Some(o) => o,
            None => std::mem::take(&mut s.text),
        };
        let mut t: Cow<'_, str> = normalize_cow(&original, &self.cfg);
        if self.cfg.strip_prompt_echo {
            if let Some(p) = input::prompt_of(&s.record, &self.prompt_field) {
                if let Some(rest) =
                    strip_prompt_echo(&t, &p, self.cfg.min_echo_graphemes, &self.cfg)
                {
                    t = Cow::Owned(rest);
                    s.annotate(stage, "prompt_echo_removed", true);
                }
            }
        }
        let trim = match self.cfg.trim_incomplete {
            TrimMode::Always => true,
            TrimMode::Never => false,
            TrimMode::Auto => input::str_field(&s.record, &self.finish_field) == Some("length"),
        };
        let mut reject = None;
        if trim && !t.is_empty() {
            match trim_to_sentence(&t) {
                Ok(None) => {}
                Ok(Some(x)) => {
                    t = Cow::Owned(x);
                    s.annotate(stage, "trimmed_to_sentence", true);
                }
                Err(()) => {
                    reject = Some(Reject::new(
                        stage,
                        "no_complete_sentence",
                        "cut at the token limit and holds no complete sentence",
                    ));
                }
            }
        }
        let changed = *t != *original;
        if reject.is_none() {
            s.annotate(stage, "changed", changed);
        }
        if changed {
            s.text = t.into_owned();
            s.original_text = Some(original);
        } else {
            drop(t);
            s.text = original;
        }
        if reject.is_none() && s.text.is_empty() {
            reject = Some(Reject::new(
                stage,
                "empty",
                "nothing left after normalisation",
            ));
        }
        reject
    }
}

struct ExactDedup {
    index: ExactIndex,
}

impl Deduplicator for ExactDedup {
    type Key = u128;
    fn name(&self) -> &'static str {
        STAGES[EXACT]
    }
    fn key(&self, s: &Sample) -> u128 {
        key128(&s.text)
    }
    fn check_insert(&mut self, s: &mut Sample, key: u128) -> Option<Reject> {
        let m = self.index.check_insert(&s.id, key)?;
        let (reason, what) = if m.seed {
            ("exact_duplicate_of_seed", "seed document")
        } else {
            ("exact_duplicate", "earlier sample")
        };
        Some(Reject {
            stage: STAGES[EXACT].into(),
            reason: reason.into(),
            detail: format!("same normalised text as {what} {}", m.id),
            duplicate_of: Some(m.id),
        })
    }
}

struct NearDedup {
    hasher: MinHasher,
    index: LshIndex,
    bands: usize,
    threshold: f64,
}

impl Deduplicator for NearDedup {
    type Key = Vec<u64>;
    fn name(&self) -> &'static str {
        STAGES[NEAR]
    }
    fn key(&self, s: &Sample) -> Vec<u64> {
        self.hasher.band_keys(&self.hasher.signature(&s.text))
    }
    fn check_insert(&mut self, s: &mut Sample, key: Vec<u64>) -> Option<Reject> {
        let m = self.index.check_insert(&s.id, &key)?;
        Some(self.reject(s, m))
    }
    fn check_insert_all(&mut self, samples: &mut [Sample], keys: Vec<Option<Vec<u64>>>) {
        let (batch, at): (Vec<(&str, &[u64])>, Vec<usize>) = samples
            .iter()
            .zip(&keys)
            .enumerate()
            .filter_map(|(i, (s, k))| Some(((s.id.as_str(), k.as_deref()?), i)))
            .unzip();
        let found = self.index.check_insert_batch(&batch);
        for (m, i) in found.into_iter().zip(at) {
            if let Some(m) = m {
                let r = self.reject(&mut samples[i], m);
                samples[i].reject = Some(r);
            }
        }
    }
}

impl NearDedup {
    /// The rejection of a sample that matched `m` (annotating the bands matched).
    fn reject(&self, s: &mut Sample, m: Match) -> Reject {
        s.annotate(STAGES[NEAR], "bands_matched", m.bands);
        let (reason, what) = if m.seed {
            ("near_duplicate_of_seed", "seed document")
        } else {
            ("near_duplicate", "earlier sample")
        };
        Reject {
            stage: STAGES[NEAR].into(),
            reason: reason.into(),
            detail: format!(
                "shares {} of {} MinHash bands with {what} {} (Jaccard threshold about {:.3})",
                m.bands, self.bands, m.id, self.threshold
            ),
            duplicate_of: Some(m.id),
        }
    }
}

/// Writes `annotations.lid`: the top language, its score, and the target's score.
pub struct LidAnnotator {
    /// The identifier.
    pub lid: Arc<dyn LanguageIdentifier>,
    /// Target language.
    pub target: String,
}

impl Annotator for LidAnnotator {
    fn name(&self) -> &'static str {
        STAGES[LID]
    }
    fn annotate(&self, s: &mut Sample) {
        let scores = self.lid.identify(&s.text);
        let stage = STAGES[LID];
        if let Some(top) = scores.first() {
            s.annotate(stage, "lang", top.lang.clone());
            s.annotate(stage, "score", (top.score * 1e6).round() / 1e6);
        }
        let target = scores
            .iter()
            .find(|l| l.lang == self.target)
            .map_or(0.0, |l| l.score);
        s.annotate(stage, "target_score", (target * 1e6).round() / 1e6);
    }
}

/// Keeps samples whose top language is the target with at least `min_score`.
pub struct LidFilter {
    /// Target language.
    pub target: String,
    /// Lowest score.
    pub min_score: f64,
}

impl Filter for LidFilter {
    fn name(&self) -> &'static str {
        STAGES[LID]
    }
    fn check(&self, s: &Sample) -> Option<Reject> {
        let stage = STAGES[LID];
        let lang = s
            .annotations
            .get(stage)
            .and_then(|a| a.get("lang"))
            .and_then(Value::as_str);
        let score = s.score(stage, "score").unwrap_or(0.0);
        match lang {
            None => Some(Reject::new(
                stage,
                "lid_no_opinion",
                "the identifier gave no language",
            )),
            Some(l) if l != self.target => Some(Reject::new(
                stage,
                "lid_wrong_language",
                format!("identified as {l} ({score}), target {}", self.target),
            )),
            Some(_) if score < self.min_score => Some(Reject::new(
                stage,
                "lid_low_score",
                format!("{} score {score}; minimum {}", self.target, self.min_score),
            )),
            Some(_) => None,
        }
    }
}

/// Writes `annotations.leak`: longest verbatim span shared with the seeds and n-gram share.
pub struct LeakAnnotator {
    /// The seed n-gram index.
    pub index: Arc<LeakIndex>,
}

impl Annotator for LeakAnnotator {
    fn name(&self) -> &'static str {
        STAGES[LEAK]
    }
    fn annotate(&self, s: &mut Sample) {
        let m = self.index.measure(&s.text);
        let stage = STAGES[LEAK];
        s.annotate(stage, "longest_span_words", m.longest_span_words);
        s.annotate(stage, "ngram_share", (m.ngram_share * 1e6).round() / 1e6);
        s.annotate(stage, "shared_ngrams", m.shared_ngrams);
        s.annotate(stage, "ngrams", m.ngrams);
    }
}

/// Drops samples over the leak thresholds.
pub struct LeakFilter {
    /// Thresholds.
    pub cfg: LeakConfig,
}

impl Filter for LeakFilter {
    fn name(&self) -> &'static str {
        STAGES[LEAK]
    }
    fn check(&self, s: &Sample) -> Option<Reject> {
        let stage = STAGES[LEAK];
        let span = s.score(stage, "longest_span_words").unwrap_or(0.0) as usize;
        let share = s.score(stage, "ngram_share").unwrap_or(0.0);
        if span > self.cfg.max_span_words {
            return Some(Reject::new(
                stage,
                "leak_span",
                format!(
                    "shares a {span}-word span verbatim with the seeds; maximum {}",
                    self.cfg.max_span_words
                ),
            ));
        }
        if share > self.cfg.max_ngram_share {
            return Some(Reject::new(
                stage,
                "leak_ngram_share",
                format!(
                    "{share} of its {}-word n-grams are in the seeds; maximum {}",
                    self.cfg.ngram, self.cfg.max_ngram_share
                ),
            ));
        }
        None
    }
}

/// The curation pipeline with its indexes and statistics.
pub struct Curator {
    cfg: CurateConfig,
    profile: Arc<Profile>,
    normalizer: Box<dyn Normalizer>,
    exact: Option<ExactDedup>,
    quality: Option<(QualityAnnotator, Vec<QualityFilter>)>,
    lid: Option<(LidAnnotator, LidFilter)>,
    leak: Option<(LeakAnnotator, LeakFilter)>,
    near: Option<NearDedup>,
    stages: Vec<StageReport>,
    seeds: SeedReport,
    lid_model: Option<String>,
    warnings: Vec<String>,
    inputs: Vec<InputReport>,
    malformed_messages: Vec<String>,
}

fn stage_report(i: usize, status: &str, note: Option<&str>) -> StageReport {
    StageReport {
        stage: STAGES[i].into(),
        status: status.into(),
        note: note.map(str::to_string),
        stats: StageStats::default(),
    }
}

impl Curator {
    /// Set up the pipeline: resolve the profile, index the seeds (exact keys, MinHash bands,
    /// leak n-grams), and plug in the language identifier (`None`: the `lid` stage is reported
    /// as skipped).
    pub fn new(
        cfg: CurateConfig,
        seeds: &[Document],
        lid: Option<Arc<dyn LanguageIdentifier>>,
    ) -> Result<Self, CurateError> {
        cfg.validate("configuration")?;
        let (profile, warning) = resolve_profile(&cfg.lang, cfg.profile.as_deref())?;
        let profile = Arc::new(profile);
        let mut warnings: Vec<String> = warning.into_iter().collect();
        let mut stages: Vec<StageReport> = (0..STAGES.len())
            .map(|i| stage_report(i, "ran", None))
            .collect();

        let normalizer = Box::new(StandardNormalizer {
            cfg: cfg.normalize.clone(),
            prompt_field: cfg.prompt_field.clone(),
            finish_field: cfg.finish_reason_field.clone(),
        });

        // Seeds, normalised the same way as samples.
        let seed_texts: Vec<String> = seeds
            .par_iter()
            .map(|d| normalize_text(&d.text, &cfg.normalize))
            .collect();
        let mut corpora = BTreeMap::new();
        for d in seeds {
            *corpora.entry(d.corpus.clone()).or_insert(0) += 1;
        }

        let exact = if cfg.exact_dedup.enabled {
            let mut index = ExactIndex::new();
            if cfg.exact_dedup.against_seeds {
                for (d, t) in seeds.iter().zip(&seed_texts) {
                    index.add_seed(&d.id, t);
                }
            }
            Some(ExactDedup { index })
        } else {
            stages[EXACT] = stage_report(EXACT, "disabled", Some("exact_dedup.enabled = false"));
            None
        };

        let quality = if cfg.quality.enabled {
            let filters = QualityCheck::ALL
                .into_iter()
                .filter(|c| !cfg.quality.skip.iter().any(|s| s == c.name()))
                .map(|c| QualityFilter::new(c, profile.clone()))
                .collect();
            if !cfg.quality.skip.is_empty() {
                stages[QUALITY].note =
                    Some(format!("skipped filters: {}", cfg.quality.skip.join(", ")));
            }
            Some((QualityAnnotator::new(profile.clone()), filters))
        } else {
            stages[QUALITY] = stage_report(QUALITY, "disabled", Some("quality.enabled = false"));
            None
        };

        let lid_model = lid.as_ref().map(|l| l.model_id());
        let lid = match (lid, cfg.lid.enabled) {
            (Some(l), true) => Some((
                LidAnnotator {
                    lid: l,
                    target: cfg.lang.clone(),
                },
                LidFilter {
                    target: cfg.lang.clone(),
                    min_score: cfg.lid.min_score.unwrap_or(profile.lid.min_score),
                },
            )),
            (_, false) => {
                stages[LID] = stage_report(LID, "disabled", Some("lid.enabled = false"));
                None
            }
            (None, true) => {
                stages[LID] =
                    stage_report(LID, "skipped", Some("no language identifier was given"));
                warnings.push("lid: skipped, no language identifier was given".into());
                None
            }
        };

        let leak_index = if cfg.leak.enabled && !seeds.is_empty() {
            Some(Arc::new(LeakIndex::build(seeds, cfg.leak.ngram)))
        } else {
            None
        };
        let leak_ngrams = leak_index.as_ref().map_or(0, |i| i.len());
        let leak = match leak_index {
            Some(index) => Some((
                LeakAnnotator { index },
                LeakFilter {
                    cfg: cfg.leak.clone(),
                },
            )),
            None if !cfg.leak.enabled => {
                stages[LEAK] = stage_report(LEAK, "disabled", Some("leak.enabled = false"));
                None
            }
            None => {
                stages[LEAK] = stage_report(LEAK, "skipped", Some("no seed documents were given"));
                warnings.push("leak: skipped, no seed documents were given".into());
                None
            }
        };

        let near = if cfg.near_dedup.enabled {
            let hasher = MinHasher::new(&cfg.near_dedup);
            let mut index = LshIndex::new();
            if cfg.near_dedup.against_seeds {
                let keys: Vec<Vec<u64>> = seed_texts
                    .par_iter()
                    .map(|t| hasher.band_keys(&hasher.signature(t)))
                    .collect();
                for (d, k) in seeds.iter().zip(&keys) {
                    index.add_seed(&d.id, k);
                }
            }
            Some(NearDedup {
                hasher,
                index,
                bands: cfg.near_dedup.bands,
                threshold: cfg.near_dedup.threshold(),
            })
        } else {
            stages[NEAR] = stage_report(NEAR, "disabled", Some("near_dedup.enabled = false"));
            None
        };

        Ok(Self {
            seeds: SeedReport {
                documents: seeds.len(),
                corpora,
                leak_ngrams,
            },
            cfg,
            profile,
            normalizer,
            exact,
            quality,
            lid,
            leak,
            near,
            stages,
            lid_model,
            warnings,
            inputs: Vec::new(),
            malformed_messages: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &CurateConfig {
        &self.cfg
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    fn tally(&mut self, i: usize, samples: &[Sample], seen: u64, start: Instant) {
        let st = &mut self.stages[i].stats;
        st.seen += seen;
        st.seconds += start.elapsed().as_secs_f64();
        for s in samples {
            match &s.reject {
                None => st.kept += 1,
                Some(r) if r.stage == STAGES[i] => {
                    *st.dropped.entry(r.reason.clone()).or_insert(0) += 1;
                }
                Some(_) => {}
            }
        }
    }

    fn par_stage<F>(&mut self, i: usize, samples: &mut [Sample], f: F)
    where
        F: Fn(&mut Sample) -> Option<Reject> + Sync + Send,
    {
        let start = Instant::now();
        let seen = samples.iter().filter(|s| s.is_kept()).count() as u64;
        samples
            .par_iter_mut()
            .filter(|s| s.is_kept())
            .for_each(|s| {
                if let Some(r) = f(s) {
                    s.reject = Some(r);
                }
            });
        self.tally(i, samples, seen, start);
    }

    fn dedup_stage<D: Deduplicator>(dedup: &mut D, samples: &mut [Sample]) {
        let keys: Vec<Option<D::Key>> = {
            let d = &*dedup;
            samples
                .par_iter()
                .map(|s| s.is_kept().then(|| d.key(s)))
                .collect()
        };
        dedup.check_insert_all(samples, keys);
    }

    /// Count samples as read (rejected ones at `read` are the malformed lines).
    pub fn tally_read(&mut self, samples: &[Sample]) {
        let n = samples.len() as u64;
        self.tally(READ, samples, n, Instant::now());
    }

    /// Run every stage after `read` over `samples` in order (the ones already rejected are left
    /// alone). Call it on successive chunks of one corpus: duplicates are found across chunks.
    pub fn process(&mut self, samples: &mut [Sample]) {
        // Normalise.
        {
            let n = std::mem::replace(
                &mut self.normalizer,
                Box::new(StandardNormalizer {
                    cfg: NormalizeConfig::default(),
                    prompt_field: String::new(),
                    finish_field: String::new(),
                }),
            );
            self.par_stage(NORMALIZE, samples, |s| n.normalize(s));
            self.normalizer = n;
        }
        // Exact dedup.
        if let Some(mut d) = self.exact.take() {
            let start = Instant::now();
            let seen = samples.iter().filter(|s| s.is_kept()).count() as u64;
            Self::dedup_stage(&mut d, samples);
            self.tally(EXACT, samples, seen, start);
            self.exact = Some(d);
        }
        // Quality.
        if let Some(q) = self.quality.take() {
            self.par_stage(QUALITY, samples, |s| {
                q.0.annotate(s);
                q.1.iter().find_map(|f| f.check(s))
            });
            self.quality = Some(q);
        }
        // Language ID.
        if let Some(l) = self.lid.take() {
            self.par_stage(LID, samples, |s| {
                l.0.annotate(s);
                l.1.check(s)
            });
            self.lid = Some(l);
        }
        // Leak.
        if let Some(l) = self.leak.take() {
            self.par_stage(LEAK, samples, |s| {
                l.0.annotate(s);
                l.1.check(s)
            });
            self.leak = Some(l);
        }
        // Near dedup.
        if let Some(mut d) = self.near.take() {
            let start = Instant::now();
            let seen = samples.iter().filter(|s| s.is_kept()).count() as u64;
            Self::dedup_stage(&mut d, samples);
            self.tally(NEAR, samples, seen, start);
            self.near = Some(d);
        }
    }

    /// Curate files into `out_dir` (`samples.jsonl`, `rejects.jsonl`, `curate.json`).
    pub fn run_files(
        &mut self,
        inputs: &[PathBuf],
        format: InputFormat,
        out_dir: &Path,
    ) -> Result<CurateReport, CurateError> {
        std::fs::create_dir_all(out_dir).map_err(|e| io_err(out_dir, e))?;
        let kept_path = out_dir.join("samples.jsonl");
        let rej_path = out_dir.join("rejects.jsonl");
        let open = |p: &Path| -> Result<BufWriter<File>, CurateError> {
            // Runs of serialised lines larger than the buffer (most runs of kept samples) go
            // to the file without being copied into it first.
            Ok(BufWriter::with_capacity(
                1 << 18,
                File::create(p).map_err(|e| io_err(p, e))?,
            ))
        };
        let mut kept_w = open(&kept_path)?;
        let mut rej_w = open(&rej_path)?;
        let mut ids = IdAssigner::default();
        let result = (|| -> Result<(), CurateError> {
            for path in inputs {
                let fmt = detect_format(path, format)?;
                let file: Arc<str> = path.display().to_string().into();
                let mut reader = LineReader::open(path)?;
                let mut rep = InputReport {
                    file: file.to_string(),
                    format: fmt,
                    records: 0,
                    blank_lines: 0,
                    malformed: 0,
                };
                // Pipelined: while one chunk is processed, the output of the one before is
                // written and the next one is read, each on a thread of its own outside the rayon
                // pool (blocking I/O on a pool thread would leave the chunk one thread short).
                let mut chunk = reader.next_chunk(CHUNK_LINES)?;
                let mut pending: Vec<OutputRun> = Vec::new();
                while !chunk.is_empty() {
                    let current = std::mem::take(&mut chunk);
                    let to_write = std::mem::take(&mut pending);
                    let (next, written, processed) = std::thread::scope(|sc| {
                        let writer = sc.spawn(|| write_parts(&to_write, &mut kept_w, &mut rej_w));
                        let reader = sc.spawn(|| reader.next_chunk(CHUNK_LINES));
                        let processed =
                            self.process_chunk(&file, fmt, current, &mut rep, &mut ids, out_dir);
                        (reader.join(), writer.join(), processed)
                    });
                    let stopped = |what: &str| CurateError::Io {
                        path: out_dir.display().to_string(),
                        message: format!("the {what} thread stopped unexpectedly"),
                    };
                    let next = next.map_err(|_| stopped("reader"))?;
                    let written = written.map_err(|_| stopped("writer"))?;
                    // Errors in the order the steps would have met them one after the other.
                    written.map_err(|(k, e)| io_err(if k { &kept_path } else { &rej_path }, e))?;
                    pending = processed?;
                    match next {
                        Ok(c) => chunk = c,
                        Err(e) => {
                            write_parts(&pending, &mut kept_w, &mut rej_w).map_err(|(k, e)| {
                                io_err(if k { &kept_path } else { &rej_path }, e)
                            })?;
                            return Err(e);
                        }
                    }
                }
                write_parts(&pending, &mut kept_w, &mut rej_w)
                    .map_err(|(k, e)| io_err(if k { &kept_path } else { &rej_path }, e))?;
                rep.blank_lines = reader.blank_lines as u64;
                self.inputs.push(rep);
            }
            kept_w.flush().map_err(|e| io_err(&kept_path, e))?;
            rej_w.flush().map_err(|e| io_err(&rej_path, e))?;
            Ok(())
        })();
        result?;
        let report = self.report();
        if report.totals.records == 0 {
            let _ = std::fs::remove_file(&kept_path);
            let _ = std::fs::remove_file(&rej_path);
            return Err(CurateError::EmptyInput {
                files: inputs
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let json_path = out_dir.join("curate.json");
        let mut text = serde_json::to_string_pretty(&report).map_err(|e| CurateError::Io {
            path: json_path.display().to_string(),
            message: e.to_string(),
        })?;
        text.push('\n');
        std::fs::write(&json_path, text).map_err(|e| io_err(&json_path, e))?;
        Ok(report)
    }

    /// Parse, curate and serialise one chunk of lines: the kept and rejected output lines, in
    /// runs that keep the input order.
    fn process_chunk(
        &mut self,
        file: &Arc<str>,
        fmt: InputFormat,
        chunk: Vec<RawLine>,
        rep: &mut InputReport,
        ids: &mut IdAssigner,
        out_dir: &Path,
    ) -> Result<Vec<OutputRun>, CurateError> {
        let cfg = &self.cfg;
        let mut samples: Vec<Sample> = chunk
            .into_par_iter()
            .map(|raw| {
                let mut s = parse_line(file, &raw, fmt, cfg);
                if s.raw_line.is_none() && s.id.is_empty() {
                    s.id = content_id(s.original());
                    s.id_generated = true;
                }
                s
            })
            .collect();
        for s in &mut samples {
            ids.assign(s);
            if let (Some(r), Some(_)) = (&s.reject, &s.raw_line) {
                rep.malformed += 1;
                let msg = format!("{}:{}: {}: {}", s.file, s.line, r.reason, r.detail);
                if self.cfg.on_malformed == OnMalformed::Fail {
                    return Err(CurateError::Malformed {
                        file: s.file.to_string(),
                        line: s.line,
                        reason: r.reason.clone(),
                        message: r.detail.clone(),
                    });
                }
                self.malformed_messages.push(msg);
            }
        }
        rep.records += samples.len() as u64;
        self.tally_read(&samples);
        self.process(&mut samples);
        // Serialise in parallel, in runs of samples that keep their order.
        let cfg = &self.cfg;
        let parts: serde_json::Result<Vec<OutputRun>> = samples
            .par_chunks(256)
            .map(|run| {
                let (mut kept, mut rejected) = (Vec::new(), Vec::new());
                for s in run {
                    let buf = if s.is_kept() {
                        &mut kept
                    } else {
                        &mut rejected
                    };
                    s.write_json(cfg, buf)?;
                    buf.push(b'\n');
                }
                Ok((kept, rejected))
            })
            .collect();
        // Freeing a chunk is work too: spread it over the threads.
        samples.into_par_iter().for_each(drop);
        parts.map_err(|e| CurateError::Io {
            path: out_dir.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Malformed-line messages (`file:line: reason: detail`) collected while reading.
    pub fn malformed_messages(&self) -> &[String] {
        &self.malformed_messages
    }

    /// The report so far.
    pub fn report(&self) -> CurateReport {
        let mut stages = self.stages.clone();
        if !self.cfg.record_timings {
            for s in &mut stages {
                s.stats.seconds = 0.0;
            }
        } else {
            for s in &mut stages {
                s.stats.seconds = (s.stats.seconds * 1e6).round() / 1e6;
            }
        }
        // Skipped and disabled stages pass everything through.
        let mut alive = stages[READ].stats.kept;
        for s in stages.iter_mut().skip(1) {
            if s.status != "ran" {
                s.stats.seen = alive;
                s.stats.kept = alive;
            }
            alive = s.stats.kept;
        }
        let records = stages[READ].stats.seen;
        let kept = alive;
        let nd = &self.cfg.near_dedup;
        let catch = [0.5, 0.7, 0.8, 0.9]
            .iter()
            .map(|&s| {
                (
                    format!("{s:.1}"),
                    (nd.catch_probability(s) * 1e6).round() / 1e6,
                )
            })
            .collect();
        let mut warnings = self.warnings.clone();
        let n = self.malformed_messages.len();
        warnings.extend(self.malformed_messages.iter().take(100).cloned());
        if n > 100 {
            warnings.push(format!("... and {} more malformed lines", n - 100));
        }
        CurateReport {
            tool: format!("synthcorpus {}", env!("CARGO_PKG_VERSION")),
            lang: self.cfg.lang.clone(),
            inputs: self.inputs.clone(),
            totals: Totals {
                records,
                kept,
                rejected: records - kept,
            },
            stages,
            profile: ProfileReport {
                lang: self.profile.lang.clone(),
                name: self.profile.name.clone(),
                source: self.profile.source.clone(),
                values: (*self.profile).clone(),
            },
            near_dedup: NearDedupReport {
                unit: nd.unit,
                ngram: nd.ngram,
                num_hashes: nd.num_hashes(),
                bands: nd.bands,
                rows: nd.rows,
                seed: nd.seed,
                threshold: (nd.threshold() * 1e6).round() / 1e6,
                catch_probability: catch,
            },
            seeds: self.seeds.clone(),
            lid_model: self.lid_model.clone(),
            warnings,
            config: self.cfg.clone(),
        }
    }
}

/// Curate `inputs` into `out_dir` with seeds and an optional language identifier: the one call
/// the pipeline needs.
pub fn curate_files(
    inputs: &[PathBuf],
    format: InputFormat,
    out_dir: &Path,
    cfg: CurateConfig,
    seeds: &[Document],
    lid: Option<Arc<dyn LanguageIdentifier>>,
) -> Result<CurateReport, CurateError> {
    Curator::new(cfg, seeds, lid)?.run_files(inputs, format, out_dir)
}
