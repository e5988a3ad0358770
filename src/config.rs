//! The run configuration: a TOML file (unknown keys rejected) that CLI flags override, resolved
//! and checked after parsing into settings the stages use.
//!
//! ```toml
//! lang = "ven"          # target language, ISO 639-3
//! script = "Latn"       # target script, ISO 15924
//! seed = 42             # run seed
//! out = "runs/ven"      # run directory
//!
//! [generate]
//! samples = 100
//! prompts = "prompts"   # template directory (default: the shipped one)
//! allow_duplicate_prompts = false
//! temperatures = [0.7, 0.9, 1.1]   # the per-run temperature schedule, cycled by request
//!
//! [[generate.sources]]
//! corpus = "corpora/ven"
//! weight = 1.0
//!
//! [[generate.models]]
//! id = "gemma3-270m"
//! model = "default"     # path, file name in models/, known name, or hf:owner/repo/file.gguf
//! weight = 3.0          # share of the requests
//! mode = "completion"   # completion (base models) or chat (instruct models)
//!
//! [[generate.models]]
//! id = "char-5gram"
//! kind = "ngram"
//! order = 5
//! weight = 1.0
//!
//! [generate.templates]  # template id -> weight; empty: every template suiting the model, equally
//! continuation = 3.0
//!
//! [generate.sampling]   # SamplingParams without the seed (derived per request)
//! max_new_tokens = 96
//! vocab_bias = 2.0      # nats added to the logits of the seed text's tokens (0: off)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::curate::CurateConfig;
use crate::types::PromptMode;

/// Errors of configuration; each names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// TOML syntax, a wrong type or an unknown key.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message (it names the key and line).
        message: String,
    },
    /// A value that parses but is not allowed.
    #[error("invalid configuration: `{key}`: {message}")]
    Invalid {
        /// The key.
        key: String,
        /// Why.
        message: String,
    },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Target language, ISO 639-3.
    pub lang: String,
    /// Target script, ISO 15924.
    pub script: String,
    /// Run seed.
    pub seed: u64,
    /// Run directory.
    pub out: PathBuf,
    /// CPU threads for the models (default: all cores).
    pub threads: Option<usize>,
    /// Generation.
    pub generate: GenerateConfig,
    /// Curation (`[curate]`; its `lang` is set from the top-level `lang`).
    pub curate: CurateConfig,
    /// The whole-pipeline run (`synthcorpus run`).
    pub run: RunConfig,
    /// Labelling (`[label]`).
    pub label: LabelConfig,
    /// Evaluation (`[eval]`).
    pub eval: EvalConfig,
}

/// `[eval]`: the evaluation a run ends with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Evaluate the kept samples.
    pub enabled: bool,
    /// The evaluation suite (settings and gates); default: the shipped `evals/<lang>.toml`
    /// when there is one.
    pub suite: Option<PathBuf>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            suite: None,
        }
    }
}

/// `[label]`: how a run's samples are labelled and its manifest signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LabelConfig {
    /// An Ed25519 key file (`synthcorpus keygen`) to sign the manifest with.
    pub sign_key: Option<PathBuf>,
    /// The project's registry of generated text; default `.synthcorpus/registry.tsv`
    /// (or `$SYNTHCORPUS_REGISTRY`).
    pub registry: Option<PathBuf>,
}

/// `[run]`: how `synthcorpus run` drives the stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Keep generating until this many samples pass curation (0: one pass of
    /// `generate.samples`).
    pub target_kept: usize,
    /// Budget of generations in target mode.
    pub max_generations: usize,
    /// Budget of wall-clock minutes in target mode (0: none).
    pub max_minutes: f64,
    /// Use the shipped language identifier in curation and evaluation.
    pub lid: bool,
    /// Exit with code 3 when an evaluation gate fails (default: report it only).
    pub fail_on_gates: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            target_kept: 0,
            max_generations: 400,
            max_minutes: 0.0,
            lid: true,
            fail_on_gates: false,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            lang: "ven".into(),
            script: "Latn".into(),
            seed: 42,
            out: PathBuf::from("runs/ven"),
            threads: None,
            generate: GenerateConfig::default(),
            curate: CurateConfig::default(),
            run: RunConfig::default(),
            label: LabelConfig::default(),
            eval: EvalConfig::default(),
        }
    }
}

/// `[generate]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerateConfig {
    /// Number of generations.
    pub samples: usize,
    /// Template directory; `None` is the shipped `prompts/`.
    pub prompts: Option<PathBuf>,
    /// Allow two requests with the same prompt text.
    pub allow_duplicate_prompts: bool,
    /// Temperature schedule, cycled by request index.
    pub temperatures: Vec<f32>,
    /// Seed corpora and their weights.
    pub sources: Vec<SourceConfig>,
    /// Models and their shares.
    pub models: Vec<ModelConfig>,
    /// Template weights by id; empty means every suitable template, equally.
    pub templates: BTreeMap<String, f64>,
    /// Sampling parameters (the seed is derived per request).
    pub sampling: SamplingConfig,
    /// Stop a generation that falls into a loop.
    pub loop_guard: LoopGuardConfig,
    /// Context length for the LLMs.
    pub context: usize,
    /// Accept seed text that is synthetic (registered, labelled or declared so); its lineage
    /// depth then propagates. Refused by default (the collapse guard).
    pub allow_synthetic_seeds: bool,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        Self {
            samples: 20,
            prompts: None,
            allow_duplicate_prompts: false,
            temperatures: vec![0.7, 0.9, 1.1],
            sources: vec![SourceConfig {
                corpus: PathBuf::from("corpora/ven"),
                weight: 1.0,
            }],
            models: vec![ModelConfig::default()],
            templates: BTreeMap::new(),
            sampling: SamplingConfig::default(),
            loop_guard: LoopGuardConfig::default(),
            context: 2048,
            allow_synthetic_seeds: false,
        }
    }
}

/// `[[generate.sources]]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// A corpus folder (with `corpus.toml`).
    pub corpus: PathBuf,
    /// Relative weight.
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

/// Kind of generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GeneratorKind {
    /// A GGUF model through Candle.
    #[default]
    Llm,
    /// The character n-gram model trained on the seed corpora.
    Ngram,
}

/// `[[generate.models]]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Id used in records and reports.
    pub id: String,
    /// `llm` or `ngram`.
    pub kind: GeneratorKind,
    /// For `llm`: the model reference.
    pub model: String,
    /// For `llm`: a tokenizer.json to use.
    pub tokenizer: Option<PathBuf>,
    /// Share of the requests (relative weight).
    pub weight: f64,
    /// Completion (base models) or chat (instruct models).
    pub mode: PromptMode,
    /// For `ngram`: the order.
    pub order: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            id: "gemma3-270m".into(),
            kind: GeneratorKind::Llm,
            model: "default".into(),
            tokenizer: None,
            weight: 1.0,
            mode: PromptMode::Completion,
            order: 5,
        }
    }
}

/// `[generate.sampling]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplingConfig {
    /// Top-k (0 = off).
    pub top_k: usize,
    /// Top-p (1 = off).
    pub top_p: f32,
    /// Min-p (0 = off).
    pub min_p: f32,
    /// Repetition penalty (1 = off).
    pub repeat_penalty: f32,
    /// Window of the repetition penalty.
    pub repeat_last_n: usize,
    /// Maximum new tokens.
    pub max_new_tokens: usize,
    /// Stop strings.
    pub stop: Vec<String>,
    /// Vocabulary bias for the LLMs, in nats: added to the logit of every token that occurs in
    /// the tokenised seed sentences (0 = off). Recorded in every sample's `sampling.vocab_bias`.
    pub vocab_bias: f32,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.15,
            repeat_last_n: 64,
            max_new_tokens: 96,
            stop: vec!["\n\n".into()],
            vocab_bias: 0.0,
        }
    }
}

/// `[generate.loop_guard]`: stop a generation whose last `ngram` words already occurred
/// `max_repeats` times in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoopGuardConfig {
    /// Whether the guard is on.
    pub enabled: bool,
    /// Words per n-gram.
    pub ngram: usize,
    /// Occurrences that count as a loop.
    pub max_repeats: usize,
}

impl Default for LoopGuardConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ngram: 3,
            max_repeats: 3,
        }
    }
}

impl Config {
    /// Read a configuration file. Errors name the file, key and line.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Self::parse(&text, path)
    }

    /// Parse configuration text; `path` is used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Check values that parse but make no sense, and settle derived values (the curation
    /// language follows the run's).
    pub fn resolve(mut self) -> Result<Self, ConfigError> {
        self.curate.lang = self.lang.clone();
        self.validate()?;
        Ok(self)
    }

    /// Check values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.curate
            .validate("[curate]")
            .map_err(|e| invalid("curate", e.to_string()))?;
        if self.run.max_minutes.is_nan() || self.run.max_minutes < 0.0 {
            return Err(invalid("run.max_minutes", "must be >= 0"));
        }
        if self.lang.len() != 3 || !self.lang.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(invalid(
                "lang",
                format!("`{}` is not an ISO 639-3 code", self.lang),
            ));
        }
        let g = &self.generate;
        if g.sources.is_empty() {
            return Err(invalid(
                "generate.sources",
                "at least one seed corpus is needed",
            ));
        }
        for (i, s) in g.sources.iter().enumerate() {
            if !(s.weight > 0.0 && s.weight.is_finite()) {
                return Err(invalid(
                    &format!("generate.sources[{i}].weight"),
                    "must be > 0",
                ));
            }
        }
        if g.models.is_empty() {
            return Err(invalid("generate.models", "at least one model is needed"));
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, m) in g.models.iter().enumerate() {
            if !(m.weight > 0.0 && m.weight.is_finite()) {
                return Err(invalid(
                    &format!("generate.models[{i}].weight"),
                    "must be > 0",
                ));
            }
            if !ids.insert(m.id.as_str()) {
                return Err(invalid(
                    &format!("generate.models[{i}].id"),
                    format!("`{}` is used twice", m.id),
                ));
            }
            if m.kind == GeneratorKind::Ngram && m.order < 2 {
                return Err(invalid(
                    &format!("generate.models[{i}].order"),
                    "must be >= 2",
                ));
            }
        }
        if g.temperatures.is_empty() || g.temperatures.iter().any(|t| t.is_nan() || *t < 0.0) {
            return Err(invalid(
                "generate.temperatures",
                "a non-empty list of values >= 0",
            ));
        }
        for (id, w) in &g.templates {
            if !(*w >= 0.0 && w.is_finite()) {
                return Err(invalid(&format!("generate.templates.{id}"), "must be >= 0"));
            }
        }
        let s = &g.sampling;
        if !(0.0..=1.0).contains(&s.top_p) {
            return Err(invalid("generate.sampling.top_p", "must be in [0, 1]"));
        }
        if !(0.0..=1.0).contains(&s.min_p) {
            return Err(invalid("generate.sampling.min_p", "must be in [0, 1]"));
        }
        if s.repeat_penalty.is_nan() || s.repeat_penalty <= 0.0 {
            return Err(invalid("generate.sampling.repeat_penalty", "must be > 0"));
        }
        if s.max_new_tokens == 0 {
            return Err(invalid("generate.sampling.max_new_tokens", "must be > 0"));
        }
        if g.loop_guard.enabled && (g.loop_guard.ngram == 0 || g.loop_guard.max_repeats < 2) {
            return Err(invalid(
                "generate.loop_guard",
                "ngram must be >= 1 and max_repeats >= 2",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("config.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
            .collect::<Vec<_>>()
            .join("\n");
        let c = Config::parse(&example, Path::new("doc")).unwrap();
        c.validate().unwrap();
        assert_eq!(c.generate.models.len(), 2);
        assert_eq!(c.generate.models[1].kind, GeneratorKind::Ngram);
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_key() {
        let e = Config::parse("lang = 'ven'\ncolour = 1\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml") && e.contains("colour"), "{e}");
        let e = Config::parse("[generate]\nsamples = 'many'\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("samples"), "{e}");
    }

    #[test]
    fn bad_values_are_rejected() {
        let mut c = Config::default();
        c.generate.sampling.top_p = 2.0;
        assert!(c.validate().unwrap_err().to_string().contains("top_p"));
        let c = Config {
            lang: "Venda".into(),
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("lang"));
        Config::default().validate().unwrap();
    }
}
