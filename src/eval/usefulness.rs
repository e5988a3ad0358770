//! Usefulness: train on synthetic, test on real.
//!
//! A character n-gram language model ([`crate::ngram::CharNgram`], Witten–Bell interpolation) of
//! order `k` (default 4) is trained on (a) the seed, (b) the synthetic corpus, (c) both, and its
//! per-character perplexity `PP = 2^{−(1/N) Σ log₂ P(c_i | c_{i−k+1..i−1})}` is measured on the
//! held-out real split (Jelinek et al. 1977 for perplexity; the protocol is "train on synthetic,
//! test on real", Esteban et al. 2017). Synthetic text that helps gives (c) below (a):
//! `combined_vs_seed = PP(c) / PP(a) < 1`. The synthetic training text is a seeded sample of
//! documents capped at `max_train_chars` characters, so that the cost stays bounded.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::text::round6;
use crate::ngram::CharNgram;

/// The usefulness block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usefulness {
    /// Model order.
    pub order: usize,
    /// Characters of the held-out test text.
    pub test_chars: usize,
    /// Training characters: seed, synthetic (after sampling), combined.
    pub train_chars_seed: usize,
    /// Synthetic training characters.
    pub train_chars_synthetic: usize,
    /// Whether the synthetic training text was sampled down.
    pub synthetic_sampled: bool,
    /// Perplexity on held-out real text of the model trained on the seed.
    pub perplexity_seed: Option<f64>,
    /// ... trained on the synthetic corpus.
    pub perplexity_synthetic: Option<f64>,
    /// ... trained on both.
    pub perplexity_combined: Option<f64>,
    /// `perplexity_combined / perplexity_seed`.
    pub combined_vs_seed: Option<f64>,
    /// `perplexity_combined < perplexity_seed`.
    pub helps: Option<bool>,
}

fn pp(v: f64) -> Option<f64> {
    v.is_finite().then(|| round6(v))
}

/// Pick a seeded sample of `texts` of at most `max_chars` characters (in corpus order).
pub fn sample_chars<'a>(texts: &[&'a str], max_chars: usize, seed: u64) -> (Vec<&'a str>, bool) {
    let total: usize = texts.iter().map(|t| t.chars().count()).sum();
    if total <= max_chars {
        return (texts.to_vec(), false);
    }
    let mut idx: Vec<usize> = (0..texts.len()).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut taken = Vec::new();
    let mut n = 0usize;
    for i in idx {
        let c = texts[i].chars().count();
        if n + c > max_chars {
            continue;
        }
        n += c;
        taken.push(i);
        if n >= max_chars {
            break;
        }
    }
    taken.sort_unstable();
    (taken.into_iter().map(|i| texts[i]).collect(), true)
}

/// Train and test; `seed_model` is the order-`order` model of the seed, trained once.
pub fn usefulness(
    seed_texts: &[&str],
    seed_model: Option<&CharNgram>,
    synthetic: &[&str],
    test: &[&str],
    order: usize,
    max_train_chars: usize,
    rng_seed: u64,
) -> Option<Usefulness> {
    if test.is_empty() {
        return None;
    }
    let (syn, sampled) = sample_chars(synthetic, max_train_chars, rng_seed);
    let chars = |v: &[&str]| v.iter().map(|t| t.chars().count()).sum::<usize>();
    let ((ps, psyn), pc) = rayon::join(
        || {
            rayon::join(
                || match seed_model {
                    Some(m) => m.perplexity(test.iter().copied()),
                    None => CharNgram::train(order, seed_texts.iter().copied())
                        .perplexity(test.iter().copied()),
                },
                || {
                    if syn.is_empty() {
                        f64::NAN
                    } else {
                        CharNgram::train(order, syn.iter().copied())
                            .perplexity(test.iter().copied())
                    }
                },
            )
        },
        || {
            CharNgram::train(order, seed_texts.iter().chain(syn.iter()).copied())
                .perplexity(test.iter().copied())
        },
    );
    let (ps, psyn, pc) = (pp(ps), pp(psyn), pp(pc));
    Some(Usefulness {
        order,
        test_chars: chars(test),
        train_chars_seed: chars(seed_texts),
        train_chars_synthetic: chars(&syn),
        synthetic_sampled: sampled,
        perplexity_seed: ps,
        perplexity_synthetic: psyn,
        perplexity_combined: pc,
        combined_vs_seed: match (pc, ps) {
            (Some(c), Some(s)) if s > 0.0 => Some(round6(c / s)),
            _ => None,
        },
        helps: match (pc, ps) {
            (Some(c), Some(s)) => Some(c < s),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copying_the_test_helps() {
        let seed = ["vhathu vhothe vha bebwa vhe na mbofholowo"];
        let test = ["muthu munwe na munwe u na pfanelo ya pfunzo"];
        let u = usefulness(&seed, None, &test, &test, 3, 1_000_000, 1).unwrap();
        assert_eq!(u.helps, Some(true));
        assert!(u.perplexity_synthetic.unwrap() < u.perplexity_seed.unwrap());
        assert!(!u.synthetic_sampled);
    }

    #[test]
    fn sampling_caps_characters() {
        let t: Vec<String> = (0..100).map(|i| format!("{i:05}")).collect();
        let r: Vec<&str> = t.iter().map(|s| s.as_str()).collect();
        let (s, sampled) = sample_chars(&r, 50, 7);
        assert!(sampled);
        assert_eq!(s.len(), 10);
        assert_eq!(sample_chars(&r, 50, 7).0, s);
    }
}
