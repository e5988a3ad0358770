//! `synthcorpus label`, `verify`, `export` and the collapse guard, end to end on a fixture run
//! (a real n-gram generation on the shipped Tshivenda seeds, curated: tests/fixtures/label/run).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/label").join(name)
}

fn synthcorpus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synthcorpus"))
        .args(args)
        .current_dir(root())
        .env("SOURCE_DATE_EPOCH", "1798156800")
        .env_remove("SYNTHCORPUS_REGISTRY")
        .output()
        .expect("run synthcorpus")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        text(o)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Copy the fixture run into a temporary folder and label it (registry beside it).
fn labelled_run(extra: &[&str]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    for e in std::fs::read_dir(fixture("run")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), run.join(e.file_name())).unwrap();
    }
    let reg = tmp.path().join("registry.tsv");
    let mut args = vec![
        "label",
        s(&run),
        "--registry",
        s(&reg),
        "--name",
        "synthcorpus-ven-fixture",
        "--started-at",
        "2026-11-24T21:00:00Z",
    ];
    args.extend_from_slice(extra);
    let o = synthcorpus(&args);
    ok(&o);
    let (run, reg) = (run.clone(), reg.clone());
    (tmp, run, reg)
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                match k.as_str() {
                    "started_at" | "finished_at" | "created_at" | "datePublished"
                    | "prov:startedAtTime" | "prov:endedAtTime" => *v = Value::from("[time]"),
                    "machine" => *v = Value::from("[machine]"),
                    "path" | "out" => *v = Value::from("[path]"),
                    _ => redact(v),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

fn redact_text(t: &str) -> String {
    t.lines()
        .map(|l| {
            if l.starts_with("Language: `") {
                "Language: [redacted: times]".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn label_writes_samples_manifest_card_croissant() {
    let (_tmp, run, reg) = labelled_run(&[]);
    // Every sample: schema v1, synthetic, content id, no prompt text.
    let samples = lines(&run.join("samples.jsonl"));
    assert_eq!(samples.len(), 5);
    let validator = synthcorpus::label::schema::Validator::sample_v1();
    for l in &samples {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(validator.validate(&v), vec![], "{l}");
        assert_eq!(v["synthetic"], Value::Bool(true));
        assert_eq!(v["schema"], "synthcorpus.sample.v1");
        assert_eq!(
            v["id"].as_str().unwrap(),
            synthcorpus::label::content_id(v["text"].as_str().unwrap())
        );
        assert!(v["prompt"].get("text").is_none());
        assert!(v["curation"]["verdict"] == "kept");
    }
    // Labelling again gives the same samples (idempotent).
    let before = std::fs::read(run.join("samples.jsonl")).unwrap();
    let manifest_before = std::fs::read(run.join("manifest.json")).unwrap();
    ok(&synthcorpus(&[
        "label",
        s(&run),
        "--registry",
        s(&reg),
        "--name",
        "synthcorpus-ven-fixture",
        "--started-at",
        "2026-11-24T21:00:00Z",
    ]));
    assert_eq!(std::fs::read(run.join("samples.jsonl")).unwrap(), before);
    let m1: Value = serde_json::from_slice(&manifest_before).unwrap();
    let m2 = read_json(&run.join("manifest.json"));
    assert_eq!(m1["outputs"], m2["outputs"]);
    // Registry: every published sample (5) and its lines are registered, once.
    let reg_text = std::fs::read_to_string(&reg).unwrap();
    assert!(reg_text.starts_with("# synthcorpus registry v1"));
    assert!(reg_text.lines().count() > 5);

    let mut manifest = read_json(&run.join("manifest.json"));
    assert_eq!(manifest["counts"]["samples"], 5);
    assert_eq!(manifest["counts"]["generated"], 10);
    assert_eq!(manifest["counts"]["rejected"], 5);
    assert!(manifest["machine"]["cores"].as_u64().unwrap() >= 1);
    redact(&mut manifest);
    insta::assert_json_snapshot!("label_manifest", manifest);

    let card = std::fs::read_to_string(run.join("README.md")).unwrap();
    assert!(card.starts_with("---\n"));
    for needle in [
        "tags:\n- synthetic",
        "annotations_creators:\n- machine-generated",
        "language_creators:\n- machine-generated",
        "source_datasets:\n- \"udhr-ven\"",
        "**This dataset is synthetic.**",
        "## Known limitations and risks",
        "## Intended use",
    ] {
        assert!(card.contains(needle), "card lacks {needle:?}");
    }
    insta::assert_snapshot!("label_card", redact_text(&card));

    let mut cr = read_json(&run.join("croissant.json"));
    assert_eq!(cr["conformsTo"], "http://mlcommons.org/croissant/1.1");
    assert!(cr["prov:wasDerivedFrom"].as_array().unwrap().len() >= 2);
    assert_eq!(cr["prov:wasGeneratedBy"]["@type"], "prov:Activity");
    redact(&mut cr);
    insta::assert_json_snapshot!("label_croissant", cr);

    let o = synthcorpus(&["verify", s(&run)]);
    ok(&o);
    assert!(text(&o).contains("verify: OK"), "{}", text(&o));
}

/// Run `verify` and return its output, asserting exit code 3.
fn verify_fails(run: &Path, extra: &[&str]) -> String {
    let mut args = vec!["verify", s(run)];
    args.extend_from_slice(extra);
    let o = synthcorpus(&args);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    text(&o)
}

fn sample_id(line: &str) -> String {
    let v: Value = serde_json::from_str(line).unwrap();
    v["id"].as_str().unwrap().to_string()
}

#[test]
fn verify_detects_each_kind_of_tampering() {
    // A changed byte in a sample's text.
    let (_t, run, _) = labelled_run(&[]);
    let path = run.join("samples.jsonl");
    let mut ls = lines(&path);
    let id2 = sample_id(&ls[1]);
    ls[1] = ls[1].replacen("\"text\":\"", "\"text\":\"X", 1);
    std::fs::write(&path, ls.join("\n") + "\n").unwrap();
    let out = verify_fails(&run, &[]);
    assert!(out.contains("samples.jsonl: sha256"), "{out}");
    assert!(
        out.contains(&format!(
            "samples.jsonl:2: sample {id2}: the text's content id"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("samples.jsonl:2: sample {id2}: the line differs")),
        "{out}"
    );

    // A removed sample.
    let (_t, run, _) = labelled_run(&[]);
    let path = run.join("samples.jsonl");
    let mut ls = lines(&path);
    let gone = sample_id(&ls[2]);
    ls.remove(2);
    std::fs::write(&path, ls.join("\n") + "\n").unwrap();
    let out = verify_fails(&run, &[]);
    assert!(
        out.contains(&format!(
            "samples.jsonl:3: sample {gone}: labelled sample is missing (removed)"
        )),
        "{out}"
    );
    assert!(out.contains("4 samples, the manifest counts 5"), "{out}");

    // An added sample (well-formed, with its own content id).
    let (_t, run, _) = labelled_run(&[]);
    let path = run.join("samples.jsonl");
    let mut ls = lines(&path);
    let mut v: Value = serde_json::from_str(&ls[0]).unwrap();
    v["text"] = Value::from("Ndi tshifhinga tsha u ṱoḓa zwiḽiwa.");
    v["id"] = Value::from(synthcorpus::label::content_id(
        "Ndi tshifhinga tsha u ṱoḓa zwiḽiwa.",
    ));
    let added = v["id"].as_str().unwrap().to_string();
    ls.push(serde_json::to_string(&v).unwrap());
    std::fs::write(&path, ls.join("\n") + "\n").unwrap();
    let out = verify_fails(&run, &[]);
    assert!(
        out.contains(&format!(
            "samples.jsonl:6: sample {added}: not one of the labelled samples (added)"
        )),
        "{out}"
    );

    // An unlabelled sample: synthetic false, and synthetic missing.
    let (_t, run, _) = labelled_run(&[]);
    let path = run.join("samples.jsonl");
    let mut ls = lines(&path);
    let id1 = sample_id(&ls[0]);
    let id4 = sample_id(&ls[3]);
    ls[0] = ls[0].replace("\"synthetic\":true", "\"synthetic\":false");
    ls[3] = ls[3].replace("\"synthetic\":true,", "");
    std::fs::write(&path, ls.join("\n") + "\n").unwrap();
    let out = verify_fails(&run, &[]);
    assert!(
        out.contains(&format!(
            "samples.jsonl:1: sample {id1}: not labelled synthetic: `synthetic` is false"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "samples.jsonl:4: sample {id4}: not labelled synthetic: no `synthetic` field"
        )),
        "{out}"
    );

    // A schema violation.
    let (_t, run, _) = labelled_run(&[]);
    let path = run.join("samples.jsonl");
    let mut ls = lines(&path);
    ls[4] = ls[4].replace("\"lineage_depth\":1", "\"lineage_depth\":\"one\"");
    std::fs::write(&path, ls.join("\n") + "\n").unwrap();
    let out = verify_fails(&run, &[]);
    assert!(out.contains("samples.jsonl:5: sample sha256:"), "{out}");
    assert!(
        out.contains("/lineage_depth: expected integer, found string"),
        "{out}"
    );

    // Other files: a changed byte, a removed file, an added file.
    let (_t, run, _) = labelled_run(&[]);
    let card = run.join("README.md");
    let mut bytes = std::fs::read(&card).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&card, bytes).unwrap();
    std::fs::remove_file(run.join("croissant.json")).unwrap();
    std::fs::write(run.join("extra.jsonl"), "{}\n").unwrap();
    let out = verify_fails(&run, &[]);
    assert!(out.contains("README.md: sha256"), "{out}");
    assert!(
        out.contains("croissant.json: listed in the manifest but missing"),
        "{out}"
    );
    assert!(out.contains("extra.jsonl: not in the manifest"), "{out}");

    // A count changed in the manifest.
    let (_t, run, _) = labelled_run(&[]);
    let m = run.join("manifest.json");
    let t = std::fs::read_to_string(&m).unwrap();
    std::fs::write(&m, t.replacen("\"generated\": 10", "\"generated\": 11", 1)).unwrap();
    let out = verify_fails(&run, &[]);
    assert!(
        out.contains("raw.jsonl: 10 lines, the manifest counts 11"),
        "{out}"
    );
}

#[test]
fn signed_manifest_verifies_and_tampering_breaks_it() {
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("key");
    let o = synthcorpus(&["keygen", s(&key)]);
    ok(&o);
    let public = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(public.len(), 64);
    let (_t, run, _) = labelled_run(&["--sign-key", s(&key)]);
    let o = synthcorpus(&["verify", s(&run), "--public-key", &public]);
    ok(&o);
    assert!(
        text(&o).contains(&format!("signature by {public} valid")),
        "{}",
        text(&o)
    );
    // Another key is not accepted.
    let other = keys.path().join("other");
    let other_pub = String::from_utf8_lossy(&synthcorpus(&["keygen", s(&other)]).stdout)
        .trim()
        .to_string();
    let out = verify_fails(&run, &["--public-key", &other_pub]);
    assert!(out.contains("manifest.sig: signed by"), "{out}");
    // A changed manifest no longer matches its signature.
    let m = run.join("manifest.json");
    let t = std::fs::read_to_string(&m).unwrap();
    std::fs::write(&m, t.replacen("\"samples\": 5", "\"samples\": 5 ", 1)).unwrap();
    let out = verify_fails(&run, &[]);
    assert!(
        out.contains("manifest.sig: the signature does not match"),
        "{out}"
    );
    // An unsigned run fails when a signature is required.
    let (_t, run, _) = labelled_run(&[]);
    let out = verify_fails(&run, &["--require-signature"]);
    assert!(out.contains("manifest.sig: missing"), "{out}");
}

fn export(args: &[&str]) -> Output {
    let mut a = vec!["export"];
    a.extend_from_slice(args);
    synthcorpus(&a)
}

fn jsonl(p: &Path) -> Vec<Value> {
    lines(p)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn export_respects_the_cap_exactly_and_puts_real_first() {
    let (tmp, run, reg) = labelled_run(&[]);
    let real = fixture("real");
    // (cap %, real repeat) -> expected synthetic lines with 10 real documents and 5 samples.
    for (cap, repeat, want_real, want_syn) in [
        ("50", "1", 10, 5),
        ("30", "1", 10, 4),
        ("10", "1", 10, 1),
        ("10", "2", 20, 2),
        ("0", "1", 10, 0),
        ("100", "1", 10, 5),
    ] {
        let out = tmp.path().join(format!("export-{cap}-{repeat}"));
        let o = export(&[
            "--real",
            s(&real),
            "--run",
            s(&run),
            "--out",
            s(&out),
            "--registry",
            s(&reg),
            "--max-synthetic-percent",
            cap,
            "--real-repeat",
            repeat,
            "--real-weight",
            "2",
        ]);
        ok(&o);
        let rows = jsonl(&out.join("train.jsonl"));
        let syn = rows.iter().filter(|r| r["synthetic"] == true).count();
        assert_eq!(
            (rows.len() - syn, syn),
            (want_real, want_syn),
            "cap {cap} repeat {repeat}"
        );
        let c: f64 = cap.parse::<f64>().unwrap() / 100.0;
        assert!(syn as f64 <= c * rows.len() as f64 + 1e-9);
        // Real first; every line labelled.
        let first_syn = rows
            .iter()
            .position(|r| r["synthetic"] == true)
            .unwrap_or(rows.len());
        assert!(rows[first_syn..].iter().all(|r| r["synthetic"] == true));
        for r in &rows {
            assert_eq!(r["schema"], "synthcorpus.export.v1");
            let synthetic = r["synthetic"].as_bool().unwrap();
            assert_eq!(
                r["provenance"],
                if synthetic { "synthetic" } else { "real" }
            );
            assert_eq!(r["weight"], if synthetic { 1.0 } else { 2.0 });
            assert!(serde_json::from_str::<Value>(r["label"].as_str().unwrap()).is_ok());
        }
        let m = read_json(&out.join("export.json"));
        assert_eq!(m["counts"]["synthetic_lines"], want_syn);
        assert!(out.join("train.parquet").is_file());
    }
}

#[test]
fn collapse_guard_refuses_generated_text_as_real_unless_opted_in() {
    let (tmp, run, reg) = labelled_run(&[]);
    let poisoned = fixture("poisoned");
    let out = tmp.path().join("export");
    let base = [
        "--real",
        s(&poisoned),
        "--run",
        s(&run),
        "--out",
        s(&out),
        "--registry",
        s(&reg),
    ];
    let o = export(&base);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("label-poisoned-ven:text.txt:4:"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("synthcorpus generated this text"),
        "{}",
        text(&o)
    );

    let mut a = base.to_vec();
    a.extend(["--synthetic-in-real", "drop"]);
    let o = export(&a);
    ok(&o);
    let rows = jsonl(&out.join("train.jsonl"));
    assert_eq!(rows.iter().filter(|r| r["synthetic"] == false).count(), 3);

    let mut a = base.to_vec();
    a.extend([
        "--synthetic-in-real",
        "opt-in",
        "--max-synthetic-percent",
        "100",
    ]);
    let o = export(&a);
    ok(&o);
    let rows = jsonl(&out.join("train.jsonl"));
    // The poisoned line is a published sample of the run: with opt-in it is taken once, as
    // synthetic text of depth 1, never as real text.
    let poisoned_line = std::fs::read_to_string(poisoned.join("text.txt"))
        .unwrap()
        .lines()
        .nth(3)
        .unwrap()
        .trim()
        .to_string();
    let copies: Vec<&Value> = rows
        .iter()
        .filter(|r| r["text"].as_str().map(str::trim) == Some(poisoned_line.as_str()))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(copies[0]["synthetic"], true);
    assert_eq!(copies[0]["lineage_depth"], 1);

    // Without the registry, a corpus that says it is synthetic is refused too.
    let synth = tmp.path().join("synth");
    std::fs::create_dir_all(&synth).unwrap();
    let meta = std::fs::read_to_string(fixture("real").join("corpus.toml"))
        .unwrap()
        .replace("provenance = \"real\"", "provenance = \"synthetic\"");
    std::fs::write(synth.join("corpus.toml"), meta).unwrap();
    std::fs::copy(fixture("real").join("text.txt"), synth.join("text.txt")).unwrap();
    let o = export(&[
        "--real",
        s(&synth),
        "--out",
        s(&out),
        "--registry",
        s(&tmp.path().join("none.tsv")),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("corpus metadata says provenance"),
        "{}",
        text(&o)
    );
}

/// The export read back by the Hugging Face `datasets` library (PyPI). CI installs it
/// (`pip install "datasets>=2.19"`) and sets SYNTHCORPUS_REQUIRE_DATASETS=1; elsewhere the test
/// says it skipped when the library is missing.
#[test]
fn export_round_trips_through_hf_datasets() {
    let have = Command::new("python3")
        .args(["-c", "import datasets"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have {
        assert!(
            std::env::var_os("SYNTHCORPUS_REQUIRE_DATASETS").is_none(),
            "python3 with `datasets` is required (pip install \"datasets>=2.19\")"
        );
        eprintln!("skipped: python3 cannot import `datasets` (pip install \"datasets>=2.19\")");
        return;
    }
    let (tmp, run, reg) = labelled_run(&[]);
    let out = tmp.path().join("export");
    ok(&export(&[
        "--real",
        s(&fixture("real")),
        "--run",
        s(&run),
        "--out",
        s(&out),
        "--registry",
        s(&reg),
        "--max-synthetic-percent",
        "30",
    ]));
    let o = Command::new("python3")
        .arg(root().join("tests/export_datasets.py"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}
