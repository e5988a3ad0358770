#!/usr/bin/env python3
"""Expected calibration error of synthcorpus's language identifier on a labelled test set.

The top hypothesis's score of `synthcorpus lid identify` is compared with whether it is right, in
5 equal-width bins of the score: ECE = sum over bins of |sum(scores) - correct| / n. Texts with no
opinion count as wrong with score 0.

    cargo build --release
    S=target/release/synthcorpus
    $S lid heldout --out /tmp/heldout_all.tsv
    python3 scripts/lid_ece.py --cmd $S --test /tmp/heldout_all.tsv [--model M] [--restrict sa]
"""

import argparse
import json
import subprocess


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cmd", default="target/release/synthcorpus")
    ap.add_argument("--test", required=True, help="lang<TAB>text per line")
    ap.add_argument("--model")
    ap.add_argument("--restrict")
    ap.add_argument("--bins", type=int, default=5)
    args = ap.parse_args()
    with open(args.test, encoding="utf-8") as f:
        rows = [l.rstrip("\n").split("\t", 1) for l in f if l.strip()]
    cmd = [args.cmd, "lid", "identify", "--top", "1"]
    if args.model:
        cmd += ["--model", args.model]
    if args.restrict:
        cmd += ["--restrict", args.restrict]
    out = subprocess.run(
        cmd,
        input="\n".join(t.replace("\n", " ") for _, t in rows) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(out) == len(rows), "one answer per input line"
    bins = [[0, 0.0, 0] for _ in range(args.bins)]
    for (gold, _), line in zip(rows, out):
        o = json.loads(line)
        score = o["score"] if o["lang"] != "und" else 0.0
        b = min(int(score * args.bins), args.bins - 1)
        bins[b][0] += 1
        bins[b][1] += score
        bins[b][2] += int(o["lang"] == gold)
    n = len(rows)
    ece = sum(abs(s - c) for _, s, c in bins) / n
    print(json.dumps({"texts": n, "ece": round(ece, 4), "bins": [
        {"n": k, "mean_score": round(s / k, 4) if k else None, "accuracy": round(c / k, 4) if k else None}
        for k, s, c in bins
    ]}))


if __name__ == "__main__":
    main()
