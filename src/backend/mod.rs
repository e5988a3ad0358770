//! The generation backend: local GGUF models through Candle.
//!
//! This module is candle's only door into synthcorpus. It exposes a small trait,
//! [`TextGenerator`], and one implementation, [`CandleGenerator`], which loads a GGUF file,
//! builds its tokenizer (from a `tokenizer.json` or from the GGUF metadata), and runs the
//! generation loop with the [`sampler`].

pub mod arch;
mod attention;
pub mod chat;
pub mod gemma3;
pub mod gguf;
pub mod qmm;
pub mod qwen2;
pub mod requant;
pub mod sampler;
pub mod tokenizer;

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor};

use crate::types::{
    Completion, FinishReason, GenerationRequest, ModelInfo, PromptMode, SamplingParams,
};
use arch::Model;
use chat::{ChatTemplate, Message};
use gguf::GgufFile;
use sampler::Sampler;
use tokenizer::{token_type, Tokenizer, TokenizerSpec, VocabKind};

/// Errors of the backend. Each names the file or the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The model file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a usable GGUF model.
    #[error("{path}: {reason}")]
    BadModel {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The architecture is not one synthcorpus runs.
    #[error("{path}: unsupported architecture `{arch}` (supported: {})", arch::SUPPORTED.join(", "))]
    UnsupportedArchitecture {
        /// The file.
        path: PathBuf,
        /// `general.architecture`.
        arch: String,
    },
    /// No tokenizer could be built.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The chat template failed to compile or render.
    #[error("chat template: {0}")]
    ChatTemplate(String),
    /// Chat mode was asked of a model without a chat template.
    #[error("{0}: the model has no chat template; use completion mode")]
    NoChatTemplate(PathBuf),
    /// The prompt does not fit the context and truncation is off.
    #[error("the prompt has {prompt} tokens; with {max_new} new tokens it exceeds the context of {context}")]
    ContextOverflow {
        /// Prompt tokens.
        prompt: usize,
        /// Requested new tokens.
        max_new: usize,
        /// Context length in use.
        context: usize,
    },
    /// A tensor computation failed.
    #[error("model computation failed: {0}")]
    Compute(String),
}

impl From<candle_core::Error> for BackendError {
    fn from(e: candle_core::Error) -> Self {
        BackendError::Compute(e.to_string())
    }
}

/// What the observer of a generation wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Stop now; the completion ends with [`FinishReason::Cancelled`].
    Stop,
}

/// A text generator: one loaded model.
pub trait TextGenerator {
    /// What the model is.
    fn info(&self) -> &ModelInfo;
    /// A stable hash of the tokenizer, for provenance.
    fn tokenizer_sha256(&self) -> &str;
    /// Number of tokens of `text` in completion mode (no BOS).
    fn count_tokens(&self, text: &str) -> Result<usize, BackendError>;
    /// The token ids of `text` in completion mode (no BOS), for generators that have token
    /// ids (`None`: this generator takes no logit bias).
    fn token_ids(&self, text: &str) -> Result<Option<Vec<u32>>, BackendError> {
        let _ = text;
        Ok(None)
    }
    /// Generate a completion. `observer` receives each new piece of text as it is decoded and
    /// may stop generation.
    fn generate(
        &mut self,
        request: &GenerationRequest,
        observer: &mut dyn FnMut(&str) -> Flow,
    ) -> Result<Completion, BackendError>;
}

/// What to do when prompt + new tokens exceed the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Drop the oldest prompt tokens (keeping BOS).
    #[default]
    TruncateLeft,
    /// Refuse the request.
    Error,
}

/// Options for loading a model.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// A `tokenizer.json` to use instead of the GGUF metadata.
    pub tokenizer_json: Option<PathBuf>,
    /// Context length in tokens (prompt + completion); capped at the model's own.
    pub context_length: usize,
    /// Prompt overflow policy.
    pub overflow: Overflow,
    /// Use a CUDA or Metal device when the crate was built with that feature.
    pub gpu: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            tokenizer_json: None,
            context_length: 4096,
            overflow: Overflow::TruncateLeft,
            gpu: false,
        }
    }
}

/// Set the number of CPU threads candle's kernels use. Call before loading any model.
pub fn set_threads(n: usize) {
    if n > 0 {
        // Read by candle's thread pools when they start; set before any model work.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
    }
}

/// Describe a GGUF file without loading its weights.
pub fn inspect(path: &Path) -> Result<ModelInfo, BackendError> {
    GgufFile::open(path)?.describe()
}

/// A GGUF model loaded with Candle.
pub struct CandleGenerator {
    model: Model,
    tokenizer: Tokenizer,
    chat_template: Option<Result<ChatTemplate, BackendError>>,
    info: ModelInfo,
    device: Device,
    context: usize,
    overflow: Overflow,
    path: PathBuf,
}

impl std::fmt::Debug for CandleGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CandleGenerator")
            .field("info", &self.info)
            .finish()
    }
}

fn device(gpu: bool) -> Result<Device, BackendError> {
    if gpu {
        if candle_core::utils::cuda_is_available() {
            return Device::new_cuda(0).map_err(Into::into);
        }
        if candle_core::utils::metal_is_available() {
            return Device::new_metal(0).map_err(Into::into);
        }
    }
    Ok(Device::Cpu)
}

/// Read the tokenizer description from GGUF metadata.
pub fn tokenizer_spec(g: &GgufFile) -> Result<TokenizerSpec, BackendError> {
    let mut spec = TokenizerSpec::default();
    let Some(model) = g.opt_string("tokenizer.ggml.model") else {
        return Ok(spec);
    };
    spec.kind = match model {
        "llama" => Some(VocabKind::Spm),
        "gpt2" => Some(VocabKind::Gpt2),
        other => {
            return Err(BackendError::Tokenizer(format!(
                "{}: tokenizer.ggml.model = `{other}` is not supported (supported: llama, gpt2)",
                g.path.display()
            )))
        }
    };
    let bad =
        |key: &str| BackendError::Tokenizer(format!("{}: `{key}` is malformed", g.path.display()));
    let strings = |key: &str| -> Result<Vec<String>, BackendError> {
        match g.opt_array(key) {
            None => Ok(Vec::new()),
            Some(a) => a
                .iter()
                .map(|v| v.to_string().cloned().map_err(|_| bad(key)))
                .collect(),
        }
    };
    spec.tokens = strings("tokenizer.ggml.tokens")?;
    spec.merges = strings("tokenizer.ggml.merges")?;
    if let Some(a) = g.opt_array("tokenizer.ggml.scores") {
        spec.scores = a
            .iter()
            .map(|v| v.to_f32().map_err(|_| bad("tokenizer.ggml.scores")))
            .collect::<Result<_, _>>()?;
    }
    if let Some(a) = g.opt_array("tokenizer.ggml.token_type") {
        spec.token_types = a
            .iter()
            .map(|v| v.to_i32().map_err(|_| bad("tokenizer.ggml.token_type")))
            .collect::<Result<_, _>>()?;
    }
    spec.pre = g.opt_string("tokenizer.ggml.pre").map(str::to_string);
    let id = |key: &str| g.opt_u64(key).map(|v| v as u32);
    spec.bos = id("tokenizer.ggml.bos_token_id");
    spec.eos = id("tokenizer.ggml.eos_token_id");
    for key in ["tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
        spec.eog.extend(id(key));
    }
    // As llama.cpp: well-known end-of-turn pieces end generation too.
    const EOG_TEXTS: &[&str] = &[
        "<end_of_turn>",
        "<|im_end|>",
        "<|endoftext|>",
        "<|eot_id|>",
        "<|end|>",
        "<|end_of_text|>",
        "</s>",
    ];
    // llama.cpp also marks such tokens as control tokens, so that in plain text (no special
    // parsing) `</s>` is three ordinary pieces, not the token.
    let mut marked = Vec::new();
    for (i, t) in spec.tokens.iter().enumerate() {
        let special = spec
            .token_types
            .get(i)
            .is_none_or(|&ty| ty == token_type::CONTROL || ty == token_type::USER_DEFINED);
        if special && EOG_TEXTS.contains(&t.as_str()) {
            spec.eog.push(i as u32);
            marked.push(i);
        }
    }
    for i in marked {
        if let Some(ty) = spec.token_types.get_mut(i) {
            *ty = token_type::CONTROL;
        }
    }
    spec.add_bos = g
        .opt_bool("tokenizer.ggml.add_bos_token")
        .unwrap_or(spec.kind == Some(VocabKind::Spm));
    spec.add_space_prefix = g
        .opt_bool("tokenizer.ggml.add_space_prefix")
        .unwrap_or(spec.kind == Some(VocabKind::Spm));
    Ok(spec)
}

impl CandleGenerator {
    /// Load a GGUF model. Errors name the file and what is wrong with it.
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Self, BackendError> {
        let g = GgufFile::open(path)?;
        let arch = g.architecture()?.to_string();
        if !arch::SUPPORTED.contains(&arch.as_str()) {
            return Err(BackendError::UnsupportedArchitecture {
                path: path.to_path_buf(),
                arch,
            });
        }
        validate_hparams(&g, &arch)?;
        let info = g.describe()?;
        let spec = tokenizer_spec(&g)?;
        let json = options.tokenizer_json.clone().or_else(|| beside(path));
        let in_file = |e: BackendError| match e {
            BackendError::Tokenizer(m) if !m.contains(&path.display().to_string()) => {
                BackendError::Tokenizer(format!("{}: {m}", path.display()))
            }
            other => other,
        };
        let tokenizer = match json {
            Some(j) => Tokenizer::from_json_file(&j, &spec)?,
            None if spec.kind.is_some() => Tokenizer::from_spec(&spec).map_err(in_file)?,
            None => {
                return Err(BackendError::Tokenizer(format!(
                    "{}: no tokenizer metadata in the GGUF and no tokenizer.json beside it \
                     (give one with --tokenizer)",
                    path.display()
                )))
            }
        };
        // A broken template only matters in chat mode: keep the error for then.
        let chat_template = g.opt_string("tokenizer.chat_template").map(|src| {
            ChatTemplate::new(src)
                .map_err(|e| BackendError::ChatTemplate(format!("{}: {e}", path.display())))
        });
        let model_ctx = info.context_length as usize;
        let context = if model_ctx > 0 {
            options.context_length.min(model_ctx)
        } else {
            options.context_length
        }
        .max(8);
        let device = device(options.gpu)?;
        let file = File::open(path).map_err(|e| BackendError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let GgufFile { content, .. } = g;
        let (content, mut reader, _converted) =
            requant::RequantReader::new(BufReader::new(file), content);
        let model = Model::load(&arch, content, &mut reader, &device, context).map_err(|e| {
            BackendError::BadModel {
                path: path.to_path_buf(),
                reason: format!("cannot load the weights: {e}"),
            }
        })?;
        let context = model.position_limit().map_or(context, |l| l.min(context));
        let mut this = Self {
            model,
            tokenizer,
            chat_template,
            info,
            device,
            context,
            overflow: options.overflow,
            path: path.to_path_buf(),
        };
        // One forward pass now, so inconsistent shapes are reported as a bad file at load time
        // rather than as a failed computation in the middle of a run.
        let probe = this.tokenizer.bos().unwrap_or(0);
        if probe as usize >= this.tokenizer.vocab_size() {
            return Err(BackendError::BadModel {
                path: path.to_path_buf(),
                reason: format!("BOS token id {probe} is outside the vocabulary"),
            });
        }
        this.logits(&[probe], 0)
            .map_err(|e| BackendError::BadModel {
                path: path.to_path_buf(),
                reason: format!("the weights do not fit together: {e}"),
            })?;
        this.reset();
        Ok(this)
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The context length in use.
    pub fn context_length(&self) -> usize {
        self.context
    }

    /// The prompt's token ids as the model will see them (chat template applied in chat mode),
    /// before any truncation.
    pub fn prompt_tokens(&self, prompt: &str, mode: PromptMode) -> Result<Vec<u32>, BackendError> {
        match mode {
            PromptMode::Completion => self.tokenizer.encode_prompt(prompt, false),
            PromptMode::Chat => {
                let tmpl = match &self.chat_template {
                    None => return Err(BackendError::NoChatTemplate(self.path.clone())),
                    Some(Err(e)) => return Err(BackendError::ChatTemplate(e.to_string())),
                    Some(Ok(t)) => t,
                };
                let piece = |id: Option<u32>| {
                    id.and_then(|i| self.tokenizer.id_to_token(i))
                        .unwrap_or_default()
                };
                let eos = self.tokenizer.eog_ids().iter().next().copied();
                let text = tmpl.render(
                    &[Message {
                        role: "user",
                        content: prompt,
                    }],
                    &piece(self.tokenizer.bos()),
                    &piece(eos),
                )?;
                self.tokenizer.encode_prompt(&text, true)
            }
        }
    }

    /// Logits of the last position after feeding `tokens` at `pos`.
    pub fn logits(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>, BackendError> {
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = self.model.forward(&input, pos)?;
        let logits = logits.flatten_all()?.to_dtype(candle_core::DType::F32)?;
        let v: Vec<f32> = logits.to_vec1()?;
        let vocab = self.tokenizer.vocab_size().min(v.len());
        Ok(v[v.len() - vocab..].to_vec())
    }

    /// Forget the KV cache.
    pub fn reset(&mut self) {
        self.model.clear_cache();
    }

    fn fit_prompt(
        &self,
        mut ids: Vec<u32>,
        params: &SamplingParams,
    ) -> Result<(Vec<u32>, usize), BackendError> {
        let budget = self.context.saturating_sub(params.max_new_tokens.max(1));
        if ids.len() <= budget {
            return Ok((ids, 0));
        }
        if self.overflow == Overflow::Error || budget < 2 {
            return Err(BackendError::ContextOverflow {
                prompt: ids.len(),
                max_new: params.max_new_tokens,
                context: self.context,
            });
        }
        let keep_bos =
            self.tokenizer.bos().is_some() && ids.first() == self.tokenizer.bos().as_ref();
        let dropped = ids.len() - budget;
        let start = usize::from(keep_bos);
        ids.drain(start..start + dropped);
        Ok((ids, dropped))
    }
}

/// Check the hyper-parameters the model code divides by or sizes tables with, so a malformed
/// file is an error naming the key rather than a panic inside candle.
fn validate_hparams(g: &GgufFile, arch: &str) -> Result<(), BackendError> {
    let bad = |key: &str, reason: String| BackendError::BadModel {
        path: g.path.clone(),
        reason: format!("metadata key `{key}` {reason}"),
    };
    let positive = |key: &str| -> Result<u64, BackendError> {
        match g.opt_u64(key) {
            None => Err(bad(key, "is missing or not an integer".into())),
            Some(0) => Err(bad(key, "is 0".into())),
            Some(v) => Ok(v),
        }
    };
    let heads = positive(&format!("{arch}.attention.head_count"))?;
    let kv_key = format!("{arch}.attention.head_count_kv");
    let kv = match g.opt_u64(&kv_key) {
        Some(0) => return Err(bad(&kv_key, "is 0".into())),
        Some(v) => v,
        None => heads,
    };
    if heads % kv != 0 {
        return Err(bad(
            &kv_key,
            format!("({kv}) does not divide the head count ({heads})"),
        ));
    }
    let embd_key = format!("{arch}.embedding_length");
    let embd = positive(&embd_key)?;
    if g.opt_u64(&format!("{arch}.attention.key_length")).is_none() && embd % heads != 0 {
        return Err(bad(
            &embd_key,
            format!("({embd}) is not a multiple of the head count ({heads})"),
        ));
    }
    positive(&format!("{arch}.block_count"))?;
    if matches!(arch, "qwen2" | "qwen3" | "phi3") {
        positive(&format!("{arch}.context_length"))?;
    }
    if arch == "gemma3" {
        positive("gemma3.attention.sliding_window")?;
    }
    Ok(())
}

/// A `tokenizer.json` beside the model: `<stem>.tokenizer.json`.
fn beside(path: &Path) -> Option<PathBuf> {
    let stem = path.file_stem()?.to_string_lossy().into_owned();
    let p = path.with_file_name(format!("{stem}.tokenizer.json"));
    p.is_file().then_some(p)
}

/// Find the first stop string in `text`, returning its byte offset.
fn find_stop(text: &str, stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min()
}

/// The longest suffix of `text` that is a proper prefix of a stop string: held back from the
/// observer until it is known not to start a stop string.
fn held_back(text: &str, stops: &[String]) -> usize {
    let mut hold = 0;
    for s in stops {
        for (i, _) in s.char_indices().skip(1) {
            if text.ends_with(&s[..i]) {
                hold = hold.max(i);
            }
        }
    }
    hold
}

impl TextGenerator for CandleGenerator {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn tokenizer_sha256(&self) -> &str {
        self.tokenizer.sha256()
    }

    fn count_tokens(&self, text: &str) -> Result<usize, BackendError> {
        Ok(self.tokenizer.encode(text, false)?.len())
    }

    fn token_ids(&self, text: &str) -> Result<Option<Vec<u32>>, BackendError> {
        Ok(Some(self.tokenizer.encode(text, false)?))
    }

    fn generate(
        &mut self,
        request: &GenerationRequest,
        observer: &mut dyn FnMut(&str) -> Flow,
    ) -> Result<Completion, BackendError> {
        let params = &request.params;
        let ids = self.prompt_tokens(&request.prompt, request.mode)?;
        let (prompt, truncated) = self.fit_prompt(ids, params)?;
        let mut sampler = Sampler::new(params);
        let mut history = prompt.clone();
        let mut generated: Vec<u32> = Vec::new();
        let mut text = String::new();
        let mut emitted = 0usize;
        let mut finish = FinishReason::Length;

        self.reset();
        let t0 = Instant::now();
        let mut logits = if prompt.is_empty() {
            Vec::new()
        } else {
            self.logits(&prompt, 0)?
        };
        let prompt_seconds = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let mut pos = prompt.len();
        while generated.len() < params.max_new_tokens {
            if logits.is_empty() {
                break;
            }
            if pos >= self.context {
                finish = FinishReason::Context;
                break;
            }
            if let Some(bias) = &request.logit_bias {
                bias.apply(&mut logits);
            }
            let next = sampler.sample(&mut logits, &history);
            if self.tokenizer.is_eog(next) {
                finish = FinishReason::Eos;
                break;
            }
            generated.push(next);
            history.push(next);
            text = self.tokenizer.decode(&generated)?;
            if let Some(cut) = find_stop(&text, &params.stop) {
                text.truncate(cut);
                finish = FinishReason::Stop;
            }
            // Emit what is settled: no trailing partial UTF-8 (U+FFFD) or possible stop prefix.
            let mut settled = text.len() - held_back(&text, &params.stop);
            while settled > emitted && text[..settled].ends_with('\u{FFFD}') {
                settled -= '\u{FFFD}'.len_utf8();
            }
            if finish == FinishReason::Stop {
                settled = text.len();
            }
            if settled > emitted && text.is_char_boundary(settled) && text.is_char_boundary(emitted)
            {
                let flow = observer(&text[emitted..settled]);
                emitted = settled;
                if flow == Flow::Stop {
                    finish = FinishReason::Cancelled;
                    break;
                }
            }
            if finish == FinishReason::Stop {
                break;
            }
            if generated.len() >= params.max_new_tokens {
                break;
            }
            logits = self.logits(&[next], pos)?;
            pos += 1;
        }
        if emitted < text.len() && finish != FinishReason::Cancelled {
            let _ = observer(&text[emitted..]);
        }
        Ok(Completion {
            text,
            tokens: generated,
            prompt_tokens: prompt.len(),
            prompt_truncated: truncated,
            finish_reason: finish,
            prompt_seconds,
            generation_seconds: t1.elapsed().as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_strings_are_found_and_held_back() {
        let stops = vec!["\n\n".to_string(), "END".to_string()];
        assert_eq!(find_stop("abc\n\ndef", &stops), Some(3));
        assert_eq!(find_stop("abc", &stops), None);
        assert_eq!(held_back("abc\n", &stops), 1);
        assert_eq!(held_back("abEN", &stops), 2);
        assert_eq!(held_back("abc", &stops), 0);
    }
}
