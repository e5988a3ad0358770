//! The evaluation stage: is the corpus in the target language, is it varied, does it copy its
//! sources, is it useful, always beside the same figures for real text.
//!
//! [`evaluate`] measures three *subjects* with the same metrics: the corpus under evaluation
//! (`synthetic`), the seed corpus it was generated from (`seed`), and a held-out real split that
//! was never used as seed (`heldout`). Metrics that compare with the seed (leakage, novel words,
//! distances of length distributions, character n-gram divergence) are also computed for the
//! held-out split, which gives the value real, unseen text has. Usefulness trains a character
//! n-gram model on the seed, the corpus and both, and tests on the held-out split. Every metric
//! is broken down per model (`generator.id`) and per prompt template (`prompt.template_id`).
//!
//! The metrics and their formulas: [`diversity`], [`fidelity`], [`leakage`], [`likeness`],
//! [`usefulness`] (and `evals/README.md`). Outputs ([`write_outputs`]): `eval.json` (the
//! [`EvalReport`], stable keys), `eval.md` (a Markdown summary) and `report.html` (one
//! self-contained page with inline SVG plots and a sample table). Suites with gates: [`suite`].
//!
//! Cost: every metric is linear (or `n log n` for sorting) in corpus size, except Self-BLEU and
//! the distance to closest record, which run on seeded samples, and the usefulness models,
//! trained on a seeded sample capped in characters. Output is deterministic: sorted maps, seeded
//! ChaCha RNGs, sequential reductions, floats rounded to 6 decimals; only `timings` varies.

pub mod diversity;
pub mod fidelity;
pub mod html;
pub mod input;
pub mod leakage;
pub mod likeness;
pub mod markdown;
pub mod request;
pub mod suite;
pub mod text;
pub mod usefulness;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::seq::index::sample as index_sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::ingest::IngestError;
use crate::ngram::CharNgram;
use crate::types::LanguageIdentifier;

pub use diversity::Diversity;
pub use fidelity::Fidelity;
pub use input::{
    load_real, load_samples, load_wordlists, LoadedCorpus, RealText, Sample, SourceInfo,
};
pub use leakage::Leakage;
pub use likeness::Likeness;
pub use request::{evaluate_request, EvalRequest};
pub use suite::{check_gates, Gate, GateResult, Suite, SuiteError};
pub use usefulness::Usefulness;

use diversity::{CharCounts, DiversitySettings};
use fidelity::{LidDoc, WordlistIndex};
use leakage::{DcrContext, LeakDoc, SeedNgrams, SpanIndex};
use likeness::Lengths;
use text::{mix64, Interner};

/// The `schema` field of `eval.json`.
pub const EVAL_SCHEMA: &str = "synthcorpus.eval.v1";

/// Errors of the evaluation stage.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The input is not a corpus evaluation can read.
    #[error("{}: {message}", path.display())]
    Input {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The reference corpus cannot be loaded.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A suite file is invalid.
    #[error(transparent)]
    Suite(#[from] SuiteError),
    /// A setting is invalid.
    #[error("settings: `{field}`: {message}")]
    Settings {
        /// The setting.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Rendering failed.
    #[error("rendering {what}: {message}")]
    Render {
        /// Which output.
        what: String,
        /// The error.
        message: String,
    },
}

/// Evaluation settings (`[settings]` of a suite; every key optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalSettings {
    /// Seed of every sampled metric.
    pub seed: u64,
    /// Documents in the Self-BLEU sample.
    pub self_bleu_sample: usize,
    /// Word n-gram length of self-repetition.
    pub self_repetition_n: usize,
    /// MATTR window in words.
    pub mattr_window: usize,
    /// Documents in the distance-to-closest-record sample.
    pub dcr_sample: usize,
    /// Order of the usefulness character n-gram model.
    pub ngram_order: usize,
    /// Cap on synthetic training characters of the usefulness models.
    pub max_train_chars: usize,
    /// Samples in the report's sample table.
    pub table_samples: usize,
    /// A sample sharing a span of at least this many words with the seed is flagged.
    pub span_flag_words: usize,
    /// Compute per-model and per-template breakdowns.
    pub breakdowns: bool,
}

impl Default for EvalSettings {
    fn default() -> Self {
        Self {
            seed: 20_240_607,
            self_bleu_sample: 500,
            self_repetition_n: 6,
            mattr_window: 50,
            dcr_sample: 2_000,
            ngram_order: 4,
            max_train_chars: 2_000_000,
            table_samples: 300,
            span_flag_words: 12,
            breakdowns: true,
        }
    }
}

impl EvalSettings {
    /// Check ranges; the error names the key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let pos = |v: usize, k: &str| {
            if v == 0 {
                Err((k.to_string(), "must be at least 1".to_string()))
            } else {
                Ok(())
            }
        };
        pos(self.self_repetition_n, "self_repetition_n")?;
        pos(self.mattr_window, "mattr_window")?;
        pos(self.ngram_order, "ngram_order")?;
        if self.self_bleu_sample < 2 {
            return Err(("self_bleu_sample".into(), "must be at least 2".into()));
        }
        if self.ngram_order > 12 {
            return Err(("ngram_order".into(), "must be at most 12".into()));
        }
        Ok(())
    }
}

/// Everything [`evaluate`] needs.
pub struct EvalInputs<'a> {
    /// Target language (ISO 639-3).
    pub lang: String,
    /// Target script (ISO 15924).
    pub script: String,
    /// The corpus under evaluation and where it came from.
    pub corpus: LoadedCorpus,
    /// The seed (reference) text.
    pub seed: RealText,
    /// Held-out real text, never used as seed.
    pub heldout: Option<RealText>,
    /// The language identifier, if any: without one, LID metrics are absent.
    pub lid: Option<&'a dyn LanguageIdentifier>,
    /// Word lists per language.
    pub wordlists: BTreeMap<String, Vec<String>>,
    /// Neighbour languages (for confusion and word-list coverage).
    pub neighbours: Vec<String>,
    /// Settings.
    pub settings: EvalSettings,
    /// Gates to check (from a suite).
    pub gates: Vec<Gate>,
    /// The suite's path and name, if any.
    pub suite: Option<(String, String)>,
}

/// Where the inputs came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputsInfo {
    /// The corpus evaluated.
    pub corpus: SourceInfo,
    /// The seed (reference) corpus.
    pub seed: SourceInfo,
    /// The held-out real split.
    pub heldout: Option<SourceInfo>,
    /// The language identifier's model id (`null`: none, LID metrics absent).
    pub lid_model: Option<String>,
    /// Languages with word lists.
    pub wordlists: Vec<String>,
    /// Neighbour languages.
    pub neighbours: Vec<String>,
    /// Suite file and name.
    pub suite: Option<String>,
    /// Suite name.
    pub suite_name: Option<String>,
}

/// All metrics of one subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectMetrics {
    /// Documents.
    pub documents: usize,
    /// Diversity.
    pub diversity: Diversity,
    /// Language fidelity.
    pub fidelity: Fidelity,
    /// Leakage against the seed (`null` for the seed itself).
    pub leakage: Option<Leakage>,
    /// Likeness to the seed.
    pub likeness: Likeness,
}

/// The metrics of the three subjects and usefulness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The corpus under evaluation.
    pub synthetic: SubjectMetrics,
    /// The seed corpus.
    pub seed: SubjectMetrics,
    /// The held-out real split (`null` when there is none).
    pub heldout: Option<SubjectMetrics>,
    /// Train on synthetic, test on real (`null` without held-out text).
    pub usefulness: Option<Usefulness>,
}

/// The metrics of one group of samples (a model or a template).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// The group's metrics (as `metrics.synthetic`).
    pub metrics: SubjectMetrics,
    /// Usefulness of the group's samples.
    pub usefulness: Option<Usefulness>,
}

/// One row of the report's sample table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRow {
    /// Sample id.
    pub id: String,
    /// Model.
    pub model: Option<String>,
    /// Template.
    pub template: Option<String>,
    /// Curation verdict.
    pub verdict: Option<String>,
    /// Other labels.
    pub labels: BTreeMap<String, String>,
    /// Text.
    pub text: String,
    /// Graphemes.
    pub graphemes: usize,
    /// Words.
    pub words: usize,
    /// LID top-1 and its score.
    pub lid_top: Option<(String, f64)>,
    /// Target-language LID score.
    pub lid_target: Option<f64>,
    /// Longest span shared with the seed, in words.
    pub span: usize,
    /// Identical to a seed document.
    pub verbatim: bool,
    /// Evaluation flags (`verbatim_copy`, `long_copied_span`, `not_target_language`).
    pub flags: Vec<String>,
}

/// The evaluation report: `eval.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Always [`EVAL_SCHEMA`].
    pub schema: String,
    /// Tool and version.
    pub tool: String,
    /// Target language.
    pub lang: String,
    /// Target script.
    pub script: String,
    /// Inputs.
    pub inputs: InputsInfo,
    /// Settings used.
    pub settings: EvalSettings,
    /// Warnings and notes (absent metrics and why).
    pub notes: Vec<String>,
    /// Metrics.
    pub metrics: Metrics,
    /// Breakdowns: `model` and `template`, each keyed by its value (`(none)` when missing).
    pub breakdowns: BTreeMap<String, BTreeMap<String, Breakdown>>,
    /// Gate outcomes (empty without a suite).
    pub gates: Vec<GateResult>,
    /// Whether every gate passed (`null` without gates).
    pub passed: Option<bool>,
    /// Flag counts over all samples.
    pub flags: BTreeMap<String, usize>,
    /// Seconds per step (volatile).
    pub timings: BTreeMap<String, f64>,
    /// The sample table of the HTML report (not in `eval.json`).
    #[serde(skip)]
    pub table: Vec<SampleRow>,
}

impl EvalReport {
    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Whether a gate failed.
    pub fn gate_failed(&self) -> bool {
        self.passed == Some(false)
    }
}

/// Per-document features of one subject.
struct Docs<'a> {
    texts: Vec<&'a str>,
    words: Vec<Vec<u32>>,
    lens: Vec<Lengths>,
    lid: Option<Vec<LidDoc>>,
    leak: Option<Vec<LeakDoc>>,
}

/// Shared context: seed indexes, vocab, word lists.
struct Ctx<'a> {
    lang: &'a str,
    latin: bool,
    neighbours: &'a [String],
    lid_model: Option<String>,
    vocab_size: usize,
    seed_vocab: Vec<bool>,
    wordlists: WordlistIndex,
    alphabet: BTreeSet<char>,
    seed_lens: Vec<Lengths>,
    seed_words: usize,
    seed_chars: CharCounts,
    dcr: Option<DcrContext>,
    settings: &'a EvalSettings,
}

fn lengths(texts: &[&str], words: &[Vec<u32>]) -> Vec<Lengths> {
    use rayon::prelude::*;
    texts
        .par_iter()
        .zip(words.par_iter())
        .map(|(t, w)| Lengths {
            graphemes: text::grapheme_count(t),
            words: w.len(),
            sentences: crate::ingest::sentences(t).len(),
        })
        .collect()
}

fn lid_docs(
    texts: &[&str],
    lid: Option<&dyn LanguageIdentifier>,
    lang: &str,
) -> Option<Vec<LidDoc>> {
    use rayon::prelude::*;
    let lid = lid?;
    Some(
        texts
            .par_iter()
            .map(|t| LidDoc::from_scores(lid.identify(t), lang))
            .collect(),
    )
}

/// Measure one subject (or a group: `idx` selects documents).
fn measure(
    ctx: &Ctx,
    d: &Docs,
    idx: Option<&[usize]>,
    is_seed: bool,
    dcr_role: DcrRole,
) -> SubjectMetrics {
    let pick = |i: usize| idx.map_or(i, |v| v[i]);
    let n = idx.map_or(d.texts.len(), |v| v.len());
    let texts: Vec<&str> = (0..n).map(|i| d.texts[pick(i)]).collect();
    let words: Vec<&[u32]> = (0..n).map(|i| d.words[pick(i)].as_slice()).collect();
    let lens: Vec<&Lengths> = (0..n).map(|i| &d.lens[pick(i)]).collect();
    let chars = diversity::char_counts(&texts, 4);
    let s = ctx.settings;
    let dsettings = DiversitySettings {
        seed: s.seed,
        self_bleu_sample: s.self_bleu_sample,
        self_repetition_n: s.self_repetition_n,
        mattr_window: s.mattr_window,
        match_words: ctx.seed_words,
    };
    let div = diversity::diversity(
        &words,
        &texts,
        &chars,
        ctx.vocab_size,
        (!is_seed).then_some(ctx.seed_vocab.as_slice()),
        &dsettings,
    );
    let lid = match (&d.lid, &ctx.lid_model) {
        (Some(l), Some(m)) => {
            let docs: Vec<&LidDoc> = (0..n).map(|i| &l[pick(i)]).collect();
            Some(fidelity::lid_stats(&docs, ctx.lang, ctx.neighbours, m))
        }
        _ => None,
    };
    let fid = Fidelity {
        lid,
        wordlist: fidelity::wordlist_stats(&words, &ctx.wordlists),
        charset: fidelity::charset(&texts, &ctx.alphabet, ctx.latin),
    };
    let leakage = d.leak.as_ref().map(|l| {
        let docs: Vec<&LeakDoc> = (0..n).map(|i| &l[pick(i)]).collect();
        let dcr = match (&ctx.dcr, dcr_role) {
            (Some(c), DcrRole::Sampled) => Some(c.measure(&texts, s.dcr_sample, s.seed)),
            (Some(c), DcrRole::Heldout) => Some(c.heldout_only()),
            _ => None,
        };
        leakage::leakage(&docs, dcr)
    });
    let like = likeness::likeness(&lens, &ctx.seed_lens, &chars, &ctx.seed_chars);
    SubjectMetrics {
        documents: n,
        diversity: div,
        fidelity: fid,
        leakage,
        likeness: like,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum DcrRole {
    Sampled,
    Heldout,
    None,
}

fn secs(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
}

/// Evaluate a corpus against real text.
pub fn evaluate(inputs: &EvalInputs) -> Result<EvalReport, EvalError> {
    inputs
        .settings
        .validate()
        .map_err(|(field, message)| EvalError::Settings { field, message })?;
    let s = &inputs.settings;
    let t_all = Instant::now();
    let mut timings = BTreeMap::new();
    let mut notes: Vec<String> = inputs.corpus.warnings.clone();

    // 1. Tokenise every subject with one interner.
    let t = Instant::now();
    let mut interner = Interner::new();
    let mut buf = String::new();
    let seed_texts: Vec<&str> = inputs.seed.texts.iter().map(|t| t.as_str()).collect();
    let seed_words: Vec<Vec<u32>> = seed_texts
        .iter()
        .map(|t| interner.tokenize(t, &mut buf))
        .collect();
    let syn_texts: Vec<&str> = inputs
        .corpus
        .samples
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    let syn_words: Vec<Vec<u32>> = syn_texts
        .iter()
        .map(|t| interner.tokenize(t, &mut buf))
        .collect();
    let held_texts: Option<Vec<&str>> = inputs
        .heldout
        .as_ref()
        .map(|h| h.texts.iter().map(|t| t.as_str()).collect());
    let held_words: Option<Vec<Vec<u32>>> = held_texts
        .as_ref()
        .map(|h| h.iter().map(|t| interner.tokenize(t, &mut buf)).collect());
    // Word lists only mark words that occur somewhere: others cannot be covered.
    let mut lists = BTreeMap::new();
    for (l, ws) in &inputs.wordlists {
        let mut m = vec![false; interner.len()];
        for w in ws {
            text::for_each_word(w, &mut buf, |w| {
                if let Some(id) = interner.get(w) {
                    m[id as usize] = true;
                }
            });
        }
        lists.insert(l.clone(), m);
    }
    let vocab_size = interner.len();
    let mut seed_vocab = vec![false; vocab_size];
    for w in &seed_words {
        for &t in w {
            seed_vocab[t as usize] = true;
        }
    }
    timings.insert("tokenize".into(), secs(t));

    // 2. Seed indexes.
    let t = Instant::now();
    let seed_refs: Vec<&[u32]> = seed_words.iter().map(|w| w.as_slice()).collect();
    let span_index = SpanIndex::build(&seed_refs);
    let seed_ngrams = SeedNgrams::build(&seed_refs);
    let seed_set: HashSet<&str> = seed_texts.iter().copied().collect();
    let seed_lens = lengths(&seed_texts, &seed_words);
    let seed_chars = diversity::char_counts(&seed_texts, 4);
    let dcr = held_texts
        .as_ref()
        .filter(|h| !h.is_empty() && !seed_texts.is_empty())
        .map(|h| DcrContext::build(&seed_texts, h));
    let seed_model = held_texts
        .as_ref()
        .map(|_| CharNgram::train(s.ngram_order, seed_texts.iter().copied()));
    timings.insert("seed_index".into(), secs(t));

    // 3. Per-document features.
    let t = Instant::now();
    let leak_docs = |texts: &[&str], words: &[Vec<u32>]| -> Vec<LeakDoc> {
        use rayon::prelude::*;
        texts
            .par_iter()
            .zip(words.par_iter())
            .map(|(t, w)| LeakDoc {
                verbatim: seed_set.contains(t),
                span: span_index.longest_span(w),
                words: w.len(),
                overlap: seed_ngrams.overlap(w),
            })
            .collect()
    };
    let lang = inputs.lang.as_str();
    let syn = Docs {
        lens: lengths(&syn_texts, &syn_words),
        lid: lid_docs(&syn_texts, inputs.lid, lang),
        leak: Some(leak_docs(&syn_texts, &syn_words)),
        texts: syn_texts.clone(),
        words: syn_words,
    };
    let seed_docs = Docs {
        lens: seed_lens.clone(),
        lid: lid_docs(&seed_texts, inputs.lid, lang),
        leak: None,
        texts: seed_texts.clone(),
        words: seed_words.clone(),
    };
    let held = match (held_texts, held_words) {
        (Some(t), Some(w)) => Some(Docs {
            lens: lengths(&t, &w),
            lid: lid_docs(&t, inputs.lid, lang),
            leak: Some(leak_docs(&t, &w)),
            texts: t,
            words: w,
        }),
        _ => None,
    };
    timings.insert("per_document".into(), secs(t));

    let lid_model = inputs.lid.map(|l| l.model_id());
    if lid_model.is_none() {
        notes.push("no language identifier was given: LID metrics are absent (null)".into());
    }
    if !inputs.wordlists.contains_key(&inputs.lang) {
        notes.push(format!(
            "no word list for `{}`: word-list coverage is absent (null)",
            inputs.lang
        ));
    }
    if held.is_none() {
        notes.push(
            "no held-out real text: usefulness, the held-out column and DCR are absent".into(),
        );
    }
    let ctx = Ctx {
        lang,
        latin: inputs.script == "Latn",
        neighbours: &inputs.neighbours,
        lid_model: lid_model.clone(),
        vocab_size,
        seed_vocab,
        wordlists: WordlistIndex {
            target: inputs.lang.clone(),
            lists,
        },
        alphabet: fidelity::seed_alphabet(seed_texts.iter().copied()),
        seed_words: seed_words.iter().map(|w| w.len()).sum(),
        seed_lens,
        seed_chars,
        dcr,
        settings: s,
    };

    // 4. Subjects.
    let t = Instant::now();
    let synthetic = measure(&ctx, &syn, None, false, DcrRole::Sampled);
    timings.insert("synthetic".into(), secs(t));
    let t = Instant::now();
    let seed_m = measure(&ctx, &seed_docs, None, true, DcrRole::None);
    let held_m = held
        .as_ref()
        .map(|h| measure(&ctx, h, None, false, DcrRole::Heldout));
    timings.insert("real".into(), secs(t));
    let t = Instant::now();
    let useful = |texts: &[&str], salt: u64| {
        held.as_ref().and_then(|h| {
            usefulness::usefulness(
                &seed_texts,
                seed_model.as_ref(),
                texts,
                &h.texts,
                s.ngram_order,
                s.max_train_chars,
                mix64(s.seed ^ salt),
            )
        })
    };
    let usefulness_all = useful(&syn.texts, 0);
    timings.insert("usefulness".into(), secs(t));

    // 5. Breakdowns.
    let t = Instant::now();
    let mut breakdowns = BTreeMap::new();
    if s.breakdowns {
        type KeyFn = fn(&Sample) -> Option<&String>;
        let dims: [(&str, KeyFn); 2] = [
            ("model", |x| x.model.as_ref()),
            ("template", |x| x.template.as_ref()),
        ];
        for (dim, key) in dims {
            if !inputs.corpus.samples.iter().any(|x| key(x).is_some()) {
                continue;
            }
            let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for (i, x) in inputs.corpus.samples.iter().enumerate() {
                groups
                    .entry(key(x).cloned().unwrap_or_else(|| "(none)".into()))
                    .or_default()
                    .push(i);
            }
            let mut out = BTreeMap::new();
            for (g, idx) in groups {
                let m = measure(&ctx, &syn, Some(&idx), false, DcrRole::Sampled);
                let texts: Vec<&str> = idx.iter().map(|&i| syn.texts[i]).collect();
                let u = useful(&texts, text::seq_hash(g.chars().map(|c| c as u32)));
                out.insert(
                    g,
                    Breakdown {
                        metrics: m,
                        usefulness: u,
                    },
                );
            }
            breakdowns.insert(dim.to_string(), out);
        }
    }
    timings.insert("breakdowns".into(), secs(t));

    // 6. Flags and the sample table.
    let mut flags: BTreeMap<String, usize> = [
        ("verbatim_copy", 0usize),
        ("long_copied_span", 0),
        ("not_target_language", 0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let flags_of = |i: usize| -> Vec<String> {
        let mut f = Vec::new();
        let l = &syn.leak.as_ref().expect("synthetic leak")[i];
        if l.verbatim {
            f.push("verbatim_copy".to_string());
        } else if l.span >= s.span_flag_words {
            f.push("long_copied_span".to_string());
        }
        if let Some(lid) = &syn.lid {
            if lid[i].top.as_deref() != Some(lang) {
                f.push("not_target_language".to_string());
            }
        }
        f
    };
    for i in 0..syn.texts.len() {
        for f in flags_of(i) {
            *flags.entry(f).or_default() += 1;
        }
    }
    let n = syn.texts.len();
    let mut rows: Vec<usize> = if n > s.table_samples {
        let mut rng = ChaCha8Rng::seed_from_u64(mix64(s.seed ^ 0x7ab1e));
        index_sample(&mut rng, n, s.table_samples).into_vec()
    } else {
        (0..n).collect()
    };
    rows.sort_unstable();
    let table = rows
        .into_iter()
        .map(|i| {
            let x = &inputs.corpus.samples[i];
            let l = &syn.leak.as_ref().expect("synthetic leak")[i];
            let lid = syn.lid.as_ref().map(|v| &v[i]);
            SampleRow {
                id: x.id.clone(),
                model: x.model.clone(),
                template: x.template.clone(),
                verdict: x.verdict.clone(),
                labels: x.labels.clone(),
                text: x.text.clone(),
                graphemes: syn.lens[i].graphemes,
                words: syn.lens[i].words,
                lid_top: lid.and_then(|d| Some((d.top.clone()?, text::round6(d.top_score)))),
                lid_target: lid.map(|d| text::round6(d.target_score)),
                span: l.span,
                verbatim: l.verbatim,
                flags: flags_of(i),
            }
        })
        .collect();
    timings.insert("total".into(), secs(t_all));

    let mut report = EvalReport {
        schema: EVAL_SCHEMA.into(),
        tool: format!("synthcorpus {}", env!("CARGO_PKG_VERSION")),
        lang: inputs.lang.clone(),
        script: inputs.script.clone(),
        inputs: InputsInfo {
            corpus: inputs.corpus.info.clone(),
            seed: inputs.seed.info.clone(),
            heldout: inputs.heldout.as_ref().map(|h| h.info.clone()),
            lid_model,
            wordlists: inputs.wordlists.keys().cloned().collect(),
            neighbours: inputs.neighbours.clone(),
            suite: inputs.suite.as_ref().map(|s| s.0.clone()),
            suite_name: inputs.suite.as_ref().map(|s| s.1.clone()),
        },
        settings: s.clone(),
        notes,
        metrics: Metrics {
            synthetic,
            seed: seed_m,
            heldout: held_m,
            usefulness: usefulness_all,
        },
        breakdowns,
        gates: Vec::new(),
        passed: None,
        flags,
        timings,
        table,
    };
    if !inputs.gates.is_empty() {
        let json = report.to_json();
        report.gates = check_gates(&inputs.gates, &json);
        report.passed = Some(report.gates.iter().all(|g| g.status != "failed"));
    }
    Ok(report)
}

/// The files [`write_outputs`] wrote.
#[derive(Debug, Clone)]
pub struct OutputPaths {
    /// `eval.json`.
    pub json: PathBuf,
    /// `eval.md`.
    pub markdown: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
}

/// Write `eval.json`, `eval.md` and `report.html` into `dir` (created if needed).
pub fn write_outputs(report: &EvalReport, dir: &Path) -> Result<OutputPaths, EvalError> {
    std::fs::create_dir_all(dir).map_err(|source| EvalError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let write = |name: &str, body: &str| -> Result<PathBuf, EvalError> {
        let p = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, body)
            .and_then(|_| std::fs::rename(&tmp, &p))
            .map_err(|source| EvalError::Io {
                path: p.clone(),
                source,
            })?;
        Ok(p)
    };
    let json = serde_json::to_string_pretty(report).map_err(|e| EvalError::Render {
        what: "eval.json".into(),
        message: e.to_string(),
    })?;
    Ok(OutputPaths {
        json: write("eval.json", &(json + "\n"))?,
        markdown: write("eval.md", &markdown::render(report))?,
        html: write("report.html", &html::render(report))?,
    })
}

/// Read an `eval.json`.
pub fn read_report(path: &Path) -> Result<EvalReport, EvalError> {
    let t = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&t).map_err(|e| EvalError::Input {
        path: path.to_path_buf(),
        message: format!("not an eval.json: {e}"),
    })
}
