//! The generation plan: every request of a run, decided up front from the seed.
//!
//! Request `i` draws its source corpus, template, seed sentences, topic and sampling seed from a
//! ChaCha RNG seeded with `(run seed, i)`, and its model from a smooth weighted round-robin, so
//! the plan is a pure function of the configuration and inputs: a resumed run recomputes the
//! same plan and skips what is done.

use std::collections::BTreeSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::config::{GenerateConfig, GeneratorKind};
use crate::prompts::{LanguagePack, PromptInputs, PromptLibrary, Suits};
use crate::types::{Document, PromptInfo, PromptMode, SamplingParams};

use super::GenerateError;

/// A seed source: a corpus's documents split into sentences, with its weight.
#[derive(Debug, Clone)]
pub struct SeedSource {
    /// Corpus id.
    pub id: String,
    /// Relative weight.
    pub weight: f64,
    /// Sentences with the id and lineage depth of their document.
    pub sentences: Vec<(String, String, u32)>,
}

impl SeedSource {
    /// Build from documents, splitting them into sentences.
    pub fn new(id: &str, weight: f64, docs: &[Document]) -> Self {
        let mut sentences = Vec::new();
        for d in docs {
            for s in
                unicode_segmentation::UnicodeSegmentation::split_sentence_bounds(d.text.as_str())
            {
                let s = s.trim();
                // Headings ("Tshiteṅwa 12") make poor examples: keep sentences of 4+ words.
                if s.split_whitespace().count() >= 4 {
                    sentences.push((s.to_string(), d.id.clone(), d.lineage_depth));
                }
            }
        }
        Self {
            id: id.to_string(),
            weight,
            sentences,
        }
    }
}

/// One planned request.
#[derive(Debug, Clone)]
pub struct PlannedRequest {
    /// Deterministic id.
    pub id: String,
    /// Index in the plan.
    pub index: usize,
    /// Index of the model in the configuration.
    pub model: usize,
    /// The prompt (for the n-gram generator: no template, empty text).
    pub prompt: PromptInfo,
    /// Lineage depth of the result.
    pub lineage_depth: u32,
    /// Sampling parameters with the request's seed.
    pub sampling: SamplingParams,
}

fn mix(seed: u64, index: u64, salt: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(index.to_le_bytes());
    h.update(salt.as_bytes());
    let d = h.finalize();
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

fn weighted(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut r = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        r -= w;
        if r < 0.0 {
            return i;
        }
    }
    weights.len().saturating_sub(1)
}

/// Smooth weighted round-robin: the model of each request, meeting the shares exactly over any
/// prefix up to rounding.
pub fn assign_models(weights: &[f64], n: usize) -> Vec<usize> {
    let total: f64 = weights.iter().sum();
    let mut current = vec![0f64; weights.len()];
    (0..n)
        .map(|_| {
            for (c, w) in current.iter_mut().zip(weights) {
                *c += w;
            }
            let mut best = 0;
            for i in 1..current.len() {
                if current[i] > current[best] {
                    best = i;
                }
            }
            current[best] -= total;
            best
        })
        .collect()
}

/// Everything a plan is computed from.
#[derive(Debug)]
pub struct PlanInputs<'a> {
    /// Run seed.
    pub seed: u64,
    /// `[generate]` settings.
    pub config: &'a GenerateConfig,
    /// Templates.
    pub library: &'a PromptLibrary,
    /// Language pack of the target language.
    pub lang: &'a LanguagePack,
    /// Seed sources, in configuration order.
    pub sources: &'a [SeedSource],
    /// A fingerprint of the configuration and inputs, mixed into request ids.
    pub fingerprint: &'a str,
}

/// Compute the whole plan.
pub fn make_plan(inp: &PlanInputs<'_>) -> Result<Vec<PlannedRequest>, GenerateError> {
    let cfg = inp.config;
    let model_weights: Vec<f64> = cfg.models.iter().map(|m| m.weight).collect();
    let models = assign_models(&model_weights, cfg.samples);
    let source_weights: Vec<f64> = inp.sources.iter().map(|s| s.weight).collect();
    for s in inp.sources {
        if s.sentences.is_empty() {
            return Err(GenerateError::Input(format!(
                "seed corpus `{}` has no sentence of four words or more",
                s.id
            )));
        }
    }
    let topics = inp.lang.all_topics();
    let mut seen_prompts: BTreeSet<String> = BTreeSet::new();
    let mut plan = Vec::with_capacity(cfg.samples);
    for (i, &m) in models.iter().enumerate() {
        let model = &cfg.models[m];
        let mut rng = ChaCha8Rng::seed_from_u64(mix(inp.seed, i as u64, "request"));
        let temperature = cfg.temperatures[i % cfg.temperatures.len()];
        let sampling = SamplingParams {
            temperature,
            top_k: cfg.sampling.top_k,
            top_p: cfg.sampling.top_p,
            min_p: cfg.sampling.min_p,
            repeat_penalty: cfg.sampling.repeat_penalty,
            repeat_last_n: cfg.sampling.repeat_last_n,
            max_new_tokens: cfg.sampling.max_new_tokens,
            stop: cfg.sampling.stop.clone(),
            seed: mix(inp.seed, i as u64, "sampling"),
            vocab_bias: None,
        };
        let src = &inp.sources[weighted(&mut rng, &source_weights)];
        let (prompt, depth) = if model.kind == GeneratorKind::Ngram {
            (
                PromptInfo {
                    template_id: None,
                    template_version: None,
                    template_sha256: None,
                    task: "free".into(),
                    mode: PromptMode::Completion,
                    text: String::new(),
                    source_corpus: src.id.clone(),
                    seed_document_ids: Vec::new(),
                    topic: None,
                    domain: None,
                },
                // The n-gram model is trained on every source: its depth is theirs + 1.
                inp.sources
                    .iter()
                    .flat_map(|s| s.sentences.iter().map(|x| x.2))
                    .max()
                    .unwrap_or(0)
                    + 1,
            )
        } else {
            draw_prompt(
                inp,
                model.mode,
                src,
                &topics,
                &mut rng,
                &mut seen_prompts,
                i,
            )?
        };
        let mut h = Sha256::new();
        h.update(inp.fingerprint.as_bytes());
        h.update((i as u64).to_le_bytes());
        let id: String = h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        plan.push(PlannedRequest {
            id,
            index: i,
            model: m,
            prompt,
            lineage_depth: depth,
            sampling,
        });
    }
    Ok(plan)
}

fn draw_prompt(
    inp: &PlanInputs<'_>,
    mode: PromptMode,
    src: &SeedSource,
    topics: &[(String, String)],
    rng: &mut ChaCha8Rng,
    seen: &mut BTreeSet<String>,
    index: usize,
) -> Result<(PromptInfo, u32), GenerateError> {
    let suits = |s: Suits| match mode {
        PromptMode::Completion => s != Suits::Instruct,
        PromptMode::Chat => s != Suits::Base,
    };
    let candidates: Vec<(&str, f64)> = inp
        .library
        .templates
        .values()
        .filter(|t| suits(t.suits))
        .filter_map(|t| {
            let w = if inp.config.templates.is_empty() {
                1.0
            } else {
                inp.config.templates.get(&t.id).copied().unwrap_or(0.0)
            };
            (w > 0.0).then_some((t.id.as_str(), w))
        })
        .collect();
    if candidates.is_empty() {
        return Err(GenerateError::Input(format!(
            "no template with a weight suits {mode:?} models (check generate.templates)"
        )));
    }
    let weights: Vec<f64> = candidates.iter().map(|c| c.1).collect();
    const ATTEMPTS: usize = 32;
    for _ in 0..ATTEMPTS {
        let tid = candidates[weighted(rng, &weights)].0;
        let t = &inp.library.templates[tid];
        let k = t.examples.min(src.sentences.len());
        let picks = rand::seq::index::sample(rng, src.sentences.len(), k);
        let chosen: Vec<&(String, String, u32)> = picks.iter().map(|j| &src.sentences[j]).collect();
        let (domain, topic) = topics[rng.random_range(0..topics.len())].clone();
        let domain_name = inp.lang.domains.get(&domain).cloned().unwrap_or(domain);
        let inputs = PromptInputs {
            examples: chosen.iter().map(|c| c.0.clone()).collect(),
            topic: topic.clone(),
            domain: domain_name.clone(),
        };
        let text = inp
            .library
            .render(tid, inp.lang, &inputs)
            .map_err(|e| GenerateError::Input(e.to_string()))?;
        if !inp.config.allow_duplicate_prompts && !seen.insert(text.clone()) {
            continue;
        }
        let uses_topic = t.body.contains("topic");
        let mut ids: Vec<String> = chosen.iter().map(|c| c.1.clone()).collect();
        ids.sort();
        ids.dedup();
        let depth = chosen.iter().map(|c| c.2).max().unwrap_or(0) + 1;
        return Ok((
            PromptInfo {
                template_id: Some(t.id.clone()),
                template_version: Some(t.version),
                template_sha256: Some(t.sha256.clone()),
                task: serde_json::to_value(t.task)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                mode,
                text,
                source_corpus: src.id.clone(),
                seed_document_ids: ids,
                topic: uses_topic.then_some(topic),
                domain: uses_topic.then_some(domain_name),
            },
            depth,
        ));
    }
    Err(GenerateError::Input(format!(
        "request {index}: could not draw a prompt not used before in {ATTEMPTS} attempts; \
         the seed corpus is too small for this many samples (or set generate.allow_duplicate_prompts)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_meets_shares() {
        let a = assign_models(&[3.0, 1.0], 8);
        assert_eq!(a.iter().filter(|&&m| m == 0).count(), 6);
        assert_eq!(a.iter().filter(|&&m| m == 1).count(), 2);
        assert_eq!(assign_models(&[1.0], 3), vec![0, 0, 0]);
    }
}
