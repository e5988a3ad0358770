//! `synthcorpus init` and `synthcorpus run`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;

use crate::config::Config;
use crate::generate::GenerateOptions;
use crate::run::{self, RunOptions};

use super::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

/// `synthcorpus init`
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Project folder to create (or fill).
    pub dir: PathBuf,
    /// Target language, ISO 639-3.
    #[arg(long, default_value = "ven")]
    pub lang: String,
    /// Overwrite an existing synthcorpus.toml.
    #[arg(long)]
    pub force: bool,
}

/// `synthcorpus run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run configuration.
    #[arg(long, short = 'c', default_value = "synthcorpus.toml")]
    pub config: PathBuf,
    /// Keep generating until this many samples pass curation (`run.target_kept`).
    #[arg(long)]
    pub target_kept: Option<usize>,
    /// Budget of generations in target mode (`run.max_generations`).
    #[arg(long)]
    pub max_generations: Option<usize>,
    /// Budget of minutes in target mode (`run.max_minutes`).
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Run directory (`out`).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Run seed (`seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// The commented configuration `init` writes, for language `lang`.
pub fn init_template(lang: &str) -> String {
    format!(
        r#"# synthcorpus project configuration. Every key is documented in the synthcorpus docs
# (module `config`); unknown keys are errors. Paths are relative to this folder; a corpus path
# that does not exist here names a corpus shipped with synthcorpus (corpora/<lang>).

lang = "{lang}"          # target language, ISO 639-3
script = "Latn"        # target script, ISO 15924
seed = 42              # the run seed: same inputs + seed = same outputs
out = "runs/{lang}"      # the run directory

[generate]
samples = 40                       # generations per round (target mode adds rounds)
temperatures = [0.5, 0.7, 0.9]     # per-run temperature schedule, cycled by request (tuned: BENCHMARKS.md)
allow_duplicate_prompts = false
context = 2048                     # context length for the LLMs

# Seed corpora of real text, with weights (several sources: the brief's "different data sources").
[[generate.sources]]
corpus = "corpora/{lang}"
weight = 1.0

# Models and their shares of the requests (several kinds of generative model).
[[generate.models]]
id = "gemma3-270m"
model = "default"      # a .gguf path, a name in models/, or hf:owner/repo/file.gguf
weight = 3.0
mode = "completion"    # completion (base models) or chat (instruct models)

[[generate.models]]
id = "char-5gram"      # the character n-gram baseline, trained on the seed corpora
kind = "ngram"
order = 5
weight = 1.0

# Template weights by id (prompts/*.toml); leave empty for every template suiting the model.
[generate.templates]
continuation = 3.0
topic-base = 1.0
qa-base = 1.0
dialogue-base = 1.0

[generate.sampling]
top_k = 40
top_p = 0.95
min_p = 0.05
repeat_penalty = 1.15
vocab_bias = 2.0     # nats added to the logits of the seed text's tokens (0: off; tuned: BENCHMARKS.md)
max_new_tokens = 96
stop = ["\n\n"]

[generate.loop_guard]  # stop generations that repeat themselves
enabled = true
ngram = 3
max_repeats = 3

[curate]
# profile = "{lang}"   # quality profile (default: the language's; never English by accident)

[curate.lid]
# min_score = 0.3      # language-ID threshold (default: the profile's)

[run]
target_kept = 0        # > 0: keep generating until this many samples pass curation
max_generations = 400  # budget in target mode
max_minutes = 0        # budget in target mode (0: none)
lid = true             # use the shipped language identifier in curation and evaluation
fail_on_gates = false  # exit 3 when an evaluation gate fails (default: report only)

[eval]
enabled = true
# suite = "evals/{lang}.toml"   # settings and gates (default: the shipped suite of the language)

[label]
# sign_key = "keys/signing.key"  # sign the manifest (synthcorpus keygen KEY)
"#
    )
}

/// Run `synthcorpus init`.
pub fn init(args: InitArgs) -> Result<i32> {
    let path = args.dir.join("synthcorpus.toml");
    if path.exists() && !args.force {
        eprintln!(
            "error: {} exists; use --force to overwrite it",
            path.display()
        );
        return Ok(EXIT_USAGE);
    }
    let text = init_template(&args.lang);
    if let Err(e) = Config::parse(&text, &path).and_then(Config::resolve) {
        eprintln!("error: {e}");
        return Ok(EXIT_USAGE);
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    println!(
        "next: cd {} && synthcorpus run --target-kept 20",
        args.dir.display()
    );
    Ok(EXIT_OK)
}

/// Run `synthcorpus run`.
pub fn run(args: RunArgs) -> Result<i32> {
    if !args.config.is_file() {
        eprintln!(
            "error: {} not found; create a project with `synthcorpus init DIR --lang ven`, or pass --config",
            args.config.display()
        );
        return Ok(EXIT_USAGE);
    }
    let config = match Config::load(&args.config).and_then(|mut c| {
        if let Some(n) = args.target_kept {
            c.run.target_kept = n;
        }
        if let Some(n) = args.max_generations {
            c.run.max_generations = n;
        }
        if let Some(m) = args.max_minutes {
            c.run.max_minutes = m;
        }
        if let Some(o) = &args.out {
            c.out = o.clone();
        }
        if let Some(s) = args.seed {
            c.seed = s;
        }
        c.resolve()
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
    let interrupt = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupt.clone();
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: finishing the record in hand (Ctrl-C again to abort)");
        });
    }
    let opts = RunOptions {
        generate: GenerateOptions {
            progress: !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            interrupt,
            limit: None,
        },
        lid: if config.run.lid {
            match crate::lid::load_default() {
                Ok(m) => Some(Arc::new(m) as Arc<dyn crate::types::LanguageIdentifier>),
                Err(e) => {
                    eprintln!("warning: no language identifier ({e}): curation and evaluation go without it");
                    None
                }
            }
        } else {
            None
        },
    };
    let summary = run::run(&config, &opts)?;
    eprintln!("run: {}", summary.out.display());
    for s in &summary.stages {
        eprintln!("  {:<10} {:<8} {:.1} s", s.stage, s.status, s.seconds);
    }
    let rejected: u64 = summary.rejected.values().sum();
    eprintln!(
        "generated {}, kept {}, rejected {}{}",
        summary.generated,
        summary.kept,
        rejected,
        if rejected > 0 {
            format!(
                " ({})",
                summary
                    .rejected
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        }
    );
    if let Some(met) = summary.target_met {
        eprintln!(
            "target of {} kept samples: {}",
            config.run.target_kept,
            if met {
                "met"
            } else {
                "NOT met within the budget"
            }
        );
    }
    eprintln!(
        "kept samples: {}",
        summary.out.join("samples.jsonl").display()
    );
    if let Some(report) = &summary.report {
        print_key_metrics(&summary.out.join("eval/eval.json"));
        eprintln!("report: {}", report.display());
    }
    if let Some(passed) = summary.gates_passed {
        eprintln!(
            "evaluation gates: {}",
            if passed {
                "passed"
            } else {
                "FAILED (see the report)"
            }
        );
    }
    if summary.interrupted {
        return Ok(130);
    }
    Ok(match (summary.target_met, summary.gates_passed) {
        (Some(false), _) => EXIT_FAILURE,
        (_, Some(false)) if config.run.fail_on_gates => super::EXIT_CHECK_FAILED,
        _ => EXIT_OK,
    })
}

/// A few key figures of `eval.json`, synthetic beside the real held-out text.
fn print_key_metrics(path: &std::path::Path) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    let m = &v["metrics"];
    let rows = [
        (
            "identified as the target language",
            "fidelity/lid/target_share",
        ),
        ("word-list coverage", "fidelity/wordlist/target_coverage"),
        (
            "distinct word bigrams (matched)",
            "diversity/matched/distinct_words/2",
        ),
        ("verbatim copies of the seed", "leakage/verbatim_copy_rate"),
        ("char trigram JSD vs seed", "likeness/char_jsd_vs_seed/3"),
    ];
    eprintln!("key metrics              synthetic   held-out real");
    for (name, ptr) in rows {
        let get = |subject: &str| {
            m[subject]
                .pointer(&format!("/{ptr}"))
                .and_then(|x| x.as_f64())
                .map_or("-".to_string(), |x| format!("{x:.3}"))
        };
        eprintln!("  {name:<34} {:>9} {:>9}", get("synthetic"), get("heldout"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_template_is_a_valid_configuration() {
        let c = Config::parse(&init_template("ven"), std::path::Path::new("t"))
            .and_then(Config::resolve)
            .unwrap();
        assert_eq!(c.curate.lang, "ven");
        assert_eq!(c.generate.models.len(), 2);
    }

    #[test]
    fn the_quickstart_configuration_is_valid() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart.toml");
        let c = Config::load(&path).and_then(Config::resolve).unwrap();
        assert_eq!(c.run.target_kept, 20);
        assert_eq!(c.out, PathBuf::from("runs/quickstart"));
        assert_eq!(c.generate.sampling.vocab_bias, 2.0);
    }

    #[test]
    fn the_two_model_example_is_valid() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/two-models.toml");
        let c = Config::load(&path).and_then(Config::resolve).unwrap();
        assert_eq!(c.generate.models.len(), 3);
        assert!(c
            .generate
            .models
            .iter()
            .any(|m| m.mode == crate::types::PromptMode::Chat && m.model == "qwen2"));
    }
}
