//! The generate stage: from seed corpora and prompts, generate new text with one or several
//! models into `raw.jsonl`, resumably.
//!
//! - The plan ([`plan`]) fixes every request up front from the seed.
//! - Each finished record is appended to `raw.jsonl` as one line and flushed, so a killed run
//!   loses at most the generation in hand. On restart a torn last line is cut off, the records
//!   present are checked against the plan, and only missing requests run.
//! - A loop guard stops generations that repeat themselves (finish reason `loop`).
//! - An interrupt flag (Ctrl-C) is honoured between records.

pub mod plan;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::backend::{BackendError, CandleGenerator, Flow, LoadOptions, TextGenerator};
use crate::config::{Config, GeneratorKind, LoopGuardConfig};
use crate::models;
use crate::ngram::{CharNgram, NgramGenerator};
use crate::prompts::{LanguagePack, PromptLibrary};
use crate::types::{
    FinishReason, GenerationRequest, GeneratorInfo, LogitBias, RawRecord, Timings, TokenCounts,
    VocabBias,
};
use plan::{make_plan, PlanInputs, PlannedRequest, SeedSource};

/// The file generations are appended to.
pub const RAW_FILE: &str = "raw.jsonl";

/// Errors of the generate stage.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Bad inputs (corpora, templates, configuration).
    #[error("{0}")]
    Input(String),
    /// The run directory holds records of another configuration.
    #[error("{path} line {line}: record `{id}` is not part of this run's plan: the directory was written with another configuration or seed; use a new --out directory")]
    ForeignRecord {
        /// The raw file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The record id.
        id: String,
    },
    /// A complete line of the raw file is not a record.
    #[error("{path} line {line}: not a valid record: {message}")]
    BadRecord {
        /// The raw file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The parse error.
        message: String,
    },
    /// A model failed to load or generate.
    #[error("model `{model}`: {source}")]
    Model {
        /// The model id.
        model: String,
        /// The backend error.
        source: BackendError,
    },
    /// Model resolution failed.
    #[error(transparent)]
    Resolve(#[from] models::ModelError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> GenerateError + '_ {
    move |e| GenerateError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Detects a generation that repeats itself: the last `ngram` words already occurred
/// `max_repeats` times.
#[derive(Debug)]
pub struct LoopGuard {
    cfg: LoopGuardConfig,
    text: String,
}

impl LoopGuard {
    /// A guard with the given settings.
    pub fn new(cfg: &LoopGuardConfig) -> Self {
        Self {
            cfg: cfg.clone(),
            text: String::new(),
        }
    }

    /// Feed a piece of text; `true` when the output has fallen into a loop.
    pub fn push(&mut self, piece: &str) -> bool {
        self.text.push_str(piece);
        if !self.cfg.enabled {
            return false;
        }
        let words: Vec<&str> = self.text.split_whitespace().collect();
        let n = self.cfg.ngram;
        if words.len() < n * self.cfg.max_repeats {
            return false;
        }
        let last = &words[words.len() - n..];
        let count = words.windows(n).filter(|w| *w == last).count();
        count >= self.cfg.max_repeats
    }
}

/// Per-model totals of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelSummary {
    /// Records written in this invocation.
    pub samples: usize,
    /// Tokens generated.
    pub tokens: usize,
    /// Seconds generating (prompt + generation).
    pub seconds: f64,
    /// Records by finish reason.
    pub finish_reasons: BTreeMap<String, usize>,
}

/// What a generate invocation did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GenerateSummary {
    /// Requests in the plan.
    pub planned: usize,
    /// Records already present when the run started (resumed).
    pub already_done: usize,
    /// Records written now.
    pub written: usize,
    /// Whether the run stopped early on an interrupt.
    pub interrupted: bool,
    /// A torn last line that was discarded, in bytes.
    pub discarded_bytes: u64,
    /// Per model id.
    pub models: BTreeMap<String, ModelSummary>,
    /// Run fingerprint.
    pub fingerprint: String,
}

/// Options of a generate invocation.
#[derive(Debug, Clone, Default)]
pub struct GenerateOptions {
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Set to stop after the record in hand (Ctrl-C).
    pub interrupt: Arc<AtomicBool>,
    /// Stop after writing this many records in this invocation (for tests of resumption).
    pub limit: Option<usize>,
}

/// The fingerprint of a run: configuration (less the sample count), seed sentences, templates and
/// language pack.
pub fn fingerprint(
    config: &Config,
    sources: &[SeedSource],
    lib: &PromptLibrary,
    lang: &LanguagePack,
) -> String {
    // The plan is prefix-stable (request i does not depend on how many follow), so the number of
    // samples is left out: a run can be extended (`--target-kept`) without changing its ids.
    let mut generate = config.generate.clone();
    generate.samples = 0;
    let mut h = Sha256::new();
    h.update(
        serde_json::to_string(&(&config.lang, &config.script, config.seed, &generate))
            .unwrap_or_default(),
    );
    for s in sources {
        h.update(s.id.as_bytes());
        h.update(s.weight.to_le_bytes());
        for (text, id, depth) in &s.sentences {
            h.update(text.as_bytes());
            h.update(id.as_bytes());
            h.update(depth.to_le_bytes());
        }
    }
    for t in lib.templates.values() {
        h.update(t.sha256.as_bytes());
    }
    h.update(lang.sha256.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Read the ids already in `raw.jsonl`, cutting off a torn last line. Returns the ids (in file
/// order) and the number of bytes discarded.
pub fn recover_raw(path: &Path) -> Result<(Vec<String>, u64), GenerateError> {
    if !path.exists() {
        return Ok((Vec::new(), 0));
    }
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io(path))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(io(path))?;
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let discarded = (bytes.len() - keep) as u64;
    if discarded > 0 {
        f.set_len(keep as u64).map_err(io(path))?;
        f.seek(SeekFrom::End(0)).map_err(io(path))?;
    }
    let mut ids = Vec::new();
    for (i, line) in bytes[..keep].split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        #[derive(serde::Deserialize)]
        struct IdOnly {
            id: String,
        }
        let rec: IdOnly = serde_json::from_slice(line).map_err(|e| GenerateError::BadRecord {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        ids.push(rec.id);
    }
    Ok((ids, discarded))
}

/// RFC 3339 UTC timestamp of now, to the second.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

struct Loaded {
    generator: Box<dyn TextGenerator>,
    info: GeneratorInfo,
    /// The vocabulary bias of this model's requests, when configured and the generator has
    /// token ids.
    bias: Option<(Arc<LogitBias>, VocabBias)>,
}

/// The token set of the seed sentences as `generator` splits them, and its record.
fn vocab_bias(
    generator: &dyn TextGenerator,
    bias: f32,
    sources: &[SeedSource],
) -> Result<Option<(Arc<LogitBias>, VocabBias)>, BackendError> {
    if bias == 0.0 {
        return Ok(None);
    }
    let mut ids = Vec::new();
    for s in sources {
        for (text, _, _) in &s.sentences {
            match generator.token_ids(text)? {
                Some(t) => ids.extend(t),
                None => return Ok(None),
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let mut h = Sha256::new();
    for id in &ids {
        h.update(id.to_le_bytes());
    }
    let record = VocabBias {
        bias,
        source: "seed".into(),
        tokens: ids.len(),
        sha256: format!("{:x}", h.finalize()),
    };
    Ok(Some((Arc::new(LogitBias { ids, bias }), record)))
}

fn load_generator(
    config: &Config,
    index: usize,
    sources: &[SeedSource],
) -> Result<Loaded, GenerateError> {
    let m = &config.generate.models[index];
    let model_err = |source| GenerateError::Model {
        model: m.id.clone(),
        source,
    };
    match m.kind {
        GeneratorKind::Ngram => {
            let docs = sources
                .iter()
                .flat_map(|s| s.sentences.iter().map(|x| x.0.as_str()));
            let g = NgramGenerator::new(CharNgram::train(m.order, docs));
            let info = g.info().clone();
            Ok(Loaded {
                bias: None,
                info: GeneratorInfo {
                    id: m.id.clone(),
                    kind: "ngram".into(),
                    backend: "synthcorpus-ngram".into(),
                    name: info.name,
                    architecture: info.architecture,
                    quantization: info.quantization,
                    sha256: info.sha256.unwrap_or_default(),
                    tokenizer_sha256: g.tokenizer_sha256().to_string(),
                },
                generator: Box::new(g),
            })
        }
        GeneratorKind::Llm => {
            let path = models::resolve(&m.model)?;
            let sha = models::sha256_cached(&path)?;
            let opts = LoadOptions {
                tokenizer_json: m.tokenizer.clone(),
                context_length: config.generate.context,
                ..LoadOptions::default()
            };
            let g = CandleGenerator::load(&path, &opts).map_err(model_err)?;
            let info = g.info().clone();
            let bias =
                vocab_bias(&g, config.generate.sampling.vocab_bias, sources).map_err(model_err)?;
            Ok(Loaded {
                bias,
                info: GeneratorInfo {
                    id: m.id.clone(),
                    kind: "llm".into(),
                    backend: "candle".into(),
                    name: info.name,
                    architecture: info.architecture,
                    quantization: info.quantization,
                    sha256: sha,
                    tokenizer_sha256: g.tokenizer_sha256().to_string(),
                },
                generator: Box::new(g),
            })
        }
    }
}

fn finish_name(f: FinishReason, looped: bool) -> &'static str {
    match f {
        FinishReason::Eos => "eos",
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::Context => "context",
        FinishReason::Cancelled if looped => "loop",
        FinishReason::Cancelled => "cancelled",
    }
}

/// Run (or resume) generation into `config.out`.
pub fn run(
    config: &Config,
    sources: &[SeedSource],
    library: &PromptLibrary,
    lang: &LanguagePack,
    opts: &GenerateOptions,
) -> Result<GenerateSummary, GenerateError> {
    let out = &config.out;
    std::fs::create_dir_all(out).map_err(io(out))?;
    let fp = fingerprint(config, sources, library, lang);
    let resolved = out.join("config.resolved.toml");
    let text = toml::to_string(config).map_err(|e| GenerateError::Input(e.to_string()))?;
    std::fs::write(&resolved, text).map_err(io(&resolved))?;

    let raw_path = out.join(RAW_FILE);
    let (done_ids, discarded) = recover_raw(&raw_path)?;
    // The plan is prefix-stable: plan as far as the records already made reach, so that a run
    // extended earlier (target mode) and now asked for fewer samples keeps its records.
    let wanted = config.generate.samples;
    let mut planned = config.generate.clone();
    planned.samples = wanted.max(done_ids.len());
    let plan = make_plan(&PlanInputs {
        seed: config.seed,
        config: &planned,
        library,
        lang,
        sources,
        fingerprint: &fp,
    })?;
    let plan_ids: BTreeMap<&str, usize> = plan.iter().map(|r| (r.id.as_str(), r.index)).collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    for (line, id) in done_ids.iter().enumerate() {
        if !plan_ids.contains_key(id.as_str()) {
            return Err(GenerateError::ForeignRecord {
                path: raw_path.clone(),
                line: line + 1,
                id: id.clone(),
            });
        }
        done.insert(id.clone());
    }
    let todo: Vec<&PlannedRequest> = plan
        .iter()
        .filter(|r| r.index < wanted && !done.contains(&r.id))
        .collect();
    let mut summary = GenerateSummary {
        planned: wanted,
        already_done: done.len(),
        discarded_bytes: discarded,
        fingerprint: fp,
        ..GenerateSummary::default()
    };
    if todo.is_empty() {
        return Ok(summary);
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&raw_path)
        .map_err(io(&raw_path))?;
    let mut writer = BufWriter::new(file);
    let mut loaded: BTreeMap<usize, Loaded> = BTreeMap::new();
    let bar = progress_bar(
        opts.progress,
        wanted as u64,
        (done.len().min(wanted)) as u64,
    );
    let started = Instant::now();
    let mut tokens_total = 0usize;
    for req in todo {
        if opts.interrupt.load(Ordering::SeqCst) {
            summary.interrupted = true;
            break;
        }
        if opts.limit.is_some_and(|l| summary.written >= l) {
            break;
        }
        let gen = match loaded.entry(req.model) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(load_generator(config, req.model, sources)?)
            }
        };
        let mut sampling = req.sampling.clone();
        sampling.vocab_bias = gen.bias.as_ref().map(|b| b.1.clone());
        let request = GenerationRequest {
            prompt: req.prompt.text.clone(),
            mode: req.prompt.mode,
            params: sampling.clone(),
            logit_bias: gen.bias.as_ref().map(|b| b.0.clone()),
        };
        let mut guard = LoopGuard::new(&config.generate.loop_guard);
        let mut looped = false;
        let completion = gen
            .generator
            .generate(&request, &mut |piece| {
                if guard.push(piece) {
                    looped = true;
                    Flow::Stop
                } else {
                    Flow::Continue
                }
            })
            .map_err(|source| GenerateError::Model {
                model: gen.info.id.clone(),
                source,
            })?;
        let finish = finish_name(completion.finish_reason, looped);
        let record = RawRecord {
            id: req.id.clone(),
            synthetic: true,
            lang: config.lang.clone(),
            script: config.script.clone(),
            text: completion.text.clone(),
            index: req.index,
            generator: gen.info.clone(),
            prompt: req.prompt.clone(),
            sampling,
            lineage_depth: req.lineage_depth,
            tokens: TokenCounts {
                prompt: completion.prompt_tokens,
                completion: completion.tokens.len(),
                prompt_truncated: completion.prompt_truncated,
            },
            finish_reason: finish.to_string(),
            timings: Timings {
                prompt_seconds: completion.prompt_seconds,
                generation_seconds: completion.generation_seconds,
            },
            created_at: now_rfc3339(),
            tool: format!("synthcorpus {}", env!("CARGO_PKG_VERSION")),
        };
        let mut line =
            serde_json::to_string(&record).map_err(|e| GenerateError::Input(e.to_string()))?;
        line.push('\n');
        writer.write_all(line.as_bytes()).map_err(io(&raw_path))?;
        writer.flush().map_err(io(&raw_path))?;
        summary.written += 1;
        let ms = summary.models.entry(gen.info.id.clone()).or_default();
        ms.samples += 1;
        ms.tokens += completion.tokens.len();
        ms.seconds += completion.prompt_seconds + completion.generation_seconds;
        *ms.finish_reasons.entry(finish.to_string()).or_default() += 1;
        tokens_total += completion.tokens.len();
        if let Some(b) = &bar {
            b.inc(1);
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            b.set_message(format!("{:.1} tok/s", tokens_total as f64 / secs));
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    writer
        .into_inner()
        .map_err(|e| GenerateError::Io {
            path: raw_path.clone(),
            source: e.into_error(),
        })?
        .sync_all()
        .map_err(io(&raw_path))?;
    Ok(summary)
}

fn progress_bar(show: bool, total: u64, done: u64) -> Option<indicatif::ProgressBar> {
    if !show {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    let style =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} samples  {msg}  eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_position(done);
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_guard_catches_repetition() {
        let mut g = LoopGuard::new(&LoopGuardConfig::default());
        assert!(!g.push("vho bebwa vhe vhathu "));
        assert!(!g.push("vho bhathe vho bhathe "));
        assert!(g.push("vho bhathe vho bhathe vho bhathe"));
    }

    #[test]
    fn torn_last_line_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(RAW_FILE);
        std::fs::write(&p, "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c").unwrap();
        let (ids, discarded) = recover_raw(&p).unwrap();
        assert_eq!(ids, vec!["a", "b"]);
        assert_eq!(discarded, 8);
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"id\":\"a\"}\n{\"id\":\"b\"}\n"
        );
    }

    #[test]
    fn a_bad_complete_line_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(RAW_FILE);
        std::fs::write(&p, "{\"id\":\"a\"}\nnot json\n").unwrap();
        let e = recover_raw(&p).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }
}
