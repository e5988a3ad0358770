//! Pieces of attention shared by synthcorpus's own forward passes ([`super::gemma3`],
//! [`super::qwen2`]): rotary tables sized to the context in use, and grouped-query attention
//! without copying keys and values for every query head.

use candle_core::{DType, Device, Result, Tensor};

/// Rotary position tables (`positions x head_dim/2`) for one frequency base.
#[derive(Debug, Clone)]
pub(crate) struct Rotary {
    sin: Tensor,
    cos: Tensor,
}

impl Rotary {
    /// Tables for positions `0..positions`.
    pub(crate) fn new(
        head_dim: usize,
        base: f32,
        positions: usize,
        device: &Device,
    ) -> Result<Self> {
        let theta: Vec<f32> = (0..head_dim)
            .step_by(2)
            .map(|i| 1f32 / base.powf(i as f32 / head_dim as f32))
            .collect();
        let n = theta.len();
        let theta = Tensor::from_vec(theta, (1, n), device)?;
        let idx = Tensor::arange(0, positions as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((positions, 1))?
            .matmul(&theta)?;
        Ok(Self {
            sin: idx.sin()?,
            cos: idx.cos()?,
        })
    }

    /// Rotate `x` `(batch, heads, seq, head_dim)` whose first position is `pos`.
    pub(crate) fn apply(&self, x: &Tensor, pos: usize) -> Result<Tensor> {
        let (_, _, seq_len, _) = x.dims4()?;
        let cos = self.cos.narrow(0, pos, seq_len)?;
        let sin = self.sin.narrow(0, pos, seq_len)?;
        candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin)
    }
}

/// Scaled dot-product attention of `q` `(b, n_head, seq, hd)` over `k`, `v` `(b, n_kv, kv_len,
/// hd)`, with an optional additive mask broadcast over `(b, n_head, seq, kv_len)`; returns
/// `(b, seq, n_head * hd)`.
///
/// The query heads that share a key-value head (adjacent, head `h` uses `h / n_rep`, as in
/// llama.cpp) are stacked along the sequence axis, so each key-value head meets its queries in
/// one matmul and keys and values are never repeated per query head.
pub(crate) fn grouped_query(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
) -> Result<Tensor> {
    let (b, n_head, seq_len, hd) = q.dims4()?;
    let (_, n_kv, kv_len, _) = k.dims4()?;
    let n_rep = n_head / n_kv;
    let q = q.reshape((b, n_kv, n_rep * seq_len, hd))?;
    let att = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?;
    let mut att = att.reshape((b, n_head, seq_len, kv_len))?;
    if let Some(mask) = mask {
        att = att.broadcast_add(mask)?;
    }
    let att = candle_nn::ops::softmax_last_dim(&att)?;
    att.reshape((b, n_kv, n_rep * seq_len, kv_len))?
        .matmul(v)?
        .reshape((b, n_head, seq_len, hd))?
        .transpose(1, 2)?
        .reshape((b, seq_len, n_head * hd))
}
