#!/usr/bin/env python3
"""Reference for Gemma 3's sliding window: greedy decoding past 512 tokens with llama.cpp.

Gemma 3 270M attends over a 512-token sliding window in five of every six layers. This fixture
has a prompt of about 700 tokens and 64 greedy tokens, so both prompt processing and cached
decoding cross the window. Writes tests/fixtures/llamacpp/greedy_gemma3_long.json.

    pip install llama-cpp-python==0.3.36
    python3 scripts/llamacpp_fixture_long.py

The chain is a pure argmax over llama.cpp's logits, continued through any EOS; `top2` holds, for
every generated position, llama.cpp's two best tokens and their logits, so a test can
teacher-force the chain and tell real disagreements from near-ties.
"""
import json
import pathlib

import llama_cpp
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"
UDHR = ROOT / "corpora" / "ven" / "udhr.txt"
OUT = ROOT / "tests" / "fixtures" / "llamacpp" / "greedy_gemma3_long.json"
N_NEW = 64


def main():
    llm = llama_cpp.Llama(model_path=str(MODEL), n_ctx=2048, n_threads=2, seed=0, logits_all=True, verbose=False)
    lines = UDHR.read_text(encoding="utf-8").splitlines()
    prompt = ""
    for line in lines:
        candidate = (prompt + "\n" + line) if prompt else line
        if len(llm.tokenize(candidate.encode("utf-8"), add_bos=True, special=False)) > 700:
            break
        prompt = candidate
    ids = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
    assert len(ids) > 600, len(ids)
    llm.reset()
    llm.eval(ids)
    out = []
    top2 = []
    for _ in range(N_NEW):
        scores = llm.scores[llm.n_tokens - 1]
        order = np.argsort(-scores)[:2]
        top2.append([[int(i), float(scores[i])] for i in order])
        tok = int(order[0])
        out.append(tok)
        llm.eval([tok])
    OUT.write_text(
        json.dumps(
            {
                "model": MODEL.name,
                "llama_cpp_python": llama_cpp.__version__,
                "prompt": prompt,
                "add_bos": True,
                "prompt_ids": ids,
                "generated_ids": out,
                "top2": top2,
                "n_ctx": 2048,
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"{OUT}: prompt {len(ids)} tokens, {len(out)} generated")


if __name__ == "__main__":
    main()
