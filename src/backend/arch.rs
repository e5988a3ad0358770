//! Architecture dispatch: one type over every supported model family.

use std::io::{Read, Seek};

use candle_core::quantized::gguf_file::Content;
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_phi3, quantized_qwen3};

use super::gemma3::Gemma3;
use super::qwen2::Qwen2;

/// `general.architecture` values synthcorpus can run.
pub const SUPPORTED: &[&str] = &["gemma3", "qwen2", "llama", "qwen3", "phi3"];

/// A loaded model of any supported architecture.
pub enum Model {
    /// Gemma 3, synthcorpus's own forward pass.
    Gemma3(Box<Gemma3>),
    /// Llama 2/3 and Mistral-style models (candle-transformers).
    Llama(Box<quantized_llama::ModelWeights>),
    /// Qwen 2 / 2.5, synthcorpus's own forward pass.
    Qwen2(Box<Qwen2>),
    /// Qwen 3 (candle-transformers).
    Qwen3(Box<quantized_qwen3::ModelWeights>),
    /// Phi-3 (candle-transformers).
    Phi3(Box<quantized_phi3::ModelWeights>),
}

impl Model {
    /// Load the weights for `arch`. `max_positions` bounds the context where the implementation
    /// lets us size its tables.
    pub fn load<R: Read + Seek>(
        arch: &str,
        content: Content,
        reader: &mut R,
        device: &Device,
        max_positions: usize,
    ) -> candle_core::Result<Self> {
        Ok(match arch {
            "gemma3" => Model::Gemma3(Box::new(Gemma3::from_gguf(
                &content,
                reader,
                device,
                max_positions,
            )?)),
            "llama" => Model::Llama(Box::new(quantized_llama::ModelWeights::from_gguf(
                content, reader, device,
            )?)),
            "qwen2" => Model::Qwen2(Box::new(Qwen2::from_gguf(
                &content,
                reader,
                device,
                max_positions,
            )?)),
            "qwen3" => Model::Qwen3(Box::new(quantized_qwen3::ModelWeights::from_gguf(
                content, reader, device,
            )?)),
            "phi3" => Model::Phi3(Box::new(quantized_phi3::ModelWeights::from_gguf(
                false, content, reader, device,
            )?)),
            other => candle_core::bail!("unsupported architecture {other}"),
        })
    }

    /// The longest context the implementation can hold, when it has a fixed one.
    pub fn position_limit(&self) -> Option<usize> {
        match self {
            Model::Gemma3(m) => Some(m.max_positions()),
            Model::Qwen2(m) => Some(m.max_positions()),
            Model::Llama(_) => Some(quantized_llama::MAX_SEQ_LEN),
            _ => None,
        }
    }

    /// Forget the KV cache.
    pub fn clear_cache(&mut self) {
        match self {
            Model::Gemma3(m) => m.clear_cache(),
            Model::Llama(m) => m.clear_kv_cache(),
            Model::Qwen2(m) => m.clear_cache(),
            Model::Qwen3(m) => m.clear_kv_cache(),
            // Phi-3 resets its cache whenever a sequence starts at position 0.
            Model::Phi3(_) => {}
        }
    }

    /// Logits `(batch, vocab)` of the last position of `tokens` `(batch, seq)` at `pos`.
    pub fn forward(&mut self, tokens: &Tensor, pos: usize) -> candle_core::Result<Tensor> {
        match self {
            Model::Gemma3(m) => m.forward(tokens, pos),
            Model::Llama(m) => m.forward(tokens, pos),
            Model::Qwen2(m) => m.forward(tokens, pos),
            Model::Qwen3(m) => m.forward(tokens, pos),
            Model::Phi3(m) => m.forward(tokens, pos),
        }
    }
}
