//! `synthcorpus export`: a training set from real corpora and synthetic runs, real data first.
//!
//! - Real corpora are ingested and passed through the collapse guard
//!   ([`super::registry::guard_corpus`]): synthetic text is never exported as real. Documents
//!   the user opted in to keep as synthetic join the synthetic pool.
//! - Synthetic samples come from labelled runs (verified first unless told not to), deduplicated
//!   by content id across runs, and never repeat a real document's text.
//! - The synthetic share is capped: with `R` real lines (after `real_repeat`) and a cap `c`,
//!   at most `floor(c·R / (1 − c))` synthetic lines are written, the largest `S` with
//!   `S / (R + S) ≤ c`. Synthetic samples are chosen shallowest lineage first, then in a seeded
//!   order of their ids.
//! - Every line is labelled ([`ExportRecord`], schema `synthcorpus.export.v1`): `synthetic`,
//!   `provenance`, `lineage_depth`, `source`, `weight`, the generator, and the full label as a
//!   JSON string. Written as `train.jsonl` and `train.parquet` (flat columns, readable by the
//!   Hugging Face `datasets` library), with `export.json` (inputs, counts, cap, file hashes).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::registry::{guard_corpus, GuardPolicy, GuardReport, Registry};
use super::sample::{text_hash, SampleV1};
use super::verify::{verify_run, VerifyOptions};
use super::{write_atomic, LabelError, SAMPLES_FILE};
use crate::ingest::{load_corpus, sha256_hex, IngestOptions};
use crate::types::Provenance;

/// Schema id of an export line.
pub const EXPORT_SCHEMA_ID: &str = "synthcorpus.export.v1";
/// The JSON Lines output.
pub const JSONL_FILE: &str = "train.jsonl";
/// The Parquet output.
pub const PARQUET_FILE: &str = "train.parquet";
/// The export manifest.
pub const EXPORT_MANIFEST: &str = "export.json";

/// Options of [`export`].
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Real corpus folders (with `corpus.toml`).
    pub real: Vec<PathBuf>,
    /// Labelled run folders.
    pub runs: Vec<PathBuf>,
    /// Output folder.
    pub out: PathBuf,
    /// Largest share of synthetic lines, in `[0, 1]` (default 0.5).
    pub max_synthetic_share: f64,
    /// Write each real document this many times (default 1); repeats count for the cap.
    pub real_repeat: u32,
    /// `weight` of real lines (default 1.0; synthetic lines have 1.0).
    pub real_weight: f64,
    /// Registry of generated text for the collapse guard; `None`: the guard checks corpus
    /// metadata and labels only.
    pub registry: Option<PathBuf>,
    /// What to do with synthetic documents in real corpora.
    pub guard: GuardPolicy,
    /// Verify each run before use (default true).
    pub verify_runs: bool,
    /// Seed of the order among synthetic samples of equal depth.
    pub seed: u64,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            real: Vec::new(),
            runs: Vec::new(),
            out: PathBuf::from("export"),
            max_synthetic_share: 0.5,
            real_repeat: 1,
            real_weight: 1.0,
            registry: None,
            guard: GuardPolicy::Refuse,
            verify_runs: true,
            seed: 0,
        }
    }
}

/// One exported line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRecord {
    /// [`EXPORT_SCHEMA_ID`].
    pub schema: String,
    /// Document id (real) or content id (synthetic).
    pub id: String,
    /// The text.
    pub text: String,
    /// ISO 639-3 language.
    pub lang: String,
    /// ISO 15924 script.
    pub script: String,
    /// Whether the text is machine-generated.
    pub synthetic: bool,
    /// `real` or `synthetic`.
    pub provenance: String,
    /// 0 for real text.
    pub lineage_depth: u32,
    /// Corpus id or run name.
    pub source: String,
    /// Training weight.
    pub weight: f64,
    /// Generator (`name quantisation`), synthetic lines only.
    pub generator: Option<String>,
    /// sha256 of the generator, synthetic lines only.
    pub generator_sha256: Option<String>,
    /// The full label as compact JSON: the sample without its text (synthetic) or the corpus
    /// facts (real).
    pub label: String,
}

/// What [`export`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportReport {
    /// Real documents exported (before repetition).
    pub real_documents: usize,
    /// Real lines written.
    pub real_lines: usize,
    /// Synthetic candidates (after deduplication).
    pub synthetic_available: usize,
    /// Synthetic lines written.
    pub synthetic_lines: usize,
    /// The cap.
    pub max_synthetic_share: f64,
    /// Synthetic share of the lines written.
    pub synthetic_share: f64,
    /// Synthetic candidates dropped: duplicates across runs or of real text.
    pub synthetic_duplicates: usize,
    /// Collapse-guard reports, per real corpus.
    pub guard: Vec<(String, GuardReport)>,
    /// Warnings.
    pub warnings: Vec<String>,
}

/// The largest number of synthetic lines allowed beside `real` real lines under `cap`.
pub fn synthetic_allowance(real: usize, cap: f64, available: usize) -> usize {
    if cap >= 1.0 {
        return available;
    }
    if cap <= 0.0 {
        return 0;
    }
    // Largest S with S <= cap (R + S); the epsilon only absorbs representation error of cap.
    let mut s = ((cap * real as f64) / (1.0 - cap) + 1e-9).floor() as usize;
    while s > 0 && (s as f64) > cap * ((real + s) as f64) + 1e-12 {
        s -= 1;
    }
    s.min(available)
}

fn order_key(seed: u64, id: &str) -> String {
    let mut b = seed.to_le_bytes().to_vec();
    b.extend_from_slice(id.as_bytes());
    sha256_hex(&b)
}

struct Candidate {
    record: ExportRecord,
    key: (u32, String),
}

/// Build the training set (see the module documentation).
pub fn export(opts: &ExportOptions) -> Result<ExportReport, LabelError> {
    if !(0.0..=1.0).contains(&opts.max_synthetic_share) {
        return Err(LabelError::Usage(format!(
            "the synthetic share cap must be in [0, 1], not {}",
            opts.max_synthetic_share
        )));
    }
    if opts.real_repeat == 0 {
        return Err(LabelError::Usage("real repeat must be at least 1".into()));
    }
    if !(opts.real_weight > 0.0 && opts.real_weight.is_finite()) {
        return Err(LabelError::Usage("real weight must be > 0".into()));
    }
    if opts.real.is_empty() && opts.runs.is_empty() {
        return Err(LabelError::Usage(
            "nothing to export: give real corpora and/or runs".into(),
        ));
    }
    let mut report = ExportReport {
        max_synthetic_share: opts.max_synthetic_share,
        ..ExportReport::default()
    };
    let registry = match &opts.registry {
        Some(p) => Registry::open(p)?,
        None => Registry::empty(),
    };
    let mut inputs = Vec::new();
    let mut real_lines: Vec<ExportRecord> = Vec::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut real_hashes = BTreeSet::new();
    for dir in &opts.real {
        let mut corpus =
            load_corpus(dir, &IngestOptions::default()).map_err(|e| LabelError::Invalid {
                path: dir.clone(),
                message: e.to_string(),
            })?;
        report.warnings.extend(corpus.warnings.iter().cloned());
        let g = guard_corpus(&mut corpus, &registry, opts.guard)?;
        report.guard.push((corpus.meta.id.clone(), g));
        let m = &corpus.meta;
        inputs.push(json!({
            "kind": "corpus", "id": m.id, "path": dir.display().to_string(),
            "content_sha256": corpus.content_sha256(), "licence": m.licence, "source": m.source,
            "provenance": m.provenance, "documents": corpus.documents.len(),
            "files": corpus.files,
        }));
        for d in &corpus.documents {
            let label = json!({
                "corpus": m.id, "name": m.name, "source": m.source, "licence": m.licence,
                "file": d.source, "line": d.line,
            });
            let rec = ExportRecord {
                schema: EXPORT_SCHEMA_ID.into(),
                id: d.id.clone(),
                text: d.text.clone(),
                lang: d.lang.clone(),
                script: d.script.clone(),
                synthetic: d.provenance == Provenance::Synthetic,
                provenance: if d.provenance == Provenance::Synthetic {
                    "synthetic"
                } else {
                    "real"
                }
                .into(),
                lineage_depth: d.lineage_depth,
                source: m.id.clone(),
                weight: if d.provenance == Provenance::Real {
                    opts.real_weight
                } else {
                    1.0
                },
                generator: None,
                generator_sha256: None,
                label: label.to_string(),
            };
            if d.provenance == Provenance::Real {
                real_hashes.insert(text_hash(&d.text));
                real_lines.push(rec);
            } else {
                candidates.push(Candidate {
                    key: (d.lineage_depth, order_key(opts.seed, &d.id)),
                    record: rec,
                });
            }
        }
    }
    for dir in &opts.runs {
        if opts.verify_runs {
            let v = verify_run(dir, &VerifyOptions::default());
            if !v.ok() {
                let first: Vec<String> = v.problems.iter().take(3).map(|p| p.to_string()).collect();
                return Err(LabelError::Check(format!(
                    "{}: run does not verify ({} problem(s)): {}; run `synthcorpus verify` for all",
                    dir.display(),
                    v.problems.len(),
                    first.join("; ")
                )));
            }
        }
        let path = dir.join(SAMPLES_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| LabelError::Io {
            path: path.clone(),
            source,
        })?;
        let run_name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string());
        let manifest_sha = std::fs::read(dir.join(super::MANIFEST_FILE))
            .map(|b| sha256_hex(&b))
            .ok();
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let s: SampleV1 = serde_json::from_str(line).map_err(|e| LabelError::Record {
                path: path.clone(),
                line: i + 1,
                message: format!("not a {} sample: {e}", super::SAMPLE_SCHEMA_ID),
            })?;
            if !s.synthetic {
                return Err(LabelError::Record {
                    path: path.clone(),
                    line: i + 1,
                    message: "field `synthetic`: not labelled synthetic".into(),
                });
            }
            n += 1;
            let mut label = serde_json::to_value(&s).unwrap_or(Value::Null);
            if let Some(o) = label.as_object_mut() {
                o.remove("text");
            }
            candidates.push(Candidate {
                key: (s.lineage_depth, order_key(opts.seed, &s.id)),
                record: ExportRecord {
                    schema: EXPORT_SCHEMA_ID.into(),
                    id: s.id.clone(),
                    text: s.text.clone(),
                    lang: s.lang.clone(),
                    script: s.script.clone(),
                    synthetic: true,
                    provenance: "synthetic".into(),
                    lineage_depth: s.lineage_depth,
                    source: run_name.clone(),
                    weight: 1.0,
                    generator: Some(
                        format!("{} {}", s.generator.name, s.generator.quantization)
                            .trim()
                            .to_string(),
                    ),
                    generator_sha256: Some(s.generator.sha256.clone()),
                    label: label.to_string(),
                },
            });
        }
        inputs.push(json!({
            "kind": "run", "id": run_name, "path": dir.display().to_string(),
            "manifest_sha256": manifest_sha, "samples": n,
        }));
    }
    // Deduplicate synthetic candidates (by text) among themselves and against real text.
    candidates.sort_by(|a, b| a.key.cmp(&b.key));
    let mut seen = real_hashes.clone();
    let before = candidates.len();
    candidates.retain(|c| seen.insert(text_hash(&c.record.text)));
    report.synthetic_duplicates = before - candidates.len();
    report.synthetic_available = candidates.len();
    report.real_documents = real_lines.len();

    let mut lines: Vec<ExportRecord> = Vec::new();
    for _ in 0..opts.real_repeat {
        lines.extend(real_lines.iter().cloned());
    }
    report.real_lines = lines.len();
    let s = synthetic_allowance(
        report.real_lines,
        opts.max_synthetic_share,
        candidates.len(),
    );
    if s < candidates.len() {
        report.warnings.push(format!(
            "synthetic share capped at {}: {} of {} synthetic samples written",
            opts.max_synthetic_share,
            s,
            candidates.len()
        ));
    }
    lines.extend(candidates.into_iter().take(s).map(|c| c.record));
    report.synthetic_lines = s;
    let total = lines.len();
    report.synthetic_share = if total == 0 {
        0.0
    } else {
        s as f64 / total as f64
    };

    std::fs::create_dir_all(&opts.out).map_err(|source| LabelError::Io {
        path: opts.out.clone(),
        source,
    })?;
    let mut body = String::new();
    for l in &lines {
        body.push_str(&serde_json::to_string(l).unwrap_or_default());
        body.push('\n');
    }
    let jsonl = opts.out.join(JSONL_FILE);
    write_atomic(&jsonl, body.as_bytes())?;
    let parquet = opts.out.join(PARQUET_FILE);
    write_parquet(&parquet, &lines)?;
    let mut outputs = serde_json::Map::new();
    for f in [JSONL_FILE, PARQUET_FILE] {
        let (sha, bytes) = super::manifest::hash_file(&opts.out.join(f))?;
        outputs.insert(
            f.into(),
            json!({"sha256": sha, "bytes": bytes, "records": total}),
        );
    }
    let manifest = json!({
        "schema": "synthcorpus.export-manifest.v1",
        "tool": super::sample::tool_string(),
        "created_at": super::manifest::now_or_source_date_epoch(),
        "line_schema": EXPORT_SCHEMA_ID,
        "options": {
            "max_synthetic_share": opts.max_synthetic_share,
            "real_repeat": opts.real_repeat,
            "real_weight": opts.real_weight,
            "guard": opts.guard,
            "seed": opts.seed,
            "verify_runs": opts.verify_runs,
        },
        "inputs": inputs,
        "counts": {
            "real_documents": report.real_documents,
            "real_lines": report.real_lines,
            "synthetic_available": report.synthetic_available,
            "synthetic_lines": report.synthetic_lines,
            "synthetic_duplicates": report.synthetic_duplicates,
            "lines": total,
            "synthetic_share": report.synthetic_share,
        },
        "guard": report.guard.iter().map(|(id, g)| json!({"corpus": id, "report": g})).collect::<Vec<_>>(),
        "outputs": outputs,
        "warnings": report.warnings,
    });
    write_atomic(
        &opts.out.join(EXPORT_MANIFEST),
        (serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n").as_bytes(),
    )?;
    Ok(report)
}

const PARQUET_SCHEMA: &str = "message synthcorpus_export_v1 {
  required binary schema (STRING);
  required binary id (STRING);
  required binary text (STRING);
  required binary lang (STRING);
  required binary script (STRING);
  required boolean synthetic;
  required binary provenance (STRING);
  required int32 lineage_depth;
  required binary source (STRING);
  required double weight;
  optional binary generator (STRING);
  optional binary generator_sha256 (STRING);
  required binary label (STRING);
}";

/// Rows per Parquet row group.
const ROW_GROUP: usize = 50_000;

/// Write records as an uncompressed Parquet file with flat columns.
pub fn write_parquet(path: &Path, rows: &[ExportRecord]) -> Result<(), LabelError> {
    use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    let perr = |e: parquet::errors::ParquetError| LabelError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let schema = Arc::new(parse_message_type(PARQUET_SCHEMA).map_err(perr)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_created_by(super::sample::tool_string())
            .build(),
    );
    let tmp = path.with_extension("parquet.tmp");
    let file = std::fs::File::create(&tmp).map_err(|source| LabelError::Io {
        path: tmp.clone(),
        source,
    })?;
    let mut writer = SerializedFileWriter::new(file, schema, props).map_err(perr)?;
    let chunks: Vec<&[ExportRecord]> = if rows.is_empty() {
        vec![rows]
    } else {
        rows.chunks(ROW_GROUP).collect()
    };
    for chunk in chunks {
        let mut rg = writer.next_row_group().map_err(perr)?;
        let mut col_index = 0usize;
        while let Some(mut col) = rg.next_column().map_err(perr)? {
            let strings = |f: &dyn Fn(&ExportRecord) -> &str| -> Vec<ByteArray> {
                chunk
                    .iter()
                    .map(|r| ByteArray::from(f(r).as_bytes().to_vec()))
                    .collect()
            };
            match col_index {
                5 => {
                    let v: Vec<bool> = chunk.iter().map(|r| r.synthetic).collect();
                    col.typed::<BoolType>()
                        .write_batch(&v, None, None)
                        .map_err(perr)?;
                }
                7 => {
                    let v: Vec<i32> = chunk
                        .iter()
                        .map(|r| i32::try_from(r.lineage_depth).unwrap_or(i32::MAX))
                        .collect();
                    col.typed::<Int32Type>()
                        .write_batch(&v, None, None)
                        .map_err(perr)?;
                }
                9 => {
                    let v: Vec<f64> = chunk.iter().map(|r| r.weight).collect();
                    col.typed::<DoubleType>()
                        .write_batch(&v, None, None)
                        .map_err(perr)?;
                }
                10 | 11 => {
                    let get = |r: &ExportRecord| {
                        if col_index == 10 {
                            r.generator.clone()
                        } else {
                            r.generator_sha256.clone()
                        }
                    };
                    let def: Vec<i16> = chunk.iter().map(|r| i16::from(get(r).is_some())).collect();
                    let vals: Vec<ByteArray> = chunk
                        .iter()
                        .filter_map(get)
                        .map(|s| ByteArray::from(s.into_bytes()))
                        .collect();
                    col.typed::<ByteArrayType>()
                        .write_batch(&vals, Some(&def), None)
                        .map_err(perr)?;
                }
                i => {
                    let v = match i {
                        0 => strings(&|r| &r.schema),
                        1 => strings(&|r| &r.id),
                        2 => strings(&|r| &r.text),
                        3 => strings(&|r| &r.lang),
                        4 => strings(&|r| &r.script),
                        6 => strings(&|r| &r.provenance),
                        8 => strings(&|r| &r.source),
                        _ => strings(&|r| &r.label),
                    };
                    col.typed::<ByteArrayType>()
                        .write_batch(&v, None, None)
                        .map_err(perr)?;
                }
            }
            col.close().map_err(perr)?;
            col_index += 1;
        }
        rg.close().map_err(perr)?;
    }
    writer.close().map_err(perr)?;
    std::fs::rename(&tmp, path).map_err(|source| LabelError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowance_is_the_largest_under_the_cap() {
        for real in 0..60usize {
            for cap in [0.0, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 1.0] {
                let s = synthetic_allowance(real, cap, 10_000);
                if cap < 1.0 {
                    assert!(
                        (s as f64) <= cap * (real + s) as f64 + 1e-9,
                        "{real} {cap} {s}"
                    );
                    assert!(
                        ((s + 1) as f64) > cap * (real + s + 1) as f64,
                        "{real} {cap} {s}"
                    );
                } else {
                    assert_eq!(s, 10_000);
                }
            }
        }
        assert_eq!(synthetic_allowance(5, 0.5, 3), 3);
    }
}
