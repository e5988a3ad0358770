//! `synthcorpus run`: the whole pipeline in one run directory.
//!
//! One runner drives the stages in order (generate, curate, then labelling and evaluation as
//! they are built) and keeps the bookkeeping: a stage whose inputs and configuration hash the
//! same as when it last finished, and whose outputs are intact, is skipped; one whose inputs
//! changed is redone. Generation resumes by itself (see [`crate::generate`]).
//!
//! In target mode (`run.target_kept`), generation is extended in rounds until that many samples
//! pass curation or the budget (generations, minutes) runs out. Extending a run keeps every
//! record already made, since request ids do not depend on the number of samples.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::curate::{self, CurateReport, InputFormat};
use crate::generate::{self, plan::SeedSource, GenerateOptions, GenerateSummary};
use crate::ingest::{self, Corpus, IngestOptions};
use crate::label::{
    self,
    registry::{guard_corpus, GuardPolicy, Registry},
};
use crate::prompts::{self, PromptLibrary};
use crate::types::{Document, LanguageIdentifier};

/// The runner's bookkeeping folder inside a run directory (not part of the dataset: the
/// manifest leaves it out).
pub const BOOKKEEPING_DIR: &str = ".synthcorpus";
/// File recording which stages finished with which inputs.
pub const STAGES_FILE: &str = ".synthcorpus/stages.json";
/// The summary of the last run.
pub const RUN_FILE: &str = ".synthcorpus/run.json";

/// Errors of the run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A seed corpus could not be loaded.
    #[error("seed corpus {path}: {source}")]
    Ingest {
        /// The corpus folder.
        path: PathBuf,
        /// The error.
        source: ingest::IngestError,
    },
    /// Prompt library errors.
    #[error(transparent)]
    Prompts(#[from] prompts::PromptError),
    /// Generation failed.
    #[error(transparent)]
    Generate(#[from] generate::GenerateError),
    /// Curation failed.
    #[error(transparent)]
    Curate(#[from] curate::CurateError),
    /// Evaluation failed.
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
    /// Labelling, the registry or the collapse guard failed.
    #[error(transparent)]
    Label(#[from] label::LabelError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |e| RunError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Resolve a corpus path: as given, or, when relative and absent, the corpus shipped with
/// synthcorpus under that path.
pub fn corpus_dir(path: &Path) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if path.is_relative() && !path.exists() && shipped.is_dir() {
        shipped
    } else {
        path.to_path_buf()
    }
}

/// The project's registry of generated text.
pub fn registry_path(config: &Config) -> PathBuf {
    config
        .label
        .registry
        .clone()
        .unwrap_or_else(Registry::default_path)
}

/// Load the seed corpora of a configuration, through the collapse guard: text the tool
/// generated (registered, labelled synthetic, or in a corpus declared synthetic) is refused as
/// seed unless `generate.allow_synthetic_seeds` is set, and then its lineage depth propagates.
/// Warnings (and the guard's report) are added to each corpus's `warnings`.
pub fn load_seed_corpora(config: &Config) -> Result<Vec<Corpus>, RunError> {
    let opts = IngestOptions {
        target_lang: Some(config.lang.clone()),
        ..IngestOptions::default()
    };
    let registry = Registry::open(&registry_path(config))?;
    let policy = if config.generate.allow_synthetic_seeds {
        GuardPolicy::OptIn
    } else {
        GuardPolicy::Refuse
    };
    let mut corpora = Vec::new();
    for s in &config.generate.sources {
        let dir = corpus_dir(&s.corpus);
        let mut corpus = ingest::load_corpus(&dir, &opts).map_err(|e| RunError::Ingest {
            path: dir.clone(),
            source: e,
        })?;
        let report = guard_corpus(&mut corpus, &registry, policy)?;
        corpus.warnings.extend(
            report
                .lines()
                .into_iter()
                .map(|l| format!("collapse guard: {l}")),
        );
        corpora.push(corpus);
    }
    Ok(corpora)
}

/// The seed sources generation draws from, with their weights.
pub fn seed_sources(config: &Config, corpora: &[Corpus]) -> Vec<SeedSource> {
    config
        .generate
        .sources
        .iter()
        .zip(corpora)
        .map(|(s, c)| SeedSource::new(&c.meta.id, s.weight, &c.documents))
        .collect()
}

/// How a stage went.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageOutcome {
    /// Stage name.
    pub stage: String,
    /// `ran` or `skipped` (inputs unchanged since it last finished).
    pub status: String,
    /// Seconds spent.
    pub seconds: f64,
}

/// Options of a run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Generation options (progress bar, interrupt flag).
    pub generate: GenerateOptions,
    /// A language identifier for curation.
    pub lid: Option<Arc<dyn LanguageIdentifier>>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("generate", &self.generate)
            .field("lid", &self.lid.as_ref().map(|l| l.model_id()))
            .finish()
    }
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The run directory.
    pub out: PathBuf,
    /// Records in `raw.jsonl`.
    pub generated: usize,
    /// Samples kept by curation.
    pub kept: u64,
    /// Samples rejected, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Stages in order.
    pub stages: Vec<StageOutcome>,
    /// In target mode: whether the target was met.
    pub target_met: Option<bool>,
    /// Generation rounds.
    pub rounds: usize,
    /// Whether the run was interrupted.
    pub interrupted: bool,
    /// Per-model generation totals of this invocation.
    pub generation: Vec<GenerateSummary>,
    /// Evaluation gates: `Some(true)` when every gate passed, `None` without a suite.
    pub gates_passed: Option<bool>,
    /// The evaluation report, when there is one.
    pub report: Option<PathBuf>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StageRecord {
    inputs: String,
    outputs: BTreeMap<String, String>,
}

fn sha256_file(path: &Path) -> Result<String, RunError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    Ok(ingest::sha256_hex(&bytes))
}

fn stage_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn read_stages(out: &Path) -> BTreeMap<String, StageRecord> {
    std::fs::read_to_string(out.join(STAGES_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn write_stages(out: &Path, stages: &BTreeMap<String, StageRecord>) -> Result<(), RunError> {
    let dir = out.join(BOOKKEEPING_DIR);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let path = out.join(STAGES_FILE);
    let text = serde_json::to_string_pretty(stages).unwrap_or_default() + "\n";
    std::fs::write(&path, text).map_err(io(&path))
}

/// Whether a stage's recorded inputs match and its outputs are intact.
fn up_to_date(out: &Path, rec: Option<&StageRecord>, inputs: &str) -> bool {
    let Some(rec) = rec else { return false };
    rec.inputs == inputs
        && !rec.outputs.is_empty()
        && rec
            .outputs
            .iter()
            .all(|(f, h)| sha256_file(&out.join(f)).is_ok_and(|x| &x == h))
}

fn record_outputs(out: &Path, inputs: String, files: &[&str]) -> Result<StageRecord, RunError> {
    let mut outputs = BTreeMap::new();
    for f in files {
        outputs.insert(f.to_string(), sha256_file(&out.join(f))?);
    }
    Ok(StageRecord { inputs, outputs })
}

/// Curate `raw.jsonl` into the run directory, unless it is up to date.
fn curate_stage(
    config: &Config,
    seeds: &[Document],
    seeds_hash: &str,
    opts: &RunOptions,
    stages: &mut BTreeMap<String, StageRecord>,
) -> Result<(CurateReport, StageOutcome), RunError> {
    let out = &config.out;
    let raw = out.join(generate::RAW_FILE);
    let lid_id = opts.lid.as_ref().map(|l| l.model_id()).unwrap_or_default();
    let inputs = stage_hash(&[
        &sha256_file(&raw)?,
        &serde_json::to_string(&config.curate).unwrap_or_default(),
        seeds_hash,
        &lid_id,
    ]);
    let report_path = out.join("curate.json");
    let t = Instant::now();
    if up_to_date(out, stages.get("curate"), &inputs) && out.join("samples.jsonl").is_file() {
        let text = std::fs::read_to_string(&report_path).map_err(io(&report_path))?;
        if let Ok(report) = serde_json::from_str::<CurateReport>(&text) {
            return Ok((
                report,
                StageOutcome {
                    stage: "curate".into(),
                    status: "skipped".into(),
                    seconds: t.elapsed().as_secs_f64(),
                },
            ));
        }
    }
    let report = curate::runner::curate_files(
        &[raw],
        InputFormat::Jsonl,
        out,
        config.curate.clone(),
        seeds,
        opts.lid.clone(),
    )?;
    stages.insert(
        "curate".into(),
        // samples.jsonl is rewritten by the label stage; it is label's output.
        record_outputs(out, inputs, &["rejects.jsonl", "curate.json"])?,
    );
    write_stages(out, stages)?;
    Ok((
        report,
        StageOutcome {
            stage: "curate".into(),
            status: "ran".into(),
            seconds: t.elapsed().as_secs_f64(),
        },
    ))
}

/// The seed documents' texts of a run directory, from its `config.resolved.toml` (empty when
/// there is none or a corpus cannot be read): labelling never registers them as generated.
pub fn seed_texts_of_run(run_dir: &Path) -> Vec<String> {
    let Ok(config) = Config::load(&run_dir.join("config.resolved.toml")) else {
        return Vec::new();
    };
    let opts = IngestOptions::default();
    config
        .generate
        .sources
        .iter()
        .filter_map(|s| ingest::load_corpus(&corpus_dir(&s.corpus), &opts).ok())
        .flat_map(|c| c.documents.into_iter().map(|d| d.text))
        .collect()
}

/// The evaluation suite of a run: the configured one, else the shipped `evals/<lang>.toml`.
pub fn suite_path(config: &Config) -> Option<PathBuf> {
    config.eval.suite.clone().or_else(|| {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("evals")
            .join(format!("{}.toml", config.lang));
        p.is_file().then_some(p)
    })
}

/// Evaluate the kept samples into `eval/`, unless that is up to date.
fn eval_stage(
    config: &Config,
    opts: &RunOptions,
    stages: &mut BTreeMap<String, StageRecord>,
) -> Result<(Option<bool>, StageOutcome), RunError> {
    let out = &config.out;
    let t = Instant::now();
    let suite = suite_path(config);
    let curated = stages
        .get("curate")
        .map(|r| r.inputs.clone())
        .unwrap_or_default();
    let suite_hash = suite
        .as_ref()
        .and_then(|p| sha256_file(p).ok())
        .unwrap_or_default();
    let lid_id = opts.lid.as_ref().map(|l| l.model_id()).unwrap_or_default();
    let inputs = stage_hash(&[&curated, &suite_hash, &lid_id]);
    let files = ["eval/eval.json", "eval/eval.md", "eval/report.html"];
    let gates_of = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| {
                let has_gates = v["gates"].as_array().is_some_and(|g| !g.is_empty());
                has_gates.then(|| v["passed"].as_bool().unwrap_or(false))
            })
    };
    if up_to_date(out, stages.get("eval"), &inputs) {
        let text = std::fs::read_to_string(out.join(files[0])).unwrap_or_default();
        return Ok((
            gates_of(&text),
            StageOutcome {
                stage: "eval".into(),
                status: "skipped".into(),
                seconds: t.elapsed().as_secs_f64(),
            },
        ));
    }
    let req = crate::eval::EvalRequest {
        path: out.clone(),
        suite,
        lang: Some(config.lang.clone()),
        ..Default::default()
    };
    let report = crate::eval::evaluate_request(&req, opts.lid.as_deref())?;
    crate::eval::write_outputs(&report, &out.join("eval"))?;
    stages.insert("eval".into(), record_outputs(out, inputs, &files)?);
    write_stages(out, stages)?;
    let text = std::fs::read_to_string(out.join(files[0])).unwrap_or_default();
    Ok((
        gates_of(&text),
        StageOutcome {
            stage: "eval".into(),
            status: "ran".into(),
            seconds: t.elapsed().as_secs_f64(),
        },
    ))
}

/// Label the run (the last stage to write in the run directory), unless it is up to date.
fn label_stage(
    config: &Config,
    stages: &mut BTreeMap<String, StageRecord>,
    started_at: &str,
) -> Result<StageOutcome, RunError> {
    let out = &config.out;
    let t = Instant::now();
    let curated = stages
        .get("curate")
        .map(|r| r.inputs.clone())
        .unwrap_or_default();
    let eval = sha256_file(&out.join("eval/eval.json")).unwrap_or_default();
    let inputs = stage_hash(&[
        &curated,
        &eval,
        &serde_json::to_string(&config.label).unwrap_or_default(),
    ]);
    if up_to_date(out, stages.get("label"), &inputs) {
        return Ok(StageOutcome {
            stage: "label".into(),
            status: "skipped".into(),
            seconds: t.elapsed().as_secs_f64(),
        });
    }
    let opts = label::LabelOptions {
        input: None,
        registry: Some(registry_path(config)),
        real_texts: seed_texts_of_run(out),
        sign_key: config.label.sign_key.clone(),
        manifest: label::manifest::ManifestInputs {
            started_at: Some(started_at.to_string()),
            ..Default::default()
        },
        card: Default::default(),
    };
    label::label_run(out, &opts)?;
    let mut files = vec![
        "samples.jsonl",
        "manifest.json",
        "README.md",
        "croissant.json",
    ];
    if config.label.sign_key.is_some() {
        files.push(label::SIGNATURE_FILE);
    }
    stages.insert("label".into(), record_outputs(out, inputs, &files)?);
    write_stages(out, stages)?;
    Ok(StageOutcome {
        stage: "label".into(),
        status: "ran".into(),
        seconds: t.elapsed().as_secs_f64(),
    })
}

/// Run the pipeline.
pub fn run(config: &Config, opts: &RunOptions) -> Result<RunSummary, RunError> {
    let out = config.out.clone();
    std::fs::create_dir_all(&out).map_err(io(&out))?;
    let corpora = load_seed_corpora(config)?;
    let sources = seed_sources(config, &corpora);
    let seeds: Vec<Document> = corpora.iter().flat_map(|c| c.documents.clone()).collect();
    let seeds_hash = stage_hash(
        &corpora
            .iter()
            .map(|c| c.content_sha256())
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let prompts_dir = config
        .generate
        .prompts
        .clone()
        .unwrap_or_else(prompts::shipped_dir);
    let library = PromptLibrary::load(&prompts_dir)?;
    let lang = prompts::load_language(&prompts_dir, &config.lang)?;
    let mut stages = read_stages(&out);

    let started = Instant::now();
    let started_at = generate::now_rfc3339();
    let target = config.run.target_kept;
    let mut samples = config.generate.samples.max(1);
    if target > 0 {
        samples = samples.min(config.run.max_generations.max(1));
    }
    let mut summary = RunSummary {
        out: out.clone(),
        generated: 0,
        kept: 0,
        rejected: BTreeMap::new(),
        stages: Vec::new(),
        target_met: (target > 0).then_some(false),
        rounds: 0,
        interrupted: false,
        generation: Vec::new(),
        gates_passed: None,
        report: None,
    };
    loop {
        summary.rounds += 1;
        let mut round = config.clone();
        round.generate.samples = samples;
        let t = Instant::now();
        let g = generate::run(&round, &sources, &library, &lang, &opts.generate)?;
        summary.stages.push(StageOutcome {
            stage: "generate".into(),
            status: if g.written > 0 { "ran" } else { "skipped" }.into(),
            seconds: t.elapsed().as_secs_f64(),
        });
        summary.generated = g.already_done + g.written;
        summary.interrupted = g.interrupted;
        summary.generation.push(g);
        if summary.interrupted {
            break;
        }
        let (report, outcome) = curate_stage(config, &seeds, &seeds_hash, opts, &mut stages)?;
        summary.stages.push(outcome);
        summary.kept = report.totals.kept;
        summary.rejected = report
            .stages
            .iter()
            .flat_map(|s| s.stats.dropped.iter().map(|(k, v)| (k.clone(), *v)))
            .fold(BTreeMap::new(), |mut m, (k, v)| {
                *m.entry(k).or_insert(0) += v;
                m
            });
        if target == 0 {
            break;
        }
        if summary.kept as usize >= target {
            summary.target_met = Some(true);
            break;
        }
        let minutes = started.elapsed().as_secs_f64() / 60.0;
        let out_of_time = config.run.max_minutes > 0.0 && minutes >= config.run.max_minutes;
        if samples >= config.run.max_generations || out_of_time {
            break;
        }
        // Estimate the generations still needed from the share kept so far (at least 5 %).
        let share = (summary.kept as f64 / summary.generated.max(1) as f64).max(0.05);
        let need = ((target as f64 - summary.kept as f64) / share).ceil() as usize;
        samples = (samples + need.max(1)).min(config.run.max_generations);
    }
    if !summary.interrupted && summary.kept > 0 {
        if config.eval.enabled {
            let (passed, outcome) = eval_stage(config, opts, &mut stages)?;
            summary.gates_passed = passed;
            summary.report = Some(out.join("eval/report.html"));
            summary.stages.push(outcome);
        }
        summary
            .stages
            .push(label_stage(config, &mut stages, &started_at)?);
    }
    let dir = out.join(BOOKKEEPING_DIR);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let path = out.join(RUN_FILE);
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n",
    )
    .map_err(io(&path))?;
    Ok(summary)
}
