//! Reading the corpus to evaluate and the real reference text.
//!
//! A corpus is a run directory (its `samples.jsonl` when curation has run, else `raw.jsonl`), a
//! JSONL file (one object per line with a `text` field) or a plain text file (one sample per
//! line). Texts are normalised like ingestion does ([`crate::ingest::normalize`]: NFC, whitespace
//! folded); empty samples are counted and left out; lines that are not JSON objects with a string
//! `text` are counted, reported with file and line in the warnings, and left out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::EvalError;
use crate::ingest::{self, normalize, sha256_hex, IngestOptions};

/// One sample to evaluate.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// The record's `id`, else `line:N`.
    pub id: String,
    /// Normalised text.
    pub text: String,
    /// `generator.id`, when the record has one.
    pub model: Option<String>,
    /// `prompt.template_id`, when the record has one.
    pub template: Option<String>,
    /// `curation.verdict`, when curated.
    pub verdict: Option<String>,
    /// Other labels shown in the report (`lang`, `prompt.task`, `finish_reason`, ...).
    pub labels: BTreeMap<String, String>,
}

/// What the corpus was read from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// The path given.
    pub path: String,
    /// `run_dir`, `jsonl`, `text` or `corpus_dir`.
    pub kind: String,
    /// The file read (for a run directory: `samples.jsonl` or `raw.jsonl`).
    pub file: String,
    /// Documents read.
    pub documents: usize,
    /// sha256 of the file's bytes (of the documents' texts for a corpus folder).
    pub sha256: String,
    /// Empty samples left out.
    pub empty: usize,
    /// Malformed lines left out.
    pub malformed: usize,
}

/// A corpus read for evaluation.
#[derive(Debug, Clone)]
pub struct LoadedCorpus {
    /// Where it came from.
    pub info: SourceInfo,
    /// The samples.
    pub samples: Vec<Sample>,
    /// The most frequent `lang` field of the records, if any.
    pub lang: Option<String>,
    /// Problems worth telling (malformed lines with file and line).
    pub warnings: Vec<String>,
}

const LABEL_FIELDS: &[&str] = &[
    "lang",
    "prompt.task",
    "prompt.topic",
    "finish_reason",
    "lineage_depth",
    "synthetic",
    "generator.kind",
];

/// A path for reports: relative to the synthcorpus source tree when inside it (shipped corpora,
/// suites), else as given.
pub fn display_path(p: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match p.strip_prefix(root) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => p.display().to_string(),
    }
}

fn field<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for p in path.split('.') {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

fn field_str(v: &Value, path: &str) -> Option<String> {
    match field(v, path)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn is_jsonl(path: &Path, bytes: &[u8]) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") | Some("json") | Some("ndjson") => true,
        Some("txt") => false,
        _ => bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'{'),
    }
}

/// Read a corpus to evaluate: a run directory, a JSONL file or a text file.
pub fn load_samples(path: &Path) -> Result<LoadedCorpus, EvalError> {
    let (file, kind) = if path.is_dir() {
        let s = path.join("samples.jsonl");
        let r = path.join("raw.jsonl");
        if s.is_file() {
            (s, "run_dir")
        } else if r.is_file() {
            (r, "run_dir")
        } else {
            return Err(EvalError::Input {
                path: path.to_path_buf(),
                message: "a run directory needs samples.jsonl or raw.jsonl".into(),
            });
        }
    } else {
        (path.to_path_buf(), "")
    };
    let bytes = std::fs::read(&file).map_err(|source| EvalError::Io {
        path: file.clone(),
        source,
    })?;
    let jsonl = kind == "run_dir" || is_jsonl(&file, &bytes);
    let kind = if kind.is_empty() {
        if jsonl {
            "jsonl"
        } else {
            "text"
        }
    } else {
        kind
    };
    let sha = sha256_hex(&bytes);
    let text = String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes));
    let mut samples = Vec::new();
    let mut warnings = Vec::new();
    let (mut empty, mut malformed) = (0usize, 0usize);
    let mut langs: BTreeMap<String, usize> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if !jsonl {
            let t = normalize(line);
            if t.is_empty() {
                empty += 1;
            } else {
                samples.push(Sample {
                    id: format!("line:{lineno}"),
                    text: t,
                    ..Sample::default()
                });
            }
            continue;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                malformed += 1;
                warnings.push(format!("{}:{lineno}: not a JSON object", file.display()));
                continue;
            }
            Err(e) => {
                malformed += 1;
                warnings.push(format!("{}:{lineno}: invalid JSON: {e}", file.display()));
                continue;
            }
        };
        let Some(Value::String(raw)) = field(&v, "text") else {
            malformed += 1;
            warnings.push(format!(
                "{}:{lineno}: no string field `text`",
                file.display()
            ));
            continue;
        };
        let t = normalize(raw);
        if t.is_empty() {
            empty += 1;
            continue;
        }
        if let Some(l) = field_str(&v, "lang") {
            *langs.entry(l).or_default() += 1;
        }
        samples.push(Sample {
            id: field_str(&v, "id").unwrap_or_else(|| format!("line:{lineno}")),
            text: t,
            model: field_str(&v, "generator.id"),
            template: field_str(&v, "prompt.template_id"),
            verdict: field_str(&v, "curation.verdict"),
            labels: LABEL_FIELDS
                .iter()
                .filter_map(|k| Some((k.to_string(), field_str(&v, k)?)))
                .collect(),
        });
    }
    if warnings.len() > 20 {
        let n = warnings.len() - 20;
        warnings.truncate(20);
        warnings.push(format!("... and {n} more malformed lines"));
    }
    let lang = langs
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(l, _)| l);
    Ok(LoadedCorpus {
        info: SourceInfo {
            path: display_path(path),
            kind: kind.to_string(),
            file: display_path(&file),
            documents: samples.len(),
            sha256: sha,
            empty,
            malformed,
        },
        samples,
        lang,
        warnings,
    })
}

/// Real text: its documents and where they came from.
#[derive(Debug, Clone)]
pub struct RealText {
    /// Where it came from.
    pub info: SourceInfo,
    /// Normalised documents.
    pub texts: Vec<String>,
    /// The script the corpus declares (corpus folders only).
    pub script: Option<String>,
}

/// Read real text: a corpus folder (with `corpus.toml`), a JSONL or a text file.
pub fn load_real(path: &Path) -> Result<RealText, EvalError> {
    if path.is_dir() || path.file_name().is_some_and(|n| n == ingest::METADATA_FILE) {
        let c = ingest::load_corpus(path, &IngestOptions::default())?;
        let texts: Vec<String> = c.documents.iter().map(|d| d.text.clone()).collect();
        return Ok(RealText {
            info: SourceInfo {
                path: display_path(path),
                kind: "corpus_dir".into(),
                file: display_path(&c.dir),
                documents: texts.len(),
                sha256: c.content_sha256(),
                empty: 0,
                malformed: 0,
            },
            texts,
            script: Some(c.meta.script.clone()),
        });
    }
    let c = load_samples(path)?;
    Ok(RealText {
        texts: c.samples.into_iter().map(|s| s.text).collect(),
        info: c.info,
        script: None,
    })
}

/// Read word lists from a folder: `<lang>_Latn.txt` or `<lang>.txt`, one word per line, for
/// each of `langs`; missing lists are left out.
pub fn load_wordlists(
    dir: &Path,
    langs: &[String],
) -> Result<BTreeMap<String, Vec<String>>, EvalError> {
    let mut out = BTreeMap::new();
    for l in langs {
        let cands: [PathBuf; 2] = [
            dir.join(format!("{l}_Latn.txt")),
            dir.join(format!("{l}.txt")),
        ];
        if let Some(p) = cands.iter().find(|p| p.is_file()) {
            let t = std::fs::read_to_string(p).map_err(|source| EvalError::Io {
                path: p.clone(),
                source,
            })?;
            out.insert(
                l.clone(),
                t.lines()
                    .map(str::trim)
                    .filter(|w| !w.is_empty() && !w.starts_with('#'))
                    .map(normalize)
                    .collect(),
            );
        }
    }
    Ok(out)
}

/// The word-list folder shipped with synthcorpus (`evals/wordlists`).
pub fn shipped_wordlists_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("evals")
        .join("wordlists")
}

/// Languages with a shipped word list, in name order.
pub fn shipped_wordlist_langs() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(shipped_wordlists_dir())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    let stem = n.strip_suffix(".txt")?;
                    Some(stem.strip_suffix("_Latn").unwrap_or(stem).to_string())
                })
                .filter(|s| s.len() == 3)
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.dedup();
    v
}
