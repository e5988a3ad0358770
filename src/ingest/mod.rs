//! The ingest stage: seed corpora from disk into normalised, identified [`Document`]s.
//!
//! A corpus is a folder with a metadata file, `corpus.toml` ([`CorpusMeta`]), and text files in
//! one of four formats ([`TextFormat`]): plain text with one document per line, plain text with
//! blank-line separated documents, JSONL with a configurable text field, or TSV with a header row
//! and a configurable text column. Every document is NFC-normalised with its whitespace folded
//! ([`normalize`]) and gets a stable id ([`document_id`]); every file gets a sha256.
//!
//! Bad input is never skipped silently: invalid UTF-8 is an error naming the file, line and byte
//! offset, or a warning when [`IngestOptions::on_invalid_utf8`] says to skip the file; an empty
//! corpus is an error; a corpus whose language is not the run's target is an error, or a warning
//! when [`IngestOptions::allow_lang_mismatch`] is set. Warnings are collected in
//! [`Corpus::warnings`] for the caller to show.
//!
//! The shipped seed corpora live under `corpora/<lang>/` ([`shipped_corpus_dir`]) and the
//! held-out evaluation text under `evals/heldout/<lang>.txt` ([`shipped_heldout_file`]); see
//! `corpora/README.md`.

pub mod text;

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::types::{Document, Provenance};

pub use text::{document_id, normalize, sentences, sha256_hex};

/// Name of the metadata file in a corpus folder.
pub const METADATA_FILE: &str = "corpus.toml";

/// Default JSONL field holding the text.
pub const DEFAULT_TEXT_FIELD: &str = "text";

/// Default TSV column (header name) holding the text.
pub const DEFAULT_TEXT_COLUMN: &str = "text";

/// How the text files of a corpus are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TextFormat {
    /// Plain text, one document per line; blank lines are ignored.
    #[default]
    Lines,
    /// Plain text, documents separated by one or more blank lines; the lines of a document are
    /// joined with a space.
    Paragraphs,
    /// JSON Lines: one object per line, the text in `text_field` (default `text`).
    Jsonl,
    /// Tab-separated values with a header row, the text in the column named `text_column`
    /// (default `text`). No quoting or escaping: a tab always separates columns.
    Tsv,
}

impl TextFormat {
    /// The file extension (without the dot) of the files this format reads when a corpus does
    /// not list its files: `txt`, `jsonl` or `tsv`.
    pub fn extension(self) -> &'static str {
        match self {
            TextFormat::Lines | TextFormat::Paragraphs => "txt",
            TextFormat::Jsonl => "jsonl",
            TextFormat::Tsv => "tsv",
        }
    }

    /// The name used in `corpus.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            TextFormat::Lines => "lines",
            TextFormat::Paragraphs => "paragraphs",
            TextFormat::Jsonl => "jsonl",
            TextFormat::Tsv => "tsv",
        }
    }
}

/// The metadata of a corpus: the contents of its `corpus.toml`. Unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusMeta {
    /// Corpus id: ASCII letters, digits, `.`, `_` and `-`. Part of every document id.
    pub id: String,
    /// ISO 639-3 language code, e.g. `ven`.
    pub lang: String,
    /// ISO 15924 script code, e.g. `Latn`.
    pub script: String,
    /// Human-readable name.
    pub name: String,
    /// Where the text comes from.
    pub source: String,
    /// Licence of the text.
    pub licence: String,
    /// Date of the snapshot: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or `unknown`.
    pub date: String,
    /// Real (written by people) or synthetic (generated).
    pub provenance: Provenance,
    /// Layout of the text files.
    pub format: TextFormat,
    /// JSONL only: the field holding the text (default `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_field: Option<String>,
    /// TSV only: the header name of the column holding the text (default `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_column: Option<String>,
    /// The text files, relative to the corpus folder. Default: every file in the folder (not in
    /// subfolders) with the format's extension ([`TextFormat::extension`]), in name order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
    /// Lineage depth of the documents: must be 0 (the default) for real text; default 1 for
    /// synthetic text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage_depth: Option<u32>,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl CorpusMeta {
    /// Metadata for an ad-hoc file or corpus: real text in the Latin script, with `unknown`
    /// source, licence and date. Adjust the fields as needed.
    pub fn new(id: &str, lang: &str, format: TextFormat) -> Self {
        Self {
            id: id.to_string(),
            lang: lang.to_string(),
            script: "Latn".to_string(),
            name: id.to_string(),
            source: "unknown".to_string(),
            licence: "unknown".to_string(),
            date: "unknown".to_string(),
            provenance: Provenance::Real,
            format,
            text_field: None,
            text_column: None,
            files: None,
            lineage_depth: None,
            description: None,
        }
    }

    /// Parse and validate metadata from TOML text; `path` is only used in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, IngestError> {
        let meta: CorpusMeta = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            IngestError::Metadata {
                path: path.to_path_buf(),
                line,
                message: e.message().to_string(),
            }
        })?;
        meta.validate(path)?;
        Ok(meta)
    }

    /// Read, parse and validate a `corpus.toml`.
    pub fn load(path: &Path) -> Result<Self, IngestError> {
        let bytes = std::fs::read(path).map_err(|source| IngestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|e| IngestError::InvalidUtf8 {
            path: path.to_path_buf(),
            line: line_of(&bytes, e.valid_up_to()),
            offset: e.valid_up_to(),
        })?;
        Self::from_toml(text, path)
    }

    /// Check every field; `path` is only used in errors.
    pub fn validate(&self, path: &Path) -> Result<(), IngestError> {
        let bad = |field: &str, message: String| IngestError::InvalidField {
            path: path.to_path_buf(),
            field: field.to_string(),
            message,
        };
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(bad(
                "id",
                format!(
                    "{:?} is not a corpus id (ASCII letters, digits, '.', '_', '-')",
                    self.id
                ),
            ));
        }
        if !is_iso639_3(&self.lang) {
            return Err(bad(
                "lang",
                format!(
                    "{:?} is not an ISO 639-3 code (three lower-case letters, e.g. \"ven\")",
                    self.lang
                ),
            ));
        }
        if !is_iso15924(&self.script) {
            return Err(bad(
                "script",
                format!(
                    "{:?} is not an ISO 15924 code (four letters, first upper-case, e.g. \"Latn\")",
                    self.script
                ),
            ));
        }
        for (field, value) in [
            ("name", &self.name),
            ("source", &self.source),
            ("licence", &self.licence),
        ] {
            if value.trim().is_empty() {
                return Err(bad(field, "must not be empty".to_string()));
            }
        }
        if !is_date(&self.date) {
            return Err(bad(
                "date",
                format!(
                    "{:?} is not a date (YYYY, YYYY-MM, YYYY-MM-DD or \"unknown\")",
                    self.date
                ),
            ));
        }
        match (&self.text_field, self.format) {
            (Some(f), TextFormat::Jsonl) if f.is_empty() => {
                return Err(bad("text_field", "must not be empty".to_string()))
            }
            (Some(_), f) if f != TextFormat::Jsonl => {
                return Err(bad(
                    "text_field",
                    format!("only applies to format \"jsonl\", not {:?}", f.as_str()),
                ))
            }
            _ => {}
        }
        match (&self.text_column, self.format) {
            (Some(c), TextFormat::Tsv) if c.is_empty() => {
                return Err(bad("text_column", "must not be empty".to_string()))
            }
            (Some(_), f) if f != TextFormat::Tsv => {
                return Err(bad(
                    "text_column",
                    format!("only applies to format \"tsv\", not {:?}", f.as_str()),
                ))
            }
            _ => {}
        }
        if let Some(files) = &self.files {
            if files.is_empty() {
                return Err(bad("files", "lists no file".to_string()));
            }
            for f in files {
                let p = Path::new(f);
                if f.is_empty()
                    || !p
                        .components()
                        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
                {
                    return Err(bad(
                        "files",
                        format!("{f:?} is not a relative path inside the corpus folder"),
                    ));
                }
                if f == METADATA_FILE {
                    return Err(bad("files", format!("{f:?} is the metadata file")));
                }
            }
        }
        if self.provenance == Provenance::Real && self.lineage_depth.unwrap_or(0) != 0 {
            return Err(bad(
                "lineage_depth",
                "real text has lineage depth 0".to_string(),
            ));
        }
        Ok(())
    }

    /// Lineage depth of the corpus's documents (0 for real text, default 1 for synthetic).
    pub fn depth(&self) -> u32 {
        match self.provenance {
            Provenance::Real => 0,
            Provenance::Synthetic => self.lineage_depth.unwrap_or(1),
        }
    }
}

fn is_iso639_3(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_lowercase())
}

fn is_iso15924(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 4 && b[0].is_ascii_uppercase() && b[1..].iter().all(|c| c.is_ascii_lowercase())
}

fn is_date(s: &str) -> bool {
    if s == "unknown" {
        return true;
    }
    let parts: Vec<&str> = s.split('-').collect();
    let num = |p: &str, n: usize, lo: u32, hi: u32| {
        p.len() == n
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|v| (lo..=hi).contains(&v))
    };
    match parts.as_slice() {
        [y] => num(y, 4, 0, 9999),
        [y, m] => num(y, 4, 0, 9999) && num(m, 2, 1, 12),
        [y, m, d] => num(y, 4, 0, 9999) && num(m, 2, 1, 12) && num(d, 2, 1, 31),
        _ => false,
    }
}

/// What to do with a file that is not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InvalidUtf8 {
    /// Fail with [`IngestError::InvalidUtf8`] (the default).
    #[default]
    Fail,
    /// Skip the whole file, with a warning naming it, the line and the byte offset.
    Skip,
}

/// Options of ingestion.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IngestOptions {
    /// What to do with a file that is not valid UTF-8.
    pub on_invalid_utf8: InvalidUtf8,
    /// The run's target language (ISO 639-3); a corpus declaring another language is an error
    /// ([`IngestError::LanguageMismatch`]) unless `allow_lang_mismatch` is set.
    pub target_lang: Option<String>,
    /// Accept a corpus whose language differs from `target_lang`, with a warning.
    pub allow_lang_mismatch: bool,
}

/// One ingested file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// sha256 (lower-case hex) of the file's bytes as read.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Number of documents taken from it (after duplicates were dropped; 0 if it was skipped).
    pub documents: usize,
}

/// A loaded corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    /// Its metadata.
    pub meta: CorpusMeta,
    /// Its folder.
    pub dir: PathBuf,
    /// Its documents, in file order then line order; ids are distinct.
    pub documents: Vec<Document>,
    /// Its files by path relative to `dir`.
    pub files: BTreeMap<String, FileRecord>,
    /// Warnings for the caller to show (skipped files, duplicates, empty records, language
    /// mismatch).
    pub warnings: Vec<String>,
}

impl Corpus {
    /// A fingerprint of the corpus's content: sha256 over its id and each file's relative path
    /// and sha256, in path order.
    pub fn content_sha256(&self) -> String {
        let mut s = String::new();
        s.push_str(&self.meta.id);
        s.push('\n');
        for (path, rec) in &self.files {
            s.push_str(path);
            s.push('\0');
            s.push_str(&rec.sha256);
            s.push('\n');
        }
        sha256_hex(s.as_bytes())
    }

    /// Total number of sentences over all documents ([`sentences`]).
    pub fn sentence_count(&self) -> usize {
        self.documents
            .iter()
            .map(|d| sentences(&d.text).len())
            .sum()
    }
}

/// Errors of ingestion. Each names the file and, where it applies, the line, byte offset or field.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A file or folder could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The corpus folder has no `corpus.toml`.
    #[error("{}: not a corpus folder (no {METADATA_FILE})", dir.display())]
    MissingMetadata {
        /// The folder.
        dir: PathBuf,
    },
    /// `corpus.toml` is not valid TOML or has a missing, unknown or mistyped field.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Metadata {
        /// The metadata file.
        path: PathBuf,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// What is wrong (names the field).
        message: String,
    },
    /// A metadata field has an invalid value.
    #[error("{}: field `{field}`: {message}", path.display())]
    InvalidField {
        /// The metadata file.
        path: PathBuf,
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A file is not valid UTF-8.
    #[error("{}:{line}: invalid UTF-8 at byte offset {offset}", path.display())]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: usize,
        /// Byte offset of the first invalid byte from the start of the file.
        offset: usize,
    },
    /// A JSONL line is not a JSON object.
    #[error("{}:{line}: invalid JSONL record: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A JSONL record lacks the text field, or it is not a string.
    #[error("{}:{line}: field `{field}` {problem}", path.display())]
    Field {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The text field.
        field: String,
        /// `is missing` or `is not a string`.
        problem: String,
    },
    /// A TSV file's header has no column of that name.
    #[error("{}:1: no column `{column}` in the header (columns: {available})", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The text column.
        column: String,
        /// The header's columns, comma-separated.
        available: String,
    },
    /// A TSV row is too short to have the text column.
    #[error("{}:{line}: row has {found} columns, the text column is column {needed}", path.display())]
    ShortRow {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Columns in the row.
        found: usize,
        /// 1-based index of the text column.
        needed: usize,
    },
    /// The corpus folder has no text file of its format and lists none.
    #[error("{}: no *.{extension} file (format {format:?}) and no `files` in {METADATA_FILE}", dir.display())]
    NoFiles {
        /// The folder.
        dir: PathBuf,
        /// The extension looked for.
        extension: String,
        /// The format.
        format: String,
    },
    /// The corpus has no document at all.
    #[error("{}: empty corpus: no document in {files} file(s)", dir.display())]
    EmptyCorpus {
        /// The folder (or file, for an ad-hoc file).
        dir: PathBuf,
        /// How many files were read.
        files: usize,
    },
    /// The corpus's language is not the run's target language.
    #[error("{}: corpus language `{declared}` is not the target language `{target}`", dir.display())]
    LanguageMismatch {
        /// The folder.
        dir: PathBuf,
        /// The language `corpus.toml` declares.
        declared: String,
        /// The target language.
        target: String,
    },
}

/// Resolve `corpora/<lang>` in the source tree (relative to `CARGO_MANIFEST_DIR`).
pub fn shipped_corpus_dir(lang: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpora")
        .join(lang)
}

/// Resolve `evals/heldout/<lang>.txt` in the source tree: the held-out real text of a language,
/// never used as seed.
pub fn shipped_heldout_file(lang: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("evals")
        .join("heldout")
        .join(format!("{lang}.txt"))
}

/// The folders under `corpora/` in the source tree that hold a `corpus.toml`, in name order.
pub fn shipped_corpora() -> Result<Vec<PathBuf>, IngestError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora");
    let mut dirs = Vec::new();
    let entries = std::fs::read_dir(&root).map_err(|source| IngestError::Io {
        path: root.clone(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| IngestError::Io {
            path: root.clone(),
            source,
        })?;
        let p = entry.path();
        if p.join(METADATA_FILE).is_file() {
            dirs.push(p);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Load the held-out text of a shipped language (`evals/heldout/<lang>.txt`, one document per
/// line). Its metadata is the seed corpus's (`corpora/<lang>/corpus.toml`) with the id suffixed
/// `-heldout`, so held-out documents never share ids with seed documents.
pub fn load_shipped_heldout(lang: &str, opts: &IngestOptions) -> Result<Corpus, IngestError> {
    let mut meta = CorpusMeta::load(&shipped_corpus_dir(lang).join(METADATA_FILE))?;
    meta.id = format!("{}-heldout", meta.id);
    meta.name = format!("{} (held out)", meta.name);
    meta.format = TextFormat::Lines;
    meta.files = None;
    meta.text_field = None;
    meta.text_column = None;
    load_text_file(&shipped_heldout_file(lang), &meta, opts)
}

/// Load the corpus in `dir` (a folder with a `corpus.toml`, or the path of a `corpus.toml`).
pub fn load_corpus(dir: &Path, opts: &IngestOptions) -> Result<Corpus, IngestError> {
    let dir = if dir.file_name().is_some_and(|n| n == METADATA_FILE) && dir.is_file() {
        dir.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        dir.to_path_buf()
    };
    if !dir.is_dir() {
        return Err(IngestError::Io {
            path: dir.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such corpus folder"),
        });
    }
    let meta_path = dir.join(METADATA_FILE);
    if !meta_path.is_file() {
        return Err(IngestError::MissingMetadata { dir });
    }
    let meta = CorpusMeta::load(&meta_path)?;
    let files = match &meta.files {
        Some(files) => files.clone(),
        None => list_files(&dir, meta.format)?,
    };
    if files.is_empty() {
        return Err(IngestError::NoFiles {
            dir,
            extension: meta.format.extension().to_string(),
            format: meta.format.as_str().to_string(),
        });
    }
    ingest(dir, meta, &files, opts)
}

/// Load one file as a corpus of its own, with the given metadata (see [`CorpusMeta::new`]);
/// `meta.files` is ignored. The corpus folder is the file's parent and its one file is keyed by
/// file name.
pub fn load_text_file(
    path: &Path,
    meta: &CorpusMeta,
    opts: &IngestOptions,
) -> Result<Corpus, IngestError> {
    meta.validate(path)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| IngestError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
        })?;
    let mut meta = meta.clone();
    meta.files = None;
    ingest(dir, meta, std::slice::from_ref(&name), opts)
}

fn list_files(dir: &Path, format: TextFormat) -> Result<Vec<String>, IngestError> {
    let io = |source| IngestError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        if path.is_file() && path.extension().is_some_and(|e| e == format.extension()) {
            if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                files.push(name.to_string());
            }
        }
    }
    files.sort();
    Ok(files)
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A document before ids: normalised text and its 1-based line.
struct RawDoc {
    text: String,
    line: usize,
}

fn ingest(
    dir: PathBuf,
    meta: CorpusMeta,
    files: &[String],
    opts: &IngestOptions,
) -> Result<Corpus, IngestError> {
    let mut warnings = Vec::new();
    if let Some(target) = &opts.target_lang {
        if *target != meta.lang {
            if opts.allow_lang_mismatch {
                warnings.push(format!(
                    "{}: corpus language `{}` is not the target language `{}`",
                    dir.display(),
                    meta.lang,
                    target
                ));
            } else {
                return Err(IngestError::LanguageMismatch {
                    dir,
                    declared: meta.lang.clone(),
                    target: target.clone(),
                });
            }
        }
    }
    let depth = meta.depth();
    let mut documents = Vec::new();
    let mut records = BTreeMap::new();
    // id -> (file, line) of its first occurrence
    let mut seen: HashMap<String, (String, usize)> = HashMap::new();
    for rel in files {
        let path = dir.join(rel);
        let bytes = std::fs::read(&path).map_err(|source| IngestError::Io {
            path: path.clone(),
            source,
        })?;
        let mut record = FileRecord {
            sha256: sha256_hex(&bytes),
            bytes: bytes.len() as u64,
            documents: 0,
        };
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let bom = bytes.len() - body.len();
        let text = match std::str::from_utf8(body) {
            Ok(t) => t,
            Err(e) => {
                let offset = bom + e.valid_up_to();
                let line = line_of(&bytes, offset);
                match opts.on_invalid_utf8 {
                    InvalidUtf8::Fail => {
                        return Err(IngestError::InvalidUtf8 { path, line, offset })
                    }
                    InvalidUtf8::Skip => {
                        warnings.push(format!(
                            "{}:{line}: invalid UTF-8 at byte offset {offset}: file skipped",
                            path.display()
                        ));
                        records.insert(rel.clone(), record);
                        continue;
                    }
                }
            }
        };
        let raw = parse(text, &path, &meta, &mut warnings)?;
        if raw.is_empty() {
            warnings.push(format!("{}: no document in this file", path.display()));
        }
        for RawDoc { text, line } in raw {
            let id = document_id(&meta.id, &text);
            if let Some((f, l)) = seen.get(&id) {
                warnings.push(format!(
                    "{}:{line}: duplicate of the document at {f}:{l} (id {id}): dropped",
                    path.display()
                ));
                continue;
            }
            seen.insert(id.clone(), (rel.clone(), line));
            record.documents += 1;
            documents.push(Document {
                id,
                corpus: meta.id.clone(),
                text,
                lang: meta.lang.clone(),
                script: meta.script.clone(),
                provenance: meta.provenance,
                lineage_depth: depth,
                source: rel.clone(),
                line,
            });
        }
        records.insert(rel.clone(), record);
    }
    if documents.is_empty() {
        return Err(IngestError::EmptyCorpus {
            dir,
            files: files.len(),
        });
    }
    Ok(Corpus {
        meta,
        dir,
        documents,
        files: records,
        warnings,
    })
}

fn parse(
    text: &str,
    path: &Path,
    meta: &CorpusMeta,
    warnings: &mut Vec<String>,
) -> Result<Vec<RawDoc>, IngestError> {
    let mut docs = Vec::new();
    let lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    match meta.format {
        TextFormat::Lines => {
            for (n, l) in lines {
                let t = normalize(l);
                if !t.is_empty() {
                    docs.push(RawDoc { text: t, line: n });
                }
            }
        }
        TextFormat::Paragraphs => {
            let mut start = 0;
            let mut buf = String::new();
            for (n, l) in lines {
                if l.trim().is_empty() {
                    if !buf.is_empty() {
                        docs.push(RawDoc {
                            text: normalize(&buf),
                            line: start,
                        });
                        buf.clear();
                    }
                } else {
                    if buf.is_empty() {
                        start = n;
                    } else {
                        buf.push('\n');
                    }
                    buf.push_str(l);
                }
            }
            if !buf.is_empty() {
                docs.push(RawDoc {
                    text: normalize(&buf),
                    line: start,
                });
            }
            // A paragraph of whitespace-only content cannot occur (blank lines separate), but
            // normalisation may still empty one made of format characters: drop those.
            docs.retain(|d| !d.text.is_empty());
        }
        TextFormat::Jsonl => {
            let field = meta.text_field.as_deref().unwrap_or(DEFAULT_TEXT_FIELD);
            for (n, l) in lines {
                if l.trim().is_empty() {
                    continue;
                }
                let value: serde_json::Value =
                    serde_json::from_str(l).map_err(|e| IngestError::Json {
                        path: path.to_path_buf(),
                        line: n,
                        message: e.to_string(),
                    })?;
                let obj = value.as_object().ok_or_else(|| IngestError::Json {
                    path: path.to_path_buf(),
                    line: n,
                    message: "not a JSON object".to_string(),
                })?;
                let text = match obj.get(field) {
                    None => {
                        return Err(IngestError::Field {
                            path: path.to_path_buf(),
                            line: n,
                            field: field.to_string(),
                            problem: "is missing".to_string(),
                        })
                    }
                    Some(v) => v.as_str().ok_or_else(|| IngestError::Field {
                        path: path.to_path_buf(),
                        line: n,
                        field: field.to_string(),
                        problem: "is not a string".to_string(),
                    })?,
                };
                push_or_warn(&mut docs, warnings, path, n, normalize(text));
            }
        }
        TextFormat::Tsv => {
            let column = meta.text_column.as_deref().unwrap_or(DEFAULT_TEXT_COLUMN);
            let mut lines = lines;
            let Some((_, header)) = lines.next() else {
                return Ok(docs);
            };
            let names: Vec<&str> = header.split('\t').map(str::trim).collect();
            let idx = names.iter().position(|&c| c == column).ok_or_else(|| {
                IngestError::MissingColumn {
                    path: path.to_path_buf(),
                    column: column.to_string(),
                    available: names.join(", "),
                }
            })?;
            for (n, l) in lines {
                if l.trim().is_empty() {
                    continue;
                }
                let cells: Vec<&str> = l.split('\t').collect();
                let cell = cells.get(idx).ok_or(IngestError::ShortRow {
                    path: path.to_path_buf(),
                    line: n,
                    found: cells.len(),
                    needed: idx + 1,
                })?;
                push_or_warn(&mut docs, warnings, path, n, normalize(cell));
            }
        }
    }
    Ok(docs)
}

fn push_or_warn(
    docs: &mut Vec<RawDoc>,
    warnings: &mut Vec<String>,
    path: &Path,
    line: usize,
    text: String,
) {
    if text.is_empty() {
        warnings.push(format!(
            "{}:{line}: empty text: record skipped",
            path.display()
        ));
    } else {
        docs.push(RawDoc { text, line });
    }
}

#[cfg(test)]
mod tests;
