//! The main job end to end with the real default model (Gemma 3 270M): the full pipeline to a
//! target of kept samples, `verify` passing on the result; and the same run killed at random
//! moments, which completes with the same samples as an uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// One real-model run at a time: two at once on a 2-core machine only slow each other down
/// (each runs its own thread pool over every core).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_synthcorpus"))
}

fn project(dir: &Path, target: usize) -> PathBuf {
    synthcorpus::models::resolve("default")
        .expect("the default model is needed: run scripts/fetch-models.sh");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart.toml"),
    )
    .unwrap()
    .replace("out = \"runs/quickstart\"", "out = \"run\"")
    .replace("target_kept = 20", &format!("target_kept = {target}"));
    let cfg = dir.join("synthcorpus.toml");
    std::fs::write(&cfg, text).unwrap();
    cfg
}

fn run(dir: &Path) -> std::process::Output {
    bin().args(["run", "-q"]).current_dir(dir).output().unwrap()
}

/// Kept samples without the fields that record when they were made.
fn stable_samples(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("samples.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("created_at");
            v
        })
        .collect()
}

#[test]
fn the_main_job_reaches_20_kept_samples_and_verifies() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), 20);
    let out = run(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("target of 20 kept samples: met"),
        "{stderr}"
    );
    assert!(stderr.contains("key metrics"), "{stderr}");
    let run_dir = dir.path().join("run");
    let samples = stable_samples(&run_dir);
    assert!(samples.len() >= 20);
    for s in &samples {
        assert_eq!(s["synthetic"], true);
        assert_eq!(s["schema"], "synthcorpus.sample.v1");
        assert_eq!(s["lang"], "ven");
    }
    assert!(samples
        .iter()
        .any(|s| s["generator"]["architecture"] == "gemma3"));
    for f in [
        "eval/report.html",
        "eval/eval.json",
        "manifest.json",
        "README.md",
        "croissant.json",
    ] {
        assert!(run_dir.join(f).is_file(), "{f}");
    }
    let verify = bin().arg("verify").arg(&run_dir).output().unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn killed_at_random_moments_the_run_completes_with_the_same_samples() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let whole = tempfile::tempdir().unwrap();
    project(whole.path(), 6);
    let out = run(whole.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = stable_samples(&whole.path().join("run"));

    let killed = tempfile::tempdir().unwrap();
    project(killed.path(), 6);
    // Deterministic "random" moments: 1.5 to 6 seconds into each attempt.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..3 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let ms = 1500 + state % 4500;
        let mut child = bin()
            .args(["run", "-q"])
            .current_dir(killed.path())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(ms) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().unwrap();
    }
    let out = run(killed.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stable_samples(&killed.path().join("run")), expected);
    let verify = bin()
        .arg("verify")
        .arg(killed.path().join("run"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
