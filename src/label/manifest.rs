//! `manifest.json`: what a run used, what it produced, and how much of each.
//!
//! Schema `synthcorpus.manifest.v1` ([`Manifest`]): the tool, the run, start and end times, the
//! machine, the resolved configuration, every input (configuration, seed corpus files, prompt
//! templates, the language pack, models, the language-identification model) and every output
//! file of the run folder with its sha256, size and (for JSON Lines) record count, counts per
//! stage, model, source, task and lineage depth, and the evaluation summary when there is one.
//! `verify` checks a run folder against it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::sample::{tool_string, SampleV1};
use super::LabelError;

/// Schema identifier of a manifest.
pub const MANIFEST_SCHEMA_ID: &str = "synthcorpus.manifest.v1";

/// Now (RFC 3339 UTC, seconds), or the time `SOURCE_DATE_EPOCH` gives (seconds since the Unix
/// epoch) when it is set, for reproducible outputs.
pub fn now_or_source_date_epoch() -> String {
    match std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
    {
        Some(secs) => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
        )
        .to_string(),
        None => crate::generate::now_rfc3339(),
    }
}

/// The manifest of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_SCHEMA_ID`].
    pub schema: String,
    /// Tool and version that wrote the manifest.
    pub tool: String,
    /// The run.
    pub run: RunInfo,
    /// Start of the run (RFC 3339 UTC): the earliest generation, unless the caller knows better.
    pub started_at: String,
    /// End of the run: when the manifest was written.
    pub finished_at: String,
    /// The machine that labelled the run.
    pub machine: Machine,
    /// The resolved configuration (`config.resolved.toml` as JSON), or `null`.
    pub config: Value,
    /// Every input.
    pub inputs: Vec<InputEntry>,
    /// Every output file of the run folder (path relative to it, `/`-separated), except the
    /// manifest and its signature.
    pub outputs: BTreeMap<String, OutputEntry>,
    /// Counts.
    pub counts: Counts,
    /// The sample schema and the sha256 of its JSON Schema.
    pub sample_schema: SchemaRef,
    /// The evaluation summary (`eval.json`'s `summary`, or the whole file), or `null`.
    pub evaluation: Value,
    /// Warnings met while labelling.
    pub warnings: Vec<String>,
}

/// The run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Name of the run folder.
    pub name: String,
    /// The generate stage's run fingerprint (`generate.json`), when known.
    pub fingerprint: Option<String>,
    /// Target language (ISO 639-3).
    pub lang: String,
    /// Target script (ISO 15924).
    pub script: String,
}

/// The machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Operating system (`linux`, ...).
    pub os: String,
    /// Distribution (`PRETTY_NAME` of `/etc/os-release`), when known.
    pub os_release: Option<String>,
    /// Kernel release, when known.
    pub kernel: Option<String>,
    /// CPU architecture.
    pub arch: String,
    /// CPU model (`/proc/cpuinfo`), when known.
    pub cpu: Option<String>,
    /// Logical cores available.
    pub cores: usize,
    /// Total memory in bytes (`/proc/meminfo`), when known.
    pub memory_bytes: Option<u64>,
}

impl Machine {
    /// Describe this machine.
    pub fn current() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let cpu = read("/proc/cpuinfo").and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        });
        let memory_bytes = read("/proc/meminfo").and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kb: u64 = l.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        });
        let os_release = read("/etc/os-release").and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
        Self {
            os: std::env::consts::OS.to_string(),
            os_release,
            kernel: read("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()),
            arch: std::env::consts::ARCH.to_string(),
            cpu,
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            memory_bytes,
        }
    }
}

/// One input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputEntry {
    /// `config`, `seed_corpus`, `seed_file`, `prompt_template`, `language_pack`, `model`,
    /// `lid_model` or `other`.
    pub role: String,
    /// Its id (corpus id and file, template id, model id, ...).
    pub id: String,
    /// Where it was read, as configured, when known.
    pub path: Option<String>,
    /// sha256 of its bytes, when known.
    pub sha256: Option<String>,
    /// Size in bytes, when known.
    pub bytes: Option<u64>,
    /// Role-specific facts (licence, model name, quantisation, ...).
    pub details: BTreeMap<String, Value>,
}

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputEntry {
    /// sha256 of its bytes.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Lines, for `.jsonl` files.
    pub records: Option<u64>,
}

/// Counts per group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GroupCount {
    /// Generations (`raw.jsonl`).
    pub generated: u64,
    /// Labelled samples (`samples.jsonl`).
    pub samples: u64,
}

/// Counts of a run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Generations in `raw.jsonl`, when present.
    pub generated: Option<u64>,
    /// Records curation kept (`curate.json`), when known.
    pub curated_kept: Option<u64>,
    /// Records curation rejected (`rejects.jsonl`), when present.
    pub rejected: Option<u64>,
    /// Labelled samples in `samples.jsonl`.
    pub samples: u64,
    /// Kept records dropped by labelling because their normalised text repeated an earlier
    /// sample's (same content id).
    pub duplicates_dropped: u64,
    /// Curation's per-stage counts (`curate.json`): seen, kept, dropped by reason.
    pub per_stage: BTreeMap<String, Value>,
    /// Per generator id.
    pub per_model: BTreeMap<String, GroupCount>,
    /// Per seed corpus.
    pub per_source: BTreeMap<String, GroupCount>,
    /// Per task.
    pub per_task: BTreeMap<String, GroupCount>,
    /// Samples per lineage depth.
    pub per_lineage_depth: BTreeMap<String, u64>,
}

/// The sample schema a run uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaRef {
    /// Schema id (`synthcorpus.sample.v1`).
    pub id: String,
    /// Shipped file name (`schemas/sample.v1.schema.json`).
    pub file: String,
    /// sha256 of that file.
    pub sha256: String,
}

/// sha256 and size of a file, streamed.
pub fn hash_file(path: &Path) -> Result<(String, u64), LabelError> {
    let io = |source| LabelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n_total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        n_total += n as u64;
        h.update(&buf[..n]);
    }
    Ok((
        h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        n_total,
    ))
}

/// Lines of a file (its newline count, plus one for a last line without newline).
pub fn count_lines(path: &Path) -> Result<u64, LabelError> {
    let bytes = std::fs::read(path).map_err(|source| LabelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let n = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    Ok(n + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n")))
}

/// The files of a run folder that the manifest covers: every regular file, recursively, by
/// `/`-separated relative path, except `manifest.json` and `manifest.sig`.
pub fn list_run_files(dir: &Path) -> Result<Vec<String>, LabelError> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    // The run's own bookkeeping (`.synthcorpus/`: which stages finished with which inputs) changes
    // after labelling and is not part of the dataset.
    out.retain(|p| {
        p != super::MANIFEST_FILE && p != super::SIGNATURE_FILE && !p.starts_with(".synthcorpus/")
    });
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), LabelError> {
    let io = |source| LabelError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let p = entry.path();
        let ft = entry.file_type().map_err(io)?;
        if ft.is_dir() {
            walk(root, &p, out)?;
        } else {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

/// Hash every output file of a run folder.
pub fn hash_outputs(dir: &Path) -> Result<BTreeMap<String, OutputEntry>, LabelError> {
    let mut out = BTreeMap::new();
    for rel in list_run_files(dir)? {
        let p = dir.join(&rel);
        let (sha256, bytes) = hash_file(&p)?;
        let records = if rel.ends_with(".jsonl") {
            Some(count_lines(&p)?)
        } else {
            None
        };
        out.insert(
            rel,
            OutputEntry {
                sha256,
                bytes,
                records,
            },
        );
    }
    Ok(out)
}

fn read_jsonl_values(path: &Path) -> Result<Vec<Value>, LabelError> {
    let text = std::fs::read_to_string(path).map_err(|source| LabelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| LabelError::Record {
            path: path.to_path_buf(),
            line: i + 1,
            message: format!("not JSON: {e}"),
        })?;
        out.push(v);
    }
    Ok(out)
}

fn read_json(path: &Path) -> Result<Option<Value>, LabelError> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| LabelError::Invalid {
                path: path.to_path_buf(),
                message: format!("not JSON: {e}"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LabelError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// What [`build`] reads besides the run folder.
#[derive(Debug, Clone, Default)]
pub struct ManifestInputs {
    /// Start time; default: the earliest `created_at` of `raw.jsonl` (else of the samples).
    pub started_at: Option<String>,
    /// End time; default: now.
    pub finished_at: Option<String>,
    /// The language-identification model file used by curation and evaluation.
    pub lid_model: Option<PathBuf>,
    /// Further inputs: (role, path).
    pub extra_inputs: Vec<(String, PathBuf)>,
}

/// Build the manifest of a run (outputs left empty: fill them with [`hash_outputs`] once every
/// other file is written).
pub fn build(
    run_dir: &Path,
    samples: &[SampleV1],
    duplicates_dropped: u64,
    opts: &ManifestInputs,
    warnings: &mut Vec<String>,
) -> Result<Manifest, LabelError> {
    let raw_path = run_dir.join(crate::generate::RAW_FILE);
    let raw = if raw_path.is_file() {
        Some(read_jsonl_values(&raw_path)?)
    } else {
        warnings.push("no raw.jsonl in the run folder: generation counts unknown".into());
        None
    };
    let mut counts = Counts {
        generated: raw.as_ref().map(|r| r.len() as u64),
        samples: samples.len() as u64,
        duplicates_dropped,
        ..Counts::default()
    };
    let str_at = |v: &Value, ptr: &str| v.pointer(ptr).and_then(Value::as_str).map(String::from);
    for r in raw.iter().flatten() {
        let key = |p: &str| str_at(r, p).unwrap_or_else(|| "unknown".into());
        counts
            .per_model
            .entry(key("/generator/id"))
            .or_default()
            .generated += 1;
        counts
            .per_source
            .entry(key("/prompt/source_corpus"))
            .or_default()
            .generated += 1;
        counts
            .per_task
            .entry(key("/prompt/task"))
            .or_default()
            .generated += 1;
    }
    for s in samples {
        counts
            .per_model
            .entry(s.generator.id.clone())
            .or_default()
            .samples += 1;
        counts
            .per_source
            .entry(s.prompt.source_corpus.clone())
            .or_default()
            .samples += 1;
        counts
            .per_task
            .entry(s.prompt.task.clone())
            .or_default()
            .samples += 1;
        *counts
            .per_lineage_depth
            .entry(s.lineage_depth.to_string())
            .or_default() += 1;
    }
    let rejects = run_dir.join("rejects.jsonl");
    if rejects.is_file() {
        counts.rejected = Some(count_lines(&rejects)?);
    }
    let curate = read_json(&run_dir.join("curate.json"))?;
    let mut lid_model_id = None;
    if let Some(c) = &curate {
        counts.curated_kept = c.pointer("/totals/kept").and_then(Value::as_u64);
        for st in c
            .get("stages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = st.get("stage").and_then(Value::as_str) {
                let mut m = serde_json::Map::new();
                for k in ["status", "seen", "kept", "dropped"] {
                    if let Some(v) = st.get(k) {
                        m.insert(k.into(), v.clone());
                    }
                }
                counts.per_stage.insert(name.into(), Value::Object(m));
            }
        }
        lid_model_id = c.get("lid_model").and_then(Value::as_str).map(String::from);
    }
    let fingerprint = read_json(&run_dir.join("generate.json"))?.and_then(|g| {
        g.get("fingerprint")
            .and_then(Value::as_str)
            .map(String::from)
    });
    let evaluation = match read_json(&run_dir.join("eval.json"))? {
        Some(v) => v.get("summary").cloned().unwrap_or(v),
        None => Value::Null,
    };

    let config_path = run_dir.join("config.resolved.toml");
    let (config_value, config) = match std::fs::read_to_string(&config_path) {
        Ok(text) => {
            let value = toml::from_str::<toml::Value>(&text)
                .ok()
                .and_then(|v| serde_json::to_value(v).ok())
                .unwrap_or(Value::Null);
            match crate::config::Config::parse(&text, &config_path) {
                Ok(c) => (value, Some(c)),
                Err(e) => {
                    warnings.push(format!("{e}: inputs from the configuration not recorded"));
                    (value, None)
                }
            }
        }
        Err(_) => {
            warnings.push("no config.resolved.toml in the run folder".into());
            (Value::Null, None)
        }
    };
    let lang = samples
        .first()
        .map(|s| s.lang.clone())
        .or_else(|| config.as_ref().map(|c| c.lang.clone()))
        .unwrap_or_default();
    let script = samples
        .first()
        .map(|s| s.script.clone())
        .or_else(|| config.as_ref().map(|c| c.script.clone()))
        .unwrap_or_default();

    let mut inputs = Vec::new();
    if let Some(c) = &config {
        inputs.extend(corpus_inputs(c, warnings));
    }
    inputs.extend(template_inputs(
        config.as_ref(),
        raw.as_deref().unwrap_or(&[]),
        samples,
    ));
    inputs.extend(model_inputs(
        config.as_ref(),
        raw.as_deref().unwrap_or(&[]),
        samples,
    ));
    if let Some(p) = &opts.lid_model {
        inputs.push(file_input(
            "lid_model",
            &p.display().to_string(),
            p,
            lid_model_id.clone(),
        )?);
    } else if let Some(id) = lid_model_id {
        inputs.push(InputEntry {
            role: "lid_model".into(),
            id,
            path: None,
            sha256: None,
            bytes: None,
            details: BTreeMap::new(),
        });
    }
    for (role, p) in &opts.extra_inputs {
        inputs.push(file_input(role, &p.display().to_string(), p, None)?);
    }

    let earliest = raw
        .iter()
        .flatten()
        .filter_map(|r| {
            r.get("created_at")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .chain(samples.iter().map(|s| s.created_at.clone()))
        .min();
    let now = now_or_source_date_epoch();
    let schema_sha = crate::ingest::sha256_hex(super::schema::SAMPLE_SCHEMA_JSON.as_bytes());
    Ok(Manifest {
        schema: MANIFEST_SCHEMA_ID.into(),
        tool: tool_string(),
        run: RunInfo {
            name: run_dir
                .canonicalize()
                .ok()
                .as_deref()
                .unwrap_or(run_dir)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            fingerprint,
            lang,
            script,
        },
        started_at: opts
            .started_at
            .clone()
            .or(earliest)
            .unwrap_or_else(|| now.clone()),
        finished_at: opts.finished_at.clone().unwrap_or(now),
        machine: Machine::current(),
        config: config_value,
        inputs,
        outputs: BTreeMap::new(),
        counts,
        sample_schema: SchemaRef {
            id: super::sample::SAMPLE_SCHEMA_ID.into(),
            file: "schemas/sample.v1.schema.json".into(),
            sha256: schema_sha,
        },
        evaluation,
        warnings: Vec::new(),
    })
}

fn file_input(
    role: &str,
    shown: &str,
    path: &Path,
    id: Option<String>,
) -> Result<InputEntry, LabelError> {
    let (sha256, bytes) = hash_file(path)?;
    Ok(InputEntry {
        role: role.into(),
        id: id.unwrap_or_else(|| {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        }),
        path: Some(shown.into()),
        sha256: Some(sha256),
        bytes: Some(bytes),
        details: BTreeMap::new(),
    })
}

/// The folder of a configured seed corpus: as given, or shipped with synthcorpus when a
/// relative path does not exist here (as `generate` resolves it).
pub fn resolve_corpus_dir(p: &Path) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join(p);
    if p.is_relative() && !p.exists() && shipped.is_dir() {
        shipped
    } else {
        p.to_path_buf()
    }
}

fn corpus_inputs(config: &crate::config::Config, warnings: &mut Vec<String>) -> Vec<InputEntry> {
    let mut out = Vec::new();
    for s in &config.generate.sources {
        let dir = resolve_corpus_dir(&s.corpus);
        let corpus =
            match crate::ingest::load_corpus(&dir, &crate::ingest::IngestOptions::default()) {
                Ok(c) => c,
                Err(e) => {
                    warnings.push(format!(
                        "seed corpus {}: {e}: not recorded",
                        s.corpus.display()
                    ));
                    continue;
                }
            };
        let m = &corpus.meta;
        let meta_path = dir.join(crate::ingest::METADATA_FILE);
        let mut details = BTreeMap::new();
        details.insert("name".into(), Value::String(m.name.clone()));
        details.insert("source".into(), Value::String(m.source.clone()));
        details.insert("licence".into(), Value::String(m.licence.clone()));
        details.insert("date".into(), Value::String(m.date.clone()));
        details.insert(
            "provenance".into(),
            serde_json::to_value(m.provenance).unwrap_or(Value::Null),
        );
        details.insert("lang".into(), Value::String(m.lang.clone()));
        details.insert("documents".into(), corpus.documents.len().into());
        details.insert("weight".into(), s.weight.into());
        details.insert("content_sha256".into(), corpus.content_sha256().into());
        let (sha, bytes) = hash_file(&meta_path)
            .map(|(a, b)| (Some(a), Some(b)))
            .unwrap_or((None, None));
        out.push(InputEntry {
            role: "seed_corpus".into(),
            id: m.id.clone(),
            path: Some(
                s.corpus
                    .join(crate::ingest::METADATA_FILE)
                    .display()
                    .to_string(),
            ),
            sha256: sha,
            bytes,
            details,
        });
        for (rel, f) in &corpus.files {
            let mut details = BTreeMap::new();
            details.insert("corpus".into(), Value::String(m.id.clone()));
            details.insert("documents".into(), f.documents.into());
            out.push(InputEntry {
                role: "seed_file".into(),
                id: format!("{}/{rel}", m.id),
                path: Some(s.corpus.join(rel).display().to_string()),
                sha256: Some(f.sha256.clone()),
                bytes: Some(f.bytes),
                details,
            });
        }
    }
    out
}

fn template_inputs(
    config: Option<&crate::config::Config>,
    raw: &[Value],
    samples: &[SampleV1],
) -> Vec<InputEntry> {
    // template id -> (version, sha256), from the records.
    let mut used: BTreeMap<String, (Option<u64>, Option<String>)> = BTreeMap::new();
    for r in raw {
        if let Some(id) = r.pointer("/prompt/template_id").and_then(Value::as_str) {
            used.insert(
                id.into(),
                (
                    r.pointer("/prompt/template_version")
                        .and_then(Value::as_u64),
                    r.pointer("/prompt/template_sha256")
                        .and_then(Value::as_str)
                        .map(String::from),
                ),
            );
        }
    }
    for s in samples {
        if let Some(id) = &s.prompt.template_id {
            used.entry(id.clone()).or_insert((
                s.prompt.template_version.map(u64::from),
                s.prompt.template_sha256.clone(),
            ));
        }
    }
    let prompts_dir = config
        .and_then(|c| c.generate.prompts.clone())
        .unwrap_or_else(crate::prompts::shipped_dir);
    let library = crate::prompts::PromptLibrary::load(&prompts_dir).ok();
    let mut out = Vec::new();
    for (id, (version, sha)) in used {
        let t = library.as_ref().and_then(|l| l.templates.get(&id));
        let mut details = BTreeMap::new();
        if let Some(v) = version {
            details.insert("version".into(), v.into());
        }
        let mut path = None;
        let mut bytes = None;
        if let Some(t) = t {
            details.insert(
                "task".into(),
                serde_json::to_value(t.task).unwrap_or(Value::Null),
            );
            if sha.as_deref() == Some(t.sha256.as_str()) {
                path = t
                    .path
                    .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .map(|p| format!("<synthcorpus>/{}", p.display()))
                    .ok()
                    .or_else(|| Some(t.path.display().to_string()));
                bytes = std::fs::metadata(&t.path).ok().map(|m| m.len());
            } else {
                details.insert(
                    "note".into(),
                    "the template file on disk has changed since generation".into(),
                );
            }
        }
        out.push(InputEntry {
            role: "prompt_template".into(),
            id,
            path,
            sha256: sha,
            bytes,
            details,
        });
    }
    if let Some(c) = config {
        if let Ok(lp) = crate::prompts::load_language(&prompts_dir, &c.lang) {
            let mut details = BTreeMap::new();
            details.insert("name".into(), Value::String(lp.name.clone()));
            out.push(InputEntry {
                role: "language_pack".into(),
                id: lp.code.clone(),
                path: None,
                sha256: Some(lp.sha256.clone()),
                bytes: None,
                details,
            });
        }
    }
    out
}

fn model_inputs(
    config: Option<&crate::config::Config>,
    raw: &[Value],
    samples: &[SampleV1],
) -> Vec<InputEntry> {
    let mut gens: BTreeMap<String, super::sample::GeneratorV1> = BTreeMap::new();
    for r in raw {
        if let Some(g) = r
            .get("generator")
            .and_then(|g| serde_json::from_value::<super::sample::GeneratorV1>(g.clone()).ok())
        {
            gens.entry(g.id.clone()).or_insert(g);
        }
    }
    for s in samples {
        gens.entry(s.generator.id.clone())
            .or_insert_with(|| s.generator.clone());
    }
    let mut out = Vec::new();
    for (id, g) in gens {
        let cfg = config.and_then(|c| c.generate.models.iter().find(|m| m.id == id));
        let mut details = BTreeMap::new();
        for (k, v) in [
            ("kind", &g.kind),
            ("backend", &g.backend),
            ("name", &g.name),
            ("architecture", &g.architecture),
            ("quantization", &g.quantization),
            ("tokenizer_sha256", &g.tokenizer_sha256),
        ] {
            details.insert(k.into(), Value::String(v.clone()));
        }
        let mut path = None;
        let mut bytes = None;
        if let Some(m) = cfg {
            if g.kind == "llm" {
                path = Some(m.model.clone());
                // Never download here: only local references are looked at.
                if !m.model.starts_with("hf:") {
                    if let Ok(p) = crate::models::resolve(&m.model) {
                        bytes = std::fs::metadata(&p).ok().map(|x| x.len());
                        if let Some(n) = p.file_name() {
                            details.insert("file".into(), n.to_string_lossy().into_owned().into());
                        }
                    }
                }
            } else {
                details.insert("order".into(), m.order.into());
            }
            details.insert("weight".into(), m.weight.into());
        }
        out.push(InputEntry {
            role: "model".into(),
            id,
            path,
            sha256: Some(g.sha256.clone()),
            bytes,
            details,
        });
    }
    out
}
