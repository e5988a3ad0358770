//! The collapse guard: a per-project, append-only registry of every text synthcorpus has
//! generated, and the checks that keep synthetic text from coming back in as real seed text.
//!
//! The registry is a text file (default `.synthcorpus/registry.tsv` in the project folder, see
//! [`Registry::default_path`]); each line is `<sha256>\t<lineage depth>\t<origin>`, where the
//! hash is [`super::sample::text_hash`] of a generated text (NFC, whitespace folded) and origin
//! names the run and sample. `synthcorpus label` registers the text of every generation of a
//! run (`raw.jsonl`, kept or rejected) and of every kept sample, and, for texts of several
//! lines, each line on its own (a line-per-document corpus made from generated text is caught
//! too). Lines are only ever appended.
//!
//! [`guard_corpus`] (and [`guard_documents`] for documents from elsewhere) flags seed documents
//! that are synthetic: their hash is registered, their JSONL record carries a synthetic label
//! (`"synthetic": true` or a synthcorpus `schema`), or their corpus metadata says
//! `provenance = "synthetic"`. By default ([`GuardPolicy::Refuse`]) any flagged document is an
//! error; [`GuardPolicy::Drop`] drops them with a report; [`GuardPolicy::OptIn`] keeps them as
//! synthetic seeds whose lineage depth propagates (a generation from a depth-n seed has depth
//! n+1).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::sample::text_hash;
use super::LabelError;
use crate::ingest::{document_id, Corpus, TextFormat, DEFAULT_TEXT_FIELD};
use crate::types::{Document, Provenance};

/// First line of a registry file.
pub const REGISTRY_HEADER: &str =
    "# synthcorpus registry v1: sha256 of normalised generated text, lineage depth, origin";

/// Environment variable naming the registry file.
pub const REGISTRY_ENV: &str = "SYNTHCORPUS_REGISTRY";

/// The registry of generated texts of a project.
#[derive(Debug, Clone)]
pub struct Registry {
    path: PathBuf,
    /// hash -> deepest lineage depth registered for it.
    entries: BTreeMap<String, u32>,
    /// Hashes of known real text (the run's seed documents), never registered: a generation
    /// that reproduces a real document, or has one as a line, must not make it look synthetic.
    real: std::collections::BTreeSet<String>,
}

impl Registry {
    /// The registry file used when none is named: `$SYNTHCORPUS_REGISTRY`, else
    /// `.synthcorpus/registry.tsv` under the current folder (the project).
    pub fn default_path() -> PathBuf {
        match std::env::var_os(REGISTRY_ENV) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => PathBuf::from(".synthcorpus").join("registry.tsv"),
        }
    }

    /// The registry of the project in `dir`: `dir/.synthcorpus/registry.tsv`.
    pub fn project_path(dir: &Path) -> PathBuf {
        dir.join(".synthcorpus").join("registry.tsv")
    }

    /// Open the registry file at `path`; a missing file is an empty registry (created on the
    /// first [`Registry::register`]). Malformed lines are errors naming the line.
    pub fn open(path: &Path) -> Result<Self, LabelError> {
        let mut entries = BTreeMap::new();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                for (i, line) in text.lines().enumerate() {
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let mut parts = line.split('\t');
                    let hash = parts.next().unwrap_or_default();
                    let depth = parts.next().and_then(|d| d.parse::<u32>().ok());
                    let ok_hash = hash.len() == 64
                        && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                    match (ok_hash, depth) {
                        (true, Some(d)) => {
                            let e = entries.entry(hash.to_string()).or_insert(d);
                            *e = (*e).max(d);
                        }
                        _ => {
                            return Err(LabelError::Record {
                                path: path.to_path_buf(),
                                line: i + 1,
                                message: "not a registry line (`<sha256>\\t<depth>\\t<origin>`)"
                                    .into(),
                            })
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(LabelError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            entries,
            real: Default::default(),
        })
    }

    /// An empty registry that is never written (checks find nothing registered).
    pub fn empty() -> Self {
        Self {
            path: PathBuf::new(),
            entries: BTreeMap::new(),
            real: Default::default(),
        }
    }

    /// Declare texts as known real text: their hashes (see [`Registry::hashes_of`]) are never
    /// registered by [`Registry::register`].
    pub fn exclude_real<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) {
        for t in texts {
            self.real.extend(Self::hashes_of(t));
        }
    }

    /// The registry file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of distinct hashes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a text hash ([`text_hash`]) is registered.
    pub fn contains(&self, hash: &str) -> bool {
        self.entries.contains_key(hash)
    }

    /// The lineage depth registered for a text hash.
    pub fn depth_of(&self, hash: &str) -> Option<u32> {
        self.entries.get(hash).copied()
    }

    /// The lineage depth registered for a text (its hash, or that of its only line), if any.
    pub fn lookup_text(&self, text: &str) -> Option<u32> {
        self.depth_of(&text_hash(text))
    }

    /// The hashes under which a generated text is registered: the whole text and, when it has
    /// several non-empty lines, each line.
    pub fn hashes_of(text: &str) -> Vec<String> {
        let mut out = vec![text_hash(text)];
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.len() > 1 {
            for l in lines {
                let h = text_hash(l);
                if !out.contains(&h) {
                    out.push(h);
                }
            }
        }
        out
    }

    /// Append texts `(text, lineage depth, origin)` that are not yet registered at that depth;
    /// returns how many hashes were added. The file and its folder are created when missing.
    pub fn register<'a>(
        &mut self,
        texts: impl IntoIterator<Item = (&'a str, u32, String)>,
    ) -> Result<usize, LabelError> {
        let mut lines = String::new();
        let mut added = 0;
        for (text, depth, origin) in texts {
            let origin: String = origin
                .chars()
                .map(|c| if c == '\t' || c == '\n' { ' ' } else { c })
                .collect();
            for h in Self::hashes_of(text) {
                if self.real.contains(&h) || self.entries.get(&h).is_some_and(|&d| d >= depth) {
                    continue;
                }
                self.entries.insert(h.clone(), depth);
                lines.push_str(&format!("{h}\t{depth}\t{origin}\n"));
                added += 1;
            }
        }
        if added == 0 {
            return Ok(0);
        }
        let io = |source| LabelError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let fresh = !self.path.exists();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        if fresh {
            lines.insert_str(0, &format!("{REGISTRY_HEADER}\n"));
        }
        // One write of whole lines: concurrent appenders interleave lines, never bytes.
        f.write_all(lines.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(added)
    }
}

/// What to do with seed documents found to be synthetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardPolicy {
    /// Refuse them: [`guard_corpus`] fails ([`LabelError::SyntheticSeed`]). The default.
    #[default]
    Refuse,
    /// Drop them from the corpus, with a report.
    Drop,
    /// The user opted in: keep them, marked synthetic, with their lineage depth propagated.
    OptIn,
}

/// Why a seed document was flagged as synthetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyntheticReason {
    /// The corpus metadata says `provenance = "synthetic"`.
    CorpusMetadata,
    /// Its record carries a synthetic label.
    Labelled,
    /// Its text's hash is in the registry of generated text.
    Registered,
}

impl SyntheticReason {
    fn as_str(self) -> &'static str {
        match self {
            SyntheticReason::CorpusMetadata => "corpus metadata says provenance = \"synthetic\"",
            SyntheticReason::Labelled => "its record is labelled synthetic",
            SyntheticReason::Registered => "synthcorpus generated this text (registry)",
        }
    }
}

/// One flagged document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flagged {
    /// Document id.
    pub id: String,
    /// Corpus id.
    pub corpus: String,
    /// Source file (relative to the corpus) and 1-based line.
    pub source: String,
    /// 1-based line.
    pub line: usize,
    /// Why.
    pub reason: SyntheticReason,
    /// Lineage depth it is known to have.
    pub lineage_depth: u32,
}

/// What the guard did.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct GuardReport {
    /// Documents checked.
    pub checked: usize,
    /// Documents flagged synthetic, in corpus order.
    pub flagged: Vec<Flagged>,
    /// Documents dropped ([`GuardPolicy::Drop`]).
    pub dropped: usize,
    /// Documents kept as synthetic seeds ([`GuardPolicy::OptIn`]).
    pub kept_synthetic: usize,
}

impl GuardReport {
    /// One line per flagged document, `corpus:file:line: id: reason (depth n)`.
    pub fn lines(&self) -> Vec<String> {
        self.flagged
            .iter()
            .map(|f| {
                format!(
                    "{}:{}:{}: document {}: {} (lineage depth {})",
                    f.corpus,
                    f.source,
                    f.line,
                    f.id,
                    f.reason.as_str(),
                    f.lineage_depth
                )
            })
            .collect()
    }
}

/// Check documents against the registry (and their own provenance); apply `policy`.
///
/// A document is flagged when its provenance is already synthetic (reason
/// [`SyntheticReason::CorpusMetadata`]) or its text's hash is registered
/// ([`SyntheticReason::Registered`]); `labelled` maps ids of documents known to carry a
/// synthetic label to their depth ([`SyntheticReason::Labelled`]).
pub fn guard_documents(
    docs: &mut Vec<Document>,
    registry: &Registry,
    labelled: &BTreeMap<String, u32>,
    policy: GuardPolicy,
) -> Result<GuardReport, LabelError> {
    let mut report = GuardReport {
        checked: docs.len(),
        ..GuardReport::default()
    };
    let mut flagged_ids = BTreeMap::new();
    for d in docs.iter_mut() {
        let mut hit: Option<(SyntheticReason, u32)> = None;
        if d.provenance == Provenance::Synthetic {
            hit = Some((SyntheticReason::CorpusMetadata, d.lineage_depth.max(1)));
        }
        if let Some(&depth) = labelled.get(&d.id) {
            let depth = depth.max(1);
            hit = Some(match hit {
                Some((r, dd)) => (r, dd.max(depth)),
                None => (SyntheticReason::Labelled, depth),
            });
        }
        if let Some(depth) = registry.lookup_text(&d.text) {
            let depth = depth.max(1);
            hit = Some(match hit {
                Some((r, dd)) => (r, dd.max(depth)),
                None => (SyntheticReason::Registered, depth),
            });
        }
        if let Some((reason, depth)) = hit {
            report.flagged.push(Flagged {
                id: d.id.clone(),
                corpus: d.corpus.clone(),
                source: d.source.clone(),
                line: d.line,
                reason,
                lineage_depth: depth,
            });
            flagged_ids.insert(d.id.clone(), depth);
            if policy == GuardPolicy::OptIn {
                d.provenance = Provenance::Synthetic;
                d.lineage_depth = d.lineage_depth.max(depth);
            }
        }
    }
    match policy {
        GuardPolicy::Refuse if !report.flagged.is_empty() => {
            let lines = report.lines();
            let shown: Vec<String> = lines.iter().take(5).cloned().collect();
            return Err(LabelError::SyntheticSeed {
                count: lines.len(),
                examples: shown.join("; "),
            });
        }
        GuardPolicy::Drop => {
            let before = docs.len();
            docs.retain(|d| !flagged_ids.contains_key(&d.id));
            report.dropped = before - docs.len();
        }
        GuardPolicy::OptIn => report.kept_synthetic = report.flagged.len(),
        GuardPolicy::Refuse => {}
    }
    Ok(report)
}

/// Ids (and depths) of the documents of a JSONL corpus whose record carries a synthetic label:
/// `"synthetic": true`, or a `schema` starting with `synthcorpus.`; the depth is the record's
/// `lineage_depth` (default 1). Other formats carry no labels: an empty map.
pub fn labelled_documents(corpus: &Corpus) -> Result<BTreeMap<String, u32>, LabelError> {
    let mut out = BTreeMap::new();
    if corpus.meta.format != TextFormat::Jsonl {
        return Ok(out);
    }
    let field = corpus
        .meta
        .text_field
        .as_deref()
        .unwrap_or(DEFAULT_TEXT_FIELD);
    for rel in corpus.files.keys() {
        let path = corpus.dir.join(rel);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(source) => return Err(LabelError::Io { path, source }),
        };
        // Files ingest skipped as invalid UTF-8 have no documents to check.
        let Ok(text) = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes))
        else {
            continue;
        };
        for line in text.lines() {
            let Ok(Value::Object(rec)) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let synthetic = rec.get("synthetic") == Some(&Value::Bool(true))
                || rec
                    .get("schema")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.starts_with("synthcorpus."));
            if !synthetic {
                continue;
            }
            if let Some(t) = rec.get(field).and_then(Value::as_str) {
                let depth = rec
                    .get("lineage_depth")
                    .and_then(Value::as_u64)
                    .map_or(1, |d| d.clamp(1, u32::MAX as u64) as u32);
                let id = document_id(&corpus.meta.id, t);
                let e = out.entry(id).or_insert(depth);
                *e = (*e).max(depth);
            }
        }
    }
    Ok(out)
}

/// The whole collapse guard for a loaded seed corpus: corpus metadata, synthetic labels in its
/// records, and the registry; `policy` decides what happens to flagged documents. Call it right
/// after [`crate::ingest::load_corpus`], before the documents are used as seeds.
pub fn guard_corpus(
    corpus: &mut Corpus,
    registry: &Registry,
    policy: GuardPolicy,
) -> Result<GuardReport, LabelError> {
    let labelled = labelled_documents(corpus)?;
    guard_documents(&mut corpus.documents, registry, &labelled, policy)
}

#[cfg(test)]
mod tests {

    #[test]
    fn known_real_text_is_never_registered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.tsv");
        let mut reg = Registry::open(&path).unwrap();
        reg.exclude_real(["Tshiteṅwa 22"]);
        reg.register([("Vhathu vho bebwa.\nTshiteṅwa 22", 1, "run/x".to_string())])
            .unwrap();
        let reg = Registry::open(&path).unwrap();
        assert!(
            reg.lookup_text("Tshiteṅwa 22").is_none(),
            "a real line stays real"
        );
        assert_eq!(reg.lookup_text("Vhathu vho bebwa."), Some(1));
        assert_eq!(reg.lookup_text("Vhathu vho bebwa.\nTshiteṅwa 22"), Some(1));
    }

    use super::*;

    fn doc(id: &str, text: &str) -> Document {
        Document {
            id: id.into(),
            corpus: "c".into(),
            text: text.into(),
            lang: "ven".into(),
            script: "Latn".into(),
            provenance: Provenance::Real,
            lineage_depth: 0,
            source: "a.txt".into(),
            line: 1,
        }
    }

    #[test]
    fn registry_round_trip_and_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r/registry.tsv");
        let mut r = Registry::open(&p).unwrap();
        assert!(r.is_empty());
        let n = r
            .register([("Muthu a  tshi ya.\nHu na vhathu.", 1, "run/1".to_string())])
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            r.register([("Muthu a tshi ya. Hu na vhathu.", 1, "x".into())])
                .unwrap(),
            0
        );
        let before = std::fs::read_to_string(&p).unwrap();
        r.register([("Zwiṅwe.", 2, "run/2".to_string())]).unwrap();
        let after = std::fs::read_to_string(&p).unwrap();
        assert!(after.starts_with(&before));
        let r2 = Registry::open(&p).unwrap();
        assert_eq!(r2.len(), 4);
        assert_eq!(r2.lookup_text("Hu na vhathu."), Some(1));
        assert_eq!(r2.lookup_text("Zwiṅwe."), Some(2));
    }

    #[test]
    fn guard_refuses_drops_or_propagates() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Registry::open(&dir.path().join("reg.tsv")).unwrap();
        r.register([("Synthetic text.", 2, "run".to_string())])
            .unwrap();
        let docs = vec![doc("a", "Real text."), doc("b", "Synthetic   text.")];
        let mut d = docs.clone();
        let e = guard_documents(&mut d, &r, &BTreeMap::new(), GuardPolicy::Refuse).unwrap_err();
        assert!(e.to_string().contains("document b"), "{e}");
        let mut d = docs.clone();
        let rep = guard_documents(&mut d, &r, &BTreeMap::new(), GuardPolicy::Drop).unwrap();
        assert_eq!((rep.dropped, d.len()), (1, 1));
        let mut d = docs.clone();
        let labelled = BTreeMap::from([("a".to_string(), 1)]);
        let rep = guard_documents(&mut d, &r, &labelled, GuardPolicy::OptIn).unwrap();
        assert_eq!(rep.kept_synthetic, 2);
        assert_eq!(d[0].provenance, Provenance::Synthetic);
        assert_eq!(d[0].lineage_depth, 1);
        assert_eq!(d[1].lineage_depth, 2);
    }
}
