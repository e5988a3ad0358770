//! The curation stage: normalise, deduplicate, filter and protect against source leaks.
//!
//! `synthcorpus curate` reads JSONL (a `text` field per object) or plain text (one sample per
//! line), synthetic or real, and writes three files:
//! - `samples.jsonl`: the kept samples, every input field untouched except `text` (normalised),
//!   plus an `annotations` object (scores, per stage) and a `curation` object (verdict, source);
//! - `rejects.jsonl`: every rejected sample, the same way, with the stage, reason code and detail
//!   (lines that are not valid records are kept too, as `raw_line`); nothing is dropped silently:
//!   kept plus rejected is the input, record for record;
//! - `curate.json`: the configuration, profile and per-stage statistics ([`CurateReport`]).
//!
//! Stages, in order ([`runner::Curator`]):
//! 1. `read`: malformed JSON, non-object lines, missing or non-string text, invalid UTF-8;
//! 2. `normalize` ([`normalize`]): NFC, whitespace, chat artefacts, prompt echo, trimming to the
//!    last full sentence;
//! 3. `exact_dedup` ([`dedup`]): the normalised text, within the run and against the seeds;
//! 4. `quality` ([`quality`]): per-language filters from a [`profiles::Profile`];
//! 5. `lid`: a [`LanguageIdentifier`](crate::types::LanguageIdentifier) given by the caller
//!    (reported as skipped when none is given);
//! 6. `leak` ([`leak`]): verbatim overlap with the seeds;
//! 7. `near_dedup` ([`dedup`]): MinHash-LSH, within the run and against the seeds.
//!
//! Output is deterministic: the same input and configuration give byte-identical
//! `samples.jsonl` and `rejects.jsonl`; `curate.json` differs only in its `seconds` fields
//! (zero with [`CurateConfig::record_timings`] off). Work is linear in the input: per-sample
//! stages run in parallel over chunks, dedup lookups go through hash indexes.

pub mod chars;
pub mod dedup;
pub mod explain;
pub mod hash;
pub mod input;
pub mod leak;
pub mod normalize;
pub mod profiles;
pub mod quality;
pub mod runner;
pub mod scoremap;

use std::hash::{BuildHasher, Hasher};

use serde::{Deserialize, Serialize};

pub use dedup::{ExactDedupConfig, NearDedupConfig, ShingleUnit};
pub use input::InputFormat;
pub use leak::LeakConfig;
pub use normalize::{NormalizeConfig, TrimMode};
pub use profiles::{available_profiles, resolve_profile, Profile};
pub use runner::{
    Annotator, CurateReport, Curator, Deduplicator, Filter, Normalizer, Reject, Sample,
    StageReport, StageStats,
};

/// What to do with a line that is not a valid record (malformed JSON, not an object, missing or
/// non-string text, invalid UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnMalformed {
    /// Report it (file and line) on stderr, write it to `rejects.jsonl`, count it, go on.
    #[default]
    Skip,
    /// Stop with an error naming the file and line.
    Fail,
}

/// Quality-filter settings (`[curate.quality]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityConfig {
    /// Run the quality filters (default true).
    pub enabled: bool,
    /// Names of quality filters to switch off (see `synthcorpus explain`), default none.
    pub skip: Vec<String>,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            skip: Vec::new(),
        }
    }
}

/// Language-ID filter settings (`[curate.lid]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LidConfig {
    /// Run the filter when an identifier is given (default true).
    pub enabled: bool,
    /// Lowest score of the target language; default: the profile's `lid.min_score`.
    pub min_score: Option<f64>,
}

impl Default for LidConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_score: None,
        }
    }
}

/// The curation configuration (`[curate]` in the run configuration; unknown keys rejected; every
/// key optional).
///
/// ```toml
/// [curate]
/// lang = "ven"                  # target language (ISO 639-3); picks the profile
/// # profile = "curation/profiles/ven.toml"  # or a shipped profile name; default: the lang's
/// text_field = "text"
/// id_field = "id"
/// prompt_field = "prompt.text"  # dotted path; for prompt-echo removal
/// finish_reason_field = "finish_reason"
/// on_malformed = "skip"         # or "fail"
/// record_timings = true
///
/// [curate.normalize]
/// trim_incomplete = "auto"      # auto (finish_reason = length) | always | never
///
/// [curate.near_dedup]
/// unit = "word"                 # or "grapheme"
/// ngram = 5
/// bands = 16
/// rows = 7
///
/// [curate.leak]
/// ngram = 6
/// max_span_words = 25
/// max_ngram_share = 0.5
///
/// [curate.quality]
/// skip = []                     # e.g. ["line_punct"]
///
/// [curate.lid]
/// # min_score = 0.5             # default: the profile's
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CurateConfig {
    /// Target language, ISO 639-3 (default `ven`).
    pub lang: String,
    /// Quality profile: a shipped profile name or a path to a TOML file. Default: the shipped
    /// profile of `lang` (an error when there is none; English is never a silent fallback).
    pub profile: Option<String>,
    /// JSON field holding the text (default `text`).
    pub text_field: String,
    /// JSON field holding the record id (default `id`); records without one get
    /// `sha256:<first 16 hex digits of the text's sha256>` (with `-2`, `-3`, ... on repeats).
    pub id_field: String,
    /// Dotted path of the prompt text in a record (default `prompt.text`; a string `prompt` field
    /// is used when the path is absent).
    pub prompt_field: String,
    /// Field telling why generation stopped (default `finish_reason`).
    pub finish_reason_field: String,
    /// Invalid lines: `skip` (default) or `fail`.
    pub on_malformed: OnMalformed,
    /// Record wall-clock seconds per stage in `curate.json` (default true; false writes zeros so
    /// that `curate.json` is byte-identical across runs too).
    pub record_timings: bool,
    /// Normalisation.
    pub normalize: NormalizeConfig,
    /// Exact deduplication.
    pub exact_dedup: ExactDedupConfig,
    /// Near deduplication.
    pub near_dedup: NearDedupConfig,
    /// Source-leak protection.
    pub leak: LeakConfig,
    /// Quality filters.
    pub quality: QualityConfig,
    /// Language-ID filter.
    pub lid: LidConfig,
}

impl Default for CurateConfig {
    fn default() -> Self {
        Self {
            lang: "ven".into(),
            profile: None,
            text_field: "text".into(),
            id_field: "id".into(),
            prompt_field: "prompt.text".into(),
            finish_reason_field: "finish_reason".into(),
            on_malformed: OnMalformed::Skip,
            record_timings: true,
            normalize: NormalizeConfig::default(),
            exact_dedup: ExactDedupConfig::default(),
            near_dedup: NearDedupConfig::default(),
            leak: LeakConfig::default(),
            quality: QualityConfig::default(),
            lid: LidConfig::default(),
        }
    }
}

impl CurateConfig {
    /// Parse from TOML: either a bare configuration or a file with a `[curate]` table.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, CurateError> {
        let err = |e: toml::de::Error| CurateError::Config {
            origin: origin.to_string(),
            message: e.to_string(),
        };
        let value: toml::Table = toml::from_str(text).map_err(err)?;
        let cfg: CurateConfig = match value.get("curate") {
            Some(t) => t.clone().try_into().map_err(err)?,
            None => toml::from_str(text).map_err(err)?,
        };
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// Check values are in range.
    pub fn validate(&self, origin: &str) -> Result<(), CurateError> {
        let bad = |m: &str| {
            Err(CurateError::Config {
                origin: origin.to_string(),
                message: m.to_string(),
            })
        };
        let nd = &self.near_dedup;
        if nd.ngram == 0 || nd.bands == 0 || nd.rows == 0 {
            return bad("near_dedup.ngram, bands and rows must be at least 1");
        }
        if self.leak.ngram == 0 {
            return bad("leak.ngram must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.leak.max_ngram_share) {
            return bad("leak.max_ngram_share must be in [0, 1]");
        }
        if let Some(s) = self.lid.min_score {
            if !(0.0..=1.0).contains(&s) {
                return bad("lid.min_score must be in [0, 1]");
            }
        }
        for name in &self.quality.skip {
            if quality::QualityCheck::from_name(name).is_none() {
                let names: Vec<&str> = quality::QualityCheck::ALL
                    .iter()
                    .map(|c| c.name())
                    .collect();
                return Err(CurateError::Config {
                    origin: origin.to_string(),
                    message: format!(
                        "quality.skip: unknown filter `{name}`; quality filters are {}",
                        names.join(", ")
                    ),
                });
            }
        }
        if self.text_field.is_empty() || self.id_field.is_empty() {
            return bad("text_field and id_field must not be empty");
        }
        Ok(())
    }
}

/// Errors of curation; input errors name the file and line.
#[derive(Debug, thiserror::Error)]
pub enum CurateError {
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        message: String,
    },
    /// A line is not a valid record and `on_malformed` is `fail`.
    #[error("{file}:{line}: {reason}: {message}")]
    Malformed {
        /// The input file.
        file: String,
        /// 1-based line.
        line: usize,
        /// Reason code (`malformed_json`, `not_an_object`, `missing_text`, `invalid_utf8`).
        reason: String,
        /// What is wrong.
        message: String,
    },
    /// No records in any input.
    #[error("empty input: no records in {files}")]
    EmptyInput {
        /// The inputs, comma-separated.
        files: String,
    },
    /// No shipped profile for the language.
    #[error("no curation profile for language `{lang}`; available profiles: {available} (pass one explicitly with --profile NAME or a TOML path)")]
    UnknownProfile {
        /// The language asked for.
        lang: String,
        /// The shipped profiles, comma-separated.
        available: String,
    },
    /// A profile is invalid.
    #[error("profile {origin}: {message}")]
    Profile {
        /// Profile name or path.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The configuration is invalid.
    #[error("curate configuration {origin}: {message}")]
    Config {
        /// File or source of the configuration.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// A pass-through hasher for keys that are already well-mixed hashes (u64 and u128).
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
    fn write_u128(&mut self, n: u128) {
        self.0 ^= (n as u64) ^ ((n >> 64) as u64);
    }
}

/// [`BuildHasher`] of [`IdHasher`].
#[derive(Debug, Default, Clone, Copy)]
pub struct IdBuild;

impl BuildHasher for IdBuild {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}
