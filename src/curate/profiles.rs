//! Per-language quality profiles: the thresholds the quality filters apply, per target language.
//!
//! The shipped profiles live in `curation/profiles/<lang>.toml` (generated from FineWeb-2's
//! per-language configs by `scripts/fineweb2_profiles.py`; see `curation/profiles/SOURCE.md`) and
//! are compiled into the binary. A profile is chosen by the target language; an unknown language
//! is an error listing the available profiles. English (`eng`) is never applied to another
//! language unless the caller names it.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::CurateError;

/// The shipped profiles: language code and TOML text.
pub const SHIPPED_PROFILES: &[(&str, &str)] = &[
    ("afr", include_str!("../../curation/profiles/afr.toml")),
    ("eng", include_str!("../../curation/profiles/eng.toml")),
    ("nbl", include_str!("../../curation/profiles/nbl.toml")),
    ("nso", include_str!("../../curation/profiles/nso.toml")),
    ("sot", include_str!("../../curation/profiles/sot.toml")),
    ("ssw", include_str!("../../curation/profiles/ssw.toml")),
    ("tsn", include_str!("../../curation/profiles/tsn.toml")),
    ("tso", include_str!("../../curation/profiles/tso.toml")),
    ("ven", include_str!("../../curation/profiles/ven.toml")),
    ("xho", include_str!("../../curation/profiles/xho.toml")),
    ("zul", include_str!("../../curation/profiles/zul.toml")),
];

/// Language-ID thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LidProfile {
    /// Minimum score of the target language when it is the top hypothesis.
    pub min_score: f64,
}

/// Length bounds; lengths in graphemes and whitespace-separated words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthProfile {
    /// Fewest graphemes.
    pub min_graphemes: usize,
    /// Most graphemes.
    pub max_graphemes: usize,
    /// Fewest words.
    pub min_words: usize,
    /// Most words.
    pub max_words: usize,
}

/// Gopher-style repetition thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepetitionProfile {
    /// Highest share of lines that repeat an earlier line.
    pub dup_line_frac: f64,
    /// `[n, share]`: highest share of characters covered by the most frequent word n-gram.
    pub top_n_grams: Vec<(usize, f64)>,
    /// `[n, share]`: highest share of characters in word n-grams that repeat an earlier one.
    pub dup_n_grams: Vec<(usize, f64)>,
}

/// Word-level thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WordsProfile {
    /// Lowest mean word length (graphemes, punctuation stripped).
    pub min_avg_word_length: f64,
    /// Highest mean word length.
    pub max_avg_word_length: f64,
    /// Lowest share of words holding at least one letter (FineWeb-2's `max_non_alpha_words_ratio`).
    pub min_alpha_words_ratio: f64,
    /// Highest ratio of `#` and ellipsis symbols to words.
    pub max_symbol_word_ratio: f64,
}

/// Line- and punctuation-level thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinesProfile {
    /// Lowest share of lines ending in `. ' " ! ?` (0 or less disables; FineWeb-2 writes -1).
    pub line_punct_thr: f64,
    /// Highest ratio of newlines to words.
    pub new_line_ratio: f64,
    /// Highest share of lines starting with a bullet.
    pub max_bullet_lines_ratio: f64,
    /// Highest share of lines ending with an ellipsis.
    pub max_ellipsis_lines_ratio: f64,
    /// Highest share of non-space characters that are punctuation.
    pub max_punctuation_ratio: f64,
}

/// Stopword presence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopwordsProfile {
    /// Fewest stopword occurrences (0 disables).
    pub min_stop_words: usize,
    /// The stopwords (lower case, NFC).
    pub words: Vec<String>,
}

/// Character-set purity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharsetProfile {
    /// Lowest share of letter graphemes that belong to the target alphabet.
    pub min_purity: f64,
    /// The target alphabet, capitals included (each grapheme is one letter).
    pub letters: String,
}

/// A per-language quality profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// ISO 639-3 code of the language the profile is for.
    pub lang: String,
    /// Language name.
    pub name: String,
    /// ISO 15924 script.
    pub script: String,
    /// Where the thresholds come from.
    pub source: String,
    /// Language-ID thresholds.
    pub lid: LidProfile,
    /// Length bounds.
    pub length: LengthProfile,
    /// Repetition thresholds.
    pub repetition: RepetitionProfile,
    /// Word thresholds.
    pub words: WordsProfile,
    /// Line and punctuation thresholds.
    pub lines: LinesProfile,
    /// Stopwords.
    pub stopwords: StopwordsProfile,
    /// Character-set purity.
    pub charset: CharsetProfile,
}

impl Profile {
    /// Parse a profile from TOML; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, CurateError> {
        let p: Profile = toml::from_str(text).map_err(|e| CurateError::Profile {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        p.validate(origin)?;
        Ok(p)
    }

    /// Check the values are in range.
    pub fn validate(&self, origin: &str) -> Result<(), CurateError> {
        let bad = |m: String| {
            Err(CurateError::Profile {
                origin: origin.to_string(),
                message: m,
            })
        };
        let ratios = [
            ("lid.min_score", self.lid.min_score),
            ("repetition.dup_line_frac", self.repetition.dup_line_frac),
            (
                "words.min_alpha_words_ratio",
                self.words.min_alpha_words_ratio,
            ),
            ("charset.min_purity", self.charset.min_purity),
        ];
        for (k, v) in ratios {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{k} = {v} is not in [0, 1]"));
            }
        }
        if self.lines.line_punct_thr > 1.0 {
            return bad(format!(
                "lines.line_punct_thr = {} is above 1 (0 or less disables it)",
                self.lines.line_punct_thr
            ));
        }
        for (n, _) in self
            .repetition
            .top_n_grams
            .iter()
            .chain(&self.repetition.dup_n_grams)
        {
            if *n == 0 {
                return bad("n-gram sizes must be at least 1".into());
            }
        }
        if self.length.min_graphemes > self.length.max_graphemes
            || self.length.min_words > self.length.max_words
        {
            return bad("length minimum above maximum".into());
        }
        Ok(())
    }

    /// The alphabet as a set of graphemes.
    pub fn letter_set(&self) -> HashSet<String> {
        use unicode_segmentation::UnicodeSegmentation;
        self.charset
            .letters
            .graphemes(true)
            .map(|g| g.to_string())
            .collect()
    }

    /// The stopwords as a set (lower-cased).
    pub fn stopword_set(&self) -> HashSet<String> {
        self.stopwords
            .words
            .iter()
            .map(|w| w.to_lowercase())
            .collect()
    }
}

/// Names of the shipped profiles.
pub fn available_profiles() -> Vec<String> {
    SHIPPED_PROFILES
        .iter()
        .map(|(l, _)| l.to_string())
        .collect()
}

/// A shipped profile by language code.
pub fn shipped_profile(lang: &str) -> Result<Profile, CurateError> {
    match SHIPPED_PROFILES.iter().find(|(l, _)| *l == lang) {
        Some((l, text)) => Profile::from_toml(text, &format!("curation/profiles/{l}.toml")),
        None => Err(CurateError::UnknownProfile {
            lang: lang.to_string(),
            available: available_profiles().join(", "),
        }),
    }
}

/// Resolve the profile for `lang`: `requested` is a shipped profile name or a path to a TOML
/// file; when `None`, the shipped profile of `lang` (an error when there is none, never English
/// by default). Returns the profile and, when it was made for another language, a warning.
pub fn resolve_profile(
    lang: &str,
    requested: Option<&str>,
) -> Result<(Profile, Option<String>), CurateError> {
    let profile = match requested {
        None => shipped_profile(lang)?,
        Some(r) if r.ends_with(".toml") || r.contains('/') => {
            let path = Path::new(r);
            let text = std::fs::read_to_string(path).map_err(|e| CurateError::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            Profile::from_toml(&text, r)?
        }
        Some(r) => shipped_profile(r)?,
    };
    let warning = (profile.lang != lang).then(|| {
        format!(
            "profile `{}` ({}) is applied to target language `{lang}` because it was asked for",
            profile.lang, profile.name
        )
    });
    Ok((profile, warning))
}

/// Letters outside an alphabet that a profile would flag: a helper for explain output.
pub fn describe_alphabet(p: &Profile) -> String {
    let set: BTreeSet<String> = p.letter_set().into_iter().collect();
    set.into_iter().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_shipped_parse() {
        for (l, _) in SHIPPED_PROFILES {
            let p = shipped_profile(l).unwrap();
            assert_eq!(&p.lang, l);
        }
    }

    #[test]
    fn venda_alphabet() {
        let p = shipped_profile("ven").unwrap();
        let s = p.letter_set();
        for l in ["ḓ", "ḽ", "ṅ", "ṋ", "ṱ", "Ḓ", "Ḽ", "Ṅ", "Ṋ", "Ṱ"] {
            assert!(s.contains(l), "{l}");
        }
        assert!(p.stopword_set().contains("vhathu"));
    }

    #[test]
    fn unknown_is_error_listing_profiles() {
        let e = resolve_profile("xyz", None).unwrap_err().to_string();
        assert!(e.contains("ven") && e.contains("eng"), "{e}");
        let (_, w) = resolve_profile("xyz", Some("eng")).unwrap();
        assert!(w.is_some());
    }
}
