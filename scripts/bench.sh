#!/usr/bin/env bash
# Speed benchmark: synthcorpus against llama.cpp on the same GGUF, prompt and thread count, in
# the same run. Prints both JSON reports and the ratios synthcorpus / llama.cpp.
#
#   scripts/bench.sh [MODEL] [THREADS] [NEW_TOKENS] [RUNS]
#   defaults: models/gemma-3-270m-q4_k_m.gguf 2 200 3; prompt: benches/prompt_ven.txt
#
# Needs llama-cpp-python (`pip install llama-cpp-python`, which builds llama.cpp from source).
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-models/gemma-3-270m-q4_k_m.gguf}"
threads="${2:-2}"
new="${3:-200}"
runs="${4:-3}"
prompt="${PROMPT_FILE:-benches/prompt_ven.txt}"

cargo build --release --quiet
ours=$(for i in $(seq "$runs"); do
  ./target/release/synthcorpus bench -m "$model" --prompt-file "$prompt" --max-tokens "$new" --runs 1 --threads "$threads"
done | python3 -c '
import json, statistics, sys
rs = [json.loads(l) for l in sys.stdin if l.strip()]
out = dict(rs[0])
for k in ("prompt_tps", "gen_tps", "peak_rss_bytes", "load_seconds"):
    out[k] = statistics.median(r[k] for r in rs)
out["runs"] = len(rs)
print(json.dumps(out))')
theirs=$(python3 scripts/bench_llamacpp.py --model "$model" --threads "$threads" --prompt-file "$prompt" --max-tokens "$new" --runs "$runs")
echo "synthcorpus: $ours"
echo "llama.cpp:   $theirs"
python3 - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"machine: {__import__('os').cpu_count()} cores")
print(f"prompt tokens: {a['prompt_tokens']} (synthcorpus) / {b['prompt_tokens']} (llama.cpp)")
print(f"prompt processing: {a['prompt_tps']:.1f} vs {b['prompt_tps']:.1f} tokens/s  ratio {a['prompt_tps']/b['prompt_tps']:.2f}x")
print(f"generation:        {a['gen_tps']:.1f} vs {b['gen_tps']:.1f} tokens/s  ratio {a['gen_tps']/b['gen_tps']:.2f}x")
print(f"peak RSS:          {a['peak_rss_bytes']/1e9:.2f} vs {b['peak_rss_bytes']/1e9:.2f} GB")
PY
