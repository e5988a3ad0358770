//! Quality annotation and filters: length, Gopher-style repetition, word length, alphabetic words,
//! symbols, line punctuation, newlines, bullets, ellipses, punctuation, stopwords and
//! character-set purity, all with per-language thresholds from a [`Profile`].
//!
//! [`QualityAnnotator`] computes every metric once and writes it under `annotations.quality`;
//! each [`QualityFilter`] reads one or a few of those scores and decides.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;
use unicode_normalization::char::is_combining_mark;
use unicode_segmentation::UnicodeSegmentation;

use super::hash::{combine, hash64, TOKEN_SEED};
use super::profiles::Profile;
use super::runner::{Annotator, Filter, Reject, Sample};
use super::IdBuild;

/// Stage name of the quality annotations and filters.
pub const STAGE: &str = "quality";

/// Whether `c` is punctuation or a symbol: not a letter, digit, mark or whitespace.
#[inline]
pub fn is_punct(c: char) -> bool {
    !c.is_alphanumeric() && !c.is_whitespace() && !is_combining_mark(c)
}

const BULLETS: &[char] = &['•', '‣', '⁃', '◦', '-', '*', '·', '▪', '●', '–'];
const LINE_END_PUNCT: &[char] = &[
    '.', '\'', '"', '!', '?', '”', '’', '»', '。', '！', '？', '।', '॥', '؟', '…',
];

/// Every quality metric of one text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QualityMetrics {
    /// Length in extended grapheme clusters.
    pub graphemes: usize,
    /// Whitespace-separated words.
    pub words: usize,
    /// Non-empty lines.
    pub lines: usize,
    /// Mean length in graphemes of the words with punctuation stripped.
    pub avg_word_length: f64,
    /// Share of words holding a letter.
    pub alpha_words_ratio: f64,
    /// `#` and ellipses per word.
    pub symbol_word_ratio: f64,
    /// Share of lines repeating an earlier line.
    pub dup_line_frac: f64,
    /// `(n, share)`: characters covered by the most frequent word n-gram, over all characters.
    pub top_n_gram: Vec<(usize, f64)>,
    /// `(n, share)`: characters in repeated word n-grams, over all characters.
    pub dup_n_gram: Vec<(usize, f64)>,
    /// Share of lines ending in sentence punctuation.
    pub line_punct_ratio: f64,
    /// Newlines per word.
    pub new_line_ratio: f64,
    /// Share of lines starting with a bullet.
    pub bullet_lines_ratio: f64,
    /// Share of lines ending with an ellipsis.
    pub ellipsis_lines_ratio: f64,
    /// Share of non-space characters that are punctuation or symbols.
    pub punctuation_ratio: f64,
    /// Stopword occurrences.
    pub stop_words: usize,
    /// Share of letters (grapheme: a letter and its combining marks) in the target alphabet.
    pub charset_purity: f64,
    /// Letters outside the target alphabet.
    pub foreign_letters: usize,
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl QualityMetrics {
    /// The metrics as annotation key/value pairs (ratios rounded to 6 decimals).
    pub fn to_annotations(&self) -> Vec<(String, Value)> {
        let mut v: Vec<(String, Value)> = vec![
            ("graphemes".into(), self.graphemes.into()),
            ("words".into(), self.words.into()),
            ("lines".into(), self.lines.into()),
            (
                "avg_word_length".into(),
                round6(self.avg_word_length).into(),
            ),
            (
                "alpha_words_ratio".into(),
                round6(self.alpha_words_ratio).into(),
            ),
            (
                "symbol_word_ratio".into(),
                round6(self.symbol_word_ratio).into(),
            ),
            ("dup_line_frac".into(), round6(self.dup_line_frac).into()),
            (
                "line_punct_ratio".into(),
                round6(self.line_punct_ratio).into(),
            ),
            ("new_line_ratio".into(), round6(self.new_line_ratio).into()),
            (
                "bullet_lines_ratio".into(),
                round6(self.bullet_lines_ratio).into(),
            ),
            (
                "ellipsis_lines_ratio".into(),
                round6(self.ellipsis_lines_ratio).into(),
            ),
            (
                "punctuation_ratio".into(),
                round6(self.punctuation_ratio).into(),
            ),
            ("stop_words".into(), self.stop_words.into()),
            ("charset_purity".into(), round6(self.charset_purity).into()),
            ("foreign_letters".into(), self.foreign_letters.into()),
        ];
        for (n, f) in &self.top_n_gram {
            v.push((format!("top_{n}_gram_frac"), round6(*f).into()));
        }
        for (n, f) in &self.dup_n_gram {
            v.push((format!("dup_{n}_gram_frac"), round6(*f).into()));
        }
        v
    }
}

/// A profile prepared for fast metric computation.
#[derive(Debug, Clone)]
pub struct QualityContext {
    /// The profile.
    pub profile: Arc<Profile>,
    letters: HashSet<String>,
    ascii_letters: u128,
    stopwords: HashSet<String>,
}

impl QualityContext {
    /// Prepare a profile.
    pub fn new(profile: Arc<Profile>) -> Self {
        let letters = profile.letter_set();
        let mut ascii_letters = 0u128;
        for l in &letters {
            let mut cs = l.chars();
            if let (Some(c), None) = (cs.next(), cs.next()) {
                if c.is_ascii() {
                    ascii_letters |= 1u128 << (c as u32);
                }
            }
        }
        let stopwords = profile.stopword_set();
        Self {
            profile,
            letters,
            ascii_letters,
            stopwords,
        }
    }

    /// Compute every metric of `text` (normalised).
    pub fn metrics(&self, text: &str) -> QualityMetrics {
        let p = &self.profile;
        let mut m = QualityMetrics {
            graphemes: if text.is_ascii() {
                text.len()
            } else {
                text.graphemes(true).count()
            },
            ..Default::default()
        };
        let total_chars = text.chars().count();

        // Words.
        let tokens: Vec<&str> = text.split_whitespace().collect();
        m.words = tokens.len();
        let mut stripped: Vec<&str> = Vec::with_capacity(tokens.len());
        let mut alpha = 0usize;
        let mut word_len_sum = 0usize;
        let mut stop = 0usize;
        let mut lower = String::new();
        for t in &tokens {
            if t.chars().any(|c| c.is_alphabetic()) {
                alpha += 1;
            }
            let w = t.trim_matches(is_punct);
            if w.is_empty() {
                continue;
            }
            word_len_sum += if w.is_ascii() {
                w.len()
            } else {
                w.graphemes(true).count()
            };
            stripped.push(w);
            if !self.stopwords.is_empty() {
                lower.clear();
                for c in w.chars() {
                    lower.extend(c.to_lowercase());
                }
                if self.stopwords.contains(lower.as_str()) {
                    stop += 1;
                }
            }
        }
        m.avg_word_length = ratio(word_len_sum, stripped.len());
        m.alpha_words_ratio = ratio(alpha, tokens.len());
        m.stop_words = stop;
        let symbols =
            text.matches('#').count() + text.matches("...").count() + text.matches('…').count();
        m.symbol_word_ratio = ratio(symbols, tokens.len());

        // Lines.
        let lines: Vec<&str> = text
            .split('\n')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        m.lines = lines.len();
        let mut seen: HashSet<&str> = HashSet::with_capacity(lines.len());
        let mut dup_lines = 0usize;
        let (mut punct_end, mut bullets, mut ellipses) = (0usize, 0usize, 0usize);
        for l in &lines {
            if !seen.insert(l) {
                dup_lines += 1;
            }
            if l.ends_with(LINE_END_PUNCT) {
                punct_end += 1;
            }
            if l.starts_with(BULLETS) {
                bullets += 1;
            }
            if l.ends_with("...") || l.ends_with('…') {
                ellipses += 1;
            }
        }
        m.dup_line_frac = ratio(dup_lines, lines.len());
        m.line_punct_ratio = ratio(punct_end, lines.len());
        m.bullet_lines_ratio = ratio(bullets, lines.len());
        m.ellipsis_lines_ratio = ratio(ellipses, lines.len());
        m.new_line_ratio = ratio(text.matches('\n').count(), tokens.len());

        // Punctuation and character set.
        let (mut punct, mut nonspace, mut letters, mut in_set) = (0usize, 0usize, 0usize, 0usize);
        let mut chars = text.chars().peekable();
        let mut cluster = String::new();
        while let Some(c) = chars.next() {
            if c.is_whitespace() {
                continue;
            }
            nonspace += 1;
            if c.is_ascii() {
                if c.is_ascii_alphabetic() {
                    letters += 1;
                    if self.ascii_letters & (1u128 << (c as u32)) != 0
                        && !chars.peek().is_some_and(|n| is_combining_mark(*n))
                    {
                        in_set += 1;
                        continue;
                    }
                } else {
                    if is_punct(c) {
                        punct += 1;
                    }
                    continue;
                }
            } else if is_punct(c) {
                punct += 1;
                continue;
            } else if !c.is_alphabetic() {
                continue;
            } else {
                letters += 1;
            }
            // A letter with its combining marks, checked as one grapheme.
            cluster.clear();
            cluster.push(c);
            while let Some(&n) = chars.peek() {
                if is_combining_mark(n) {
                    cluster.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            if self.letters.contains(cluster.as_str()) {
                in_set += 1;
            }
        }
        m.punctuation_ratio = ratio(punct, nonspace);
        m.charset_purity = if letters == 0 {
            1.0
        } else {
            ratio(in_set, letters)
        };
        m.foreign_letters = letters - in_set;

        // Repetition over stripped words (Gopher: characters of the words, over all characters).
        // n-gram hashes are built incrementally: the (n+1)-grams from the n-grams.
        let hashes: Vec<u64> = stripped
            .iter()
            .map(|w| hash64(w.as_bytes(), TOKEN_SEED))
            .collect();
        let lens: Vec<usize> = stripped.iter().map(|w| w.chars().count()).collect();
        let max_n = p
            .repetition
            .top_n_grams
            .iter()
            .chain(&p.repetition.dup_n_grams)
            .map(|&(n, _)| n)
            .max()
            .unwrap_or(0);
        let mut grams: Vec<u64> = hashes.iter().map(|&h| combine(1, h)).collect();
        let mut scratch = NgramScratch::default();
        for n in 1..=max_n.min(hashes.len()) {
            if n > 1 {
                grams.truncate(hashes.len() + 1 - n);
                for (i, g) in grams.iter_mut().enumerate() {
                    *g = combine(*g, hashes[i + n - 1]);
                }
            }
            if let Some(&(_, _)) = p.repetition.top_n_grams.iter().find(|(k, _)| *k == n) {
                let c = scratch.top_ngram_chars(&grams, &lens, n);
                m.top_n_gram.push((n, ratio(c, total_chars)));
            }
            if let Some(&(_, _)) = p.repetition.dup_n_grams.iter().find(|(k, _)| *k == n) {
                let c = scratch.dup_ngram_chars(&grams, &lens, n);
                m.dup_n_gram.push((n, ratio(c, total_chars)));
            }
        }
        // Sizes longer than the text: no n-grams, share 0.
        for &(n, _) in &p.repetition.top_n_grams {
            if !m.top_n_gram.iter().any(|(k, _)| *k == n) {
                m.top_n_gram.push((n, 0.0));
            }
        }
        for &(n, _) in &p.repetition.dup_n_grams {
            if !m.dup_n_gram.iter().any(|(k, _)| *k == n) {
                m.dup_n_gram.push((n, 0.0));
            }
        }
        m.top_n_gram.sort_by_key(|(n, _)| *n);
        m.dup_n_gram.sort_by_key(|(n, _)| *n);
        m
    }
}

/// Reused hash tables for the n-gram statistics of one text.
#[derive(Default)]
struct NgramScratch {
    counts: HashMap<u64, (usize, usize), IdBuild>,
    seen: HashSet<u64, IdBuild>,
}

impl NgramScratch {
    /// Characters covered by the most frequent n-gram (joined with spaces, as Gopher does) times
    /// its count; ties go to the n-gram seen first. `grams[i]` is the hash of the n-gram at `i`.
    fn top_ngram_chars(&mut self, grams: &[u64], lens: &[usize], n: usize) -> usize {
        self.counts.clear();
        let mut best: (usize, usize) = (0, usize::MAX); // count, first index
        for (i, &h) in grams.iter().enumerate() {
            let e = self.counts.entry(h).or_insert((0, i));
            e.0 += 1;
            let (count, first) = *e;
            if count > best.0 || (count == best.0 && first < best.1) {
                best = (count, first);
            }
        }
        if best.0 == 0 {
            return 0;
        }
        let chars: usize = lens[best.1..best.1 + n].iter().sum::<usize>() + n - 1;
        best.0 * chars
    }

    /// Characters in n-grams that repeat an earlier one, skipping over each repeat (Gopher's
    /// `find_all_duplicate`, n-grams joined without spaces).
    fn dup_ngram_chars(&mut self, grams: &[u64], lens: &[usize], n: usize) -> usize {
        self.seen.clear();
        let mut repeated = 0usize;
        let mut i = 0usize;
        while i < grams.len() {
            if !self.seen.insert(grams[i]) {
                repeated += lens[i..i + n].iter().sum::<usize>();
                i += n;
            } else {
                i += 1;
            }
        }
        repeated
    }
}

/// Writes every quality metric under `annotations.quality`.
#[derive(Debug, Clone)]
pub struct QualityAnnotator {
    ctx: QualityContext,
}

impl QualityAnnotator {
    /// An annotator for a profile.
    pub fn new(profile: Arc<Profile>) -> Self {
        Self {
            ctx: QualityContext::new(profile),
        }
    }
}

impl Annotator for QualityAnnotator {
    fn name(&self) -> &'static str {
        STAGE
    }
    fn annotate(&self, sample: &mut Sample) {
        let m = self.ctx.metrics(&sample.text);
        for (k, v) in m.to_annotations() {
            sample.annotate(STAGE, &k, v);
        }
    }
}

/// The quality checks, one filter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualityCheck {
    /// Length bounds in graphemes and words: `too_short`, `too_long`.
    Length,
    /// Duplicate lines, top n-gram share, duplicated n-gram share: `dup_line_frac`,
    /// `top_{n}_gram`, `dup_{n}_gram`.
    Repetition,
    /// Mean word length: `avg_word_length_low`, `avg_word_length_high`.
    WordLength,
    /// Share of words holding a letter: `alpha_words_ratio`.
    AlphaWords,
    /// `#` and ellipses per word: `symbol_word_ratio`.
    Symbols,
    /// Lines ending in punctuation: `line_punct_ratio`.
    LinePunct,
    /// Newlines per word: `new_line_ratio`.
    NewLines,
    /// Bullet and ellipsis lines: `bullet_lines_ratio`, `ellipsis_lines_ratio`.
    ListLines,
    /// Punctuation share: `punctuation_ratio`.
    Punctuation,
    /// Stopword presence: `too_few_stopwords`.
    Stopwords,
    /// Character-set purity: `charset_purity`.
    Charset,
}

impl QualityCheck {
    /// Every check, in the order they run.
    pub const ALL: [QualityCheck; 11] = [
        QualityCheck::Length,
        QualityCheck::Charset,
        QualityCheck::Repetition,
        QualityCheck::WordLength,
        QualityCheck::AlphaWords,
        QualityCheck::Symbols,
        QualityCheck::LinePunct,
        QualityCheck::NewLines,
        QualityCheck::ListLines,
        QualityCheck::Punctuation,
        QualityCheck::Stopwords,
    ];

    /// The filter's name (for `explain` and `quality.skip`).
    pub fn name(self) -> &'static str {
        match self {
            QualityCheck::Length => "length",
            QualityCheck::Repetition => "repetition",
            QualityCheck::WordLength => "word_length",
            QualityCheck::AlphaWords => "alpha_words",
            QualityCheck::Symbols => "symbols",
            QualityCheck::LinePunct => "line_punct",
            QualityCheck::NewLines => "new_lines",
            QualityCheck::ListLines => "list_lines",
            QualityCheck::Punctuation => "punctuation",
            QualityCheck::Stopwords => "stopwords",
            QualityCheck::Charset => "charset",
        }
    }

    /// A check by name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// One quality check against a profile's thresholds; reads `annotations.quality`.
#[derive(Debug, Clone)]
pub struct QualityFilter {
    /// Which check.
    pub check: QualityCheck,
    profile: Arc<Profile>,
}

impl QualityFilter {
    /// A filter for a check and profile.
    pub fn new(check: QualityCheck, profile: Arc<Profile>) -> Self {
        Self { check, profile }
    }
}

fn reject(reason: impl Into<String>, detail: String) -> Option<Reject> {
    Some(Reject::new(STAGE, reason, detail))
}

impl Filter for QualityFilter {
    fn name(&self) -> &'static str {
        self.check.name()
    }

    fn check(&self, s: &Sample) -> Option<Reject> {
        let p = &self.profile;
        let f = |k: &str| s.score(STAGE, k).unwrap_or(0.0);
        match self.check {
            QualityCheck::Length => {
                let (g, w) = (f("graphemes") as usize, f("words") as usize);
                let l = &p.length;
                if g < l.min_graphemes || w < l.min_words {
                    return reject(
                        "too_short",
                        format!(
                            "{g} graphemes, {w} words; minimum {} graphemes, {} words",
                            l.min_graphemes, l.min_words
                        ),
                    );
                }
                if g > l.max_graphemes || w > l.max_words {
                    return reject(
                        "too_long",
                        format!(
                            "{g} graphemes, {w} words; maximum {} graphemes, {} words",
                            l.max_graphemes, l.max_words
                        ),
                    );
                }
                None
            }
            QualityCheck::Repetition => {
                let r = &p.repetition;
                let v = f("dup_line_frac");
                if v > r.dup_line_frac {
                    return reject(
                        "dup_line_frac",
                        format!("{v} of lines repeat; maximum {}", r.dup_line_frac),
                    );
                }
                for &(n, max) in &r.top_n_grams {
                    let v = f(&format!("top_{n}_gram_frac"));
                    if v > max {
                        return reject(
                            format!("top_{n}_gram"),
                            format!("top {n}-gram covers {v} of characters; maximum {max}"),
                        );
                    }
                }
                for &(n, max) in &r.dup_n_grams {
                    let v = f(&format!("dup_{n}_gram_frac"));
                    if v > max {
                        return reject(
                            format!("dup_{n}_gram"),
                            format!("repeated {n}-grams cover {v} of characters; maximum {max}"),
                        );
                    }
                }
                None
            }
            QualityCheck::WordLength => {
                let v = f("avg_word_length");
                let w = &p.words;
                if v < w.min_avg_word_length {
                    return reject(
                        "avg_word_length_low",
                        format!("mean word length {v}; minimum {}", w.min_avg_word_length),
                    );
                }
                if v > w.max_avg_word_length {
                    return reject(
                        "avg_word_length_high",
                        format!("mean word length {v}; maximum {}", w.max_avg_word_length),
                    );
                }
                None
            }
            QualityCheck::AlphaWords => {
                let v = f("alpha_words_ratio");
                (v < p.words.min_alpha_words_ratio)
                    .then(|| {
                        reject(
                            "alpha_words_ratio",
                            format!(
                                "{v} of words hold a letter; minimum {}",
                                p.words.min_alpha_words_ratio
                            ),
                        )
                    })
                    .flatten()
            }
            QualityCheck::Symbols => {
                let v = f("symbol_word_ratio");
                (v > p.words.max_symbol_word_ratio)
                    .then(|| {
                        reject(
                            "symbol_word_ratio",
                            format!(
                                "{v} symbols per word; maximum {}",
                                p.words.max_symbol_word_ratio
                            ),
                        )
                    })
                    .flatten()
            }
            QualityCheck::LinePunct => {
                let v = f("line_punct_ratio");
                (p.lines.line_punct_thr > 0.0 && v < p.lines.line_punct_thr)
                    .then(|| {
                        reject(
                            "line_punct_ratio",
                            format!(
                                "{v} of lines end in punctuation; minimum {}",
                                p.lines.line_punct_thr
                            ),
                        )
                    })
                    .flatten()
            }
            QualityCheck::NewLines => {
                let v = f("new_line_ratio");
                (v > p.lines.new_line_ratio)
                    .then(|| {
                        reject(
                            "new_line_ratio",
                            format!("{v} newlines per word; maximum {}", p.lines.new_line_ratio),
                        )
                    })
                    .flatten()
            }
            QualityCheck::ListLines => {
                let b = f("bullet_lines_ratio");
                if b > p.lines.max_bullet_lines_ratio {
                    return reject(
                        "bullet_lines_ratio",
                        format!(
                            "{b} of lines start with a bullet; maximum {}",
                            p.lines.max_bullet_lines_ratio
                        ),
                    );
                }
                let e = f("ellipsis_lines_ratio");
                (e > p.lines.max_ellipsis_lines_ratio)
                    .then(|| {
                        reject(
                            "ellipsis_lines_ratio",
                            format!(
                                "{e} of lines end with an ellipsis; maximum {}",
                                p.lines.max_ellipsis_lines_ratio
                            ),
                        )
                    })
                    .flatten()
            }
            QualityCheck::Punctuation => {
                let v = f("punctuation_ratio");
                (v > p.lines.max_punctuation_ratio)
                    .then(|| {
                        reject(
                            "punctuation_ratio",
                            format!(
                                "{v} of characters are punctuation; maximum {}",
                                p.lines.max_punctuation_ratio
                            ),
                        )
                    })
                    .flatten()
            }
            QualityCheck::Stopwords => {
                let v = f("stop_words") as usize;
                (v < p.stopwords.min_stop_words)
                    .then(|| {
                        reject(
                            "too_few_stopwords",
                            format!(
                                "{v} {} stopwords; minimum {}",
                                p.lang, p.stopwords.min_stop_words
                            ),
                        )
                    })
                    .flatten()
            }
            QualityCheck::Charset => {
                let v = f("charset_purity");
                (v < p.charset.min_purity)
                    .then(|| {
                        reject(
                            "charset_purity",
                            format!(
                                "{v} of letters in the {} alphabet ({} foreign); minimum {}",
                                p.lang,
                                f("foreign_letters"),
                                p.charset.min_purity
                            ),
                        )
                    })
                    .flatten()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curate::profiles::shipped_profile;

    #[test]
    fn gopher_repetition() {
        let ctx = QualityContext::new(Arc::new(shipped_profile("eng").unwrap()));
        let m = ctx.metrics("a b a b a b");
        // top 2-gram "a b" occurs 3 times, 3 chars each, over 11 chars.
        assert!((m.top_n_gram[0].1 - 9.0 / 11.0).abs() < 1e-9);
        let m = ctx.metrics("Ṱhalukanyo ya vhathu\nṰhalukanyo ya vhathu");
        assert_eq!(m.dup_line_frac, 0.5);
    }

    #[test]
    fn purity() {
        let ctx = QualityContext::new(Arc::new(shipped_profile("ven").unwrap()));
        assert_eq!(ctx.metrics("Ḓivhani ṱhoho ḽa ṅwana ṋe").charset_purity, 1.0);
        let m = ctx.metrics("Vhathu привет");
        assert_eq!(m.foreign_letters, 6);
    }
}
