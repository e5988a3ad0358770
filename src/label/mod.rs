//! The label stage: every kept sample labelled synthetic with its provenance, and the run
//! described, verifiable and protected against model collapse.
//!
//! [`label_run`] turns a run folder's curated `samples.jsonl` (kept records of curation) into
//! samples of the versioned schema [`SampleV1`] (`synthcorpus.sample.v1`, JSON Schema in
//! `schemas/sample.v1.schema.json`) and writes, beside it:
//! - `samples.index.tsv`: line number, sample id and sha256 of each line of `samples.jsonl`, so
//!   that `verify` can say which sample was changed, removed or added;
//! - `README.md`: the dataset card ([`card`]);
//! - `croissant.json`: Croissant 1.1 metadata with PROV-O provenance ([`croissant`]);
//! - `manifest.json`: inputs, outputs with sha256 and size, counts, evaluation summary, machine
//!   ([`manifest`]); and, with a key, `manifest.sig`, an Ed25519 signature of it ([`sign`]).
//!
//! It also registers every published sample of the run in the project's registry
//! ([`registry::Registry`]), which [`registry::guard_corpus`] checks seed corpora against.
//! [`verify::verify_run`] checks a run folder; [`export::export`] builds a training set from
//! real corpora and synthetic runs, real data first, with a cap on the synthetic share.

pub mod card;
pub mod croissant;
pub mod export;
pub mod manifest;
pub mod registry;
pub mod sample;
pub mod schema;
pub mod sign;
pub mod verify;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub use sample::{content_id, from_kept_record, SampleV1, SAMPLE_SCHEMA_ID};

/// The samples file of a run (curated records in, labelled samples out).
pub const SAMPLES_FILE: &str = "samples.jsonl";
/// Line, id and line sha256 of every sample.
pub const INDEX_FILE: &str = "samples.index.tsv";
/// The manifest.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The manifest's signature.
pub const SIGNATURE_FILE: &str = "manifest.sig";
/// The dataset card.
pub const CARD_FILE: &str = "README.md";
/// The Croissant metadata.
pub const CROISSANT_FILE: &str = "croissant.json";

/// Errors of labelling, verification set-up, the registry and export. Each names the file and,
/// where it applies, the line and field.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a JSON Lines or registry file is invalid.
    #[error("{}:{line}: {message}", path.display())]
    Record {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong (names the field).
        message: String,
    },
    /// A whole file is invalid.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A signing or public key is unusable.
    #[error("key {}: {message}", path.display())]
    Key {
        /// The key file (or the text given).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The collapse guard refused synthetic documents as real seed text.
    #[error("collapse guard: {count} seed document(s) are synthetic and refused as real seed text: {examples}; opt in to use them as synthetic seeds (their lineage depth propagates)")]
    SyntheticSeed {
        /// How many documents were flagged.
        count: usize,
        /// The first few, `corpus:file:line: document id: reason`.
        examples: String,
    },
    /// A usage error (bad option value).
    #[error("{0}")]
    Usage(String),
    /// A check failed (e.g. a run given to export does not verify).
    #[error("{0}")]
    Check(String),
    /// Writing Parquet failed.
    #[error("{}: parquet: {message}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The error.
        message: String,
    },
}

impl LabelError {
    /// The process exit code for this error: 3 for a failed check (collapse guard, failed
    /// verification), 2 for usage, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            LabelError::SyntheticSeed { .. } | LabelError::Check(_) => 3,
            LabelError::Usage(_) | LabelError::Key { .. } => 2,
            _ => 1,
        }
    }
}

/// Options of [`label_run`].
#[derive(Debug, Clone, Default)]
pub struct LabelOptions {
    /// The curated records; default `RUN_DIR/samples.jsonl` (rewritten in place).
    pub input: Option<PathBuf>,
    /// The registry to add the run's generated texts to; `None` registers nothing.
    pub registry: Option<PathBuf>,
    /// Known real texts (the run's seed documents): never registered, even when a sample
    /// contains one as a line.
    pub real_texts: Vec<String>,
    /// Ed25519 key file to sign the manifest with.
    pub sign_key: Option<PathBuf>,
    /// Manifest inputs and times.
    pub manifest: manifest::ManifestInputs,
    /// Dataset card options.
    pub card: card::CardOptions,
}

/// What [`label_run`] did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LabelReport {
    /// Samples written.
    pub samples: usize,
    /// Kept records dropped because their content id repeated an earlier one.
    pub duplicates_dropped: usize,
    /// Hashes added to the registry.
    pub registered: usize,
    /// sha256 of the manifest written.
    pub manifest_sha256: String,
    /// Public key of the signature, when signed.
    pub signed_by: Option<String>,
    /// Warnings.
    pub warnings: Vec<String>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LabelError + '_ {
    move |source| LabelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write a file through a temporary file and a rename, so readers never see half of it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LabelError> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    {
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Read curated records (one JSON object per line) and convert them to samples; errors name
/// the file, line and field. Later records whose content id repeats an earlier one are dropped
/// and counted.
pub fn read_kept_records(path: &Path) -> Result<(Vec<SampleV1>, usize), LabelError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut dups = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rec: Map<String, Value> = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(LabelError::Record {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: "not a JSON object".into(),
                })
            }
            Err(e) => {
                return Err(LabelError::Record {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: format!("not JSON: {e}"),
                })
            }
        };
        let s = from_kept_record(&rec).map_err(|e| LabelError::Record {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        if !seen.insert(s.id.clone()) {
            dups += 1;
            continue;
        }
        out.push(s);
    }
    Ok((out, dups))
}

/// Serialise samples as compact JSON Lines, and the matching index (`line\tid\tsha256`).
pub fn samples_jsonl(samples: &[SampleV1]) -> (String, String) {
    let mut body = String::new();
    let mut index = String::from("line\tid\tsha256\n");
    for (i, s) in samples.iter().enumerate() {
        let line = serde_json::to_string(s).unwrap_or_default();
        index.push_str(&format!(
            "{}\t{}\t{}\n",
            i + 1,
            s.id,
            crate::ingest::sha256_hex(line.as_bytes())
        ));
        body.push_str(&line);
        body.push('\n');
    }
    (body, index)
}

/// Label a run folder (see the module documentation). Call it after curation (and evaluation,
/// whose `eval.json` summary goes into the manifest and card): it is the last writer of the
/// folder, since the manifest covers every file in it.
pub fn label_run(run_dir: &Path, opts: &LabelOptions) -> Result<LabelReport, LabelError> {
    let input = opts
        .input
        .clone()
        .unwrap_or_else(|| run_dir.join(SAMPLES_FILE));
    let (samples, dups) = read_kept_records(&input)?;
    let mut report = LabelReport {
        samples: samples.len(),
        duplicates_dropped: dups,
        ..LabelReport::default()
    };
    if dups > 0 {
        report.warnings.push(format!(
            "{}: {dups} kept record(s) repeat the text of an earlier sample: dropped",
            input.display()
        ));
    }
    // Stale outputs of an earlier labelling must not be hashed into the new manifest.
    for f in [MANIFEST_FILE, SIGNATURE_FILE] {
        let p = run_dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).map_err(io_err(&p))?;
        }
    }
    let (body, index) = samples_jsonl(&samples);
    let samples_path = run_dir.join(SAMPLES_FILE);
    write_atomic(&samples_path, body.as_bytes())?;
    write_atomic(&run_dir.join(INDEX_FILE), index.as_bytes())?;

    if let Some(reg_path) = &opts.registry {
        let mut reg = registry::Registry::open(reg_path)?;
        reg.exclude_real(opts.real_texts.iter().map(String::as_str));
        let run_name = run_dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| run_dir.display().to_string());
        // Only the published (kept) samples are registered: curation has already dropped every
        // generation that reproduced a seed document word for word, which is real text and must
        // not make the real seed corpus look synthetic next time. Rejected generations stay
        // labelled synthetic in rejects.jsonl, which the guard also recognises.
        let raw_texts: Vec<(String, u32, String)> = Vec::new();
        let entries = raw_texts
            .iter()
            .map(|(t, d, o)| (t.as_str(), *d, o.clone()))
            .chain(samples.iter().map(|s| {
                (
                    s.text.as_str(),
                    s.lineage_depth,
                    format!("{run_name}/{}", s.id),
                )
            }));
        report.registered = reg.register(entries)?;
    }

    let mut warnings = Vec::new();
    let mut m = manifest::build(
        run_dir,
        &samples,
        dups as u64,
        &opts.manifest,
        &mut warnings,
    )?;
    m.warnings = report.warnings.iter().cloned().chain(warnings).collect();
    let card_text = card::render(&m, &opts.card);
    write_atomic(&run_dir.join(CARD_FILE), card_text.as_bytes())?;
    let (samples_sha, samples_bytes) = manifest::hash_file(&samples_path)?;
    let cr = croissant::render(&m, &opts.card, &samples_sha, samples_bytes);
    let cr_text = serde_json::to_string_pretty(&cr).unwrap_or_default() + "\n";
    write_atomic(&run_dir.join(CROISSANT_FILE), cr_text.as_bytes())?;
    m.outputs = manifest::hash_outputs(run_dir)?;
    let manifest_text = serde_json::to_string_pretty(&m).unwrap_or_default() + "\n";
    write_atomic(&run_dir.join(MANIFEST_FILE), manifest_text.as_bytes())?;
    report.manifest_sha256 = crate::ingest::sha256_hex(manifest_text.as_bytes());
    if let Some(k) = &opts.sign_key {
        let key = sign::load_signing_key(k)?;
        let sig = sign::sign(&key, MANIFEST_FILE, manifest_text.as_bytes());
        report.signed_by = Some(sig.public_key.clone());
        let text = serde_json::to_string_pretty(&sig).unwrap_or_default() + "\n";
        write_atomic(&run_dir.join(SIGNATURE_FILE), text.as_bytes())?;
    }
    report.warnings = m.warnings.clone();
    Ok(report)
}
