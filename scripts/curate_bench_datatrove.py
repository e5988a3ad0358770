#!/usr/bin/env python3
"""Run datatrove's MinHash deduplication (all four stages) on a JSONL corpus, for comparison
with `synthcorpus curate`.

Usage: scripts/curate_bench_datatrove.py CORPUS.jsonl WORKDIR [--tasks 2] [--ngram 5]
       [--buckets 14] [--rows 8]

Same n-gram size and hash count as synthcorpus's defaults (5-word shingles, 14 bands x 8 rows =
112 hashes). Words are split on whitespace (a custom WordTokenizer: datatrove's default English
tokenizer needs NLTK data, and splitting on whitespace is the cheaper choice, in datatrove's
favour). Prints wall seconds per stage and in all, and documents removed.
"""

import argparse
import json
import os
import sys
import time

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.word_tokenizers import WordTokenizer


class Whitespace(WordTokenizer):
    def word_tokenize(self, text):
        return text.split()

    def sent_tokenize(self, text):
        return [text]

    def span_tokenize(self, text):
        return [(0, len(text))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("work")
    ap.add_argument("--tasks", type=int, default=2)
    ap.add_argument("--ngram", type=int, default=5)
    ap.add_argument("--buckets", type=int, default=14)
    ap.add_argument("--rows", type=int, default=8)
    a = ap.parse_args()
    cfg = MinhashConfig(n_grams=a.ngram, num_buckets=a.buckets, hashes_per_bucket=a.rows, seed=1,
                        hash_config=HashConfig(precision=64, hash_fc="xxhash"))
    W = a.work
    # Split the input into `tasks` contiguous shards (not timed) so that stages 1 and 4 run in
    # parallel: datatrove parallelises over files.
    d = f"{W}/input"
    os.makedirs(d, exist_ok=True)
    with open(a.corpus, "rb") as f:
        lines = sum(1 for _ in f)
    per = -(-lines // a.tasks)
    with open(a.corpus, "rb") as f:
        for k in range(a.tasks):
            with open(f"{d}/shard-{k:02d}.jsonl", "wb") as out:
                for _ in range(per):
                    line = f.readline()
                    if not line:
                        break
                    out.write(line)
    reader = lambda: JsonlReader(d, glob_pattern="shard-*.jsonl", text_key="text", id_key="id")
    times = {}
    t0 = time.time()
    LocalPipelineExecutor(pipeline=[reader(), MinhashDedupSignature(output_folder=f"{W}/sigs", config=cfg, language=Whitespace())],
                          tasks=a.tasks, workers=a.tasks, logging_dir=f"{W}/logs/sigs").run()
    times["signatures"] = time.time() - t0
    t = time.time()
    LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(input_folder=f"{W}/sigs", output_folder=f"{W}/buckets", config=cfg)],
                          tasks=cfg.num_buckets, workers=a.tasks, logging_dir=f"{W}/logs/buckets").run()
    times["buckets"] = time.time() - t
    t = time.time()
    LocalPipelineExecutor(pipeline=[MinhashDedupCluster(input_folder=f"{W}/buckets", output_folder=f"{W}/remove_ids", config=cfg)],
                          tasks=1, logging_dir=f"{W}/logs/cluster").run()
    times["cluster"] = time.time() - t
    t = time.time()
    LocalPipelineExecutor(pipeline=[reader(), MinhashDedupFilter(input_folder=f"{W}/remove_ids", exclusion_writer=JsonlWriter(f"{W}/removed")),
                                    JsonlWriter(f"{W}/deduped")],
                          tasks=a.tasks, workers=a.tasks, logging_dir=f"{W}/logs/filter").run()
    times["filter"] = time.time() - t
    times["total"] = time.time() - t0
    print(json.dumps(times))


if __name__ == "__main__":
    sys.exit(main())
