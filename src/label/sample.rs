//! The per-sample schema, version 1 (`synthcorpus.sample.v1`), and its conversion from kept
//! records.
//!
//! Every line of a labelled run's `samples.jsonl` is one [`SampleV1`] in compact JSON, fields in
//! the order of the struct. The JSON Schema of a line is shipped as
//! `schemas/sample.v1.schema.json` ([`super::schema::SAMPLE_SCHEMA_JSON`]); `synthcorpus verify`
//! checks every line against it.
//!
//! The prompt's rendered text is deliberately not copied into a sample: it holds sentences of
//! the seed corpus, and a published corpus must not republish its sources. The prompt is
//! identified instead by its template (id, version, sha256), the seed documents and corpus it
//! drew from, and the sha256 of the rendered text (`prompt.text_sha256`), which lets anyone who
//! holds the seeds check it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ingest::{normalize, sha256_hex};

/// The schema identifier written in every sample's `schema` field.
pub const SAMPLE_SCHEMA_ID: &str = "synthcorpus.sample.v1";

/// The content-derived id of a text: `sha256:` and the 64 hex digits of the sha256 of the text
/// normalised by [`crate::ingest::normalize`] (NFC, whitespace folded to single spaces, trimmed).
///
/// The same text gets the same id in every run and on every machine; the collapse-guard
/// registry ([`super::registry`]) stores the same hash.
pub fn content_id(text: &str) -> String {
    format!("sha256:{}", text_hash(text))
}

/// The 64 hex digits of the sha256 of the normalised text (the part of [`content_id`] after
/// `sha256:`).
pub fn text_hash(text: &str) -> String {
    sha256_hex(normalize(text).as_bytes())
}

/// One labelled synthetic sample: a line of `samples.jsonl`, schema `synthcorpus.sample.v1`.
///
/// Fields, in output order:
///
/// | field | meaning |
/// |---|---|
/// | `schema` | always `synthcorpus.sample.v1` |
/// | `id` | content-derived id, [`content_id`] of `text` |
/// | `text` | the sample text (NFC) |
/// | `lang`, `script` | ISO 639-3 language and ISO 15924 script |
/// | `synthetic` | always `true` |
/// | `lineage_depth` | 1 for text generated from real seeds, n+1 from depth-n seeds |
/// | `generation_id` | id of the generation request in `raw.jsonl` |
/// | `generator` | backend, model name, architecture, quantisation, file and tokenizer sha256 |
/// | `prompt` | template id, version and sha256; task; mode; sha256 of the rendered prompt; seed corpus and document ids; topic |
/// | `sampling` | sampling parameters and the request's seed |
/// | `tokens` | prompt, completion and truncated token counts |
/// | `finish_reason` | why generation stopped |
/// | `created_at` | generation time, RFC 3339 UTC |
/// | `tool` | the tool and version that generated it |
/// | `labelled_by` | the tool and version that labelled it |
/// | `annotations` | curation scores, per stage |
/// | `curation` | the curation verdict (`kept`) and where the record came from |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleV1 {
    /// Schema identifier: [`SAMPLE_SCHEMA_ID`].
    pub schema: String,
    /// Content-derived id ([`content_id`] of `text`).
    pub id: String,
    /// The text, NFC.
    pub text: String,
    /// ISO 639-3 language code.
    pub lang: String,
    /// ISO 15924 script code.
    pub script: String,
    /// Always `true`.
    pub synthetic: bool,
    /// Lineage depth: 0 is real text (never in a sample), 1 text generated from real seeds,
    /// n+1 text generated from depth-n seeds.
    pub lineage_depth: u32,
    /// Id of the generation request (the record id in `raw.jsonl`).
    pub generation_id: String,
    /// The generator.
    pub generator: GeneratorV1,
    /// The prompt.
    pub prompt: PromptV1,
    /// Sampling parameters and seed.
    pub sampling: SamplingV1,
    /// Token counts.
    pub tokens: TokensV1,
    /// `eos`, `stop`, `length`, `context`, `loop` or `cancelled`.
    pub finish_reason: String,
    /// Generation time, RFC 3339 UTC.
    pub created_at: String,
    /// The tool and version that generated the text, e.g. `synthcorpus 0.1.0`.
    pub tool: String,
    /// The tool and version that labelled it.
    pub labelled_by: String,
    /// Curation scores: stage name to an object of scores.
    pub annotations: BTreeMap<String, Value>,
    /// The curation verdict: `verdict` (`kept`), `source` (`file`, `line`) and any other keys
    /// curation wrote (e.g. `original_text` when normalisation changed the text).
    pub curation: BTreeMap<String, Value>,
}

/// The generator of a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorV1 {
    /// The model's id in the run configuration.
    pub id: String,
    /// `llm` or `ngram`.
    pub kind: String,
    /// Engine: `candle` or `synthcorpus-ngram`.
    pub backend: String,
    /// Model name.
    pub name: String,
    /// Architecture (`gemma3`, `qwen2`, `ngram`, ...).
    pub architecture: String,
    /// Dominant quantisation (e.g. `Q4_0`).
    pub quantization: String,
    /// sha256 of the GGUF file (n-gram: of its training data and order).
    pub sha256: String,
    /// sha256 identifying the tokenizer.
    pub tokenizer_sha256: String,
}

/// The prompt of a sample (without its text; see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptV1 {
    /// Template id (`null` for generators that take no prompt).
    pub template_id: Option<String>,
    /// Template version.
    pub template_version: Option<u32>,
    /// sha256 of the template file.
    pub template_sha256: Option<String>,
    /// Task: `continuation`, `topic`, `paraphrase`, `qa`, `dialogue` or `free`.
    pub task: String,
    /// `completion` or `chat`.
    pub mode: String,
    /// sha256 of the rendered prompt text.
    pub text_sha256: String,
    /// The seed corpus the prompt drew from.
    pub source_corpus: String,
    /// Ids of the seed documents quoted in the prompt.
    pub seed_document_ids: Vec<String>,
    /// Topic, when the template uses one.
    pub topic: Option<String>,
    /// Domain of the topic.
    pub domain: Option<String>,
}

/// Sampling parameters of a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingV1 {
    /// Softmax temperature (0: greedy).
    pub temperature: f32,
    /// Top-k (0: off).
    pub top_k: u64,
    /// Nucleus mass (1: off).
    pub top_p: f32,
    /// Min-p (0: off).
    pub min_p: f32,
    /// Repetition penalty (1: off).
    pub repeat_penalty: f32,
    /// Tokens the penalty looks back over.
    pub repeat_last_n: u64,
    /// Maximum new tokens.
    pub max_new_tokens: u64,
    /// Stop strings.
    pub stop: Vec<String>,
    /// The request's RNG seed.
    pub seed: u64,
    /// The vocabulary bias on the logits, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab_bias: Option<crate::types::VocabBias>,
}

/// Token counts of a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensV1 {
    /// Prompt tokens the model saw.
    pub prompt: u64,
    /// Tokens generated.
    pub completion: u64,
    /// Prompt tokens dropped to fit the context.
    pub prompt_truncated: u64,
}

/// Why a kept record could not be turned into a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionError {
    /// The field at fault (dotted path), when one is.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConversionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field `{field}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

fn conv(field: &str, message: impl Into<String>) -> ConversionError {
    ConversionError {
        field: Some(field.to_string()),
        message: message.into(),
    }
}

/// The tool string of this build, e.g. `synthcorpus 0.1.0`.
pub fn tool_string() -> String {
    format!("synthcorpus {}", env!("CARGO_PKG_VERSION"))
}

fn take<T: serde::de::DeserializeOwned>(
    rec: &Map<String, Value>,
    field: &str,
) -> Result<T, ConversionError> {
    let v = rec.get(field).ok_or_else(|| conv(field, "is missing"))?;
    serde_json::from_value(v.clone()).map_err(|e| conv(field, e.to_string()))
}

fn take_str(rec: &Map<String, Value>, field: &str) -> Result<String, ConversionError> {
    match rec.get(field) {
        None => Err(conv(field, "is missing")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(conv(
            field,
            format!("must be a string, found {}", json_type(other)),
        )),
    }
}

/// The JSON type name of a value (`string`, `object`, ...).
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Turn a kept record of curation (a `raw.jsonl` record with its text normalised, plus
/// `annotations` and `curation`) into a [`SampleV1`]. A record that already is a v1 sample
/// (it has `schema`) is parsed and its derived fields (id, `labelled_by`) recomputed, so
/// labelling twice gives the same file.
///
/// Fails when the record is not a generated record (no `generator`, `prompt`, ...), is not
/// labelled synthetic, or was not kept by curation.
pub fn from_kept_record(rec: &Map<String, Value>) -> Result<SampleV1, ConversionError> {
    if let Some(schema) = rec.get("schema") {
        if schema.as_str() != Some(SAMPLE_SCHEMA_ID) {
            return Err(conv(
                "schema",
                format!("unsupported schema {schema}, expected \"{SAMPLE_SCHEMA_ID}\""),
            ));
        }
        let mut s: SampleV1 =
            serde_json::from_value(Value::Object(rec.clone())).map_err(|e| ConversionError {
                field: None,
                message: format!("not a valid {SAMPLE_SCHEMA_ID} sample: {e}"),
            })?;
        if !s.synthetic {
            return Err(conv("synthetic", "must be true"));
        }
        s.id = content_id(&s.text);
        s.labelled_by = tool_string();
        return Ok(s);
    }
    match rec.get("synthetic") {
        Some(Value::Bool(true)) => {}
        Some(v) => {
            return Err(conv(
                "synthetic",
                format!("must be true for a generated record, found {v}"),
            ))
        }
        None => return Err(conv("synthetic", "is missing: not a generated record")),
    }
    let text = take_str(rec, "text")?;
    if text.trim().is_empty() {
        return Err(conv("text", "is empty"));
    }
    let curation: BTreeMap<String, Value> = match rec.get("curation") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(other) => {
            return Err(conv(
                "curation",
                format!("must be an object, found {}", json_type(other)),
            ))
        }
        None => return Err(conv("curation", "is missing: the record was not curated")),
    };
    match curation.get("verdict").and_then(Value::as_str) {
        Some("kept") => {}
        Some(v) => return Err(conv("curation.verdict", format!("is `{v}`, not `kept`"))),
        None => return Err(conv("curation.verdict", "is missing")),
    }
    let annotations: BTreeMap<String, Value> = match rec.get("annotations") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        None => BTreeMap::new(),
        Some(other) => {
            return Err(conv(
                "annotations",
                format!("must be an object, found {}", json_type(other)),
            ))
        }
    };
    let generator: GeneratorV1 = take(rec, "generator")?;
    let prompt = match rec.get("prompt") {
        Some(Value::Object(p)) => p,
        Some(other) => {
            return Err(conv(
                "prompt",
                format!("must be an object, found {}", json_type(other)),
            ))
        }
        None => return Err(conv("prompt", "is missing")),
    };
    let prompt_text = take_str(prompt, "text").map_err(|e| ConversionError {
        field: e.field.map(|f| format!("prompt.{f}")),
        message: e.message,
    })?;
    let sub = |f: &str| format!("prompt.{f}");
    let opt_str = |f: &str| -> Result<Option<String>, ConversionError> {
        match prompt.get(f) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(conv(
                &sub(f),
                format!("must be a string or null, found {}", json_type(other)),
            )),
        }
    };
    let template_version = match prompt.get("template_version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| conv(&sub("template_version"), "must be a small integer"))?,
        ),
    };
    let seed_document_ids: Vec<String> = match prompt.get("seed_document_ids") {
        None => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| conv(&sub("seed_document_ids"), e.to_string()))?,
    };
    let mode = match prompt.get("mode") {
        Some(Value::String(s)) => s.clone(),
        None => "completion".to_string(),
        Some(other) => {
            return Err(conv(
                &sub("mode"),
                format!("must be a string, found {}", json_type(other)),
            ))
        }
    };
    let prompt = PromptV1 {
        template_id: opt_str("template_id")?,
        template_version,
        template_sha256: opt_str("template_sha256")?,
        task: take_str(prompt, "task").map_err(|e| conv(&sub("task"), e.message))?,
        mode,
        text_sha256: sha256_hex(prompt_text.as_bytes()),
        source_corpus: take_str(prompt, "source_corpus")
            .map_err(|e| conv(&sub("source_corpus"), e.message))?,
        seed_document_ids,
        topic: opt_str("topic")?,
        domain: opt_str("domain")?,
    };
    let lineage_depth: u32 = take(rec, "lineage_depth")?;
    if lineage_depth == 0 {
        return Err(conv(
            "lineage_depth",
            "is 0 (real text) on a generated record",
        ));
    }
    Ok(SampleV1 {
        schema: SAMPLE_SCHEMA_ID.to_string(),
        id: content_id(&text),
        lang: take_str(rec, "lang")?,
        script: take_str(rec, "script")?,
        synthetic: true,
        lineage_depth,
        generation_id: take_str(rec, "id")?,
        generator,
        prompt,
        sampling: take(rec, "sampling")?,
        tokens: take(rec, "tokens")?,
        finish_reason: take_str(rec, "finish_reason")?,
        created_at: take_str(rec, "created_at")?,
        tool: take_str(rec, "tool")?,
        labelled_by: tool_string(),
        annotations,
        curation,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Map<String, Value> {
        let v = serde_json::json!({
            "id": "abc-0", "synthetic": true, "lang": "ven", "script": "Latn",
            "text": "Vhathu vhoṱhe vha bebwa vho vhofholowa.", "index": 0,
            "generator": {"id": "g", "kind": "llm", "backend": "candle", "name": "m",
                "architecture": "gemma3", "quantization": "Q4_0", "sha256": "00",
                "tokenizer_sha256": "11"},
            "prompt": {"template_id": "continuation", "template_version": 1,
                "template_sha256": "22", "task": "continuation", "mode": "completion",
                "text": "Prompt", "source_corpus": "udhr-ven", "seed_document_ids": ["d1"],
                "topic": null, "domain": null},
            "sampling": {"temperature": 0.7, "top_k": 40, "top_p": 0.95, "min_p": 0.05,
                "repeat_penalty": 1.1, "repeat_last_n": 64, "max_new_tokens": 96, "stop": [],
                "seed": 7},
            "lineage_depth": 1, "tokens": {"prompt": 10, "completion": 20, "prompt_truncated": 0},
            "finish_reason": "eos", "timings": {"prompt_seconds": 0.1, "generation_seconds": 0.2},
            "created_at": "2025-01-01T00:00:00Z", "tool": "synthcorpus 0.1.0",
            "annotations": {"quality": {"words": 6}},
            "curation": {"verdict": "kept", "source": {"file": "raw.jsonl", "line": 1}}
        });
        v.as_object().unwrap().clone()
    }

    #[test]
    fn converts_and_is_idempotent() {
        let s = from_kept_record(&record()).unwrap();
        assert_eq!(s.id, content_id(&s.text));
        assert_eq!(s.prompt.text_sha256, sha256_hex(b"Prompt"));
        let line = serde_json::to_string(&s).unwrap();
        assert!(line.contains("\"temperature\":0.7,"), "{line}");
        let again: Map<String, Value> = serde_json::from_str(&line).unwrap();
        assert_eq!(from_kept_record(&again).unwrap(), s);
    }

    #[test]
    fn a_vocabulary_bias_is_kept_and_validates() {
        let validator = super::super::schema::Validator::sample_v1();
        let mut r = record();
        r["sampling"]["vocab_bias"] = serde_json::json!({
            "bias": 2.0, "source": "seed", "tokens": 506, "sha256": "ab".repeat(32)
        });
        let s = from_kept_record(&r).unwrap();
        assert_eq!(s.sampling.vocab_bias.as_ref().map(|b| b.tokens), Some(506));
        let v = serde_json::to_value(&s).unwrap();
        assert!(
            validator.validate(&v).is_empty(),
            "{:?}",
            validator.validate(&v)
        );
        // Without one, the field is absent, not null.
        let plain = serde_json::to_value(from_kept_record(&record()).unwrap()).unwrap();
        assert!(plain["sampling"].get("vocab_bias").is_none());
        // A malformed record of it is a violation naming the field.
        let mut bad = v.clone();
        bad["sampling"]["vocab_bias"]["sha256"] = Value::String("xyz".into());
        let errs = validator.validate(&bad);
        assert!(
            errs.iter()
                .any(|e| e.pointer == "/sampling/vocab_bias/sha256"),
            "{errs:?}"
        );
    }

    #[test]
    fn refuses_unlabelled_and_rejected() {
        let mut r = record();
        r.insert("synthetic".into(), Value::Bool(false));
        assert_eq!(
            from_kept_record(&r).unwrap_err().field.as_deref(),
            Some("synthetic")
        );
        let mut r = record();
        r.insert(
            "curation".into(),
            serde_json::json!({"verdict": "rejected"}),
        );
        assert!(from_kept_record(&r)
            .unwrap_err()
            .to_string()
            .contains("curation.verdict"));
        let mut r = record();
        r.remove("generator");
        assert!(from_kept_record(&r)
            .unwrap_err()
            .to_string()
            .contains("`generator`"));
    }

    #[test]
    fn id_ignores_spacing_and_normal_form() {
        assert_eq!(content_id("a  ṱ\n b"), content_id("a t\u{32D} b"));
        assert_eq!(content_id("x").len(), 7 + 64);
    }
}
