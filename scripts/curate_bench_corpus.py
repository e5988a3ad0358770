#!/usr/bin/env python3
"""Build a synthetic benchmark corpus for `synthcorpus curate` from the UDHR texts.

Usage: scripts/curate_bench_corpus.py OUT.jsonl [--mb 1024] [--seed 7] [--udhr ../shared/data/udhr]

Each document is 3 to 12 consecutive paragraphs of one language's UDHR (all 531 languages and
variants, so many scripts), with every word independently replaced, with probability 0.15, by
a word drawn from the same language, so that documents are distinct. Then duplicates are
injected: 10% of documents are exact copies of an earlier document, 10% near copies (an earlier
document with about 3% of its words deleted or swapped). Deterministic for a seed. Writes JSONL
`{"id": "bench-N", "text": ...}` and prints the counts. The corpus is not committed: build it.

Also writes the ground truth for recall next to it, OUT.truth.tsv (OUT without `.jsonl`): a
header, then one row per document, `id<TAB>kind<TAB>source`, kind `original`, `exact` or
`near`, source the id of the original a copy was made from (the id itself for originals).
Copies are only ever made from originals. Recording it does not change the corpus: the random
calls are the same as before (`scripts/curate_bench_recall.py` scores a run against it).
"""

import argparse
import json
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=1024)
    ap.add_argument("--seed", type=int, default=7)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--udhr", default=os.path.normpath(os.path.join(here, "..", "..", "shared", "data", "udhr")))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    langs = []
    for name in sorted(os.listdir(a.udhr)):
        if not name.endswith(".txt"):
            continue
        with open(os.path.join(a.udhr, name), encoding="utf-8") as f:
            paras = [l.strip() for l in f if l.strip()]
        if len(paras) >= 12:
            vocab = sorted({w for p in paras for w in p.split()})
            langs.append((paras, vocab))
    target = int(a.mb * 1024 * 1024)
    written = 0
    docs = []  # recent originals kept for duplication (bounded)
    counts = {"original": 0, "exact": 0, "near": 0}
    base = a.out[: -len(".jsonl")] if a.out.endswith(".jsonl") else a.out
    with open(a.out, "w", encoding="utf-8") as out, open(base + ".truth.tsv", "w", encoding="utf-8") as truth:
        truth.write("id\tkind\tsource\n")
        i = 0
        while written < target:
            r = rng.random()
            if docs and r < 0.10:
                # `docs` holds (text, id) pairs: `choice` draws the same index as it did over texts.
                text, source = rng.choice(docs)
                kind = "exact"
            elif docs and r < 0.20:
                text, source = rng.choice(docs)
                words = text.split(" ")
                for _ in range(max(1, len(words) // 33)):
                    j = rng.randrange(len(words))
                    if rng.random() < 0.5 and len(words) > 5:
                        del words[j]
                    else:
                        k = rng.randrange(len(words))
                        words[j], words[k] = words[k], words[j]
                text = " ".join(words)
                kind = "near"
            else:
                paras, vocab = rng.choice(langs)
                n = rng.randint(3, 12)
                s = rng.randrange(len(paras) - n + 1)
                out_paras = []
                for p in paras[s : s + n]:
                    ws = [w if rng.random() > 0.15 else rng.choice(vocab) for w in p.split(" ")]
                    out_paras.append(" ".join(ws))
                text = "\n".join(out_paras)
                kind, source = "original", f"bench-{i}"
                if len(docs) < 20000:
                    docs.append((text, source))
                else:
                    docs[rng.randrange(len(docs))] = (text, source)
            counts[kind] += 1
            line = json.dumps({"id": f"bench-{i}", "text": text}, ensure_ascii=False) + "\n"
            out.write(line)
            truth.write(f"bench-{i}\t{kind}\t{source}\n")
            written += len(line.encode("utf-8"))
            i += 1
    print(json.dumps({"documents": i, "bytes": written, **counts}))


if __name__ == "__main__":
    main()
