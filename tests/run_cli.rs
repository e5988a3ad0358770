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

/// The project of [`ngram_project`] with its run directory at `out`.
fn project_with_out(dir: &Path, out: &Path) -> PathBuf {
    let cfg = ngram_project(dir);
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        &format!("out = \"{}\"", dir.join("run").display()),
        &format!("out = \"{}\"", out.display()),
    );
    std::fs::write(&cfg, text).unwrap();
    cfg
}

fn run_in(dir: &Path, cfg: &Path) -> std::process::Output {
    bin()
        .args(["run", "-q", "--config"])
        .arg(cfg)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn a_missing_model_or_an_unreadable_corpus_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ngram_project(dir.path());
    let base = std::fs::read_to_string(&cfg).unwrap();

    let model = base.replace(
        "[[generate.models]]\nid = \"ngram\"\nkind = \"ngram\"\norder = 5\n",
        "[[generate.models]]\nid = \"llm\"\nmodel = \"models/absent.gguf\"\n",
    );
    assert_ne!(model, base);
    std::fs::write(&cfg, model).unwrap();
    let out = run_in(dir.path(), &cfg);
    let stderr = stderr_of(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("absent.gguf"), "{stderr}");

    // A corpus whose text file is not UTF-8.
    let corpus = dir.path().join("bad-corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(
        corpus.join("corpus.toml"),
        "id = \"bad\"\nlang = \"ven\"\nscript = \"Latn\"\nname = \"bad\"\nsource = \"test\"\n\
         licence = \"CC0-1.0\"\ndate = \"2026-12-01\"\nprovenance = \"real\"\nformat = \"lines\"\n",
    )
    .unwrap();
    std::fs::write(corpus.join("text.txt"), b"Vhathu vhothe\n\xff\xfe broken\n").unwrap();
    let bad = base.replace(
        "corpus = \"corpora/ven\"",
        &format!("corpus = \"{}\"", corpus.display()),
    );
    std::fs::write(&cfg, bad).unwrap();
    let out = run_in(dir.path(), &cfg);
    let stderr = stderr_of(&out);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("text.txt") && stderr.contains("byte offset 14"),
        "{stderr}"
    );
}

#[test]
fn an_output_directory_that_cannot_be_made_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the run directory's parent should be (root may write anywhere, so
    // permissions cannot make a directory unwritable here).
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let cfg = project_with_out(dir.path(), &blocker.join("run"));
    let out = run_in(dir.path(), &cfg);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not-a-dir"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "x");
}

/// Disk full, injected: one output of curation is a link to `/dev/full`, where every write
/// fails with ENOSPC. The run stops with an error naming the file, every generated record is
/// still in `raw.jsonl`, and once there is room the re-run completes with the outputs of a run
/// that never failed.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_stops_the_run_without_losing_what_was_generated() {
    let whole = tempfile::tempdir().unwrap();
    let cfg = ngram_project(whole.path());
    let out = run_in(whole.path(), &cfg);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let expected = std::fs::read_to_string(whole.path().join("run/samples.jsonl")).unwrap();
    let raw_expected = std::fs::read_to_string(whole.path().join("run/raw.jsonl")).unwrap();
    let strip = |raw: &str| -> Vec<serde_json::Value> {
        raw.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                let o = v.as_object_mut().unwrap();
                o.remove("timings");
                o.remove("created_at");
                v
            })
            .collect()
    };

    let dir = tempfile::tempdir().unwrap();
    let cfg = ngram_project(dir.path());
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::os::unix::fs::symlink("/dev/full", run.join("rejects.jsonl")).unwrap();
    let out = run_in(dir.path(), &cfg);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("rejects.jsonl"), "{stderr}");
    assert!(stderr.to_lowercase().contains("no space"), "{stderr}");
    let raw = std::fs::read_to_string(run.join("raw.jsonl")).unwrap();
    assert_eq!(strip(&raw), strip(&raw_expected));

    std::fs::remove_file(run.join("rejects.jsonl")).unwrap();
    let out = run_in(dir.path(), &cfg);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let strip_times = |s: &str| -> Vec<serde_json::Value> {
        s.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("created_at");
                // The input's path names the temporary directory.
                v["curation"]["source"]
                    .as_object_mut()
                    .unwrap()
                    .remove("file");
                v
            })
            .collect()
    };
    let got = std::fs::read_to_string(run.join("samples.jsonl")).unwrap();
    assert_eq!(strip_times(&got), strip_times(&expected));
}
