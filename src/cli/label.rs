//! `synthcorpus label`, `verify`, `export` and `keygen`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::label::{
    self,
    card::CardOptions,
    export::{export, ExportOptions},
    manifest::ManifestInputs,
    registry::{GuardPolicy, Registry},
    sign,
    verify::{verify_run, VerifyOptions},
    LabelError, LabelOptions,
};

use super::{EXIT_CHECK_FAILED, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

/// `synthcorpus label RUN_DIR`
#[derive(Debug, Args)]
pub struct LabelArgs {
    /// The run folder (with the curated samples.jsonl).
    pub run_dir: PathBuf,
    /// Curated records to label (default: RUN_DIR/samples.jsonl, rewritten in place).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Registry of generated text (default: $SYNTHCORPUS_REGISTRY or ./.synthcorpus/registry.tsv).
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// Do not add the run's texts to the registry.
    #[arg(long)]
    pub no_register: bool,
    /// Sign manifest.json with this Ed25519 key file (see `synthcorpus keygen`).
    #[arg(long)]
    pub sign_key: Option<PathBuf>,
    /// The language-identification model file used, recorded as an input.
    #[arg(long)]
    pub lid_model: Option<PathBuf>,
    /// Another input file to record, as ROLE=PATH (repeatable).
    #[arg(long = "input-file")]
    pub input_files: Vec<String>,
    /// Run start time (RFC 3339); default: the earliest generation.
    #[arg(long)]
    pub started_at: Option<String>,
    /// Dataset name for the card and Croissant metadata.
    #[arg(long)]
    pub name: Option<String>,
    /// Licence id for the card (default `other`, explained in the card).
    #[arg(long, default_value = "other")]
    pub license: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `synthcorpus verify RUN_DIR`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Require a signature by this public key (64 hex digits, or a file holding them).
    #[arg(long)]
    pub public_key: Option<String>,
    /// Require a signature (by any key).
    #[arg(long)]
    pub require_signature: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What to do with synthetic documents found in real corpora.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GuardArg {
    /// Fail (exit 3).
    Refuse,
    /// Drop them, with a report.
    Drop,
    /// Keep them as synthetic (counted against the cap, lineage depth kept).
    OptIn,
}

/// `synthcorpus export --real DIR... --run DIR... --out DIR`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Real corpus folder (with corpus.toml), repeatable.
    #[arg(long = "real")]
    pub real: Vec<PathBuf>,
    /// Labelled run folder, repeatable.
    #[arg(long = "run")]
    pub runs: Vec<PathBuf>,
    /// Output folder: train.jsonl, train.parquet, export.json.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Largest synthetic share of the lines, in percent.
    #[arg(long, default_value_t = 50.0)]
    pub max_synthetic_percent: f64,
    /// Write each real document this many times (upweighting by repetition).
    #[arg(long, default_value_t = 1)]
    pub real_repeat: u32,
    /// Value of the `weight` column for real lines (synthetic lines: 1).
    #[arg(long, default_value_t = 1.0)]
    pub real_weight: f64,
    /// Registry of generated text (default: $SYNTHCORPUS_REGISTRY or ./.synthcorpus/registry.tsv).
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// Synthetic documents in real corpora: refuse, drop, or opt in.
    #[arg(long, value_enum, default_value = "refuse")]
    pub synthetic_in_real: GuardArg,
    /// Do not verify the runs first.
    #[arg(long)]
    pub no_verify: bool,
    /// Seed of the order among synthetic samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `synthcorpus keygen KEY_FILE`
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the new secret key (never overwritten).
    pub key_file: PathBuf,
}

fn code(e: &LabelError) -> i32 {
    match e.exit_code() {
        3 => EXIT_CHECK_FAILED,
        2 => EXIT_USAGE,
        _ => EXIT_FAILURE,
    }
}

fn fail(e: LabelError) -> Result<i32> {
    eprintln!("error: {e}");
    Ok(code(&e))
}

/// Run `synthcorpus label`.
pub fn run_label(args: LabelArgs) -> Result<i32> {
    let mut extra = Vec::new();
    for s in &args.input_files {
        match s.split_once('=') {
            Some((role, path)) if !role.is_empty() && !path.is_empty() => {
                extra.push((role.to_string(), PathBuf::from(path)))
            }
            _ => {
                eprintln!("error: --input-file wants ROLE=PATH, not `{s}`");
                return Ok(EXIT_USAGE);
            }
        }
    }
    let opts = LabelOptions {
        input: args.input,
        registry: if args.no_register {
            None
        } else {
            Some(args.registry.unwrap_or_else(Registry::default_path))
        },
        real_texts: crate::run::seed_texts_of_run(&args.run_dir),
        sign_key: args.sign_key,
        manifest: ManifestInputs {
            started_at: args.started_at,
            finished_at: None,
            lid_model: args.lid_model,
            extra_inputs: extra,
        },
        card: CardOptions {
            name: args.name,
            license: args.license,
        },
    };
    let report = match label::label_run(&args.run_dir, &opts) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        eprintln!(
            "label: {} samples ({} duplicates dropped), {} texts registered{} -> {}",
            report.samples,
            report.duplicates_dropped,
            report.registered,
            report
                .signed_by
                .as_ref()
                .map(|k| format!(", signed by {k}"))
                .unwrap_or_default(),
            args.run_dir.join(label::MANIFEST_FILE).display()
        );
    }
    Ok(EXIT_OK)
}

/// Run `synthcorpus verify`: exit 0 when the run verifies, 3 when a check failed.
pub fn run_verify(args: VerifyArgs) -> Result<i32> {
    let public_key = match args.public_key.as_deref().map(sign::parse_public_key) {
        Some(Ok(k)) => Some(k),
        Some(Err(e)) => return fail(e),
        None => None,
    };
    let report = verify_run(
        &args.run_dir,
        &VerifyOptions {
            public_key,
            require_signature: args.require_signature,
        },
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for p in &report.problems {
            println!("{p}");
        }
        let signed = report
            .signed_by
            .as_ref()
            .map(|k| format!("; signature by {k} valid"))
            .unwrap_or_else(|| "; not signed".into());
        if report.ok() {
            println!(
                "verify: OK: {} files, {} samples{signed}",
                report.files_checked, report.samples_checked
            );
        } else {
            println!(
                "verify: FAILED: {} problem(s) in {} files, {} samples",
                report.problems.len(),
                report.files_checked,
                report.samples_checked
            );
        }
    }
    Ok(if report.ok() {
        EXIT_OK
    } else {
        EXIT_CHECK_FAILED
    })
}

/// Run `synthcorpus export`.
pub fn run_export(args: ExportArgs) -> Result<i32> {
    let opts = ExportOptions {
        real: args.real,
        runs: args.runs,
        out: args.out.clone(),
        max_synthetic_share: args.max_synthetic_percent / 100.0,
        real_repeat: args.real_repeat,
        real_weight: args.real_weight,
        registry: Some(args.registry.unwrap_or_else(Registry::default_path)),
        guard: match args.synthetic_in_real {
            GuardArg::Refuse => GuardPolicy::Refuse,
            GuardArg::Drop => GuardPolicy::Drop,
            GuardArg::OptIn => GuardPolicy::OptIn,
        },
        verify_runs: !args.no_verify,
        seed: args.seed,
    };
    let report = match export(&opts) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    for (corpus, g) in &report.guard {
        for l in g.lines() {
            eprintln!("collapse guard: {l}");
        }
        if g.dropped > 0 {
            eprintln!(
                "collapse guard: {corpus}: {} document(s) dropped",
                g.dropped
            );
        }
    }
    eprintln!(
        "export: {} real lines ({} documents), {} synthetic lines of {} available ({:.1} % synthetic, cap {:.1} %) -> {}",
        report.real_lines,
        report.real_documents,
        report.synthetic_lines,
        report.synthetic_available,
        report.synthetic_share * 100.0,
        report.max_synthetic_share * 100.0,
        args.out.display()
    );
    Ok(EXIT_OK)
}

/// Run `synthcorpus keygen`.
pub fn run_keygen(args: KeygenArgs) -> Result<i32> {
    match sign::generate_key(&args.key_file) {
        Ok(public) => {
            println!("{public}");
            eprintln!(
                "keygen: secret key written to {}; public key above (give it to `verify --public-key`)",
                args.key_file.display()
            );
            Ok(EXIT_OK)
        }
        Err(e) => fail(e),
    }
}
