#!/usr/bin/env python3
"""llama.cpp reference fixtures for the parity tests (tests/parity_llamacpp.rs).

How to run (from the repository root, with the models fetched by scripts/fetch-models.sh):

    CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python==0.3.36
    python3 scripts/llamacpp_fixtures.py

It takes about a minute on 2 cores. It reads the UDHR seed text from ../shared/data/udhr/
(override with SYNTHCORPUS_UDHR_DIR) and writes into tests/fixtures/llamacpp/:

- tokenize_gemma3.jsonl, tokenize_qwen2.jsonl: one JSON object per line, {"text": ..., "ids": [...]},
  for ~400 strings: UDHR lines and fragments in 11 Southern African languages and 10 other
  scripts, plus edge cases (whitespace, digits, punctuation, emoji, NFC/NFD Venda letters,
  strings that look like special tokens). ids are llama.cpp's raw tokenization:
  llm.tokenize(text.encode("utf-8"), add_bos=False, special=False): no BOS, special-token text
  tokenized as plain text. The selection is fixed (no randomness): same inputs, same files.
- tokenize_meta.json: llama-cpp-python version, model sha256s, the exact tokenize call.
- greedy_gemma3.json, greedy_qwen2.json: a Tshivenda prompt (the first 3 lines of ven.txt), its
  ids (with BOS iff the GGUF's tokenizer.ggml.add_bos_token says so), and a pure argmax chain of
  exactly 200 tokens computed from llama.cpp's logits, continued through any EOS. "top2" holds,
  for every generated position, llama.cpp's two best tokens and their logits, so a test can tell
  a real disagreement from a near-tie.
- greedy_qwen2_chat.json: the same for Qwen2's chat template (tokenizer.chat_template, rendered
  with jinja2, add_generation_prompt=True) applied to a Tshivenda user message; the rendered
  prompt is tokenized with special=True.

Note: with logits_all=False llama-cpp-python 0.3.x does not fill llm.scores (it stays zero), so
the logits are read straight from the context with llama_get_logits_ith(ctx, -1).
"""
import hashlib
import json
import os
import pathlib
import unicodedata

import jinja2
import jinja2.sandbox
import llama_cpp
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = {
    "gemma3": ROOT / "models" / "gemma-3-270m-q4_k_m.gguf",
    "qwen2": ROOT / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
}
UDHR = pathlib.Path(os.environ.get("SYNTHCORPUS_UDHR_DIR", ROOT.parent / "shared" / "data" / "udhr"))
OUT = ROOT / "tests" / "fixtures" / "llamacpp"
N_CTX = 1024
N_GEN = 200
TOKENIZE_CALL = 'llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)'

# UDHR files: (file stem, line indices, fragments per language)
LATIN = ["ven", "zul", "xho", "afr", "eng", "tso_MZ", "nso", "tsn"]
LATIN_MORE = ["sot", "ssw", "nbl"]
OTHER_SCRIPTS = ["rus", "arb", "cmn_hans", "jpn", "hin", "amh", "ell_monotonic", "kor", "tha", "heb"]
MAX_CHARS = 400


def udhr_lines(stem):
    lines = (UDHR / f"{stem}.txt").read_text(encoding="utf-8").splitlines()
    return [l for l in lines if l.strip()]


def clip(s):
    return s if len(s) <= MAX_CHARS else s[:MAX_CHARS]


def udhr_strings():
    out = []
    for stem in LATIN:
        lines = udhr_lines(stem)
        # whole lines at fixed positions (title, headings, preamble, articles)
        for i in [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 70, 89]:
            if i < len(lines):
                out.append(clip(lines[i]))
        # fragments: word windows, a mid-word cut, a lowercased and an uppercased piece,
        # two lines joined by a newline, a line with a leading space
        words = lines[4].split()
        out.append(" ".join(words[2:9]))
        out.append(" " + " ".join(words[5:12]))
        out.append(lines[6][: max(1, len(lines[6]) // 3)])
        out.append(lines[7][len(lines[7]) // 2 :])
        out.append(lines[9][:60].upper())
        out.append(lines[10][:80].lower())
        out.append(lines[11] + "\n" + lines[12])
        out.append(words[3] if len(words) > 3 else words[0])
    for stem in LATIN_MORE:
        lines = udhr_lines(stem)
        for i in [0, 2, 4, 9, 17, 40]:
            out.append(clip(lines[i]))
        out.append(" ".join(lines[6].split()[1:7]))
    for stem in OTHER_SCRIPTS:
        lines = udhr_lines(stem)
        for i in [0, 2, 4, 9, 17, 40]:
            if i < len(lines):
                out.append(clip(lines[i]))
        out.append(lines[6][: max(1, len(lines[6]) // 4)])
        out.append(lines[3] + "\n" + lines[5][:50])
    return out


VENDA_LOWER = "ḓḽṅṋṱ"
VENDA_UPPER = "ḒḼṄṊṰ"
VENDA_WORDS = ["ḓivhea", "ṱhonifho", "ḽifhasini", "ṅwana", "ṋea", "vhoṱhe", "Mulevhoguṱe", "Tshivenḓa", "muṅwe"]


def edge_cases():
    out = [
        # whitespace
        "", " ", "  ", "   ", "    ", " " * 17, "\n", "\n\n", "\n\n\n", "\t", "\t\t", "\r\n", " \t\n ",
        "a", " a", "a ", " a ", "  a  b   c  ", "Hello world", " Hello world", "Hello world ",
        "Hello  world", "Hello\tworld", "Hello\nworld", "line1\r\nline2", "tab\tseparated\tvalues",
        "trailing newline\n", "\nleading newline", "\n leading newline and space", "a\n\nb", "a \n b",
        "    indented four", "\tindented tab", "ends with spaces   ", "word\u00a0nbsp",
        # digits
        "0", "7", "42", "123", "1234", "12345", "1234567890", "3.14159265358979", "1,000,000",
        "2024-01-15", "+27 82 555 0199", "0000000", "99999999999999999999", "1948", "Article 25.",
        "10 December 1948", "x1y22z333", "٣٤٥", "१९४८", "①②③",
        # punctuation
        "!!!", "...", "…", "?!?!", "—", "–-—", '"quoted"', "'single'", "“curly” ‘quotes’",
        "(parens) [brackets] {braces}", "#!/usr/bin/env python3", "a,b;c:d", "///", "***", "___",
        "~~~", "-" * 40, "=" * 25, "@user", "http://example.com/path?q=1&r=2", "email@example.org",
        "C++", "x = y + z * 2;", "<html><body></body></html>", "«Vhathu»", "¿Qué?", "¡Hola!",
        "fn main() {\n    println!(\"hi\");\n}", "def f(x):\n\treturn x", "{\"key\": [1, 2, 3]}",
        # emoji and symbols
        "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇿🇦", "❤️", "Hello 🌍!", "Vhathu 😀 vhoṱhe", "🙂🙂🙂", "★☆✓✗", "€100 £5 ¥3 R20",
        # other Unicode
        "é", "e\u0301", "ñ", "n\u0303", "ﬁ", "ＡＢＣ１２３", "a\u200bb", "a\u200db", "\ufeffhello",
        "soft\u00adhyphen", "\ufffd", "\u0323", "\u0307", "ǃXóõ", "Ŋŋ Ɓɓ", "Ṱhalutshedzo",
        "naïve café résumé", "straße", "İstanbul", "ΑΒΓ αβγ", "Ελληνικά", "中文", "日本語のテキスト",
        "한국어", "ไทย", "עברית", "العربية", "हिन्दी", "አማርኛ", "ᐃᓄᒃᑎᑐᑦ",
        "Ndi a livhuwa — thank you — спасибо — شكرا — 谢谢",
        # repetition
        "a" * 100, "ha" * 50, "ṱ" * 20, "aaaa bbbb", "\n" * 10, "ab " * 30, "😀" * 8,
        # case
        "VHATHU", "vhathu", "Vhathu", "vHaThU",
        # look like special tokens: plain text here (special=False)
        "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<pad>", "<unk>", "<mask>",
        "<start_of_turn>user\nNdaa<end_of_turn>\n", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
        "<|im_start|>user\nNdaa<|im_end|>", "<s>", "</s>", "[INST] hi [/INST]", "<|fim_prefix|>",
        "<unused0>", "<image_soft_token>", "<start_of_image>", "< start_of_turn >", "<|im_start|",
    ]
    # Venda letters and words in NFC (precomposed) and NFD (base letter + combining mark)
    for s in [VENDA_LOWER, VENDA_UPPER, " ".join(VENDA_LOWER)] + list(VENDA_LOWER) + list(VENDA_UPPER) + VENDA_WORDS:
        nfc = unicodedata.normalize("NFC", s)
        nfd = unicodedata.normalize("NFD", s)
        out.append(nfc)
        if nfd != nfc:
            out.append(nfd)
    ven = udhr_lines("ven")
    out.append(unicodedata.normalize("NFD", ven[2]))
    out.append(unicodedata.normalize("NFD", ven[0]))
    return out


def all_strings():
    seen = set()
    out = []
    for s in udhr_strings() + edge_cases():
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load(path):
    return llama_cpp.Llama(
        model_path=str(path), n_ctx=N_CTX, n_threads=2, seed=0, logits_all=False, verbose=False
    )


def meta_bool(llm, key, default=False):
    v = llm.metadata.get(key)
    return default if v is None else str(v).lower() == "true"


def last_logits(llm):
    ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).copy()


def greedy(llm, prompt_ids):
    llm.reset()
    llm.eval(prompt_ids)
    out, top2 = [], []
    for _ in range(N_GEN):
        scores = last_logits(llm)
        order = np.argsort(-scores, kind="stable")[:2]
        top2.append([[int(i), float(scores[i])] for i in order])
        tok = int(order[0])
        out.append(tok)
        llm.eval([tok])  # continue through EOS: the chain is always N_GEN long
    return out, top2


def detok(llm, ids, special=False):
    return llm.detokenize(ids, special=special).decode("utf-8", errors="replace")


def write_json(name, obj):
    (OUT / name).write_text(json.dumps(obj, ensure_ascii=False) + "\n", encoding="utf-8")


def greedy_fixture(key, llm, prompt, special, name, extra=None):
    add_bos = meta_bool(llm, "tokenizer.ggml.add_bos_token")
    ids = llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=special)
    if add_bos:
        assert ids[0] == llm.token_bos(), ids[:3]
    else:
        assert not ids or ids[0] != llm.token_bos() or prompt.startswith("<|endoftext|>")
    gen, top2 = greedy(llm, ids)
    obj = {
        "model": MODELS[key].name,
        "llama_cpp_python": llama_cpp.__version__,
        "prompt": prompt,
        "add_bos": add_bos,
        "special": special,
        "prompt_ids": ids,
        "generated_ids": gen,
        "generated_text": detok(llm, gen),
        "n_ctx": N_CTX,
        "eos_id": llm.token_eos(),
        "top2": top2,
    }
    if extra:
        obj.update(extra)
    write_json(name, obj)
    eos_at = [i for i, t in enumerate(gen) if t == llm.token_eos()]
    margins = [t[0][1] - t[1][1] for t in top2]
    print(f"{name}: prompt {len(ids)} ids, {len(gen)} generated, EOS at {eos_at[:5]}, "
          f"min top1-top2 margin {min(margins):.4f}")


def render_chat(template, messages):
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=True, tools=None, bos_token="", eos_token=""
    )


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    strings = all_strings()
    ven = udhr_lines("ven")
    prompt = "\n".join(ven[:3])
    meta = {
        "llama_cpp_python": llama_cpp.__version__,
        "tokenize_call": TOKENIZE_CALL,
        "strings": len(strings),
        "models": {},
    }
    for key, path in MODELS.items():
        llm = load(path)
        rows = []
        for s in strings:
            ids = llm.tokenize(s.encode("utf-8"), add_bos=False, special=False)
            rows.append(json.dumps({"text": s, "ids": ids}, ensure_ascii=False))
        (OUT / f"tokenize_{key}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
        md = llm.metadata
        meta["models"][key] = {
            "file": path.name,
            "sha256": sha256(path),
            "tokenizer.ggml.model": md.get("tokenizer.ggml.model"),
            "tokenizer.ggml.pre": md.get("tokenizer.ggml.pre"),
            "add_bos_token": meta_bool(llm, "tokenizer.ggml.add_bos_token"),
            "add_space_prefix": md.get("tokenizer.ggml.add_space_prefix"),
            "bos_id": llm.token_bos(),
            "eos_id": llm.token_eos(),
            "n_vocab": llm.n_vocab(),
        }
        print(f"tokenize_{key}.jsonl: {len(rows)} strings")

        greedy_fixture(key, llm, prompt, False, f"greedy_{key}.json")
        if key == "qwen2":
            template = md["tokenizer.chat_template"]
            user = "Ṅwalani fhungo ḽithihi nga Tshivenḓa nga ha pfanelo dza vhathu."
            messages = [{"role": "user", "content": user}]
            rendered = render_chat(template, messages)
            greedy_fixture(
                key, llm, rendered, True, "greedy_qwen2_chat.json",
                extra={"messages": messages, "template_source": "tokenizer.chat_template",
                       "render": "jinja2 ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True), "
                                 "add_generation_prompt=True"},
            )
        llm.close()
    write_json("tokenize_meta.json", meta)


if __name__ == "__main__":
    main()
