//! Text primitives of ingestion: normalisation, sentence splitting and document ids.

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// Normalise text: Unicode NFC, then whitespace folding.
///
/// Every run of whitespace (`char::is_whitespace`: spaces, tabs, newlines, no-break and other
/// Unicode spaces) becomes one ASCII space, and leading and trailing whitespace is removed.
/// Nothing else is touched: letters, digits, punctuation and combining marks stay (Venda's
/// ḓ ḽ ṅ ṋ ṱ come out precomposed, whether they came in precomposed or decomposed). Idempotent:
/// `normalize(&normalize(s)) == normalize(s)`.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfc() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    // Folding never creates a composable pair (whitespace is a starter), so `out` is NFC; this
    // guard only costs a quick check.
    if unicode_normalization::is_nfc_quick(out.chars()) == unicode_normalization::IsNormalized::Yes
    {
        out
    } else {
        out.nfc().collect()
    }
}

/// Split text into sentences with Unicode sentence boundaries (UAX #29, `split_sentence_bounds`),
/// each trimmed of surrounding whitespace; empty pieces are dropped.
pub fn sentences(text: &str) -> Vec<&str> {
    text.split_sentence_bounds()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The stable id of a document: the first 16 hex digits of the sha256 of the corpus id, a NUL
/// byte and the normalised text.
///
/// The same text in the same corpus always gets the same id, on every machine and run; the text
/// is normalised first, so NFD and NFC spellings or different spacing of the same text share it.
pub fn document_id(corpus: &str, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(corpus.as_bytes());
    h.update([0u8]);
    h.update(normalize(text).as_bytes());
    hex(&h.finalize())[..16].to_string()
}

/// Lower-case hex sha256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VENDA_NFC: &str = "ḓ ḽ ṅ ṋ ṱ Ḓ Ḽ Ṅ Ṋ Ṱ";

    #[test]
    fn venda_letters_stay_precomposed() {
        assert_eq!(normalize(VENDA_NFC), VENDA_NFC);
        for c in ['ḓ', 'ḽ', 'ṅ', 'ṋ', 'ṱ'] {
            assert_eq!(normalize(&c.to_string()).chars().count(), 1);
        }
    }

    #[test]
    fn nfd_becomes_nfc() {
        // d + combining circumflex below, l + ..., n + dot above, n + ..., t + ...
        let nfd = "d\u{032D} l\u{032D} n\u{0307} n\u{032D} t\u{032D}";
        assert_eq!(normalize(nfd), "ḓ ḽ ṅ ṋ ṱ");
        let word: String = "Mulevhoguṱe".nfd().collect();
        assert_ne!(word, "Mulevhoguṱe");
        assert_eq!(normalize(&word), "Mulevhoguṱe");
    }

    #[test]
    fn whitespace_is_folded() {
        assert_eq!(
            normalize("  Vhathu\t\tvhoṱhe \n vha\u{00A0}bebwa\u{3000}\r\n"),
            "Vhathu vhoṱhe vha bebwa"
        );
        assert_eq!(normalize(" \n\t "), "");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn combining_marks_are_kept() {
        // A combining mark with no precomposed form stays as it is.
        assert_eq!(normalize("x\u{0331}"), "x\u{0331}");
        // Zero-width joiners are not whitespace and stay.
        assert_eq!(normalize("a\u{200D}b"), "a\u{200D}b");
    }

    #[test]
    fn sentences_are_split_and_trimmed() {
        let s = sentences("Vhathu vhoṱhe vha bebwa. Muthu muṅwe na muṅwe u na pfanelo!  Hai?");
        assert_eq!(
            s,
            vec![
                "Vhathu vhoṱhe vha bebwa.",
                "Muthu muṅwe na muṅwe u na pfanelo!",
                "Hai?"
            ]
        );
        assert!(sentences("   ").is_empty());
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = document_id("udhr-ven", "Tshiteṅwa 1");
        assert_eq!(a, document_id("udhr-ven", "Tshiteṅwa 1"));
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        // Pinned: the id must never change across versions and machines.
        assert_eq!(a, &sha256_hex("udhr-ven\0Tshiteṅwa 1".as_bytes())[..16]);
        // Normalisation first: NFD and extra spaces give the same id.
        let nfd: String = "Tshiteṅwa   1".nfd().collect();
        assert_eq!(a, document_id("udhr-ven", &nfd));
        assert_ne!(a, document_id("udhr-ven", "Tshiteṅwa 2"));
        assert_ne!(a, document_id("udhr-zul", "Tshiteṅwa 1"));
        // The NUL separator keeps (corpus, text) pairs apart.
        assert_ne!(document_id("ab", "c"), document_id("a", "bc"));
    }

    #[test]
    fn sha256_of_empty() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    fn without_whitespace_nfd(s: &str) -> String {
        s.nfd().filter(|c| !c.is_whitespace()).collect()
    }

    fn text_strategy() -> impl Strategy<Value = String> {
        let pool = prop::sample::select(vec![
            'a', 'd', 'l', 'n', 't', 'V', 'ḓ', 'ḽ', 'ṅ', 'ṋ', 'ṱ', 'é', '1', '.', '?', '\u{032D}',
            '\u{0307}', '\u{0301}', '\u{0323}', '\u{0331}', '\u{200D}', ' ', ' ', '\t', '\n', '\r',
            '\u{00A0}', '\u{2000}', '\u{2003}', '\u{3000}', '\u{1E13}',
        ]);
        prop_oneof![
            prop::collection::vec(pool, 0..40).prop_map(|v| v.into_iter().collect()),
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent(s in text_strategy()) {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once.clone());
            prop_assert!(unicode_normalization::is_nfc(&once));
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
            prop_assert!(once.chars().all(|c| c == ' ' || !c.is_whitespace()));
        }

        #[test]
        fn normalize_keeps_every_letter_and_mark(s in text_strategy()) {
            // Up to canonical equivalence, only whitespace may change.
            prop_assert_eq!(without_whitespace_nfd(&normalize(&s)), without_whitespace_nfd(&s));
        }

        #[test]
        fn document_id_ignores_normalisation(s in text_strategy()) {
            prop_assert_eq!(document_id("c", &s), document_id("c", &normalize(&s)));
        }
    }
}
