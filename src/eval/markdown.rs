//! The Markdown summary (`eval.md`) and the headline metrics shared by every rendering.

use serde_json::Value;

use super::suite::{interval, lookup};
use super::EvalReport;

/// Headline metrics: a label and a path relative to a subject's metrics (`metrics.synthetic`,
/// a breakdown's `metrics`, ...). Shared by `eval.md`, `report.html` and `synthcorpus compare`.
pub const HEADLINE: &[(&str, &str)] = &[
    ("documents", "documents"),
    ("distinct-1 (words)", "diversity.distinct_words.1"),
    ("distinct-2 (words)", "diversity.distinct_words.2"),
    ("distinct-4 (words)", "diversity.distinct_words.4"),
    (
        "distinct-2 (words), seed-sized sample",
        "diversity.matched.distinct_words.2",
    ),
    ("distinct-4 (characters)", "diversity.distinct_chars.4"),
    (
        "n-gram diversity (words, n=1..4)",
        "diversity.ngram_diversity",
    ),
    ("compression ratio (gzip)", "diversity.compression_ratio"),
    ("Self-BLEU (sampled)", "diversity.self_bleu.value"),
    (
        "self-repetition: documents",
        "diversity.self_repetition.documents_share",
    ),
    ("MATTR", "diversity.mattr"),
    ("vocabulary (word types)", "diversity.vocabulary.types"),
    ("Heaps' β", "diversity.vocabulary.heaps_beta"),
    (
        "word tokens not in the seed",
        "diversity.novel_words.token_share",
    ),
    (
        "LID: share identified as target",
        "fidelity.lid.target_share",
    ),
    (
        "LID: median target score",
        "fidelity.lid.target_score.median",
    ),
    (
        "word-list coverage: target",
        "fidelity.wordlist.target_coverage",
    ),
    (
        "word-list coverage: best neighbour",
        "fidelity.wordlist.best_neighbour_coverage",
    ),
    (
        "word list: target wins",
        "fidelity.wordlist.target_wins_share",
    ),
    (
        "letters in the seed alphabet",
        "fidelity.charset.seed_alphabet_share",
    ),
    (
        "special letters per 1,000",
        "fidelity.charset.special_letters_total",
    ),
    ("verbatim-copy rate", "leakage.verbatim_copy_rate"),
    ("contained in a seed document", "leakage.contained_rate"),
    (
        "longest shared span: median words",
        "leakage.longest_span_words.median",
    ),
    (
        "longest shared span: max words",
        "leakage.longest_span_words.max",
    ),
    ("word 4-gram overlap with seed", "leakage.ngram_overlap.4"),
    ("word 8-gram overlap with seed", "leakage.ngram_overlap.8"),
    ("DCR to seed: median", "leakage.dcr.to_seed.median"),
    (
        "DCR overfitting protection",
        "leakage.dcr.overfitting_protection",
    ),
    (
        "length: median graphemes",
        "likeness.graphemes.summary.median",
    ),
    ("length: median words", "likeness.words.summary.median"),
    (
        "length: median sentences",
        "likeness.sentences.summary.median",
    ),
    ("KS vs seed: graphemes", "likeness.graphemes.ks_vs_seed"),
    ("KS vs seed: words", "likeness.words.ks_vs_seed"),
    ("char 3-gram JSD vs seed", "likeness.char_jsd_vs_seed.3"),
];

/// Format a metric value for tables: integers plainly, other numbers with 4 decimals, absent as `–`.
pub fn fmt(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
        Some(x) => format!("{x:.4}"),
    }
}

/// Value of a headline path under `subject` (a JSON object).
pub fn get(subject: Option<&Value>, path: &str) -> Option<f64> {
    lookup(subject?, path)
}

/// A headline cell: the value at `path` under `subject`, followed by its 95% interval in brackets
/// when the report has one beside it (`<path>_interval`).
pub fn cell(subject: Option<&Value>, path: &str) -> String {
    let v = fmt(get(subject, path));
    match subject.and_then(|s| interval(s, path)) {
        Some([lo, hi]) => format!("{v} [{}–{}]", fmt(Some(lo)), fmt(Some(hi))),
        None => v,
    }
}

fn table_row(cells: &[String]) -> String {
    format!("| {} |\n", cells.join(" | "))
}

/// Render the Markdown summary.
pub fn render(r: &EvalReport) -> String {
    let j = r.to_json();
    let m = &j["metrics"];
    let mut out = String::new();
    out.push_str(&format!("# Evaluation: {}\n\n", r.inputs.corpus.path));
    out.push_str(&format!(
        "Language `{}` ({}); corpus `{}` ({}, {} documents); seed `{}` ({} documents); held-out {}.\n\n",
        r.lang,
        r.script,
        r.inputs.corpus.file,
        r.inputs.corpus.kind,
        r.inputs.corpus.documents,
        r.inputs.seed.path,
        r.inputs.seed.documents,
        r.inputs
            .heldout
            .as_ref()
            .map_or("none".to_string(), |h| format!("`{}` ({} documents)", h.path, h.documents)),
    ));
    out.push_str(&format!(
        "Language identifier: {}. Word lists: {}. {}\n\n",
        r.inputs
            .lid_model
            .as_deref()
            .unwrap_or("none (LID metrics absent)"),
        if r.inputs.wordlists.is_empty() {
            "none".to_string()
        } else {
            r.inputs.wordlists.join(", ")
        },
        r.tool
    ));
    if let Some(passed) = r.passed {
        out.push_str(&format!(
            "## Gates: {}\n\n",
            if passed { "PASSED" } else { "FAILED" }
        ));
        out.push_str("| gate | metric | value | condition | status |\n|---|---|---|---|---|\n");
        for g in &r.gates {
            out.push_str(&table_row(&[
                g.name.clone(),
                format!("`{}`", g.metric),
                fmt(g.value),
                g.condition.clone(),
                match &g.note {
                    Some(n) => format!("{} ({n})", g.status),
                    None => g.status.clone(),
                },
            ]));
        }
        out.push('\n');
    }
    out.push_str("## Synthetic beside real\n\n");
    out.push_str("| metric | synthetic | seed | held-out |\n|---|---:|---:|---:|\n");
    for (label, path) in HEADLINE {
        out.push_str(&table_row(&[
            label.to_string(),
            cell(m.get("synthetic"), path),
            cell(m.get("seed"), path),
            cell(m.get("heldout"), path),
        ]));
    }
    out.push('\n');
    if let Some(u) = &r.metrics.usefulness {
        out.push_str("## Usefulness: train on synthetic, test on real\n\n");
        out.push_str(&format!(
            "Character {}-gram model, per-character perplexity on the held-out split ({} characters); lower is better.\n\n",
            u.order, u.test_chars
        ));
        out.push_str("| trained on | characters | perplexity |\n|---|---:|---:|\n");
        out.push_str(&table_row(&[
            "(a) seed".into(),
            u.train_chars_seed.to_string(),
            fmt(u.perplexity_seed),
        ]));
        out.push_str(&table_row(&[
            format!(
                "(b) synthetic{}",
                if u.synthetic_sampled {
                    " (sampled)"
                } else {
                    ""
                }
            ),
            u.train_chars_synthetic.to_string(),
            fmt(u.perplexity_synthetic),
        ]));
        out.push_str(&table_row(&[
            "(c) seed + synthetic".into(),
            (u.train_chars_seed + u.train_chars_synthetic).to_string(),
            fmt(u.perplexity_combined),
        ]));
        out.push_str(&format!(
            "\n(c)/(a) = {}: the synthetic text {}.\n\n",
            fmt(u.combined_vs_seed),
            match u.helps {
                Some(true) => "helps",
                Some(false) => "does not help",
                None => "cannot be judged",
            }
        ));
    }
    for (dim, groups) in &j["breakdowns"].as_object().cloned().unwrap_or_default() {
        let Some(groups) = groups.as_object() else {
            continue;
        };
        out.push_str(&format!("## Per {dim}\n\n"));
        let names: Vec<&String> = groups.keys().collect();
        out.push_str(&format!(
            "| metric | {} | seed |\n|---|{}---:|\n",
            names
                .iter()
                .map(|n| n.replace('|', "\\|"))
                .collect::<Vec<_>>()
                .join(" | "),
            "---:|".repeat(names.len())
        ));
        let mut rows: Vec<(&str, String)> = HEADLINE
            .iter()
            .map(|(l, p)| (*l, format!("metrics.{p}")))
            .collect();
        rows.push((
            "perplexity, (c) seed + group",
            "usefulness.perplexity_combined".into(),
        ));
        for (label, path) in rows {
            let mut cells = vec![label.to_string()];
            for n in &names {
                cells.push(fmt(lookup(&groups[n.as_str()], &path)));
            }
            let seed_path = path.strip_prefix("metrics.").unwrap_or("");
            cells.push(if path == "usefulness.perplexity_combined" {
                fmt(get(m.get("usefulness"), "perplexity_seed"))
            } else {
                fmt(get(m.get("seed"), seed_path))
            });
            out.push_str(&table_row(&cells));
        }
        out.push('\n');
    }
    if !r.flags.is_empty() {
        out.push_str("## Flagged samples\n\n| flag | samples |\n|---|---:|\n");
        for (f, n) in &r.flags {
            out.push_str(&table_row(&[f.clone(), n.to_string()]));
        }
        out.push('\n');
    }
    if !r.notes.is_empty() {
        out.push_str("## Notes\n\n");
        for n in &r.notes {
            out.push_str(&format!("- {n}\n"));
        }
        out.push('\n');
    }
    out.push_str("Metric definitions: `evals/README.md`.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_carries_its_interval_when_the_report_has_one() {
        let s = serde_json::json!({
            "w": {"cov": 0.396396, "cov_interval": [0.276316, 0.509091], "other": 3.0}
        });
        assert_eq!(cell(Some(&s), "w.cov"), "0.3964 [0.2763–0.5091]");
        assert_eq!(cell(Some(&s), "w.other"), "3");
        assert_eq!(cell(Some(&s), "w.absent"), "–");
        assert_eq!(cell(None, "w.cov"), "–");
    }
}
