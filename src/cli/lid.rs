//! `synthcorpus lid ...`: train, run and evaluate the language identifier.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::lid::{
    self, evaluate, heldout_sentences, heldout_windows, read_corpus_dir, read_labelled_tsv,
    read_weighting, EvalReport, Extractor, FusedLid, FusionTables, HoldoutRule, LabelledText,
    LidModel, Thresholds, TrainConfig, TrainInputs, TuneConfig, WordLists,
};

/// Where the FineWeb-2 word lists are, relative to the repository root.
const DEFAULT_WORDLISTS: &str = "../shared/data/fineweb2/wordlists-0.85";

/// `synthcorpus lid` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LidCommand {
    /// Train a model on a folder of per-language texts (one paragraph per line).
    Train {
        /// Folder of texts: `INDEX.tsv` (file, iso639_3, ...) or `<lang>[_variant].txt` files.
        #[arg(long, default_value = "../shared/data/udhr")]
        data: PathBuf,
        /// Folder of word lists (`<lang>_Latn.txt`) used for languages the weighting lists.
        #[arg(long)]
        wordlists: Option<PathBuf>,
        /// Per-language weighting (`lang top_k text_weight wordlist_weight`, tab-separated).
        #[arg(long)]
        weighting: Option<PathBuf>,
        /// Where to write the model.
        #[arg(long, default_value = lid::DEFAULT_MODEL_PATH)]
        out: PathBuf,
        /// Features kept per language (languages without a weighting row).
        #[arg(long, default_value_t = TrainConfig::default().top_k)]
        top_k: usize,
        /// Additive smoothing.
        #[arg(long, default_value_t = TrainConfig::default().alpha)]
        alpha: f64,
        /// Held-out rule: line n (1-based) is held out when n % holdout_mod == holdout_rem.
        #[arg(long, default_value_t = 5)]
        holdout_mod: usize,
        /// See `--holdout-mod`.
        #[arg(long, default_value_t = 0)]
        holdout_rem: usize,
        /// Model name (first part of the model id).
        #[arg(long, default_value = "udhr-lid")]
        name: String,
        /// Discriminative fine-tuning: passes over the training texts (0: plain naive Bayes).
        #[arg(long, default_value_t = TuneConfig::default().epochs)]
        tune_epochs: usize,
        /// Fine-tuning: cross-fitting folds (line n is in fold n % folds).
        #[arg(long, default_value_t = TuneConfig::default().folds)]
        tune_folds: usize,
        /// Fine-tuning: correction per feature occurrence per update (nats).
        #[arg(long, default_value_t = TuneConfig::default().rate)]
        tune_rate: f64,
        /// Fine-tuning: required lead of the gold score, in nats per n^0.75 (n features).
        #[arg(long, default_value_t = TuneConfig::default().margin)]
        tune_margin: f64,
        /// Fine-tuning: correction of the languages' score biases per update (nats).
        #[arg(long, default_value_t = TuneConfig::default().bias_rate)]
        tune_bias_rate: f64,
        /// Fine-tuning: competing languages kept per text.
        #[arg(long, default_value_t = TuneConfig::default().candidates)]
        tune_candidates: usize,
        /// Fine-tuning: competitors are languages within this many nats per n^0.75 of the gold.
        #[arg(long, default_value_t = TuneConfig::default().reach)]
        tune_reach: f64,
        /// Fine-tuning: smallest correction (nats) that adds a table entry.
        #[arg(long, default_value_t = TuneConfig::default().min_correction)]
        tune_min_correction: f64,
        /// Fine-tuning: also train on word windows of about these lengths (comma-separated).
        #[arg(long, value_delimiter = ',')]
        tune_windows: Vec<usize>,
    },
    /// Identify the language of each input line; one JSON object per line, in order.
    Identify {
        /// Model file (default: $SYNTHCORPUS_LID_MODEL or the shipped model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Restrict the label set to these codes (comma-separated), e.g. `ven,tso,nso,zul`.
        #[arg(long, value_delimiter = ',')]
        restrict: Vec<String>,
        /// Per-language thresholds, `lang=0.9,*=0.5`: a top score under it gives `und`.
        #[arg(long, default_value = "")]
        thresholds: String,
        /// Hypotheses listed in `ranked`.
        #[arg(long, default_value_t = 3)]
        top: usize,
        /// Word lists folder: adds the word-list signal for `--target`; with `--fusion`, the
        /// lists the tables were fitted on (default: ../shared/data/fineweb2/wordlists-0.85).
        #[arg(long)]
        wordlists: Option<PathBuf>,
        /// Target language of the word-list signal.
        #[arg(long, requires = "wordlists")]
        target: Option<String>,
        /// Fuse the word-list signal into the scores among close neighbours (tables written by
        /// `lid fuse`, e.g. lid/fusion.json).
        #[arg(long)]
        fusion: Option<PathBuf>,
        /// With `--fusion`: override the tables' weight lambda.
        #[arg(long, requires = "fusion")]
        lambda: Option<f64>,
        /// Input files (one text per line); stdin when none.
        files: Vec<PathBuf>,
    },
    /// Evaluate on a labelled test set: accuracy, per-language P/R/F1 (F1 with a 95% bootstrap interval), confusion, length buckets.
    Eval {
        /// Model file (default: $SYNTHCORPUS_LID_MODEL or the shipped model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Test set: `lang<TAB>text` per line.
        #[arg(long, conflicts_with = "udhr")]
        test: Option<PathBuf>,
        /// Build the test set from a corpus folder's held-out lines (split into sentences).
        #[arg(long)]
        udhr: Option<PathBuf>,
        /// Keep only test texts of these gold languages (comma-separated).
        #[arg(long, value_delimiter = ',')]
        langs: Vec<String>,
        /// Restrict the label set (comma-separated); `sa` means the eleven South African languages.
        #[arg(long, value_delimiter = ',')]
        restrict: Vec<String>,
        /// Write the full report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Exit 3 if any reported language's F1 is under this.
        #[arg(long)]
        min_f1: Option<f64>,
        /// Report these languages in the table (default: South African ones present, else all).
        #[arg(long, value_delimiter = ',')]
        report: Vec<String>,
        /// Held-out rule modulus (with `--udhr`).
        #[arg(long, default_value_t = 5)]
        holdout_mod: usize,
        /// Held-out rule remainder (with `--udhr`).
        #[arg(long, default_value_t = 0)]
        holdout_rem: usize,
        /// Evaluate with the word-list signal fused in (tables written by `lid fuse`).
        #[arg(long)]
        fusion: Option<PathBuf>,
        /// With `--fusion`: the word lists (default: ../shared/data/fineweb2/wordlists-0.85).
        #[arg(long, requires = "fusion")]
        wordlists: Option<PathBuf>,
        /// With `--fusion`: override the tables' weight lambda.
        #[arg(long, requires = "fusion")]
        lambda: Option<f64>,
    },
    /// Fit the word-list fusion tables of a model (`P(pattern | language)` on its training lines).
    Fuse {
        /// Model file (default: $SYNTHCORPUS_LID_MODEL or the shipped model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// The corpus folder the model was trained on.
        #[arg(long, default_value = "../shared/data/udhr")]
        data: PathBuf,
        /// Word lists folder.
        #[arg(long, default_value = DEFAULT_WORDLISTS)]
        wordlists: PathBuf,
        /// Groups of close neighbours and their weights, `nbl+ssw+xho+zul=1,nso+sot+tsn=0.0625`
        /// (members joined by `+`, groups by `,`; choose the weights on a development split).
        /// Default: the shipped groups and weights.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// Where to write the tables (JSON).
        #[arg(long, default_value = "lid/fusion.json")]
        out: PathBuf,
    },
    /// Write the held-out sentences of a corpus folder as `lang<TAB>text` lines.
    Heldout {
        /// Corpus folder.
        #[arg(long, default_value = "../shared/data/udhr")]
        data: PathBuf,
        /// Only these languages (comma-separated; `sa`: the South African eleven).
        #[arg(long, value_delimiter = ',')]
        langs: Vec<String>,
        /// Output file (stdout when absent).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Held-out rule modulus.
        #[arg(long, default_value_t = 5)]
        holdout_mod: usize,
        /// Held-out rule remainder.
        #[arg(long, default_value_t = 0)]
        holdout_rem: usize,
        /// Instead of sentences, word-boundary windows of about these lengths (characters,
        /// comma-separated), e.g. `15,35,80` for the 10-20, 20-50 and 50+ buckets.
        #[arg(long, value_delimiter = ',')]
        windows: Vec<usize>,
    },
    /// Measure single-thread speed (sentences per second) on a labelled test set.
    Bench {
        /// Model file.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Test set: `lang<TAB>text` per line.
        #[arg(long)]
        test: PathBuf,
        /// Passes over the test set.
        #[arg(long, default_value_t = 20)]
        repeat: usize,
        /// Restrict the label set (comma-separated; `sa` for the South African eleven).
        #[arg(long, value_delimiter = ',')]
        restrict: Vec<String>,
    },
}

fn expand_langs(v: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for l in v {
        if l == "sa" {
            out.extend(lid::SOUTH_AFRICAN.iter().map(|s| s.to_string()));
        } else if !l.is_empty() {
            out.push(l.clone());
        }
    }
    out.sort();
    out.dedup();
    out
}

fn load_model(path: Option<&Path>) -> Result<LidModel> {
    let p = path.map_or_else(lid::default_model_path, Path::to_path_buf);
    LidModel::load(&p).with_context(|| format!("loading language-ID model {}", p.display()))
}

/// The model with the word-list fusion of `tables` (lists from `wordlists` or the default
/// folder), its weight optionally overridden.
fn load_fused(
    model: LidModel,
    tables: &Path,
    wordlists: Option<&Path>,
    lambda: Option<f64>,
) -> Result<FusedLid> {
    let t = FusionTables::load(tables)?;
    let dir = wordlists.map_or_else(|| PathBuf::from(DEFAULT_WORDLISTS), Path::to_path_buf);
    let wl =
        WordLists::load(&dir).with_context(|| format!("loading word lists {}", dir.display()))?;
    let f = FusedLid::new(std::sync::Arc::new(model), wl, t)?;
    Ok(match lambda {
        Some(l) => f.with_lambda(l)?,
        None => f,
    })
}

/// Run a `lid` subcommand; returns the process exit code.
pub fn run(cmd: LidCommand) -> Result<i32> {
    match cmd {
        LidCommand::Train {
            data,
            wordlists,
            weighting,
            out,
            top_k,
            alpha,
            holdout_mod,
            holdout_rem,
            name,
            tune_epochs,
            tune_folds,
            tune_rate,
            tune_margin,
            tune_bias_rate,
            tune_candidates,
            tune_min_correction,
            tune_reach,
            tune_windows,
        } => {
            let t0 = Instant::now();
            let files = read_corpus_dir(&data)?;
            let boosts = match &weighting {
                Some(w) => read_weighting(w)?,
                None => Default::default(),
            };
            let wl = match &wordlists {
                Some(d) => WordLists::load(d)?.files().clone(),
                None => Default::default(),
            };
            let cfg = TrainConfig {
                name,
                alpha,
                top_k,
                holdout: HoldoutRule {
                    modulus: holdout_mod,
                    remainder: holdout_rem,
                },
                boosts,
                tune: TuneConfig {
                    epochs: tune_epochs,
                    folds: tune_folds,
                    rate: tune_rate,
                    margin: tune_margin,
                    bias_rate: tune_bias_rate,
                    candidates: tune_candidates,
                    min_correction: tune_min_correction,
                    reach: tune_reach,
                    windows: tune_windows,
                },
                ..TrainConfig::default()
            };
            let model = LidModel::train(
                &cfg,
                &TrainInputs {
                    files,
                    wordlists: wl,
                },
            )?;
            model.save(&out)?;
            let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            eprintln!(
                "trained {} languages in {:.1}s, temperature {} x n^{}, {} bytes -> {} ({})",
                model.langs().len(),
                t0.elapsed().as_secs_f64(),
                model.meta().temperature,
                model.meta().length_exponent,
                size,
                out.display(),
                model.id()
            );
            Ok(super::EXIT_OK)
        }
        LidCommand::Identify {
            model,
            restrict,
            thresholds,
            top,
            wordlists,
            target,
            fusion,
            lambda,
            files,
        } => {
            let m = load_model(model.as_deref())?;
            let fused = match &fusion {
                Some(t) => Some(load_fused(m.clone(), t, wordlists.as_deref(), lambda)?),
                None => None,
            };
            let restrict = expand_langs(&restrict);
            if !restrict.is_empty() {
                m.check_labels(&restrict)?;
            }
            let thresholds = Thresholds::parse(&thresholds)?;
            let wl = match (&target, &wordlists) {
                (Some(_), Some(d)) => Some(WordLists::load(d)?),
                _ => None,
            };
            if wordlists.is_some() && target.is_none() && fusion.is_none() {
                bail!("--wordlists needs --target (the word-list signal) or --fusion");
            }
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let mut ex = Extractor::new();
            let mut handle = |line: &str| -> Result<()> {
                let r = (!restrict.is_empty()).then_some(restrict.as_slice());
                let ranked = match &fused {
                    Some(f) => f.identify_with(line, r, &mut ex),
                    None => m.identify_with(line, r, &mut ex),
                };
                let mut obj = serde_json::Map::new();
                match thresholds.accept(&ranked) {
                    Some(best) => {
                        obj.insert("lang".into(), json!(best.lang));
                        obj.insert("score".into(), json!(best.score));
                    }
                    None => {
                        obj.insert("lang".into(), json!(lid::NO_OPINION_LABEL));
                        obj.insert(
                            "score".into(),
                            json!(ranked.first().map_or(0.0, |b| b.score)),
                        );
                        let reason = match m.no_opinion(line) {
                            Some(lid::NoOpinion::Empty) => "empty",
                            Some(lid::NoOpinion::UnseenScript) => "unseen_script",
                            None => "below_threshold",
                        };
                        obj.insert("reason".into(), json!(reason));
                    }
                }
                let shown: Vec<_> = ranked.iter().take(top).collect();
                obj.insert("ranked".into(), serde_json::to_value(shown)?);
                if let (Some(wl), Some(t)) = (&wl, &target) {
                    obj.insert(
                        "wordlist".into(),
                        serde_json::to_value(wl.signal(line, t, &[]))?,
                    );
                }
                serde_json::to_writer(&mut out, &obj)?;
                out.write_all(b"\n")?;
                Ok(())
            };
            if files.is_empty() {
                let stdin = std::io::stdin();
                for line in stdin.lock().lines() {
                    handle(&line.context("reading stdin")?)?;
                }
            } else {
                for f in &files {
                    let file = std::fs::File::open(f)
                        .with_context(|| format!("opening {}", f.display()))?;
                    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
                        let line =
                            line.with_context(|| format!("{}: line {}", f.display(), i + 1))?;
                        handle(&line)?;
                    }
                }
            }
            out.flush()?;
            Ok(super::EXIT_OK)
        }
        LidCommand::Eval {
            model,
            test,
            udhr,
            langs,
            restrict,
            json,
            min_f1,
            report,
            holdout_mod,
            holdout_rem,
            fusion,
            wordlists,
            lambda,
        } => {
            let m = load_model(model.as_deref())?;
            let langs = expand_langs(&langs);
            let samples = load_samples(
                test.as_deref(),
                udhr.as_deref(),
                &langs,
                HoldoutRule {
                    modulus: holdout_mod,
                    remainder: holdout_rem,
                },
            )?;
            if samples.is_empty() {
                bail!("no test texts");
            }
            let restrict = expand_langs(&restrict);
            let r = (!restrict.is_empty()).then_some(restrict.as_slice());
            let rep = match &fusion {
                Some(t) => {
                    let f = load_fused(m, t, wordlists.as_deref(), lambda)?;
                    lid::evaluate_fused(&f, &samples, r)?
                }
                None => evaluate(&m, &samples, r)?,
            };
            let mut shown = expand_langs(&report);
            if shown.is_empty() {
                shown = lid::SOUTH_AFRICAN
                    .iter()
                    .map(|s| s.to_string())
                    .filter(|l| rep.per_lang.contains_key(l))
                    .collect();
                if shown.is_empty() {
                    shown = rep.per_lang.keys().cloned().collect();
                }
            }
            print_report(&rep, &shown);
            if let Some(p) = json {
                let s = serde_json::to_string_pretty(&rep)?;
                std::fs::write(&p, s + "\n").with_context(|| format!("writing {}", p.display()))?;
            }
            if let Some(min) = min_f1 {
                let low: Vec<_> = shown
                    .iter()
                    .filter_map(|l| rep.per_lang.get(l).map(|p| (l, p.f1)))
                    .filter(|(_, f)| *f < min)
                    .collect();
                if !low.is_empty() {
                    eprintln!("F1 under {min}: {low:?}");
                    return Ok(super::EXIT_CHECK_FAILED);
                }
            }
            Ok(super::EXIT_OK)
        }
        LidCommand::Fuse {
            model,
            data,
            wordlists,
            groups,
            out,
        } => {
            let m = load_model(model.as_deref())?;
            let files = read_corpus_dir(&data)?;
            let wl = WordLists::load(&wordlists)
                .with_context(|| format!("loading word lists {}", wordlists.display()))?;
            let groups = if groups.is_empty() {
                lid::default_groups()
            } else {
                parse_groups(&groups)?
            };
            let t = FusionTables::fit(&m, &files, &wl, &groups)?;
            t.save(&out)?;
            eprintln!(
                "fusion tables for {} ({} groups) -> {}",
                m.id(),
                t.groups.len(),
                out.display()
            );
            Ok(super::EXIT_OK)
        }
        LidCommand::Heldout {
            data,
            langs,
            out,
            holdout_mod,
            holdout_rem,
            windows,
        } => {
            let langs = expand_langs(&langs);
            let rule = HoldoutRule {
                modulus: holdout_mod,
                remainder: holdout_rem,
            };
            let samples = if windows.is_empty() {
                load_samples(None, Some(&data), &langs, rule)?
            } else {
                let files = read_corpus_dir(&data)?;
                let l = (!langs.is_empty()).then_some(langs.as_slice());
                heldout_windows(&files, rule, l, &TrainConfig::default().exclude, &windows)
            };
            let mut s = String::new();
            for t in &samples {
                s.push_str(&t.lang);
                s.push('\t');
                s.push_str(&t.text.replace(['\t', '\n'], " "));
                s.push('\n');
            }
            match out {
                Some(p) => {
                    std::fs::write(&p, s).with_context(|| format!("writing {}", p.display()))?
                }
                None => std::io::stdout().write_all(s.as_bytes())?,
            }
            eprintln!("{} held-out sentences", samples.len());
            Ok(super::EXIT_OK)
        }
        LidCommand::Bench {
            model,
            test,
            repeat,
            restrict,
        } => {
            let m = load_model(model.as_deref())?;
            let samples = read_labelled_tsv(&test)?;
            let restrict = expand_langs(&restrict);
            let idx = if restrict.is_empty() {
                None
            } else {
                Some(m.check_labels(&restrict)?)
            };
            let mut ex = Extractor::new();
            let mut correct = 0usize;
            let t0 = Instant::now();
            for _ in 0..repeat.max(1) {
                for s in &samples {
                    if let Some(i) = m.best(&s.text, idx.as_deref(), &mut ex) {
                        correct += usize::from(m.langs()[i] == s.lang);
                    }
                }
            }
            let dt = t0.elapsed().as_secs_f64();
            let n = samples.len() * repeat.max(1);
            // Full ranked output with probabilities, as `identify` does.
            let t1 = Instant::now();
            for s in &samples {
                std::hint::black_box(m.identify_with(
                    &s.text,
                    (!restrict.is_empty()).then_some(restrict.as_slice()),
                    &mut ex,
                ));
            }
            let dt1 = t1.elapsed().as_secs_f64();
            println!(
                "{}",
                json!({
                    "model": m.id(),
                    "sentences": n,
                    "seconds": dt,
                    "sentences_per_sec_top1": n as f64 / dt,
                    "sentences_per_sec_ranked": samples.len() as f64 / dt1,
                    "accuracy": correct as f64 / n as f64,
                    "threads": 1,
                })
            );
            Ok(super::EXIT_OK)
        }
    }
}

/// Parse `lang+lang+...=lambda` items.
fn parse_groups(items: &[String]) -> Result<Vec<(Vec<String>, f64)>> {
    let mut out = Vec::new();
    for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let Some((members, lambda)) = item.split_once('=') else {
            bail!("fusion group `{item}`: expected lang+lang+...=lambda");
        };
        let lambda: f64 = lambda
            .trim()
            .parse()
            .with_context(|| format!("fusion group `{item}`: lambda"))?;
        let members = members.split('+').map(|l| l.trim().to_string()).collect();
        out.push((members, lambda));
    }
    Ok(out)
}

fn load_samples(
    test: Option<&Path>,
    udhr: Option<&Path>,
    langs: &[String],
    rule: HoldoutRule,
) -> Result<Vec<LabelledText>> {
    let mut samples = match (test, udhr) {
        (Some(t), _) => read_labelled_tsv(t)?,
        (None, Some(d)) => {
            let files = read_corpus_dir(d)?;
            heldout_sentences(&files, rule, None, &TrainConfig::default().exclude)
        }
        (None, None) => bail!("give --test FILE or --udhr DIR"),
    };
    if !langs.is_empty() {
        samples.retain(|s| langs.contains(&s.lang));
    }
    Ok(samples)
}

fn print_report(rep: &EvalReport, shown: &[String]) {
    println!("model {}  label set: {}", rep.model, rep.label_set);
    println!(
        "texts {}  accuracy {:.4}  no opinion {}",
        rep.n, rep.accuracy, rep.no_opinion
    );
    println!("lang  support  precision  recall  f1      f1 95% CI        top confusions");
    for l in shown {
        let Some(p) = rep.per_lang.get(l) else {
            continue;
        };
        let mut conf: Vec<(&String, &u64)> = rep
            .confusion
            .get(l)
            .map(|row| row.iter().filter(|(k, _)| *k != l).collect())
            .unwrap_or_default();
        conf.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let conf: Vec<String> = conf
            .iter()
            .take(3)
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        let ci = rep
            .f1_interval
            .get(l)
            .map_or_else(|| "-".to_string(), |[lo, hi]| format!("{lo:.3}-{hi:.3}"));
        println!(
            "{l:<5} {:>7}  {:>9.4}  {:>6.4}  {:.4}  {ci:<15}  {}",
            p.support,
            p.precision,
            p.recall,
            p.f1,
            conf.join(" ")
        );
    }
    println!("by length:");
    for (b, v) in &rep.by_length {
        println!("  {b:<6} n={:<6} accuracy {:.4}", v.n, v.accuracy);
    }
}
