//! Cached character properties for the hot loops of curation.
//!
//! Every property here is computed from the same function the code used before (`char` methods,
//! `unicode-normalization`, `unicode-segmentation`), once per character on first use, and kept in
//! a table. A lookup is one load instead of a binary search, so results are identical by
//! construction and only faster.

use std::sync::atomic::{AtomicU32, Ordering};

use unicode_normalization::char::{canonical_combining_class, is_combining_mark};
use unicode_normalization::{is_nfc_quick, IsNormalized};
use unicode_segmentation::UnicodeSegmentation;

/// `char::is_alphabetic`.
pub const ALPHA: u32 = 1 << 0;
/// `char::is_numeric`.
pub const NUMERIC: u32 = 1 << 1;
/// `char::is_whitespace`.
pub const SPACE: u32 = 1 << 2;
/// `unicode_normalization::char::is_combining_mark` (General_Category = Mark).
pub const MARK: u32 = 1 << 3;
/// The character is its own lower case (`char::to_lowercase` yields exactly it).
pub const LOWER_SELF: u32 = 1 << 4;
/// Canonical combining class 0 and NFC quick check Yes: a string made only of such characters
/// is NFC (`is_nfc_quick` says Yes).
pub const NFC_SAFE: u32 = 1 << 5;
/// Grapheme break property Other, Control or LF (not CR, Extend, ZWJ, SpacingMark, Prepend,
/// Regional_Indicator or a Hangul jamo or syllable): in a string made only of such characters
/// every character is one extended grapheme cluster (no rule of UAX #29 joins two of them).
pub const GRAPHEME_SINGLE: u32 = 1 << 6;
/// Word break property: UAX #29 puts a word boundary between a space and this character (it is
/// not Extend, Format, ZWJ or WSegSpace), whatever comes before the space.
pub const WORD_AFTER_SPACE: u32 = 1 << 7;
/// Word break property ALetter (not Hebrew_Letter), Numeric or ExtendNumLet, and not whitespace:
/// any run of such characters is one word segment (rules WB5, WB8 to WB10, WB13a, WB13b), and
/// it has a boundary before a space, a newline, or a [`WORD_EDGE`] character.
pub const WORD_CORE: u32 = 1 << 8;
/// Not a letter, digit or whitespace, with word break property Other, MidLetter, MidNum,
/// MidNumLet, Single_Quote or Double_Quote: between such characters and a run of
/// [`WORD_CORE`] ones at the ends of a space-separated token there are boundaries, and the
/// segments they form hold no letter or digit.
pub const WORD_EDGE: u32 = 1 << 9;
/// Grapheme break property Extend (but not ZWJ and not an Indic conjunct linker) or
/// SpacingMark: never a boundary before it (rules GB9, GB9a) except after a control character,
/// CR or LF and at the start; and it never joins what follows.
pub const GRAPHEME_ATTACH: u32 = 1 << 12;
/// A [`GRAPHEME_SINGLE`] character with grapheme break property Control or LF: a boundary
/// always follows it (GB4), even before a mark.
pub const GRAPHEME_CONTROL: u32 = 1 << 13;
/// Word break property Extend or Format (not ZWJ, not whitespace): ignored inside a word (WB4),
/// so letters with such characters among them stay one word.
pub const WORD_INNER: u32 = 1 << 14;
/// NFC quick check No (`unicode_normalization`'s `qc_nfc`).
const NFC_QC_NO: u32 = 1 << 10;
/// NFC quick check Maybe.
const NFC_QC_MAYBE: u32 = 1 << 11;
/// The table entry has been computed.
const DONE: u32 = 1 << 15;
/// Canonical combining class, in bits 16 to 23.
const CCC_SHIFT: u32 = 16;

/// Grapheme break category Other, Control or LF, found by asking the segmenter: such a character
/// breaks from an ASCII letter on both sides, from itself, from the Hangul vowel and trailing
/// jamo (which join L, V, T, LV and LVT before them) and from a line feed (which joins a CR).
fn grapheme_single(c: char) -> bool {
    let c = c.to_string();
    [
        format!("a{c}"),
        format!("{c}a"),
        format!("{c}{c}"),
        format!("{c}\u{1161}"),
        format!("{c}\u{11a8}"),
        format!("{c}\n"),
    ]
    .iter()
    .all(|s| s.graphemes(true).count() == 2)
}

/// The word break classes above, found by asking the segmenter: `" c"` has a boundary (c is not
/// Extend, Format, ZWJ or WSegSpace); then `"ac"` and `"ca"` without boundary make c ALetter,
/// Hebrew_Letter, Numeric or ExtendNumLet, and a boundary in `"c'"` rules out Hebrew_Letter
/// (WB7a); a boundary in `"ac"` and in `"cc"` leaves Other, the Mid classes and the quotes
/// (Katakana, Regional_Indicator and WSegSpace join themselves).
fn word_classes(c: char) -> u32 {
    let segs = |s: String| s.split_word_bounds().count();
    if segs(format!(" {c}")) != 2 {
        // Extend, Format, ZWJ or WSegSpace: inner when it is none of the last two and stays
        // inside a word.
        let inner = c != '\u{200d}' && !c.is_whitespace() && segs(format!("a{c}a")) == 1;
        return if inner { WORD_INNER } else { 0 };
    }
    let mut p = WORD_AFTER_SPACE;
    if c.is_whitespace() {
        return p;
    }
    let with_a = segs(format!("a{c}"));
    if with_a == 1 && segs(format!("{c}a")) == 1 && segs(format!("{c}'")) == 2 {
        p |= WORD_CORE;
    }
    if with_a == 2 && segs(format!("{c}{c}")) == 2 && !c.is_alphanumeric() {
        p |= WORD_EDGE;
    }
    p
}

/// [`GRAPHEME_ATTACH`] and [`GRAPHEME_CONTROL`], found by asking the segmenter: an attaching
/// character joins a letter before it, not one after it, does not join two emoji (ZWJ does,
/// GB11) nor two Devanagari consonants (a conjunct linker does, GB9c).
fn grapheme_classes(c: char, single: bool) -> u32 {
    let count = |s: String| s.graphemes(true).count();
    if single {
        return if count(format!("{c}\u{301}")) == 2 {
            GRAPHEME_CONTROL
        } else {
            0
        };
    }
    if count(format!("a{c}")) == 1
        && count(format!("{c}a")) == 2
        && count(format!("\u{1f600}{c}\u{1f600}")) == 2
        && count(format!("\u{915}{c}\u{915}")) == 2
    {
        GRAPHEME_ATTACH
    } else {
        0
    }
}

/// Every property of one character, computed.
pub fn compute(c: char) -> u32 {
    let mut p = DONE;
    if c.is_alphabetic() {
        p |= ALPHA;
    }
    if c.is_numeric() {
        p |= NUMERIC;
    }
    if c.is_whitespace() {
        p |= SPACE;
    }
    if is_combining_mark(c) {
        p |= MARK;
    }
    let mut lower = c.to_lowercase();
    if lower.next() == Some(c) && lower.next().is_none() {
        p |= LOWER_SELF;
    }
    // For one character the quick check is its NFC_QC property (no ordering to check).
    let ccc = canonical_combining_class(c);
    let qc = if c.is_ascii() {
        IsNormalized::Yes
    } else {
        is_nfc_quick(std::iter::once(c))
    };
    match qc {
        IsNormalized::Yes if ccc == 0 => p |= NFC_SAFE,
        IsNormalized::Yes => {}
        IsNormalized::No => p |= NFC_QC_NO,
        IsNormalized::Maybe => p |= NFC_QC_MAYBE,
    }
    p |= (ccc as u32) << CCC_SHIFT;
    let single = grapheme_single(c);
    if single {
        p |= GRAPHEME_SINGLE;
    }
    p | grapheme_classes(c, single) | word_classes(c)
}

/// One entry per code point, zero until computed (4 MiB of zeroed memory, of which only the pages
/// of the scripts met are ever touched).
static TABLE: [AtomicU32; 0x11_0000] = [const { AtomicU32::new(0) }; 0x11_0000];

/// The properties of `c` (bit set of the constants above).
#[inline]
pub fn props(c: char) -> u32 {
    let slot = &TABLE[c as usize];
    // Racing threads compute the same value; a relaxed load and store are enough.
    let v = slot.load(Ordering::Relaxed);
    if v != 0 {
        return v;
    }
    let v = compute(c);
    slot.store(v, Ordering::Relaxed);
    v
}

/// Whether `c` has every bit of `mask`.
#[inline]
pub fn has(c: char, mask: u32) -> bool {
    props(c) & mask == mask
}

/// `quality::is_punct`: not a letter, digit, mark or whitespace.
#[inline]
pub fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        return !c.is_ascii_alphanumeric() && !c.is_ascii_whitespace() && c != '\u{0b}';
    }
    props(c) & (ALPHA | NUMERIC | SPACE | MARK) == 0
}

/// `char::is_alphabetic`.
#[inline]
pub fn is_alphabetic(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    props(c) & ALPHA != 0
}

/// `char::is_whitespace`.
#[inline]
pub fn is_whitespace(c: char) -> bool {
    if c.is_ascii() {
        return matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r');
    }
    props(c) & SPACE != 0
}

/// `is_combining_mark`.
#[inline]
pub fn is_mark(c: char) -> bool {
    !c.is_ascii() && props(c) & MARK != 0
}

/// The number of extended grapheme clusters of `s` (`s.graphemes(true).count()`).
pub fn grapheme_count(s: &str) -> usize {
    char_and_grapheme_count(s).1
}

/// `s.chars().count()` and `s.graphemes(true).count()`. When every character is a grapheme of
/// its own or an attaching mark, a grapheme starts at each character of the first kind and at
/// each mark at the start or after a control character; otherwise the segmenter counts.
pub fn char_and_grapheme_count(s: &str) -> (usize, usize) {
    let (mut chars, mut graphemes) = (0usize, 0usize);
    // Whether a boundary falls before the next character whatever it is.
    let mut after_break = true;
    for c in s.chars() {
        chars += 1;
        if c.is_ascii() {
            if c == '\r' {
                return (s.chars().count(), s.graphemes(true).count());
            }
            graphemes += 1;
            after_break = c < ' ' || c == '\u{7f}';
            continue;
        }
        let p = props(c);
        if p & GRAPHEME_SINGLE != 0 {
            graphemes += 1;
            after_break = p & GRAPHEME_CONTROL != 0;
        } else if p & GRAPHEME_ATTACH != 0 {
            graphemes += after_break as usize;
            after_break = false;
        } else {
            return (s.chars().count(), s.graphemes(true).count());
        }
    }
    (chars, graphemes)
}

/// Append the lower case of `c` to `out` (`out.extend(c.to_lowercase())`).
#[inline]
pub fn push_lower(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else if props(c) & LOWER_SELF != 0 {
        out.push(c);
    } else {
        out.extend(c.to_lowercase());
    }
}

/// `text.to_lowercase()`.
pub fn to_lowercase(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    lowercase_into(text, &mut out);
    out
}

/// [`to_lowercase`] into `out` (cleared first), so that a buffer can be reused.
pub fn lowercase_into(text: &str, out: &mut String) {
    out.clear();
    out.reserve(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        // A run of ASCII, copied and lower-cased in place.
        let n = rest
            .bytes()
            .position(|b| !b.is_ascii())
            .unwrap_or(rest.len());
        if n > 0 {
            let start = out.len();
            out.push_str(&rest[..n]);
            out[start..].make_ascii_lowercase();
            rest = &rest[n..];
        }
        let mut it = rest.chars();
        let Some(c) = it.next() else { break };
        if c == 'Σ' {
            // Final sigma depends on context: leave it to the standard library.
            out.clear();
            out.push_str(&text.to_lowercase());
            return;
        }
        push_lower(out, c);
        rest = it.as_str();
    }
}

/// `is_nfc_quick(s.chars()) == IsNormalized::Yes`: the same loop as `unicode_normalization`'s
/// quick check (combining classes in canonical order, no character with NFC_QC No or Maybe),
/// with the properties from the table.
pub fn is_nfc_quick_yes(s: &str) -> bool {
    if s.is_ascii() {
        return true;
    }
    let mut last_cc = 0u32;
    for ch in s.chars() {
        if ch.is_ascii() {
            last_cc = 0;
            continue;
        }
        let p = props(ch);
        let cc = (p >> CCC_SHIFT) & 0xff;
        if last_cc > cc && cc != 0 {
            return false;
        }
        if p & (NFC_QC_NO | NFC_QC_MAYBE) != 0 {
            return false;
        }
        last_cc = cc;
    }
    true
}

/// The NFC form of `s` (`s.nfc()`), borrowed when `s` is NFC already.
///
/// Only the stretches the quick check does not pass are normalised: each from the last
/// [`NFC_SAFE`] character before a character that fails it (NFC_QC No or Maybe, or a combining
/// class out of canonical order) to the next `NFC_SAFE` character after it. Such a character
/// (combining class 0, NFC_QC Yes) neither composes with nor reorders against what precedes it,
/// so the NFC of the text is the NFC of the stretches between them, joined (UAX #15, stable code
/// points). A text in a script with many combining marks thus costs a table lookup per
/// character and a normaliser run only where a mark may compose.
pub fn to_nfc(s: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    use unicode_normalization::UnicodeNormalization;
    if s.is_ascii() {
        return Cow::Borrowed(s);
    }
    let mut out: Option<String> = None;
    // Bytes of `s` before this are in `out` (when there is one).
    let mut copied = 0usize;
    // Start of the last NFC_SAFE character seen (or of the text).
    let mut safe = 0usize;
    let mut last_cc = 0u32;
    let mut it = s.char_indices();
    while let Some((i, ch)) = it.next() {
        let p = if ch.is_ascii() { NFC_SAFE } else { props(ch) };
        let cc = (p >> CCC_SHIFT) & 0xff;
        if p & (NFC_QC_NO | NFC_QC_MAYBE) == 0 && !(last_cc > cc && cc != 0) {
            if p & NFC_SAFE != 0 {
                safe = i;
            }
            last_cc = cc;
            continue;
        }
        // A stretch to normalise: from `safe` to the next NFC_SAFE character (or the end).
        let mut end = s.len();
        for (j, c) in it.by_ref() {
            if c.is_ascii() || props(c) & NFC_SAFE != 0 {
                end = j;
                break;
            }
        }
        let stretch = &s[safe..end];
        let norm: String = stretch.nfc().collect();
        if norm != stretch {
            let o = out.get_or_insert_with(|| String::with_capacity(s.len() + 8));
            o.push_str(&s[copied..safe]);
            o.push_str(&norm);
            copied = end;
        }
        // The NFC_SAFE character at `end` starts afresh.
        safe = end;
        last_cc = 0;
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut o) => {
            o.push_str(&s[copied..]);
            Cow::Owned(o)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_as_the_functions_it_caches() {
        for u in (0..0x3_0000u32).chain(0xe_0000..0xe_0200) {
            let Some(c) = char::from_u32(u) else { continue };
            assert_eq!(is_alphabetic(c), c.is_alphabetic(), "{u:x}");
            assert_eq!(is_whitespace(c), c.is_whitespace(), "{u:x}");
            assert_eq!(is_mark(c), is_combining_mark(c), "{u:x}");
            assert_eq!(
                is_punct(c),
                !c.is_alphanumeric() && !c.is_whitespace() && !is_combining_mark(c),
                "{u:x}"
            );
            let mut s = String::new();
            push_lower(&mut s, c);
            assert_eq!(s, c.to_lowercase().collect::<String>(), "{u:x}");
        }
    }

    #[test]
    fn grapheme_counts() {
        let cases = [
            "Ḓivhani ṱhoho ḽa ṅwana ṋe",
            "d\u{32d}ivha",
            "नमस्ते दुनिया",
            "क्षि",
            "🇿🇦🇿🇦🇿",
            "👩\u{200d}👩\u{200d}👧",
            "한국어 \u{1100}\u{1161}\u{11a8}",
            "a\r\nb\rc\n",
            "ก่อน สำหรับ",
            "\u{600}1 \u{0d4e}ക",
            "Vhathu привет 你好 مرحبا",
            "\u{301}a\n\u{301}\u{301}b\u{7}\u{301}",
            "مَرْحَبًا שָׁלוֹם বাংলা தமிழ் ไทย",
        ];
        for s in cases {
            assert_eq!(grapheme_count(s), s.graphemes(true).count(), "{s:?}");
        }
        // Every pair of BMP characters from a sample of each block.
        let sample: Vec<char> = (0..0x1_0000u32)
            .step_by(97)
            .chain([
                0x0d, 0x0a, 0x200d, 0x1f1ff, 0x1f1e6, 0x1100, 0x1161, 0x11a8, 0xac00,
            ])
            .filter_map(char::from_u32)
            .collect();
        let mut s = String::new();
        for &a in &sample {
            for &b in sample.iter().step_by(7) {
                s.clear();
                s.push(a);
                s.push(b);
                s.push(a);
                assert_eq!(grapheme_count(&s), s.graphemes(true).count(), "{s:?}");
            }
        }
    }

    #[test]
    fn lower_and_nfc() {
        for s in ["ΣΑΣ Σ", "İstanbul", "ẞ Kelvin K", "Ḓivhani"] {
            assert_eq!(to_lowercase(s), s.to_lowercase());
        }
        for s in [
            "e\u{301}",
            "é",
            "ḓ",
            "d\u{32d}",
            "\u{f900}",
            "a\u{301}\u{316}",
            "a\u{316}\u{301}",
            "क\u{94d}\u{93c}",
            "\u{1100}\u{1161}",
            "\u{340}",
        ] {
            assert_eq!(
                is_nfc_quick_yes(s),
                is_nfc_quick(s.chars()) == IsNormalized::Yes,
                "{s:?}"
            );
        }
    }

    /// `to_nfc` against the normaliser, for every code point in contexts where it may compose,
    /// decompose or reorder.
    #[test]
    fn to_nfc_every_code_point_in_context() {
        use unicode_normalization::UnicodeNormalization;
        let contexts: [(&str, &str); 10] = [
            ("", ""),
            ("a", ""),
            ("", "\u{301}"),
            ("", "\u{316}\u{301}"),
            ("e\u{300}", "\u{300}"),
            ("\u{1100}", "\u{1161}"),
            ("\u{ac00}", "\u{11a8}"),
            ("\u{304b}", "\u{3099}"),
            ("\u{9c7}", "\u{9be}"),
            ("ṱ", "\u{32d}a\u{301}"),
        ];
        let mut s = String::new();
        for u in (0..0x3_0000u32).chain(0xe_0000..0xe_0200) {
            let Some(c) = char::from_u32(u) else { continue };
            for (before, after) in contexts {
                s.clear();
                s.push_str(before);
                s.push(c);
                s.push_str(after);
                let expect: String = s.nfc().collect();
                let got = to_nfc(&s);
                assert_eq!(got, expect, "{s:?}");
                assert_eq!(
                    matches!(got, std::borrow::Cow::Borrowed(_)),
                    expect == s,
                    "{s:?}"
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Texts dense in characters that compose, decompose or reorder.
        #[test]
        fn to_nfc_as_the_normaliser(
            v in proptest::collection::vec(proptest::sample::select(
                "ae AEkK ṱḓ\u{301}\u{300}\u{316}\u{32d}\u{323}\u{340}\u{344}\u{f73}\u{f71}\u{f72}\u{915}\u{93c}\u{94d}\u{9c7}\u{9be}\u{9d7}\u{b47}\u{b3e}\u{cc6}\u{cd5}\u{dd9}\u{dca}\u{1025}\u{102e}\u{1100}\u{1161}\u{11a8}\u{ac00}\u{304b}\u{3099}\u{212b}\u{2126}\u{f900}\u{1d15e}\u{1d165}\u{5b8}\u{5b4}\u{64e}\u{650}\u{e48}\u{e38}\u{1ec7}\u{1ebf}"
                    .chars()
                    .collect::<Vec<char>>(),
            ), 0..40)
        ) {
            use unicode_normalization::UnicodeNormalization;
            let s: String = v.into_iter().collect();
            let expect: String = s.nfc().collect();
            let got = to_nfc(&s);
            proptest::prop_assert_eq!(got.as_ref(), expect.as_str(), "{:?}", s);
            proptest::prop_assert_eq!(matches!(got, std::borrow::Cow::Borrowed(_)), expect == s);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        #[test]
        fn same_as_the_crates_on_strings(
            v in proptest::collection::vec(proptest::sample::select(
                "aAzZ ΣσΑİẞ\u{212a}ḓḒé\u{301}\u{316}\u{32d}\u{340}\u{344}\u{93c}\u{94d}\u{93e}\u{9cd}क\u{1100}\u{1161}\u{11a8}가\u{f900}\u{2126}\u{e33}\u{e31}\u{e40}\u{102b}\u{64e}\u{5b8}\u{600}\u{d4e}🇿😀\u{1f3fd}\u{fe0f}\u{200d}\u{200c}\u{7}\u{ad}\u{2028}\r\n"
                    .chars()
                    .collect::<Vec<char>>(),
            ), 0..24)
        ) {
            let s: String = v.into_iter().collect();
            proptest::prop_assert_eq!(to_lowercase(&s), s.to_lowercase());
            proptest::prop_assert_eq!(is_nfc_quick_yes(&s), is_nfc_quick(s.chars()) == IsNormalized::Yes);
            {
                use unicode_normalization::UnicodeNormalization;
                let expect: String = s.nfc().collect();
                let got = to_nfc(&s);
                proptest::prop_assert_eq!(got.as_ref(), expect.as_str(), "{:?}", s);
                proptest::prop_assert_eq!(matches!(got, std::borrow::Cow::Borrowed(_)), expect == s);
            }
            proptest::prop_assert_eq!(grapheme_count(&s), s.graphemes(true).count());
        }
    }
}
