//! Tiny random-weight GGUF models for tests, written with candle's GGUF writer.
//!
//! Every supported architecture (gemma3, llama, qwen2, qwen3, phi3) gets a model with hidden size
//! 64, 2 attention heads of 32, a feed-forward size of 128 and a vocabulary of a few hundred
//! tokens, so that it loads and generates in milliseconds. The weights come from a fixed xorshift
//! generator, so the same options always give a byte-identical file.
//!
//! The tokenizer is part of the GGUF metadata: either a SentencePiece (`llama`) vocabulary with
//! control tokens, the 256 `<0xNN>` byte-fallback tokens and scored pieces, or a byte-level BPE
//! (`gpt2`) vocabulary with the 256 byte symbols, a few merges and ChatML control tokens.
//!
//! The output projection has all-zero rows for every token that is not an ordinary printable
//! ASCII piece (control, byte and non-ASCII byte-level tokens), so their logit is exactly 0 while
//! the best ordinary piece scores well above it: generation never ends on EOS, and every
//! completion decodes to plain ASCII text whose decoding of a prefix is a prefix of the decoding.

#![allow(dead_code)]

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

/// Hidden size of every tiny model.
pub const HIDDEN: usize = 64;
/// Attention heads.
pub const HEADS: usize = 2;
/// Size of one attention head.
pub const HEAD_DIM: usize = 32;
/// Feed-forward size.
pub const FFN: usize = 128;

/// The architectures synthcorpus runs, in the order tests go through them.
pub const ARCHS: &[&str] = &["gemma3", "llama", "qwen2", "qwen3", "phi3"];

/// The tokenizer written into the metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum Vocab {
    /// `tokenizer.ggml.model = llama` (SentencePiece with byte fallback).
    Spm {
        /// `tokenizer.ggml.add_space_prefix`.
        add_space_prefix: bool,
    },
    /// `tokenizer.ggml.model = gpt2` (byte-level BPE) with this `tokenizer.ggml.pre`.
    Gpt2 {
        /// `tokenizer.ggml.pre`.
        pre: &'static str,
    },
    /// No `tokenizer.*` keys at all.
    None,
}

/// What to write.
#[derive(Debug, Clone)]
pub struct TinyOptions {
    /// The tokenizer.
    pub vocab: Vocab,
    /// Write a `tokenizer.chat_template` matching the vocabulary (Gemma turns for SentencePiece,
    /// ChatML for byte-level BPE).
    pub chat_template: bool,
    /// Number of transformer blocks.
    pub layers: usize,
    /// `{arch}.context_length`.
    pub context_length: u32,
    /// Store some weights (every block's `ffn_down` and `attn_v`) as Q5_0 instead of Q8_0.
    pub q5_0: bool,
    /// Seed of the weight generator.
    pub seed: u64,
    /// `general.architecture` to write instead of the architecture whose tensors are written.
    pub architecture_override: Option<String>,
}

impl TinyOptions {
    /// The usual options for `arch`: Gemma, Llama and Phi-3 with a SentencePiece vocabulary,
    /// the Qwens with a byte-level BPE one; a chat template; two layers; Q5_0 weights included.
    pub fn for_arch(arch: &str) -> Self {
        let vocab = match arch {
            "gemma3" => Vocab::Spm {
                add_space_prefix: false,
            },
            "llama" | "phi3" => Vocab::Spm {
                add_space_prefix: true,
            },
            _ => Vocab::Gpt2 { pre: "qwen2" },
        };
        Self {
            vocab,
            chat_template: true,
            layers: 2,
            context_length: 256,
            q5_0: true,
            seed: 0x5eed_0001,
            architecture_override: None,
        }
    }
}

/// Deterministic uniform numbers from a xorshift64* generator.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator; a zero seed is replaced by a fixed non-zero one.
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[-a, a)`.
    pub fn uniform(&mut self, a: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        (2.0 * u - 1.0) * a
    }
}

/// GPT-2's map from bytes to the printable characters a byte-level BPE stores.
pub fn byte_to_unicode() -> Vec<char> {
    let mut printable: Vec<u32> = Vec::new();
    printable.extend(u32::from(b'!')..=u32::from(b'~'));
    printable.extend(0xA1..=0xAC);
    printable.extend(0xAE..=0xFF);
    let mut map = vec!['\0'; 256];
    let mut extra = 0u32;
    for b in 0..256u32 {
        let c = if printable.contains(&b) {
            b
        } else {
            extra += 1;
            255 + extra
        };
        map[b as usize] = char::from_u32(c).expect("valid char");
    }
    map
}

/// Words whose pieces the vocabularies know as multi-character tokens.
pub const WORDS: &[&str] = &[
    "ndi", "vha", "na", "ha", "ya", "kha", "Ndaa", "muthu", "vhathu", "zwi", "the", "and", "hello",
    "world", "tshi", "venda",
];

/// One token of a vocabulary.
#[derive(Debug, Clone)]
pub struct Token {
    /// Its text.
    pub text: String,
    /// llama.cpp token type (1 normal, 2 unknown, 3 control, 6 byte).
    pub ty: i32,
    /// SentencePiece score.
    pub score: f32,
    /// Whether the model may produce it (a non-zero output row).
    pub sampleable: bool,
}

/// Ids of the special tokens of a vocabulary.
#[derive(Debug, Clone, Default)]
pub struct Specials {
    /// `tokenizer.ggml.bos_token_id`.
    pub bos: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos: Option<u32>,
    /// The token that starts a chat turn (`<start_of_turn>` or `<|im_start|>`).
    pub turn_start: u32,
}

fn tok(text: impl Into<String>, ty: i32, score: f32, sampleable: bool) -> Token {
    Token {
        text: text.into(),
        ty,
        score,
        sampleable,
    }
}

/// A SentencePiece vocabulary: `<unk>`, `<s>`, `</s>`, `<start_of_turn>`, `<end_of_turn>`, the
/// 256 byte tokens, `▁` and single printable ASCII characters, then every prefix (of two
/// characters or more) of each word with and without `▁`.
pub fn spm_vocab() -> (Vec<Token>, Specials) {
    let mut v = vec![
        tok("<unk>", 2, 0.0, false),
        tok("<s>", 3, 0.0, false),
        tok("</s>", 3, 0.0, false),
        tok("<start_of_turn>", 3, 0.0, false),
        tok("<end_of_turn>", 3, 0.0, false),
    ];
    for b in 0..=255u8 {
        v.push(tok(format!("<0x{b:02X}>"), 6, 0.0, false));
    }
    let mut pieces: Vec<String> = vec!["\u{2581}".to_string()];
    pieces.extend(
        (b'!'..=b'~')
            .filter(|b| b.is_ascii_alphanumeric() || b".,!?'-:;".contains(b))
            .map(|b| (b as char).to_string()),
    );
    for w in WORDS {
        for word in [format!("\u{2581}{w}"), w.to_string()] {
            let chars: Vec<char> = word.chars().collect();
            for n in 2..=chars.len() {
                pieces.push(chars[..n].iter().collect());
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for p in pieces {
        if seen.insert(p.clone()) {
            let score = -(v.len() as f32);
            v.push(tok(p, 1, score, true));
        }
    }
    (
        v,
        Specials {
            bos: Some(1),
            eos: Some(2),
            turn_start: 3,
        },
    )
}

/// A byte-level BPE vocabulary: the 256 byte symbols (id = byte), the tokens of left-to-right
/// merges building every word with and without a leading space, and `<|endoftext|>`,
/// `<|im_start|>`, `<|im_end|>` control tokens. Returns the tokens, the merges and the specials.
pub fn gpt2_vocab() -> (Vec<Token>, Vec<String>, Specials) {
    let map = byte_to_unicode();
    let mut v: Vec<Token> = (0..256usize)
        .map(|b| {
            let printable = (0x20..0x7f).contains(&b);
            tok(map[b].to_string(), 1, 0.0, printable)
        })
        .collect();
    let mut merges = Vec::new();
    let mut known: std::collections::HashSet<String> = v.iter().map(|t| t.text.clone()).collect();
    for w in WORDS {
        for word in [format!(" {w}"), w.to_string()] {
            let syms: Vec<String> = word.bytes().map(|b| map[b as usize].to_string()).collect();
            let mut acc = syms[0].clone();
            for s in &syms[1..] {
                let merged = format!("{acc}{s}");
                if known.insert(merged.clone()) {
                    merges.push(format!("{acc} {s}"));
                    v.push(tok(merged.clone(), 1, 0.0, true));
                }
                acc = merged;
            }
        }
    }
    let eot = v.len() as u32;
    v.push(tok("<|endoftext|>", 3, 0.0, false));
    let im_start = v.len() as u32;
    v.push(tok("<|im_start|>", 3, 0.0, false));
    v.push(tok("<|im_end|>", 3, 0.0, false));
    (
        v,
        merges,
        Specials {
            bos: Some(eot),
            eos: Some(eot),
            turn_start: im_start,
        },
    )
}

/// Gemma's chat template (turns marked with `<start_of_turn>` / `<end_of_turn>`).
pub const GEMMA_TEMPLATE: &str = "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m.role }}\n{{ m.content | trim }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}";
/// ChatML, as Qwen uses.
pub const CHATML_TEMPLATE: &str = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/// The vocabulary `opts` asks for: tokens, merges and specials (empty for [`Vocab::None`]).
pub fn vocab_of(opts: &TinyOptions) -> (Vec<Token>, Vec<String>, Specials) {
    match opts.vocab {
        Vocab::Spm { .. } => {
            let (v, s) = spm_vocab();
            (v, Vec::new(), s)
        }
        Vocab::Gpt2 { .. } => gpt2_vocab(),
        // Without tokenizer metadata the model still needs a vocabulary-sized embedding.
        Vocab::None => {
            let (v, s) = spm_vocab();
            (v, Vec::new(), s)
        }
    }
}

fn u32v(x: usize) -> Value {
    Value::U32(x as u32)
}

fn metadata(arch: &str, opts: &TinyOptions) -> Vec<(String, Value)> {
    let written_arch = opts
        .architecture_override
        .clone()
        .unwrap_or_else(|| arch.to_string());
    let kv_heads = if arch == "phi3" { HEADS } else { 1 };
    let mut md: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(written_arch)),
        ("general.name".into(), Value::String(format!("tiny-{arch}"))),
        ("general.file_type".into(), Value::U32(7)),
    ];
    let p = |k: &str| format!("{arch}.{k}");
    md.extend([
        (p("context_length"), Value::U32(opts.context_length)),
        (p("embedding_length"), u32v(HIDDEN)),
        (p("block_count"), u32v(opts.layers)),
        (p("feed_forward_length"), u32v(FFN)),
        (p("attention.head_count"), u32v(HEADS)),
        (p("attention.head_count_kv"), u32v(kv_heads)),
        (p("attention.key_length"), u32v(HEAD_DIM)),
        (p("attention.value_length"), u32v(HEAD_DIM)),
        (p("attention.layer_norm_rms_epsilon"), Value::F32(1e-6)),
        (p("rope.freq_base"), Value::F32(10_000.0)),
        (p("rope.dimension_count"), u32v(HEAD_DIM)),
    ]);
    if arch == "gemma3" {
        // Layer 0 slides over 4 positions, layer 1 is global.
        md.push((p("attention.sliding_window"), Value::U32(4)));
        md.push((p("attention.sliding_window_type"), Value::U32(2)));
        md.push((p("rope.local_freq_base"), Value::F32(10_000.0)));
    }
    let (tokens, merges, specials) = vocab_of(opts);
    match opts.vocab {
        Vocab::None => return md,
        Vocab::Spm { add_space_prefix } => {
            md.push(("tokenizer.ggml.model".into(), Value::String("llama".into())));
            md.push((
                "tokenizer.ggml.scores".into(),
                Value::Array(tokens.iter().map(|t| Value::F32(t.score)).collect()),
            ));
            md.push((
                "tokenizer.ggml.add_space_prefix".into(),
                Value::Bool(add_space_prefix),
            ));
            md.push(("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)));
            md.push(("tokenizer.ggml.unknown_token_id".into(), Value::U32(0)));
        }
        Vocab::Gpt2 { pre } => {
            md.push(("tokenizer.ggml.model".into(), Value::String("gpt2".into())));
            md.push(("tokenizer.ggml.pre".into(), Value::String(pre.into())));
            md.push((
                "tokenizer.ggml.merges".into(),
                Value::Array(merges.into_iter().map(Value::String).collect()),
            ));
            md.push(("tokenizer.ggml.add_bos_token".into(), Value::Bool(false)));
        }
    }
    md.push((
        "tokenizer.ggml.tokens".into(),
        Value::Array(
            tokens
                .iter()
                .map(|t| Value::String(t.text.clone()))
                .collect(),
        ),
    ));
    md.push((
        "tokenizer.ggml.token_type".into(),
        Value::Array(tokens.iter().map(|t| Value::I32(t.ty)).collect()),
    ));
    if let Some(b) = specials.bos {
        md.push(("tokenizer.ggml.bos_token_id".into(), Value::U32(b)));
    }
    if let Some(e) = specials.eos {
        md.push(("tokenizer.ggml.eos_token_id".into(), Value::U32(e)));
    }
    if opts.chat_template {
        let t = match opts.vocab {
            Vocab::Spm { .. } => GEMMA_TEMPLATE,
            _ => CHATML_TEMPLATE,
        };
        md.push(("tokenizer.chat_template".into(), Value::String(t.into())));
    }
    md
}

struct Weights<'a> {
    rng: XorShift,
    dev: &'a Device,
    out: Vec<(String, QTensor)>,
}

impl Weights<'_> {
    fn push(&mut self, name: &str, data: Vec<f32>, shape: &[usize], dtype: GgmlDType) {
        let t = Tensor::from_vec(data, shape, self.dev).expect("tensor");
        let q = QTensor::quantize(&t, dtype).expect("quantize");
        self.out.push((name.to_string(), q));
    }

    /// A matrix `(rows, cols)` uniform in `[-a, a)`.
    fn matrix(&mut self, name: &str, rows: usize, cols: usize, a: f32, dtype: GgmlDType) {
        let data = (0..rows * cols).map(|_| self.rng.uniform(a)).collect();
        self.push(name, data, &[rows, cols], dtype);
    }

    /// A norm weight near 1.
    fn norm(&mut self, name: &str, n: usize) {
        let data = (0..n).map(|_| 1.0 + self.rng.uniform(0.1)).collect();
        self.push(name, data, &[n], GgmlDType::F32);
    }

    fn vector(&mut self, name: &str, n: usize, a: f32) {
        let data = (0..n).map(|_| self.rng.uniform(a)).collect();
        self.push(name, data, &[n], GgmlDType::F32);
    }
}

fn tensors(arch: &str, opts: &TinyOptions, vocab: &[Token]) -> Vec<(String, QTensor)> {
    let dev = Device::Cpu;
    let mut w = Weights {
        rng: XorShift::new(opts.seed),
        dev: &dev,
        out: Vec::new(),
    };
    let q8 = GgmlDType::Q8_0;
    let q5 = if opts.q5_0 { GgmlDType::Q5_0 } else { q8 };
    let n_vocab = vocab.len();
    let kv_heads = if arch == "phi3" { HEADS } else { 1 };
    let (q_dim, kv_dim) = (HEADS * HEAD_DIM, kv_heads * HEAD_DIM);
    let a_in = 1.0 / (HIDDEN as f32).sqrt() * 1.7;
    let a_ffn = 1.0 / (FFN as f32).sqrt() * 1.7;

    w.matrix("token_embd.weight", n_vocab, HIDDEN, 1.0, q8);
    // Output rows: random for ordinary pieces, zero for everything the model must never emit.
    let mut out = Vec::with_capacity(n_vocab * HIDDEN);
    for t in vocab {
        for _ in 0..HIDDEN {
            let x = w.rng.uniform(0.8);
            out.push(if t.sampleable { x } else { 0.0 });
        }
    }
    w.push("output.weight", out, &[n_vocab, HIDDEN], q8);
    w.norm("output_norm.weight", HIDDEN);
    for i in 0..opts.layers {
        let b = |s: &str| format!("blk.{i}.{s}");
        w.norm(&b("attn_norm.weight"), HIDDEN);
        w.norm(&b("ffn_norm.weight"), HIDDEN);
        if arch == "phi3" {
            w.matrix(&b("attn_qkv.weight"), q_dim + 2 * kv_dim, HIDDEN, a_in, q8);
            w.matrix(&b("attn_output.weight"), HIDDEN, q_dim, a_in, q8);
            w.matrix(&b("ffn_up.weight"), 2 * FFN, HIDDEN, a_in, q8);
            w.matrix(&b("ffn_down.weight"), HIDDEN, FFN, a_ffn, q5);
            continue;
        }
        w.matrix(&b("attn_q.weight"), q_dim, HIDDEN, a_in, q8);
        w.matrix(&b("attn_k.weight"), kv_dim, HIDDEN, a_in, q8);
        w.matrix(&b("attn_v.weight"), kv_dim, HIDDEN, a_in, q5);
        w.matrix(&b("attn_output.weight"), HIDDEN, q_dim, a_in, q8);
        w.matrix(&b("ffn_gate.weight"), FFN, HIDDEN, a_in, q8);
        w.matrix(&b("ffn_up.weight"), FFN, HIDDEN, a_in, q8);
        w.matrix(&b("ffn_down.weight"), HIDDEN, FFN, a_ffn, q5);
        if arch == "qwen2" {
            w.vector(&b("attn_q.bias"), q_dim, 0.1);
            w.vector(&b("attn_k.bias"), kv_dim, 0.1);
            w.vector(&b("attn_v.bias"), kv_dim, 0.1);
        }
        if arch == "qwen3" || arch == "gemma3" {
            w.norm(&b("attn_q_norm.weight"), HEAD_DIM);
            w.norm(&b("attn_k_norm.weight"), HEAD_DIM);
        }
        if arch == "gemma3" {
            w.norm(&b("post_attention_norm.weight"), HIDDEN);
            w.norm(&b("post_ffw_norm.weight"), HIDDEN);
        }
    }
    w.out
}

/// Write a GGUF with the given metadata and tensors to `path`.
pub fn write_gguf(path: &Path, metadata: &[(String, Value)], tensors: &[(String, QTensor)]) {
    let file = File::create(path).expect("create the GGUF file");
    let mut w = BufWriter::new(file);
    let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    gguf_file::write(&mut w, &md, &ts).expect("write the GGUF file");
    std::io::Write::flush(&mut w).expect("flush the GGUF file");
}

/// File name used for a model of `arch` with `opts`.
fn file_name(arch: &str, opts: &TinyOptions) -> String {
    let vocab = match &opts.vocab {
        Vocab::Spm { add_space_prefix } => format!("spm{}", u8::from(*add_space_prefix)),
        Vocab::Gpt2 { pre } => format!("gpt2-{pre}"),
        Vocab::None => "notok".into(),
    };
    format!(
        "tiny-{}-{arch}-{vocab}-{}{}-l{}-c{}-s{:x}.gguf",
        opts.architecture_override.as_deref().unwrap_or("as"),
        if opts.chat_template { "chat" } else { "nochat" },
        if opts.q5_0 { "-q5" } else { "" },
        opts.layers,
        opts.context_length,
        opts.seed
    )
}

/// Write a tiny model of `arch` (one of [`ARCHS`]) into `dir` and return its path.
pub fn write_tiny_gguf_with(dir: &Path, arch: &str, opts: &TinyOptions) -> PathBuf {
    let path = dir.join(file_name(arch, opts));
    let (tokens, _, _) = vocab_of(opts);
    let md = metadata(arch, opts);
    let ts = tensors(arch, opts, &tokens);
    write_gguf(&path, &md, &ts);
    path
}

/// Write a tiny model of `arch` with [`TinyOptions::for_arch`] into `dir` as `name`, after `edit`
/// has changed its metadata and tensors (to make malformed models).
pub fn write_tiny_gguf_edited(
    dir: &Path,
    arch: &str,
    name: &str,
    edit: impl FnOnce(&mut Vec<(String, Value)>, &mut Vec<(String, QTensor)>),
) -> PathBuf {
    let opts = TinyOptions::for_arch(arch);
    let path = dir.join(name);
    let (tokens, _, _) = vocab_of(&opts);
    let mut md = metadata(arch, &opts);
    let mut ts = tensors(arch, &opts, &tokens);
    edit(&mut md, &mut ts);
    write_gguf(&path, &md, &ts);
    path
}

/// Set (or add) metadata `key`.
pub fn set_key(md: &mut Vec<(String, Value)>, key: &str, value: Value) {
    match md.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => md.push((key.to_string(), value)),
    }
}

/// Remove metadata `key`.
pub fn remove_key(md: &mut Vec<(String, Value)>, key: &str) {
    md.retain(|(k, _)| k != key);
}

/// Write a tiny model of `arch` with [`TinyOptions::for_arch`] into `dir`.
pub fn write_tiny_gguf(dir: &Path, arch: &str) -> PathBuf {
    write_tiny_gguf_with(dir, arch, &TinyOptions::for_arch(arch))
}

/// A valid tiny model cut to `keep` of its bytes (a fraction in `0..1`).
pub fn write_truncated_gguf(dir: &Path, arch: &str, keep: f64) -> PathBuf {
    let full = write_tiny_gguf(dir, arch);
    let bytes = std::fs::read(&full).expect("read the tiny model");
    let path = dir.join(format!("truncated-{arch}-{keep}.gguf"));
    let n = (bytes.len() as f64 * keep) as usize;
    std::fs::write(&path, &bytes[..n]).expect("write the truncated model");
    path
}

/// A text file with a `.gguf` name.
pub fn write_not_gguf(dir: &Path) -> PathBuf {
    let path = dir.join("notes.gguf");
    std::fs::write(&path, "This is not a model, just some notes.\n").expect("write");
    path
}

/// A tiny llama-shaped model whose `general.architecture` is `mamba`.
pub fn write_unsupported_arch_gguf(dir: &Path) -> PathBuf {
    let mut opts = TinyOptions::for_arch("llama");
    opts.architecture_override = Some("mamba".into());
    write_tiny_gguf_with(dir, "llama", &opts)
}

/// A tiny model of `arch` without any `tokenizer.*` metadata.
pub fn write_no_tokenizer_gguf(dir: &Path, arch: &str) -> PathBuf {
    let mut opts = TinyOptions::for_arch(arch);
    opts.vocab = Vocab::None;
    opts.chat_template = false;
    write_tiny_gguf_with(dir, arch, &opts)
}
