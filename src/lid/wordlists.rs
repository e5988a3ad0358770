//! The second, independent signal: the share of a text's words found in each language's word list
//! (FineWeb-2's `wordlists-0.85/<lang>_Latn.txt`: words that mark text as that language at 0.85
//! precision).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::data::read_text;
use super::features::{normalise, words};
use super::model::WordListFile;
use super::{LidError, Result};

/// Word lists by language.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WordLists {
    lists: BTreeMap<String, BTreeSet<String>>,
    files: BTreeMap<String, WordListFile>,
}

/// The word-list signal of one text for a target language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordListSignal {
    /// Words in the text (after normalisation).
    pub words: usize,
    /// Share of the words found in the target's list.
    pub target_share: f64,
    /// The neighbour with the highest share (`None` without neighbour lists).
    pub best_neighbour: Option<String>,
    /// That neighbour's share.
    pub best_neighbour_share: f64,
    /// `target_share - best_neighbour_share`: positive when the text looks more like the target.
    pub margin: f64,
    /// Every language's share.
    pub shares: BTreeMap<String, f64>,
}

impl WordLists {
    /// Load every `<lang>_<Script>.txt` or `<lang>.txt` file of a folder (one word per line).
    pub fn load(dir: &Path) -> Result<Self> {
        let entries = std::fs::read_dir(dir).map_err(|error| LidError::Io {
            path: dir.to_path_buf(),
            error,
        })?;
        let mut paths = Vec::new();
        for e in entries {
            let e = e.map_err(|error| LidError::Io {
                path: dir.to_path_buf(),
                error,
            })?;
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) == Some("txt") {
                paths.push(p);
            }
        }
        paths.sort();
        let mut out = WordLists::default();
        for p in paths {
            let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let lang = stem.split('_').next().unwrap_or(stem).to_string();
            let (text, sha256) = read_text(&p)?;
            let list: Vec<String> = text
                .lines()
                .map(normalise)
                .filter(|w| !w.is_empty())
                .collect();
            out.lists
                .entry(lang.clone())
                .or_default()
                .extend(list.iter().cloned());
            out.files.insert(
                lang,
                WordListFile {
                    name: p
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default()
                        .to_string(),
                    sha256,
                    words: list,
                },
            );
        }
        if out.lists.is_empty() {
            return Err(LidError::NoTrainingData {
                path: dir.to_path_buf(),
            });
        }
        Ok(out)
    }

    /// Build from in-memory lists (tests, callers with their own lists).
    pub fn from_lists(lists: BTreeMap<String, Vec<String>>) -> Self {
        let mut out = WordLists::default();
        for (lang, ws) in lists {
            out.lists
                .insert(lang, ws.iter().map(|w| normalise(w)).collect());
        }
        out
    }

    /// Languages with a list.
    pub fn langs(&self) -> Vec<String> {
        self.lists.keys().cloned().collect()
    }

    /// The lists as training inputs (file names, hashes, words).
    pub fn files(&self) -> &BTreeMap<String, WordListFile> {
        &self.files
    }

    /// Whether `word` (already normalised, see [`super::normalise`]) is in `lang`'s list.
    pub fn contains(&self, lang: &str, word: &str) -> bool {
        self.lists.get(lang).is_some_and(|set| set.contains(word))
    }

    /// Whether there is a list for `lang`.
    pub fn has(&self, lang: &str) -> bool {
        self.lists.contains_key(lang)
    }

    /// SHA-256 of the file `lang`'s list was loaded from (`None` for in-memory lists).
    pub fn sha256(&self, lang: &str) -> Option<&str> {
        self.files.get(lang).map(|f| f.sha256.as_str())
    }

    /// Share of the text's words in each language's list (0 for a text without words).
    pub fn shares(&self, text: &str) -> BTreeMap<String, f64> {
        let ws = words(text);
        self.lists
            .iter()
            .map(|(lang, set)| {
                let hits = ws.iter().filter(|w| set.contains(w.as_str())).count();
                let share = if ws.is_empty() {
                    0.0
                } else {
                    hits as f64 / ws.len() as f64
                };
                (lang.clone(), share)
            })
            .collect()
    }

    /// The target's share against its neighbours' (`neighbours` empty: every other list).
    pub fn signal(&self, text: &str, target: &str, neighbours: &[String]) -> WordListSignal {
        let n = words(text).len();
        let shares = self.shares(text);
        let target_share = shares.get(target).copied().unwrap_or(0.0);
        let mut best: Option<(String, f64)> = None;
        for (lang, &s) in &shares {
            if lang == target || (!neighbours.is_empty() && !neighbours.contains(lang)) {
                continue;
            }
            if best.as_ref().is_none_or(|(_, b)| s > *b) {
                best = Some((lang.clone(), s));
            }
        }
        let best_share = best.as_ref().map_or(0.0, |b| b.1);
        WordListSignal {
            words: n,
            target_share,
            best_neighbour: best.map(|b| b.0),
            best_neighbour_share: best_share,
            margin: target_share - best_share,
            shares,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_margin() {
        let mut m = BTreeMap::new();
        m.insert(
            "ven".to_string(),
            vec!["vha".to_string(), "zwi".to_string(), "ḓo".to_string()],
        );
        m.insert("tso".to_string(), vec!["hi".to_string(), "ku".to_string()]);
        let wl = WordLists::from_lists(m);
        let s = wl.signal("Vha ḓo zwi ita hi", "ven", &[]);
        assert_eq!(s.words, 5);
        assert!((s.target_share - 0.6).abs() < 1e-9);
        assert_eq!(s.best_neighbour.as_deref(), Some("tso"));
        assert!((s.margin - 0.4).abs() < 1e-9);
        assert_eq!(wl.signal("", "ven", &[]).target_share, 0.0);
    }
}
