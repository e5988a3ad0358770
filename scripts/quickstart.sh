#!/usr/bin/env bash
# Quickstart: set up and run the main job on a fresh machine.
# Fetches the default model (sha256-checked), builds synthcorpus (release), and runs the whole
# pipeline on the shipped Tshivenda seed corpus (examples/quickstart.toml) into runs/quickstart/:
# generation until 20 samples pass curation, every sample labelled synthetic with its provenance.
# Re-running resumes and skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh gemma3
cargo build --release
./target/release/synthcorpus run --config examples/quickstart.toml "$@"
