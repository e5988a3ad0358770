//! Text normalisation and character n-gram features.
//!
//! Text is NFC-normalised and lowercased; every character that is neither a letter, a combining
//! mark nor an apostrophe becomes a word break (digits and punctuation carry no language signal
//! in UDHR-like text). Each word is padded with one space on either side and yields every
//! character n-gram of orders 1 to [`MAX_ORDER`] (the lone padding space excepted), plus the whole
//! padded word when it is longer than [`MAX_ORDER`] characters. Features are hashed with 64-bit
//! FNV-1a over Unicode code points, folded to 32 bits: stable across platforms and releases.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Highest n-gram order.
pub const MAX_ORDER: usize = 5;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Step of FNV-1a over one code point (all four bytes of the scalar value, little-endian).
#[inline]
fn fnv_step(mut h: u64, c: char) -> u64 {
    for b in (c as u32).to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// Fold a 64-bit hash to the 32-bit feature key stored in models.
#[inline]
fn fold(h: u64) -> u32 {
    (h ^ (h >> 32)) as u32
}

/// Whether a character belongs to a word.
#[inline]
fn is_word_char(c: char) -> bool {
    c.is_alphabetic() || is_combining_mark(c) || c == '\''
}

/// NFC-normalise, lowercase and fold non-word characters to single spaces (trimmed).
///
/// Combining marks are kept (Tshivenda's ḓ ḽ ṅ ṋ ṱ survive in both composed and decomposed form).
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfc() {
        let c = if c == '\u{2019}' { '\'' } else { c };
        if is_word_char(c) {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            for l in c.to_lowercase() {
                out.push(l);
            }
        } else {
            pending_space = true;
        }
    }
    // Lowercasing can yield non-NFC sequences in rare cases; renormalise only then.
    if unicode_normalization::is_nfc_quick(out.chars()) == unicode_normalization::IsNormalized::Yes
    {
        out
    } else {
        out.nfc().collect()
    }
}

/// Feature extractor with a reusable buffer.
#[derive(Debug, Default)]
pub struct Extractor {
    buf: Vec<char>,
}

impl Extractor {
    /// A new extractor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Call `f(key, order)` for every feature of normalised text (see [`normalise`]); `order` is
    /// the n-gram length in characters (padding included), 0 for a whole-word feature.
    pub fn for_each(&mut self, normalised: &str, mut f: impl FnMut(u32, usize)) {
        for word in normalised.split(' ').filter(|w| !w.is_empty()) {
            self.buf.clear();
            self.buf.push(' ');
            self.buf.extend(word.chars());
            self.buf.push(' ');
            let n = self.buf.len();
            for i in 0..n {
                let mut h = FNV_OFFSET;
                let end = (i + MAX_ORDER).min(n);
                for (j, &c) in self.buf[i..end].iter().enumerate() {
                    h = fnv_step(h, c);
                    if j == 0 && c == ' ' {
                        continue;
                    }
                    f(fold(h), j + 1);
                }
            }
            if n > MAX_ORDER {
                let mut h = FNV_OFFSET;
                for &c in &self.buf {
                    h = fnv_step(h, c);
                }
                f(fold(h), 0);
            }
        }
    }
}

/// Words of a text after [`normalise`], for the word-list signal.
pub fn words(text: &str) -> Vec<String> {
    normalise(text)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_keeps_marks_and_folds_punctuation() {
        assert_eq!(normalise("Ḓo, ṱhuṱhuwedzo!  12 zwa"), "ḓo ṱhuṱhuwedzo zwa");
        // Decomposed d + combining circumflex below composes to ḓ.
        assert_eq!(normalise("d\u{032D}o"), "ḓo");
        assert_eq!(normalise("  ...  "), "");
        assert_eq!(normalise("’n Mens"), "'n mens");
    }

    #[test]
    fn features_are_counted_and_stable() {
        let mut ex = Extractor::new();
        let mut keys = Vec::new();
        ex.for_each("ab", |k, o| keys.push((k, o)));
        // " ab ": unigrams a, b, (space-start bigram " a"), ... 1-grams 2 (a b) + the space ones:
        // positions 0..4 with n-grams up to the end: from ' ': 3 (" a", " ab", " ab ");
        // from 'a': 3 ("a","ab","ab "); from 'b': 2 ("b","b "); from ' ': 0.
        assert_eq!(keys.len(), 8);
        let mut again = Vec::new();
        ex.for_each("ab", |k, o| again.push((k, o)));
        assert_eq!(keys, again);
        // Long words add a whole-word feature.
        let mut n = 0;
        let mut words = 0;
        ex.for_each("abcdef", |_, o| {
            n += 1;
            if o == 0 {
                words += 1;
            }
        });
        assert_eq!(words, 1);
        assert!(n > 20);
    }

    #[test]
    fn hash_is_fnv1a() {
        // FNV-1a 64 of the empty input is the offset basis.
        assert_eq!(fold(FNV_OFFSET), (FNV_OFFSET ^ (FNV_OFFSET >> 32)) as u32);
        let h = fnv_step(FNV_OFFSET, 'a');
        assert_ne!(h, FNV_OFFSET);
    }
}
