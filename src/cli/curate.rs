//! `synthcorpus curate` and `synthcorpus explain`.
//!
//! Seeds come from corpus folders read by [`crate::ingest::load_corpus`] (`--seed-corpus DIR`,
//! `--shipped-seeds` for `corpora/<lang>/`) and from plain-text files with one document per line
//! (`--seed FILE`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use crate::curate::{
    available_profiles, explain::FILTERS, resolve_profile, CurateConfig, CurateError, Curator,
    InputFormat, OnMalformed, ShingleUnit, TrimMode,
};
use crate::ingest::{self, IngestOptions};
use crate::types::{Document, Provenance};

use super::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

/// Input format flag.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// By extension (`.jsonl`, `.txt`), else by the first line.
    Auto,
    /// JSON Lines.
    Jsonl,
    /// Plain text, one sample per line.
    Text,
}

/// Malformed-line flag.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MalformedArg {
    /// Report, write to rejects.jsonl, count, go on.
    Skip,
    /// Stop with an error naming the file and line.
    Fail,
}

/// Trim flag.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TrimArg {
    /// Only samples cut at the token limit (`finish_reason` = `length`).
    Auto,
    /// Every sample.
    Always,
    /// Never.
    Never,
}

/// Shingle unit flag.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UnitArg {
    /// Words.
    Word,
    /// Grapheme clusters (scripts without spaces).
    Grapheme,
}

/// `synthcorpus curate INPUT... --out DIR`
#[derive(Debug, Args)]
pub struct CurateArgs {
    /// Input files: JSONL with a text field, or plain text with one sample per line.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder: samples.jsonl, rejects.jsonl, curate.json.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// TOML configuration: a `[curate]` table (the run configuration) or a bare curate config.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Target language (ISO 639-3); picks the quality profile.
    #[arg(long)]
    pub lang: Option<String>,
    /// Quality profile: a shipped name (see `explain --profiles`) or a TOML path.
    #[arg(long)]
    pub profile: Option<String>,
    /// Seed corpus folder (with corpus.toml), read by ingest (repeatable).
    #[arg(long = "seed-corpus")]
    pub seed_corpora: Vec<PathBuf>,
    /// Seed text file, one document per line (repeatable).
    #[arg(long = "seed")]
    pub seed_files: Vec<PathBuf>,
    /// Also use the shipped seed corpus of the target language (`corpora/<lang>/`).
    #[arg(long)]
    pub shipped_seeds: bool,
    /// Input format.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatArg,
    /// What to do with invalid lines (default: the configuration's, `skip`).
    #[arg(long, value_enum)]
    pub on_malformed: Option<MalformedArg>,
    /// JSON field holding the text.
    #[arg(long)]
    pub text_field: Option<String>,
    /// When to trim samples back to their last full sentence.
    #[arg(long, value_enum)]
    pub trim_incomplete: Option<TrimArg>,
    /// MinHash shingle unit.
    #[arg(long, value_enum)]
    pub unit: Option<UnitArg>,
    /// MinHash shingle size.
    #[arg(long)]
    pub ngram: Option<usize>,
    /// MinHash LSH bands.
    #[arg(long)]
    pub bands: Option<usize>,
    /// MinHash rows per band.
    #[arg(long)]
    pub rows: Option<usize>,
    /// Write zero seconds in curate.json, so it is byte-identical across runs.
    #[arg(long)]
    pub no_timings: bool,
    /// Print no summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `synthcorpus explain [FILTER]`
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The filter or stage; none lists them.
    pub filter: Option<String>,
    /// Target language whose profile supplies the thresholds.
    #[arg(long, default_value = "ven")]
    pub lang: String,
    /// Profile name or TOML path (default: the language's).
    #[arg(long)]
    pub profile: Option<String>,
    /// List the shipped profiles.
    #[arg(long)]
    pub profiles: bool,
}

fn build_config(args: &CurateArgs) -> Result<CurateConfig> {
    let mut cfg = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            CurateConfig::from_toml(&text, &p.display().to_string())?
        }
        None => CurateConfig::default(),
    };
    if let Some(l) = &args.lang {
        cfg.lang = l.clone();
    }
    if let Some(p) = &args.profile {
        cfg.profile = Some(p.clone());
    }
    if let Some(m) = args.on_malformed {
        cfg.on_malformed = match m {
            MalformedArg::Skip => OnMalformed::Skip,
            MalformedArg::Fail => OnMalformed::Fail,
        };
    }
    if let Some(t) = &args.text_field {
        cfg.text_field = t.clone();
    }
    if let Some(t) = args.trim_incomplete {
        cfg.normalize.trim_incomplete = match t {
            TrimArg::Auto => TrimMode::Auto,
            TrimArg::Always => TrimMode::Always,
            TrimArg::Never => TrimMode::Never,
        };
    }
    if let Some(u) = args.unit {
        cfg.near_dedup.unit = match u {
            UnitArg::Word => ShingleUnit::Word,
            UnitArg::Grapheme => ShingleUnit::Grapheme,
        };
    }
    if let Some(n) = args.ngram {
        cfg.near_dedup.ngram = n;
    }
    if let Some(b) = args.bands {
        cfg.near_dedup.bands = b;
    }
    if let Some(r) = args.rows {
        cfg.near_dedup.rows = r;
    }
    if args.no_timings {
        cfg.record_timings = false;
    }
    cfg.validate("command line")?;
    Ok(cfg)
}

fn load_seeds(args: &CurateArgs, lang: &str) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    let opts = IngestOptions {
        target_lang: Some(lang.to_string()),
        ..IngestOptions::default()
    };
    let mut dirs = args.seed_corpora.clone();
    if args.shipped_seeds {
        dirs.push(ingest::shipped_corpus_dir(lang));
    }
    for dir in &dirs {
        let corpus = ingest::load_corpus(dir, &opts)
            .with_context(|| format!("loading seed corpus {}", dir.display()))?;
        for w in &corpus.warnings {
            eprintln!("warning: {w}");
        }
        docs.extend(corpus.documents);
    }
    for file in &args.seed_files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read seed file {}", file.display()))?;
        let corpus = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "seed".into());
        for (i, line) in text.lines().enumerate() {
            let t = ingest::normalize(line);
            if t.is_empty() {
                continue;
            }
            docs.push(Document {
                id: ingest::document_id(&corpus, &t),
                corpus: corpus.clone(),
                text: t,
                lang: lang.to_string(),
                script: "Latn".into(),
                provenance: Provenance::Real,
                lineage_depth: 0,
                source: file.display().to_string(),
                line: i + 1,
            });
        }
    }
    Ok(docs)
}

/// Run `synthcorpus curate`; returns the exit code.
pub fn run(args: CurateArgs) -> Result<i32> {
    let cfg = match build_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(EXIT_USAGE);
        }
    };
    let seeds = load_seeds(&args, &cfg.lang)?;
    let format = match args.format {
        FormatArg::Auto => InputFormat::Auto,
        FormatArg::Jsonl => InputFormat::Jsonl,
        FormatArg::Text => InputFormat::Text,
    };
    // The language identifier plugs in here once the pipeline wires one; without one the lid
    // stage is reported as skipped in curate.json.
    let mut curator = match Curator::new(cfg, &seeds, None) {
        Ok(c) => c,
        Err(
            e @ (CurateError::UnknownProfile { .. }
            | CurateError::Profile { .. }
            | CurateError::Config { .. }),
        ) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
        Err(e) => return Err(e.into()),
    };
    let report = match curator.run_files(&args.inputs, format, &args.out) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_FAILURE);
        }
    };
    if !args.quiet {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        eprintln!(
            "curate: {} records, {} kept, {} rejected -> {}",
            report.totals.records,
            report.totals.kept,
            report.totals.rejected,
            args.out.display()
        );
        for s in &report.stages {
            let reasons: Vec<String> = s
                .stats
                .dropped
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            eprintln!(
                "  {:<12} {:<8} seen {:>8} kept {:>8} {:>8.2}s {}",
                s.stage,
                s.status,
                s.stats.seen,
                s.stats.kept,
                s.stats.seconds,
                reasons.join(" ")
            );
        }
    }
    Ok(EXIT_OK)
}

/// Run `synthcorpus explain`; returns the exit code.
pub fn explain(args: ExplainArgs) -> Result<i32> {
    if args.profiles {
        println!("shipped profiles: {}", available_profiles().join(", "));
        return Ok(EXIT_OK);
    }
    let Some(name) = &args.filter else {
        println!("filters and stages (synthcorpus explain NAME):");
        for f in FILTERS {
            println!("  {f}");
        }
        return Ok(EXIT_OK);
    };
    let (profile, warning) = match resolve_profile(&args.lang, args.profile.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    let cfg = CurateConfig {
        lang: args.lang.clone(),
        ..CurateConfig::default()
    };
    match crate::curate::explain::explain(name, &cfg, &profile) {
        Some(text) => {
            print!("{text}");
            Ok(EXIT_OK)
        }
        None => {
            eprintln!(
                "error: unknown filter `{name}`; filters are {}",
                FILTERS.join(", ")
            );
            Ok(EXIT_USAGE)
        }
    }
}
