#!/usr/bin/env python3
"""llama.cpp side of the speed benchmark (compare with synthcorpus on the same workload).

    pip install llama-cpp-python==0.3.36      # CMAKE_ARGS="-DGGML_NATIVE=ON"
    python3 scripts/bench_llamacpp.py --model models/gemma-3-270m-q4_k_m.gguf \\
        --threads 2 --prompt-file benches/prompt_ven.txt --max-tokens 200 --runs 3

Each run is a fresh subprocess (so ru_maxrss is that run's own peak) that loads the model
(n_ctx = --n-ctx, default 1024; mmap on, as llama.cpp defaults), tokenizes the prompt (with BOS
iff the GGUF says add_bos), does one warm-up decode of the first prompt token (pages the weights
in; left out with --no-warmup), then times:

- prompt processing: one llm.eval(prompt_ids) call (a single batch for prompts <= n_batch=512);
  prompt_tps = prompt_tokens / seconds;
- generation: --max-tokens greedy steps, each an argmax over the last logits followed by
  llm.eval([token]); only the eval calls are timed, the chain continues through EOS;
  gen_tps = gen_tokens / sum of those eval times;
- peak RSS: resource.getrusage(RUSAGE_SELF).ru_maxrss (KiB on Linux) * 1024 at the end of the run.

Prints one JSON object with the medians over runs:
{"engine":"llama.cpp","version":...,"model":...,"threads":T,"prompt_tokens":P,"prompt_tps":x,
 "gen_tokens":N,"gen_tps":y,"peak_rss_bytes":z,"runs":R}
Per-run numbers go to stderr.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def child(args):
    import resource
    import time

    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(
        model_path=args.model,
        n_ctx=args.n_ctx,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        seed=0,
        logits_all=False,
        verbose=False,
    )
    add_bos = str(llm.metadata.get("tokenizer.ggml.add_bos_token", "false")).lower() == "true"
    with open(args.prompt_file, encoding="utf-8") as f:
        prompt = f.read()
    ids = llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=False)
    assert len(ids) + args.max_tokens <= args.n_ctx, "raise --n-ctx"
    n_vocab = llm.n_vocab()

    def last_logits():
        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,))

    if not args.no_warmup:
        llm.eval(ids[:1])
        llm.reset()
    t0 = time.perf_counter()
    llm.eval(ids)
    prompt_s = time.perf_counter() - t0
    gen_s = 0.0
    for _ in range(args.max_tokens):
        tok = int(np.argmax(last_logits()))
        t0 = time.perf_counter()
        llm.eval([tok])
        gen_s += time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({
        "version": llama_cpp.__version__,
        "prompt_tokens": len(ids),
        "prompt_tps": len(ids) / prompt_s,
        "gen_tokens": args.max_tokens,
        "gen_tps": args.max_tokens / gen_s,
        "peak_rss_bytes": rss,
    }))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-file", required=True)
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n-ctx", type=int, default=1024)
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--model", args.model,
           "--threads", str(args.threads), "--prompt-file", args.prompt_file,
           "--max-tokens", str(args.max_tokens), "--n-ctx", str(args.n_ctx)]
    if args.no_warmup:
        cmd.append("--no-warmup")
    runs = []
    for i in range(args.runs):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"run {i + 1}: {json.dumps(r)}", file=sys.stderr)
        runs.append(r)
    med = lambda k: statistics.median(r[k] for r in runs)  # noqa: E731
    print(json.dumps({
        "engine": "llama.cpp",
        "version": runs[0]["version"],
        "model": os.path.basename(args.model),
        "threads": args.threads,
        "prompt_tokens": runs[0]["prompt_tokens"],
        "prompt_tps": round(med("prompt_tps"), 2),
        "gen_tokens": args.max_tokens,
        "gen_tps": round(med("gen_tps"), 2),
        "peak_rss_bytes": int(med("peak_rss_bytes")),
        "runs": args.runs,
    }))


if __name__ == "__main__":
    main()
