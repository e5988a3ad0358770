//! Library-level tests of the Candle backend on tiny random-weight GGUF models, one per supported
//! architecture, written by `tests/common` (no download needed; each loads in milliseconds).

mod common;

use std::path::{Path, PathBuf};

use common::{TinyOptions, Vocab, ARCHS};
use synthcorpus::backend::{
    BackendError, CandleGenerator, Flow, LoadOptions, Overflow, TextGenerator,
};
use synthcorpus::types::{Completion, FinishReason, GenerationRequest, PromptMode, SamplingParams};

const PROMPT: &str = "Ndaa vhathu, hello world";

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

fn load(path: &Path) -> CandleGenerator {
    load_with(path, &LoadOptions::default())
}

fn load_with(path: &Path, opts: &LoadOptions) -> CandleGenerator {
    match CandleGenerator::load(path, opts) {
        Ok(g) => g,
        Err(e) => panic!("cannot load {}: {e}", path.display()),
    }
}

fn model(dir: &Path, arch: &str) -> (PathBuf, CandleGenerator) {
    let path = common::write_tiny_gguf(dir, arch);
    let gen = load(&path);
    (path, gen)
}

fn greedy(max_new_tokens: usize) -> SamplingParams {
    SamplingParams {
        temperature: 0.0,
        repeat_penalty: 1.0,
        max_new_tokens,
        ..SamplingParams::default()
    }
}

fn sampled(max_new_tokens: usize, seed: u64) -> SamplingParams {
    SamplingParams {
        temperature: 1.0,
        max_new_tokens,
        seed,
        ..SamplingParams::default()
    }
}

fn request(prompt: &str, params: SamplingParams) -> GenerationRequest {
    GenerationRequest {
        prompt: prompt.to_string(),
        mode: PromptMode::Completion,
        params,
        logit_bias: None,
    }
}

/// Generate, returning the completion and the concatenation of the streamed pieces.
fn run(gen: &mut CandleGenerator, req: &GenerationRequest) -> (Completion, String) {
    let mut streamed = String::new();
    let c = gen
        .generate(req, &mut |piece| {
            streamed.push_str(piece);
            Flow::Continue
        })
        .unwrap_or_else(|e| panic!("generation failed: {e}"));
    (c, streamed)
}

#[test]
fn every_architecture_loads_and_generates() {
    let dir = tmp();
    for &arch in ARCHS {
        let (path, mut gen) = model(dir.path(), arch);
        let info = gen.info().clone();
        assert_eq!(info.architecture, arch);
        assert_eq!(info.name, format!("tiny-{arch}"));
        assert_eq!(info.context_length, 256);
        assert_eq!(info.vocab_size, gen.tokenizer().vocab_size());
        assert!(info.has_chat_template);
        let kind = match TinyOptions::for_arch(arch).vocab {
            Vocab::Spm { .. } => "llama",
            Vocab::Gpt2 { .. } => "gpt2",
            Vocab::None => unreachable!(),
        };
        assert_eq!(info.tokenizer_kind, kind, "{arch}");
        // Q5_0 tensors in the file (re-encoded to Q8_0 at load) next to Q8_0 and F32 ones.
        for t in ["Q5_0", "Q8_0", "F32"] {
            assert!(info.tensor_types.contains_key(t), "{arch}: no {t} tensor");
        }
        assert_eq!(info.quantization, "Q8_0");
        assert_eq!(
            gen.context_length(),
            256,
            "{arch}: capped by the model's context"
        );
        assert_eq!(gen.tokenizer_sha256().len(), 64);

        let (c, streamed) = run(&mut gen, &request(PROMPT, greedy(12)));
        assert_eq!(c.tokens.len(), 12, "{arch}");
        assert_eq!(c.finish_reason, FinishReason::Length, "{arch}");
        assert!(!c.text.is_empty(), "{arch}: empty completion");
        assert_eq!(streamed, c.text, "{arch}: streamed text differs");
        assert_eq!(c.prompt_truncated, 0);
        assert_eq!(
            c.prompt_tokens,
            gen.prompt_tokens(PROMPT, PromptMode::Completion)
                .expect("prompt tokens")
                .len()
        );
        assert_eq!(c.text, gen.tokenizer().decode(&c.tokens).expect("decode"));
        assert!(c.text.is_ascii(), "{arch}: {:?}", c.text);
        assert!(c.prompt_seconds >= 0.0 && c.generation_seconds >= 0.0);
        eprintln!(
            "{arch} ({}): {:?} ({:.3}s prompt, {:.3}s generation)",
            path.display(),
            c.text,
            c.prompt_seconds,
            c.generation_seconds
        );
    }
}

#[test]
fn max_new_tokens_is_respected_exactly() {
    let dir = tmp();
    for &arch in ARCHS {
        let (_, mut gen) = model(dir.path(), arch);
        for n in [1, 5, 17] {
            for params in [greedy(n), sampled(n, 3)] {
                let (c, streamed) = run(&mut gen, &request(PROMPT, params));
                assert_eq!(c.tokens.len(), n, "{arch}, {n} tokens");
                assert_eq!(c.finish_reason, FinishReason::Length, "{arch}, {n} tokens");
                assert_eq!(streamed, c.text);
            }
        }
        // Zero new tokens: nothing is generated.
        let (c, _) = run(&mut gen, &request(PROMPT, greedy(0)));
        assert!(c.tokens.is_empty(), "{arch}");
        assert!(c.text.is_empty(), "{arch}");
    }
}

#[test]
fn stop_strings_cut_the_text() {
    let dir = tmp();
    for &arch in ARCHS {
        let (_, mut gen) = model(dir.path(), arch);
        let (full, _) = run(&mut gen, &request(PROMPT, greedy(24)));
        let text = full.text.clone();
        assert!(text.len() >= 6, "{arch}: completion too short: {text:?}");
        // A stop string taken from the middle of the greedy completion.
        let start = text.len() / 2;
        let stop = text[start..start + 2].to_string();
        let cut = text.find(&stop).expect("the stop string is in the text");

        let mut params = greedy(24);
        params.stop = vec!["never-produced-#".into(), stop.clone()];
        let (c, streamed) = run(&mut gen, &request(PROMPT, params));
        assert_eq!(
            c.finish_reason,
            FinishReason::Stop,
            "{arch}: stop {stop:?} in {text:?}"
        );
        assert_eq!(c.text, text[..cut], "{arch}: stop {stop:?} in {text:?}");
        assert!(!c.text.contains(&stop));
        assert_eq!(streamed, c.text, "{arch}: the stop string was streamed");
        assert!(c.tokens.len() <= full.tokens.len());
        assert_eq!(c.tokens[..], full.tokens[..c.tokens.len()], "{arch}");

        // A stop string that never appears changes nothing.
        let mut params = greedy(24);
        params.stop = vec!["never-produced-#".into()];
        let (c, _) = run(&mut gen, &request(PROMPT, params));
        assert_eq!(c.text, text);
        assert_eq!(c.finish_reason, FinishReason::Length);
    }
}

#[test]
fn generation_is_deterministic_for_a_seed() {
    let dir = tmp();
    for &arch in ARCHS {
        let (path, mut gen) = model(dir.path(), arch);
        let (a, _) = run(&mut gen, &request(PROMPT, sampled(16, 42)));
        let (b, _) = run(&mut gen, &request(PROMPT, sampled(16, 42)));
        assert_eq!(a.tokens, b.tokens, "{arch}: same seed, different tokens");
        assert_eq!(a.text, b.text);
        // A freshly loaded model gives the same tokens too.
        let mut fresh = load(&path);
        let (c, _) = run(&mut fresh, &request(PROMPT, sampled(16, 42)));
        assert_eq!(a.tokens, c.tokens, "{arch}: a reloaded model differs");
        // Other seeds, at temperature 1, do not all give the same completion.
        let differing = (1..=4u64)
            .filter(|&s| run(&mut gen, &request(PROMPT, sampled(16, s))).0.tokens != a.tokens)
            .count();
        assert!(
            differing >= 2,
            "{arch}: only {differing} of 4 other seeds differ"
        );
    }
}

#[test]
fn the_kv_cache_is_reset_between_requests() {
    let dir = tmp();
    for &arch in ARCHS {
        let (_, mut gen) = model(dir.path(), arch);
        let a = request(PROMPT, greedy(16));
        let b = request("the world and muthu zwi ndi venda", greedy(16));
        let (a1, _) = run(&mut gen, &a);
        let (b1, _) = run(&mut gen, &b);
        let (a2, _) = run(&mut gen, &a);
        assert_ne!(
            a1.tokens, b1.tokens,
            "{arch}: the prompt makes no difference"
        );
        assert_eq!(a1.tokens, a2.tokens, "{arch}: A after B differs from A");
        // B after A is B on a fresh model.
        let (b2, _) = run(&mut gen, &b);
        assert_eq!(b1.tokens, b2.tokens, "{arch}");
    }
}

/// Logits after cached, token-by-token decoding equal those of the whole sequence fed at once
/// (for Gemma 3 this covers the sliding window, 4 positions here, in both paths).
#[test]
fn cached_decoding_matches_a_full_recompute() {
    let dir = tmp();
    for &arch in ARCHS {
        let (_, mut gen) = model(dir.path(), arch);
        let (c, _) = run(&mut gen, &request(PROMPT, greedy(10)));
        let mut seq = gen
            .prompt_tokens(PROMPT, PromptMode::Completion)
            .expect("prompt tokens");
        let n_prompt = seq.len();
        seq.extend_from_slice(&c.tokens[..9]);
        gen.reset();
        let mut incremental = gen.logits(&seq[..n_prompt], 0).expect("prompt logits");
        for (i, &t) in seq.iter().enumerate().skip(n_prompt) {
            incremental = gen.logits(&[t], i).expect("step logits");
        }
        gen.reset();
        let full = gen.logits(&seq, 0).expect("full logits");
        assert_eq!(full.len(), incremental.len());
        let max_diff = full
            .iter()
            .zip(&incremental)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let scale = full.iter().map(|x| x.abs()).fold(0f32, f32::max);
        assert!(
            max_diff <= 0.02 * scale.max(1.0),
            "{arch}: cached and full logits differ by {max_diff} (scale {scale})"
        );
        // And the greedy choice after the 9 tokens is the 10th generated token.
        let argmax = |v: &[f32]| {
            v.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i as u32)
        };
        assert_eq!(argmax(&full), Some(c.tokens[9]), "{arch}");
    }
}

#[test]
fn chat_mode_applies_the_template() {
    let dir = tmp();
    for &arch in ARCHS {
        let opts = TinyOptions::for_arch(arch);
        let path = common::write_tiny_gguf_with(dir.path(), arch, &opts);
        let mut gen = load(&path);
        let (_, _, specials) = common::vocab_of(&opts);
        let ids = gen
            .prompt_tokens("Ndaa!", PromptMode::Chat)
            .expect("chat prompt");
        assert!(
            ids.contains(&specials.turn_start),
            "{arch}: the turn marker is not a control token in {ids:?}"
        );
        if matches!(opts.vocab, Vocab::Spm { .. }) {
            // The template writes the BOS itself: exactly one, first.
            let bos = specials.bos.expect("bos");
            assert_eq!(ids[0], bos, "{arch}");
            assert_eq!(
                ids.iter().filter(|&&i| i == bos).count(),
                1,
                "{arch}: {ids:?}"
            );
        }
        let completion_ids = gen
            .prompt_tokens("Ndaa!", PromptMode::Completion)
            .expect("completion prompt");
        assert!(ids.len() > completion_ids.len());

        let mut req = request("Ndaa!", greedy(8));
        req.mode = PromptMode::Chat;
        let (c, streamed) = run(&mut gen, &req);
        assert_eq!(c.prompt_tokens, ids.len(), "{arch}");
        assert_eq!(c.tokens.len(), 8, "{arch}");
        assert_eq!(streamed, c.text);
        // Control tokens written as text in completion mode stay text.
        let marker = &opts_marker(&opts);
        let plain = gen
            .tokenizer()
            .encode(marker, false)
            .expect("encode the marker as text");
        assert!(!plain.contains(&specials.turn_start), "{arch}: {plain:?}");
    }
}

fn opts_marker(opts: &TinyOptions) -> String {
    match opts.vocab {
        Vocab::Spm { .. } => "<start_of_turn>".into(),
        _ => "<|im_start|>".into(),
    }
}

#[test]
fn chat_mode_without_a_template_is_an_error() {
    let dir = tmp();
    for &arch in ARCHS {
        let mut opts = TinyOptions::for_arch(arch);
        opts.chat_template = false;
        let path = common::write_tiny_gguf_with(dir.path(), arch, &opts);
        let mut gen = load(&path);
        assert!(!gen.info().has_chat_template);
        let mut req = request("Ndaa!", greedy(4));
        req.mode = PromptMode::Chat;
        let err = gen
            .generate(&req, &mut |_| Flow::Continue)
            .expect_err("chat mode without a template");
        assert!(
            matches!(&err, BackendError::NoChatTemplate(p) if p == &path),
            "{arch}: {err:?}"
        );
        assert!(err.to_string().contains(&path.display().to_string()));
        // Completion mode still works on the same generator.
        let (c, _) = run(&mut gen, &request("Ndaa!", greedy(4)));
        assert_eq!(c.tokens.len(), 4);
    }
}

fn long_prompt() -> String {
    "ndi vha na ha ya kha muthu vhathu zwi the and hello world ".repeat(6)
}

#[test]
fn a_long_prompt_is_truncated_from_the_left() {
    let dir = tmp();
    for &arch in ARCHS {
        let path = common::write_tiny_gguf(dir.path(), arch);
        let opts = LoadOptions {
            context_length: 32,
            overflow: Overflow::TruncateLeft,
            ..LoadOptions::default()
        };
        let mut gen = load_with(&path, &opts);
        assert_eq!(gen.context_length(), 32);
        let prompt = long_prompt();
        let total = gen
            .prompt_tokens(&prompt, PromptMode::Completion)
            .expect("prompt tokens")
            .len();
        assert!(total > 32, "{arch}: the prompt has only {total} tokens");
        let (c, _) = run(&mut gen, &request(&prompt, greedy(8)));
        assert_eq!(c.prompt_tokens, 32 - 8, "{arch}");
        assert_eq!(c.prompt_truncated, total - (32 - 8), "{arch}");
        assert!(c.prompt_truncated > 0);
        assert_eq!(c.tokens.len(), 8, "{arch}");
        assert_eq!(c.finish_reason, FinishReason::Length, "{arch}");

        // The truncated prompt is the tail of the prompt (after the BOS, when there is one):
        // generating from exactly those tokens gives the same completion.
        let ids = gen
            .prompt_tokens(&prompt, PromptMode::Completion)
            .expect("prompt tokens");
        let bos = gen.tokenizer().bos().filter(|b| ids.first() == Some(b));
        let mut kept: Vec<u32> = bos.into_iter().collect();
        kept.extend_from_slice(&ids[c.prompt_truncated + kept.len()..]);
        assert_eq!(kept.len(), 24);
        let mut logits = {
            gen.reset();
            gen.logits(&kept, 0).expect("logits")
        };
        let mut manual = Vec::new();
        for i in 0..8 {
            let next = logits
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i as u32)
                .expect("non-empty logits");
            manual.push(next);
            if i < 7 {
                logits = gen.logits(&[next], kept.len() + i).expect("logits");
            }
        }
        assert_eq!(manual, c.tokens, "{arch}: not the tail of the prompt");
    }
}

#[test]
fn a_long_prompt_is_refused_without_truncation() {
    let dir = tmp();
    for &arch in ARCHS {
        let path = common::write_tiny_gguf(dir.path(), arch);
        let opts = LoadOptions {
            context_length: 32,
            overflow: Overflow::Error,
            ..LoadOptions::default()
        };
        let mut gen = load_with(&path, &opts);
        let prompt = long_prompt();
        let total = gen
            .prompt_tokens(&prompt, PromptMode::Completion)
            .expect("prompt tokens")
            .len();
        let err = gen
            .generate(&request(&prompt, greedy(8)), &mut |_| Flow::Continue)
            .expect_err("overflow");
        match err {
            BackendError::ContextOverflow {
                prompt,
                max_new,
                context,
            } => {
                assert_eq!((prompt, max_new, context), (total, 8, 32), "{arch}");
            }
            other => panic!("{arch}: expected ContextOverflow, got {other:?}"),
        }
        // A prompt that fits still works.
        let (c, _) = run(&mut gen, &request("Ndaa", greedy(8)));
        assert_eq!(c.tokens.len(), 8);
    }
}

#[test]
fn the_observer_can_cancel() {
    let dir = tmp();
    for &arch in ARCHS {
        let (_, mut gen) = model(dir.path(), arch);
        let mut pieces = 0;
        let c = gen
            .generate(&request(PROMPT, greedy(16)), &mut |_| {
                pieces += 1;
                if pieces == 3 {
                    Flow::Stop
                } else {
                    Flow::Continue
                }
            })
            .expect("generate");
        assert_eq!(c.finish_reason, FinishReason::Cancelled, "{arch}");
        assert_eq!(pieces, 3);
        assert!(c.tokens.len() < 16);
    }
}

const ROUND_TRIP: &[&str] = &[
    "Ndaa vhathu",
    "hello world",
    "ḓ ḽ ṅ ṋ ṱ",
    "Ḓ Ḽ Ṅ Ṋ Ṱ",
    "Vho ḓivha zwiḽa? Ndi ṱhanu.",
    "tshi-venda: muthu ndi muthu nga vhathu",
    "two  spaces,\nnew line\tand tab",
    "123 ṅwana!",
];

fn round_trip(path: &Path, strip_space_prefix: bool) {
    let gen = load(path);
    let tk = gen.tokenizer();
    for s in ROUND_TRIP {
        let ids = tk.encode(s, false).expect("encode");
        assert!(!ids.is_empty());
        assert_eq!(gen.count_tokens(s).expect("count"), ids.len());
        let back = tk.decode(&ids).expect("decode");
        let back = if strip_space_prefix {
            // SentencePiece with add_space_prefix: the leading "▁" decodes to a space, as it must
            // when the text continues a prompt.
            back.strip_prefix(' ')
                .unwrap_or_else(|| panic!("no space prefix in {back:?}"))
                .to_string()
        } else {
            back
        };
        assert_eq!(&back, s, "{}: {ids:?}", path.display());
    }
    // The empty string has no tokens.
    assert!(tk.encode("", false).expect("encode").is_empty());
}

#[test]
fn spm_tokenizer_round_trips_with_byte_fallback() {
    let dir = tmp();
    for add_space_prefix in [false, true] {
        let mut opts = TinyOptions::for_arch("gemma3");
        opts.vocab = Vocab::Spm { add_space_prefix };
        let path = common::write_tiny_gguf_with(dir.path(), "gemma3", &opts);
        round_trip(&path, add_space_prefix);
        let gen = load(&path);
        let tk = gen.tokenizer();
        // Venda letters are not in the vocabulary: they fall back to their UTF-8 bytes.
        let (vocab, _) = common::spm_vocab();
        let ids = tk.encode("ḓ", false).expect("encode");
        let bytes: Vec<String> = "ḓ".bytes().map(|b| format!("<0x{b:02X}>")).collect();
        let tail: Vec<String> = ids[ids.len() - 3..]
            .iter()
            .map(|&i| vocab[i as usize].text.clone())
            .collect();
        assert_eq!(tail, bytes, "{ids:?}");
        // Known words are single pieces: the derived merges work.
        let word = if add_space_prefix { "muthu" } else { " muthu" };
        let ids = tk.encode(word, false).expect("encode");
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_eq!(vocab[ids[0] as usize].text, "\u{2581}muthu");
        // The prompt starts with the BOS.
        let p = gen
            .prompt_tokens("muthu", PromptMode::Completion)
            .expect("prompt");
        assert_eq!(p[0], 1);
    }
}

#[test]
fn gpt2_tokenizer_round_trips() {
    let dir = tmp();
    for (arch, pre) in [
        ("qwen2", "qwen2"),
        ("qwen3", "qwen2"),
        ("llama", "llama-bpe"),
        ("phi3", "gpt2"),
    ] {
        let mut opts = TinyOptions::for_arch(arch);
        opts.vocab = Vocab::Gpt2 { pre };
        let path = common::write_tiny_gguf_with(dir.path(), arch, &opts);
        round_trip(&path, false);
        let gen = load(&path);
        let tk = gen.tokenizer();
        let (vocab, _, specials) = common::gpt2_vocab();
        // Known words are single tokens; Venda letters are their bytes.
        let ids = tk.encode(" muthu", false).expect("encode");
        assert_eq!(ids.len(), 1, "{pre}: {ids:?}");
        assert_eq!(vocab[ids[0] as usize].text, "\u{120}muthu");
        let ids = tk.encode("ṱ", false).expect("encode");
        assert_eq!(ids, "ṱ".bytes().map(u32::from).collect::<Vec<_>>(), "{pre}");
        // No BOS for byte-level BPE models here (add_bos_token = false).
        let p = gen
            .prompt_tokens("muthu", PromptMode::Completion)
            .expect("prompt");
        assert_ne!(Some(p[0]), specials.bos);
        // Special tokens: text in completion mode, a control token when parsing special tokens.
        let ids = tk.encode("<|im_start|>", true).expect("encode");
        assert_eq!(ids, vec![specials.turn_start]);
        let ids = tk.encode("<|im_start|>", false).expect("encode");
        assert!(ids.len() > 1);
        assert_eq!(tk.decode(&ids).expect("decode"), "<|im_start|>");
        assert!(tk.is_eog(specials.eos.expect("eos")));
    }
}

/// The Q5_0 → Q8_0 re-encoding changes no result: a tiny llama stored with Q5_0 weights gives the
/// same logits through synthcorpus (re-encoded) as through candle's own Q5_0 kernels.
#[test]
fn q5_0_reencoding_matches_candles_native_q5_0() {
    use candle_core::quantized::gguf_file;
    use candle_core::{Device, Tensor};
    use candle_transformers::models::quantized_llama;

    let dir = tmp();
    let path = common::write_tiny_gguf(dir.path(), "llama");
    let mut gen = load(&path);
    let ids = gen
        .prompt_tokens(PROMPT, PromptMode::Completion)
        .expect("prompt tokens");
    gen.reset();
    let ours = gen.logits(&ids, 0).expect("logits");

    let mut file = std::fs::File::open(&path).expect("open");
    let content = gguf_file::Content::read(&mut file).expect("read the header");
    let mut native =
        quantized_llama::ModelWeights::from_gguf(content, &mut file, &Device::Cpu).expect("load");
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)
        .and_then(|t| t.unsqueeze(0))
        .expect("input");
    let theirs: Vec<f32> = native
        .forward(&input, 0)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1())
        .expect("native forward");
    assert_eq!(ours.len(), theirs.len());
    let max_diff = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        max_diff < 1e-3,
        "re-encoded and native Q5_0 differ by {max_diff}"
    );
}

#[test]
fn tiny_models_are_reproducible_files() {
    let (a, b) = (tmp(), tmp());
    for &arch in ARCHS {
        let pa = common::write_tiny_gguf(a.path(), arch);
        let pb = common::write_tiny_gguf(b.path(), arch);
        let (ba, bb) = (
            std::fs::read(&pa).expect("read"),
            std::fs::read(&pb).expect("read"),
        );
        assert_eq!(ba, bb, "{arch}: two writes differ");
        assert!(ba.len() < 400_000, "{arch}: {} bytes is not tiny", ba.len());
    }
    // Another seed gives other weights.
    let mut opts = TinyOptions::for_arch("llama");
    opts.seed += 1;
    let other = common::write_tiny_gguf_with(a.path(), "llama", &opts);
    let first = common::write_tiny_gguf(a.path(), "llama");
    assert_ne!(
        std::fs::read(other).expect("read"),
        std::fs::read(first).expect("read")
    );
}
