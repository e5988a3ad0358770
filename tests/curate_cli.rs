//! `synthcorpus curate` and `synthcorpus explain`: end-to-end runs of the binary on fixtures
//! (`tests/fixtures/curate/`), a snapshot of `curate.json`, and property tests of the library.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proptest::prelude::*;
use serde_json::Value;
use synthcorpus::curate::normalize::normalize_text;
use synthcorpus::curate::{CurateConfig, Curator, InputFormat, NormalizeConfig, Sample};

const FIX: &str = "tests/fixtures/curate";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn synthcorpus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synthcorpus"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("run synthcorpus")
}

fn curate(inputs: &[&str], out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["curate"];
    args.extend_from_slice(inputs);
    let out_s = out.to_str().unwrap().to_string();
    args.extend_from_slice(&["--out", &out_s]);
    args.extend_from_slice(extra);
    synthcorpus(&args)
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// id (or `line N` for lines without one) -> record, over kept and rejected.
fn by_id(out: &Path) -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    for f in ["samples.jsonl", "rejects.jsonl"] {
        for r in read_jsonl(&out.join(f)) {
            let key = match r.get("id").and_then(Value::as_str) {
                Some(id) => id.to_string(),
                None => format!("line {}", r["curation"]["source"]["line"]),
            };
            m.insert(key, r);
        }
    }
    m
}

fn reason(r: &Value) -> &str {
    r["curation"]["reason"].as_str().unwrap_or("kept")
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "status {:?}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn every_filter_drops_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = curate(&[&format!("{FIX}/mixed.jsonl")], &out, &[]);
    ok(&o);
    let m = by_id(&out);
    let expect = [
        ("ven-good", "kept"),
        ("ven-dup", "exact_duplicate"),
        ("ven-near", "near_duplicate"),
        ("ven-short", "too_short"),
        ("ven-cyrillic", "charset_purity"),
        ("ven-repeat", "dup_line_frac"),
        ("eng-under-ven", "too_few_stopwords"),
        ("ven-digits", "alpha_words_ratio"),
        ("ven-longwords", "avg_word_length_high"),
        ("ven-symbols", "symbol_word_ratio"),
        ("ven-newlines", "new_line_ratio"),
        ("ven-punct", "punctuation_ratio"),
        ("ven-chat", "kept"),
        ("ven-cut", "exact_duplicate"),
        ("ven-nosentence", "no_complete_sentence"),
        ("ven-echo", "exact_duplicate"),
        ("ven-empty", "empty"),
        // Unspaced Chinese is one "word": the length check (first) drops it.
        ("cmn-under-ven", "too_short"),
        ("line 6", "malformed_json"),
        ("line 10", "missing_text"),
        ("line 13", "not_an_object"),
    ];
    for (id, want) in expect {
        let r = m
            .get(id)
            .unwrap_or_else(|| panic!("{id} missing from outputs"));
        assert_eq!(reason(r), want, "{id}: {r}");
    }
    assert_eq!(m["ven-dup"]["curation"]["duplicate_of"], "ven-good");
    assert_eq!(m["ven-near"]["curation"]["duplicate_of"], "ven-good");
    // Chat markers gone; the cut sample was trimmed to the same text, the echo removed.
    let chat = m["ven-chat"]["text"].as_str().unwrap();
    assert!(!chat.contains("<start_of_turn>") && !chat.contains("<end_of_turn>"));
    assert_eq!(m["ven-cut"]["text"], m["ven-chat"]["text"]);
    assert_eq!(
        m["ven-cut"]["annotations"]["normalize"]["trimmed_to_sentence"],
        true
    );
    assert_eq!(
        m["ven-echo"]["annotations"]["normalize"]["prompt_echo_removed"],
        true
    );
    assert_eq!(m["ven-cut"]["curation"]["duplicate_of"], "ven-chat");
    // Other fields pass through untouched, in order.
    let good = m["ven-good"].as_object().unwrap();
    let keys: Vec<&str> = good.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["id", "text", "model", "prompt", "annotations", "curation"]
    );
    assert_eq!(good["prompt"]["text"], "Ṅwalani nga ha pfanelo dza vhathu.");
    // Zulu under the Venda profile is rejected by a quality filter.
    assert_eq!(m["zul-under-ven"]["curation"]["stage"], "quality");
    // A record without an id gets a content-derived one.
    let generated: Vec<&Value> = m
        .values()
        .filter(|r| r["curation"]["id_generated"] == true)
        .collect();
    assert_eq!(generated.len(), 1);
    assert!(generated[0]["id"].as_str().unwrap().starts_with("sha256:"));
    // Malformed lines are reported on stderr with file and line.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("mixed.jsonl:6: malformed_json"), "{err}");
}

#[test]
fn kept_plus_rejected_is_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    ok(&curate(&[&format!("{FIX}/mixed.jsonl")], &out, &[]));
    let input = std::fs::read_to_string(root().join(FIX).join("mixed.jsonl")).unwrap();
    let want: BTreeSet<usize> = input
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, _)| i + 1)
        .collect();
    let mut got = Vec::new();
    for f in ["samples.jsonl", "rejects.jsonl"] {
        for r in read_jsonl(&out.join(f)) {
            got.push(r["curation"]["source"]["line"].as_u64().unwrap() as usize);
        }
    }
    assert_eq!(got.len(), want.len());
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("curate.json")).unwrap()).unwrap();
    assert_eq!(report["totals"]["records"], want.len());
    assert_eq!(report["inputs"][0]["blank_lines"], 1);
    assert_eq!(report["inputs"][0]["malformed"], 3);
}

#[test]
fn curate_json_snapshot_and_determinism() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ok(&curate(
        &[&format!("{FIX}/mixed.jsonl")],
        &a,
        &["--no-timings"],
    ));
    ok(&curate(
        &[&format!("{FIX}/mixed.jsonl")],
        &b,
        &["--no-timings"],
    ));
    for f in ["samples.jsonl", "rejects.jsonl", "curate.json"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between runs"
        );
    }
    let mut report: Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("curate.json")).unwrap()).unwrap();
    report["tool"] = Value::String("[tool]".into());
    for s in report["stages"].as_array_mut().unwrap() {
        assert_eq!(s["seconds"], 0.0);
    }
    // The lid stage is reported as skipped, never silently absent.
    assert_eq!(report["stages"][4]["stage"], "lid");
    assert_eq!(report["stages"][4]["status"], "skipped");
    insta::assert_json_snapshot!("curate_mixed", report);
}

#[test]
fn tshivenda_text_passes_every_tshivenda_filter() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    ok(&curate(&[&format!("{FIX}/ven_pass.txt")], &out, &[]));
    let kept = read_jsonl(&out.join("samples.jsonl"));
    assert_eq!(
        kept.len(),
        1,
        "{:?}",
        read_jsonl(&out.join("rejects.jsonl"))
    );
    assert_eq!(kept[0]["annotations"]["quality"]["charset_purity"], 1.0);
}

#[test]
fn profiles_per_language_and_no_silent_english() {
    let dir = tempfile::tempdir().unwrap();
    for (file, lang, want) in [
        ("zul_pass.txt", "zul", "kept"),
        ("eng_pass.txt", "eng", "kept"),
        ("eng_pass.txt", "ven", "too_few_stopwords"),
        ("ven_pass.txt", "eng", "too_few_stopwords"),
    ] {
        let out = dir.path().join(format!("{file}-{lang}"));
        ok(&curate(
            &[&format!("{FIX}/{file}")],
            &out,
            &["--lang", lang],
        ));
        let m = by_id(&out);
        let r = m.values().next().unwrap();
        assert_eq!(reason(r), want, "{file} under {lang}: {r}");
    }
    // An unknown language is an error listing the profiles, not a fallback to English.
    let out = dir.path().join("xyz");
    let o = curate(&[&format!("{FIX}/ven_pass.txt")], &out, &["--lang", "xyz"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("xyz") && err.contains("ven") && err.contains("eng"),
        "{err}"
    );
    // Asking for English explicitly works, with a warning in curate.json.
    ok(&curate(
        &[&format!("{FIX}/eng_pass.txt")],
        &out,
        &["--lang", "xyz", "--profile", "eng"],
    ));
    let report = std::fs::read_to_string(out.join("curate.json")).unwrap();
    assert!(report.contains("because it was asked for"));
}

#[test]
fn source_leaks_and_seed_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    ok(&curate(
        &[&format!("{FIX}/leak.jsonl")],
        &out,
        &["--seed", &format!("{FIX}/seeds_ven.txt")],
    ));
    let m = by_id(&out);
    assert_eq!(reason(&m["leak-span"]), "leak_span", "{}", m["leak-span"]);
    assert_eq!(reason(&m["seed-copy"]), "exact_duplicate_of_seed");
    assert_eq!(reason(&m["fresh"]), "kept");
    assert!(
        m["leak-span"]["annotations"]["leak"]["longest_span_words"]
            .as_u64()
            .unwrap()
            >= 30
    );
}

#[test]
fn unspaced_script_near_duplicates_by_grapheme() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[curate]\n[curate.quality]\nenabled = false\n").unwrap();
    let out = dir.path().join("out");
    ok(&curate(
        &[&format!("{FIX}/cmn_near.txt")],
        &out,
        &["--unit", "grapheme", "--config", cfg.to_str().unwrap()],
    ));
    let rejects = read_jsonl(&out.join("rejects.jsonl"));
    assert_eq!(rejects.len(), 1);
    assert_eq!(reason(&rejects[0]), "near_duplicate");
}

#[test]
fn bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Fatal malformed lines: file and line named.
    let o = curate(
        &[&format!("{FIX}/mixed.jsonl")],
        &out,
        &["--on-malformed", "fail"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("mixed.jsonl:6"), "{err}");
    // Empty input.
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "\n\n").unwrap();
    let o = curate(&[empty.to_str().unwrap()], &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("empty input"));
    // Missing file.
    let o = curate(&["does/not/exist.jsonl"], &out, &[]);
    assert_ne!(o.status.code(), Some(0));
    // Unknown config key.
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[curate]\nnot_a_key = 1\n").unwrap();
    let o = curate(
        &[&format!("{FIX}/ven_pass.txt")],
        &out,
        &["--config", cfg.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn explain_filters() {
    let o = synthcorpus(&["explain", "charset"]);
    ok(&o);
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("charset_purity") && s.contains("ḓ") && s.contains("Ṱ"),
        "{s}"
    );
    let o = synthcorpus(&["explain"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("near_dedup"));
    for f in synthcorpus::curate::explain::FILTERS {
        ok(&synthcorpus(&["explain", f]));
    }
    assert_eq!(synthcorpus(&["explain", "nope"]).status.code(), Some(2));
}

fn text_strategy() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a",
        "B",
        " ",
        "  ",
        "\t",
        "\n",
        "\r\n",
        "\n\n\n",
        "\u{a0}",
        "\u{200b}",
        "ḓ",
        "d\u{32d}",
        "\u{32d}",
        "e\u{301}",
        "<end_of_turn>",
        "<start_of_turn>model",
        "<eos>",
        "Assistant:",
        ".",
        "!",
        "漢",
        "\u{feff}",
        "\u{7}",
        "ṱ",
        "<",
        ">",
        "end_of_turn",
    ]);
    prop::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
}

fn dedup_only() -> CurateConfig {
    let mut cfg = CurateConfig::default();
    cfg.quality.enabled = false;
    cfg.near_dedup.enabled = false;
    cfg
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn normalisation_is_idempotent(text in text_strategy()) {
        let c = NormalizeConfig::default();
        let once = normalize_text(&text, &c);
        prop_assert_eq!(normalize_text(&once, &c), once);
    }

    #[test]
    fn dedup_never_keeps_two_exact_duplicates(texts in prop::collection::vec(text_strategy(), 1..40)) {
        let mut curator = Curator::new(dedup_only(), &[], None).unwrap();
        let mut samples: Vec<Sample> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Sample::from_text(t, "prop", i + 1))
            .collect();
        curator.process(&mut samples);
        let kept: Vec<&str> = samples.iter().filter(|s| s.is_kept()).map(|s| s.text.as_str()).collect();
        let distinct: BTreeSet<&str> = kept.iter().copied().collect();
        prop_assert_eq!(kept.len(), distinct.len());
        // And every distinct non-empty normalised text survives once.
        let all: BTreeSet<String> = texts
            .iter()
            .map(|t| normalize_text(t, &NormalizeConfig::default()))
            .filter(|t| !t.is_empty())
            .collect();
        prop_assert_eq!(distinct.len(), all.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn union_of_kept_and_rejected_is_the_input(
        lines in prop::collection::vec(
            prop_oneof![
                text_strategy().prop_map(|t| serde_json::json!({"text": t}).to_string()),
                text_strategy().prop_map(|t| serde_json::json!({"id": "x", "text": t, "k": 1}).to_string()),
                Just("{\"text\": 3}".to_string()),
                Just("{broken".to_string()),
                Just("[]".to_string()),
            ],
            1..30,
        )
    ) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        std::fs::write(&input, lines.join("\n")).unwrap();
        let out = dir.path().join("out");
        let mut curator = Curator::new(CurateConfig::default(), &[], None).unwrap();
        let report = curator.run_files(&[input], InputFormat::Jsonl, &out).unwrap();
        let kept = read_jsonl(&out.join("samples.jsonl"));
        let rejected = read_jsonl(&out.join("rejects.jsonl"));
        prop_assert_eq!(kept.len() + rejected.len(), lines.len());
        prop_assert_eq!(report.totals.records as usize, lines.len());
        let got: BTreeSet<u64> = kept
            .iter()
            .chain(&rejected)
            .map(|r| r["curation"]["source"]["line"].as_u64().unwrap())
            .collect();
        prop_assert_eq!(got, (1..=lines.len() as u64).collect::<BTreeSet<_>>());
    }
}
