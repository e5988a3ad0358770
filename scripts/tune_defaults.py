#!/usr/bin/env python3
"""Measure the quickstart's generation settings on the real default model, one factor at a time.

    cargo build --release
    python3 scripts/tune_defaults.py [--samples 40] [--out /tmp/tune] [--only NAME ...] [--base FILE]

Each variant is the quickstart project (examples/quickstart.toml) with the character n-gram
model removed (so the figures are the LLM's own), no target (one round of --samples
generations, the same run seed for every variant) and one setting changed. For each it runs
`synthcorpus run` and reads the run directory:

- kept: the share of generations that pass curation (language ID, quality profile, dedup, leak);
- coverage: Tshivenda word-list coverage of the kept samples (eval.json,
  fidelity.wordlist.target_coverage; real held-out Tshivenda scores about 0.38);
- raw coverage: the same measure over every generation, before curation (from the curation
  annotations), which says how much real Tshivenda the model writes at all;
- loops: the share of generations the loop guard stopped;
- the most frequent drop reasons, and generations per minute on this machine.

Prints a Markdown table (BENCHMARKS.md, "Tuning the defaults") and writes every row as JSON
to OUT/results.jsonl.
"""
import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Token coverage by the FineWeb-2 Tshivenda word list (an approximation of eval's: words are
# runs of letters, combining marks and apostrophes, lowercased, NFC).
WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['\u0300-\u036f])*")
VEN_WORDS = {
    unicodedata.normalize("NFC", l.strip()).lower()
    for l in open(os.path.join(ROOT, "evals", "wordlists", "ven_Latn.txt"), encoding="utf-8")
    if l.strip()
}

# name -> list of (section regex anchor, key, new value as TOML text); None = the quickstart.
VARIANTS = [
    ("quickstart defaults", []),
    ("temperatures 0.5-0.9", [("generate", "temperatures", "[0.5, 0.7, 0.9]")]),
    ("temperatures 0.9-1.3", [("generate", "temperatures", "[0.9, 1.1, 1.3]")]),
    ("repeat_penalty 1.0", [("generate.sampling", "repeat_penalty", "1.0")]),
    ("repeat_penalty 1.3", [("generate.sampling", "repeat_penalty", "1.3")]),
    ("min_p 0.1", [("generate.sampling", "min_p", "0.1")]),
    ("top_k 100, top_p 1.0", [("generate.sampling", "top_k", "100"), ("generate.sampling", "top_p", "1.0")]),
    ("max_new_tokens 64", [("generate.sampling", "max_new_tokens", "64")]),
    ("max_new_tokens 160", [("generate.sampling", "max_new_tokens", "160")]),
    ("continuation only", [("generate.templates", None, "continuation = 1.0")]),
    ("no loop guard", [("generate.loop_guard", "enabled", "false")]),
    ("repeat_penalty 1.05", [("generate.sampling", "repeat_penalty", "1.05")]),
    ("repeat_penalty 1.15 over 16 tokens", [("generate.sampling", "repeat_last_n", "16")]),
]
# The vocabulary bias (generate.sampling.vocab_bias) and combinations, run after the first table.
VARIANTS += [
    ("vocab_bias 1", [("generate.sampling", "vocab_bias", "1.0")]),
    ("vocab_bias 2", [("generate.sampling", "vocab_bias", "2.0")]),
    ("vocab_bias 3", [("generate.sampling", "vocab_bias", "3.0")]),
    ("vocab_bias 2, temperatures 0.5-0.9",
     [("generate.sampling", "vocab_bias", "2.0"), ("generate", "temperatures", "[0.5, 0.7, 0.9]")]),
    ("vocab_bias 2, continuation 6",
     [("generate.sampling", "vocab_bias", "2.0"),
      ("generate.templates", None, "continuation = 6.0\ntopic-base = 1.0\nqa-base = 1.0\ndialogue-base = 1.0")]),
    ("vocab_bias 2, max_new_tokens 128",
     [("generate.sampling", "vocab_bias", "2.0"), ("generate.sampling", "max_new_tokens", "128")]),
]


def variant_config(base, changes, out_dir, samples):
    text = base
    text = re.sub(r'(?m)^out = .*$', f'out = "{out_dir}"', text)
    text = re.sub(r'(?m)^samples = .*$', f"samples = {samples}", text)
    text = re.sub(r'(?m)^target_kept = .*$', "target_kept = 0", text)
    # Drop the n-gram model's table.
    text = re.sub(r'\[\[generate\.models\]\]\nid = "char-5gram".*?(?=\n\n)', "", text, flags=re.S)
    for section, key, value in changes:
        head = f"[{section}]"
        start = text.index(head) + len(head)
        nxt = text.find("\n[", start)
        end = len(text) if nxt < 0 else nxt
        body = text[start:end]
        if key is None:  # replace the whole section body
            body = "\n" + value + "\n"
        elif re.search(rf"(?m)^{re.escape(key)} = ", body):
            body = re.sub(rf"(?m)^{re.escape(key)} = .*$", f"{key} = {value}", body)
        else:
            body = f"\n{key} = {value}" + body
        text = text[:start] + body + text[end:]
    return text


def summarise(run_dir, seconds):
    raw = [json.loads(l) for l in open(os.path.join(run_dir, "raw.jsonl"), encoding="utf-8")]
    kept = [json.loads(l) for l in open(os.path.join(run_dir, "samples.jsonl"), encoding="utf-8")]
    rejects = [json.loads(l) for l in open(os.path.join(run_dir, "rejects.jsonl"), encoding="utf-8")]
    reasons = collections.Counter()
    for r in rejects:
        reasons[(r.get("curation") or {}).get("reason") or "?"] += 1
    ev = json.load(open(os.path.join(run_dir, "eval", "eval.json"), encoding="utf-8"))
    syn = ev["metrics"]["synthetic"]
    cov = syn["fidelity"]["wordlist"]["target_coverage"]
    hits = total = 0
    for r in raw:
        for w in WORD.findall(unicodedata.normalize("NFC", r["text"]).lower()):
            total += 1
            hits += w in VEN_WORDS
    return {
        "generated": len(raw),
        "kept": len(kept),
        "kept_share": len(kept) / max(1, len(raw)),
        "coverage": cov,
        "raw_coverage": hits / total if total else None,
        "loops": sum(r["finish_reason"] == "loop" for r in raw) / max(1, len(raw)),
        "reasons": dict(reasons.most_common(3)),
        "gen_per_min": len(raw) / seconds * 60,
        "completion_tokens": sum(r["tokens"]["completion"] for r in raw) / max(1, len(raw)),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--out", default="/tmp/synthcorpus-tune")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "synthcorpus"))
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--base", default=os.path.join(ROOT, "examples", "quickstart.toml"),
                    help="the project configuration the variants change (default: the quickstart's)")
    args = ap.parse_args()
    base = open(args.base, encoding="utf-8").read()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for i, (name, changes) in enumerate(VARIANTS):
        if args.only and name not in args.only:
            continue
        d = os.path.join(args.out, f"v{i:02d}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        cfg = os.path.join(d, "synthcorpus.toml")
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(variant_config(base, changes, os.path.join(d, "run"), args.samples))
        t0 = time.time()
        p = subprocess.run([args.bin, "run", "-q", "--config", cfg], cwd=ROOT, capture_output=True, text=True)
        seconds = time.time() - t0
        if p.returncode not in (0,):
            print(f"{name}: exit {p.returncode}\n{p.stderr}", file=sys.stderr)
            continue
        row = {"variant": name, **summarise(os.path.join(d, "run"), seconds)}
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), file=sys.stderr)
    with open(os.path.join(args.out, "results.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print("| variant | kept | kept share | word-list coverage (kept) | coverage (all) | loop stops | tokens/gen | top drop reasons | gen/min |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        rc = "-" if r["raw_coverage"] is None else f"{r['raw_coverage']:.3f}"
        reasons = ", ".join(f"{k} {v}" for k, v in r["reasons"].items())
        print(f"| {r['variant']} | {r['kept']}/{r['generated']} | {r['kept_share']:.2f} | {r['coverage']:.3f} | {rc} | "
              f"{r['loops']:.2f} | {r['completion_tokens']:.0f} | {reasons} | {r['gen_per_min']:.0f} |")


if __name__ == "__main__":
    main()
