//! Qwen 2 / 2.5 forward pass, owned by synthcorpus.
//!
//! The same arithmetic as candle-transformers 0.11.1's `quantized_qwen2` (MIT/Apache-2.0),
//! without its waste on this workload:
//! - weights go through synthcorpus's packed CPU kernels ([`super::qmm`]) where they apply;
//! - the token embedding stays quantised (rows dequantised on lookup) instead of being expanded
//!   to f32 (545 MB for Qwen2.5 0.5B's 151,936 × 896 table);
//! - rotary tables are sized to the context in use, not the model's 32,768 positions;
//! - grouped-query attention meets each key-value head with its query heads in one matmul
//!   instead of copying keys and values for every query head.

use std::io::{Read, Seek};

use candle_core::quantized::gguf_file;
use candle_core::{Device, IndexOp, Module, Result, Tensor};
use candle_transformers::quantized_nn::RmsNorm;

use super::attention::{grouped_query, Rotary};
use super::qmm::{QEmbedding, QLinear, WeightLoader};

#[derive(Debug, Clone)]
struct Layer {
    wq: QLinear,
    wk: QLinear,
    wv: QLinear,
    bq: Tensor,
    bk: Tensor,
    bv: Tensor,
    wo: QLinear,
    attn_norm: RmsNorm,
    ffn_norm: RmsNorm,
    gate: QLinear,
    up: QLinear,
    down: QLinear,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
    cache: Option<(Tensor, Tensor)>,
}

impl Layer {
    fn attention(
        &mut self,
        x: &Tensor,
        pos: usize,
        rotary: &Rotary,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (b, seq_len, _) = x.dims3()?;
        let (hd, n_kv) = (self.head_dim, self.n_kv_head);
        let q = self.wq.forward(x)?.broadcast_add(&self.bq)?;
        let k = self.wk.forward(x)?.broadcast_add(&self.bk)?;
        let v = self.wv.forward(x)?.broadcast_add(&self.bv)?;
        let heads = |t: Tensor, n: usize| -> Result<Tensor> {
            t.reshape((b, seq_len, n, hd))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (heads(q, self.n_head)?, heads(k, n_kv)?, heads(v, n_kv)?);
        let (q, k) = (rotary.apply(&q, pos)?, rotary.apply(&k, pos)?);
        let (k, v) = match self.cache.take() {
            Some((kc, vc)) if pos > 0 => (Tensor::cat(&[&kc, &k], 2)?, Tensor::cat(&[&vc, &v], 2)?),
            _ => (k, v),
        };
        self.cache = Some((k.clone(), v.clone()));
        let y = grouped_query(&q, &k, &v, mask)?;
        self.wo.forward(&y)
    }

    fn mlp(&self, x: &Tensor) -> Result<Tensor> {
        let gate = candle_nn::ops::silu(&self.gate.forward(x)?)?;
        self.down.forward(&(gate * self.up.forward(x)?)?)
    }
}

/// Qwen 2 weights and KV cache.
#[derive(Debug, Clone)]
pub struct Qwen2 {
    embedding: QEmbedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QLinear,
    rotary: Rotary,
    max_positions: usize,
}

impl Qwen2 {
    /// Load from a parsed GGUF; rotary tables cover `max_positions` positions (at most the
    /// model's context length).
    pub fn from_gguf<R: Read + Seek>(
        ct: &gguf_file::Content,
        reader: &mut R,
        device: &Device,
        max_positions: usize,
    ) -> Result<Self> {
        let md = |key: &str| {
            ct.metadata
                .get(key)
                .ok_or_else(|| candle_core::Error::Msg(format!("metadata key `{key}` is missing")))
        };
        let n_head = md("qwen2.attention.head_count")?.to_u32()? as usize;
        let n_kv_head = md("qwen2.attention.head_count_kv")?.to_u32()? as usize;
        let hidden = md("qwen2.embedding_length")?.to_u32()? as usize;
        let context = md("qwen2.context_length")?.to_u32()? as usize;
        let n_layer = md("qwen2.block_count")?.to_u32()? as usize;
        let eps = md("qwen2.attention.layer_norm_rms_epsilon")?.to_f32()? as f64;
        let base = md("qwen2.rope.freq_base")
            .and_then(|m| m.to_f32())
            .unwrap_or(10_000.);
        if n_head == 0 || n_kv_head == 0 || !n_head.is_multiple_of(n_kv_head) {
            candle_core::bail!("inconsistent head counts {n_head}/{n_kv_head}");
        }
        let head_dim = hidden / n_head;
        let max_positions = max_positions.min(context).max(1);

        let rotary = Rotary::new(head_dim, base, max_positions, device)?;

        let w = WeightLoader::new(ct, device);
        let embedding = w.embedding(reader, "token_embd.weight")?;
        let norm = RmsNorm::from_qtensor(ct.tensor(reader, "output_norm.weight", device)?, eps)?;
        let output = if ct.tensor_infos.contains_key("output.weight") {
            w.linear(reader, "output.weight")?
        } else {
            embedding.as_linear()?
        };
        let mut layers = Vec::with_capacity(n_layer);
        for i in 0..n_layer {
            let name = |s: &str| format!("blk.{i}.{s}");
            let mut vector = |s: &str| ct.tensor(reader, &name(s), device)?.dequantize(device);
            let (bq, bk, bv) = (
                vector("attn_q.bias")?,
                vector("attn_k.bias")?,
                vector("attn_v.bias")?,
            );
            let mut norm =
                |s: &str| RmsNorm::from_qtensor(ct.tensor(reader, &name(s), device)?, eps);
            let (attn_norm, ffn_norm) = (norm("attn_norm.weight")?, norm("ffn_norm.weight")?);
            layers.push(Layer {
                wq: w.linear(reader, &name("attn_q.weight"))?,
                wk: w.linear(reader, &name("attn_k.weight"))?,
                wv: w.linear(reader, &name("attn_v.weight"))?,
                bq,
                bk,
                bv,
                wo: w.linear(reader, &name("attn_output.weight"))?,
                attn_norm,
                ffn_norm,
                gate: w.linear(reader, &name("ffn_gate.weight"))?,
                up: w.linear(reader, &name("ffn_up.weight"))?,
                down: w.linear(reader, &name("ffn_down.weight"))?,
                n_head,
                n_kv_head,
                head_dim,
                cache: None,
            });
        }
        Ok(Self {
            embedding,
            layers,
            norm,
            output,
            rotary,
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

    /// Logits of the last position, `(batch, vocab)`, for token ids `(batch, seq)` at absolute
    /// positions `pos..pos + seq`; `pos == 0` starts a new sequence.
    pub fn forward(&mut self, x: &Tensor, pos: usize) -> Result<Tensor> {
        let (_, seq_len) = x.dims2()?;
        if pos + seq_len > self.max_positions {
            candle_core::bail!(
                "position {} is past the context of {} positions",
                pos + seq_len,
                self.max_positions
            );
        }
        // Causal mask for a prompt (queries pos.., keys 0..pos+seq); none for one new token.
        let mask = if seq_len > 1 {
            let kv_len = pos + seq_len;
            let data: Vec<f32> = (0..seq_len)
                .flat_map(|i| {
                    (0..kv_len).map(move |j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 })
                })
                .collect();
            Some(Tensor::from_vec(data, (1, 1, seq_len, kv_len), x.device())?)
        } else {
            None
        };
        let mut h = self.embedding.lookup(x)?;
        for layer in self.layers.iter_mut() {
            let a = layer.attn_norm.forward(&h)?;
            let a = layer.attention(&a, pos, &self.rotary, mask.as_ref())?;
            let x = (a + &h)?;
            let m = layer.ffn_norm.forward(&x)?;
            h = (layer.mlp(&m)? + x)?;
        }
        let last = h.i((.., seq_len - 1, ..))?.contiguous()?;
        let last = self.norm.forward(&last)?;
        self.output.forward(&last)
    }
}
