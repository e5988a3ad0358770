//! `synthcorpus verify RUN_DIR`: check a labelled run folder against its manifest.
//!
//! Checks, each reported as a [`Problem`] naming the file and, where it applies, the line and
//! sample id:
//! - the manifest parses and is of a known schema;
//! - the signature (`manifest.sig`), when there is one, matches the manifest's bytes (and the
//!   expected public key, when one is given; a missing signature is a problem when one is
//!   required);
//! - every output file listed exists with its size and sha256, and no file was added;
//! - every line of `samples.jsonl` validates against the shipped JSON Schema, is labelled
//!   `synthetic: true`, has the content-derived id of its text, and ids are unique;
//! - each sample matches `samples.index.tsv` (so a changed, removed or added sample is named);
//! - counts agree: lines of `samples.jsonl`, the index, the manifest's counts and per-model
//!   sums, `raw.jsonl` and `rejects.jsonl` lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::manifest::{count_lines, hash_file, list_run_files, Manifest, MANIFEST_SCHEMA_ID};
use super::sample::{content_id, SAMPLE_SCHEMA_ID};
use super::schema::Validator;
use super::sign::{self, SignatureFile};
use super::{INDEX_FILE, MANIFEST_FILE, SAMPLES_FILE, SIGNATURE_FILE};

/// The kind of a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The manifest is missing or unreadable.
    Manifest,
    /// The signature is missing (when required) or does not match.
    Signature,
    /// A listed file is missing.
    MissingFile,
    /// A file is in the folder but not in the manifest.
    UnlistedFile,
    /// A file's size differs.
    SizeMismatch,
    /// A file's sha256 differs.
    HashMismatch,
    /// A sample line is not valid JSON or breaks the schema.
    SchemaViolation,
    /// A sample is not labelled synthetic.
    Unlabelled,
    /// A sample's id is not the content id of its text.
    IdMismatch,
    /// Two samples share an id.
    DuplicateId,
    /// A sample differs from the one the index recorded at its line.
    SampleModified,
    /// A sample the index lists is gone.
    SampleRemoved,
    /// A sample is not in the index.
    SampleAdded,
    /// Counts disagree.
    CountMismatch,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Its kind.
    pub kind: ProblemKind,
    /// The file (relative to the run folder).
    pub file: String,
    /// 1-based line, when it applies.
    pub line: Option<usize>,
    /// Sample id, when it applies.
    pub id: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        write!(f, ": ")?;
        if let Some(id) = &self.id {
            write!(f, "sample {id}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// Options of [`verify_run`].
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The signature must be by this public key (implies a signature is required).
    pub public_key: Option<ed25519_dalek::VerifyingKey>,
    /// A missing signature is a problem.
    pub require_signature: bool,
}

/// The result of [`verify_run`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Files checked against the manifest.
    pub files_checked: usize,
    /// Sample lines checked.
    pub samples_checked: usize,
    /// The signer's public key, when a signature was checked and matched.
    pub signed_by: Option<String>,
    /// Problems, in the order found.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing was found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

struct Collector(Vec<Problem>);

impl Collector {
    fn add(
        &mut self,
        kind: ProblemKind,
        file: &str,
        line: Option<usize>,
        id: Option<&str>,
        message: impl Into<String>,
    ) {
        self.0.push(Problem {
            kind,
            file: file.to_string(),
            line,
            id: id.map(String::from),
            message: message.into(),
        });
    }
}

/// Verify a run folder. Only unreadable folders are errors; everything else is a [`Problem`].
pub fn verify_run(run_dir: &Path, opts: &VerifyOptions) -> VerifyReport {
    let mut report = VerifyReport::default();
    let mut p = Collector(Vec::new());
    let manifest_path = run_dir.join(MANIFEST_FILE);
    let manifest_bytes = match std::fs::read(&manifest_path) {
        Ok(b) => b,
        Err(e) => {
            p.add(
                ProblemKind::Manifest,
                MANIFEST_FILE,
                None,
                None,
                format!("cannot read: {e}"),
            );
            report.problems = p.0;
            return report;
        }
    };
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            p.add(
                ProblemKind::Manifest,
                MANIFEST_FILE,
                Some(e.line()),
                None,
                format!("not a valid manifest: {e}"),
            );
            report.problems = p.0;
            return report;
        }
    };
    if manifest.schema != MANIFEST_SCHEMA_ID {
        p.add(
            ProblemKind::Manifest,
            MANIFEST_FILE,
            None,
            None,
            format!("unknown manifest schema `{}`", manifest.schema),
        );
    }

    // Signature.
    let sig_path = run_dir.join(SIGNATURE_FILE);
    if sig_path.exists() {
        match std::fs::read(&sig_path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<SignatureFile>(&b).map_err(|e| e.to_string()))
        {
            Ok(sig) => match sign::check(&sig, &manifest_bytes, opts.public_key.as_ref()) {
                Ok(k) => report.signed_by = Some(k),
                Err(e) => p.add(ProblemKind::Signature, SIGNATURE_FILE, None, None, e),
            },
            Err(e) => p.add(
                ProblemKind::Signature,
                SIGNATURE_FILE,
                None,
                None,
                format!("unreadable signature: {e}"),
            ),
        }
    } else if opts.require_signature || opts.public_key.is_some() {
        p.add(
            ProblemKind::Signature,
            SIGNATURE_FILE,
            None,
            None,
            "missing: the manifest is not signed",
        );
    }

    // Files.
    let present: BTreeSet<String> = match list_run_files(run_dir) {
        Ok(v) => v.into_iter().collect(),
        Err(e) => {
            p.add(ProblemKind::MissingFile, ".", None, None, e.to_string());
            BTreeSet::new()
        }
    };
    for (rel, entry) in &manifest.outputs {
        report.files_checked += 1;
        if !present.contains(rel) {
            p.add(
                ProblemKind::MissingFile,
                rel,
                None,
                None,
                "listed in the manifest but missing",
            );
            continue;
        }
        match hash_file(&run_dir.join(rel)) {
            Ok((sha, bytes)) => {
                if bytes != entry.bytes {
                    p.add(
                        ProblemKind::SizeMismatch,
                        rel,
                        None,
                        None,
                        format!("{bytes} bytes, the manifest says {}", entry.bytes),
                    );
                }
                if sha != entry.sha256 {
                    p.add(
                        ProblemKind::HashMismatch,
                        rel,
                        None,
                        None,
                        format!("sha256 {sha}, the manifest says {}", entry.sha256),
                    );
                }
            }
            Err(e) => p.add(ProblemKind::MissingFile, rel, None, None, e.to_string()),
        }
        if let (Some(records), true) = (entry.records, rel.ends_with(".jsonl")) {
            if let Ok(n) = count_lines(&run_dir.join(rel)) {
                if n != records {
                    p.add(
                        ProblemKind::CountMismatch,
                        rel,
                        None,
                        None,
                        format!("{n} lines, the manifest says {records}"),
                    );
                }
            }
        }
    }
    for rel in &present {
        if !manifest.outputs.contains_key(rel) {
            p.add(
                ProblemKind::UnlistedFile,
                rel,
                None,
                None,
                "not in the manifest (added after labelling)",
            );
        }
    }

    // Samples.
    let index = read_index(&run_dir.join(INDEX_FILE));
    let samples_path = run_dir.join(SAMPLES_FILE);
    let text = match std::fs::read(&samples_path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            p.add(
                ProblemKind::MissingFile,
                SAMPLES_FILE,
                None,
                None,
                format!("cannot read: {e}"),
            );
            report.problems = p.0;
            return report;
        }
    };
    let validator = Validator::sample_v1();
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut lines = 0usize;
    let mut per_model: BTreeMap<String, u64> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            p.add(
                ProblemKind::SchemaViolation,
                SAMPLES_FILE,
                Some(n),
                None,
                "blank line",
            );
            continue;
        }
        lines += 1;
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                p.add(
                    ProblemKind::SchemaViolation,
                    SAMPLES_FILE,
                    Some(n),
                    None,
                    format!("not JSON: {e}"),
                );
                continue;
            }
        };
        let id = v.get("id").and_then(Value::as_str).map(String::from);
        let idr = id.as_deref();
        match v.get("synthetic") {
            Some(Value::Bool(true)) => {}
            Some(other) => p.add(
                ProblemKind::Unlabelled,
                SAMPLES_FILE,
                Some(n),
                idr,
                format!("not labelled synthetic: `synthetic` is {other}"),
            ),
            None => p.add(
                ProblemKind::Unlabelled,
                SAMPLES_FILE,
                Some(n),
                idr,
                "not labelled synthetic: no `synthetic` field",
            ),
        }
        if v.get("schema").and_then(Value::as_str) != Some(SAMPLE_SCHEMA_ID) {
            p.add(
                ProblemKind::SchemaViolation,
                SAMPLES_FILE,
                Some(n),
                idr,
                format!("`schema` is not \"{SAMPLE_SCHEMA_ID}\""),
            );
        }
        for viol in validator.validate(&v) {
            if viol.pointer == "/synthetic"
                || viol.message.contains("`synthetic`")
                || viol.pointer == "/schema"
            {
                continue; // reported above
            }
            p.add(
                ProblemKind::SchemaViolation,
                SAMPLES_FILE,
                Some(n),
                idr,
                viol.to_string(),
            );
        }
        if let (Some(id), Some(t)) = (idr, v.get("text").and_then(Value::as_str)) {
            let want = content_id(t);
            if want != id {
                p.add(
                    ProblemKind::IdMismatch,
                    SAMPLES_FILE,
                    Some(n),
                    Some(id),
                    format!("the text's content id is {want}: the text or the id was changed"),
                );
            }
        }
        if let Some(id) = &id {
            if let Some(first) = ids.insert(id.clone(), n) {
                p.add(
                    ProblemKind::DuplicateId,
                    SAMPLES_FILE,
                    Some(n),
                    Some(id),
                    format!("same id as line {first}"),
                );
                ids.insert(id.clone(), first);
            }
        }
        if let Some(g) = v.pointer("/generator/id").and_then(Value::as_str) {
            *per_model.entry(g.to_string()).or_default() += 1;
        }
        // Index: what was at this line?
        if let Some(idx) = &index {
            let sha = crate::ingest::sha256_hex(line.as_bytes());
            match idx.by_id.get(idr.unwrap_or("")) {
                Some((line_at, want_sha)) => {
                    if *want_sha != sha {
                        p.add(
                            ProblemKind::SampleModified,
                            SAMPLES_FILE,
                            Some(n),
                            idr,
                            "the line differs from the labelled sample with this id",
                        );
                    } else if *line_at != n {
                        p.add(
                            ProblemKind::SampleModified,
                            SAMPLES_FILE,
                            Some(n),
                            idr,
                            format!("moved: labelled at line {line_at}"),
                        );
                    }
                }
                None => match idx.by_line.get(&n) {
                    Some((orig_id, _)) if !ids_contains_later(&text, orig_id) => p.add(
                        ProblemKind::SampleModified,
                        SAMPLES_FILE,
                        Some(n),
                        idr,
                        format!("replaces labelled sample {orig_id}"),
                    ),
                    _ => p.add(
                        ProblemKind::SampleAdded,
                        SAMPLES_FILE,
                        Some(n),
                        idr,
                        "not one of the labelled samples (added)",
                    ),
                },
            }
        }
    }
    report.samples_checked = lines;
    if let Some(idx) = &index {
        for (id, (line_at, _)) in &idx.by_id {
            if !ids.contains_key(id) {
                let replaced = text
                    .lines()
                    .nth(line_at - 1)
                    .and_then(|l| serde_json::from_str::<Value>(l).ok())
                    .and_then(|v| v.get("id").and_then(Value::as_str).map(String::from))
                    .is_some_and(|other| !idx.by_id.contains_key(&other));
                if !replaced {
                    p.add(
                        ProblemKind::SampleRemoved,
                        SAMPLES_FILE,
                        Some(*line_at),
                        Some(id),
                        "labelled sample is missing (removed)",
                    );
                }
            }
        }
        if idx.by_id.len() != lines {
            p.add(
                ProblemKind::CountMismatch,
                SAMPLES_FILE,
                None,
                None,
                format!("{lines} samples, the index lists {}", idx.by_id.len()),
            );
        }
    } else {
        p.add(
            ProblemKind::MissingFile,
            INDEX_FILE,
            None,
            None,
            "missing or unreadable: samples cannot be matched one by one",
        );
    }
    let c = &manifest.counts;
    if c.samples != lines as u64 {
        p.add(
            ProblemKind::CountMismatch,
            SAMPLES_FILE,
            None,
            None,
            format!("{lines} samples, the manifest counts {}", c.samples),
        );
    }
    let model_sum: u64 = c.per_model.values().map(|g| g.samples).sum();
    if model_sum != c.samples {
        p.add(
            ProblemKind::CountMismatch,
            MANIFEST_FILE,
            None,
            None,
            format!("per-model samples add up to {model_sum}, not {}", c.samples),
        );
    }
    for (m, n) in &per_model {
        let want = c.per_model.get(m).map_or(0, |g| g.samples);
        if *n != want {
            p.add(
                ProblemKind::CountMismatch,
                SAMPLES_FILE,
                None,
                None,
                format!("{n} samples of model `{m}`, the manifest counts {want}"),
            );
        }
    }
    for (file, count) in [
        (crate::generate::RAW_FILE, c.generated),
        ("rejects.jsonl", c.rejected),
    ] {
        if let Some(want) = count {
            match count_lines(&run_dir.join(file)) {
                Ok(n) if n != want => p.add(
                    ProblemKind::CountMismatch,
                    file,
                    None,
                    None,
                    format!("{n} lines, the manifest counts {want}"),
                ),
                Ok(_) => {}
                Err(_) => p.add(
                    ProblemKind::MissingFile,
                    file,
                    None,
                    None,
                    "counted in the manifest but missing",
                ),
            }
        }
    }
    if let Some(kept) = c.curated_kept {
        if kept != c.samples + c.duplicates_dropped {
            p.add(
                ProblemKind::CountMismatch,
                MANIFEST_FILE,
                None,
                None,
                format!(
                    "curation kept {kept}, but samples ({}) + duplicates dropped ({}) differ",
                    c.samples, c.duplicates_dropped
                ),
            );
        }
    }
    report.problems = p.0;
    report
}

fn ids_contains_later(text: &str, id: &str) -> bool {
    text.contains(&format!("\"id\":\"{id}\""))
}

struct Index {
    by_id: BTreeMap<String, (usize, String)>,
    by_line: BTreeMap<usize, (String, String)>,
}

fn read_index(path: &Path) -> Option<Index> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut by_id = BTreeMap::new();
    let mut by_line = BTreeMap::new();
    for l in text.lines().skip(1) {
        let mut parts = l.split('\t');
        let line: usize = parts.next()?.parse().ok()?;
        let id = parts.next()?.to_string();
        let sha = parts.next()?.to_string();
        by_id.insert(id.clone(), (line, sha.clone()));
        by_line.insert(line, (id, sha));
    }
    Some(Index { by_id, by_line })
}
