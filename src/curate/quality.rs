//! Quality annotation and filters: length, Gopher-style repetition, word length, alphabetic words,
//! symbols, line punctuation, newlines, bullets, ellipses, punctuation, stopwords and
//! character-set purity, all with per-language thresholds from a [`Profile`].
//!
//! [`QualityAnnotator`] computes every metric once and writes it under `annotations.quality`;
//! each [`QualityFilter`] reads one or a few of those scores and decides.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use super::chars;
use super::hash::{combine_mixed, hash64, mix64, TOKEN_SEED};
use super::profiles::Profile;
use super::runner::{annotation_key, Annotator, Filter, Reject, Sample, Scores};
use super::IdBuild;

/// Stage name of the quality annotations and filters.
pub const STAGE: &str = "quality";

/// Whether `c` is punctuation or a symbol: not a letter, digit, mark or whitespace.
#[inline]
pub fn is_punct(c: char) -> bool {
    chars::is_punct(c)
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

    /// The values of [`QualityMetrics::to_annotations`], in its order, without the keys.
    fn annotation_values(&self) -> Vec<Value> {
        let mut v: Vec<Value> =
            Vec::with_capacity(15 + self.top_n_gram.len() + self.dup_n_gram.len());
        v.extend([
            self.graphemes.into(),
            self.words.into(),
            self.lines.into(),
            round6(self.avg_word_length).into(),
            round6(self.alpha_words_ratio).into(),
            round6(self.symbol_word_ratio).into(),
            round6(self.dup_line_frac).into(),
            round6(self.line_punct_ratio).into(),
            round6(self.new_line_ratio).into(),
            round6(self.bullet_lines_ratio).into(),
            round6(self.ellipsis_lines_ratio).into(),
            round6(self.punctuation_ratio).into(),
            self.stop_words.into(),
            round6(self.charset_purity).into(),
            self.foreign_letters.into(),
        ]);
        for (_, f) in self.top_n_gram.iter().chain(&self.dup_n_gram) {
            v.push(round6(*f).into());
        }
        v
    }

    /// The n-gram sizes, which with the fixed names make the annotation keys.
    fn gram_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        self.top_n_gram
            .iter()
            .chain(&self.dup_n_gram)
            .map(|(n, _)| *n)
    }
}

/// A profile prepared for fast metric computation.
#[derive(Debug, Clone)]
pub struct QualityContext {
    /// The profile.
    pub profile: Arc<Profile>,
    /// Letters of the alphabet that are one character (ASCII ones also in `ascii_letters`).
    letter_chars: HashSet<char, FixedState>,
    /// Letters of the alphabet that are a character and combining marks.
    letter_clusters: HashSet<String, FixedState>,
    ascii_letters: u128,
    stopwords: HashSet<String, FixedState>,
    /// `hash64(word, TOKEN_SEED)` of each stopword: a word whose hash is not here is no
    /// stopword (one lookup of a hash already computed; a hit is confirmed in `stopwords`).
    stop_hashes: HashSet<u64, IdBuild>,
    /// The most characters in a (lower-cased) stopword: lower-casing never shortens a word in
    /// characters, so longer words are never stopwords.
    stopword_max_chars: usize,
    /// First characters of the stopwords: a word whose first character does not lower-case to
    /// one of them is no stopword.
    stopword_firsts: HashSet<char, FixedState>,
}

/// A fixed-seed hasher for sets whose only use is membership (results do not depend on it).
type FixedState = ahash::RandomState;

fn fixed_state() -> FixedState {
    ahash::RandomState::with_seeds(
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    )
}

impl QualityContext {
    /// Prepare a profile.
    pub fn new(profile: Arc<Profile>) -> Self {
        let letters = profile.letter_set();
        let mut ascii_letters = 0u128;
        let mut letter_chars = HashSet::with_hasher(fixed_state());
        let mut letter_clusters = HashSet::with_hasher(fixed_state());
        for l in &letters {
            let mut cs = l.chars();
            match (cs.next(), cs.next()) {
                (Some(c), None) => {
                    if c.is_ascii() {
                        ascii_letters |= 1u128 << (c as u32);
                    }
                    letter_chars.insert(c);
                }
                _ => {
                    letter_clusters.insert(l.clone());
                }
            }
        }
        let mut stopwords = HashSet::with_hasher(fixed_state());
        stopwords.extend(profile.stopword_set());
        let stopword_max_chars = stopwords
            .iter()
            .map(|w| w.chars().count())
            .max()
            .unwrap_or(0);
        let stop_hashes = stopwords
            .iter()
            .map(|w| hash64(w.as_bytes(), TOKEN_SEED))
            .collect();
        let mut stopword_firsts = HashSet::with_hasher(fixed_state());
        stopword_firsts.extend(stopwords.iter().filter_map(|w| w.chars().next()));
        Self {
            profile,
            letter_chars,
            letter_clusters,
            ascii_letters,
            stopwords,
            stop_hashes,
            stopword_max_chars,
            stopword_firsts,
        }
    }

    fn is_letter(&self, cluster: &str) -> bool {
        let mut cs = cluster.chars();
        match (cs.next(), cs.next()) {
            (Some(c), None) => self.letter_chars.contains(&c),
            _ => self.letter_clusters.contains(cluster),
        }
    }

    /// Compute every metric of `text` (normalised).
    pub fn metrics(&self, text: &str) -> QualityMetrics {
        SCRATCH.with(|s| self.metrics_with(text, &mut s.borrow_mut()))
    }

    fn metrics_with(&self, text: &str, scratch: &mut NgramScratch) -> QualityMetrics {
        let p = &self.profile;
        let (total_chars, graphemes) = if text.is_ascii() {
            (text.len(), text.len())
        } else {
            chars::char_and_grapheme_count(text)
        };
        let mut m = QualityMetrics {
            graphemes,
            ..Default::default()
        };

        // Words (whitespace-separated tokens, with punctuation stripped from their ends), and
        // punctuation and character set per non-space character, in one pass over each token.
        // The hashes and lengths in characters of the stripped words feed the repetition
        // metrics below.
        let NgramScratch {
            hashes,
            lens,
            grams,
            mixed,
            multi,
            table,
        } = scratch;
        hashes.clear();
        lens.clear();
        let mut tokens = 0usize;
        let mut alpha = 0usize;
        let mut word_len_sum = 0usize;
        let mut stop = 0usize;
        let mut lower = String::new();
        let mut cs = CharsetCounts::default();
        for t in text.split_whitespace() {
            tokens += 1;
            let Some(tok) = self.simple_token(t) else {
                // Some character is a mark or joins its neighbours into a grapheme: the general
                // code, as written first.
                if t.chars().any(chars::is_alphabetic) {
                    alpha += 1;
                }
                self.charset(t, &mut cs);
                let w = t.trim_matches(chars::is_punct);
                if w.is_empty() {
                    continue;
                }
                let (n_chars, graphemes) = chars::char_and_grapheme_count(w);
                word_len_sum += graphemes;
                self.word(w, n_chars, hashes, lens, &mut stop, &mut lower);
                continue;
            };
            alpha += tok.alpha as usize;
            cs.add(&tok.charset);
            if tok.start < tok.end {
                // Every character is a grapheme: graphemes = characters.
                word_len_sum += tok.chars;
                let w = &t[tok.start..tok.end];
                self.word(w, tok.chars, hashes, lens, &mut stop, &mut lower);
            }
        }
        m.words = tokens;
        m.avg_word_length = ratio(word_len_sum, hashes.len());
        m.alpha_words_ratio = ratio(alpha, tokens);
        m.stop_words = stop;
        let symbols = symbol_count(text);
        m.symbol_word_ratio = ratio(symbols, tokens);
        m.punctuation_ratio = ratio(cs.punct, cs.nonspace);
        m.charset_purity = if cs.letters == 0 {
            1.0
        } else {
            ratio(cs.in_set, cs.letters)
        };
        m.foreign_letters = cs.letters - cs.in_set;

        // Lines.
        let mut seen: HashSet<&str, FixedState> = HashSet::with_hasher(fixed_state());
        let (mut lines, mut dup_lines) = (0usize, 0usize);
        let (mut punct_end, mut bullets, mut ellipses) = (0usize, 0usize, 0usize);
        let mut newlines = 0usize;
        for (i, l) in text.split('\n').enumerate() {
            newlines = i;
            let l = l.trim();
            if l.is_empty() {
                continue;
            }
            lines += 1;
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
        m.lines = lines;
        m.dup_line_frac = ratio(dup_lines, lines);
        m.line_punct_ratio = ratio(punct_end, lines);
        m.bullet_lines_ratio = ratio(bullets, lines);
        m.ellipsis_lines_ratio = ratio(ellipses, lines);
        m.new_line_ratio = ratio(newlines, tokens);

        // Repetition over stripped words (Gopher: characters of the words, over all characters).
        // n-gram hashes are built incrementally: the (n+1)-grams from the n-grams.
        let max_n = p
            .repetition
            .top_n_grams
            .iter()
            .chain(&p.repetition.dup_n_grams)
            .map(|&(n, _)| n)
            .max()
            .unwrap_or(0);
        let min_dup = p.repetition.dup_n_grams.iter().map(|&(n, _)| n).min();
        let max_top = p.repetition.top_n_grams.iter().map(|&(n, _)| n).max();
        mixed.clear();
        mixed.extend(hashes.iter().map(|&h| mix64(h)));
        grams.clear();
        grams.extend(mixed.iter().map(|&h| combine_mixed(1, h)));
        for n in 1..=max_n.min(hashes.len()) {
            if n > 1 {
                grams.truncate(hashes.len() + 1 - n);
                let next = &mixed[n - 1..];
                if min_dup.is_some_and(|d| n > d) && max_top.is_none_or(|t| n > t) {
                    // Only the duplicate-n-gram scan reads these, and only where `multi` is set.
                    for ((g, &x), &m) in grams.iter_mut().zip(next).zip(multi.iter()) {
                        if m {
                            *g = combine_mixed(*g, x);
                        }
                    }
                } else {
                    for (g, &x) in grams.iter_mut().zip(next) {
                        *g = combine_mixed(*g, x);
                    }
                }
            }
            if p.repetition.top_n_grams.iter().any(|(k, _)| *k == n) {
                let c = top_ngram_chars(table, grams, lens, n);
                m.top_n_gram.push((n, ratio(c, total_chars)));
            }
            if Some(n) == min_dup {
                mark_repeated(table, grams, multi);
            }
            if p.repetition.dup_n_grams.iter().any(|(k, _)| *k == n) {
                let c = dup_ngram_chars(table, grams, lens, n, multi);
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

    /// Record a stripped word: its hash and length, and whether it is a stopword.
    fn word(
        &self,
        w: &str,
        n_chars: usize,
        hashes: &mut Vec<u64>,
        lens: &mut Vec<usize>,
        stop: &mut usize,
        lower: &mut String,
    ) {
        let h = hash64(w.as_bytes(), TOKEN_SEED);
        hashes.push(h);
        lens.push(n_chars);
        if !self.stopwords.is_empty() && n_chars <= self.stopword_max_chars {
            if w.chars().all(|c| {
                if c.is_ascii() {
                    !c.is_ascii_uppercase()
                } else {
                    chars::has(c, chars::LOWER_SELF)
                }
            }) {
                // Its own lower case.
                if self.stop_hashes.contains(&h) && self.stopwords.contains(w) {
                    *stop += 1;
                }
                return;
            }
            lower.clear();
            let mut cs = w.chars();
            if let Some(c) = cs.next() {
                chars::push_lower(lower, c);
                if !lower
                    .chars()
                    .next()
                    .is_some_and(|l| self.stopword_firsts.contains(&l))
                {
                    return;
                }
            }
            for c in cs {
                chars::push_lower(lower, c);
            }
            if self
                .stop_hashes
                .contains(&hash64(lower.as_bytes(), TOKEN_SEED))
                && self.stopwords.contains(lower.as_str())
            {
                *stop += 1;
            }
        }
    }

    /// Whether a letter (one character, no combining mark after it) is in the alphabet.
    #[inline]
    fn char_in_set(&self, c: char) -> bool {
        if c.is_ascii() {
            self.ascii_letters & (1u128 << (c as u32)) != 0
        } else {
            self.letter_chars.contains(&c)
        }
    }

    /// One token in one pass when none of its characters is a combining mark or joins another
    /// into a grapheme (`None` otherwise): then every character is a grapheme and a letter is
    /// never followed by a mark, so the general rules reduce to per-character counts.
    #[inline]
    fn simple_token(&self, t: &str) -> Option<SimpleToken> {
        let mut tok = SimpleToken {
            start: usize::MAX,
            ..Default::default()
        };
        let mut first = 0usize;
        for (count, (i, c)) in t.char_indices().enumerate() {
            let (alpha, punct) = if c.is_ascii() {
                // No whitespace inside a token; an ASCII character is never a mark and is a
                // grapheme of its own but for CR, which is whitespace.
                (c.is_ascii_alphabetic(), !c.is_ascii_alphanumeric())
            } else {
                let pr = chars::props(c);
                if pr & chars::GRAPHEME_SINGLE == 0 || pr & chars::MARK != 0 {
                    return None;
                }
                (
                    pr & chars::ALPHA != 0,
                    pr & (chars::ALPHA | chars::NUMERIC | chars::MARK | chars::SPACE) == 0,
                )
            };
            tok.alpha |= alpha;
            tok.charset.nonspace += 1;
            if punct {
                tok.charset.punct += 1;
            } else {
                if tok.start == usize::MAX {
                    tok.start = i;
                    first = count;
                }
                tok.end = i + c.len_utf8();
                tok.chars = count + 1 - first;
                if alpha {
                    tok.charset.letters += 1;
                    if self.char_in_set(c) {
                        tok.charset.in_set += 1;
                    }
                }
            }
        }
        if tok.start == usize::MAX {
            tok.start = 0;
            tok.end = 0;
        }
        Some(tok)
    }

    /// Punctuation and character-set counts of the non-space characters of `t`: letters with
    /// their combining marks checked as one grapheme.
    fn charset(&self, t: &str, cs: &mut CharsetCounts) {
        let mut it = t.char_indices().peekable();
        while let Some((start, c)) = it.next() {
            if c.is_ascii() {
                if c.is_ascii_whitespace() || c == '\u{0b}' {
                    continue;
                }
                cs.nonspace += 1;
                if c.is_ascii_alphabetic() {
                    cs.letters += 1;
                    if self.ascii_letters & (1u128 << (c as u32)) != 0
                        && !it.peek().is_some_and(|&(_, n)| chars::is_mark(n))
                    {
                        cs.in_set += 1;
                        continue;
                    }
                } else {
                    if chars::is_punct(c) {
                        cs.punct += 1;
                    }
                    continue;
                }
            } else {
                let pr = chars::props(c);
                if pr & chars::SPACE != 0 {
                    continue;
                }
                cs.nonspace += 1;
                if pr & (chars::ALPHA | chars::NUMERIC | chars::MARK) == 0 {
                    cs.punct += 1;
                    continue;
                } else if pr & chars::ALPHA == 0 {
                    continue;
                }
                cs.letters += 1;
            }
            // A letter with its combining marks, checked as one grapheme.
            let mut end = start + c.len_utf8();
            while let Some(&(i, n)) = it.peek() {
                if chars::is_mark(n) {
                    end = i + n.len_utf8();
                    it.next();
                } else {
                    break;
                }
            }
            if self.is_letter(&t[start..end]) {
                cs.in_set += 1;
            }
        }
    }
}

/// `#` signs, ellipses `...` (non-overlapping, left to right) and `…` in `text`, in one pass:
/// `text.matches('#').count() + text.matches("...").count() + text.matches('…').count()`.
fn symbol_count(text: &str) -> usize {
    const ELLIPSIS: &[u8] = "…".as_bytes();
    let b = text.as_bytes();
    let mut n = 0usize;
    // Where the next `...` may start (matches do not overlap).
    let mut dots_from = 0usize;
    for i in memchr::memchr3_iter(b'#', b'.', ELLIPSIS[0], b) {
        match b[i] {
            b'#' => n += 1,
            b'.' => {
                if i >= dots_from && b[i..].starts_with(b"...") {
                    n += 1;
                    dots_from = i + 3;
                }
            }
            _ => n += b[i..].starts_with(ELLIPSIS) as usize,
        }
    }
    n
}

/// Punctuation and character-set counts.
#[derive(Debug, Default, Clone, Copy)]
struct CharsetCounts {
    /// Non-space characters (combining marks after a letter are part of it).
    nonspace: usize,
    /// Punctuation and symbols.
    punct: usize,
    /// Letters (with their marks).
    letters: usize,
    /// Letters in the alphabet.
    in_set: usize,
}

impl CharsetCounts {
    fn add(&mut self, o: &CharsetCounts) {
        self.nonspace += o.nonspace;
        self.punct += o.punct;
        self.letters += o.letters;
        self.in_set += o.in_set;
    }
}

/// One token measured in a single pass ([`QualityContext::simple_token`]).
#[derive(Debug, Default)]
struct SimpleToken {
    /// Whether it holds a letter.
    alpha: bool,
    /// Byte range of the word with punctuation stripped from both ends (empty: none left).
    start: usize,
    end: usize,
    /// Characters (and graphemes) of the stripped word.
    chars: usize,
    charset: CharsetCounts,
}

thread_local! {
    static SCRATCH: RefCell<NgramScratch> = RefCell::new(NgramScratch::default());
}

/// Buffers and the hash table for the n-gram statistics, reused across texts (one per thread).
#[derive(Default)]
struct NgramScratch {
    /// Hash of each stripped word.
    hashes: Vec<u64>,
    /// Length in characters of each stripped word.
    lens: Vec<usize>,
    /// Hash of the n-gram at each position.
    grams: Vec<u64>,
    /// `mix64` of each word hash (what every n-gram size combines in).
    mixed: Vec<u64>,
    /// For the smallest duplicate-n-gram size `d`: whether the d-gram at each position occurs
    /// more than once in the text.
    multi: Vec<bool>,
    table: GramTable,
}

/// An open-addressing hash table of n-gram hashes (already well mixed) with a count and first
/// position each. Exact: keys are compared in full; 0 marks an empty slot and the key 0 has a
/// slot of its own after the others.
#[derive(Default)]
struct GramTable {
    keys: Vec<u64>,
    /// `(count, first index)` per slot.
    vals: Vec<(usize, usize)>,
    /// Slots in use this round: `mask + 1`, a power of two at least twice the keys.
    mask: usize,
    shift: u32,
    /// Whether the key 0 is in (its slot is `mask + 1`).
    zero: bool,
}

impl GramTable {
    /// Empty the table, sized for up to `n` keys.
    fn reset(&mut self, n: usize) {
        let want = (2 * n.max(8)).next_power_of_two();
        if self.keys.len() < want + 1 {
            self.keys = vec![0; want + 1];
            self.vals = vec![(0, 0); want + 1];
        } else {
            self.keys[..want].fill(0);
        }
        self.mask = want - 1;
        self.shift = 64 - want.trailing_zeros();
        self.zero = false;
    }

    /// The slot of `key`, and whether it was already there (else it is claimed for it).
    #[inline]
    fn slot(&mut self, key: u64) -> (usize, bool) {
        if key == 0 {
            let found = self.zero;
            self.zero = true;
            return (self.mask + 1, found);
        }
        let mut i = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize;
        loop {
            let k = self.keys[i];
            if k == 0 {
                self.keys[i] = key;
                return (i, false);
            }
            if k == key {
                return (i, true);
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// Characters covered by the most frequent n-gram (joined with spaces, as Gopher does) times its
/// count; ties go to the n-gram seen first. `grams[i]` is the hash of the n-gram at `i`.
fn top_ngram_chars(table: &mut GramTable, grams: &[u64], lens: &[usize], n: usize) -> usize {
    table.reset(grams.len());
    let mut best: (usize, usize) = (0, usize::MAX); // count, first index
    for (i, &h) in grams.iter().enumerate() {
        let (slot, found) = table.slot(h);
        let e = &mut table.vals[slot];
        if !found {
            *e = (0, i);
        }
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

/// `multi[i]`: whether `grams[i]` occurs more than once in `grams`.
fn mark_repeated(table: &mut GramTable, grams: &[u64], multi: &mut Vec<bool>) {
    table.reset(grams.len());
    for &h in grams {
        let (slot, found) = table.slot(h);
        let e = &mut table.vals[slot];
        *e = (if found { e.0 + 1 } else { 1 }, 0);
    }
    multi.clear();
    multi.extend(grams.iter().map(|&h| {
        let (slot, _) = table.slot(h);
        table.vals[slot].0 > 1
    }));
}

/// Characters in n-grams that repeat an earlier one, skipping over each repeat (Gopher's
/// `find_all_duplicate`, n-grams joined without spaces).
///
/// `multi` marks the positions whose d-gram, for some `d <= n`, occurs more than once in the
/// text: an n-gram that repeats an earlier one starts with a d-gram that does, so only those
/// positions are looked up and inserted (at the others the n-gram occurs once in the text: it is
/// never found, and inserting it could never make a later one found). Texts without repeated
/// d-grams cost no table work at all.
fn dup_ngram_chars(
    table: &mut GramTable,
    grams: &[u64],
    lens: &[usize],
    n: usize,
    multi: &[bool],
) -> usize {
    let candidates = multi[..grams.len()].iter().filter(|&&m| m).count();
    if candidates < 2 {
        return 0;
    }
    table.reset(candidates);
    let mut repeated = 0usize;
    let mut i = 0usize;
    while i < grams.len() {
        if multi[i] && table.slot(grams[i]).1 {
            repeated += lens[i..i + n].iter().sum::<usize>();
            i += n;
        } else {
            i += 1;
        }
    }
    repeated
}

/// Writes every quality metric under `annotations.quality`.
#[derive(Debug, Clone)]
pub struct QualityAnnotator {
    ctx: QualityContext,
    /// The annotation keys, values unset.
    template: Scores,
    /// For each key in order, the place of its value in `to_annotations`.
    order: Vec<usize>,
    /// The n-gram sizes those keys were made for.
    sizes: Vec<usize>,
}

impl QualityAnnotator {
    /// An annotator for a profile.
    pub fn new(profile: Arc<Profile>) -> Self {
        let ctx = QualityContext::new(profile);
        // The keys are the same for every text of a profile: a map of them to clone, and for
        // each of its entries in order, the place of the value in `to_annotations`.
        let m = ctx.metrics("");
        let sizes = m.gram_sizes().collect();
        let mut template = Scores::new();
        let mut place = BTreeMap::new();
        for (i, (k, _)) in m.to_annotations().into_iter().enumerate() {
            template.insert(annotation_key(&k), Value::Null);
            place.insert(k, i);
        }
        Self {
            ctx,
            template,
            order: place.into_values().collect(),
            sizes,
        }
    }
}

impl Annotator for QualityAnnotator {
    fn name(&self) -> &'static str {
        STAGE
    }
    fn annotate(&self, sample: &mut Sample) {
        let m = self.ctx.metrics(&sample.text);
        let fresh = !sample.annotations.contains_key(STAGE);
        if fresh && m.gram_sizes().eq(self.sizes.iter().copied()) {
            // Fill in a copy of the map of keys rather than insert them one at a time.
            let mut values = m.annotation_values();
            let mut scores = self.template.clone();
            for (v, &i) in scores.values_mut().zip(&self.order) {
                *v = std::mem::take(&mut values[i]);
            }
            sample.annotations.insert(Cow::Borrowed(STAGE), scores);
            return;
        }
        let scores = sample.annotations.get_or_default(Cow::Borrowed(STAGE));
        for (k, v) in m.to_annotations() {
            scores.insert(Cow::Owned(k), v);
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
    /// `(n, maximum, annotation key)` of the top and duplicated n-gram shares.
    top_keys: Vec<(usize, f64, String)>,
    dup_keys: Vec<(usize, f64, String)>,
}

impl QualityFilter {
    /// A filter for a check and profile.
    pub fn new(check: QualityCheck, profile: Arc<Profile>) -> Self {
        let r = &profile.repetition;
        let top_keys = r
            .top_n_grams
            .iter()
            .map(|&(n, max)| (n, max, format!("top_{n}_gram_frac")))
            .collect();
        let dup_keys = r
            .dup_n_grams
            .iter()
            .map(|&(n, max)| (n, max, format!("dup_{n}_gram_frac")))
            .collect();
        Self {
            check,
            profile,
            top_keys,
            dup_keys,
        }
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
                for (n, max, key) in &self.top_keys {
                    let (n, max) = (*n, *max);
                    let v = f(key);
                    if v > max {
                        return reject(
                            format!("top_{n}_gram"),
                            format!("top {n}-gram covers {v} of characters; maximum {max}"),
                        );
                    }
                }
                for (n, max, key) in &self.dup_keys {
                    let (n, max) = (*n, *max);
                    let v = f(key);
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

/// The metrics as first written (before the single-pass rewrite), to check that the fast code
/// computes the same values.
#[cfg(test)]
mod reference {
    use std::collections::{HashMap, HashSet};
    use std::sync::Arc;

    use unicode_normalization::char::is_combining_mark;
    use unicode_segmentation::UnicodeSegmentation;

    use super::super::hash::{combine, hash64, TOKEN_SEED};
    use super::super::profiles::Profile;
    use super::super::IdBuild;
    use super::{ratio, QualityMetrics, BULLETS, LINE_END_PUNCT};

    fn is_punct(c: char) -> bool {
        !c.is_alphanumeric() && !c.is_whitespace() && !is_combining_mark(c)
    }

    pub struct QualityContext {
        pub profile: Arc<Profile>,
        letters: HashSet<String>,
        ascii_letters: u128,
        stopwords: HashSet<String>,
    }

    impl QualityContext {
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
            let (mut punct, mut nonspace, mut letters, mut in_set) =
                (0usize, 0usize, 0usize, 0usize);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curate::profiles::shipped_profile;
    use proptest::prelude::*;

    #[test]
    fn symbols_in_one_pass() {
        for t in [
            "",
            "#",
            "...",
            "....",
            ".....",
            "......",
            "a...b...c",
            "…",
            "#…#...…",
            ". . .",
            "ḓ…ṱ",
            "\u{2026}\u{2025}",
            "..#..",
            "e\u{2026}.",
        ] {
            let want = t.matches('#').count() + t.matches("...").count() + t.matches('…').count();
            assert_eq!(symbol_count(t), want, "{t:?}");
        }
    }

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

    /// Characters from many scripts, marks, joiners and whitespace of every kind.
    fn any_text() -> impl Strategy<Value = String> {
        let pool: Vec<char> = "aeiouvhtnṱḓḽṅṋṰḒ AEKZ zwd.,;:!?'\"()-#…«»“”1234567890_\n\n  \t\r\u{a0}\u{3000}\u{200b}\u{200d}\u{200c}\u{ad}\u{301}\u{32d}\u{308}\u{93f}\u{94d}कषनमस्ते\u{e31}กข\u{e33}한\u{1100}\u{1161}\u{11a8}привет Σσς İ ẞ ΑΒ你好カタカナ\u{5d0}\u{5d1}\u{5f3}مرحبا\u{600}\u{64b}\u{102b}\u{1000}🇿🇦👩🏽\u{fe0f}\u{1f600}\u{10400}\u{1d400}"
            .chars()
            .collect();
        prop::collection::vec(prop::sample::select(pool), 0..120)
            .prop_map(|v| v.into_iter().collect())
    }

    fn same(a: &QualityMetrics, b: &QualityMetrics) -> bool {
        // Bit-identical floats, not approximately equal ones.
        let f = |x: f64| x.to_bits();
        a.graphemes == b.graphemes
            && a.words == b.words
            && a.lines == b.lines
            && f(a.avg_word_length) == f(b.avg_word_length)
            && f(a.alpha_words_ratio) == f(b.alpha_words_ratio)
            && f(a.symbol_word_ratio) == f(b.symbol_word_ratio)
            && f(a.dup_line_frac) == f(b.dup_line_frac)
            && a.top_n_gram.len() == b.top_n_gram.len()
            && a.top_n_gram
                .iter()
                .zip(&b.top_n_gram)
                .all(|(x, y)| x.0 == y.0 && f(x.1) == f(y.1))
            && a.dup_n_gram.len() == b.dup_n_gram.len()
            && a.dup_n_gram
                .iter()
                .zip(&b.dup_n_gram)
                .all(|(x, y)| x.0 == y.0 && f(x.1) == f(y.1))
            && f(a.line_punct_ratio) == f(b.line_punct_ratio)
            && f(a.new_line_ratio) == f(b.new_line_ratio)
            && f(a.bullet_lines_ratio) == f(b.bullet_lines_ratio)
            && f(a.ellipsis_lines_ratio) == f(b.ellipsis_lines_ratio)
            && f(a.punctuation_ratio) == f(b.punctuation_ratio)
            && a.stop_words == b.stop_words
            && f(a.charset_purity) == f(b.charset_purity)
            && a.foreign_letters == b.foreign_letters
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Texts of a few words, so that n-grams of every size repeat and overlap.
        #[test]
        fn same_repetition_metrics_on_few_words(
            words in prop::collection::vec(prop::sample::select(vec!["na", "vha", "muthu", "a", "ṱhoho"]), 0..80),
            seps in prop::collection::vec(prop::sample::select(vec![" ", " ", " ", "\n", ". "]), 80),
        ) {
            let text: String = words.iter().zip(&seps).map(|(w, s)| format!("{w}{s}")).collect();
            for lang in ["ven", "eng"] {
                let profile = Arc::new(shipped_profile(lang).unwrap());
                let fast = QualityContext::new(profile.clone()).metrics(&text);
                let slow = reference::QualityContext::new(profile).metrics(&text);
                prop_assert!(same(&fast, &slow), "{lang} {text:?}\n{fast:?}\n{slow:?}");
            }
        }

        #[test]
        fn same_metrics_as_first_written(text in any_text(), rep in 0usize..4) {
            // Repeat a piece to exercise the n-gram statistics.
            let text = if rep > 0 {
                let cut = text.char_indices().nth(text.chars().count() / 2).map_or(0, |(i, _)| i);
                format!("{}{}", text, text[..cut].repeat(rep))
            } else {
                text
            };
            for lang in ["ven", "eng", "zul"] {
                let profile = Arc::new(shipped_profile(lang).unwrap());
                let fast = QualityContext::new(profile.clone()).metrics(&text);
                let slow = reference::QualityContext::new(profile).metrics(&text);
                prop_assert!(same(&fast, &slow), "{lang} {text:?}\n{fast:?}\n{slow:?}");
            }
        }
    }
}
