//! Tokenizers for GGUF models: from a `tokenizer.json`, or built from the GGUF metadata.
//!
//! Two GGUF tokenizer kinds are supported:
//! - `llama` (SentencePiece vocabularies such as Gemma's): a BPE whose merges are derived from the
//!   vocabulary (every split of a token into two vocabulary tokens, ranked by the merged token's
//!   score), with byte fallback and `add_space_prefix` honoured. This reproduces llama.cpp's SPM
//!   tokenizer, which merges the adjacent pair whose merged token scores highest.
//! - `gpt2` (byte-level BPE such as Qwen's): the stored merges and the pre-tokenizer regex that
//!   llama.cpp uses for `tokenizer.ggml.pre`.
//!
//! Control and user-defined tokens are split out of the text before the BPE runs, as llama.cpp
//! does: user-defined tokens always, control tokens only when the caller asks to parse special
//! tokens (a rendered chat template); otherwise `<start_of_turn>` in a seed text is plain text.
//!
//! This module does not depend on candle: it works on a [`TokenizerSpec`] read from the metadata.

use std::collections::BTreeSet;

use ahash::AHashMap as HashMap;
use std::path::Path;

use aho_corasick::{AhoCorasick, MatchKind};
use sha2::{Digest, Sha256};
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{Prepend, Replace};
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{DecoderWrapper, NormalizerWrapper, PreTokenizerWrapper, SplitDelimiterBehavior};

use super::BackendError;

/// llama.cpp's token types.
pub mod token_type {
    /// An ordinary piece.
    pub const NORMAL: i32 = 1;
    /// The unknown token.
    pub const UNKNOWN: i32 = 2;
    /// A control token (`<bos>`, `<start_of_turn>`): special, never produced by plain text.
    pub const CONTROL: i32 = 3;
    /// A user-defined token: always matched as a whole in text.
    pub const USER_DEFINED: i32 = 4;
    /// An unused slot.
    pub const UNUSED: i32 = 5;
    /// A byte-fallback token such as `<0x0A>`.
    pub const BYTE: i32 = 6;
}

/// The kind of vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VocabKind {
    /// SentencePiece-style (`tokenizer.ggml.model = llama`).
    Spm,
    /// Byte-level BPE (`tokenizer.ggml.model = gpt2`).
    Gpt2,
}

/// Everything needed to build a tokenizer, as read from GGUF metadata.
#[derive(Debug, Clone, Default)]
pub struct TokenizerSpec {
    /// Vocabulary kind; `None` when only a `tokenizer.json` is used.
    pub kind: Option<VocabKind>,
    /// Token strings, indexed by id.
    pub tokens: Vec<String>,
    /// SentencePiece scores (empty for gpt2).
    pub scores: Vec<f32>,
    /// llama.cpp token types (see [`token_type`]); empty means all normal.
    pub token_types: Vec<i32>,
    /// BPE merges as `"left right"` (gpt2 only).
    pub merges: Vec<String>,
    /// `tokenizer.ggml.pre`, the pre-tokenizer name (gpt2 only).
    pub pre: Option<String>,
    /// Beginning-of-sequence token.
    pub bos: Option<u32>,
    /// End-of-sequence token.
    pub eos: Option<u32>,
    /// Extra end-of-generation tokens (end of turn and the like).
    pub eog: Vec<u32>,
    /// Whether a BOS token starts every prompt.
    pub add_bos: bool,
    /// Whether SentencePiece adds a space before the text.
    pub add_space_prefix: bool,
}

impl TokenizerSpec {
    fn token_type(&self, id: usize) -> i32 {
        self.token_types
            .get(id)
            .copied()
            .unwrap_or(token_type::NORMAL)
    }

    /// A stable sha256 over the vocabulary, scores, types and merges.
    pub fn sha256(&self) -> String {
        let mut h = Sha256::new();
        h.update(format!("{:?}\0", self.kind).as_bytes());
        for t in &self.tokens {
            h.update((t.len() as u64).to_le_bytes());
            h.update(t.as_bytes());
        }
        for s in &self.scores {
            h.update(s.to_le_bytes());
        }
        for t in &self.token_types {
            h.update(t.to_le_bytes());
        }
        for m in &self.merges {
            h.update((m.len() as u64).to_le_bytes());
            h.update(m.as_bytes());
        }
        h.update(format!("{:?}{}{}", self.pre, self.add_bos, self.add_space_prefix).as_bytes());
        hex(&h.finalize())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A tokenizer for one model: encodes prompts, decodes completions, knows the special tokens.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// Text pieces split out before BPE: (matcher, ids by pattern index), for user-defined only
    /// and for user-defined + control.
    always: Option<(AhoCorasick, Vec<u32>)>,
    with_control: Option<(AhoCorasick, Vec<u32>)>,
    /// Ids never rendered as text in a completion (control tokens).
    hidden: BTreeSet<u32>,
    /// Ids that end generation.
    eog: BTreeSet<u32>,
    bos: Option<u32>,
    add_bos: bool,
    from_json: bool,
    vocab_size: usize,
    sha256: String,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size)
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// The pre-tokenizer regex llama.cpp uses for a `tokenizer.ggml.pre` value.
fn pre_regex(pre: Option<&str>) -> &'static str {
    const GPT2: &str =
        r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    match pre {
        Some("qwen2") | Some("deepseek-r1-qwen") => QWEN2,
        Some("llama3") | Some("llama-bpe") | Some("smaug-bpe") | Some("dbrx") => LLAMA3,
        _ => GPT2,
    }
}

fn tk_err(what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Tokenizer(format!("{what}: {e}"))
}

impl Tokenizer {
    /// Build from GGUF metadata.
    pub fn from_spec(spec: &TokenizerSpec) -> Result<Self, BackendError> {
        let kind = spec
            .kind
            .ok_or_else(|| BackendError::Tokenizer("the model has no tokenizer metadata".into()))?;
        if spec.tokens.is_empty() {
            return Err(BackendError::Tokenizer(
                "tokenizer.ggml.tokens is empty".into(),
            ));
        }
        let mut vocab: HashMap<String, u32> = HashMap::default();
        for (id, t) in spec.tokens.iter().enumerate() {
            vocab.entry(t.clone()).or_insert(id as u32);
        }
        let mut tokenizer = match kind {
            VocabKind::Spm => Self::build_spm(spec, vocab)?,
            VocabKind::Gpt2 => Self::build_gpt2(spec, vocab)?,
        };
        let mut hidden = BTreeSet::new();
        let mut always = Vec::new();
        let mut control = Vec::new();
        for (id, t) in spec.tokens.iter().enumerate() {
            match spec.token_type(id) {
                token_type::CONTROL => {
                    hidden.insert(id as u32);
                    if !t.is_empty() {
                        control.push((t.clone(), id as u32));
                    }
                }
                token_type::USER_DEFINED if !t.is_empty() => always.push((t.clone(), id as u32)),
                _ => {}
            }
        }
        let both: Vec<(String, u32)> = always.iter().chain(control.iter()).cloned().collect();
        let mut eog: BTreeSet<u32> = spec.eog.iter().copied().collect();
        eog.extend(spec.eos);
        tokenizer.with_decoder(Some(match kind {
            VocabKind::Spm => DecoderWrapper::Sequence(DecoderSequence::new(vec![
                DecoderWrapper::Replace(
                    Replace::new("\u{2581}", " ").map_err(|e| tk_err("decoder", e))?,
                ),
                DecoderWrapper::ByteFallback(ByteFallback::new()),
                DecoderWrapper::Fuse(Fuse::new()),
            ])),
            VocabKind::Gpt2 => DecoderWrapper::ByteLevel(ByteLevel::default()),
        }));
        Ok(Self {
            inner: tokenizer,
            always: matcher(&always)?,
            with_control: matcher(&both)?,
            hidden,
            eog,
            bos: spec.bos,
            add_bos: spec.add_bos,
            from_json: false,
            vocab_size: spec.tokens.len(),
            sha256: spec.sha256(),
        })
    }

    fn build_spm(
        spec: &TokenizerSpec,
        vocab: HashMap<String, u32>,
    ) -> Result<tokenizers::Tokenizer, BackendError> {
        // Derive merges: every split of a piece into two pieces of the vocabulary, ranked by the
        // merged piece's score (highest first), then by id and split position for determinism.
        let mut ranked: Vec<(f32, u32, usize, &str, &str)> = Vec::new();
        for (id, piece) in spec.tokens.iter().enumerate() {
            if spec.token_type(id) == token_type::BYTE || vocab.get(piece) != Some(&(id as u32)) {
                continue;
            }
            let score = spec.scores.get(id).copied().unwrap_or(0.0);
            for (split, _) in piece.char_indices().skip(1) {
                let (l, r) = piece.split_at(split);
                if vocab.contains_key(l) && vocab.contains_key(r) {
                    ranked.push((score, id as u32, split, l, r));
                }
            }
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let merges: Vec<(String, String)> = ranked
            .into_iter()
            .map(|(_, _, _, l, r)| (l.to_string(), r.to_string()))
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .byte_fallback(true)
            .build()
            .map_err(|e| tk_err("building the SentencePiece BPE", e))?;
        let mut t = tokenizers::Tokenizer::new(bpe);
        let mut norms = Vec::new();
        if spec.add_space_prefix {
            norms.push(NormalizerWrapper::Prepend(Prepend::new("\u{2581}".into())));
        }
        norms.insert(
            0,
            NormalizerWrapper::Replace(
                Replace::new(" ", "\u{2581}").map_err(|e| tk_err("normalizer", e))?,
            ),
        );
        t.with_normalizer(Some(tokenizers::normalizers::Sequence::new(norms)));
        Ok(t)
    }

    fn build_gpt2(
        spec: &TokenizerSpec,
        vocab: HashMap<String, u32>,
    ) -> Result<tokenizers::Tokenizer, BackendError> {
        let mut merges = Vec::with_capacity(spec.merges.len());
        for (i, m) in spec.merges.iter().enumerate() {
            let Some((l, r)) = m.split_once(' ') else {
                return Err(BackendError::Tokenizer(format!(
                    "tokenizer.ggml.merges[{i}] = {m:?} is not two tokens separated by a space"
                )));
            };
            merges.push((l.to_string(), r.to_string()));
        }
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| tk_err("building the byte-level BPE", e))?;
        let mut t = tokenizers::Tokenizer::new(bpe);
        let split = Split::new(
            SplitPattern::Regex(pre_regex(spec.pre.as_deref()).to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| tk_err("pre-tokenizer regex", e))?;
        t.with_pre_tokenizer(Some(PreSequence::new(vec![
            PreTokenizerWrapper::Split(split),
            PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, false, false)),
        ])));
        Ok(t)
    }

    /// Load a `tokenizer.json`; `spec` supplies BOS/EOS when the metadata has them.
    pub fn from_json_file(path: &Path, spec: &TokenizerSpec) -> Result<Self, BackendError> {
        let inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| BackendError::Tokenizer(format!("cannot load {}: {e}", path.display())))?;
        let bytes = std::fs::read(path).map_err(|e| BackendError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let hidden: BTreeSet<u32> = inner
            .get_added_tokens_decoder()
            .iter()
            .filter(|(_, t)| t.special)
            .map(|(id, _)| *id)
            .collect();
        let mut eog: BTreeSet<u32> = spec.eog.iter().copied().collect();
        eog.extend(spec.eos);
        Ok(Self {
            vocab_size: inner.get_vocab_size(true),
            inner,
            always: None,
            with_control: None,
            hidden,
            eog,
            bos: spec.bos,
            add_bos: spec.add_bos,
            from_json: true,
            sha256: hex(&Sha256::digest(&bytes)),
        })
    }

    /// Tokens of `text`, with no BOS. With `parse_special`, control tokens written in the text
    /// (as a chat template writes them) become their ids; without it they are plain text.
    pub fn encode(&self, text: &str, parse_special: bool) -> Result<Vec<u32>, BackendError> {
        if self.from_json {
            let enc = self
                .inner
                .encode(text, false)
                .map_err(|e| tk_err("encoding", e))?;
            return Ok(enc.get_ids().to_vec());
        }
        let matcher = if parse_special {
            &self.with_control
        } else {
            &self.always
        };
        // As llama.cpp: split special pieces out, then tokenize each raw fragment on its own
        // (the SentencePiece space prefix, when on, starts every fragment).
        let mut ids = Vec::new();
        let mut last = 0;
        if let Some((ac, pattern_ids)) = matcher {
            for m in ac.find_iter(text) {
                self.encode_plain(&text[last..m.start()], &mut ids)?;
                ids.push(pattern_ids[m.pattern().as_usize()]);
                last = m.end();
            }
        }
        self.encode_plain(&text[last..], &mut ids)?;
        Ok(ids)
    }

    fn encode_plain(&self, text: &str, out: &mut Vec<u32>) -> Result<(), BackendError> {
        if text.is_empty() {
            return Ok(());
        }
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| tk_err("encoding", e))?;
        out.extend_from_slice(enc.get_ids());
        Ok(())
    }

    /// The prompt's tokens: BOS (when the model wants one and the text does not start with it)
    /// followed by the encoded text.
    pub fn encode_prompt(&self, text: &str, parse_special: bool) -> Result<Vec<u32>, BackendError> {
        let mut ids = self.encode(text, parse_special)?;
        if self.add_bos {
            if let Some(bos) = self.bos {
                if ids.first() != Some(&bos) {
                    ids.insert(0, bos);
                }
            }
        }
        Ok(ids)
    }

    /// Text of `ids`, leaving out control tokens.
    pub fn decode(&self, ids: &[u32]) -> Result<String, BackendError> {
        let visible: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|id| !self.hidden.contains(id))
            .collect();
        self.inner
            .decode(&visible, false)
            .map_err(|e| tk_err("decoding", e))
    }

    /// Whether `id` ends generation.
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.contains(&id)
    }

    /// End-of-generation ids.
    pub fn eog_ids(&self) -> &BTreeSet<u32> {
        &self.eog
    }

    /// The BOS id, if any.
    pub fn bos(&self) -> Option<u32> {
        self.bos
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// A stable hash identifying this tokenizer, for provenance.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The text of a token id (for BOS/EOS in chat templates).
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }
}

fn matcher(pieces: &[(String, u32)]) -> Result<Option<(AhoCorasick, Vec<u32>)>, BackendError> {
    if pieces.is_empty() {
        return Ok(None);
    }
    let ac = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(pieces.iter().map(|(t, _)| t.as_str()))
        .map_err(|e| tk_err("special-token matcher", e))?;
    Ok(Some((ac, pieces.iter().map(|(_, id)| *id).collect())))
}
