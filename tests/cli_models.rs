//! Integration tests of `synthcorpus models inspect` and `synthcorpus sample` on tiny GGUF models
//! written by `tests/common`, and of how both fail on bad model files.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use candle_core::quantized::gguf_file::Value as MdValue;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;
use common::{TinyOptions, Vocab, ARCHS};
use serde_json::Value;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

fn synthcorpus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synthcorpus"))
        .args(args)
        // Keep the models directory out of the way: every test names its file.
        .env("SYNTHCORPUS_MODELS", "/nonexistent-synthcorpus-models")
        .output()
        .expect("run synthcorpus")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn inspect(path: &Path) -> Output {
    synthcorpus(&["models", "inspect", path.to_str().expect("utf-8 path")])
}

fn sample(path: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "sample",
        "-m",
        path.to_str().expect("utf-8 path"),
        "-p",
        "Ndaa vhathu",
        "--max-tokens",
        "8",
        "--seed",
        "7",
        "--threads",
        "1",
    ];
    args.extend_from_slice(extra);
    synthcorpus(&args)
}

/// The command failed cleanly (exit code 1, no panic) with a message naming `path` and
/// containing every one of `needles`.
fn assert_fails_naming(out: &Output, path: &Path, needles: &[&str]) {
    let stderr = text(&out.stderr);
    eprintln!("{}", stderr.trim_end());
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit code 1; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert!(
        stderr.contains(&path.display().to_string()),
        "the message does not name {}: {stderr}",
        path.display()
    );
    for n in needles {
        assert!(stderr.contains(n), "no {n:?} in: {stderr}");
    }
}

#[test]
fn models_inspect_prints_json_with_the_architecture() {
    let dir = tmp();
    for &arch in ARCHS {
        let path = common::write_tiny_gguf(dir.path(), arch);
        let out = inspect(&path);
        assert!(out.status.success(), "{arch}: {}", text(&out.stderr));
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{arch}: not JSON ({e}): {}", text(&out.stdout)));
        assert_eq!(json["architecture"], arch);
        assert_eq!(json["name"], format!("tiny-{arch}"));
        assert_eq!(json["path"], path.display().to_string());
        assert_eq!(json["quantization"], "Q8_0");
        assert_eq!(json["context_length"], 256);
        assert_eq!(json["has_chat_template"], true);
        let kind = match TinyOptions::for_arch(arch).vocab {
            Vocab::Spm { .. } => "llama",
            _ => "gpt2",
        };
        assert_eq!(json["tokenizer_kind"], kind, "{arch}");
        assert!(json["vocab_size"].as_u64().unwrap_or(0) > 256, "{arch}");
        assert!(
            json["tensor_types"]["Q5_0"].as_u64().unwrap_or(0) > 0,
            "{arch}"
        );
        let size = std::fs::metadata(&path).expect("metadata").len();
        assert_eq!(json["file_size"], size);
    }
}

#[test]
fn models_inspect_sha256_is_the_files_hash() {
    use sha2::{Digest, Sha256};
    let dir = tmp();
    let path = common::write_tiny_gguf(dir.path(), "qwen2");
    let out = synthcorpus(&[
        "models",
        "inspect",
        path.to_str().expect("utf-8 path"),
        "--sha256",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let bytes = std::fs::read(&path).expect("read");
    let want: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(json["sha256"], want);
}

#[test]
fn sample_streams_text_and_reports_speed() {
    let dir = tmp();
    for &arch in ARCHS {
        let path = common::write_tiny_gguf(dir.path(), arch);
        let out = sample(&path, &["--temperature", "0"]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{arch}: {stderr}");
        assert!(!stderr.contains("panicked"));
        assert!(stdout.ends_with('\n'), "{arch}: {stdout:?}");
        assert!(!stdout.trim().is_empty(), "{arch}: no text on stdout");
        assert!(stderr.contains("tokens/s"), "{arch}: {stderr}");
        assert!(stderr.contains("generation: 8 tokens"), "{arch}: {stderr}");
        assert!(stderr.contains("finish: Length"), "{arch}: {stderr}");
        // Nothing but the completion goes to stdout: the speed line is on stderr only.
        assert!(!stdout.contains("tokens/s"));

        // Same seed, same text (sampling at temperature 1 across processes).
        let a = sample(&path, &["--temperature", "1"]);
        let b = sample(&path, &["--temperature", "1"]);
        assert!(a.status.success() && b.status.success());
        assert_eq!(a.stdout, b.stdout, "{arch}: same seed, different text");
    }
}

#[test]
fn sample_honours_stop_strings_and_chat() {
    let dir = tmp();
    let path = common::write_tiny_gguf(dir.path(), "qwen2");
    let full = sample(&path, &["--temperature", "0"]);
    assert!(full.status.success(), "{}", text(&full.stderr));
    let completion = text(&full.stdout);
    let completion = completion.strip_suffix('\n').expect("newline");
    assert!(completion.len() >= 4, "{completion:?}");
    let mid = completion.len() / 2;
    let stop = &completion[mid..mid + 2];
    let cut = completion.find(stop).expect("stop in text");

    let out = sample(&path, &["--temperature", "0", "--stop", stop]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{}\n", &completion[..cut]));
    assert!(text(&out.stderr).contains("finish: Stop"));

    let out = sample(&path, &["--temperature", "0", "--chat"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    // The ChatML wrapping makes the prompt longer than the plain completion prompt.
    let prompt_tokens = |s: &str| -> usize {
        s.split("prompt: ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("prompt token count")
    };
    assert!(prompt_tokens(&stderr) > prompt_tokens(&text(&full.stderr)));
}

#[test]
fn sample_chat_without_a_template_fails_naming_the_file() {
    let dir = tmp();
    let mut opts = TinyOptions::for_arch("llama");
    opts.chat_template = false;
    let path = common::write_tiny_gguf_with(dir.path(), "llama", &opts);
    let out = sample(&path, &["--chat"]);
    assert_fails_naming(&out, &path, &["no chat template"]);
}

#[test]
fn sample_refuses_an_overlong_prompt_with_no_truncate() {
    let dir = tmp();
    let path = common::write_tiny_gguf(dir.path(), "phi3");
    let long = "ndi vha na ha ya kha muthu vhathu ".repeat(8);
    let p = path.to_str().expect("utf-8 path");
    let args = [
        "sample",
        "-m",
        p,
        "-p",
        &long,
        "--max-tokens",
        "8",
        "--context",
        "16",
    ];
    let mut refused: Vec<&str> = args.to_vec();
    refused.push("--no-truncate");
    let out = synthcorpus(&refused);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("exceeds the context of 16"), "{stderr}");
    // Without --no-truncate the prompt is cut and generation goes on.
    let out = synthcorpus(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("prompt: 8 tokens"));
}

#[test]
fn a_missing_file_fails_naming_it() {
    let dir = tmp();
    let path = dir.path().join("missing.gguf");
    assert_fails_naming(&inspect(&path), &path, &["not found"]);
    assert_fails_naming(&sample(&path, &[]), &path, &["not found"]);
}

#[test]
fn a_truncated_gguf_fails_naming_it() {
    let dir = tmp();
    for &arch in ARCHS {
        // Cut in the tensor data: the header parses, the tensors do not fit.
        let path = common::write_truncated_gguf(dir.path(), arch, 0.5);
        assert_fails_naming(&inspect(&path), &path, &["truncated"]);
        assert_fails_naming(&sample(&path, &[]), &path, &["truncated"]);
    }
    // Cut in the header.
    let path = common::write_truncated_gguf(dir.path(), "gemma3", 0.01);
    assert_fails_naming(&inspect(&path), &path, &["GGUF"]);
    assert_fails_naming(&sample(&path, &[]), &path, &["GGUF"]);
    // Cut inside the magic.
    let tiny = dir.path().join("two-bytes.gguf");
    std::fs::write(&tiny, b"GG").expect("write");
    assert_fails_naming(&inspect(&tiny), &tiny, &["too short"]);
    assert_fails_naming(&sample(&tiny, &[]), &tiny, &["too short"]);
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").expect("write");
    assert_fails_naming(&sample(&empty, &[]), &empty, &["too short"]);
}

#[test]
fn a_file_that_is_not_gguf_fails_naming_it() {
    let dir = tmp();
    let path = common::write_not_gguf(dir.path());
    assert_fails_naming(&inspect(&path), &path, &["not a GGUF file"]);
    assert_fails_naming(&sample(&path, &[]), &path, &["not a GGUF file"]);
}

#[test]
fn an_unsupported_architecture_fails_listing_the_supported_ones() {
    let dir = tmp();
    let path = common::write_unsupported_arch_gguf(dir.path());
    let out = sample(&path, &[]);
    assert_fails_naming(&out, &path, &["mamba"]);
    let stderr = text(&out.stderr);
    for arch in ARCHS {
        assert!(stderr.contains(arch), "{arch} not listed: {stderr}");
    }
    // `models inspect` describes any GGUF, whatever its architecture.
    let out = inspect(&path);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["architecture"], "mamba");
}

#[test]
fn no_tokenizer_metadata_and_no_tokenizer_json_fails_naming_the_file() {
    let dir = tmp();
    for &arch in ARCHS {
        let path = common::write_no_tokenizer_gguf(dir.path(), arch);
        let out = sample(&path, &[]);
        assert_fails_naming(&out, &path, &["tokenizer"]);
        assert!(text(&out.stderr).contains("tokenizer.json"));
        // Inspecting still works and says there is no tokenizer.
        let out = inspect(&path);
        assert!(out.status.success(), "{arch}: {}", text(&out.stderr));
        let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(json["tokenizer_kind"], "none");
        assert_eq!(json["vocab_size"], 0);
    }
}

#[test]
fn a_missing_tokenizer_json_fails_naming_it() {
    let dir = tmp();
    let path = common::write_no_tokenizer_gguf(dir.path(), "llama");
    let tok = dir.path().join("no-such-tokenizer.json");
    let out = sample(&path, &["--tokenizer", tok.to_str().expect("utf-8 path")]);
    assert_fails_naming(&out, &tok, &["tokenizer"]);
}

/// Exit code 1 and no panic, whatever the message says.
fn assert_fails_cleanly(out: &Output, what: &str) {
    let stderr = text(&out.stderr);
    eprintln!("{what}: {}", stderr.trim_end());
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: panic: {stderr}");
}

fn q8_zeros(rows: usize, cols: usize) -> QTensor {
    let t = candle_core::Tensor::zeros((rows, cols), candle_core::DType::F32, &Device::Cpu)
        .expect("zeros");
    QTensor::quantize(&t, GgmlDType::Q8_0).expect("quantize")
}

#[test]
fn a_missing_tensor_or_metadata_key_fails_naming_the_file_and_the_item() {
    let dir = tmp();
    for &arch in ARCHS {
        let d = dir.path();
        let path =
            common::write_tiny_gguf_edited(d, arch, &format!("{arch}-no-t.gguf"), |_, ts| {
                ts.retain(|(n, _)| n != "blk.1.ffn_down.weight")
            });
        assert_fails_naming(&sample(&path, &[]), &path, &["blk.1.ffn_down.weight"]);

        let key = format!("{arch}.block_count");
        let path =
            common::write_tiny_gguf_edited(d, arch, &format!("{arch}-no-k.gguf"), |md, _| {
                common::remove_key(md, &key)
            });
        assert_fails_naming(&sample(&path, &[]), &path, &[&key]);

        // More blocks announced than stored.
        let path = common::write_tiny_gguf_edited(d, arch, &format!("{arch}-3b.gguf"), |md, _| {
            common::set_key(md, &key, MdValue::U32(3))
        });
        assert_fails_naming(&sample(&path, &[]), &path, &["blk.2."]);

        let path =
            common::write_tiny_gguf_edited(d, arch, &format!("{arch}-arch.gguf"), |md, _| {
                common::set_key(md, "general.architecture", MdValue::U32(5))
            });
        assert_fails_naming(&sample(&path, &[]), &path, &["general.architecture"]);
        assert_fails_naming(&inspect(&path), &path, &["general.architecture"]);
    }
}

#[test]
fn malformed_tokenizer_metadata_fails_naming_the_file() {
    let dir = tmp();
    let d = dir.path();
    for &arch in ARCHS {
        let path = common::write_tiny_gguf_edited(d, arch, &format!("{arch}-tt.gguf"), |md, _| {
            common::set_key(
                md,
                "tokenizer.ggml.token_type",
                MdValue::Array(vec![MdValue::String("normal".into())]),
            )
        });
        assert_fails_naming(&sample(&path, &[]), &path, &["tokenizer.ggml.token_type"]);

        let path =
            common::write_tiny_gguf_edited(d, arch, &format!("{arch}-bert.gguf"), |md, _| {
                common::set_key(md, "tokenizer.ggml.model", MdValue::String("bert".into()))
            });
        assert_fails_naming(&sample(&path, &[]), &path, &["bert", "llama, gpt2"]);
    }
}

#[test]
fn tokenizer_and_template_errors_name_the_file() {
    let dir = tmp();
    let d = dir.path();
    let path = common::write_tiny_gguf_edited(d, "llama", "empty-tokens.gguf", |md, _| {
        common::set_key(md, "tokenizer.ggml.tokens", MdValue::Array(Vec::new()))
    });
    assert_fails_naming(&sample(&path, &[]), &path, &["tokenizer.ggml.tokens"]);
    let path = common::write_tiny_gguf_edited(d, "qwen2", "bad-merge.gguf", |md, _| {
        common::set_key(
            md,
            "tokenizer.ggml.merges",
            MdValue::Array(vec![MdValue::String("nospace".into())]),
        )
    });
    assert_fails_naming(&sample(&path, &[]), &path, &["tokenizer.ggml.merges"]);
    let path = common::write_tiny_gguf_edited(d, "qwen3", "bad-template.gguf", |md, _| {
        common::set_key(
            md,
            "tokenizer.chat_template",
            MdValue::String("{% for %}".into()),
        )
    });
    assert_fails_naming(&sample(&path, &["--chat"]), &path, &["chat template"]);
}

/// Inconsistent shapes are found when the model first runs: the command fails, cleanly.
#[test]
fn inconsistent_shapes_fail_without_panicking() {
    let dir = tmp();
    let d = dir.path();
    for &arch in ARCHS {
        let key = format!("{arch}.attention.head_count");
        let path = common::write_tiny_gguf_edited(d, arch, &format!("{arch}-h3.gguf"), |md, _| {
            common::set_key(md, &key, MdValue::U32(3))
        });
        assert_fails_cleanly(&sample(&path, &[]), &format!("{arch} head_count 3"));

        let path = common::write_tiny_gguf_edited(d, arch, &format!("{arch}-wo.gguf"), |_, ts| {
            for (n, t) in ts.iter_mut() {
                if n == "blk.0.attn_output.weight" {
                    *t = q8_zeros(32, 64);
                }
            }
        });
        assert_fails_cleanly(&sample(&path, &[]), &format!("{arch} attn_output shape"));

        // A tokenizer with more tokens than the embedding has rows.
        let path = common::write_tiny_gguf_edited(d, arch, &format!("{arch}-emb.gguf"), |_, ts| {
            for (n, t) in ts.iter_mut() {
                if n == "token_embd.weight" || n == "output.weight" {
                    *t = q8_zeros(100, 64);
                }
            }
        });
        assert_fails_cleanly(&sample(&path, &[]), &format!("{arch} small embedding"));
    }
}

#[test]
fn zero_head_counts_fail_without_panicking() {
    let dir = tmp();
    let d = dir.path();
    for &arch in ARCHS {
        for key in ["attention.head_count", "attention.head_count_kv"] {
            let key = format!("{arch}.{key}");
            let path =
                common::write_tiny_gguf_edited(d, arch, &format!("{key}-0.gguf"), |md, _| {
                    common::set_key(md, &key, MdValue::U32(0))
                });
            assert_fails_naming(&sample(&path, &[]), &path, &[&key]);
        }
    }
    let key = "gemma3.attention.sliding_window";
    let path = common::write_tiny_gguf_edited(d, "gemma3", "window-0.gguf", |md, _| {
        common::set_key(md, key, MdValue::U32(0))
    });
    assert_fails_naming(&sample(&path, &[]), &path, &[key]);
}
