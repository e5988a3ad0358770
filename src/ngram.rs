//! A character n-gram language model with Witten–Bell interpolation.
//!
//! Two uses: a second, non-neural generator beside the LLMs (fast, no weights to download, and
//! the baseline the LLMs must beat), and the language model of the evaluation's
//! "train on synthetic, test on real" perplexity.
//!
//! `P(c | h) = (C(h c) + T(h) · P(c | h')) / (C(h) + T(h))`, where `h'` drops the oldest character
//! of `h`, `T(h)` is the number of distinct characters seen after `h`, and the recursion ends in a
//! uniform distribution over the alphabet plus one unknown symbol (Witten & Bell 1991; Chen &
//! Goodman 1998, §2.4). Every document is padded with start symbols and ends with an end symbol.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::backend::{BackendError, Flow, TextGenerator};
use crate::types::{Completion, FinishReason, GenerationRequest, ModelInfo};

const START: char = '\u{2}';
const END: char = '\u{3}';

#[derive(Debug, Default, Clone)]
struct Node {
    total: u64,
    next: BTreeMap<char, u64>,
}

/// A trained character n-gram model.
#[derive(Debug, Clone)]
pub struct CharNgram {
    order: usize,
    /// Contexts of every length `0..order`, keyed by the context string.
    nodes: HashMap<String, Node>,
    /// The alphabet seen in training (with the end symbol), in a stable order.
    alphabet: Vec<char>,
    sha256: String,
}

impl CharNgram {
    /// Train an order-`order` model (`order` ≥ 1 characters of which `order - 1` are context).
    pub fn train<'a>(order: usize, docs: impl IntoIterator<Item = &'a str>) -> Self {
        let order = order.max(1);
        let mut nodes: HashMap<String, Node> = HashMap::new();
        let mut alphabet: BTreeMap<char, ()> = BTreeMap::new();
        let mut hash = Sha256::new();
        hash.update((order as u64).to_le_bytes());
        for doc in docs {
            hash.update((doc.len() as u64).to_le_bytes());
            hash.update(doc.as_bytes());
            let chars: Vec<char> = std::iter::repeat_n(START, order - 1)
                .chain(doc.chars())
                .chain(std::iter::once(END))
                .collect();
            for i in (order - 1)..chars.len() {
                let c = chars[i];
                alphabet.insert(c, ());
                for k in 0..order {
                    let ctx: String = chars[i - k..i].iter().collect();
                    let node = nodes.entry(ctx).or_default();
                    node.total += 1;
                    *node.next.entry(c).or_default() += 1;
                }
            }
        }
        Self {
            order,
            nodes,
            alphabet: alphabet.into_keys().collect(),
            sha256: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// The model order.
    pub fn order(&self) -> usize {
        self.order
    }

    /// sha256 over the order and the training documents.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    fn uniform(&self) -> f64 {
        1.0 / (self.alphabet.len() as f64 + 1.0)
    }

    /// `P(c | context)` where `context` holds the preceding characters (longest last).
    fn prob(&self, context: &[char], c: char) -> f64 {
        let mut p = self.uniform();
        let max_k = context.len().min(self.order - 1);
        for k in 0..=max_k {
            let ctx: String = context[context.len() - k..].iter().collect();
            let Some(node) = self.nodes.get(&ctx) else {
                break;
            };
            let t = node.next.len() as f64;
            let count = node.next.get(&c).copied().unwrap_or(0) as f64;
            p = (count + t * p) / (node.total as f64 + t);
        }
        p
    }

    /// Sum of log2-probabilities of `text` (with its end symbol) and the number of symbols scored.
    pub fn log2_prob(&self, text: &str) -> (f64, usize) {
        let mut ctx: Vec<char> = std::iter::repeat_n(START, self.order - 1).collect();
        let mut sum = 0.0;
        let mut n = 0;
        for c in text.chars().chain(std::iter::once(END)) {
            sum += self.prob(&ctx, c).log2();
            n += 1;
            ctx.push(c);
            if ctx.len() > self.order {
                ctx.remove(0);
            }
        }
        (sum, n)
    }

    /// Per-character perplexity of `docs`.
    pub fn perplexity<'a>(&self, docs: impl IntoIterator<Item = &'a str>) -> f64 {
        let (mut sum, mut n) = (0.0, 0usize);
        for d in docs {
            let (s, k) = self.log2_prob(d);
            sum += s;
            n += k;
        }
        if n == 0 {
            return f64::NAN;
        }
        2f64.powf(-sum / n as f64)
    }

    /// Sample one document of at most `max_chars` characters.
    pub fn sample(&self, rng: &mut impl Rng, max_chars: usize, temperature: f32) -> (String, bool) {
        let mut ctx: Vec<char> = std::iter::repeat_n(START, self.order - 1).collect();
        let mut out = String::new();
        let inv_t = if temperature > 0.0 {
            1.0 / temperature as f64
        } else {
            1.0
        };
        for _ in 0..max_chars {
            let weights: Vec<f64> = self
                .alphabet
                .iter()
                .map(|&c| self.prob(&ctx, c).powf(inv_t))
                .collect();
            let total: f64 = weights.iter().sum();
            let next = if temperature <= 0.0 {
                let mut best = 0;
                for (i, w) in weights.iter().enumerate() {
                    if *w > weights[best] {
                        best = i;
                    }
                }
                self.alphabet[best]
            } else {
                let mut r = rng.random::<f64>() * total;
                let mut chosen = *self.alphabet.last().unwrap_or(&END);
                for (c, w) in self.alphabet.iter().zip(&weights) {
                    r -= w;
                    if r <= 0.0 {
                        chosen = *c;
                        break;
                    }
                }
                chosen
            };
            if next == END {
                return (out, true);
            }
            out.push(next);
            ctx.push(next);
            if ctx.len() > self.order {
                ctx.remove(0);
            }
        }
        (out, false)
    }
}

/// The n-gram model as a [`TextGenerator`]: ignores the prompt, writes a new document from the
/// start symbol; `max_new_tokens` counts characters, and a token is a character.
#[derive(Debug)]
pub struct NgramGenerator {
    model: CharNgram,
    info: ModelInfo,
}

impl NgramGenerator {
    /// Wrap a trained model.
    pub fn new(model: CharNgram) -> Self {
        let info = ModelInfo {
            name: format!("char-{}gram", model.order()),
            path: String::new(),
            architecture: "ngram".into(),
            file_size: 0,
            parameters: model.nodes.values().map(|n| n.next.len() as u64).sum(),
            quantization: "none".into(),
            tensor_types: BTreeMap::new(),
            tokenizer_kind: "char".into(),
            vocab_size: model.alphabet.len(),
            context_length: model.order() as u64,
            has_chat_template: false,
            sha256: Some(model.sha256().to_string()),
        };
        Self { model, info }
    }
}

impl TextGenerator for NgramGenerator {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn tokenizer_sha256(&self) -> &str {
        "char"
    }

    fn count_tokens(&self, text: &str) -> Result<usize, BackendError> {
        Ok(text.chars().count())
    }

    fn generate(
        &mut self,
        request: &GenerationRequest,
        observer: &mut dyn FnMut(&str) -> Flow,
    ) -> Result<Completion, BackendError> {
        let t = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(request.params.seed);
        let (text, ended) = self.model.sample(
            &mut rng,
            request.params.max_new_tokens,
            request.params.temperature,
        );
        let mut finish = if ended {
            FinishReason::Eos
        } else {
            FinishReason::Length
        };
        if observer(&text) == Flow::Stop {
            finish = FinishReason::Cancelled;
        }
        Ok(Completion {
            tokens: text.chars().map(|c| c as u32).collect(),
            text,
            prompt_tokens: 0,
            prompt_truncated: 0,
            finish_reason: finish,
            prompt_seconds: 0.0,
            generation_seconds: t.elapsed().as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_sum_to_one() {
        let m = CharNgram::train(3, ["abca", "bcab"]);
        for ctx in [vec![], vec!['a'], vec!['b', 'c'], vec!['x', 'y']] {
            let mut s: f64 = m.alphabet.iter().map(|&c| m.prob(&ctx, c)).sum();
            s += m.prob(&ctx, 'z'); // the unknown symbol's share
            assert!((s - 1.0).abs() < 1e-9, "{ctx:?}: {s}");
        }
    }

    #[test]
    fn witten_bell_by_hand() {
        // order 1 (no context): counts a=2, END=1, total 3, T=2, uniform = 1/3 (2 symbols + unknown)
        let m = CharNgram::train(1, ["aa"]);
        let p = m.prob(&[], 'a');
        assert!((p - (2.0 + 2.0 / 3.0) / 5.0).abs() < 1e-12, "{p}");
    }

    #[test]
    fn a_model_prefers_its_training_text() {
        let m = CharNgram::train(4, ["ndi a livhuwa", "vhathu vhoṱhe"]);
        assert!(m.perplexity(["ndi a livhuwa"]) < m.perplexity(["qzx jjj kkk"]));
    }

    #[test]
    fn sampling_is_deterministic_for_a_seed_and_keeps_venda_letters() {
        let m = CharNgram::train(3, ["ṱhe ṱhe ḓa ḽa ṅa ṋa"; 3]);
        let a = m.sample(&mut ChaCha8Rng::seed_from_u64(1), 50, 1.0);
        let b = m.sample(&mut ChaCha8Rng::seed_from_u64(1), 50, 1.0);
        assert_eq!(a, b);
        assert!(a.0.chars().all(|c| "ṱheḓaḽṅṋ ".contains(c)), "{a:?}");
    }
}
