//! Token sampling: repetition penalty, top-k, top-p, min-p, temperature, seeded draw.
//!
//! The order follows llama.cpp's default chain: penalties, then top-k, top-p and min-p on the
//! untempered distribution, then temperature, then a draw from a ChaCha RNG seeded per request,
//! so that the same logits, parameters and seed give the same token whatever ran before.
//! A temperature of 0 is greedy decoding (argmax, first index on ties).
//!
//! Nothing here sorts the whole vocabulary: candidates are found by partial selection, so a
//! 262,144-entry vocabulary costs a linear pass, not an `n log n` sort, per token.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::types::SamplingParams;

/// A per-request sampler.
#[derive(Debug)]
pub struct Sampler {
    params: SamplingParams,
    rng: ChaCha8Rng,
    candidates: Vec<(u32, f32)>,
}

impl Sampler {
    /// A sampler for one request.
    pub fn new(params: &SamplingParams) -> Self {
        Self {
            params: params.clone(),
            rng: ChaCha8Rng::seed_from_u64(params.seed),
            candidates: Vec::new(),
        }
    }

    /// Choose the next token from `logits` (modified in place by the repetition penalty),
    /// given the tokens seen so far (prompt and generated).
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        let p = &self.params;
        if p.repeat_penalty != 1.0 && p.repeat_last_n > 0 {
            apply_repeat_penalty(logits, history, p.repeat_penalty, p.repeat_last_n);
        }
        if p.temperature <= 0.0 {
            return argmax(logits);
        }
        // Candidate set: top-k if set, else everything; then shrink by top-p and min-p.
        let k = if p.top_k == 0 {
            logits.len()
        } else {
            p.top_k.min(logits.len())
        };
        self.candidates.clear();
        self.candidates
            .extend(logits.iter().enumerate().map(|(i, &l)| (i as u32, l)));
        if k < self.candidates.len() {
            self.candidates
                .select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
            self.candidates.truncate(k);
        }
        let max = self
            .candidates
            .iter()
            .map(|c| c.1)
            .fold(f32::NEG_INFINITY, f32::max);
        // Probabilities at temperature 1 for the filters (stored in the second field).
        let mut sum = 0f64;
        for c in self.candidates.iter_mut() {
            let e = ((c.1 - max) as f64).exp();
            sum += e;
            c.1 = e as f32;
        }
        let inv = (1.0 / sum) as f32;
        for c in self.candidates.iter_mut() {
            c.1 *= inv;
        }
        if p.min_p > 0.0 {
            // The largest probability is exp(0)/sum.
            let threshold = p.min_p * inv;
            self.candidates.retain(|c| c.1 >= threshold);
        }
        if p.top_p < 1.0 {
            nucleus(&mut self.candidates, p.top_p);
        }
        // Temperature on the survivors: p^(1/T) renormalised equals softmax(logit / T).
        let inv_t = 1.0 / p.temperature as f64;
        let mut total = 0f64;
        let weights: Vec<f64> = self
            .candidates
            .iter()
            .map(|c| {
                let w = (c.1 as f64).powf(inv_t);
                total += w;
                w
            })
            .collect();
        if total.is_nan() || total <= 0.0 || total.is_infinite() {
            return argmax(logits);
        }
        let mut r = self.rng.random::<f64>() * total;
        for (c, w) in self.candidates.iter().zip(&weights) {
            r -= w;
            if r <= 0.0 {
                return c.0;
            }
        }
        self.candidates.last().map(|c| c.0).unwrap_or(0)
    }
}

/// Keep the smallest set of most probable candidates whose mass reaches `top_p`, found by
/// growing a partial selection rather than sorting everything. Leaves candidates in descending
/// order of probability.
fn nucleus(cands: &mut Vec<(u32, f32)>, top_p: f32) {
    let n = cands.len();
    let mut k = 64.min(n);
    loop {
        if k < n {
            cands.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        }
        cands[..k].sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut mass = 0f32;
        for i in 0..k {
            mass += cands[i].1;
            if mass >= top_p {
                cands.truncate(i + 1);
                return;
            }
        }
        if k == n {
            return;
        }
        k = (k * 4).min(n);
    }
}

/// Index of the largest logit (the first one on ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    let mut best_v = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        if v > best_v {
            best_v = v;
            best = i;
        }
    }
    best as u32
}

/// llama.cpp's repetition penalty: each distinct token among the last `last_n` has its logit
/// divided by `penalty` when positive and multiplied when negative.
pub fn apply_repeat_penalty(logits: &mut [f32], history: &[u32], penalty: f32, last_n: usize) {
    let start = history.len().saturating_sub(last_n);
    let mut seen: Vec<u32> = history[start..].to_vec();
    seen.sort_unstable();
    seen.dedup();
    for id in seen {
        if let Some(l) = logits.get_mut(id as usize) {
            *l = if *l > 0.0 { *l / penalty } else { *l * penalty };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32) -> SamplingParams {
        SamplingParams {
            temperature,
            seed: 7,
            ..SamplingParams::default()
        }
    }

    #[test]
    fn a_logit_bias_moves_the_choice() {
        let mut logits = vec![0.1, 3.0, 2.5, -1.0];
        crate::types::LogitBias {
            ids: vec![2, 3, 99],
            bias: 1.0,
        }
        .apply(&mut logits);
        assert_eq!(logits, vec![0.1, 3.0, 3.5, 0.0]);
        let mut s = Sampler::new(&params(0.0));
        assert_eq!(s.sample(&mut logits, &[]), 2);
    }

    #[test]
    fn greedy_takes_the_first_maximum() {
        let mut s = Sampler::new(&params(0.0));
        let mut logits = vec![0.1, 3.0, 3.0, -1.0];
        assert_eq!(s.sample(&mut logits, &[]), 1);
    }

    #[test]
    fn same_seed_same_tokens() {
        let logits: Vec<f32> = (0..1000).map(|i| ((i * 37) % 101) as f32 / 10.0).collect();
        let run = || {
            let mut s = Sampler::new(&params(1.0));
            (0..50)
                .map(|_| s.sample(&mut logits.clone(), &[]))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
        let distinct: std::collections::BTreeSet<_> = run().into_iter().collect();
        assert!(distinct.len() > 1, "sampling at T=1 should vary");
    }

    #[test]
    fn top_k_one_is_greedy() {
        let mut p = params(1.5);
        p.top_k = 1;
        let mut s = Sampler::new(&p);
        for _ in 0..20 {
            assert_eq!(s.sample(&mut [1.0, 2.0, 0.5, 1.9], &[]), 1);
        }
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        let mut p = params(1.0);
        p.top_p = 0.5;
        let mut s = Sampler::new(&p);
        // token 0 has probability > 0.5 alone
        for _ in 0..50 {
            assert_eq!(s.sample(&mut [5.0, 1.0, 1.0, 1.0], &[]), 0);
        }
    }

    #[test]
    fn nucleus_grows_past_the_first_window() {
        // 2^-10 each: partial sums are exact in f32.
        let mut c: Vec<(u32, f32)> = (0..1000).map(|i| (i, 1.0 / 1024.0)).collect();
        nucleus(&mut c, 0.5);
        assert_eq!(c.len(), 512);
    }

    #[test]
    fn min_p_drops_unlikely_tokens() {
        let mut p = params(1.0);
        p.min_p = 0.5;
        let mut s = Sampler::new(&p);
        for _ in 0..50 {
            let t = s.sample(&mut [3.0, 3.0, -5.0, -5.0], &[]);
            assert!(t < 2);
        }
    }

    #[test]
    fn repeat_penalty_lowers_seen_tokens() {
        let mut logits = vec![2.0, -2.0, 1.0];
        apply_repeat_penalty(&mut logits, &[0, 1, 0], 2.0, 64);
        assert_eq!(logits, vec![1.0, -4.0, 1.0]);
    }
}
