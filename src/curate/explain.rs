//! `synthcorpus explain FILTER`: what a filter checks, its parameters, and a worked example.

use std::sync::Arc;

use super::profiles::{describe_alphabet, Profile};
use super::quality::{QualityAnnotator, QualityCheck, QualityFilter};
use super::runner::{Annotator, Filter, Sample};
use super::CurateConfig;

/// Every filter `explain` knows, in pipeline order.
pub const FILTERS: &[&str] = &[
    "read",
    "normalize",
    "exact_dedup",
    "length",
    "charset",
    "repetition",
    "word_length",
    "alpha_words",
    "symbols",
    "line_punct",
    "new_lines",
    "list_lines",
    "punctuation",
    "stopwords",
    "lid",
    "leak",
    "near_dedup",
];

fn quality_example(check: QualityCheck) -> &'static str {
    match check {
        QualityCheck::Length => "Ndaa.",
        QualityCheck::Charset => "Vhathu vhoṱhe vha бебwа vhe na мбофхолово.",
        QualityCheck::Repetition => {
            "vhathu vha vhathu vha vhathu vha vhathu vha vhathu vha vhathu vha vhathu vha"
        }
        QualityCheck::WordLength => {
            "Mulevhoguṱevhapfanelodzavhuthuvhoṱhe na mbofholowoyavhathuvhoṱhekhashango."
        }
        QualityCheck::AlphaWords => "1 2 3 4 5 6 7 8 9 10 vha na",
        QualityCheck::Symbols => "# vha # na # u # kha # ndi # ya # zwi #",
        QualityCheck::LinePunct => "vhathu vha na pfanelo\nmuthu u na tshirunzi\nvha a tshila",
        QualityCheck::NewLines => "vha\nna\nu\nkha\nndi\nya",
        QualityCheck::ListLines => {
            "- vhathu vha na pfanelo\n- muthu u na tshirunzi\n- vha a tshila zwavhuḓi"
        }
        QualityCheck::Punctuation => "vha!!! na??? u... kha;;; ndi::: ya,,, (zwi) [hu] {ha}",
        QualityCheck::Stopwords => "The quick brown fox jumps over the lazy dog every morning.",
    }
}

fn quality_text(check: QualityCheck, p: &Profile) -> (String, Vec<(String, String)>) {
    let f = |x: f64| format!("{x}");
    let params: Vec<(String, String)> = match check {
        QualityCheck::Length => vec![
            (
                "length.min_graphemes".into(),
                p.length.min_graphemes.to_string(),
            ),
            (
                "length.max_graphemes".into(),
                p.length.max_graphemes.to_string(),
            ),
            ("length.min_words".into(), p.length.min_words.to_string()),
            ("length.max_words".into(), p.length.max_words.to_string()),
        ],
        QualityCheck::Charset => vec![
            ("charset.min_purity".into(), f(p.charset.min_purity)),
            ("charset.letters".into(), describe_alphabet(p)),
        ],
        QualityCheck::Repetition => vec![
            (
                "repetition.dup_line_frac".into(),
                f(p.repetition.dup_line_frac),
            ),
            (
                "repetition.top_n_grams".into(),
                format!("{:?}", p.repetition.top_n_grams),
            ),
            (
                "repetition.dup_n_grams".into(),
                format!("{:?}", p.repetition.dup_n_grams),
            ),
        ],
        QualityCheck::WordLength => vec![
            (
                "words.min_avg_word_length".into(),
                f(p.words.min_avg_word_length),
            ),
            (
                "words.max_avg_word_length".into(),
                f(p.words.max_avg_word_length),
            ),
        ],
        QualityCheck::AlphaWords => vec![(
            "words.min_alpha_words_ratio".into(),
            f(p.words.min_alpha_words_ratio),
        )],
        QualityCheck::Symbols => vec![(
            "words.max_symbol_word_ratio".into(),
            f(p.words.max_symbol_word_ratio),
        )],
        QualityCheck::LinePunct => vec![("lines.line_punct_thr".into(), f(p.lines.line_punct_thr))],
        QualityCheck::NewLines => vec![("lines.new_line_ratio".into(), f(p.lines.new_line_ratio))],
        QualityCheck::ListLines => vec![
            (
                "lines.max_bullet_lines_ratio".into(),
                f(p.lines.max_bullet_lines_ratio),
            ),
            (
                "lines.max_ellipsis_lines_ratio".into(),
                f(p.lines.max_ellipsis_lines_ratio),
            ),
        ],
        QualityCheck::Punctuation => vec![(
            "lines.max_punctuation_ratio".into(),
            f(p.lines.max_punctuation_ratio),
        )],
        QualityCheck::Stopwords => vec![
            (
                "stopwords.min_stop_words".into(),
                p.stopwords.min_stop_words.to_string(),
            ),
            ("stopwords.words".into(), p.stopwords.words.join(" ")),
        ],
    };
    let what = match check {
        QualityCheck::Length => "Length bounds, counted in grapheme clusters and whitespace-separated words. Reasons: too_short, too_long.",
        QualityCheck::Charset => "Character-set purity: the share of letters (a letter with its combining marks, as one grapheme) that belong to the target alphabet; catches stray scripts and look-alike letters. Reason: charset_purity.",
        QualityCheck::Repetition => "Gopher repetition: share of lines repeating an earlier line; share of characters covered by the most frequent word n-gram (n = 2..4); share of characters in word n-grams repeating an earlier one (n = 5..10). Reasons: dup_line_frac, top_{n}_gram, dup_{n}_gram.",
        QualityCheck::WordLength => "Mean word length in graphemes, punctuation stripped. Reasons: avg_word_length_low, avg_word_length_high.",
        QualityCheck::AlphaWords => "Share of words that hold at least one letter (FineWeb-2's max_non_alpha_words_ratio). Reason: alpha_words_ratio.",
        QualityCheck::Symbols => "Gopher symbol ratio: `#` and ellipses per word. Reason: symbol_word_ratio.",
        QualityCheck::LinePunct => "FineWeb: share of lines ending in sentence punctuation (0 disables). Reason: line_punct_ratio.",
        QualityCheck::NewLines => "FineWeb: newlines per word (lists and fragments). Reason: new_line_ratio.",
        QualityCheck::ListLines => "Gopher: share of lines starting with a bullet, share ending with an ellipsis. Reasons: bullet_lines_ratio, ellipsis_lines_ratio.",
        QualityCheck::Punctuation => "Share of non-space characters that are punctuation or symbols. Reason: punctuation_ratio.",
        QualityCheck::Stopwords => "Gopher stopword presence, with the target language's stopwords (never English's unless the target is English). Reason: too_few_stopwords.",
    };
    (what.to_string(), params)
}

/// The explanation of a filter for a configuration and profile, or `None` for an unknown name.
pub fn explain(name: &str, cfg: &CurateConfig, p: &Profile) -> Option<String> {
    let mut out = String::new();
    let push_params = |out: &mut String, params: &[(String, String)]| {
        out.push_str("parameters:\n");
        for (k, v) in params {
            out.push_str(&format!("  {k} = {v}\n"));
        }
    };
    if let Some(check) = QualityCheck::from_name(name) {
        let (what, params) = quality_text(check, p);
        out.push_str(&format!(
            "{name} (stage quality, profile {} {})\n\n{what}\n\n",
            p.lang, p.name
        ));
        push_params(&mut out, &params);
        let example = quality_example(check);
        let profile = Arc::new(p.clone());
        let mut s = Sample::from_text(example, "example", 1);
        QualityAnnotator::new(profile.clone()).annotate(&mut s);
        let verdict = match QualityFilter::new(check, profile).check(&s) {
            Some(r) => format!("dropped: {} ({})", r.reason, r.detail),
            None => "kept".into(),
        };
        out.push_str(&format!(
            "\nexample:\n  text: {example:?}\n  verdict: {verdict}\n"
        ));
        return Some(out);
    }
    let (what, params, example): (&str, Vec<(String, String)>, &str) = match name {
        "read" => (
            "Every non-blank input line must be a record: valid UTF-8; for JSONL, a JSON object whose text field is a string. Invalid lines are reported with file and line, written to rejects.jsonl with the raw line, and counted (or stop the run with on_malformed = fail). Reasons: invalid_utf8, malformed_json, not_an_object, missing_text.",
            vec![
                ("text_field".into(), cfg.text_field.clone()),
                ("id_field".into(), cfg.id_field.clone()),
                ("on_malformed".into(), format!("{:?}", cfg.on_malformed).to_lowercase()),
            ],
            "{\"id\": \"a\", \"txt\": \"...\"}  ->  dropped: missing_text (no `text` field)",
        ),
        "normalize" => (
            "NFC (combining marks kept), whitespace folding (line breaks to \\n, at most one blank line, runs of spaces to one, control and zero-width junk removed), chat-template artefacts and leading role labels removed, prompt echo removed, and, for samples cut at the token limit (finish_reason = length; trim_incomplete = auto), trimming back to the last complete sentence. Reasons: empty, no_complete_sentence.",
            vec![
                ("normalize.trim_incomplete".into(), format!("{:?}", cfg.normalize.trim_incomplete).to_lowercase()),
                ("normalize.strip_prompt_echo".into(), cfg.normalize.strip_prompt_echo.to_string()),
                ("normalize.strip_chat_artifacts".into(), cfg.normalize.strip_chat_artifacts.to_string()),
                ("prompt_field".into(), cfg.prompt_field.clone()),
            ],
            "\"<start_of_turn>model\\nVhathu vhoṱhe vha bebwa vhe na mbofholowo. Vha na\" (finish_reason length)  ->  \"Vhathu vhoṱhe vha bebwa vhe na mbofholowo.\"",
        ),
        "exact_dedup" => (
            "Exact duplicates of the normalised text (128-bit seeded hash), against the seed documents first, then earlier samples in input order; the first occurrence survives. Reasons: exact_duplicate, exact_duplicate_of_seed.",
            vec![
                ("exact_dedup.enabled".into(), cfg.exact_dedup.enabled.to_string()),
                ("exact_dedup.against_seeds".into(), cfg.exact_dedup.against_seeds.to_string()),
            ],
            "two records with text \"Ndi matsheloni.\" and \"Ndi  matsheloni.\"  ->  the second is dropped: exact_duplicate, duplicate_of = the first's id",
        ),
        "near_dedup" => (
            "Near duplicates by MinHash-LSH over n-grams of words (or graphemes, for unspaced scripts), lower-cased, punctuation dropped. Seeds are indexed first, then samples in input order; a sample sharing any band with a seed or an earlier sample is dropped and names the earliest one (duplicate_of). Clusters are transitive. Reasons: near_duplicate, near_duplicate_of_seed.",
            vec![
                ("near_dedup.unit".into(), format!("{:?}", cfg.near_dedup.unit).to_lowercase()),
                ("near_dedup.ngram".into(), cfg.near_dedup.ngram.to_string()),
                ("near_dedup.bands".into(), cfg.near_dedup.bands.to_string()),
                ("near_dedup.rows".into(), cfg.near_dedup.rows.to_string()),
                ("num_hashes".into(), cfg.near_dedup.num_hashes().to_string()),
                ("threshold (1/bands)^(1/rows)".into(), format!("{:.4}", cfg.near_dedup.threshold())),
                ("near_dedup.against_seeds".into(), cfg.near_dedup.against_seeds.to_string()),
            ],
            "a 40-word paragraph and the same paragraph with its last word changed  ->  the second is dropped: near_duplicate",
        ),
        "lid" => (
            "Language identification through the LanguageIdentifier trait: keep a sample whose top language is the target with at least the minimum score. Skipped (and reported so in curate.json) when no identifier is given. Reasons: lid_wrong_language, lid_low_score, lid_no_opinion.",
            vec![
                ("lang".into(), cfg.lang.clone()),
                ("lid.min_score".into(), cfg.lid.min_score.unwrap_or(p.lid.min_score).to_string()),
            ],
            "\"The quick brown fox.\" identified as eng (0.97), target ven  ->  dropped: lid_wrong_language",
        ),
        "leak" => (
            "Source-leak protection: a hash index of the seed corpora's word n-grams; per sample the share of its n-grams found in the seeds and the longest run of words whose every n-gram is in the seeds (the longest verbatim span). Skipped when there are no seeds. Reasons: leak_span, leak_ngram_share.",
            vec![
                ("leak.ngram".into(), cfg.leak.ngram.to_string()),
                ("leak.max_span_words".into(), cfg.leak.max_span_words.to_string()),
                ("leak.max_ngram_share".into(), cfg.leak.max_ngram_share.to_string()),
            ],
            "a sample quoting a 30-word UDHR article from the seed corpus  ->  dropped: leak_span",
        ),
        _ => return None,
    };
    out.push_str(&format!("{name}\n\n{what}\n\n"));
    push_params(&mut out, &params);
    out.push_str(&format!("\nexample:\n  {example}\n"));
    Some(out)
}
