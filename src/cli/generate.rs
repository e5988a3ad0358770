//! `synthcorpus generate`: the generate stage from the command line.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;

use crate::config::Config;
use crate::generate::{self, GenerateOptions};
use crate::prompts::{self, PromptLibrary};

use super::{EXIT_OK, EXIT_USAGE};

/// `synthcorpus generate`
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Run configuration (TOML); flags override its keys.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Run directory (`out`).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Number of generations (`generate.samples`).
    #[arg(short = 'n', long = "samples")]
    pub samples: Option<usize>,
    /// Run seed (`seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Target language (`lang`).
    #[arg(long)]
    pub lang: Option<String>,
    /// CPU threads (`threads`).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Stop after writing this many records (the run can be resumed later).
    #[arg(long, hide = true)]
    pub limit: Option<usize>,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Build the resolved configuration: file, then flags, then validation.
pub fn resolve_config(
    file: Option<&PathBuf>,
    apply: impl FnOnce(&mut Config),
) -> Result<Config, crate::config::ConfigError> {
    let mut config = match file {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    apply(&mut config);
    config.resolve()
}

/// Run `synthcorpus generate`.
pub fn run(args: GenerateArgs) -> Result<i32> {
    let config = match resolve_config(args.config.as_ref(), |c| {
        if let Some(o) = &args.out {
            c.out = o.clone();
        }
        if let Some(n) = args.samples {
            c.generate.samples = n;
        }
        if let Some(s) = args.seed {
            c.seed = s;
        }
        if let Some(l) = &args.lang {
            c.lang = l.clone();
        }
        if args.threads.is_some() {
            c.threads = args.threads;
        }
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    if let Some(t) = config.threads {
        crate::backend::set_threads(t);
    }
    let prompts_dir = config
        .generate
        .prompts
        .clone()
        .unwrap_or_else(prompts::shipped_dir);
    let library = PromptLibrary::load(&prompts_dir)?;
    let lang = prompts::load_language(&prompts_dir, &config.lang)?;
    let corpora = crate::run::load_seed_corpora(&config)?;
    for c in &corpora {
        for w in &c.warnings {
            eprintln!("warning: {w}");
        }
    }
    let sources = crate::run::seed_sources(&config, &corpora);

    let interrupt = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupt.clone();
        // A second Ctrl-C while finishing the record in hand exits at once.
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: finishing the record in hand (Ctrl-C again to abort)");
        });
    }
    let opts = GenerateOptions {
        progress: !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        interrupt,
        limit: args.limit,
    };
    let summary = generate::run(&config, &sources, &library, &lang, &opts)?;
    if summary.discarded_bytes > 0 {
        eprintln!(
            "recovered: discarded a torn last line of {} bytes from {}",
            summary.discarded_bytes,
            config.out.join(generate::RAW_FILE).display()
        );
    }
    eprintln!(
        "generate: {} planned, {} already done, {} written{} -> {}",
        summary.planned,
        summary.already_done,
        summary.written,
        if summary.interrupted {
            " (interrupted: run the same command to resume)"
        } else {
            ""
        },
        config.out.join(generate::RAW_FILE).display()
    );
    for (id, m) in &summary.models {
        let reasons: Vec<String> = m
            .finish_reasons
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        eprintln!(
            "  {id}: {} samples, {} tokens, {:.1} s ({:.1} tokens/s); {}",
            m.samples,
            m.tokens,
            m.seconds,
            if m.seconds > 0.0 {
                m.tokens as f64 / m.seconds
            } else {
                0.0
            },
            reasons.join(", ")
        );
    }
    let summary_path = config.out.join("generate.json");
    std::fs::write(
        &summary_path,
        serde_json::to_string_pretty(&summary)? + "\n",
    )
    .with_context(|| format!("writing {}", summary_path.display()))?;
    Ok(if summary.interrupted { 130 } else { EXIT_OK })
}
