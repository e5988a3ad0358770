#!/usr/bin/env python3
"""Compare synthcorpus's language identifier with CLD2 (pycld2) and franc (franc-all) on the same
held-out sentences of the eleven South African languages.

Setup (once):
    pip install pycld2
    npm install --prefix /work/scratch/js franc-all@7        # any gitignored folder

Run (from the repository root):
    cargo build --release
    python3 scripts/lid_compare.py --cmd target/release/synthcorpus \
        --franc-all /work/scratch/js/node_modules/franc-all/index.js --json /tmp/lid_compare.json

The test set is `synthcorpus lid heldout --langs sa` (UDHR lines n with n % 5 == 0, split into
sentences of >= 10 characters, sentences shared verbatim with another language dropped), unless
--test gives a `lang<TAB>text` file. Every system sees the same sentences. Accuracy is top-1 over
the full label set of each system and over the restricted set of the eleven South African
languages (synthcorpus: --restrict; franc: its `only` option; CLD2 has no restriction, so its
first hypothesis among its top three that is in the set is taken). CLD2 codes are mapped to
ISO 639-3; franc already answers in ISO 639-3. Speed is single-threaded sentences per second of
the identification loop (CLD2 through its Python binding, call overhead included).
"""

import argparse
import json
import os
import subprocess
import sys
import time

SA = ["afr", "eng", "nbl", "nso", "sot", "ssw", "tsn", "tso", "ven", "xho", "zul"]

# CLD2 language codes of the South African languages (pycld2.LANGUAGES) -> ISO 639-3.
CLD2_TO_ISO3 = {
    "af": "afr", "en": "eng", "nr": "nbl", "nso": "nso", "st": "sot", "ss": "ssw",
    "tn": "tsn", "ts": "tso", "ve": "ven", "xh": "xho", "zu": "zul",
    # A few neighbours and frequent confusions, so the confusion lists read well.
    "nl": "nld", "de": "deu", "sn": "sna", "ny": "nya", "sw": "swa", "lg": "lug", "rw": "kin",
    "un": "und",
}


def bucket(text):
    n = len(text)
    if n < 10:
        return "<10"
    if n < 20:
        return "10-20"
    if n < 50:
        return "20-50"
    return "50+"


def load_test(args):
    if args.test:
        with open(args.test, encoding="utf-8") as f:
            rows = [l.rstrip("\n").split("\t", 1) for l in f if l.strip()]
    else:
        out = subprocess.run(
            [args.cmd, "lid", "heldout", "--data", args.data, "--langs", "sa"],
            check=True, capture_output=True, text=True,
        ).stdout
        rows = [l.split("\t", 1) for l in out.splitlines() if l.strip()]
    return [(lang, text) for lang, text in rows if lang in SA]


def run_synthcorpus(args, texts, restrict):
    cmd = [args.cmd, "lid", "identify", "--top", "1"]
    if args.model:
        cmd += ["--model", args.model]
    if restrict:
        cmd += ["--restrict", ",".join(SA)]
    out = subprocess.run(cmd, input="\n".join(texts) + "\n", check=True,
                         capture_output=True, text=True).stdout
    preds = [json.loads(l)["lang"] for l in out.splitlines()]
    assert len(preds) == len(texts), "synthcorpus output is not one line per input"
    return preds


def run_cld2(texts, restrict):
    import pycld2

    preds = []
    t0 = time.perf_counter()
    for t in texts:
        try:
            _, _, details = pycld2.detect(t, bestEffort=True)
        except pycld2.error:
            preds.append("und")
            continue
        codes = [CLD2_TO_ISO3.get(d[1], d[1]) for d in details]
        if restrict:
            codes = [c for c in codes if c in SA] or ["und"]
        preds.append(codes[0])
    secs = time.perf_counter() - t0
    return preds, secs


def run_franc(args, texts, restrict):
    env = dict(os.environ, FRANC_ALL=args.franc_all)
    cmd = ["node", os.path.join(os.path.dirname(__file__), "lid_franc.mjs")]
    if restrict:
        cmd.append(",".join(SA))
    p = subprocess.run(cmd, input="\n".join(texts) + "\n", check=True, capture_output=True,
                       text=True, env=env)
    preds = p.stdout.splitlines()
    assert len(preds) == len(texts), "franc output is not one line per input"
    timing = json.loads(p.stderr.strip().splitlines()[-1])
    return preds, timing["seconds"]


def score(gold, texts, preds):
    per = {l: [0, 0] for l in SA}
    buckets = {}
    conf = {l: {} for l in SA}
    for g, t, p in zip(gold, texts, preds):
        per[g][0] += 1
        per[g][1] += int(p == g)
        b = buckets.setdefault(bucket(t), [0, 0])
        b[0] += 1
        b[1] += int(p == g)
        if p != g:
            conf[g][p] = conf[g].get(p, 0) + 1
    # Per-language F1 within this test set (precision over predictions on SA sentences).
    f1 = {}
    for l in SA:
        tp = sum(1 for g, p in zip(gold, preds) if g == l and p == l)
        pp = sum(1 for p in preds if p == l)
        sup = per[l][0]
        prec = tp / pp if pp else 0.0
        rec = tp / sup if sup else 0.0
        f1[l] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    total = sum(v[1] for v in per.values()) / max(1, len(gold))
    return {
        "accuracy": total,
        "per_lang_accuracy": {l: (v[1] / v[0] if v[0] else None) for l, v in per.items()},
        "per_lang_f1": f1,
        "support": {l: v[0] for l, v in per.items()},
        "by_length": {b: {"n": v[0], "accuracy": v[1] / v[0]} for b, v in sorted(buckets.items())},
        "confusions": {l: c for l, c in conf.items() if c},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cmd", default="target/release/synthcorpus", help="synthcorpus binary")
    ap.add_argument("--model", help="model file (default: the shipped one)")
    ap.add_argument("--data", default="../shared/data/udhr", help="UDHR folder")
    ap.add_argument("--test", help="lang<TAB>text test file instead of the UDHR held-out split")
    ap.add_argument("--franc-all", default=os.environ.get("FRANC_ALL", "franc-all"),
                    help="path of franc-all's index.js")
    ap.add_argument("--json", help="write all results here")
    args = ap.parse_args()

    rows = load_test(args)
    gold = [r[0] for r in rows]
    texts = [r[1] for r in rows]
    results = {"sentences": len(texts), "systems": {}}
    speed = {}
    for restrict in (False, True):
        key = "restricted" if restrict else "full"
        sc = run_synthcorpus(args, texts, restrict)
        cl, cl_secs = run_cld2(texts, restrict)
        fr, fr_secs = run_franc(args, texts, restrict)
        for name, preds in (("synthcorpus", sc), ("cld2", cl), ("franc", fr)):
            results["systems"].setdefault(name, {})[key] = score(gold, texts, preds)
        if not restrict:
            speed["cld2"] = len(texts) / cl_secs
            speed["franc"] = len(texts) / fr_secs
    # CLD2 speed on more repetitions for a stable number.
    reps = 20
    _, secs = run_cld2(texts * reps, False)
    speed["cld2"] = len(texts) * reps / secs
    results["speed_sentences_per_sec_single_thread"] = speed

    print(f"{len(texts)} held-out sentences\n")
    print("| lang | n | synthcorpus full | synthcorpus SA-only | CLD2 full | CLD2 SA-only | franc full | franc SA-only |")
    print("|---|---|---|---|---|---|---|---|")
    sysd = results["systems"]
    for l in SA + ["all"]:
        cells = []
        for name in ("synthcorpus", "cld2", "franc"):
            for key in ("full", "restricted"):
                r = sysd[name][key]
                v = r["accuracy"] if l == "all" else r["per_lang_accuracy"][l]
                cells.append("-" if v is None else f"{v:.3f}")
        n = len(texts) if l == "all" else sysd["synthcorpus"]["full"]["support"][l]
        print(f"| {l} | {n} | " + " | ".join(cells) + " |")
    print("\nAccuracy by length (characters), full label set:\n")
    print("| length | n | synthcorpus | CLD2 | franc |")
    print("|---|---|---|---|---|")
    for b, v in sysd["synthcorpus"]["full"]["by_length"].items():
        cells = [f"{sysd[s]['full']['by_length'][b]['accuracy']:.3f}" for s in ("synthcorpus", "cld2", "franc")]
        print(f"| {b} | {v['n']} | " + " | ".join(cells) + " |")
    print("\nSpeed (sentences/s, one thread):", json.dumps({k: round(v) for k, v in speed.items()}))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
