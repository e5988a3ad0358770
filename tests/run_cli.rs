//! Integration tests of `synthcorpus init` and `synthcorpus run` with the character n-gram
//! generator (fast, no model needed).

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_synthcorpus"))
}

fn ngram_project(dir: &Path) -> PathBuf {
    let cfg = dir.join("synthcorpus.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
lang = "ven"
seed = 5
out = "{out}"
[generate]
samples = 6
[[generate.sources]]
corpus = "corpora/ven"
[[generate.models]]
id = "ngram"
kind = "ngram"
order = 5
[generate.sampling]
max_new_tokens = 160
[run]
max_generations = 60
"#,
            out = dir.join("run").display()
        ),
    )
    .unwrap();
    cfg
}

fn stderr_of(out: &std::process::Output) -> String {
    let s = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!s.contains("panicked"), "{s}");
    s
}

#[test]
fn init_writes_a_configuration_that_runs_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    let out = bin().args(["init"]).arg(&proj).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = std::fs::read_to_string(proj.join("synthcorpus.toml")).unwrap();
    assert!(text.contains("lang = \"ven\"") && text.contains("[curate]"));
    let again = bin().args(["init"]).arg(&proj).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr_of(&again).contains("--force"));
}

#[test]
fn run_reaches_the_target_then_skips_finished_stages() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ngram_project(dir.path());
    let out = bin()
        .args(["run", "-q", "--target-kept", "8", "--config"])
        .arg(&cfg)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("target of 8 kept samples: met"), "{stderr}");
    let run = dir.path().join("run");
    let kept = std::fs::read_to_string(run.join("samples.jsonl")).unwrap();
    assert!(kept.lines().count() >= 8);
    let rejects = std::fs::read_to_string(run.join("rejects.jsonl")).unwrap();
    let raw = std::fs::read_to_string(run.join("raw.jsonl")).unwrap();
    assert_eq!(
        kept.lines().count() + rejects.lines().count(),
        raw.lines().count(),
        "every generation is kept or rejected with a reason"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join(".synthcorpus/run.json")).unwrap())
            .unwrap();
    assert_eq!(summary["target_met"], true);
    // Labelled: the samples carry the v1 schema and the run verifies.
    let first: serde_json::Value = serde_json::from_str(kept.lines().next().unwrap()).unwrap();
    assert_eq!(first["schema"], "synthcorpus.sample.v1");
    assert_eq!(first["synthetic"], true);
    for f in ["manifest.json", "README.md", "croissant.json"] {
        assert!(run.join(f).is_file(), "{f}");
    }
    let verify = bin().arg("verify").arg(&run).output().unwrap();
    assert!(verify.status.success(), "{}", stderr_of(&verify));

    // A second run with the same inputs redoes nothing.
    let out = bin()
        .args(["run", "-q", "--target-kept", "8", "--config"])
        .arg(&cfg)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("curate     skipped"), "{stderr}");
    assert!(stderr.contains("label      skipped"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(run.join("samples.jsonl")).unwrap(),
        kept
    );

    // A changed curation setting redoes curation only.
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("[curate.near_dedup]\nenabled = false\n");
    std::fs::write(&cfg, text).unwrap();
    let out = bin()
        .args(["run", "-q", "--target-kept", "8", "--config"])
        .arg(&cfg)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert!(stderr.contains("curate     ran"), "{stderr}");
    assert!(stderr.contains("generate   skipped"), "{stderr}");
}

#[test]
fn an_unreachable_target_exits_1_and_keeps_what_was_made() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ngram_project(dir.path());
    let out = bin()
        .args([
            "run",
            "-q",
            "--target-kept",
            "1000",
            "--max-generations",
            "10",
            "--config",
        ])
        .arg(&cfg)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("NOT met"));
    let raw = std::fs::read_to_string(dir.path().join("run/raw.jsonl")).unwrap();
    assert_eq!(raw.lines().count(), 10);
}

#[test]
fn bad_configurations_name_the_key_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("unknown.toml", "lang = 'ven'\nflavour = 1\n", "flavour"),
        ("type.toml", "[run]\ntarget_kept = 'many'\n", "target_kept"),
        ("curate.toml", "[curate.near_dedup]\nbands = 'x'\n", "bands"),
    ];
    for (name, text, needle) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let out = bin().args(["run", "--config"]).arg(&p).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = stderr_of(&out);
        assert!(
            stderr.contains(needle) && stderr.contains(name),
            "{name}: {stderr}"
        );
    }
    let out = bin()
        .args(["run", "--config"])
        .arg(dir.path().join("absent.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("synthcorpus init"));
}
