//! Integration tests of `synthcorpus generate` with the character n-gram generator (no model
//! download needed) and, for a real kill, the default model.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

mod common;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_synthcorpus"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ngram_config(dir: &Path, samples: usize) -> PathBuf {
    let cfg = dir.join("run.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
lang = "ven"
seed = 7
out = "{out}"

[generate]
samples = {samples}

[[generate.sources]]
corpus = "{corpus}"

[[generate.models]]
id = "ngram-a"
kind = "ngram"
order = 4
weight = 2.0

[[generate.models]]
id = "ngram-b"
kind = "ngram"
order = 6
weight = 1.0
"#,
            out = dir.join("out").display(),
            corpus = repo().join("corpora/ven").display(),
        ),
    )
    .unwrap();
    cfg
}

/// Records without their volatile fields (timings, creation time).
fn stable_records(raw: &Path) -> Vec<Value> {
    std::fs::read_to_string(raw)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("timings");
            o.remove("created_at");
            v
        })
        .collect()
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn records_have_the_schema_and_respect_quotas() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ngram_config(dir.path(), 9);
    run_ok(bin().args(["generate", "-q", "--config"]).arg(&cfg));
    let recs = stable_records(&dir.path().join("out/raw.jsonl"));
    assert_eq!(recs.len(), 9);
    let a = recs
        .iter()
        .filter(|r| r["generator"]["id"] == "ngram-a")
        .count();
    assert_eq!(a, 6, "weights 2:1 over 9 requests");
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["synthetic"], true);
        assert_eq!(r["lang"], "ven");
        assert_eq!(r["index"], i);
        assert_eq!(r["lineage_depth"], 1);
        assert_eq!(r["generator"]["kind"], "ngram");
        assert_eq!(r["generator"]["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(r["prompt"]["source_corpus"], "udhr-ven");
        assert!(r["sampling"]["seed"].is_u64());
        assert!(["eos", "length", "loop"].contains(&r["finish_reason"].as_str().unwrap()));
        assert_eq!(r["id"].as_str().unwrap().len(), 16);
    }
    assert!(dir.path().join("out/config.resolved.toml").is_file());
    assert!(dir.path().join("out/generate.json").is_file());
}

#[test]
fn same_seed_same_records_other_seed_other_records() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ngram_config(dir.path(), 6);
    run_ok(bin().args(["generate", "-q", "--config"]).arg(&cfg));
    let first = stable_records(&dir.path().join("out/raw.jsonl"));
    let other = dir.path().join("again");
    run_ok(
        bin()
            .args(["generate", "-q", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&other),
    );
    // Same seed: identical except the run directory is not part of the records.
    assert_eq!(first, stable_records(&other.join("raw.jsonl")));
    let third = dir.path().join("seed8");
    run_ok(
        bin()
            .args(["generate", "-q", "--seed", "8", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&third),
    );
    assert_ne!(first, stable_records(&third.join("raw.jsonl")));
}

#[test]
fn resuming_after_stops_at_several_points_gives_the_uninterrupted_records() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ngram_config(dir.path(), 10);
    run_ok(bin().args(["generate", "-q", "--config"]).arg(&cfg));
    let whole = stable_records(&dir.path().join("out/raw.jsonl"));
    for stops in [[1usize, 3, 7], [2, 5, 9]] {
        let out = dir.path().join(format!("resumed-{}", stops[0]));
        let mut last = 0;
        for s in stops {
            run_ok(
                bin()
                    .args([
                        "generate",
                        "-q",
                        "--limit",
                        &(s - last).to_string(),
                        "--config",
                    ])
                    .arg(&cfg)
                    .arg("--out")
                    .arg(&out),
            );
            last = s;
            assert_eq!(stable_records(&out.join("raw.jsonl")).len(), s);
        }
        // Simulate a kill in the middle of a write: a torn last line.
        let raw = out.join("raw.jsonl");
        let mut bytes = std::fs::read(&raw).unwrap();
        bytes.extend_from_slice(b"{\"id\":\"torn");
        std::fs::write(&raw, bytes).unwrap();
        let stderr = run_ok(
            bin()
                .args(["generate", "-q", "--config"])
                .arg(&cfg)
                .arg("--out")
                .arg(&out),
        );
        assert!(stderr.contains("torn"), "{stderr}");
        assert_eq!(stable_records(&raw), whole);
    }
}

#[test]
fn a_run_directory_of_another_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ngram_config(dir.path(), 3);
    run_ok(bin().args(["generate", "-q", "--config"]).arg(&cfg));
    let out = bin()
        .args(["generate", "-q", "--seed", "99", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another configuration"), "{stderr}");
    assert_eq!(
        stable_records(&dir.path().join("out/raw.jsonl")).len(),
        3,
        "nothing lost"
    );
}

#[test]
fn bad_configuration_names_the_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "lang = 'ven'\n[generate]\nsampels = 3\n").unwrap();
    let out = bin()
        .args(["generate", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sampels") && stderr.contains("bad.toml"),
        "{stderr}"
    );
}

#[test]
fn a_missing_corpus_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "out = '{}'\n[[generate.sources]]\ncorpus = '/no/such/corpus'\n[[generate.models]]\nid='n'\nkind='ngram'\n",
            dir.path().join("o").display()
        ),
    )
    .unwrap();
    let out = bin()
        .args(["generate", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/no/such/corpus"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The real default model, killed with SIGKILL while it works: the restarted run completes with
/// exactly the records of an uninterrupted run.
#[test]
fn kill_9_during_real_generation_then_resume() {
    synthcorpus::models::resolve("default")
        .expect("the default model is needed: run scripts/fetch-models.sh");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("real.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
seed = 3
out = "{}"
[generate]
samples = 4
[[generate.sources]]
corpus = "{}"
[[generate.models]]
id = "gemma3"
model = "default"
[generate.sampling]
max_new_tokens = 24
"#,
            dir.path().join("whole").display(),
            repo().join("corpora/ven").display()
        ),
    )
    .unwrap();
    run_ok(bin().args(["generate", "-q", "--config"]).arg(&cfg));
    let whole = stable_records(&dir.path().join("whole/raw.jsonl"));
    assert_eq!(whole.len(), 4);

    let killed = dir.path().join("killed");
    let raw = killed.join("raw.jsonl");
    let mut child = bin()
        .args(["generate", "-q", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&killed)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as the first record is on disk, mid-way through the second.
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&raw)
        .map(|s| s.lines().count())
        .unwrap_or(0)
        < 1
    {
        assert!(
            start.elapsed().as_secs() < 120,
            "no record within 2 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = stable_records(&raw).len();
    assert!(
        (1..4).contains(&partial),
        "{partial} records after the kill"
    );
    run_ok(
        bin()
            .args(["generate", "-q", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&killed),
    );
    assert_eq!(stable_records(&raw), whole);
}

#[test]
fn extending_a_run_keeps_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ngram_config(dir.path(), 4);
    run_ok(bin().args(["generate", "-q", "--config"]).arg(&cfg));
    let four = stable_records(&dir.path().join("out/raw.jsonl"));
    run_ok(
        bin()
            .args(["generate", "-q", "-n", "7", "--config"])
            .arg(&cfg),
    );
    let seven = stable_records(&dir.path().join("out/raw.jsonl"));
    assert_eq!(seven.len(), 7);
    assert_eq!(&seven[..4], &four[..]);
}

/// Two tiny random-weight GGUF models (a base model in completion mode and one with a chat
/// template in chat mode) beside the n-gram model: quotas, provenance and resumption.
#[test]
fn tiny_gguf_models_in_the_mix() {
    let dir = tempfile::tempdir().unwrap();
    let gemma = common::write_tiny_gguf(dir.path(), "gemma3");
    let qwen = common::write_tiny_gguf(dir.path(), "qwen3");
    let cfg = dir.path().join("mix.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
seed = 11
out = "{out}"
[generate]
samples = 6
[[generate.sources]]
corpus = "{corpus}"
[[generate.models]]
id = "tiny-gemma3"
model = "{gemma}"
weight = 1.0
[[generate.models]]
id = "tiny-qwen3-chat"
model = "{qwen}"
mode = "chat"
weight = 1.0
[[generate.models]]
id = "ngram"
kind = "ngram"
weight = 1.0
[generate.sampling]
max_new_tokens = 12
"#,
            out = dir.path().join("out").display(),
            corpus = repo().join("corpora/ven").display(),
            gemma = gemma.display(),
            qwen = qwen.display(),
        ),
    )
    .unwrap();
    run_ok(
        bin()
            .args(["generate", "-q", "--limit", "4", "--config"])
            .arg(&cfg),
    );
    run_ok(bin().args(["generate", "-q", "--config"]).arg(&cfg));
    let recs = stable_records(&dir.path().join("out/raw.jsonl"));
    assert_eq!(recs.len(), 6);
    let again = dir.path().join("again");
    run_ok(
        bin()
            .args(["generate", "-q", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&again),
    );
    assert_eq!(
        recs,
        stable_records(&again.join("raw.jsonl")),
        "resumed == uninterrupted"
    );
    for id in ["tiny-gemma3", "tiny-qwen3-chat", "ngram"] {
        let mine: Vec<&Value> = recs.iter().filter(|r| r["generator"]["id"] == id).collect();
        assert_eq!(mine.len(), 2, "{id}: equal weights over 6 requests");
        for r in mine {
            assert!(r["tokens"]["completion"].as_u64().unwrap() <= 12);
            if id == "ngram" {
                continue;
            }
            assert_eq!(r["generator"]["backend"], "candle");
            assert_eq!(r["generator"]["sha256"].as_str().unwrap().len(), 64);
            let mode = if id == "tiny-qwen3-chat" {
                "chat"
            } else {
                "completion"
            };
            assert_eq!(r["prompt"]["mode"], mode);
            assert!(r["prompt"]["template_sha256"].as_str().unwrap().len() == 64);
            assert!(!r["prompt"]["seed_document_ids"]
                .as_array()
                .unwrap()
                .is_empty());
            assert!(r["tokens"]["prompt"].as_u64().unwrap() > 0);
        }
    }
}

/// `generate.sampling.vocab_bias`: LLM records carry the bias they were sampled with (the token
/// set of the seed sentences, its size and hash), the text changes, the n-gram model's records
/// carry none, and the run stays deterministic.
#[test]
fn a_vocabulary_bias_is_applied_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let gemma = common::write_tiny_gguf(dir.path(), "gemma3");
    let config = |name: &str, bias: f32| {
        let cfg = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &cfg,
            format!(
                r#"
seed = 5
out = "{out}"
[generate]
samples = 4
[[generate.sources]]
corpus = "{corpus}"
[[generate.models]]
id = "tiny"
model = "{gemma}"
weight = 3.0
[[generate.models]]
id = "ngram"
kind = "ngram"
weight = 1.0
[generate.sampling]
max_new_tokens = 16
vocab_bias = {bias}
"#,
                out = dir.path().join(name).display(),
                corpus = repo().join("corpora/ven").display(),
                gemma = gemma.display(),
            ),
        )
        .unwrap();
        cfg
    };
    let plain = config("plain", 0.0);
    let biased = config("biased", 8.0);
    run_ok(bin().args(["generate", "-q", "--config"]).arg(&plain));
    run_ok(bin().args(["generate", "-q", "--config"]).arg(&biased));
    let p = stable_records(&dir.path().join("plain/raw.jsonl"));
    let b = stable_records(&dir.path().join("biased/raw.jsonl"));
    assert_eq!(p.len(), 4);
    assert_eq!(b.len(), 4);
    let mut changed = 0;
    for (p, b) in p.iter().zip(&b) {
        assert!(p["sampling"].get("vocab_bias").is_none());
        if b["generator"]["id"] == "ngram" {
            assert!(b["sampling"].get("vocab_bias").is_none());
            assert_eq!(p["text"], b["text"]);
            continue;
        }
        let vb = &b["sampling"]["vocab_bias"];
        assert_eq!(vb["bias"], 8.0);
        assert_eq!(vb["source"], "seed");
        assert!(vb["tokens"].as_u64().unwrap() > 0);
        assert_eq!(vb["sha256"].as_str().unwrap().len(), 64);
        changed += usize::from(p["text"] != b["text"]);
    }
    assert!(changed > 0, "the bias changed no completion");
    let again = dir.path().join("again");
    run_ok(
        bin()
            .args(["generate", "-q", "--config"])
            .arg(&biased)
            .arg("--out")
            .arg(&again),
    );
    assert_eq!(b, stable_records(&again.join("raw.jsonl")));
}
