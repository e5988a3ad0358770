#!/usr/bin/env python3
"""Recall of the injected duplicates of a benchmark corpus, for synthcorpus and datatrove.

Usage: scripts/curate_bench_recall.py TRUTH.tsv [--corpus CORPUS.jsonl] [--synthcorpus OUTDIR]...
       [--datatrove WORKDIR]... [--json OUT.json]

TRUTH.tsv is the sidecar `scripts/curate_bench_corpus.py` writes (id, kind, source). A cluster is
an original and every copy made from it; deduplication should keep exactly one member of each,
the first kept one in corpus order is its survivor (usually the original; a copy when an earlier
stage removed the original). An injected copy (exact or near) counts as caught when it is removed
while a member of its cluster is kept; missed when it is kept besides the survivor; "cluster gone"
when it is removed together with every other member of its cluster. An original removed as a
duplicate is a false removal. With --corpus, an original whose text is identical to an earlier
original's (the generator can draw the same paragraphs twice, mostly in scripts written without
spaces, where one "word" is a whole paragraph) is counted as an exact copy of it.

- synthcorpus OUTDIR: a `synthcorpus curate` output; removed = the ids in rejects.jsonl, with
  their stage (`exact_dedup` and `near_dedup` are dedup decisions, anything else is a filter).
- datatrove WORKDIR: a `scripts/curate_bench_datatrove.py` work folder; removed = the ids in
  WORKDIR/removed/*.jsonl[.gz] (its exclusion writer), every removal a dedup decision.

Prints one JSON object per run (and writes them all to --json): per kind, copies, caught (by
dedup, by another stage), missed, survivors, cluster gone, recall = caught / (copies - copies
that survive as their cluster's one member), and dedup_recall = caught by dedup / the same less
the copies removed by another stage and the copies of clusters whose original a filter removed
(what the dedup stages were due to catch); per run, removals of originals (by dedup: false
removals; by another stage: filters).
"""

import argparse
import glob
import gzip
import hashlib
import json
import os
import sys
from collections import defaultdict

DEDUP_STAGES = {"exact_dedup", "near_dedup"}


def load_truth(path):
    kind, source = {}, {}
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header != ["id", "kind", "source"]:
            sys.exit(f"{path}: not a truth file (header {header})")
        for line in f:
            i, k, s = line.rstrip("\n").split("\t")
            kind[i] = k
            source[i] = s
    return kind, source


def loads():
    try:
        import orjson

        return orjson.loads
    except ImportError:
        return json.loads


def synthcorpus_removed(out):
    """id -> (stage, duplicate_of) for every rejected record."""
    parse = loads()
    removed = {}
    with open(os.path.join(out, "rejects.jsonl"), "rb") as f:
        for line in f:
            r = parse(line)
            c = r.get("curation", {})
            i = r.get("id")
            if i is None:
                continue  # a malformed line: not one of the corpus's documents
            removed[i] = (c.get("stage", "?"), c.get("duplicate_of"))
    return removed


def datatrove_removed(work):
    parse = loads()
    removed = {}
    files = sorted(glob.glob(os.path.join(work, "removed", "*.jsonl*")))
    if not files:
        sys.exit(f"{work}/removed: no datatrove exclusion files")
    for p in files:
        op = gzip.open if p.endswith(".gz") else open
        with op(p, "rb") as f:
            for line in f:
                removed[parse(line)["id"]] = ("dedup", None)
    return removed


def merge_identical_originals(corpus, kind, source):
    """Originals whose text equals an earlier original's (the generator can draw the same
    paragraphs twice, e.g. in scripts without spaces, where a "word" is a whole paragraph) are
    exact copies of it: re-label them, and move their copies into the earlier cluster."""
    first = {}
    root = {}
    merged = 0
    parse = loads()
    with open(corpus, "rb") as f:
        for line in f:
            r = parse(line)
            i = r["id"]
            if kind.get(i) != "original":
                continue
            key = hashlib.blake2b(r["text"].encode("utf-8"), digest_size=16).digest()
            if key in first:
                root[i] = first[key]
                kind[i] = "exact"
                merged += 1
            else:
                first[key] = i
                root[i] = i
    for i, s in source.items():
        source[i] = root.get(s, s)
    return merged


def score(name, kind, source, removed, dedup_stages):
    # The first kept member of each cluster (in corpus order) is its survivor; every further kept
    # member is a duplicate that was missed.
    survivor = {}
    for i, s in source.items():
        if i not in removed and s not in survivor:
            survivor[s] = i
    # Clusters whose original a filter (not dedup) removed: nothing of them was due to be kept.
    filtered = {s for i, s in source.items() if i == s and i in removed and removed[i][0] not in dedup_stages}
    res = {"run": name, "documents": len(kind), "removed": len(removed)}
    wrong_cluster = 0
    for k in ("exact", "near"):
        n = caught_dedup = caught_other = missed = surv = gone = in_filtered = due_dedup = 0
        for i, kk in kind.items():
            if kk != k:
                continue
            n += 1
            s = source[i]
            kept = i not in removed
            is_dedup = not kept and removed[i][0] in dedup_stages
            if s in filtered:
                in_filtered += 1
            elif kept or is_dedup:
                if not (kept and survivor[s] == i):
                    due_dedup += 1
            if kept:
                if survivor[s] == i:
                    surv += 1
                else:
                    missed += 1
                continue
            dup_of = removed[i][1]
            if dup_of is not None and source.get(dup_of) != s:
                wrong_cluster += 1
            if s not in survivor:
                gone += 1
            elif is_dedup:
                caught_dedup += 1
            else:
                caught_other += 1
        due = n - surv
        dedup_hits = sum(
            1
            for i, kk in kind.items()
            if kk == k
            and source[i] not in filtered
            and i in removed
            and removed[i][0] in dedup_stages
            and source[i] in survivor
        )
        res[k] = {
            "copies": n,
            "caught_by_dedup": caught_dedup,
            "caught_by_other_stage": caught_other,
            "missed": missed,
            "survivor_of_its_cluster": surv,
            "cluster_gone": gone,
            "in_filtered_cluster": in_filtered,
            "recall": round((caught_dedup + caught_other) / due, 6) if due else None,
            "dedup_recall": round(dedup_hits / due_dedup, 6) if due_dedup else None,
        }
    false_dedup = false_other = 0
    for i, kk in kind.items():
        if kk == "original" and i in removed:
            if removed[i][0] in dedup_stages:
                false_dedup += 1
            else:
                false_other += 1
    res["originals"] = sum(1 for k in kind.values() if k == "original")
    res["originals_removed_by_dedup"] = false_dedup
    res["originals_removed_by_other_stage"] = false_other
    if name.startswith("synthcorpus"):
        res["copies_marked_duplicate_of_another_cluster"] = wrong_cluster
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("truth")
    ap.add_argument("--synthcorpus", action="append", default=[])
    ap.add_argument("--datatrove", action="append", default=[])
    ap.add_argument("--corpus", help="the corpus: originals identical to an earlier one count as its exact copies")
    ap.add_argument("--json")
    a = ap.parse_args()
    kind, source = load_truth(a.truth)
    results = []
    if a.corpus:
        merged = merge_identical_originals(a.corpus, kind, source)
        results.append({"originals_identical_to_an_earlier_original": merged})
    for out in a.synthcorpus:
        results.append(score(f"synthcorpus:{out}", kind, source, synthcorpus_removed(out), DEDUP_STAGES))
    for work in a.datatrove:
        results.append(score(f"datatrove:{work}", kind, source, datatrove_removed(work), {"dedup"}))
    for r in results:
        print(json.dumps(r))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
