"""Round trip of a synthcorpus export through the Hugging Face `datasets` library.

Usage: python3 tests/export_datasets.py EXPORT_DIR

Loads EXPORT_DIR/train.jsonl and EXPORT_DIR/train.parquet with `datasets.load_dataset` (offline,
cache in a temporary folder) and checks that both hold the lines export.json counts, with the
same columns and values, every line labelled, real lines first and the synthetic share under
the cap. Exits non-zero with a message on the first failure. Needs: pip install "datasets>=2.19".
"""

import json
import os
import sys
import tempfile


def main() -> int:
    out = sys.argv[1]
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cache = tempfile.mkdtemp(prefix="synthcorpus-hf-")
    os.environ["HF_DATASETS_CACHE"] = cache
    import datasets  # noqa: E402  (after the environment is set)

    manifest = json.load(open(os.path.join(out, "export.json"), encoding="utf-8"))
    counts = manifest["counts"]
    cap = manifest["options"]["max_synthetic_share"]
    loaded = {}
    for kind, name in (("json", "train.jsonl"), ("parquet", "train.parquet")):
        ds = datasets.load_dataset(
            kind, data_files={"train": os.path.join(out, name)}, split="train", cache_dir=cache
        )
        loaded[kind] = ds
        assert len(ds) == counts["lines"], f"{name}: {len(ds)} rows, export.json says {counts['lines']}"
        need = {"schema", "id", "text", "lang", "synthetic", "provenance", "lineage_depth",
                "source", "weight", "generator", "generator_sha256", "label"}
        missing = need - set(ds.column_names)
        assert not missing, f"{name}: missing columns {sorted(missing)}"
        synthetic = sum(1 for s in ds["synthetic"] if s)
        assert synthetic == counts["synthetic_lines"], f"{name}: {synthetic} synthetic rows"
        if counts["lines"]:
            assert synthetic / counts["lines"] <= cap + 1e-12, f"{name}: synthetic share over the cap"
        seen_synthetic = False
        for i, row in enumerate(ds):
            assert isinstance(row["synthetic"], bool), f"{name} row {i}: synthetic is not a bool"
            assert row["provenance"] == ("synthetic" if row["synthetic"] else "real"), f"{name} row {i}"
            assert row["schema"] == "synthcorpus.export.v1", f"{name} row {i}: schema"
            json.loads(row["label"])
            if row["synthetic"]:
                seen_synthetic = True
                assert row["lineage_depth"] >= 1, f"{name} row {i}: synthetic with depth 0"
                assert row["generator"], f"{name} row {i}: synthetic without generator"
            else:
                assert not seen_synthetic, f"{name} row {i}: real row after synthetic rows"
                assert row["lineage_depth"] == 0, f"{name} row {i}: real with depth > 0"
    a, b = loaded["json"], loaded["parquet"]
    for col in ("id", "text", "synthetic", "lineage_depth", "source", "generator", "label"):
        assert a[col] == b[col], f"column {col} differs between train.jsonl and train.parquet"
    print(f"datasets {datasets.__version__}: {len(a)} rows, JSONL and Parquet agree")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"export round trip failed: {e}", file=sys.stderr)
        sys.exit(1)
