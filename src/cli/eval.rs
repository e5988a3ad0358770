//! `synthcorpus eval` and `synthcorpus compare`.
//!
//! `eval PATH` evaluates a run directory (its `samples.jsonl`, else `raw.jsonl`), a JSONL file or
//! a text file against real text: the reference (seed) corpus, by default the target language's
//! shipped one (`corpora/<lang>`), and a held-out real split, by default `evals/heldout/<lang>.txt`.
//! It writes `eval.json`, `eval.md` and `report.html`; with `--suite` it checks the suite's gates
//! and exits 3 when one fails. `compare A B` puts two runs (or two `eval.json`) side by side.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use crate::eval::{self, markdown, EvalError, EvalReport};

use super::{EXIT_CHECK_FAILED, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

/// `synthcorpus eval`
#[derive(Debug, Args, Clone)]
pub struct EvalArgs {
    /// The corpus: a run directory, a JSONL file (`text` field) or a text file (one sample per line).
    pub path: PathBuf,
    /// Output folder (default: `RUN_DIR/eval`, or `FILE_STEM.eval` beside a file).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// An evaluation suite (e.g. `evals/ven.toml`): reference, held-out text, settings, gates.
    #[arg(long)]
    pub suite: Option<PathBuf>,
    /// Reference (seed) corpus: a corpus folder, a JSONL or a text file (default: the target
    /// language's shipped seed corpus).
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Held-out real text, one document per line (default: `evals/heldout/<lang>.txt`).
    #[arg(long)]
    pub heldout: Option<PathBuf>,
    /// Target language, ISO 639-3 (default: the suite's, else the records' `lang`, else `ven`).
    #[arg(long)]
    pub lang: Option<String>,
    /// Folder of word lists (`<lang>_Latn.txt` or `<lang>.txt`; default: `evals/wordlists`).
    #[arg(long)]
    pub wordlists: Option<PathBuf>,
    /// Seed of the sampled metrics (overrides the suite's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Skip the per-model and per-template breakdowns.
    #[arg(long)]
    pub no_breakdowns: bool,
}

/// `synthcorpus compare`
#[derive(Debug, Args, Clone)]
pub struct CompareArgs {
    /// First run: a run directory (its `eval/eval.json` is read, or it is evaluated), an eval
    /// folder, an `eval.json`, or a corpus file.
    pub a: PathBuf,
    /// Second run, likewise.
    pub b: PathBuf,
    /// Also write `compare.md` and `compare.json` into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
}

enum Failure {
    Usage(String),
    Runtime(String),
}

impl From<eval::SuiteError> for Failure {
    fn from(e: eval::SuiteError) -> Self {
        Failure::Usage(e.to_string())
    }
}

impl From<EvalError> for Failure {
    fn from(e: EvalError) -> Self {
        match e {
            EvalError::Suite(_) | EvalError::Settings { .. } => Failure::Usage(e.to_string()),
            _ => Failure::Runtime(e.to_string()),
        }
    }
}

fn default_out(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("eval")
    } else {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "corpus".into());
        path.parent()
            .unwrap_or(Path::new("."))
            .join(format!("{stem}.eval"))
    }
}

/// Build the report for `args` (shared by `eval` and `compare`).
fn build_report(args: &EvalArgs) -> Result<EvalReport, Failure> {
    let req = eval::EvalRequest {
        path: args.path.clone(),
        suite: args.suite.clone(),
        reference: args.reference.clone(),
        heldout: args.heldout.clone(),
        lang: args.lang.clone(),
        wordlists: args.wordlists.clone(),
        seed: args.seed,
        no_breakdowns: args.no_breakdowns,
    };
    let lid = match crate::lid::load_default() {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("warning: no language identifier ({e}): LID metrics are left out");
            None
        }
    };
    let report = eval::evaluate_request(
        &req,
        lid.as_ref()
            .map(|m| m as &dyn crate::types::LanguageIdentifier),
    )?;
    for n in &report.notes {
        if n.starts_with("warning") {
            eprintln!("{n}");
        }
    }
    Ok(report)
}

fn report_failure(f: Failure) -> i32 {
    match f {
        Failure::Usage(m) => {
            eprintln!("error: {m}");
            EXIT_USAGE
        }
        Failure::Runtime(m) => {
            eprintln!("error: {m}");
            EXIT_FAILURE
        }
    }
}

/// Run `synthcorpus eval`; returns the exit code (3 when a gate failed).
pub fn run(args: EvalArgs) -> Result<i32> {
    let report = match build_report(&args) {
        Ok(r) => r,
        Err(f) => return Ok(report_failure(f)),
    };
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.path));
    let paths = match eval::write_outputs(&report, &out) {
        Ok(p) => p,
        Err(e) => return Ok(report_failure(e.into())),
    };
    let m = report.to_json();
    let syn = &m["metrics"]["synthetic"];
    println!(
        "evaluated {} documents ({}) in {:.1} s",
        report.inputs.corpus.documents,
        report.lang,
        report.timings.get("total").copied().unwrap_or(0.0)
    );
    for (label, path) in [
        ("verbatim-copy rate", "leakage.verbatim_copy_rate"),
        ("distinct-2 (words)", "diversity.distinct_words.2"),
        ("LID target share", "fidelity.lid.target_share"),
        ("word-list coverage", "fidelity.wordlist.target_coverage"),
        ("char 3-gram JSD vs seed", "likeness.char_jsd_vs_seed.3"),
    ] {
        println!(
            "  {label}: {}",
            markdown::fmt(markdown::get(Some(syn), path))
        );
    }
    if let Some(u) = &report.metrics.usefulness {
        println!(
            "  perplexity on held-out: seed {}, synthetic {}, both {}",
            markdown::fmt(u.perplexity_seed),
            markdown::fmt(u.perplexity_synthetic),
            markdown::fmt(u.perplexity_combined)
        );
    }
    for n in &report.notes {
        eprintln!("note: {n}");
    }
    println!("wrote {}", paths.json.display());
    println!("wrote {}", paths.markdown.display());
    println!("wrote {}", paths.html.display());
    if let Some(passed) = report.passed {
        for g in &report.gates {
            println!(
                "  gate {:<8} {} ({} = {}; {}){}",
                g.status,
                g.name,
                g.metric,
                markdown::fmt(g.value),
                g.condition,
                g.note.as_ref().map_or(String::new(), |n| format!(": {n}"))
            );
        }
        if !passed {
            eprintln!("evaluation gates FAILED");
            return Ok(EXIT_CHECK_FAILED);
        }
        println!("evaluation gates passed");
    }
    Ok(EXIT_OK)
}

fn load_for_compare(p: &Path) -> Result<EvalReport, Failure> {
    let candidates = [
        p.to_path_buf(),
        p.join("eval.json"),
        p.join("eval").join("eval.json"),
    ];
    if let Some(f) = candidates
        .iter()
        .find(|c| c.is_file() && c.extension().is_some_and(|e| e == "json"))
    {
        return Ok(eval::read_report(f)?);
    }
    build_report(&EvalArgs {
        path: p.to_path_buf(),
        out: None,
        suite: None,
        reference: None,
        heldout: None,
        lang: None,
        wordlists: None,
        seed: None,
        no_breakdowns: true,
    })
}

/// The side-by-side comparison as JSON: per headline metric, A, B, B − A, and the seed and
/// held-out values of A.
pub fn comparison(a: &EvalReport, b: &EvalReport) -> Value {
    let (ja, jb) = (a.to_json(), b.to_json());
    let mut rows = Vec::new();
    let mut paths: Vec<(String, String)> = markdown::HEADLINE
        .iter()
        .map(|(l, p)| (l.to_string(), format!("metrics.synthetic.{p}")))
        .collect();
    for (l, p) in [
        ("perplexity (a) seed", "metrics.usefulness.perplexity_seed"),
        (
            "perplexity (b) synthetic",
            "metrics.usefulness.perplexity_synthetic",
        ),
        (
            "perplexity (c) seed + synthetic",
            "metrics.usefulness.perplexity_combined",
        ),
    ] {
        paths.push((l.to_string(), p.to_string()));
    }
    for (label, path) in paths {
        let va = eval::suite::lookup(&ja, &path);
        let vb = eval::suite::lookup(&jb, &path);
        let real = |j: &Value, s: &str| {
            path.strip_prefix("metrics.synthetic.")
                .and_then(|p| eval::suite::lookup(&j["metrics"][s], p))
        };
        rows.push(serde_json::json!({
            "metric": label,
            "path": path,
            "a": va,
            "b": vb,
            "delta": match (va, vb) { (Some(x), Some(y)) => Some(eval::text::round6(y - x)), _ => None },
            "seed": real(&ja, "seed"),
            "heldout": real(&ja, "heldout"),
        }));
    }
    serde_json::json!({
        "a": {"path": a.inputs.corpus.path, "documents": a.inputs.corpus.documents, "lang": a.lang, "passed": a.passed},
        "b": {"path": b.inputs.corpus.path, "documents": b.inputs.corpus.documents, "lang": b.lang, "passed": b.passed},
        "rows": rows,
    })
}

fn comparison_markdown(c: &Value) -> String {
    let mut s = format!(
        "# Comparison\n\nA: `{}` ({} documents)\nB: `{}` ({} documents)\n\n| metric | A | B | B − A | seed | held-out |\n|---|---:|---:|---:|---:|---:|\n",
        c["a"]["path"].as_str().unwrap_or(""),
        c["a"]["documents"],
        c["b"]["path"].as_str().unwrap_or(""),
        c["b"]["documents"],
    );
    for r in c["rows"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r["metric"].as_str().unwrap_or(""),
            markdown::fmt(r["a"].as_f64()),
            markdown::fmt(r["b"].as_f64()),
            markdown::fmt(r["delta"].as_f64()),
            markdown::fmt(r["seed"].as_f64()),
            markdown::fmt(r["heldout"].as_f64()),
        ));
    }
    s
}

/// Run `synthcorpus compare`.
pub fn compare(args: CompareArgs) -> Result<i32> {
    let a = match load_for_compare(&args.a) {
        Ok(r) => r,
        Err(f) => return Ok(report_failure(f)),
    };
    let b = match load_for_compare(&args.b) {
        Ok(r) => r,
        Err(f) => return Ok(report_failure(f)),
    };
    if a.lang != b.lang {
        eprintln!(
            "warning: the runs target different languages ({} and {})",
            a.lang, b.lang
        );
    }
    let c = comparison(&a, &b);
    let md = comparison_markdown(&c);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        print!("{md}");
    }
    if let Some(out) = &args.out {
        let r = std::fs::create_dir_all(out)
            .and_then(|_| std::fs::write(out.join("compare.md"), &md))
            .and_then(|_| {
                std::fs::write(
                    out.join("compare.json"),
                    serde_json::to_string_pretty(&c).unwrap_or_default() + "\n",
                )
            });
        if let Err(e) = r {
            eprintln!("error: {}: {e}", out.display());
            return Ok(EXIT_FAILURE);
        }
    }
    Ok(EXIT_OK)
}
