//! `synthcorpus eval` and `synthcorpus compare`: end-to-end runs of the binary on fixtures
//! (`tests/fixtures/eval/`): hand-computed values, identical corpora, a corpus that copies the
//! seed, gates and exit codes, a snapshot of `eval.json`, and the library's determinism.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const FIX: &str = "tests/fixtures/eval";

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

fn eval_to(args: &[&str], out: &Path) -> (Output, Option<Value>) {
    let out_s = out.to_str().unwrap().to_string();
    let mut a = vec!["eval"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["--out", &out_s]);
    let o = synthcorpus(&a);
    let json = std::fs::read_to_string(out.join("eval.json"))
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());
    (o, json)
}

fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |acc, k| &acc[k])
}

fn num(v: &Value, path: &str) -> f64 {
    get(v, path)
        .as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number: {}", get(v, path)))
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn hand_computed_values_on_a_toy_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let (o, j) = eval_to(
        &[
            &format!("{FIX}/tiny_corpus.txt"),
            "--reference",
            &format!("{FIX}/tiny_seed.txt"),
            "--heldout",
            &format!("{FIX}/tiny_heldout.txt"),
            "--lang",
            "ven",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let j = j.unwrap();
    let s = "metrics.synthetic";
    // words: a b c d | a b e f
    assert_eq!(num(&j, &format!("{s}.diversity.distinct_words.1")), 0.75);
    assert_eq!(
        num(&j, &format!("{s}.diversity.distinct_words.2")),
        0.833333
    );
    assert_eq!(num(&j, &format!("{s}.diversity.vocabulary.types")), 6.0);
    assert_eq!(
        num(&j, &format!("{s}.diversity.novel_words.token_share")),
        0.25
    );
    assert_eq!(
        num(&j, &format!("{s}.diversity.novel_words.type_share")),
        0.333333
    );
    // "a b c d" is a seed document; "a b e f" shares "a b"
    assert_eq!(num(&j, &format!("{s}.leakage.verbatim_copies")), 1.0);
    assert_eq!(num(&j, &format!("{s}.leakage.verbatim_copy_rate")), 0.5);
    assert_eq!(num(&j, &format!("{s}.leakage.contained_rate")), 0.5);
    assert_eq!(
        num(&j, &format!("{s}.leakage.longest_span_words.median")),
        3.0
    );
    assert_eq!(num(&j, &format!("{s}.leakage.longest_span_words.max")), 4.0);
    assert_eq!(num(&j, &format!("{s}.leakage.ngram_overlap.1")), 0.75);
    assert_eq!(num(&j, &format!("{s}.leakage.ngram_overlap.2")), 0.666667);
    // word lengths 4, 4 against the seed's 4, 2
    assert_eq!(num(&j, &format!("{s}.likeness.words.ks_vs_seed")), 0.5);
    assert_eq!(
        num(&j, &format!("{s}.likeness.words.wasserstein_vs_seed")),
        1.0
    );
    assert_eq!(num(&j, &format!("{s}.documents")), 2.0);
    assert_eq!(num(&j, "metrics.seed.documents"), 2.0);
    assert_eq!(num(&j, "metrics.heldout.documents"), 1.0);
    // the shipped identifier is used and recorded
    let share = num(&j, &format!("{s}.fidelity.lid.target_share"));
    assert!((0.0..=1.0).contains(&share));
    assert!(j["inputs"]["lid_model"]
        .as_str()
        .unwrap()
        .starts_with("udhr-lid@"));
}

#[test]
fn identical_corpora_give_zero_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let (o, j) = eval_to(
        &["corpora/ven/udhr.txt", "--reference", "corpora/ven"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let j = j.unwrap();
    for n in 1..=4 {
        assert_eq!(
            num(
                &j,
                &format!("metrics.synthetic.likeness.char_jsd_vs_seed.{n}")
            ),
            0.0
        );
    }
    for k in ["graphemes", "words", "sentences"] {
        assert_eq!(
            num(&j, &format!("metrics.synthetic.likeness.{k}.ks_vs_seed")),
            0.0
        );
        assert_eq!(
            num(
                &j,
                &format!("metrics.synthetic.likeness.{k}.wasserstein_vs_seed")
            ),
            0.0
        );
    }
    // the same text is every seed document: 100 % verbatim
    assert_eq!(num(&j, "metrics.synthetic.leakage.verbatim_copy_rate"), 1.0);
    assert_eq!(
        num(&j, "metrics.synthetic.diversity.novel_words.token_share"),
        0.0
    );
    // diversity of the corpus is the seed's
    assert_eq!(
        get(&j, "metrics.synthetic.diversity.distinct_words"),
        get(&j, "metrics.seed.diversity.distinct_words")
    );
}

#[test]
fn a_corpus_that_copies_the_seed_is_all_verbatim_and_fails_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let (o, j) = eval_to(
        &["--suite", "evals/ven.toml", &format!("{FIX}/copy.txt")],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let j = j.unwrap();
    let leak = &j["metrics"]["synthetic"]["leakage"];
    let verbatim: Vec<(&String, &Value)> = leak
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.contains("verbatim") && k.ends_with("rate"))
        .collect();
    assert_eq!(verbatim.len(), 1);
    assert_eq!(verbatim[0].1.as_f64(), Some(1.0));
    assert_eq!(num(&j, "metrics.synthetic.leakage.contained_rate"), 1.0);
    assert_eq!(
        num(&j, "metrics.synthetic.leakage.dcr.overfitting_protection"),
        0.0
    );
    assert_eq!(j["passed"], Value::Bool(false));
    assert_eq!(j["flags"]["verbatim_copy"], 20);
    let failed: Vec<&str> = j["gates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["status"] == "failed")
        .map(|g| g["metric"].as_str().unwrap())
        .collect();
    assert!(failed.contains(&"metrics.synthetic.leakage.verbatim_copy_rate"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("gates FAILED"));
}

#[test]
fn the_heldout_split_passes_the_tshivenda_suite() {
    let dir = tempfile::tempdir().unwrap();
    let (o, j) = eval_to(
        &["--suite", "evals/ven.toml", "evals/heldout/ven.txt"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(j.unwrap()["passed"], Value::Bool(true));
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let run = format!("{FIX}/run");
    // gate passes: 0; gate fails: 3
    let (o, _) = eval_to(
        &["--suite", &format!("{FIX}/gate_pass.toml"), &run],
        &dir.path().join("a"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let (o, _) = eval_to(
        &["--suite", &format!("{FIX}/gate_fail.toml"), &run],
        &dir.path().join("b"),
    );
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    // a bad suite is a usage error naming the file and the key: 2
    let (o, _) = eval_to(
        &["--suite", &format!("{FIX}/bad_suite.toml"), &run],
        &dir.path().join("c"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad_suite.toml") && err.contains("unknown_key"),
        "{err}"
    );
    // a missing corpus: 1
    let (o, _) = eval_to(&["no/such/run"], &dir.path().join("d"));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    // a bad language code: 2
    let (o, _) = eval_to(&[&run, "--lang", "Venda"], &dir.path().join("e"));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}

#[test]
fn run_directory_breakdowns_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (o, j) = eval_to(&[&format!("{FIX}/run")], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let j = j.unwrap();
    assert_eq!(j["inputs"]["corpus"]["kind"], "run_dir");
    assert_eq!(num(&j, "metrics.synthetic.documents"), 12.0);
    let models: Vec<&String> = j["breakdowns"]["model"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(models, ["gemma3", "ngram", "qwen2"]);
    let templates: Vec<&String> = j["breakdowns"]["template"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(templates, ["(none)", "continuation", "topic"]);
    assert_eq!(
        num(
            &j,
            "breakdowns.model.gemma3.metrics.leakage.verbatim_copies"
        ),
        2.0
    );
    assert_eq!(
        num(&j, "breakdowns.model.qwen2.metrics.leakage.verbatim_copies"),
        0.0
    );
    assert!(get(&j, "breakdowns.model.gemma3.usefulness.perplexity_combined").is_number());
    let md = std::fs::read_to_string(dir.path().join("eval.md")).unwrap();
    assert!(md.contains("| verbatim-copy rate | 0.1667 |"), "{md}");
    assert!(md.contains("## Per model"));
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    for p in [
        "length-graphemes",
        "vocab-growth",
        "per-model",
        "wordlist-coverage",
    ] {
        assert!(html.contains(&format!("data-plot=\"{p}\"")), "{p}");
    }
    assert!(!html.contains("http://") || !html.contains("<script src"));
    assert!(!html.contains("<link"));
}

/// `eval.json` of the fixture run, with the volatile fields (timings, tool version) redacted.
#[test]
fn snapshot_of_eval_json() {
    let dir = tempfile::tempdir().unwrap();
    let (o, j) = eval_to(
        &["--suite", "evals/ven.toml", &format!("{FIX}/run")],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let mut j = j.unwrap();
    j["timings"] = Value::String("[timings]".into());
    j["tool"] = Value::String("[tool]".into());
    insta::assert_json_snapshot!("eval_fixture_run", j);
}

#[test]
fn output_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let read = |sub: &str| {
        let (o, j) = eval_to(&[&format!("{FIX}/run")], &dir.path().join(sub));
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        let mut j = j.unwrap();
        j["timings"] = Value::Null;
        (
            j,
            std::fs::read_to_string(dir.path().join(sub).join("report.html")).unwrap(),
        )
    };
    let (a, ha) = read("a");
    let (b, hb) = read("b");
    assert_eq!(a, b);
    // the HTML shows timings nowhere, so it is byte-identical
    assert_eq!(ha, hb);
}

#[test]
fn compare_puts_two_runs_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let (o, _) = eval_to(&[&format!("{FIX}/run")], &a);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let (o, _) = eval_to(&[&format!("{FIX}/copy.txt")], &b);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = dir.path().join("cmp");
    let o = synthcorpus(&[
        "compare",
        a.to_str().unwrap(),
        b.join("eval.json").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("| verbatim-copy rate | 0.1667 | 1 | 0.8333 |"),
        "{stdout}"
    );
    let c: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(c["b"]["documents"], 20);
    // a corpus file without eval.json is evaluated on the fly
    let o = synthcorpus(&[
        "compare",
        &format!("{FIX}/run"),
        &format!("{FIX}/copy.txt"),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let c: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(c["rows"].as_array().unwrap().len() > 10);
}
