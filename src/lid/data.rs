//! Training corpora on disk, the held-out split rule and sentence splitting.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::features::normalise;
use super::{LidError, Result};

/// One per-language text file: one paragraph per line.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusFile {
    /// ISO 639-3 code of the text.
    pub lang: String,
    /// File name (no directory), as recorded in model metadata.
    pub name: String,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    /// The file's lines, in order (line `i` of the file is `lines[i - 1]`).
    pub lines: Vec<String>,
}

/// Lowercase hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|error| LidError::Io {
        path: path.to_path_buf(),
        error,
    })
}

pub(crate) fn read_text(path: &Path) -> Result<(String, String)> {
    let bytes = read_bytes(path)?;
    let sha = sha256_hex(&bytes);
    let text = String::from_utf8(bytes).map_err(|e| LidError::Format {
        path: path.to_path_buf(),
        line: 0,
        reason: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
    })?;
    Ok((text, sha))
}

/// Read a folder of per-language texts.
///
/// With an `INDEX.tsv` (header, then `file<TAB>iso639_3<TAB>...`, as in the shared UDHR folder),
/// file `F.txt` is labelled with the row's code. Without one, every `*.txt` file is labelled with
/// its stem up to the first `_` (`tso_MZ.txt` is `tso`). Files are returned sorted by name.
pub fn read_corpus_dir(dir: &Path) -> Result<Vec<CorpusFile>> {
    let index = dir.join("INDEX.tsv");
    let mut pairs: Vec<(String, PathBuf)> = Vec::new();
    if index.is_file() {
        let (text, _) = read_text(&index)?;
        for (i, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(file), Some(lang)) = (cols.next(), cols.next()) else {
                return Err(LidError::Format {
                    path: index.clone(),
                    line: i + 1,
                    reason: "expected `file<TAB>iso639_3<TAB>...`".into(),
                });
            };
            if lang.is_empty() || file.is_empty() {
                return Err(LidError::Format {
                    path: index.clone(),
                    line: i + 1,
                    reason: "empty file or iso639_3 field".into(),
                });
            }
            pairs.push((lang.to_string(), dir.join(format!("{file}.txt"))));
        }
    } else {
        let entries = std::fs::read_dir(dir).map_err(|error| LidError::Io {
            path: dir.to_path_buf(),
            error,
        })?;
        for entry in entries {
            let entry = entry.map_err(|error| LidError::Io {
                path: dir.to_path_buf(),
                error,
            })?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("txt") {
                continue;
            }
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let lang = stem.split('_').next().unwrap_or(stem).to_string();
            pairs.push((lang, path));
        }
    }
    pairs.sort_by(|a, b| a.1.cmp(&b.1));
    let mut files = Vec::with_capacity(pairs.len());
    for (lang, path) in pairs {
        let (text, sha256) = read_text(&path)?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        files.push(CorpusFile {
            lang,
            name,
            sha256,
            lines: text.lines().map(str::to_string).collect(),
        });
    }
    if files.is_empty() {
        return Err(LidError::NoTrainingData {
            path: dir.to_path_buf(),
        });
    }
    Ok(files)
}

/// The fixed held-out rule: line `n` (1-based) of every file is held out when
/// `n % modulus == remainder`. The same rule is applied in training and evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldoutRule {
    /// Modulus (0 disables holding out).
    pub modulus: usize,
    /// Remainder of held-out lines.
    pub remainder: usize,
}

impl Default for HoldoutRule {
    /// Every fifth line (lines 5, 10, 15, ...): 20% of each file.
    fn default() -> Self {
        Self {
            modulus: 5,
            remainder: 0,
        }
    }
}

impl HoldoutRule {
    /// Whether 1-based line `line_no` is held out.
    pub fn is_heldout(&self, line_no: usize) -> bool {
        self.modulus != 0 && line_no % self.modulus == self.remainder
    }
}

/// Minimum length in characters of an evaluation sentence.
pub const MIN_SENTENCE_CHARS: usize = 10;

/// Split a paragraph into sentences: break after `.`, `!`, `?` or `;` followed by whitespace;
/// trim; keep fragments of at least [`MIN_SENTENCE_CHARS`] characters.
pub fn split_sentences(paragraph: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = paragraph.chars().peekable();
    while let Some(c) = chars.next() {
        cur.push(c);
        if matches!(c, '.' | '!' | '?' | ';') && chars.peek().is_some_and(|n| n.is_whitespace()) {
            push_sentence(&mut out, &cur);
            cur.clear();
        }
    }
    push_sentence(&mut out, &cur);
    out
}

fn push_sentence(out: &mut Vec<String>, s: &str) {
    let t = s.trim();
    if t.chars().count() >= MIN_SENTENCE_CHARS {
        out.push(t.to_string());
    }
}

/// A text with its gold language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelledText {
    /// Gold ISO 639-3 code.
    pub lang: String,
    /// The text.
    pub text: String,
}

/// Held-out sentences of corpus files under `rule`, in file then line order; only languages in
/// `langs` when given, never languages in `exclude`.
///
/// A sentence whose normalised form (see [`normalise`]) also occurs in another language's file
/// (`Artikel 15` is Afrikaans, German, Danish, ...) cannot be told apart by any identifier and is
/// left out.
pub fn heldout_sentences(
    files: &[CorpusFile],
    rule: HoldoutRule,
    langs: Option<&[String]>,
    exclude: &[String],
) -> Vec<LabelledText> {
    // Normalised sentence -> the languages it occurs in (anywhere in any file).
    let mut seen: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for f in files {
        for line in &f.lines {
            for s in split_sentences(line) {
                seen.entry(normalise(&s)).or_default().insert(&f.lang);
            }
        }
    }
    let mut out = Vec::new();
    for f in files {
        if exclude.contains(&f.lang) || langs.is_some_and(|l| !l.contains(&f.lang)) {
            continue;
        }
        for (i, line) in f.lines.iter().enumerate() {
            if rule.is_heldout(i + 1) {
                for s in split_sentences(line) {
                    if seen.get(&normalise(&s)).is_some_and(|l| l.len() > 1) {
                        continue;
                    }
                    out.push(LabelledText {
                        lang: f.lang.clone(),
                        text: s,
                    });
                }
            }
        }
    }
    out
}

/// Word-boundary windows of held-out lines, for accuracy by input length: each held-out line
/// under `rule` is cut, for every target length in `targets` (characters), into consecutive runs
/// of whole words that just reach the target (a last shorter run is kept when it has at least
/// [`MIN_SENTENCE_CHARS`] characters). Same language filters as [`heldout_sentences`]; windows
/// whose normalised text occurs in another language's file are left out.
pub fn heldout_windows(
    files: &[CorpusFile],
    rule: HoldoutRule,
    langs: Option<&[String]>,
    exclude: &[String],
    targets: &[usize],
) -> Vec<LabelledText> {
    let mut other: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for f in files {
        for line in &f.lines {
            other.entry(normalise(line)).or_default().insert(&f.lang);
        }
    }
    let mut out = Vec::new();
    for f in files {
        if exclude.contains(&f.lang) || langs.is_some_and(|l| !l.contains(&f.lang)) {
            continue;
        }
        for (i, line) in f.lines.iter().enumerate() {
            if !rule.is_heldout(i + 1) {
                continue;
            }
            for &t in targets {
                for w in word_windows(line, t) {
                    push_window(&mut out, &other, &f.lang, &w);
                }
            }
        }
    }
    out
}

/// Whole-word runs of `line` that just reach `target` characters, then the rest when it has at
/// least [`MIN_SENTENCE_CHARS`] characters (held-out windows and the fine-tuning's training
/// windows are cut alike).
pub(crate) fn word_windows(line: &str, target: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for w in line.split_whitespace() {
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
        if cur.chars().count() >= target {
            out.push(std::mem::take(&mut cur));
        }
    }
    if cur.chars().count() >= MIN_SENTENCE_CHARS {
        out.push(cur);
    }
    out
}

fn push_window(
    out: &mut Vec<LabelledText>,
    other: &BTreeMap<String, BTreeSet<&str>>,
    lang: &str,
    text: &str,
) {
    if text.chars().count() < MIN_SENTENCE_CHARS {
        return;
    }
    if other
        .get(&normalise(text))
        .is_some_and(|l| l.iter().any(|x| *x != lang))
    {
        return;
    }
    out.push(LabelledText {
        lang: lang.to_string(),
        text: text.to_string(),
    });
}

/// Read a labelled test set: one `lang<TAB>text` per line (blank lines skipped).
pub fn read_labelled_tsv(path: &Path) -> Result<Vec<LabelledText>> {
    let (text, _) = read_text(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((lang, t)) = line.split_once('\t') else {
            return Err(LidError::Format {
                path: path.to_path_buf(),
                line: i + 1,
                reason: "expected `lang<TAB>text`".into(),
            });
        };
        out.push(LabelledText {
            lang: lang.to_string(),
            text: t.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_and_short_fragments_drop() {
        let s = split_sentences("Article 1. All human beings are born free; they are equal. Ok.");
        assert_eq!(
            s,
            vec![
                "Article 1.",
                "All human beings are born free;",
                "they are equal."
            ]
        );
        assert!(split_sentences("short").is_empty());
        assert_eq!(
            split_sentences("v1.2 is not a break"),
            vec!["v1.2 is not a break"]
        );
    }

    #[test]
    fn windows_reach_their_target() {
        let f = CorpusFile {
            lang: "ven".into(),
            name: "ven.txt".into(),
            sha256: String::new(),
            lines: vec!["Vhathu vhoṱhe vha bebwa vho vhofholowa nahone vha eḓana".into()],
        };
        let rule = HoldoutRule {
            modulus: 1,
            remainder: 0,
        };
        let w = heldout_windows(&[f], rule, None, &[], &[15]);
        assert_eq!(w[0].text, "Vhathu vhoṱhe vha");
        assert!(w.iter().all(|x| x.text.chars().count() >= 10));
    }

    #[test]
    fn holdout_rule() {
        let r = HoldoutRule::default();
        assert!(!r.is_heldout(1));
        assert!(r.is_heldout(5));
        assert!(r.is_heldout(10));
        assert!(!HoldoutRule {
            modulus: 0,
            remainder: 0
        }
        .is_heldout(5));
    }

    #[test]
    fn corpus_dir_without_index() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tso_MZ.txt"), "a\nb\n").unwrap();
        std::fs::write(dir.path().join("ven.txt"), "c\n").unwrap();
        std::fs::write(dir.path().join("notes.md"), "x").unwrap();
        let files = read_corpus_dir(dir.path()).unwrap();
        let langs: Vec<_> = files.iter().map(|f| f.lang.as_str()).collect();
        assert_eq!(langs, vec!["tso", "ven"]);
        assert_eq!(files[0].lines.len(), 2);
    }

    #[test]
    fn bad_tsv_names_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tsv");
        std::fs::write(&p, "ven\tndi\nno tab here\n").unwrap();
        let e = read_labelled_tsv(&p).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }
}
