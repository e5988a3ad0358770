//! Data types that flow between pipeline stages.
//!
//! Stages never import each other: they exchange the values defined here. Anything serialised uses
//! ordered maps ([`std::collections::BTreeMap`]) so that output is byte-identical for the same inputs.

use serde::{Deserialize, Serialize};

/// One language hypothesis from a language identifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LangScore {
    /// ISO 639-3 code, e.g. `ven`.
    pub lang: String,
    /// Calibrated probability in `[0, 1]`; over the label set in use the scores sum to 1.
    pub score: f64,
}

/// A language identifier, as curation and evaluation use it.
///
/// Curation defines this trait so that any identifier plugs in; synthcorpus's own character n-gram
/// model (the `lid` module) is the shipped implementation.
pub trait LanguageIdentifier: Send + Sync {
    /// Ranked hypotheses, best first. An empty vector means "no opinion" (empty text, unseen script).
    fn identify(&self, text: &str) -> Vec<LangScore>;
    /// A stable identifier of the model (name and content hash), recorded in provenance.
    fn model_id(&self) -> String;
}

/// Sampling parameters of one generation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplingParams {
    /// Softmax temperature; 0 means greedy decoding.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens; 0 disables.
    pub top_k: usize,
    /// Nucleus sampling mass; 1 disables.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one; 0 disables.
    pub min_p: f32,
    /// Repetition penalty (llama.cpp style); 1 disables.
    pub repeat_penalty: f32,
    /// How many recent tokens the repetition penalty looks at.
    pub repeat_last_n: usize,
    /// Maximum number of new tokens.
    pub max_new_tokens: usize,
    /// Stop strings: generation ends when the completion contains one (it is cut before it).
    pub stop: Vec<String>,
    /// RNG seed of this request.
    pub seed: u64,
    /// The vocabulary bias applied to this request's logits, when one was (provenance; the
    /// token ids themselves travel in [`GenerationRequest::logit_bias`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vocab_bias: Option<VocabBias>,
}

/// A record of a vocabulary bias: a constant added to the logits of the tokens that occur in
/// the tokenised seed text, before any other sampling step. It keeps a small model writing with
/// the pieces of the target language (measured in BENCHMARKS.md, "Tuning the defaults").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocabBias {
    /// Added to each biased token's logit (nats).
    pub bias: f32,
    /// Where the token set comes from: `seed` (the token ids of the run's seed sentences, as
    /// this model's tokenizer splits them).
    pub source: String,
    /// Number of tokens in the set.
    pub tokens: usize,
    /// sha256 of the sorted token ids, each as 4 little-endian bytes.
    pub sha256: String,
}

/// Logit bias for one request: `bias` added to the logit of every token in `ids` before
/// sampling (ids outside the vocabulary are ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct LogitBias {
    /// Token ids, sorted and without duplicates.
    pub ids: Vec<u32>,
    /// Added to each of their logits.
    pub bias: f32,
}

impl LogitBias {
    /// Add the bias to `logits` in place.
    pub fn apply(&self, logits: &mut [f32]) {
        for &i in &self.ids {
            if let Some(l) = logits.get_mut(i as usize) {
                *l += self.bias;
            }
        }
    }
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            max_new_tokens: 128,
            stop: Vec::new(),
            seed: 0,
            vocab_bias: None,
        }
    }
}

/// How the prompt is given to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PromptMode {
    /// Raw completion: the text is the model's input as it is.
    #[default]
    Completion,
    /// Chat: the text is a user message, rendered with the model's chat template.
    Chat,
}

/// One generation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRequest {
    /// The prompt text (or user message in chat mode).
    pub prompt: String,
    /// Completion or chat.
    pub mode: PromptMode,
    /// Sampling parameters and seed.
    pub params: SamplingParams,
    /// A bias on some tokens' logits (not serialised: [`SamplingParams::vocab_bias`] records it).
    #[serde(skip)]
    pub logit_bias: Option<std::sync::Arc<LogitBias>>,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model produced an end-of-generation token.
    Eos,
    /// A stop string was produced.
    Stop,
    /// `max_new_tokens` was reached.
    Length,
    /// The context window was full.
    Context,
    /// The caller asked to stop (e.g. the output fell into a loop).
    Cancelled,
}

/// The result of one generation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The generated text only (no prompt), cut before any stop string.
    pub text: String,
    /// Generated token ids.
    pub tokens: Vec<u32>,
    /// Number of prompt tokens (after any truncation).
    pub prompt_tokens: usize,
    /// Prompt tokens dropped from the left to fit the context.
    pub prompt_truncated: usize,
    /// Why generation stopped.
    pub finish_reason: FinishReason,
    /// Seconds spent on the prompt.
    pub prompt_seconds: f64,
    /// Seconds spent generating.
    pub generation_seconds: f64,
}

/// A description of a model file, for `models inspect` and provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// `general.name`, or the file stem.
    pub name: String,
    /// Path of the GGUF file.
    pub path: String,
    /// `general.architecture`.
    pub architecture: String,
    /// File size in bytes.
    pub file_size: u64,
    /// Number of weights.
    pub parameters: u64,
    /// Dominant quantisation (llama.cpp's file type name).
    pub quantization: String,
    /// Tensor count per tensor type.
    pub tensor_types: std::collections::BTreeMap<String, usize>,
    /// `tokenizer.ggml.model` (`llama`, `gpt2`) or `none`.
    pub tokenizer_kind: String,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Context length the model was trained for.
    pub context_length: u64,
    /// Whether the GGUF carries a chat template.
    pub has_chat_template: bool,
    /// sha256 of the file, when computed.
    pub sha256: Option<String>,
}

/// Whether text is real (written by people) or synthetic (generated by a model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// Written by people.
    #[default]
    Real,
    /// Generated by a model.
    Synthetic,
}

/// One document of a corpus, after ingestion (NFC-normalised, whitespace folded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Stable id: derived from the corpus id and the normalised text (see `ingest`).
    pub id: String,
    /// Id of the corpus it belongs to.
    pub corpus: String,
    /// The normalised text.
    pub text: String,
    /// ISO 639-3 language code.
    pub lang: String,
    /// ISO 15924 script code, e.g. `Latn`.
    pub script: String,
    /// Real or synthetic.
    pub provenance: Provenance,
    /// Lineage depth: 0 for real text, n+1 for text generated from depth-n seeds.
    pub lineage_depth: u32,
    /// File it came from (relative to the corpus folder) and its 1-based line.
    pub source: String,
    /// 1-based line in the source file where the document starts.
    pub line: usize,
}

/// Which generator wrote a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorInfo {
    /// The model's id in the run configuration.
    pub id: String,
    /// `llm` (a GGUF model through Candle) or `ngram` (the character n-gram baseline).
    pub kind: String,
    /// Engine: `candle` or `synthcorpus-ngram`.
    pub backend: String,
    /// Model name (`general.name`).
    pub name: String,
    /// Architecture (`gemma3`, `qwen2`, ..., `ngram`).
    pub architecture: String,
    /// Dominant quantisation.
    pub quantization: String,
    /// sha256 of the GGUF file (for the n-gram model: of its training data and order).
    pub sha256: String,
    /// sha256 identifying the tokenizer.
    pub tokenizer_sha256: String,
}

/// The prompt a record was generated from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptInfo {
    /// Template id (`None` for generators that take no prompt).
    pub template_id: Option<String>,
    /// Template version.
    pub template_version: Option<u32>,
    /// sha256 of the template file.
    pub template_sha256: Option<String>,
    /// Task kind (`continuation`, `topic`, `paraphrase`, `qa`, `dialogue`, or `free` for the
    /// n-gram generator).
    pub task: String,
    /// `completion` or `chat`.
    pub mode: PromptMode,
    /// The rendered prompt text.
    pub text: String,
    /// The seed corpus the prompt drew from.
    pub source_corpus: String,
    /// Ids of the seed documents whose sentences appear in the prompt.
    pub seed_document_ids: Vec<String>,
    /// Topic, when the template uses one.
    pub topic: Option<String>,
    /// Domain of the topic (English).
    pub domain: Option<String>,
}

/// Token counts of a generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenCounts {
    /// Prompt tokens the model saw.
    pub prompt: usize,
    /// Tokens generated.
    pub completion: usize,
    /// Prompt tokens dropped to fit the context.
    pub prompt_truncated: usize,
}

/// Wall-clock timings of a generation (the only non-deterministic fields of a record, with
/// `created_at`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Seconds on the prompt.
    pub prompt_seconds: f64,
    /// Seconds generating.
    pub generation_seconds: f64,
}

/// One line of `raw.jsonl`: a generation, labelled synthetic from the moment it exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawRecord {
    /// Deterministic request id (run fingerprint + request index).
    pub id: String,
    /// Always `true`: every record is synthetic.
    pub synthetic: bool,
    /// Target language (ISO 639-3).
    pub lang: String,
    /// Target script (ISO 15924).
    pub script: String,
    /// The generated text (completion only).
    pub text: String,
    /// Index of the request in the run's plan.
    pub index: usize,
    /// The generator.
    pub generator: GeneratorInfo,
    /// The prompt.
    pub prompt: PromptInfo,
    /// Sampling parameters, including the request's seed.
    pub sampling: SamplingParams,
    /// Lineage depth: one more than the deepest seed document used.
    pub lineage_depth: u32,
    /// Token counts.
    pub tokens: TokenCounts,
    /// `eos`, `stop`, `length`, `context`, `loop` or `cancelled`.
    pub finish_reason: String,
    /// Timings.
    pub timings: Timings,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// The tool and version that wrote the record.
    pub tool: String,
}
