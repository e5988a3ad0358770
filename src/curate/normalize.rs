//! Normalisation: NFC, whitespace, chat artefacts, prompt echo, and trimming a sample cut off
//! mid-sentence back to its last full sentence.
//!
//! [`normalize_text`] is idempotent: `normalize_text(normalize_text(x)) == normalize_text(x)`
//! (a property test checks it). Combining marks are never removed.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use super::chars;

/// When to trim a sample back to its last complete sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TrimMode {
    /// Trim only samples whose record says generation stopped at the token limit
    /// (`finish_reason` = `length`).
    #[default]
    Auto,
    /// Trim every sample that does not end with a sentence terminator.
    Always,
    /// Never trim.
    Never,
}

/// Normalisation settings (`[curate.normalize]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NormalizeConfig {
    /// When to trim to the last full sentence (default `auto`).
    pub trim_incomplete: TrimMode,
    /// Remove the prompt when the sample starts by repeating it (default true).
    pub strip_prompt_echo: bool,
    /// Shortest prompt, in graphemes, whose echo is removed (default 10): shorter prompts match
    /// ordinary text too easily.
    pub min_echo_graphemes: usize,
    /// Remove chat-template artefacts (default true).
    pub strip_chat_artifacts: bool,
    /// Chat-template markers removed anywhere in the text (default: Gemma, ChatML, Llama 2/3,
    /// Phi and generic BOS/EOS markers, see [`default_chat_markers`]).
    pub chat_markers: Vec<String>,
    /// Role labels removed at the very start of a sample (default `Assistant:`, `### Response:` ...).
    pub chat_prefixes: Vec<String>,
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        Self {
            trim_incomplete: TrimMode::Auto,
            strip_prompt_echo: true,
            min_echo_graphemes: 10,
            strip_chat_artifacts: true,
            chat_markers: default_chat_markers(),
            chat_prefixes: default_chat_prefixes(),
        }
    }
}

/// The default chat-template markers, longest first so that role-carrying markers go whole.
pub fn default_chat_markers() -> Vec<String> {
    let mut v: Vec<String> = [
        "<start_of_turn>user",
        "<start_of_turn>model",
        "<start_of_turn>",
        "<end_of_turn>",
        "<|im_start|>assistant",
        "<|im_start|>user",
        "<|im_start|>system",
        "<|im_start|>",
        "<|im_end|>",
        "<|start_header_id|>assistant<|end_header_id|>",
        "<|start_header_id|>user<|end_header_id|>",
        "<|start_header_id|>system<|end_header_id|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|begin_of_text|>",
        "<|eot_id|>",
        "<|endoftext|>",
        "<|assistant|>",
        "<|user|>",
        "<|system|>",
        "<|end|>",
        "[INST]",
        "[/INST]",
        "<eos>",
        "<bos>",
        "<pad>",
        "</s>",
        "<s>",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    v
}

/// The default role labels removed at the start of a sample.
pub fn default_chat_prefixes() -> Vec<String> {
    [
        "Assistant:",
        "assistant:",
        "Model:",
        "model:",
        "### Response:",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Sentence terminators: Latin, CJK, Devanagari, Arabic, Ethiopic, ellipsis.
pub const SENTENCE_TERMINATORS: &[char] = &[
    '.', '!', '?', '…', '。', '！', '？', '।', '॥', '؟', '።', '፧',
];

/// Closing quotes and brackets that may follow a terminator within the sentence.
pub const SENTENCE_CLOSERS: &[char] = &['"', '\'', ')', ']', '}', '”', '’', '»', '›', '」', '』'];

fn nfc(text: String) -> String {
    match chars::to_nfc(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => s,
    }
}

fn is_zero_width_junk(c: char) -> bool {
    // BOM, zero-width space, soft hyphen, word joiner. ZWJ and ZWNJ carry meaning in several
    // scripts and are kept.
    matches!(c, '\u{feff}' | '\u{200b}' | '\u{00ad}' | '\u{2060}')
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Fold whitespace: line breaks of every kind become `\n`, other whitespace a space; runs of
/// spaces collapse, lines are trimmed, more than one blank line collapses to one, and the text is
/// trimmed. Control characters and zero-width junk (BOM, ZWSP, soft hyphen, word joiner) go.
pub fn fold_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let mut pending_newlines = 0usize;
    let mut prev_cr = false;
    for c in text.chars() {
        if is_line_break(c) {
            if c == '\n' && prev_cr {
                prev_cr = false;
                continue;
            }
            prev_cr = c == '\r';
            pending_space = false;
            if !out.is_empty() {
                pending_newlines += 1;
            }
            continue;
        }
        prev_cr = false;
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if c.is_control() || is_zero_width_junk(c) {
            continue;
        }
        if pending_newlines > 0 {
            out.push_str(if pending_newlines > 1 { "\n\n" } else { "\n" });
            pending_newlines = 0;
        } else if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    out
}

/// Whether [`fold_whitespace`] leaves `text` as it is: it starts and ends with a character that
/// is kept, and every run of other characters (whitespace, control, zero-width junk) between two
/// kept ones is exactly one space, one newline or two newlines, which is what folding writes for
/// it. A run holding anything else (a tab, a CR, a no-break space, a control character...) is
/// rewritten or dropped.
pub fn is_folded(text: &str) -> bool {
    if text.is_empty() {
        return true;
    }
    let bytes = text.as_bytes();
    // Current run of whitespace: 0 none, 1 one space, 2 one newline, 3 two newlines. The text
    // starts as if after a space, so that a space or newline first is refused.
    let mut run = 1u8;
    let mut i = 0usize;
    while i < bytes.len() {
        if let Some(block) = bytes.get(i..i + FOLD_BLOCK) {
            if let Some(next) = fold_block(block, run) {
                run = next;
                i += FOLD_BLOCK;
                continue;
            }
        }
        // A block holding a character to look at (or the tail): byte by byte, up to the end
        // of the block or past it to the end of a character.
        let end = (i + FOLD_BLOCK).min(bytes.len());
        match fold_scalar(text, i, end, run) {
            Some((j, r)) => {
                i = j;
                run = r;
            }
            None => return false,
        }
    }
    run == 0
}

/// Bytes per block of [`fold_block`].
const FOLD_BLOCK: usize = 64;

/// [`is_folded`] over `text[i..]` up to `end` (or to the end of the character that straddles
/// it), from run state `run`: the position reached and the run state there, `None` when the text
/// is not folded.
fn fold_scalar(text: &str, mut i: usize, end: usize, mut run: u8) -> Option<(usize, u8)> {
    let bytes = text.as_bytes();
    while i < end {
        match FOLD_CLASS[bytes[i] as usize] {
            KEPT => run = 0,
            SPACE => {
                if run != 0 {
                    return None;
                }
                run = 1;
            }
            NEWLINE => {
                if run == 1 || run == 3 {
                    return None;
                }
                run = if run == 0 { 2 } else { 3 };
            }
            LEAD => {
                // A character that may be whitespace, a C1 control or zero-width junk.
                let c = text.get(i..)?.chars().next()?;
                if ('\u{80}'..='\u{9f}').contains(&c)
                    || chars::is_whitespace(c)
                    || is_zero_width_junk(c)
                {
                    return None;
                }
                run = 0;
                i += c.len_utf8();
                continue;
            }
            _ => return None,
        }
        i += 1;
    }
    Some((i, run))
}

/// [`is_folded`] over a block of [`FOLD_BLOCK`] bytes from run state `run`, with bit masks: the
/// run state at its end when the block holds only kept bytes, spaces and newlines and they are
/// folded; `None` when it holds anything else (a control byte or the first byte of a character
/// to look at: [`fold_scalar`] decides) or a run that is not folded.
#[inline]
fn fold_block(block: &[u8], run: u8) -> Option<u8> {
    let (sp, nl, other) = block_masks(block);
    if other != 0 {
        return None;
    }
    let ws = sp | nl;
    // Bit j of `x_before`: byte j-1 is an x (for j = 0, the state says).
    let ws_before = (ws << 1) | (run != 0) as u64;
    let sp_before = (sp << 1) | (run == 1) as u64;
    let nl_before = (nl << 1) | (run >= 2) as u64;
    let nl_before2 = (nl << 2) | (((run >= 2) as u64) << 1) | (run == 3) as u64;
    if sp & ws_before != 0 || nl & sp_before != 0 || nl & nl_before & nl_before2 != 0 {
        return None;
    }
    let last = FOLD_BLOCK - 1;
    Some(if sp >> last & 1 == 1 {
        1
    } else if nl >> last & 1 == 1 {
        if nl >> (last - 1) & 1 == 1 {
            3
        } else {
            2
        }
    } else {
        0
    })
}

/// For a block of [`FOLD_BLOCK`] bytes: the masks of its spaces, its newlines, and its bytes of
/// classes other than [`KEPT`], [`SPACE`] and [`NEWLINE`] (bit j for byte j).
#[inline]
fn block_masks(block: &[u8]) -> (u64, u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { block_masks_avx2(block) };
        }
    }
    block_masks_table(block)
}

/// [`block_masks`] from [`FOLD_CLASS`], byte by byte (any CPU).
fn block_masks_table(block: &[u8]) -> (u64, u64, u64) {
    let (mut sp, mut nl, mut other) = (0u64, 0u64, 0u64);
    for (j, &b) in block.iter().enumerate().take(FOLD_BLOCK) {
        match FOLD_CLASS[b as usize] {
            KEPT => {}
            SPACE => sp |= 1 << j,
            NEWLINE => nl |= 1 << j,
            _ => other |= 1 << j,
        }
    }
    (sp, nl, other)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_masks_avx2(block: &[u8]) -> (u64, u64, u64) {
    use std::arch::x86_64::*;
    assert!(block.len() >= FOLD_BLOCK);
    let mask = |v: __m256i| -> (u32, u32, u32) {
        let eq = |b: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8));
        let sp = eq(b' ');
        let nl = eq(b'\n');
        // Bytes up to 0x1f (unsigned): min(v, 0x1f) == v.
        let low = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v);
        let other = _mm256_or_si256(
            _mm256_andnot_si256(nl, low),
            _mm256_or_si256(
                _mm256_or_si256(eq(0x7f), eq(0xc2)),
                _mm256_or_si256(
                    _mm256_or_si256(eq(0xe1), eq(0xe2)),
                    _mm256_or_si256(eq(0xe3), eq(0xef)),
                ),
            ),
        );
        (
            _mm256_movemask_epi8(sp) as u32,
            _mm256_movemask_epi8(nl) as u32,
            _mm256_movemask_epi8(other) as u32,
        )
    };
    // SAFETY: the block holds at least 64 bytes (asserted); unaligned loads.
    let (lo, hi) = unsafe {
        (
            _mm256_loadu_si256(block.as_ptr() as *const __m256i),
            _mm256_loadu_si256(block.as_ptr().add(32) as *const __m256i),
        )
    };
    let (s0, n0, o0) = mask(lo);
    let (s1, n1, o1) = mask(hi);
    let join = |a: u32, b: u32| a as u64 | (b as u64) << 32;
    (join(s0, s1), join(n0, n1), join(o0, o1))
}

/// [`FOLD_CLASS`]: a byte that is, or is part of, a kept character.
const KEPT: u8 = 0;
/// [`FOLD_CLASS`]: a space.
const SPACE: u8 = 1;
/// [`FOLD_CLASS`]: a newline.
const NEWLINE: u8 = 2;
/// [`FOLD_CLASS`]: an ASCII control character other than the newline (never kept).
const CONTROL: u8 = 3;
/// [`FOLD_CLASS`]: the first byte of the encodings of every non-ASCII character folding removes
/// or rewrites (U+0080-U+00A0 and U+00AD: `C2`; U+1680: `E1`; U+2000-U+2060: `E2`; U+3000:
/// `E3`; U+FEFF: `EF`), and of others, which are checked one by one.
const LEAD: u8 = 4;

/// The class of each byte for [`is_folded`].
static FOLD_CLASS: [u8; 256] = {
    let mut t = [KEPT; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = CONTROL;
        b += 1;
    }
    t[0x7f] = CONTROL;
    t[b' ' as usize] = SPACE;
    t[b'\n' as usize] = NEWLINE;
    t[0xc2] = LEAD;
    t[0xe1] = LEAD;
    t[0xe2] = LEAD;
    t[0xe3] = LEAD;
    t[0xef] = LEAD;
    t
};

/// The text with every chat marker replaced by a newline; `None` when it holds none.
fn strip_markers(text: &str, markers: &[String]) -> Option<String> {
    // A marker can only start at one of their first bytes: without any, there is nothing to do.
    let mut first = [false; 256];
    for m in markers {
        if let Some(&b) = m.as_bytes().first() {
            first[b as usize] = true;
        }
    }
    if !text.bytes().any(|b| first[b as usize]) {
        return None;
    }
    if !markers
        .iter()
        .any(|m| !m.is_empty() && text.contains(m.as_str()))
    {
        return None;
    }
    let mut out = text.to_string();
    for m in markers {
        if !m.is_empty() && out.contains(m.as_str()) {
            out = out.replace(m.as_str(), "\n");
        }
    }
    Some(out)
}

/// The text after the first role label it starts with; `None` when it starts with none.
fn strip_prefixes(text: &str, prefixes: &[String]) -> Option<String> {
    let t = text.trim_start();
    for p in prefixes {
        if !p.is_empty() {
            if let Some(rest) = t.strip_prefix(p.as_str()) {
                return Some(rest.to_string());
            }
        }
    }
    None
}

/// One pass of normalisation: NFC, chat artefacts, whitespace folding, NFC. Borrowed when the
/// pass changes nothing.
fn pass<'a>(text: &'a str, cfg: &NormalizeConfig) -> Cow<'a, str> {
    let mut t: Cow<'a, str> = chars::to_nfc(text);
    if cfg.strip_chat_artifacts {
        if let Some(s) = strip_markers(&t, &cfg.chat_markers) {
            t = Cow::Owned(s);
        }
        if let Some(s) = strip_prefixes(&t, &cfg.chat_prefixes) {
            t = Cow::Owned(s);
        }
    }
    if is_folded(&t) {
        match t {
            // NFC already, and folding and NFC again change nothing.
            Cow::Borrowed(_) => t,
            Cow::Owned(s) => Cow::Owned(nfc(s)),
        }
    } else {
        Cow::Owned(nfc(fold_whitespace(&t)))
    }
}

/// Normalise a text: NFC, chat-artefact removal (when enabled) and whitespace folding, repeated to
/// a fixed point so that the result is idempotent.
pub fn normalize_text(text: &str, cfg: &NormalizeConfig) -> String {
    normalize_cow(text, cfg).into_owned()
}

/// [`normalize_text`], borrowed when `text` is normal already (then nothing is copied).
pub fn normalize_cow<'a>(text: &'a str, cfg: &NormalizeConfig) -> Cow<'a, str> {
    let mut cur = match pass(text, cfg) {
        // `text` is a fixed point already.
        Cow::Borrowed(_) => return Cow::Borrowed(text),
        Cow::Owned(s) if s == text => return Cow::Borrowed(text),
        Cow::Owned(s) => s,
    };
    for _ in 0..16 {
        match pass(&cur, cfg) {
            Cow::Borrowed(_) => break,
            Cow::Owned(next) => {
                if next == cur {
                    break;
                }
                cur = next;
            }
        }
    }
    if cur == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(cur)
    }
}

/// If `text` starts with `prompt` (both normalised), the rest of the text, normalised again.
/// `None` when there is no echo or the prompt is shorter than `min_graphemes`.
pub fn strip_prompt_echo(
    text: &str,
    prompt: &str,
    min_graphemes: usize,
    cfg: &NormalizeConfig,
) -> Option<String> {
    let prompt = normalize_text(prompt, cfg);
    if prompt.is_empty() || prompt.graphemes(true).count() < min_graphemes.max(1) {
        return None;
    }
    let mut rest = text.strip_prefix(prompt.as_str())?;
    // Strip repeated echoes too, so the operation is idempotent.
    loop {
        let r = rest.trim_start();
        match r.strip_prefix(prompt.as_str()) {
            Some(more) => rest = more,
            None => break,
        }
    }
    Some(normalize_text(rest, cfg))
}

/// The byte length of `text` up to and including its last complete sentence (terminator plus any
/// closing quotes or brackets), or `None` when it holds no sentence terminator. A terminator
/// counts only at the end of the text or before whitespace or a closer.
pub fn last_sentence_end(text: &str) -> Option<usize> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = chars.len();
    while i > 0 {
        i -= 1;
        let (pos, c) = chars[i];
        if !SENTENCE_TERMINATORS.contains(&c) {
            continue;
        }
        // Extend over further terminators and closers.
        let mut j = i + 1;
        while j < chars.len()
            && (SENTENCE_TERMINATORS.contains(&chars[j].1)
                || SENTENCE_CLOSERS.contains(&chars[j].1))
        {
            j += 1;
        }
        let at_boundary = j == chars.len() || chars[j].1.is_whitespace();
        if at_boundary {
            let end = if j == chars.len() {
                text.len()
            } else {
                chars[j].0
            };
            let _ = pos;
            return Some(end);
        }
    }
    None
}

/// Trim `text` back to its last complete sentence. `Ok(None)`: it already ends with one;
/// `Ok(Some(t))`: the trimmed text; `Err(())`: it holds no complete sentence.
#[allow(clippy::result_unit_err)]
pub fn trim_to_sentence(text: &str) -> Result<Option<String>, ()> {
    match last_sentence_end(text) {
        None => Err(()),
        Some(end) if end == text.len() => Ok(None),
        Some(end) => Ok(Some(text[..end].trim_end().to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_folded` says whether folding leaves the text as it is, for every code point in
    /// every position that matters.
    #[test]
    fn is_folded_as_folding_says() {
        for cp in 0..=0x10ffffu32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            for t in [
                format!("{c}"),
                format!("a{c}b"),
                format!("a {c}b"),
                format!("a{c} b"),
                format!("a\n{c}\nb"),
                format!("ḓ{c}ṱ"),
            ] {
                assert_eq!(
                    is_folded(&t),
                    fold_whitespace(&t) == t,
                    "U+{cp:04X} in {t:?}"
                );
            }
        }
        for t in [
            "", " ", "a  b", "a\n\nb", "a\n\n\nb", "a \nb", "a\n b", "a ", "\na",
        ] {
            assert_eq!(is_folded(t), fold_whitespace(t) == t, "{t:?}");
        }
    }

    /// The vector masks are the table's, for every byte value in every position.
    #[test]
    fn block_masks_match_the_table() {
        for b in 0..=255u8 {
            for pos in 0..FOLD_BLOCK {
                let mut block = [b'a'; FOLD_BLOCK];
                block[pos] = b;
                block[(pos + 7) % FOLD_BLOCK] = b' ';
                block[(pos + 13) % FOLD_BLOCK] = b'\n';
                assert_eq!(
                    block_masks(&block),
                    block_masks_table(&block),
                    "{b:#x} at {pos}"
                );
            }
        }
    }

    proptest::proptest! {
        /// Long texts (blocks of 64 bytes and the bytes between them), against folding itself:
        /// words between separators that are mostly folded already, so both answers occur.
        #[test]
        fn is_folded_on_long_texts(
            lead in 0usize..400,
            parts in proptest::collection::vec((0usize..8, 0usize..400), 0..120),
        ) {
            const WORDS: [&str; 8] = ["a", "ab", "ḓ", "ṱa", "é’", "word", "x—", "abcdefghij"];
            const BAD: [&str; 8] = ["  ", "\t", "\u{a0}", "\n\n\n", " \n", "\u{85}", "\u{2028}", "\u{7f}"];
            let sep = |k: usize| match k {
                0..380 => " ",
                380..390 => "\n",
                390..396 => "\n\n",
                _ => BAD[k % 8],
            };
            let mut t = String::new();
            if lead >= 390 {
                t.push_str(sep(lead));
            }
            for &(w, k) in &parts {
                t.push_str(WORDS[w]);
                t.push_str(sep(k));
            }
            if lead % 2 == 0 && !t.is_empty() {
                t.pop();
            }
            proptest::prop_assert_eq!(is_folded(&t), fold_whitespace(&t) == t, "{:?}", t);
        }
    }

    #[test]
    fn folds_whitespace() {
        let c = NormalizeConfig::default();
        assert_eq!(
            normalize_text("  a \t b\r\n\r\n\r\nc\u{a0}d\u{200b} ", &c),
            "a b\n\nc d"
        );
    }

    #[test]
    fn nfc_keeps_marks() {
        let c = NormalizeConfig::default();
        // d + combining circumflex below composes to ḓ.
        assert_eq!(normalize_text("d\u{32d}ivha", &c), "ḓivha");
        // A mark with no precomposed form stays.
        assert_eq!(normalize_text("q\u{32d}", &c), "q\u{32d}");
    }

    #[test]
    fn chat_markers() {
        let c = NormalizeConfig::default();
        assert_eq!(
            normalize_text("<start_of_turn>model\nVhathu vhoṱhe.<end_of_turn>", &c),
            "Vhathu vhoṱhe."
        );
        assert_eq!(normalize_text("Assistant: Ndi zwone.", &c), "Ndi zwone.");
    }

    #[test]
    fn trims() {
        assert_eq!(trim_to_sentence("A b. C d"), Ok(Some("A b.".into())));
        assert_eq!(
            trim_to_sentence("A b. C d!\" e"),
            Ok(Some("A b. C d!\"".into()))
        );
        assert_eq!(trim_to_sentence("A b."), Ok(None));
        assert_eq!(trim_to_sentence("3.5 kg"), Err(()));
    }

    #[test]
    fn echo() {
        let c = NormalizeConfig::default();
        assert_eq!(
            strip_prompt_echo("Ṅwalani mafhungo. Vhathu vha", "Ṅwalani mafhungo.", 5, &c),
            Some("Vhathu vha".into())
        );
        assert_eq!(strip_prompt_echo("abc", "Ṅwalani mafhungo.", 5, &c), None);
    }
}
