//! Gemma 3 forward pass, owned by synthcorpus.
//!
//! Adapted from candle-transformers 0.11.1's `quantized_gemma3` (MIT/Apache-2.0), with the
//! defects that make it unusable for the default model fixed:
//! - the MLP uses GELU (tanh approximation), as Gemma 3 does, not SiLU (candle issue 3745);
//! - rotary tables are sized to the context in use and shared by the layers, not built for
//!   131,072 positions per layer (3.6 GB of RSS for a 270M model);
//! - the sliding window is applied during cached decoding too, with llama.cpp's rule (a query at
//!   position `i` sees keys `j` with `i - j < window`), and the sliding layers' caches are trimmed
//!   to the window;
//! - the token embedding stays quantised (rows are dequantised on lookup) instead of being
//!   expanded to f32 (670 MB for Gemma's 262,144 × 640 table); the output projection shares it;
//! - the last position is made contiguous before the final norm so batches work.

use candle_core::quantized::gguf_file;
use candle_core::{Device, IndexOp, Module, Result, Tensor};
use candle_transformers::quantized_nn::RmsNorm;
use std::io::{Read, Seek};

use super::attention::{grouped_query, Rotary};
use super::qmm::{QEmbedding, QLinear, WeightLoader};

const DEFAULT_SLIDING_WINDOW_PATTERN: usize = 6;
const DEFAULT_ROPE_FREQUENCY: f32 = 1_000_000.;
const DEFAULT_ROPE_FREQUENCY_SLIDING: f32 = 10_000.;

#[derive(Debug, Clone)]
struct Layer {
    wq: QLinear,
    wk: QLinear,
    wv: QLinear,
    wo: QLinear,
    q_norm: RmsNorm,
    k_norm: RmsNorm,
    attn_norm: RmsNorm,
    post_attn_norm: RmsNorm,
    ffn_norm: RmsNorm,
    post_ffn_norm: RmsNorm,
    gate: QLinear,
    up: QLinear,
    down: QLinear,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
    /// `Some(window)` for sliding-window layers.
    window: Option<usize>,
    rotary: Rotary,
    /// Cached keys and values, and the absolute position of the first cached entry.
    cache: Option<(Tensor, Tensor, usize)>,
}

impl Layer {
    fn attention(&mut self, x: &Tensor, pos: usize) -> Result<Tensor> {
        let (b, seq_len, _) = x.dims3()?;
        let q = self
            .wq
            .forward(x)?
            .reshape((b, seq_len, self.n_head, self.head_dim))?
            .transpose(1, 2)?;
        let k = self
            .wk
            .forward(x)?
            .reshape((b, seq_len, self.n_kv_head, self.head_dim))?
            .transpose(1, 2)?;
        let v = self
            .wv
            .forward(x)?
            .reshape((b, seq_len, self.n_kv_head, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()?;
        let q = self.q_norm.forward(&q.contiguous()?)?;
        let k = self.k_norm.forward(&k.contiguous()?)?;
        let q = self.rotary.apply(&q, pos)?;
        let k = self.rotary.apply(&k, pos)?;

        let (k, v, first) = match self.cache.take() {
            Some((kc, vc, first)) if pos > 0 => (
                Tensor::cat(&[&kc, &k], 2)?,
                Tensor::cat(&[&vc, &v], 2)?,
                first,
            ),
            _ => (k, v, pos),
        };
        let kv_len = k.dim(2)?;
        // Keys at absolute positions first..first+kv_len; queries at pos..pos+seq_len.
        let mask = self.mask(seq_len, pos, first, kv_len, x.device())?;

        let out = grouped_query(&q, &k, &v, mask.as_ref())?;

        // Keep the cache; sliding layers only need the last `window - 1` keys for what follows.
        let (k, v, first) = match self.window {
            Some(w) if kv_len >= w => {
                let keep = w - 1;
                let drop = kv_len - keep;
                (
                    k.narrow(2, drop, keep)?.contiguous()?,
                    v.narrow(2, drop, keep)?.contiguous()?,
                    first + drop,
                )
            }
            _ => (k, v, first),
        };
        self.cache = Some((k, v, first));
        self.wo.forward(&out)
    }

    /// Additive mask (0 or -inf), or `None` when every key is visible to every query.
    fn mask(
        &self,
        seq_len: usize,
        pos: usize,
        first: usize,
        kv_len: usize,
        device: &Device,
    ) -> Result<Option<Tensor>> {
        let visible = |i: usize, j: usize| {
            let (qi, kj) = (pos + i, first + j);
            kj <= qi && self.window.is_none_or(|w| qi - kj < w)
        };
        let all_visible = (0..seq_len).all(|i| (0..kv_len).all(|j| visible(i, j)));
        if all_visible {
            return Ok(None);
        }
        let data: Vec<f32> = (0..seq_len)
            .flat_map(|i| {
                (0..kv_len).map(move |j| {
                    if visible(i, j) {
                        0.0
                    } else {
                        f32::NEG_INFINITY
                    }
                })
            })
            .collect();
        Ok(Some(Tensor::from_vec(
            data,
            (1, 1, seq_len, kv_len),
            device,
        )?))
    }

    fn mlp(&self, x: &Tensor) -> Result<Tensor> {
        let gate = self.gate.forward(x)?.gelu()?;
        let up = self.up.forward(x)?;
        self.down.forward(&(gate * up)?)
    }
}

/// Gemma 3 weights and KV cache.
#[derive(Debug, Clone)]
pub struct Gemma3 {
    embedding: QEmbedding,
    hidden: usize,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QLinear,
    max_positions: usize,
}

impl Gemma3 {
    /// Load from a parsed GGUF; rotary tables cover `max_positions` positions.
    pub fn from_gguf<R: Read + Seek>(
        ct: &gguf_file::Content,
        reader: &mut R,
        device: &Device,
        max_positions: usize,
    ) -> Result<Self> {
        let prefix = ["gemma3", "gemma2", "gemma", "gemma-embedding"]
            .iter()
            .find(|p| {
                ct.metadata
                    .contains_key(&format!("{p}.attention.head_count"))
            })
            .copied()
            .unwrap_or("gemma3");
        let md = |key: &str| {
            let key = format!("{prefix}.{key}");
            ct.metadata
                .get(&key)
                .ok_or_else(|| candle_core::Error::Msg(format!("metadata key `{key}` is missing")))
        };
        let n_head = md("attention.head_count")?.to_u32()? as usize;
        let n_kv_head = md("attention.head_count_kv")?.to_u32()? as usize;
        let n_layer = md("block_count")?.to_u32()? as usize;
        let hidden = md("embedding_length")?.to_u32()? as usize;
        let head_dim = md("attention.key_length")?.to_u32()? as usize;
        let eps = md("attention.layer_norm_rms_epsilon")?.to_f32()? as f64;
        let window = md("attention.sliding_window")?.to_u32()? as usize;
        let pattern = md("attention.sliding_window_type")
            .and_then(|m| Ok(m.to_u32()? as usize))
            .unwrap_or(DEFAULT_SLIDING_WINDOW_PATTERN);
        let base = md("rope.freq_base")
            .and_then(|m| m.to_f32())
            .unwrap_or(DEFAULT_ROPE_FREQUENCY);
        let base_local = md("rope.local_freq_base")
            .and_then(|m| m.to_f32())
            .unwrap_or(DEFAULT_ROPE_FREQUENCY_SLIDING);
        if n_kv_head == 0 || !n_head.is_multiple_of(n_kv_head) || pattern == 0 {
            candle_core::bail!(
                "inconsistent head counts {n_head}/{n_kv_head} or window pattern {pattern}"
            );
        }

        let rotary_global = Rotary::new(head_dim, base, max_positions, device)?;
        let rotary_local = Rotary::new(head_dim, base_local, max_positions, device)?;

        let w = WeightLoader::new(ct, device);
        let embedding = w.embedding(reader, "token_embd.weight")?;
        let norm = RmsNorm::from_qtensor(ct.tensor(reader, "output_norm.weight", device)?, eps)?;
        let linear = |name: &str, reader: &mut R| w.linear(reader, name);
        let output = if ct.tensor_infos.contains_key("output.weight") {
            linear("output.weight", reader)?
        } else {
            embedding.as_linear()?
        };
        let mut layers = Vec::with_capacity(n_layer);
        for i in 0..n_layer {
            let w = |s: &str| format!("blk.{i}.{s}.weight");
            let norm = |s: &str, reader: &mut R| {
                RmsNorm::from_qtensor(ct.tensor(reader, &w(s), device)?, eps)
            };
            let is_sliding = (i + 1) % pattern > 0;
            layers.push(Layer {
                wq: linear(&w("attn_q"), reader)?,
                wk: linear(&w("attn_k"), reader)?,
                wv: linear(&w("attn_v"), reader)?,
                wo: linear(&w("attn_output"), reader)?,
                q_norm: norm("attn_q_norm", reader)?,
                k_norm: norm("attn_k_norm", reader)?,
                attn_norm: norm("attn_norm", reader)?,
                post_attn_norm: norm("post_attention_norm", reader)?,
                ffn_norm: norm("ffn_norm", reader)?,
                post_ffn_norm: norm("post_ffw_norm", reader)?,
                gate: linear(&w("ffn_gate"), reader)?,
                up: linear(&w("ffn_up"), reader)?,
                down: linear(&w("ffn_down"), reader)?,
                n_head,
                n_kv_head,
                head_dim,
                window: is_sliding.then_some(window),
                rotary: if is_sliding {
                    rotary_local.clone()
                } else {
                    rotary_global.clone()
                },
                cache: None,
            });
        }
        Ok(Self {
            embedding,
            hidden,
            layers,
            norm,
            output,
            max_positions,
        })
    }

    /// How many positions the rotary tables cover.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// Forget the KV cache.
    pub fn clear_cache(&mut self) {
        for l in self.layers.iter_mut() {
            l.cache = None;
        }
    }

    /// Logits of the last position, shape `(batch, vocab)`. `x` holds token ids `(batch, seq)`
    /// at absolute positions `pos..pos + seq`; `pos == 0` starts a new sequence.
    pub fn forward(&mut self, x: &Tensor, pos: usize) -> Result<Tensor> {
        let (_, seq_len) = x.dims2()?;
        if pos + seq_len > self.max_positions {
            candle_core::bail!(
                "position {} is past the context of {} positions",
                pos + seq_len,
                self.max_positions
            );
        }
        let mut h = (self.embedding.lookup(x)? * (self.hidden as f64).sqrt())?;
        for layer in self.layers.iter_mut() {
            let residual = h.clone();
            let a = layer.attn_norm.forward(&h)?;
            let a = layer.attention(&a, pos)?;
            let a = layer.post_attn_norm.forward(&a)?;
            let x = (a + residual)?;
            let residual = x.clone();
            let m = layer.ffn_norm.forward(&x)?;
            let m = layer.mlp(&m)?;
            let m = layer.post_ffn_norm.forward(&m)?;
            h = (m + residual)?;
        }
        let last = h.i((.., seq_len - 1, ..))?.contiguous()?;
        let last = self.norm.forward(&last)?;
        self.output.forward(&last)
    }
}
