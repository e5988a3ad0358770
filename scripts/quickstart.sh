#!/usr/bin/env bash
# Quickstart: set up and run the main job on a fresh machine.
# Fetches the default model, builds synthcorpus (release), and generates a labelled Tshivenda
# corpus from the shipped seed corpus into runs/quickstart/. Re-running resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh gemma3
cargo build --release
./target/release/synthcorpus generate --config examples/quickstart.toml "$@"
